"""A fixed LLM with a finite window is a finite-state transducer (Wiedermann & van Leeuwen).

A language model ``f`` with vocabulary ``V``, context window ``c`` and greedy decoding
reads a stream ``a_1 a_2 ...``; after ``a_t`` its state is the window
``w_t = (a_{t-c+1}, ..., a_t)`` (shorter at the start) and its output is
``y_t = argmax f(w_t)_{last}`` (eq-fst-transition). The states are all words of length
``0..c``: ``|Q| = sum_{i<=c} |V|^i`` (eq-fst-states). :func:`extract_transducer`
enumerates them and tabulates the transition and output functions.

:func:`minimise_transducer` merges states of equal behaviour (Moore's partition refinement,
eq-fst-minimal); :func:`mealy_transformer` writes down, without training, the weights of a
one-layer transformer that runs a given Mealy machine through a chain of thought in a
window of two tokens (eq-fst-mealy-cot), and :func:`run_with_cot` runs such a model in closed
loop. :func:`best_mealy_accuracy` is the exact best accuracy of any machine with a given
number of states on a labelled set of words (eq-fst-carried), and
:func:`best_window_cot_accuracy` that of any window device with a chain of thought.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .transformer import Transformer
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
    "minimise_transducer",
    "mealy_transformer",
    "run_with_cot",
    "best_mealy_accuracy",
    "best_window_cot_accuracy",
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

    ``next_state[q, a]`` and ``output[q, a]`` are the transition and output tables
    (eq-fst-mealy). For an extracted model, state ``q`` is the window content of length
    ``length[q]``; a Mealy machine that is no window (a quotient of
    :func:`minimise_transducer`, a machine written by hand) has ``length=None``.
    """

    next_state: np.ndarray
    output: np.ndarray
    length: np.ndarray | None = None

    def __post_init__(self) -> None:
        next_state = check_array(self.next_state, "next_state", ndim=2, dtype="int")
        n, v = next_state.shape
        check_array(self.output, "output", shape=(n, v), dtype="int")
        if self.length is not None:
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

    The construction of thm-fst-main: the states are the windows of length ``0..window``,
    ``|Q| = sum_i |V|^i`` of them (eq-fst-states); ``delta(w, a) = last_c(w a)`` and
    ``lambda(w, a)`` is the model's greedy token on that window (eq-fst-transition). A window
    of length ``n`` is state ``off[n] + code``, ``code`` its word in base ``|V|``.
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


# ------------------------------------------------------------------ minimisation (eq-fst-minimal)


def _labels(rows: np.ndarray) -> np.ndarray:
    """Block number of each row: equal rows share a block, numbered by first appearance."""
    _, first, inverse = np.unique(rows, axis=0, return_index=True, return_inverse=True)
    rank = np.empty_like(first)
    rank[np.argsort(first)] = np.arange(first.size)
    return rank[inverse.ravel()]


def _reachable(next_state: np.ndarray) -> np.ndarray:
    """Boolean mask of the states reachable from state 0 (breadth-first, one layer at a time)."""
    seen = np.zeros(next_state.shape[0], dtype=bool)
    seen[0] = True
    frontier = np.array([0])
    while frontier.size:
        successors = np.unique(next_state[frontier])
        frontier = successors[~seen[successors]]
        seen[frontier] = True
    return seen


