"""Finish the plain-notebook editions that sphinx-tojupyter wrote (``make notebooks``).

sphinx-tojupyter turns the book's doctrees into notebooks in plain Jupyter markdown: ``$$`` math
with the equation numbers of the HTML book, theorems and definitions as bold-headed blocks,
references as the numbers the HTML shows, citations as author-year, and the prose's ``{eval}``
numbers as the values of the build. This script makes those notebooks ready for Colab and any
other front end:

- a first code cell installs the book's library in Colab, pinned to the commit the editions were
  built from (the repository address comes from ``_config.yml``, nowhere else);
- code cells lose the converter's HTML-only metadata;
- a proof keeps one "Proof." heading, not two.

Usage: ``python scripts/make_notebooks.py --source _build/jupyter --out _build/notebooks``.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]

COLAB_CELL = """\
# Colab has no copy of this book: install its library, pinned to the commit these notebooks
# were built from. Colab already has numpy, scipy, matplotlib, torch and tqdm, so nothing else
# is installed. Everywhere else this cell does nothing.
import sys

if "google.colab" in sys.modules:
    import subprocess

    package = "llmtheory @ git+{repository}@{revision}"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", package], check=True)
"""


def repository() -> tuple[str, str]:
    """The book's repository address and branch, from ``_config.yml`` (their only home)."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    return config["repository"]["url"].rstrip("/"), config["repository"]["branch"]


def revision(branch: str) -> str:
    """The commit the editions are built from, or the branch when git cannot tell."""
    result = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout.strip() if result.returncode == 0 else branch


ANCHORS = re.compile(r"\s*(<a id='[^']*'></a>\s*)+")


def merge_anchor_cells(cells: list) -> list:
    """A cell holding only link anchors joins the next markdown cell, so the title comes first.

    An anchor line directly above a heading would open an HTML block that swallows the heading
    (CommonMark), so anchors go to the end of the heading's line, or above a blank line.
    """
    merged: list = []
    carry = ""
    for cell in cells:
        if cell.cell_type == "markdown" and ANCHORS.fullmatch(cell.source):
            carry += "".join(re.findall(r"<a id='[^']*'></a>", cell.source))
            continue
        if carry and cell.cell_type == "markdown":
            text = cell.source.lstrip("\n")
            if text.startswith("#"):
                first, _, rest = text.partition("\n")
                cell.source = f"{first} {carry}\n{rest}"
            else:
                cell.source = f"{carry}\n\n{text}"
            carry = ""
        merged.append(cell)
    return merged


def finish(nb: nbformat.NotebookNode, colab_cell: str) -> nbformat.NotebookNode:
    """Colab cell after the title, clean metadata, one proof heading."""
    nb.cells = merge_anchor_cells(nb.cells)
    for cell in nb.cells:
        cell.metadata.pop("hide-output", None)
        if cell.cell_type == "markdown":
            cell.source = re.sub(r"(\*\*Proof\.\*\*\s*)Proof\.\s*", r"\1", cell.source)
    if any(cell.cell_type == "code" for cell in nb.cells):
        title = next((i for i, c in enumerate(nb.cells) if c.source.lstrip().startswith("# ")), -1)
        nb.cells.insert(title + 1, nbformat.v4.new_code_cell(colab_cell))
    nb.metadata["kernelspec"] = {
        "display_name": "Python 3",
        "language": "python",
        "name": "python3",
    }
    nb.metadata["language_info"] = {"name": "python"}
    for key in ("date", "filename"):
        nb.metadata.pop(key, None)
    nbformat.validator.normalize(nb)
    return nb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=ROOT / "_build/jupyter")
    parser.add_argument("--out", type=Path, default=ROOT / "_build/notebooks")
    args = parser.parse_args()
    url, branch = repository()
    colab_cell = COLAB_CELL.format(repository=url, revision=revision(branch)).rstrip("\n")
    if args.out.exists():
        shutil.rmtree(args.out)
    written = 0
    for path in sorted(args.source.rglob("*.ipynb")):
        relative = path.relative_to(args.source)
        if relative.parts[0] in {"executed", "reports", "_downloads"}:
            continue
        nb = finish(nbformat.read(path, as_version=4), colab_cell)
        target = args.out / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, target)
        written += 1
    print(f"{written} plain editions in {args.out}")


if __name__ == "__main__":
    main()
