"""Build the course kit (``make assignments``): student and instructor editions, and autograders.

The chapter notebook is the single source. Its plain edition (``make notebooks``, in
``_build/notebooks/``) gives the text as Colab and the classic Notebook show it; the chapter gives
what the plain edition drops: which code cells are solutions (tag ``solution``) and the exercise
tests (cells tagged ``exercise-test``, with ``exercise_test`` metadata; see CONTRIBUTING.md,
"Exercises that grade themselves"). From the two, this script writes one Otter Assign *master
notebook* per chapter and runs ``otter assign`` on it, which writes

- ``student/<chapter>/`` (and ``student/<chapter>.zip`` to hand out): the statements, one answer
  cell ``ex_slug_name = ...`` and one free-text cell per exercise, ``grader.check("ex-slug-name")``
  cells running the public tests in ``tests/``, no solution;
- ``instructor/<chapter>/``: the same with the solutions, and every test (public and hidden);
- ``autograder/<chapter>.zip``: what ``otter run`` (``make grade``) grades a submission with;
- ``masters/<chapter>/``: the master notebooks, Otter Assign's input.

Otter's own machinery removes the solutions: each exercise's solution cells become one answer cell
whose prompt (``ex_slug_name = ...``) replaces the solution code in the student edition, the
solution prose is a solution block it drops, and the test cells become Otter's exception-based
tests (the cell's code in a function of the names it reads, so a failed ``assert`` shows its
message). Shipped files the chapter may read (``llmtheory.resources.shipped_path``: those of its
part and those it names) are copied into each folder, where ``shipped_path`` finds them beside the
notebook. The Colab cell is left out: the editions need their folder. A chapter whose exercises do
not follow the convention gets no assignment: the script says why and exits with status 1.

Usage: ``python scripts/make_assignments.py [--editions DIR] [--out DIR] [CHAPTER.ipynb ...]``
(defaults: ``_build/notebooks``, ``_build/assignments``, every chapter with exercises).
"""

from __future__ import annotations

import argparse
import ast
import builtins
import json
import re
import shutil
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import nbformat
from nbformat import NotebookNode
from nbformat.v4 import new_code_cell, new_markdown_cell, new_raw_cell

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
EDITIONS = ROOT / "_build" / "notebooks"
OUT = ROOT / "_build" / "assignments"
MANIFEST = ROOT / "lib" / "llmtheory" / "data" / "shipped.json"
SOLUTION_TAG, TEST_TAG, REMOVE_TAG = "solution", "exercise-test", "remove-cell"
COLAB_MARK = "google.colab"

EXERCISE_DIRECTIVE = re.compile(
    r"(?:```|:::)\{exercise(?:-start)?\}[^\n]*\n((?:[ \t]*:[\w-]+:.*\n?)*)"
)
EXERCISE_HEADING = re.compile(r"#{1,6}\s+Exercise\s+(\d+)\b")
# "Solution to Exercise 5.2", with or without a link to the exercise's label
SOLUTION_HEADING = re.compile(
    r"#{1,6}\s+Solution to\s*\[?\s*Exercise\s+([\d.]+)\]?(?:\(#([\w-]+)\))?"
)
HEADING = re.compile(r"#{1,6}\s")

FREE_TEXT = (
    "**Your explanation** (read by your instructor, not graded automatically): "
    "_Type your answer here, replacing this text._"
)
PROMPT = '''""" # BEGIN PROMPT
# YOUR CODE HERE: store your answer in `{variable}` (see "Your answer" above).
{variable} = ...
""" # END PROMPT
# BEGIN SOLUTION NO PROMPT
{solution}
# END SOLUTION'''
TEST_CONFIG = '""" # BEGIN TEST CONFIG\nhidden: {hidden}\npoints: {points}\n""" # END TEST CONFIG\n'


@dataclass
class TestCell:
    """One exercise test: a code cell tagged ``exercise-test`` of the chapter."""

    exercise: str
    points: float
    hidden: bool
    wrong: list[str]
    source: str


