"""Tests for llmtheory.emergence: graphs, peeling, density evolution and thresholds."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize_scalar

from llmtheory import emergence as em

X2 = np.array([0.0, 0.0, 1.0])
X3 = np.array([0.0, 0.0, 0.0, 1.0])
X4 = np.eye(5)[4]
X5 = np.eye(6)[5]
IRSA = np.zeros(9)
IRSA[[2, 3, 8]] = [0.5, 0.28, 0.22]


def queue_peel(graph: em.SkillTextGraph, K: int, order: np.random.Generator) -> np.ndarray:
    """Reference K-skill learner: a FIFO queue of texts, processed in a random order."""
    skills_of = [set() for _ in range(graph.n_texts)]
    texts_of = [[] for _ in range(graph.n_skills)]
    for s, t in zip(graph.skill.tolist(), graph.text.tolist(), strict=True):
        skills_of[t].add(s)
        texts_of[s].append(t)
    learned = np.zeros(graph.n_skills, dtype=bool)
    queue = [t for t in order.permutation(graph.n_texts).tolist() if 1 <= len(skills_of[t]) <= K]
    while queue:
        t = queue.pop(0)
        for s in list(skills_of[t]):
            if learned[s]:
                continue
            learned[s] = True
            for t2 in texts_of[s]:
                skills_of[t2].discard(s)
                if 1 <= len(skills_of[t2]) <= K:
                    queue.append(t2)
    return learned


# ------------------------------------------------------------------------------- graphs
def test_e1_graph_has_right_degrees_and_no_multi_edges():
    rng = np.random.default_rng(1)
    g = em.sample_e1(2000, 1.5, IRSA, rng)
    assert g.n_texts == 3000
    deg = np.bincount(g.skill, minlength=g.n_skills)
    assert set(np.unique(deg)) <= {2, 3, 8}
    pairs = g.skill.astype(np.int64) * g.n_texts + g.text
    assert np.unique(pairs).size == pairs.size
    assert abs(g.n_edges / g.n_texts - em.mean_degree(IRSA) / 1.5) < 0.05


def test_e2_graph_has_poisson_skill_degrees():
    rng = np.random.default_rng(2)
    g = em.sample_e2(5000, 2.0, em.poisson_degrees(3.0), rng)
    deg = np.bincount(g.skill, minlength=g.n_skills)
    assert abs(deg.mean() - 6.0) < 0.1
    assert abs(deg.var() - 6.0) < 0.5
    pairs = g.text.astype(np.int64) * g.n_skills + g.skill
    assert np.unique(pairs).size == pairs.size


def test_distinct_rows_dense_case():
    rng = np.random.default_rng(3)
    rows = em._distinct_rows(50, 6, 7, rng)
    assert all(len(set(r)) == 6 for r in rows.tolist())


# ------------------------------------------------------------------------------- peeling
@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(10, 60),
    R=st.floats(0.5, 2.5),
    K=st.integers(1, 3),
    ensemble=st.sampled_from(["e1", "e2"]),
)
def test_learned_set_independent_of_peeling_order(seed, n, R, K, ensemble):
    rng = np.random.default_rng(seed)
    if ensemble == "e1":
        g = em.sample_e1(n, R, X3, rng)
    else:
        g = em.sample_e2(n, R, em.poisson_degrees(2.5), rng)
    fast = em.peel(g, K=K).learned
    for _ in range(2):
        assert np.array_equal(queue_peel(g, K, rng), fast)


def test_peel_history_and_k_skill_monotone():
    g = em.sample_e1(3000, 1.1, X3, np.random.default_rng(4))
    res = [em.peel(g, K=k) for k in (1, 2, 3)]
    assert np.all(np.diff(res[0].unlearned_per_round) < 0)
    assert res[0].unlearned_per_round[-1] == pytest.approx(res[0].unlearned_fraction)
    us = [r.unlearned_fraction for r in res]
    assert us[0] >= us[1] >= us[2]
    assert np.all(res[1].learned >= res[0].learned)


def test_phi_and_frozen_skills():
    g = em.sample_e1(4000, 1.5, X3, np.random.default_rng(5))
    full = em.peel(g)
    part = em.peel(g, phi=0.7, rng=np.random.default_rng(6))
    assert np.all(part.learned <= full.learned)
    frozen = np.ones(g.n_skills, dtype=bool)
    frozen[::2] = False
    res = em.peel(g, learnable=frozen)
    assert not res.learned[::2].any()


def test_peel_agrees_with_de_e1_and_e2():
    rng = np.random.default_rng(7)
    for R in (1.0, 1.4):
        u = em.peel(em.sample_e1(20000, R, X3, rng)).unlearned_fraction
        assert abs(u - em.de_e1(R, X3)) < 0.02
    for R in (0.8, 1.5):
        u = em.peel(em.sample_e2(20000, R, em.poisson_degrees(3.0), rng)).unlearned_fraction
        assert abs(u - em.de_e2(R, em.poisson_degrees(3.0))) < 0.02


# --------------------------------------------------------------------- density evolution
@settings(max_examples=30, deadline=None)
@given(R=st.floats(0.3, 4.0), K=st.integers(1, 3), phi=st.floats(0.3, 1.0))
def test_de_e1_monotone_from_one(R, K, phi):
    q, u = em.de_e1_trajectory(R, IRSA, 200, K=K, phi=phi)
    assert q[0] == 1.0
    assert np.all(np.diff(q) <= 1e-15)
    assert np.all(np.diff(u) <= 1e-15)
    assert em.de_e1(R, IRSA, K=K, phi=phi) <= u[-1] + 1e-9


@settings(max_examples=30, deadline=None)
@given(R=st.floats(0.2, 3.0), d=st.floats(1.0, 6.0))
def test_de_e2_monotone_from_one(R, d):
    u = em.de_e2_trajectory(R, em.poisson_degrees(d), 200)
    assert np.all(np.diff(u) <= 1e-15)
    assert em.de_e2(R, em.poisson_degrees(d)) <= u[-1] + 1e-9


def test_fixed_point_equals_long_iteration_away_from_threshold():
    R = np.array([0.8, 1.0, 1.4, 2.0, 3.0])
    _, u = em.de_e1_trajectory(R, X3, 5000)
    np.testing.assert_allclose(em.de_e1(R, X3), u[-1], atol=1e-8)
    u2 = em.de_e2_trajectory(R, em.poisson_degrees(3.0), 5000)
    np.testing.assert_allclose(em.de_e2(R, em.poisson_degrees(3.0)), u2[-1], rtol=1e-6)


def test_de_e2_log_avoids_underflow():
    log_u = em.de_e2(np.array([200.0]), em.poisson_degrees(10.0), log=True)
    assert log_u[0] == pytest.approx(-2000.0, rel=1e-6)


def test_fixed_degree_texts_never_start_peeling():
    text = np.array([0.0, 0.0, 0.0, 1.0])
    assert em.de_e2(5.0, text) == 1.0
    assert em.threshold_e2(text) == np.inf
    g = em.sample_e2(500, 3.0, text, np.random.default_rng(8))
    assert em.peel(g).unlearned_fraction == 1.0


# ---------------------------------------------------------------------------- thresholds
@pytest.mark.parametrize(
    ("dist", "g_star"), [(X3, 0.8185), (X4, 0.7723), (X5, 0.7018), (IRSA, 0.9386)]
)
def test_irsa_thresholds(dist, g_star):
    assert 1.0 / em.threshold_e1(dist) == pytest.approx(g_star, abs=1e-3)


@pytest.mark.parametrize("k", [3, 4, 5, 6])
def test_threshold_closed_form_for_regular_skills(k):
    res = minimize_scalar(
        lambda q: -np.log(1 - q ** (1 / (k - 1))) / q, bounds=(1e-6, 1 - 1e-9), method="bounded"
    )
    assert em.threshold_e1(np.eye(k + 1)[k]) == pytest.approx(k / res.fun, rel=1e-6)


def test_continuous_transition_x2():
    assert em.threshold_e1(X2) == pytest.approx(2.0, abs=1e-4)


def _multisect(unlearned, lo, hi, level, rounds=3, points=17):
    """Bracket the R where the iterated recursion drops below ``level`` (vectorised over R)."""
    for _ in range(rounds):
        R = np.linspace(lo, hi, points)
        i = int(np.argmax(unlearned(R) < level))
        lo, hi = R[i - 1], R[i]
    return 0.5 * (lo + hi)


@pytest.mark.parametrize("dist", [X3, X4, IRSA])
def test_threshold_agrees_with_bisection_on_recursion_e1(dist):
    def unlearned(R):
        return em.de_e1_trajectory(R, dist, 4000)[1][-1]

    assert _multisect(unlearned, 0.5, 3.0, 0.1) == pytest.approx(em.threshold_e1(dist), abs=2e-3)


@pytest.mark.parametrize("d", [3.0, 5.0])
def test_threshold_e2_agrees_with_closed_form_and_bisection(d):
    c = em.poisson_degrees(d)
    r_star = em.threshold_e2(c)
    assert r_star == pytest.approx(em.threshold_e2_poisson(d), rel=1e-6)

    def unlearned(R):
        return em.de_e2_trajectory(R, c, 4000)[-1]

    assert _multisect(unlearned, 0.3, 4.0, 0.3) == pytest.approx(r_star, abs=2e-3)


def test_threshold_e2_continuous_below_e():
    assert em.threshold_e2(em.poisson_degrees(2.0)) == np.inf
    assert em.threshold_e2_poisson(2.0) == np.inf


def test_k_skill_and_phi_thresholds():
    r1, r2 = em.threshold_e1(X3), em.threshold_e1(X3, K=2)
    assert r2 < r1
    r_phi = em.threshold_e1(X3, phi=0.9)
    assert r_phi > r1
    below, above = em.de_e1([r_phi * 0.995, r_phi * 1.005], X3, phi=0.9)
    assert below - above > 0.2
    assert em.threshold_e1(X3, interference=0.1) == pytest.approx(r_phi, rel=0.2)
    assert em.threshold_e1(X3, interference=-np.log(0.9)) == pytest.approx(r_phi, rel=1e-6)
    assert em.threshold_e1(X3, phi=0.5) == np.inf  # no jump: u decays continuously
    assert em.threshold_e1(np.array([0.0, 0.5, 0.5])) == np.inf  # degree-1 skills, no jump


# --------------------------------------------------------------------- error and scaling
def test_testing_error_formulas():
    u = np.array([0.0, 0.1, 0.5])
    np.testing.assert_allclose(em.testing_error(u, X3), 1 - (1 - u) ** 3)
    np.testing.assert_allclose(
        em.testing_error(u, em.poisson_degrees(4.0)), 1 - np.exp(-4 * u), atol=1e-12
    )


def test_scaling_laws():
    dist = np.array([0.0, 0.1, 0.0, 0.9])
    R = np.geomspace(5, 320, 8)
    slope, _ = em.fit_power_law(R, em.de_e1(R, dist))
    assert slope == pytest.approx(-1.0, abs=0.05)
    R2 = np.linspace(2, 6, 6)
    rate, _ = em.fit_exponential(R2, np.exp(em.de_e2(R2, em.poisson_degrees(3.0), log=True)))
    assert rate == pytest.approx(-3.0, rel=0.05)


# ------------------------------------------------------------ association, compression
def test_association_giant_matches_theory_above_threshold():
    rng = np.random.default_rng(9)
    R = 2.0
    g = em.sample_e1(20000, R, X3, rng)
    res = em.peel(g)
    sim = em.association_giant_fraction(g, res.learned)
    theory = em.association_giant_theory(X3, em.poisson_degrees(3 / R), 1 - res.unlearned_fraction)
    assert sim == pytest.approx(theory, abs=0.02)
    assert em.association_giant_theory(X3, em.poisson_degrees(3 / 8.0), 1.0) < 1e-3


def test_semantic_code_and_lexicon():
    assert em.semantic_code_bits(10, 2, ordered=False) == pytest.approx(np.log2(45))
    assert em.semantic_code_bits(10, 2) == pytest.approx(np.log2(90))
    lex = em.make_lexicon(5, np.random.default_rng(0), words=3)
    assert len(lex) == 5 and all(len(p.split()) == 3 for p in lex)
    assert em.render_text(np.array([0, 1]), lex) == f"{lex[0]}, {lex[1]}."


# ------------------------------------------------------------------------ bad arguments
@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (lambda: em.de_e1(-1.0, X3), ValueError, "R must be positive"),
        (lambda: em.de_e1("a", X3), TypeError, "R must be"),
        (lambda: em.de_e1(1.0, [0, 0.5, 0.4]), ValueError, "must sum to 1"),
        (lambda: em.de_e1(1.0, [0, -0.5, 1.5]), ValueError, "non-negative"),
        (lambda: em.de_e1(1.0, [1.0, 0.0]), ValueError, "degree >= 1"),
        (lambda: em.de_e1(1.0, X3, K=0), ValueError, "K must be at least 1"),
        (lambda: em.de_e1(1.0, X3, K=1.5), TypeError, "K must be an int"),
        (lambda: em.de_e1(1.0, X3, phi=1.5), ValueError, "phi must be a number in"),
        (lambda: em.de_e1(1.0, X3, phi=0.0), ValueError, "phi must be a number in"),
        (lambda: em.de_e2(0.0, X3), ValueError, "R must be positive"),
        (lambda: em.threshold_e1([0.5, 0.6]), ValueError, "must sum to 1"),
        (lambda: em.sample_e1(0, 1.0, X3, np.random.default_rng()), ValueError, "n_skills"),
        (
            lambda: em.sample_e1(10, -1.0, X3, np.random.default_rng()),
            ValueError,
            "R must be a number > 0",
        ),
        (lambda: em.sample_e2(10, 1.0, X3, 0), TypeError, "rng must be"),
        (lambda: em.sample_e1(2, 1.0, X3, np.random.default_rng()), ValueError, "multi-edges"),
        (lambda: em.peel("graph"), TypeError, "graph must be"),
        (
            lambda: em.peel(em.sample_e1(5, 1, X3, np.random.default_rng()), phi=0.5),
            TypeError,
            "rng",
        ),
        (lambda: em.success_probability(-1.0), ValueError, "rho"),
        (lambda: em.testing_error(1.5, X3), ValueError, "u must lie"),
        (lambda: em.fit_power_law([1, 2], [1, -1]), ValueError, "positive"),
        (lambda: em.fit_power_law([1], [1]), ValueError, "at least 2"),
        (lambda: em.semantic_code_bits(3, 4), ValueError, "k must not exceed"),
        (lambda: em.poisson_degrees(0.0), ValueError, "mean must be a number > 0"),
        (lambda: em.de_e1_trajectory(1.0, X3, -1), ValueError, "iterations"),
        (lambda: em.association_giant_theory(X3, X3, 1.5), ValueError, "occupied"),
    ],
)
def test_bad_arguments(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_bad_masks():
    g = em.sample_e1(10, 1.0, X3, np.random.default_rng(0))
    with pytest.raises(ValueError, match="learnable"):
        em.peel(g, learnable=np.ones(3, dtype=bool))
    with pytest.raises(TypeError, match="learned must be a boolean array"):
        em.association_giant_fraction(g, np.ones(10))


def test_bad_graph():
    ids = np.array([0, 1])
    with pytest.raises(ValueError, match="skill indices"):
        em.SkillTextGraph(1, 2, ids, ids)
    with pytest.raises(ValueError, match="same length"):
        em.SkillTextGraph(2, 2, ids, ids[:1])
    with pytest.raises(TypeError, match="integer numpy array"):
        em.SkillTextGraph(2, 2, ids.astype(float), ids)


# --------------------------------------------------- reliability review (bad input)


def test_reliability_6_none_is_not_a_number():
    """pgf(c, None), success_probability(None) and testing_error(None, c) returned NaN."""
    with pytest.raises(TypeError, match="x must be a number or an array"):
        em.pgf(X3, None)
    with pytest.raises(TypeError, match="rho must be a number or an array"):
        em.success_probability(None)
    with pytest.raises(TypeError, match="u must be a number or an array"):
        em.testing_error(None, X3)
    with pytest.raises(ValueError, match="x must hold only finite values"):
        em.edge_pgf(X3, [0.5, np.nan])


def test_reliability_6_log_must_be_a_bool():
    """de_e2(..., log='no') used to return logarithms."""
    with pytest.raises(TypeError, match="log must be a bool"):
        em.de_e2(2.0, em.poisson_degrees(3.0), log="no")
    u = em.de_e2(2.0, em.poisson_degrees(3.0), log=np.bool_(False))
    assert 0 < float(u) < 1


def test_reliability_9_absurd_iteration_counts_are_refused_at_once():
    """de_e1_trajectory(iterations=10**9) looped for a very long time."""
    with pytest.raises(ValueError, match="iterations must be at most"):
        em.de_e1_trajectory(1.0, X3, 10**9)
    with pytest.raises(ValueError, match="iterations must be at most"):
        em.association_giant_theory(X3, X3, 0.5, iterations=10**9)


def test_reliability_9_a_converged_trajectory_is_filled_exactly():
    """Past a fixed point the recursion is filled, with the values iterating would give."""
    R = np.array([0.9, 1.5])
    q, u = em.de_e1_trajectory(R, X3, 3000)
    a, lam = em.mean_degree(X3) / R, em._edge_coeffs(X3)
    ref_q, ref_u, q_i = [], [], np.ones_like(a)
    for _ in range(3001):  # the recursion, iterated by hand to the end
        q_next, p = em._e1_map(q_i, a, lam, 1, 1.0, 0.0)
        ref_q.append(q_i)
        ref_u.append(np.polynomial.polynomial.polyval(p, X3))
        q_i = q_next
    np.testing.assert_array_equal(q, np.array(ref_q))
    np.testing.assert_array_equal(u, np.array(ref_u))
    assert np.array_equal(ref_q[-1], ref_q[-2])  # it did converge: the fill was used


# ---------------------------------------------- formulas where their look-alikes differ
PSI_14 = np.array([0.0, 0.2, 0.0, 0.0, 0.8])  # texts of one or four skills: not Poisson


def test_irregular_text_degrees_e2():
    """Node and edge pgfs differ here (not for Poisson texts): DE and R* against iteration."""
    R = np.array([0.6, 1.0, 1.6, 2.5])
    np.testing.assert_allclose(
        em.de_e2(R, PSI_14), em.de_e2_trajectory(R, PSI_14, 3000)[-1], atol=1e-9
    )
    r_star = em.threshold_e2(PSI_14)
    below, above = em.de_e2_trajectory(r_star * np.array([0.99, 1.01]), PSI_14, 3000)[-1]
    assert below - above > 0.3


def test_interference_acts_as_a_phi_learner():
    R = np.array([1.0, 1.3, 1.6, 2.5])
    for b in (0.05, 0.2):
        np.testing.assert_allclose(
            em.de_e1(R, X3, interference=b), em.de_e1(R, X3, phi=np.exp(-b)), atol=1e-12
        )


def test_phi_learner_peeling_agrees_with_de():
    rng = np.random.default_rng(10)
    for R in (1.0, 1.6):
        u = em.peel(em.sample_e1(20000, R, X3, rng), phi=0.9, rng=rng).unlearned_fraction
        assert abs(u - em.de_e1(R, X3, phi=0.9)) < 0.02


def test_association_fraction_counts_all_skills():
    # skills 0, 1 share text 0; skills 2, 3 share text 1; only 0 and 1 are learned
    g = em.SkillTextGraph(4, 2, np.array([0, 1, 2, 3]), np.array([0, 0, 1, 1]))
    learned = np.array([True, True, False, False])
    assert em.association_giant_fraction(g, learned) == 0.5
    assert em.association_giant_fraction(g, np.array([True, False, True, False])) == 0.25


def test_lexicon_uses_the_whole_vocabulary():
    lex = em.make_lexicon(2000, np.random.default_rng(11), words=4, vocabulary=500)
    words = {w for phrase in lex for w in phrase.split()}
    assert len(words) > 450  # 8000 draws from 500 distinct three-syllable words
