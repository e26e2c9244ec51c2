"""Finish the plain-notebook editions that sphinx-tojupyter wrote (``make notebooks``).

sphinx-tojupyter turns the book's doctrees into notebooks in plain Jupyter markdown: ``$$`` math
with the equation numbers of the HTML book, theorems and definitions as bold-headed blocks,
references as the numbers the HTML shows, citations as author-year, and the prose's ``{eval}``
numbers as the values of the build. This script makes those notebooks ready for Colab and any
other front end:

- a first code cell installs the book's library in Colab, pinned to the commit the editions were
  built from (the repository address comes from ``_config.yml``, nowhere else);
- each figure's caption, number included, follows the cell that draws it (the converter drops
  captions, which the chapters keep in cell metadata), taken from the HTML book;
- a definition, theorem or exercise gets the anchor its references link to, and a link to an
  anchor that no edition has (an API entry) keeps only its text;
- inline math is ``$x$``, not ``$ x $`` (VS Code and pandoc need no inner spaces);
- a boxed note keeps its title as a quote, not as a second top-level heading;
- code cells lose the converter's HTML-only metadata, and a proof has one "Proof." heading.

Usage: ``python scripts/make_notebooks.py --source _build/jupyter --out _build/notebooks``.
"""

from __future__ import annotations

import argparse
import html
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

ANCHOR = re.compile(r"<a id='[^']*'></a>")
ANCHORS = re.compile(r"\s*(<a id='[^']*'></a>\s*)+")
BLOCK_LINK = re.compile(r"\[((?:[A-Z][a-z]+ )\d+)\]\(#([\w-]+)\)")
BLOCK_HEAD = re.compile(r"^(?:\*\*|## )([A-Z][a-z]+ \d+)\b", re.M)
CAPTION = re.compile(
    r'<span class="caption-number">(?P<number>[^<]*?)\s*</span>'
    r'<span class="caption-text">(?P<text>.*?)</span><a class="headerlink" href="#(?P<name>[^"]+)"',
    re.S,
)


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


def merge_anchor_cells(cells: list) -> list:
    """A cell holding only link anchors joins the next markdown cell, so the title comes first.

    An anchor line directly above a heading would open an HTML block that swallows the heading
    (CommonMark), so anchors go to the end of the heading's line, or above a blank line.
    """
    merged: list = []
    carry = ""
    for cell in cells:
        if cell.cell_type == "markdown" and ANCHORS.fullmatch(cell.source):
            carry += "".join(ANCHOR.findall(cell.source))
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


def caption_markdown(fragment: str) -> str:
    """A caption of the HTML book as plain Jupyter markdown: math, equation links, text."""
    text = re.sub(
        r'<span class="math notranslate nohighlight">\\\((.*?)\\\)</span>', r"$\1$", fragment
    )
    text = re.sub(r'<a class="reference internal" href="(#[^"]+)">(.*?)</a>', r"[\2](\1)", text)
    text = re.sub(r'<a class="reference internal" href="[^"]*">(.*?)</a>', r"\1", text)
    return html.unescape(re.sub(r"<[^>]+>", "", text)).strip()


def html_captions(page: Path) -> dict[str, str]:
    """Figure name -> "**Fig. N.** caption" for every figure of an HTML page."""
    if not page.is_file():
        return {}
    return {
        m["name"]: f"**{m['number'].strip()}.** {caption_markdown(m['text'])}"
        for m in CAPTION.finditer(page.read_text())
    }


def figure_names(source: Path) -> list[str | None]:
    """The figure name of each code cell that the editions keep (not tagged remove-cell)."""
    if not source.is_file() or source.suffix != ".ipynb":
        return []
    names = []
    for cell in nbformat.read(source, 4).cells:
        if cell.cell_type == "code" and "remove-cell" not in cell.metadata.get("tags", []):
            names.append(cell.metadata.get("mystnb", {}).get("figure", {}).get("name"))
    return names


