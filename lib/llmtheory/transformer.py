r"""A small transformer written for clarity and for speed on one CPU thread.

Tokens are the rows of the residual stream ``x`` of shape ``(batch, n, d_model)``. One
block is, with pre-LayerNorm (Vaswani et al., 2017, put the norm after; the
pre-norm order is the one GPT-2 and later models use),

.. math::

    h = x + \mathrm{MHA}(\mathrm{LN}_1(x)), \qquad y = h + \mathrm{MLP}(\mathrm{LN}_2(h)),

and with ``norm="none"`` the LayerNorms are the identity, which is the setting in which
:mod:`llmtheory.uat` rewrites the network exactly as a sum of universal-approximation
terms. Attention uses :func:`torch.nn.functional.scaled_dot_product_attention` and one
fused ``q, k, v`` projection; :meth:`MultiHeadAttention.attention_weights` returns the
per-head attention matrices ``softmax(Q_h K_h^T / sqrt(d_h) + M)`` explicitly.

Masks are boolean with ``True`` meaning "may attend" (the convention of
``scaled_dot_product_attention``), of shape ``(n, n)`` or ``(batch, n, n)``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .validation import (
    check_bool,
    check_choice,
    check_device,
    check_int,
    check_memory,
    check_tensor,
)

__all__ = [
    "ACTIVATIONS",
    "NORMS",
    "Block",
    "MLP",
    "MultiHeadAttention",
    "Transformer",
    "activation_fn",
    "causal_mask",
]

#: Element-wise activations of the MLP, by name.
ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu, "tanh": torch.tanh}
#: Normalisation placements (pre-LayerNorm, or none at all).
NORMS = ("pre", "none")


def activation_fn(name: str):
    """Return the activation function called ``name`` (one of :data:`ACTIVATIONS`)."""
    return ACTIVATIONS[check_choice(name, "name", ACTIVATIONS)]


def causal_mask(n: int, device: torch.device | str | None = None) -> Tensor:
    """Boolean ``(n, n)`` mask, ``True`` on and below the diagonal: token ``i`` sees ``j <= i``."""
    n = check_int(n, "n")
    device = check_device(device, "device")
    check_memory(2 * n * n, f"a causal mask of n={n} tokens")
    return torch.ones(n, n, dtype=torch.bool, device=device).tril()


def _check_mask(attn_mask: Tensor, batch: int, n: int) -> Tensor:
    """Validate a boolean mask and shape it ``(n, n)`` or ``(batch, 1, n, n)`` for broadcasting."""
    check_tensor(attn_mask, "attn_mask", dtype="bool", finite=False)  # True = may attend
    if attn_mask.shape == (n, n):
        return attn_mask
    if attn_mask.shape == (batch, n, n):
        return attn_mask.unsqueeze(1)
    raise ValueError(
        f"attn_mask must have shape ({n}, {n}) or ({batch}, {n}, {n}), got {tuple(attn_mask.shape)}"
    )


class MultiHeadAttention(nn.Module):
    """Multi-head self-attention with one fused ``q, k, v`` projection.

    Head ``h`` uses rows ``h*d_h:(h+1)*d_h`` of each of ``W_Q, W_K, W_V`` (the three
    blocks of ``qkv.weight``) and columns ``h*d_h:(h+1)*d_h`` of ``W_O = out.weight``,
    with ``d_h = d_model / n_heads``.
    """

    def __init__(self, d_model: int, n_heads: int, bias: bool = True) -> None:
        super().__init__()
        d_model = check_int(d_model, "d_model")
        n_heads = check_int(n_heads, "n_heads")
        if d_model % n_heads:
            raise ValueError(f"d_model ({d_model}) must be divisible by n_heads ({n_heads})")
        bias = check_bool(bias, "bias")
        check_memory(2 * 4 * (4 * d_model + 4) * d_model, f"attention with d_model={d_model}")
        self.d_model, self.n_heads, self.d_head = d_model, n_heads, d_model // n_heads
        self.qkv = nn.Linear(d_model, 3 * d_model, bias=bias)
        self.out = nn.Linear(d_model, d_model, bias=bias)

    def _heads(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Project ``x`` to queries, keys and values of shape ``(batch, heads, n, d_head)``."""
        x = check_tensor(x, "x", ndim=3, dtype=self.qkv.weight.dtype, finite=False)
        if x.shape[-1] != self.d_model:
            raise ValueError(f"x must have shape (batch, n, {self.d_model}), got {tuple(x.shape)}")
        b, n, _ = x.shape
        qkv = self.qkv(x).view(b, n, 3, self.n_heads, self.d_head).permute(2, 0, 3, 1, 4)
        return qkv[0], qkv[1], qkv[2]

    def forward(
        self, x: Tensor, attn_mask: Tensor | None = None, is_causal: bool = False
    ) -> Tensor:
        """Self-attention of x (batch, n, d_model); is_causal applies when no mask is given."""
        is_causal = check_bool(is_causal, "is_causal")
        q, k, v = self._heads(x)
        b, _, n, _ = q.shape
        mask = None if attn_mask is None else _check_mask(attn_mask, b, n)
        o = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, is_causal=is_causal and mask is None
        )
        return self.out(o.transpose(1, 2).reshape(b, n, self.d_model))

    def attention_weights(self, x: Tensor, attn_mask: Tensor | None = None) -> Tensor:
        """Per-head attention matrices ``softmax(Q_h K_h^T / sqrt(d_h) + M)``: (batch, heads, n, n).

        Masked entries (``attn_mask`` False) get weight exactly zero; no mask means full attention.
        A query that may attend to nothing (a row of ``attn_mask`` all False) gets a row of zeros,
        as :meth:`forward` (``scaled_dot_product_attention``) gives it no attention output.
        """
        q, k, _ = self._heads(x)
        b, _, n, _ = q.shape
        scores = q @ k.transpose(-2, -1) / math.sqrt(self.d_head)
        if attn_mask is None:
            return scores.softmax(dim=-1)
        mask = _check_mask(attn_mask, b, n)
        weights = scores.masked_fill(~mask, float("-inf")).softmax(dim=-1)
        return weights.masked_fill(~mask.any(dim=-1, keepdim=True), 0.0)

    def head_matrices(self) -> dict[str, Tensor]:
        """Per-head weights: ``W_Q, W_K, W_V`` of shape (heads, d_head, d_model), ``W_O`` of
        shape (heads, d_model, d_head), and biases ``b_Q, b_K, b_V`` (heads, d_head), ``b_O``
        (d_model) — zeros where the layer has no bias."""
        d, h, dh = self.d_model, self.n_heads, self.d_head
        w = self.qkv.weight.view(3, h, dh, d)
        zeros = torch.zeros(3 * d, dtype=w.dtype, device=w.device)
        b = (self.qkv.bias if self.qkv.bias is not None else zeros).view(3, h, dh)
        b_o = self.out.bias if self.out.bias is not None else zeros[:d]
        w_o = self.out.weight.view(d, h, dh).permute(1, 0, 2)
        return {"W_Q": w[0], "W_K": w[1], "W_V": w[2], "W_O": w_o,
                "b_Q": b[0], "b_K": b[1], "b_V": b[2], "b_O": b_o}  # fmt: skip


