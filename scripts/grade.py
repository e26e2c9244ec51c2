"""Grade a folder of student notebooks with the course kit's autograders (``make grade``).

Each notebook in the folder (searched recursively) is matched to its chapter by the assignment
name that Otter Assign wrote into its metadata, else by its file name, which must contain the
chapter's (``alice_02_icl_context_parameters.ipynb``, ``alice/02_icl_context_parameters.ipynb``).
The student is the rest of the path: the folder and what the file name holds besides the chapter.
Each notebook is graded with ``otter run`` (no Docker: it executes the notebook in a fresh kernel
of this environment), several at a time, and the scores go to

- ``gradebook.csv``: one row per student, a column per exercise (``chapter/ex-label``), a total
  per chapter, the student's total and the points possible; a first row ``Points Possible``;
- ``feedback/<student>.md``: per chapter, the score of each exercise, the hints of the tests that
  failed (hidden ones included: grading is over) and the cells that raised an error;
- ``runs/<student>/<chapter>/``: Otter's own ``results.json`` and ``results.pkl``.

Usage: ``python scripts/grade.py SUBMISSIONS [--autograders DIR] [--out DIR] [--jobs N]``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import dill
import nbformat

ROOT = Path(__file__).resolve().parents[1]
AUTOGRADERS = ROOT / "_build" / "assignments" / "autograder"
OUT = ROOT / "_build" / "grades"
QUIET = {"LLMTHEORY_PROGRESS": "0", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
POSSIBLE_ROW = "Points Possible"
TIMEOUT_S = 1800
"""Seconds one ``otter run`` may take (a chapter runs in 3 minutes; a notebook that loops is
stopped and scores 0)."""


@dataclass
class Submission:
    """A student's notebook for one chapter."""

    path: Path
    student: str
    chapter: str


@dataclass
class Graded:
    """The grading of one submission."""

    submission: Submission
    scores: dict[str, float] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    failure: str = ""
    seconds: float = 0.0


# --- Autograders and submissions ------------------------------------------------------------------


def autograders(folder: Path = AUTOGRADERS) -> dict[str, Path]:
    """The autograder of each chapter: chapter name -> ``<chapter>.zip``."""
    return {path.stem: path for path in sorted(folder.glob("*.zip"))}


def possible_points(autograder: Path) -> dict[str, float]:
    """The points each exercise of an autograder is worth, from its test files."""
    from otter.test_files.exception_test import ExceptionTestFile

    points = {}
    with zipfile.ZipFile(autograder) as archive:
        for name in sorted(archive.namelist()):
            if re.fullmatch(r"tests/[^/]+\.py", name):
                test = ExceptionTestFile.from_string(archive.read(name).decode(), path=name)
                points[test.name] = float(test.possible)
    return points


def assignment_name(path: Path) -> str | None:
    """The assignment name Otter Assign wrote into a notebook's metadata, if any."""
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception:  # a damaged file is matched by its name, and its grading says what is wrong
        return None
    name = nb.metadata.get("otter", {}).get("assignment_name")
    return name if isinstance(name, str) else None


def chapter_of(path: Path, chapters: list[str]) -> str | None:
    """The chapter a notebook answers: its metadata's assignment name, else its file name's."""
    named = assignment_name(path)
    if named in chapters:
        return named
    matching = [c for c in chapters if c in path.stem]
    return max(matching, key=len) if matching else None


def student_of(path: Path, folder: Path, chapter: str) -> str:
    """The student: the notebook's folder and file name under ``folder``, minus the chapter."""
    relative = path.relative_to(folder)
    rest = relative.stem.replace(chapter, "").strip(" _-.")
    parts = [p for p in relative.parent.parts if p != chapter] + ([rest] if rest else [])
    return "/".join(parts) or relative.stem


def find_submissions(folder: Path, chapters: list[str]) -> tuple[list[Submission], list[Path]]:
    """The gradable notebooks under ``folder``, and those matching no chapter."""
    found, unmatched = [], []
    for path in sorted(folder.rglob("*.ipynb")):
        if ".ipynb_checkpoints" in path.parts:
            continue
        chapter = chapter_of(path, chapters)
        if chapter is None:
            unmatched.append(path)
        else:
            found.append(Submission(path, student_of(path, folder, chapter), chapter))
    return found, unmatched


# --- Grading --------------------------------------------------------------------------------------


def safe_name(student: str) -> str:
    """A student's name as a file name."""
    return re.sub(r"[^\w.-]+", "_", student)


def run_folder(out: Path, submission: Submission) -> Path:
    """Where Otter's results for a submission are kept."""
    return out / "runs" / safe_name(submission.student) / submission.chapter


