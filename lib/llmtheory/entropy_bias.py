"""How optimistic is a training loss? The bias of the plug-in entropy (the book's demo chapter).

A unigram model fitted by maximum likelihood to ``n`` tokens predicts the empirical
frequencies, so its training cross-entropy equals the plug-in entropy of the sample,
which underestimates the true entropy by ``(V - 1) / (2 n)`` nats to first order
(Miller 1955; Paninski 2003).
"""

from __future__ import annotations

import numpy as np

from .validation import check_int

__all__ = [
    "entropy",
    "plugin_entropy",
    "plugin_bias_first_order",
    "plugin_bias_second_order",
    "simulate_plugin_bias",
    "zipf_distribution",
]


def _check_distribution(p: np.ndarray) -> np.ndarray:
    p = np.asarray(p, dtype=float)
    if p.ndim != 1 or p.size < 2:
        raise ValueError("p must be a 1-D array of at least two probabilities")
    if np.any(p <= 0) or not np.isclose(p.sum(), 1.0, atol=1e-12):
        raise ValueError("p must hold positive probabilities that sum to 1")
    return p


def zipf_distribution(vocab_size: int, exponent: float = 1.0) -> np.ndarray:
    """Zipf's law over ``vocab_size`` tokens: ``p_i ∝ i^{-exponent}``."""
    vocab_size = check_int(vocab_size, "vocab_size")
    if vocab_size < 2:
        raise ValueError(f"vocab_size must be at least 2, got {vocab_size}")
    if not np.isfinite(exponent) or exponent < 0:
        raise ValueError(f"exponent must be finite and non-negative, got {exponent}")
    weights = np.arange(1, vocab_size + 1, dtype=float) ** -exponent
    return weights / weights.sum()


def entropy(p: np.ndarray) -> float:
    """Shannon entropy ``H(p) = -Σ p_i ln p_i`` in nats (eq. ``eq-demo-entropy``)."""
    p = _check_distribution(p)
    return float(-(p * np.log(p)).sum())


def plugin_entropy(counts: np.ndarray) -> np.ndarray:
    """Entropy of the empirical frequencies along the last axis, in nats.

    This is the training cross-entropy of the maximum-likelihood unigram model
    (eq. ``eq-demo-plugin``); zero counts contribute nothing (``0 ln 0 = 0``).
    """
    counts = np.asarray(counts)
    if counts.ndim < 1 or not np.issubdtype(counts.dtype, np.integer):
        raise TypeError("counts must be an integer array with the vocabulary on its last axis")
    if np.any(counts < 0):
        raise ValueError("counts must be non-negative")
    n = counts.sum(axis=-1, keepdims=True)
    if np.any(n == 0):
        raise ValueError("every sample must contain at least one token")
    freq = counts / n
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(counts > 0, freq * np.log(freq), 0.0)
    return -terms.sum(axis=-1)


def plugin_bias_first_order(vocab_size: int, n: np.ndarray | int) -> np.ndarray:
    """First-order bias ``E[Ĥ] - H ≈ -(V - 1) / (2n)`` (eq. ``eq-demo-bias``)."""
    vocab_size = check_int(vocab_size, "vocab_size")
    n = np.asarray(n, dtype=float)
    if np.any(n < 1):
        raise ValueError("n must be at least 1")
    return -(vocab_size - 1) / (2 * n)


def plugin_bias_second_order(p: np.ndarray, n: np.ndarray | int) -> np.ndarray:
    """Bias to second order, ``-(V-1)/(2n) + (1 - Σ 1/p_i)/(12 n²)`` (eq. ``eq-demo-bias2``)."""
    p = _check_distribution(p)
    n = np.asarray(n, dtype=float)
    if np.any(n < 1):
        raise ValueError("n must be at least 1")
    return plugin_bias_first_order(p.size, n) + (1 - (1 / p).sum()) / (12 * n**2)


def simulate_plugin_bias(
    p: np.ndarray, n: int, replicates: int, rng: np.random.Generator
) -> tuple[float, float]:
    """Monte-Carlo mean of ``Ĥ - H`` over ``replicates`` samples of ``n`` tokens, and its s.e."""
    p = _check_distribution(p)
    n = check_int(n, "n")
    replicates = check_int(replicates, "replicates")
    if replicates < 2:
        raise ValueError("replicates must be at least 2 to estimate a standard error")
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    errors = plugin_entropy(rng.multinomial(n, p, size=replicates)) - entropy(p)
    return float(errors.mean()), float(errors.std(ddof=1) / np.sqrt(replicates))
