"""Tests of llmtheory.multi_concept: data model, model, construction, Bayes optimum, blocks."""

import numpy as np
import pytest
import torch
from scipy.special import expit
from scipy.stats import norm

from llmtheory import multi_concept as mc


@pytest.fixture
def dic():
    return mc.concept_dictionary(32, 4, alpha=1.0, beta=0.8, rng=np.random.default_rng(0))


@pytest.fixture
def gen():
    return torch.Generator().manual_seed(0)


def test_dictionary_is_orthonormal_and_features_have_the_stated_products(dic):
    B = mc.dictionary_basis(dic)
    np.testing.assert_allclose(B.T @ B, np.eye(2 * dic.d), atol=1e-10)
    mu_p, mu_m = dic.alpha * dic.U + dic.beta * dic.V, dic.alpha * dic.U - dic.beta * dic.V
    np.testing.assert_allclose(np.sum(mu_p * mu_m, 1), dic.alpha**2 - dic.beta**2)
    np.testing.assert_allclose(mu_p @ mu_p.T - np.diag(np.diag(mu_p @ mu_p.T)), 0, atol=1e-12)


def test_prompts_shapes_and_noiseless_structure(dic, gen):
    p = mc.sample_prompts(dic, 50, 6, sigma=0.0, sigma_y=0.0, n_irr=2, generator=gen)
    assert p.H.shape == (50, 6, 64) and p.hq.shape == (50, 64) and p.z_demo.shape == (50, 6)
    x, y = p.H[..., :32].double().numpy(), p.H[..., 32:].double().numpy()
    # every word holds exactly 1 + n_irr concepts; its v-coordinate on the task is beta z_l
    assert np.allclose((x @ dic.U.T).sum(-1), 3 * dic.alpha, atol=1e-5)
    task = p.task.numpy()
    v_task = np.einsum("nld,nd->nl", x, dic.V[task])
    np.testing.assert_allclose(v_task, dic.beta * p.z_demo.numpy(), atol=1e-5)
    t_task = np.einsum("nld,nd->nl", y, dic.T[task])
    np.testing.assert_allclose(t_task, dic.beta * p.z_demo.numpy(), atol=1e-5)
    assert torch.all(p.hq[:, 32:] == 0)


def test_flipped_and_switched_labels(dic, gen):
    p = mc.sample_prompts(dic, 40, 5, sigma=0.0, sigma_y=0.0, flip_labels=True, generator=gen)
    t = np.einsum("nld,nd->nl", p.H[..., 32:].double().numpy(), dic.T[p.task.numpy()])
    np.testing.assert_allclose(t, -dic.beta * p.z_demo.numpy(), atol=1e-5)
    perm = np.array([1, 2, 3, 0])
    p = mc.sample_prompts(dic, 40, 5, sigma=0.0, sigma_y=0.0, label_concept=perm, generator=gen)
    r = np.einsum("nld,nd->nl", p.H[..., 32:].double().numpy(), dic.R[perm[p.task.numpy()]])
    np.testing.assert_allclose(r, dic.alpha, atol=1e-5)


def test_skewed_task_distribution(dic, gen):
    p = mc.sample_prompts(dic, 200, 2, sigma=0.1, task_probs=[1.0, 0, 0, 0], generator=gen)
    assert torch.all(p.task == 0)


def test_bayes_predictor_attains_phi(dic, gen):
    p = mc.sample_prompts(dic, 40000, 1, sigma=0.5, generator=gen)
    err = float((mc.bayes_predict(dic, p) != p.z).float().mean())
    e_b = mc.bayes_error(0.8, 0.5)
    assert e_b == pytest.approx(norm.cdf(-1.6))
    assert abs(err - e_b) < 4 * np.sqrt(e_b * (1 - e_b) / 40000)


