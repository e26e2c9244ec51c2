"""Property-based fuzz of every public callable of llmtheory (issue 16).

Every public function, class and public method listed in a module's ``__all__`` is called
from a valid baseline with one argument at a time corrupted: wrong types, wrong shapes,
NaN and infinities, empty and extreme sizes, ``None``, a string where a list of strings is
expected, and values that Hypothesis draws (``derandomize=True``: the same cases every run).
Each call runs in a child process (a pool of workers started by a ``forkserver``, replaced
when one hangs or dies) with a 3 GiB address-space limit (``RLIMIT_AS``), a 10 s timeout and
``LLMTHEORY_MEMORY_LIMIT_GB=0.5``. Outcomes:

* ``clear``: a :class:`ValueError`/:class:`TypeError` (subclasses such as
  :class:`~llmtheory.validation.MemoryLimitError` included) whose message names the corrupted
  parameter, or an exception the allowlist documents for that callable;
* ``returned``: a result without NaN or infinities; ``nan_absorbed``: a finite result from
  NaN/inf input; ``nan_through``: NaN/inf input passed through (a forward pass, a record);
  ``overflow``: NaN/inf from input of magnitude 1e100 or more (IEEE overflow);
  ``refused_valid``: a clear error for an input form that is usually valid (reported only);
* failures: ``unhelpful`` (another exception, or a message that does not name the parameter),
  ``nan_out``/``inf_out`` (NaN/inf created from finite input, unless the allowlist documents
  it), ``hang``, ``memory`` (MemoryError, an allocator error, a child killed), ``crash``, and
  ``baseline_error`` (a valid baseline that does not run, or a case the harness cannot build).

A new function is covered without editing this file: its baseline comes from its signature
(defaults, and values by type hint) unless :data:`BASELINES` gives one.
``tests/fuzz_allowlist.json`` lists what is not fuzzed and known-correct results, with reasons.

Run alone: ``.venv/bin/pytest tests/test_fuzz.py -m fuzz``. ``LLMTHEORY_FUZZ_REPORT=path``
writes the counts by outcome and module as JSON; ``LLMTHEORY_FUZZ_WORKERS`` (default 2),
``LLMTHEORY_FUZZ_TIMEOUT`` (seconds, default 10) and ``LLMTHEORY_FUZZ_EXAMPLES`` (Hypothesis
draws per callable, default 12) tune it.
"""

from __future__ import annotations

import builtins
import dataclasses
import importlib
import inspect
import json
import math
import multiprocessing
import os
import pkgutil
import re
import resource
import sys
import tempfile
import time
import traceback
import typing
import warnings
from collections import Counter, defaultdict
from multiprocessing.connection import wait
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import llmtheory
from llmtheory import icl
from llmtheory import multi_concept as mc
from llmtheory import transformer as tf

HERE = Path(__file__).resolve().parent
ALLOWLIST = json.loads((HERE / "fuzz_allowlist.json").read_text())
TIMEOUT_S = float(os.environ.get("LLMTHEORY_FUZZ_TIMEOUT", "10"))
N_WORKERS = int(os.environ.get("LLMTHEORY_FUZZ_WORKERS", "2"))
N_EXAMPLES = int(os.environ.get("LLMTHEORY_FUZZ_EXAMPLES", "12"))
ADDRESS_SPACE_BYTES = 3 * 1024**3  # the child's RLIMIT_AS
CHILD_MEMORY_LIMIT_GB = "0.5"  # LLMTHEORY_MEMORY_LIMIT_GB in the child, well below RLIMIT_AS

#: Outcomes that fail the test.
FAILING = ("hang", "memory", "crash", "unhelpful", "nan_out", "inf_out", "baseline_error")
OUTCOMES = (
    "clear",
    "returned",
    "refused_valid",
    "overflow",
    "nan_through",
    "nan_absorbed",
    *FAILING,
)

pytestmark = pytest.mark.fuzz


# ------------------------------------------------------------------------------ discovery


@dataclasses.dataclass(frozen=True)
class Target:
    """A public callable: ``module.qualname`` (``Class.method`` for a method)."""

    module: str
    qualname: str

    @property
    def key(self) -> str:
        return f"{self.module}.{self.qualname}"


def _skipped() -> dict[str, str]:
    return {entry["target"]: entry["reason"] for entry in ALLOWLIST["skip"]}


def _public_methods(cls: type) -> list[str]:
    names = []
    for name, member in vars(cls).items():
        if isinstance(member, (property, staticmethod, classmethod)):
            continue
        if (not name.startswith("_") or name == "__call__") and callable(member):
            names.append(name)
    return names


