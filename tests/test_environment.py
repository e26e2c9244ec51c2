"""The book's configuration, Binder environment and notebooks are well-formed (offline checks)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import tomllib
import yaml
from packaging.requirements import Requirement
from rattler import MatchSpec

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
TOC = yaml.safe_load((ROOT / "_toc.yml").read_text())
ENVIRONMENT = yaml.safe_load((ROOT / "environment.yml").read_text())


def toc_files() -> list[str]:
    files = [TOC["root"]]
    for part in TOC.get("parts", []):
        files += [chapter["file"] for chapter in part["chapters"]]
    return files


def notebooks() -> list[Path]:
    return sorted(
        p for p in (ROOT / "book").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts
    )


def chapters() -> list[Path]:
    """Notebooks of the parts (the theory chapters), as opposed to front and back matter."""
    return [p for p in notebooks() if p.parent.name.startswith("part")]


# --- Binder ---------------------------------------------------------------------------------


def _pip_section() -> list[str]:
    return next(d["pip"] for d in ENVIRONMENT["dependencies"] if isinstance(d, dict))


def test_conda_specs_parse():
    specs = [d for d in ENVIRONMENT["dependencies"] if isinstance(d, str)]
    assert "pip" in specs
    for spec in specs:
        MatchSpec(spec)


def test_pip_specs_parse_and_use_the_cpu_index_for_torch():
    lines = _pip_section()
    requirements = [Requirement(line) for line in lines if not line.startswith("-")]
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in lines
    assert any(r.name == "torch" for r in requirements)


def test_binder_pins_torch_like_pyproject():
    project = {Requirement(r).name: Requirement(r) for r in PYPROJECT["project"]["dependencies"]}
    binder = {Requirement(r).name: Requirement(r) for r in _pip_section() if not r.startswith("-")}
    assert str(binder["torch"].specifier) == str(project["torch"].specifier) == "==2.13.0"


def test_binder_provides_every_runtime_dependency():
    conda_names = {
        MatchSpec(d).name.normalized for d in ENVIRONMENT["dependencies"] if isinstance(d, str)
    }
    pip_names = {Requirement(r).name for r in _pip_section() if not r.startswith("-")}
    for requirement in PYPROJECT["project"]["dependencies"]:
        assert Requirement(requirement).name in conda_names | pip_names, requirement
    assert "myst-nb" not in pip_names, "chapters need no part of the book build"


def test_binder_renders_myst_like_make_lab():
    """JupyterLab and jupyterlab-myst: the same pins in Binder as in `make lab`."""
    book = {
        Requirement(r).name: Requirement(r)
        for r in PYPROJECT["project"]["optional-dependencies"]["book"]
    }
    conda = {
        MatchSpec(d).name.normalized: MatchSpec(d)
        for d in ENVIRONMENT["dependencies"]
        if isinstance(d, str)
    }
    for name in ("jupyterlab", "jupyterlab-myst"):
        pinned = str(book[name].specifier)
        assert pinned.startswith("=="), f"{name} is pinned in pyproject.toml"
        assert str(conda[name].version) in (pinned[2:], pinned), f"{name} differs in Binder"


def test_postbuild_installs_the_library():
    post_build = ROOT / "postBuild"
    assert post_build.stat().st_mode & 0o111, "postBuild must be executable"
    assert "pip install --no-deps -e ." in post_build.read_text()


def test_repo2docker_accepts_the_repository():
    result = subprocess.run(
        [str(Path(sys.executable).parent / "repo2docker"), "--no-build", "--debug", str(ROOT)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-2000:]
    assert "environment.yml" in output and "postBuild" in output


# --- Jupyter Book configuration -------------------------------------------------------------


def test_toolchain_is_pinned_to_jupyter_book_1():
    book = {
        Requirement(r).name: Requirement(r)
        for r in PYPROJECT["project"]["optional-dependencies"]["book"]
    }
    assert book["jupyter-book"].specifier.contains("1.0.4.post1")
    assert not book["jupyter-book"].specifier.contains("2.0.0")
    for name in ("sphinx-proof", "sphinx-exercise"):
        assert str(book[name].specifier).startswith("==")


def test_config_enables_math_proofs_exercises_and_launch_buttons():
    assert {"dollarmath", "amsmath", "colon_fence"} <= set(
        CONFIG["parse"]["myst_enable_extensions"]
    )
    assert {"sphinx_proof", "sphinx_exercise"} <= set(CONFIG["sphinx"]["extra_extensions"])
    assert CONFIG["bibtex_bibfiles"] == ["references.bib"]
    assert {".*", "**/.*", ".venv", "_build"} <= set(CONFIG["exclude_patterns"])
    assert CONFIG["execute"]["execute_notebooks"] == "inline", "{eval} needs inline execution"
    assert CONFIG["launch_buttons"]["binderhub_url"] and CONFIG["launch_buttons"]["colab_url"]
    assert CONFIG["launch_buttons"]["notebook_interface"] == "jupyterlab"
    assert CONFIG["sphinx"]["config"]["mathjax_path"] == "mathjax/tex-mml-chtml.js"


def test_mathjax_is_vendored_from_npm_not_a_cdn():
    package = json.loads((ROOT / "package.json").read_text())
    assert re.fullmatch(r"3\.\d+\.\d+", package["dependencies"]["mathjax"])
    lock = json.loads((ROOT / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/mathjax"]["version"] == package["dependencies"]["mathjax"]


def test_toc_lists_every_notebook_and_only_existing_files():
    listed = toc_files()
    for entry in listed:
        assert any((ROOT / f"{entry}{ext}").exists() for ext in (".md", ".ipynb")), entry
    for path in notebooks():
        assert str(path.relative_to(ROOT).with_suffix("")) in listed, f"{path} is not in _toc.yml"


def test_every_cited_key_is_in_the_bibliography():
    bib_keys = set(re.findall(r"@\w+\{([^,]+),", (ROOT / "references.bib").read_text()))
    sources = [p.read_text() for p in (ROOT / "book").rglob("*.md")]
    sources += ["".join(c.source for c in nbformat.read(p, 4).cells) for p in notebooks()]
    cited = {
        key.strip()
        for text in sources
        for group in re.findall(r"\{cite(?::[tp])?\}`([^`]+)`", text)
        for key in group.split(",")
    }
    assert cited <= bib_keys, cited - bib_keys


# --- Notebooks ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", notebooks(), ids=lambda p: p.name)
def test_notebook_is_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, f"{path.name} has outputs"


@pytest.mark.parametrize(
    "path", [*chapters(), ROOT / "book/front/how_a_chapter_works.ipynb"], ids=lambda p: p.name
)
def test_no_eval_after_a_silenced_cell(path):
    """IPython silences an expression when the last cell in its history ends with ';', and the
    {eval} expressions of a markdown cell run without history: after such a cell they return
    nothing and the build fails ("does not return any outputs")."""
    nb = nbformat.read(path, as_version=4)
    last_code = ""
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            last_code = cell.source.rstrip()
        elif "{eval}" in cell.source:
            assert not last_code.endswith(";"), f"cell {i}: {{eval}} after a cell ending in ';'"


@pytest.mark.parametrize(
    "path", [*chapters(), ROOT / "book/front/how_a_chapter_works.ipynb"], ids=lambda p: p.name
)
def test_chapter_follows_the_conventions(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert nb.cells[0].cell_type == "markdown", "the title comes first, before any code"
    assert re.match(r"\(ch-[a-z0-9-]+\)=\s*\n# ", nb.cells[0].source), (
        "the first cell is a (ch-label)= line and the title"
    )
    text = "\n".join(c.source for c in nb.cells)
    assert "google.colab" not in text, "the Colab cell belongs to the plain editions only"
    assert "myst_nb" not in text and "{glue" not in text, "numbers in prose are {eval} expressions"
    assert "seed_everything(" in text and "set_threads(1)" in text
    assert re.search(r"\bcheck\(", text), "a chapter asserts its claims with check()"
    assert "{exercise}" in text and "{solution-start}" in text
    assert any("solution" in c.metadata.get("tags", []) for c in code), "solution cells are tagged"


@pytest.mark.parametrize("path", notebooks(), ids=lambda p: p.name)
def test_the_book_speaks_for_itself(path):
    """No chapter refers to documents outside the book (a brief, pass criteria, a seed question)."""
    text = "\n".join(c.source for c in nbformat.read(path, 4).cells)
    found = re.findall(r"(?i)\bbrief'?s?\b|pass criteri\w*|seed question", text)
    assert not found, found