def otter_run(
    submission: Submission, autograder: Path, folder: Path
) -> subprocess.CompletedProcess:
    """``otter run`` on one notebook; ``results.json`` and ``results.pkl`` go to ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "otter", "run", "--no-logo", "--pickle-results"]
    command += ["-a", str(autograder.resolve()), "-o", str(folder.resolve())]
    return subprocess.run(
        [*command, str(submission.path.resolve())],
        cwd=folder,
        env={**os.environ, **QUIET},
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )


def raised(nb: nbformat.NotebookNode) -> list[str]:
    """The cells of an executed notebook that raised: first line of the cell, then the error."""
    found = []
    for cell in nb.cells:
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if output.get("output_type") == "error":
                first = cell.source.strip().split("\n", 1)[0][:70]
                found.append(f"`{first}`: {output.get('ename')}: {output.get('evalue')}")
    return found


def failed_tests(test_file) -> str:
    """The failed test cases of one exercise: name, kind, points and the error (the hint)."""
    lines = []
    for result in test_file.test_case_results:
        if not result.passed:
            case = result.test_case
            kind = "hidden" if case.hidden else "public"
            error = [x for x in (result.message or "").strip().splitlines() if x.strip()]
            lines.append(f"{case.name} ({kind}, {case.points:g} pt): {error[-1] if error else ''}")
    return "\n".join(lines)


def read_results(graded: Graded, folder: Path, points: dict[str, float]) -> None:
    """Scores from Otter's ``results.json``; failed tests and raised cells from ``results.pkl``."""
    results = json.loads((folder / "results.json").read_text())
    for test in results.get("tests", []):
        if test.get("name") in points and "score" in test:
            graded.scores[test["name"]] = float(test["score"])
    pickled = folder / "results.pkl"
    if not pickled.is_file():
        return
    with pickled.open("rb") as file:
        outcome = dill.load(file)
    if outcome.catastrophic_error is not None:
        graded.failure = f"the grader could not read the results: {outcome.catastrophic_error}"
        return
    graded.outputs = {name: failed_tests(outcome.results[name]) for name in outcome.results}
    if getattr(outcome, "notebook", None) is not None:
        graded.errors = raised(outcome.notebook)


def grade(submission: Submission, autograder: Path, out: Path) -> Graded:
    """Grade one submission: every exercise of its chapter gets a score, 0 when it failed."""
    graded = Graded(submission)
    folder = run_folder(out, submission)
    points = possible_points(autograder)
    start = time.perf_counter()
    try:
        done = otter_run(submission, autograder, folder)
    except subprocess.TimeoutExpired:
        graded.failure = f"otter run stopped after {TIMEOUT_S} s"
        done = None
    graded.seconds = time.perf_counter() - start
    if (folder / "results.json").is_file():
        read_results(graded, folder, points)
    if done is not None and done.returncode != 0 and not graded.failure:
        graded.failure = f"otter run failed (status {done.returncode}):\n{done.stderr[-2000:]}"
    graded.scores = {name: graded.scores.get(name, 0.0) for name in points}
    return graded


def grade_all(
    submissions: list[Submission], graders: dict[str, Path], out: Path, jobs: int = 2
) -> list[Graded]:
    """Grade every submission, ``jobs`` at a time (each ``otter run`` is its own process)."""
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = [pool.submit(grade, s, graders[s.chapter], out) for s in submissions]
        return [future.result() for future in futures]


# --- Gradebook and feedback -----------------------------------------------------------------------


def columns(graders: dict[str, Path], graded: list[Graded]) -> dict[str, dict[str, float]]:
    """The chapters graded (in the autograders' order) and the points of their exercises, in the
    order the notebooks check them (Otter's results follow the notebook)."""
    chapters = {}
    for chapter, path in graders.items():
        mine = [g for g in graded if g.submission.chapter == chapter]
        if mine:
            points = possible_points(path)
            order = max((list(g.outputs) for g in mine), key=len)
            ranked = sorted(points, key=lambda n: order.index(n) if n in order else len(order))
            chapters[chapter] = {name: points[name] for name in ranked}
    return chapters


