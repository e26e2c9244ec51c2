"""Tests for the minimisation, the hand-built Mealy transformer and the space bound of
llmtheory.transducer (chapter 8: eq-fst-minimal, eq-fst-mealy-cot, eq-fst-carried)."""

import itertools

import numpy as np
import pytest
import torch

from llmtheory.transducer import (
    Transducer,
    best_mealy_accuracy,
    best_window_cot_accuracy,
    extract_transducer,
    mealy_transformer,
    minimise_transducer,
    run_transducer,
    run_with_cot,
)
from llmtheory.transformer import Transformer


def _counter(period: int, shown: int) -> Transducer:
    table = (np.arange(period)[:, None] + np.arange(2)[None, :]) % period
    return Transducer(table, table % shown)


@pytest.mark.parametrize(("period", "shown"), [(6, 3), (4, 2), (5, 5), (8, 4)])
def test_redundant_counter_has_as_many_behaviours_as_residues(period, shown):
    quotient, blocks = minimise_transducer(_counter(period, shown))
    assert quotient.n_states == shown and quotient.length is None
    np.testing.assert_array_equal(blocks, np.arange(period) % shown)
    bits = np.random.default_rng(0).integers(0, 2, (50, 30))
    np.testing.assert_array_equal(run_transducer(quotient, bits), np.cumsum(bits, 1) % shown)


def test_unreachable_states_are_dropped():
    # state 2 is never reached from state 0 and behaves differently from both others
    fst = Transducer(np.array([[1, 0], [0, 1], [2, 2]]), np.array([[0, 1], [1, 0], [5, 5]]))
    quotient, blocks = minimise_transducer(fst)
    assert quotient.n_states == 2 and blocks[2] == -1 and blocks[0] == 0


def test_minimal_count_equals_distinct_responses_on_words_of_length_c():
    torch.manual_seed(3)
    v, c = 3, 3
    fst = extract_transducer(Transformer(8, 2, 1, 16, vocab_size=v, max_len=c).eval(), v, c)
    words = np.array(list(itertools.product(range(v), repeat=c)))
    q = np.repeat(np.arange(fst.n_states), len(words))
    u = np.tile(words, (fst.n_states, 1))
    resp = np.empty_like(u)
    for t in range(c):
        resp[:, t] = fst.output[q, u[:, t]]
        q = fst.next_state[q, u[:, t]]
    distinct = len(np.unique(resp.reshape(fst.n_states, -1), axis=0))
    quotient, _ = minimise_transducer(fst)
    assert quotient.n_states == distinct <= fst.n_states
    streams = np.random.default_rng(1).integers(0, v, (40, 25))
    np.testing.assert_array_equal(run_transducer(quotient, streams), run_transducer(fst, streams))


def test_states_with_different_outputs_are_never_merged():
    fst = Transducer(np.array([[1], [1]]), np.array([[0], [1]]))
    assert minimise_transducer(fst)[0].n_states == 2


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_hand_built_transformer_runs_a_random_mealy_machine(seed):
    rng = np.random.default_rng(seed)
    k, s, g = 3, 2, 2
    delta, lam = rng.integers(0, k, (k, s)), rng.integers(0, g, (k, s))
    model = mealy_transformer(delta, lam)
    assert model.vocab_size == s + k * g
    words = np.array(list(itertools.product(range(s), repeat=7)))
    z = run_with_cot(model, words, np.array([s]), 2)  # s_0 = (q_0 = 0, y = 0)
    assert (z >= s).all()
    np.testing.assert_array_equal((z - s) % g, run_transducer(Transducer(delta, lam), words))


def test_hand_built_transformer_idle_windows_emit_token_zero():
    delta = np.array([[0, 1], [1, 0]])
    model = mealy_transformer(delta, delta)
    with torch.no_grad():
        # windows that end in an input but do not start with a chain-of-thought token
        out = model(torch.tensor([[0, 1], [1, 1], [2, 3]]))[:, -1].argmax(-1)
    np.testing.assert_array_equal(out.numpy(), [0, 0, 0])


def test_hand_built_transformer_refuses_bad_tables():
    with pytest.raises(ValueError, match="next_state"):
        mealy_transformer(np.array([[0, 2], [1, 0]]), np.array([[0, 1], [1, 0]]))
    with pytest.raises(ValueError, match="output"):
        mealy_transformer(np.array([[0, 1], [1, 0]]), np.array([[0, 1]]))
    with pytest.raises(ValueError, match="output"):
        mealy_transformer(np.array([[0, 1], [1, 0]]), np.array([[0, -1], [1, 0]]))


def test_run_with_cot_refuses_negative_ids():
    model = mealy_transformer(np.array([[0, 1], [1, 0]]), np.array([[0, 1], [1, 0]]))
    with pytest.raises(ValueError, match="inputs"):
        run_with_cot(model, np.array([[0, -1]]), np.array([2]), 2)


def _count_task(n: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    words = np.array(list(itertools.product(range(2), repeat=n)))
    return words, words.sum(1) % m


def test_best_one_state_machine_is_the_best_function_of_the_last_input():
    words, labels = _count_task(8, 4)
    expected = 0.0
    for x in (0, 1):
        rows = words[:, -1] == x
        expected += np.bincount(labels[rows], minlength=4).max() / len(words)
    assert best_mealy_accuracy(words, labels, 1) == pytest.approx(expected, abs=1e-12)


def test_enough_states_make_the_count_exact():
    words, labels = _count_task(6, 2)
    assert best_mealy_accuracy(words, labels, 2) == 1.0
    assert best_mealy_accuracy(words, labels, 1) < 1.0


def test_best_mealy_accuracy_refuses_too_many_machines():
    words, labels = _count_task(4, 4)
    with pytest.raises(ValueError, match="n_states"):
        best_mealy_accuracy(words, labels, 6)


def test_window_cot_devices_match_the_mealy_bounds():
    words, labels = _count_task(6, 2)
    # window 1 carries nothing: the best one-state machine; window 2, one thought: two states
    assert best_window_cot_accuracy(words, labels, 1, 1) == best_mealy_accuracy(words, labels, 1)
    assert best_window_cot_accuracy(words, labels, 2, 1) == best_mealy_accuracy(words, labels, 2)
    # the parity of the inputs: a window of two with one thought is exact
    assert best_window_cot_accuracy(words, words.sum(1) % 2, 2, 1) == 1.0


def test_best_window_cot_accuracy_validates():
    words, labels = _count_task(4, 2)
    with pytest.raises(ValueError, match="window"):
        best_window_cot_accuracy(words, labels, 5, 1)
    with pytest.raises(ValueError, match="vocab_size"):
        best_window_cot_accuracy(words + 2, labels, 2, 1)
