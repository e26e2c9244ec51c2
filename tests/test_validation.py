"""Tests of llmtheory.validation: every check names the parameter and says what was expected."""

from __future__ import annotations

import math
import re
from fractions import Fraction

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from llmtheory.validation import (
    MEMORY_LIMIT_ENV,
    MemoryLimitError,
    check_array,
    check_bool,
    check_callable,
    check_choice,
    check_device,
    check_dtype,
    check_generator,
    check_instance,
    check_int,
    check_memory,
    check_probabilities,
    check_scalar,
    check_str,
    check_str_list,
    check_tensor,
    describe,
    memory_limit_bytes,
)

MESSAGE = re.compile(r"^(\w+|\w+ \(its \w+\)) must .+, got .+")


# ---------------------------------------------------------------------------- check_int


def test_accepts_python_and_numpy_integers():
    assert check_int(3, "n") == 3
    assert isinstance(check_int(np.int64(4), "n"), int)
    assert check_int(0, "n", minimum=0) == 0
    assert check_int(np.array(5), "n") == 5
    assert check_int(-7, "i", None) == -7


@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        (True, TypeError, "n must be an int"),
        (2.0, TypeError, "got float"),
        ("3", TypeError, "n must be an int, got str '3'"),
        (None, TypeError, "n must be an int, got None"),
        (0, ValueError, "n must be at least 1, got 0"),
    ],
)
def test_rejects_with_a_message_naming_the_parameter(value, error, message):
    with pytest.raises(error, match=message):
        check_int(value, "n")


def test_check_int_maximum():
    assert check_int(9, "n_digits", maximum=9) == 9
    with pytest.raises(ValueError, match="n_digits must be at most 9, got 10"):
        check_int(10, "n_digits", maximum=9)


# ------------------------------------------------------------------------- check_scalar


@given(st.floats(-1e300, 1e300))
def test_check_scalar_returns_any_finite_real_as_a_float(x):
    out = check_scalar(x, "x")
    assert isinstance(out, float) and out == x


@given(st.sampled_from([math.nan, math.inf, -math.inf, np.float32("nan"), np.float64("-inf")]))
def test_check_scalar_refuses_non_finite_values(x):
    with pytest.raises(ValueError, match=r"^x must be a (finite )?number"):
        check_scalar(x, "x")


@given(st.floats(-10, 10), st.booleans(), st.booleans())
def test_check_scalar_bounds(x, include_min, include_max):
    inside = (x > -1 or (include_min and x == -1)) and (x < 1 or (include_max and x == 1))
    kwargs = dict(minimum=-1, maximum=1, include_min=include_min, include_max=include_max)
    if inside:
        assert check_scalar(x, "phi", **kwargs) == x
    else:
        with pytest.raises(ValueError, match=r"phi must be a number in [\[(]-1, 1[\])], got"):
            check_scalar(x, "phi", **kwargs)


@pytest.mark.parametrize(
    "value", [0.5, np.float32(0.5), np.float64(0.5), np.array(0.5), torch.tensor(0.5), 1, 2**70]
)
def test_check_scalar_accepts_the_forms_chapters_use(value):
    assert check_scalar(value, "lr") == pytest.approx(float(value))


def test_check_scalar_kinds():
    assert check_scalar(3, "eta", kind=(int, float)) == 3
    assert isinstance(check_scalar(3, "eta", kind=(int, float)), int)
    assert isinstance(check_scalar(3, "eta"), float)
    assert check_scalar(np.int32(4), "n", kind=int, minimum=0, include_min=False) == 4
    for bad in (True, "1", None, [1.0], 1j):
        with pytest.raises(TypeError, match="lr must be a real number, got"):
            check_scalar(bad, "lr")
    with pytest.raises(ValueError, match="kind"):
        check_scalar(1, "x", kind=str)
    assert math.isinf(check_scalar(float("inf"), "upper", finite=False))
    with pytest.raises(ValueError, match="upper must be a number, got nan"):
        check_scalar(float("nan"), "upper", finite=False)


