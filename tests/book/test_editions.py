"""The plain-notebook editions (``make notebooks``) read correctly in any front end.

Each edition is rendered with nbconvert's plain HTML exporter, which knows nothing of MyST, as
Colab, the classic Notebook or VS Code would show it; no raw MyST may remain in its text.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import nbformat
import pytest
import yaml
from nbconvert import HTMLExporter

ROOT = Path(__file__).resolve().parents[2]
EDITIONS = ROOT / "_build" / "notebooks"
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
SOURCES = sorted(
    p
    for p in (ROOT / "book").rglob("*")
    if p.suffix in {".ipynb", ".md"} and ".ipynb_checkpoints" not in p.parts
)
NOTEBOOKS = [p for p in SOURCES if p.suffix == ".ipynb"]
BIB_KEYS = set(re.findall(r"@\w+\{([^,\s]+),", (ROOT / "references.bib").read_text()))
RAW_MYST = [
    "{prf:",
    "```{",
    ":::{",
    "{glue",
    "{eval}",
    "{eq}",
    "{ref}",
    "{numref}",
    "{cite",
    "{doc}",
    "{exercise",
    "{solution",
    ":label:",
    ":class:",
]
LABEL_LINE = re.compile(r"^\s*\([\w-]+\)=\s*$", re.M)
# A fragment that opens with a brace right after a letter is a TeX argument
# (``\mathrm{ref}`` in an equation), not a MyST role.
RAW_PATTERNS = [
    re.compile(("(?<![A-Za-z])" if f.startswith("{") else "") + re.escape(f)) for f in RAW_MYST
]


def edition(source: Path) -> Path:
    return EDITIONS / source.relative_to(ROOT).with_suffix(".ipynb")


def rendered_text(path: Path) -> str:
    """The text of the markdown cells as nbconvert's plain (classic) HTML template shows it."""
    nb = nbformat.read(path, 4)
    nb.cells = [c for c in nb.cells if c.cell_type == "markdown"]
    body, _ = HTMLExporter(template_name="classic").from_notebook_node(nb)
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", body, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", body))


def markdown_of(path: Path) -> str:
    nb = nbformat.read(path, 4)
    return "\n\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


@pytest.fixture(scope="module", autouse=True)
def editions_exist():
    assert EDITIONS.is_dir(), f"{EDITIONS} is missing: run `make notebooks`"


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_edition_renders_without_raw_myst(source):
    path = edition(source)
    assert path.is_file(), f"no plain edition of {source.relative_to(ROOT)}"
    text = rendered_text(path)
    found = [f for f, p in zip(RAW_MYST, RAW_PATTERNS, strict=True) if p.search(text)]
    found += [m.group(0).strip() for m in LABEL_LINE.finditer(markdown_of(path))]
    assert not found, f"raw MyST in {path.relative_to(ROOT)}: {found}"


@pytest.mark.parametrize("source", NOTEBOOKS, ids=lambda p: p.stem)
def test_edition_keeps_code_equations_and_numbers(source):
    """Same code cells; every labelled equation numbered; every quoted number filled in."""
    src = nbformat.read(source, 4)
    nb = nbformat.read(edition(source), 4)
    src_code = [
        c.source.strip()
        for c in src.cells
        if c.cell_type == "code" and "remove-cell" not in c.metadata.get("tags", [])
    ]
    ed_code = [c.source.strip() for c in nb.cells if c.cell_type == "code"]
    colab = [c for c in ed_code if "google.colab" in c]
    assert [c for c in ed_code if "google.colab" not in c] == src_code
    assert len(colab) == (1 if src_code else 0)
    source_text = "\n".join(c.source for c in src.cells if c.cell_type == "markdown")
    labelled = len(re.findall(r"```\{math\}\s*\n:label:|\$\$\s*\(eq-[\w-]+\)", source_text))
    assert len(re.findall(r"\\tag\{[\d.]+\}", markdown_of(edition(source)))) >= labelled
    assert "quoted[" not in markdown_of(edition(source))


