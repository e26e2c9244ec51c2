"""Argument checks shared by the library's public functions.

One place checks type, range, finiteness, shape, dtype and device, in the style of
scikit-learn's ``check_scalar``, ``check_array`` and ``check_random_state``. Every message
has the form ``"<name> must be <expectation>, got <what was given>"``, so an error names the
parameter at fault and says what was expected.

* :func:`check_scalar`, :func:`check_int`, :func:`check_bool`: numbers and flags;
* :func:`check_array` (NumPy) and :func:`check_tensor` (PyTorch): arrays;
* :func:`check_probabilities`: a probability vector;
* :func:`check_generator`: a NumPy or PyTorch random generator; :func:`check_device`;
* :func:`check_choice`, :func:`check_str`, :func:`check_str_list`, :func:`check_callable`,
  :func:`check_dtype`,
  :func:`check_instance`: everything else;
* :func:`check_memory`: refuse a call whose arrays would exceed a memory limit before
  anything is allocated (:class:`MemoryLimitError`, a :class:`ValueError`).

The memory limit is ``LLMTHEORY_MEMORY_LIMIT_GB`` gigabytes (GiB), 2 by default.
"""

from __future__ import annotations

import math
import os
from collections.abc import Collection, Iterable
from numbers import Integral, Real
from typing import Any

import numpy as np
import torch

__all__ = [
    "MEMORY_LIMIT_ENV",
    "MemoryLimitError",
    "check_array",
    "check_bool",
    "check_callable",
    "check_choice",
    "check_device",
    "check_dtype",
    "check_generator",
    "check_instance",
    "check_int",
    "check_memory",
    "check_probabilities",
    "check_scalar",
    "check_str",
    "check_str_list",
    "check_tensor",
    "describe",
    "memory_limit_bytes",
]

MEMORY_LIMIT_ENV = "LLMTHEORY_MEMORY_LIMIT_GB"
"""The environment variable holding the memory limit of :func:`check_memory`, in GiB."""
_DEFAULT_MEMORY_LIMIT_GB = 2.0
_GIB = 1024**3


class MemoryLimitError(ValueError):
    """A call would allocate more memory than the limit of :func:`check_memory`.

    A subclass of :class:`ValueError`: the arguments ask for too large a computation.
    """


# ------------------------------------------------------------------------------ messages


def describe(x: object) -> str:
    """A short description of ``x`` for an error message: its value, or its type and shape."""
    if isinstance(x, torch.Tensor):
        return f"a tensor of shape {tuple(x.shape)} and dtype {x.dtype} on {x.device}"
    if isinstance(x, np.ndarray):
        return f"an array of shape {x.shape} and dtype {x.dtype}"
    if x is None:
        return "None"
    if isinstance(x, (bool, np.bool_, Real, complex, np.generic)):
        return f"{type(x).__name__} {x if isinstance(x, np.generic) else repr(x)}"
    if isinstance(x, str):
        return "str " + (repr(x) if len(x) <= 40 else repr(x[:37] + "..."))
    if isinstance(x, (list, tuple)):
        return f"a {type(x).__name__} of length {len(x)}"
    return f"an object of type {type(x).__name__}"


def _bounds(
    minimum: float | None, maximum: float | None, include_min: bool, include_max: bool
) -> str:
    minimum, maximum = _num(minimum), _num(maximum)
    if minimum is not None and maximum is not None:
        left, right = "[" if include_min else "(", "]" if include_max else ")"
        return f"in {left}{minimum}, {maximum}{right}"
    if minimum is not None:
        return f"{'>=' if include_min else '>'} {minimum}"
    return f"{'<=' if include_max else '<'} {maximum}"


def _num(x: float | None) -> str | None:
    if x is None:
        return None
    return f"{x:g}" if isinstance(x, float) else str(x)


# ------------------------------------------------------------------------------- scalars

_KIND_WORDS = {int: "an int", float: "a real number", bool: "a bool", complex: "a number"}


