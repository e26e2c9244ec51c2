"""Argument checks shared by the library's public functions."""

from __future__ import annotations

from collections.abc import Collection
from numbers import Integral

__all__ = ["check_choice", "check_int"]


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


def check_choice(value: object, name: str, choices: Collection[str]) -> str:
    """Return ``value`` if it is one of the strings ``choices``.

    Raises
    ------
    TypeError
        If ``value`` is not a ``str``; the message names the parameter ``name``.
    ValueError
        If ``value`` is not in ``choices``; the message names the parameter and lists them.
    """
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type(value).__name__}")
    if value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {value!r}")
    return value