def test_constructed_transformer_matches_its_predictions(dic, gen):
    p = mc.sample_prompts(dic, 20000, 8, sigma=0.2, generator=gen)
    for lam in (1.0, 30.0):
        model = mc.constructed_transformer(dic, lam)
        with torch.no_grad():
            err = mc.zero_one_error(model(p.H, p.hq), p.z)
            mass = mc.correct_attention(model, p)
        e_pred = mc.constructed_error(lam, 0.8, 0.2, 8)
        assert abs(err - e_pred) < 4 * np.sqrt(e_pred * (1 - e_pred) / 20000) + 1e-3
        assert abs(mass - mc.predicted_correct_attention(lam, 0.8, 0.2, 8)) < 0.01
    assert mc.constructed_error(0.0, 0.8, 0.2, 8) == pytest.approx(0.5)
    assert mc.constructed_error(1e4, 0.8, 0.2, 8) == pytest.approx(mc.error_floor(0.8, 0.2, 8))
    assert mc.error_floor(0.8, 0.2, 2) == pytest.approx(0.25, abs=1e-4)


def test_predicted_attention_leading_order():
    # noiseless query and many demonstrations: sigmoid(2 lam beta^2)
    assert mc.predicted_correct_attention(1.0, 0.8, 0.0, 4000) == pytest.approx(
        expit(1.28), abs=1e-3
    )


def test_model_forward_and_gradient_formula(dic, gen):
    p = mc.sample_prompts(dic, 5, 4, sigma=0.2, generator=gen)
    model = mc.MultiConceptTransformer(32, 4, w_init=0.3, generator=gen)
    f = model(p.H, p.hq)
    assert f.shape == (5,)
    # d f / d W = sum_l a_l (g^T (h_l - o)) h_l h_q^T (eq-mc-gradient)
    H, hq = p.H[0].double(), p.hq[0].double()
    model = model.double()
    model.zero_grad()
    model(H[None], hq[None]).sum().backward()
    a = model.attention(H[None], hq[None])[0]
    o = a @ H
    g = ((model.w @ o > 0).double() * model.a) @ model.w
    expected = torch.einsum("l,l,li,j->ij", a, (H - o) @ g, H, hq)
    torch.testing.assert_close(model.W.grad, expected.detach())


def test_query_in_values_and_zero_output_counts_as_error(dic, gen):
    p = mc.sample_prompts(dic, 6, 3, sigma=0.2, generator=gen)
    model = mc.MultiConceptTransformer(32, 2, query_in_values=True, generator=gen)
    assert model.attention(p.H, p.hq).shape == (6, 4)
    assert mc.zero_one_error(torch.zeros(6), p.z) == 1.0


def test_training_step_decreases_loss_on_a_fixed_batch(dic, gen):
    p = mc.sample_prompts(dic, 64, 8, sigma=0.2, generator=gen)
    model = mc.MultiConceptTransformer(32, 8, generator=gen)
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    losses = []
    for _ in range(10):
        loss = mc.logistic_loss(model, p.batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


def test_block_projection_is_idempotent_and_diagnostics(dic):
    W = np.random.default_rng(1).standard_normal((64, 64))
    P = mc.concept_block_projection(dic, W)
    np.testing.assert_allclose(mc.concept_block_projection(dic, P), P, atol=1e-10)
    model = mc.constructed_transformer(dic, 2.0)
    prods = mc.block_products(dic, model.W)
    assert prods["concept"] == pytest.approx(2.0, rel=1e-5)
    assert prods["complement"] < 1e-5 and prods["noise"] < 1e-5 and prods["word"] < 1e-5
    np.testing.assert_array_equal(mc.concept_signs(dic, model.W), np.ones(4))
    np.testing.assert_allclose(
        mc.concept_block_projection(dic, model.W.detach()), model.W.detach(), atol=1e-5
    )
    mlp = mc.mlp_products(dic, model.w)
    assert (
        mlp["concept"] == pytest.approx(1.0, rel=1e-5)
        and mlp["noise"] < 1e-5
        and mlp["word"] < 1e-5
    )


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"d": 15, "K": 4}, ValueError),
        ({"d": 32, "K": 4, "beta": 1.0}, ValueError),
        ({"d": 32, "K": 4, "beta": 1.2}, ValueError),
        ({"d": 32, "K": 0}, ValueError),
        ({"d": 32.0, "K": 4}, TypeError),
        ({"d": 32, "K": 4, "alpha": -1.0}, ValueError),
    ],
)
def test_dictionary_bad_arguments(kwargs, error):
    with pytest.raises(error):
        mc.concept_dictionary(rng=np.random.default_rng(0), **kwargs)