@dataclass
class Exercise:
    """An exercise of a chapter, as the plain edition shows it and the chapter tests it."""

    label: str
    statement: list[NotebookNode] = field(default_factory=list)
    prose: list[NotebookNode] = field(default_factory=list)
    code: list[str] = field(default_factory=list)
    tests: list[TestCell] = field(default_factory=list)

    @property
    def variable(self) -> str:
        """The answer variable: the label with ``-`` turned into ``_``."""
        return self.label.replace("-", "_")


@dataclass
class Chapter:
    """A chapter with exercises, parsed from its source and its plain edition."""

    source: Path
    edition: Path
    exercises: list[Exercise] = field(default_factory=list)
    cells: list[NotebookNode | Exercise] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The assignment's name: the chapter's file name without ``.ipynb``."""
        return self.source.stem


# --- Reading a chapter ----------------------------------------------------------------------------


def has_exercises(path: Path) -> bool:
    """Whether the notebook at ``path`` states at least one ``{exercise}``."""
    nb = nbformat.read(path, as_version=4)
    return any(EXERCISE_DIRECTIVE.search(c.source) for c in nb.cells if c.cell_type == "markdown")


def chapter_sources() -> list[Path]:
    """Every notebook of the book with exercises: the chapters that get an assignment."""
    notebooks = sorted(p for p in BOOK.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
    return [p for p in notebooks if has_exercises(p)]


def edition_of(source: Path, editions: Path) -> Path:
    """The plain edition of the chapter ``source`` under ``editions``."""
    return editions / source.resolve().relative_to(ROOT)


def exercise_labels(nb: NotebookNode) -> list[str]:
    """The labels of the chapter's exercises, in order (an unlabelled one gets ``""``)."""
    labels = []
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for match in EXERCISE_DIRECTIVE.finditer(cell.source):
                label = re.search(r":label:\s*(\S+)", match.group(1))
                labels.append(label.group(1) if label else "")
    return labels


def tags(cell: NotebookNode) -> list[str]:
    """The cell's tags."""
    return list(cell.get("metadata", {}).get("tags", []))


def read_test(cell: NotebookNode) -> tuple[TestCell | None, list[str]]:
    """The test a cell tagged ``exercise-test`` holds, and what is wrong with it."""
    meta = cell.metadata.get("exercise_test")
    first = cell.source.strip().splitlines()[0] if cell.source.strip() else "(empty)"
    where = f"test cell `{first[:60]}`"
    if not isinstance(meta, dict) or not isinstance(meta.get("exercise"), str):
        return None, [f'{where} has no "exercise_test": {{"exercise": ...}} metadata']
    problems = []
    points, hidden, wrong = meta.get("points"), meta.get("hidden"), meta.get("wrong", [])
    if isinstance(points, bool) or not isinstance(points, int | float) or points <= 0:
        problems.append(f'{where}: "points" must be a positive number, got {points!r}')
    if not isinstance(hidden, bool):
        problems.append(f'{where}: "hidden" must be true or false, got {hidden!r}')
    if not isinstance(wrong, list) or not all(isinstance(w, str) for w in wrong):
        problems.append(f'{where}: "wrong" must be a list of Python expressions (strings)')
    if REMOVE_TAG not in tags(cell):
        problems.append(f"{where} is not tagged `{REMOVE_TAG}` (it would show in the book)")
    problems += [f"{where}: {p}" for p in test_source_problems(cell.source)]
    if problems:
        return None, problems
    return TestCell(meta["exercise"], points, hidden, list(wrong), cell.source), []


def test_source_problems(source: str) -> list[str]:
    """What keeps a test cell's code from becoming an Otter test: syntax, asserts without hints."""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        return [f"invalid Python ({exc.msg}, line {exc.lineno})"]
    asserts = [node for node in ast.walk(tree) if isinstance(node, ast.Assert)]
    if not asserts:
        return ["holds no assert statement"]
    if any(node.msg is None for node in asserts):
        return ["has an assert without a message (the hint the student sees)"]
    if "env" in free_names(source):
        return ["uses the name `env`, which Otter reserves"]
    return []


