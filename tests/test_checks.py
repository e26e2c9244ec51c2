import numpy as np
import pytest

from llmtheory.checks import CheckFailure, CheckResult, check


def test_closeness_passes_and_reports(capsys):
    result = check("threshold", 1.2218, 1.22178, atol=1e-3, equation="eq-threshold")
    assert isinstance(result, CheckResult)
    assert "eq-threshold" in capsys.readouterr().out


def test_closeness_failure_names_the_equation():
    with pytest.raises(AssertionError, match=r"eq-de-e1.*largest miss"):
        check("u at R=1.1", 0.70, 0.676, atol=0.02, equation="eq-de-e1", quiet=True)


def test_arrays_are_compared_elementwise():
    check(
        "curve", np.array([1.0, 2.0]), np.array([1.0, 2.001]), rtol=1e-3, equation="e", quiet=True
    )
    with pytest.raises(AssertionError, match="index \\(1,\\)"):
        check("curve", [1.0, 2.0], [1.0, 2.1], rtol=1e-3, equation="e", quiet=True)


def test_bounds():
    check("error", 0.05, upper=0.1, equation="pass-criterion", quiet=True)
    check("cosine", 0.995, lower=0.99, upper=1.0, equation="pass-criterion", quiet=True)
    with pytest.raises(AssertionError, match="expected ≥ 0.99"):
        check("cosine", 0.98, lower=0.99, equation="pass-criterion", quiet=True)
    with pytest.raises(AssertionError, match="expected ≤ 0.1"):
        check("error", [0.05, 0.2], upper=0.1, equation="pass-criterion", quiet=True)


def test_nan_never_passes():
    with pytest.raises(AssertionError, match="not finite"):
        check("x", float("nan"), upper=1.0, equation="e", quiet=True)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"name": "", "value": 1.0, "expected": 1.0, "atol": 1, "equation": "e"}, ValueError),
        ({"name": "x", "value": 1.0, "expected": 1.0, "atol": 1, "equation": ""}, ValueError),
        ({"name": 3, "value": 1.0, "expected": 1.0, "atol": 1, "equation": "e"}, TypeError),
        ({"name": "x", "value": 1.0, "expected": 1.0, "atol": 1, "equation": None}, TypeError),
        ({"name": "x", "value": 1.0, "equation": "e"}, ValueError),
        ({"name": "x", "value": 1.0, "expected": 1.0, "equation": "e"}, ValueError),
        ({"name": "x", "value": 1.0, "expected": 1.0, "rtol": -1, "equation": "e"}, ValueError),
        ({"name": "x", "value": 1.0, "lower": 2, "upper": 1, "equation": "e"}, ValueError),
        ({"name": "x", "value": "abc", "upper": 1, "equation": "e"}, TypeError),
        (
            {"name": "x", "value": [1, 2], "expected": [1, 2, 3], "atol": 1, "equation": "e"},
            ValueError,
        ),
    ],
)
def test_bad_arguments(kwargs, error):
    with pytest.raises(error):
        check(**kwargs)


def test_array_tolerances_apply_per_point():
    check("mc", [1.0, 2.0], [1.05, 2.0], atol=[0.1, 0.01], equation="e", quiet=True)
    with pytest.raises(AssertionError, match=r"allowed 0.01"):
        check("mc", [1.0, 2.05], [1.0, 2.0], atol=[0.1, 0.01], equation="e", quiet=True)
    with pytest.raises(ValueError):
        check("mc", [1.0, 2.0], [1.0, 2.0], atol=[0.1, -0.01], equation="e", quiet=True)


# --------------------------------------------------- reliability review (bad input)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"expected": 5.0, "atol": 0.1},
        {"lower": 0.0},
        {"upper": 1.0},
    ],
)
def test_reliability_4_an_empty_value_is_refused(kwargs):
    """A filter that selects nothing used to make any claim pass ("✓ ... [] ≈ 5")."""
    with pytest.raises(ValueError, match="value must be non-empty"):
        check("empty", np.array([]), equation="e", quiet=True, **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"expected": np.nan, "atol": 0.1}, "expected must hold only finite values"),
        ({"expected": [1.0, np.inf], "atol": 0.1}, "expected must hold only finite values"),
        ({"expected": [], "atol": 0.1}, "expected must be non-empty"),
        ({"lower": np.nan}, "lower must be a finite number"),
        ({"upper": np.inf}, "upper must be a finite number"),
        ({"expected": 1.0, "atol": np.nan}, "atol must hold only finite values"),
    ],
)
def test_reliability_4_non_finite_numbers_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        check("x", 1.0, equation="e", quiet=True, **kwargs)


def test_reliability_4_a_non_finite_value_fails_the_claim():
    with pytest.raises(AssertionError, match="value is not finite"):
        check("x", [1.0, np.nan], 1.0, atol=0.1, equation="e", quiet=True)


def test_a_cell_ending_with_check_displays_nothing_more():
    """IPython shows the value of a cell's last line; a check's result must not add a repr."""
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    shell.displayhook.flush = lambda: None
    outputs = []
    shell.display_pub.publish = lambda data, **kwargs: outputs.append(data)
    shell.displayhook.write_format_data = lambda data, md=None: outputs.append(data)
    cell = "from llmtheory.checks import check\ncheck('x', 1.0, 1.0, atol=0.1, equation='eq-x')"
    result = shell.run_cell(cell)
    assert result.success
    assert not outputs, outputs


def test_a_failure_is_a_check_failure_naming_check_and_equation():
    with pytest.raises(CheckFailure) as info:
        check("ratio", 2.0, 1.0, rtol=0.1, equation="eq-x")
    assert (info.value.name, info.value.equation) == ("ratio", "eq-x")
    assert isinstance(info.value, AssertionError)


def test_exact_mode_compares_integers_and_booleans(capsys):
    check("states", 4, 4, exact=True, equation="eq-n")
    check("decisions", np.array([True, False]), [True, False], exact=True, equation="eq-b")
    assert "= 4 exactly" in capsys.readouterr().out
    with pytest.raises(CheckFailure, match=r"1 of 3 entries differ, the first at index \(2,\)"):
        check("counts", [1, 2, 3], [1, 2, 4], exact=True, equation="eq-c")
    with pytest.raises(CheckFailure, match="expected exactly 5"):
        check("count", 4, 5, exact=True, equation="eq-c")


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"value": 1.0, "expected": 1}, TypeError, "value has dtype float64"),
        ({"value": 1, "expected": 1.0}, TypeError, "expected has dtype float64"),
        ({"value": 1, "expected": None, "lower": 0}, ValueError, "needs expected"),
        ({"value": 1, "expected": 1, "atol": 0.5}, ValueError, "takes no tolerance"),
        ({"value": 1, "expected": 1, "upper": 2}, ValueError, "no lower/upper"),
        ({"value": [], "expected": 1}, ValueError, "value must be non-empty"),
        ({"value": [1, 2], "expected": [1, 2, 3]}, ValueError, "do not broadcast"),
    ],
)
def test_exact_mode_refuses_what_it_cannot_compare(kwargs, error, message):
    with pytest.raises(error, match=message):
        check("x", exact=True, equation="eq-x", **kwargs)
