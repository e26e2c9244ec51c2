"""The course kit (``make assignments``, ``make grade``), built from the chapters with Otter-Grader.

The kit is built once, into a temporary folder, from the plain editions that ``make notebooks``
wrote. Every chapter's instructor edition and unmodified student edition are then graded with
``otter run``, two at a time, as ``make grade`` does: the instructor edition scores full marks,
the student edition zero and runs top to bottom. The instructor editions are graded with one more
cell at their end, after every check, which puts each ``"wrong"`` answer of the test cells'
metadata in the place of the solution and runs that test on the chapter's state (Otter's own
test-file code, the code behind ``grader.check``): each must fail and show its hint. The solution
text of each chapter, prose and code, is looked for in its student edition (its notebook and its
public tests), with the chapter's source and its plain edition as references, not the cell tags.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import grade  # noqa: E402
import make_assignments as kit  # noqa: E402

EDITIONS = ROOT / "_build" / "notebooks"
CHAPTERS = kit.chapter_sources()
DEMO = "how_a_chapter_works"
JOBS = 2
MIN_PIECE = 24  # characters (whitespace removed) below which a line of solution is not telling

WRONG_CELL = """\
import json as _json
from otter.nbmeta_config import NBMetadataConfig as _Config
from otter.test_files import create_test_file as _create_test_file

_report = []
for _exercise, _variable, _index, _wrong in {cases!r}:
    _entry = {{"exercise": _exercise, "index": _index, "wrong": _wrong}}
    _env = dict(globals())
    try:
        _env[_variable] = eval(_wrong, _env)
    except Exception as _error:
        _entry["error"] = repr(_error)
    else:
        _test = _create_test_file(f"tests/{{_exercise}}.py", _Config())
        _test.run(_env)
        _result = _test.test_case_results[_index]
        _entry.update(passed=_result.passed, message=_result.message or "")
        _entry["check"] = _test.summary(public_only=True)
    _report.append(_entry)
with open({path!r}, "w") as _file:
    _json.dump(_report, _file)