def hints(source: str) -> list[str]:
    """The messages of a test cell's asserts (the constant text of an f-string message)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Assert) and node.msg is not None:
            parts = [
                n.value
                for n in ast.walk(node.msg)
                if isinstance(n, ast.Constant) and isinstance(n.value, str)
            ]
            if parts:
                found.append(
                    max(parts, key=len) if isinstance(node.msg, ast.JoinedStr) else "".join(parts)
                )
    return found


def free_names(source: str) -> list[str]:
    """Names a test reads that Python does not provide: the answer and the chapter's globals."""
    loaded = {
        node.id
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)
    }
    return sorted(loaded - set(dir(builtins)))


def code_cells_match(source: NotebookNode, edition: NotebookNode) -> bool:
    """Whether the edition's code cells are the source's minus ``remove-cell``, in order."""
    src = [
        c.source.strip()
        for c in source.cells
        if c.cell_type == "code" and REMOVE_TAG not in tags(c)
    ]
    ed = [
        c.source.strip()
        for c in edition.cells
        if c.cell_type == "code" and COLAB_MARK not in c.source
    ]
    return src == ed


def heading(cell: NotebookNode) -> str | None:
    """The first line of a markdown cell that opens with a heading, else ``None``."""
    if cell.cell_type != "markdown":
        return None
    first = cell.source.lstrip().split("\n", 1)[0]
    return first if HEADING.match(first) else None


class EditionWalk:
    """A walk through the plain edition that sorts its cells into plain cells and exercises.

    An exercise starts at an "Exercise N" heading (the N-th heading is the chapter's N-th
    exercise: the book numbers exercises across chapters); its solution runs from the "Solution
    to" heading to the next heading, and takes the code cells that the chapter tags ``solution``.
    """

    def __init__(self, chapter: Chapter, flags: list[tuple[bool, bool]]) -> None:
        self.chapter = chapter
        self.flags = iter(flags)
        self.current: Exercise | None = None
        self.in_solution = False
        self.seen = 0

    def take(self, cell: NotebookNode) -> None:
        """Sort one cell of the edition, in order."""
        title = heading(cell)
        if title is not None and self.take_heading(cell, title):
            return
        if cell.cell_type == "code" and COLAB_MARK not in cell.source and self.take_code(cell):
            return
        if self.current is not None and self.in_solution:
            self.current.prose.append(cell)
        elif self.current is not None and cell.cell_type == "markdown":
            self.current.statement.append(cell)
        else:
            self.chapter.cells.append(cell)

    def take_heading(self, cell: NotebookNode, title: str) -> bool:
        """Open an exercise or its solution; any other heading closes the exercise."""
        self.in_solution = False
        solution = SOLUTION_HEADING.match(title)
        if EXERCISE_HEADING.match(title):
            self.seen += 1
            self.current = next_exercise(self.chapter, self.seen, title)
            if self.current is not None:
                self.current.statement.append(cell)
                self.chapter.cells.append(self.current)
            return self.current is not None
        if solution and self.current is not None:
            self.in_solution = True
            if solution.group(2) not in (None, self.current.label):
                problem = f"`{title}` follows the statement of {self.current.label}"
                self.chapter.problems.append(problem)
            self.current.prose.append(cell)
            return True
        self.current = None
        return False

    def take_code(self, cell: NotebookNode) -> bool:
        """A solution cell joins its exercise; a cell after the solution's end closes it."""
        is_solution, in_block = next(self.flags)
        if not (is_solution or in_block):
            if self.current is not None and not self.in_solution:
                problem = f"a code cell lies between {self.current.label} and its solution"
                self.chapter.problems.append(problem)
            self.current, self.in_solution = None, False
            return False
        start = repr(cell.source[:60])
        if self.current is None:
            self.chapter.problems.append(f"a solution cell lies outside any exercise: {start}")
        elif not is_solution:
            self.chapter.problems.append(
                f"a code cell in the solution of {self.current.label} is not tagged "
                f"`{SOLUTION_TAG}`: {start}"
            )
        else:
            self.current.code.append(cell.source)
        return True


