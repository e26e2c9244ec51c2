import numpy as np
import pytest

from llmtheory.validation import check_choice, check_int


def test_accepts_python_and_numpy_integers():
    assert check_int(3, "n") == 3
    assert isinstance(check_int(np.int64(4), "n"), int)
    assert check_int(0, "n", minimum=0) == 0


@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        (True, TypeError, "n must be an int"),
        (2.0, TypeError, "got float"),
        (0, ValueError, "n must be at least 1, got 0"),
    ],
)
def test_rejects_with_a_message_naming_the_parameter(value, error, message):
    with pytest.raises(error, match=message):
        check_int(value, "n")


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
