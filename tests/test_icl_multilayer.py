"""Unit tests of the multi-layer LSA, GD++ and noisy-label functions of llmtheory.icl."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from llmtheory import icl


def _prompts(batch=64, n=8, d=4, seed=0, noise=None):
    gen = torch.Generator().manual_seed(seed)
    if noise is None:
        x, y, w = icl.sample_linear_regression(batch, n + 1, d, generator=gen, dtype=torch.float64)
    else:
        x, y, w = icl.sample_noisy_linear_regression(
            batch, n + 1, d, noise, generator=gen, dtype=torch.float64
        )
    return x, y, w


def test_gd_steps_match_repeated_single_steps():
    x, y, _ = _prompts()
    xc, yc, xq = x[:, :-1], y[:, :-1], x[:, -1]
    one = icl.gd_steps_predict(xc, yc, xq, [0.7])
    assert torch.allclose(one, icl.gd_step_predict(xc, yc, xq, 0.7), atol=1e-12)
    # two steps: w2 = w1 + eta (1/N) X^T (y - X w1)
    w1 = 0.7 * torch.einsum("bn,bnd->bd", yc, xc) / xc.shape[1]
    r = yc - torch.einsum("bnd,bd->bn", xc, w1)
    w2 = w1 + 0.3 * torch.einsum("bn,bnd->bd", r, xc) / xc.shape[1]
    two = icl.gd_steps_predict(xc, yc, xq, [0.7, 0.3])
    assert torch.allclose(two, (w2 * xq).sum(-1), atol=1e-12)


def test_gdpp_equals_lsa_stack_and_reduces_to_gd():
    x, y, _ = _prompts(d=3, n=6)
    xc, yc, xq = x[:, :-1], y[:, :-1], x[:, -1]
    etas, rhos = [0.9, 0.5], [0.2, 0.1]
    tokens = icl.vonoswald_tokens(xc, yc, xq)
    for eta, rho in zip(etas, rhos, strict=True):
        tokens = icl.lsa_forward(tokens, **icl.gdpp_construction(3, eta, rho, 6), n_context=6)
    assert torch.allclose(-tokens[:, -1, -1], icl.gdpp_predict(xc, yc, xq, etas, rhos), atol=1e-12)
    gd = icl.gdpp_predict(xc, yc, xq, etas, [0.0, 0.0])
    assert torch.allclose(gd, icl.gd_steps_predict(xc, yc, xq, etas), atol=1e-12)
    assert not torch.allclose(gd, icl.gdpp_predict(xc, yc, xq, etas, rhos), atol=1e-6)


def test_gdpp_construction_with_zero_rho_is_the_gd_construction():
    a = icl.gdpp_construction(4, 0.8, 0.0, 5)
    b = icl.lsa_construction(4, 0.8, 5)
    pa, pb = a["P"] @ a["W_V"], b["P"] @ b["W_V"]
    assert torch.allclose(pa, pb)


def test_multilayer_lsa_shapes_and_layers():
    x, y, _ = _prompts(batch=5, n=4, d=3)
    model = icl.MultiLayerLSA(3, 2, generator=torch.Generator().manual_seed(1)).double()
    out = model(x[:, :-1], y[:, :-1], x[:, -1])
    assert out.shape == (5,)
    assert len(model.layers) == 2
    with pytest.raises(ValueError, match="n_layers"):
        icl.MultiLayerLSA(3, 0, generator=torch.Generator())


def test_fit_gd_schedule_beats_a_fixed_step():
    x, y, _ = _prompts(batch=400, n=10, d=5)
    args = (x[:, :-1], y[:, :-1], x[:, -1], y[:, -1])
    etas, rhos = icl.fit_gd_schedule(*args, 2, eta_init=0.5, iterations=50)
    assert torch.all(rhos == 0)
    fitted = ((icl.gdpp_predict(*args[:3], etas, rhos) - args[3]) ** 2).mean()
    fixed = ((icl.gd_steps_predict(*args[:3], [0.5, 0.5]) - args[3]) ** 2).mean()
    assert fitted < fixed
    etas_pp, rhos_pp = icl.fit_gd_schedule(*args, 2, plus_plus=True, eta_init=0.5, iterations=50)
    pp = ((icl.gdpp_predict(*args[:3], etas_pp, rhos_pp) - args[3]) ** 2).mean()
    assert pp <= fitted * (1 + 1e-6)


def test_ridge_prefix_matches_direct_solve():
    x, y, _ = _prompts(batch=3, n=6, d=3, noise=0.3)
    pred = icl.ridge_prefix(x, y, 0.09)
    for b in range(3):
        for k in range(7):
            xk, yk = x[b, :k], y[b, :k]
            w = torch.linalg.solve(xk.T @ xk + 0.09 * torch.eye(3, dtype=x.dtype), xk.T @ yk)
            assert torch.allclose(pred[b, k], w @ x[b, k], atol=1e-10)
    assert torch.all(pred[:, 0] == 0)


def test_noisy_sampler_adds_noise_of_the_given_scale():
    gen = torch.Generator().manual_seed(3)
    x, y, w = icl.sample_noisy_linear_regression(4000, 5, 3, 0.5, generator=gen)
    resid = y - torch.einsum("bnd,bd->bn", x, w)
    assert abs(float(resid.std()) - 0.5) < 0.02
    x0, y0, w0 = icl.sample_noisy_linear_regression(10, 5, 3, 0.0, generator=gen)
    assert torch.allclose(y0, torch.einsum("bnd,bd->bn", x0, w0))


def test_clean_prefix_error_uses_the_noiseless_target():
    x, y, w = _prompts(batch=4, n=3, d=2, noise=1.0)
    target = torch.einsum("bnd,bd->bn", x, w)
    assert torch.all(icl.clean_prefix_error(target, x, w) == 0)


def test_least_squares_noisy_error_closed_form():
    th = icl.least_squares_noisy_error(np.arange(11), 5, 0.25)
    assert th[0] == pytest.approx(1.0)
    assert th[3] == pytest.approx((5 - 3 + 0.25 * 3 / 1) / 5)
    assert np.all(np.isinf(th[4:7]))
    assert th[7] == pytest.approx(0.25)
    assert th[10] == pytest.approx(0.25 / 4)
    assert icl.least_squares_noisy_error(2, 5, 0.0) == pytest.approx(0.6)
    with pytest.raises(ValueError, match="k must"):
        icl.least_squares_noisy_error(1.5, 5, 0.25)


def test_ridge_conditional_error_decreases_and_starts_at_one():
    x, _, _ = _prompts(batch=20, n=8, d=4)
    risk = icl.ridge_conditional_error(x, 0.25)
    assert torch.allclose(risk[:, 0], torch.ones(20, dtype=x.dtype))
    assert torch.all(torch.diff(risk, dim=1) <= 1e-12)


def test_argument_errors_name_the_parameter():
    x, y, _ = _prompts(batch=2, n=3, d=2)
    with pytest.raises(ValueError, match="rhos"):
        icl.gdpp_predict(x[:, :-1], y[:, :-1], x[:, -1], [0.5, 0.5], [0.1])
    with pytest.raises(TypeError, match="etas"):
        icl.gd_steps_predict(x[:, :-1], y[:, :-1], x[:, -1], "fast")
    with pytest.raises(ValueError, match="lam"):
        icl.ridge_prefix(x, y, 0.0)
    with pytest.raises(ValueError, match="noise_std"):
        icl.sample_noisy_linear_regression(2, 3, 2, -1.0, generator=torch.Generator())
