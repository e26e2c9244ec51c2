r"""Emergence of skills on a skill–text bipartite graph (Liao, Chang & Hong, 2024).

Skills and texts form a random bipartite graph; a learner acquires skills by peeling the
graph (the 1-skill learner) or, more generally, as a *Poisson learner* with a success
function :math:`P_{suc}(\rho)`. Density evolution (DE) predicts the fraction of skills left
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
from scipy.special import gammainc, gammaincc, gammaln
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
    "core_birth",
    "core_threshold",
    "critical_ratios",
    "de_e1",
    "de_e1_trajectory",
    "de_e2",
    "de_e2_trajectory",
    "edge_pgf",
    "exit_curves",
    "exit_threshold",
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
    "sample_hypergraph",
    "semantic_code_bits",
    "size_biased_unlearned",
    "success_probability",
    "testing_error",
    "threshold_e1",
    "threshold_e2",
    "threshold_e2_poisson",
    "two_core",
    "zipf_law",
    "zipf_learning_curve",
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
    K = check_int(K, "K", 1, maximum=10**6)
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
    r"""Node-perspective generating function :math:`\Lambda(x) = \sum_k \Lambda_k x^k`."""
    c = _check_degrees(coeffs, "coeffs")
    return np.polynomial.polynomial.polyval(check_array(x, "x", allow_empty=True), c)


def mean_degree(coeffs: np.ndarray) -> float:
    r""":math:`\Lambda'(1)`, the mean degree."""
    c = _check_degrees(coeffs, "coeffs")
    return float(np.arange(c.size) @ c)


def edge_pgf(coeffs: np.ndarray, x: np.ndarray | float) -> np.ndarray:
    r"""Edge-perspective :math:`\lambda(x) = \Lambda'(x)/\Lambda'(1)` (eq-em-edge)."""
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
    r"""Poisson-learner success :math:`\varphi\sum_{j<K} e^{-\rho}\rho^j/j!` (eq-em-psuc).

    The sum is the regularised upper incomplete gamma function :math:`Q(K, \rho)`,
    ``scipy.special.gammaincc``; ``K = 1`` gives the 1-skill learner :math:`e^{-\rho}`.
    """
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


def _e1_map(
    q: np.ndarray, a: np.ndarray, lam: np.ndarray, K: int, phi: float, b: float
) -> tuple[np.ndarray, np.ndarray]:
    """One step of the E1 recursion (eq-em-de-e1): ``(q_next, p)`` from the edge message ``q``.

    ``p = 1 - P_suc(b + a q)`` is the probability that a text does not teach a skill along an
    edge (eq-em-psuc: ``phi`` times the regularised upper gamma function ``Q(K, .)``, with
    ``a = Lambda'(1) / R``, and ``b`` a fixed extra load of unlearned skills on every text, zero
    for a model trained from scratch), and ``q_next = lambda(p)`` evaluates the edge-perspective
    polynomial with coefficients ``lam``.
    """
    p = 1.0 - phi * gammaincc(K, b + a * q)
    return _polyval(p, lam), p


# ------------------------------------------------------------- the limit of the recursion
# Both recursions read q <- T_R(q), with T_R continuous and increasing on [0, 1] and
# T_R(1) <= 1. Iterating from q = 1 therefore decreases to the LARGEST fixed point
# (eq-em-largest), the largest q with T_R(q) >= q. T_R(q) >= q is equivalent to R <= R(x) for
# an explicit curve R(x) that does not depend on R (prop-em-limit), where x runs from the top
# (q = 1) down: x = s = a q, the Poisson load of a text, for E1, and x = t = -ln q for E2. So
# the limit is the FIRST point of the curve, scanning from the top, at which R(x) reaches R.
# The curve is scanned once on a fine grid together with its log-derivative h(x), taken in the
# scan direction. Every extremum of R is a zero of h; zeros are located where h changes sign
# between grid points and, where h has a grid-local extremum without a sign change, by a scalar
# search of h in the two neighbouring cells (a maximum and a minimum of R closer together than
# the grid step). All of them are inserted into the scan, so R is monotone between scanned
# points: a binary search of the scan's running maximum then brackets the first crossing of
# each R, and bisection locates it to machine precision.


def _scan(n: int = 20001) -> np.ndarray:
    """Points of (0, 1), dense near both ends (the scan of a fixed-point curve)."""
    t = np.concatenate(
        [np.logspace(-12, -2, 500), np.linspace(0.01, 0.99, n), 1 - np.logspace(-2, -12, 500)]
    )
    return np.unique(t)


def _zeros(x: np.ndarray, hv: np.ndarray, h_of) -> list[tuple[float, bool]]:
    """The zeros of h between the scanned points x (values hv), as (zero, is a maximum of R).

    A zero where h turns from positive to negative in the scan direction is a maximum of R.
    """
    found = []
    sign = np.sign(hv)
    for j in np.flatnonzero(sign[:-1] * sign[1:] < 0):
        found.append((_root(h_of, x[j], x[j + 1]), bool(hv[j] > 0)))
    # two zeros within two cells show as a grid-local extremum of h of one sign that is close
    # to zero: a parabola dipping below zero between the neighbours has |h| at the middle point
    # at most a quarter of its larger change to a neighbour (rounding noise is far from zero)
    inner = np.arange(1, x.size - 1)
    change = np.maximum(np.abs(hv[inner] - hv[inner - 1]), np.abs(hv[inner + 1] - hv[inner]))
    near = np.abs(hv[inner]) <= 2 * change
    low = (hv[inner] <= hv[inner - 1]) & (hv[inner] <= hv[inner + 1]) & (hv[inner] > 0)
    high = (hv[inner] >= hv[inner - 1]) & (hv[inner] >= hv[inner + 1]) & (hv[inner] < 0)
    for j in inner[(low | high) & near]:
        side = 1.0 if hv[j] > 0 else -1.0  # search for a minimum of side * h below zero
        lo, hi = sorted((x[j - 1], x[j + 1]))
        res = minimize_scalar(
            lambda z, side=side: side * float(h_of(np.asarray(z))),
            bounds=(lo, hi),
            method="bounded",
            options={"xatol": 1e-15 * max(1.0, hi)},
        )
        if res.fun < 0:  # h changes sign twice: a maximum and a minimum of R
            first = _root(h_of, x[j - 1], res.x)  # the zero met first in the scan
            found += [(first, side > 0), (_root(h_of, res.x, x[j + 1]), side < 0)]
    return found


def _root(h_of, a: float, b: float) -> float:
    """The zero of h between a and b (h changes sign there)."""
    lo, hi = sorted((float(a), float(b)))
    return brentq(lambda z: float(h_of(np.asarray(z))), lo, hi, xtol=1e-300, rtol=1e-15)


def _curve(x: np.ndarray, r_of, h_of):
    """Scan R(x) along ``x`` (from the top down) with every extremum of R inserted.

    ``h_of`` is d ln R/dx in the scan direction. Returns the points ``(x, r)`` in scan order
    and the maxima of R as ``(x, R)`` pairs, in scan order.
    """
    zeros = _zeros(x, h_of(x), h_of)
    if not zeros:
        return x, r_of(x), []
    z = np.array([zero for zero, _ in zeros])
    peak = np.array([is_max for _, is_max in zeros])
    direction = np.sign(x[-1] - x[0])
    order = np.argsort(direction * z, kind="stable")
    z, peak = z[order], peak[order]
    rz = r_of(z)
    xs = np.concatenate([x, z])
    order = np.argsort(direction * xs, kind="stable")
    return (
        xs[order],
        np.concatenate([r_of(x), rz])[order],
        list(zip(z[peak], rz[peak], strict=True)),
    )


def _first_reach(R: np.ndarray, x: np.ndarray, r: np.ndarray, r_of, steps: int = 64):
    """For each R the first x of the scan with R(x) >= R, bisected; ``nan`` where none is.

    ``r[0] < R`` must hold at the top of the scan. Between the two scanned points that bracket
    the first crossing, R(x) is monotone (its record peaks are scanned points), so bisection
    keeps a point with R(x) >= R and converges to the crossing.
    """
    run = np.maximum.accumulate(r)
    i = np.searchsorted(run, R, side="left")
    found = i < x.size
    i = np.clip(i, 1, x.size - 1)
    ok, bad = x[i], x[i - 1]
    for _ in range(steps):
        mid = 0.5 * (ok + bad)
        up = r_of(mid) >= R
        ok, bad = np.where(up, mid, ok), np.where(up, bad, mid)
    return np.where(found, ok, np.nan)


def _de_args(R, skill_degrees, K, phi, interference):
    R = _check_ratio(R)
    c = _check_degrees(skill_degrees, "skill_degrees")
    K, phi = _check_learner(K, phi)
    b = check_scalar(interference, "interference", minimum=0.0)
    return R, c, K, phi, b


def _check_scan_memory(n: int, what: str) -> None:
    """The bisection keeps about eight arrays of the size of R."""
    check_memory(8 * 8 * n, f"{what} for {n} values of R")


def _e1_curve(c: np.ndarray, K: int, phi: float, b: float):
    r"""The E1 fixed-point curve as a function of the load s = a q (eq-em-limit).

    Returns ``(p_of, r_of, h_of)``: :math:`p(s) = 1 - \varphi + \varphi P(K, b + s)`, the
    probability that a text's edge is unlearned; :math:`R(s) = \Lambda'(1)\lambda(p(s))/s`, the
    R at which q = s/a is a fixed point; and :math:`h = -d\ln R/ds` (the scan runs down in s).
    """
    lam, lam1 = _edge_coeffs(c), mean_degree(c)
    dlam = np.polynomial.polynomial.polyder(lam) if lam.size > 1 else np.zeros(1)
    k_min = int(np.flatnonzero(lam)[0])

    def p_of(s):
        return (1.0 - phi) + phi * gammainc(K, b + s)

    def r_of(s):
        with np.errstate(divide="ignore", invalid="ignore"):
            return lam1 * _polyval(p_of(s), lam) / s

    def h_of(s):
        p, load = p_of(s), b + s
        dp = phi * np.exp(-load + (K - 1) * np.log(load) - gammaln(K))
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(  # lambda'/lambda; k_min / p where lambda(p) underflows
                _polyval(p, lam) > 0, _polyval(p, dlam) / _polyval(p, lam), k_min / p
            )
        return 1.0 / s - ratio * dp

    return p_of, r_of, h_of


def _e1_scan(r_of, h_of, s_top: float) -> tuple[np.ndarray, np.ndarray, list]:
    """Scan the E1 curve from s_top (where R(s) is below every R asked for) down to s = 5e-11."""
    s = np.concatenate([[s_top], np.logspace(4, 1.7, 200), 50.0 * _scan()[::-1]])
    return _curve(np.unique(s)[::-1], r_of, h_of)


def de_e1_trajectory(
    R: np.ndarray | float,
    skill_degrees: np.ndarray,
    iterations: int,
    K: int = 1,
    phi: float = 1.0,
    interference: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Iterate the E1 recursion (eq-em-de-e1) from :math:`q^{(0)} = 1`.

    Returns ``(q, u)`` of shape ``(iterations + 1, *R.shape)``: the edge messages
    :math:`q^{(i)}` and the unlearned fractions :math:`u^{(i)} = \Lambda(p^{(i)})`.
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
    r"""Limit :math:`u^{\infty}(R)` of the E1 recursion (eq-em-de-e1) iterated from q = 1.

    Vectorised over ``R``. Method (prop-em-limit, eq-em-limit): the iterates decrease to the
    largest fixed point (eq-em-largest), the largest q with T(q) >= q. With the load s = aq and
    :math:`a = \Lambda'(1)/R`, T(q) >= q is equivalent to
    :math:`R \le R(s) = \Lambda'(1)\lambda(p(s))/s`, a curve that does not depend on R, and
    R(s) < R for s > a because :math:`\lambda \le 1`. So :math:`q^\infty = s^\star/a` with
    :math:`s^\star` the first s, scanning down from the top, where R(s) reaches R (0 if none).
    The curve is scanned once with every extremum inserted (zeros of its log-derivative,
    ``_zeros``), so it is monotone between scanned points; the first crossing is located on the
    running maximum and bisected to machine precision (``_first_reach``). No tolerance on the
    depth of a dip enters; the one assumption is that the log-derivative does not change sign
    more than twice within two grid cells, a property of the curve, not of R.
    """
    R, c, K, phi, b = _de_args(R, skill_degrees, K, phi, interference)
    _check_scan_memory(R.size, "de_e1")
    p_of, r_of, h_of = _e1_curve(c, K, phi, b)
    R_flat = R.ravel()
    s_top = 2.0 * mean_degree(c) / R_flat.min() if R_flat.size else 1.0
    s, r, _ = _e1_scan(r_of, h_of, max(s_top, 2e4))
    s_star = _first_reach(R_flat, s, r, r_of)
    # no crossing: the limit is q = 0 (every point of the curve is below R)
    p = p_of(np.where(np.isnan(s_star), 0.0, s_star))
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


def _e2_curve(c: np.ndarray):
    r"""The E2 fixed-point curve in t = -ln q (eq-em-limit): ``(r_of, h_of)`` with
    :math:`R(t) = t/(\Psi'(1)\psi(1 - e^{-t}))`, the R at which q = e^{-t} is a fixed point,
    and :math:`h = d\ln R/dt`."""
    m, psi = mean_degree(c), _edge_coeffs(c)
    dpsi = np.polynomial.polynomial.polyder(psi) if psi.size > 1 else np.zeros(1)

    def r_of(t):
        with np.errstate(divide="ignore", invalid="ignore"):
            return t / (m * _polyval(-np.expm1(-t), psi))

    def h_of(t):
        y = -np.expm1(-t)
        with np.errstate(divide="ignore"):
            return 1.0 / t - _polyval(y, dpsi) * np.exp(-t) / _polyval(y, psi)

    return r_of, h_of


def _e2_scan(r_of, h_of) -> tuple[np.ndarray, np.ndarray, list]:
    """Scan the E2 curve from t = 0 (q = 1) to t = 800 (q below the smallest double)."""
    t = np.concatenate([40.0 * _scan(), np.linspace(40.0, 800.0, 400)])
    x, r, peaks = _curve(np.unique(t), r_of, h_of)
    return np.concatenate([[0.0], x]), np.concatenate([[0.0], r]), peaks


def de_e2(R: np.ndarray | float, text_degrees: np.ndarray, log: bool = False) -> np.ndarray:
    r"""Limit :math:`u^{\infty}` of the E2 1-skill recursion (eq-em-de-e2) iterated from q = 1.

    Vectorised over R; found as the first point t = -ln q of the fixed-point curve, scanned
    from t = 0, with R(t) >= R (see the comment above ``_scan``), bisected to machine
    precision. With ``log=True`` returns :math:`\ln u^{\infty}` computed without underflow.
    When texts have no member of degree one, q = 1 is a fixed point and nothing is learned.
    """
    R = _check_ratio(R)
    c = _check_degrees(text_degrees, "text_degrees")
    log = check_bool(log, "log")
    _check_scan_memory(R.size, "de_e2")
    ct = (R * mean_degree(c)).ravel()
    if c[1] == 0:
        q_gap = np.zeros_like(ct)  # 1 - q at q = 1
    else:
        r_of, h_of = _e2_curve(c)
        t, r, _ = _e2_scan(r_of, h_of)
        t_star = _first_reach(R.ravel(), t, r, r_of)
        q_gap = np.where(np.isnan(t_star), 1.0, -np.expm1(-np.nan_to_num(t_star)))
    log_u = -ct * edge_pgf(c, q_gap)
    return (log_u if log else np.exp(log_u)).reshape(R.shape)


# ---------------------------------------------------------------------------- thresholds
def threshold_e1(
    skill_degrees: np.ndarray, K: int = 1, phi: float = 1.0, interference: float = 0.0
) -> float:
    r"""Emergence threshold :math:`R^*` of ensemble E1 (eq-em-rstar).

    :math:`R^*` is the first record maximum of the fixed-point curve
    :math:`R(s) = \Lambda'(1)\lambda(p(s))/s`, scanned from the top (q = 1) down, that the
    curve later falls below: the R at which the limit of the recursion first jumps. When the
    curve only rises, the transition is continuous and :math:`R^*` is its limit at s -> 0
    (where u reaches its floor), finite only if :math:`\lambda(p(0)) = 0`; ``inf`` otherwise.
    """
    c = _check_degrees(skill_degrees, "skill_degrees")
    K, phi = _check_learner(K, phi)
    b = check_scalar(interference, "interference", minimum=0.0)
    p_of, r_of, h_of = _e1_curve(c, K, phi, b)
    s, r, peaks = _e1_scan(r_of, h_of, 2e4)
    if peaks:
        return float(peaks[0][1])
    # continuous: R(s) rises towards s -> 0; finite limit only if lambda(p(0)) = 0
    return float(r[-1]) if _polyval(p_of(0.0), _edge_coeffs(c)) == 0 else float("inf")


def threshold_e2(text_degrees: np.ndarray) -> float:
    r"""Threshold :math:`R^*` of ensemble E2 (1-skill learner), eq-em-rstar-e2.

    The first record maximum of :math:`R(t) = t/(\Psi'(1)\psi(1-e^{-t}))`, t = -ln q, that
    the curve later falls below. Returns ``inf`` when texts have no degree-1 members (peeling
    never starts) or when the curve only rises (the unlearned fraction only decays).
    """
    c = _check_degrees(text_degrees, "text_degrees")
    if c[1] == 0:
        return float("inf")
    _, _, peaks = _e2_scan(*_e2_curve(c))
    return float(peaks[0][1]) if peaks else float("inf")


def threshold_e2_poisson(d: float) -> float:
    r"""Closed-form E2 threshold for Poisson(d) texts (eq-em-rstar-poisson).

    :math:`R^* = e^{dq_2}/(d^2 q_2)` with :math:`q_2\ln(1/q_2)=1/d` and :math:`q_2 > 1/e`;
    defined for d > e, returns ``inf`` otherwise (no jump).
    """
    d = check_scalar(d, "d", minimum=0.0, maximum=1e6)  # q2 = 1 - O(1/d) is resolved to 1e6
    if d <= np.e:
        return float("inf")
    q2 = brentq(lambda q: q * np.log(1 / q) - 1 / d, 1 / np.e, 1 - 1e-15)
    with np.errstate(over="ignore"):  # beyond d of about 700, R* exceeds the largest double
        return float(np.exp(d * q2) / (d * d * q2))


# ------------------------------------------------------------------------------ scaling laws
_ZIPF_GAMMA = (0.25, 100.0)  # numpy draws Zipf indices below 2**63: a mass < 3e-5 is cut off


def _check_zipf(gamma: object, min_count: object) -> tuple[float, int]:
    lo, hi = _ZIPF_GAMMA
    gamma = check_scalar(gamma, "gamma", minimum=lo, maximum=hi)
    return gamma, check_int(min_count, "min_count", 1, maximum=10**9)


def zipf_law(n_texts: np.ndarray | float, gamma: float, min_count: int = 1) -> np.ndarray:
    r"""Unlearned skill mass :math:`C_{\gamma,m}\,N_t^{-\nu}`, :math:`\nu=\gamma/(1+\gamma)`
    (eq-em-zipf-law).

    Skills :math:`i = 1, 2, \dots` occur with frequencies
    :math:`f_i = i^{-(1+\gamma)}/\zeta(1+\gamma)` and a skill is learned once it has appeared
    in ``min_count`` = m of the :math:`N_t` = ``n_texts`` training texts; with
    :math:`C_{\gamma,m} = \Gamma(m+\nu) /
    (\gamma\,\Gamma(m)\,\zeta(1+\gamma)^{1/(1+\gamma)})` this is the
    frequency-weighted unlearned mass after a Poisson(:math:`N_t`) number of texts (exact up
    to terms smaller than every power of :math:`N_t`), and after exactly :math:`N_t` texts up
    to a factor :math:`1 + O(1/N_t)` (thm-em-zipf).
    """
    from scipy.special import zeta

    n = check_array(n_texts, "n_texts")
    if np.any(n <= 0):
        raise ValueError(f"n_texts must be positive, got a minimum of {n.min():g}")
    gamma, m = _check_zipf(gamma, min_count)
    nu = gamma / (1.0 + gamma)
    log_c = gammaln(m + nu) - gammaln(m) - np.log(gamma) - np.log(zeta(1.0 + gamma)) / (1 + gamma)
    return np.exp(log_c - nu * np.log(n))


def zipf_learning_curve(
    n_texts: np.ndarray, gamma: float, rng: np.random.Generator, min_count: int = 1
) -> np.ndarray:
    r"""Simulated unlearned skill mass after each of ``n_texts`` training texts (eq-em-zipf-law).

    One stream of ``max(n_texts)`` texts, each holding one skill drawn independently with
    probability :math:`f_i = i^{-(1+\gamma)}/\zeta(1+\gamma)` (the ensemble Z of the chapter,
    not E2: E2 draws skills uniformly; with one skill per text peeling learns exactly the
    skills that appear); a skill
    is learned once it has appeared ``min_count`` times. Returns
    :math:`\sum_{i\ \text{unlearned}} f_i` after the first n texts, for each n (nested
    prefixes of the one stream).
    """
    from scipy.special import zeta

    n = check_array(n_texts, "n_texts", ndim=1, dtype="integral")
    if n.min() < 1:
        raise ValueError(f"n_texts must be positive, got a minimum of {n.min()}")
    gamma, m = _check_zipf(gamma, min_count)
    rng = check_generator(rng, "rng")
    n_max = int(n.max())
    check_memory(8 * 8 * n_max, f"a stream of max(n_texts) = {n_max} texts")
    tail = 1.0 + gamma
    draws = rng.zipf(tail, size=n_max)
    order = np.argsort(draws, kind="stable")  # texts grouped by skill, in stream order
    skill = draws[order]
    first = np.flatnonzero(np.concatenate([[True], skill[1:] != skill[:-1]]))
    count = np.diff(np.append(first, skill.size))
    keep = count >= m
    when = order[first[keep] + m - 1]  # the text that brings a skill's m-th appearance
    mass = skill[first[keep]].astype(float) ** -tail / zeta(tail)
    by_time = np.argsort(when)
    learned = np.concatenate([[0.0], np.cumsum(mass[by_time])])
    seen = np.searchsorted(when[by_time], n, side="left")  # learned within texts 0..n-1
    return np.clip(1.0 - learned[seen], 0.0, 1.0)


def size_biased_unlearned(u: np.ndarray | float, skill_degrees: np.ndarray) -> np.ndarray:
    r"""Unlearned fraction of skill occurrences, :math:`p\,\lambda(p)` with :math:`u=\Lambda(p)`.

    In E1 a text draws its skills in proportion to their degrees, so a skill of a test text
    distributed like the training texts is unlearned with this probability (eq-em-test-sb),
    not with u. Inverts :math:`\Lambda` by bisection (it increases on [0, 1]).
    """
    c = _check_degrees(skill_degrees, "skill_degrees")
    u = check_array(u, "u", allow_empty=True)
    if np.any((u < c[0]) | (u > 1)):
        raise ValueError(
            f"u must lie in [Λ(0), 1] = [{c[0]:g}, 1] for these skill_degrees, got values "
            f"from {u.min():g} to {u.max():g}"
        )
    lo, hi = np.zeros_like(u), np.ones_like(u)
    for _ in range(200):  # 2**-200: p to full precision down to p ~ 1e-44
        mid = 0.5 * (lo + hi)
        below = _polyval(mid, c) < u
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
    p = np.where(u > c[0], 0.5 * (lo + hi), 0.0)
    return p * _polyval(p, _edge_coeffs(c))


# ------------------------------------------------------------ finite size, 2-core and EXIT
# With Λ = x^k a skill is a hyperedge of k texts, and the 1-skill learner is 2-core stripping
# (eq-em-core): the skills it never learns are the hyperedges of the 2-core of the k-uniform
# hypergraph whose vertices are the texts. The functions below work on that hypergraph with
# code of their own (not `peel`), so that each checks the other.


def sample_hypergraph(
    n_vertices: int, n_edges: int, k: int, rng: np.random.Generator
) -> np.ndarray:
    r"""``n_edges`` hyperedges of ``k`` distinct vertices each, uniform and independent.

    Returns integer vertex ids of shape ``(n_edges, k)``. With texts as vertices and skills as
    hyperedges it is ensemble E1 with :math:`\Lambda = x^k` at ``R = n_vertices / n_edges``
    (eq-em-core).
    """
    n_vertices = check_int(n_vertices, "n_vertices", 1, maximum=2**62)
    n_edges = check_int(n_edges, "n_edges", 0)
    k = check_int(k, "k", 1, maximum=n_vertices)
    check_generator(rng, "rng")
    check_memory(8 * 3 * n_edges * k, f"{n_edges} hyperedges of k={k} vertices (n_edges, k)")
    if k * k > n_vertices:  # many repeats: take the first k of a random order instead
        check_memory(8 * 3 * n_edges * n_vertices, f"{n_edges} random orders of {n_vertices}")
        return np.argsort(rng.random((n_edges, n_vertices)), axis=1)[:, :k]
    out = rng.integers(0, n_vertices, size=(n_edges, k))
    redo = np.arange(n_edges)
    while k > 1 and redo.size:  # redraw the hyperedges that repeat a vertex
        s = np.sort(out[redo], axis=1)
        redo = redo[(s[:, 1:] == s[:, :-1]).any(axis=1)]
        out[redo] = rng.integers(0, n_vertices, size=(redo.size, k))
    return out


def _check_hyperedges(edges: object, n_vertices: object) -> tuple[np.ndarray, int]:
    n_vertices = check_int(n_vertices, "n_vertices", 1, maximum=2**62)
    edges = check_array(edges, "edges", dtype="integral", allow_empty=True)
    if edges.ndim < 2 or edges.shape[-1] < 1:
        raise ValueError(f"edges must have shape (..., n_edges, k) with k >= 1, got {edges.shape}")
    if edges.size and (edges.min() < 0 or edges.max() >= n_vertices):
        raise ValueError(f"edges must hold vertex ids in [0, n_vertices) = [0, {n_vertices})")
    return edges.astype(np.int64), n_vertices


def _first_of(ids: np.ndarray, scratch: np.ndarray) -> np.ndarray:
    """The distinct entries of ``ids`` (first occurrences), using a scratch array over all ids."""
    pos = np.arange(ids.size)
    scratch[ids] = pos
    return ids[scratch[ids] == pos]


def _degrees(edges: np.ndarray, n: int, alive: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Degree of each vertex and the sum of the ids of its hyperedges, over the alive ones.

    At a vertex of degree one the sum is the id of its only hyperedge, so stripping needs no
    incidence lists (the ids stay below 2**53, where float64 sums are exact).
    """
    ids = np.flatnonzero(alive)
    ends = edges[ids].ravel()
    total = np.bincount(ends, weights=np.repeat(ids, edges.shape[1]), minlength=n)
    return np.bincount(ends, minlength=n), total.astype(np.int64)


