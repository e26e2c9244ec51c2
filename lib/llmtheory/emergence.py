"""Emergence of skills on a skill–text bipartite graph (Liao, Chang & Hong, 2024).

Skills and texts form a random bipartite graph; a learner acquires skills by peeling the
graph (the 1-skill learner) or, more generally, as a *Poisson learner* with a success
function :math:`P_{suc}(\\rho)`. Density evolution (DE) predicts the fraction of skills left
unlearned as a function of :math:`R = N_t / N_s`, and the fixed-point condition gives the
emergence threshold :math:`R^*`. The detailed model is the reconstruction described in
``book/part3_emergence/05_emergence_density_evolution.ipynb``; equation labels in the
docstrings refer to that chapter (``eq-em-*``) and to chapter 6 (``eq-emb-*``).

Degree distributions are coefficient arrays ``c`` with ``c[k] = P(degree = k)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq, minimize_scalar
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.special import gammaincc, gammainccinv, gammaln
from scipy.stats import poisson

from .validation import (
    check_array,
    check_bool,
    check_generator,
    check_instance,
    check_int,
    check_memory,
    check_probabilities,
    check_scalar,
    describe,
)

__all__ = [
    "PeelResult",
    "SkillTextGraph",
    "association_giant_fraction",
    "association_giant_theory",
    "de_e1",
    "de_e1_trajectory",
    "de_e2",
    "de_e2_trajectory",
    "edge_pgf",
    "fit_exponential",
    "fit_power_law",
    "make_lexicon",
    "mean_degree",
    "peel",
    "pgf",
    "poisson_degrees",
    "render_text",
    "sample_e1",
    "sample_e2",
    "semantic_code_bits",
    "success_probability",
    "testing_error",
    "threshold_e1",
    "threshold_e2",
    "threshold_e2_poisson",
]


# ----------------------------------------------------------------------------- validation


_MAX_ITERATIONS = 10**6  # a recursion that has not converged in a million steps never will


def _check_ratio(R: object) -> np.ndarray:
    arr = check_array(R, "R")
    if np.any(arr <= 0):
        raise ValueError(f"R must be positive, got a minimum of {arr.min():g}")
    return arr


def _check_degrees(coeffs: object, name: str) -> np.ndarray:
    """Validate a degree distribution: non-negative coefficients summing to one."""
    c = check_probabilities(coeffs, name, min_size=2, atol=1e-9)
    if c[0] == 1:
        raise ValueError(f"{name} must give positive probability to some degree >= 1")
    return c


def _check_learner(K: object, phi: object) -> tuple[int, float]:
    K = check_int(K, "K", 1)
    phi = check_scalar(phi, "phi", minimum=0.0, maximum=1.0, include_min=False)
    return K, phi


def _check_iterations(iterations: object, minimum: int) -> int:
    return check_int(iterations, "iterations", minimum, maximum=_MAX_ITERATIONS)


# -------------------------------------------------------------------- degree distributions
def poisson_degrees(mean: float, tail: float = 1e-16) -> np.ndarray:
    """Poisson(``mean``) degree probabilities, truncated where the tail mass is below ``tail``.

    Degree 0 is kept: with Poisson texts, :math:`R` counts empty texts too.
    """
    mean = check_scalar(mean, "mean", minimum=0.0, include_min=False)
    tail = check_scalar(
        tail, "tail", minimum=0.0, maximum=1.0, include_min=False, include_max=False
    )
    check_memory(3 * 8 * (mean + 50 * np.sqrt(mean) + 50), f"Poisson degrees of mean={mean:g}")
    kmax = max(2, int(poisson.isf(tail, mean)) + 1)
    check_memory(3 * 8 * kmax, f"Poisson degrees up to {kmax} (mean={mean:g}, tail={tail:g})")
    c = poisson.pmf(np.arange(kmax + 1), mean)
    return c / c.sum()


def pgf(coeffs: np.ndarray, x: np.ndarray | float) -> np.ndarray:
    """Node-perspective generating function :math:`\\Lambda(x) = \\sum_k \\Lambda_k x^k`."""
    c = _check_degrees(coeffs, "coeffs")
    return np.polynomial.polynomial.polyval(check_array(x, "x", allow_empty=True), c)


def mean_degree(coeffs: np.ndarray) -> float:
    """:math:`\\Lambda'(1)`, the mean degree."""
    c = _check_degrees(coeffs, "coeffs")
    return float(np.arange(c.size) @ c)


def edge_pgf(coeffs: np.ndarray, x: np.ndarray | float) -> np.ndarray:
    """Edge-perspective :math:`\\lambda(x) = \\Lambda'(x)/\\Lambda'(1)` (eq-em-edge)."""
    c = _check_degrees(coeffs, "coeffs")
    d = np.polynomial.polynomial.polyder(c)
    return np.polynomial.polynomial.polyval(check_array(x, "x", allow_empty=True), d) / d.sum()


# -------------------------------------------------------------------------------- graphs
@dataclass(frozen=True)
class SkillTextGraph:
    """A bipartite skill–text graph stored as its edge list (one entry per edge)."""

    n_skills: int
    n_texts: int
    skill: np.ndarray
    text: np.ndarray

    def __post_init__(self) -> None:
        check_int(self.n_skills, "n_skills", 1)
        check_int(self.n_texts, "n_texts", 1)
        for name, ids, n in (
            ("skill", self.skill, self.n_skills),
            ("text", self.text, self.n_texts),
        ):
            if not isinstance(ids, np.ndarray) or ids.ndim != 1 or ids.dtype.kind not in "iu":
                raise TypeError(
                    f"{name} must be a 1-D integer numpy array of edge endpoints, got "
                    f"{type(ids).__name__}"
                )
            if ids.size and (ids.min() < 0 or ids.max() >= n):
                raise ValueError(f"{name} indices must lie in [0, {n})")
        if self.skill.shape != self.text.shape:
            raise ValueError(
                f"skill and text must have one entry per edge (same length), got "
                f"{self.skill.shape} and {self.text.shape}"
            )

    @property
    def n_edges(self) -> int:
        """Number of edges."""
        return int(self.skill.size)


def _distinct_rows(
    n_rows: int, k: int, n: int, rng: np.random.Generator, name: str = "degrees"
) -> np.ndarray:
    """``n_rows`` rows of ``k`` distinct integers from ``range(n)`` (no multi-edges)."""
    if k > n:
        raise ValueError(
            f"{name} drew degree {k}, but there are only {n} nodes on the other side to link "
            "to without multi-edges: raise n_skills or R, or use smaller degrees"
        )
    if k * k > n:
        return np.argsort(rng.random((n_rows, n)), axis=1)[:, :k]
    out = rng.integers(0, n, size=(n_rows, k))
    while k > 1:
        s = np.sort(out, axis=1)
        bad = np.flatnonzero((s[:, 1:] == s[:, :-1]).any(axis=1))
        if bad.size == 0:
            break
        out[bad] = rng.integers(0, n, size=(bad.size, k))
    return out


def _sample_side(
    n_nodes: int, coeffs: np.ndarray, n_other: int, rng: np.random.Generator, name: str
):
    kmax = int(np.flatnonzero(coeffs)[-1])
    edges = n_nodes * float(np.arange(coeffs.size) @ coeffs)
    dense = n_nodes * n_other if kmax * kmax > n_other else 0  # rows drawn by argsort
    check_memory(
        8 * (4 * edges + 2 * n_nodes + 3 * dense),
        f"a graph of {n_nodes} nodes with {edges:.3g} edges (n_skills, R, {name})",
    )
    degrees = rng.choice(coeffs.size, size=n_nodes, p=coeffs)
    nodes, others = [], []
    for k in np.unique(degrees):
        rows = np.flatnonzero(degrees == k)
        nodes.append(np.repeat(rows, k))
        others.append(_distinct_rows(rows.size, int(k), n_other, rng, name).ravel())
    return np.concatenate(nodes), np.concatenate(others)


def _check_sampling(n_skills: object, R: object, rng: object) -> tuple[int, float]:
    n_skills = check_int(n_skills, "n_skills", 1)
    R = check_scalar(R, "R", minimum=0.0, include_min=False)
    check_generator(rng, "rng")
    check_memory(8 * 3 * R * n_skills, f"R * n_skills = {R * n_skills:.3g} texts (R, n_skills)")
    return n_skills, R


def sample_e1(
    n_skills: int, R: float, skill_degrees: np.ndarray, rng: np.random.Generator
) -> SkillTextGraph:
    """Ensemble E1: each skill draws a degree from Λ and joins that many distinct texts.

    There are ``round(R * n_skills)`` texts; their degrees are close to Poisson(Λ'(1)/R).
    """
    n_skills, R = _check_sampling(n_skills, R, rng)
    c = _check_degrees(skill_degrees, "skill_degrees")
    n_texts = max(1, round(R * n_skills))
    skill, text = _sample_side(n_skills, c, n_texts, rng, "skill_degrees")
    return SkillTextGraph(n_skills, n_texts, skill, text)


def sample_e2(
    n_skills: int, R: float, text_degrees: np.ndarray, rng: np.random.Generator
) -> SkillTextGraph:
    """Ensemble E2: each text draws a degree from Ψ and picks that many distinct skills."""
    n_skills, R = _check_sampling(n_skills, R, rng)
    c = _check_degrees(text_degrees, "text_degrees")
    n_texts = max(1, round(R * n_skills))
    text, skill = _sample_side(n_texts, c, n_skills, rng, "text_degrees")
    return SkillTextGraph(n_skills, n_texts, skill, text)


# ------------------------------------------------------------------------------- peeling
@dataclass(frozen=True)
class PeelResult:
    """Outcome of :func:`peel`: which skills were learned and how the rounds went."""

    learned: np.ndarray
    rounds: int
    unlearned_per_round: np.ndarray

    def __post_init__(self) -> None:
        check_array(self.learned, "learned", ndim=1, dtype="bool")
        check_int(self.rounds, "rounds", 0)
        check_array(self.unlearned_per_round, "unlearned_per_round", ndim=1)

    @property
    def unlearned_fraction(self) -> float:
        """Fraction of skills left unlearned, :math:`u`."""
        return float(1.0 - self.learned.mean())


def _csr(rows: np.ndarray, cols: np.ndarray, n_rows: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(rows, kind="stable")
    ptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n_rows), out=ptr[1:])
    return ptr, cols[order]


def _gather(ptr: np.ndarray, data: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Concatenate the CSR rows ``ids`` without a Python loop."""
    starts = ptr[ids]
    lens = ptr[ids + 1] - starts
    total = int(lens.sum())
    if total == 0:
        return data[:0]
    offsets = np.repeat(starts - np.cumsum(lens) + lens, lens)
    return data[offsets + np.arange(total)]


def _dedupe(ids: np.ndarray, scratch: np.ndarray) -> np.ndarray:
    """Distinct entries of ``ids`` in O(len(ids)), using a scratch array over all ids."""
    pos = np.arange(ids.size)
    scratch[ids] = pos
    return ids[scratch[ids] == pos]


def peel(
    graph: SkillTextGraph,
    K: int = 1,
    phi: float = 1.0,
    rng: np.random.Generator | None = None,
    learnable: np.ndarray | None = None,
) -> PeelResult:
    """Run the K-skill learner (peeling for ``K = 1``) on ``graph`` in parallel rounds.

    A text whose unlearned skills number between 1 and ``K`` teaches all of them
    (eq-em-psuc). With ``phi < 1`` each text is useful only with probability ``phi``
    (the φ-learner; ``rng`` required). Skills with ``learnable`` False are never learned
    (frozen foundation skills, eq-emb-hier). Each round touches only the texts adjacent to
    the skills learned in the previous round, so the total work is O(edges).
    """
    check_instance(graph, "graph", SkillTextGraph, "a SkillTextGraph")
    K, phi = _check_learner(K, phi)
    ns, nt = graph.n_skills, graph.n_texts
    if learnable is None:
        learnable = np.ones(ns, dtype=bool)
    learnable = check_array(learnable, "learnable", dtype="bool", shape=(ns,))
    if phi < 1:
        rng = check_generator(rng, "rng")
        useful = rng.random(nt) < phi
    else:
        useful = np.ones(nt, dtype=bool)
    s_ptr, s_texts = _csr(graph.skill, graph.text, ns)
    t_ptr, t_skills = _csr(graph.text, graph.skill, nt)
    deg = np.diff(t_ptr)
    learned = np.zeros(ns, dtype=bool)
    s_owner, t_owner = np.empty(ns, dtype=np.int64), np.empty(nt, dtype=np.int64)
    active = np.flatnonzero((deg >= 1) & (deg <= K) & useful)
    history = [ns]
    while active.size:
        sk = _gather(t_ptr, t_skills, active)
        sk = _dedupe(sk[~learned[sk] & learnable[sk]], s_owner)
        if sk.size == 0:
            break
        learned[sk] = True
        history.append(history[-1] - sk.size)
        touched = _gather(s_ptr, s_texts, sk)
        np.subtract.at(deg, touched, 1)
        d = deg[touched]
        active = _dedupe(touched[(d >= 1) & (d <= K) & useful[touched]], t_owner)
    return PeelResult(learned, len(history) - 1, np.asarray(history) / ns)


# --------------------------------------------------------------------- density evolution
def success_probability(
    rho: np.ndarray | float, K: int = 1, phi: float = 1.0
) -> np.ndarray | float:
    """Poisson-learner success :math:`\\varphi\\sum_{j<K} e^{-\\rho}\\rho^j/j!` (eq-em-psuc)."""
    K, phi = _check_learner(K, phi)
    rho = check_array(rho, "rho", allow_empty=True)
    if np.any(rho < 0):
        raise ValueError(f"rho must be non-negative, got a minimum of {rho.min():g}")
    return phi * gammaincc(K, rho)


_polyval = np.polynomial.polynomial.polyval


def _edge_coeffs(c: np.ndarray) -> np.ndarray:
    """Coefficients of the edge-perspective pgf, eq-em-edge."""
    d = np.polynomial.polynomial.polyder(c)
    return d / d.sum()


def _e1_map(q, a, lam, K, phi, b):
    p = 1.0 - phi * gammaincc(K, b + a * q)
    return _polyval(p, lam), p


def _largest_fixed_point(T, n: int, grid: int = 1025, steps: int = 55) -> np.ndarray:
    """Largest q in [0, 1] with T(q) = q for each of ``n`` rows (T increasing, T(1) <= 1).

    Iterating q <- T(q) from q = 1 decreases to exactly this point (eq-em-largest).
    """
    qs = np.broadcast_to(np.linspace(0.0, 1.0, grid), (n, grid))
    ok = T(qs) >= qs - 1e-15
    j = grid - 1 - np.argmax(ok[:, ::-1], axis=1)
    lo = qs[0, j]
    hi = np.where(j == grid - 1, 1.0, qs[0, np.minimum(j + 1, grid - 1)])
    for _ in range(steps):
        mid = 0.5 * (lo + hi)
        up = T(mid[:, None])[:, 0] >= mid
        lo, hi = np.where(up, mid, lo), np.where(up, hi, mid)
    return lo


def _de_args(R, skill_degrees, K, phi, interference):
    R = _check_ratio(R)
    c = _check_degrees(skill_degrees, "skill_degrees")
    K, phi = _check_learner(K, phi)
    b = check_scalar(interference, "interference", minimum=0.0)
    return R, c, K, phi, b


def _check_grid_memory(n: int, what: str) -> None:
    """The largest fixed point scans a grid of 1025 points for each of ``n`` values of R."""
    check_memory(8 * 8 * 1025 * n, f"{what} for {n} values of R")


def de_e1_trajectory(
    R: np.ndarray | float,
    skill_degrees: np.ndarray,
    iterations: int,
    K: int = 1,
    phi: float = 1.0,
    interference: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Iterate the E1 recursion (eq-em-de-e1) from :math:`q^{(0)} = 1`.

    Returns ``(q, u)`` of shape ``(iterations + 1, *R.shape)``: the edge messages
    :math:`q^{(i)}` and the unlearned fractions :math:`u^{(i)} = \\Lambda(p^{(i)})`.
    ``interference`` adds a fixed Poisson load of frozen unlearned skills per text.
    """
    R, c, K, phi, b = _de_args(R, skill_degrees, K, phi, interference)
    iterations = _check_iterations(iterations, 0)
    check_memory(2 * 8 * (iterations + 1) * R.size, f"iterations={iterations} for {R.size} R")
    a = mean_degree(c) / R
    lam = _edge_coeffs(c)
    q = np.ones_like(a)
    qs, us = [], []
    for i in range(iterations + 1):
        q_next, p = _e1_map(q, a, lam, K, phi, b)
        qs.append(q)
        us.append(_polyval(p, c))
        if i < iterations and np.array_equal(q_next, q):
            # a fixed point: every later iterate is the same, so fill instead of looping
            qs += [q] * (iterations - i)
            us += [us[-1]] * (iterations - i)
            break
        q = q_next
    return np.array(qs), np.array(us)


def de_e1(
    R: np.ndarray | float,
    skill_degrees: np.ndarray,
    K: int = 1,
    phi: float = 1.0,
    interference: float = 0.0,
) -> np.ndarray:
    """Limit :math:`u^{\\infty}(R)` of the E1 recursion, from its largest fixed point.

    Vectorised over ``R``; equal to iterating eq-em-de-e1 forever from q = 1.
    """
    R, c, K, phi, b = _de_args(R, skill_degrees, K, phi, interference)
    _check_grid_memory(R.size, "de_e1")
    a = (mean_degree(c) / R).ravel()
    lam = _edge_coeffs(c)
    q = _largest_fixed_point(lambda x: _e1_map(x, a[:, None], lam, K, phi, b)[0], a.size)
    p = 1.0 - phi * gammaincc(K, b + a * q)
    return pgf(c, p).reshape(R.shape)


def _e2_map(q, c_total, psi):
    return np.exp(-c_total * _polyval(1.0 - q, psi))


def de_e2_trajectory(
    R: np.ndarray | float, text_degrees: np.ndarray, iterations: int
) -> np.ndarray:
    """Iterate the E2 recursion (eq-em-de-e2) from q = 1; returns :math:`u^{(i)} = q^{(i+1)}`."""
    R = _check_ratio(R)
    c = _check_degrees(text_degrees, "text_degrees")
    iterations = _check_iterations(iterations, 0)
    check_memory(8 * (iterations + 1) * R.size, f"iterations={iterations} for {R.size} R")
    ct = R * mean_degree(c)
    psi = _edge_coeffs(c)
    q = np.ones_like(ct)
    out = []
    for i in range(iterations + 1):
        q_next = _e2_map(q, ct, psi)
        out.append(q_next)
        if i < iterations and np.array_equal(q_next, q):
            out += [q_next] * (iterations - i)  # a fixed point: the rest is the same
            break
        q = q_next
    return np.array(out)


def de_e2(R: np.ndarray | float, text_degrees: np.ndarray, log: bool = False) -> np.ndarray:
    """Limit :math:`u^{\\infty}` of the E2 1-skill recursion (eq-em-de-e2), vectorised over R.

    With ``log=True`` returns :math:`\\ln u^{\\infty}` computed without underflow.
    """
    R = _check_ratio(R)
    c = _check_degrees(text_degrees, "text_degrees")
    log = check_bool(log, "log")
    _check_grid_memory(R.size, "de_e2")
    ct = (R * mean_degree(c)).ravel()
    q = _largest_fixed_point(lambda x: _e2_map(x, ct[:, None], _edge_coeffs(c)), ct.size)
    log_u = -ct * edge_pgf(c, 1.0 - q)
    return (log_u if log else np.exp(log_u)).reshape(R.shape)


# ---------------------------------------------------------------------------- thresholds
def _grid01(n: int = 20001) -> np.ndarray:
    """Points of (0, 1), dense near both ends."""
    t = np.concatenate(
        [np.logspace(-10, -2, 400), np.linspace(0.01, 0.99, n), 1 - np.logspace(-2, -10, 400)]
    )
    return np.unique(t)


def _jump(x_desc: np.ndarray, r: np.ndarray, r_of) -> float | None:
    """First-order jump from the running maximum of R(x) scanned from x = 1 down (eq-em-rstar).

    The largest fixed point follows the running maximum; its widest flat stretch is the
    jump, at a local maximum of R(x). Returns None when there is no flat stretch (the
    transition is continuous).
    """
    run = np.maximum.accumulate(r)
    flat = r < run * (1 - 1e-12)
    if not flat.any():
        return None
    # widest stretch of flat points, measured in x
    edges = np.flatnonzero(np.diff(np.concatenate([[0], flat.astype(int), [0]])))
    starts, stops = edges[::2], edges[1::2]
    widths = x_desc[starts - 1] - x_desc[stops - 1]
    i = int(np.argmax(widths))
    m = starts[i] - 1  # grid index of the local maximum that starts the stretch
    lo, hi = x_desc[min(m + 1, x_desc.size - 1)], x_desc[max(m - 1, 0)]
    res = minimize_scalar(
        lambda x: -r_of(x), bounds=(lo, hi), method="bounded", options={"xatol": 1e-13}
    )
    return float(max(-res.fun, r[m]))


def threshold_e1(
    skill_degrees: np.ndarray, K: int = 1, phi: float = 1.0, interference: float = 0.0
) -> float:
    """Emergence threshold :math:`R^*` of ensemble E1 from the fixed-point condition.

    On the fixed-point curve, :math:`R(p) = \\Lambda'(1)\\lambda(p)/(P_{suc}^{-1}(1-p) - b)`
    (eq-em-rstar); :math:`R^*` is its maximum along the branch reached from p = 1.
    Returns the jump of the largest fixed point when there is one; otherwise the limit of
    :math:`R(p)` at the lower end (where u reaches zero), or ``inf`` when that is infinite.
    """
    c = _check_degrees(skill_degrees, "skill_degrees")
    K, phi = _check_learner(K, phi)
    b = check_scalar(interference, "interference", minimum=0.0)
    p_lo = 1.0 - phi * gammaincc(K, b)
    lam1 = mean_degree(c)

    def r_of(p):
        rho = gammainccinv(K, np.clip((1.0 - p) / phi, 0.0, 1.0)) - b
        with np.errstate(divide="ignore"):
            return np.where(rho > 0, lam1 * edge_pgf(c, p) / rho, np.inf)

    p = (p_lo + (1 - p_lo) * _grid01())[::-1]
    r = r_of(p)
    jump = _jump(p, r, r_of)
    if jump is not None:
        return jump
    # continuous: R(p) increases towards p_lo; finite limit only if lambda(p_lo) = 0
    return float(r[-1]) if _polyval(p_lo, _edge_coeffs(c)) == 0 else float("inf")


def threshold_e2(text_degrees: np.ndarray) -> float:
    """Threshold :math:`R^*` of ensemble E2 (1-skill learner) from the fixed-point condition.

    On the fixed-point curve :math:`R(q) = -\\ln q / (\\Psi'(1)\\psi(1-q))` (eq-em-rstar-e2).
    Returns ``inf`` when texts have no degree-1 members (peeling never starts) or when the
    transition is continuous (no jump; the unlearned fraction only decays).
    """
    c = _check_degrees(text_degrees, "text_degrees")
    if c[1] == 0:
        return float("inf")
    m = mean_degree(c)

    def r_of(q):
        return -np.log(q) / (m * edge_pgf(c, 1.0 - q))

    q = _grid01()[::-1]
    jump = _jump(q, r_of(q), r_of)
    return float("inf") if jump is None else jump


def threshold_e2_poisson(d: float) -> float:
    """Closed-form E2 threshold for Poisson(d) texts (eq-em-rstar-poisson).

    :math:`R^* = e^{dq_2}/(d^2 q_2)` with :math:`q_2\\ln(1/q_2)=1/d` and :math:`q_2 > 1/e`;
    defined for d > e, returns ``inf`` otherwise (no jump).
    """
    d = check_scalar(d, "d", minimum=0.0)
    if d <= np.e:
        return float("inf")
    q2 = brentq(lambda q: q * np.log(1 / q) - 1 / d, 1 / np.e, 1 - 1e-15)
    return float(np.exp(d * q2) / (d * d * q2))


# ----------------------------------------------------------------- testing error, scaling
def testing_error(u: np.ndarray | float, test_degrees: np.ndarray) -> np.ndarray:
    """Testing error :math:`\\epsilon = 1 - \\Psi_{test}(1-u)` (eq-em-test).

    A test text is understood only when all its skills are learned.
    """
    u = check_array(u, "u", allow_empty=True)
    if np.any((u < 0) | (u > 1)):
        raise ValueError(f"u must lie in [0, 1], got values from {u.min():g} to {u.max():g}")
    return 1.0 - pgf(_check_degrees(test_degrees, "test_degrees"), 1.0 - u)


def _fit_args(x, y):
    x = check_array(x, "x", ndim=1, min_size=2)
    y = check_array(y, "y", ndim=1, min_size=2)
    if x.shape != y.shape:
        raise ValueError(f"x and y must be 1-D arrays of one length, got {x.shape} and {y.shape}")
    if np.any(y <= 0):
        raise ValueError(f"y must be positive, got a minimum of {y.min():g}")
    if np.all(x == x[0]):
        raise ValueError("x must hold at least two distinct values to fit a line")
    return x, y


def fit_power_law(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Fit :math:`y = C x^{\\alpha}` on log–log axes; returns (α, C) (eq-em-scaling-e1)."""
    x, y = _fit_args(x, y)
    if np.any(x <= 0):
        raise ValueError("x must be positive for a power-law fit")
    slope, icpt = np.polyfit(np.log(x), np.log(y), 1)
    return float(slope), float(np.exp(icpt))


def fit_exponential(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Fit :math:`y = C e^{\\beta x}` on semilog axes; returns (β, C) (eq-em-scaling-e2)."""
    x, y = _fit_args(x, y)
    slope, icpt = np.polyfit(x, np.log(y), 1)
    return float(slope), float(np.exp(icpt))


# ------------------------------------------------------------------ skill association graph
def association_giant_fraction(graph: SkillTextGraph, learned: np.ndarray) -> float:
    """Fraction of all skills in the largest component of the learned-skill association graph.

    Two learned skills are linked when they share a training text (eq-emb-assoc); components
    are found on the bipartite graph restricted to learned skills, which has the same ones.
    """
    check_instance(graph, "graph", SkillTextGraph, "a SkillTextGraph")
    learned = check_array(learned, "learned", dtype="bool", shape=(graph.n_skills,))
    keep = learned[graph.skill]
    n = graph.n_skills + graph.n_texts
    rows, cols = graph.skill[keep], graph.n_skills + graph.text[keep]
    adj = coo_matrix((np.ones(rows.size, dtype=np.int8), (rows, cols)), shape=(n, n))
    _, labels = connected_components(adj, directed=False)
    sizes = np.bincount(labels[: graph.n_skills][learned], minlength=1)
    return float(sizes.max() / graph.n_skills)


def association_giant_theory(
    skill_degrees: np.ndarray, text_degrees: np.ndarray, occupied: float, iterations: int = 5000
) -> float:
    """Giant-component fraction under independent site occupation (eq-emb-giant).

    Solves :math:`x = \\psi(y)`, :math:`y = 1-\\phi+\\phi\\lambda(x)` from x = 0 and returns
    :math:`\\phi(1-\\Lambda(x))`; a giant exists iff :math:`\\phi\\lambda'(1)\\psi'(1) > 1`.
    """
    cs = _check_degrees(skill_degrees, "skill_degrees")
    ct = _check_degrees(text_degrees, "text_degrees")
    phi = check_scalar(occupied, "occupied", minimum=0.0, maximum=1.0)
    iterations = _check_iterations(iterations, 1)
    lam, psi = _edge_coeffs(cs), _edge_coeffs(ct)
    x = 0.0
    for _ in range(iterations):
        x_next = _polyval(1 - phi + phi * _polyval(x, lam), psi)
        if x_next == x:
            break  # a fixed point: further iterations change nothing
        x = x_next
    return float(phi * (1 - pgf(cs, x)))


# ---------------------------------------------------------------- semantic compression
def semantic_code_bits(n_skills: int, k: int, ordered: bool = True) -> float:
    """Bits to name ``k`` distinct skills out of ``n_skills`` (eq-emb-rate).

    :math:`\\log_2\\binom{N_s}{k}`, plus :math:`\\log_2 k!` for their order when ``ordered``.
    """
    n_skills = check_int(n_skills, "n_skills", 1)
    k = check_int(k, "k", 0)
    if k > n_skills:
        raise ValueError(f"k must not exceed n_skills ({n_skills}), got {k}")
    ordered = check_bool(ordered, "ordered")
    log_perm = gammaln(float(n_skills + 1)) - gammaln(float(n_skills - k + 1))
    if not ordered:
        log_perm -= gammaln(float(k + 1))
    return float(log_perm / np.log(2))


_SYLLABLES = np.array([c + v for c in "bdfgklmnprstvz" for v in "aeiou"])


def make_lexicon(
    n_skills: int, rng: np.random.Generator, words: int = 4, vocabulary: int = 2000
) -> list[str]:
    """A surface phrase for each skill: ``words`` words from a random ``vocabulary``."""
    n_skills = check_int(n_skills, "n_skills", 1)
    words = check_int(words, "words", 1)
    vocabulary = check_int(vocabulary, "vocabulary", 1)
    rng = check_generator(rng, "rng")
    check_memory(
        100 * (vocabulary + n_skills * words),
        f"a lexicon of n_skills={n_skills} phrases of words={words} (vocabulary={vocabulary})",
    )
    parts = rng.choice(_SYLLABLES, size=(vocabulary, 3))
    vocab = np.array(["".join(p) for p in parts])
    idx = rng.integers(0, vocabulary, size=(n_skills, words))
    return [" ".join(row) for row in vocab[idx]]


def render_text(skills: np.ndarray, lexicon: list[str]) -> str:
    """Surface form of a text: the phrases of its skills, in order, as one sentence."""
    if isinstance(lexicon, (str, bytes)) or not isinstance(lexicon, Sequence):
        raise TypeError(f"lexicon must be a list of strings, got {describe(lexicon)}")
    skills = check_array(skills, "skills", ndim=1, dtype="integral", allow_empty=True)
    if skills.size and (skills.min() < 0 or skills.max() >= len(lexicon)):
        raise ValueError(
            f"skills must index the lexicon, in [0, {len(lexicon)}), got values from "
            f"{skills.min()} to {skills.max()}"
        )
    phrases = [lexicon[int(s)] for s in skills]
    if not all(isinstance(p, str) for p in phrases):
        raise TypeError("lexicon must be a list of strings, got another object in it")
    return ", ".join(phrases) + "."
