"""show_source: the library's own code, shown as a highlighted block headed by file and lines."""

from __future__ import annotations

import inspect

import pytest

from llmtheory.next_token import MaskedLinearLM, effective_parameters
from llmtheory.source import show_source


def test_the_block_is_the_functions_source_with_its_lines():
    text = show_source(effective_parameters, show_checks=True)._repr_markdown_()
    lines, first = inspect.getsourcelines(effective_parameters)
    body = text.split("\n")
    assert body[0] == "````python" and body[-1] == "````"
    assert body[1] == f"# llmtheory/next_token.py, lines {first}–{first + len(lines) - 1}"
    assert "\n".join(body[2:-1]) == "".join(lines).rstrip("\n")


def test_a_class_is_shown_whole():
    text = show_source(MaskedLinearLM)._repr_markdown_()
    assert "class MaskedLinearLM" in text and "def forward" in text


def test_code_outside_the_library_is_refused():
    with pytest.raises(ValueError, match="obj must be a function or class of llmtheory"):
        show_source(inspect.getsource)


def test_a_non_callable_is_refused():
    with pytest.raises(TypeError, match="obj must be callable"):
        show_source(3)


def test_a_function_compiled_at_run_time_is_named_not_shown():
    # the mutation tests plant bugs by compiling a function from a string: no file to show,
    # and the chapter must go on to its checks rather than stop at the listing
    namespace: dict = {}
    code = compile("def planted(x):\n    return -x\n", "<bug planted>", "exec")
    exec(code, {"__name__": "llmtheory.next_token"}, namespace)  # noqa: S102 - a fixed string
    text = show_source(namespace["planted"])._repr_markdown_()
    assert "planted" in text and "compiled at run time" in text and "````" not in text


def test_argument_checks_are_folded_into_a_note_with_their_count():
    folded = show_source(effective_parameters)._repr_markdown_()
    full = show_source(effective_parameters, show_checks=True)._repr_markdown_()
    assert 'check_int(seq_len, "seq_len")' in full and "check_bool(mlp" in full
    assert "check_int(" not in folded and "check_bool(" not in folded
    assert "# ... argument checks (2 lines, not shown) ..." in folded
    assert folded.count("\n") == full.count("\n") - 1  # two lines became one
    assert "return t * (t + 1) // 2 * d * d" in folded  # the equation's code stays


def test_a_single_check_line_is_shown():
    # show_source's own checks: one line (obj = inspect.unwrap(check_callable(...))) is no run
    text = show_source(show_source)._repr_markdown_()
    assert "check_callable(obj" in text and "argument checks (2 lines, not shown)" in text


def test_module_constants_are_shown_above_with_their_lines():
    text = show_source(show_source, constants=["_PACKAGE"])._repr_markdown_()
    lines = inspect.getsource(inspect.getmodule(show_source)).split("\n")
    at = next(i for i, line in enumerate(lines, 1) if line.startswith("_PACKAGE ="))
    assert text.split("\n")[1].startswith(f"# llmtheory/source.py, line {at} and lines ")
    assert text.split("\n")[2] == lines[at - 1]


def test_unknown_constants_are_refused():
    with pytest.raises(ValueError, match=r"constants must name module-level constants"):
        show_source(show_source, constants=["_NOT_THERE"])
    with pytest.raises(TypeError, match="constants must be a list of strings"):
        show_source(show_source, constants="_PACKAGE")
