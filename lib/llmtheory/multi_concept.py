"""In-context learning with multi-concept word semantics (after Bu et al., NeurIPS 2024).

The concept-based sparse-coding prompt model, a one-layer softmax-attention + ReLU-MLP
transformer, a constructed transformer with its closed-form predictions, the
Bayes-optimal predictor, and the idempotent block projections used to read the
learning dynamics. The data model and architecture are the book's reconstruction
(chapter ``ch-multi-concept``); the rigorous statements are in the paper.
Equation labels in the docstrings refer to that chapter.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.special import expit
from scipy.stats import binom, norm

from .validation import (
    check_array,
    check_bool,
    check_generator,
    check_instance,
    check_int,
    check_memory,
    check_probabilities,
    check_scalar,
    check_tensor,
    describe,
)

__all__ = [
    "ConceptDictionary",
    "MultiConceptTransformer",
    "Prompts",
    "bayes_error",
    "bayes_predict",
    "block_products",
    "concept_block_projection",
    "concept_scales",
    "concept_signs",
    "concept_dictionary",
    "constructed_error",
    "constructed_transformer",
    "correct_attention",
    "dictionary_basis",
    "distilled_transformer",
    "error_floor",
    "expected_block_gradient",
    "identify_pairing",
    "in_context_bayes_predict",
    "logistic_loss",
    "mlp_products",
    "predicted_correct_attention",
    "predicted_scaled_construction",
    "sample_prompts",
    "zero_one_error",
]


# ----------------------------------------------------------------------------- data model


@dataclass(frozen=True)
class ConceptDictionary:
    """Orthonormal dictionary ``{u_k, v_k, r_k, t_k}`` (rows of ``U, V, R, T``, each ``(K, d)``).

    Word features are ``mu_k^± = alpha u_k ± beta v_k`` and label features
    ``q_k^± = alpha r_k ± beta t_k`` (eq-mc-features). ``N`` holds an orthonormal
    basis of the ``d - 4K`` remaining (pure-noise) directions.
    """

    U: np.ndarray
    V: np.ndarray
    R: np.ndarray
    T: np.ndarray
    N: np.ndarray
    alpha: float
    beta: float

    def __post_init__(self) -> None:
        K, d = check_array(self.U, "U", ndim=2).shape
        for name in ("V", "R", "T"):
            check_array(getattr(self, name), name, shape=(K, d))
        check_array(self.N, "N", shape=(d - 4 * K, d), allow_empty=True)
        check_scalar(self.alpha, "alpha", minimum=0.0, include_min=False)
        check_scalar(self.beta, "beta", minimum=0.0, include_min=False)

    @property
    def d(self) -> int:
        """Embedding dimension of a word (a token has dimension ``2d``)."""
        return self.U.shape[1]

    @property
    def K(self) -> int:  # noqa: N802 - the paper's symbol
        """Number of concepts."""
        return self.U.shape[0]


def _check_dic(dic: object) -> ConceptDictionary:
    return check_instance(dic, "dic", ConceptDictionary, "a ConceptDictionary")


def _check_prompts(p: object, d: int | None = None) -> Prompts:
    p = check_instance(p, "p", Prompts, "Prompts (from sample_prompts)")
    if d is not None and p.H.shape[-1] != 2 * d:
        raise ValueError(
            f"p must hold tokens of dimension 2d = {2 * d} (the dictionary's or model's d), "
            f"got {p.H.shape[-1]}"
        )
    return p


def concept_dictionary(
    d: int, K: int, *, alpha: float = 1.0, beta: float = 0.8, rng: np.random.Generator
) -> ConceptDictionary:
    """Draw a random orthonormal concept dictionary (eq-mc-features).

    Parameters
    ----------
    d, K
        Word dimension and number of concepts; ``d >= 4K`` so the ``4K`` directions fit.
    alpha, beta
        Shared and semantic feature strengths, ``alpha > beta > 0`` so that the two
        features of a concept have a positive inner product ``alpha^2 - beta^2``.
    rng
        Source of the random rotation.
    """
    K = check_int(K, "K")
    d = check_int(d, "d")
    if d < 4 * K:
        raise ValueError(
            f"d must be at least 4 * K = {4 * K} (K={K}) to hold the dictionary, got {d}"
        )
    alpha = check_scalar(alpha, "alpha", minimum=0.0, include_min=False)
    beta = check_scalar(beta, "beta", minimum=0.0, include_min=False)
    if beta >= alpha:
        raise ValueError(f"beta must be smaller than alpha ({alpha}), got {beta}")
    rng = check_generator(rng, "rng")
    check_memory(4 * 8 * d * d, f"a random rotation in d={d}")
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    rows = q.T
    return ConceptDictionary(
        U=rows[:K], V=rows[K : 2 * K], R=rows[2 * K : 3 * K], T=rows[3 * K : 4 * K],
        N=rows[4 * K :], alpha=alpha, beta=beta,
    )  # fmt: skip


@dataclass(frozen=True)
class Prompts:
    """A batch of ``n`` prompts as float32 tensors (eq-mc-prompt): demonstration tokens ``H``
    ``(n, L, 2d)``, query token ``hq`` ``(n, 2d)``, target ``z`` ``(n,)`` in ±1, task concept
    ``task`` ``(n,)``, the demonstrations' semantic signs ``z_demo`` ``(n, L)`` and the
    number of concepts ``K`` of the dictionary they were drawn from (None when unknown)."""

    H: torch.Tensor
    hq: torch.Tensor
    z: torch.Tensor
    task: torch.Tensor
    z_demo: torch.Tensor
    K: int | None = None

    def __post_init__(self) -> None:
        n, L, width = check_tensor(self.H, "H", ndim=3, finite=False).shape
        check_tensor(self.hq, "hq", shape=(n, width), finite=False)
        check_tensor(self.z, "z", shape=(n,), finite=False)
        check_tensor(self.task, "task", shape=(n,), dtype="int")
        check_tensor(self.z_demo, "z_demo", shape=(n, L), finite=False)
        if self.K is not None:
            check_int(self.K, "K")

    @property
    def batch(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(H, hq, z)``, the argument of :func:`logistic_loss`."""
        return self.H, self.hq, self.z


