"""How optimistic is a training loss? The bias of the plug-in entropy (the book's demo chapter).

A unigram model fitted by maximum likelihood to ``n`` tokens predicts the empirical
frequencies, so its training cross-entropy equals the plug-in entropy of the sample,
which underestimates the true entropy by ``(V - 1) / (2 n)`` nats to first order
(Miller 1955; Paninski 2003).
"""

from __future__ import annotations

import numpy as np
from scipy.special import gammaln, xlog1py, xlogy

from .validation import (
    check_array,
    check_generator,
    check_int,
    check_memory,
    check_probabilities,
    check_scalar,
)

__all__ = [
    "entropy",
    "plugin_entropy",
    "plugin_entropy_mean",
    "plugin_bias_first_order",
    "plugin_bias_second_order",
    "simulate_plugin_bias",
    "zipf_distribution",
]


def zipf_distribution(vocab_size: int, exponent: float = 1.0) -> np.ndarray:
    """Zipf's law over ``vocab_size`` tokens: ``p_i ∝ i^{-exponent}``."""
    vocab_size = check_int(vocab_size, "vocab_size", 2)
    exponent = check_scalar(exponent, "exponent", minimum=0.0)
    check_memory(3 * 8 * vocab_size, f"a distribution over vocab_size={vocab_size} tokens")
    weights = np.arange(1, vocab_size + 1, dtype=float) ** -exponent
    return weights / weights.sum()


def entropy(p: np.ndarray) -> float:
    """Shannon entropy ``H(p) = -Σ p_i ln p_i`` in nats (eq. ``eq-demo-entropy``)."""
    p = _check_distribution(p)
    return float(-(p * np.log(p)).sum())


def _check_distribution(p: object) -> np.ndarray:
    """At least two positive probabilities summing to one (within ``np.isclose``'s 1e-5)."""
    return check_probabilities(p, "p", min_size=2, positive=True, atol=1e-5)


def _check_sizes(n: object) -> np.ndarray:
    n = check_array(n, "n", dtype="numeric", allow_empty=True).astype(float)
    if np.any(n < 1):
        raise ValueError(f"n must be at least 1, got a minimum of {n.min():g}")
    return n


def plugin_entropy(counts: np.ndarray) -> np.ndarray:
    """Entropy of the empirical frequencies along the last axis, in nats.

    This is the training cross-entropy of the maximum-likelihood unigram model
    (eq. ``eq-demo-plugin``); zero counts contribute nothing (``0 ln 0 = 0``).
    """
    counts = check_array(counts, "counts", dtype="int")
    if counts.ndim < 1:
        raise ValueError("counts must have the vocabulary on its last axis, got a 0-d array")
    if np.any(counts < 0):
        raise ValueError("counts must be non-negative")
    n = counts.sum(axis=-1, keepdims=True)
    if np.any(n == 0):
        raise ValueError("counts must hold at least one token in every sample")
    freq = counts / n
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(counts > 0, freq * np.log(freq), 0.0)
    return -terms.sum(axis=-1)


def plugin_entropy_mean(p: np.ndarray, n: int) -> float:
    """Exact ``E[Ĥ]`` for ``n`` tokens drawn from ``p`` (eq. ``eq-demo-exact``), in nats.

    By linearity, ``E[Ĥ] = Σ_i E[-(N_i/n) ln(N_i/n)]`` with ``N_i ~ Binomial(n, p_i)``: a sum
    of ``V n`` terms, no sampling and no expansion in ``1/n``.
    """
    p = _check_distribution(p)
    n = check_int(n, "n", maximum=10**7)
    check_memory(4 * 8 * p.size * n, f"binomial probabilities of n={n} for {p.size} tokens")
    k = np.arange(1, n + 1, dtype=float)
    log_choose = gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1)
    log_pmf = log_choose + xlogy(k, p[:, None]) + xlog1py(n - k, -p[:, None])
    freq = k / n
    return float((np.exp(log_pmf) * -freq * np.log(freq)).sum())


def plugin_bias_first_order(vocab_size: int, n: np.ndarray | int) -> np.ndarray:
    """First-order bias ``E[Ĥ] - H ≈ -(V - 1) / (2n)`` (eq. ``eq-demo-bias``)."""
    vocab_size = check_int(vocab_size, "vocab_size")
    n = _check_sizes(n)
    return -(vocab_size - 1) / (2 * n)


def plugin_bias_second_order(p: np.ndarray, n: np.ndarray | int) -> np.ndarray:
    """Bias to second order, ``-(V-1)/(2n) + (1 - Σ 1/p_i)/(12 n²)`` (eq. ``eq-demo-bias2``)."""
    p = _check_distribution(p)
    n = _check_sizes(n)
    return plugin_bias_first_order(p.size, n) + (1 - (1 / p).sum()) / (12 * n**2)


def simulate_plugin_bias(
    p: np.ndarray, n: int, replicates: int, rng: np.random.Generator
) -> tuple[float, float]:
    """Monte-Carlo mean of ``Ĥ - H`` over ``replicates`` samples of ``n`` tokens, and its s.e.

    Each replicate draws the ``V`` token counts of one training set from the multinomial
    distribution and takes their plug-in entropy ``Ĥ`` (eq. ``eq-demo-plugin``); the mean error
    estimates the bias that eq. ``eq-demo-exact`` gives exactly.
    """
    p = _check_distribution(p)
    n = check_int(n, "n", maximum=2**62)
    replicates = check_int(replicates, "replicates", 2)
    rng = check_generator(rng, "rng")
    check_memory(3 * 8 * replicates * p.size, f"replicates={replicates} samples of {p.size} counts")
    errors = plugin_entropy(rng.multinomial(n, p, size=replicates)) - entropy(p)
    return float(errors.mean()), float(errors.std(ddof=1) / np.sqrt(replicates))
