"""Tests of the in-context task identification of llmtheory.multi_concept (sec-mc-ood)."""

import numpy as np
import pytest
import torch

from llmtheory import multi_concept as mc


@pytest.fixture
def dic():
    return mc.concept_dictionary(32, 4, alpha=1.0, beta=0.8, rng=np.random.default_rng(0))


@pytest.fixture
def gen():
    return torch.Generator().manual_seed(0)


PERM = np.array([1, 2, 3, 0])


@pytest.mark.parametrize(
    ("label_concept", "flip"), [(None, False), (PERM, False), (PERM, True), (None, True)]
)
def test_identify_pairing_recovers_task_label_concept_and_polarity(dic, gen, label_concept, flip):
    p = mc.sample_prompts(
        dic, 2000, 8, sigma=0.2, label_concept=label_concept, flip_labels=flip, generator=gen
    )
    task, lab, pol = mc.identify_pairing(dic, p)
    perm = np.arange(4) if label_concept is None else label_concept
    assert torch.equal(task, p.task)
    assert torch.equal(lab, torch.as_tensor(perm)[p.task])
    assert torch.all(pol == (-1.0 if flip else 1.0))


def test_identify_pairing_fails_without_demonstration_signal(dic, gen):
    # noiseless words with a single demonstration: the task concept and the irrelevant one
    # give the same |M_jc| = beta^2 beta^2, and argmax takes the lower index, which is the
    # task's half the time: one demonstration cannot identify the task
    p = mc.sample_prompts(dic, 2000, 1, sigma=0.0, sigma_y=0.0, generator=gen)
    task, _, _ = mc.identify_pairing(dic, p)
    miss = float((task != p.task).float().mean())
    assert 0.4 < miss < 0.6


@pytest.mark.parametrize(("label_concept", "flip"), [(PERM, False), (None, True)])
def test_in_context_bayes_predictor_attains_phi(dic, gen, label_concept, flip):
    # at sigma = 0.3 and 16 demonstrations the identification is (almost) never wrong, so the
    # error is the oracle's Phi(-beta / sigma); at sigma = 0.5 and L = 8 it costs about 1 %
    n, sigma = 40000, 0.3
    p = mc.sample_prompts(
        dic, n, 16, sigma=sigma, label_concept=label_concept, flip_labels=flip, generator=gen
    )
    err = float((mc.in_context_bayes_predict(dic, p) != p.z).float().mean())
    e_b = mc.bayes_error(0.8, sigma)
    assert abs(err - e_b) < 4 * np.sqrt(e_b * (1 - e_b) / n)
    # the predictor of eq-mc-bayes, which pairs task k with its own label concept, fails here
    if label_concept is not None:
        wrong = float((mc.bayes_predict(dic, p) != p.z).float().mean())
        assert wrong > 0.3


def test_identify_pairing_validates(dic, gen):
    with pytest.raises(TypeError):
        mc.identify_pairing(dic, "prompts")
    other = mc.concept_dictionary(16, 4, rng=np.random.default_rng(1))
    p = mc.sample_prompts(dic, 4, 3, sigma=0.1, generator=gen)
    with pytest.raises(ValueError, match="dimension"):
        mc.in_context_bayes_predict(other, p)


def test_identification_costs_where_demonstrations_are_few_and_noisy(dic, gen):
    # the oracle that knows the task errs Phi(-beta / sigma); identifying the task from 8
    # noisy demonstrations (sigma = 0.5) fails on about 2 % of the prompts, and those are
    # answered at chance, so the error is measurably above the oracle's
    n, sigma = 40000, 0.5
    p = mc.sample_prompts(dic, n, 8, sigma=sigma, generator=gen)
    task, _, _ = mc.identify_pairing(dic, p)
    miss = float((task != p.task).float().mean())
    err = float((mc.in_context_bayes_predict(dic, p) != p.z).float().mean())
    e_b = mc.bayes_error(0.8, sigma)
    assert 0.005 < miss < 0.05
    assert err - e_b > 4 * np.sqrt(e_b * (1 - e_b) / n)