class MLP(nn.Module):
    """Token-wise feed-forward network ``W_2 sigma(W_1 x + b_1) + b_2``."""

    def __init__(self, d_model: int, d_ff: int, activation: str = "relu") -> None:
        super().__init__()
        d_model = check_int(d_model, "d_model")
        d_ff = check_int(d_ff, "d_ff")
        self.activation = check_choice(activation, "activation", ACTIVATIONS)
        check_memory(
            2 * 4 * (2 * d_model + 2) * d_ff, f"an MLP with d_model={d_model}, d_ff={d_ff}"
        )
        self.act = activation_fn(activation)
        self.fc1 = nn.Linear(d_model, d_ff)
        self.fc2 = nn.Linear(d_ff, d_model)

    def forward(self, x: Tensor) -> Tensor:
        """Apply the MLP to every token of ``x`` (..., d_model)."""
        x = check_tensor(x, "x", dtype=self.fc1.weight.dtype, finite=False)
        if x.ndim == 0 or x.shape[-1] != self.fc1.in_features:
            raise ValueError(
                f"x must have {self.fc1.in_features} features on its last axis, "
                f"got {tuple(x.shape)}"
            )
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    """One residual block: attention then MLP, each with a residual connection."""

    def __init__(
        self, d_model: int, n_heads: int, d_ff: int, norm: str = "pre", activation: str = "relu"
    ) -> None:
        super().__init__()
        d_model, n_heads = check_int(d_model, "d_model"), check_int(n_heads, "n_heads")
        d_ff = check_int(d_ff, "d_ff")
        self.norm = check_choice(norm, "norm", NORMS)
        self.attn = MultiHeadAttention(d_model, n_heads)
        self.mlp = MLP(d_model, d_ff, activation)
        make_norm = nn.LayerNorm if norm == "pre" else (lambda _d: nn.Identity())
        self.ln1, self.ln2 = make_norm(d_model), make_norm(d_model)

    def forward(
        self, x: Tensor, attn_mask: Tensor | None = None, is_causal: bool = False
    ) -> Tensor:
        """``h = x + MHA(LN1 x)``, then ``h + MLP(LN2 h)``."""
        x = check_tensor(x, "x", ndim=3, dtype=self.attn.qkv.weight.dtype, finite=False)
        x = x + self.attn(self.ln1(x), attn_mask, is_causal)
        return x + self.mlp(self.ln2(x))


