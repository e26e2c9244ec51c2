import numpy as np
import pytest

from llmtheory.entropy_bias import (
    entropy,
    plugin_bias_first_order,
    plugin_bias_second_order,
    plugin_entropy,
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
