"""Tests for the parity-halfspace and Kneser-Ney functions of llmtheory.next_token."""

import itertools
import math
from collections import Counter

import numpy as np
import pytest

from llmtheory.next_token import (
    best_halfspace_agreement,
    kneser_ney_perplexity,
    kneser_ney_probs,
    ngram_perplexity,
    threshold_parity_agreement,
)


def _bits(m):
    return (np.arange(2**m)[:, None] >> np.arange(m)) & 1


@pytest.mark.parametrize("m", [1, 2, 3, 6, 9])
def test_threshold_agreement_matches_enumeration_of_inputs(m):
    s = _bits(m).sum(1)
    direct = [np.mean((s >= th) == s % 2) for th in range(m + 2)]
    np.testing.assert_allclose(threshold_parity_agreement(m), direct, atol=1e-12)


def test_known_best_agreements():
    assert best_halfspace_agreement(1) == 1.0  # one bit is its own threshold
    assert best_halfspace_agreement(2) == 0.75  # OR against XOR
    assert best_halfspace_agreement(11) == 1276 / 2048  # 1[s <= 5]
    assert threshold_parity_agreement(11)[5] == 1234 / 2048  # 1[s >= 5]


@pytest.mark.parametrize("m", [2, 3, 4])
def test_no_halfspace_beats_the_best_symmetric_threshold(m):
    x = _bits(m)
    parity = x.sum(1) % 2
    best = 0.0
    for w in itertools.product(range(-3, 4), repeat=m):
        sums = x @ np.array(w)
        for th in np.unique(sums):
            agree = np.mean((sums >= th) == parity)
            best = max(best, agree, 1 - agree)
    assert best == pytest.approx(best_halfspace_agreement(m), abs=1e-12)


@pytest.mark.parametrize("bad", [0, -1, 1.5, "3"])
def test_halfspace_validation_names_the_parameter(bad):
    with pytest.raises((ValueError, TypeError), match="n_bits"):
        threshold_parity_agreement(bad)
    with pytest.raises((ValueError, TypeError), match="n_bits"):
        best_halfspace_agreement(bad)


def _reference_kn(train, context, word, v, order):
    """Interpolated Kneser-Ney by dictionaries and recursion (eq-nt-kn)."""
    train = [int(t) for t in train]
    grams = {
        j: Counter(tuple(train[i : i + j]) for i in range(len(train) - j + 1))
        for j in range(1, order + 2)
    }

    def continuation(j):
        left = Counter()
        for g in grams[j + 1]:
            left[g[1:]] += 1
        return left

    def discount(j):
        n1 = sum(1 for c in grams[j].values() if c == 1)
        n2 = sum(1 for c in grams[j].values() if c == 2)
        return n1 / (n1 + 2 * n2) if n1 > 0 else 0.75

    def prob(h, top):
        if h is None:
            return 1.0 / v
        j = len(h) + 1
        table = grams[j] if top else continuation(j)
        follow = {g: c for g, c in table.items() if g[:-1] == h}
        lower = prob(h[1:] if h else None, False)
        total = sum(follow.values())
        if total == 0:
            return lower
        d = discount(j)
        return (max(follow.get((*h, word), 0) - d, 0) + d * len(follow) * lower) / total

    return prob(tuple(int(c) for c in context if c >= 0), True)


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_kneser_ney_matches_reference_and_sums_to_one(order):
    rng = np.random.default_rng(order)
    v = 5
    train = rng.integers(0, v, 60)
    contexts = rng.integers(0, v, (6, order - 1))
    if order > 2:
        contexts[0, 0] = -1  # a short context at the start of a row
    contexts[1] = train[10 : 10 + order - 1]  # a context seen in training
    probs = kneser_ney_probs(train, contexts, v, order)
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-12)
    ref = [[_reference_kn(train, c, w, v, order) for w in range(v)] for c in contexts]
    np.testing.assert_allclose(probs, ref, rtol=1e-12)


