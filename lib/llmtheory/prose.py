"""Numbers a chapter quotes in its prose.

A chapter's text quotes computed numbers with MyST's inline expressions (the ``eval`` role,
applied to ``quoted["name"]``). The book build evaluates them in the chapter's kernel (myst-nb's
inline execution), JupyterLab evaluates them with jupyterlab-myst once the cells have run, and
the plain-notebook editions carry the values of the build. An expression shows the ``repr`` of
its value, so a number is wrapped in :class:`Quoted`, whose ``repr`` is the number formatted as
the sentence needs it.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

from .validation import check_str

__all__ = ["Quoted", "quote"]


@dataclass(frozen=True)
class Quoted:
    """A value and the format specification the prose shows it with."""

    value: object
    spec: str = ""

    def __post_init__(self) -> None:
        check_str(self.spec, "spec")

    def __repr__(self) -> str:
        return format(self.value, self.spec)

    def __str__(self) -> str:
        return repr(self)


def quote(value: object, spec: str = "") -> Quoted:
    """Wrap ``value`` for an inline expression of the prose, formatted with ``spec``.

    Parameters
    ----------
    value : float, int or str
        A real number (numpy scalars and 0-d arrays included) or a string.
    spec : str
        A format specification of Python's ``format``, for example ``".3f"`` or ``","``.

    Examples
    --------
    >>> quote(0.12345, ".3f")
    0.123
    """
    check_str(spec, "spec")  # a format specification such as ".3f"
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        value = value.item()
    if not isinstance(value, numbers.Real | str) or isinstance(value, bool):
        raise TypeError(f"value must be a real number or a string, got {type(value).__name__}")
    if isinstance(value, numbers.Real) and value != value:
        raise ValueError("value must be a number, got NaN: the computation it quotes failed")
    try:
        format(value, spec)
    except ValueError as error:
        raise ValueError(f"spec {spec!r} cannot format value {value!r}: {error}") from None
    return Quoted(value, spec)