def discover() -> list[Target]:
    """Every public callable of every llmtheory module, attributed to its defining module."""
    skip = _skipped()
    targets: dict[str, Target] = {}
    for info in sorted(pkgutil.iter_modules(llmtheory.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"llmtheory.{info.name}")
        for name in getattr(module, "__all__", ()):
            obj = getattr(module, name)
            if not callable(obj) or getattr(obj, "__module__", None) != module.__name__:
                continue  # constants, and re-exports (fuzzed in their own module)
            if inspect.isclass(obj) and issubclass(obj, BaseException):
                continue  # exception types
            found = [Target(module.__name__, name)]
            if inspect.isclass(obj):
                found += [Target(module.__name__, f"{name}.{m}") for m in _public_methods(obj)]
            for target in found:
                if target.module in skip or target.key in skip:
                    continue
                targets[target.key] = target
    return list(targets.values())


def resolve(target: Target):
    obj = importlib.import_module(target.module)
    for part in target.qualname.split("."):
        obj = getattr(obj, part)
    return obj


# ------------------------------------------------------------------------------ baselines


def _g() -> torch.Generator:
    return torch.Generator().manual_seed(0)


def _rng() -> np.random.Generator:
    return np.random.default_rng(0)


def _random_feature_args() -> dict:
    """A small 1-d fit shared by the two random-feature functions of uat."""
    return dict(
        x_train=np.linspace(-1, 1, 8)[:, None],
        y_train=np.sin(np.linspace(-1, 1, 8)),
        x_test=np.linspace(-0.9, 0.9, 4)[:, None],
        y_test=np.sin(np.linspace(-0.9, 0.9, 4)),
        widths=[2, 4],
        rng=_rng(),
        scale=3.0,
    )


def _float(*shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=_g())


C_SKILL = np.array([0.0, 0.0, 0.5, 0.5])
C_TEXT = np.array([0.02, 0.08, 0.2, 0.3, 0.4])


def _graph():
    from llmtheory import emergence as em

    return em.sample_e1(12, 1.5, C_SKILL, _rng())


def _dic():
    from llmtheory import multi_concept as mc

    return mc.concept_dictionary(8, 2, rng=_rng())


def _prompts():
    from llmtheory import multi_concept as mc

    return mc.sample_prompts(_dic(), 3, 4, sigma=0.1, generator=_g())


def _mct():
    from llmtheory import multi_concept as mc

    return mc.MultiConceptTransformer(8, 4, generator=_g())


def _lm():
    from llmtheory.next_token import MaskedLinearLM

    torch.manual_seed(0)
    return MaskedLinearLM(5, 6, 3)


def _tokens(rows: int = 3, length: int = 6) -> torch.Tensor:
    return torch.randint(0, 5, (rows, length), generator=_g())


def _icl_xy():
    x = _float(2, 4, 3)
    return x, _float(2, 4), _float(2, 3)


def _icl_model():
    from llmtheory.icl import make_icl_transformer

    torch.manual_seed(0)
    return make_icl_transformer(3, d_model=8, n_heads=2, n_layers=1, d_ff=16)


def _uat_transformer():
    from llmtheory.transformer import Transformer

    torch.manual_seed(0)
    return Transformer(8, 2, 1, 16, d_in=3, norm="none", max_len=5)


def _layer():
    from llmtheory.transformer import Block
    from llmtheory.uat import layer_parameters

    torch.manual_seed(0)
    return layer_parameters(Block(8, 2, 16, norm="none"))


def _uat_term():
    from llmtheory.uat import UATTerm

    r = _rng()
    return UATTerm(r.normal(size=(2, 4)), r.normal(size=(4, 3)), r.normal(size=4), r.normal(size=2))


def _bits(rows: int, cols: int) -> np.ndarray:
    return _rng().integers(0, 2, size=(rows, cols))


def _saved_icl(path: str = "icl.pt") -> str:
    from llmtheory.icl import save_icl_transformer

    save_icl_transformer(_icl_model(), {"d": 3, "d_model": 8, "n_layers": 1, "d_ff": 16}, path)
    return path


def _teacher():
    from llmtheory.adaptation import make_teacher

    return make_teacher(4, 6, 2, 0.5, _g())


def _lora():
    from llmtheory.adaptation import LoRALinear

    torch.manual_seed(0)
    return LoRALinear(torch.nn.Linear(4, 3), 2, generator=_g())


def _fst():
    from llmtheory.transducer import extract_transducer

    return extract_transducer(_small_lm(), 3, 2)


def _small_lm():
    from llmtheory.next_token import MaskedLinearLM

    torch.manual_seed(0)
    return MaskedLinearLM(3, 2, 2)


def _tokenizer():
    from llmtheory.corpus import WordTokenizer

    return WordTokenizer(["a b c", "b c d"])


def _chars():
    from llmtheory.corpus import CharTokenizer

    return CharTokenizer("hello")


def _block():
    from llmtheory.transformer import Block

    torch.manual_seed(0)
    return Block(8, 2, 16)


def _mha():
    from llmtheory.transformer import MultiHeadAttention

    torch.manual_seed(0)
    return MultiHeadAttention(8, 2)


def _transformer():
    from llmtheory.transformer import Transformer

    torch.manual_seed(0)
    return Transformer(8, 2, 1, 16, d_in=3, d_out=2, max_len=5)


def _rewrite():
    from llmtheory.uat import block_rewrite

    return block_rewrite(_layer(), _rng().normal(size=(3, 8)), np.tril(np.ones((3, 3), bool)))


def _lsa():
    from llmtheory.icl import lsa_construction

    return lsa_construction(3, 0.5, 4, dtype=torch.float32)


STORY = (
    "once upon a time there was a girl named lily . she lived in a house . every day lily "
    "liked to play . one day lily found a ball . she was very happy . lily showed the ball "
    "to her mom . the end ."
)

#: Valid arguments per callable (``Class.method`` entries have ``self``: the instance).
#: A callable absent here gets its defaults and a value per type hint (:func:`derived`).
BASELINES: dict[str, typing.Callable[[], dict]] = {
    # adaptation
    "adaptation.LoRALinear": lambda: dict(
        base=torch.nn.Linear(4, 3), r=2, alpha=4.0, generator=_g()
    ),
    "adaptation.LoRALinear.forward": lambda: dict(self=_lora(), x=_float(5, 4)),
    "adaptation.LoRALinear.delta_weight": lambda: dict(self=_lora()),
    "adaptation.LoRALinear.merged_weight": lambda: dict(self=_lora()),
    "adaptation.TeacherTask": lambda: dict(
        W=_float(6, 4), b=_float(6), a=_float(6), U=_float(4, 2), V=_float(4, 2)
    ),
    "adaptation.TeacherTask.f_a": lambda: dict(self=_teacher(), x=_float(5, 4)),
    "adaptation.TeacherTask.f_b": lambda: dict(self=_teacher(), x=_float(5, 4)),
    "adaptation.feature_matrix": lambda: dict(
        x=_rng().normal(size=(5, 3)), W=_rng().normal(size=(4, 3)), theta=np.zeros(4)
    ),
    "adaptation.attach_lora": lambda: dict(
        model=torch.nn.Sequential(torch.nn.Linear(3, 4)), names=["0"], r=1, alpha=2.0, seed=0
    ),
    "adaptation.subspace_similarity": lambda: dict(
        U1=np.eye(5)[:, :2], U2=np.linalg.qr(_rng().normal(size=(5, 3)))[0]
    ),
    "adaptation.projection_norm": lambda: dict(
        W=_rng().normal(size=(5, 4)), U=np.eye(5)[:, :2], V=np.eye(4)[:, :2]
    ),
    "adaptation.obs_prune": lambda: dict(
        Phi=np.abs(_rng().normal(size=(6, 4))),
        alpha=np.array([1.0, -0.5, 0.2, 0.3]),
        bias=0.1,
        keep_idx=np.array([0, 2]),
    ),
    "adaptation.make_student": lambda: dict(d_in=3, width=4),
    "adaptation.make_teacher": lambda: dict(d_in=4, d_hidden=6, rank=2, scale=0.5, generator=_g()),
    "adaptation.numerical_rank": lambda: dict(Phi=_rng().normal(size=(5, 4)), tol=1e-3),
    "adaptation.prune_columns": lambda: dict(
        Phi=np.abs(_rng().normal(size=(6, 4))),
        alpha=np.array([1.0, -0.5, 0.2, 0.3]),
        bias=0.1,
        keep_idx=np.array([0, 2]),
        y=_rng().normal(size=6),
    ),
    "adaptation.refit_output": lambda: dict(Phi=_rng().normal(size=(6, 3)), y=np.arange(6.0)),
    "adaptation.saliency": lambda: dict(
        alpha=np.array([1.0, -0.5, 0.2, 0.3]), W=_rng().normal(size=(4, 3)), theta=np.ones(4)
    ),
    "adaptation.select_columns": lambda: dict(
        scores=np.array([0.3, 0.1, 0.5, 0.2, 0.4]), keep=2, n=5, rng=_rng()
    ),
    # chain_of_thought
    "chain_of_thought.parity_cot": lambda: dict(
        x=_bits(6, 5), support=np.array([0, 2, 3]), fmt="binary"
    ),
    "chain_of_thought.parity_cot_length": lambda: dict(support_size=3, fmt="unary"),
    "chain_of_thought.parity_dataset": lambda: dict(
        n_samples=6, n_bits=5, support=np.array([0, 2]), fmt="prefix_xor", rng=_rng()
    ),
    "chain_of_thought.multiplication_cot": lambda: dict(
        a=np.array([12, 34]), b=np.array([56, 78]), fmt="compact", n_digits=2
    ),
    "chain_of_thought.multiplication_dataset": lambda: dict(
        fmt="longer", n_digits=2, n_samples=5, rng=_rng()
    ),
    "chain_of_thought.operand_split": lambda: dict(
        a=np.array([12, 34]), b=np.array([56, 78]), held_out_fraction=0.25
    ),
    "chain_of_thought.decode_digits": lambda: dict(digits=np.array([[1, 2], [3, 4]])),
    "chain_of_thought.multiplication_length": lambda: dict(fmt="longer", n_digits=2),
    "chain_of_thought.matched_width": lambda: dict(
        seq_len=9, target_params=5000, vocab_size=12, mlp=True
    ),
    "chain_of_thought.format_widths": lambda: dict(
        target_params=20000, n_digits=1, formats=("none", "compact")
    ),
    "chain_of_thought.seed_mean_se": lambda: dict(values=np.array([0.1, 0.3, 0.2])),
    "chain_of_thought.train_multiplication": lambda: dict(
        fmt="compact",
        d=2,
        steps=1,
        batch_size=2,
        lr=0.01,
        seed=0,
        n_digits=1,
        weight_decay=0.1,
        grad_clip=1.0,
        schedule="cosine",
        device="cpu",
    ),  # fmt: skip
    # checks
    "checks.CheckResult": lambda: dict(name="a", equation="eq-a", value=1.0, criterion="≈ 1"),
    "checks.check": lambda: dict(
        name="a",
        value=1.0,
        expected=1.05,
        rtol=0.1,
        atol=0.0,
        lower=0.0,
        upper=2.0,
        equation="eq-a",
        quiet=True,
    ),
    # corpus
    "corpus.WordTokenizer": lambda: dict(texts=["a b c", "b c d"]),
    "corpus.WordTokenizer.encode": lambda: dict(self=_tokenizer(), texts=["a b", "c"], length=4),
    "corpus.WordTokenizer.decode": lambda: dict(self=_tokenizer(), ids=np.array([1, 2, 0])),
    "corpus.CharTokenizer": lambda: dict(text="hello"),
    "corpus.CharTokenizer.encode": lambda: dict(self=_chars(), text="hell"),
    "corpus.CharTokenizer.decode": lambda: dict(self=_chars(), ids=np.array([0, 1, 2])),
    "corpus.template_stories": lambda: dict(n_stories=2, rng=_rng()),
    "corpus.story_metrics": lambda: dict(story=STORY),
    "corpus.chunk_rows": lambda: dict(ids=np.arange(10), length=4, stride=2),
    # device
    "device.get_device": lambda: dict(prefer="cpu"),
    "device.set_threads": lambda: dict(n=1),
    # emergence
    "emergence.PeelResult": lambda: dict(
        learned=np.array([True, False]), rounds=1, unlearned_per_round=np.array([1.0, 0.5])
    ),
    "emergence.SkillTextGraph": lambda: dict(
        n_skills=3, n_texts=2, skill=np.array([0, 1, 2]), text=np.array([0, 1, 1])
    ),
    "emergence.association_giant_fraction": lambda: dict(
        graph=_graph(), learned=np.arange(12) % 3 > 0
    ),
    "emergence.association_giant_theory": lambda: dict(
        skill_degrees=C_SKILL, text_degrees=C_TEXT, occupied=0.5, iterations=50
    ),
    "emergence.core_birth": lambda: dict(
        edges=np.array([[0, 1, 2], [0, 1, 2], [2, 3, 4], [1, 3, 4]]), n_vertices=5, min_size=1
    ),
    "emergence.core_threshold": lambda: dict(k=3),
    "emergence.critical_ratios": lambda: dict(n_texts=30, k=3, trials=2, rng=_rng(), min_core=0.1),
    "emergence.de_e1": lambda: dict(
        R=np.array([0.5, 2.0]), skill_degrees=C_SKILL, K=1, phi=1.0, interference=0.0
    ),
    "emergence.de_e1_trajectory": lambda: dict(
        R=1.0, skill_degrees=C_SKILL, iterations=5, K=2, phi=0.9, interference=0.1
    ),
    "emergence.de_e2": lambda: dict(R=np.array([0.5, 2.0]), text_degrees=C_TEXT, log=False),
    "emergence.de_e2_trajectory": lambda: dict(R=1.0, text_degrees=C_TEXT, iterations=5),
    "emergence.edge_pgf": lambda: dict(coeffs=C_SKILL, x=0.5),
    "emergence.exit_curves": lambda: dict(
        x=np.array([0.2, 0.7]), R=1.2, skill_degrees=np.array([0.0, 0.0, 0.0, 1.0])
    ),
    "emergence.exit_threshold": lambda: dict(
        skill_degrees=np.array([0.0, 0.0, 0.0, 1.0]), points=101
    ),
    "emergence.fit_exponential": lambda: dict(
        x=np.array([1.0, 2.0, 3.0]), y=np.array([1.0, 0.5, 0.25])
    ),
    "emergence.fit_power_law": lambda: dict(
        x=np.array([1.0, 2.0, 4.0]), y=np.array([1.0, 0.5, 0.25])
    ),
    "emergence.make_lexicon": lambda: dict(n_skills=3, rng=_rng(), words=2, vocabulary=10),
    "emergence.mean_degree": lambda: dict(coeffs=C_SKILL),
    "emergence.peel": lambda: dict(
        graph=_graph(), K=1, phi=0.9, rng=_rng(), learnable=np.ones(12, dtype=bool)
    ),
    "emergence.pgf": lambda: dict(coeffs=C_SKILL, x=np.array([0.2, 0.7])),
    "emergence.poisson_degrees": lambda: dict(mean=2.0, tail=1e-10),
    "emergence.render_text": lambda: dict(skills=np.array([0, 1]), lexicon=["a b", "c d"]),
    "emergence.sample_e1": lambda: dict(n_skills=10, R=1.5, skill_degrees=C_SKILL, rng=_rng()),
    "emergence.sample_e2": lambda: dict(n_skills=10, R=1.5, text_degrees=C_TEXT, rng=_rng()),
    "emergence.sample_hypergraph": lambda: dict(n_vertices=10, n_edges=5, k=3, rng=_rng()),
    "emergence.semantic_code_bits": lambda: dict(n_skills=10, k=3, ordered=True),
    "emergence.size_biased_unlearned": lambda: dict(u=np.array([0.1, 0.5]), skill_degrees=C_SKILL),
    "emergence.success_probability": lambda: dict(rho=np.array([0.5, 1.0]), K=2, phi=0.9),
    "emergence.testing_error": lambda: dict(u=0.2, test_degrees=C_SKILL),
    "emergence.threshold_e1": lambda: dict(skill_degrees=C_SKILL, K=1, phi=1.0, interference=0.0),
    "emergence.threshold_e2": lambda: dict(text_degrees=C_TEXT),
    "emergence.threshold_e2_poisson": lambda: dict(d=4.0),
    "emergence.zipf_law": lambda: dict(n_texts=np.array([10.0, 100.0]), gamma=0.5, min_count=1),
    "emergence.zipf_learning_curve": lambda: dict(
        n_texts=np.array([10, 100]), gamma=0.5, rng=_rng(), min_count=1
    ),
    "emergence.two_core": lambda: dict(
        edges=np.array([[0, 1, 2], [0, 1, 2], [2, 3, 4], [1, 3, 4]]), n_vertices=5
    ),
    # entropy_bias
    "entropy_bias.entropy": lambda: dict(p=np.array([0.2, 0.3, 0.5])),
    "entropy_bias.plugin_entropy": lambda: dict(counts=np.array([[1, 2, 3], [0, 1, 1]])),
    "entropy_bias.plugin_bias_first_order": lambda: dict(vocab_size=5, n=np.array([10, 20])),
    "entropy_bias.plugin_bias_second_order": lambda: dict(p=np.array([0.2, 0.3, 0.5]), n=10),
    "entropy_bias.plugin_entropy_mean": lambda: dict(p=np.array([0.2, 0.3, 0.5]), n=10),
    "entropy_bias.simulate_plugin_bias": lambda: dict(
        p=np.array([0.2, 0.3, 0.5]), n=20, replicates=5, rng=_rng()
    ),
    "entropy_bias.zipf_distribution": lambda: dict(vocab_size=5, exponent=1.0),
    # icl
    "icl.LinearSelfAttention": lambda: dict(d=3, init_scale=0.01, generator=_g()),
    "icl.LinearSelfAttention.weights": lambda: dict(
        self=icl.LinearSelfAttention(3, generator=_g())
    ),
    "icl.LinearSelfAttention.forward": lambda: dict(
        self=icl.LinearSelfAttention(3, generator=_g()),
        **dict(zip(("x", "y", "x_query"), _icl_xy(), strict=True)),
    ),
    "icl.MultiLayerLSA": lambda: dict(d=3, n_layers=2, init_scale=0.01, generator=_g()),
    "icl.MultiLayerLSA.forward": lambda: dict(
        self=icl.MultiLayerLSA(3, 2, generator=_g()),
        **dict(zip(("x", "y", "x_query"), _icl_xy(), strict=True)),
    ),
    "icl.averaging_prefix": lambda: dict(zip(("x", "y"), _icl_xy()[:2], strict=True)),
    "icl.clean_prefix_error": lambda: dict(pred=_float(2, 4), x=_float(2, 4, 3), w=_float(2, 3)),
    "icl.fit_gd_schedule": lambda: dict(
        **dict(zip(("x", "y", "x_query"), _icl_xy(), strict=True)),
        y_query=_float(2),
        n_steps=2,
        plus_plus=True,
        eta_init=0.5,
        iterations=3,
    ),
    "icl.gd_steps_predict": lambda: dict(
        **dict(zip(("x", "y", "x_query"), _icl_xy(), strict=True)), etas=[0.5, 0.3]
    ),
    "icl.gdpp_construction": lambda: dict(d=3, eta=0.5, rho=0.1, n_context=4, dtype=torch.float64),
    "icl.gdpp_predict": lambda: dict(
        **dict(zip(("x", "y", "x_query"), _icl_xy(), strict=True)), etas=[0.5, 0.3], rhos=[0.1, 0.0]
    ),
    "icl.least_squares_noisy_error": lambda: dict(k=2, d=6, noise_var=0.25),
    "icl.ridge_conditional_error": lambda: dict(x=_float(2, 4, 3), noise_var=0.25),
    "icl.ridge_prefix": lambda: dict(**dict(zip(("x", "y"), _icl_xy()[:2], strict=True)), lam=0.25),
    "icl.sample_noisy_linear_regression": lambda: dict(
        batch=2,
        n_points=4,
        d=3,
        noise_std=0.5,
        generator=_g(),
        x_dist="gaussian",
        dtype=torch.float32,
        device="cpu",
    ),  # fmt: skip
    "icl.best_gd_eta": lambda: dict(
        **dict(zip(("x", "y", "x_query"), _icl_xy(), strict=True)),
        y_query=_float(2),
        w0=torch.zeros(3),
    ),
    "icl.example_query_mask": lambda: dict(n_points=3, device="cpu"),
    "icl.example_query_predict": lambda: dict(
        model=_icl_model(), **dict(zip(("x", "y"), _icl_xy()[:2], strict=True))
    ),
    "icl.example_query_tokens": lambda: dict(zip(("x", "y"), _icl_xy()[:2], strict=True)),
    "icl.gd_step_predict": lambda: dict(
        **dict(zip(("x", "y", "x_query"), _icl_xy(), strict=True)), eta=0.5, w0=torch.zeros(3)
    ),
    "icl.least_squares_prefix": lambda: dict(zip(("x", "y"), _icl_xy()[:2], strict=True)),
    "icl.load_icl_transformer": lambda: dict(path=_saved_icl(), device="cpu", sha256=None),
    "icl.lsa_construction": lambda: dict(
        d=3, eta=0.5, n_context=4, w0=torch.zeros(3), dtype=torch.float64
    ),
    "icl.lsa_effective_weight": lambda: dict(
        **dict(zip(("x", "y"), _icl_xy()[:2], strict=True)), **_lsa()
    ),
    "icl.lsa_forward": lambda: dict(tokens=_float(2, 5, 4), **_lsa(), n_context=4),
    "icl.make_icl_transformer": lambda: dict(d=3, d_model=8, n_heads=2, n_layers=1, d_ff=16),
    "icl.nearest_neighbour_prefix": lambda: dict(
        **dict(zip(("x", "y"), _icl_xy()[:2], strict=True)), k=2
    ),
    "icl.prefix_error": lambda: dict(pred=_float(2, 4), y=_float(2, 4), d=3),
    "icl.sample_linear_regression": lambda: dict(
        batch=2,
        n_points=4,
        d=3,
        generator=_g(),
        x_dist="gaussian",
        dtype=torch.float32,
        device="cpu",
    ),  # fmt: skip
    "icl.save_icl_transformer": lambda: dict(
        model=_icl_model(), config={"d": 3, "d_model": 8, "n_layers": 1, "d_ff": 16}, path="o.pt"
    ),
    "icl.sensitivity_cosine": lambda: dict(
        predict_a=lambda x, y, q: (q * x.mean(1)).sum(-1),
        predict_b=lambda x, y, q: (q * (y[..., None] * x).mean(1)).sum(-1),
        **dict(zip(("x", "y", "x_query"), _icl_xy(), strict=True)),
    ),
    "icl.lsa_preconditioner": lambda: dict(**_lsa(), n_context=4),
    "icl.optimal_preconditioner": lambda: dict(cov=torch.eye(3), n_context=4, noise_var=0.1),
    "icl.preconditioned_step_loss": lambda: dict(
        omega=torch.eye(3), cov=torch.eye(3), n_context=4, noise_var=0.1
    ),
    "icl.sample_anisotropic_regression": lambda: dict(
        batch=2, n_points=4, cov=torch.eye(3), generator=_g()
    ),
    "icl.vonoswald_tokens": lambda: dict(
        **dict(zip(("x", "y", "x_query"), _icl_xy(), strict=True)), w0=torch.zeros(3)
    ),
    # multi_concept
    "multi_concept.ConceptDictionary": lambda: {
        f.name: getattr(_dic(), f.name) for f in dataclasses.fields(mc.ConceptDictionary)
    },  # fmt: skip
    "multi_concept.MultiConceptTransformer": lambda: dict(
        d=8, m=4, w_init=0.01, mlp_init=0.1, query_in_values=False, generator=_g()
    ),
    "multi_concept.MultiConceptTransformer.attention": lambda: dict(
        self=_mct(), H=_prompts().H, hq=_prompts().hq
    ),
    "multi_concept.MultiConceptTransformer.forward": lambda: dict(
        self=_mct(), H=_prompts().H, hq=_prompts().hq
    ),
    "multi_concept.Prompts": lambda: {
        k: getattr(_prompts(), k) for k in ("H", "hq", "z", "task", "z_demo")
    },
    "multi_concept.bayes_error": lambda: dict(beta=0.8, sigma=0.5),
    "multi_concept.bayes_predict": lambda: dict(dic=_dic(), p=_prompts()),
    "multi_concept.block_products": lambda: dict(dic=_dic(), W=_rng().normal(size=(16, 16))),
    "multi_concept.concept_block_projection": lambda: dict(
        dic=_dic(), W=_rng().normal(size=(16, 16))
    ),
    "multi_concept.concept_scales": lambda: dict(dic=_dic(), W=_rng().normal(size=(16, 16))),
    "multi_concept.distilled_transformer": lambda: dict(dic=_dic(), W=_rng().normal(size=(16, 16))),
    "multi_concept.predicted_scaled_construction": lambda: dict(
        label=np.ones(2),
        word=np.zeros(2),
        task=0,
        beta=0.8,
        sigma=0.2,
        L=4,
        sigma_y=0.05,
        n_irr=1,
        n_draws=100,
        generator=_rng(),
    ),
    "multi_concept.concept_signs": lambda: dict(dic=_dic(), W=_rng().normal(size=(16, 16))),
    "multi_concept.concept_dictionary": lambda: dict(d=8, K=2, alpha=1.0, beta=0.8, rng=_rng()),
    "multi_concept.constructed_error": lambda: dict(lam=1.0, beta=0.8, sigma=0.5, L=4),
    "multi_concept.constructed_transformer": lambda: dict(dic=_dic(), lam=1.0),
    "multi_concept.correct_attention": lambda: dict(
        model=_mct(), p=_prompts(), signs=np.array([1.0, -1.0])
    ),
    "multi_concept.dictionary_basis": lambda: dict(dic=_dic()),
    "multi_concept.error_floor": lambda: dict(beta=0.8, sigma=0.5, L=4),
    "multi_concept.expected_block_gradient": lambda: dict(beta=0.8, L=4, K=2),
    "multi_concept.logistic_loss": lambda: dict(model=_mct(), batch=_prompts().batch),
    "multi_concept.identify_pairing": lambda: dict(dic=_dic(), p=_prompts()),
    "multi_concept.in_context_bayes_predict": lambda: dict(dic=_dic(), p=_prompts()),
    "multi_concept.mlp_products": lambda: dict(dic=_dic(), w=_rng().normal(size=(4, 16))),
    "multi_concept.predicted_correct_attention": lambda: dict(lam=1.0, beta=0.8, sigma=0.5, L=4),
    "multi_concept.sample_prompts": lambda: dict(
        dic=_dic(),
        n=3,
        L=4,
        sigma=0.1,
        sigma_y=0.05,
        n_irr=1,
        task_probs=np.array([0.4, 0.6]),
        label_concept=np.array([1, 0]),
        flip_labels=False,
        generator=_g(),
    ),  # fmt: skip
    "multi_concept.zero_one_error": lambda: dict(
        f=torch.tensor([0.5, -1.0, 2.0]), z=torch.tensor([1.0, 1.0, -1.0])
    ),
    # next_token
    "next_token.MaskedLinearLM": lambda: dict(vocab_size=5, seq_len=6, d=3, mlp=True),
    "next_token.MaskedLinearLM.forward": lambda: dict(self=_lm(), tokens=_tokens()),
    "next_token.effective_parameters": lambda: dict(seq_len=6, d=3, vocab_size=5, mlp=True),
    "next_token.token_loss": lambda: dict(model=_lm(), tokens=_tokens(), start=2),
    "next_token.train_next_token": lambda: dict(
        model=_lm(),
        tokens=_tokens(),
        start=2,
        steps=2,
        batch_size=2,
        lr=0.01,
        weight_decay=0.1,
        generator=_g(),
        grad_clip=1.0,
        schedule="cosine",
        eval_fn=lambda m, s: float(s),
        eval_every=1,
        desc="fuzz",
    ),  # fmt: skip
    "next_token.teacher_forced_accuracy": lambda: dict(model=_lm(), tokens=_tokens(), start=2),
    "next_token.greedy_rollout": lambda: dict(model=_lm(), prompt=_tokens(2, 3), length=2),
    "next_token.sample_rollout": lambda: dict(
        model=_lm(), prompt=_tokens(2, 3), length=2, temperature=1.0, generator=_g()
    ),
    "next_token.exact_match": lambda: dict(pred=_tokens(2, 4), target=_tokens(2, 4)),
    "next_token.model_perplexity": lambda: dict(model=_lm(), tokens=_tokens()),
    "next_token.ngram_perplexity": lambda: dict(
        train_ids=np.array([0, 1, 2, 1, 0, 3]),
        eval_rows=np.array([[0, 1, 2], [1, 2, 3]]),
        vocab_size=5,
        order=2,
        alpha=0.1,
    ),
    "next_token.threshold_parity_agreement": lambda: dict(n_bits=3),
    "next_token.best_halfspace_agreement": lambda: dict(n_bits=3),
    "next_token.kneser_ney_probs": lambda: dict(
        train_ids=np.array([0, 1, 2, 1, 0, 3]),
        contexts=np.array([[-1, 0], [1, 2]]),
        vocab_size=5,
        order=3,
        discount=0.5,
    ),
    "next_token.kneser_ney_perplexity": lambda: dict(
        train_ids=np.array([0, 1, 2, 1, 0, 3]),
        eval_rows=np.array([[0, 1, 2], [1, 2, 3]]),
        vocab_size=5,
        order=3,
        discount=0.5,
        ignore_id=0,
    ),
    # progress, prose, seeding
    "progress.progress": lambda: dict(iterable=[1, 2, 3], total=3, desc="fuzz"),
    "prose.Quoted": lambda: dict(value=1.5, spec=".2f"),
    "prose.quote": lambda: dict(value=1.5, spec=".2f"),
    "seeding.seed_everything": lambda: dict(seed=3),
    # source
    "source.show_source": lambda: dict(obj=llmtheory.checks.check),
    # semantic
    "semantic.binary_symmetric_channel": lambda: dict(
        bits=np.array([0, 1, 1, 0]), eta=0.1, rng=_rng()
    ),
    "semantic.decode_corpus": lambda: dict(code=5, n_texts=1, n_skills=4, sizes=np.array([1, 2])),
    "semantic.deflate_bits": lambda: dict(texts=["a b, c d.", "c d."], zdict=b", a b, c d, "),
    "semantic.deflate_texts": lambda: dict(texts=["a b, c d.", "c d."], zdict=b", a b, c d, "),
    "semantic.deflate_match_bits": lambda: dict(
        length=np.array([3, 29]), distance=np.array([1, 20000])
    ),
    "semantic.encode_corpus": lambda: dict(
        texts=[np.array([0, 2]), np.array([1])], n_skills=3, sizes=np.array([1, 2])
    ),
    "semantic.end_to_end_success": lambda: dict(
        test_degrees=np.array([0.0, 0.5, 0.5]), known=0.5, index_success=0.9
    ),
    "semantic.hamming74_block_success": lambda: dict(eta=np.array([0.01, 0.1])),
    "semantic.hamming74_decode": lambda: dict(received=np.array([[1, 1, 1, 0, 0, 0, 1]])),
    "semantic.hamming74_encode": lambda: dict(data=np.array([[1, 0, 1, 1]])),
    "semantic.lexicon_zdict": lambda: dict(lexicon=["a b", "c d"], size=20),
    "semantic.parse_texts": lambda: dict(texts=["a b, c d."], lexicon=["a b", "c d"]),
    "semantic.raw_link": lambda: dict(texts=["a b.", "c."], eta=0.1, rng=_rng()),
    "semantic.semantic_link": lambda: dict(
        texts=[np.array([0, 1]), np.array([2])],
        n_skills=3,
        sender=np.array([True, True, False]),
        receiver=np.array([True, True, True]),
        eta=0.1,
        rng=_rng(),
        per_skill=False,
    ),
    "semantic.texts_of": lambda: dict(graph=_graph()),
    # training
    "training.TrainHistory": lambda: dict(loss=np.zeros(3), eval_steps=[0], evals=[1.0]),
    "training.train": lambda: dict(
        model=torch.nn.Linear(2, 1),
        batch_fn=lambda step: torch.ones(4, 2) * step,
        loss_fn=lambda m, b: m(b).pow(2).mean(),
        steps=2,
        lr=0.01,
        optimizer="sgd",
        weight_decay=0.0,
        schedule="cosine",
        grad_clip=1.0,
        parameters=None,
        eval_fn=lambda m, s: float(s),
        eval_every=1,
        desc="fuzz",
    ),  # fmt: skip
    # transducer
    "transducer.Transducer": lambda: dict(
        next_state=_fst().next_state, output=_fst().output, length=_fst().length
    ),
    "transducer.state_count": lambda: dict(vocab_size=3, window=2),
    "transducer.extract_transducer": lambda: dict(model=_small_lm(), vocab_size=3, window=2),
    "transducer.run_transducer": lambda: dict(fst=_fst(), streams=np.array([[0, 1, 2, 1]])),
    "transducer.run_windowed_model": lambda: dict(
        model=_small_lm(), streams=np.array([[0, 1, 2, 1]]), window=2
    ),
    "transducer.window_codes": lambda: dict(x=_bits(4, 5), window=3),
    "transducer.best_window_predictor": lambda: dict(
        x_train=_bits(6, 5), y_train=np.array([0, 1, 1, 0, 1, 0]), window=2
    ),
    "transducer.minimise_transducer": lambda: dict(fst=_fst()),
    "transducer.mealy_transformer": lambda: dict(
        next_state=np.array([[0, 1], [1, 0]]), output=np.array([[0, 1], [1, 0]])
    ),
    "transducer.run_with_cot": lambda: dict(
        model=_small_lm(), inputs=np.array([[0, 1, 2]]), prompt=np.array([0]), window=2
    ),
    "transducer.best_mealy_accuracy": lambda: dict(
        words=_bits(4, 3), labels=np.array([0, 1, 1, 0]), n_states=1
    ),
    "transducer.best_window_cot_accuracy": lambda: dict(
        words=_bits(4, 3), labels=np.array([0, 1, 1, 0]), window=2, n_thoughts=1
    ),
    # transformer
    "transformer.Block": lambda: dict(d_model=8, n_heads=2, d_ff=16, norm="pre", activation="gelu"),
    "transformer.Block.forward": lambda: dict(
        self=_block(),
        x=_float(2, 3, 8),
        attn_mask=torch.ones(3, 3, dtype=torch.bool).tril(),
        is_causal=False,
    ),  # fmt: skip
    "transformer.MLP": lambda: dict(d_model=8, d_ff=16, activation="tanh"),
    "transformer.MLP.forward": lambda: dict(self=tf.MLP(8, 16), x=_float(2, 3, 8)),
    "transformer.MultiHeadAttention": lambda: dict(d_model=8, n_heads=2, bias=False),
    "transformer.MultiHeadAttention.forward": lambda: dict(
        self=_mha(),
        x=_float(2, 3, 8),
        attn_mask=torch.ones(3, 3, dtype=torch.bool).tril(),
        is_causal=False,
    ),  # fmt: skip
    "transformer.MultiHeadAttention.attention_weights": lambda: dict(
        self=_mha(), x=_float(2, 3, 8), attn_mask=torch.ones(3, 3, dtype=torch.bool).tril()
    ),
    "transformer.MultiHeadAttention.head_matrices": lambda: dict(self=_mha()),
    "transformer.Transformer": lambda: dict(
        d_model=8,
        n_heads=2,
        n_layers=1,
        d_ff=16,
        d_in=3,
        d_out=2,
        vocab_size=None,
        max_len=5,
        causal=True,
        norm="pre",
        activation="relu",
    ),  # fmt: skip
    "transformer.Transformer.embed_inputs": lambda: dict(self=_transformer(), x=_float(2, 4, 3)),
    "transformer.Transformer.hidden_states": lambda: dict(
        self=_transformer(), x=_float(2, 4, 3), attn_mask=torch.ones(4, 4, dtype=torch.bool)
    ),
    "transformer.Transformer.attention_weights": lambda: dict(
        self=_transformer(), x=_float(2, 4, 3), attn_mask=torch.ones(4, 4, dtype=torch.bool)
    ),
    "transformer.Transformer.forward": lambda: dict(
        self=_transformer(), x=_float(2, 4, 3), attn_mask=torch.ones(4, 4, dtype=torch.bool)
    ),
    "transformer.activation_fn": lambda: dict(name="gelu"),
    "transformer.causal_mask": lambda: dict(n=4, device="cpu"),
    # uat
    "uat.BlockRewrite": lambda: dict(M=_rewrite().M, c=_rewrite().c, ffn=_rewrite().ffn),
    "uat.BlockRewrite.__call__": lambda: dict(self=_rewrite(), x=_rng().normal(size=24)),
    "uat.LayerParameters": lambda: dataclasses.asdict(_layer()),
    "uat.UATTerm": lambda: dataclasses.asdict(_uat_term()),
    "uat.UATTerm.__call__": lambda: dict(self=_uat_term(), x=_rng().normal(size=3)),
    "uat.attention_matrices": lambda: dict(
        p=_layer(), X=_rng().normal(size=(3, 8)), mask=np.tril(np.ones((3, 3), bool))
    ),
    "uat.block_rewrite": lambda: dict(
        p=_layer(), X=_rng().normal(size=(3, 8)), mask=np.tril(np.ones((3, 3), bool))
    ),
    "uat.context_blind_prediction": lambda: dict(x=_rng().normal(size=(2, 4, 3))),
    "uat.context_task": lambda: dict(batch=2, n=4, d=3, gen=_g(), dtype=torch.float32),
    "uat.effective_token_parameters": lambda: dict(
        p=_layer(), X=_rng().normal(size=(3, 8)), mask=np.tril(np.ones((3, 3), bool)), i=-1
    ),
    "uat.fitted_rate": lambda: dict(N=np.array([1.0, 2.0, 4.0]), err=np.array([1.0, 0.5, 0.3])),
    "uat.head_vec_matrix": lambda: dict(W_V=_rng().normal(size=(2, 3)), A=np.full((3, 3), 1 / 3)),
    "uat.layer_parameters": lambda: dict(block=tf.Block(8, 2, 16, norm="none")),
    "uat.linear_vec": lambda: dict(W=_rng().normal(size=(2, 3)), b=np.ones(2), n=3),
    "uat.maurey_average": lambda: dict(
        atoms=_rng().normal(size=(4, 5)), weights=np.full(4, 0.25), N=3, rng=_rng()
    ),
    "uat.maurey_variance": lambda: dict(atoms=_rng().normal(size=(4, 5)), weights=np.full(4, 0.25)),
    "uat.mha_vec_matrix": lambda: dict(p=_layer(), A=np.full((2, 3, 3), 1 / 3)),
    "uat.model_attention": lambda: dict(model=_uat_transformer(), n=3, attn_mask=None),
    "uat.one_hidden_layer": lambda: dict(
        x=_rng().normal(size=(5, 2)),
        alpha=np.ones(4),
        W=_rng().normal(size=(4, 2)),
        theta=np.zeros(4),
        bias=0.1,
        activation="tanh",
    ),  # fmt: skip
    "uat.random_feature_errors": _random_feature_args,
    "uat.random_feature_residuals": _random_feature_args,
    "uat.rank_one_update": lambda: dict(delta_theta=np.ones(3), x=np.arange(1.0, 3.0)),
    "uat.relu_interpolant": lambda: dict(f=np.sin, a=0.0, b=1.0, N=4),
    "uat.token_block": lambda: dict(matrix=_rng().normal(size=(6, 6)), n=3, i=0, j=1),
    "uat.train_hidden_layer": lambda: dict(
        x_train=np.linspace(-1, 1, 8)[:, None],
        y_train=np.sin(np.linspace(-1, 1, 8)),
        x_test=np.linspace(-0.9, 0.9, 4)[:, None],
        y_test=np.sin(np.linspace(-0.9, 0.9, 4)),
        width=3,
        rng=_rng(),
        scale=3.0,
        steps=2,
        lr=0.01,
    ),  # fmt: skip
    "uat.unrolled_terms": lambda: dict(
        model=_uat_transformer(), X0=_rng().normal(size=(3, 8)), attn_mask=None
    ),
    "uat.unvec": lambda: dict(x=np.arange(6.0), n=3),
    "uat.vec": lambda: dict(X=np.arange(6.0).reshape(3, 2)),
}


def _hint_value(name: str, hint: str):
    """A plausible value for a parameter from its type hint (for callables not in BASELINES)."""
    if "np.random.Generator" in hint:
        return _rng()
    if "torch.Generator" in hint:
        return _g()
    if "Tensor" in hint:
        return _float(2, 3)
    if "ndarray" in hint:
        return np.linspace(0.1, 0.9, 3)
    if "list[str]" in hint:
        return ["a b", "c"]
    if "Callable" in hint:
        return lambda *args: 0.0
    if hint.startswith("bool"):
        return False
    if hint.startswith("int"):
        return 2
    if hint.startswith("float"):
        return 0.5
    if hint.startswith("str"):
        return "a"
    if hint.startswith("dict"):
        return {}
    return None


def derived(target: Target) -> dict:
    """Arguments from the signature: defaults, and a value per type hint for the rest."""
    fn = resolve(target)
    args = {}
    if "." in target.qualname:
        cls = resolve(Target(target.module, target.qualname.split(".")[0]))
        args["self"] = cls(**derived(Target(target.module, cls.__name__)))
    for p in inspect.signature(fn).parameters.values():
        if p.name == "self" or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if p.default is not p.empty:
            args[p.name] = p.default
        else:
            hint = p.annotation if isinstance(p.annotation, str) else repr(p.annotation)
            args[p.name] = _hint_value(p.name, hint)
    return args


def baseline(target: Target) -> dict:
    short = target.key.removeprefix("llmtheory.")
    return BASELINES[short]() if short in BASELINES else derived(target)


def call(target: Target, args: dict):
    fn = resolve(target)
    args = dict(args)
    if "self" in args:
        fn = getattr(args.pop("self"), target.qualname.split(".")[-1])
    return fn(**args)


# ---------------------------------------------------------------------------- corruptions


def _kind(value) -> str:
    if value is None:
        return "none"
    if isinstance(value, (bool, np.bool_)):
        return "bool"
    if isinstance(value, (int, np.integer)):
        return "int"
    if isinstance(value, (float, np.floating)):
        return "float"
    if isinstance(value, str):
        return "str"
    if isinstance(value, torch.Tensor):
        return "tensor"
    if isinstance(value, np.ndarray):
        return "array"
    if isinstance(value, np.random.Generator):
        return "np_gen"
    if isinstance(value, torch.Generator):
        return "torch_gen"
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return "str_list"
    if isinstance(value, (list, tuple)):
        return "sequence"
    if isinstance(value, dict):
        return "dict"
    if isinstance(value, torch.nn.Module):
        return "module"
    if isinstance(value, (torch.dtype, torch.device)):
        return "torch_meta"
    if callable(value):
        return "callable"
    return "object"


def _float_copy(a: np.ndarray) -> np.ndarray:
    return np.array(a, dtype=float, copy=True)


def _with(a, index: int, value: float):
    if isinstance(a, torch.Tensor):
        t = a.detach().clone().double() if not a.is_floating_point() else a.detach().clone()
        if t.numel():
            t.view(-1)[index] = value
        return t
    b = _float_copy(a)
    if b.size:
        b.flat[index] = value
    return b


#: Systematic corruptions by kind of baseline value: label -> (make, valid form?).
CORRUPTIONS: dict[str, dict[str, tuple[typing.Callable, bool]]] = {
    "int": {
        "negative": (lambda v: -1, False),
        "zero": (lambda v: 0, False),
        "fraction": (lambda v: v + 0.5, False),
        "bool": (lambda v: True, False),
        "huge": (lambda v: 10**12, False),
        "bigint": (lambda v: 2**80, False),
        "nan": (lambda v: float("nan"), False),
        "numpy_int": (lambda v: np.int64(v), True),
        "zero_d": (lambda v: np.array(v), True),
    },
    "float": {
        "nan": (lambda v: float("nan"), False),
        "inf": (lambda v: float("inf"), False),
        "-inf": (lambda v: float("-inf"), False),
        "negative": (lambda v: -abs(float(v)) - 1.0, False),
        "zero": (lambda v: 0.0, False),
        "huge": (lambda v: 1e12, False),
        "bool": (lambda v: True, False),
        "int": (lambda v: max(1, round(float(v))), True),
        "numpy_float": (lambda v: np.float32(v), True),
        "zero_d": (lambda v: np.array(v), True),
    },
    "bool": {
        "int": (lambda v: 1, False),
        "numpy_bool": (lambda v: np.bool_(v), True),
    },
    "str": {
        "empty": (lambda v: "", False),
        "unknown": (lambda v: "zzz-unknown", False),
        "int": (lambda v: 3, False),
        "list": (lambda v: [v], False),
    },
    "array": {
        "empty": (lambda v: v[:0], False),
        "scalar": (lambda v: v.flat[0] if v.size else np.float64(1.0), False),
        "extra_dim": (lambda v: v[None], False),
        "drop_dim": (lambda v: v[0] if v.ndim and len(v) else v.reshape(-1), False),
        "nan": (lambda v: _with(v, 0, float("nan")), False),
        "inf": (lambda v: _with(v, -1, float("inf")), False),
        "strings": (lambda v: np.full(v.shape, "a"), False),
        "negative": (lambda v: -v.astype(float) - 1, False),
        "fractional": (lambda v: v.astype(float) + 0.5, False),
        "huge_values": (lambda v: v.astype(float) * 1e200 + 1e200, False),
        "list": (lambda v: v.tolist(), True),
        "tensor": (lambda v: torch.as_tensor(v), True),
        "ragged": (lambda v: [[1.0, 2.0], [3.0]], False),
    },
    "tensor": {
        "numpy": (lambda v: v.detach().numpy(), False),
        "empty": (lambda v: v[:0], False),
        "extra_dim": (lambda v: v[None], False),
        "drop_dim": (lambda v: v[0] if v.ndim and len(v) else v.reshape(-1), False),
        "nan": (lambda v: _with(v, 0, float("nan")), False),
        "inf": (lambda v: _with(v, -1, float("inf")), False),
        "other_dtype": (lambda v: v.long() if v.is_floating_point() else v.float(), False),
        "float64": (lambda v: v.double(), False),
        "negative": (lambda v: ~v if v.dtype == torch.bool else -v - 1, False),
        "list": (lambda v: v.tolist(), False),
    },
    "str_list": {
        "string": (lambda v: " ".join(v), False),
        "ints": (lambda v: [1, 2], False),
        "empty": (lambda v: [], False),
        "nested": (lambda v: [v], False),
        "tuple": (lambda v: tuple(v), True),
    },
    "sequence": {
        "empty": (lambda v: type(v)(), False),
        "strings": (lambda v: ["a"] * max(1, len(v)), False),
        "nan": (lambda v: [float("nan")] * max(1, len(v)), False),
        "negative": (lambda v: [-1] * max(1, len(v)), False),
        "short": (lambda v: v[:-1], False),
    },
    "dict": {"empty": (lambda v: {}, False), "list": (lambda v: [], False)},
    "np_gen": {
        "seed": (lambda v: 0, False),
        "torch_gen": (lambda v: torch.Generator(), False),
        "legacy": (lambda v: np.random.RandomState(0), False),  # noqa: NPY002
    },
    "torch_gen": {"seed": (lambda v: 0, False), "numpy_gen": (lambda v: _rng(), False)},
    "callable": {"int": (lambda v: 3, False)},
    "module": {
        "other_module": (lambda v: torch.nn.Linear(2, 2), False),
        "int": (lambda v: 3, False),
    },
    "torch_meta": {"int": (lambda v: 3, False)},
    "object": {"int": (lambda v: 3, False), "dict": (lambda v: {"a": 1}, False)},
    "none": {"int": (lambda v: 3, False), "list": (lambda v: [1.0], False)},
}
#: Every parameter also gets these.
COMMON: dict[str, tuple[typing.Callable, bool]] = {
    "None": (lambda v: None, False),
    "string": (lambda v: "zzz", False),
}


def systematic_cases(target: Target, args: dict) -> list[tuple]:
    cases = []
    for name, value in args.items():
        if name == "self":
            continue
        kind = _kind(value)
        menu = {**{k: c for k, c in COMMON.items() if kind not in ("none", "str")}}
        menu.update(CORRUPTIONS.get(kind, {}))
        for label in menu:
            cases.append((target, name, label, None))
    return cases


# Hypothesis: values drawn to replace an argument, or mutations of the baseline's value.
_floats = st.floats(allow_nan=True, allow_infinity=True, width=64)
_finite = st.floats(-1e6, 1e6, allow_nan=False)
_replacement = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**66), 2**66),
    _floats,
    _finite,
    st.text(max_size=4),
    st.lists(st.integers(-3, 10), max_size=4),
    st.lists(st.text(max_size=3), max_size=3),
    hnp.arrays(
        dtype=st.sampled_from([np.float64, np.int64, np.bool_]),
        shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5),
    ),
)
_mutation = st.one_of(
    st.tuples(st.just("set_entry"), st.integers(-3, 3), st.one_of(_floats, _finite)),
    st.tuples(st.just("scale"), st.one_of(_floats, _finite)),
    st.tuples(st.just("slice"), st.integers(0, 3)),
    st.tuples(st.just("ravel")),
)