def minimise_transducer(fst: Transducer) -> tuple[Transducer, np.ndarray]:
    r"""Moore's minimisation: the quotient of ``fst`` by equality of behaviour (eq-fst-minimal).

    Two states are equivalent when they emit the same outputs on every input word. Starting
    from the partition by output row $\lambda(q,\cdot)$, a block is split while two of its
    states move, on some symbol, into different blocks; the partition is stable after at
    most $|Q|$ rounds and is then the equivalence. Unreachable states are dropped.

    Returns the quotient machine (state 0 is the block of the start state, ``length=None``)
    and the block of every state of ``fst`` (``-1`` for unreachable states).
    """
    check_instance(fst, "fst", Transducer, "a Transducer")
    keep = _reachable(fst.next_state)
    index = np.full(fst.n_states, -1, dtype=np.int64)
    index[keep] = np.arange(int(keep.sum()))
    delta, out = index[fst.next_state[keep]], fst.output[keep]
    block = _labels(out)
    while True:
        refined = _labels(np.concatenate([block[:, None], block[delta]], axis=1))
        if refined.max() == block.max():  # a refinement with as many blocks is the same one
            break
        block = refined
    _, rep = np.unique(block, return_index=True)  # one representative per block, in block order
    blocks = np.full(fst.n_states, -1, dtype=np.int64)
    blocks[keep] = block
    return Transducer(block[delta[rep]], out[rep]), blocks


# ------------------------------------------------------- a Mealy machine by hand (eq-fst-mealy-cot)

_ATTENTION_GAIN = 40.0  # score of the previous position: its softmax weight is 1 - e^-40
_THRESHOLD = 1.5  # an MLP unit fires (value 1/2) only when both of its one-hot inputs are on


def _mealy_tables(next_state: object, output: object) -> tuple[np.ndarray, np.ndarray, int]:
    """Validated tables of a Mealy machine and the size of its output alphabet."""
    delta = check_array(next_state, "next_state", ndim=2, dtype="integral")
    k, s = delta.shape
    lam = check_array(output, "output", shape=(k, s), dtype="integral")
    if delta.min() < 0 or delta.max() >= k:
        raise ValueError(
            f"next_state must hold states in [0, {k}), got {delta.min()}..{delta.max()}"
        )
    if lam.min() < 0:
        raise ValueError(f"output must hold symbols >= 0, got {lam.min()}")
    return delta.astype(np.int64), lam.astype(np.int64), int(lam.max()) + 1


