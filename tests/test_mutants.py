"""The mutation record is complete, fresh and without survivors (``make mutants`` refreshes it).

The catalogue (``tests/mutants/catalogue/``) lists plausible library bugs, and
``scripts/run_mutants.py`` plants each in every chapter that calls the code it changes and
records what caught it in ``book/back/mutants/record.json``. These tests run nothing: they
check that every bug still applies to the code as it is, that every result in the record is
keyed to the current sources, and that every bug not declared equivalent is caught by a
chapter's ``check``.
"""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "mutants"))
import harness  # noqa: E402
import record  # noqa: E402

BUGS = harness.load_catalogue()
TARGETS = sorted({bug["target"] for bug in BUGS.values()})
RECORDED = json.loads(record.RECORD.read_text()) if record.RECORD.exists() else {}
USAGE = RECORDED.get("usage", {})
RESULTS = RECORDED.get("bugs", {})
CHAPTERS = record.chapters()
STALE = "run `make mutants`"


def test_the_catalogue_has_at_least_60_bugs_and_5_per_chapter():
    assert len(BUGS) >= 60, f"{len(BUGS)} bugs in the catalogue"
    stems = {p.stem for p in CHAPTERS}
    homes = {bug["home"] for bug in BUGS.values()}
    orphans = {h for h in homes if not any(h.endswith(stem) for stem in stems)}
    assert not orphans, f"catalogue files not named after a chapter: {orphans}"
    for stem in sorted(stems):
        mine = [b for b in BUGS.values() if b["home"].endswith(stem)]
        assert len(mine) >= 5, f"{stem}: {len(mine)} bugs, at least 5 expected"


@pytest.mark.parametrize("bug_id", sorted(BUGS))
def test_the_bug_still_applies(bug_id):
    harness.mutated_source(BUGS[bug_id])  # raises MutantError when the target or text is gone


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_the_usage_of_the_chapter_is_fresh(chapter):
    entry = USAGE.get(record.rel(chapter))
    assert entry is not None, f"{chapter.name} is not in the mutation record: {STALE}"
    assert entry["key"] == record.usage_key(chapter, TARGETS), f"{chapter.name} changed: {STALE}"


@pytest.mark.parametrize("bug_id", sorted(BUGS))
def test_the_results_of_the_bug_are_fresh(bug_id):
    bug, result = BUGS[bug_id], RESULTS.get(bug_id)
    assert result is not None, f"{bug_id} is not in the mutation record: {STALE}"
    users = [c for c, u in USAGE.items() if bug["target"] in u["reached"]]
    assert users, f"{bug_id}: no chapter calls {bug['target']}; the bug tests nothing"
    for chapter in users:
        run = result["chapters"].get(chapter)
        assert run is not None, f"{bug_id} was not run against {chapter}: {STALE}"
        assert run["key"] == record.chapter_key(bug, ROOT / chapter), (
            f"{bug_id} in {chapter} is stale: {STALE}"
        )
        assert run["outcome"] != "passed" or bug["target"] in run["reached"], (
            f"{bug_id} passed {chapter} without reaching {bug['target']}"
        )
    if record.unit_tests(bug["target"]):
        assert result["unit"] and result["unit"]["key"] == record.unit_key(bug), (
            f"{bug_id}: unit-test result stale: {STALE}"
        )


@pytest.mark.parametrize("bug_id", sorted(BUGS))
def test_every_bug_is_caught_by_a_check_unless_equivalent(bug_id):
    runs = RESULTS.get(bug_id, {}).get("chapters", {})
    caught = {c: r["equation"] for c, r in runs.items() if r["outcome"] == "check"}
    reason = BUGS[bug_id].get("equivalent")
    if reason:
        assert len(reason) > 20, f"{bug_id}: say why the bug is equivalent"
        assert not caught, f"{bug_id} is declared equivalent but {caught} caught it"
    else:
        errors = {c: r["message"] for c, r in runs.items() if r["outcome"] == "error"}
        assert caught, f"{bug_id} survives every chapter's checks (errors: {errors})"


def test_equivalent_bugs_are_few():
    equivalent = [b for b, bug in BUGS.items() if bug.get("equivalent")]
    assert len(equivalent) <= len(BUGS) // 10, f"{len(equivalent)} equivalent bugs: {equivalent}"


def _check_calls(chapter: Path) -> list[ast.Call]:
    cells = json.loads(chapter.read_text())["cells"]
    calls = []
    for cell in cells:
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        lines = [ln for ln in source.splitlines() if not ln.lstrip().startswith(("%", "!"))]
        for node in ast.walk(ast.parse("\n".join(lines))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "check":
                calls.append(node)
    return calls


def _labels_named(node: ast.expr | None) -> list[str] | None:
    """The labels an ``equation=`` argument can name: a string, or ``a if cond else b`` of them."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        body, orelse = _labels_named(node.body), _labels_named(node.orelse)
        return None if body is None or orelse is None else body + orelse
    return None


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_every_check_names_a_label_of_the_book(chapter):
    labels = record.labels()
    calls = _check_calls(chapter)
    assert calls, f"{chapter.name} makes no check"
    for call in calls:
        equation = next((k.value for k in call.keywords if k.arg == "equation"), None)
        where = f"{chapter.name}, line {call.lineno} of its cell"
        named = _labels_named(equation)
        assert named is not None, f"{where}: equation= must be a string literal naming a label"
        for label in named:
            assert label in labels, f"{where}: no label {label!r} in the book"
