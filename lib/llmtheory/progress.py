"""Progress bars that show in an interactive session and stay quiet in builds and tests."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm.auto import tqdm

from .validation import check_int, check_str, describe

__all__ = ["progress", "progress_enabled"]

T = TypeVar("T")

_ENV = "LLMTHEORY_PROGRESS"
_FALSE = {"", "0", "false", "no", "off"}


def progress_enabled() -> bool:
    """Whether progress bars are shown.

    ``LLMTHEORY_PROGRESS=0`` (set by the Makefile for the book build, nbval and the
    benchmark) or ``CI`` set to a true value (anything but empty, ``0``, ``false``, ``no``
    or ``off``) turns them off; ``LLMTHEORY_PROGRESS=1`` turns them on. Otherwise they
    show in a Jupyter kernel or on a terminal.
    """
    setting = os.environ.get(_ENV, "").strip().lower()
    if setting in _FALSE - {""}:
        return False
    if setting in {"1", "true", "yes", "on"}:
        return True
    if os.environ.get("CI", "").strip().lower() not in _FALSE:
        return False
    return "ipykernel" in sys.modules or sys.stderr.isatty()


def progress(
    iterable: Iterable[T], *, total: int | None = None, desc: str | None = None
) -> Iterator[T]:
    """Wrap ``iterable`` in a tqdm bar when :func:`progress_enabled`, else return it as is."""
    if not isinstance(iterable, Iterable):
        raise TypeError(f"iterable must be iterable (a list, a range...), got {describe(iterable)}")
    check_str(desc, "desc", allow_none=True)
    if total is not None:
        total = check_int(total, "total", 0)
    if not progress_enabled():
        return iter(iterable)
    return iter(tqdm(iterable, total=total, desc=desc, leave=False))