"""


def ids(path: Path) -> str:
    return path.stem


# --- Building and grading, once per session -------------------------------------------------------


@pytest.fixture(scope="module")
def kit_out(tmp_path_factory) -> tuple[Path, dict[str, kit.Chapter]]:
    assert EDITIONS.is_dir(), f"{EDITIONS} is missing: run `make notebooks`"
    out = tmp_path_factory.mktemp("assignments")
    return out, kit.build(EDITIONS, out)


def built(kit_out, source: Path) -> kit.Chapter:
    """The chapter, or a failure saying why it has no assignment."""
    chapter = kit_out[1][source.stem]
    if chapter.problems:
        pytest.fail(f"{source.stem} has no assignment:\n" + "\n".join(chapter.problems))
    return chapter


def wrong_cases(chapter: kit.Chapter) -> list[tuple[str, str, int, str]]:
    """(exercise, answer variable, test index, wrong answer) for every ``"wrong"`` entry."""
    return [
        (e.label, e.variable, i, wrong)
        for e in chapter.exercises
        for i, test in enumerate(e.tests)
        for wrong in test.wrong
    ]


@dataclass
class Grading:
    """Each grading by (chapter, "instructor" or "student"), and the folder of the run."""

    results: dict[tuple[str, str], grade.Graded]
    folder: Path


@pytest.fixture(scope="module")
def graded(kit_out, tmp_path_factory) -> Grading:
    """Grade every instructor edition (with the wrong-answer cell) and every student edition."""
    out, chapters = kit_out
    work = tmp_path_factory.mktemp("grading")
    submissions = work / "submissions"
    for name, chapter in chapters.items():
        if chapter.problems:
            continue
        for version in ("student", "instructor"):
            (submissions / version).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(
                out / version / name / f"{name}.ipynb", submissions / version / f"{name}.ipynb"
            )
        instructor = submissions / "instructor" / f"{name}.ipynb"
        nb = nbformat.read(instructor, 4)
        report = work / f"wrong-{name}.json"
        nb.cells.append(
            nbformat.v4.new_code_cell(
                WRONG_CELL.format(cases=wrong_cases(chapter), path=str(report))
            )
        )
        nbformat.write(nb, instructor)
    graders = grade.autograders(out / "autograder")
    start = time.perf_counter()
    results = grade.grade_folder(submissions, graders, work / "grades", jobs=JOBS)
    wall = time.perf_counter() - start
    print(f"\ngraded {len(results)} notebooks in {wall:.0f} s with {JOBS} processes:")
    for g in sorted(results, key=lambda g: -g.seconds):
        print(f"  {g.submission.chapter:32s} {g.submission.student:10s} {g.seconds:6.1f} s")
    return Grading({(g.submission.chapter, g.submission.student): g for g in results}, work)


def result(graded: Grading, source: Path, version: str) -> grade.Graded:
    found = graded.results.get((source.stem, version))
    assert found is not None, f"{version} edition of {source.stem} was not graded"
    return found


# --- The convention, the editions -----------------------------------------------------------------


@pytest.mark.parametrize("source", CHAPTERS, ids=ids)
def test_chapter_exercises_follow_the_convention(kit_out, source):
    """Every {exercise}: an answer variable its solution assigns, public and hidden tests."""
    built(kit_out, source)


@pytest.mark.parametrize("source", CHAPTERS, ids=ids)
def test_student_edition_has_answer_free_text_and_check_cells(kit_out, source):
    chapter = built(kit_out, source)
    out = kit_out[0]
    nb = nbformat.read(out / "student" / chapter.name / f"{chapter.name}.ipynb", 4)
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    assert "grader = otter.Notebook(" in code[0], "the edition starts with Otter's init cell"
    text = [c.source for c in nb.cells]
    for exercise in chapter.exercises:
        answer = next(
            i for i, s in enumerate(text) if re.search(rf"^{exercise.variable} = \.\.\.$", s, re.M)
        )
        assert "# YOUR CODE HERE" in text[answer]
        assert text[answer + 1].startswith("**Your explanation**"), "a free-text cell follows"
        assert text[answer + 2] == f'grader.check("{exercise.label}")'


@pytest.mark.parametrize("source", CHAPTERS, ids=ids)
def test_hidden_tests_only_in_instructor_edition_and_autograder(kit_out, source):
    from otter.test_files.exception_test import ExceptionTestFile

    chapter = built(kit_out, source)
    out = kit_out[0]
    archive = zipfile.ZipFile(out / "autograder" / f"{chapter.name}.zip")
    for exercise in chapter.exercises:
        relative = f"tests/{exercise.label}.py"
        files = {
            "student": (out / "student" / chapter.name / relative).read_text(),
            "instructor": (out / "instructor" / chapter.name / relative).read_text(),
            "autograder": archive.read(relative).decode(),
        }
        cases = {k: ExceptionTestFile.from_string(v).test_cases for k, v in files.items()}
        expected = [(t.hidden, t.points) for t in exercise.tests]
        assert [(c.hidden, c.points) for c in cases["autograder"]] == expected
        assert [(c.hidden, c.points) for c in cases["instructor"]] == expected
        assert [(c.hidden, c.points) for c in cases["student"]] == [e for e in expected if not e[0]]


@pytest.mark.parametrize("source", CHAPTERS, ids=ids)
def test_shipped_files_travel_with_the_editions(kit_out, source):
    chapter = built(kit_out, source)
    out = kit_out[0]
    names = set(zipfile.ZipFile(out / "autograder" / f"{chapter.name}.zip").namelist())
    shipped = kit.shipped_files(source)
    named = re.findall(r'shipped_path\(\\?"([^"\\]+)', source.read_text())
    assert set(named) <= set(shipped), "every file the chapter names travels with it"
    for relpath, beside in shipped.items():
        original = (ROOT / relpath).read_bytes()
        for version in ("student", "instructor"):
            assert (out / version / chapter.name / beside).read_bytes() == original
        assert f"files/{beside}" in names


# --- No solution in a student edition -------------------------------------------------------------


def squash(text: str) -> str:
    """Text compared without whitespace and with one kind of quote (Otter rewrites test code)."""
    return re.sub(r"\s+", "", text).replace('"', "'")


def pieces(text: str) -> set[str]:
    """Lines and sentences of a text, MyST roles cut out, long enough to tell."""
    found = set()
    for line in text.splitlines():
        for part in re.split(r"\{[\w:-]+\}`[^`]*`|(?<=[.!?;:])\s+", line):
            if len(squash(part)) >= MIN_PIECE:
                found.add(squash(part))
    return found


def source_solution(nb) -> tuple[str, str]:
    """The chapter's solution text (prose between the markers, code tagged ``solution``) and
    the rest of its text (test cells left out)."""
    solution, rest = [], []
    inside = False
    for cell in nb.cells:
        cell_tags = cell.metadata.get("tags", [])
        if cell.cell_type == "code":
            if "exercise-test" not in cell_tags:
                (solution if "solution" in cell_tags or inside else rest).append(cell.source)
            continue
        for chunk in re.split(r"(```\{solution-(?:start|end)\}[^`]*```)", cell.source):
            if chunk.startswith("```{solution-start}"):
                inside = True
            elif chunk.startswith("```{solution-end}"):
                inside = False
            else:
                (solution if inside else rest).append(chunk)
    return "\n".join(solution), "\n".join(rest)


def edition_solution(nb, source_nb) -> tuple[str, str]:
    """The plain edition's solution text and the rest of its text: a solution runs from a
    "Solution to" heading to the next heading or to a code cell that the source puts after its
    solution-end marker, and takes the code cells of the source's ``solution`` cells."""
    flags, inside_source = [], False
    for cell in source_nb.cells:
        if cell.cell_type == "markdown":
            for marker in re.findall(r"\{solution-(start|end)\}", cell.source):
                inside_source = marker == "start"
        elif "remove-cell" not in cell.metadata.get("tags", []):
            flags.append(("solution" in cell.metadata.get("tags", []), inside_source))
    flag = iter(flags)
    solution, rest = [], []
    inside = False
    for cell in nb.cells:
        first = cell.source.lstrip().split("\n", 1)[0]
        if cell.cell_type == "markdown" and re.match(r"#{1,6}\s", first):
            inside = bool(re.match(r"#{1,6}\s+Solution to", first))
        tagged = False
        if cell.cell_type == "code" and "google.colab" not in cell.source:
            tagged, in_block = next(flag)
            inside = inside and (tagged or in_block)
        (solution if inside or tagged else rest).append(cell.source)
    return "\n".join(solution), "\n".join(rest)