def _as_number(x: object) -> object:
    """Unwrap a 0-d NumPy array or a one-element CPU tensor into a Python/NumPy scalar."""
    if isinstance(x, np.ndarray) and x.ndim == 0:
        return x[()]
    if isinstance(x, torch.Tensor) and x.ndim == 0:
        return x.item()
    return x


def check_scalar(
    x: object,
    name: str,
    *,
    kind: type | tuple[type, ...] = float,
    minimum: float | None = None,
    maximum: float | None = None,
    include_min: bool = True,
    include_max: bool = True,
    finite: bool = True,
) -> Any:
    """Return the number ``x`` checked for type and range.

    Parameters
    ----------
    x
        The value; Python and NumPy numbers and 0-d arrays or tensors are accepted.
    name
        The parameter's name, for the messages.
    kind
        ``int`` (an integer, not a bool; returned as ``int``), ``float`` (any real number,
        ints included; returned as ``float``), or ``(int, float)`` (any real number, returned
        as ``int`` when it is an integer and as ``float`` otherwise).
    minimum, maximum, include_min, include_max
        Bounds, inclusive unless ``include_min``/``include_max`` is False.
    finite
        Refuse NaN and infinities (when ``kind`` allows floats).

    Raises
    ------
    TypeError
        If ``x`` is not of ``kind``.
    ValueError
        If ``x`` is not finite (with ``finite``) or lies outside the bounds.
    """
    kinds = kind if isinstance(kind, tuple) else (kind,)
    value = _as_number(x)
    if kinds == (int,):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, Integral):
            raise TypeError(f"{name} must be an int, got {describe(x)}")
        value = int(value)
    elif float in kinds:
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, Real):
            raise TypeError(f"{name} must be a real number, got {describe(x)}")
        if isinstance(value, Integral) and int in kinds:
            value = int(value)
        else:
            value = float(value)
            if finite and not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number, got {value}")
            if math.isnan(value):
                raise ValueError(f"{name} must be a number, got nan")
    else:
        raise ValueError(f"kind must be int, float or (int, float), got {kind!r}")
    too_low = minimum is not None and (value < minimum if include_min else value <= minimum)
    too_high = maximum is not None and (value > maximum if include_max else value >= maximum)
    if too_low or too_high:
        what = "an int" if kinds == (int,) else "a number"
        raise ValueError(
            f"{name} must be {what} {_bounds(minimum, maximum, include_min, include_max)}, "
            f"got {value}"
        )
    return value


def check_int(
    value: object, name: str, minimum: int | None = 1, *, maximum: int | None = None
) -> int:
    """Return ``value`` as an ``int`` if it is an integer (not a bool) in ``[minimum, maximum]``.

    NumPy integers and 0-d integer arrays are accepted.

    Raises
    ------
    TypeError
        If ``value`` is not an integer; the message names the parameter ``name``.
    ValueError
        If ``value < minimum`` or ``value > maximum``.
    """
    value = check_scalar(value, name, kind=int)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be at most {maximum}, got {value}")
    return value


