"""Tests of the chapter-3 additions: attach_lora, subspace similarity, the projection of Hu et
al., Optimal Brain Surgeon on the output layer and held-out pruning errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from llmtheory.adaptation import (
    LoRALinear,
    attach_lora,
    feature_matrix,
    obs_prune,
    projection_norm,
    prune_columns,
    refit_output,
    subspace_similarity,
)
from llmtheory.transformer import Transformer


def test_lora_alpha_is_fixed_by_default_and_adapter_stands_in_for_linear() -> None:
    base = nn.Linear(6, 5)
    for r in (1, 2, 4):
        assert LoRALinear(base, r).scale == pytest.approx(1.0 / r)
    lora = LoRALinear(base, 2, alpha=8.0, generator=torch.Generator().manual_seed(0))
    assert lora.scale == 4.0
    with torch.no_grad():
        lora.B.normal_()
    torch.testing.assert_close(lora.weight, base.weight + 4.0 * lora.B @ lora.A)
    assert lora.bias is base.bias and (lora.in_features, lora.out_features) == (6, 5)


def test_attach_lora_on_a_transformer_freezes_the_rest() -> None:
    torch.manual_seed(0)
    model = Transformer(8, 2, 1, 8, d_in=3, d_out=1)
    x = torch.randn(4, 5, 3)
    before = model(x).detach()
    names = ["blocks.0.attn.qkv", "blocks.0.mlp.fc2"]
    params = attach_lora(model, names, 2, 4.0, 0)
    assert len(params) == 4 and all(p.requires_grad for p in params)
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert sum(p.numel() for p in trainable) == 2 * ((8 + 24) + (8 + 8))
    torch.testing.assert_close(model(x), before)  # B = 0: the same model
    assert isinstance(model.get_submodule(names[0]), LoRALinear)
    with pytest.raises(ValueError, match="names"):
        attach_lora(model, ["blocks.0.nothing"], 1, 1.0, 0)
    with pytest.raises(TypeError, match="names"):
        attach_lora(model, "blocks.0.attn.out", 1, 1.0, 0)


def test_subspace_similarity_by_hand_and_bounds() -> None:
    e = np.eye(4)
    phi = subspace_similarity(e[:, :2], e[:, [1, 0, 2]])
    # U1^T U2 = [[0, 1, 0], [1, 0, 0]]: cumulative squared sums over the leading i x j block
    np.testing.assert_allclose(phi, [[0.0, 1.0, 1.0], [1.0, 1.0, 1.0]])
    rng = np.random.default_rng(0)
    U1 = np.linalg.qr(rng.standard_normal((10, 3)))[0]
    U2 = np.linalg.qr(rng.standard_normal((10, 5)))[0]
    phi = subspace_similarity(U1, U2)
    assert phi.shape == (3, 5) and np.all((phi >= -1e-12) & (phi <= 1 + 1e-12))
    np.testing.assert_allclose(np.diag(subspace_similarity(U1, U1)), 1.0)
    i, j = 2, 4
    np.testing.assert_allclose(
        phi[i - 1, j - 1], np.linalg.norm(U1[:, :i].T @ U2[:, :j]) ** 2 / min(i, j)
    )
    with pytest.raises(ValueError, match="U2"):
        subspace_similarity(U1, U2[:5])


def test_projection_norm() -> None:
    rng = np.random.default_rng(1)
    W = rng.standard_normal((6, 4))
    U, s, Vt = np.linalg.svd(W)
    assert projection_norm(W, U[:, :2], Vt[:2].T) == pytest.approx(np.sqrt((s[:2] ** 2).sum()))
    assert projection_norm(W, U, Vt.T) == pytest.approx(np.linalg.norm(W))
    with pytest.raises(ValueError, match="V"):
        projection_norm(W, U[:, :2], np.ones((5, 2)))


def test_obs_equals_the_refit_to_dense_outputs() -> None:
    rng = np.random.default_rng(2)
    Phi = np.abs(rng.standard_normal((60, 8)))  # full column rank, so H is invertible
    alpha, bias = rng.standard_normal(8), 0.4
    keep = np.array([0, 2, 3, 6])
    a_obs, c_obs = obs_prune(Phi, alpha, bias, keep)
    a_ls, c_ls = refit_output(Phi[:, keep], Phi @ alpha + bias)
    np.testing.assert_allclose(Phi[:, keep] @ a_obs + c_obs, Phi[:, keep] @ a_ls + c_ls, atol=1e-9)
    a_all, c_all = obs_prune(Phi, alpha, bias, np.arange(8))  # nothing removed: no change
    np.testing.assert_allclose(a_all, alpha)
    assert c_all == pytest.approx(bias)
    with pytest.raises(ValueError, match="keep_idx"):
        obs_prune(Phi, alpha, bias, np.array([0, 9]))


def test_prune_columns_refits_to_the_dense_outputs_and_reports_held_out() -> None:
    rng = np.random.default_rng(3)
    W, theta = rng.standard_normal((10, 2)), rng.standard_normal(10)
    x, x_t = rng.uniform(-1, 1, (80, 2)), rng.uniform(-1, 1, (50, 2))
    Phi, Phi_t = feature_matrix(x, W, theta), feature_matrix(x_t, W, theta)
    alpha = rng.standard_normal(10)
    y, y_t = np.sin(3 * x[:, 0]), np.sin(3 * x_t[:, 0])
    keep = np.array([1, 4, 5, 8])
    res = prune_columns(Phi, alpha, 0.2, keep, y, (Phi_t, y_t))
    assert set(res) == {"no_refit", "refit", "gap", "no_refit_test", "refit_test"}
    a, c = refit_output(Phi[:, keep], Phi @ alpha + 0.2)  # the refit targets G, not y
    assert res["gap"] == pytest.approx(np.mean((Phi[:, keep] @ a + c - Phi @ alpha - 0.2) ** 2))
    assert res["refit"] == pytest.approx(np.mean((Phi[:, keep] @ a + c - y) ** 2))
    assert res["refit_test"] == pytest.approx(np.mean((Phi_t[:, keep] @ a + c - y_t) ** 2))
    plain = np.mean((Phi_t[:, keep] @ alpha[keep] + 0.2 - y_t) ** 2)
    assert res["no_refit_test"] == pytest.approx(plain)
    with pytest.raises(TypeError, match="held_out"):
        prune_columns(Phi, alpha, 0.2, keep, y, [Phi_t, y_t])
    with pytest.raises(ValueError, match="held_out"):
        prune_columns(Phi, alpha, 0.2, keep, y, (Phi_t[:, :3], y_t))
