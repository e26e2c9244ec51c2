"""Progress bars that show in an interactive session and stay quiet in builds and tests."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm.auto import tqdm

__all__ = ["progress", "progress_enabled"]

T = TypeVar("T")

_ENV = "LLMTHEORY_PROGRESS"


def progress_enabled() -> bool:
    """Whether progress bars are shown.

    ``LLMTHEORY_PROGRESS=0`` (set by the Makefile for the book build, nbval and the
    benchmark) or ``CI`` in the environment turns them off; ``LLMTHEORY_PROGRESS=1``
    turns them on. Otherwise they show in a Jupyter kernel or on a terminal.
    """
    setting = os.environ.get(_ENV, "").strip().lower()
    if setting in {"0", "false", "no", "off"}:
        return False
    if setting in {"1", "true", "yes", "on"}:
        return True
    if os.environ.get("CI"):
        return False
    return "ipykernel" in sys.modules or sys.stderr.isatty()


def progress(
    iterable: Iterable[T], *, total: int | None = None, desc: str | None = None
) -> Iterator[T]:
    """Wrap ``iterable`` in a tqdm bar when :func:`progress_enabled`, else return it as is."""
    if desc is not None and not isinstance(desc, str):
        raise TypeError(f"desc must be a string or None, got {type(desc).__name__}")
    if total is not None and (isinstance(total, bool) or not isinstance(total, int) or total < 0):
        raise ValueError(f"total must be a non-negative int or None, got {total!r}")
    if not progress_enabled():
        return iter(iterable)
    return iter(tqdm(iterable, total=total, desc=desc, leave=False))