def test_kneser_ney_probs_in_chunks_equals_at_once(monkeypatch):
    import llmtheory.next_token as nt

    rng = np.random.default_rng(7)
    v, order = 5, 3
    train = rng.integers(0, v, 80)
    contexts = rng.integers(0, v, (23, order - 1))
    at_once = kneser_ney_probs(train, contexts, v, order)
    monkeypatch.setattr(nt, "_KN_CHUNK_ENTRIES", 2 * v)  # 2 contexts per chunk, the last alone
    np.testing.assert_array_equal(kneser_ney_probs(train, contexts, v, order), at_once)


def test_kneser_ney_by_hand_with_a_fixed_discount():
    # bigrams of 0 1 0 1 0 1 2: after 0 only 1 (3 times); distinct left neighbours: one each
    # for 0, 1 and 2, so the continuation unigram is (1 - D + D * 3 / 4) / 3 for them
    train, d, v = np.array([0, 1, 0, 1, 0, 1, 2]), 0.5, 4
    p = kneser_ney_probs(train, np.array([[0]]), v, 2, discount=d)[0]
    low = np.array([1 - d + d * 3 / v] * 3 + [d * 3 / v]) / 3
    expected = d * 1 / 3 * low
    expected[1] += (3 - d) / 3
    np.testing.assert_allclose(p, expected, rtol=1e-12)
    assert p[3] > 0  # a token never seen keeps the uniform floor


def test_kneser_ney_perplexity_matches_its_distributions_and_ignores_pads():
    rng = np.random.default_rng(3)
    v, order = 6, 3
    train = rng.integers(0, v, 200)
    rows = rng.integers(1, v, (4, 7))
    rows[:, 5:] = 0  # right padding
    padded = np.concatenate([np.full((4, order - 1), -1), rows], 1)
    ctx = np.lib.stride_tricks.sliding_window_view(padded, order - 1, axis=1)[:, 1:7]
    probs = kneser_ney_probs(train, ctx.reshape(-1, order - 1), v, order).reshape(4, 6, v)
    logp = np.log(np.take_along_axis(probs, rows[:, 1:, None], -1)[..., 0])
    keep = rows[:, 1:] != 0
    got = kneser_ney_perplexity(train, rows, v, order, ignore_id=0)
    assert got == pytest.approx(math.exp(-logp[keep].mean()), rel=1e-12)
    assert kneser_ney_perplexity(train, rows, v, order) == pytest.approx(
        math.exp(-logp.mean()), rel=1e-12
    )


def test_order_one_kneser_ney_is_a_smoothed_unigram():
    rng = np.random.default_rng(0)
    train = rng.integers(0, 4, 5000)
    rows = rng.integers(0, 4, (50, 5))
    kn = kneser_ney_perplexity(train, rows, 4, 1)
    assert kn == pytest.approx(ngram_perplexity(train, rows, 4, 1), rel=1e-2)


def test_kneser_ney_validation_names_parameters():
    train, rows = np.array([0, 1, 2, 1, 0]), np.array([[0, 1, 2]])
    with pytest.raises(ValueError, match="contexts"):
        kneser_ney_probs(train, np.array([[0, -1]]), 3, 3)  # -1 after an id
    with pytest.raises(ValueError, match="contexts"):
        kneser_ney_probs(train, np.array([[0]]), 3, 3)  # wrong width
    with pytest.raises(ValueError, match="discount"):
        kneser_ney_probs(train, np.array([[0, 1]]), 3, 3, discount=1.0)
    with pytest.raises(ValueError, match="order"):
        kneser_ney_perplexity(train, rows, 3, 0)
    with pytest.raises(ValueError, match="train_ids"):
        kneser_ney_perplexity(np.array([0, 5]), rows, 3, 2)
    with pytest.raises(ValueError, match="ignore_id"):
        kneser_ney_perplexity(train, np.array([[0, 0]]), 3, 2, ignore_id=0)
    with pytest.raises(ValueError, match="vocab_size"):
        kneser_ney_perplexity(train, rows, 10**6, 4)
