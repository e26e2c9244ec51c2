"""Write student and instructor notebooks for every chapter into an output folder.

Student notebooks have every cell tagged ``solution`` removed (nbconvert's
TagRemovePreprocessor) and their outputs cleared; instructor notebooks keep the solutions.
Files a chapter reads from its folder (data, weights) are copied beside both.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import nbformat
from nbconvert.preprocessors import ClearOutputPreprocessor, TagRemovePreprocessor

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
SOLUTION_TAG = "solution"
BANNER = {
    "student": "**Student version.** Solutions are removed; write your own in the exercise cells.",
    "instructor": "**Instructor version.** Solution cells (tagged `solution`) are included.",
}


def chapter_notebooks() -> list[Path]:
    """Every notebook of the book that has at least one solution cell."""
    return [
        path
        for path in sorted(BOOK.rglob("*.ipynb"))
        if ".ipynb_checkpoints" not in path.parts
        and any(SOLUTION_TAG in c.metadata.get("tags", []) for c in nbformat.read(path, 4).cells)
    ]


def make_version(path: Path, version: str) -> nbformat.NotebookNode:
    """The ``"student"`` or ``"instructor"`` version of the notebook at ``path``."""
    if version not in BANNER:
        raise ValueError(f"version must be 'student' or 'instructor', got {version!r}")
    nb = nbformat.read(path, as_version=4)
    resources: dict = {}
    nb, resources = ClearOutputPreprocessor().preprocess(nb, resources)
    if version == "student":
        remover = TagRemovePreprocessor(remove_cell_tags={SOLUTION_TAG})
        nb, resources = remover.preprocess(nb, resources)
    nb.cells.insert(0, nbformat.v4.new_markdown_cell(BANNER[version]))
    return nb


def write_assignments(out: Path) -> list[Path]:
    """Write both versions of every chapter under ``out/student`` and ``out/instructor``."""
    written = []
    for path in chapter_notebooks():
        relative = path.relative_to(BOOK)
        for version in BANNER:
            target = out / version / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            for asset in path.parent.iterdir():  # data or weights a chapter reads beside it
                if asset.is_dir() and not asset.name.startswith((".", "_")):
                    shutil.copytree(asset, target.parent / asset.name, dirs_exist_ok=True)
            nbformat.write(make_version(path, version), target)
            written.append(target)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "_build" / "assignments")
    args = parser.parse_args()
    for path in write_assignments(args.out):
        print(path.relative_to(args.out) if path.is_relative_to(args.out) else path)


if __name__ == "__main__":
    main()
