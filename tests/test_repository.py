"""The book's repository is named in one place, ``_config.yml``; every other mention agrees.

Launch buttons (book/_ext/editions.py), the Colab cell of the plain editions
(scripts/make_notebooks.py) and the download address of shipped files (llmtheory.resources)
derive the address at run time. Text that a reader copies (the clone command of the README and
the preface) cannot derive it, so this test holds it to the configured address.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
# Third-party code the book cites (in references.bib) is not this repository.
CITED = ROOT / "references.bib"
GITHUB = re.compile(r"github(?:usercontent)?\.com/([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+)")


def tracked_text_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    files = []
    for name in listed:
        path = ROOT / name
        if path.is_file() and path != CITED and path.suffix not in {".pt", ".png", ".lock"}:
            files.append(path)
    return files


def configured() -> tuple[str, str]:
    url = CONFIG["repository"]["url"].rstrip("/").removesuffix(".git")
    org, repo = url.split("github.com/")[-1].split("/")[:2]
    return org, repo


def test_repository_setting_is_a_github_repository_and_branch():
    assert re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", CONFIG["repository"]["url"])
    assert CONFIG["repository"]["branch"]


def test_every_file_names_only_the_configured_repository():
    org, repo = configured()
    stray = []
    for path in tracked_text_files():
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        for match in GITHUB.finditer(text):
            found = (match.group(1), match.group(2).removesuffix(".git"))
            placeholder = (found[0].lower(), found[1].lower()) == ("org", "repo")
            if found != (org, repo) and not placeholder:
                stray.append(f"{path.relative_to(ROOT)}: {match.group(0)}")
    assert not stray, "another repository address:\n" + "\n".join(stray)


def test_derived_addresses_are_not_written_out():
    """The launch buttons, the Colab cell and the fetch address are computed, never typed."""
    org, repo = configured()
    for name in (
        "book/_ext/editions.py",
        "scripts/make_notebooks.py",
        "lib/llmtheory/resources.py",
    ):
        assert f"{org}/{repo}" not in (ROOT / name).read_text(), name


def test_readme_clone_command_uses_the_configured_repository():
    org, repo = configured()
    readme = (ROOT / "README.md").read_text()
    assert f"git clone https://github.com/{org}/{repo}" in readme
