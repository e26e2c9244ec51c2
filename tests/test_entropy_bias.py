import numpy as np
import pytest

from llmtheory.entropy_bias import (
    entropy,
    plugin_bias_first_order,
    plugin_bias_second_order,
    plugin_entropy,
    plugin_entropy_mean,
    simulate_plugin_bias,
    zipf_distribution,
)


def test_entropy_of_uniform_is_log_v():
    assert entropy(np.full(8, 1 / 8)) == pytest.approx(np.log(8))


def test_plugin_entropy_matches_definition_and_ignores_zeros():
    counts = np.array([[3, 1, 0], [2, 2, 0]])
    expected = [-(0.75 * np.log(0.75) + 0.25 * np.log(0.25)), np.log(2)]
    np.testing.assert_allclose(plugin_entropy(counts), expected)


def test_zipf_is_normalised_and_decreasing():
    p = zipf_distribution(10, 1.2)
    assert p.sum() == pytest.approx(1.0)
    assert np.all(np.diff(p) < 0)


def test_simulated_bias_agrees_with_second_order_theory():
    p = zipf_distribution(10)
    mean, se = simulate_plugin_bias(p, 2000, 4000, np.random.default_rng(0))
    assert abs(mean - plugin_bias_second_order(p, 2000)) < 4 * se


def test_exact_mean_of_two_tokens_by_enumeration():
    # n = 2 draws from (0.3, 0.7): two different tokens (probability 0.42) give ln 2, else 0
    assert plugin_entropy_mean(np.array([0.3, 0.7]), 2) == pytest.approx(0.42 * np.log(2))
    # n = 1: one token, whatever it is, has frequency one
    assert plugin_entropy_mean(np.array([0.2, 0.3, 0.5]), 1) == pytest.approx(0.0, abs=1e-15)


def test_exact_mean_agrees_with_simulation_and_third_order_expansion():
    p = np.array([0.1, 0.2, 0.3, 0.4])  # asymmetric, so p and 1 - p cannot be confused
    mean, se = simulate_plugin_bias(p, 30, 40_000, np.random.default_rng(1))
    assert abs(plugin_entropy_mean(p, 30) - entropy(p) - mean) < 4 * se
    n = 2000
    s1, s2 = (1 / p).sum(), (1 / p**2).sum()
    third = plugin_bias_second_order(p, n) + (s1 - s2) / (12 * n**3)
    assert plugin_entropy_mean(p, n) - entropy(p) == pytest.approx(third, abs=1e-9)


def test_zipf_ranks_start_at_one():
    p = zipf_distribution(6, 2.0)
    np.testing.assert_allclose(p[0] / p, np.arange(1, 7) ** 2.0, rtol=1e-12)


def test_second_order_term_uses_inverse_probabilities():
    p = np.array([0.1, 0.9])
    expected = -1 / (2 * 10) + (1 - (10 + 1 / 0.9)) / (12 * 100)
    assert plugin_bias_second_order(p, 10) == pytest.approx(expected)


def test_first_order_bias_is_wrong_by_the_natural_log_base_two():
    # A wrong implementation in bits would be off by a factor ln 2: the check must see it.
    assert plugin_bias_first_order(11, 100) == pytest.approx(-0.05)


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda: entropy(np.array([0.5, 0.6])), ValueError),
        (lambda: entropy(np.array([1.0])), ValueError),
        (lambda: zipf_distribution(1), ValueError),
        (lambda: zipf_distribution(2.5), TypeError),
        (lambda: zipf_distribution(5, -1.0), ValueError),
        (lambda: plugin_entropy(np.array([0.5, 0.5])), TypeError),
        (lambda: plugin_entropy(np.array([-1, 2])), ValueError),
        (lambda: plugin_entropy(np.array([0, 0])), ValueError),
        (lambda: plugin_bias_first_order(0, 10), ValueError),
        (lambda: plugin_bias_first_order(5, 0), ValueError),
        (
            lambda: simulate_plugin_bias(np.full(4, 0.25), 10, 1, np.random.default_rng()),
            ValueError,
        ),
        (lambda: simulate_plugin_bias(np.full(4, 0.25), 10, 10, 0), TypeError),
    ],
)
def test_bad_arguments_raise(call, error):
    with pytest.raises(error):
        call()
