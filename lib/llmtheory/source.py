"""Show a library function's source in a chapter, beside the equation it implements.

The chapters derive an equation and then call the library code that implements it; so that the
reader sees equation → code → check without leaving the page, a code cell calls
:func:`show_source` on that function. The source is read from the installed ``lib/`` itself
(one source: the text shown is the code that runs), as a Markdown code block, which the book,
JupyterLab and Colab each highlight in their own theme (light or dark).

The argument checks that open most public functions (``check_*`` calls of
:mod:`llmtheory.validation` and ``if ...: raise``) are folded into one comment line that says
how many lines it stands for, so that the listing shows the equation's code; module constants the
function reads can be shown above it, with their comments.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Sequence
from pathlib import Path

from IPython.display import Markdown

from llmtheory.validation import check_bool, check_callable, check_str_list

__all__ = ["show_source"]

_PACKAGE = Path(__file__).resolve().parent


def _where(obj: object) -> str:
    """``llmtheory/<module>.py, lines a–b``: where the object's source lives in the package."""
    lines, first = inspect.getsourcelines(obj)
    path = Path(inspect.getsourcefile(obj)).resolve()
    name = path.relative_to(_PACKAGE.parent) if path.is_relative_to(_PACKAGE) else path.name
    return f"{name}, lines {first}–{first + len(lines) - 1}"


def _is_check(stmt: ast.stmt) -> bool:
    """An argument check: ``[x =] check_...(...)`` or ``if ...: raise ...``."""
    if isinstance(stmt, ast.If):
        return not stmt.orelse and all(isinstance(s, ast.Raise) for s in stmt.body)
    if isinstance(stmt, (ast.Assign, ast.Expr)):
        calls = stmt.value.elts if isinstance(stmt.value, ast.Tuple) else [stmt.value]
        return all(
            isinstance(c, ast.Call)
            and isinstance(c.func, ast.Name)
            and c.func.id.lstrip("_").startswith("check_")
            for c in calls
        )
    return False


def _check_runs(source: str) -> list[tuple[int, int]]:
    """Line spans (1-based, inclusive) of the runs of argument checks in each function body."""
    runs = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        run: list[ast.stmt] = []
        for stmt in [*node.body, None]:
            if stmt is not None and _is_check(stmt):
                run.append(stmt)
                continue
            if run:
                runs.append((run[0].lineno, run[-1].end_lineno))
                run = []
    return runs


def _fold_checks(source: str) -> str:
    """``source`` with each run of argument checks replaced by one comment line."""
    lines = source.split("\n")
    for first, last in sorted(_check_runs(source), reverse=True):
        if last == first:
            continue  # one line reads as quickly as its note
        indent = lines[first - 1][: len(lines[first - 1]) - len(lines[first - 1].lstrip())]
        note = f"{indent}# ... argument checks ({last - first + 1} lines, not shown) ..."
        lines[first - 1 : last] = [note]
    return "\n".join(lines)


def _constants(obj: object, module: str, names: list[str]) -> tuple[str, str]:
    """The module-level assignments of ``names`` in ``obj``'s module, and their lines."""
    path = inspect.getsourcefile(obj)
    text = Path(path).read_text()
    lines = text.split("\n")
    found = {}
    for stmt in ast.parse(text).body:
        if isinstance(stmt, (ast.Assign, ast.AnnAssign)):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    found[target.id] = (stmt.lineno, stmt.end_lineno)
    missing = [n for n in names if n not in found]
    if missing:
        raise ValueError(f"constants must name module-level constants of {module}, got {missing}")
    spans = [found[n] for n in names]
    text = "\n".join("\n".join(lines[a - 1 : b]) for a, b in spans)
    where = ", ".join(str(a) if a == b else f"{a}–{b}" for a, b in spans)
    return text, f"line{'s' if len(spans) > 1 or spans[0][0] != spans[0][1] else ''} {where}"


def show_source(obj: object, constants: Sequence[str] = (), show_checks: bool = False) -> Markdown:
    """The source of a library function or class, highlighted, headed by its file and lines.

    Only objects defined in ``llmtheory`` are shown, so that the page never quotes code the
    book does not ship. ``constants`` names module-level constants the code reads; they are
    shown above it. Argument checks are folded into a comment unless ``show_checks``. A cell
    ending with ``show_source(f)`` displays it.
    """
    # a decorated function (torch.no_grad) shows its own code, not the decorator's wrapper
    obj = inspect.unwrap(check_callable(obj, "obj"))
    constants = check_str_list(constants, "constants", allow_empty=True)
    show_checks = check_bool(show_checks, "show_checks")
    module = getattr(inspect.getmodule(obj), "__name__", "")
    if not module.startswith("llmtheory"):
        raise ValueError(f"obj must be a function or class of llmtheory, got one of {module!r}")
    try:
        source = textwrap.dedent(inspect.getsource(obj)).rstrip("\n")  # a method, from column 0
        where = _where(obj)
    except OSError:  # compiled from a string (a planted bug of the mutation tests), not a file
        return Markdown(
            f"*The source of `{obj.__qualname__}` is not in a file: it was compiled at run time.*"
        )
    if not show_checks:
        source = _fold_checks(source)
    if constants:
        text, lines = _constants(obj, module, constants)
        source, where = f"{text}\n\n\n{source}", where.replace(", lines", f", {lines} and lines")
    fence = "````"  # longer than any ``` fence a docstring may hold
    return Markdown(f"{fence}python\n# {where}\n{source}\n{fence}")
