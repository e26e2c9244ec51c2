"""Tests for the optimal single LSA layer in llmtheory.icl: Omega*, its loss, the read-off."""

import pytest
import torch

from llmtheory.icl import (
    lsa_construction,
    lsa_effective_weight,
    lsa_preconditioner,
    optimal_preconditioner,
    preconditioned_step_loss,
    sample_anisotropic_regression,
)

D, N = 3, 6


def _cov():
    q, _ = torch.linalg.qr(
        torch.randn(D, D, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    )
    return (q * torch.tensor([0.5, 1.0, 2.0], dtype=torch.float64)) @ q.T


def test_sampler_has_the_covariance_and_noiseless_labels():
    cov = _cov()
    x, y, w = sample_anisotropic_regression(
        20_000, 2, cov, generator=torch.Generator().manual_seed(0)
    )
    assert x.shape == (20_000, 2, D) and y.shape == (20_000, 2) and w.shape == (20_000, D)
    torch.testing.assert_close(y, (x * w[:, None]).sum(-1))
    emp = torch.einsum("bni,bnj->ij", x, x) / (2 * 20_000)
    assert (emp - cov).abs().max() < 0.06  # about 4 standard errors of 40,000 products


def test_isotropic_optimum_is_the_plain_step():
    omega = optimal_preconditioner(torch.eye(D, dtype=torch.float64), N)
    torch.testing.assert_close(omega, N / (N + D + 1) * torch.eye(D, dtype=torch.float64))


@pytest.mark.parametrize("noise_var", [0.0, 0.5])
def test_optimum_minimises_the_loss(noise_var):
    cov = _cov()
    omega = optimal_preconditioner(cov, N, noise_var)
    best = preconditioned_step_loss(omega, cov, N, noise_var)
    g = torch.Generator().manual_seed(2)
    for _ in range(5):
        e = 1e-3 * torch.randn(D, D, generator=g, dtype=torch.float64)
        # a minimum of a quadratic: both sides of every direction are higher
        assert preconditioned_step_loss(omega + e, cov, N, noise_var) > best
        assert preconditioned_step_loss(omega - e, cov, N, noise_var) > best
    # the minimum value 1/2 (tr S + s^2 - tr(S Omega S))
    expected = 0.5 * float(torch.trace(cov) + noise_var - torch.trace(cov @ omega @ cov))
    assert abs(best - expected) < 1e-12


def test_loss_matches_monte_carlo():
    cov = _cov()
    omega = 0.3 * torch.eye(D, dtype=torch.float64) + 0.05
    x, y, _ = sample_anisotropic_regression(
        200_000, N + 1, cov, generator=torch.Generator().manual_seed(3)
    )
    h = torch.einsum("bn,bnd->bd", y[:, :N], x[:, :N]) / N
    sq = 0.5 * (((h @ omega.T) * x[:, N]).sum(-1) - y[:, N]) ** 2
    se = float(sq.std()) / sq.numel() ** 0.5
    assert abs(float(sq.mean()) - preconditioned_step_loss(omega, cov, N)) < 4 * se


def test_read_off_is_the_part_linear_in_xty():
    g = torch.Generator().manual_seed(0)
    w = {
        k: torch.randn(D + 1, D + 1, generator=g, dtype=torch.float64)
        for k in ("W_K", "W_Q", "W_V", "P")
    }
    x = torch.randn(4, N, D, generator=g, dtype=torch.float64)
    y = torch.randn(4, N, generator=g, dtype=torch.float64)
    odd = (lsa_effective_weight(x, y, **w) - lsa_effective_weight(x, -y, **w)) / 2
    omega = lsa_preconditioner(**w, n_context=N)
    torch.testing.assert_close(odd, torch.einsum("bn,bnd->bd", y, x) / N @ omega.T)


def test_read_off_of_the_construction():
    omega = lsa_preconditioner(**lsa_construction(D, 0.7, N), n_context=N)
    torch.testing.assert_close(omega, 0.7 * torch.eye(D, dtype=torch.float64))


def test_bad_arguments_name_the_parameter():
    cov = _cov()
    with pytest.raises(ValueError, match="cov"):
        optimal_preconditioner(-cov, N)
    with pytest.raises(ValueError, match="cov"):
        optimal_preconditioner(torch.ones(D, D + 1, dtype=torch.float64), N)
    with pytest.raises(ValueError, match="noise_var"):
        optimal_preconditioner(cov, N, -1.0)
    with pytest.raises(ValueError, match="n_context"):
        preconditioned_step_loss(cov, cov, 0)
    with pytest.raises((ValueError, TypeError), match="omega"):
        preconditioned_step_loss(torch.eye(D + 1, dtype=torch.float64), cov, N)
    with pytest.raises((ValueError, TypeError), match="W_Q"):
        lsa_preconditioner(torch.eye(3), torch.eye(4), torch.eye(3), torch.eye(3), N)
