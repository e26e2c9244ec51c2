"""Tests for llmtheory.chain_of_thought."""

import numpy as np
import pytest

from llmtheory.chain_of_thought import (
    MULT_FORMATS,
    MULT_VOCAB,
    PARITY_FORMATS,
    decode_digits,
    multiplication_cot,
    multiplication_dataset,
    operand_split,
    parity_cot,
    parity_cot_length,
    parity_dataset,
)


@pytest.mark.parametrize("fmt", PARITY_FORMATS)
def test_parity_cot_answer_and_length(fmt):
    rng = np.random.default_rng(0)
    support = np.array([0, 2, 3, 5, 6, 9, 10, 11, 12, 13, 15])
    tokens, n = parity_dataset(500, 16, support, fmt, rng)
    assert n == 16
    assert tokens.shape[1] - n == parity_cot_length(support.size, fmt)
    np.testing.assert_array_equal(tokens[:, -1], tokens[:, support].sum(1) % 2)


def test_parity_binary_count_is_the_sum():
    x = np.array([[1, 1, 1, 0, 1], [0, 0, 0, 0, 0]])
    z = parity_cot(x, np.arange(5), "binary")
    np.testing.assert_array_equal(z, [[1, 0, 0], [0, 0, 0]])
    assert parity_cot_length(11, "binary") == 4
    assert parity_cot_length(11, "unary") == 12


def test_parity_prefix_xor():
    x = np.array([[1, 0, 1, 1]])
    np.testing.assert_array_equal(parity_cot(x, np.arange(4), "prefix_xor"), [[1, 1, 0, 1]])


@pytest.mark.parametrize("fmt", MULT_FORMATS)
def test_multiplication_answer(fmt):
    a, b = np.array([47, 10, 99]), np.array([86, 99, 99])
    rows = multiplication_cot(a, b, fmt)
    np.testing.assert_array_equal(decode_digits(rows[:, -4:]), a * b)
    np.testing.assert_array_equal(decode_digits(rows[:, :2]), a)
    assert rows.max() < len(MULT_VOCAB)


def test_multiplication_cot_contents():
    rows = multiplication_cot(np.array([47]), np.array([86]), "longer")
    products = [decode_digits(rows[:, 7 + 5 * k : 11 + 5 * k])[0] for k in range(4)]
    assert products == [3200, 240, 560, 42]
    assert MULT_VOCAB[rows[0, 6]] == "4x8"
    np.testing.assert_array_equal(decode_digits(rows[:, 26:30]), [3440])
    assert rows.shape[1] == 38
    assert multiplication_cot(np.array([47]), np.array([86]), "compact").shape[1] == 30


def test_split_is_by_pair_and_about_a_quarter():
    tokens, held, p = multiplication_dataset("none")
    assert p == 6 and tokens.shape == (8100, 10)
    assert 0.2 < held.mean() < 0.3
    a, b = np.divmod(np.arange(8100), 90)
    np.testing.assert_array_equal(held, operand_split(a + 10, b + 10))
    np.testing.assert_array_equal(decode_digits(tokens[held][:, :2]), a[held] + 10)


def test_bad_arguments():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="fmt"):
        parity_cot_length(3, "ternary")
    with pytest.raises(TypeError, match="support_size"):
        parity_cot_length(2.5, "binary")
    with pytest.raises(ValueError, match="x must"):
        parity_cot(np.array([[2, 0]]), np.array([0]), "none")
    with pytest.raises(ValueError, match="support"):
        parity_cot(np.array([[1, 0]]), np.array([5]), "none")
    with pytest.raises(TypeError, match="rng"):
        parity_dataset(3, 4, np.array([0]), "none", 0)
    with pytest.raises(ValueError, match="n_samples"):
        parity_dataset(0, 4, np.array([0]), "none", rng)
    with pytest.raises(ValueError, match="2-digit"):
        multiplication_cot(np.array([5]), np.array([12]), "none")
    with pytest.raises(ValueError, match="same length"):
        multiplication_cot(np.array([15, 16]), np.array([12]), "none")
    with pytest.raises(ValueError, match="held_out_fraction"):
        operand_split(np.array([1]), np.array([1]), 1.5)
    with pytest.raises(ValueError, match="digits"):
        decode_digits(np.array([1, 2]))


@pytest.mark.parametrize("fmt", MULT_FORMATS)
def test_more_digits(fmt):
    tokens, held, p = multiplication_dataset(fmt, 3, 50, np.random.default_rng(0))
    assert p == 8 and held.shape == (50,)
    a, b = decode_digits(tokens[:, :3]), decode_digits(tokens[:, 4:7])
    np.testing.assert_array_equal(decode_digits(tokens[:, -6:]), a * b)
    expected = {"none": 14, "compact": 14 + 9 * 7, "longer": 14 + 9 * 7 + 7 * 6}[fmt]
    assert tokens.shape[1] == expected
    with pytest.raises(TypeError, match="rng"):
        multiplication_dataset(fmt, 3, 5)


# --------------------------------------------------- reliability review (bad input)


def test_reliability_5_products_beyond_int64_are_refused():
    """10-digit operands encoded a wrong product; 20+ digit columns overflowed."""
    with pytest.raises(ValueError, match="n_digits must be at most 9"):
        multiplication_cot(np.array([10**9]), np.array([10**9]), "none", n_digits=10)
    a = np.array([987654321])
    rows = multiplication_cot(a, a, "none", n_digits=9)
    assert decode_digits(rows[:, -18:])[0] == 987654321**2
    with pytest.raises(ValueError, match="digits must have at most 18 columns"):
        decode_digits(np.ones((1, 20), dtype=int))


def test_reliability_6_a_repeated_support_index_is_refused():
    """A repeated column counted twice and gave the wrong parity."""
    x = np.random.default_rng(0).integers(0, 2, (4, 5))
    with pytest.raises(ValueError, match="support must not repeat"):
        parity_cot(x, np.array([1, 1, 3]), "none")


def test_parity_unary_count():
    x = np.array([[1, 1, 0, 1], [0, 0, 0, 0]])
    np.testing.assert_array_equal(
        parity_cot(x, np.arange(4), "unary"), [[1, 1, 1, 0, 1], [0, 0, 0, 0, 0]]
    )
