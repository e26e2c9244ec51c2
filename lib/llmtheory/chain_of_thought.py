"""Chain-of-thought (CoT) data for auto-regressive learning (Malach, 2024).

Every example is a token sequence ``(x, z_1, ..., z_T)``: the input ``x`` followed by
the CoT, whose last token (or last block of tokens) is the answer. Two tasks:

* **parity** of a hidden subset ``A`` of ``n`` input bits, with no CoT, the binary
  count of ``s = sum_{i in A} x_i`` (eq-nt-binary), the unary count, or the prefix XOR;
* **multiplication** of two ``k``-digit numbers with no CoT, a compact CoT (place-value
  digit-pair products, then the answer) or a longer CoT (products, then running
  two-operand sums), and the comparison of the formats at matched model size
  (:func:`format_widths`, :func:`train_multiplication`, :func:`seed_mean_se`).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .device import get_device
from .next_token import (
    MaskedLinearLM,
    effective_parameters,
    exact_match,
    greedy_rollout,
    teacher_forced_accuracy,
    train_next_token,
)
from .validation import (
    check_array,
    check_bool,
    check_choice,
    check_device,
    check_generator,
    check_int,
    check_memory,
    check_scalar,
)

__all__ = [
    "PARITY_FORMATS",
    "MULT_FORMATS",
    "MULT_VOCAB",
    "parity_cot",
    "parity_cot_length",
    "parity_dataset",
    "multiplication_cot",
    "multiplication_dataset",
    "operand_split",
    "decode_digits",
    "multiplication_length",
    "matched_width",
    "format_widths",
    "seed_mean_se",
    "train_multiplication",
]

PARITY_FORMATS = ("none", "binary", "unary", "prefix_xor")
MULT_FORMATS = ("none", "compact", "longer")
#: The multiplication vocabulary, digits 0-9, ``*``, ``=``, then the 100 joined digit-pair
#: tokens ``"ixj"`` (id ``12 + 10 i + j``) that name one digit-pair product.
MULT_VOCAB = (*"0123456789*=", *(f"{i}x{j}" for i in range(10) for j in range(10)))
_STAR, _EQ, _PAIR = 10, 11, 12
_ANSWER_DIGITS = 4


_MAX_DIGITS = 9  # a product of two 9-digit numbers has 18 digits: below 2**63 in int64


def _check_format(fmt: object, allowed: tuple[str, ...]) -> str:
    return check_choice(fmt, "fmt", allowed)


def parity_cot_length(support_size: int, fmt: str) -> int:
    """Length ``T`` of the parity CoT (answer included) for ``|A| = support_size``.

    ``none``: 1; ``binary``: ``floor(log2 |A|) + 1`` (eq-nt-binary);
    ``unary``: ``|A| + 1``; ``prefix_xor``: ``|A|``.
    """
    k = check_int(support_size, "support_size", 1)
    fmt = _check_format(fmt, PARITY_FORMATS)
    return {"none": 1, "binary": k.bit_length(), "unary": k + 1, "prefix_xor": k}[fmt]


def parity_cot(x: np.ndarray, support: np.ndarray, fmt: str) -> np.ndarray:
    """The CoT tokens ``z`` (values 0/1) of the parity of ``x[:, support]``.

    * ``binary``: the bits of ``s = sum_{i in A} x_i``, most significant first; the last
      bit is ``s mod 2``, the parity (eq-nt-binary).
    * ``unary``: ``z_k = 1[s >= k]`` for ``k = 1..|A|``, then the parity.
    * ``prefix_xor``: ``z_k = x_{a_1} xor ... xor x_{a_k}`` for ``k = 1..|A|``.
    """
    x = check_array(x, "x", ndim=2, dtype="numeric", allow_empty=True)
    if not np.isin(x, (0, 1)).all():
        raise ValueError("x must be a 2-D array of 0/1 bits, got other values")
    support = check_array(support, "support", ndim=1, dtype="int")
    if support.min() < 0 or support.max() >= x.shape[1]:
        raise ValueError(
            f"support must hold column indices of x in [0, {x.shape[1]}), got values from "
            f"{support.min()} to {support.max()}"
        )
    if np.unique(support).size != support.size:
        raise ValueError(f"support must not repeat a column of x, got {support.tolist()}")
    fmt = _check_format(fmt, PARITY_FORMATS)
    bits = x[:, support].astype(np.int64)
    s = bits.sum(axis=1)
    k = support.size
    if fmt == "none":
        return (s % 2)[:, None]
    if fmt == "binary":
        width = k.bit_length()
        return (s[:, None] >> np.arange(width - 1, -1, -1)) & 1
    if fmt == "unary":
        unary = (s[:, None] >= np.arange(1, k + 1)).astype(np.int64)
        return np.concatenate([unary, (s % 2)[:, None]], axis=1)
    return np.cumsum(bits, axis=1) % 2


def parity_dataset(
    n_samples: int, n_bits: int, support: np.ndarray, fmt: str, rng: np.random.Generator
) -> tuple[np.ndarray, int]:
    """Uniform random bits followed by their CoT: ``(tokens (m, n + T), prompt_len = n)``."""
    m = check_int(n_samples, "n_samples", 1)
    n = check_int(n_bits, "n_bits", 1)
    rng = check_generator(rng, "rng")
    support = check_array(support, "support", ndim=1, dtype="int")
    fmt = _check_format(fmt, PARITY_FORMATS)
    width = n + parity_cot_length(support.size, fmt)
    check_memory(3 * 8 * m * width, f"{m} samples of {width} tokens (n_samples, n_bits)")
    x = rng.integers(0, 2, size=(m, n))
    return np.concatenate([x, parity_cot(x, support, fmt)], axis=1), n


def _digits(v: np.ndarray, width: int) -> np.ndarray:
    """Decimal digits of ``v`` (most significant first), zero-padded to ``width``."""
    return (v[:, None] // 10 ** np.arange(width - 1, -1, -1)) % 10


def decode_digits(digits: np.ndarray) -> np.ndarray:
    """Inverse of the zero-padded digit encoding: rows of digits to integers."""
    digits = check_array(digits, "digits", ndim=2, dtype="integral", allow_empty=True)
    if digits.shape[1] > 18:
        raise ValueError(
            f"digits must have at most 18 columns (an int64 holds 18 decimal digits), "
            f"got {digits.shape[1]}"
        )
    if digits.size and (digits.min() < 0 or digits.max() > 9):
        raise ValueError("digits must hold decimal digits 0..9")
    return digits @ 10 ** np.arange(digits.shape[1] - 1, -1, -1)


def multiplication_cot(a: np.ndarray, b: np.ndarray, fmt: str, n_digits: int = 2) -> np.ndarray:
    """Token rows ``a * b = CoT`` for ``n_digits``-digit operands (most significant first).

    With ``w = 2 n_digits`` answer digits:

    * ``none``: the ``w`` answer digits.
    * ``compact``: for each digit pair ``(a_i, b_j)`` the joined token ``"a_i x b_j"``
      followed by the place-value product ``a_i 10^i * b_j 10^j`` zero-padded to ``w``
      digits (the paper's format), then the answer: the answer is one
      ``n_digits**2``-term sum.
    * ``longer``: the compact chain plus the running sums of the first 2, 3, ...,
      ``n_digits**2 - 1`` products, so that every sum has two operands.
    """
    k = check_int(n_digits, "n_digits", 1, maximum=_MAX_DIGITS)
    a = check_array(a, "a", ndim=1, dtype="integral", allow_empty=True)
    b = check_array(b, "b", ndim=1, dtype="integral", allow_empty=True)
    if a.shape != b.shape:
        raise ValueError(f"a and b must be 1-D arrays of the same length, got {a.shape}, {b.shape}")
    a, b = a.astype(np.int64), b.astype(np.int64)
    lo, hi = 10 ** (k - 1), 10**k - 1
    if a.size and (a.min() < lo or a.max() > hi or b.min() < lo or b.max() > hi):
        raise ValueError(f"a and b must be {k}-digit integers in {lo}..{hi}")
    fmt = _check_format(fmt, MULT_FORMATS)
    m, w = a.size, 2 * k
    width = 4 * k * k * (w + 1) + 2 * k + 2 + w
    check_memory(4 * 8 * m * width, f"{m} products of {k}-digit operands (a, b, n_digits)")
    prompt = [_digits(a, k), np.full((m, 1), _STAR), _digits(b, k), np.full((m, 1), _EQ)]
    parts = prompt
    ad, bd = _digits(a, k)[:, ::-1], _digits(b, k)[:, ::-1]  # column i: digit of 10^i
    pairs = [(i, j) for i in range(k - 1, -1, -1) for j in range(k - 1, -1, -1)]
    products = [ad[:, i] * bd[:, j] * 10 ** (i + j) for i, j in pairs]
    if fmt in ("compact", "longer"):
        for (i, j), p in zip(pairs, products, strict=True):
            parts += [(_PAIR + 10 * ad[:, i] + bd[:, j])[:, None], _digits(p, w)]
    if fmt == "longer":
        running = np.cumsum(np.stack(products, axis=1), axis=1)
        parts += [_digits(running[:, t], w) for t in range(1, len(pairs) - 1)]
    parts.append(_digits(a * b, w))
    return np.concatenate(parts, axis=1)


def operand_split(a: np.ndarray, b: np.ndarray, held_out_fraction: float = 0.25) -> np.ndarray:
    """Boolean mask of held-out operand pairs, chosen by a fixed hash of ``(a, b)``.

    The split is by operand pair, so no test product is seen in training in any format.
    """
    held_out_fraction = check_scalar(
        held_out_fraction, "held_out_fraction", minimum=0, maximum=1, include_min=False,
        include_max=False,
    )  # fmt: skip
    a = check_array(a, "a", dtype="integral", allow_empty=True)
    b = check_array(b, "b", dtype="integral", allow_empty=True)
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape, got {a.shape} and {b.shape}")
    if a.size and (a.min() < 0 or b.min() < 0):
        raise ValueError("a and b must hold non-negative integers")
    a, b = a.astype(np.uint64), b.astype(np.uint64)
    h = (a * np.uint64(2654435761) + b * np.uint64(40503) + np.uint64(12345)) % np.uint64(1 << 32)
    h = (h * np.uint64(2246822519)) % np.uint64(1 << 32)
    return h < np.uint64(int(held_out_fraction * (1 << 32)))


def multiplication_dataset(
    fmt: str,
    n_digits: int = 2,
    n_samples: int | None = None,
    rng: np.random.Generator | None = None,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Products of ``n_digits``-digit operands in format ``fmt``.

    All pairs when ``n_samples`` is None (2 digits: 8,100 pairs), else ``n_samples``
    random pairs drawn with ``rng``. Returns ``(tokens, held_out, prompt_len)``: the
    token rows, the held-out mask of :func:`operand_split` and the prompt length
    ``2 n_digits + 2`` (``a * b =``).
    """
    k = check_int(n_digits, "n_digits", 1, maximum=_MAX_DIGITS)
    fmt = _check_format(fmt, MULT_FORMATS)
    lo, hi = 10 ** (k - 1), 10**k
    if n_samples is None:
        check_memory(
            4 * 8 * (hi - lo) ** 2 * (4 * k * k * (2 * k + 1) + 4 * k + 2),
            f"all {(hi - lo) ** 2} pairs of {k}-digit operands (n_digits={k}, n_samples=None)",
        )
        a, b = np.meshgrid(np.arange(lo, hi), np.arange(lo, hi), indexing="ij")
        a, b = a.ravel(), b.ravel()
    else:
        m = check_int(n_samples, "n_samples", 1)
        rng = check_generator(rng, "rng")
        check_memory(
            4 * 8 * m * (4 * k * k * (2 * k + 1) + 4 * k + 2),
            f"n_samples={m} products of {k}-digit operands",
        )
        a, b = rng.integers(lo, hi, size=m), rng.integers(lo, hi, size=m)
    return multiplication_cot(a, b, fmt, k), operand_split(a, b), 2 * k + 2


def multiplication_length(fmt: str, n_digits: int = 2) -> int:
    r"""Number of tokens of a row of :func:`multiplication_cot`, eq-nt-mult-T.

    ``none``: ``4k + 2``; ``compact``: that plus ``k^2 (2k + 1)``; ``longer``: that plus
    ``2k (k^2 - 2)`` (no running sum for ``k = 1``).
    """
    k = check_int(n_digits, "n_digits", 1, maximum=_MAX_DIGITS)
    fmt = _check_format(fmt, MULT_FORMATS)
    none = 4 * k + 2
    compact = none + k * k * (2 * k + 1)
    return {"none": none, "compact": compact, "longer": compact + 2 * k * max(k * k - 2, 0)}[fmt]


def matched_width(
    seq_len: int, target_params: int, vocab_size: int = len(MULT_VOCAB), *, mlp: bool = True
) -> int:
    r"""The width ``d`` whose effective parameter count (eq-nt-params) at ``c = seq_len``
    positions is closest to ``target_params``.

    :math:`P(d)=\big(\tfrac{c(c+1)}2[+1]\big)d^2+(c+2V[+1])d+V` is increasing in ``d``:
    the positive root of :math:`P(d)=P^\ast` is rounded down and up and the nearer
    integer kept (the smaller one on a tie; at least 1).
    """
    t = check_int(seq_len, "seq_len")
    target = check_int(target_params, "target_params")
    v = check_int(vocab_size, "vocab_size")
    mlp = check_bool(mlp, "mlp")
    a = t * (t + 1) / 2 + (1 if mlp else 0)
    b = t + 2 * v + (1 if mlp else 0)
    root = (-b + math.sqrt(b * b + 4 * a * max(target - v, 0))) / (2 * a)
    candidates = sorted({max(1, math.floor(root)), max(1, math.ceil(root))})
    return min(candidates, key=lambda d: abs(effective_parameters(t, d, v, mlp=mlp) - target))


def format_widths(
    target_params: int, n_digits: int = 2, formats: tuple[str, ...] = MULT_FORMATS
) -> dict[str, int]:
    r"""Per format, the MLP width ``d`` that matches ``target_params`` effective parameters.

    The model of a row of ``N`` tokens (:func:`multiplication_length`, eq-nt-mult-T) has
    ``N - 1`` positions (the last token is only a target), so its count is
    :func:`~llmtheory.next_token.effective_parameters` at ``seq_len = N - 1``, eq-nt-params.
    """
    k = check_int(n_digits, "n_digits", 1, maximum=_MAX_DIGITS)
    if isinstance(formats, str) or not isinstance(formats, tuple | list) or not formats:
        raise TypeError(f"formats must be a non-empty tuple of format names, got {formats!r}")
    widths = {}
    for fmt in (check_choice(f, "formats", MULT_FORMATS) for f in formats):
        seq_len = multiplication_length(fmt, k) - 1
        widths[fmt] = matched_width(seq_len, target_params)
    return widths


def seed_mean_se(values: np.ndarray) -> tuple[float, float]:
    r"""Mean of one result over ``S >= 2`` training seeds and its standard error
    :math:`s/\sqrt S`, with :math:`s^2=\sum_i(x_i-\bar x)^2/(S-1)` the sample variance."""
    x = check_array(values, "values", ndim=1)
    if x.size < 2:
        raise ValueError(f"values must hold at least 2 seeds to estimate a spread, got {x.size}")
    return float(x.mean()), float(x.std(ddof=1) / math.sqrt(x.size))


def train_multiplication(
    fmt: str,
    *,
    d: int,
    steps: int,
    batch_size: int,
    lr: float,
    seed: int,
    n_digits: int = 2,
    weight_decay: float = 0.1,
    grad_clip: float | None = None,
    schedule: str = "constant",
    device: torch.device | str | None = None,
) -> dict:
    r"""Train the masked MLP (eq-nt-masked) on the training pairs of one format and score it.

    All ``n_digits``-digit operand pairs are split by :func:`operand_split`; the model
    (``d``, one seed for its initial weights and the order of its batches) is trained with
    :func:`~llmtheory.next_token.train_next_token` on the training rows only (loss on the
    CoT and the answer), then scored on every held-out pair: per-token teacher-forced
    accuracy, the all-steps rate ``1 - L(h)`` (eq-nt-ar-loss) and the greedy-rollout exact
    match of the ``2 n_digits`` answer digits (eq-nt-rollout), with the binomial standard
    error of the held-out set. The same exact match on as many training pairs measures
    memorisation; ``passes`` is the number of times an average training pair was drawn.
    ``row_length`` is ``n + T``: the prompt of ``n = 2 n_digits + 2`` tokens and the chain of
    ``T`` tokens (answer included).
    """
    k = check_int(n_digits, "n_digits", 1, maximum=3)
    fmt = _check_format(fmt, MULT_FORMATS)
    d = check_int(d, "d")
    steps = check_int(steps, "steps")
    batch_size = check_int(batch_size, "batch_size")
    seed = check_int(seed, "seed", 0, maximum=2**32 - 1)
    device = check_device(device, "device") or get_device()
    tokens, held, p = multiplication_dataset(fmt, k)
    tokens = torch.tensor(tokens, device=device)
    train_rows, test_rows = tokens[~held], tokens[held]
    n_train, n_test, w = train_rows.shape[0], test_rows.shape[0], 2 * k
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = MaskedLinearLM(len(MULT_VOCAB), tokens.shape[1] - 1, d, mlp=True).to(device)
    gen = torch.Generator().manual_seed(seed)
    train_next_token(
        model,
        train_rows,
        p,
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        weight_decay=weight_decay,
        generator=gen,
        grad_clip=grad_clip,
        schedule=schedule,
        desc=f"multiplication, {fmt}, d={d}, seed {seed}",
    )
    per_token, all_steps = teacher_forced_accuracy(model, test_rows, p)
    length = tokens.shape[1] - p
    roll = greedy_rollout(model, test_rows[:, :p], length)
    em = float(exact_match(roll[:, -w:], test_rows[:, -w:]))
    seen = train_rows[torch.randperm(n_train, generator=gen)[:n_test].to(device)]
    em_train = float(exact_match(greedy_rollout(model, seen[:, :p], length)[:, -w:], seen[:, -w:]))
    return {
        "row_length": tokens.shape[1],
        "T": length,
        "d": d,
        "params": effective_parameters(tokens.shape[1] - 1, d, len(MULT_VOCAB), mlp=True),
        "seed": seed,
        "per_token": per_token.cpu().numpy(),
        "all_steps": float(all_steps),
        "exact": em,
        "se": math.sqrt(em * (1 - em) / n_test),
        "train_exact": em_train,
        "n_train": n_train,
        "n_test": n_test,
        "passes": steps * batch_size / n_train,
        "model": model,
        "test": test_rows,
        "train": train_rows,
        "p": p,
    }