def test_check_bool():
    assert check_bool(True, "log") is True
    assert check_bool(np.bool_(False), "log") is False
    for bad in ("no", 0, 1, None):
        with pytest.raises(TypeError, match="log must be a bool"):
            check_bool(bad, "log")


# -------------------------------------------------------------------------- check_array


def test_check_array_converts_what_chapters_pass():
    np.testing.assert_array_equal(check_array([1, 2], "x"), [1.0, 2.0])
    assert check_array([1, 2], "x").dtype == np.float64
    t = torch.ones(2, 3, requires_grad=True)
    assert check_array(t, "W", shape=(2, 3)).shape == (2, 3)
    assert check_array([Fraction(1, 2), 1], "x").tolist() == [0.5, 1.0]
    assert check_array(3.0, "x", ndim=0).shape == ()
    assert check_array([True, False], "mask", dtype="bool").dtype == bool
    assert check_array([1.0, 2.0], "ids", dtype="integral").dtype == np.int64
    assert check_array(np.arange(3), "ids", dtype="int").dtype.kind == "i"


@pytest.mark.parametrize(
    ("value", "kwargs", "error", "message"),
    [
        (None, {}, TypeError, "x must be a number or an array, got None"),
        ("abc", {}, TypeError, "x must be a number or an array, got str"),
        (None, {"ndim": 2}, TypeError, "x must be an array, got None"),
        ([[1.0, 2.0], [3.0]], {}, TypeError, "x must be an array"),
        (["a", "b"], {}, TypeError, "x must be an array of real numbers"),
        ([1.5], {"dtype": "int"}, TypeError, "x must be an array of integers"),
        ([1.5], {"dtype": "integral"}, TypeError, "x must be an array of integers"),
        ([1, 0], {"dtype": "bool"}, TypeError, "x must be a boolean array"),
        ([1.0, 2.0], {"ndim": 2}, ValueError, r"x must be a 2-D array, got an array of shape"),
        (np.ones((2, 3)), {"shape": (2, 2)}, ValueError, r"x must have shape \(2, 2\)"),
        (np.ones((2, 3)), {"shape": (None, 4)}, ValueError, r"x must have shape \(\*, 4\)"),
        ([], {}, ValueError, "x must be non-empty"),
        ([1.0], {"min_size": 2}, ValueError, "x must have at least 2 entries"),
        ([1.0, np.nan, np.inf], {}, ValueError, "1 NaN and 1 infinite value"),
    ],
)
def test_check_array_refuses_with_the_name(value, kwargs, error, message):
    with pytest.raises(error, match=message):
        check_array(value, "x", **kwargs)


def test_check_array_options():
    assert check_array([], "x", allow_empty=True).size == 0
    assert np.isnan(check_array([np.nan], "x", finite=False)[0])
    assert check_array(np.ones((2, 3)), "x", ndim=(1, 2)).ndim == 2
    with pytest.raises(ValueError, match="dtype"):
        check_array([1], "x", dtype="complex")


@settings(max_examples=50, deadline=None)
@given(
    hnp.arrays(
        np.float64,
        hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4),
        elements=st.floats(allow_nan=True, allow_infinity=True),
    )
)
def test_check_array_finite_iff_every_entry_is(arr):
    if np.all(np.isfinite(arr)):
        np.testing.assert_array_equal(check_array(arr, "y"), arr)
    else:
        with pytest.raises(ValueError, match="y must hold only finite values"):
            check_array(arr, "y")


# ------------------------------------------------------------------------- check_tensor


def test_check_tensor():
    x = torch.zeros(2, 3)
    assert check_tensor(x, "x", ndim=2, shape=(2, None)) is x
    assert check_tensor(torch.zeros(2, dtype=torch.long), "ids", dtype="long").dtype == torch.long
    assert check_tensor(torch.zeros(2, dtype=torch.int32), "ids", dtype="int").numel() == 2
    assert check_tensor(torch.zeros(2, dtype=torch.bool), "m", dtype=torch.bool).numel() == 2
    assert check_tensor(x, "x", device="cpu") is x


