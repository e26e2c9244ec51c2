"""show_source: the library's own code, shown as a highlighted block headed by file and lines."""

from __future__ import annotations

import inspect

import pytest

from llmtheory.next_token import MaskedLinearLM, effective_parameters
from llmtheory.source import show_source


def test_the_block_is_the_functions_source_with_its_lines():
    text = show_source(effective_parameters)._repr_markdown_()
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
