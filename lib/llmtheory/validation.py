"""Argument checks shared by the library's public functions."""

from __future__ import annotations

from numbers import Integral

__all__ = ["check_int"]


def check_int(value: object, name: str, minimum: int = 1) -> int:
    """Return ``value`` as an ``int`` if it is an integer (not a bool) of at least ``minimum``.

    Raises
    ------
    TypeError
        If ``value`` is not an integer; the message names the parameter ``name``.
    ValueError
        If ``value < minimum``.
    """
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return int(value)
