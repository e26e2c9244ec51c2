"""LoRA adapters, the teacher/student tasks of chapter 3, and pruning with compensation.

LoRA (Hu et al., 2022) adds a trainable low-rank update to a frozen linear layer,
``h = W_0 x + (alpha / r) B A x`` with ``B = 0`` at initialisation and ``A`` Gaussian
(eq. ``eq-lora-update``). Pruning a one-hidden-layer network ``G = sum_j alpha_j phi_j``
keeps a subset of its features ``phi_j`` and, optionally, refits the output weights by least
squares — the "prune and compensate" idea of OBS and SparseGPT, in its simplest form
(eq. ``eq-prune-refit``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from .validation import (
    check_array,
    check_generator,
    check_instance,
    check_int,
    check_memory,
    check_scalar,
    check_str_list,
    check_tensor,
)

__all__ = [
    "LoRALinear",
    "TeacherTask",
    "attach_lora",
    "feature_matrix",
    "make_student",
    "make_teacher",
    "numerical_rank",
    "obs_prune",
    "projection_norm",
    "prune_columns",
    "refit_output",
    "saliency",
    "select_columns",
    "subspace_similarity",
]

# The unit roundoff of float32: the relative precision of a network trained in float32, below
# which the refit counts a singular direction of its feature matrix as zero (refit_output).
FLOAT32_ROUNDOFF = 2.0**-24


class LoRALinear(nn.Module):
    """A frozen :class:`torch.nn.Linear` plus a rank-``r`` update (eq. ``eq-lora-update``).

    ``forward(x) = base(x) + (alpha / r) * (x A^T) B^T`` with ``A`` (r, in) drawn from
    ``N(0, 1 / in)`` and ``B`` (out, r) zero, so the wrapped layer starts exactly at the
    pre-trained one. The base weight and bias are frozen (``requires_grad=False``).
    ``alpha`` is a constant, the same at every rank (1 by default), as in Hu et al. (2022):
    the scale ``alpha / r`` then falls as the rank grows.
    """

    def __init__(
        self,
        base: nn.Linear,
        r: int,
        alpha: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> None:
        nn.Module.__init__(self)  # explicit: the method stays valid when recompiled on its own
        check_instance(base, "base", nn.Linear, "a torch.nn.Linear")
        r = check_int(r, "r")
        if r > min(base.in_features, base.out_features):
            raise ValueError(
                f"r must not exceed min(in, out) = {min(base.in_features, base.out_features)}, "
                f"got {r}"
            )
        alpha = check_scalar(alpha, "alpha", minimum=0.0, include_min=False)
        generator = check_generator(generator, "generator", kind="torch", allow_none=True)
        self.base, self.r, self.scale = base, r, alpha / r
        for p in base.parameters():
            p.requires_grad_(False)
        w = base.weight
        a = torch.randn(r, base.in_features, generator=generator, dtype=w.dtype)
        self.A = nn.Parameter(a.to(w.device) / math.sqrt(base.in_features))
        self.B = nn.Parameter(torch.zeros(base.out_features, r, dtype=w.dtype, device=w.device))

    def forward(self, x: Tensor) -> Tensor:
        """``W_0 x + b + (alpha / r) B A x``."""
        _features(x, "x", self.base.in_features, self.base.weight.dtype)
        return self.base(x) + self.scale * (x @ self.A.T) @ self.B.T

    def delta_weight(self) -> Tensor:
        """The update ``(alpha / r) B A``, of rank at most ``r``."""
        return self.scale * self.B @ self.A

    def merged_weight(self) -> Tensor:
        """``W_0 + (alpha / r) B A``: the single matrix the adapted layer applies."""
        return self.base.weight + self.delta_weight()

    @property
    def weight(self) -> Tensor:
        """The merged weight, so that the adapter stands in for the :class:`nn.Linear` it wraps."""
        return self.merged_weight()

    @property
    def bias(self) -> Tensor | None:
        """The frozen bias of the wrapped layer."""
        return self.base.bias

    @property
    def in_features(self) -> int:
        """Input width of the wrapped layer."""
        return self.base.in_features

    @property
    def out_features(self) -> int:
        """Output width of the wrapped layer."""
        return self.base.out_features


def attach_lora(
    model: nn.Module, names: list[str], r: int, alpha: float, seed: int
) -> list[nn.Parameter]:
    """Replace the :class:`nn.Linear` sub-modules ``names`` of ``model`` (dotted paths, e.g.
    ``"blocks.0.attn.qkv"``) by rank-``r`` adapters (eq. ``eq-lora-update``), freeze every other
    parameter, and return the adapters' ``A`` and ``B``. Adapter ``k`` draws ``A`` with seed
    ``seed + k``."""
    check_instance(model, "model", nn.Module, "a torch.nn.Module")
    names = check_str_list(names, "names")
    seed = check_int(seed, "seed", 0, maximum=2**62)
    model.requires_grad_(False)
    params: list[nn.Parameter] = []
    for k, name in enumerate(names):
        parent_name, _, leaf = name.rpartition(".")
        try:
            parent = model.get_submodule(parent_name)
            base = getattr(parent, leaf)
        except AttributeError as err:
            raise ValueError(f"names: model has no sub-module {name!r}") from err
        gen = torch.Generator().manual_seed(seed + k)
        adapter = LoRALinear(base, r, alpha=alpha, generator=gen)
        setattr(parent, leaf, adapter)
        params += [adapter.A, adapter.B]
    return params


@dataclass(frozen=True)
class TeacherTask:
    """A tanh teacher ``f_A(x) = a^T tanh(W x + b)`` and a rank-``r`` change of its input map,
    ``f_B(x) = f_A((I + U V^T) x)`` (eq. ``eq-lora-task``)."""

    W: Tensor
    b: Tensor
    a: Tensor
    U: Tensor
    V: Tensor

    def __post_init__(self) -> None:
        h, d = check_tensor(self.W, "W", ndim=2).shape
        check_tensor(self.b, "b", shape=(h,))
        check_tensor(self.a, "a", shape=(h,))
        rank = check_tensor(self.U, "U", shape=(d, None)).shape[1]
        check_tensor(self.V, "V", shape=(d, rank))

    def f_a(self, x: Tensor) -> Tensor:
        """Task A at inputs ``x`` (m, d)."""
        _features(x, "x", self.W.shape[1], self.W.dtype)
        return torch.tanh(x @ self.W.T + self.b) @ self.a

    def f_b(self, x: Tensor) -> Tensor:
        """Task B: task A after the input map ``I + U V^T``."""
        _features(x, "x", self.W.shape[1], self.W.dtype)
        return self.f_a(x + (x @ self.V) @ self.U.T)


def make_teacher(
    d_in: int, d_hidden: int, rank: int, scale: float, generator: torch.Generator
) -> TeacherTask:
    """Random teacher (``W`` with N(0, 1/d_in) entries, ``a`` with N(0, 1/d_hidden)) and
    ``U = scale Q_1``, ``V = Q_2`` with random orthonormal ``Q_1, Q_2`` (d_in, rank)."""
    d_in, d_hidden = check_int(d_in, "d_in"), check_int(d_hidden, "d_hidden")
    rank = check_int(rank, "rank")
    if rank > d_in:
        raise ValueError(f"rank must not exceed d_in={d_in}, got {rank}")
    scale = check_scalar(scale, "scale")
    check_generator(generator, "generator", kind="torch")
    check_memory(4 * (d_hidden * (d_in + 2) + 4 * d_in * rank), f"a teacher with d_in={d_in}, "
                 f"d_hidden={d_hidden} and rank={rank}")  # fmt: skip
    W = torch.randn(d_hidden, d_in, generator=generator) / math.sqrt(d_in)
    b = 0.1 * torch.randn(d_hidden, generator=generator)
    a = torch.randn(d_hidden, generator=generator) / math.sqrt(d_hidden)
    q1 = torch.linalg.qr(torch.randn(d_in, rank, generator=generator))[0]
    q2 = torch.linalg.qr(torch.randn(d_in, rank, generator=generator))[0]
    return TeacherTask(W, b, a, scale * q1, q2)


def subspace_similarity(U1: np.ndarray, U2: np.ndarray) -> np.ndarray:
    r"""Eq. ``eq-lora-phi``: ``phi[i-1, j-1] = ||U1[:, :i]^T U2[:, :j]||_F^2 / min(i, j)`` for all
    ``i <= k1``, ``j <= k2``, where the columns of ``U1`` (d, k1) and ``U2`` (d, k2) are
    orthonormal (e.g. singular vectors ordered by singular value); values lie in [0, 1]."""
    U1 = check_array(U1, "U1", ndim=2)
    U2 = check_array(U2, "U2", shape=(U1.shape[0], None))
    check_memory(8 * 4 * U1.shape[1] * U2.shape[1], f"phi for U1 {U1.shape} and U2 {U2.shape}")
    sq = (U1.T @ U2) ** 2
    cum = sq.cumsum(0).cumsum(1)
    i = np.arange(1, U1.shape[1] + 1)[:, None]
    j = np.arange(1, U2.shape[1] + 1)[None, :]
    return cum / np.minimum(i, j)


def projection_norm(W: np.ndarray, U: np.ndarray, V: np.ndarray) -> float:
    r"""Eq. ``eq-lora-amplify``: ``||U^T W V||_F``, the size of ``W`` (m, n) on the left
    directions ``U`` (m, k) and right directions ``V`` (n, k) (orthonormal columns)."""
    W = check_array(W, "W", ndim=2)
    U = check_array(U, "U", shape=(W.shape[0], None))
    V = check_array(V, "V", shape=(W.shape[1], None))
    return float(np.linalg.norm(U.T @ W @ V))


def make_student(d_in: int, width: int) -> nn.Sequential:
    """One-hidden-layer ReLU student ``d_in -> width -> 1`` (``[0]`` is the layer LoRA adapts)."""
    d_in, width = check_int(d_in, "d_in"), check_int(width, "width")
    check_memory(4 * width * (d_in + 2), f"a student with d_in={d_in} and width={width}")
    return nn.Sequential(
        nn.Linear(d_in, width),
        nn.ReLU(),
        nn.Linear(width, 1),
    )


def _features(x: object, name: str, d: int, dtype: torch.dtype) -> Tensor:
    """A float tensor of ``dtype`` whose last axis has the ``d`` input features."""
    x = check_tensor(x, name, dtype=dtype, finite=False)
    if x.ndim == 0 or x.shape[-1] != d:
        raise ValueError(
            f"{name} must have {d} features on its last axis, got shape {tuple(x.shape)}"
        )
    return x


# --- pruning ------------------------------------------------------------------------------


def feature_matrix(x: np.ndarray, W: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """Eq. ``eq-prune-features``: ``Phi[i, j] = relu(W_j^T x_i + theta_j)``, shape (m, N)."""
    x, W = check_array(x, "x", ndim=2), check_array(W, "W", ndim=2)
    if x.shape[1] != W.shape[1]:
        raise ValueError(f"x (m, d) and W (N, d) must agree in d, got {x.shape} and {W.shape}")
    theta = check_array(theta, "theta", shape=(W.shape[0],))
    check_memory(8 * x.shape[0] * W.shape[0], f"Phi for x {x.shape} and W {W.shape}")
    return np.maximum(x @ W.T + theta, 0.0)


def numerical_rank(Phi: np.ndarray, tol: float = 1e-3) -> int:
    """Number of singular values of ``Phi`` above ``tol`` times the largest one."""
    Phi = check_array(Phi, "Phi", ndim=2)
    tol = check_scalar(tol, "tol", minimum=0, maximum=1, include_min=False, include_max=False)
    s = np.linalg.svd(Phi, compute_uv=False)
    return int(np.sum(s > tol * s[0]))


def saliency(alpha: np.ndarray, W: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """Eq. ``eq-prune-saliency``: ``|alpha_j| * ||(W_j, theta_j)||``, the size of term ``j``."""
    alpha = check_array(alpha, "alpha", ndim=1)
    W = check_array(W, "W", shape=(alpha.size, None))
    theta = check_array(theta, "theta", shape=alpha.shape)
    return np.abs(alpha) * np.sqrt(np.sum(W**2, axis=1) + theta**2)


def select_columns(
    scores: np.ndarray | None, keep: int, n: int, rng: np.random.Generator | None = None
) -> np.ndarray:
    """Indices (sorted) of the ``keep`` columns with the largest ``scores``, or ``keep``
    columns drawn uniformly without replacement from ``n`` when ``scores`` is None."""
    keep, n = check_int(keep, "keep"), check_int(n, "n")
    if keep > n:
        raise ValueError(f"keep must not exceed n={n}, got {keep}")
    if scores is None:
        rng = check_generator(rng, "rng")
        check_memory(16 * keep, f"choosing keep={keep} columns")
        return np.sort(rng.choice(n, size=keep, replace=False))
    scores = check_array(scores, "scores", ndim=1)
    if scores.shape != (n,):
        raise ValueError(f"scores must have one entry per column, n={n}, got {scores.size}")
    return np.sort(np.argsort(-scores, kind="stable")[:keep])


def refit_output(
    Phi: np.ndarray, y: np.ndarray, rcond: float = FLOAT32_ROUNDOFF
) -> tuple[np.ndarray, float]:
    """Eq. ``eq-prune-refit``: least-squares output weights and bias, ``min ||Phi a + b 1 - y||``.

    ``y`` is the target the refit matches: the dense network's outputs ``G`` in
    eq-prune-refit, or labels. Returns ``(a, b)``, the minimum-norm solution on the numerical
    range of ``F = [Phi, 1]``: singular values of ``F`` below ``rcond`` times the largest count as
    zero. The default is the unit roundoff of float32, ``2**-24``. The features of a network
    trained in float32 are fixed only to that relative precision: rounding its weights changes
    ``F`` by at most about ``2**-24`` times its largest singular value in spectral norm, so by
    Weyl's inequality no singular value below that level is determined by the weights, and
    fitting such a direction takes huge weights that cancel on the sample and act off it.
    """
    Phi = check_array(Phi, "Phi", ndim=2)
    y = check_array(y, "y", ndim=1)
    if y.shape != (Phi.shape[0],):
        raise ValueError(f"Phi (m, k) and y (m,) must agree in m, got {Phi.shape} and {y.shape}")
    rcond = check_scalar(rcond, "rcond", minimum=0.0, maximum=1.0, include_max=False)
    check_memory(8 * 3 * y.size * (Phi.shape[1] + 1), f"the least-squares fit of Phi {Phi.shape}")
    F = np.column_stack([Phi, np.ones(len(y))])
    coef = np.linalg.lstsq(F, y, rcond=rcond)[0]
    return coef[:-1], float(coef[-1])


def prune_columns(
    Phi: np.ndarray,
    alpha: np.ndarray,
    bias: float,
    keep_idx: np.ndarray,
    y: np.ndarray,
    held_out: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict[str, float]:
    r"""The network restricted to the columns ``keep_idx``, without compensation (the kept
    ``alpha_j`` and ``b`` unchanged) and with the refit of eq. ``eq-prune-refit`` to the dense
    outputs ``G = Phi alpha + b`` on the training inputs.

    Returns the training MSE against the labels ``y`` (``"no_refit"``, ``"refit"``), the mean
    squared distance of the refitted outputs from ``G`` (``"gap"``) and, when ``held_out =
    (Phi_test, y_test)`` is given, the held-out MSE (``"no_refit_test"``, ``"refit_test"``).
    """
    Phi = check_array(Phi, "Phi", ndim=2)
    alpha = check_array(alpha, "alpha", shape=(Phi.shape[1],))
    bias = check_scalar(bias, "bias")
    keep_idx = check_array(keep_idx, "keep_idx", ndim=1, dtype="int")
    if keep_idx.min() < 0 or keep_idx.max() >= Phi.shape[1]:
        raise ValueError(
            f"keep_idx must hold column indices in [0, {Phi.shape[1]}), got values from "
            f"{keep_idx.min()} to {keep_idx.max()}"
        )
    y = check_array(y, "y", shape=(Phi.shape[0],))
    sets = {"": (Phi, y)}
    if held_out is not None:
        if not isinstance(held_out, tuple) or len(held_out) != 2:
            raise TypeError("held_out must be a tuple (Phi_test, y_test) or None")
        Phi_t = check_array(held_out[0], "held_out[0]", shape=(None, Phi.shape[1]))
        sets["_test"] = (Phi_t, check_array(held_out[1], "held_out[1]", shape=(Phi_t.shape[0],)))
    G = Phi @ alpha + bias
    layers = {"no_refit": (alpha[keep_idx], bias), "refit": refit_output(Phi[:, keep_idx], G)}
    out = {}
    for suffix, (F, target) in sets.items():
        for name, (a, c) in layers.items():
            out[name + suffix] = float(np.mean((F[:, keep_idx] @ a + c - target) ** 2))
    a, c = layers["refit"]
    out["gap"] = float(np.mean((Phi[:, keep_idx] @ a + c - G) ** 2))
    return out


def obs_prune(
    Phi: np.ndarray, alpha: np.ndarray, bias: float, keep_idx: np.ndarray
) -> tuple[np.ndarray, float]:
    r"""Eq. ``eq-prune-obs``: Optimal Brain Surgeon on the output layer. With ``w = (alpha, b)``
    and ``H = [Phi, 1]^T [Phi, 1]``, removing the columns ``R`` outside ``keep_idx`` sets
    ``w_R = 0`` and moves the kept weights by ``delta_S = H_SS^{-1} H_SR w_R`` (the minimiser of
    OBS's quadratic model under the constraint); returns the new ``(alpha_S, b)``."""
    Phi = check_array(Phi, "Phi", ndim=2)
    alpha = check_array(alpha, "alpha", shape=(Phi.shape[1],))
    bias = check_scalar(bias, "bias")
    keep_idx = check_array(keep_idx, "keep_idx", ndim=1, dtype="int")
    n = Phi.shape[1]
    if keep_idx.min() < 0 or keep_idx.max() >= n:
        raise ValueError(f"keep_idx must hold column indices in [0, {n}), got {keep_idx}")
    check_memory(8 * 2 * (n + 1) ** 2, f"the Hessian of an output layer of {n} units")
    F = np.column_stack([Phi, np.ones(Phi.shape[0])])
    H = F.T @ F
    S = np.append(keep_idx, n)  # kept columns and the bias
    R = np.setdiff1d(np.arange(n), keep_idx)
    w = np.append(alpha, bias)
    w_S = w[S] + np.linalg.solve(H[np.ix_(S, S)], H[np.ix_(S, R)] @ w[R])
    return w_S[:-1], float(w_S[-1])
