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
    "averaging_prefix",
    "best_gd_eta",
    "example_query_mask",
    "example_query_predict",
    "example_query_tokens",
    "gd_step_predict",
    "least_squares_prefix",
    "load_icl_transformer",
    "lsa_construction",
    "lsa_effective_weight",
    "lsa_forward",
    "make_icl_transformer",
    "nearest_neighbour_prefix",
    "prefix_error",
    "sample_linear_regression",
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
    a weight generated by the context. Returns shape ``(B, d)``.
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
    """Minimum-norm least squares on examples ``< k``, predicting ``y_k``, eq. ``eq-icl-ls``.

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
    """Squared error divided by the dimension, averaged over tasks, eq. ``eq-icl-error``.

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