def check_bool(x: object, name: str) -> bool:
    """Return ``x`` as a ``bool`` if it is a Python or NumPy bool.

    Raises
    ------
    TypeError
        For anything else (``0``, ``"no"``, ``None``...).
    """
    x = _as_number(x)
    if not isinstance(x, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool (True or False), got {describe(x)}")
    return bool(x)


# -------------------------------------------------------------------------------- arrays

_DTYPES = ("float", "int", "integral", "bool", "numeric")


def _tuple(x) -> tuple:
    return x if isinstance(x, tuple) else (x,)


def _shape_text(shape: tuple) -> str:
    parts = ["*" if s is None else str(s) for s in shape]
    return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"


def _check_shape(arr_shape: tuple, arr_ndim: int, name: str, ndim, shape, got: str) -> None:
    if ndim is not None:
        allowed = ndim if isinstance(ndim, tuple) else (ndim,)
        if arr_ndim not in allowed:
            want = " or ".join(f"{d}-D" for d in allowed)
            raise ValueError(f"{name} must be a {want} array, got {got}")
    if shape is not None:
        ok = len(arr_shape) == len(shape) and all(
            s is None or s == a for s, a in zip(shape, arr_shape, strict=True)
        )
        if not ok:
            raise ValueError(f"{name} must have shape {_shape_text(shape)}, got {got}")


def _nonfinite_text(n_nan: int, n_inf: int, size: int) -> str:
    parts = [f"{n} {w}" for n, w in ((n_nan, "NaN"), (n_inf, "infinite")) if n]
    return " and ".join(parts) + f" value(s) among {size}"


def check_array(
    x: object,
    name: str,
    *,
    ndim: int | tuple[int, ...] | None = None,
    shape: tuple[int | None, ...] | None = None,
    dtype: str | None = "float",
    finite: bool = True,
    allow_empty: bool = False,
    min_size: int | None = None,
) -> np.ndarray:
    """Return ``x`` as a NumPy array checked for dtype, shape, size and finiteness.

    Lists, tuples, NumPy scalars and arrays, and tensors (detached and moved to the CPU)
    are accepted.

    Parameters
    ----------
    dtype
        ``"float"``: real numbers (bools and integers included), returned as float64;
        ``"int"``: an integer dtype (not bool), returned as it is; ``"integral"``: integers,
        or floats holding whole numbers, returned as int64; ``"bool"``: a boolean dtype;
        ``"numeric"``: any real dtype, kept; ``None``: anything.
    ndim, shape
        Required number of dimensions (an int or a tuple of allowed ones) and shape
        (``None`` entries match any length).
    finite
        Refuse NaN and infinities.
    allow_empty, min_size
        Refuse an array with no entries (unless ``allow_empty``) or fewer than ``min_size``.

    Raises
    ------
    TypeError
        If ``x`` is not an array of the required dtype.
    ValueError
        For a wrong shape, size or a non-finite entry.
    """
    if dtype not in (*_DTYPES, None):
        raise ValueError(f"dtype must be one of {_DTYPES} or None, got {dtype!r}")
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    if isinstance(x, (str, bytes, dict, set)) or x is None:
        what = (
            "an array"
            if ndim not in (None, 0) and 0 not in _tuple(ndim)
            else "a number or an array"
        )
        raise TypeError(f"{name} must be {what}, got {describe(x)}")
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as exc:  # ragged nested lists
        raise TypeError(f"{name} must be an array (not a ragged list), got {describe(x)}") from exc
    if arr.dtype.kind == "O" and dtype in ("float", "numeric", "integral") and arr.size:
        flat = arr.ravel()
        if all(isinstance(v, Real) and not isinstance(v, (bool, np.bool_)) for v in flat):
            arr = arr.astype(float)  # e.g. a list of Fractions or 0-d tensors of two dtypes
    got = describe(arr)
    kind = arr.dtype.kind
    if dtype is not None:
        real = kind in "biuf"
        if dtype == "float" and not real:
            raise TypeError(f"{name} must be an array of real numbers, got {got}")
        if dtype == "numeric" and not real:
            raise TypeError(f"{name} must be an array of real numbers, got {got}")
        if dtype == "int" and kind not in "iu":
            raise TypeError(f"{name} must be an array of integers, got {got}")
        if dtype == "integral" and kind not in "iuf":
            raise TypeError(f"{name} must be an array of integers, got {got}")
        if dtype == "bool" and kind != "b":
            raise TypeError(f"{name} must be a boolean array, got {got}")
    _check_shape(arr.shape, arr.ndim, name, ndim, shape, got)
    if arr.size == 0 and not allow_empty:
        raise ValueError(f"{name} must be non-empty, got {got}")
    if min_size is not None and arr.size < min_size:
        raise ValueError(f"{name} must have at least {min_size} entries, got {got}")
    if finite and kind in "fc":
        bad = ~np.isfinite(arr)
        if bad.any():
            n_nan = int(np.isnan(arr).sum())
            raise ValueError(
                f"{name} must hold only finite values, got "
                + _nonfinite_text(n_nan, int(bad.sum()) - n_nan, arr.size)
            )
    if dtype == "float":
        return arr.astype(float, copy=False)
    if dtype == "integral" and kind == "f":
        if arr.size and (not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr))):
            raise TypeError(f"{name} must be an array of integers, got non-integer values")
        if arr.size and np.abs(arr).max() >= 2**63:
            raise ValueError(f"{name} must hold integers below 2**63 in magnitude")
        return arr.astype(np.int64)
    return arr