def test_colab_cell_installs_the_library_pinned_from_the_configured_repository():
    url = CONFIG["repository"]["url"].rstrip("/")
    chapter = edition(ROOT / "book/part3_emergence/05_emergence_density_evolution.ipynb")
    nb = nbformat.read(chapter, 4)
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.lstrip().startswith("# ")
    cell = nb.cells[1].source
    match = re.search(r'"llmtheory @ git\+(\S+)@([0-9a-f]{40}|[\w.-]+)"', cell)
    assert match and match.group(1) == url, cell
    assert "--no-deps" in cell and "myst" not in cell, "Colab installs only the book's library"


def test_citations_read_as_author_and_year():
    text = markdown_of(edition(ROOT / "book/part3_emergence/06_emergence_beyond.ipynb"))
    assert "[]" not in text
    assert re.search(r"Liao\D{0,40}20\d\d", text), "a citation as author and year"


def test_colab_button_opens_the_plain_edition():
    page = ROOT / "_build/html/book/part3_emergence/05_emergence_density_evolution.html"
    assert page.is_file(), "build the book first (make html)"
    org, repo = CONFIG["repository"]["url"].rstrip("/").split("github.com/")[-1].split("/")[:2]
    branch = CONFIG["sphinx"]["config"]["editions_branch"]
    links = re.findall(r'href="(https://colab\.research\.google\.com/[^"]+)"', page.read_text())
    expected = (
        f"https://colab.research.google.com/github/{org}/{repo}/blob/{branch}/"
        "book/part3_emergence/05_emergence_density_evolution.ipynb"
    )
    assert links == [expected], links
    assert edition(ROOT / "book/part3_emergence/05_emergence_density_evolution.ipynb").is_file()


def equation_tags(text: str) -> dict[str, str]:
    """Equation label -> the number its ``\\tag`` shows, in an edition's markdown."""
    pattern = r"<a id='equation-([^']*)'></a>\s*\$\$.*?\\tag\{([\d.]+)\}"
    return dict(re.findall(pattern, text, flags=re.S))


def html_equation_numbers(page: Path) -> dict[str, str]:
    pattern = r'id="equation-([^"]+)"[^>]*>\s*<span class="eqno">\(([\d.]+)\)'
    return dict(re.findall(pattern, page.read_text()))


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_numbers_and_links_agree_with_the_html_book(source):
    """Every equation reference shows the number of its equation, as the HTML book does."""
    text = markdown_of(edition(source))
    tags = equation_tags(text)
    page = (ROOT / "_build/html" / source.relative_to(ROOT)).with_suffix(".html")
    assert tags == {k: v for k, v in html_equation_numbers(page).items() if k in tags}
    for number, label in re.findall(r"\[\(([\d.]+)\)\]\(#equation-([^)]+)\)", text):
        assert tags.get(label) == number, (
            f"({number}) links to equation {label} ({tags.get(label)})"
        )
    anchors = set(re.findall(r"<a id='([^']*)'></a>", text))
    dead = [t for t in re.findall(r"\]\(#([^)\s]+)\)", text) if t not in anchors]
    assert not dead, f"links to anchors the edition lacks: {dead}"


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_edition_reads_like_a_plain_notebook(source):
    """One title, inline math without inner spaces, citations as author-year (not keys)."""
    text = markdown_of(edition(source))
    assert len(re.findall(r"^# ", text, re.M)) == 1, "one top-level heading: the title"
    inline = re.split(r"(?<!\\)\$", re.sub(r"\$\$.*?\$\$", "", text, flags=re.S))[1::2]
    assert all(m == m.strip() for m in inline), "inline math as $x$, not $ x $"
    assert not {k for k in BIB_KEYS if re.search(rf"\b{re.escape(k)}\b", text)}
