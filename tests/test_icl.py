"""Tests for llmtheory.icl: the construction is exact, the baselines are right, bad input fails."""

import pytest
import torch

from llmtheory.icl import (
    LinearSelfAttention,
    averaging_prefix,
    best_gd_eta,
    example_query_mask,
    example_query_predict,
    example_query_tokens,
    gd_step_predict,
    least_squares_prefix,
    load_icl_transformer,
    lsa_construction,
    lsa_effective_weight,
    lsa_forward,
    make_icl_transformer,
    nearest_neighbour_prefix,
    prefix_error,
    sample_linear_regression,
    save_icl_transformer,
    sensitivity_cosine,
    vonoswald_tokens,
)

D, N = 4, 6


def _task(batch=8, n=N + 1, d=D, x_dist="uniform", seed=0):
    g = torch.Generator().manual_seed(seed)
    return sample_linear_regression(batch, n, d, generator=g, x_dist=x_dist, dtype=torch.float64)


def test_sample_shapes_and_targets():
    x, y, w = _task(x_dist="gaussian")
    assert x.shape == (8, N + 1, D) and y.shape == (8, N + 1) and w.shape == (8, D)
    torch.testing.assert_close(y, (x * w[:, None]).sum(-1))
    xu, _, _ = _task(x_dist="uniform")
    assert xu.abs().max() <= 1


@pytest.mark.parametrize("use_w0", [False, True])
def test_construction_is_one_gd_step(use_w0):
    x, y, _ = _task()
    xc, yc, xq = x[:, :N], y[:, :N], x[:, N]
    w0 = torch.linspace(-1, 1, D, dtype=torch.float64) if use_w0 else None
    weights = lsa_construction(D, 0.37, N, w0)
    out = lsa_forward(vonoswald_tokens(xc, yc, xq, w0), **weights, n_context=N)
    err = (-out[:, -1, -1] - gd_step_predict(xc, yc, xq, 0.37, w0)).abs().max()
    assert err < 1e-12
    # the context tokens' y-slots become the residuals after the step (von Oswald, Prop. 1)
    assert (out[:, :N, :D] - xc).abs().max() == 0


def test_effective_weight_matches_forward_and_closed_form():
    x, y, _ = _task()
    xc, yc, xq = x[:, :N], y[:, :N], x[:, N]
    weights = lsa_construction(D, 0.5, N)
    w_eff = lsa_effective_weight(xc, yc, **weights)
    torch.testing.assert_close(w_eff, 0.5 / N * torch.einsum("bn,bnd->bd", yc, xc))
    layer = LinearSelfAttention(D, init_scale=0.3, generator=torch.Generator().manual_seed(3))
    layer = layer.double()
    torch.testing.assert_close(
        layer(xc, yc, xq),
        (lsa_effective_weight(xc, yc, **layer.weights()) * xq).sum(-1),
    )


def test_best_eta_is_the_line_search_minimum():
    x, y, _ = _task(batch=200)
    xc, yc, xq, yq = x[:, :N], y[:, :N], x[:, N], y[:, N]
    eta = best_gd_eta(xc, yc, xq, yq)

    def loss(e):
        return float(((gd_step_predict(xc, yc, xq, e) - yq) ** 2).mean())

    assert loss(eta) < loss(eta * 1.01) and loss(eta) < loss(eta * 0.99)


def test_sensitivity_cosine_of_gd_with_itself_and_with_its_negative():
    x, y, _ = _task()
    xc, yc, xq = x[:, :N], y[:, :N], x[:, N]

    def gd(a, b, c):
        return gd_step_predict(a, b, c, 1.0)

    def minus_gd(a, b, c):
        return -gd_step_predict(a, b, c, 1.0)

    assert sensitivity_cosine(gd, gd, xc, yc, xq) == pytest.approx(1.0)
    assert sensitivity_cosine(gd, minus_gd, xc, yc, xq) == pytest.approx(-1.0)


def test_sensitivity_cosine_is_taken_prompt_by_prompt():
    # two linear predictors x_q -> a_b . x_q and x_q -> c_b . x_q: the cosine of a_b and c_b
    x, y, w = _task()
    xc, yc, xq = x[:, :N], y[:, :N], x[:, N]
    other = torch.randn(w.shape, generator=torch.Generator().manual_seed(1), dtype=w.dtype)
    expected = torch.nn.functional.cosine_similarity(w, other, dim=-1).mean()
    got = sensitivity_cosine(
        lambda a, b, c: (c * w).sum(-1), lambda a, b, c: (c * other).sum(-1), xc, yc, xq
    )
    assert got == pytest.approx(float(expected), abs=1e-12)


