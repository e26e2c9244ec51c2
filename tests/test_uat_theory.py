"""Tests of chapter 1's approximation-theory helpers: Maurey's lemma, optimised hidden units, the
rank-one bookkeeping of a bias shift, and the context task with its context-blind predictor."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from llmtheory.uat import (
    context_blind_prediction,
    context_task,
    maurey_average,
    maurey_variance,
    random_feature_errors,
    random_feature_residuals,
    rank_one_update,
    train_hidden_layer,
)


@pytest.fixture
def atoms() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.choice([-1.0, 1.0], (6, 40)), rng.dirichlet(np.ones(6))


def test_maurey_average_is_unbiased_with_the_exact_variance(atoms):
    G, p = atoms
    f = p @ G
    rng = np.random.default_rng(1)
    draws = np.stack([maurey_average(G, p, 4, rng) for _ in range(4000)])
    assert np.abs(draws.mean(axis=0) - f).max() < 0.1
    mse = np.mean((draws - f) ** 2, axis=1)
    se = mse.std(ddof=1) / np.sqrt(len(mse))
    assert abs(mse.mean() - maurey_variance(G, p) / 4) < 4 * se


def test_maurey_variance_formula_and_bound(atoms):
    G, p = atoms
    f = p @ G
    by_hand = sum(pk * np.mean((g - f) ** 2) for pk, g in zip(p, G, strict=True))
    assert maurey_variance(G, p) == pytest.approx(by_hand, rel=1e-12)
    assert maurey_variance(G, p) <= np.max(np.mean(G**2, axis=1))  # b^2 with b = max ||g_k||


def test_maurey_single_atom_is_exact():
    G = np.arange(6.0).reshape(2, 3)
    assert maurey_variance(G, np.array([1.0, 0.0])) == pytest.approx(0.0, abs=1e-14)
    np.testing.assert_array_equal(
        maurey_average(G, np.array([0.0, 1.0]), 5, np.random.default_rng(0)), G[1]
    )


def test_maurey_rejects_non_convex_weights(atoms):
    G, _ = atoms
    with pytest.raises(ValueError, match="weights"):
        maurey_variance(G, np.full(6, 0.2))
    with pytest.raises(ValueError, match="weights"):
        maurey_average(G, np.array([1.5, -0.5, 0, 0, 0, 0]), 2, np.random.default_rng(0))


def test_rank_one_update_matches_a_bias_shift():
    rng = np.random.default_rng(2)
    W, theta = rng.normal(size=(5, 3)), rng.normal(size=5)
    dtheta, x = rng.normal(size=5), rng.normal(size=3)
    U = rank_one_update(dtheta, x)
    np.testing.assert_allclose((W + U) @ x + theta, W @ x + theta + dtheta, atol=1e-13)
    assert np.linalg.matrix_rank(U) == 1
    assert np.linalg.norm(U) == pytest.approx(np.linalg.norm(dtheta) / np.linalg.norm(x))


def test_rank_one_update_rejects_zero_token():
    with pytest.raises(ValueError, match="x"):
        rank_one_update(np.ones(2), np.zeros(3))


def test_train_hidden_layer_beats_random_features_on_a_ridge():
    rng = np.random.default_rng(3)
    q = rng.normal(size=8)
    q /= np.linalg.norm(q)
    x_tr, x_te = rng.normal(size=(300, 8)) / np.sqrt(8), rng.normal(size=(300, 8)) / np.sqrt(8)
    f = lambda x: np.sin(3 * x @ q)  # noqa: E731
    _, rf = random_feature_errors(x_tr, f(x_tr), x_te, f(x_te), [16], rng)
    tr, te = train_hidden_layer(x_tr, f(x_tr), x_te, f(x_te), 16, rng, steps=400)
    assert te < rf[0]
    assert tr <= te * 1.5 + 1e-3


def test_train_hidden_layer_validates():
    x, y, rng = np.zeros((4, 2)), np.zeros(4), np.random.default_rng(0)
    with pytest.raises(ValueError, match="x_test"):
        train_hidden_layer(x, y, np.zeros((4, 3)), y, 2, rng)
    with pytest.raises(ValueError, match="steps"):
        train_hidden_layer(x, y, x, y, 2, rng, steps=10**12)
    with pytest.raises(ValueError, match="width"):
        train_hidden_layer(x, y, x, y, 0, rng)


def test_context_task_target_is_causal():
    x, y = context_task(3, 5, 2, torch.Generator().manual_seed(0))
    x2 = x.clone()
    x2[:, -1] += 1.0  # changing the last token leaves every earlier target unchanged
    mean2 = x2.cumsum(1) / torch.arange(1, 6).view(1, -1, 1)
    y2 = (x2 * mean2).sum(-1, keepdim=True)
    torch.testing.assert_close(y[:, :-1], y2[:, :-1])
    i = torch.arange(1, 6).view(1, -1)
    torch.testing.assert_close(y[..., 0], (x * x.cumsum(1)).sum(-1) / i)


def test_context_blind_prediction_is_the_conditional_mean():
    x, y = context_task(20000, 4, 3, torch.Generator().manual_seed(1), dtype=torch.float64)
    resid = y[..., 0].numpy() - context_blind_prediction(x.numpy())
    exact = 3 * np.arange(4) / np.arange(1, 5) ** 2  # eq-uat-blind, per position
    se = resid.var(axis=0) * np.sqrt(2 / len(resid)) + 1e-3
    assert np.all(np.abs((resid**2).mean(axis=0) - exact) < 5 * se + 0.02)


def test_random_feature_residuals_match_the_rms_errors():
    rng, rng2 = np.random.default_rng(5), np.random.default_rng(5)
    x_tr, x_te = rng.uniform(-1, 1, (200, 2)), rng.uniform(-1, 1, (150, 2))
    rng2.uniform(-1, 1, (350, 2))  # keep the two generators in step
    f = lambda x: np.sin(3 * x[:, 0]) + x[:, 1] ** 2  # noqa: E731
    res_tr, res_te = random_feature_residuals(x_tr, f(x_tr), x_te, f(x_te), [3, 20], rng)
    assert res_tr.shape == (2, 200) and res_te.shape == (2, 150)
    rms_tr, rms_te = random_feature_errors(x_tr, f(x_tr), x_te, f(x_te), [3, 20], rng2)
    np.testing.assert_allclose(np.sqrt((res_tr**2).mean(axis=1)), rms_tr, rtol=1e-12)
    np.testing.assert_allclose(np.sqrt((res_te**2).mean(axis=1)), rms_te, rtol=1e-12)
    # least squares with a constant column: training residuals have mean zero
    np.testing.assert_allclose(res_tr.mean(axis=1), 0.0, atol=1e-10)


def test_random_feature_residuals_validate():
    x, y, rng = np.zeros((4, 2)), np.zeros(4), np.random.default_rng(0)
    with pytest.raises(ValueError, match="widths"):
        random_feature_residuals(x, y, x, y, [0], rng)
    with pytest.raises(ValueError, match="x_test"):
        random_feature_residuals(x, y, np.zeros((4, 3)), y, [2], rng)