def gradebook_rows(graded: list[Graded], chapters: dict[str, dict[str, float]]) -> list[list]:
    """Header, the points-possible row, then one row per student (sorted)."""
    header = ["student"]
    possible_row: list = [POSSIBLE_ROW]
    for chapter, points in chapters.items():
        header += [f"{chapter}/{name}" for name in points] + [f"{chapter}/total"]
        possible_row += [*points.values(), sum(points.values())]
    header += ["total", "possible"]
    possible_row += [sum(sum(p.values()) for p in chapters.values())] * 2
    rows = [header, possible_row]
    by_student: dict[str, dict[str, Graded]] = {}
    for g in graded:
        by_student.setdefault(g.submission.student, {}).setdefault(g.submission.chapter, g)
    for student in sorted(by_student):
        row: list = [student]
        total = possible = 0.0
        for chapter, points in chapters.items():
            g = by_student[student].get(chapter)
            if g is None:
                row += [""] * (len(points) + 1)
                continue
            scores = [g.scores[name] for name in points]
            row += [*scores, sum(scores)]
            total, possible = total + sum(scores), possible + sum(points.values())
        rows.append([*row, total, possible])
    return rows


def write_gradebook(rows: list[list], out: Path) -> Path:
    """Write the gradebook CSV."""
    path = out / "gradebook.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as file:
        csv.writer(file).writerows(
            [[f"{v:g}" if isinstance(v, float) else v for v in r] for r in rows]
        )
    return path


def feedback(student: str, graded: list[Graded], chapters: dict[str, dict[str, float]]) -> str:
    """A student's feedback, in Markdown."""
    lines = [f"# Feedback for {student}", ""]
    for g in sorted(graded, key=lambda g: list(chapters).index(g.submission.chapter)):
        points = chapters[g.submission.chapter]
        total = sum(g.scores.values())
        lines += [f"## {g.submission.chapter}: {total:g} / {sum(points.values()):g} points", ""]
        lines += [f"Graded file: `{g.submission.path.name}`.", ""]
        if g.failure:
            lines += [
                "**The grader could not grade this notebook:**",
                "",
                "```",
                g.failure,
                "```",
                "",
            ]
        for name, possible in points.items():
            lines.append(f"- `{name}`: {g.scores[name]:g} / {possible:g}")
            if g.scores[name] < possible and g.outputs.get(name):
                lines += [f"  - {x}" for x in g.outputs[name].splitlines()]
        if g.errors:
            lines += ["", "Cells that raised an error when the notebook was run top to bottom:"]
            lines += [f"- {e}" for e in g.errors]
        lines.append("")
    return "\n".join(lines)


def write_feedback(
    graded: list[Graded], chapters: dict[str, dict[str, float]], out: Path
) -> list[Path]:
    """Write one feedback file per student into ``out/feedback``."""
    folder = out / "feedback"
    folder.mkdir(parents=True, exist_ok=True)
    by_student: dict[str, list[Graded]] = {}
    for g in graded:
        by_student.setdefault(g.submission.student, []).append(g)
    written = []
    for student, mine in sorted(by_student.items()):
        path = folder / f"{safe_name(student)}.md"
        path.write_text(feedback(student, mine, chapters))
        written.append(path)
    return written


def grade_folder(
    submissions: Path, graders: dict[str, Path], out: Path, jobs: int = 2
) -> list[Graded]:
    """Grade a folder of notebooks and write the gradebook and the feedback into ``out``."""
    for stale in ("feedback", "runs"):  # of an earlier folder of submissions
        shutil.rmtree(out / stale, ignore_errors=True)
    found, unmatched = find_submissions(submissions, list(graders))
    for path in unmatched:
        print(f"skipped {path}: its name holds no chapter name ({', '.join(graders)})")
    pairs = [(s.student, s.chapter) for s in found]
    for student, chapter in sorted({p for p in pairs if pairs.count(p) > 1}):
        print(f"{student} handed in {chapter} more than once: the gradebook keeps the first")
    graded = grade_all(found, graders, out, jobs)
    chapters = columns(graders, graded)
    write_gradebook(gradebook_rows(graded, chapters), out)
    write_feedback(graded, chapters, out)
    return graded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("submissions", type=Path, help="a folder of student notebooks")
    parser.add_argument("--autograders", type=Path, default=AUTOGRADERS)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--jobs", type=int, default=min(4, os.cpu_count() or 1))
    args = parser.parse_args()
    graders = autograders(args.autograders)
    if not graders:
        sys.exit(f"no autograders in {args.autograders}: run `make assignments` first")
    if not args.submissions.is_dir():
        sys.exit(f"{args.submissions} is not a folder")
    for g in grade_folder(args.submissions, graders, args.out, args.jobs):
        total = sum(g.scores.values())
        note = " (grader failure)" if g.failure else ""
        who = f"{g.submission.student} / {g.submission.chapter}"
        print(f"{who}: {total:g} points in {g.seconds:.0f} s{note}")
    print(f"gradebook: {args.out / 'gradebook.csv'}; feedback: {args.out / 'feedback'}")


if __name__ == "__main__":
    main()
