"""Multiplication with chain of thought at a larger scale than chapter 7 can afford.

Chapter 7 trains the masked MLP of Malach (2024) on 2-digit multiplication for 400 steps
per training seed on one CPU core. This script runs the same experiment with more digits,
wider models and many more steps, streaming fresh training pairs (never a held-out pair)
every step; the paper used 4-digit operands, d = 128 and 100M examples. It uses a GPU when
one is present (``llmtheory.device.get_device``).

    python scripts/run_next_token_full_scale.py --digits 2 3 --d 64 --steps 20000

Options: ``--match-params P`` gives every format the width whose effective parameter count
(eq-nt-params) is closest to ``P`` (``llmtheory.chain_of_thought.format_widths``) instead
of one ``--d`` for all; ``--seeds`` trains one model per seed; ``--grad-clip`` and
``--schedule`` set the optimiser as in the paper's code (clipping at 1.0, decaying rate).
The paper's 4x4 setting is, at full size (about 100M examples; hours on one GPU):

    python scripts/run_next_token_full_scale.py --digits 4 --d 128 --batch 2048 \
        --steps 48828 --grad-clip 1.0 --schedule cosine --seeds 0

For every (digits, format, seed) it prints the held-out per-token teacher-forced accuracy of
the answer digits and the greedy-rollout exact match; with ``--out`` it also writes them to a
JSON file (rewritten after every run) with their provenance: device, torch version, date,
configuration, git commit and the command line. Chapter 7 plots the file shipped in
``book/part4_next_token/results/``, made (one seed, d = 64, before the options above
existed) with

    python scripts/run_next_token_full_scale.py --digits 2 3 4 --steps 4000 \
        --out book/part4_next_token/results/multiplication_full_scale.json

In that file ``T`` is the length of a whole row (prompt and chain); newer files write it as
``row_length`` and the chain's length as ``T``. Writing the shipped file also records its
SHA-256 and size in ``lib/llmtheory/data/shipped.json`` (``llmtheory.resources.record_shipped``),
against which the chapter's ``llmtheory.resources.shipped_path`` verifies it.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

# 4-digit operands need a masked weight of about 3.7 GiB, above the library's default guard of
# 2 GiB (llmtheory.validation.check_memory); this script is meant for a machine that has it.
os.environ.setdefault("LLMTHEORY_MEMORY_LIMIT_GB", "8")

import numpy as np  # noqa: E402
import torch

from llmtheory.chain_of_thought import (
    MULT_FORMATS,
    MULT_VOCAB,
    format_widths,
    multiplication_cot,
    operand_split,
)
from llmtheory.device import get_device
from llmtheory.next_token import (
    MaskedLinearLM,
    effective_parameters,
    exact_match,
    greedy_rollout,
    teacher_forced_accuracy,
    token_loss,
)
from llmtheory.resources import record_shipped
from llmtheory.seeding import seed_everything
from llmtheory.training import train

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = "book/part4_next_token/results/multiplication_full_scale.json"


def pairs(
    rng: np.random.Generator, k: int, m: int, held_out: bool
) -> tuple[np.ndarray, np.ndarray]:
    """``m`` random operand pairs with ``k`` digits from the training or held-out side."""
    out_a, out_b, have = [], [], 0
    while have < m:
        a = rng.integers(10 ** (k - 1), 10**k, size=2 * m)
        b = rng.integers(10 ** (k - 1), 10**k, size=2 * m)
        keep = operand_split(a, b) == held_out
        out_a.append(a[keep])
        out_b.append(b[keep])
        have += int(keep.sum())
    return np.concatenate(out_a)[:m], np.concatenate(out_b)[:m]


def run(
    k: int, fmt: str, d: int, seed: int, args: argparse.Namespace, device: torch.device
) -> dict[str, float]:
    """Train one model (width ``d``, one seed) on fresh training pairs; score held-out ones."""
    rng = seed_everything(seed)
    p = 2 * k + 2
    test = torch.tensor(
        multiplication_cot(*pairs(rng, k, args.n_test, True), fmt, k), device=device
    )
    row_length = test.shape[1]
    model = MaskedLinearLM(len(MULT_VOCAB), row_length - 1, d, mlp=True).to(device)

    def batch(_: int) -> torch.Tensor:
        rows = multiplication_cot(*pairs(rng, k, args.batch, False), fmt, k)
        return torch.tensor(rows, device=device)

    t0 = time.time()
    train(
        model,
        batch,
        lambda m, b: token_loss(m, b, p),
        steps=args.steps,
        lr=args.lr,
        optimizer="adamw",
        weight_decay=0.1,
        schedule=args.schedule,
        grad_clip=args.grad_clip,
        desc=f"{k} digits, {fmt}, d={d}, seed {seed}",
    )
    per_token, all_steps = teacher_forced_accuracy(model, test, p)
    roll = greedy_rollout(model, test[:, :p], row_length - p)
    em = float(exact_match(roll[:, -2 * k :], test[:, -2 * k :]))
    return {
        "row_length": row_length,
        "T": row_length - p,
        "d": d,
        "seed": seed,
        "params": effective_parameters(row_length - 1, d, len(MULT_VOCAB), mlp=True),
        "answer_token_acc": float(per_token[-2 * k :].mean()),
        "per_token": [round(float(x), 6) for x in per_token],
        "all_steps": float(all_steps),
        "exact": em,
        "se": math.sqrt(em * (1 - em) / args.n_test),
        "examples": args.steps * args.batch,
        "seconds": time.time() - t0,
    }


def git_commit() -> str:
    """The checkout's commit (with ``+dirty`` when files differ from it), or ``unknown``."""
    try:
        head = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        return "unknown"
    return (head or "unknown") + ("+dirty" if dirty else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--digits", type=int, nargs="+", default=[2, 3])
    parser.add_argument("--formats", nargs="+", default=list(MULT_FORMATS), choices=MULT_FORMATS)
    parser.add_argument("--d", type=int, default=64, help="width of every format")
    parser.add_argument(
        "--match-params",
        type=int,
        help="instead of --d: per format the width closest to this many effective parameters",
    )
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--grad-clip", type=float, default=None)
    parser.add_argument("--schedule", default="cosine", choices=("constant", "cosine", "onecycle"))
    parser.add_argument("--n-test", type=int, default=2000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--out", type=Path, help="write the results to this JSON file")
    args = parser.parse_args()
    device = get_device()
    print(f"device {device}; d={args.d}, match={args.match_params}, steps={args.steps}")
    report = {
        "script": "scripts/run_next_token_full_scale.py",
        "command": " ".join(["python", "scripts/run_next_token_full_scale.py", *sys.argv[1:]]),
        "git_commit": git_commit(),
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "device": torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu",
        "torch": torch.__version__,
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "rows": [],
    }
    for k in args.digits:
        if args.match_params is None:
            widths = dict.fromkeys(args.formats, args.d)
        else:
            widths = format_widths(args.match_params, k, tuple(args.formats))
        for fmt in args.formats:
            for seed in args.seeds:
                r = run(k, fmt, widths[fmt], seed, args, device)
                report["rows"].append({"digits": k, "format": fmt, **r})
                if args.out is not None:
                    args.out.parent.mkdir(parents=True, exist_ok=True)
                    args.out.write_text(json.dumps(report, indent=1) + "\n")
                    if args.out.resolve() == (ROOT / SHIPPED).resolve():
                        record_shipped(args.out, root=ROOT)
                print(
                    f"{k} digits, {fmt:>7}, seed {seed}: T={r['T']:4d}, d={r['d']}, effective "
                    f"params {r['params']:,}, answer-token acc {r['answer_token_acc']:.3f}, "
                    f"exact match {r['exact']:.3f} ± {r['se']:.3f} ({r['seconds']:.0f} s)",
                    flush=True,
                )


if __name__ == "__main__":
    main()
