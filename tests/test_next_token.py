"""Tests for llmtheory.next_token."""

import numpy as np
import pytest
import torch

from llmtheory.chain_of_thought import parity_dataset
from llmtheory.next_token import (
    MaskedLinearLM,
    effective_parameters,
    exact_match,
    greedy_rollout,
    model_perplexity,
    ngram_perplexity,
    sample_rollout,
    teacher_forced_accuracy,
    token_loss,
    train_next_token,
)
from llmtheory.validation import MemoryLimitError


def test_effective_parameters_match_the_official_configurations():
    # TinyStories linear model (GPT-Neo vocabulary + pad) and the 4x4 multiplication MLP
    assert effective_parameters(64, 256, 50258) == 162_113_618
    assert effective_parameters(307, 128, 117, mlp=True) == 774_688_629


@pytest.mark.parametrize("mlp", [False, True])
def test_free_parameters_equal_formula(mlp):
    model = MaskedLinearLM(7, 5, 3, mlp=mlp)
    free = int(model.mask.sum()) + sum(
        p.numel() for n, p in model.named_parameters() if n != "linear.weight"
    )
    assert free == effective_parameters(5, 3, 7, mlp=mlp)


def test_block_causal_mask_includes_diagonal_and_hides_future():
    torch.manual_seed(0)
    model = MaskedLinearLM(5, 6, 4, mlp=True)
    x = torch.randint(5, (3, 6))
    y = x.clone()
    y[:, 4:] = (y[:, 4:] + 1) % 5
    a, b = model(x), model(y)
    torch.testing.assert_close(a[:, :4], b[:, :4])
    assert not torch.allclose(a[:, 4], b[:, 4])  # the current token is seen


def test_learns_binary_count_parity_cot():
    rng = np.random.default_rng(0)
    support = np.array([0, 1, 3, 4, 6])
    tr, p = parity_dataset(300, 8, support, "binary", rng)
    te, _ = parity_dataset(300, 8, support, "binary", rng)
    tr, te = torch.tensor(tr), torch.tensor(te)
    model = MaskedLinearLM(2, tr.shape[1] - 1, 4)
    gen = torch.Generator().manual_seed(0)
    hist = train_next_token(
        model, tr, p, steps=80, batch_size=250, lr=3e-2, weight_decay=0.0, generator=gen
    )
    assert hist.loss[-1] < hist.loss[0]
    per_pos, all_right = teacher_forced_accuracy(model, te, p)
    assert per_pos.shape == (tr.shape[1] - p,)
    roll = greedy_rollout(model, te[:, :p], tr.shape[1] - p)
    # no error compounding: a row right at every teacher-forced step is right in rollout
    assert exact_match(roll, te) >= all_right - 1e-6
    assert all_right > 0.95


def test_perplexities():
    ids = np.array([0, 1, 0, 1, 0, 1, 0, 1])
    rows = ids.reshape(2, 4)
    assert ngram_perplexity(ids, rows, 2, 2, alpha=1e-6) == pytest.approx(1.0, abs=1e-4)
    assert ngram_perplexity(ids, rows, 2, 1) == pytest.approx(2.0, rel=1e-6)
    model = MaskedLinearLM(2, 3, 2)
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
    assert model_perplexity(model, torch.tensor(rows)) == pytest.approx(2.0, rel=1e-6)


def test_perplexities_leave_out_the_padding():
    """Positions whose target is ignore_id are scored by neither perplexity."""
    train = np.array([1, 2, 1, 2, 1, 2, 0, 0])
    rows = np.array([[1, 2, 1, 0, 0, 0], [2, 1, 2, 0, 0, 0]])
    words = np.array([[1, 2, 1], [2, 1, 2]])  # the same rows without their padding
    for order in (1, 2):
        padded = ngram_perplexity(train, rows, 3, order, ignore_id=0)
        assert padded == pytest.approx(ngram_perplexity(train, words, 3, order), rel=1e-12)
        assert padded != pytest.approx(ngram_perplexity(train, rows, 3, order), rel=1e-3)
    model = MaskedLinearLM(3, 5, 2)
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        model.unembed.bias.copy_(torch.tensor([0.0, 1.0, 2.0]))
    # a unigram model: p(u) = softmax(0, 1, 2) at every position
    logp = np.log(np.exp([0.0, 1.0, 2.0]) / np.exp([0.0, 1.0, 2.0]).sum())
    scored = np.concatenate([r[1:][r[1:] != 0] for r in rows])
    expected = np.exp(-logp[scored].mean())
    assert model_perplexity(model, torch.tensor(rows), ignore_id=0) == pytest.approx(expected, 1e-5)
    assert model_perplexity(model, torch.tensor(rows)) != pytest.approx(expected, 1e-3)


def test_bigram_table_is_conditional_on_the_previous_token():
    """p(next | previous), normalised over the next token: an asymmetric stream tells."""
    train = np.array([0, 1, 1, 2, 2, 2, 0, 1])  # row and column sums differ
    rows = np.array([[0, 1, 1, 2]])
    alpha = 0.1
    counts = np.full((3, 3), alpha)
    np.add.at(counts, (train[:-1], train[1:]), 1)
    p = counts / counts.sum(1, keepdims=True)
    expected = np.exp(-np.mean(np.log([p[0, 1], p[1, 1], p[1, 2]])))
    assert ngram_perplexity(train, rows, 3, 2, alpha=alpha) == pytest.approx(expected, rel=1e-12)


