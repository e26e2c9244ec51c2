"""The transformer rewritten as universal-approximation (UAT) terms with input-dependent
parameters (Wang & Li, 2024), and the classical one-hidden-layer experiments.

Conventions (chapter 1). The ``n`` tokens are the rows of ``X`` (n, d); ``x = vec X`` stacks
the *columns* of ``X``, so entry ``(i, k)`` of ``X`` sits at position ``k * n + i`` of ``x``,
and ``vec(A X B) = (B^T kron A) vec X``. With this convention a token-wise linear layer
``X W^T + 1 b^T`` is ``(W kron I_n) x + b kron 1_n`` (eq. ``eq-uat-linear``).

Everything here is NumPy float64; :func:`layer_parameters` reads the weights of a
:class:`llmtheory.transformer.Transformer` built with ``norm="none"``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from .device import get_device
from .transformer import Block, Transformer, causal_mask
from .validation import (
    check_array,
    check_callable,
    check_choice,
    check_generator,
    check_instance,
    check_int,
    check_memory,
    check_scalar,
    check_tensor,
    describe,
)

__all__ = [
    "ACTIVATIONS",
    "BlockRewrite",
    "LayerParameters",
    "UATTerm",
    "attention_matrices",
    "block_rewrite",
    "context_blind_prediction",
    "context_task",
    "effective_token_parameters",
    "fitted_rate",
    "head_vec_matrix",
    "layer_parameters",
    "linear_vec",
    "maurey_average",
    "maurey_variance",
    "mha_vec_matrix",
    "model_attention",
    "one_hidden_layer",
    "random_feature_errors",
    "random_feature_residuals",
    "rank_one_update",
    "relu_interpolant",
    "token_block",
    "train_hidden_layer",
    "unrolled_terms",
    "unvec",
    "vec",
]

#: Activations by name, as NumPy functions.
ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "relu": lambda z: np.maximum(z, 0.0),
    "tanh": np.tanh,
    "identity": lambda z: z,
}


def _activation(name: str) -> Callable[[np.ndarray], np.ndarray]:
    return ACTIVATIONS[check_choice(name, "activation", ACTIVATIONS)]


def vec(X: np.ndarray) -> np.ndarray:
    """Column-stacking ``vec X`` of a matrix ``X`` (n, d): a vector of length ``n d``."""
    return check_array(X, "X", ndim=2).reshape(-1, order="F")


def unvec(x: np.ndarray, n: int) -> np.ndarray:
    """Inverse of :func:`vec`: the ``(n, len(x) / n)`` matrix whose columns stack to ``x``."""
    x = check_array(x, "x", ndim=1)
    n = check_int(n, "n")
    if x.size % n:
        raise ValueError(f"x must be a vector whose length is a multiple of n={n}, got {x.size}")
    return x.reshape(n, -1, order="F")


def linear_vec(W: np.ndarray, b: np.ndarray | None, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Eq. ``eq-uat-linear``: ``vec(X W^T + 1 b^T) = (W kron I_n) x + b kron 1_n``.

    Returns the matrix ``W kron I_n`` and the vector ``b kron 1_n`` (zeros when ``b`` is None).
    """
    W = check_array(W, "W", ndim=2)
    n = check_int(n, "n")
    b = np.zeros(W.shape[0]) if b is None else check_array(b, "b", shape=(W.shape[0],))
    check_memory(2 * 8 * W.size * n * n, f"W kron I_n for W {W.shape} and n={n}")
    return np.kron(W, np.eye(n)), np.kron(b, np.ones(n))


