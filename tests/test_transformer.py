"""Tests of the small transformer in llmtheory.transformer."""

from __future__ import annotations

import math

import pytest
import torch

from llmtheory.transformer import MLP, Block, MultiHeadAttention, Transformer, causal_mask


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def reference_attention(mha: MultiHeadAttention, x: torch.Tensor, mask: torch.Tensor | None):
    """Attention written head by head from the textbook formula."""
    p = mha.head_matrices()
    out = p["b_O"].expand_as(x).clone()
    for h in range(mha.n_heads):
        q = x @ p["W_Q"][h].T + p["b_Q"][h]
        k = x @ p["W_K"][h].T + p["b_K"][h]
        v = x @ p["W_V"][h].T + p["b_V"][h]
        s = q @ k.transpose(-1, -2) / math.sqrt(mha.d_head)
        if mask is not None:
            s = s.masked_fill(~mask, float("-inf"))
        out = out + (s.softmax(-1) @ v) @ p["W_O"][h].T
    return out


def test_causal_mask() -> None:
    m = causal_mask(4)
    assert m.dtype == torch.bool
    assert torch.equal(
        m, torch.tensor([[1, 0, 0, 0], [1, 1, 0, 0], [1, 1, 1, 0], [1, 1, 1, 1]]).bool()
    )


@pytest.mark.parametrize("mask_kind", ["none", "causal", "batch"])
def test_attention_matches_reference(mask_kind: str) -> None:
    mha = MultiHeadAttention(12, 3).double()
    x = torch.randn(2, 5, 12, dtype=torch.float64)
    mask = {"none": None, "causal": causal_mask(5), "batch": torch.rand(2, 5, 5) < 0.6}[mask_kind]
    if mask is not None:
        mask = mask | torch.eye(5, dtype=torch.bool)  # every query sees at least itself
    torch.testing.assert_close(mha(x, mask), reference_attention(mha, x, mask), rtol=0, atol=1e-12)
    w = mha.attention_weights(x, mask)
    assert w.shape == (2, 3, 5, 5)
    torch.testing.assert_close(w.sum(-1), torch.ones(2, 3, 5, dtype=torch.float64))
    if mask_kind == "causal":
        assert torch.all(w[..., ~causal_mask(5)] == 0)


def test_is_causal_equals_causal_mask() -> None:
    mha = MultiHeadAttention(8, 2).double()
    x = torch.randn(3, 6, 8, dtype=torch.float64)
    torch.testing.assert_close(mha(x, is_causal=True), mha(x, causal_mask(6)), rtol=0, atol=1e-13)


def test_block_and_mlp_shapes_and_residual() -> None:
    blk = Block(8, 2, 16, norm="none", activation="tanh").double()
    x = torch.randn(2, 4, 8, dtype=torch.float64)
    h = x + blk.attn(x, causal_mask(4))
    torch.testing.assert_close(blk(x, causal_mask(4)), h + blk.mlp(h))
    assert MLP(8, 16, "gelu")(x.float()).shape == (2, 4, 8)


def test_transformer_causality_and_shapes() -> None:
    model = Transformer(16, 4, 2, 32, d_in=3, d_out=2, max_len=10).double()
    x = torch.randn(2, 7, 3, dtype=torch.float64)
    y = model(x)
    assert y.shape == (2, 7, 2)
    x2 = x.clone()
    x2[:, 4:] += 1.0  # changing later tokens must not change earlier outputs
    torch.testing.assert_close(model(x2)[:, :4], y[:, :4], rtol=0, atol=1e-13)
    assert not torch.allclose(model(x2)[:, 4:], y[:, 4:])
    torch.testing.assert_close(model(x, attn_mask=causal_mask(7)), y, rtol=0, atol=1e-13)
    full = model(x, attn_mask=torch.ones(7, 7, dtype=torch.bool))
    assert not torch.allclose(full[:, :4], y[:, :4])