def test_sampling_is_reproducible():
    model = MaskedLinearLM(4, 6, 3)
    prompt = torch.zeros(2, 1, dtype=torch.long)
    a = sample_rollout(
        model, prompt, 5, temperature=0.5, generator=torch.Generator().manual_seed(1)
    )
    b = sample_rollout(
        model, prompt, 5, temperature=0.5, generator=torch.Generator().manual_seed(1)
    )
    assert a.shape == (2, 6) and torch.equal(a, b)


def test_bad_arguments():
    model = MaskedLinearLM(3, 4, 2)
    with pytest.raises(TypeError, match="vocab_size"):
        MaskedLinearLM(3.0, 4, 2)
    with pytest.raises(ValueError, match="seq_len"):
        MaskedLinearLM(3, 0, 2)
    with pytest.raises(ValueError, match="exceeds seq_len"):
        model(torch.zeros(1, 5, dtype=torch.long))
    with pytest.raises(TypeError, match="tokens"):
        model(torch.zeros(1, 3))
    with pytest.raises(ValueError, match="start"):
        train_next_token(
            model, torch.zeros(2, 4, dtype=torch.long), 4, steps=1, batch_size=1, lr=0.1
        )
    with pytest.raises(ValueError, match="temperature"):
        sample_rollout(
            model,
            torch.zeros(1, 1, dtype=torch.long),
            2,
            temperature=0.0,
            generator=torch.Generator(),
        )
    with pytest.raises(ValueError, match="length"):
        greedy_rollout(model, torch.zeros(1, 1, dtype=torch.long), 0)
    with pytest.raises(ValueError, match="shape"):
        exact_match(torch.zeros(2, 3), torch.zeros(2, 2))
    with pytest.raises(ValueError, match="order"):
        ngram_perplexity(np.zeros(3, int), np.zeros((1, 3), int), 2, 3)
    with pytest.raises(ValueError, match="alpha"):
        ngram_perplexity(np.zeros(3, int), np.zeros((1, 3), int), 2, 1, alpha=0)
    with pytest.raises(ValueError, match="d"):
        effective_parameters(3, -1, 2)


# --------------------------------------------------- reliability review (bad input)


@pytest.mark.parametrize("start", [0, 6, 7, -1])
def test_reliability_3_start_must_leave_positions_to_score(start):
    """start = n gave an empty vector and accuracy 1.0; start = 0 a wrong vector; the losses NaN."""
    model = MaskedLinearLM(5, 5, 3)
    tokens = torch.randint(0, 5, (4, 6), generator=torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match="start must be"):
        teacher_forced_accuracy(model, tokens, start)
    with pytest.raises(ValueError, match="start must be"):
        token_loss(model, tokens, start)
    per_step, all_right = teacher_forced_accuracy(model, tokens, 5)
    assert per_step.shape == (1,) and 0 <= float(all_right) <= 1
    assert np.isfinite(model_perplexity(model, tokens))


def test_reliability_6_training_refuses_nonsense():
    model = MaskedLinearLM(3, 4, 2)
    tokens = torch.randint(0, 3, (8, 5), generator=torch.Generator().manual_seed(0))
    common = {"steps": 2, "batch_size": 2}
    with pytest.raises(ValueError, match="lr must be a finite number"):
        train_next_token(model, tokens, 1, lr=float("inf"), **common)
    with pytest.raises(TypeError, match="eval_every must be an int"):
        train_next_token(model, tokens, 1, lr=0.1, eval_every=2.5, **common)
    with pytest.raises(TypeError, match="eval_every must be an int"):
        train_next_token(model, tokens, 1, lr=0.1, eval_every=float("nan"), **common)
    for p in model.parameters():
        p.requires_grad_(False)
    with pytest.raises(ValueError, match="requires_grad"):
        train_next_token(model, tokens, 1, lr=0.1, **common)


def test_reliability_6_ngram_perplexity_refuses_ids_outside_the_vocabulary():
    """Negative ids used to wrap around to the end of the table."""
    rows = np.array([[0, 1, 2]])
    with pytest.raises(ValueError, match="train_ids must hold ids in"):
        ngram_perplexity(np.array([0, 1, -1]), rows, 3, 2)
    with pytest.raises(ValueError, match="eval_rows must hold ids in"):
        ngram_perplexity(np.array([0, 1, 2]), np.array([[0, 3, 1]]), 3, 1)


def test_reliability_9_a_bigram_table_over_a_gpt2_vocabulary_is_refused(monkeypatch):
    """A dense 50,257 x 50,257 table needs 18.8 GiB: refused before allocating."""
    monkeypatch.delenv("LLMTHEORY_MEMORY_LIMIT_GB", raising=False)
    ids = np.array([0, 1, 2, 3])
    with pytest.raises(MemoryLimitError, match=r"bigram table for vocab_size=50257.*GiB"):
        ngram_perplexity(ids, ids[None], 50257, 2)
    assert np.isfinite(ngram_perplexity(ids, ids[None], 50257, 1))
