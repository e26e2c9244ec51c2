"""In-context linear regression: tasks, the von Oswald construction and the baselines.

Chapter 2 of the book (``ch-icl-context``) uses this module to show that a prompt
*generates* the parameters a transformer applies to its query. Equation labels in the
docstrings refer to that chapter.

Conventions. A batch of ``B`` regression tasks with ``n`` points in dimension ``d`` is
``x`` of shape ``(B, n, d)``, targets ``y`` of shape ``(B, n)`` and true weights ``w`` of
shape ``(B, d)``, with ``y = x @ w``. A "prefix" prediction for position ``k`` uses the
examples ``0, ..., k-1`` only and predicts ``y[:, k]`` from ``x[:, k]``.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from .resources import sha256_file
from .transformer import Transformer
from .validation import (
    check_callable,
    check_choice,
    check_device,
    check_dtype,
    check_generator,
    check_instance,
    check_int,
    check_memory,
    check_scalar,
    check_str,
    check_tensor,
    describe,
)

__all__ = [
    "ICL_WEIGHTS",
    "LinearSelfAttention",
    "MultiLayerLSA",
    "averaging_prefix",
    "best_gd_eta",
    "clean_prefix_error",
    "example_query_mask",
    "example_query_predict",
    "example_query_tokens",
    "fit_gd_schedule",
    "gd_step_predict",
    "gd_steps_predict",
    "gdpp_construction",
    "gdpp_predict",
    "least_squares_noisy_error",
    "least_squares_prefix",
    "load_icl_transformer",
    "lsa_construction",
    "lsa_effective_weight",
    "lsa_forward",
    "lsa_preconditioner",
    "make_icl_transformer",
    "nearest_neighbour_prefix",
    "optimal_preconditioner",
    "preconditioned_step_loss",
    "prefix_error",
    "ridge_conditional_error",
    "ridge_prefix",
    "sample_anisotropic_regression",
    "sample_linear_regression",
    "sample_noisy_linear_regression",
    "save_icl_transformer",
    "sensitivity_cosine",
    "sha256_file",
    "vonoswald_tokens",
]

_X_DISTS = ("uniform", "gaussian")

ICL_WEIGHTS = "book/part1_universal_approximation/weights/icl_transformer.pt"
"""Repository path of the shipped weights (``scripts/train_icl_transformer.py`` writes them):
pass it to :func:`llmtheory.resources.shipped_path` for a verified local copy."""


def _like(t: object, name: str, ref: torch.Tensor, ref_name: str, **kwargs) -> torch.Tensor:
    """A tensor checked by :func:`check_tensor` with the dtype and device of ``ref``."""
    t = check_tensor(t, name, **kwargs)
    if t.dtype != ref.dtype or t.device != ref.device:
        raise TypeError(
            f"{name} must have the dtype and device of {ref_name} ({ref.dtype} on {ref.device}), "
            f"got {t.dtype} on {t.device}"
        )
    return t


def _context(x: object, y: object) -> tuple[torch.Tensor, torch.Tensor]:
    """Validate a batch of contexts ``x`` (B, n, d) and ``y`` (B, n)."""
    x = check_tensor(x, "x", ndim=3)
    y = _like(y, "y", x, "x", ndim=2)
    if y.shape != x.shape[:2]:
        raise ValueError(f"y must have shape {tuple(x.shape[:2])} to match x, got {tuple(y.shape)}")
    return x, y


def _query(x_query: object, x: torch.Tensor) -> torch.Tensor:
    return _like(x_query, "x_query", x, "x", shape=(x.shape[0], x.shape[2]))


def _initial_weight(w0: torch.Tensor | None, x: torch.Tensor) -> torch.Tensor:
    """The GD starting point ``w0`` broadcast to (B, d); zero when None."""
    if w0 is None:
        return x.new_zeros(x.shape[0], x.shape[2])
    w0 = _like(w0, "w0", x, "x")
    if w0.shape not in {(x.shape[2],), (x.shape[0], x.shape[2])}:
        raise ValueError(
            f"w0 must have shape ({x.shape[2]},) or {(x.shape[0], x.shape[2])}, "
            f"got {tuple(w0.shape)}"
        )
    return w0.expand(x.shape[0], x.shape[2])


# --------------------------------------------------------------------------- tasks


def sample_linear_regression(
    batch: int,
    n_points: int,
    d: int,
    *,
    generator: torch.Generator,
    x_dist: str = "uniform",
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Draw ``batch`` noiseless linear-regression tasks, eq. ``eq-icl-task``.

    ``w ~ N(0, I_d)``; ``x ~ U(-1, 1)^d`` (``x_dist="uniform"``, von Oswald et al.) or
    ``x ~ N(0, I_d)`` (``"gaussian"``, Garg et al.); ``y = w^T x``. Returns the tuple
    ``(x, y, w)`` of shapes ``(batch, n_points, d)``, ``(batch, n_points)`` and ``(batch, d)``.
    """
    batch = check_int(batch, "batch")
    n_points = check_int(n_points, "n_points")
    d = check_int(d, "d")
    check_generator(generator, "generator", kind="torch")
    x_dist = check_choice(x_dist, "x_dist", _X_DISTS)
    dtype = check_dtype(dtype, "dtype")
    device = check_device(device, "device")
    size = dtype.itemsize * batch * (2 * n_points * d + n_points + d)
    check_memory(size, f"batch={batch} tasks of n_points={n_points} in d={d}")
    gen_device = generator.device
    shape = (batch, n_points, d)
    if x_dist == "uniform":
        x = 2 * torch.rand(shape, generator=generator, device=gen_device, dtype=dtype) - 1
    else:
        x = torch.randn(shape, generator=generator, device=gen_device, dtype=dtype)
    w = torch.randn(batch, d, generator=generator, device=gen_device, dtype=dtype)
    y = torch.einsum("bnd,bd->bn", x, w)
    target = gen_device if device is None else device
    return x.to(target), y.to(target), w.to(target)