def test_dictionary_needs_a_generator():
    with pytest.raises(TypeError, match="rng"):
        mc.concept_dictionary(32, 4, rng=0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_irr": 4}, "n_irr"),
        ({"sigma": -0.1}, "sigma"),
        ({"task_probs": [0.5, 0.5]}, "task_probs"),
        ({"label_concept": [0, 0, 1, 2]}, "label_concept"),
        ({"L": 0}, "L"),
    ],
)
def test_sample_prompts_bad_arguments(dic, gen, kwargs, match):
    args = {"n": 4, "L": 3, "sigma": 0.2} | kwargs
    with pytest.raises(ValueError, match=match):
        mc.sample_prompts(dic, generator=gen, **args)


def test_other_bad_arguments(dic, gen):
    with pytest.raises(TypeError, match="generator must be"):
        mc.sample_prompts(dic, 4, 3, sigma=0.2, generator=np.random.default_rng(0))
    with pytest.raises(ValueError, match="m must be even"):
        mc.MultiConceptTransformer(32, 3)
    with pytest.raises(ValueError, match="lam"):
        mc.constructed_transformer(dic, -1.0)
    with pytest.raises(ValueError, match="sigma"):
        mc.bayes_error(0.8, 0.0)
    with pytest.raises(ValueError, match="W must have shape"):
        mc.block_products(dic, np.zeros((3, 3)))
    with pytest.raises(ValueError, match="f and z"):
        mc.zero_one_error(torch.zeros(3), torch.zeros(4))
    with pytest.raises(ValueError, match="signs"):
        mc.correct_attention(
            mc.constructed_transformer(dic, 1.0),
            mc.sample_prompts(dic, 4, 3, sigma=0.2, generator=gen),
            signs=np.array([1.0, 0.0, 1.0, 1.0]),
        )


def test_expected_block_gradient_matches_autograd(dic, gen):
    model = mc.constructed_transformer(dic, 0.0)
    p = mc.sample_prompts(dic, 40000, 8, sigma=0.2, generator=gen)
    model.zero_grad()
    mc.logistic_loss(model, p.batch).backward()
    G = -model.W.grad.double().numpy()
    got = np.einsum("kd,de,ke->k", dic.T, G[32:, :32], dic.V)
    np.testing.assert_allclose(got, mc.expected_block_gradient(0.8, 8, 4), rtol=0.1)


def test_reliability_2_zero_one_error_refuses_nan_and_empty_outputs():
    """A diverged model (NaN outputs) used to report 0% error; empty input gave NaN."""
    z = torch.tensor([1.0, -1.0, 1.0])
    with pytest.raises(ValueError, match="f must hold only finite values"):
        mc.zero_one_error(torch.full((3,), float("nan")), z)
    with pytest.raises(ValueError, match="f must be non-empty"):
        mc.zero_one_error(torch.zeros(0), torch.zeros(0))
    with pytest.raises(ValueError, match="z must hold labels"):
        mc.zero_one_error(torch.ones(3), torch.tensor([1.0, 0.0, 2.0]))
    assert mc.zero_one_error(np.array([0.5, 0.5, -1.0]), z) == pytest.approx(2 / 3)


