"""A fixed LLM with a finite window is a finite-state transducer (Wiedermann & van Leeuwen).

A language model ``f`` with vocabulary ``V``, context window ``c`` and greedy decoding
reads a stream ``a_1 a_2 ...``; after ``a_t`` its state is the window
``w_t = (a_{t-c+1}, ..., a_t)`` (shorter at the start) and its output is
``y_t = argmax f(w_t)_{last}`` (eq-fst-transition). The states are all words of length
``0..c``: ``|Q| = sum_{i<=c} |V|^i`` (eq-fst-states). :func:`extract_transducer`
enumerates them and tabulates the transition and output functions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .validation import check_array, check_instance, check_int, check_memory

_MAX_CODE_BITS = 62  # window codes are int64
_MAX_STATE_BITS = 2**20  # state_count refuses answers longer than a million bits

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
    if v > 1 and (c + 1) * math.log2(v) > _MAX_STATE_BITS:
        raise ValueError(
            f"|Q| for vocab_size={v} and window={c} has more than {_MAX_STATE_BITS:,} bits: "
            "use a smaller window"
        )
    # the geometric sum in closed form (a loop over i would take minutes for a huge window)
    return c + 1 if v == 1 else (v ** (c + 1) - 1) // (v - 1)


@dataclass(frozen=True)
class Transducer:
    """Deterministic finite-state transducer ``(Q, V, delta, lambda, q_0 = 0)``.

    ``next_state[q, a]`` and ``output[q, a]`` are the transition and output tables;
    state ``q`` is the window content of length ``length[q]``.
    """

    next_state: np.ndarray
    output: np.ndarray
    length: np.ndarray

    def __post_init__(self) -> None:
        next_state = check_array(self.next_state, "next_state", ndim=2, dtype="int")
        n, v = next_state.shape
        check_array(self.output, "output", shape=(n, v), dtype="int")
        check_array(self.length, "length", shape=(n,), dtype="int")
        if next_state.min() < 0 or next_state.max() >= n:
            raise ValueError(f"next_state must hold states in [0, {n})")

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
def _last_argmax(model: nn.Module, windows: np.ndarray, what: str) -> np.ndarray:
    device = next(model.parameters(), torch.empty(0)).device
    try:
        logits = model(torch.as_tensor(windows, dtype=torch.long, device=device))
        return logits[:, -1].argmax(-1).cpu().numpy()
    except (ValueError, RuntimeError, IndexError, TypeError) as exc:
        raise ValueError(
            f"model could not read windows of {windows.shape[1]} ids ({what}): {exc}"
        ) from exc


def extract_transducer(model: nn.Module, vocab_size: int, window: int) -> Transducer:
    """Tabulate the transducer of ``model`` by enumerating every state and input symbol.

    ``model`` maps ids ``(batch, n)``, ``n <= window``, to logits ``(batch, n, V)``.
    ``|Q| |V|`` transitions are listed; the outputs need one forward pass per distinct
    new window, batched by window length.
    """
    check_instance(model, "model", nn.Module, "a torch.nn.Module")
    v, c = check_int(vocab_size, "vocab_size"), check_int(window, "window")
    n_words = float(v) ** c if c * math.log2(max(v, 2)) < 1000 else math.inf
    n_states = (c + 1) * n_words
    check_memory(
        8 * (3 * n_states * v + 2 * n_words * c) + 4 * 3 * n_words * c * (v + 64),
        f"the {n_states:.3g} states of vocab_size={v} and window={c}",
    )
    off = _offsets(v, c)
    n_states = int(off[-1])
    next_state = np.empty((n_states, v), dtype=np.int64)
    output = np.empty((n_states, v), dtype=np.int64)
    length = np.repeat(np.arange(c + 1), v ** np.arange(c + 1))
    what = f"vocab_size={v}, window={c}"
    outs = {n: _last_argmax(model, _words(v, n), what) for n in range(1, c + 1)}
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
    check_instance(fst, "fst", Transducer, "a Transducer")
    streams = check_array(streams, "streams", ndim=2, dtype="integral", allow_empty=True)
    if streams.size and (streams.min() < 0 or streams.max() >= fst.next_state.shape[1]):
        raise ValueError(f"streams must hold symbols 0..|V|-1 = {fst.next_state.shape[1] - 1}")
    q = np.zeros(streams.shape[0], dtype=np.int64)
    out = np.empty_like(streams)
    for t in range(streams.shape[1]):
        out[:, t] = fst.output[q, streams[:, t]]
        q = fst.next_state[q, streams[:, t]]
    return out


def run_windowed_model(model: nn.Module, streams: np.ndarray, window: int) -> np.ndarray:
    """Greedy outputs of ``model`` reading each stream through a window of ``window`` tokens."""
    check_instance(model, "model", nn.Module, "a torch.nn.Module")
    streams = check_array(streams, "streams", ndim=2, dtype="integral")
    if streams.min() < 0:
        raise ValueError(f"streams must hold symbol ids >= 0, got {streams.min()}")
    c = check_int(window, "window")
    return np.stack(
        [
            _last_argmax(model, streams[:, max(0, t + 1 - c) : t + 1], f"window={c}")
            for t in range(streams.shape[1])
        ],
        axis=1,
    )


def _bits(x: object, name: str, ndim: int) -> np.ndarray:
    """An array of bits 0/1 (booleans and whole floats accepted), as integers."""
    x = check_array(x, name, ndim=ndim, dtype="numeric", allow_empty=True)
    if x.size and not np.isin(x, (0, 1)).all():
        raise ValueError(f"{name} must hold bits 0 and 1")
    return x if x.dtype.kind in "iu" else x.astype(np.int64)


def window_codes(x: np.ndarray, window: int) -> np.ndarray:
    """Base-2 code of the last ``window`` bits of each row of ``x``: what a window sees."""
    c = check_int(window, "window", maximum=_MAX_CODE_BITS)
    x = _bits(x, "x", ndim=2)
    if x.shape[1] < c:
        raise ValueError(f"x must be a 2-D array of bits with at least {c} columns")
    return x[:, -c:] @ 2 ** np.arange(c - 1, -1, -1)


def best_window_predictor(x_train: np.ndarray, y_train: np.ndarray, window: int) -> np.ndarray:
    """The best binary-label predictor that sees only the last ``window`` bits.

    ``table[code]`` is the majority label of the training rows whose last ``window`` bits
    have code ``code`` (:func:`window_codes`); every window-``c`` device is such a table,
    so this one is the best of them on the training sample (eq-fst-parity).
    """
    window = check_int(window, "window", maximum=_MAX_CODE_BITS)
    check_memory(3 * 8 * 2**window, f"a table of 2**window = {2**window} codes")
    x_train = _bits(x_train, "x_train", ndim=2)
    codes = window_codes(x_train, window)
    y_train = _bits(y_train, "y_train", ndim=1)
    if y_train.shape != (x_train.shape[0],):
        raise ValueError(f"y_train must hold one label per row of x_train, got {y_train.shape}")
    ones = np.bincount(codes, weights=y_train, minlength=2**window)
    total = np.bincount(codes, minlength=2**window)
    return (2 * ones > total).astype(np.int64)