# ----------------------------------------------------------- von Oswald construction


def vonoswald_tokens(
    x: torch.Tensor, y: torch.Tensor, x_query: torch.Tensor, w0: torch.Tensor | None = None
) -> torch.Tensor:
    """Stack the tokens ``e_j = (x_j, y_j)`` and ``e_q = (x_q, -w0^T x_q)``, eq. ``eq-icl-tokens``.

    Returns a tensor of shape ``(B, n + 1, d + 1)`` whose last row is the query token.
    """
    x, y = _context(x, y)
    x_query = _query(x_query, x)
    w0 = _initial_weight(w0, x)
    context = torch.cat([x, y.unsqueeze(-1)], dim=-1)
    query = torch.cat([x_query, -(w0 * x_query).sum(-1, keepdim=True)], dim=-1)
    return torch.cat([context, query.unsqueeze(1)], dim=1)


def lsa_construction(
    d: int,
    eta: float,
    n_context: int,
    w0: torch.Tensor | None = None,
    *,
    dtype: torch.dtype = torch.float64,
) -> dict[str, torch.Tensor]:
    """The weights of one linear self-attention layer that performs one GD step.

    von Oswald et al. (2023), eq. ``eq-icl-construction``: ``W_K = W_Q = diag(I_d, 0)``,
    ``W_V = [[0, 0], [w0^T, -1]]``, ``P = (eta / N) I_{d+1}``.

    Returns
    -------
    dict with keys ``"W_K"``, ``"W_Q"``, ``"W_V"``, ``"P"``, each ``(d + 1, d + 1)``.
    """
    d = check_int(d, "d")
    n_context = check_int(n_context, "n_context")
    eta = check_scalar(eta, "eta", kind=(int, float))
    dtype = check_dtype(dtype, "dtype")
    check_memory(5 * 8 * (d + 1) ** 2, f"the construction in d={d}")
    if w0 is not None:
        w0 = check_tensor(w0, "w0", shape=(d,))
    w0 = torch.zeros(d, dtype=dtype) if w0 is None else w0.to("cpu", dtype)
    kq = torch.zeros(d + 1, d + 1, dtype=dtype)
    kq[:d, :d] = torch.eye(d, dtype=dtype)
    w_v = torch.zeros(d + 1, d + 1, dtype=dtype)
    w_v[d, :d] = w0
    w_v[d, d] = -1.0
    p = torch.eye(d + 1, dtype=dtype) * (eta / n_context)
    return {"W_K": kq, "W_Q": kq.clone(), "W_V": w_v, "P": p}


def lsa_forward(
    tokens: torch.Tensor,
    W_K: torch.Tensor,
    W_Q: torch.Tensor,
    W_V: torch.Tensor,
    P: torch.Tensor,
    n_context: int,
) -> torch.Tensor:
    """One linear self-attention layer with residual, eq. ``eq-icl-lsa``.

    ``e_i <- e_i + P sum_{j <= N} (W_V e_j)(e_j^T W_K^T W_Q e_i)``: every token is updated,
    keys and values come from the first ``n_context`` tokens (the examples) only.
    """
    tokens = check_tensor(tokens, "tokens", ndim=3)
    n_context = check_int(n_context, "n_context")
    if n_context > tokens.shape[1]:
        raise ValueError(f"n_context must be at most {tokens.shape[1]}, got {n_context}")
    width = tokens.shape[-1]
    for name, mat in (("W_K", W_K), ("W_Q", W_Q), ("W_V", W_V), ("P", P)):
        _like(mat, name, tokens, "tokens", shape=(width, width))
    ctx = tokens[:, :n_context]
    scores = (tokens @ W_Q.T) @ (ctx @ W_K.T).transpose(1, 2)
    return tokens + scores @ (ctx @ W_V.T) @ P.T


def lsa_effective_weight(
    x: torch.Tensor,
    y: torch.Tensor,
    W_K: torch.Tensor,
    W_Q: torch.Tensor,
    W_V: torch.Tensor,
    P: torch.Tensor,
) -> torch.Tensor:
    """The weight a linear self-attention layer applies to its query, eq. ``eq-icl-weff``.

    For a query token ``(x_q, 0)`` the read-out ``-e_q[d]`` after :func:`lsa_forward` is
    exactly ``w_eff^T x_q`` with ``w_eff = -[P W_V (sum_j e_j e_j^T) W_K^T W_Q]_{d, :d}``:
    a weight generated by the context. The indices are 0-based: row ``d`` is the label
    coordinate, row ``d + 1`` of eq-icl-weff, and ``:d`` its columns ``1:d``. Returns shape
    ``(B, d)``.
    """
    x, y = _context(x, y)
    d = x.shape[-1]
    for name, mat in (("W_K", W_K), ("W_Q", W_Q), ("W_V", W_V), ("P", P)):
        _like(mat, name, x, "x", shape=(d + 1, d + 1))
    ctx = torch.cat([x, y.unsqueeze(-1)], dim=-1)
    gram = ctx.transpose(1, 2) @ ctx
    m = P @ W_V @ gram @ W_K.T @ W_Q
    return -m[:, d, :d]


def gd_step_predict(
    x: torch.Tensor,
    y: torch.Tensor,
    x_query: torch.Tensor,
    eta: float | torch.Tensor,
    w0: torch.Tensor | None = None,
) -> torch.Tensor:
    """Predict with one GD step on ``L(w) = (1/2N) sum (w^T x_j - y_j)^2``, eq. ``eq-icl-gd``.

    ``w1 = w0 - eta grad L(w0)``, ``grad L(w0) = (1/N) sum_j (w0^T x_j - y_j) x_j``;
    returns ``w1^T x_q`` of shape ``(B,)``.
    """
    x, y = _context(x, y)
    x_query = _query(x_query, x)
    w0 = _initial_weight(w0, x)
    if isinstance(eta, torch.Tensor):
        eta = _like(eta, "eta", x, "x")
        try:
            torch.broadcast_shapes(eta.shape, w0.shape)
        except RuntimeError:
            raise ValueError(
                f"eta must be a number or a tensor broadcasting to {tuple(w0.shape)}, got "
                f"shape {tuple(eta.shape)}"
            ) from None
    else:
        eta = check_scalar(eta, "eta", kind=(int, float))
    residual = torch.einsum("bnd,bd->bn", x, w0) - y
    grad = torch.einsum("bn,bnd->bd", residual, x) / x.shape[1]
    return ((w0 - eta * grad) * x_query).sum(-1)