def _remove(edges: np.ndarray, gone: np.ndarray, deg: np.ndarray, total: np.ndarray):
    """Take the hyperedges ``gone`` away from the degrees and sums; the vertices touched."""
    touched = edges[gone].ravel()
    np.subtract.at(deg, touched, 1)
    np.subtract.at(total, touched, np.repeat(gone, edges.shape[1]))
    return touched


def _strip(edges: np.ndarray, n: int, alive: np.ndarray) -> np.ndarray:
    """Remove, round after round, every alive hyperedge at a vertex of degree one (eq-em-core).

    ``alive`` (changed in place) marks the hyperedges present; what stays alive is the 2-core.
    Each round visits only the vertices whose degree has just dropped to one: O(m k) work.
    """
    deg, total = _degrees(edges, n, alive)
    seen_e, seen_v = np.empty(alive.size, dtype=np.int64), np.empty(n, dtype=np.int64)
    leaves = np.flatnonzero(deg == 1)
    while leaves.size:
        gone = _first_of(total[leaves], seen_e)
        alive[gone] = False
        touched = _remove(edges, gone, deg, total)
        leaves = _first_of(touched[deg[touched] == 1], seen_v)
    return alive


def two_core(edges: np.ndarray, n_vertices: int) -> np.ndarray:
    """Which hyperedges lie in the 2-core, the largest sub-hypergraph of minimum degree two.

    ``edges`` has shape ``(n_edges, k)``. Stripping vertices of degree one with their hyperedges
    until none is left gives the 2-core whatever the order (eq-em-core). Returns a boolean mask.
    """
    edges, n = _check_hyperedges(edges, n_vertices)
    if edges.ndim != 2:
        raise ValueError(f"edges must have shape (n_edges, k), got {edges.shape}")
    check_memory(
        8 * (6 * edges.size + 4 * n), f"the 2-core of {edges.shape[0]} edges on n_vertices={n}"
    )
    return _strip(edges, n, np.ones(edges.shape[0], dtype=bool))