def test_transformer_tokens_and_features() -> None:
    lm = Transformer(16, 2, 1, 32, vocab_size=11, max_len=8)
    assert lm(torch.randint(0, 11, (3, 8))).shape == (3, 8, 11)
    enc = Transformer(16, 2, 1, 32, d_in=4, causal=False, norm="none")
    assert enc(torch.randn(3, 5, 4)).shape == (3, 5, 16)
    states = enc.hidden_states(torch.randn(3, 5, 4))
    assert len(states) == 2 and all(s.shape == (3, 5, 16) for s in states)
    maps = lm.attention_weights(torch.randint(0, 11, (2, 8)))
    assert len(maps) == 1 and torch.all(maps[0][..., ~causal_mask(8)] == 0)


def test_transformer_trains() -> None:
    model = Transformer(16, 2, 1, 32, d_in=2, d_out=1)
    x = torch.randn(32, 6, 2)
    y = x.sum(-1, keepdim=True).cumsum(1)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(60):
        loss = ((model(x) - y) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"d_model": 10, "n_heads": 3, "n_layers": 1, "d_ff": 8, "d_in": 2}, ValueError),
        ({"d_model": 8, "n_heads": 2, "n_layers": 0, "d_ff": 8, "d_in": 2}, ValueError),
        ({"d_model": 8, "n_heads": 2, "n_layers": 1, "d_ff": 8}, ValueError),
        (
            {"d_model": 8, "n_heads": 2, "n_layers": 1, "d_ff": 8, "d_in": 2, "vocab_size": 5},
            ValueError,
        ),
        (
            {"d_model": 8, "n_heads": 2, "n_layers": 1, "d_ff": 8, "d_in": 2, "norm": "post"},
            ValueError,
        ),
        (
            {"d_model": 8, "n_heads": 2, "n_layers": 1, "d_ff": 8, "d_in": 2, "activation": "elu"},
            ValueError,
        ),
        ({"d_model": 8.0, "n_heads": 2, "n_layers": 1, "d_ff": 8, "d_in": 2}, TypeError),
        ({"d_model": 8, "n_heads": 2, "n_layers": 1, "d_ff": 8, "d_in": 2, "causal": 1}, TypeError),
        (
            {"d_model": 8, "n_heads": 2, "n_layers": 1, "d_ff": 8, "d_in": 2, "max_len": 0},
            ValueError,
        ),
    ],
)
def test_bad_constructor_arguments(kwargs: dict, error: type) -> None:
    with pytest.raises(error):
        Transformer(**kwargs)


def test_bad_call_arguments() -> None:
    model = Transformer(8, 2, 1, 8, d_in=3, max_len=4)
    with pytest.raises(ValueError, match="x must"):
        model(torch.randn(2, 4, 5))
    with pytest.raises(ValueError, match="max_len"):
        model(torch.randn(2, 5, 3))
    with pytest.raises(TypeError, match="attn_mask"):
        model(torch.randn(2, 4, 3), attn_mask=torch.ones(4, 4))
    with pytest.raises(ValueError, match="attn_mask"):
        model(torch.randn(2, 4, 3), attn_mask=torch.ones(3, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match="token ids"):
        Transformer(8, 2, 1, 8, vocab_size=5)(torch.randn(2, 4))
    with pytest.raises(ValueError, match="n must"):
        causal_mask(0)
    with pytest.raises(TypeError):
        MultiHeadAttention(8, 2, bias="yes")
    with pytest.raises(ValueError, match="activation"):
        MLP(8, 8, "swish")
    with pytest.raises(ValueError, match="norm"):
        Block(8, 2, 8, norm="post")


# --------------------------------------------------- reliability review (bad input)


def test_reliability_10_fully_masked_rows_get_zero_attention() -> None:
    """attention_weights returned NaN for a row that may attend to nothing; forward does not."""
    mha = MultiHeadAttention(8, 2)
    x = torch.randn(2, 3, 8)
    mask = torch.ones(3, 3, dtype=torch.bool).tril()
    mask[0] = False
    a = mha.attention_weights(x, mask)
    assert torch.isfinite(a).all()
    assert torch.equal(a[:, :, 0], torch.zeros_like(a[:, :, 0]))
    torch.testing.assert_close(a[:, :, 1:].sum(-1), torch.ones(2, 2, 2))
    assert torch.isfinite(mha(x, mask)).all()
    model = Transformer(8, 2, 2, 16, d_in=3)
    weights = model.attention_weights(torch.randn(2, 3, 3), mask)
    assert all(torch.isfinite(w).all() for w in weights)