_TORCH_DTYPES = {
    "float": "a floating-point",
    "long": "an integer (torch.long)",
    "int": "an integer",
    "bool": "a boolean",
}


def check_tensor(
    x: object,
    name: str,
    *,
    ndim: int | tuple[int, ...] | None = None,
    shape: tuple[int | None, ...] | None = None,
    dtype: str | torch.dtype | None = "float",
    finite: bool = True,
    allow_empty: bool = False,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Return the tensor ``x`` checked for dtype, shape, size, finiteness and device.

    Parameters
    ----------
    dtype
        ``"float"`` (any floating dtype), ``"long"`` (``torch.long``), ``"int"`` (any
        integer dtype), ``"bool"``, a :class:`torch.dtype`, or ``None`` (anything).
    device
        When given, the device the tensor must be on (``"cuda"`` matches any CUDA device).

    Raises
    ------
    TypeError
        If ``x`` is not a tensor or has another dtype.
    ValueError
        For a wrong shape, an empty tensor, a non-finite entry or another device.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {describe(x)}")
    got = describe(x)
    if dtype is not None:
        if isinstance(dtype, torch.dtype):
            ok, want = x.dtype == dtype, f"tensor of dtype {dtype}"
        elif dtype == "float":
            ok, want = x.is_floating_point(), "floating-point tensor"
        elif dtype == "long":
            ok, want = x.dtype == torch.long, "tensor of dtype torch.long (int64)"
        elif dtype == "int":
            ok = not x.is_floating_point() and not x.is_complex() and x.dtype != torch.bool
            want = "tensor of an integer dtype"
        elif dtype == "bool":
            ok, want = x.dtype == torch.bool, "boolean tensor"
        else:
            raise ValueError(f"dtype must be one of {tuple(_TORCH_DTYPES)}, a torch.dtype or None")
        if not ok:
            raise TypeError(f"{name} must be a {want}, got {got}")
    _check_shape(tuple(x.shape), x.ndim, name, ndim, shape, got)
    if x.numel() == 0 and not allow_empty:
        raise ValueError(f"{name} must be non-empty, got {got}")
    if device is not None:
        want_dev = torch.device(device)
        if x.device.type != want_dev.type or (
            want_dev.index is not None and x.device.index != want_dev.index
        ):
            raise ValueError(f"{name} must be on device {want_dev}, got {got}")
    if finite and (x.is_floating_point() or x.is_complex()):
        bad = ~torch.isfinite(x.detach())
        if bool(bad.any()):
            n_nan = int(torch.isnan(x.detach()).sum())
            raise ValueError(
                f"{name} must hold only finite values, got "
                + _nonfinite_text(n_nan, int(bad.sum()) - n_nan, x.numel())
            )
    return x


def check_probabilities(
    p: object, name: str, *, min_size: int = 1, positive: bool = False, atol: float = 1e-9
) -> np.ndarray:
    """Return ``p`` as a float64 probability vector: 1-D, finite, non-negative (positive with
    ``positive``), summing to one within ``atol``, with at least ``min_size`` entries."""
    p = check_array(p, name, ndim=1, dtype="float")
    if p.size < min_size:
        raise ValueError(f"{name} must have at least {min_size} entries, got {p.size}")
    if positive and np.any(p <= 0):
        raise ValueError(f"{name} must hold positive probabilities, got min {p.min():.3g}")
    if np.any(p < 0):
        raise ValueError(f"{name} must hold non-negative probabilities, got min {p.min():.3g}")
    if abs(p.sum() - 1.0) > atol:
        raise ValueError(f"{name} must sum to 1, got a sum of {p.sum():.12g}")
    return p


# ---------------------------------------------------------------------------- generators


def check_generator(
    x: object, name: str, *, kind: str = "numpy", allow_none: bool = False
) -> np.random.Generator | torch.Generator | None:
    """Return ``x`` if it is a random generator of ``kind``.

    ``kind`` is ``"numpy"`` (a :class:`numpy.random.Generator`, such as the one
    :func:`llmtheory.seeding.seed_everything` returns), ``"torch"`` (a
    :class:`torch.Generator`) or ``"any"`` (either). ``None`` passes when ``allow_none``.

    Raises
    ------
    TypeError
        For anything else (a seed, the legacy ``RandomState``, the other library's generator).
    """
    if x is None and allow_none:
        return None
    wants = {
        "numpy": (np.random.Generator,),
        "torch": (torch.Generator,),
        "any": (np.random.Generator, torch.Generator),
    }
    if kind not in wants:
        raise ValueError(f"kind must be one of {tuple(wants)}, got {kind!r}")
    if not isinstance(x, wants[kind]):
        what = {
            "numpy": "a numpy.random.Generator (from seed_everything)",
            "torch": "a torch.Generator",
            "any": "a numpy.random.Generator or a torch.Generator",
        }[kind]
        none = " or None" if allow_none else ""
        raise TypeError(f"{name} must be {what}{none}, got {describe(x)}")
    return x


def check_device(x: object, name: str, *, allow_none: bool = True) -> torch.device | None:
    """Return ``x`` as a :class:`torch.device` (``None`` passes when ``allow_none``).

    Raises
    ------
    TypeError
        If ``x`` is neither a device nor a string.
    ValueError
        If the string names no device, or names CUDA on a machine without it.
    """
    if x is None and allow_none:
        return None
    if isinstance(x, str):
        try:
            device = torch.device(x)
        except (RuntimeError, ValueError):
            raise ValueError(
                f"{name} must name a torch device such as 'cpu' or 'cuda', got {x!r}"
            ) from None
    elif isinstance(x, torch.device):
        device = x
    else:
        none = " or None" if allow_none else ""
        raise TypeError(f"{name} must be a torch.device or a string such as 'cpu'{none}, "
                        f"got {describe(x)}")  # fmt: skip
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"{name} is {str(device)!r} but no CUDA device is available")
    return device