def best_gd_eta(
    x: torch.Tensor,
    y: torch.Tensor,
    x_query: torch.Tensor,
    y_query: torch.Tensor,
    w0: torch.Tensor | None = None,
) -> float:
    """The step size minimising the query loss of one GD step, eq. ``eq-icl-eta-star``.

    The prediction ``w0^T x_q - eta g^T x_q`` is affine in ``eta``, so the exact line search
    is ``eta* = sum (w0^T x_q - y_q)(g^T x_q) / sum (g^T x_q)^2`` over the batch.
    """
    base = gd_step_predict(x, y, x_query, 0.0, w0)
    slope = base - gd_step_predict(x, y, x_query, 1.0, w0)
    y_query = _like(y_query, "y_query", base, "x", shape=tuple(base.shape))
    denominator = (slope * slope).sum()
    if not denominator > 0:
        raise ValueError(
            "eta* is undefined: the GD step changes no prediction (g^T x_q = 0 for every task; "
            "are x, y or x_query all zero?)"
        )
    return float(((base - y_query) * slope).sum() / denominator)


def sensitivity_cosine(
    predict_a: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor],
    predict_b: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
    x_query: torch.Tensor,
) -> float:
    """Mean cosine between the sensitivities ``d y_hat / d x_q`` of two predictors.

    von Oswald et al. (2023) compare a trained layer with GD this way. ``predict_a`` and
    ``predict_b`` map ``(x, y, x_query)`` to predictions of shape ``(B,)``.
    """
    check_callable(predict_a, "predict_a")
    check_callable(predict_b, "predict_b")
    x, y = _context(x, y)
    x_query = _query(x_query, x)
    grads = []
    for name, fn in (("predict_a", predict_a), ("predict_b", predict_b)):
        xq = x_query.detach().clone().requires_grad_(True)
        out = fn(x, y, xq)
        if not isinstance(out, torch.Tensor) or out.numel() != x.shape[0]:
            raise ValueError(
                f"{name} must return predictions of shape ({x.shape[0]},), got {describe(out)}"
            )
        if not out.requires_grad:
            raise ValueError(f"{name} must return predictions that depend on x_query")
        (g,) = torch.autograd.grad(out.sum(), xq, allow_unused=True)
        grads.append(torch.zeros_like(xq) if g is None else g)
    return float(torch.nn.functional.cosine_similarity(grads[0], grads[1], dim=-1).mean())


class LinearSelfAttention(nn.Module):
    """A trainable single-head linear self-attention layer, eq. ``eq-icl-lsa``.

    Parameters ``W_K, W_Q, W_V, P`` of shape ``(d + 1, d + 1)`` are drawn from
    ``N(0, init_scale^2)`` (von Oswald et al. use ``init_scale = 0.002``) on the device of
    ``generator``. The prediction for the query is ``-e_q[d]`` after the layer, as in the
    construction.
    """

    def __init__(self, d: int, *, init_scale: float = 0.002, generator: torch.Generator) -> None:
        super().__init__()
        d = check_int(d, "d")
        init_scale = check_scalar(init_scale, "init_scale", minimum=0.0, include_min=False)
        check_generator(generator, "generator", kind="torch")
        check_memory(4 * 4 * 4 * (d + 1) ** 2, f"a layer in d={d}")
        self.d = d

        def draw() -> nn.Parameter:
            shape = (d + 1, d + 1)
            return nn.Parameter(
                init_scale * torch.randn(shape, generator=generator, device=generator.device)
            )

        self.W_K, self.W_Q, self.W_V, self.P = draw(), draw(), draw(), draw()

    def weights(self) -> dict[str, torch.Tensor]:
        """The four matrices, keyed as in :func:`lsa_construction`."""
        return {"W_K": self.W_K, "W_Q": self.W_Q, "W_V": self.W_V, "P": self.P}

    def forward(self, x: torch.Tensor, y: torch.Tensor, x_query: torch.Tensor) -> torch.Tensor:
        """Predict ``y_q`` for each task of the batch; shape ``(B,)``."""
        tokens = vonoswald_tokens(x, y, x_query)
        out = lsa_forward(tokens, **self.weights(), n_context=x.shape[1])
        return -out[:, -1, -1]


# ------------------------------------------ the optimal layer: a preconditioned step


def _covariance(cov: object) -> torch.Tensor:
    """Validate a symmetric positive-definite covariance matrix ``cov`` (d, d)."""
    cov = check_tensor(cov, "cov", ndim=2)
    if cov.shape[0] != cov.shape[1] or cov.shape[0] == 0:
        raise ValueError(f"cov must be a non-empty square matrix, got shape {tuple(cov.shape)}")
    scale = float(cov.abs().max())
    if float((cov - cov.T).abs().max()) > 1e-6 * max(scale, 1e-30):
        raise ValueError("cov must be symmetric")
    if not float(torch.linalg.eigvalsh(cov.double()).min()) > 0:
        raise ValueError("cov must be positive definite")
    return cov


