"""Tests of the 2-core, finite-size and EXIT functions of llmtheory.emergence (chapter 5)."""

from __future__ import annotations

import numpy as np
import pytest

from llmtheory import emergence as em

X3 = np.array([0.0, 0.0, 0.0, 1.0])


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def _core_by_hand(edges: np.ndarray, n: int) -> np.ndarray:
    """One vertex of degree one at a time, in index order (a slow reference)."""
    alive = np.ones(len(edges), dtype=bool)
    while True:
        deg = np.bincount(edges[alive].ravel(), minlength=n)
        leaves = np.flatnonzero(deg == 1)
        if leaves.size == 0:
            return alive
        v = leaves[0]
        alive[np.flatnonzero(alive & (edges == v).any(axis=1))] = False


def _birth_by_hand(edges: np.ndarray, n: int, min_size: int = 1) -> int:
    for m in range(1, len(edges) + 1):
        if _core_by_hand(edges[:m], n).sum() >= min_size:
            return m
    return len(edges) + 1


# ------------------------------------------------------------------------------- sampling
def test_sample_hypergraph_rows_are_distinct_vertices():
    for n, k in [(50, 3), (6, 4), (5, 5)]:  # the last two take the dense path
        e = em.sample_hypergraph(n, 200, k, _rng())
        assert e.shape == (200, k)
        assert e.min() >= 0 and e.max() < n
        assert np.all(np.diff(np.sort(e, axis=1), axis=1) > 0)


def test_sample_hypergraph_is_uniform_over_vertices():
    e = em.sample_hypergraph(10, 20_000, 3, _rng(1))
    counts = np.bincount(e.ravel(), minlength=10)
    # 60000 draws over 10 vertices: s.d. of a count about sqrt(6000 * 0.9) = 73
    assert np.all(np.abs(counts - 6000) < 5 * 73)


def test_sample_hypergraph_validates():
    with pytest.raises(ValueError, match="k"):
        em.sample_hypergraph(3, 2, 4, _rng())
    with pytest.raises(ValueError, match="n_edges"):
        em.sample_hypergraph(3, -1, 2, _rng())
    with pytest.raises(TypeError, match="rng"):
        em.sample_hypergraph(3, 2, 2, 0)


# -------------------------------------------------------------------------------- 2-core
def test_two_core_small_examples():
    # a path of 2-edges has an empty core; a cycle is its own core
    assert not em.two_core(np.array([[0, 1], [1, 2], [2, 3]]), 4).any()
    assert em.two_core(np.array([[0, 1], [1, 2], [2, 0], [2, 3]]), 4).tolist() == [
        True,
        True,
        True,
        False,
    ]
    # two 3-edges on the same vertices form a core; a pendant edge does not join it
    got = em.two_core(np.array([[0, 1, 2], [0, 1, 2], [2, 3, 4]]), 5)
    assert got.tolist() == [True, True, False]
    assert em.two_core(np.zeros((0, 3), dtype=int), 4).shape == (0,)


def test_two_core_matches_one_vertex_at_a_time():
    rng = _rng(2)
    for _ in range(60):
        n = int(rng.integers(4, 30))
        k = int(rng.integers(2, 4))
        e = em.sample_hypergraph(n, int(rng.integers(0, 2 * n)), k, rng)
        np.testing.assert_array_equal(em.two_core(e, n), _core_by_hand(e, n))


def test_two_core_is_what_peeling_leaves_unlearned():
    """eq-em-core: the 1-skill learner on E1 with Λ = x^k is 2-core stripping."""
    rng = _rng(3)
    for k, n_texts, n_skills in [(3, 1200, 1000), (3, 1200, 950), (4, 900, 700)]:
        e = em.sample_hypergraph(n_texts, n_skills, k, rng)
        graph = em.SkillTextGraph(n_skills, n_texts, np.repeat(np.arange(n_skills), k), e.ravel())
        np.testing.assert_array_equal(~em.peel(graph).learned, em.two_core(e, n_texts))


def test_two_core_validates():
    with pytest.raises(ValueError, match="edges"):
        em.two_core(np.array([[0, 5]]), 5)
    with pytest.raises(ValueError, match="edges"):
        em.two_core(np.array([0, 1, 2]), 5)
    with pytest.raises(TypeError, match="edges"):
        em.two_core(np.array([[0.5, 1.0]]), 5)
    with pytest.raises(ValueError, match="n_vertices"):
        em.two_core(np.array([[0, 1]]), 0)


# ---------------------------------------------------------------------------- core birth
def test_core_birth_matches_prefix_by_prefix():
    rng = _rng(4)
    for _ in range(80):
        n = int(rng.integers(3, 25))
        k = min(n, int(rng.integers(2, 5)))
        t, m = int(rng.integers(1, 4)), int(rng.integers(0, 30))
        size = int(rng.integers(1, 4))
        e = np.stack([em.sample_hypergraph(n, m, k, rng) for _ in range(t)])
        want = [_birth_by_hand(e[j], n, size) for j in range(t)]
        np.testing.assert_array_equal(em.core_birth(e, n, size), want)


def test_core_birth_shapes_and_no_core():
    e = np.array([[0, 1], [1, 2], [2, 0]])
    assert em.core_birth(e, 3) == 3
    assert em.core_birth(e[:2], 3) == 3  # no core: n_edges + 1
    assert em.core_birth(e, 3, min_size=4) == 4
    batch = np.stack([e, e[[0, 2, 1]]])
    assert em.core_birth(batch, 3).tolist() == [3, 3]
    assert em.core_birth(batch[None], 3).shape == (1, 2)