# ------------------------------------------------------------------------ other objects


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


def check_str(
    x: object, name: str, *, allow_none: bool = False, allow_empty: bool = True
) -> str | None:
    """Return ``x`` if it is a string (non-empty unless ``allow_empty``; ``None`` passes when
    ``allow_none``).

    Raises
    ------
    TypeError
        If ``x`` is not a string.
    ValueError
        If ``x`` is empty and not ``allow_empty``.
    """
    if x is None and allow_none:
        return None
    what = "a string" if allow_empty else "a non-empty string"
    if not isinstance(x, str):
        none = " or None" if allow_none else ""
        raise TypeError(f"{name} must be {what}{none}, got {describe(x)}")
    if not x and not allow_empty:
        raise ValueError(f"{name} must be {what}, got ''")
    return x


def check_dtype(x: object, name: str, *, floating: bool = True) -> torch.dtype:
    """Return ``x`` if it is a :class:`torch.dtype` (a floating one with ``floating``).

    Raises
    ------
    TypeError
        Otherwise.
    """
    if not isinstance(x, torch.dtype) or (floating and not x.is_floating_point):
        what = "a floating-point torch.dtype" if floating else "a torch.dtype"
        raise TypeError(f"{name} must be {what} such as torch.float32, got {x!r}")
    return x


