"""Tests of the Kronecker/UAT rewriting in llmtheory.uat."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from llmtheory.transformer import Block, Transformer, causal_mask
from llmtheory.uat import (
    UATTerm,
    attention_matrices,
    block_rewrite,
    effective_token_parameters,
    fitted_rate,
    head_vec_matrix,
    layer_parameters,
    linear_vec,
    one_hidden_layer,
    random_feature_errors,
    relu_interpolant,
    token_block,
    unrolled_terms,
    unvec,
    vec,
)

N_TOK, D = 5, 8


@pytest.fixture
def model() -> Transformer:
    torch.manual_seed(1)
    return Transformer(D, 2, 3, 16, d_in=3, d_out=2, norm="none").double()


@pytest.fixture
def X() -> np.ndarray:
    return np.random.default_rng(0).standard_normal((N_TOK, D))


def test_vec_convention(X: np.ndarray) -> None:
    A, B = np.random.default_rng(1).standard_normal((2, N_TOK, N_TOK))
    C = np.random.default_rng(2).standard_normal((D, 3))
    np.testing.assert_allclose(vec(A @ X @ C), np.kron(C.T, A) @ vec(X), atol=1e-12)
    np.testing.assert_array_equal(unvec(vec(X), N_TOK), X)
    assert vec(X)[2 * N_TOK + 1] == X[1, 2]
    del B


def test_linear_and_head(X: np.ndarray) -> None:
    rng = np.random.default_rng(3)
    W, b = rng.standard_normal((4, D)), rng.standard_normal(4)
    K, c = linear_vec(W, b, N_TOK)
    np.testing.assert_allclose(K @ vec(X) + c, vec(X @ W.T + b), atol=1e-12)
    A = rng.random((N_TOK, N_TOK))
    np.testing.assert_allclose(head_vec_matrix(W, A) @ vec(X), vec(A @ X @ W.T), atol=1e-12)


def test_block_rewrite_matches_block(X: np.ndarray) -> None:
    torch.manual_seed(0)
    blk = Block(D, 2, 16, norm="none", activation="tanh").double()
    p = layer_parameters(blk)
    mask = causal_mask(N_TOK)
    with torch.no_grad():
        y = blk(torch.from_numpy(X)[None], mask)[0].numpy()
        A_torch = blk.attn.attention_weights(torch.from_numpy(X)[None], mask)[0].numpy()
    A = attention_matrices(p, X, mask.numpy())
    np.testing.assert_allclose(A, A_torch, atol=1e-14)
    np.testing.assert_allclose(block_rewrite(p, X, mask.numpy())(vec(X)), vec(y), atol=1e-12)


def test_unrolled_terms_reproduce_model(model: Transformer) -> None:
    x = torch.randn(1, N_TOK, 3, dtype=torch.float64)
    with torch.no_grad():
        states = model.hidden_states(x)
    terms, xL = unrolled_terms(model, states[0][0].numpy())
    assert len(terms) == 6 and all(isinstance(t, UATTerm) for t in terms)
    np.testing.assert_allclose(xL, vec(states[-1][0].numpy()), atol=1e-12)
    full = torch.ones(N_TOK, N_TOK, dtype=torch.bool)
    with torch.no_grad():
        states_full = model.hidden_states(x, full)
    _, xL_full = unrolled_terms(model, states_full[0][0].numpy(), full)
    np.testing.assert_allclose(xL_full, vec(states_full[-1][0].numpy()), atol=1e-12)


def test_effective_token_parameters(model: Transformer, X: np.ndarray) -> None:
    p = layer_parameters(model.blocks[0])
    mask = causal_mask(N_TOK)
    W_eff, theta = effective_token_parameters(p, X, mask.numpy())
    blk = model.blocks[0]
    with torch.no_grad():
        h = torch.from_numpy(X)[None]
        pre = blk.mlp.fc1(h + blk.attn(h, mask))[0, -1].numpy()
    np.testing.assert_allclose(W_eff @ X[-1] + theta, pre, atol=1e-12)
    A = attention_matrices(p, X, mask.numpy())
    expected = p.W_1 @ (np.eye(D) + sum(A[h, -1, -1] * p.W_O[h] @ p.W_V[h] for h in range(2)))
    np.testing.assert_allclose(W_eff, expected, atol=1e-12)


def test_relu_interpolant_error_bound() -> None:
    x = np.linspace(-1, 1, 1001)[:, None]
    for N in (4, 16, 64):
        alpha, W, theta, b = relu_interpolant(np.sin, -1.0, 1.0, N)
        err = np.abs(one_hidden_layer(x, alpha, W, theta, b) - np.sin(x[:, 0])).max()
        assert err <= (2 / N) ** 2 / 8 + 1e-12


def test_random_features_and_rate() -> None:
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (400, 1))
    train, errs = random_feature_errors(
        x, np.sin(3 * x[:, 0]), x, np.sin(3 * x[:, 0]), [2, 8, 32], rng
    )
    assert errs[0] > errs[1] > errs[2]
    np.testing.assert_allclose(train, errs)  # the same points: training error = test error


def test_random_features_fit_on_training_points_only() -> None:
    rng = np.random.default_rng(1)
    x_tr, x_te = rng.uniform(-1, 1, (300, 2)), rng.uniform(-1, 1, (300, 2))
    f = lambda x: np.sin(3 * x[:, 0]) * x[:, 1]  # noqa: E731
    train, test = random_feature_errors(x_tr, f(x_tr), x_te, f(x_te), [10, 150], rng)
    assert test[-1] > 1.2 * train[-1]  # p/n = 1/2: a fit on its own points is optimistic


def test_interpolant_knots_and_rate_on_log_axes() -> None:
    alpha, W, theta, b = relu_interpolant(np.square, 0.0, 1.0, 4)
    np.testing.assert_allclose(-theta, [0.0, 0.25, 0.5, 0.75])  # units switch on at t_0..t_3
    assert b == 0.0 and alpha[0] == pytest.approx(0.25)
    N = np.array([10.0, 100.0, 1000.0])
    assert fitted_rate(N, N**-2.0) == pytest.approx(2.0)
    N = np.array([1.0, 2.0, 4.0])
    assert fitted_rate(N, 3 * N**-1.5) == pytest.approx(1.5)


def test_fitted_rate_of_the_interpolant_within_its_derived_worst_case() -> None:
    """Chapter 1's N = 16..256: errors within [0.99, 1] of a bound proportional to N^-2 tilt a
    5-point log-log fit (log2 N = 4..8, centred -2..2, sum of squares 10) by at most
    (2 + 1) ln(1/0.99) / (10 ln 2) = 0.0044, attained when the two smallest N sit at 0.99."""
    N = np.array([16.0, 32.0, 64.0, 128.0, 256.0])
    worst = 0.3 * np.log(1 / 0.99) / np.log(2)
    assert fitted_rate(N, N**-2.0 * [0.99, 0.99, 1, 1, 1]) == pytest.approx(2 - worst, abs=1e-12)
    assert fitted_rate(N, N**-2.0 * [1, 1, 1, 0.99, 0.99]) == pytest.approx(2 + worst, abs=1e-12)
    grid = np.linspace(-1, 1, 20_001)[:, None]

    def f(x):
        return np.sin(3 * x)

    err = [
        np.abs(
            one_hidden_layer(grid, *relu_interpolant(f, -1.0, 1.0, int(n))) - f(grid[:, 0])
        ).max()
        for n in N
    ]
    assert abs(fitted_rate(N, np.array(err)) - 2) <= worst


def test_bad_arguments(model: Transformer) -> None:
    ones_x, ones_y, gen = np.ones((2, 1)), np.ones(2), np.random.default_rng()
    with pytest.raises(ValueError, match="2-D"):
        vec(np.ones(3))
    with pytest.raises(ValueError, match="multiple"):
        unvec(np.ones(5), 2)
    with pytest.raises(ValueError, match="b must"):
        linear_vec(np.ones((2, 3)), np.ones(3), 4)
    with pytest.raises(ValueError, match="n must"):
        linear_vec(np.ones((2, 3)), None, 0)
    with pytest.raises(TypeError, match="block"):
        layer_parameters(model)
    with pytest.raises(ValueError, match="norm"):
        layer_parameters(Block(4, 2, 4, norm="pre"))
    with pytest.raises(ValueError, match="norm"):
        unrolled_terms(Transformer(4, 2, 1, 4, d_in=2), np.ones((3, 4)))
    with pytest.raises(TypeError, match="model"):
        unrolled_terms(model.blocks[0], np.ones((3, 4)))
    with pytest.raises(ValueError, match="token"):
        token_block(np.eye(6), 3, 3, 0)
    with pytest.raises(ValueError, match="N must"):
        relu_interpolant(np.sin, 0, 1, 0)
    with pytest.raises(ValueError, match="a < b"):
        relu_interpolant(np.sin, 1, 0, 3)
    with pytest.raises(ValueError, match="features"):
        one_hidden_layer(np.ones((2, 3)), np.ones(4), np.ones((4, 2)), np.zeros(4))
    with pytest.raises(ValueError, match="activation"):
        one_hidden_layer(
            np.ones((2, 2)), np.ones(4), np.ones((4, 2)), np.zeros(4), activation="elu"
        )
    with pytest.raises(ValueError, match="widths"):
        random_feature_errors(ones_x, ones_y, ones_x, ones_y, [0], gen)
    with pytest.raises(TypeError, match="rng"):
        random_feature_errors(ones_x, ones_y, ones_x, ones_y, [1], 0)
    with pytest.raises(ValueError, match="positive"):
        fitted_rate(np.array([1.0, 2.0]), np.array([1.0, 0.0]))


# --------------------------------------------------- reliability review (bad input)


def test_reliability_1_random_features_refuse_infinite_input():
    """An inf in the data used to hang the least-squares solve for good."""
    rng = np.random.default_rng(0)
    x, y = rng.uniform(-1, 1, (20, 1)), rng.normal(size=20)
    bad_x, bad_y = x.copy(), y.copy()
    bad_x[3, 0], bad_y[5] = np.inf, np.nan
    with pytest.raises(ValueError, match="x_train must hold only finite values"):
        random_feature_errors(bad_x, y, x, y, [4], rng)
    with pytest.raises(ValueError, match="y_test must hold only finite values"):
        random_feature_errors(x, y, x, bad_y, [4], rng)


def test_reliability_10_fully_masked_rows_get_zero_attention():
    """attention_matrices promised zeros for masked entries but gave NaN rows."""
    p = layer_parameters(Block(4, 2, 8, norm="none"))
    X = np.random.default_rng(0).normal(size=(3, 4))
    mask = np.tril(np.ones((3, 3), bool))
    mask[1] = False
    A = attention_matrices(p, X, mask)
    assert np.all(np.isfinite(A))
    np.testing.assert_array_equal(A[:, 1], 0.0)
    np.testing.assert_allclose(A[:, [0, 2]].sum(-1), 1.0)
    np.testing.assert_array_equal(A, np.where(mask, A, 0.0))