def core_birth(edges: np.ndarray, n_vertices: int, min_size: int = 1) -> np.ndarray:
    """Number of leading hyperedges at which the 2-core first holds ``min_size`` hyperedges.

    ``edges`` has shape ``(..., n_edges, k)``: sequences of hyperedges added one at a time;
    returns, per sequence, the smallest m whose first m hyperedges have a 2-core of at least
    ``min_size`` hyperedges (``n_edges + 1`` if there is none), eq-em-fss. A ``min_size`` of a
    fraction of the vertices asks for a giant core and ignores small cores (two hyperedges on
    the same k vertices, say). The core is found once for the whole sequence; then
    hyperedges are taken away from the last one down. Taking away one outside the core changes
    nothing, and the core of a prefix lies in the core of every longer prefix, so deleting the
    latest hyperedge of the current core and stripping again gives the core of the shorter
    prefix. The m sought is one more than the index of the deletion that leaves fewer than
    ``min_size``. All sequences run together, each deleting once its last stripping has ended.
    """
    edges, n = _check_hyperedges(edges, n_vertices)
    min_size = check_int(min_size, "min_size", 1)
    lead, (m, k) = edges.shape[:-2], edges.shape[-2:]
    t = int(np.prod(lead))
    check_memory(8 * (8 * t * m * k + 3 * t * n), f"{t} x {m} edges on n_vertices={n} (core_birth)")
    flat = (edges.reshape(t, m, k) + n * np.arange(t)[:, None, None]).reshape(t * m, k)
    alive = _strip(flat, t * n, np.ones(t * m, dtype=bool))
    core = np.flatnonzero(alive)  # by sequence, then by index
    left = np.bincount(core // m, minlength=t)  # hyperedges still in each core
    top = np.searchsorted(core, m * np.arange(t)) + left - 1  # the latest of each core
    birth = np.full(t, m + 1, dtype=np.int64)
    deg, total = _degrees(flat, t * n, alive)
    seen_e, seen_v = np.empty(t * m, dtype=np.int64), np.empty(t * n, dtype=np.int64)
    leaves = np.zeros(0, dtype=np.int64)
    while True:
        if leaves.size:  # one round of stripping in every sequence that has leaves
            gone = _first_of(total[leaves], seen_e)
            alive[gone] = False
            left -= np.bincount(gone // m, minlength=t)
            touched = _remove(flat, gone, deg, total)
            leaves = _first_of(touched[deg[touched] == 1], seen_v)
        ready = (left >= min_size) & (np.bincount(leaves // n, minlength=t) == 0)
        if not ready.any():
            if leaves.size:
                continue
            break
        seq = np.flatnonzero(ready)
        while True:  # skip the hyperedges that stripping has removed
            dead = ~alive[core[top[seq]]]
            if not dead.any():
                break
            top[seq[dead]] -= 1
        gone = core[top[seq]]
        top[seq] -= 1
        birth[seq] = gone % m + 1  # final once the core falls below min_size
        alive[gone] = False
        left[seq] -= 1
        touched = _remove(flat, gone, deg, total)
        leaves = _first_of(np.concatenate([leaves, touched[deg[touched] == 1]]), seen_v)
    return birth.reshape(lead) if lead else int(birth[0])


def core_threshold(k: int) -> float:
    r"""Edge density :math:`G^*_k` at which the 2-core of a random k-uniform hypergraph appears.

    :math:`G^*_k = \min_{s>0} s / (k(1-e^{-s})^{k-1}) = 1/R^*(x^k)` (eq-em-core), with s = aq the
    Poisson load of a text; the minimiser solves :math:`e^s - 1 = (k-1)s`, found by bracketing
    root search. For k = 2 the minimum is the limit s -> 0, :math:`G^*_2 = 1/2`, returned as such.
    """
    k = check_int(k, "k", 2, maximum=2**62)
    if k == 2:
        return 0.5
    top = 2.0 * np.log(k) + 5.0  # e^top - 1 > (k - 1) top: the root lies below
    x = brentq(lambda z: np.expm1(z) - (k - 1) * z, 1e-3, top, xtol=1e-15, rtol=1e-15)
    return float(x / (k * (-np.expm1(-x)) ** (k - 1)))


def critical_ratios(
    n_texts: int, k: int, trials: int, rng: np.random.Generator, min_core: float = 0.1
) -> np.ndarray:
    r"""The critical R of ``trials`` random E1 graphs with :math:`\Lambda = x^k` (eq-em-fss).

    Each trial fixes ``n_texts`` texts and adds skills (hyperedges of k texts) one at a time.
    The learner fails once the 2-core holds ``min_core * n_texts`` skills or more (a giant core;
    smaller cores are the rare small stopping sets); if that first happens at the m-th skill,
    the graph's critical ratio is ``n_texts / (m - 1/2)``: at every R above it (fewer skills)
    the learner learns all but a few skills, at every R below it, it does not; the half puts
    it midway between the two.
    """
    n_texts = check_int(n_texts, "n_texts", 1, maximum=2**62)
    k = check_int(k, "k", 3, maximum=n_texts)
    trials = check_int(trials, "trials", 1, maximum=10**6)
    check_generator(rng, "rng")
    min_core = check_scalar(min_core, "min_core", minimum=0.0, maximum=1.0, include_min=False)
    size = max(1, int(np.ceil(min_core * n_texts)))
    # 2.5 sqrt(n) hyperedges above G* n is more than five standard deviations of the birth
    m = int(np.ceil(n_texts * core_threshold(k) + 2.5 * np.sqrt(n_texts))) + k
    check_memory(8 * 8 * m * k + 8 * trials, f"critical ratios of {n_texts} texts (n_texts, k)")
    out = np.empty(trials)
    batch = max(1, 2_000_000 // (m * k))
    for first in range(0, trials, batch):
        count = min(batch, trials - first)
        seqs = np.stack([sample_hypergraph(n_texts, m, k, rng) for _ in range(count)])
        births = np.atleast_1d(core_birth(seqs, n_texts, size))
        for j in np.flatnonzero(births > m):  # no core yet: extend the same sequence
            seq = seqs[j]
            while births[j] > seq.shape[0]:
                seq = np.concatenate([seq, sample_hypergraph(n_texts, m, k, rng)])
                births[j] = core_birth(seq, n_texts, size)
        out[first : first + count] = n_texts / (births - 0.5)
    return out


def _check_exit(x: object, skill_degrees: object) -> tuple[np.ndarray, np.ndarray]:
    x = check_array(x, "x", allow_empty=True)
    if np.any((x <= 0) | (x > 1)):
        raise ValueError(f"x must lie in (0, 1], got values from {x.min():g} to {x.max():g}")
    return x, _check_degrees(skill_degrees, "skill_degrees")


def exit_curves(
    x: np.ndarray | float, R: float, skill_degrees: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    r"""The two curves of the EXIT chart of E1 with the 1-skill learner (eq-em-exit).

    ``x`` is the probability that a text teaches the skill at the end of an edge, 1 - p.
    Returns ``(skill, text_inverse)``: the skill side's answer :math:`1 - \lambda(1 - x)`, the
    probability that a skill is learned through its other texts (1 - q), and the inverse of the
    text side, :math:`1 + R\ln(x)/\Lambda'(1)`, the 1 - q at which texts teach with
    probability x. Density evolution climbs the staircase between the two curves; their
    areas obey eq-em-exit-area.
    """
    x, c = _check_exit(x, skill_degrees)
    R = check_scalar(R, "R", minimum=0.0, include_min=False)
    return 1.0 - _polyval(1.0 - x, _edge_coeffs(c)), 1.0 + R * np.log(x) / mean_degree(c)


def _exit_gap(x: np.ndarray, R: float, c: np.ndarray) -> np.ndarray:
    r"""Skill curve minus inverse text curve, :math:`-R\ln(x)/\Lambda'(1) - \lambda(1-x)`.

    Written without the two 1s that cancel, so that it keeps its digits as x -> 1.
    """
    return -R * np.log(x) / mean_degree(c) - _polyval(1.0 - x, _edge_coeffs(c))


def _tunnel_open(R: float, x: np.ndarray, c: np.ndarray) -> bool:
    """Whether the skill curve lies above the inverse text curve at every x in (0, 1)."""
    gap = _exit_gap(x, R, c)
    if np.any(gap <= 0):
        return False
    dips = np.flatnonzero((gap[1:-1] <= gap[:-2]) & (gap[1:-1] <= gap[2:])) + 1
    for i in dips:  # a dip narrower than the grid: minimise between the neighbours
        res = minimize_scalar(
            lambda z: float(_exit_gap(z, R, c)),
            bounds=(x[i - 1], x[i + 1]),
            method="bounded",
            options={"xatol": 1e-13},
        )
        if res.fun <= 0:
            return False
    return True


def exit_threshold(skill_degrees: np.ndarray, points: int = 20001) -> float:
    r"""The smallest R at which the EXIT tunnel of E1 (1-skill learner) is open (eq-em-exit-sup).

    Open means the skill curve of :func:`exit_curves` lies strictly above the inverse text curve
    on all of (0, 1), so that the staircase climbs to x = 1 (every skill learned). With p = 1 - x
    that is R > R(p) for every p, so the value returned is :math:`\sup_{0<p<1} R(p)`, the larger
    of the highest interior maximum of R(p) and its limit :math:`2\Lambda_2` at p -> 0: the ratio
    beyond which every skill is learned. It equals the jump :func:`threshold_e1` returns only when
    the first record maximum of R(p) is global and above :math:`2\Lambda_2` (for
    :math:`0.6x^2+0.4x^8` it is 1.2 against a jump at 1.144). The curves are compared on
    ``points`` grid points, every local minimum of their gap is refined by a scalar search, and R
    is bisected to about 1e-14 relative. Needs :math:`\Lambda_1 = 0` (a skill of degree one is
    never learned when its text holds another unlearned skill; the tunnel then never opens up to
    x = 1) and returns ``inf`` otherwise.
    """
    c = _check_degrees(skill_degrees, "skill_degrees")
    points = check_int(points, "points", 3, maximum=10**7)
    check_memory(8 * 6 * points, f"an EXIT chart of points={points}")
    if c[1] > 0:
        return float("inf")
    t = np.linspace(0.0, 1.0, points)[1:-1]
    x = np.unique(np.concatenate([t, 1 - np.logspace(-12, -2, 200), np.logspace(-12, -2, 200)]))
    lo, hi = 0.0, mean_degree(c)  # R(p) <= Λ'(1): λ(p) <= p when λ(0) = 0, and -ln(1-p) >= p
    while not _tunnel_open(hi, x, c):
        lo, hi = hi, 2 * hi
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi) or hi - lo <= 1e-15 * hi:
            break
        lo, hi = (lo, mid) if _tunnel_open(mid, x, c) else (mid, hi)
    return float(hi)


# ----------------------------------------------------------------- testing error, scaling
def testing_error(u: np.ndarray | float, test_degrees: np.ndarray) -> np.ndarray:
    r"""Testing error :math:`\epsilon = 1 - \Psi_{test}(1-u)` (eq-em-test).

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
    r"""Fit :math:`y = C x^{\alpha}` on log–log axes; returns (α, C) (eq-em-scaling-e1)."""
    x, y = _fit_args(x, y)
    if np.any(x <= 0):
        raise ValueError("x must be positive for a power-law fit")
    slope, icpt = np.polyfit(np.log(x), np.log(y), 1)
    return float(slope), float(np.exp(icpt))


def fit_exponential(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    r"""Fit :math:`y = C e^{\beta x}` on semilog axes; returns (β, C) (eq-em-scaling-e2)."""
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
    r"""Giant-component fraction under independent site occupation (eq-emb-giant).

    Solves :math:`x = \psi(y)`, :math:`y = 1-\ell+\ell\lambda(x)` from x = 0 and returns
    :math:`\ell(1-\Lambda(x))`, with ``occupied`` the learned fraction :math:`\ell`; a giant
    exists iff :math:`\ell\lambda'(1)\psi'(1) > 1`. The iteration stops at a fixed point
    or after ``iterations`` rounds; at the critical point itself (branching factor exactly 1)
    it converges only as O(1/i), so there the value is off by about 1/``iterations``.
    """
    cs = _check_degrees(skill_degrees, "skill_degrees")
    ct = _check_degrees(text_degrees, "text_degrees")
    ell = check_scalar(occupied, "occupied", minimum=0.0, maximum=1.0)
    iterations = _check_iterations(iterations, 1)
    lam, psi = _edge_coeffs(cs), _edge_coeffs(ct)
    x = 0.0
    for _ in range(iterations):
        x_next = _polyval(1 - ell + ell * _polyval(x, lam), psi)
        if x_next == x:
            break  # a fixed point: further iterations change nothing
        x = x_next
    return float(ell * (1 - pgf(cs, x)))


# ---------------------------------------------------------------- semantic compression
def semantic_code_bits(n_skills: int, k: int, ordered: bool = True) -> float:
    r"""Bits to name ``k`` distinct skills out of ``n_skills`` (eq-emb-rate).

    :math:`\log_2\binom{N_s}{k}`, plus :math:`\log_2 k!` for their order when ``ordered``.
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
    """A surface phrase for each skill: ``words`` words from a random ``vocabulary``.

    The vocabulary holds ``vocabulary`` pseudo-words of three syllables, each drawn uniformly
    from 70 (14 consonants times 5 vowels), so a few words can repeat; each phrase draws its
    words uniformly from the vocabulary.
    """
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
