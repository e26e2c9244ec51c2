"""The ``check`` helper: every claim a chapter makes is asserted against its equation."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .validation import check_array, check_bool, check_scalar, check_str

__all__ = ["CheckFailure", "CheckResult", "check"]


class CheckFailure(AssertionError):
    """A claim that the simulation contradicts: names the check and the equation it tests."""

    def __init__(self, name: str, equation: str, detail: str) -> None:
        super().__init__(f"{name} disagrees with {equation}: {detail}")
        self.name = name
        self.equation = equation


@dataclass(frozen=True)
class CheckResult:
    """What one passed check compared, for display in a chapter's summary."""

    name: str
    equation: str
    value: float | np.ndarray
    criterion: str

    def __post_init__(self) -> None:
        for field in ("name", "equation", "criterion"):
            check_str(getattr(self, field), field)

    def __str__(self) -> str:
        return f"✓ {self.name} [{self.equation}]: {_fmt(self.value)} {self.criterion}"

    def _ipython_display_(self) -> None:
        """Show nothing when a cell ends with ``check(...)``: the check printed its ✓ line."""


def _fmt(x: float | np.ndarray) -> str:
    arr = np.asarray(x, dtype=float)
    if arr.ndim == 0:
        return f"{float(arr):.6g}"
    return np.array2string(arr, precision=4, threshold=8)


def _as_float_array(x: object, parameter: str) -> np.ndarray:
    """``x`` as a non-empty float array of real numbers (NaN and infinities kept)."""
    return check_array(x, parameter, dtype="float", finite=False)


def check(
    name: str,
    value: float | np.ndarray,
    expected: float | np.ndarray | None = None,
    *,
    rtol: float | np.ndarray = 0.0,
    atol: float | np.ndarray = 0.0,
    lower: float | None = None,
    upper: float | None = None,
    exact: bool = False,
    equation: str,
    quiet: bool = False,
) -> CheckResult:
    """Assert that a simulated ``value`` agrees with the theory and say which equation.

    Three kinds of claim are supported, alone or together:

    * closeness, ``|value - expected| <= atol + rtol * |expected|`` elementwise;
    * equality, ``value == expected`` elementwise, for integers and booleans (``exact=True``);
    * bounds, ``lower <= value <= upper`` elementwise.

    Parameters
    ----------
    name
        What is compared, in words (shown on success and in the error).
    value, expected
        The simulated value and the derived one (scalars or arrays of one shape).
    rtol, atol
        Non-negative tolerances for the closeness claim (scalars, or arrays broadcasting
        against ``expected``, e.g. a few Monte-Carlo standard errors per point); one must
        be positive.
    lower, upper
        Optional bounds on ``value``.
    exact
        Compare integers or booleans for equality (no tolerance): counts, indices, states,
        decisions. Floats are refused here: they are compared with a tolerance.
    equation
        The label of the equation or criterion tested, e.g. ``"eq-de-e1"``.
    quiet
        Do not print the success line.

    Raises
    ------
    CheckFailure
        An ``AssertionError`` naming the check, the equation, the values and the tolerance,
        when the claim fails (a NaN or infinite value fails every claim).
    ValueError, TypeError
        For a malformed claim: no claim, an empty, NaN or infinite ``expected`` or bound,
        a negative tolerance, a closeness claim without one, a float in an exact claim.
    """
    check_str(name, "name", allow_empty=False)
    check_str(equation, "equation", allow_empty=False)  # the label of the equation tested
    quiet = check_bool(quiet, "quiet")
    exact = check_bool(exact, "exact")
    if expected is None and lower is None and upper is None:
        raise ValueError("check needs expected (with rtol/atol, or exact=True) or a bound")
    if exact:
        return _check_exact(
            name,
            value,
            expected,
            rtol=rtol,
            atol=atol,
            equation=equation,
            lower=lower,
            upper=upper,
            quiet=quiet,
        )
    rtol = check_array(rtol, "rtol", dtype="float")
    atol = check_array(atol, "atol", dtype="float")
    for tol_name, tol in (("rtol", rtol), ("atol", atol)):
        if np.any(tol < 0):
            raise ValueError(f"{tol_name} must be non-negative, got {_fmt(tol)}")
    if expected is not None and not np.any(rtol > 0) and not np.any(atol > 0):
        raise ValueError("a closeness check needs rtol > 0 or atol > 0")
    if lower is not None:
        lower = check_scalar(lower, "lower", kind=float)
    if upper is not None:
        upper = check_scalar(upper, "upper", kind=float)
    if lower is not None and upper is not None and lower > upper:
        raise ValueError(f"lower ({lower}) must not exceed upper ({upper})")

    val = _as_float_array(value, "value")
    if not np.all(np.isfinite(val)):
        raise CheckFailure(name, equation, f"value is not finite: {_fmt(val)}")
    criteria: list[str] = []
    failures: list[str] = []
    if expected is not None:
        exp = check_array(expected, "expected", dtype="float")
        try:
            err, tol = np.broadcast_arrays(np.abs(val - exp), atol + rtol * np.abs(exp))
        except ValueError as exc:
            raise ValueError(
                f"value {val.shape}, expected {exp.shape} and tolerances do not broadcast"
            ) from exc
        tolerance = f"rtol={_fmt(rtol)}, atol={_fmt(atol)}"
        criteria.append(f"≈ {_fmt(exp)} ({tolerance})")
        if not np.all(err <= tol):
            worst = np.unravel_index(np.argmax(err - tol), err.shape)
            failures.append(
                f"expected {_fmt(exp)} within {tolerance}; largest miss "
                f"{float(err[worst]):.3g} (allowed {float(tol[worst]):.3g}) "
                f"at index {tuple(int(i) for i in worst)}"
            )
    if lower is not None:
        criteria.append(f"≥ {lower:g}")
        if not np.all(val >= lower):
            failures.append(f"expected ≥ {lower:g}")
    if upper is not None:
        criteria.append(f"≤ {upper:g}")
        if not np.all(val <= upper):
            failures.append(f"expected ≤ {upper:g}")
    if failures:
        raise CheckFailure(name, equation, f"got {_fmt(val)}; " + "; ".join(failures))
    result = CheckResult(name, equation, val if val.ndim else float(val), ", ".join(criteria))
    if not quiet:
        print(result)
    return result


