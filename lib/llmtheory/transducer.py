"""A fixed LLM with a finite window is a finite-state transducer (Wiedermann & van Leeuwen).

A language model ``f`` with vocabulary ``V``, context window ``c`` and greedy decoding
reads a stream ``a_1 a_2 ...``; after ``a_t`` its state is the window
``w_t = (a_{t-c+1}, ..., a_t)`` (shorter at the start) and its output is
``y_t = argmax f(w_t)_{last}`` (eq-fst-transition). The states are all words of length
``0..c``: ``|Q| = sum_{i<=c} |V|^i`` (eq-fst-states). :func:`extract_transducer`
enumerates them and tabulates the transition and output functions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .validation import check_int

__all__ = [
    "Transducer",
    "state_count",
    "extract_transducer",
    "run_transducer",
    "run_windowed_model",
    "window_codes",
    "best_window_predictor",
]


def state_count(vocab_size: int, window: int) -> int:
    """``|Q| = sum_{i=0}^{c} |V|^i``, the number of window contents (eq-fst-states)."""
    v, c = check_int(vocab_size, "vocab_size"), check_int(window, "window")
    return sum(v**i for i in range(c + 1))


@dataclass(frozen=True)
class Transducer:
    """Deterministic finite-state transducer ``(Q, V, delta, lambda, q_0 = 0)``.

    ``next_state[q, a]`` and ``output[q, a]`` are the transition and output tables;
    state ``q`` is the window content of length ``length[q]``.
    """

    next_state: np.ndarray
    output: np.ndarray
    length: np.ndarray

    @property
    def n_states(self) -> int:
        """``|Q|``."""
        return self.next_state.shape[0]


def _offsets(v: int, c: int) -> np.ndarray:
    """Index of the first state of each length ``0..c``."""
    return np.concatenate([[0], np.cumsum(v ** np.arange(c + 1))])


def _words(v: int, n: int) -> np.ndarray:
    """All ``v**n`` words of length ``n`` in base-``v`` order, shape ``(v**n, n)``."""
    codes = np.arange(v**n)
    return (codes[:, None] // v ** np.arange(n - 1, -1, -1)) % v


@torch.no_grad()
def _last_argmax(model: nn.Module, windows: np.ndarray) -> np.ndarray:
    device = next(model.parameters()).device
    logits = model(torch.as_tensor(windows, dtype=torch.long, device=device))
    return logits[:, -1].argmax(-1).cpu().numpy()


def extract_transducer(model: nn.Module, vocab_size: int, window: int) -> Transducer:
    """Tabulate the transducer of ``model`` by enumerating every state and input symbol.

    ``model`` maps ids ``(batch, n)``, ``n <= window``, to logits ``(batch, n, V)``.
    ``|Q| |V|`` transitions are listed; the outputs need one forward pass per distinct
    new window, batched by window length.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    v, c = check_int(vocab_size, "vocab_size"), check_int(window, "window")
    off = _offsets(v, c)
    n_states = int(off[-1])
    next_state = np.empty((n_states, v), dtype=np.int64)
    output = np.empty((n_states, v), dtype=np.int64)
    length = np.repeat(np.arange(c + 1), v ** np.arange(c + 1))
    outs = {n: _last_argmax(model, _words(v, n)) for n in range(1, c + 1)}
    for n in range(c + 1):
        codes = np.arange(v**n)
        # appending a: code * v + a; a full window drops its oldest symbol
        new = codes[:, None] * v + np.arange(v)
        new_len = min(n + 1, c)
        new = new % v**new_len
        next_state[off[n] : off[n + 1]] = off[new_len] + new
        output[off[n] : off[n + 1]] = outs[new_len][new]
    return Transducer(next_state, output, length)


def run_transducer(fst: Transducer, streams: np.ndarray) -> np.ndarray:
    """Outputs of the table on each row of ``streams`` from the empty window (eq-fst-transition)."""
    streams = np.asarray(streams)
    if streams.ndim != 2:
        raise ValueError("streams must be a 2-D array (one stream per row)")
    if streams.min() < 0 or streams.max() >= fst.next_state.shape[1]:
        raise ValueError("streams must hold symbols 0..|V|-1")
    q = np.zeros(streams.shape[0], dtype=np.int64)
    out = np.empty_like(streams)
    for t in range(streams.shape[1]):
        out[:, t] = fst.output[q, streams[:, t]]
        q = fst.next_state[q, streams[:, t]]
    return out


def run_windowed_model(model: nn.Module, streams: np.ndarray, window: int) -> np.ndarray:
    """Greedy outputs of ``model`` reading each stream through a window of ``window`` tokens."""
    streams = np.asarray(streams)
    if streams.ndim != 2:
        raise ValueError("streams must be a 2-D array (one stream per row)")
    c = check_int(window, "window")
    return np.stack(
        [
            _last_argmax(model, streams[:, max(0, t + 1 - c) : t + 1])
            for t in range(streams.shape[1])
        ],
        axis=1,
    )


def window_codes(x: np.ndarray, window: int) -> np.ndarray:
    """Base-2 code of the last ``window`` bits of each row of ``x``: what a window sees."""
    x = np.asarray(x)
    c = check_int(window, "window")
    if x.ndim != 2 or x.shape[1] < c:
        raise ValueError(f"x must be a 2-D array of bits with at least {c} columns")
    return x[:, -c:] @ 2 ** np.arange(c - 1, -1, -1)


def best_window_predictor(x_train: np.ndarray, y_train: np.ndarray, window: int) -> np.ndarray:
    """The best binary-label predictor that sees only the last ``window`` bits.

    ``table[code]`` is the majority label of the training rows whose last ``window`` bits
    have code ``code`` (:func:`window_codes`); every window-``c`` device is such a table,
    so this one is the best of them on the training sample (eq-fst-parity).
    """
    x_train, y_train = np.asarray(x_train), np.asarray(y_train)
    codes = window_codes(x_train, window)
    if y_train.shape != (x_train.shape[0],):
        raise ValueError("y_train must hold one label per row of x_train")
    ones = np.bincount(codes, weights=y_train, minlength=2**window)
    total = np.bincount(codes, minlength=2**window)
    return (2 * ones > total).astype(np.int64)