def student_text(folder: Path) -> str:
    """Everything a student receives: the notebook's cells and the public test files."""
    nb = nbformat.read(next(folder.glob("*.ipynb")), 4)
    texts = [c.source for c in nb.cells] + [p.read_text() for p in folder.rglob("*.py")]
    return squash("\n".join(texts))


@pytest.mark.parametrize("source", CHAPTERS, ids=ids)
def test_no_solution_text_in_the_student_edition(kit_out, source):
    chapter = built(kit_out, source)
    src = nbformat.read(source, 4)
    solution_src, rest_src = source_solution(src)
    solution_ed, rest_ed = edition_solution(nbformat.read(chapter.edition, 4), src)
    secret = pieces(solution_src) | pieces(solution_ed)
    public = squash(rest_src + rest_ed)
    secret = {p for p in secret if p not in public}
    assert secret, "the chapter has solution text to look for"
    instructor = student_text(kit_out[0] / "instructor" / chapter.name)
    found_in_instructor = {p for p in secret if p in instructor}
    assert len(found_in_instructor) >= len(secret) * 0.8, "the instructor edition has the solutions"
    student = student_text(kit_out[0] / "student" / chapter.name)
    leaked = sorted(p for p in secret if p in student)
    assert not leaked, f"solution text in the student edition of {chapter.name}: {leaked[:5]}"


# --- Grading --------------------------------------------------------------------------------------


@pytest.mark.parametrize("source", CHAPTERS, ids=ids)
def test_instructor_edition_scores_full_marks(kit_out, graded, source):
    chapter = built(kit_out, source)
    g = result(graded, source, "instructor")
    possible = grade.possible_points(kit_out[0] / "autograder" / f"{chapter.name}.zip")
    assert not g.failure, g.failure
    assert not g.errors, f"cells raised: {g.errors}"
    assert g.scores == possible, {
        k: g.outputs.get(k) for k in possible if g.scores[k] < possible[k]
    }


@pytest.mark.parametrize("source", CHAPTERS, ids=ids)
def test_student_edition_scores_zero_and_runs_top_to_bottom(kit_out, graded, source):
    built(kit_out, source)
    g = result(graded, source, "student")
    assert not g.failure, g.failure
    assert not g.errors, f"the student edition raised with its placeholders: {g.errors}"
    assert g.scores and all(score == 0 for score in g.scores.values()), g.scores


@pytest.mark.parametrize("source", CHAPTERS, ids=ids)
def test_wrong_answers_fail_their_test_with_its_hint(kit_out, graded, source):
    chapter = built(kit_out, source)
    result(graded, source, "instructor")
    report = json.loads((graded.folder / f"wrong-{chapter.name}.json").read_text())
    assert len(report) == len(wrong_cases(chapter))
    tests = {e.label: e.tests for e in chapter.exercises}
    for entry in report:
        test = tests[entry["exercise"]][entry["index"]]
        where = f"{entry['exercise']} test {entry['index'] + 1}, wrong answer {entry['wrong']!r}"
        assert "error" not in entry, f"{where} is not a valid expression: {entry['error']}"
        assert not entry["passed"], f"{where} passes"
        shown = [h for h in kit.hints(test.source) if h.strip("'") in entry["message"]]
        assert shown, f"{where} fails without its hint:\n{entry['message']}"
        if not test.hidden:
            assert shown[0].strip("'") in entry["check"], "grader.check shows the hint"