def hypothesis_cases(target: Target, args: dict, n: int) -> list[tuple]:
    """``n`` corruptions drawn by Hypothesis (derandomized: the same every run)."""
    names = [k for k in args if k != "self"]
    if not names:
        return []
    drawn: list[tuple] = []

    @settings(
        max_examples=n,
        derandomize=True,
        database=None,
        phases=[Phase.generate],
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(
        name=st.sampled_from(names),
        how=st.one_of(_replacement.map(lambda v: ("replace", v)), _mutation),
    )
    def draw(name, how):
        if how[0] != "replace" and not isinstance(args[name], (np.ndarray, torch.Tensor)):
            how = ("replace", how[-1] if how[0] in ("set_entry", "scale") else None)
        drawn.append((target, name, "hypothesis", how))

    draw()
    return drawn[:n]


def _mutate(value, how):
    op = how[0]
    if op == "replace":
        return how[1]
    if op == "set_entry":
        return _with(value, how[1] % max(1, _size(value)), how[2])
    if op == "scale":
        if isinstance(value, torch.Tensor):
            return value.double() * how[1]
        return np.asarray(value, dtype=float) * how[1]
    if op == "slice":
        return value[: how[1]]
    if op == "ravel":
        return value.reshape(-1)
    raise AssertionError(op)


def _size(value) -> int:
    return int(value.numel()) if isinstance(value, torch.Tensor) else int(np.size(value))


# ------------------------------------------------------------------------------- outcomes


def _scan(x, test, depth: int = 0, seen: set | None = None) -> bool:
    """Whether ``test`` holds for some float array in ``x`` (numbers, arrays, tensors,
    containers, dataclasses, module parameters); ``test`` maps a float64 array to a bool."""
    if depth > 4:
        return False
    seen = set() if seen is None else seen
    if id(x) in seen:
        return False
    seen.add(id(x))
    if isinstance(x, (bool, np.bool_, str, bytes)) or x is None:
        return False
    if isinstance(x, (int, np.integer)):
        return test(np.array(float(x) if abs(x) < 2**1000 else math.inf))
    if isinstance(x, (float, np.floating)):
        return test(np.array(x, dtype=float))
    if isinstance(x, np.ndarray):
        return x.dtype.kind in "iuf" and x.size > 0 and test(x.astype(float))
    if isinstance(x, torch.Tensor):
        t = x.detach()
        return t.numel() > 0 and not t.is_complex() and test(t.double().cpu().numpy())
    if isinstance(x, torch.nn.Module):
        return any(_scan(p, test, depth + 1, seen) for p in [*x.parameters(), *x.buffers()])
    if isinstance(x, dict):
        return any(_scan(v, test, depth + 1, seen) for v in list(x.values())[:1000])
    if isinstance(x, (list, tuple)):
        return any(_scan(v, test, depth + 1, seen) for v in x[:1000])
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return any(_scan(getattr(x, f.name), test, depth + 1, seen) for f in dataclasses.fields(x))
    return False


def _nonfinite(x) -> bool:
    return _scan(x, lambda a: not np.all(np.isfinite(a)))


def _has_nan(x) -> bool:
    return _scan(x, lambda a: bool(np.isnan(a).any()))


def _huge(x) -> bool:
    """Finite magnitudes of 1e100 or more, which may overflow any computation (IEEE)."""
    return _scan(x, lambda a: bool((np.abs(a[np.isfinite(a)]) >= 1e100).any()))


def _names(message: str, name: str) -> bool:
    return re.search(rf"(?<![\w.]){re.escape(name)}(?!\w)", message) is not None


_MEMORY_WORDS = (
    "can't allocate memory",
    "DefaultCPUAllocator",
    "Unable to allocate",
    "std::bad_alloc",
)


def run_case(case: tuple) -> dict:
    """Build the baseline, corrupt one argument, call; classify (runs in the child)."""
    target, name, label, how = case
    t0 = time.perf_counter()
    valid_form = False
    try:
        args = baseline(target)
        if name is not None:
            value = args[name]
            if label == "hypothesis":
                args[name] = _mutate(value, how)
            else:
                kind = _kind(value)
                make, valid_form = {**COMMON, **CORRUPTIONS.get(kind, {})}[label]
                args[name] = make(value)
        corrupted_nonfinite = name is not None and _nonfinite(args[name])
        corrupted_huge = name is not None and _huge(args[name])
    except Exception as exc:  # the harness could not build the case: report, do not hide
        return {"outcome": "baseline_error", "error": f"building the case: {exc!r}"[:400]}
    documented = tuple(
        getattr(builtins, e)
        for e in ALLOWLIST["documented_exceptions"].get(target.key.removeprefix("llmtheory."), [])
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = call(target, args)
    except MemoryError as exc:
        return {"outcome": "memory", "error": f"MemoryError: {exc}"[:400]}
    except BaseException as exc:  # noqa: BLE001 - every exception is classified
        text = f"{type(exc).__name__}: {exc}"
        if isinstance(exc, RuntimeError) and any(w in str(exc) for w in _MEMORY_WORDS):
            return {"outcome": "memory", "error": text[:400]}
        if name is None:
            where = traceback.format_exc(limit=-2)
            return {"outcome": "baseline_error", "error": (text + "\n" + where)[:800]}
        clear = isinstance(exc, (ValueError, TypeError)) and _names(str(exc), name)
        if clear or isinstance(exc, documented):  # a documented exception is a correct result
            return {"outcome": "refused_valid" if valid_form else "clear", "error": text[:400]}
        where = traceback.format_exc(limit=-1).strip().splitlines()
        return {"outcome": "unhelpful", "error": (text[:300] + " | " + where[-3][:200])}
    seconds = time.perf_counter() - t0
    try:
        out_nonfinite = _nonfinite(result)
        out_nan = out_nonfinite and _has_nan(result)
    except Exception:  # noqa: BLE001
        out_nonfinite = out_nan = False
    if out_nonfinite and corrupted_huge:
        return {"outcome": "overflow", "s": seconds}
    if out_nonfinite and not corrupted_nonfinite:
        what = "NaN" if out_nan else "an infinity"
        return {"outcome": "nan_out" if out_nan else "inf_out", "error": f"{what} in the result"}
    if out_nonfinite:
        return {"outcome": "nan_through", "s": seconds}
    if corrupted_nonfinite:
        return {"outcome": "nan_absorbed", "s": seconds}
    return {"outcome": "returned", "s": seconds}


# ---------------------------------------------------------------------------- worker pool


def _worker_main(conn, workdir: str) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE_BYTES, ADDRESS_SPACE_BYTES))
    os.environ["LLMTHEORY_MEMORY_LIMIT_GB"] = CHILD_MEMORY_LIMIT_GB
    os.environ["LLMTHEORY_PROGRESS"] = "0"
    os.environ.pop("LLMTHEORY_DEVICE", None)
    torch.set_num_threads(1)
    os.chdir(tempfile.mkdtemp(dir=workdir))  # a folder of its own for the files it writes
    import matplotlib

    matplotlib.use("Agg")
    while True:
        try:
            case = conn.recv()
        except EOFError:
            return
        if case is None:
            return
        conn.send(run_case(case))