def check_str_list(x: object, name: str, *, allow_empty: bool = False) -> list[str]:
    """Return ``x`` as a list of strings; a lone string is refused (it is not a list of words).

    Raises
    ------
    TypeError
        If ``x`` is a string, not iterable, or holds a non-string.
    ValueError
        If ``x`` is empty and not ``allow_empty``.
    """
    if isinstance(x, (str, bytes)):
        raise TypeError(f"{name} must be a list of strings, got a single string {describe(x)}")
    if isinstance(x, (np.ndarray, torch.Tensor)) or not isinstance(x, Iterable):
        raise TypeError(f"{name} must be a list of strings, got {describe(x)}")
    items = list(x)
    for i, item in enumerate(items):
        if not isinstance(item, str):
            raise TypeError(f"{name} must be a list of strings, got {describe(item)} at index {i}")
    if not items and not allow_empty:
        raise ValueError(f"{name} must be a non-empty list of strings, got an empty list")
    return items


def check_callable(x: object, name: str) -> Any:
    """Return ``x`` if it is callable.

    Raises
    ------
    TypeError
        Otherwise.
    """
    if not callable(x):
        raise TypeError(f"{name} must be callable, got {describe(x)}")
    return x


def check_instance(x: object, name: str, cls: type | tuple[type, ...], what: str | None = None):
    """Return ``x`` if it is an instance of ``cls`` (described as ``what`` in the message).

    Raises
    ------
    TypeError
        Otherwise.
    """
    if not isinstance(x, cls):
        if what is None:
            classes = cls if isinstance(cls, tuple) else (cls,)
            what = " or ".join(f"a {c.__module__.split('.')[0]}.{c.__qualname__}" for c in classes)
            what = what.replace("a builtins.", "a ")
        raise TypeError(f"{name} must be {what}, got {describe(x)}")
    return x


# -------------------------------------------------------------------------------- memory


def memory_limit_bytes() -> int:
    """The memory limit of :func:`check_memory` in bytes, from ``LLMTHEORY_MEMORY_LIMIT_GB``.

    Raises
    ------
    ValueError
        If the environment variable is set to something other than a positive number.
    """
    raw = os.environ.get(MEMORY_LIMIT_ENV, "").strip()
    if not raw:
        return int(_DEFAULT_MEMORY_LIMIT_GB * _GIB)
    try:
        gb = float(raw)
    except ValueError:
        gb = float("nan")
    if not (math.isfinite(gb) and gb > 0):
        raise ValueError(f"{MEMORY_LIMIT_ENV} must be a positive number of GiB, got {raw!r}")
    return int(gb * _GIB)


def _size_text(n_bytes: float) -> str:
    for unit, size in (("GiB", _GIB), ("MiB", 1024**2), ("KiB", 1024)):
        if n_bytes >= size:
            return f"{n_bytes / size:.3g} {unit}"
    return f"{n_bytes:.0f} bytes"


def check_memory(n_bytes: float, what: str, limit: float | None = None) -> None:
    """Refuse a computation whose arrays would take more than ``limit`` bytes.

    Call it with an estimate before allocating. ``limit`` defaults to
    :func:`memory_limit_bytes` (``LLMTHEORY_MEMORY_LIMIT_GB``, 2 GiB when unset).

    Raises
    ------
    MemoryLimitError
        With the estimate, the limit and how to raise it.
    """
    cap = memory_limit_bytes() if limit is None else limit
    if n_bytes > cap:
        raise MemoryLimitError(
            f"{what} would need about {_size_text(float(n_bytes))}, more than the limit of "
            f"{_size_text(float(cap))}; use smaller sizes, or raise the limit with the "
            f"environment variable {MEMORY_LIMIT_ENV}"
        )