def split_edition(chapter: Chapter, edition: NotebookNode, flags: list[tuple[bool, bool]]) -> None:
    """Sort the edition's cells into the chapter's plain cells and its exercises; ``flags`` says
    of each code cell whether it is tagged ``solution`` and whether it lies in a solution block."""
    walk = EditionWalk(chapter, flags)
    for cell in edition.cells:
        walk.take(cell)
    found = [e.label for e in chapter.cells if isinstance(e, Exercise)]
    labels = [e.label for e in chapter.exercises]
    if found != labels:
        problem = f"the plain edition shows the exercises {found}, the chapter {labels}"
        chapter.problems.append(problem)


def next_exercise(chapter: Chapter, seen: int, title: str) -> Exercise | None:
    """The chapter's ``seen``-th exercise, or ``None`` with a problem noted."""
    if seen > len(chapter.exercises):
        chapter.problems.append(f"the plain edition has more exercises than the chapter: `{title}`")
        return None
    exercise = chapter.exercises[seen - 1]
    anchor = re.search(r"<a id='([\w-]+)'>", title)
    if anchor and anchor.group(1) != exercise.label:
        problem = f"`{title}` is exercise {seen} of the edition, not {exercise.label}"
        chapter.problems.append(problem)
    return exercise


def test_problems(chapter: Chapter) -> list[str]:
    """What the chapter's tests lack: a public and a hidden test per exercise, a wrong answer."""
    problems = []
    for exercise in chapter.exercises:
        public = [t for t in exercise.tests if not t.hidden]
        hidden = [t for t in exercise.tests if t.hidden]
        if not public or not hidden:
            problems.append(
                f"{exercise.label or 'an unlabelled exercise'} needs at least one public and one "
                f"hidden `{TEST_TAG}` cell (has {len(public)} public, {len(hidden)} hidden)"
            )
    public_wrong = [t.wrong for e in chapter.exercises for t in e.tests if not t.hidden]
    if chapter.exercises and not any(public_wrong):
        problems.append('no public test lists a plausible "wrong" answer')
    return problems


def solution_problems(chapter: Chapter) -> list[str]:
    """What the chapter's solutions lack: code that assigns the answer variable."""
    problems = []
    for exercise in chapter.exercises:
        if not exercise.code:
            problems.append(f"{exercise.label} has no solution code cell (tag `{SOLUTION_TAG}`)")
        elif not assigns(exercise.variable, exercise.code):
            problems.append(
                f"the solution of {exercise.label} does not assign `{exercise.variable}`"
            )
    return problems


def assigns(variable: str, code: list[str]) -> bool:
    """Whether the code assigns ``variable`` (at any level)."""
    for source in code:
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        if any(
            isinstance(node, ast.Name) and node.id == variable and isinstance(node.ctx, ast.Store)
            for node in ast.walk(tree)
        ):
            return True
    return False


def attach_tests(chapter: Chapter, src: NotebookNode) -> None:
    """Give each exercise the test cells that name it, in order."""
    by_label = {e.label: e for e in chapter.exercises}
    for cell in src.cells:
        if cell.cell_type == "code" and TEST_TAG in tags(cell):
            test, problems = read_test(cell)
            chapter.problems += problems
            if test is not None and test.exercise not in by_label:
                chapter.problems.append(f"a test cell names the unknown exercise {test.exercise!r}")
            elif test is not None:
                by_label[test.exercise].tests.append(test)


def read_edition(chapter: Chapter, src: NotebookNode) -> None:
    """Sort the plain edition's cells, which must hold the chapter's code."""
    if not chapter.edition.is_file():
        chapter.problems.append(f"no plain edition {chapter.edition}: run `make notebooks`")
        return
    edition = nbformat.read(chapter.edition, as_version=4)
    if not code_cells_match(src, edition):
        chapter.problems.append(
            f"the plain edition {chapter.edition} is stale (its code differs from the chapter's): "
            "run `make notebooks`"
        )
        return
    split_edition(chapter, edition, code_flags(src))
    chapter.problems += solution_problems(chapter)


def code_flags(src: NotebookNode) -> list[tuple[bool, bool]]:
    """For each code cell the editions keep: tagged ``solution``? between the solution markers?"""
    flags, inside = [], False
    for cell in src.cells:
        if cell.cell_type == "markdown":
            for marker in re.findall(r"\{solution-(start|end)\}", cell.source):
                inside = marker == "start"
        elif REMOVE_TAG not in tags(cell):
            flags.append((SOLUTION_TAG in tags(cell), inside))
    return flags


