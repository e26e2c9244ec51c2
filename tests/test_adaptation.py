"""Tests of LoRA adapters, the teacher task and the pruning utilities."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from llmtheory.adaptation import (
    LoRALinear,
    feature_matrix,
    make_student,
    make_teacher,
    numerical_rank,
    prune_columns,
    refit_output,
    saliency,
    select_columns,
)


def test_lora_starts_at_base_and_freezes_it() -> None:
    torch.manual_seed(0)
    base = nn.Linear(6, 5)
    w0 = base.weight.detach().clone()
    lora = LoRALinear(base, 2, alpha=4.0, generator=torch.Generator().manual_seed(0))
    x = torch.randn(3, 6)
    torch.testing.assert_close(lora(x), base(x))
    assert not base.weight.requires_grad and not base.bias.requires_grad
    assert [p.shape for p in lora.parameters() if p.requires_grad] == [(2, 6), (5, 2)]
    assert lora.scale == 2.0 and torch.all(lora.B == 0)
    with torch.no_grad():
        lora.B.normal_()
    torch.testing.assert_close(lora(x), x @ lora.merged_weight().T + base.bias)
    assert torch.linalg.matrix_rank(lora.delta_weight()) == 2
    torch.testing.assert_close(base.weight, w0)


def test_lora_trains_only_adapters() -> None:
    torch.manual_seed(0)
    base = nn.Linear(4, 4)
    w0 = base.weight.detach().clone()
    lora = LoRALinear(base, 1)
    target = torch.randn(4, 1) @ torch.randn(1, 4)
    x = torch.randn(64, 4)
    opt = torch.optim.Adam([lora.A, lora.B], lr=1e-2)
    for _ in range(200):
        loss = ((lora(x) - base(x) - x @ target.T) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 1e-3
    torch.testing.assert_close(base.weight, w0)


def test_teacher_rank_change_is_exact_in_first_layer() -> None:
    task = make_teacher(8, 12, 2, 1.5, torch.Generator().manual_seed(0))
    x = torch.randn(20, 8, dtype=torch.float32)
    changed = torch.tanh(x @ (task.W + task.W @ task.U @ task.V.T).T + task.b) @ task.a
    torch.testing.assert_close(task.f_b(x), changed, rtol=1e-5, atol=1e-5)
    assert torch.linalg.matrix_rank(task.U @ task.V.T) == 2
    student = make_student(8, 16)
    assert student(x).shape == (20, 1) and isinstance(student[0], nn.Linear)


def test_pruning_utilities() -> None:
    rng = np.random.default_rng(0)
    x, W, theta = (
        rng.standard_normal((50, 2)),
        rng.standard_normal((10, 2)),
        rng.standard_normal(10),
    )
    Phi = feature_matrix(x, W, theta)
    assert Phi.shape == (50, 10) and np.all(Phi >= 0)
    assert numerical_rank(np.outer(np.ones(5), np.arange(1.0, 4.0))) == 1
    alpha = rng.standard_normal(10)
    s = saliency(alpha, W, theta)
    np.testing.assert_allclose(s[3], abs(alpha[3]) * np.linalg.norm(np.r_[W[3], theta[3]]))
    idx = select_columns(s, 4, 10)
    assert set(idx) == set(np.argsort(-s)[:4])
    assert len(set(select_columns(None, 4, 10, rng))) == 4
    y = Phi @ alpha + 0.3
    a, c = refit_output(Phi, y)
    np.testing.assert_allclose(Phi @ a + c, y, atol=1e-10)
    res = prune_columns(Phi, alpha, 0.3, idx, y)
    assert res["refit"] <= res["no_refit"]
    assert prune_columns(Phi, alpha, 0.3, np.arange(10), y)["no_refit"] < 1e-20


def test_refit_ignores_directions_below_float32_precision() -> None:
    # two units that differ by 1e-11 x^2 (4e-13 of the largest singular value, far below
    # 2^-24): a direction of the feature matrix that a float32 network does not determine.
    # Least squares with no cutoff fits the 1e-9 wiggle of the target along it with weights of
    # order 30 that cancel on the sample and act off it; the refit keeps the shared unit's weight.
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, 200)
    col = np.maximum(x, 0)
    Phi = np.column_stack([col, col + 1e-11 * x**2, np.abs(x)])
    y = Phi @ np.array([1.0, 1.0, 0.5]) + 1e-9 * np.sin(40 * x)
    a, c = refit_output(Phi, y)
    np.testing.assert_allclose(a, [1.0, 1.0, 0.5], atol=1e-6)
    a_all, _ = refit_output(Phi, y, rcond=0.0)
    assert np.abs(a_all).max() > 10  # the cutoff is what keeps the weights of the network's size
    with pytest.raises(ValueError, match="rcond"):
        refit_output(Phi, y, rcond=1.0)


def test_bad_arguments() -> None:
    with pytest.raises(TypeError, match="base"):
        LoRALinear(nn.Conv1d(2, 2, 1), 1)
    with pytest.raises(ValueError, match="r must"):
        LoRALinear(nn.Linear(3, 2), 3)
    with pytest.raises(TypeError, match="r must"):
        LoRALinear(nn.Linear(3, 2), 1.0)
    with pytest.raises(ValueError, match="alpha"):
        LoRALinear(nn.Linear(3, 2), 1, alpha=0.0)
    with pytest.raises(ValueError, match="rank"):
        make_teacher(2, 4, 3, 1.0, torch.Generator())
    with pytest.raises(TypeError, match="generator"):
        make_teacher(4, 4, 1, 1.0, 0)
    with pytest.raises(ValueError, match="width"):
        make_student(2, 0)
    with pytest.raises(ValueError, match="agree"):
        feature_matrix(np.ones((3, 2)), np.ones((4, 3)), np.ones(4))
    with pytest.raises(ValueError, match="theta"):
        feature_matrix(np.ones((3, 2)), np.ones((4, 2)), np.ones(3))
    with pytest.raises(ValueError, match="tol"):
        numerical_rank(np.eye(3), tol=0.0)
    with pytest.raises(ValueError, match="W must have shape"):
        saliency(np.ones(3), np.ones((4, 2)), np.ones(3))
    with pytest.raises(ValueError, match="keep"):
        select_columns(np.ones(3), 4, 3)
    with pytest.raises(TypeError, match="rng"):
        select_columns(None, 2, 3)
    with pytest.raises(ValueError, match="scores"):
        select_columns(np.ones(4), 2, 3)
    with pytest.raises(ValueError, match="agree"):
        refit_output(np.ones((3, 2)), np.ones(4))
    with pytest.raises(ValueError, match="alpha"):
        prune_columns(np.ones((3, 2)), np.ones(3), 0.0, np.arange(2), np.ones(3))


# --------------------------------------------------- reliability review (bad input)


@pytest.mark.parametrize("where", [(0, 0), (3, 1)])
def test_reliability_1_infinite_input_is_refused_before_lapack(where):
    """An inf used to hang LAPACK for good in refit_output and prune_columns."""
    Phi, y = np.abs(np.random.default_rng(0).normal(size=(6, 3))), np.arange(6.0)
    Phi[where] = np.inf
    with pytest.raises(ValueError, match="Phi must hold only finite values"):
        refit_output(Phi, y)
    with pytest.raises(ValueError, match="Phi must hold only finite values"):
        prune_columns(Phi, np.ones(3), 0.0, np.arange(2), y)
    with pytest.raises(ValueError, match="y must hold only finite values"):
        refit_output(np.ones((6, 3)), np.where(np.arange(6) == 2, np.nan, 1.0))


def test_reliability_5_numerical_rank_refuses_infinities():
    """numerical_rank(diag(inf, 1, 1, 1, 1)) used to return 0."""
    with pytest.raises(ValueError, match="Phi must hold only finite values"):
        numerical_rank(np.diag([np.inf, 1.0, 1.0, 1.0, 1.0]))


def test_reliability_6_lora_refuses_an_infinite_alpha():
    with pytest.raises(ValueError, match="alpha must be a finite number"):
        LoRALinear(nn.Linear(3, 2), 1, alpha=np.inf)
    with pytest.raises(TypeError, match="generator must be a torch.Generator"):
        LoRALinear(nn.Linear(3, 2), 1, generator=np.random.default_rng(0))


def test_numerical_rank_is_relative_to_the_largest_singular_value() -> None:
    m = np.diag([1.0, 1e-2, 1e-4])
    assert numerical_rank(m, tol=1e-3) == 2
    assert numerical_rank(1e6 * m, tol=1e-3) == 2


def test_refit_is_exact_on_an_ill_conditioned_but_full_rank_design() -> None:
    rng = np.random.default_rng(1)
    Phi = rng.standard_normal((40, 5)) * np.array([1.0, 1.0, 1e-2, 1e-4, 1e-5])
    y = Phi @ rng.standard_normal(5) + 0.7
    a, c = refit_output(Phi, y)
    np.testing.assert_allclose(Phi @ a + c, y, atol=1e-8)
    res = prune_columns(Phi, a, c, np.arange(5), y)
    assert res["refit"] < 1e-16 and res["no_refit"] < 1e-16


def test_feature_matrix_and_saliency_by_hand() -> None:
    x = np.array([[1.0, 0.0], [0.0, -1.0]])
    W, theta = np.array([[2.0, 1.0], [1.0, 1.0]]), np.array([0.5, -0.25])
    np.testing.assert_allclose(feature_matrix(x, W, theta), [[2.5, 0.75], [0.0, 0.0]])
    alpha = np.array([-3.0, 0.5])
    np.testing.assert_allclose(
        saliency(alpha, W, theta), [3.0 * np.sqrt(5.25), 0.5 * np.sqrt(2.0625)]
    )