def add_captions(cells: list, names: list[str | None], captions: dict[str, str]) -> list:
    """Insert each figure's caption as a markdown cell after the code cell that draws it."""
    out: list = []
    code = iter(names)
    for cell in cells:
        out.append(cell)
        if cell.cell_type == "code" and "google.colab" not in cell.source:
            name = next(code, None)
            if name and name in captions:
                out.append(nbformat.v4.new_markdown_cell(captions[name]))
    return out


def add_block_anchors(cells: list) -> None:
    """Give "**Theorem 8**" the anchor that "[Theorem 8](#thm-em-order)" links to."""
    text = "\n".join(c.source for c in cells if c.cell_type == "markdown")
    targets = dict(BLOCK_LINK.findall(text))
    present = set(re.findall(r"<a id='([^']*)'></a>", text))
    for cell in cells:
        if cell.cell_type != "markdown":
            continue

        def anchor(match: re.Match) -> str:
            label = targets.get(match.group(1))
            if not label or label in present:
                return match.group(0)
            present.add(label)
            head = match.group(0)
            if head.startswith("## "):
                return f"{head} <a id='{label}'></a>"
            return f"<a id='{label}'></a>{head}"

        cell.source = BLOCK_HEAD.sub(anchor, cell.source)


def unlink_missing_targets(cells: list) -> None:
    """A link to an anchor the edition does not have (an API entry) keeps its text only."""
    text = "\n".join(c.source for c in cells if c.cell_type == "markdown")
    present = set(re.findall(r"<a id='([^']*)'></a>", text))
    for cell in cells:
        if cell.cell_type == "markdown":
            cell.source = re.sub(
                r"\[([^\]]*)\]\(#([^)\s]+)\)",
                lambda m: m.group(0) if m.group(2) in present else m.group(1),
                cell.source,
            )


def unpad_inline_math(text: str) -> str:
    """``$ x $`` -> ``$x$`` outside display math (``$$ ... $$`` blocks are kept as they are)."""
    pieces = re.split(r"(\$\$.*?\$\$)", text, flags=re.S)
    for i in range(0, len(pieces), 2):
        parts = re.split(r"(?<!\\)\$", pieces[i])
        parts[1::2] = [part.strip() for part in parts[1::2]]
        pieces[i] = "$".join(parts)
    return "".join(pieces)


def tidy_markdown(source: str, first: bool) -> str:
    """Unpadded inline math, one proof heading, a note's title as a quote (not an h1)."""
    source = unpad_inline_math(source)
    source = re.sub(r"(\*\*Proof\.\*\*\s*)Proof\.\s*", r"\1", source)
    source = source.replace("Solution to[ ", "Solution to [")
    if not first and re.match(r"# ", source):
        title, _, body = source.partition("\n")
        quoted = "\n".join(f"> {line}" if line else ">" for line in body.strip("\n").split("\n"))
        source = f"> **{title[2:].strip()}**\n>\n{quoted}"
    return source


def finish(
    nb: nbformat.NotebookNode,
    colab_cell: str,
    names: list[str | None],
    captions: dict[str, str],
) -> nbformat.NotebookNode:
    """The edition of one page, ready for Colab and other front ends."""
    cells = merge_anchor_cells(nb.cells)
    for i, cell in enumerate(cells):
        cell.metadata.pop("hide-output", None)
        if cell.cell_type == "markdown":
            cell.source = tidy_markdown(cell.source, first=i == 0)
    cells = add_captions(cells, names, captions)  # after tidy: captions' math is unpadded
    add_block_anchors(cells)
    unlink_missing_targets(cells)
    if any(cell.cell_type == "code" for cell in cells):
        title = next((i for i, c in enumerate(cells) if re.search(r"^# ", c.source, re.M)), -1)
        cells.insert(title + 1, nbformat.v4.new_code_cell(colab_cell))
    nb.cells = cells
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
    parser.add_argument("--html", type=Path, default=ROOT / "_build/html")
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
        names = figure_names(ROOT / relative)
        captions = html_captions((args.html / relative).with_suffix(".html"))
        nb = finish(nbformat.read(path, as_version=4), colab_cell, names, captions)
        target = args.out / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, target)
        written += 1
    print(f"{written} plain editions in {args.out}")


if __name__ == "__main__":
    main()
