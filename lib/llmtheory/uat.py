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

from .transformer import Block, Transformer, causal_mask

__all__ = [
    "ACTIVATIONS",
    "BlockRewrite",
    "LayerParameters",
    "UATTerm",
    "attention_matrices",
    "block_rewrite",
    "effective_token_parameters",
    "fitted_rate",
    "head_vec_matrix",
    "layer_parameters",
    "linear_vec",
    "mha_vec_matrix",
    "model_attention",
    "one_hidden_layer",
    "random_feature_errors",
    "relu_interpolant",
    "token_block",
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


def _matrix(a: object, name: str) -> np.ndarray:
    arr = np.asarray(a, dtype=float)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array, got shape {arr.shape}")
    return arr


def _activation(name: str) -> Callable[[np.ndarray], np.ndarray]:
    if name not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {tuple(ACTIVATIONS)}, got {name!r}")
    return ACTIVATIONS[name]


def vec(X: np.ndarray) -> np.ndarray:
    """Column-stacking ``vec X`` of a matrix ``X`` (n, d): a vector of length ``n d``."""
    return _matrix(X, "X").reshape(-1, order="F")


def unvec(x: np.ndarray, n: int) -> np.ndarray:
    """Inverse of :func:`vec`: the ``(n, len(x) / n)`` matrix whose columns stack to ``x``."""
    x = np.asarray(x, dtype=float)
    if x.ndim != 1 or n < 1 or x.size % n:
        raise ValueError(f"x must be a vector whose length is a multiple of n={n}")
    return x.reshape(n, -1, order="F")


def linear_vec(W: np.ndarray, b: np.ndarray | None, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Eq. ``eq-uat-linear``: ``vec(X W^T + 1 b^T) = (W kron I_n) x + b kron 1_n``.

    Returns the matrix ``W kron I_n`` and the vector ``b kron 1_n`` (zeros when ``b`` is None).
    """
    W = _matrix(W, "W")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    b = np.zeros(W.shape[0]) if b is None else np.asarray(b, dtype=float)
    if b.shape != (W.shape[0],):
        raise ValueError(f"b must have shape ({W.shape[0]},), got {b.shape}")
    return np.kron(W, np.eye(n)), np.kron(b, np.ones(n))


@dataclass(frozen=True)
class UATTerm:
    """One UAT term ``A sigma(W x + theta) + b`` (eq. ``eq-uat-matrix``)."""

    A: np.ndarray
    W: np.ndarray
    theta: np.ndarray
    b: np.ndarray
    activation: str = "relu"

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Evaluate the term at ``x``."""
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


def layer_parameters(block: Block) -> LayerParameters:
    """Read the weights of a :class:`~llmtheory.transformer.Block` built with ``norm="none"``."""
    if not isinstance(block, Block):
        raise TypeError(f"block must be a llmtheory.transformer.Block, got {type(block).__name__}")
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
    + M)``, shape (heads, n, n); ``mask`` is boolean, True = may attend (None: all)."""
    X = _matrix(X, "X")
    q = np.einsum("nd,hed->hne", X, p.W_Q) + p.b_Q[:, None, :]
    k = np.einsum("nd,hed->hne", X, p.W_K) + p.b_K[:, None, :]
    s = q @ k.transpose(0, 2, 1) / np.sqrt(p.W_Q.shape[1])
    if mask is not None:
        s = np.where(mask, s, -np.inf)
    s = np.exp(s - s.max(axis=-1, keepdims=True))
    return s / s.sum(axis=-1, keepdims=True)


def head_vec_matrix(W_V: np.ndarray, A: np.ndarray) -> np.ndarray:
    """Eq. ``eq-uat-head``: ``vec(A X W_V^T) = (W_V kron A) x`` for one head."""
    return np.kron(_matrix(W_V, "W_V"), _matrix(A, "A"))


def mha_vec_matrix(p: LayerParameters, A: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eq. ``eq-uat-mha``: ``M(x) = I + sum_h (W_O^h W_V^h) kron A_h`` and the constant
    ``c kron 1_n`` with ``c = sum_h W_O^h b_V^h + b_O`` (rows of ``A_h`` sum to one)."""
    n = A.shape[-1]
    d = p.W_O.shape[1]
    M = np.eye(n * d) + sum(np.kron(p.W_O[h] @ p.W_V[h], A[h]) for h in range(A.shape[0]))
    c = np.einsum("hde,he->d", p.W_O, p.b_V) + p.b_O
    return M, np.kron(c, np.ones(n))


@dataclass(frozen=True)
class BlockRewrite:
    """A block as ``T(x) = M(x) x + c + A sigma(W(x) x + theta(x)) + b`` (``eq-uat-block``)."""

    M: np.ndarray
    c: np.ndarray
    ffn: UATTerm

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Evaluate the block at the point ``x`` it was rewritten at."""
        return self.M @ x + self.c + self.ffn(x)


def block_rewrite(p: LayerParameters, X: np.ndarray, mask: np.ndarray | None) -> BlockRewrite:
    """Eq. ``eq-uat-block`` at the input ``X``: the FFN becomes a UAT term in ``x`` with the
    input-dependent first-layer weight ``(W_1 kron I) M(x)`` and bias ``(W_1 kron I) c + b_1
    kron 1``."""
    X = _matrix(X, "X")
    n = X.shape[0]
    M, c = mha_vec_matrix(p, attention_matrices(p, X, mask))
    W1, b1 = linear_vec(p.W_1, p.b_1, n)
    W2, b2 = linear_vec(p.W_2, p.b_2, n)
    return BlockRewrite(M, c, UATTerm(W2, W1 @ M, W1 @ c + b1, b2, p.activation))


def _model_layers(model: Transformer) -> list[LayerParameters]:
    if not isinstance(model, Transformer):
        raise TypeError(f"model must be a llmtheory Transformer, got {type(model).__name__}")
    if model.norm != "none":
        raise ValueError("the exact rewriting needs a Transformer with norm='none'")
    return [layer_parameters(b) for b in model.blocks]


def model_attention(
    model: Transformer, n: int, attn_mask: torch.Tensor | None
) -> np.ndarray | None:
    """The boolean mask the model applies to ``n`` tokens as a NumPy array (None: full)."""
    if attn_mask is not None:
        return attn_mask.cpu().numpy()
    return causal_mask(n).numpy() if model.causal else None


def unrolled_terms(model: Transformer, X0: np.ndarray, attn_mask: torch.Tensor | None = None):
    """Eq. ``eq-uat-unrolled``: ``x_L = x_0 + sum_l [ (M_l - I) x_0 + ... ]`` as UAT terms in x_0.

    ``X0`` (n, d_model) is the residual stream after the embedding. Layer ``l`` contributes
    an attention term (identity activation) and an FFN term, both of the form
    ``A sigma(W(x_0) x_0 + theta(x_0)) + b`` with ``M_l`` evaluated at ``x_{l-1}`` and the
    sum ``r_{l-1} = x_{l-1} - x_0`` of the earlier branches folded into the biases.
    Returns the list of terms (2 per layer, in order) and ``x_L`` computed from them.
    """
    layers = _model_layers(model)
    X0 = _matrix(X0, "X0")
    n = X0.shape[0]
    mask = model_attention(model, n, attn_mask)
    x0 = vec(X0)
    x, terms = x0, []
    for p in layers:
        blk = block_rewrite(p, unvec(x, n), mask)
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
    if not (0 <= i < n and 0 <= j < n):
        raise ValueError(f"token indices must lie in [0, {n}), got i={i}, j={j}")
    return _matrix(matrix, "matrix")[i::n, j::n]


def effective_token_parameters(
    p: LayerParameters, X: np.ndarray, mask: np.ndarray | None, i: int = -1
) -> tuple[np.ndarray, np.ndarray]:
    """Eq. ``eq-uat-last-token``: the FFN pre-activation of token ``i`` is ``W_eff x_i +
    theta_eff``, with ``W_eff = W_1 (I + sum_h A_h[i, i] W_O^h W_V^h)`` and the context folded
    into ``theta_eff``. Returns ``(W_eff, theta_eff)``."""
    X = _matrix(X, "X")
    n = X.shape[0]
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
    x, W = _matrix(x, "x"), _matrix(W, "W")
    if x.shape[1] != W.shape[1]:
        raise ValueError(f"x has {x.shape[1]} features but W expects {W.shape[1]}")
    return _activation(activation)(x @ W.T + theta) @ alpha + bias


def relu_interpolant(
    f: Callable[[np.ndarray], np.ndarray], a: float, b: float, N: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Eq. ``eq-uat-interp``: a ReLU network with ``N`` hidden units equal to the piecewise-
    linear interpolant of ``f`` at ``N + 1`` equispaced knots of ``[a, b]``.

    ``G(x) = f(a) + sum_j c_j relu(x - t_j)`` with ``c_j`` the change of slope at knot ``t_j``.
    Returns ``(alpha, W, theta, bias)`` for :func:`one_hidden_layer` with ``d = 1``.
    """
    if isinstance(N, bool) or not isinstance(N, int) or N < 1:
        raise ValueError(f"N must be a positive int, got {N!r}")
    if not b > a:
        raise ValueError(f"need a < b, got a={a}, b={b}")
    t = np.linspace(a, b, N + 1)
    slopes = np.diff(f(t)) / np.diff(t)
    alpha = np.diff(slopes, prepend=0.0)
    return alpha, np.ones((N, 1)), -t[:-1], float(f(np.array([a]))[0])


def random_feature_errors(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    widths: list[int] | np.ndarray,
    rng: np.random.Generator,
    scale: float = 3.0,
) -> np.ndarray:
    """Test RMS error of one-hidden-layer ReLU networks of each width with random inner
    weights ``W_j ~ N(0, scale^2 I)``, ``theta_j ~ U(-scale, scale)`` and least-squares outer
    weights (eq. ``eq-uat-sum``). Features are nested: width ``N`` uses the first ``N``."""
    widths = np.asarray(widths)
    if widths.ndim != 1 or widths.size == 0 or np.any(widths < 1):
        raise ValueError("widths must be a non-empty 1-D list of positive ints")
    if not isinstance(rng, np.random.Generator):
        raise TypeError("rng must be a numpy.random.Generator")
    x_train, x_test = _matrix(x_train, "x_train"), _matrix(x_test, "x_test")
    n_max, d = int(widths.max()), x_train.shape[1]
    W = scale * rng.standard_normal((n_max, d))
    theta = rng.uniform(-scale, scale, n_max)
    phi_tr = np.maximum(x_train @ W.T + theta, 0.0)
    phi_te = np.maximum(x_test @ W.T + theta, 0.0)
    errs = np.empty(widths.size)
    for k, N in enumerate(widths):
        F = np.column_stack([phi_tr[:, :N], np.ones(len(x_train))])
        coef = np.linalg.lstsq(F, y_train, rcond=None)[0]
        pred = np.column_stack([phi_te[:, :N], np.ones(len(x_test))]) @ coef
        errs[k] = np.sqrt(np.mean((pred - y_test) ** 2))
    return errs


def fitted_rate(N: np.ndarray, err: np.ndarray) -> float:
    """Exponent ``p`` of the least-squares fit ``err ≈ C N^{-p}`` on log–log axes."""
    N, err = np.asarray(N, dtype=float), np.asarray(err, dtype=float)
    if N.shape != err.shape or N.ndim != 1 or N.size < 2:
        raise ValueError("N and err must be 1-D arrays of the same length >= 2")
    if np.any(N <= 0) or np.any(err <= 0):
        raise ValueError("N and err must be positive")
    return float(-np.polyfit(np.log(N), np.log(err), 1)[0])