@pytest.mark.parametrize(
    ("value", "kwargs", "error", "message"),
    [
        (np.zeros(3), {}, TypeError, "x must be a torch.Tensor, got an array"),
        (torch.zeros(3, dtype=torch.long), {}, TypeError, "x must be a floating-point tensor"),
        (torch.zeros(3), {"dtype": "long"}, TypeError, r"x must be a tensor of dtype torch.long"),
        (torch.zeros(3), {"dtype": "bool"}, TypeError, "x must be a boolean tensor"),
        (torch.zeros(3), {"dtype": "int"}, TypeError, "x must be a tensor of an integer dtype"),
        (torch.zeros(3), {"ndim": 2}, ValueError, "x must be a 2-D array"),
        (torch.zeros(0, 3), {}, ValueError, "x must be non-empty"),
        (torch.tensor([1.0, float("nan")]), {}, ValueError, "x must hold only finite values"),
    ],
)
def test_check_tensor_refuses_with_the_name(value, kwargs, error, message):
    with pytest.raises(error, match=message):
        check_tensor(value, "x", **kwargs)


def test_check_tensor_device():
    with pytest.raises(ValueError, match="x must be on device meta"):
        check_tensor(torch.zeros(2), "x", device="meta")


# --------------------------------------------------------------- probabilities and rngs


def test_check_probabilities():
    np.testing.assert_array_equal(check_probabilities([0.25, 0.75], "p"), [0.25, 0.75])
    with pytest.raises(ValueError, match="p must sum to 1"):
        check_probabilities([0.2, 0.2], "p")
    with pytest.raises(ValueError, match="p must hold non-negative"):
        check_probabilities([-0.5, 1.5], "p")
    with pytest.raises(ValueError, match="p must hold positive"):
        check_probabilities([0.0, 1.0], "p", positive=True)
    with pytest.raises(ValueError, match="p must have at least 2 entries"):
        check_probabilities([1.0], "p", min_size=2)


def test_check_generator():
    rng, gen = np.random.default_rng(0), torch.Generator()
    assert check_generator(rng, "rng") is rng
    assert check_generator(gen, "generator", kind="torch") is gen
    assert check_generator(gen, "g", kind="any") is gen
    assert check_generator(None, "generator", kind="torch", allow_none=True) is None
    for bad in (0, None, np.random.RandomState(0), gen):  # noqa: NPY002
        with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
            check_generator(bad, "rng")
    with pytest.raises(TypeError, match="gen must be a torch.Generator, got"):
        check_generator(rng, "gen", kind="torch")
    with pytest.raises(ValueError, match="kind"):
        check_generator(rng, "rng", kind="jax")


def test_check_device():
    assert check_device("cpu", "device") == torch.device("cpu")
    assert check_device(torch.device("cpu"), "device").type == "cpu"
    assert check_device(None, "device") is None
    with pytest.raises(ValueError, match="device must name a torch device"):
        check_device("zzz", "device")
    with pytest.raises(TypeError, match="device must be a torch.device"):
        check_device(3, "device")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA device"):
            check_device("cuda", "device")


# --------------------------------------------------------------------- other objects


def test_check_choice_returns_a_listed_string():
    assert check_choice("b", "mode", ("a", "b")) == "b"


@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        (1, TypeError, "mode must be a str, got int"),
        ("c", ValueError, r"mode must be one of \('a', 'b'\), got 'c'"),
    ],
)
def test_check_choice_rejects_with_a_message_naming_the_parameter(value, error, message):
    with pytest.raises(error, match=message):
        check_choice(value, "mode", ("a", "b"))


def test_check_str_and_str_list():
    assert check_str("a", "desc") == "a"
    assert check_str(None, "desc", allow_none=True) is None
    with pytest.raises(TypeError, match="desc must be a string or None, got int 3"):
        check_str(3, "desc", allow_none=True)
    with pytest.raises(ValueError, match="name must be a non-empty string"):
        check_str("", "name", allow_empty=False)
    assert check_str_list(("a b", "c"), "texts") == ["a b", "c"]
    assert check_str_list([], "texts", allow_empty=True) == []
    with pytest.raises(TypeError, match="texts must be a list of strings, got a single string"):
        check_str_list("once upon a time", "texts")
    with pytest.raises(TypeError, match="texts must be a list of strings, got int 1 at index 1"):
        check_str_list(["a", 1], "texts")
    with pytest.raises(TypeError, match="texts must be a list of strings, got None"):
        check_str_list(None, "texts")
    with pytest.raises(ValueError, match="texts must be a non-empty list"):
        check_str_list([], "texts")


