"""Linear and shallow-MLP auto-regressive next-token predictors (Malach, 2024).

The model of the paper's code: token embedding (dimension ``d``), then ONE linear map
``R^{c d} -> R^{c d}`` (``c`` positions: the context) with a block-causal mask (output
block ``t`` reads input blocks ``s <= t``, diagonal included), then the unembedding. It has
no attention, no positional embedding and no nonlinearity: every position has its own
weights (time-dependent class, eq-nt-linear). The MLP variant inserts
``ReLU -> Linear(d, d) -> ReLU`` (shared over positions) before the unembedding.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .training import TrainHistory, train
from .validation import (
    check_array,
    check_bool,
    check_generator,
    check_instance,
    check_int,
    check_memory,
    check_scalar,
    check_tensor,
    describe,
)

__all__ = [
    "MaskedLinearLM",
    "effective_parameters",
    "token_loss",
    "train_next_token",
    "teacher_forced_accuracy",
    "greedy_rollout",
    "sample_rollout",
    "exact_match",
    "model_perplexity",
    "ngram_perplexity",
    "threshold_parity_agreement",
    "best_halfspace_agreement",
    "kneser_ney_probs",
    "kneser_ney_perplexity",
]


def _tokens(tokens: object, name: str = "tokens") -> Tensor:
    """A non-empty 2-D ``torch.long`` tensor of token ids (batch, length)."""
    return check_tensor(tokens, name, ndim=2, dtype=torch.long)


def _start(start: object, tokens: Tensor) -> int:
    """The first position scored: ``1 <= start <= n - 1`` (position 0 has no context)."""
    n = tokens.shape[1]
    if n < 2:
        raise ValueError(f"tokens must have at least 2 positions to score one, got {n}")
    return check_int(start, "start", 1, maximum=n - 1)


def _model(model: object) -> nn.Module:
    return check_instance(model, "model", nn.Module, "a torch.nn.Module")


def _logits(model: nn.Module, tokens: Tensor, name: str) -> Tensor:
    """``model(tokens)``: logits (batch, n, vocab); an error names the model or the tokens."""
    try:
        logits = model(tokens)
    except (TypeError, RuntimeError, IndexError) as exc:
        raise TypeError(f"model must map ids (batch, n) to logits (batch, n, V): {exc}") from exc
    except ValueError as exc:
        raise ValueError(f"model could not read {name} {tuple(tokens.shape)}: {exc}") from exc
    if not isinstance(logits, Tensor) or logits.shape[:2] != tokens.shape or logits.ndim != 3:
        raise TypeError(
            f"model must map ids (batch, n) to logits (batch, n, V), got {describe(logits)}"
        )
    return logits


class MaskedLinearLM(nn.Module):
    """Time-dependent linear (or shallow-MLP) next-token predictor, eq-nt-masked.

    One weight block ``W_{t,s}`` of shape ``(d, d)`` for every pair of positions ``s <= t``
    (the class eq-nt-linear with a rank-``d`` factorisation): ``embed`` is ``e``, ``linear``
    holds all blocks as one ``(seq_len d, seq_len d)`` matrix and its bias the ``b_t``,
    ``mask`` keeps the blocks with ``s <= t``, ``hidden`` is the MLP's ``V`` and ``v``,
    ``unembed`` is ``(U, b_U)``. ``forward(tokens)`` with ``tokens`` of shape ``(batch, n)``,
    ``n <= seq_len`` (right-padded use), returns logits ``(batch, n, vocab_size)``; the
    logits at position ``t`` predict token ``t + 1`` from tokens ``0..t``.
    """

    def __init__(self, vocab_size: int, seq_len: int, d: int, *, mlp: bool = False) -> None:
        super().__init__()
        self.vocab_size = check_int(vocab_size, "vocab_size")
        self.seq_len = check_int(seq_len, "seq_len")
        self.d = check_int(d, "d")
        self.mlp = check_bool(mlp, "mlp")
        td = self.seq_len * self.d
        check_memory(  # float weight, boolean mask, their float product in forward
            9 * td * td + 12 * self.vocab_size * self.d,
            f"the ({td}, {td}) masked weight of seq_len={self.seq_len}, d={self.d} and the "
            f"embeddings of vocab_size={self.vocab_size}",
        )
        self.embed = nn.Embedding(self.vocab_size, self.d)
        self.linear = nn.Linear(td, td)
        nn.init.normal_(self.linear.weight, std=1.0 / math.sqrt(td))
        blocks = torch.tril(torch.ones(self.seq_len, self.seq_len, dtype=torch.bool))
        # block (t, s) is all ones iff s <= t; boolean: a quarter of a float mask's memory
        mask = blocks.repeat_interleave(self.d, 0).repeat_interleave(self.d, 1)
        self.register_buffer("mask", mask)
        self.hidden = nn.Linear(self.d, self.d) if self.mlp else None
        self.unembed = nn.Linear(self.d, self.vocab_size)

    def forward(self, tokens: Tensor) -> Tensor:
        """Logits of eq-nt-masked at every position: ``(batch, n)`` ids to ``(batch, n, V)``.

        The embeddings of the ``n`` tokens are concatenated into one vector of ``n d``
        entries; the masked weight maps it to ``h_t = sum_{s <= t} W_{t,s} e(u_s) + b_t``
        for all ``t`` at once; ``phi`` is the identity or the MLP, then the unembedding.
        """
        tokens = _tokens(tokens)
        b, n = tokens.shape
        if n > self.seq_len:
            raise ValueError(f"sequence length {n} exceeds seq_len {self.seq_len}")
        low, high = int(tokens.min()), int(tokens.max())
        if low < 0 or high >= self.vocab_size:
            raise ValueError(
                f"tokens must be ids in [0, {self.vocab_size}) (vocab_size), got values from "
                f"{low} to {high}"
            )
        e = self.embed(tokens).reshape(b, n * self.d)
        nd = n * self.d
        w = (self.linear.weight * self.mask)[:nd, :nd]
        h = (e @ w.T + self.linear.bias[:nd]).reshape(b, n, self.d)
        if self.hidden is not None:
            h = torch.relu(self.hidden(torch.relu(h)))
        return self.unembed(h)


def effective_parameters(seq_len: int, d: int, vocab_size: int, *, mlp: bool = False) -> int:
    """Parameters of :class:`MaskedLinearLM` that the mask leaves free, eq-nt-params.

    With ``c = seq_len`` positions: ``c(c+1)/2 d^2`` (causal blocks) ``+ c d`` (bias) ``+ V d``
    (embedding) ``+ V d + V`` (unembedding) ``[+ d^2 + d]`` (shared MLP layer).
    """
    t, d, v = check_int(seq_len, "seq_len"), check_int(d, "d"), check_int(vocab_size, "vocab_size")
    mlp = check_bool(mlp, "mlp")
    return t * (t + 1) // 2 * d * d + t * d + v * d + v * d + v + (d * d + d if mlp else 0)


def token_loss(model: nn.Module, tokens: Tensor, start: int) -> Tensor:
    """Teacher-forced cross-entropy of the tokens at positions ``start..n-1``
    (``1 <= start <= n - 1``)."""
    model, tokens = _model(model), _tokens(tokens)
    start = _start(start, tokens)
    logits = _logits(model, tokens[:, :-1], "tokens")[:, start - 1 :]
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tokens[:, start:].reshape(-1))


def train_next_token(
    model: nn.Module,
    tokens: Tensor,
    start: int,
    *,
    steps: int,
    batch_size: int,
    lr: float,
    weight_decay: float = 0.1,
    generator: torch.Generator | None = None,
    grad_clip: float | None = None,
    schedule: str = "constant",
    eval_fn: Callable[[nn.Module, int], object] | None = None,
    eval_every: int = 0,
    desc: str | None = None,
) -> TrainHistory:
    """Train on teacher-forced next-token loss with AdamW (the paper's optimiser).

    ``tokens`` (on the model's device) are the training rows; each step draws
    ``batch_size`` of them with ``generator``; the loss covers positions ``>= start``
    (the CoT and answer, not the prompt). ``grad_clip`` (global gradient norm, the paper's
    code uses 1.0) and ``schedule`` (``"constant"``, ``"cosine"`` or ``"onecycle"``) are
    passed to :func:`llmtheory.training.train`; the defaults change nothing.
    """
    model, tokens = _model(model), _tokens(tokens)
    start = _start(start, tokens)
    batch_size = check_int(batch_size, "batch_size")
    check_memory(3 * 8 * batch_size * tokens.shape[1], f"batches of batch_size={batch_size} rows")
    generator = check_generator(generator, "generator", kind="torch", allow_none=True)
    m = tokens.shape[0]

    def batch(_: int) -> Tensor:
        idx = torch.randint(m, (batch_size,), generator=generator).to(tokens.device)
        return tokens[idx]

    return train(
        model,
        batch,
        lambda mod, bt: token_loss(mod, bt, start),
        steps=steps,
        lr=lr,
        optimizer="adamw",
        weight_decay=weight_decay,
        schedule=schedule,
        grad_clip=grad_clip,
        eval_fn=eval_fn,
        eval_every=eval_every,
        desc=desc,
    )


@torch.no_grad()
def teacher_forced_accuracy(model: nn.Module, tokens: Tensor, start: int) -> tuple[Tensor, Tensor]:
    """Per-position teacher-forced accuracy (positions ``>= start``) and the fraction of
    rows with every step right, ``1 - L(h)`` of eq-nt-ar-loss (``1 <= start <= n - 1``)."""
    model, tokens = _model(model), _tokens(tokens)
    start = _start(start, tokens)
    pred = _logits(model, tokens[:, :-1], "tokens")[:, start - 1 :].argmax(-1)
    right = pred == tokens[:, start:]
    return right.float().mean(0), right.all(1).float().mean()


@torch.no_grad()
def greedy_rollout(model: nn.Module, prompt: Tensor, length: int) -> Tensor:
    """Greedy decoding, eq-nt-rollout: extend ``prompt`` by ``length`` argmax tokens."""
    return _rollout(model, prompt, length, lambda logits: logits.argmax(-1))


@torch.no_grad()
def sample_rollout(
    model: nn.Module, prompt: Tensor, length: int, *, temperature: float, generator: torch.Generator
) -> Tensor:
    """Sampling at ``temperature`` from the model's next-token distribution."""
    temperature = check_scalar(temperature, "temperature", minimum=0.0, include_min=False)
    check_generator(generator, "generator", kind="torch")

    def pick(logits: Tensor) -> Tensor:
        probs = torch.softmax(logits / temperature, -1).cpu()
        return torch.multinomial(probs, 1, generator=generator)[:, 0].to(logits.device)

    return _rollout(model, prompt, length, pick)


def _rollout(model: nn.Module, prompt: Tensor, length: int, pick: Callable) -> Tensor:
    model, prompt = _model(model), _tokens(prompt, "prompt")
    length = check_int(length, "length")
    b, n = prompt.shape
    check_memory(3 * 8 * b * (n + length), f"{b} rollouts of length={length}")
    seq = prompt
    for _ in range(length):
        nxt = pick(_logits(model, seq, "prompt")[:, -1])
        seq = torch.cat([seq, nxt[:, None]], dim=1)
    return seq


def exact_match(pred: Tensor, target: Tensor) -> Tensor:
    """Fraction of rows of ``pred`` equal to the rows of ``target`` in every position."""
    pred = check_tensor(pred, "pred", ndim=2, dtype=None, finite=False)
    target = check_tensor(target, "target", ndim=2, dtype=None, finite=False)
    if pred.shape != target.shape:
        raise ValueError(
            f"pred shape {tuple(pred.shape)} differs from target {tuple(target.shape)}"
        )
    return (pred == target).all(1).float().mean()


def _ignore(ignore_id: object, v: int | None = None) -> int | None:
    """``None`` or a token id whose positions are not scored (the padding)."""
    if ignore_id is None:
        return None
    return check_int(ignore_id, "ignore_id", 0, maximum=None if v is None else v - 1)


@torch.no_grad()
def model_perplexity(model: nn.Module, tokens: Tensor, ignore_id: int | None = None) -> float:
    """``exp`` of the mean next-token cross-entropy of rows ``tokens`` (positions 1..n-1),
    eq-nt-ppl; positions whose target is ``ignore_id`` (padding) are not scored."""
    model, tokens = _model(model), _tokens(tokens)
    _start(1, tokens)
    ignore_id = _ignore(ignore_id)
    logits = _logits(model, tokens[:, :-1], "tokens")
    nll = F.cross_entropy(logits.transpose(1, 2), tokens[:, 1:], reduction="none")
    scored = torch.ones_like(nll, dtype=torch.bool)
    if ignore_id is not None:
        scored = tokens[:, 1:] != ignore_id
    if not bool(scored.any()):
        raise ValueError(f"every target is ignore_id={ignore_id}: nothing to score")
    return math.exp(nll[scored].mean().item())


def _ids(x: object, name: str, v: int, ndim: int) -> np.ndarray:
    ids = check_array(x, name, ndim=ndim, dtype="integral")
    if ids.min() < 0 or ids.max() >= v:
        raise ValueError(
            f"{name} must hold ids in [0, {v}) (vocab_size), got values from {ids.min()} to "
            f"{ids.max()}"
        )
    return ids


def ngram_perplexity(
    train_ids: np.ndarray,
    eval_rows: np.ndarray,
    vocab_size: int,
    order: int,
    alpha: float = 0.1,
    ignore_id: int | None = None,
) -> float:
    """Perplexity of an add-``alpha`` unigram (``order=1``) or bigram (``order=2``) model,
    fitted on the id stream ``train_ids``, on positions 1..n-1 of ``eval_rows``, eq-nt-ppl;
    positions whose target is ``ignore_id`` (padding) are not scored, as in
    :func:`model_perplexity`."""
    v = check_int(vocab_size, "vocab_size")
    order = check_int(order, "order", 1, maximum=2)
    alpha = check_scalar(alpha, "alpha", minimum=0.0, include_min=False)
    ignore_id = _ignore(ignore_id, v)
    train_ids = _ids(train_ids, "train_ids", v, ndim=1)
    eval_rows = _ids(eval_rows, "eval_rows", v, ndim=2)
    if eval_rows.shape[1] < 2:
        raise ValueError(f"eval_rows must have at least 2 columns, got {eval_rows.shape[1]}")
    if order == 2:
        if train_ids.size < 2:
            raise ValueError("train_ids must hold at least 2 ids to count bigrams")
        check_memory(3 * 8 * v * v, f"a dense bigram table for vocab_size={v}")
    if order == 1:
        counts = np.bincount(train_ids, minlength=v) + alpha
        logp = np.log(counts / counts.sum())[eval_rows[:, 1:]]
    else:
        counts = np.zeros((v, v)) + alpha
        np.add.at(counts, (train_ids[:-1], train_ids[1:]), 1)
        table = np.log(counts / counts.sum(1, keepdims=True))
        logp = table[eval_rows[:, :-1], eval_rows[:, 1:]]
    scored = np.ones(logp.shape, dtype=bool)
    if ignore_id is not None:
        scored = eval_rows[:, 1:] != ignore_id
    if not scored.any():
        raise ValueError(f"every target is ignore_id={ignore_id}: nothing to score")
    return float(np.exp(-logp[scored].mean()))


def threshold_parity_agreement(n_bits: int) -> np.ndarray:
    r"""Agreement of the symmetric thresholds with the parity of ``n_bits`` uniform bits,
    eq-nt-best-halfspace.

    Entry ``theta`` (``0 <= theta <= n_bits + 1``) is ``Pr[1[s >= theta] = s mod 2]`` for
    ``s ~ Binomial(n_bits, 1/2)``, the number of ones: the sum over ``s < theta`` of the
    even weights plus the sum over ``s >= theta`` of the odd weights.
    """
    m = check_int(n_bits, "n_bits", 1, maximum=1000)
    s = np.arange(m + 1)
    weight = np.array([math.comb(m, int(j)) for j in s], dtype=float) / 2.0**m
    even, odd = weight * (s % 2 == 0), weight * (s % 2 == 1)
    below_even = np.concatenate([[0.0], np.cumsum(even)])  # sum over s < theta
    at_least_odd = odd.sum() - np.concatenate([[0.0], np.cumsum(odd)])  # sum over s >= theta
    return below_even + at_least_odd


def best_halfspace_agreement(n_bits: int) -> float:
    r"""The largest agreement of any halfspace of ``{0,1}^n`` with the parity of ``n_bits``
    of its uniform coordinates, eq-nt-best-halfspace: ``max_theta max(a, 1 - a)`` over the
    symmetric thresholds of :func:`threshold_parity_agreement` (a halfspace is unate, and
    the best unate approximation of a parity is a symmetric threshold,
    prop-nt-best-halfspace)."""
    a = threshold_parity_agreement(n_bits)
    return float(np.maximum(a, 1.0 - a).max())


def _kn_discount(counts: np.ndarray) -> float:
    """Ney's discount ``n1 / (n1 + 2 n2)`` from the counts of counts (0.75 if undefined)."""
    n1, n2 = int((counts == 1).sum()), int((counts == 2).sum())
    return n1 / (n1 + 2 * n2) if n1 > 0 else 0.75


def _lookup(keys: np.ndarray, values: np.ndarray, query: np.ndarray) -> np.ndarray:
    """``values`` at the positions of ``query`` in the sorted ``keys`` (0 where absent)."""
    if keys.size == 0:
        return np.zeros(query.shape)
    pos = np.clip(np.searchsorted(keys, query), 0, keys.size - 1)
    return np.where(keys[pos] == query, values[pos], 0)


def _kn_level(codes: np.ndarray, counts: np.ndarray, v: int) -> dict[str, np.ndarray]:
    """Tables of one level: gram codes and counts; per context, its total and its number
    of distinct followers ``N1+(h .)``."""
    ctx, inv = np.unique(codes // v, return_inverse=True)
    return {
        "gram": codes,
        "count": counts,
        "ctx": ctx,
        "total": np.bincount(inv, weights=counts),
        "followers": np.bincount(inv).astype(float),
    }


def _kn_tables(train: np.ndarray, v: int, order: int) -> list[dict[str, np.ndarray]]:
    """Raw and continuation counts of the grams of every order ``1..order``."""
    levels = []
    for j in range(1, order + 1):
        windows = np.lib.stride_tricks.sliding_window_view(train, j)
        codes, counts = np.unique(windows @ (v ** np.arange(j - 1, -1, -1)), return_counts=True)
        raw = _kn_level(codes, counts.astype(float), v)
        level = {"raw": raw, "cont": raw, "discount": _kn_discount(counts)}
        if j < order:  # continuation counts N1+(. g): distinct tokens seen left of g
            wider = np.lib.stride_tricks.sliding_window_view(train, j + 1)
            longer = np.unique(wider @ (v ** np.arange(j, -1, -1)))
            suffix, n_left = np.unique(longer % v**j, return_counts=True)
            level["cont"] = _kn_level(suffix, n_left.astype(float), v)
        levels.append(level)
    return levels


def _kn_prob(levels: list, contexts: np.ndarray, words: np.ndarray, v: int, discount) -> np.ndarray:
    r"""Interpolated Kneser--Ney probability of ``words`` after ``contexts`` (rows of
    ``order - 1`` ids, missing leading ids ``-1``), eq-nt-kn."""
    q, width = contexts.shape
    top = width - (contexts < 0).sum(1) + 1  # the highest level each context reaches
    lower = np.full(q, 1.0 / v)  # level 0: uniform
    out = np.zeros(q)
    for j, level in enumerate(levels, start=1):
        h = np.clip(contexts[:, width - (j - 1) :], 0, None)  # clipped ids: only for top < j
        h_code = h @ (v ** np.arange(j - 2, -1, -1)) if j > 1 else np.zeros(q, dtype=np.int64)
        gram = h_code * v + words
        d = level["discount"] if discount is None else discount
        probs = {}
        for kind in ("raw", "cont"):
            t = level[kind]
            c_hw = _lookup(t["gram"], t["count"], gram)
            c_h = _lookup(t["ctx"], t["total"], h_code)
            n_h = _lookup(t["ctx"], t["followers"], h_code)
            safe = np.where(c_h > 0, c_h, 1.0)
            interp = (np.maximum(c_hw - d, 0.0) + d * n_h * lower) / safe
            probs[kind] = np.where(c_h > 0, interp, lower)
        out = np.where(top == j, probs["raw"], out)
        lower = probs["cont"]
    return out


def _kn_inputs(train_ids: object, vocab_size: object, order: object, discount: object):
    v = check_int(vocab_size, "vocab_size")
    order = check_int(order, "order", 1, maximum=8)
    if float(v) ** (order + 1) >= 2.0**62:
        raise ValueError(
            f"vocab_size={v} and order={order}: codes of vocab_size**(order + 1) ids overflow int64"
        )
    if discount is not None:
        discount = check_scalar(
            discount, "discount", minimum=0.0, maximum=1.0, include_min=False, include_max=False
        )
    train = _ids(train_ids, "train_ids", v, ndim=1)
    if train.size < order + 1:
        raise ValueError(
            f"train_ids must hold at least order + 1 = {order + 1} ids, got {train.size}"
        )
    check_memory(16 * 8 * order * train.size, f"the gram tables of order={order}")
    return train, v, order, discount


_KN_CHUNK_ENTRIES = 2**20  # (context, next id) pairs that kneser_ney_probs scores at once


def kneser_ney_probs(
    train_ids: np.ndarray,
    contexts: np.ndarray,
    vocab_size: int,
    order: int,
    discount: float | None = None,
) -> np.ndarray:
    r"""Next-token distributions of the interpolated Kneser--Ney model of ``order``,
    eq-nt-kn, fitted on the id stream ``train_ids``.

    ``contexts`` has ``order - 1`` columns: the previous ids, oldest first, with ``-1``
    for the missing leading ids of a short context (the start of a row). Returns an array
    ``(len(contexts), vocab_size)`` whose rows sum to 1. ``discount`` (in ``(0, 1)``) is
    the same at every level; ``None`` takes Ney's ``n1 / (n1 + 2 n2)`` of each level.
    """
    train, v, order, discount = _kn_inputs(train_ids, vocab_size, order, discount)
    ctx = check_array(contexts, "contexts", ndim=2, dtype="integral", allow_empty=True)
    if ctx.shape[1] != order - 1:
        raise ValueError(f"contexts must have order - 1 = {order - 1} columns, got {ctx.shape[1]}")
    if ctx.size and (ctx.min() < -1 or ctx.max() >= v):
        raise ValueError(
            f"contexts must hold ids in [0, {v}) or -1 (missing), got {ctx.min()}..{ctx.max()}"
        )
    missing = ctx < 0
    if (missing[:, 1:] & ~missing[:, :-1]).any():
        raise ValueError("contexts may have -1 (missing) only before their first id")
    step = max(1, _KN_CHUNK_ENTRIES // v)  # contexts per chunk: the temporaries stay small
    check_memory(
        8 * ctx.shape[0] * v + 8 * 8 * step * v, f"{ctx.shape[0]} distributions over vocab_size={v}"
    )
    levels = _kn_tables(train, v, order)
    probs = np.empty((ctx.shape[0], v))
    for start in range(0, ctx.shape[0], step):
        part = ctx[start : start + step]
        rows = np.repeat(part, v, axis=0)
        words = np.tile(np.arange(v), part.shape[0])
        probs[start : start + part.shape[0]] = _kn_prob(levels, rows, words, v, discount).reshape(
            part.shape[0], v
        )
    return probs


def kneser_ney_perplexity(
    train_ids: np.ndarray,
    eval_rows: np.ndarray,
    vocab_size: int,
    order: int,
    discount: float | None = None,
    ignore_id: int | None = None,
) -> float:
    r"""Perplexity eq-nt-ppl of the interpolated Kneser--Ney model (:func:`kneser_ney_probs`)
    on positions ``1..n-1`` of ``eval_rows``, each predicted from at most ``order - 1``
    previous ids of its own row; positions whose target is ``ignore_id`` (padding) are not
    scored, as in :func:`model_perplexity` and :func:`ngram_perplexity`."""
    train, v, order, discount = _kn_inputs(train_ids, vocab_size, order, discount)
    ignore_id = _ignore(ignore_id, v)
    rows = _ids(eval_rows, "eval_rows", v, ndim=2)
    if rows.shape[1] < 2:
        raise ValueError(f"eval_rows must have at least 2 columns, got {rows.shape[1]}")
    check_memory(8 * 8 * rows.size * order, f"the contexts of {rows.shape[0]} rows")
    padded = np.concatenate([np.full((rows.shape[0], order - 1), -1), rows], 1)
    windows = np.lib.stride_tricks.sliding_window_view(padded, order, axis=1)[:, 1 : rows.shape[1]]
    targets = windows[..., -1].ravel()
    contexts = windows[..., :-1].reshape(targets.size, order - 1)
    logp = np.log(_kn_prob(_kn_tables(train, v, order), contexts, targets, v, discount))
    scored = np.ones(targets.shape, dtype=bool)
    if ignore_id is not None:
        scored = targets != ignore_id
    if not scored.any():
        raise ValueError(f"every target is ignore_id={ignore_id}: nothing to score")
    return float(np.exp(-logp[scored].mean()))
