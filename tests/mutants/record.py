"""The mutation record: where it lives, which chapters it covers, and the keys that date it.

Every result in ``book/back/mutants/record.json`` carries a key: the SHA-256 of everything the
result depends on. ``scripts/run_mutants.py`` re-runs a result only when its key changed, and
``tests/test_mutants.py`` fails when any key is stale, so the record is the truth about the code
that ships.

* a chapter's *usage* (which catalogued targets it calls, and that it passes unmutated): the
  chapter, every module of ``lib/llmtheory``, the harness and the list of targets;
* a bug in a chapter: the bug, the chapter, the module the bug changes and the harness;
* a bug in the unit tests: the bug, the module it changes, the module's test files and the harness.

A chapter enters a key through the code it executes, and a module through its code: its syntax
tree without docstrings (comments never reach the tree). Prose, in a chapter or in a docstring,
runs nothing, so editing it keeps the record fresh.
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = ROOT / "tests" / "mutants"
RECORD = ROOT / "book" / "back" / "mutants" / "record.json"
LIB = ROOT / "lib" / "llmtheory"
sys.path.insert(0, str(ROOT / "benchmarks"))
from chapters import toc_notebooks  # noqa: E402

# Test files that are not about one module's behaviour, or too slow to run per bug.
NOT_UNIT_TESTS = {"test_fuzz.py", "test_environment.py", "test_repository.py", "test_mutants.py"}


def chapters() -> list[Path]:
    """The chapters the bugs run against: every notebook of the book but the back matter."""
    return [p for p in toc_notebooks() if "back" not in p.parts]


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def _digest(*parts: bytes | str) -> str:
    h = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        h.update(hashlib.sha256(data).digest())
    return h.hexdigest()


def _bug_text(bug: dict) -> str:
    return json.dumps({k: v for k, v in bug.items() if k != "home"}, sort_keys=True)


def _harness() -> bytes:
    return (HERE / "harness.py").read_bytes() + (HERE / "mutants_plugin.py").read_bytes()


def module_file(target: str) -> Path:
    """The source file of the module a target lives in."""
    module = target.partition(":")[0]
    return ROOT / "lib" / (module.replace(".", "/") + ".py")


def code(path: Path) -> str:
    """A module's code: its syntax tree, without docstrings and without line numbers."""
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree)


def unit_tests(target: str) -> list[Path]:
    """The test files that import the target's module."""
    module = target.partition(":")[0]
    short = module.rsplit(".", 1)[-1]
    pattern = re.compile(rf"\b{re.escape(module)}\b|from llmtheory import [^\n]*\b{short}\b")
    return [
        p
        for p in sorted((ROOT / "tests").glob("test_*.py"))
        if p.name not in NOT_UNIT_TESTS and pattern.search(p.read_text())
    ]


# Cell tags that change what executing a cell does (nbclient reads them); the others only display.
EXECUTION_TAGS = {"raises-exception", "skip-execution"}


def executed(chapter: Path) -> str:
    """What executing ``chapter`` depends on: its code cells in order, with their execution tags.

    Prose, equations and display tags (``hide-input``) never run, so editing them keeps the
    chapter's results in the record fresh.
    """
    cells = json.loads(chapter.read_text())["cells"]
    code = [
        ["".join(c["source"]), sorted(EXECUTION_TAGS & set(c["metadata"].get("tags", [])))]
        for c in cells
        if c["cell_type"] == "code"
    ]
    return json.dumps(code)


def usage_key(chapter: Path, targets: list[str]) -> str:
    lib = [code(p) for p in sorted(LIB.rglob("*.py"))]
    return _digest(executed(chapter), *lib, _harness(), json.dumps(sorted(targets)))


def chapter_key(bug: dict, chapter: Path) -> str:
    return _digest(_bug_text(bug), executed(chapter), code(module_file(bug["target"])), _harness())


def unit_key(bug: dict) -> str:
    tests = [p.read_bytes() for p in unit_tests(bug["target"])]
    return _digest(_bug_text(bug), code(module_file(bug["target"])), *tests, _harness())


TARGET = re.compile(r"^\(([A-Za-z][\w-]*)\)=\s*$", re.M)  # (label)= before a heading
OPTION = re.compile(r"^:label:\s*([\w-]+)\s*$", re.M)  # :label: in a directive
EQUATION = re.compile(r"\$\$\s*\(([\w-]+)\)")  # $$ ... $$ (label)
FENCE = re.compile(r"^(```|:::)\s*\{([\w:-]+)\}", re.M)


def labels() -> dict[str, dict]:
    """Every label of the book's chapters: its chapter and its HTML anchor.

    Equations (a ``{math}`` directive or ``$$ ... $$ (label)``) are anchored at
    ``equation-<label>``; sections and theorem-like blocks at the label itself.
    """
    found: dict[str, dict] = {}
    for chapter in chapters():
        cells = json.loads(chapter.read_text())["cells"]
        text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
        page = rel(chapter).removeprefix("book/").removesuffix(".ipynb") + ".html"

        def add(label: str, equation: bool, chapter: Path = chapter, page: str = page) -> None:
            anchor = f"equation-{label}" if equation else label
            found[label] = {"chapter": rel(chapter), "href": f"{page}#{anchor}"}

        for match in TARGET.finditer(text):
            add(match.group(1), equation=False)
        for match in OPTION.finditer(text):
            fences = list(FENCE.finditer(text, 0, match.start()))
            add(match.group(1), equation=bool(fences) and fences[-1].group(2) == "math")
        for match in EQUATION.finditer(text):
            add(match.group(1), equation=True)
    return found
