"""Numbers quoted in prose: the repr is the formatted number, bad input is refused."""

from __future__ import annotations

import numpy as np
import pytest

from llmtheory.prose import Quoted, quote


@pytest.mark.parametrize(
    ("value", "spec", "shown"),
    [
        (0.12345, ".3f", "0.123"),
        (0.120, ".3f", "0.120"),  # trailing zeros kept, unlike round()
        (20000, ",", "20,000"),
        (np.float64(-0.5), "+.0f", "-0"),
        (np.asarray(3.25), ".1f", "3.2"),
        (np.int64(7), "", "7"),
        (1.5e-4, ".1e", "1.5e-04"),
        ("2, 3, 5", "", "2, 3, 5"),  # a string shows without quotes
    ],
)
def test_repr_is_the_formatted_value(value, spec, shown):
    q = quote(value, spec)
    assert isinstance(q, Quoted)
    assert repr(q) == shown and str(q) == shown


def test_numpy_scalars_become_python_values():
    assert type(quote(np.float32(1.0), ".1f").value) is float


@pytest.mark.parametrize("value", [[1, 2], np.zeros(2), None, True, {"a": 1}])
def test_non_scalars_are_refused(value):
    with pytest.raises(TypeError, match="value"):
        quote(value, ".1f")


def test_bad_spec_is_refused():
    with pytest.raises(TypeError, match="spec"):
        quote(1.0, 3)
    with pytest.raises(ValueError, match="spec"):
        quote("text", ".3f")