def _tensor(a: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.as_tensor(a, dtype=torch.float32, device=device)


def _words(
    dic: ConceptDictionary,
    task: torch.Tensor,
    n_words: int,
    n_irr: int,
    sigma: float,
    generator: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Words ``x = sum_{k in S} mu_k^{z_k} + sigma xi`` with ``S = {task} ∪ n_irr others``
    (eq-mc-word); returns the words ``(n, n_words, d)`` and the task signs ``(n, n_words)``."""
    n, dev = task.shape[0], generator.device
    keys = torch.rand(n, n_words, dic.K, generator=generator, device=dev)
    keys[torch.arange(n, device=dev), :, task] = -1.0  # the task concept always comes first
    active = torch.zeros_like(keys).scatter_(
        -1, keys.topk(n_irr + 1, dim=-1, largest=False).indices, 1.0
    )
    signs = 2.0 * torch.randint(0, 2, keys.shape, generator=generator, device=dev) - 1.0
    x = dic.alpha * active @ _tensor(dic.U, dev) + dic.beta * (active * signs) @ _tensor(dic.V, dev)
    x += sigma * torch.randn(x.shape, generator=generator, device=dev)
    return x, signs[torch.arange(n, device=dev), :, task]


def sample_prompts(
    dic: ConceptDictionary,
    n: int,
    L: int,
    *,
    sigma: float,
    sigma_y: float = 0.05,
    n_irr: int = 1,
    task_probs: np.ndarray | None = None,
    label_concept: np.ndarray | None = None,
    flip_labels: bool = False,
    generator: torch.Generator,
) -> Prompts:
    """Sample ``n`` prompts of ``L`` demonstrations (eq-mc-prompt) on ``generator``'s device.

    Parameters
    ----------
    dic
        The concept dictionary.
    n, L
        Number of prompts and of demonstrations per prompt.
    sigma, sigma_y
        Noise level of the words and of the labels.
    n_irr
        Number of task-irrelevant concepts in every word (polysemy), ``0 <= n_irr < K``.
    task_probs
        Distribution of the task concept over the ``K`` concepts (default: uniform);
        a skewed one is an out-of-distribution test.
    label_concept
        A permutation of ``range(K)``: task ``k`` is labelled with the label features
        of concept ``label_concept[k]`` (default: its own). A non-identity permutation
        switches the semantic features that pair words with labels.
    flip_labels
        Label every demonstration with the opposite feature ``q^{-z}``; the target is then
        ``-z`` (the flipped map that the demonstrations teach).
    generator
        A seeded :class:`torch.Generator`; the prompts live on its device.
    """
    _check_dic(dic)
    check_generator(generator, "generator", kind="torch")
    n, L = check_int(n, "n"), check_int(L, "L")
    flip_labels = check_bool(flip_labels, "flip_labels")
    check_memory(
        4 * 6 * n * (L + 1) * (dic.K + 2 * dic.d), f"n={n} prompts of L={L} demonstrations"
    )
    sigma, sigma_y = (
        check_scalar(sigma, "sigma", minimum=0.0),
        check_scalar(sigma_y, "sigma_y", minimum=0.0),
    )
    n_irr = check_int(n_irr, "n_irr", minimum=0)
    if n_irr >= dic.K:
        raise ValueError(f"n_irr must be smaller than K = {dic.K}, got {n_irr}")
    if task_probs is None:
        probs = np.full(dic.K, 1.0 / dic.K)
    else:
        probs = check_probabilities(task_probs, "task_probs", atol=1e-5)
        if probs.shape != (dic.K,):
            raise ValueError(f"task_probs must have K = {dic.K} entries, got {probs.size}")
    if label_concept is None:
        perm = np.arange(dic.K)
    else:
        perm = check_array(label_concept, "label_concept", dtype="int", shape=(dic.K,))
        if not np.array_equal(np.sort(perm), np.arange(dic.K)):
            raise ValueError(f"label_concept must be a permutation of range(K = {dic.K})")
    dev = generator.device
    task = torch.multinomial(_tensor(probs, dev), n, replacement=True, generator=generator)
    x, zs = _words(dic, task, L + 1, n_irr, sigma, generator)
    z_demo, z = zs[:, :L], zs[:, L]
    lab = torch.as_tensor(perm, device=dev)[task]
    sign = -z_demo if flip_labels else z_demo
    R, T = _tensor(dic.R, dev)[lab], _tensor(dic.T, dev)[lab]
    y = dic.alpha * R[:, None, :] + dic.beta * sign[..., None] * T[:, None, :]
    y += sigma_y * torch.randn(y.shape, generator=generator, device=dev)
    H = torch.cat([x[:, :L], y], dim=-1)
    hq = torch.cat([x[:, L], torch.zeros_like(x[:, L])], dim=-1)
    return Prompts(H=H, hq=hq, z=-z if flip_labels else z, task=task, z_demo=z_demo, K=dic.K)


# ----------------------------------------------------------------------------- Bayes optimum


def bayes_predict(dic: ConceptDictionary, p: Prompts) -> torch.Tensor:
    """The Bayes-optimal prediction ``sign(v_{k*}^T x_q)`` (eq-mc-bayes); ``k*`` is read off
    the first label as the concept whose ``r_k`` it carries."""
    _check_dic(dic)
    _check_prompts(p, dic.d)
    d, dev = dic.d, p.H.device
    k_star = torch.argmax(p.H[:, 0, d:] @ _tensor(dic.R, dev).T, dim=1)
    proj = (p.hq[:, :d] * _tensor(dic.V, dev)[k_star]).sum(1)
    return torch.where(proj >= 0, 1.0, -1.0)


def identify_pairing(
    dic: ConceptDictionary, p: Prompts
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Identify a prompt's task from its demonstrations alone (sec-mc-ood).

    For every pair (label concept ``j``, word concept ``c``) it forms the correlation
    ``M_jc = sum_l (t_j^T y_l)(v_c^T x_l)`` over the demonstrations and returns the pair with
    the largest ``|M_jc|``: the task concept ``c`` (the word concept whose semantic sign the
    labels track), the label concept ``j`` and the polarity ``sign(M_jc)`` (-1 when the labels
    are flipped). Nothing about the pairing of word and label concepts is assumed, so it
    identifies switched (``label_concept``) and flipped tasks as well. Returns three ``(n,)``
    tensors ``(task, label_concept, polarity)``.
    """
    _check_dic(dic)
    _check_prompts(p, dic.d)
    d, dev, K = dic.d, p.H.device, dic.K
    yt = p.H[..., d:] @ _tensor(dic.T, dev).T  # (n, L, K): t_j^T y_l
    xv = p.H[..., :d] @ _tensor(dic.V, dev).T  # (n, L, K): v_c^T x_l
    M = torch.einsum("nlj,nlc->njc", yt, xv).reshape(-1, K * K)
    best = M.abs().argmax(dim=1)
    polarity = torch.sign(M.gather(1, best[:, None])[:, 0])
    return best % K, best // K, polarity


def in_context_bayes_predict(dic: ConceptDictionary, p: Prompts) -> torch.Tensor:
    """Predict ``polarity * sign(v_c^T x_q)`` with ``(c, polarity)`` identified from the
    demonstrations by :func:`identify_pairing` (sec-mc-ood).

    It knows the dictionary but not which label concept goes with which word concept, nor
    the polarity of the labels; once the task is identified it is the predictor of
    eq-mc-bayes, so its error is ``Phi(-beta / sigma)`` plus at most the probability of a
    wrong identification."""
    task, _, polarity = identify_pairing(dic, p)
    proj = (p.hq[:, : dic.d] * _tensor(dic.V, p.H.device)[task]).sum(1)
    return polarity * torch.where(proj >= 0, 1.0, -1.0)


def bayes_error(beta: float, sigma: float) -> float:
    """Bayes error ``Phi(-beta / sigma)`` of the ± semantic read-out (eq-mc-bayes-error)."""
    beta = check_scalar(beta, "beta", minimum=0.0, include_min=False)
    sigma = check_scalar(sigma, "sigma", minimum=0.0, include_min=False)
    return float(norm.cdf(-beta / sigma))


def error_floor(beta: float, sigma: float, L: int) -> float:
    """Error of the constructed transformer as ``lambda -> inf`` (eq-mc-floor):
    ``e_B (1 - 2^{-L}) + (1 - e_B) 2^{-L}``, about ``e_B + 2^{-L}``."""
    L = check_int(L, "L")
    e_b = bayes_error(beta, sigma)
    return e_b * (1 - 2.0**-L) + (1 - e_b) * 2.0**-L


# ----------------------------------------------------------------------------- the model


class MultiConceptTransformer(torch.nn.Module):
    """Softmax attention over the demonstrations followed by a ReLU MLP (eq-mc-model).

    ``s_l = h_l^T W h_q``, ``a = softmax(s)``, ``o = sum_l a_l h_l``,
    ``f = sum_r c_r ReLU(w_r^T o)`` with fixed ``c_r = ±1 / m`` (half of each sign).
    ``W`` is the merged key-query matrix.
    """

    def __init__(
        self,
        d: int,
        m: int = 16,
        *,
        w_init: float = 0.01,
        mlp_init: float = 0.1,
        query_in_values: bool = False,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        d = check_int(d, "d")
        m = check_int(m, "m", minimum=2)
        if m % 2:
            raise ValueError(f"m must be even (half positive, half negative read-out), got {m}")
        w_init, mlp_init = (
            check_scalar(w_init, "w_init", minimum=0.0),
            check_scalar(mlp_init, "mlp_init", minimum=0.0),
        )
        query_in_values = check_bool(query_in_values, "query_in_values")
        generator = check_generator(generator, "generator", kind="torch", allow_none=True)
        check_memory(4 * 4 * (4 * d * d + 2 * m * d), f"a model with d={d} and m={m}")
        self.d, self.m, self.query_in_values = d, m, query_in_values
        self.W = torch.nn.Parameter(w_init * torch.randn(2 * d, 2 * d, generator=generator))
        self.w = torch.nn.Parameter(mlp_init * torch.randn(m, 2 * d, generator=generator))
        a = torch.cat([torch.ones(m // 2), -torch.ones(m // 2)]) / m
        self.register_buffer("a", a)

    def attention(self, H: torch.Tensor, hq: torch.Tensor) -> torch.Tensor:
        """Attention weights ``(n, L)`` on the demonstrations (``(n, L + 1)`` with the query
        among the values, the query last)."""
        self._check_inputs(H, hq)
        keys = torch.cat([H, hq[:, None]], dim=1) if self.query_in_values else H
        scores = torch.einsum("nli,ni->nl", keys, hq @ self.W.T)
        return torch.softmax(scores, dim=-1)

    def forward(self, H: torch.Tensor, hq: torch.Tensor) -> torch.Tensor:
        """The output ``f`` ``(n,)``; its sign is the prediction."""
        self._check_inputs(H, hq)
        keys = torch.cat([H, hq[:, None]], dim=1) if self.query_in_values else H
        o = torch.einsum("nl,nli->ni", self.attention(H, hq), keys)
        return torch.relu(o @ self.w.T) @ self.a

    def _check_inputs(self, H: object, hq: object) -> None:
        """Shapes and dtypes only: a forward pass does not scan its input for NaN."""
        n, _, width = check_tensor(H, "H", ndim=3, dtype=self.W.dtype, finite=False).shape
        if width != 2 * self.d:
            raise ValueError(f"H must hold tokens of dimension 2d = {2 * self.d}, got {width}")
        check_tensor(hq, "hq", shape=(n, width), dtype=self.W.dtype, finite=False)


def logistic_loss(model: torch.nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """Mean logistic (binary cross-entropy) loss ``log(1 + exp(-z f))`` (eq-mc-loss)."""
    check_instance(model, "model", torch.nn.Module, "a torch.nn.Module")
    if not isinstance(batch, (tuple, list)) or len(batch) != 3:
        raise TypeError(f"batch must be a tuple (H, hq, z), got {describe(batch)}")
    for part, name in zip(batch, ("H", "hq", "z"), strict=True):
        check_tensor(part, f"batch (its {name})", finite=False)
    H, hq, z = batch
    try:
        f = model(H, hq)
    except (TypeError, RuntimeError) as exc:
        raise TypeError(f"model must map (H, hq) to outputs (n,); it failed: {exc}") from exc
    check_tensor(z, "z", shape=tuple(f.shape), dtype=f.dtype, finite=False)
    return torch.nn.functional.softplus(-z * f).mean()


def zero_one_error(f: torch.Tensor | np.ndarray, z: torch.Tensor | np.ndarray) -> float:
    """Fraction of prompts with ``z f <= 0``: an output of exactly 0 counts as an error."""
    f = _as_tensor(f, "f")
    z = _as_tensor(z, "z").to(f.device)
    if f.shape != z.shape:
        raise ValueError(
            f"f and z must have the same shape, got {tuple(f.shape)}, {tuple(z.shape)}"
        )
    if not bool(torch.all(z.abs() == 1)):
        raise ValueError("z must hold labels +1 and -1")
    return float((z * f <= 0).float().mean())


def _as_tensor(x: object, name: str) -> torch.Tensor:
    """A non-empty finite tensor from a tensor, an array or a list of numbers."""
    if not isinstance(x, torch.Tensor):
        x = torch.as_tensor(check_array(x, name, dtype="numeric", finite=False))
    return check_tensor(x, name, dtype=None)


def concept_signs(dic: ConceptDictionary, W: np.ndarray | torch.Tensor) -> np.ndarray:
    """Sign ``s_k`` of each concept's label-to-word product ``t_k^T W_yx v_k`` (eq-mc-blocks).

    Flipping the sign of one concept's block together with the MLP's read-out of ``t_k``
    gives a mirror solution that attends to the demonstrations with ``z_l = -z`` and, in
    expectation, errs as often (``n_+`` and ``n_-`` have one law); ``s_k`` says which of the two
    mirror solutions a run learned for concept ``k``."""
    W = _matrix(dic, W)
    d = dic.d
    return np.sign(np.einsum("kd,de,ke->k", dic.T, W[d:, :d], dic.V))


def correct_attention(
    model: MultiConceptTransformer, p: Prompts, signs: np.ndarray | None = None
) -> float:
    """Mean attention mass on the demonstrations with ``z_l = s_{k*} z`` (eq-mc-attention).

    ``signs`` are the per-concept signs ``s_k`` (default all +1: the demonstrations with the
    query's semantic sign), see :func:`concept_signs`."""
    check_instance(model, "model", MultiConceptTransformer, "a MultiConceptTransformer")
    _check_prompts(p, model.d)
    target = p.z
    if signs is not None:
        signs = check_array(signs, "signs", ndim=1)
        if not np.all(np.abs(signs) == 1):
            raise ValueError("signs must be a vector of ±1, one per concept")
        if p.K is not None and signs.size != p.K:
            raise ValueError(f"signs must have one entry per concept, K = {p.K}, got {signs.size}")
        if signs.size <= int(p.task.max()):
            raise ValueError(
                f"signs must have one entry per concept, got {signs.size} for task concepts up "
                f"to {int(p.task.max())}"
            )
        s = torch.as_tensor(signs, dtype=torch.float32, device=p.z.device)
        target = s[p.task] * p.z
    a = model.attention(p.H, p.hq)[:, : p.H.shape[1]]
    return float((a * (p.z_demo == target[:, None]).float()).sum(1).mean())


# ----------------------------------------------------------------------------- construction


def constructed_transformer(dic: ConceptDictionary, lam: float) -> MultiConceptTransformer:
    """The transformer of prop-mc-construction: ``W_yx = lam sum_k t_k v_k^T`` (label rows,
    word columns), all other blocks 0, and ``m = 2`` neurons ``w_± = ±sum_k t_k``."""
    _check_dic(dic)
    lam = check_scalar(lam, "lam", minimum=0.0)
    d = dic.d
    model = MultiConceptTransformer(d, m=2, w_init=0.0, mlp_init=0.0)
    W = np.zeros((2 * d, 2 * d))
    W[d:, :d] = lam * dic.T.T @ dic.V
    t_sum = np.concatenate([np.zeros(d), dic.T.sum(0)])
    with torch.no_grad():
        model.W.copy_(torch.as_tensor(W, dtype=torch.float32))
        model.w.copy_(torch.as_tensor(np.stack([t_sum, -t_sum]), dtype=torch.float32))
    return model


def _quadrature(
    lam: float, beta: float, sigma: float, L: int, n_nodes: int = 64
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Score half-gap ``kappa = lam beta (beta + sigma zeta)`` at the Gauss-Hermite nodes of
    ``zeta ~ N(0, 1)`` with their weights, and ``log(n_+ / n_-)`` with the law of
    ``n_+ ~ Bin(L, 1/2)`` (eq-mc-attention)."""
    check_memory(8 * 4 * (L + 1) * n_nodes, f"the quadrature over L={L} demonstrations")
    g, w = np.polynomial.hermite_e.hermegauss(n_nodes)
    n_plus = np.arange(L + 1)
    with np.errstate(divide="ignore"):
        log_ratio = np.log(n_plus) - np.log(L - n_plus)
    return lam * beta * (beta + sigma * g), w / w.sum(), log_ratio, binom.pmf(n_plus, L, 0.5)


def _attention_split(
    lam: float, beta: float, sigma: float, L: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """At every ``(n_+, zeta)`` node of :func:`_quadrature`: the attention mass ``A`` on the
    agreeing demonstrations, the attention ``sum_l a_l^2`` of eq-mc-attention, and the node
    weights of ``n_+`` and of ``g``."""
    m, wg, log_ratio, pn = _quadrature(lam, beta, sigma, L)
    x = 2 * m[None, :] + log_ratio[:, None]
    mass = expit(x)
    n_plus = np.arange(L + 1)[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        sq = np.where(n_plus > 0, mass**2 / n_plus, 0.0) + np.where(
            n_plus < L, (1 - mass) ** 2 / (L - n_plus), 0.0
        )
    return mass, sq, pn, wg


def predicted_correct_attention(
    lam: float, beta: float, sigma: float, L: int, *, moment: int = 1
) -> float:
    """Expected attention mass on the demonstrations with ``z_l = z`` for the constructed
    transformer (eq-mc-attention), exact up to the label noise ``sigma_y``:
    ``E[n_+ e^kappa / (n_+ e^kappa + n_- e^{-kappa})]`` with
    ``kappa = lam beta (beta + sigma zeta)``, ``zeta ~ N(0, 1)`` and ``n_+ ~ Bin(L, 1/2)``.
    Its leading term is ``sigmoid(2 lam beta^2)``.
    ``moment=2`` gives ``E[A^2]`` instead (for the Monte-Carlo standard error of a measured
    mean of ``A``: ``sqrt((E[A^2] - E[A]^2) / n)``)."""
    lam = check_scalar(lam, "lam", minimum=0.0)
    beta, sigma = (
        check_scalar(beta, "beta", minimum=0.0, include_min=False),
        check_scalar(sigma, "sigma", minimum=0.0),
    )
    L = check_int(L, "L")
    moment = check_int(moment, "moment", minimum=1)
    if moment > 2:
        raise ValueError(f"moment must be 1 or 2, got {moment}")
    mass, _, pn, wg = _attention_split(lam, beta, sigma, L)
    return float(pn @ mass**moment @ wg)


def constructed_error(
    lam: float, beta: float, sigma: float, L: int, *, sigma_y: float = 0.0, K: int = 1
) -> float:
    """Expected 0-1 error of the constructed transformer (eq-mc-construction-error).

    With ``sigma_y = 0`` (the proposition): the prediction is wrong iff
    ``n_+ e^kappa < n_- e^{-kappa}``, i.e. iff
    ``zeta < (log(n_- / n_+) / (2 lam beta) - beta) / sigma``;
    at ``lam = 0`` ties count one half. With label noise ``sigma_y > 0`` read by the MLP
    over its ``K`` label directions (eq-mc-construction-error-noise), the error is
    ``E[Phi(-beta (2A - 1) / (sigma_y sqrt(K sum_l a_l^2)))]`` over ``(n_+, zeta)``, ``A`` the
    attention mass of eq-mc-attention (the label noise in the scores is neglected).
    Tends to :func:`error_floor` as ``lam -> inf``."""
    lam = check_scalar(lam, "lam", minimum=0.0)
    beta, sigma = (
        check_scalar(beta, "beta", minimum=0.0, include_min=False),
        check_scalar(sigma, "sigma", minimum=0.0, include_min=False),
    )
    L = check_int(L, "L")
    sigma_y = check_scalar(sigma_y, "sigma_y", minimum=0.0)
    K = check_int(K, "K")
    gap = 2 * lam * beta  # the score gap between agreeing and disagreeing demonstrations
    _, wg, log_ratio, pn = _quadrature(lam, beta, sigma, L)
    if sigma_y > 0:
        g = np.polynomial.hermite_e.hermegauss(wg.size)[0]
        mass = expit(gap * (beta + sigma * g)[None, :] + log_ratio[:, None])
        n_plus = np.arange(L + 1)[:, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            sq = np.where(n_plus > 0, mass**2 / n_plus, 0.0) + np.where(
                n_plus < L, (1 - mass) ** 2 / (L - n_plus), 0.0
            )
        wrong = norm.cdf(-beta * (2 * mass - 1) / (sigma_y * np.sqrt(K * sq)))
        return float(pn @ wrong @ wg)
    if lam == 0:
        wrong = (log_ratio < 0) + 0.5 * (log_ratio == 0)
    else:
        wrong = norm.cdf((-log_ratio / gap - beta) / sigma)
    return float(pn @ wrong)


# ----------------------------------------------------------------------------- block diagnostics


def dictionary_basis(dic: ConceptDictionary) -> np.ndarray:
    """Orthonormal basis of the token space ``R^{2d}`` as columns: the word half
    ``[U, V, R, T, N]`` then the label half ``[U, V, R, T, N]``."""
    _check_dic(dic)
    check_memory(3 * 8 * (2 * dic.d) ** 2, f"the basis of R^(2d) for d={dic.d}")
    rows = np.concatenate([dic.U, dic.V, dic.R, dic.T, dic.N])
    zero = np.zeros_like(rows)
    return np.concatenate([np.concatenate([rows, zero], 1), np.concatenate([zero, rows], 1)]).T


def _concept_of(dic: ConceptDictionary) -> np.ndarray:
    """Concept index of every basis direction (``-1`` for the noise directions)."""
    half = np.concatenate([np.tile(np.arange(dic.K), 4), -np.ones(dic.d - 4 * dic.K, int)])
    return np.concatenate([half, half])


def concept_block_projection(dic: ConceptDictionary, W: np.ndarray) -> np.ndarray:
    """The idempotent operator ``P(W) = sum_k Pi_k W Pi_k`` (eq-mc-blocks), ``Pi_k`` the
    orthogonal projection on the span of concept ``k``'s eight directions (both halves)."""
    W = _matrix(dic, W)
    B, c = dictionary_basis(dic), _concept_of(dic)
    mask = (c[:, None] == c[None, :]) & (c[:, None] >= 0)
    return B @ ((B.T @ W @ B) * mask) @ B.T


def _matrix(dic: ConceptDictionary, W: np.ndarray | torch.Tensor) -> np.ndarray:
    _check_dic(dic)
    return check_array(W, "W", shape=(2 * dic.d, 2 * dic.d))


def block_products(dic: ConceptDictionary, W: np.ndarray | torch.Tensor) -> dict[str, float]:
    """Largest products of ``W`` in the parts of eq-mc-blocks, over the word-half columns
    (the query's label half is zero, so the label-half columns never act or train).

    ``concept``: ``max_k |t_k^T W_yx v_k|`` (label-to-word matching of concept ``k``);
    ``word``: ``max_k |v_k^T W_xx v_k|`` (word-to-word matching, also concept-specific);
    ``complement``: largest ``|e^T W e'|`` over pairs of dictionary directions of two
    different concepts; ``noise``: largest ``|n^T W n'|`` over the noise directions;
    ``mixed``: largest ``|e^T W n|`` or ``|n^T W e|`` between a noise direction and a
    dictionary direction (the part ``Pi_N W Pi_D + Pi_D W Pi_N`` that none of ``P``, ``C``,
    ``R`` holds).
    """
    W = _matrix(dic, W)
    d = dic.d
    B, c = dictionary_basis(dic), _concept_of(dic)
    word_col = np.arange(2 * d)[None, :] < d
    coords = np.abs(B.T @ W @ B)
    dictionary = c >= 0
    off = dictionary[:, None] & dictionary[None, :] & (c[:, None] != c[None, :]) & word_col
    noise = ~dictionary[:, None] & ~dictionary[None, :] & word_col
    mixed = (dictionary[:, None] != dictionary[None, :]) & word_col
    return {
        "concept": float(np.abs(np.einsum("kd,de,ke->k", dic.T, W[d:, :d], dic.V)).max()),
        "word": float(np.abs(np.einsum("kd,de,ke->k", dic.V, W[:d, :d], dic.V)).max()),
        "complement": _largest(coords[off]),
        "noise": _largest(coords[noise]),
        "mixed": _largest(coords[mixed]),
    }


def _largest(values: np.ndarray) -> float:
    """The largest of some absolute products; 0 when there are none (e.g. no noise
    directions when d = 4K, or no pair of concepts when K = 1)."""
    return float(values.max()) if values.size else 0.0


def mlp_products(dic: ConceptDictionary, w: np.ndarray | torch.Tensor) -> dict[str, float]:
    """MLP alignment (eq-mc-blocks): ``concept`` is ``max_{r,k} |w_r^T t_k|`` on the label
    half; ``word`` is ``max_{r,k} |w_r^T v_k|`` on the word half (the values carry the words
    too); ``noise`` is the largest ``|w_r^T e|`` over the word-half and label-half noise
    directions ``e`` (those that carry no concept)."""
    _check_dic(dic)
    w = check_array(w, "w", shape=(None, 2 * dic.d))
    coords = np.abs(w @ dictionary_basis(dic))
    d, K = dic.d, dic.K
    t_cols = d + 3 * K + np.arange(K)
    return {
        "concept": float(coords[:, t_cols].max()),
        "word": float(coords[:, K + np.arange(K)].max()),
        "noise": _largest(coords[:, _concept_of(dic) < 0]),
    }


# ------------------------------------------------------------------------ the learned mechanism


def concept_scales(
    dic: ConceptDictionary, W: np.ndarray | torch.Tensor
) -> tuple[np.ndarray, np.ndarray]:
    """The two concept-specific products of ``W`` for every concept (eq-mc-learned-scores):
    the label-to-word product ``t_k^T W_yx v_k`` and the word-to-word product
    ``v_k^T W_xx v_k``, signed. For a prompt of task ``k`` the score of demonstration ``l``
    carries ``z_l`` through their sum times ``beta (v_k^T x_q)``: the sum is the learned
    ``s_k lambda_k`` of the construction, with the word channel added."""
    W = _matrix(dic, W)
    d = dic.d
    return (
        np.einsum("kd,de,ke->k", dic.T, W[d:, :d], dic.V),
        np.einsum("kd,de,ke->k", dic.V, W[:d, :d], dic.V),
    )


def distilled_transformer(
    dic: ConceptDictionary, W: np.ndarray | torch.Tensor
) -> MultiConceptTransformer:
    """The construction at the scales ``W`` learned (eq-mc-learned-scores): the merged
    key-query matrix keeps only the ``2K`` products of :func:`concept_scales`,
    ``sum_k [label_k t_k v_k^T (label rows, word columns) + word_k v_k v_k^T (word block)]``,
    and the MLP is the read-out ``w_± = ±sum_k s_k t_k`` of prop-mc-construction with
    ``s_k = sign(label_k)``, the learned sign of :func:`concept_signs` (+1 where it is 0)."""
    label, word = concept_scales(dic, W)
    signs = np.where(label < 0, -1.0, 1.0)  # s_k of concept_signs (+1 where the product is 0)
    d = dic.d
    kept = np.zeros((2 * d, 2 * d))
    kept[d:, :d] = dic.T.T @ (label[:, None] * dic.V)
    kept[:d, :d] = dic.V.T @ (word[:, None] * dic.V)
    if not np.all(np.isfinite(kept.astype(np.float32))):
        raise ValueError("W: its concept products overflow float32, the model's precision")
    read = np.concatenate([np.zeros(d), signs @ dic.T])
    model = MultiConceptTransformer(d, m=2, w_init=0.0, mlp_init=0.0)
    with torch.no_grad():
        model.W.copy_(torch.as_tensor(kept, dtype=torch.float32))
        model.w.copy_(torch.as_tensor(np.stack([read, -read]), dtype=torch.float32))
    return model


def predicted_scaled_construction(
    label: np.ndarray,
    word: np.ndarray,
    task: int,
    beta: float,
    sigma: float,
    L: int,
    *,
    sigma_y: float,
    n_irr: int = 1,
    n_draws: int = 200_000,
    generator: np.random.Generator,
) -> dict[str, float]:
    """Correct attention and 0-1 error of the construction at learned scales
    (eq-mc-learned-scores) on prompts of concept ``task``, by Monte Carlo over the prompts'
    coordinates on the ``v_j`` and ``t_j`` directions, the only ones it reads.

    ``label`` and ``word`` hold the products ``t_j^T W_yx v_j`` and ``v_j^T W_xx v_j`` of every
    concept ``j`` (see :func:`concept_scales`). A word's coordinate on ``v_j`` is
    ``beta z_j + sigma zeta_j`` if it carries concept ``j`` (the task and ``n_irr`` others),
    ``sigma zeta_j`` if not; a label's on ``t_j`` is ``beta z_l [j = task] + sigma_y eta_j``.
    The score is ``s_l = sum_j (label_j t_j^T y_l + word_j v_j^T x_l) v_j^T x_q`` and the
    prediction the sign of ``sum_l a_l sum_j s_j t_j^T y_l``, ``s_j = sign(label_j)`` (the
    learned sign of :func:`concept_signs`).
    With ``word = 0`` and ``sigma_y = 0`` this is eq-mc-attention and
    eq-mc-construction-error at ``lambda = |label_task|``. Returns the expected mass on the
    demonstrations with ``z_l = s_task z`` (``"attention"``), its standard deviation over
    prompts (``"attention_sd"``), the error (``"error"``), and the Monte-Carlo standard
    errors of the two expectations (``"attention_se"``, ``"error_se"``); ``n_draws`` is at
    most 10^6."""
    label = check_array(label, "label", ndim=1)
    word = check_array(word, "word", shape=label.shape)
    K = label.size
    task = check_int(task, "task", minimum=0)
    if task >= K:
        raise ValueError(f"task must be a concept index below K = {K}, got {task}")
    beta = check_scalar(beta, "beta", minimum=0.0, include_min=False)
    sigma = check_scalar(sigma, "sigma", minimum=0.0)
    sigma_y = check_scalar(sigma_y, "sigma_y", minimum=0.0)
    L = check_int(L, "L")
    n_irr = check_int(n_irr, "n_irr", minimum=0)
    if n_irr >= K:
        raise ValueError(f"n_irr must be smaller than K = {K}, got {n_irr}")
    n_draws = check_int(n_draws, "n_draws", minimum=2, maximum=1_000_000)
    generator = check_generator(generator, "generator")
    chunk = 10_000
    check_memory(
        8 * 6 * min(chunk, n_draws) * (L + 1) * K,
        f"chunks of {min(chunk, n_draws)} prompts of L={L} demonstrations over K={K} concepts",
    )
    signs = np.where(label < 0, -1.0, 1.0)
    mass, wrong = [], []
    for start in range(0, n_draws, chunk):
        n = min(chunk, n_draws - start)
        keys = generator.random((n, L + 1, K))
        keys[..., task] = -1.0  # the task concept is always carried
        active = np.argsort(np.argsort(keys, axis=-1), axis=-1) <= n_irr
        z = generator.choice([-1.0, 1.0], size=(n, L + 1, K))
        v = beta * z * active + sigma * generator.standard_normal((n, L + 1, K))
        t = sigma_y * generator.standard_normal((n, L, K))
        t[..., task] += beta * z[:, :L, task]
        scores = np.einsum("nlj,nj->nl", label * t + word * v[:, :L], v[:, L])
        a = np.exp(scores - scores.max(1, keepdims=True))
        a /= a.sum(1, keepdims=True)
        z_q = z[:, L, task]
        mass.append((a * (z[:, :L, task] == (signs[task] * z_q)[:, None])).sum(1))
        wrong.append(z_q * np.einsum("nl,nlj,j->n", a, t, signs) <= 0)
    mass, wrong = np.concatenate(mass), np.concatenate(wrong)
    p = wrong.mean()
    return {
        "attention": float(mass.mean()),
        "attention_sd": float(mass.std()),
        "attention_se": float(mass.std() / np.sqrt(n_draws)),
        "error": float(p),
        "error_se": float(np.sqrt(max(p, 1 / n_draws) * (1 - p) / n_draws)),
    }


def expected_block_gradient(
    beta: float, L: int, K: int, *, sigma_y: float = 0.0, product: str = "label-word"
) -> float:
    """Expected descent direction ``-E[grad_W loss]`` at ``W = 0`` with the MLP of the
    construction (eq-mc-expected-gradient), on one product of dictionary directions:

    ``"label-word"``: ``t_k^T (.) v_k``, ``(beta^3 + beta sigma_y^2) (1 - 1/L) / (4K)``;
    ``"word-word"``: ``v_k^T (.) v_k``, ``beta^3 (1 - 1/L) / (4K)`` (no label noise);
    ``"cross"``: ``t_j^T (.) v_k`` with ``j != k``, ``beta sigma_y^2 (1 - 1/L) / (4K)``
    (the label noise on every ``t_j`` reaches the MLP's ``g = sum_j t_j / 2``).
    With the default ``sigma_y = 0`` the first two are ``beta^3 (1 - 1/L) / (4K)``."""
    beta = check_scalar(beta, "beta", minimum=0.0, include_min=False)
    L, K = check_int(L, "L"), check_int(K, "K")
    sigma_y = check_scalar(sigma_y, "sigma_y", minimum=0.0)
    finite = 1 - 1 / L  # E[1 - zbar^2], zbar the mean of L independent signs
    noise = beta * sigma_y**2 * finite / (4 * K)
    if product == "label-word":
        return beta**3 * finite / (4 * K) + noise
    if product == "word-word":
        return beta**3 * finite / (4 * K)
    if product == "cross":
        return noise
    raise ValueError(f"product must be 'label-word', 'word-word' or 'cross', got {product!r}")