def test_gradebook_and_feedback(kit_out, graded):
    folder = graded.folder / "grades"
    rows = list(csv.reader((folder / "gradebook.csv").open()))
    header, possible = rows[0], rows[1]
    assert header[0] == "student" and header[-2:] == ["total", "possible"]
    assert possible[0] == grade.POSSIBLE_ROW
    by_student = {row[0]: dict(zip(header, row, strict=True)) for row in rows[2:]}
    assert set(by_student) == {"instructor", "student"}
    assert float(by_student["instructor"]["total"]) == float(possible[-1]) > 0
    assert float(by_student["student"]["total"]) == 0
    feedback = (folder / "feedback" / "student.md").read_text()
    assert "(public, " in feedback and "AssertionError: " in feedback
    assert (folder / "feedback" / "instructor.md").is_file()


# --- The student edition in Jupyter, and matching submissions -------------------------------------


def test_student_edition_checks_answers_from_its_folder(kit_out, tmp_path):
    """Run from its own folder (as Jupyter does), `grader.check` prints the public test's hint."""
    chapter = kit_out[1][DEMO]
    if chapter.problems:
        pytest.fail("\n".join(chapter.problems))
    folder = tmp_path / DEMO
    shutil.copytree(kit_out[0] / "student" / DEMO, folder)
    nb = nbformat.read(folder / f"{DEMO}.ipynb", 4)
    NotebookClient(nb, timeout=600, resources={"metadata": {"path": str(folder)}}).execute()
    checks = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith("grader.check(")]
    assert len(checks) == len(chapter.exercises)
    for cell, exercise in zip(checks, chapter.exercises, strict=True):
        shown = "".join(o.get("data", {}).get("text/plain", "") for o in cell.outputs)
        public = [t for t in exercise.tests if not t.hidden][0]
        assert kit.hints(public.source)[0].strip("'") in shown, shown


def test_submissions_are_matched_to_chapters_and_students(tmp_path):
    chapters = ["how_a_chapter_works", "02_icl_context_parameters"]
    (tmp_path / "alice").mkdir()
    (tmp_path / "dan" / "how_a_chapter_works").mkdir(parents=True)
    for name in [
        "alice/02_icl_context_parameters.ipynb",
        "bob_how_a_chapter_works.ipynb",
        "dan/how_a_chapter_works/how_a_chapter_works.ipynb",
        "x.ipynb",
    ]:
        nbformat.write(nbformat.v4.new_notebook(), tmp_path / name)
    renamed = nbformat.v4.new_notebook(
        metadata={"otter": {"assignment_name": "how_a_chapter_works"}}
    )
    nbformat.write(renamed, tmp_path / "carol-homework.ipynb")
    found, unmatched = grade.find_submissions(tmp_path, chapters)
    assert {(s.student, s.chapter) for s in found} == {
        ("alice", "02_icl_context_parameters"),
        ("bob", "how_a_chapter_works"),
        ("carol-homework", "how_a_chapter_works"),
        ("dan", "how_a_chapter_works"),
    }
    assert unmatched == [tmp_path / "x.ipynb"]


def test_preface_tells_the_times_and_the_hint_truthfully():
    """The teaching section's claims hold: chapter times and memory, the hint it quotes."""
    text = (ROOT / "book" / "intro.md").read_text()
    section = " ".join(text[text.index("## How to teach with it") :].split())
    assert "from a few seconds to under three minutes on one CPU core, in under 1 GB" in section
    record = json.loads((ROOT / "book" / "back" / "benchmarks" / "chapters.json").read_text())
    timed = {Path(row["notebook"]).stem: row for row in record["rows"]}
    for source in CHAPTERS:
        row = timed[source.stem]
        assert row["seconds"] < 180 and row["peak_mb"] < 1024, row
    quoted = re.search(r"`AssertionError: (ex_demo_bits[^`]*)`", section)
    front = kit.read_chapter(ROOT / "book" / "front" / f"{DEMO}.ipynb", EDITIONS)
    public = [t for e in front.exercises for t in e.tests if not t.hidden]
    assert quoted and any(quoted.group(1) in kit.hints(t.source) for t in public)
    assert "make grade SUBMISSIONS=" in section and "make assignments" in section