class Pool:
    """Child processes that run cases, each killed and replaced when it hangs or dies."""

    def __init__(self, n: int, workdir: str) -> None:
        self.ctx = multiprocessing.get_context("forkserver")
        self.ctx.set_forkserver_preload([__name__, "torch._dynamo"])
        self.workdir = workdir
        self.workers = [self._start() for _ in range(max(1, n))]

    def _start(self):
        parent, child = self.ctx.Pipe()
        proc = self.ctx.Process(target=_worker_main, args=(child, self.workdir), daemon=True)
        proc.start()
        child.close()
        return proc, parent

    def _replace(self, i: int) -> None:
        proc, conn = self.workers[i]
        if proc.is_alive():
            proc.kill()
        proc.join(5)
        conn.close()
        self.workers[i] = self._start()

    def run(self, cases: list[tuple]) -> list[dict]:
        results: list[dict | None] = [None] * len(cases)
        queue = list(range(len(cases)))[::-1]
        busy: dict[int, tuple[int, float]] = {}  # worker -> (case index, deadline)
        while queue or busy:
            for i in range(len(self.workers)):
                if i not in busy and queue:
                    k = queue.pop()
                    self.workers[i][1].send(cases[k])
                    busy[i] = (k, time.monotonic() + TIMEOUT_S)
            conns = {self.workers[i][1]: i for i in busy}
            timeout = max(0.0, min(d for _, d in busy.values()) - time.monotonic())
            ready = wait(list(conns), timeout=timeout)
            for conn in ready:
                i = conns[conn]
                k, _ = busy.pop(i)
                try:
                    results[k] = conn.recv()
                except (EOFError, OSError):
                    code = self.workers[i][0].exitcode
                    self.workers[i][0].join(5)
                    code = self.workers[i][0].exitcode
                    out = "memory" if code in (-9, 137) else "crash"
                    results[k] = {"outcome": out, "error": f"the child died (exit code {code})"}
                    self._replace(i)
            now = time.monotonic()
            for i, (k, deadline) in list(busy.items()):
                if now >= deadline:
                    results[k] = {"outcome": "hang", "error": f"no answer in {TIMEOUT_S:g} s"}
                    busy.pop(i)
                    self._replace(i)
        return results  # type: ignore[return-value]

    def close(self) -> None:
        for proc, conn in self.workers:
            try:
                conn.send(None)
            except OSError:
                pass
            proc.join(2)
            if proc.is_alive():
                proc.kill()
            conn.close()


