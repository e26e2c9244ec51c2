"""Linear and shallow-MLP auto-regressive next-token predictors (Malach, 2024).

The model of the paper's code: token embedding (dimension ``d``), then ONE linear map
``R^{T d} -> R^{T d}`` with a block-causal mask (output block ``t`` reads input blocks
``s <= t``, diagonal included), then the unembedding. It has no attention, no positional
embedding and no nonlinearity: every position has its own weights (time-dependent
class, eq-nt-linear). The MLP variant inserts ``ReLU -> Linear(d, d) -> ReLU`` (shared
over positions) before the unembedding.
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
    """Time-dependent linear (or shallow-MLP) next-token predictor, eq-nt-linear.

    ``forward(tokens)`` with ``tokens`` of shape ``(batch, n)``, ``n <= seq_len``
    (right-padded use), returns logits ``(batch, n, vocab_size)``; the logits at
    position ``t`` predict token ``t + 1`` from tokens ``0..t``.
    """

    def __init__(self, vocab_size: int, seq_len: int, d: int, *, mlp: bool = False) -> None:
        super().__init__()
        self.vocab_size = check_int(vocab_size, "vocab_size")
        self.seq_len = check_int(seq_len, "seq_len")
        self.d = check_int(d, "d")
        self.mlp = check_bool(mlp, "mlp")
        td = self.seq_len * self.d
        check_memory(
            4 * (3 * td * td + 3 * self.vocab_size * self.d),
            f"the ({td}, {td}) masked weight of seq_len={self.seq_len}, d={self.d} and the "
            f"embeddings of vocab_size={self.vocab_size}",
        )
        self.embed = nn.Embedding(self.vocab_size, self.d)
        self.linear = nn.Linear(td, td)
        nn.init.normal_(self.linear.weight, std=1.0 / math.sqrt(td))
        blocks = torch.tril(torch.ones(self.seq_len, self.seq_len))
        self.register_buffer("mask", torch.kron(blocks, torch.ones(self.d, self.d)))
        self.hidden = nn.Linear(self.d, self.d) if self.mlp else None
        self.unembed = nn.Linear(self.d, self.vocab_size)

    def forward(self, tokens: Tensor) -> Tensor:
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

    ``T(T+1)/2 d^2`` (causal blocks) ``+ T d`` (bias) ``+ V d`` (embedding)
    ``+ V d + V`` (unembedding) ``[+ d^2 + d]`` (shared MLP layer).
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
    eval_fn: Callable[[nn.Module, int], object] | None = None,
    eval_every: int = 0,
    desc: str | None = None,
) -> TrainHistory:
    """Train on teacher-forced next-token loss with AdamW (the paper's optimiser).

    ``tokens`` (on the model's device) are the training rows; each step draws
    ``batch_size`` of them with ``generator``; the loss covers positions ``>= start``
    (the CoT and answer, not the prompt).
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