def test_uniform_inputs_are_the_default():
    x, _, _ = sample_linear_regression(2000, 5, 3, generator=torch.Generator().manual_seed(0))
    assert x.min() >= -1 and x.max() <= 1 and x.mean().abs() < 0.05


def test_example_query_layout_and_mask():
    x, y, _ = _task(n=3)
    tok = example_query_tokens(x, y)
    assert tok.shape == (8, 6, D + 2)
    torch.testing.assert_close(tok[:, 3:, D], torch.zeros(8, 3, dtype=torch.float64))
    torch.testing.assert_close(tok[:, :3, D], y)
    expected = torch.tensor(
        [
            [1, 0, 0, 0, 0, 0],
            [1, 1, 0, 0, 0, 0],
            [1, 1, 1, 0, 0, 0],
            [0, 0, 0, 1, 0, 0],
            [1, 0, 0, 0, 1, 0],
            [1, 1, 0, 0, 0, 1],
        ],
        dtype=torch.bool,
    )
    assert torch.equal(example_query_mask(3), expected)


def test_mask_prevents_leaks_through_layers():
    # reachability over many layers: query k must never reach example k or later
    n = 5
    mask = example_query_mask(n).to(torch.int64)
    reach = mask.clone()
    for _ in range(4):
        reach = ((reach @ mask) > 0).to(torch.int64)
    for k in range(n):
        assert reach[n + k, k:n].sum() == 0


def test_example_query_predict_ignores_later_labels():
    torch.manual_seed(0)
    model = make_icl_transformer(D, d_model=16, n_heads=2, n_layers=2, d_ff=32).double()
    x, y, _ = _task(n=5)
    pred = example_query_predict(model, x, y)
    assert pred.shape == (8, 5)
    y2 = y.clone()
    y2[:, 3:] += 1.0  # labels of examples 3 and 4 must not reach queries 0..3
    torch.testing.assert_close(example_query_predict(model, x, y2)[:, :4], pred[:, :4])


def test_save_and_load_verify_the_checksum(tmp_path):
    torch.manual_seed(0)
    model = make_icl_transformer(D, d_model=8, n_heads=2, n_layers=1, d_ff=16)
    path = tmp_path / "m.pt"
    digest = save_icl_transformer(model, {"d": D, "d_model": 8, "n_layers": 1, "d_ff": 16}, path)
    assert len(digest) == 64
    assert not path.with_name("m.pt.sha256").exists()  # the digest is returned, not written
    loaded, config = load_icl_transformer(path, sha256=digest)
    x, y, _ = _task(n=3)
    torch.testing.assert_close(
        example_query_predict(loaded, x.float(), y.float()),
        example_query_predict(model.eval(), x.float(), y.float()),
    )
    assert config["d"] == D
    path.write_bytes(path.read_bytes() + b"0")
    with pytest.raises(ValueError, match="checksum"):
        load_icl_transformer(path, sha256=digest)
    with pytest.raises(ValueError, match="config"):
        save_icl_transformer(model, {}, path)


def test_least_squares_prefix_against_lstsq():
    x, y, w = _task(n=9, x_dist="gaussian")
    pred = least_squares_prefix(x, y)
    assert pred[:, 0].abs().max() == 0
    for k in (2, 7):
        w_hat = torch.linalg.pinv(x[:, :k]) @ y[:, :k, None]
        torch.testing.assert_close(pred[:, k], (w_hat.squeeze(-1) * x[:, k]).sum(-1))
    # once k >= d the noiseless task is solved exactly
    assert (pred[:, D:] - y[:, D:]).abs().max() < 1e-9