def read_chapter(source: Path, editions: Path = EDITIONS) -> Chapter:
    """Parse a chapter and its plain edition; ``problems`` says what keeps it from being graded."""
    chapter = Chapter(source=source, edition=edition_of(source, editions))
    src = nbformat.read(source, as_version=4)
    labels = exercise_labels(src)
    chapter.exercises = [Exercise(label) for label in labels]
    if "" in labels:
        chapter.problems.append("an {exercise} has no :label:")
    attach_tests(chapter, src)
    chapter.problems += test_problems(chapter)
    read_edition(chapter, src)
    return chapter


# --- The master notebook --------------------------------------------------------------------------


def shipped_files(source: Path) -> dict[str, str]:
    """The shipped files a chapter may read, each with its place beside the notebook.

    They are the manifest's files in the chapter's part folder and those the chapter names;
    each goes where ``shipped_path`` looks beside the notebook: its path below its part folder
    (``book/back/benchmarks/peeling.json`` -> ``benchmarks/peeling.json``).
    """
    folder = PurePosixPath(source.resolve().relative_to(ROOT).parent.as_posix())
    text = source.read_text()
    return {
        relpath: PurePosixPath(*PurePosixPath(relpath).parts[2:]).as_posix()
        for relpath in sorted(json.loads(MANIFEST.read_text()))
        if PurePosixPath(relpath).is_relative_to(folder) or relpath in text
    }


def assignment_config(chapter: Chapter) -> str:
    """The ``# ASSIGNMENT CONFIG`` cell: file-based, exception-style tests; no PDFs, no export."""
    beside = shipped_files(chapter.source).values()
    folders = sorted({PurePosixPath(f).parts[0] for f in beside})
    config = {
        "name": chapter.name,
        "init_cell": True,
        "check_all_cell": False,
        "export_cell": False,
        "show_question_points": True,
        "run_tests": False,
        "tests": {"files": True, "ok_format": False},
        "generate": True,
        "files": folders,
    }
    return "# ASSIGNMENT CONFIG\n" + "\n".join(f"{k}: {json.dumps(v)}" for k, v in config.items())


def test_function(test: TestCell, variable: str, index: int) -> str:
    """A test cell as an Otter test: its code in a function of the names it reads."""
    names = [variable, *(n for n in free_names(test.source) if n != variable)]
    body = textwrap.indent(test.source.strip(), "    ")
    config = TEST_CONFIG.format(hidden=json.dumps(test.hidden), points=test.points)
    return f"{config}def test_{index}({', '.join(names)}):\n{body}\n"


def question_cells(exercise: Exercise) -> list[NotebookNode]:
    """The Otter question for one exercise: statement, solution, free text, tests."""
    answer = new_code_cell(
        PROMPT.format(
            variable=exercise.variable, solution="\n\n".join(c.strip() for c in exercise.code)
        )
    )
    free_text = new_markdown_cell(FREE_TEXT, metadata={"tags": ["otter_include"]})
    tests = [
        new_code_cell(test_function(t, exercise.variable, i))
        for i, t in enumerate(exercise.tests, 1)
    ]
    return [
        new_raw_cell(f"# BEGIN QUESTION\nname: {exercise.label}"),
        *exercise.statement,
        new_raw_cell("# BEGIN SOLUTION"),
        *exercise.prose,
        answer,
        free_text,
        new_raw_cell("# END SOLUTION"),
        new_raw_cell("# BEGIN TESTS"),
        *tests,
        new_raw_cell("# END TESTS"),
        new_raw_cell("# END QUESTION"),
    ]


def master_notebook(chapter: Chapter) -> NotebookNode:
    """The Otter Assign master notebook of a chapter, from its plain edition and its tests."""
    edition = nbformat.read(chapter.edition, as_version=4)
    nb = nbformat.v4.new_notebook(metadata=edition.metadata)
    nb.cells.append(new_raw_cell(assignment_config(chapter)))
    for item in chapter.cells:
        if isinstance(item, Exercise):
            nb.cells += question_cells(item)
        elif COLAB_MARK not in item.source:  # the editions need a folder: Colab cannot run them
            nb.cells.append(item)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nbformat.validator.normalize(nb)
    return nb