# ---------------------------------------------------------------------------------- tests


def _module_targets() -> dict[str, list[Target]]:
    by_module = defaultdict(list)
    for target in discover():
        by_module[target.module.removeprefix("llmtheory.")].append(target)
    return dict(sorted(by_module.items()))


MODULE_TARGETS = _module_targets()


def cases_for(target: Target) -> list[tuple]:
    args = baseline(target)
    return [
        (target, None, "baseline", None),
        *systematic_cases(target, args),
        *hypothesis_cases(target, args, N_EXAMPLES),
    ]


@pytest.fixture(scope="module")
def pool():
    sys.path.insert(0, str(HERE))  # the children import this module by name
    with tempfile.TemporaryDirectory(prefix="llmtheory-fuzz-") as workdir:
        p = Pool(N_WORKERS, workdir)
        try:
            yield p
        finally:
            p.close()


_COUNTS: dict[str, Counter] = {}


def _allowed(key: str, name: str | None, outcome: str) -> str | None:
    for entry in ALLOWLIST["known_results"]:
        if entry["target"] == key and entry["outcome"] == outcome:
            if entry.get("parameter", "*") in ("*", name):
                return entry["reason"]
    return None


@pytest.mark.parametrize("module", list(MODULE_TARGETS))
def test_public_callables_refuse_bad_input_clearly(module, pool):
    """Every public callable of ``module`` under bad input: a clear error or a correct result."""
    cases = [case for target in MODULE_TARGETS[module] for case in cases_for(target)]
    t0 = time.monotonic()
    results = pool.run(cases)
    counts: Counter = Counter()
    failures = []
    for case, res in zip(cases, results, strict=True):
        target, name, label, how = case
        key = target.key.removeprefix("llmtheory.")
        outcome = res["outcome"]
        if outcome in FAILING and _allowed(key, name, outcome):
            outcome = "allowed"
        counts[outcome] += 1
        if outcome in FAILING:
            what = label if how is None else f"{label} {how!r}"[:120]
            failures.append(f"{outcome:14} {key}({name}={what}): {res.get('error', '')}")
    _COUNTS[module] = counts
    _write_report(module, counts, len(cases), time.monotonic() - t0)
    summary = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
    assert not failures, f"{module}: {summary}\n" + "\n".join(failures)


