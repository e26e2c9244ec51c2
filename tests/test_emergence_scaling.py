"""Tests for the scaling-law functions of llmtheory.emergence (Zipf skills, size-biased tests)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import zeta
from scipy.stats import binom, poisson

from llmtheory import emergence as em

X3 = np.array([0.0, 0.0, 0.0, 1.0])
MIX = np.array([0.0, 0.1, 0.0, 0.9])
IRSA = np.zeros(9)
IRSA[[2, 3, 8]] = [0.5, 0.28, 0.22]


def unlearned_mass(n: int, gamma: float, m: int, poissonised: bool, terms: int = 10**6) -> float:
    """sum_i f_i P(count_i < m), summed directly over the first ``terms`` skills; beyond them
    n f_i < 1e-3 and the skills are unlearned up to n f_i, which the Hurwitz tail corrects."""
    beta = 1.0 + gamma
    f = np.arange(1, terms + 1, dtype=float) ** -beta / zeta(beta)
    below = poisson.cdf(m - 1, n * f) if poissonised else binom.cdf(m - 1, n, f)
    tail = zeta(beta, terms + 1) / zeta(beta)
    tail_sq = zeta(2 * beta, terms + 1) / zeta(beta) ** 2
    return float(f @ below + tail - (n * tail_sq if m == 1 else 0.0))


# ---------------------------------------------------------------------------- the Zipf law
@pytest.mark.parametrize("gamma", [0.5, 1.5])
@pytest.mark.parametrize("m", [1, 2, 3])
def test_law_is_the_poissonised_sum(gamma, m):
    # the sum over skills differs from the integral behind the law by less than any power of n
    n = 2000
    assert em.zipf_law(n, gamma, m) == pytest.approx(unlearned_mass(n, gamma, m, True), rel=1e-6)


@pytest.mark.parametrize("gamma", [0.5, 1.5])
def test_fixed_number_of_texts_has_a_one_over_n_correction(gamma):
    n = 500
    exact = unlearned_mass(n, gamma, 1, False)
    correction = gamma * (1 + 2 * gamma) / (2 * (1 + gamma) ** 2 * n)
    # the next term is O(n^-2): 1e-5 here
    assert exact / em.zipf_law(n, gamma) == pytest.approx(1 - correction, abs=1e-5)


def test_law_exponent_and_constant():
    n = np.array([1e3, 1e5])
    law = em.zipf_law(n, 1.0)
    assert np.log(law[1] / law[0]) / np.log(100) == pytest.approx(-0.5, rel=1e-12)
    # C = Gamma(3/2) / (gamma zeta(2)^(1/2)) for gamma = 1, m = 1
    assert law[0] * np.sqrt(1e3) == pytest.approx(np.sqrt(np.pi) / 2 / np.sqrt(np.pi**2 / 6))


@pytest.mark.parametrize("gamma, m", [(0.5, 1), (1.5, 1), (1.0, 2)])
def test_simulated_curve_matches_the_exact_mean(gamma, m):
    rng = np.random.default_rng(3)
    n = np.array([30, 300])
    runs = np.array([em.zipf_learning_curve(n, gamma, rng, min_count=m) for _ in range(400)])
    exact = np.array([unlearned_mass(int(k), gamma, m, False) for k in n])
    se = runs.std(axis=0, ddof=1) / np.sqrt(runs.shape[0])
    assert np.all(np.abs(runs.mean(axis=0) - exact) <= 4 * se)


def test_curve_is_a_nested_decreasing_mass():
    rng = np.random.default_rng(4)
    n = np.array([1, 10, 100, 1000])
    curve = em.zipf_learning_curve(n, 0.8, rng)
    assert np.all(np.diff(curve) <= 0) and np.all((curve >= 0) & (curve <= 1))
    # after one text exactly the skill of that text is learned: 1 - f_i for some i
    i = (zeta(1.8) * (1 - curve[0])) ** (-1 / 1.8)
    assert i == pytest.approx(round(i), abs=1e-6)


def test_curve_is_reproducible_and_needs_more_texts_for_more_appearances():
    a = em.zipf_learning_curve([100, 1000], 1.0, np.random.default_rng(5))
    b = em.zipf_learning_curve([100, 1000], 1.0, np.random.default_rng(5))
    c = em.zipf_learning_curve([100, 1000], 1.0, np.random.default_rng(5), min_count=2)
    np.testing.assert_array_equal(a, b)
    assert np.all(c >= a)  # the same stream: a skill seen twice has been seen once


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(n_texts=[0, 10], gamma=1.0), "n_texts"),
        (dict(n_texts=[10], gamma=0.1), "gamma"),
        (dict(n_texts=[10], gamma=1.0, min_count=0), "min_count"),
    ],
)
def test_curve_rejects_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        em.zipf_learning_curve(rng=np.random.default_rng(0), **kwargs)


def test_law_rejects_bad_arguments():
    with pytest.raises(ValueError, match="n_texts"):
        em.zipf_law(-1.0, 1.0)
    with pytest.raises(ValueError, match="gamma"):
        em.zipf_law(10.0, 0.0)
    with pytest.raises(TypeError, match="rng"):
        em.zipf_learning_curve([10], 1.0, 0)


# ------------------------------------------------------------------- size-biased test skills
def test_size_bias_is_invisible_for_regular_degrees():
    u = np.array([0.0, 1e-6, 0.3, 1.0])
    np.testing.assert_allclose(em.size_biased_unlearned(u, X3), u, rtol=1e-12, atol=0)


@pytest.mark.parametrize("dist", [MIX, IRSA])
def test_size_bias_is_p_lambda_p(dist):
    p = np.array([1e-5, 0.2, 0.7, 0.99])
    u = em.pgf(dist, p)
    np.testing.assert_allclose(em.size_biased_unlearned(u, dist), p * em.edge_pgf(dist, p))


def test_size_bias_matches_degree_weighted_peeling():
    # the fraction of edges whose skill is unlearned, on a graph, against DE
    rng = np.random.default_rng(6)
    graph = em.sample_e1(50_000, 0.9, IRSA, rng)
    learned = em.peel(graph).learned
    simulated = np.mean(~learned[graph.skill])
    predicted = em.size_biased_unlearned(em.de_e1(0.9, IRSA), IRSA)
    assert simulated == pytest.approx(float(predicted), abs=0.02)


def test_size_bias_rejects_u_outside_the_range():
    with pytest.raises(ValueError, match="u must lie"):
        em.size_biased_unlearned(1.5, X3)
    with pytest.raises(ValueError, match="u must lie"):
        em.size_biased_unlearned(0.1, np.array([0.2, 0.0, 0.8]))
    with pytest.raises(ValueError, match="skill_degrees"):
        em.size_biased_unlearned(0.1, np.array([0.5, 0.6]))


# ------------------------------------------------------------- the success function near 0
@pytest.mark.parametrize("K", [1, 2, 3])
def test_success_probability_is_the_poisson_cdf_and_flat_at_zero_for_k_above_one(K):
    rho = np.array([0.0, 1e-3, 0.3, 2.0])
    np.testing.assert_allclose(
        em.success_probability(rho, K=K, phi=0.9), 0.9 * poisson.cdf(K - 1, rho), rtol=1e-12
    )
    # 1 - P_suc(ρ) = ρ^K / K! (1 + O(ρ)): the all-learned state is stable for K >= 2 (eq-em-stab)
    miss = 1 - em.success_probability(1e-4, K=K)
    assert miss == pytest.approx(1e-4**K / np.prod(np.arange(1, K + 1)), rel=2e-4)
