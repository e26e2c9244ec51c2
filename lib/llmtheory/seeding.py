"""One place that seeds every random number generator the book uses."""

from __future__ import annotations

import os
import random

import numpy as np
import torch

from .validation import check_int

__all__ = ["DEFAULT_SEED", "seed_everything"]

DEFAULT_SEED = 20240407


def seed_everything(seed: int = DEFAULT_SEED) -> np.random.Generator:
    """Seed Python, NumPy and PyTorch (CPU and CUDA) and return a NumPy generator.

    Chapters call this once at the top and draw NumPy randomness from the returned
    :class:`numpy.random.Generator`, so that the same run gives the same numbers.

    Parameters
    ----------
    seed
        A non-negative integer below 2**32.
    """
    seed = check_int(seed, "seed", 0, maximum=2**32 - 1)
    os.environ["PYTHONHASHSEED"] = str(seed)
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 - also seeds third-party code that uses the legacy API
    torch.manual_seed(seed)  # seeds CUDA too, when present
    return np.random.default_rng(seed)