def test_reliability_6_correct_attention_wants_one_sign_per_concept(dic, gen):
    """Three signs were accepted for K = 2 concepts."""
    p = mc.sample_prompts(dic, 8, 4, sigma=0.1, generator=gen)
    model = mc.MultiConceptTransformer(dic.d, 4, generator=gen)
    with torch.no_grad():
        assert 0 <= mc.correct_attention(model, p, np.ones(dic.K)) <= 1
        with pytest.raises(ValueError, match="signs must have one entry per concept"):
            mc.correct_attention(model, p, np.ones(dic.K + 1))


def test_reliability_7_block_products_without_noise_directions():
    """d = 4K leaves no noise direction; block_products and mlp_products used to crash."""
    dic = mc.concept_dictionary(8, 2, rng=np.random.default_rng(0))
    assert dic.N.shape == (0, 8)
    W = np.random.default_rng(1).normal(size=(16, 16))
    products = mc.block_products(dic, W)
    assert products["noise"] == 0.0 and products["concept"] > 0
    assert mc.mlp_products(dic, np.ones((4, 16)))["noise"] == 0.0
    one = mc.concept_dictionary(4, 1, rng=np.random.default_rng(0))
    assert mc.block_products(one, np.eye(8))["complement"] == 0.0


# --------------------------------------------------- closed forms and mirrored concepts


def _mirrored_construction(dic, lam, signs):
    """The construction with concept k's block and read-out multiplied by signs[k]."""
    model = mc.constructed_transformer(dic, lam)
    d = dic.d
    W = np.zeros((2 * d, 2 * d))
    W[d:, :d] = lam * dic.T.T @ (signs[:, None] * dic.V)
    t = np.concatenate([np.zeros(d), signs @ dic.T])
    with torch.no_grad():
        model.W.copy_(torch.as_tensor(W, dtype=torch.float32))
        model.w.copy_(torch.as_tensor(np.stack([t, -t]), dtype=torch.float32))
    return model


def test_mirrored_concepts_have_their_signs_and_the_same_attention(dic, gen):
    signs = np.array([1, -1, 1, -1])
    mirrored = _mirrored_construction(dic, 1.0, signs)
    np.testing.assert_array_equal(mc.concept_signs(dic, mirrored.W), signs)
    p = mc.sample_prompts(dic, 8000, 8, sigma=0.2, generator=gen)
    with torch.no_grad():
        mass = mc.correct_attention(mirrored, p, signs)
        err = mc.zero_one_error(mirrored(p.H, p.hq), p.z)
    # n_+ and n_- have one law: the mirror solution attends and errs as the construction does
    assert abs(mass - mc.predicted_correct_attention(1.0, 0.8, 0.2, 8)) < 0.01
    e_pred = mc.constructed_error(1.0, 0.8, 0.2, 8)
    assert abs(err - e_pred) < 4 * np.sqrt(e_pred * (1 - e_pred) / 8000) + 1e-3


def test_block_products_keep_noise_and_cross_terms_apart(dic):
    B = mc.dictionary_basis(dic)
    noise_dirs = np.flatnonzero(np.r_[np.zeros(16), np.ones(16), np.zeros(16), np.ones(16)])
    M = np.zeros((64, 64))
    M[noise_dirs[0], noise_dirs[1]] = 0.5  # noise x noise
    M[noise_dirs[2], 0] = 2.0  # noise x u_0: neither noise block nor complement
    M[1, 0] = 0.25  # u_1 x u_0: cross-concept complement
    prods = mc.block_products(dic, B @ M @ B.T)
    assert prods["noise"] == pytest.approx(0.5) and prods["complement"] == pytest.approx(0.25)


