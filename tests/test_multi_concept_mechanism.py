"""The learned mechanism of chapter 4: concept scales, the construction at learned scales and
the scalar law eq-mc-learned-scores."""

import numpy as np
import pytest
import torch

from llmtheory import multi_concept as mc


@pytest.fixture
def dic() -> mc.ConceptDictionary:
    return mc.concept_dictionary(32, 4, alpha=1.0, beta=0.8, rng=np.random.default_rng(0))


def test_concept_scales_read_the_two_products(dic):
    """A W built from known label-to-word and word-to-word products returns them, signed."""
    label, word = np.array([1.0, -2.0, 0.5, 3.0]), np.array([0.2, -0.4, 0.0, 1.0])
    d = dic.d
    W = np.zeros((2 * d, 2 * d))
    W[d:, :d] = dic.T.T @ (label[:, None] * dic.V)
    W[:d, :d] = dic.V.T @ (word[:, None] * dic.V)
    W[:d, :d] += 0.7 * np.outer(dic.U[0], dic.V[1])  # a complement entry: not read
    got_label, got_word = mc.concept_scales(dic, W)
    np.testing.assert_allclose(got_label, label, atol=1e-12)
    np.testing.assert_allclose(got_word, word, atol=1e-12)


def test_distilled_transformer_keeps_only_the_scales(dic):
    """The construction at learned scales: same scales, no complement, read-out in the signs."""
    rng = np.random.default_rng(1)
    W = rng.normal(size=(2 * dic.d, 2 * dic.d))
    model = mc.distilled_transformer(dic, W)
    label, word = mc.concept_scales(dic, W)
    got_label, got_word = mc.concept_scales(dic, model.W.detach().numpy())
    np.testing.assert_allclose(got_label, label, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got_word, word, rtol=1e-5, atol=1e-5)
    assert mc.block_products(dic, model.W.detach().numpy())["complement"] < 1e-5
    signs = np.where(label < 0, -1.0, 1.0)
    read = model.w.detach().numpy()[0, dic.d :] @ dic.T.T
    np.testing.assert_allclose(read, signs, atol=1e-6)


def test_distilled_transformer_of_the_construction_is_the_construction(dic):
    cons = mc.constructed_transformer(dic, 2.0)
    distilled = mc.distilled_transformer(dic, cons.W.detach())
    torch.testing.assert_close(distilled.W, cons.W)
    torch.testing.assert_close(distilled.w, cons.w)


@pytest.mark.parametrize("lam", [0.5, 1.0, 2.0])
def test_scalar_law_without_word_channel_is_the_quadrature(lam):
    """word = 0, sigma_y = 0: eq-mc-attention and eq-mc-construction-error, within 4 s.e."""
    got = mc.predicted_scaled_construction(
        np.full(8, lam),
        np.zeros(8),
        3,
        0.8,
        0.2,
        16,
        sigma_y=0.0,
        generator=np.random.default_rng(2),
    )
    att = mc.predicted_correct_attention(lam, 0.8, 0.2, 16)
    err = mc.constructed_error(lam, 0.8, 0.2, 16)
    assert abs(got["attention"] - att) < 4 * got["attention_se"]
    assert abs(got["error"] - err) < 4 * got["error_se"]


def test_scalar_law_with_label_noise_is_the_noise_quadrature():
    got = mc.predicted_scaled_construction(
        np.full(8, 0.5),
        np.zeros(8),
        0,
        0.8,
        0.2,
        16,
        sigma_y=0.05,
        generator=np.random.default_rng(3),
    )
    err = mc.constructed_error(0.5, 0.8, 0.2, 16, sigma_y=0.05, K=8)
    # the quadrature neglects the label noise in the scores, negligible at sigma_y = 0.05
    assert abs(got["error"] - err) < 4 * got["error_se"]


def test_scalar_law_matches_the_network(dic):
    """The scalar law against the construction at given scales run through the network."""
    d = dic.d
    label, word = np.full(4, 0.8), np.full(4, 0.6)
    W = np.zeros((2 * d, 2 * d))
    W[d:, :d] = dic.T.T @ (label[:, None] * dic.V)
    W[:d, :d] = dic.V.T @ (word[:, None] * dic.V)
    model = mc.distilled_transformer(dic, W)
    gen = torch.Generator().manual_seed(4)
    p = mc.sample_prompts(dic, 40_000, 8, sigma=0.3, sigma_y=0.05, generator=gen)
    with torch.no_grad():
        err = mc.zero_one_error(model(p.H, p.hq), p.z)
        att = mc.correct_attention(model, p)
    law = mc.predicted_scaled_construction(
        label, word, 2, 0.8, 0.3, 8, sigma_y=0.05, generator=np.random.default_rng(5)
    )
    se_err = np.sqrt(law["error"] * (1 - law["error"]) / 40_000)
    assert abs(err - law["error"]) < 4 * np.hypot(se_err, law["error_se"])
    se_att = law["attention_sd"] / np.sqrt(40_000)
    assert abs(att - law["attention"]) < 4 * np.hypot(se_att, law["attention_se"])


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"L": 0}, ValueError),
        ({"n_draws": 1}, ValueError),
        ({"sigma_y": -1.0}, ValueError),
        ({"generator": 3}, TypeError),
        ({"beta": 0.0}, ValueError),
        ({"task": 2}, ValueError),
        ({"word": np.zeros(3)}, ValueError),
    ],
)
def test_scalar_law_validates(kwargs, error):
    args = (
        dict(
            label=np.ones(2),
            word=np.zeros(2),
            task=0,
            beta=0.8,
            sigma=0.2,
            L=4,
            sigma_y=0.0,
            generator=np.random.default_rng(0),
        )
        | kwargs
    )
    with pytest.raises(error):
        mc.predicted_scaled_construction(**args)
