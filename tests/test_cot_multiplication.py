"""Tests for the matched-size multiplication comparison in llmtheory.chain_of_thought."""

import math

import numpy as np
import pytest

from llmtheory.chain_of_thought import (
    MULT_FORMATS,
    MULT_VOCAB,
    decode_digits,
    format_widths,
    matched_width,
    multiplication_dataset,
    multiplication_length,
    seed_mean_se,
    train_multiplication,
)
from llmtheory.next_token import MaskedLinearLM, effective_parameters


@pytest.mark.parametrize("k", [1, 2, 3])
@pytest.mark.parametrize("fmt", MULT_FORMATS)
def test_length_matches_the_rows(fmt, k):
    rng = np.random.default_rng(0)
    tokens, _, _ = multiplication_dataset(fmt, k, n_samples=3, rng=rng)
    assert tokens.shape[1] == multiplication_length(fmt, k)


def test_length_hand_values():
    assert [multiplication_length(f, 2) for f in MULT_FORMATS] == [10, 30, 38]
    assert [multiplication_length(f, 4) for f in MULT_FORMATS] == [18, 162, 274]


def test_matched_width_is_the_nearest_integer():
    for t, target in [(9, 180_000), (29, 180_000), (37, 180_000), (5, 1_000), (306, 7_000_000)]:
        d = matched_width(t, target)
        counts = [effective_parameters(t, e, len(MULT_VOCAB), mlp=True) for e in range(1, 300)]
        best = 1 + int(np.argmin(np.abs(np.array(counts) - target)))
        assert d == best


def test_matched_width_small_target_gives_one():
    assert matched_width(9, 10) == 1


def test_format_widths_match_the_model_itself():
    target = 180_000
    for fmt, d in format_widths(target).items():
        model = MaskedLinearLM(len(MULT_VOCAB), multiplication_length(fmt) - 1, d, mlp=True)
        free = int(model.mask.sum()) + sum(
            p.numel() for n, p in model.named_parameters() if n != "linear.weight"
        )
        assert abs(free / target - 1) < 0.05


def test_format_widths_rejects_a_string():
    with pytest.raises(TypeError, match="formats"):
        format_widths(1000, formats="none")
    with pytest.raises(ValueError, match="formats"):
        format_widths(1000, formats=("none", "short"))


def test_seed_mean_se_hand_value():
    mean, se = seed_mean_se(np.array([0.0, 1.0, 2.0]))
    assert mean == 1.0
    assert math.isclose(se, 1 / math.sqrt(3))
    with pytest.raises(ValueError, match="values"):
        seed_mean_se(np.array([0.5]))


def test_train_multiplication_split_and_keys():
    r = train_multiplication(
        "longer", d=4, steps=3, batch_size=8, lr=0.01, seed=1, n_digits=1, grad_clip=1.0
    )
    train, test, p = r["train"].numpy(), r["test"].numpy(), r["p"]
    assert p == 4 and r["T"] == r["row_length"] - p == 2 + 3
    pairs = {tuple(x) for x in train[:, [0, 2]]}
    assert not pairs & {tuple(x) for x in test[:, [0, 2]]}
    assert r["n_train"] + r["n_test"] == 81
    np.testing.assert_array_equal(decode_digits(test[:, -2:]), test[:, 0] * test[:, 2])
    assert r["passes"] == pytest.approx(3 * 8 / r["n_train"])
    assert 0.0 <= r["exact"] <= 1.0 and 0.0 <= r["train_exact"] <= 1.0
    assert r["exact"] >= r["all_steps"] - 1e-9  # eq-nt-compound
    assert r["params"] == effective_parameters(r["row_length"] - 1, 4, len(MULT_VOCAB), mlp=True)


def test_train_multiplication_is_deterministic():
    kw = dict(d=3, steps=2, batch_size=4, lr=0.01, seed=5, n_digits=1)
    a, b = train_multiplication("none", **kw), train_multiplication("none", **kw)
    np.testing.assert_array_equal(a["per_token"], b["per_token"])
    assert a["exact"] == b["exact"]