@torch.no_grad()
def mealy_transformer(next_state: np.ndarray, output: np.ndarray) -> nn.Module:
    r"""A one-layer transformer, weights set by hand, that runs a Mealy machine (eq-fst-mealy-cot).

    The construction in the proof of prop-fst-mealy-cot. The machine has states ``0..k-1``,
    inputs ``0..s-1`` and outputs ``0..g-1``. Token ids ``0..s-1`` are the inputs; id
    ``s + q g + y`` is the chain-of-thought token "state ``q``, output ``y``". On the window
    (previous token, current token) = $((q,y), x)$ the model predicts the token
    $(\delta(q,x),\lambda(q,x))$; every other window gets all-zero logits (greedy output:
    token 0). Residual stream: current token, previous token, two positions, logits
    (``d_model = 3|V| + 2``, one head, no LayerNorm). The head attends to the previous
    position and copies its token; one ReLU unit per pair $(q,x)$ fires when both are present
    and writes the logit of the successor token.
    """
    delta, lam, g = _mealy_tables(next_state, output)
    k, s = delta.shape
    v = s + k * g
    check_memory(8 * (3 * v + 2) * (4 * (3 * v + 2) + 2 * k * s + v), f"a model of {v} tokens")
    tok, prev, pos, logit = 0, v, 2 * v, 2 * v + 2  # offsets of the residual subspaces
    d = 3 * v + 2
    model = Transformer(d, 1, 1, k * s, vocab_size=v, max_len=2, norm="none")
    for p in model.parameters():
        p.zero_()
    model.embed.weight[:, tok : tok + v] = torch.eye(v)
    model.pos[0, pos], model.pos[1, pos + 1] = 1.0, 1.0
    attn = model.blocks[0].attn
    w_q, w_k, w_v = attn.qkv.weight[:d], attn.qkv.weight[d : 2 * d], attn.qkv.weight[2 * d :]
    w_q[0, pos + 1] = _ATTENTION_GAIN * math.sqrt(d)  # query of position 1 ...
    w_k[0, pos] = 1.0  # ... matches the key of position 0
    w_v[prev : prev + v, tok : tok + v] = torch.eye(v)  # value: the token, moved to "previous"
    attn.out.weight[prev : prev + v, prev : prev + v] = torch.eye(v)
    mlp = model.blocks[0].mlp
    q_of, x_of = np.divmod(np.arange(k * s), s)  # unit u reads state q_of[u] and input x_of[u]
    cot = s + np.arange(k * g)  # chain-of-thought token ids; their state is (id - s) // g
    member = torch.as_tensor(((cot - s) // g)[None, :] == q_of[:, None], dtype=mlp.fc1.weight.dtype)
    mlp.fc1.weight[:, prev + s : prev + v] = member
    mlp.fc1.weight[torch.arange(k * s), torch.as_tensor(tok + x_of)] = 1.0
    mlp.fc1.bias.fill_(-_THRESHOLD)
    target = s + delta[q_of, x_of] * g + lam[q_of, x_of]
    mlp.fc2.weight[torch.as_tensor(logit + target), torch.arange(k * s)] = 1 / (2 - _THRESHOLD)
    model.readout.weight[:, logit : logit + v] = torch.eye(v)
    return model.eval()


def run_with_cot(
    model: nn.Module, inputs: np.ndarray, prompt: np.ndarray, window: int
) -> np.ndarray:
    r"""Closed loop (eq-fst-mealy-cot): after each input the model's greedy token joins the stream.

    The stream is ``prompt, x_1, z_1, x_2, z_2, ...`` with $z_t$ the greedy prediction of
    ``model`` on the last ``window`` tokens after $x_t$; returns ``z`` of shape
    ``inputs.shape``. Each forward pass reads the window directly (no extracted table).
    """
    check_instance(model, "model", nn.Module, "a torch.nn.Module")
    inputs = check_array(inputs, "inputs", ndim=2, dtype="integral")
    prompt = check_array(prompt, "prompt", ndim=1, dtype="integral", allow_empty=True)
    if inputs.min() < 0 or (prompt.size and prompt.min() < 0):
        raise ValueError("inputs and prompt must hold token ids >= 0")
    c = check_int(window, "window")
    device = next(model.parameters(), torch.empty(0)).device
    stream = np.tile(prompt.astype(np.int64), (inputs.shape[0], 1))
    z = np.empty(inputs.shape, dtype=np.int64)
    for t in range(inputs.shape[1]):
        stream = np.concatenate([stream, inputs[:, t : t + 1]], axis=1)
        try:
            with torch.no_grad():
                logits = model(torch.as_tensor(stream[:, -c:], dtype=torch.long, device=device))
            z[:, t] = logits[:, -1].argmax(-1).cpu().numpy()
        except (ValueError, RuntimeError, IndexError, TypeError) as exc:
            raise ValueError(
                f"model could not read a window of the stream of prompt and inputs: {exc}"
            ) from exc
        stream = np.concatenate([stream, z[:, t : t + 1]], axis=1)
    return z


# --------------------------------------------------- the best machine of k states (eq-fst-carried)

_MAX_MACHINES = 100_000
_MAX_THOUGHTS = 64  # chain-of-thought tokens per input that best_window_cot_accuracy accepts


def best_mealy_accuracy(words: np.ndarray, labels: np.ndarray, n_states: int) -> float:
    r"""Exact best accuracy of any Mealy machine with ``n_states`` states (eq-fst-carried).

    The machine reads each row of ``words`` (symbols ``0..s-1``) and its output on the last
    symbol is compared with ``labels``. Every transition table and start state is tried
    ($k^{ks}\cdot k$ machines); for each, the best output table takes the most frequent
    label of every (state before the last symbol, last symbol). Returns the largest
    fraction of rows that are right.
    """
    words = check_array(words, "words", ndim=2, dtype="integral")
    labels = check_array(labels, "labels", shape=(words.shape[0],), dtype="integral")
    k = check_int(n_states, "n_states")
    if words.min() < 0 or labels.min() < 0:
        raise ValueError("words and labels must hold symbols >= 0")
    s, r = int(words.max()) + 1, int(labels.max()) + 1
    log10_machines = (k * s + 1) * math.log10(k) if k > 1 else 0.0
    if log10_machines > math.log10(_MAX_MACHINES):
        raise ValueError(
            f"n_states={k} with {s} symbols gives about 10^{log10_machines:.3g} machines, more "
            f"than {_MAX_MACHINES:,}: use fewer states"
        )
    check_memory(8 * k * s * r, f"a count table of {k} states, {s} symbols and {r} labels")
    best = 0
    for table in np.ndindex(*(k,) * (k * s)):
        delta = np.array(table, dtype=np.int64).reshape(k, s)
        for start in range(k):
            q = np.full(words.shape[0], start)
            for t in range(words.shape[1] - 1):
                q = delta[q, words[:, t]]
            counts = np.bincount((q * s + words[:, -1]) * r + labels, minlength=k * s * r)
            best = max(best, int(counts.reshape(k * s, r).max(1).sum()))
    return best / words.shape[0]


def _window_cot_answers(
    table: np.ndarray, prompt: np.ndarray, words: np.ndarray, n_thoughts: int, v: int
) -> np.ndarray:
    r"""Codes of the window $(u, x_n)$ after the last input, the device writing by ``table``."""
    c = len(prompt) + 1
    powers = v ** np.arange(c - 1, -1, -1, dtype=np.int64)
    u = np.tile(prompt, (words.shape[0], 1))
    for t in range(words.shape[1] - 1):
        win = np.concatenate([u, words[:, t : t + 1]], axis=1)
        for _ in range(n_thoughts):
            win = np.concatenate([win, table[win[:, -c:] @ powers][:, None]], axis=1)
        u = win[:, win.shape[1] - (c - 1) :]
    return np.concatenate([u, words[:, -1:]], axis=1) @ powers


def best_window_cot_accuracy(
    words: np.ndarray, labels: np.ndarray, window: int, n_thoughts: int, vocab_size: int = 2
) -> float:
    r"""Exact best accuracy of any window device with a chain of thought (eq-fst-carried).

    The stream is a prompt of ``window - 1`` tokens, then each input symbol of a row of
    ``words`` followed by ``n_thoughts`` tokens, each the value of one table
    $V^c\to V$ on the last ``window`` tokens ($V=\{0,\dots,$ ``vocab_size`` $-1\}$). The answer
    is any function of the window after the last input; the best one takes the most frequent
    label of each window content. Every table and prompt is tried; returns the largest
    fraction of rows that are right.
    """
    words = check_array(words, "words", ndim=2, dtype="integral")
    labels = check_array(labels, "labels", shape=(words.shape[0],), dtype="integral")
    c = check_int(window, "window")
    n_t = check_int(n_thoughts, "n_thoughts", minimum=0, maximum=_MAX_THOUGHTS)
    v = check_int(vocab_size, "vocab_size", minimum=2)
    if words.min() < 0 or words.max() >= v:
        raise ValueError(f"words must hold symbols in 0..vocab_size-1 = 0..{v - 1}")
    if labels.min() < 0:
        raise ValueError("labels must hold values >= 0")
    if c * math.log10(v) > 2:  # a table of more than 100 entries: over 2^100 devices
        raise ValueError(f"window={c} with vocab_size={v}: far too many devices to try")
    log10_devices = (v**c + c - 1) * math.log10(v)
    if log10_devices > math.log10(_MAX_MACHINES):
        raise ValueError(
            f"window={c} with vocab_size={v} gives about 10^{log10_devices:.3g} devices, more "
            f"than {_MAX_MACHINES:,}: use a smaller window"
        )
    r = int(labels.max()) + 1
    best = 0
    for table in np.ndindex(*(v,) * v**c):
        for prompt in np.ndindex(*(v,) * (c - 1)):
            key = _window_cot_answers(
                np.array(table, dtype=np.int64), np.array(prompt, dtype=np.int64), words, n_t, v
            )
            counts = np.bincount(key * r + labels, minlength=v**c * r)
            best = max(best, int(counts.reshape(v**c, r).max(1).sum()))
    return best / words.shape[0]
