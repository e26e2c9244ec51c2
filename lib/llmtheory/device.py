"""Device selection and thread settings: the same code uses a GPU where there is one."""

from __future__ import annotations

import os

import torch

from .validation import check_choice, check_int

__all__ = ["get_device", "set_threads"]

_DEVICES = ("cpu", "cuda")
_MAX_THREADS = 4096


def get_device(prefer: str | None = None) -> torch.device:
    """Return CUDA when present, else the CPU.

    ``prefer`` (or the environment variable ``LLMTHEORY_DEVICE``) forces one of
    ``"cpu"`` or ``"cuda"``; asking for CUDA on a machine without it is an error.
    """
    choice = prefer if prefer is not None else os.environ.get("LLMTHEORY_DEVICE")
    if choice is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    name = "prefer" if prefer is not None else "LLMTHEORY_DEVICE"
    choice = check_choice(choice, name, _DEVICES)
    if choice == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"{name}='cuda' but no CUDA device is available")
    return torch.device(choice)


def set_threads(n: int = 1) -> None:
    """Use ``n`` CPU threads in PyTorch.

    Chapters run on one thread: the budgets are stated for one core, and on a loaded
    2-core machine two threads made a small transformer step many times slower.
    """
    n = check_int(n, "n", maximum=_MAX_THREADS)
    torch.set_num_threads(n)