def _write_report(module: str, counts: Counter, n: int, seconds: float) -> None:
    path = os.environ.get("LLMTHEORY_FUZZ_REPORT")
    if not path:
        return
    report = json.loads(Path(path).read_text()) if Path(path).is_file() else {}
    report[module] = {"calls": n, "seconds": round(seconds, 1), **dict(counts)}
    Path(path).write_text(json.dumps(report, indent=1, sort_keys=True) + "\n")


def test_every_public_callable_is_fuzzed_or_skipped_with_a_reason():
    """Discovery finds the callables of every module, and each skip has a reason."""
    found = {t.key for targets in MODULE_TARGETS.values() for t in targets}
    assert "llmtheory.uat.random_feature_errors" in found
    assert "llmtheory.corpus.CharTokenizer.decode" in found
    for entry in ALLOWLIST["skip"] + ALLOWLIST["known_results"]:
        assert entry["reason"].strip(), entry
    stale = {k for k in BASELINES if f"llmtheory.{k}" not in found}
    assert not stale, f"baselines for callables that are not public or not found: {stale}"
    # a callable without an entry in BASELINES gets arguments from its signature
    args = derived(Target("llmtheory.emergence", "de_e2"))
    assert set(args) == {"R", "text_degrees", "log"} and args["log"] is False
    assert isinstance(
        derived(Target("llmtheory.corpus", "template_stories"))["rng"], np.random.Generator
    )


def _main() -> None:  # pragma: no cover - a debugging aid
    """``python tests/test_fuzz.py module.callable [param [label]]``: run the cases in-process."""
    key = sys.argv[1]
    mod, _, qual = key.partition(".")
    target = Target(f"llmtheory.{mod}", qual)
    for case in cases_for(target):
        if len(sys.argv) > 2 and case[1] != sys.argv[2]:
            continue
        if len(sys.argv) > 3 and case[2] != sys.argv[3]:
            continue
        print(case[1], case[2], case[3], "->", run_case(case))


if __name__ == "__main__":  # pragma: no cover
    _main()