@dataclass(frozen=True)
class UATTerm:
    """One UAT term ``A sigma(W x + theta) + b`` (eq. ``eq-uat-matrix``)."""

    A: np.ndarray
    W: np.ndarray
    theta: np.ndarray
    b: np.ndarray
    activation: str = "relu"

    def __post_init__(self) -> None:
        n_out, hidden = check_array(self.A, "A", ndim=2).shape
        n_in = check_array(self.W, "W", shape=(hidden, None)).shape[1]
        check_array(self.theta, "theta", shape=(hidden,))
        check_array(self.b, "b", shape=(n_out,))
        _activation(self.activation)
        if n_in == 0:
            raise ValueError("W must have at least one column (input feature)")

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Evaluate the term at ``x``."""
        x = check_array(x, "x", shape=(self.W.shape[1],))
        return self.A @ _activation(self.activation)(self.W @ x + self.theta) + self.b


@dataclass(frozen=True)
class LayerParameters:
    """Weights of one ``norm="none"`` block as float64 arrays (per-head in the first axis)."""

    W_Q: np.ndarray
    W_K: np.ndarray
    W_V: np.ndarray
    W_O: np.ndarray
    b_Q: np.ndarray
    b_K: np.ndarray
    b_V: np.ndarray
    b_O: np.ndarray
    W_1: np.ndarray
    b_1: np.ndarray
    W_2: np.ndarray
    b_2: np.ndarray
    activation: str

    def __post_init__(self) -> None:
        h, dh, d = check_array(self.W_Q, "W_Q", ndim=3).shape
        for name in ("W_K", "W_V"):
            check_array(getattr(self, name), name, shape=(h, dh, d))
        check_array(self.W_O, "W_O", shape=(h, d, dh))
        for name in ("b_Q", "b_K", "b_V"):
            check_array(getattr(self, name), name, shape=(h, dh))
        check_array(self.b_O, "b_O", shape=(d,))
        f = check_array(self.W_1, "W_1", shape=(None, d)).shape[0]
        check_array(self.b_1, "b_1", shape=(f,))
        check_array(self.W_2, "W_2", shape=(d, f))
        check_array(self.b_2, "b_2", shape=(d,))
        _activation(self.activation)


def layer_parameters(block: Block) -> LayerParameters:
    """Read the weights of a :class:`~llmtheory.transformer.Block` built with ``norm="none"``."""
    check_instance(block, "block", Block, "a llmtheory.transformer.Block")
    if block.norm != "none":
        raise ValueError("the exact rewriting needs norm='none' (LayerNorm is not linear)")
    if block.mlp.activation not in ACTIVATIONS:
        raise ValueError(f"activation {block.mlp.activation!r} has no NumPy version here")
    with torch.no_grad():
        heads = {k: v.double().cpu().numpy() for k, v in block.attn.head_matrices().items()}
        mlp = {
            "W_1": block.mlp.fc1.weight, "b_1": block.mlp.fc1.bias,
            "W_2": block.mlp.fc2.weight, "b_2": block.mlp.fc2.bias,
        }  # fmt: skip
        mlp = {k: v.double().cpu().numpy() for k, v in mlp.items()}
    return LayerParameters(**heads, **mlp, activation=block.mlp.activation)


def attention_matrices(p: LayerParameters, X: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """Eq. ``eq-uat-head``: per-head ``softmax((X W_Q^T + 1 b_Q^T)(X W_K^T + 1 b_K^T)^T / sqrt(d_h)
    + M)``, shape (heads, n, n); ``mask`` is boolean, True = may attend (None: all). A token
    that may attend to nothing (a row of ``mask`` all False) gets a row of zeros, as in
    :meth:`llmtheory.transformer.MultiHeadAttention.attention_weights`."""
    p = _check_layer(p)
    return _attention(p, _tokens(X, "X", p), mask, "X")


def _attention(p: LayerParameters, X: np.ndarray, mask: object, name: str) -> np.ndarray:
    n = X.shape[0]
    if mask is not None:
        mask = check_array(mask, "mask", dtype="bool", shape=(n, n))
    with np.errstate(over="ignore", invalid="ignore"):
        q = np.einsum("nd,hed->hne", X, p.W_Q) + p.b_Q[:, None, :]
        k = np.einsum("nd,hed->hne", X, p.W_K) + p.b_K[:, None, :]
        s = q @ k.transpose(0, 2, 1) / np.sqrt(p.W_Q.shape[1])
    if not np.all(np.isfinite(s)):
        raise ValueError(f"{name} is too large: its attention scores overflow the float range")
    if mask is None:
        s = np.exp(s - s.max(axis=-1, keepdims=True))
        return s / s.sum(axis=-1, keepdims=True)
    blocked = ~mask.any(axis=-1, keepdims=True)  # tokens that may attend to nothing
    s = np.where(mask | blocked, s, -np.inf)
    s = np.exp(s - s.max(axis=-1, keepdims=True))
    return np.where(blocked, 0.0, s / s.sum(axis=-1, keepdims=True))


def head_vec_matrix(W_V: np.ndarray, A: np.ndarray) -> np.ndarray:
    """Eq. ``eq-uat-head``: ``vec(A X W_V^T) = (W_V kron A) x`` for one head."""
    W_V, A = check_array(W_V, "W_V", ndim=2), check_array(A, "A", ndim=2)
    check_memory(2 * 8 * W_V.size * A.size, f"W_V kron A for W_V {W_V.shape} and A {A.shape}")
    return np.kron(W_V, A)


def mha_vec_matrix(p: LayerParameters, A: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eq. ``eq-uat-mha``: ``Gamma(x) = I + sum_h (W_O^h W_V^h) kron A_h`` and the constant
    ``c kron 1_n`` with ``c = sum_h W_O^h b_V^h + b_O`` (rows of ``A_h`` sum to one).

    ``A`` holds the attention matrices ``A_h`` of eq. ``eq-uat-head`` (heads, n, n); returns
    ``(M, c kron 1_n)``, where ``M`` is ``Gamma(x)``, the matrix of attention with its residual.
    """
    p = _check_layer(p)
    A = check_array(A, "A", ndim=3)
    n = A.shape[-1]
    if A.shape != (p.W_O.shape[0], n, n):
        raise ValueError(
            f"A must have shape (heads, n, n) = ({p.W_O.shape[0]}, n, n), got {A.shape}"
        )
    d = p.W_O.shape[1]
    check_memory(3 * 8 * (n * d) ** 2, f"Gamma(x) for n={n} tokens of d={d}")
    M = np.eye(n * d) + sum(np.kron(p.W_O[h] @ p.W_V[h], A[h]) for h in range(A.shape[0]))
    c = np.einsum("hde,he->d", p.W_O, p.b_V) + p.b_O
    return M, np.kron(c, np.ones(n))


