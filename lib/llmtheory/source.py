"""Show a library function's source in a chapter, beside the equation it implements.

The chapters derive an equation and then call the library code that implements it; so that the
reader sees equation → code → check without leaving the page, a code cell calls
:func:`show_source` on that function. The source is read from the installed ``lib/`` itself
(one source: the text shown is the code that runs), as a Markdown code block, which the book,
JupyterLab and Colab each highlight in their own theme (light or dark).
"""

from __future__ import annotations

import inspect
import textwrap
from pathlib import Path

from IPython.display import Markdown

from llmtheory.validation import check_callable

__all__ = ["show_source"]

_PACKAGE = Path(__file__).resolve().parent


def _where(obj: object) -> str:
    """``llmtheory/<module>.py, lines a–b``: where the object's source lives in the package."""
    lines, first = inspect.getsourcelines(obj)
    path = Path(inspect.getsourcefile(obj)).resolve()
    name = path.relative_to(_PACKAGE.parent) if path.is_relative_to(_PACKAGE) else path.name
    return f"{name}, lines {first}–{first + len(lines) - 1}"


def show_source(obj: object) -> Markdown:
    """The source of a library function or class, highlighted, headed by its file and lines.

    Only objects defined in ``llmtheory`` are shown, so that the page never quotes code the
    book does not ship. A cell ending with ``show_source(f)`` displays it.
    """
    # a decorated function (torch.no_grad) shows its own code, not the decorator's wrapper
    obj = inspect.unwrap(check_callable(obj, "obj"))
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
    fence = "````"  # longer than any ``` fence a docstring may hold
    return Markdown(f"{fence}python\n# {where}\n{source}\n{fence}")