# --- Otter Assign ---------------------------------------------------------------------------------


def write_master(chapter: Chapter, out: Path) -> Path:
    """Write the master notebook and the chapter's shipped files into ``out/masters/<chapter>``."""
    folder = out / "masters" / chapter.name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for relpath, beside in shipped_files(chapter.source).items():
        target = folder / beside
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / relpath, target)
    master = folder / f"{chapter.name}.ipynb"
    nbformat.write(master_notebook(chapter), master)
    return master


def run_otter_assign(master: Path, result: Path) -> None:
    """``otter assign`` (no test run: ``make test`` grades every edition itself), in-process."""
    from otter.assign import main as otter_assign

    otter_assign(str(master), str(result), no_pdfs=True, no_run_tests=True)


def arrange(chapter: Chapter, result: Path, out: Path) -> dict[str, Path]:
    """Move Otter's output into ``student/``, ``instructor/`` and ``autograder/<chapter>.zip``."""
    paths = {
        "student": out / "student" / chapter.name,
        "instructor": out / "instructor" / chapter.name,
        "autograder": out / "autograder" / f"{chapter.name}.zip",
    }
    for key in ("student", "instructor"):
        shutil.rmtree(paths[key], ignore_errors=True)
    paths["autograder"].parent.mkdir(parents=True, exist_ok=True)
    (zipped,) = (result / "autograder").glob(f"{chapter.name}-autograder_*.zip")
    shutil.move(zipped, paths["autograder"])
    shutil.copytree(result / "student", paths["student"])
    shutil.make_archive(str(paths["student"]), "zip", paths["student"].parent, chapter.name)
    shutil.copytree(
        result / "autograder",
        paths["instructor"],
        ignore=shutil.ignore_patterns(
            "otter_config.json", "requirements.txt", "environment.yml", "run_autograder", "setup.sh"
        ),
    )
    shutil.rmtree(result)
    return paths


def build_chapter(chapter: Chapter, out: Path) -> dict[str, Path]:
    """Master notebook, ``otter assign``, and the three outputs of one chapter."""
    master = write_master(chapter, out)
    result = master.parent / "dist"
    run_otter_assign(master, result)
    return arrange(chapter, result, out)


def build(
    editions: Path = EDITIONS, out: Path = OUT, sources: list[Path] | None = None
) -> dict[str, Chapter]:
    """Build the kit for every chapter with exercises; a chapter with problems gets none."""
    chapters = {}
    for source in chapter_sources() if sources is None else sources:
        chapter = read_chapter(source, editions)
        chapters[chapter.name] = chapter
        for folder in ("student", "instructor", "masters"):
            shutil.rmtree(out / folder / chapter.name, ignore_errors=True)
        (out / "autograder" / f"{chapter.name}.zip").unlink(missing_ok=True)
        (out / "student" / f"{chapter.name}.zip").unlink(missing_ok=True)
        if not chapter.problems:
            build_chapter(chapter, out)
    return chapters


def summary(chapter: Chapter) -> str:
    """One line per chapter: what was built, or why not."""
    if chapter.problems:
        listed = "\n".join(f"    - {p}" for p in chapter.problems)
        return f"{chapter.name}: NOT BUILT\n{listed}"
    tests = [t for e in chapter.exercises for t in e.tests]
    hidden = sum(t.hidden for t in tests)
    points = sum(t.points for t in tests)
    return (
        f"{chapter.name}: {len(chapter.exercises)} exercises, {len(tests) - hidden} public and "
        f"{hidden} hidden tests, {points:g} points"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--editions", type=Path, default=EDITIONS, help="the plain editions")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("chapters", nargs="*", type=Path, help="chapter notebooks (default: all)")
    args = parser.parse_args()
    chapters = build(args.editions, args.out, [p.resolve() for p in args.chapters] or None)
    for chapter in chapters.values():
        print(summary(chapter))
    print(f"student and instructor editions and autograders in {args.out}")
    if any(c.problems for c in chapters.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
