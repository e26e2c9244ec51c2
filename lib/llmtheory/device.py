"""Device selection and thread settings: the same code uses a GPU where there is one."""

from __future__ import annotations

import os

import torch

__all__ = ["get_device", "set_threads"]

_DEVICES = ("cpu", "cuda")


def get_device(prefer: str | None = None) -> torch.device:
    """Return CUDA when present, else the CPU.

    ``prefer`` (or the environment variable ``LLMTHEORY_DEVICE``) forces one of
    ``"cpu"`` or ``"cuda"``; asking for CUDA on a machine without it is an error.
    """
    choice = prefer if prefer is not None else os.environ.get("LLMTHEORY_DEVICE")
    if choice is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if not isinstance(choice, str):
        raise TypeError(f"prefer must be a string or None, got {type(choice).__name__}")
    if choice not in _DEVICES:
        raise ValueError(f"prefer must be one of {_DEVICES}, got {choice!r}")
    if choice == "cuda" and not torch.cuda.is_available():
        raise ValueError("prefer='cuda' but no CUDA device is available")
    return torch.device(choice)


def set_threads(n: int = 1) -> None:
    """Use ``n`` CPU threads in PyTorch.

    Chapters run on one thread: the budgets are stated for one core, and on a loaded
    2-core machine two threads made a small transformer step many times slower.
    """
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"n must be an int, got {type(n).__name__}")
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    torch.set_num_threads(n)