def test_check_callable_instance_and_dtype():
    assert check_callable(len, "f") is len
    with pytest.raises(TypeError, match="f must be callable, got int 3"):
        check_callable(3, "f")
    layer = torch.nn.Linear(2, 2)
    assert check_instance(layer, "base", torch.nn.Linear) is layer
    with pytest.raises(TypeError, match="base must be a torch.Linear, got None"):
        check_instance(None, "base", torch.nn.Linear)
    with pytest.raises(TypeError, match="graph must be a SkillTextGraph, got str"):
        check_instance("g", "graph", dict, "a SkillTextGraph")
    assert check_dtype(torch.float64, "dtype") is torch.float64
    assert check_dtype(torch.long, "dtype", floating=False) is torch.long
    with pytest.raises(TypeError, match="dtype must be a floating-point torch.dtype"):
        check_dtype(torch.long, "dtype")


def test_describe_summarises():
    assert describe(None) == "None"
    assert describe(2.5) == "float 2.5"
    assert describe("abc") == "str 'abc'"
    assert "shape (2, 3)" in describe(np.ones((2, 3)))
    assert "torch.float32" in describe(torch.ones(2))
    assert describe([1, 2]) == "a list of length 2"
    assert describe(object()) == "an object of type object"


# ------------------------------------------------------------------------- check_memory


def test_check_memory_default_limit_and_message(monkeypatch):
    monkeypatch.delenv(MEMORY_LIMIT_ENV, raising=False)
    assert memory_limit_bytes() == 2 * 1024**3
    check_memory(2 * 1024**3, "exactly the limit")
    with pytest.raises(
        MemoryLimitError, match=r"a table would need about 3 GiB, more than .* 2 GiB"
    ):
        check_memory(3 * 1024**3, "a table")
    with pytest.raises(ValueError, match=MEMORY_LIMIT_ENV):  # a ValueError, naming the setting
        check_memory(3 * 1024**3, "a table")
    check_memory(3 * 1024**3, "a table", limit=4 * 1024**3)


def test_check_memory_reads_the_environment(monkeypatch):
    monkeypatch.setenv(MEMORY_LIMIT_ENV, "0.5")
    assert memory_limit_bytes() == 512 * 1024**2
    with pytest.raises(MemoryLimitError, match="512 MiB"):
        check_memory(600 * 1024**2, "x")
    monkeypatch.setenv(MEMORY_LIMIT_ENV, "64")
    check_memory(60 * 1024**3, "x")
    for bad in ("lots", "-1", "0", "nan"):
        monkeypatch.setenv(MEMORY_LIMIT_ENV, bad)
        with pytest.raises(ValueError, match=f"{MEMORY_LIMIT_ENV} must be a positive number"):
            memory_limit_bytes()


@given(st.floats(0, 1e30))
def test_check_memory_refuses_exactly_above_the_limit(n_bytes):
    limit = 1e12
    if n_bytes > limit:
        with pytest.raises(MemoryLimitError):
            check_memory(n_bytes, "x", limit=limit)
    else:
        check_memory(n_bytes, "x", limit=limit)


def test_messages_follow_one_form():
    """``<name> must be <expectation>, got <what>`` for a sample of failures."""
    failures = [
        lambda: check_int("a", "n"),
        lambda: check_scalar(float("nan"), "lr"),
        lambda: check_array(None, "x"),
        lambda: check_tensor([1.0], "x"),
        lambda: check_generator(1, "rng"),
        lambda: check_str_list("ab", "texts"),
        lambda: check_callable(None, "f"),
        lambda: check_bool("yes", "log"),
        lambda: check_device(1, "device"),
    ]
    for fail in failures:
        with pytest.raises((TypeError, ValueError)) as info:
            fail()
        assert MESSAGE.match(str(info.value)), str(info.value)