def sample_anisotropic_regression(
    batch: int, n_points: int, cov: torch.Tensor, *, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""Noiseless tasks with Gaussian inputs ``x ~ N(0, cov)``, eq. ``eq-icl-task-aniso``.

    ``w ~ N(0, I_d)`` and ``y = w^T x`` as in :func:`sample_linear_regression`; ``x = L z``
    with ``cov = L L^T`` (Cholesky) and ``z ~ N(0, I_d)``. Returns ``(x, y, w)`` of shapes
    ``(batch, n_points, d)``, ``(batch, n_points)``, ``(batch, d)`` with the dtype and
    device of ``cov``.
    """
    batch = check_int(batch, "batch")
    n_points = check_int(n_points, "n_points")
    cov = _covariance(cov)
    check_generator(generator, "generator", kind="torch")
    d = cov.shape[0]
    size = cov.element_size() * batch * (3 * n_points * d + n_points + d)
    check_memory(size, f"batch={batch} tasks of n_points={n_points} in d={d}")
    chol = torch.linalg.cholesky(cov)
    opts = {"generator": generator, "device": generator.device, "dtype": cov.dtype}
    z = torch.randn(batch, n_points, d, **opts).to(cov.device)
    w = torch.randn(batch, d, **opts).to(cov.device)
    x = z @ chol.T
    return x, torch.einsum("bnd,bd->bn", x, w), w


def _step_moments(cov: object, n_context: object, noise_var: object) -> tuple:
    cov = _covariance(cov)
    n = check_int(n_context, "n_context", maximum=10**9)
    noise_var = check_scalar(noise_var, "noise_var", kind=(int, float), minimum=0.0)
    return cov, n, noise_var, torch.eye(cov.shape[0], dtype=cov.dtype, device=cov.device)


def optimal_preconditioner(
    cov: torch.Tensor, n_context: int, noise_var: float = 0.0
) -> torch.Tensor:
    r"""The preconditioner of the best single LSA layer, eq. ``eq-icl-omega-star``.

    For ``x ~ N(0, cov)``, ``w ~ N(0, I)`` and labels with noise variance ``noise_var``,
    the predictor ``x_q^T Omega (1/N) sum_j y_j x_j`` has the smallest population loss at
    ``Omega* = ((N+1)/N cov + (tr cov + noise_var)/N I)^{-1}``. Shape ``(d, d)``.
    """
    cov, n, noise_var, eye = _step_moments(cov, n_context, noise_var)
    return torch.linalg.inv((n + 1) / n * cov + (torch.trace(cov) + noise_var) / n * eye)


def preconditioned_step_loss(
    omega: torch.Tensor, cov: torch.Tensor, n_context: int, noise_var: float = 0.0
) -> float:
    r"""Population loss of one preconditioned step, eq. ``eq-icl-precond-loss``.

    ``(1/2) E (x_q^T Omega h - y_q)^2`` with ``h = (1/N) sum_j y_j x_j`` for Gaussian inputs
    ``x ~ N(0, cov)``, ``w ~ N(0, I)`` and label noise of variance ``noise_var``:
    ``(1/2)[tr(cov Omega M Omega^T) - 2 tr(cov Omega cov) + tr cov + noise_var]`` with
    ``M = E h h^T = ((N+1) cov^2 + (tr cov + noise_var) cov) / N``.
    """
    cov, n, noise_var, _ = _step_moments(cov, n_context, noise_var)
    omega = _like(omega, "omega", cov, "cov", shape=tuple(cov.shape))
    m = ((n + 1) * cov @ cov + (torch.trace(cov) + noise_var) * cov) / n
    quad = torch.trace(cov @ omega @ m @ omega.T) - 2 * torch.trace(cov @ omega @ cov)
    return 0.5 * float(quad + torch.trace(cov) + noise_var)


def lsa_preconditioner(
    W_K: torch.Tensor, W_Q: torch.Tensor, W_V: torch.Tensor, P: torch.Tensor, n_context: int
) -> torch.Tensor:
    r"""The preconditioner ``Omega`` of an LSA layer's gradient-step term, eq. ``eq-icl-lsa-omega``.

    With ``u`` the last row of ``P W_V`` and ``B = W_K^T W_Q``, the part of ``w_eff``
    (eq. ``eq-icl-weff``) that is linear in ``X^T y`` is ``Omega (1/N) X^T y`` with
    ``Omega = -N (u_{d+1} B_{1:d, 1:d}^T + B_{d+1, 1:d}^T u_{1:d}^T)``. ``n_context`` is the
    prompt length ``N`` the ``1/N`` refers to. Shape ``(d, d)``.
    """
    W_K = check_tensor(W_K, "W_K", ndim=2)
    n = check_int(n_context, "n_context", maximum=10**9)
    width = W_K.shape[0]
    if width < 2 or W_K.shape[1] != width:
        raise ValueError(f"W_K must be square of size d + 1 >= 2, got {tuple(W_K.shape)}")
    for name, mat in (("W_Q", W_Q), ("W_V", W_V), ("P", P)):
        _like(mat, name, W_K, "W_K", shape=(width, width))
    u, b = (P @ W_V)[-1], W_K.T @ W_Q
    return -n * (u[-1] * b[:-1, :-1].T + torch.outer(b[-1, :-1], u[:-1]))


# ------------------------------------------------- one token per example (Garg-style)


def example_query_tokens(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Tokens ``(x_i, y_i, 0)`` for the examples then ``(x_k, 0, 1)`` for the queries.

    eq. ``eq-icl-example-query``; shape ``(B, 2n, d + 2)``. Pair with
    :func:`example_query_mask`; the prediction for ``y_k`` is read at position ``n + k``.
    """
    x, y = _context(x, y)
    zeros, ones = torch.zeros_like(y).unsqueeze(-1), torch.ones_like(y).unsqueeze(-1)
    examples = torch.cat([x, y.unsqueeze(-1), zeros], dim=-1)
    queries = torch.cat([x, zeros, ones], dim=-1)
    return torch.cat([examples, queries], dim=1)


def example_query_mask(n_points: int, device: torch.device | str | None = None) -> torch.Tensor:
    """Boolean attention mask (True = may attend) for :func:`example_query_tokens`.

    Example ``i`` sees examples ``j <= i``; query ``k`` sees examples ``j < k`` and itself,
    so no information about ``y_k`` reaches query ``k`` through any number of layers.
    Shape ``(2 n_points, 2 n_points)``.
    """
    n = check_int(n_points, "n_points")
    device = check_device(device, "device")
    check_memory(3 * 4 * n * n, f"a mask for n_points={n}")
    idx = torch.arange(n, device=device)
    top = torch.cat(
        [idx[None, :] <= idx[:, None], torch.zeros(n, n, dtype=torch.bool, device=device)], 1
    )
    bottom = torch.cat(
        [idx[None, :] < idx[:, None], torch.eye(n, dtype=torch.bool, device=device)], 1
    )
    return torch.cat([top, bottom], dim=0)


# --------------------------------------------------------------------- baselines


def _prefix_mask(x: torch.Tensor) -> torch.Tensor:
    """``mask[k, j] = j < k``: the examples visible to query ``k``; shape (n, n)."""
    idx = torch.arange(x.shape[1], device=x.device)
    return idx[None, :] < idx[:, None]


def least_squares_prefix(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Minimum-norm least squares on examples ``< k``, predicting ``y_k``, eq. ``eq-icl-baselines``.

    Rows ``j >= k`` are zeroed, which leaves the minimum-norm solution unchanged; all
    prefixes are solved in one batched pseudo-inverse. Returns shape ``(B, n)``.
    """
    x, y = _context(x, y)
    b, n, d = x.shape
    check_memory(6 * x.element_size() * b * n * n * d, f"all {n} prefixes of {b} tasks in d={d}")
    keep = _prefix_mask(x).to(x.dtype)
    xk = x.unsqueeze(1) * keep[None, :, :, None]
    yk = y.unsqueeze(1) * keep[None]
    w_hat = (torch.linalg.pinv(xk) @ yk.unsqueeze(-1)).squeeze(-1)
    return (w_hat * x).sum(-1)


def nearest_neighbour_prefix(x: torch.Tensor, y: torch.Tensor, k: int = 3) -> torch.Tensor:
    """Mean of ``y`` over the ``k`` nearest earlier examples (fewer when fewer exist).

    Prediction 0 when there is no earlier example. Returns shape ``(B, n)``.
    """
    x, y = _context(x, y)
    k = check_int(k, "k")
    n = x.shape[1]
    check_memory(6 * 8 * x.shape[0] * n * n, f"distances between {n} points of {x.shape[0]} tasks")
    dist = torch.cdist(x, x).masked_fill(~_prefix_mask(x), float("inf"))
    near, idx = dist.topk(min(k, n), dim=-1, largest=False)
    valid = torch.isfinite(near).to(y.dtype)
    y_near = torch.gather(y.unsqueeze(1).expand(-1, n, -1), 2, idx)
    return (y_near * valid).sum(-1) / valid.sum(-1).clamp(min=1)


def averaging_prefix(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Predict with ``w_hat = (1/k) sum_{j<k} y_j x_j`` (0 when ``k = 0``). Shape ``(B, n)``."""
    x, y = _context(x, y)
    sums = torch.cumsum(y.unsqueeze(-1) * x, dim=1) - y.unsqueeze(-1) * x
    counts = torch.arange(x.shape[1], device=x.device, dtype=x.dtype).clamp(min=1)
    return (sums / counts[None, :, None] * x).sum(-1)


def prefix_error(pred: torch.Tensor, y: torch.Tensor, d: int) -> torch.Tensor:
    """Squared error divided by the dimension, averaged over tasks: the error ``err(k)`` with
    which the baselines of eq. ``eq-icl-baselines`` are compared.

    Garg et al. (2022) normalise by ``d`` so that predicting 0 scores 1 when ``w ~ N(0, I)``
    and ``x ~ N(0, I)``. Inputs of shape ``(B, n)``; returns shape ``(n,)``.
    """
    pred = check_tensor(pred, "pred", ndim=2)
    y = check_tensor(y, "y", ndim=2)
    d = check_int(d, "d")
    if pred.shape != y.shape:
        raise ValueError(f"pred must have the shape of y {tuple(y.shape)}, got {tuple(pred.shape)}")
    return ((pred - y) ** 2).mean(0) / float(d)


def example_query_predict(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Predictions of a sequence model for every prefix, shape ``(B, n)``.

    Feeds :func:`example_query_tokens` with :func:`example_query_mask` to
    ``model(tokens, attn_mask=...)`` (output ``(B, 2n, 1)``) and reads the query positions:
    entry ``k`` predicts ``y_k`` from the examples ``< k``.
    """
    check_instance(model, "model", nn.Module, "a torch.nn.Module")
    x, y = _context(x, y)
    n = x.shape[1]
    try:
        out = model(example_query_tokens(x, y), attn_mask=example_query_mask(n, device=x.device))
    except (TypeError, ValueError, RuntimeError) as exc:
        raise TypeError(
            f"model must map tokens (B, 2n, d + 2) and attn_mask= to (B, 2n, 1); it failed: {exc}"
        ) from exc
    if not isinstance(out, torch.Tensor) or out.ndim != 3 or out.shape[:2] != (x.shape[0], 2 * n):
        raise ValueError(
            f"model must map tokens (B, 2n, d + 2) to outputs ({x.shape[0]}, {2 * n}, 1), "
            f"got {describe(out)}"
        )
    return out[:, n:, 0]


# ------------------------------------------------------ the trained sequence model


def make_icl_transformer(
    d: int, *, d_model: int = 64, n_heads: int = 2, n_layers: int = 2, d_ff: int = 256
) -> Transformer:
    """A pre-LN :class:`~llmtheory.transformer.Transformer` for :func:`example_query_tokens`.

    Inputs have ``d + 2`` features, the output is one number per token, and the mask of
    :func:`example_query_mask` replaces the causal one; there are no positional embeddings
    (the mask alone tells a query which examples precede it).
    """
    d = check_int(d, "d")
    d_model = check_int(d_model, "d_model")
    check_memory(2 * 4 * (d + 2) * d_model, f"an input layer of d_model={d_model} for d={d}")
    return Transformer(d_model, n_heads, n_layers, d_ff, d_in=d + 2, d_out=1, causal=False)


def save_icl_transformer(model: Transformer, config: dict, path: str) -> str:
    """Save ``model``'s weights (float32, CPU) and ``config`` to ``path``; return its SHA-256.

    ``config`` holds the keyword arguments of :func:`make_icl_transformer` (``d`` included)
    and any metadata; ``path`` may also be a ``pathlib.Path``. Pass the returned digest to
    :func:`load_icl_transformer` to verify the file, or, for the shipped weights, record it
    in the manifest with :func:`llmtheory.resources.record_shipped`.
    """
    check_instance(model, "model", Transformer, "a llmtheory Transformer")
    if not isinstance(config, dict):
        raise TypeError(f"config must be a dict, got {describe(config)}")
    if "d" not in config:
        raise ValueError("config must be a dict holding at least the task dimension 'd'")
    path = _path(path)
    if path.is_dir():
        raise ValueError(f"path must name a file, got the folder {str(path)!r}")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"path {str(path)!r} is in a folder that does not exist")
    state = {k: v.detach().to("cpu", torch.float32) for k, v in model.state_dict().items()}
    torch.save({"config": config, "state_dict": state}, path)
    return sha256_file(path)


def _path(path: object) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or a pathlib.Path, got {describe(path)}")
    if not str(path):
        raise ValueError("path must name a file, got ''")
    return Path(path)


def load_icl_transformer(
    path: str, *, device: torch.device | str | None = None, sha256: str | None = None
) -> tuple[Transformer, dict]:
    """Load weights saved by :func:`save_icl_transformer`.

    ``path`` may also be a ``pathlib.Path``; for the shipped weights use
    ``shipped_path(ICL_WEIGHTS)`` (:func:`llmtheory.resources.shipped_path`), which verifies
    them against the manifest. Returns the model in eval mode on ``device`` (default CPU)
    and the saved configuration.

    Raises
    ------
    ValueError
        When ``sha256`` is given and differs from the file's digest (checked before loading).
    """
    path = _path(path)
    device = check_device(device, "device")
    check_str(sha256, "sha256", allow_none=True)
    if not path.is_file():
        raise FileNotFoundError(f"path {str(path)!r} is not a file")
    if sha256 is not None:
        actual = sha256_file(path)
        if actual != sha256.lower():
            raise ValueError(
                f"checksum mismatch for {path}: sha256 is {sha256!r}, the file's is {actual}"
            )
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
        config = blob["config"]
        arch = ("d_model", "n_heads", "n_layers", "d_ff")
        model = make_icl_transformer(config["d"], **{k: config[k] for k in arch if k in config})
        model.load_state_dict(blob["state_dict"])
    except (RuntimeError, KeyError, TypeError, EOFError, pickle.UnpicklingError) as exc:
        raise ValueError(
            f"path {str(path)!r} does not hold weights saved by save_icl_transformer: {exc}"
        ) from exc
    return model.to(device if device is not None else "cpu").eval(), config


# ---- multi-layer LSA and noisy labels ----


def _schedule(
    values: object, name: str, x: torch.Tensor, length: int | None = None
) -> torch.Tensor:
    """A per-layer schedule (``eta`` or ``rho``) as a 1-D tensor like ``x``."""
    if isinstance(values, torch.Tensor):
        values = _like(values, name, x, "x", ndim=1)
    else:
        if not isinstance(values, (list, tuple)) or not values:
            raise TypeError(
                f"{name} must be a 1-D tensor or a non-empty list of numbers, got "
                f"{describe(values)}"
            )
        values = [check_scalar(v, f"{name}[{i}]", kind=(int, float)) for i, v in enumerate(values)]
        values = torch.tensor(values, dtype=x.dtype, device=x.device)
    if values.numel() == 0:
        raise ValueError(f"{name} must hold at least one step, got an empty tensor")
    if length is not None and values.numel() != length:
        raise ValueError(
            f"{name} must have as many entries as etas ({length}, one per step), "
            f"got {values.numel()}"
        )
    return values


def gd_steps_predict(
    x: torch.Tensor, y: torch.Tensor, x_query: torch.Tensor, etas: torch.Tensor | list[float]
) -> torch.Tensor:
    r"""Predict with ``L = len(etas)`` GD steps from ``w_0 = 0``, eq. ``eq-icl-gd-steps``.

    ``w_{l+1} = w_l + (eta_l / N) sum_j (y_j - w_l^T x_j) x_j``; returns ``w_L^T x_q``, shape
    ``(B,)``. Computed in weight space, independently of the token picture.
    """
    x, y = _context(x, y)
    x_query = _query(x_query, x)
    etas = _schedule(etas, "etas", x)
    w = x.new_zeros(x.shape[0], x.shape[2])
    for eta in etas:
        residual = y - torch.einsum("bnd,bd->bn", x, w)
        w = w + eta * torch.einsum("bn,bnd->bd", residual, x) / x.shape[1]
    return (w * x_query).sum(-1)


def gdpp_predict(
    x: torch.Tensor,
    y: torch.Tensor,
    x_query: torch.Tensor,
    etas: torch.Tensor | list[float],
    rhos: torch.Tensor | list[float],
) -> torch.Tensor:
    r"""Predict with ``L`` steps of GD++ from ``w_0 = 0``, eq. ``eq-icl-gdpp``.

    Step ``l`` updates, with ``S = (1/N) sum_j x_j x_j^T`` of the current context inputs and
    ``u = (1/N) sum_j r_j x_j`` of the current context labels ``r`` (initially ``y``), all at once:
    ``r_i <- r_i - eta_l u^T x_i`` and the query slot ``q <- q - eta_l u^T x_q`` (``q_0 = 0``), then
    every input, query included, ``x <- (I - rho_l S) x``. Returns ``-q``, shape ``(B,)``.
    ``rhos = 0`` gives :func:`gd_steps_predict` (von Oswald et al. 2023).
    """
    x, y = _context(x, y)
    x_query = _query(x_query, x)
    etas = _schedule(etas, "etas", x)
    rhos = _schedule(rhos, "rhos", x, etas.numel())
    n = x.shape[1]
    r, q = y, x.new_zeros(x.shape[0])
    for eta, rho in zip(etas, rhos, strict=True):
        s = x.transpose(1, 2) @ x / n
        u = torch.einsum("bn,bnd->bd", r, x) / n
        r = r - eta * torch.einsum("bnd,bd->bn", x, u)
        q = q - eta * (u * x_query).sum(-1)
        x = x - rho * x @ s
        x_query = x_query - rho * torch.einsum("bde,be->bd", s, x_query)
    return -q


def gdpp_construction(
    d: int, eta: float, rho: float, n_context: int, *, dtype: torch.dtype = torch.float64
) -> dict[str, torch.Tensor]:
    r"""LSA weights of one GD++ step, eq. ``eq-icl-gdpp-construction``.

    ``W_K = W_Q = diag(I_d, 0)``, ``W_V = -diag(rho I_d, eta)``, ``P = I / N``, so that
    :func:`lsa_forward` maps ``x_i -> (I - rho S) x_i`` and ``y_i -> y_i - eta u^T x_i``
    (see :func:`gdpp_predict`). ``rho = 0`` is :func:`lsa_construction` with ``w_0 = 0``.
    """
    d = check_int(d, "d")
    n_context = check_int(n_context, "n_context", maximum=2**53)
    eta = check_scalar(eta, "eta", kind=(int, float))
    rho = check_scalar(rho, "rho", kind=(int, float))
    dtype = check_dtype(dtype, "dtype")
    check_memory(5 * 8 * (d + 1) ** 2, f"the construction in d={d}")
    kq = torch.zeros(d + 1, d + 1, dtype=dtype)
    kq[:d, :d] = torch.eye(d, dtype=dtype)
    w_v = -torch.diag(torch.tensor([rho] * d + [eta], dtype=dtype))
    p = torch.eye(d + 1, dtype=dtype) / n_context
    return {"W_K": kq, "W_Q": kq.clone(), "W_V": w_v, "P": p}


class MultiLayerLSA(nn.Module):
    """``n_layers`` linear self-attention layers applied in turn, eq. ``eq-icl-lsa``.

    Each layer updates every token (examples and query) with its own ``W_K, W_Q, W_V, P``,
    drawn from ``N(0, init_scale^2)``; the prediction is ``-e_q[d]`` after the last layer.
    """

    def __init__(
        self, d: int, n_layers: int, *, init_scale: float = 0.002, generator: torch.Generator
    ) -> None:
        super().__init__()
        d = check_int(d, "d")
        n_layers = check_int(n_layers, "n_layers")
        init_scale = check_scalar(init_scale, "init_scale", minimum=0.0, include_min=False)
        check_generator(generator, "generator", kind="torch")
        check_memory(n_layers * 4 * 4 * 4 * (d + 1) ** 2, f"n_layers={n_layers} layers in d={d}")
        self.layers = nn.ModuleList(
            LinearSelfAttention(d, init_scale=init_scale, generator=generator)
            for _ in range(n_layers)
        )

    def forward(self, x: torch.Tensor, y: torch.Tensor, x_query: torch.Tensor) -> torch.Tensor:
        """Predict ``y_q`` for each task of the batch; shape ``(B,)``."""
        tokens = vonoswald_tokens(x, y, x_query)
        for layer in self.layers:
            tokens = lsa_forward(tokens, **layer.weights(), n_context=x.shape[1])
        return -tokens[:, -1, -1]


def fit_gd_schedule(
    x: torch.Tensor,
    y: torch.Tensor,
    x_query: torch.Tensor,
    y_query: torch.Tensor,
    n_steps: int,
    *,
    plus_plus: bool = False,
    eta_init: float = 1.0,
    iterations: int = 200,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Tune the step sizes of GD (or GD++) to minimise the query loss, eq. ``eq-icl-gd-tuned``.

    Minimises ``mean (y_hat - y_q)^2`` of :func:`gdpp_predict` over ``eta_1..eta_L`` (and
    ``rho_1..rho_L`` when ``plus_plus``, else ``rho = 0``) with L-BFGS from
    ``eta_l = eta_init (1 + (l - 1) / (2L))``, ``rho_l = 0``. Returns ``(etas, rhos)`` like ``x``.
    """
    x, y = _context(x, y)
    x_query = _query(x_query, x)
    y_query = _like(y_query, "y_query", x, "x", shape=(x.shape[0],))
    n_steps = check_int(n_steps, "n_steps")
    check_memory(8 * x.element_size() * n_steps * x.numel(), f"n_steps={n_steps} steps")
    plus_plus = bool(check_instance(plus_plus, "plus_plus", bool, "a bool"))
    eta_init = check_scalar(eta_init, "eta_init", kind=(int, float), minimum=0.0, maximum=1e3)
    iterations = check_int(iterations, "iterations")
    # distinct starting steps: the GD loss is symmetric in the etas, so equal ones stay equal
    ramp = torch.arange(n_steps, dtype=x.dtype, device=x.device) / n_steps
    etas = float(eta_init) * (1.0 + 0.5 * ramp)
    rhos = torch.zeros(n_steps, dtype=x.dtype, device=x.device)
    params = [etas.requires_grad_(True)] + ([rhos.requires_grad_(True)] if plus_plus else [])
    opt = torch.optim.LBFGS(params, max_iter=iterations, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = ((gdpp_predict(x, y, x_query, etas, rhos) - y_query) ** 2).mean()
        loss.backward()
        return loss

    try:
        opt.step(closure)
    except ValueError:  # a diverging step gives non-finite etas or rhos
        etas = etas.detach() * float("nan")
    if not (torch.isfinite(etas).all() and torch.isfinite(rhos).all()):
        raise ValueError(f"the fit diverged from eta_init={eta_init}: try a smaller eta_init")
    return etas.detach(), rhos.detach()


def sample_noisy_linear_regression(
    batch: int,
    n_points: int,
    d: int,
    noise_std: float,
    *,
    generator: torch.Generator,
    x_dist: str = "gaussian",
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""Tasks with noisy labels ``y = w^T x + eps``, ``eps ~ N(0, noise_std^2)``.

    eq. ``eq-icl-noisy``.

    As :func:`sample_linear_regression` (whose draws it uses) plus independent noise on every
    label. Returns ``(x, y, w)``; the noiseless targets are ``x @ w``.
    """
    noise_std = check_scalar(noise_std, "noise_std", kind=(int, float), minimum=0.0)
    x, y, w = sample_linear_regression(
        batch, n_points, d, generator=generator, x_dist=x_dist, dtype=dtype, device=device
    )
    eps = torch.randn(y.shape, generator=generator, device=generator.device, dtype=y.dtype)
    return x, y + noise_std * eps.to(y.device), w


def _prefix_gram(x: torch.Tensor) -> torch.Tensor:
    """``G_k = sum_{j<k} x_j x_j^T`` for every prefix ``k``; shape (B, n, d, d)."""
    outer = x.unsqueeze(-1) * x.unsqueeze(-2)
    return torch.cumsum(outer, dim=1) - outer


def ridge_prefix(x: torch.Tensor, y: torch.Tensor, lam: float) -> torch.Tensor:
    r"""Ridge regression on examples ``< k``, predicting ``y_k``, eq. ``eq-icl-ridge``.

    ``w_hat_k = (X_k^T X_k + lam I)^{-1} X_k^T y_{<k}``; with ``lam = sigma^2`` and
    ``w ~ N(0, I)`` it is the posterior mean of ``w``. Returns shape ``(B, n)``.
    """
    x, y = _context(x, y)
    lam = check_scalar(lam, "lam", kind=(int, float), minimum=0.0, include_min=False)
    b, n, d = x.shape
    check_memory(4 * x.element_size() * b * n * d * d, f"all {n} prefixes of {b} tasks in d={d}")
    rhs = torch.cumsum(y.unsqueeze(-1) * x, dim=1) - y.unsqueeze(-1) * x
    eye = torch.eye(d, dtype=x.dtype, device=x.device)
    w_hat = torch.linalg.solve(_prefix_gram(x) + lam * eye, rhs.unsqueeze(-1)).squeeze(-1)
    return (w_hat * x).sum(-1)


def clean_prefix_error(pred: torch.Tensor, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    r"""Squared error against the noiseless target ``w^T x_k``, over ``d``, eq. ``eq-icl-dd``.

    Per prompt and prefix, shape ``(B, n)`` (average over axis 0 for the curve).
    """
    x = check_tensor(x, "x", ndim=3)
    pred = _like(pred, "pred", x, "x", shape=tuple(x.shape[:2]))
    w = _like(w, "w", x, "x", shape=(x.shape[0], x.shape[2]))
    target = torch.einsum("bnd,bd->bn", x, w)
    return (pred - target) ** 2 / x.shape[2]


def least_squares_noisy_error(k: object, d: int, noise_var: float) -> object:
    r"""Expected error of minimum-norm least squares from ``k`` noisy examples, eq. ``eq-icl-dd``.

    For ``x, w ~ N(0, I_d)``: ``(d - k + sigma^2 k / (d - k - 1)) / d`` for ``k <= d - 2``,
    ``sigma^2 / (k - d - 1)`` for ``k >= d + 2`` and ``inf`` for ``|k - d| <= 1`` (when
    ``sigma^2 > 0``). ``k`` is an int or an array of ints; returns a float or a float array.
    """
    import numpy as np

    d = check_int(d, "d")
    noise_var = check_scalar(noise_var, "noise_var", kind=(int, float), minimum=0.0)
    k_arr = np.asarray(k)
    if k_arr.dtype.kind not in "iu" or np.any(k_arr < 0):
        raise ValueError(f"k must be a non-negative int or array of ints, got {describe(k)}")
    kf = k_arr.astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        below = (d - kf + noise_var * kf / (d - kf - 1)) / d
        above = noise_var / (kf - d - 1)
    out = np.where(kf <= d - 2, below, np.where(kf >= d + 2, above, np.inf))
    if noise_var == 0:
        out = np.maximum(1 - kf / d, 0.0)
    return float(out) if out.ndim == 0 else out


def ridge_conditional_error(x: torch.Tensor, noise_var: float) -> torch.Tensor:
    r"""Bayes risk of ridge with ``lam = sigma^2`` given the inputs, eq. ``eq-icl-ridge-risk``.

    ``E[(w_hat_k - w)^T x_k]^2 / d = (sigma^2 / d) tr (G_k + sigma^2 I)^{-1}`` averaged over
    ``w, eps, x_k`` with the examples ``X_k`` fixed; computed from the eigenvalues of
    ``G_k = X_k^T X_k``. Shape ``(B, n)``.
    """
    x = check_tensor(x, "x", ndim=3)
    noise_var = check_scalar(
        noise_var, "noise_var", kind=(int, float), minimum=0.0, include_min=False
    )
    b, n, d = x.shape
    check_memory(4 * x.element_size() * b * n * d * d, f"all {n} prefixes of {b} tasks in d={d}")
    eig = torch.linalg.eigvalsh(_prefix_gram(x)).clamp(min=0.0)
    return noise_var / d * (1.0 / (eig + noise_var)).sum(-1)