def test_nearest_neighbour_and_averaging_prefix():
    x, y, _ = _task(n=6)
    nn3 = nearest_neighbour_prefix(x, y)
    assert nn3[:, 0].abs().max() == 0
    torch.testing.assert_close(nn3[:, 1], y[:, 0])
    torch.testing.assert_close(nn3[:, 2], y[:, :2].mean(1))
    dist = (x[:, :5] - x[:, 5:6]).norm(dim=-1)
    idx = dist.topk(3, largest=False).indices
    torch.testing.assert_close(nn3[:, 5], torch.gather(y[:, :5], 1, idx).mean(1))
    avg = averaging_prefix(x, y)
    w_hat = torch.einsum("bn,bnd->bd", y[:, :4], x[:, :4]) / 4
    torch.testing.assert_close(avg[:, 4], (w_hat * x[:, 4]).sum(-1))
    assert avg[:, 0].abs().max() == 0


def test_prefix_error_normalises_by_d():
    y = torch.ones(3, 4)
    torch.testing.assert_close(prefix_error(torch.zeros(3, 4), y, 2), torch.full((4,), 0.5))


def test_bad_arguments():
    g = torch.Generator().manual_seed(0)
    x, y, _ = _task()
    with pytest.raises(ValueError, match="batch"):
        sample_linear_regression(0, 3, 2, generator=g)
    with pytest.raises(TypeError, match="d must be an int"):
        sample_linear_regression(2, 3, 2.0, generator=g)
    with pytest.raises(ValueError, match="x_dist"):
        sample_linear_regression(2, 3, 2, generator=g, x_dist="cauchy")
    with pytest.raises(TypeError, match="generator"):
        sample_linear_regression(2, 3, 2, generator=0)
    with pytest.raises(TypeError, match="dtype"):
        sample_linear_regression(2, 3, 2, generator=g, dtype=torch.int64)
    with pytest.raises(ValueError, match="y must have shape"):
        vonoswald_tokens(x, y[:, :-1], x[:, 0])
    with pytest.raises(ValueError, match="x_query"):
        gd_step_predict(x, y, x[:, 0, :2], 1.0)
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        least_squares_prefix(x.numpy(), y)
    with pytest.raises(ValueError, match="w0"):
        lsa_construction(D, 0.1, N, torch.zeros(D + 1))
    with pytest.raises(TypeError, match="eta"):
        lsa_construction(D, "big", N)
    with pytest.raises(ValueError, match="n_context"):
        lsa_forward(
            torch.zeros(1, 3, D + 1, dtype=torch.float64),
            **lsa_construction(D, 0.1, 2),
            n_context=4,
        )
    with pytest.raises(ValueError, match="W_V"):
        weights = lsa_construction(D, 0.1, 2)
        weights["W_V"] = torch.zeros(2, 2)
        lsa_forward(torch.zeros(1, 3, D + 1, dtype=torch.float64), **weights, n_context=2)
    with pytest.raises(ValueError, match="y_query"):
        best_gd_eta(x[:, :N], y[:, :N], x[:, N], y[:2, N])
    with pytest.raises(TypeError, match="predict_a must be callable"):
        sensitivity_cosine(1, 2, x[:, :N], y[:, :N], x[:, N])
    with pytest.raises(ValueError, match="init_scale"):
        LinearSelfAttention(D, init_scale=0.0, generator=g)
    with pytest.raises(TypeError, match="generator"):
        LinearSelfAttention(D, generator=0)
    with pytest.raises(ValueError, match="n_points"):
        example_query_mask(0)
    with pytest.raises(ValueError, match="k must be at least 1"):
        nearest_neighbour_prefix(x, y, k=0)
    with pytest.raises(TypeError, match="model"):
        example_query_predict(lambda t, attn_mask: t, x, y)
    with pytest.raises(ValueError, match="pred"):
        prefix_error(y[:, :2], y, D)


# --------------------------------------------------- reliability review (bad input)


def test_reliability_6_lsa_effective_weight_checks_shapes():
    """lsa_effective_weight checked no shapes and returned a slice of whatever it got."""
    x, y, _ = _task()
    weights = lsa_construction(D, 0.1, N, dtype=x.dtype)
    assert lsa_effective_weight(x, y, **weights).shape == (x.shape[0], D)
    bad = dict(weights, W_K=torch.zeros(D + 2, D + 2, dtype=x.dtype))
    with pytest.raises(ValueError, match="W_K must have shape"):
        lsa_effective_weight(x, y, **bad)
    with pytest.raises(TypeError, match="P must have the dtype"):
        lsa_effective_weight(x, y, **dict(weights, P=weights["P"].float()))