@dataclass(frozen=True)
class BlockRewrite:
    """A block as ``T(x) = Gamma(x) x + c + A sigma(W(x) x + theta) + b`` (``eq-uat-block``);
    the field ``M`` holds ``Gamma(x)``."""

    M: np.ndarray
    c: np.ndarray
    ffn: UATTerm

    def __post_init__(self) -> None:
        n = check_array(self.M, "M", ndim=2).shape[0]
        check_array(self.M, "M", shape=(n, n))
        check_array(self.c, "c", shape=(n,))
        check_instance(self.ffn, "ffn", UATTerm, "a UATTerm")
        if self.ffn.W.shape[1] != n or self.ffn.b.shape != (n,):
            raise ValueError(f"ffn must map vectors of length {n} to length {n}")

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Evaluate the block at the point ``x`` it was rewritten at."""
        x = check_array(x, "x", shape=(self.M.shape[0],))
        return self.M @ x + self.c + self.ffn(x)


def block_rewrite(p: LayerParameters, X: np.ndarray, mask: np.ndarray | None) -> BlockRewrite:
    """Eq. ``eq-uat-block`` at the input ``X``: the FFN becomes a UAT term in ``x`` with the
    input-dependent first-layer weight ``(W_1 kron I) Gamma(x)`` and bias ``(W_1 kron I) c + b_1
    kron 1``."""
    p = _check_layer(p)
    return _block_rewrite(p, _tokens(X, "X", p), mask, "X")


def _block_rewrite(p: LayerParameters, X: np.ndarray, mask: object, name: str) -> BlockRewrite:
    n, d = X.shape
    check_memory(8 * n * n * d * (6 * d + 3 * p.W_1.shape[0]), f"the block at {n} tokens of d={d}")
    M, c = mha_vec_matrix(p, _attention(p, X, mask, name))
    W1, b1 = linear_vec(p.W_1, p.b_1, n)
    W2, b2 = linear_vec(p.W_2, p.b_2, n)
    return BlockRewrite(M, c, UATTerm(W2, W1 @ M, W1 @ c + b1, b2, p.activation))


def _check_layer(p: object) -> LayerParameters:
    return check_instance(p, "p", LayerParameters, "LayerParameters (from layer_parameters)")


def _tokens(X: object, name: str, p: LayerParameters) -> np.ndarray:
    """Tokens as the rows of a (n, d_model) array for the layer ``p``."""
    return check_array(X, name, shape=(None, p.W_Q.shape[2]))


def _model_layers(model: Transformer) -> list[LayerParameters]:
    check_instance(model, "model", Transformer, "a llmtheory Transformer")
    if model.norm != "none":
        raise ValueError("the exact rewriting needs a Transformer with norm='none'")
    return [layer_parameters(b) for b in model.blocks]


def model_attention(
    model: Transformer, n: int, attn_mask: torch.Tensor | None
) -> np.ndarray | None:
    """The boolean mask the model applies to ``n`` tokens as a NumPy array (None: full)."""
    check_instance(model, "model", Transformer, "a llmtheory Transformer")
    n = check_int(n, "n")
    if attn_mask is not None:
        attn_mask = check_tensor(attn_mask, "attn_mask", dtype="bool", shape=(n, n))
        return attn_mask.cpu().numpy()
    return causal_mask(n).numpy() if model.causal else None


def unrolled_terms(model: Transformer, X0: np.ndarray, attn_mask: torch.Tensor | None = None):
    """Eq. ``eq-uat-unrolled``: ``x_L = x_0 + sum_l [(Gamma_l - I) x_0 + ...]`` as UAT terms in x_0.

    ``X0`` (n, d_model) is the residual stream after the embedding. Layer ``l`` contributes
    an attention term (identity activation) and an FFN term, both of the form
    ``A sigma(W(x_0) x_0 + theta(x_0)) + b`` with ``Gamma_l`` evaluated at ``x_{l-1}`` and the
    sum ``r_{l-1} = x_{l-1} - x_0`` of the earlier branches folded into the biases.
    Returns the list of terms (2 per layer, in order) and ``x_L`` computed from them.
    """
    layers = _model_layers(model)
    X0 = check_array(X0, "X0", shape=(None, model.d_model))
    n = X0.shape[0]
    nd = X0.size
    check_memory(8 * nd * nd * (8 * len(layers) + 4), f"{2 * len(layers)} terms in n*d = {nd}")
    mask = model_attention(model, n, attn_mask)
    x0 = vec(X0)
    x, terms = x0, []
    for p in layers:
        blk = _block_rewrite(p, unvec(x, n), mask, "X0")
        r = x - x0
        eye = np.eye(x.size)
        terms.append(
            UATTerm(eye, blk.M - eye, (blk.M - eye) @ r + blk.c, np.zeros_like(x), "identity")
        )
        f = blk.ffn
        terms.append(UATTerm(f.A, f.W, f.W @ r + f.theta, f.b, f.activation))
        x = x0 + sum(t(x0) for t in terms)
    return terms, x


def token_block(matrix: np.ndarray, n: int, i: int, j: int) -> np.ndarray:
    """Block of a matrix acting on ``vec`` vectors that maps token ``j``'s features to token
    ``i``'s (rows ``i::n``, columns ``j::n`` under column stacking)."""
    n, i, j = check_int(n, "n"), check_int(i, "i", None), check_int(j, "j", None)
    if not (0 <= i < n and 0 <= j < n):
        raise ValueError(f"token indices must lie in [0, {n}), got i={i}, j={j}")
    matrix = check_array(matrix, "matrix", ndim=2)
    if matrix.shape[0] % n or matrix.shape[1] % n:
        raise ValueError(
            f"matrix must act on vec vectors of n={n} tokens, got shape {matrix.shape}"
        )
    return matrix[i::n, j::n]