def test_core_birth_validates():
    with pytest.raises(ValueError, match="min_size"):
        em.core_birth(np.array([[0, 1]]), 2, min_size=0)
    with pytest.raises(ValueError, match="edges"):
        em.core_birth(np.array([[0, 2]]), 2)


# ------------------------------------------------------------------------------ threshold
def test_core_threshold_known_values():
    # 2-core of random 3-uniform hypergraphs, leaf removal in 3-XORSAT (Mezard et al. 2003)
    assert em.core_threshold(3) == pytest.approx(0.818469, abs=5e-7)
    assert em.core_threshold(2) == 0.5
    for k in (3, 4, 5, 6, 8):
        # eq-em-core against the E1 threshold of x^k, eq-em-rstar
        assert em.core_threshold(k) == pytest.approx(1 / em.threshold_e1(np.eye(k + 1)[k]), 1e-9)
    # the thresholds decrease with k
    assert np.all(np.diff([em.core_threshold(k) for k in range(3, 10)]) < 0)


def test_core_threshold_validates():
    with pytest.raises(ValueError, match="k"):
        em.core_threshold(1)


# ------------------------------------------------------------------------ critical ratios
def test_critical_ratios_deterministic_and_near_threshold():
    a = em.critical_ratios(2000, 3, 60, _rng(5))
    b = em.critical_ratios(2000, 3, 60, _rng(5))
    np.testing.assert_array_equal(a, b)
    r_star = 1 / em.core_threshold(3)
    # at 2000 texts one graph's critical R scatters by about 0.016 around R* + 0.009
    assert abs(a.mean() - r_star - 0.009) < 5 * 0.016 / np.sqrt(60)
    assert 0.008 < a.std() < 0.026


def test_critical_ratios_agree_with_peeling():
    """The giant core of the first m skills appears exactly when peeling E1 fails."""
    rng = _rng(6)
    n_texts, k = 600, 3
    for _ in range(5):
        e = em.sample_hypergraph(n_texts, 700, k, rng)
        birth = em.core_birth(e, n_texts, 60)
        for m in (birth - 1, birth):
            graph = em.SkillTextGraph(m, n_texts, np.repeat(np.arange(m), k), e[:m].ravel())
            assert ((~em.peel(graph).learned).sum() >= 60) == (m == birth)


def test_critical_ratios_validates():
    with pytest.raises(ValueError, match="k"):
        em.critical_ratios(100, 2, 3, _rng())
    with pytest.raises(ValueError, match="trials"):
        em.critical_ratios(100, 3, 0, _rng())
    with pytest.raises(ValueError, match="min_core"):
        em.critical_ratios(100, 3, 2, _rng(), min_core=0.0)


# ----------------------------------------------------------------------------------- EXIT
def test_exit_curves_values():
    skill, text = em.exit_curves(np.array([0.5, 1.0]), 1.2, X3)
    np.testing.assert_allclose(skill, [1 - 0.5**2, 1.0])
    np.testing.assert_allclose(text, [1 + 1.2 * np.log(0.5) / 3, 1.0])
    with pytest.raises(ValueError, match="x"):
        em.exit_curves(0.0, 1.2, X3)
    with pytest.raises(ValueError, match="R"):
        em.exit_curves(0.5, -1.0, X3)


def test_exit_tunnel_closes_at_the_threshold():
    irsa = np.zeros(9)
    irsa[[2, 3, 8]] = [0.5, 0.28, 0.22]
    for c in (X3, np.eye(5)[4], np.eye(7)[6], irsa):
        assert em.exit_threshold(c) == pytest.approx(em.threshold_e1(c), rel=1e-9)
    assert em.exit_threshold(np.array([0.0, 0.0, 1.0])) == pytest.approx(2.0, abs=1e-9)
    assert em.exit_threshold(np.array([0.0, 0.2, 0.0, 0.8])) == np.inf  # Λ_1 > 0


def test_exit_threshold_is_the_supremum_not_the_first_jump():
    """eq-em-exit-sup: the tunnel closes at sup_p R(p), here 2Λ_2, above the first jump R*."""
    for lam_2, k in ((0.6, 8), (0.9, 20)):
        c = np.zeros(k + 1)
        c[[2, k]] = [lam_2, 1 - lam_2]
        assert em.threshold_e1(c) < 2 * lam_2 - 0.05
        assert em.exit_threshold(c) == pytest.approx(2 * lam_2, rel=1e-9)


def test_exit_curve_areas():
    """eq-em-exit-area: areas 1 - 1/Λ'(1) (skills) and 1 - (1 - e^-a)/a (texts, where >= 0)."""
    from scipy.integrate import quad

    irsa = np.zeros(9)
    irsa[[2, 3, 8]] = [0.5, 0.28, 0.22]
    for c, ratio in ((X3, 1.3), (irsa, 1.1)):
        m = em.mean_degree(c)
        a = m / ratio
        skill = quad(lambda x, c=c, r=ratio: float(em.exit_curves(x, r, c)[0]), 0, 1)[0]
        text = quad(lambda x, c=c, r=ratio: float(em.exit_curves(x, r, c)[1]), np.exp(-a), 1)[0]
        assert skill == pytest.approx(1 - 1 / m, abs=1e-10)
        assert text == pytest.approx(1 + np.expm1(-a) / a, abs=1e-10)


def test_exit_threshold_validates():
    with pytest.raises(ValueError, match="points"):
        em.exit_threshold(X3, points=2)
    with pytest.raises(ValueError, match="skill_degrees"):
        em.exit_threshold(np.array([0.5, 0.2]))