def test_closed_forms_at_short_prompts():
    # L = 1: the single demonstration agrees (error 0) or disagrees (error 1) with probability 1/2
    for lam in (0.5, 30.0):
        assert mc.constructed_error(lam, 0.8, 0.2, 1) == pytest.approx(0.5)
    e_b = norm.cdf(-2.0)
    assert mc.bayes_error(0.8, 0.4) == pytest.approx(e_b)
    assert mc.error_floor(0.8, 0.4, 1) == pytest.approx(0.5)
    assert mc.error_floor(0.8, 0.4, 3) == pytest.approx(e_b * 7 / 8 + (1 - e_b) / 8)
    assert mc.expected_block_gradient(0.8, 4, 2) == pytest.approx(0.8**3 * 0.75 / 8)


def test_words_carry_the_task_and_n_irr_other_concepts(dic, gen):
    for n_irr in (0, 1, 3):
        p = mc.sample_prompts(dic, 20, 3, sigma=0.0, sigma_y=0.0, n_irr=n_irr, generator=gen)
        x = p.H[..., :32].double().numpy()
        counts = (np.abs(x @ dic.U.T) > 1e-3).sum(-1)
        np.testing.assert_array_equal(counts, 1 + n_irr)


def test_expected_block_gradient_with_label_noise_matches_autograd(dic, gen):
    # sigma_y = 0.5 makes the label-noise terms large: t_j^T(.)v_k carries beta sigma_y^2 (1 - 1/L)
    # / (4K) for every j (also j != k), v_k^T(.)v_k none of it
    model = mc.constructed_transformer(dic, 0.0)
    p = mc.sample_prompts(dic, 80000, 4, sigma=0.2, sigma_y=0.5, generator=gen)
    model.zero_grad()
    mc.logistic_loss(model, p.batch).backward()
    G = -model.W.grad.double().numpy()
    tv = np.einsum("jd,de,ke->jk", dic.T, G[32:, :32], dic.V)
    vv = np.einsum("kd,de,ke->k", dic.V, G[:32, :32], dic.V)
    kw = {"sigma_y": 0.5}
    off = ~np.eye(4, dtype=bool)
    np.testing.assert_allclose(np.diag(tv), mc.expected_block_gradient(0.8, 4, 4, **kw), rtol=0.05)
    np.testing.assert_allclose(
        tv[off], mc.expected_block_gradient(0.8, 4, 4, product="cross", **kw), rtol=0.15
    )
    np.testing.assert_allclose(
        vv, mc.expected_block_gradient(0.8, 4, 4, product="word-word", **kw), rtol=0.05
    )
    assert mc.expected_block_gradient(0.8, 4, 4, product="cross") == 0.0
    with pytest.raises(ValueError, match="product"):
        mc.expected_block_gradient(0.8, 4, 4, product="noise")


def test_constructed_error_with_label_noise(dic, gen):
    # the label noise read over K label directions moves the error where the attention is soft
    # (at sigma_y = 0.1 the neglected noise in the scores stays within one standard error here)
    assert mc.constructed_error(0.0, 0.8, 0.2, 8, sigma_y=0.1, K=4) == pytest.approx(0.5)
    for lam in (0.25, 0.5):
        e0, e1 = (mc.constructed_error(lam, 0.8, 0.2, 8, sigma_y=s, K=4) for s in (0.0, 0.1))
        model = mc.constructed_transformer(dic, lam)
        p = mc.sample_prompts(dic, 40000, 8, sigma=0.2, sigma_y=0.1, generator=gen)
        with torch.no_grad():
            err = mc.zero_one_error(model(p.H, p.hq), p.z)
        se = np.sqrt(e1 * (1 - e1) / 40000)
        assert abs(err - e1) < 4 * se
        assert abs(err - e0) > 4 * se  # the noiseless formula misses
    # E[A^2] >= E[A]^2, equality only for a deterministic mass (L = 1 and sigma = 0 at lam = 0)
    m1, m2 = (mc.predicted_correct_attention(1.0, 0.8, 0.2, 8, moment=k) for k in (1, 2))
    assert m2 > m1**2
    with pytest.raises(ValueError, match="moment"):
        mc.predicted_correct_attention(1.0, 0.8, 0.2, 8, moment=3)