def effective_token_parameters(
    p: LayerParameters, X: np.ndarray, mask: np.ndarray | None, i: int = -1
) -> tuple[np.ndarray, np.ndarray]:
    """Eq. ``eq-uat-last-token``: the FFN pre-activation of token ``i`` is ``W_eff x_i +
    theta_eff``, with ``W_eff = W_1 (I + sum_h A_h[i, i] W_O^h W_V^h)`` and the context folded
    into ``theta_eff``. Returns ``(W_eff, theta_eff)``."""
    X = _tokens(X, "X", _check_layer(p))
    n = X.shape[0]
    i = check_int(i, "i", None)
    if not -n <= i < n:
        raise ValueError(f"i must be a token index in [-{n}, {n}), got {i}")
    i = i % n
    blk = block_rewrite(p, X, mask)
    W = blk.ffn.W
    W_eff = token_block(W, n, i, i)
    pre = W @ vec(X) + blk.ffn.theta
    theta_eff = pre[i::n] - W_eff @ X[i]
    return W_eff, theta_eff


# --- the classical side: one hidden layer -------------------------------------------------


def one_hidden_layer(
    x: np.ndarray,
    alpha: np.ndarray,
    W: np.ndarray,
    theta: np.ndarray,
    bias: float = 0.0,
    activation: str = "relu",
) -> np.ndarray:
    """Eq. ``eq-uat-sum``: ``G(x) = sum_j alpha_j sigma(W_j^T x + theta_j) + bias`` for the rows
    of ``x`` (m, d); ``W`` is (N, d)."""
    x, W = check_array(x, "x", ndim=2), check_array(W, "W", ndim=2)
    if x.shape[1] != W.shape[1]:
        raise ValueError(f"x has {x.shape[1]} features but W expects {W.shape[1]}")
    alpha = check_array(alpha, "alpha", shape=(W.shape[0],))
    theta = check_array(theta, "theta", ndim=(0, 1))
    if theta.ndim and theta.shape != (W.shape[0],):
        raise ValueError(f"theta must have shape ({W.shape[0]},) or be a number, got {theta.shape}")
    bias = check_scalar(bias, "bias")
    act = _activation(activation)
    check_memory(2 * 8 * x.shape[0] * W.shape[0], f"features of x {x.shape} and W {W.shape}")
    return act(x @ W.T + theta) @ alpha + bias