def _check_exact(
    name: str,
    value: object,
    expected: object,
    *,
    rtol: object,
    atol: object,
    lower: object,
    upper: object,
    equation: str,
    quiet: bool,
) -> CheckResult:
    """``check(..., exact=True)``: integers or booleans equal to ``expected`` elementwise."""
    if expected is None:
        raise ValueError("exact=True needs expected")
    if lower is not None or upper is not None:
        raise ValueError("exact=True compares with expected; give no lower/upper bound")
    if np.any(np.asarray(rtol) != 0) or np.any(np.asarray(atol) != 0):
        raise ValueError("exact=True takes no tolerance (rtol, atol)")
    val = check_array(value, "value", dtype=None)
    exp = check_array(expected, "expected", dtype=None)
    for label, arr in (("value", val), ("expected", exp)):
        if arr.dtype.kind not in "biu":
            raise TypeError(
                f"exact=True compares integers or booleans; {label} has dtype {arr.dtype} "
                "(compare floats with rtol or atol)"
            )
    try:
        val_b, exp_b = np.broadcast_arrays(val, exp)
    except ValueError as exc:
        raise ValueError(f"value {val.shape} and expected {exp.shape} do not broadcast") from exc
    differ = val_b != exp_b
    if np.any(differ):
        first = tuple(int(i) for i in np.argwhere(differ)[0])
        raise CheckFailure(
            name,
            equation,
            f"got {_fmt(val)}; expected exactly {_fmt(exp)}; {int(differ.sum())} of "
            f"{differ.size} entries differ, the first at index {first}",
        )
    result = CheckResult(name, equation, val if val.ndim else val.item(), f"= {_fmt(exp)} exactly")
    if not quiet:
        print(result)
    return result
