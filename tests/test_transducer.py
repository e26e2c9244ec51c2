"""Tests for llmtheory.transducer."""

import numpy as np
import pytest
import torch

from llmtheory.transducer import (
    best_window_predictor,
    extract_transducer,
    run_transducer,
    run_windowed_model,
    state_count,
    window_codes,
)
from llmtheory.transformer import Transformer
from llmtheory.validation import MemoryLimitError


def test_state_count():
    assert state_count(4, 4) == 341
    assert state_count(2, 3) == 15


def test_extracted_table_reproduces_the_model():
    torch.manual_seed(0)
    model = Transformer(8, 2, 1, 16, vocab_size=3, max_len=3).eval()
    fst = extract_transducer(model, 3, 3)
    assert fst.n_states == state_count(3, 3) and fst.output.shape == (40, 3)
    streams = np.random.default_rng(0).integers(0, 3, (50, 12))
    np.testing.assert_array_equal(
        run_transducer(fst, streams), run_windowed_model(model, streams, 3)
    )


class _Lookup(torch.nn.Module):
    """A known table as a language model: at position t, all mass on table[tokens[:t + 1]]."""

    def __init__(self, table: dict, v: int) -> None:
        super().__init__()
        self.table, self.v = table, v

    def forward(self, tokens):
        ids = [[self.table[tuple(r[: t + 1])] for t in range(len(r))] for r in tokens.tolist()]
        return torch.nn.functional.one_hot(torch.tensor(ids), self.v).float()


def test_extracted_table_of_a_known_machine():
    """Against a table known in advance: partial windows, the window's order, the last position."""
    import itertools

    v, c = 3, 3
    rng = np.random.default_rng(1)
    words = [w for m in range(1, c + 1) for w in itertools.product(range(v), repeat=m)]
    table = dict(zip(words, rng.integers(0, v, len(words)).tolist(), strict=True))
    streams = rng.integers(0, v, (40, 10))
    known = [
        [table[tuple(s[max(0, t - c + 1) : t + 1])] for t in range(10)] for s in streams.tolist()
    ]
    model = _Lookup(table, v)
    np.testing.assert_array_equal(run_transducer(extract_transducer(model, v, c), streams), known)
    np.testing.assert_array_equal(run_windowed_model(model, streams, c), known)


def test_window_codes_read_the_last_bits():
    x = np.array([[1, 0, 0, 1, 1], [0, 1, 1, 0, 0]])
    np.testing.assert_array_equal(window_codes(x, 2), [3, 0])
    np.testing.assert_array_equal(window_codes(x, 3), [3, 4])


def test_transitions_keep_the_last_window():
    model = Transformer(8, 2, 1, 16, vocab_size=2, max_len=2).eval()
    fst = extract_transducer(model, 2, 2)
    # states: "", 0, 1, 00, 01, 10, 11 ; reading 1 from "10" leads to "01"
    assert fst.next_state[0, 1] == 2
    assert fst.next_state[5, 1] == 4
    np.testing.assert_array_equal(fst.length, [0, 1, 1, 2, 2, 2, 2])


def test_window_devices_cannot_do_parity():
    rng = np.random.default_rng(0)
    x, xt = rng.integers(0, 2, (4000, 10)), rng.integers(0, 2, (4000, 10))
    y, yt = x.sum(1) % 2, xt.sum(1) % 2
    table = best_window_predictor(x, y, 4)
    assert abs((table[window_codes(xt, 4)] == yt).mean() - 0.5) < 0.03
    table = best_window_predictor(x, y, 10)
    assert (table[window_codes(xt, 10)] == yt).mean() > 0.95


def test_bad_arguments():
    model = Transformer(8, 2, 1, 16, vocab_size=2, max_len=2)
    with pytest.raises(TypeError, match="model"):
        extract_transducer("model", 2, 2)
    with pytest.raises(ValueError, match="window"):
        extract_transducer(model, 2, 0)
    with pytest.raises(TypeError, match="vocab_size"):
        state_count(2.0, 2)
    fst = extract_transducer(model, 2, 2)
    with pytest.raises(ValueError, match="symbols"):
        run_transducer(fst, np.array([[0, 3]]))
    with pytest.raises(ValueError, match="2-D"):
        run_transducer(fst, np.array([0, 1]))
    with pytest.raises(ValueError, match="2-D"):
        run_windowed_model(model, np.array([0, 1]), 2)
    with pytest.raises(ValueError, match="columns"):
        window_codes(np.zeros((2, 2), int), 3)
    with pytest.raises(ValueError, match="y_train"):
        best_window_predictor(np.zeros((2, 3), int), np.zeros(3), 2)


# --------------------------------------------------- reliability review (bad input)


def test_reliability_5_window_codes_refuse_int64_overflow():
    """70 columns used to overflow int64 and return -1."""
    x = np.ones((2, 70), dtype=int)
    with pytest.raises(ValueError, match="window must be at most 62"):
        window_codes(x, 70)
    assert window_codes(x, 62)[0] == 2**62 - 1


def test_reliability_9_huge_tables_are_refused_before_allocating(monkeypatch):
    """window=32 needs a 2**32 table, window=30 32 GiB of states: refused at once."""
    monkeypatch.delenv("LLMTHEORY_MEMORY_LIMIT_GB", raising=False)
    x = np.random.default_rng(0).integers(0, 2, (10, 40))
    with pytest.raises(MemoryLimitError, match="2\\*\\*window"):
        best_window_predictor(x, x[:, 0], 32)
    lm = Transformer(8, 2, 1, 8, vocab_size=2, max_len=30)
    with pytest.raises(MemoryLimitError, match="window=30"):
        extract_transducer(lm, 2, 30)
    monkeypatch.setenv("LLMTHEORY_MEMORY_LIMIT_GB", "64")
    with pytest.raises(MemoryLimitError):  # 2**62 codes exceed any limit
        best_window_predictor(x, x[:, 0], 62)


def test_reliability_9_state_count_is_a_closed_form():
    """state_count(2, 10**6) used to loop over a million big integers."""
    assert state_count(2, 10**6) == 2 ** (10**6 + 1) - 1
    assert state_count(1, 10**9) == 10**9 + 1
    assert [state_count(v, c) for v in (2, 3, 7) for c in (1, 4, 9)] == [
        sum(v**i for i in range(c + 1)) for v in (2, 3, 7) for c in (1, 4, 9)
    ]
    with pytest.raises(ValueError, match="window"):
        state_count(50257, 10**12)