def relu_interpolant(
    f: Callable[[np.ndarray], np.ndarray], a: float, b: float, N: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Eq. ``eq-uat-interp``: a ReLU network with ``N`` hidden units equal to the piecewise-
    linear interpolant of ``f`` at ``N + 1`` equispaced knots of ``[a, b]``.

    ``G(x) = f(a) + sum_k c_k relu(x - t_k)`` with ``c_k`` the change of slope at knot ``t_k``,
    ``k = 0, ..., N - 1``.
    Returns ``(alpha, W, theta, bias)`` for :func:`one_hidden_layer` with ``d = 1``.
    """
    check_callable(f, "f")
    a, b = check_scalar(a, "a"), check_scalar(b, "b")
    N = check_int(N, "N")
    if not b > a:
        raise ValueError(f"need a < b, got a={a}, b={b}")
    check_memory(8 * 8 * (N + 1), f"N={N} knots")
    t = np.linspace(a, b, N + 1)
    y = f(t)
    if not isinstance(y, np.ndarray) or y.shape != t.shape or not np.all(np.isfinite(y)):
        raise ValueError(
            f"f must map an array of {N + 1} points to {N + 1} finite values, got {describe(y)}"
        )
    slopes = np.diff(y) / np.diff(t)
    alpha = np.diff(slopes, prepend=0.0)
    return alpha, np.ones((N, 1)), -t[:-1], float(f(np.array([a]))[0])


def random_feature_residuals(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    widths: list[int] | np.ndarray,
    rng: np.random.Generator,
    scale: float = 3.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-point residuals of one-hidden-layer ReLU networks of each width (eq. ``eq-uat-sum``)
    with random inner weights ``W_j ~ N(0, scale^2 I)``, ``theta_j ~ U(-scale, scale)`` and
    outer weights fitted by least squares on the training points only. Features are nested:
    width ``N`` uses the first ``N``. Returns ``(train_residuals, test_residuals)`` of shapes
    ``(len(widths),) + y_train.shape`` and ``(len(widths),) + y_test.shape`` (fit minus
    target), from which eq. ``eq-uat-optimism`` and its standard error are computed."""
    widths = check_array(widths, "widths", ndim=1, dtype="integral")
    if np.any(widths < 1):
        raise ValueError(f"widths must be positive ints, got a minimum of {widths.min()}")
    rng = check_generator(rng, "rng")
    scale = check_scalar(scale, "scale", minimum=0.0, include_min=False)
    x_train, x_test = check_array(x_train, "x_train", ndim=2), check_array(x_test, "x_test", ndim=2)
    if x_test.shape[1] != x_train.shape[1]:
        raise ValueError(
            f"x_test must have the {x_train.shape[1]} features of x_train, got {x_test.shape[1]}"
        )
    y_train = check_array(y_train, "y_train", ndim=(1, 2))
    y_test = check_array(y_test, "y_test", ndim=(1, 2))
    if y_train.shape[0] != x_train.shape[0] or y_test.shape[0] != x_test.shape[0]:
        raise ValueError(
            f"y_train and y_test must have one row per point of x_train and x_test, got "
            f"{y_train.shape} for {x_train.shape[0]} and {y_test.shape} for {x_test.shape[0]}"
        )
    n_max, d = int(widths.max()), x_train.shape[1]
    check_memory(
        3 * 8 * n_max * (x_train.shape[0] + x_test.shape[0] + d),
        f"features of widths up to {n_max} for {x_train.shape[0] + x_test.shape[0]} points",
    )
    W = scale * rng.standard_normal((n_max, d))
    theta = rng.uniform(-scale, scale, n_max)
    phi_tr = np.maximum(x_train @ W.T + theta, 0.0)
    phi_te = np.maximum(x_test @ W.T + theta, 0.0)
    res_tr = np.empty((widths.size,) + y_train.shape)
    res_te = np.empty((widths.size,) + y_test.shape)
    for k, N in enumerate(widths):
        F = np.column_stack([phi_tr[:, :N], np.ones(len(x_train))])
        coef = np.linalg.lstsq(F, y_train, rcond=None)[0]
        pred = np.column_stack([phi_te[:, :N], np.ones(len(x_test))]) @ coef
        res_tr[k], res_te[k] = F @ coef - y_train, pred - y_test
    return res_tr, res_te


def random_feature_errors(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    widths: list[int] | np.ndarray,
    rng: np.random.Generator,
    scale: float = 3.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Training and test RMS errors of the random-feature networks of
    :func:`random_feature_residuals` (eq. ``eq-uat-sum``), same arguments. Returns
    ``(train_rms, test_rms)``, one entry per width."""
    res_tr, res_te = random_feature_residuals(
        x_train, y_train, x_test, y_test, widths, rng, scale=scale
    )
    n_w = res_tr.shape[0]
    return (
        np.sqrt(np.mean(res_tr.reshape(n_w, -1) ** 2, axis=1)),
        np.sqrt(np.mean(res_te.reshape(n_w, -1) ** 2, axis=1)),
    )


def fitted_rate(N: np.ndarray, err: np.ndarray) -> float:
    """Exponent ``p`` of the least-squares fit ``err ≈ C N^{-p}`` on log–log axes."""
    N, err = check_array(N, "N", ndim=1, min_size=2), check_array(err, "err", ndim=1, min_size=2)
    if N.shape != err.shape:
        raise ValueError(f"N and err must have the same length, got {N.size} and {err.size}")
    if np.any(N <= 0) or np.any(err <= 0):
        raise ValueError("N and err must be positive")
    if np.all(N == N[0]):
        raise ValueError("N must hold at least two distinct widths to fit a rate")
    return float(-np.polyfit(np.log(N), np.log(err), 1)[0])


def _check_fit_data(
    x_train: object, y_train: object, x_test: object, y_test: object
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    x_train, x_test = check_array(x_train, "x_train", ndim=2), check_array(x_test, "x_test", ndim=2)
    if x_test.shape[1] != x_train.shape[1]:
        raise ValueError(
            f"x_test must have the {x_train.shape[1]} features of x_train, got {x_test.shape[1]}"
        )
    y_train = check_array(y_train, "y_train", shape=(x_train.shape[0],))
    y_test = check_array(y_test, "y_test", shape=(x_test.shape[0],))
    return x_train, y_train, x_test, y_test


_MAX_STEPS = 100_000  # a chapter uses 800; more is a mistake, not a longer run


def train_hidden_layer(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    width: int,
    rng: np.random.Generator,
    scale: float = 3.0,
    steps: int = 800,
    lr: float = 1e-2,
) -> tuple[float, float]:
    r"""Training and test RMS errors of a one-hidden-layer ReLU network (eq. ``eq-uat-sum``)
    whose hidden units are *optimised*: inner weights start as in
    :func:`random_feature_errors` (``W_j ~ N(0, scale^2 I)``, ``theta_j ~ U(-scale, scale)``),
    outer weights at zero, and all of them are trained by full-batch Adam on the training
    points (float64, on :func:`llmtheory.device.get_device`). The network of
    eq. ``eq-uat-barron-relu`` is the best such network; this one is what training finds."""
    x_train, y_train, x_test, y_test = _check_fit_data(x_train, y_train, x_test, y_test)
    width = check_int(width, "width")
    rng = check_generator(rng, "rng")
    scale = check_scalar(scale, "scale", minimum=0.0, include_min=False)
    steps = check_int(steps, "steps", maximum=_MAX_STEPS)
    lr = check_scalar(lr, "lr", minimum=0.0, include_min=False)
    d = x_train.shape[1]
    check_memory(
        4 * 8 * width * (x_train.shape[0] + x_test.shape[0] + d),
        f"a width-{width} network on {x_train.shape[0] + x_test.shape[0]} points",
    )
    dev = get_device()

    def tensor(a: np.ndarray, grad: bool = False) -> torch.Tensor:
        return torch.tensor(a, dtype=torch.float64, device=dev, requires_grad=grad)

    W = tensor(scale * rng.standard_normal((width, d)), True)
    theta = tensor(rng.uniform(-scale, scale, width), True)
    alpha, bias = tensor(np.zeros(width), True), tensor(np.zeros(()), True)
    xt, yt = tensor(x_train), tensor(y_train)

    def net(x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x @ W.T + theta) @ alpha + bias

    opt = torch.optim.Adam([W, theta, alpha, bias], lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        loss = ((net(xt) - yt) ** 2).mean()
        loss.backward()
        opt.step()
    with torch.no_grad():
        train_mse = ((net(xt) - yt) ** 2).mean().item()
        test_mse = ((net(tensor(x_test)) - tensor(y_test)) ** 2).mean().item()
    return float(np.sqrt(train_mse)), float(np.sqrt(test_mse))


def _check_atoms(atoms: object, weights: object) -> tuple[np.ndarray, np.ndarray]:
    atoms = check_array(atoms, "atoms", ndim=2)
    weights = check_array(weights, "weights", shape=(atoms.shape[0],))
    if np.any(weights < 0) or not np.isclose(weights.sum(), 1.0, rtol=0, atol=1e-12):
        raise ValueError("weights must be non-negative and sum to 1 (a convex combination)")
    return atoms, weights


def maurey_average(
    atoms: np.ndarray, weights: np.ndarray, N: int, rng: np.random.Generator
) -> np.ndarray:
    r"""Eq. ``eq-uat-maurey``: the average ``(1/N) sum_i g_{k_i}`` of ``N`` atoms drawn
    independently with probabilities ``weights``. ``atoms`` (K, m) holds atom ``k``'s values
    at ``m`` points; the result, shape (m,), is an unbiased estimate of
    ``f = sum_k weights_k g_k``."""
    atoms, weights = _check_atoms(atoms, weights)
    N = check_int(N, "N")
    rng = check_generator(rng, "rng")
    check_memory(8 * N * atoms.shape[1], f"N={N} atoms of {atoms.shape[1]} values")
    idx = rng.choice(atoms.shape[0], size=N, p=weights)
    return atoms[idx].mean(axis=0)


def maurey_variance(atoms: np.ndarray, weights: np.ndarray) -> float:
    r"""Eq. ``eq-uat-maurey``: ``sum_k weights_k ||g_k||^2 - ||f||^2`` with ``||.||^2`` the
    mean square over the ``m`` points, so that ``E||f - f_N||^2`` is this divided by ``N``."""
    atoms, weights = _check_atoms(atoms, weights)
    f = weights @ atoms
    return float(weights @ np.mean(atoms**2, axis=1) - np.mean(f**2))


def rank_one_update(delta_theta: np.ndarray, x: np.ndarray) -> np.ndarray:
    r"""Eq. ``eq-uat-rank-one``: the rank-one weight change ``Delta theta x^T / ||x||^2``,
    which has the same effect on the pre-activation at the token ``x`` as the bias shift
    ``Delta theta`` (Dherin et al., 2025)."""
    delta_theta = check_array(delta_theta, "delta_theta", ndim=1)
    x = check_array(x, "x", ndim=1)
    norm2 = float(x @ x)
    if norm2 == 0.0:
        raise ValueError("x must be a non-zero token (its squared norm divides the update)")
    return np.outer(delta_theta, x) / norm2


def context_task(
    batch: int, n: int, d: int, gen: torch.Generator, dtype: torch.dtype = torch.float32
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""The context task of chapter 1: tokens ``x_i ~ N(0, I_d)`` and causal targets
    ``y_i = x_i^T mean(x_1, ..., x_i)`` (eq. ``eq-uat-blind``). Returns ``(x, y)`` of shapes
    (batch, n, d) and (batch, n, 1)."""
    batch, n, d = check_int(batch, "batch"), check_int(n, "n"), check_int(d, "d")
    gen = check_generator(gen, "gen", kind="torch")
    check_memory(2 * 4 * batch * n * (d + 1), f"a context task with batch={batch}, n={n}, d={d}")
    x = torch.randn(batch, n, d, generator=gen, dtype=dtype)
    mean = x.cumsum(1) / torch.arange(1, n + 1, dtype=dtype).view(1, -1, 1)
    return x, (x * mean).sum(-1, keepdim=True)


def context_blind_prediction(x: np.ndarray) -> np.ndarray:
    r"""Eq. ``eq-uat-blind``: the best predictor of the context task that sees token ``i`` and
    its position but not the other tokens, ``E[y_i | x_i] = ||x_i||^2 / i`` (positions from 1).
    ``x`` has shape (..., n, d); returns shape (..., n)."""
    x = check_array(x, "x", ndim=(2, 3))
    return (x**2).sum(-1) / np.arange(1, x.shape[-2] + 1)