class Transformer(nn.Module):
    """Embedding, ``n_layers`` blocks, optional final LayerNorm and a linear readout.

    Exactly one of ``d_in`` (real-valued tokens ``(batch, n, d_in)``, linear embedding)
    or ``vocab_size`` (token ids ``(batch, n)``) is given. ``max_len`` adds learned
    positional embeddings. The output has ``d_out`` features, else ``vocab_size``
    logits, else the ``d_model`` features of the residual stream.
    """

    def __init__(
        self,
        d_model: int,
        n_heads: int,
        n_layers: int,
        d_ff: int,
        *,
        d_in: int | None = None,
        d_out: int | None = None,
        vocab_size: int | None = None,
        max_len: int | None = None,
        causal: bool = True,
        norm: str = "pre",
        activation: str = "relu",
    ) -> None:
        super().__init__()
        n_layers = check_int(n_layers, "n_layers")
        d_model, d_ff = check_int(d_model, "d_model"), check_int(d_ff, "d_ff")
        if (d_in is None) == (vocab_size is None):
            raise ValueError("give exactly one of d_in (real-valued inputs) or vocab_size")
        causal = check_bool(causal, "causal")
        norm = check_choice(norm, "norm", NORMS)
        check_choice(activation, "activation", ACTIVATIONS)
        sizes = {"d_in": d_in, "vocab_size": vocab_size, "d_out": d_out, "max_len": max_len}
        for name, value in sizes.items():
            if value is not None:
                check_int(value, name)
        n_io = sum(v for v in sizes.values() if v is not None)
        n_params = n_layers * (4 * d_model + 2 * d_ff + 12) * d_model + (n_io + 2) * d_model
        given = ", ".join(f"{k}={v}" for k, v in sizes.items() if v is not None)
        check_memory(
            2 * 4 * n_params,
            f"{n_params:.3g} parameters (d_model={d_model}, n_layers={n_layers}, d_ff={d_ff}, "
            f"{given})",
        )
        self.d_model, self.causal, self.norm = d_model, causal, norm
        if d_in is not None:
            self.embed: nn.Module = nn.Linear(check_int(d_in, "d_in"), d_model)
        else:
            self.embed = nn.Embedding(check_int(vocab_size, "vocab_size"), d_model)
        self.d_in, self.vocab_size = d_in, vocab_size
        self.max_len = None if max_len is None else check_int(max_len, "max_len")
        self.pos = None if max_len is None else nn.Parameter(0.02 * torch.randn(max_len, d_model))
        self.blocks = nn.ModuleList(
            Block(d_model, n_heads, d_ff, norm, activation) for _ in range(n_layers)
        )
        self.ln_f = nn.LayerNorm(d_model) if norm == "pre" else nn.Identity()
        n_out = d_out if d_out is not None else vocab_size
        self.d_out = None if n_out is None else check_int(n_out, "d_out")
        self.readout = nn.Identity() if n_out is None else nn.Linear(d_model, n_out)

    def embed_inputs(self, x: Tensor) -> Tensor:
        """Token embeddings plus positional embeddings: the residual stream ``x_0``."""
        x = check_tensor(x, "x", dtype=None, finite=False)
        if self.d_in is not None:
            if not torch.is_floating_point(x) or x.dim() != 3 or x.shape[-1] != self.d_in:
                raise ValueError(
                    f"x must be a float tensor (batch, n, {self.d_in}), got {x.dtype} "
                    f"{tuple(x.shape)}"
                )
            if x.dtype != self.embed.weight.dtype:
                raise TypeError(
                    f"x must have the model's dtype {self.embed.weight.dtype}, got {x.dtype}"
                )
        else:
            if x.dim() != 2 or x.dtype not in (torch.long, torch.int32, torch.int64):
                raise ValueError(
                    f"x must be integer token ids (batch, n), got {x.dtype} {tuple(x.shape)}"
                )
            low, high = int(x.min()), int(x.max())
            if low < 0 or high >= self.vocab_size:
                raise ValueError(
                    f"x must hold token ids in [0, {self.vocab_size}) (vocab_size), got values "
                    f"from {low} to {high}"
                )
        h = self.embed(x)
        if self.pos is not None:
            n = x.shape[1]
            if n > self.max_len:
                raise ValueError(f"sequence length {n} exceeds max_len {self.max_len}")
            h = h + self.pos[:n]
        return h

    def hidden_states(self, x: Tensor, attn_mask: Tensor | None = None) -> list[Tensor]:
        """Residual stream after the embedding and after each block: ``[x_0, ..., x_L]``."""
        h = self.embed_inputs(x)
        is_causal = self.causal and attn_mask is None
        states = [h]
        for block in self.blocks:
            h = block(h, attn_mask, is_causal)
            states.append(h)
        return states

    def attention_weights(self, x: Tensor, attn_mask: Tensor | None = None) -> list[Tensor]:
        """Per-layer attention matrices, each ``(batch, heads, n, n)``, with the model's mask."""
        states = self.hidden_states(x, attn_mask)
        mask = attn_mask
        if mask is None and self.causal:
            mask = causal_mask(states[0].shape[1], device=states[0].device)
        return [
            blk.attn.attention_weights(blk.ln1(s), mask)
            for blk, s in zip(self.blocks, states[:-1], strict=True)
        ]

    def forward(self, x: Tensor, attn_mask: Tensor | None = None) -> Tensor:
        """Map inputs to ``(batch, n, d_out | vocab_size | d_model)``; ``attn_mask`` overrides
        the causal mask."""
        h = self.embed_inputs(x)
        is_causal = self.causal and attn_mask is None
        for block in self.blocks:
            h = block(h, attn_mask, is_causal)
        return self.readout(self.ln_f(h))
