"""Sphinx extension: the Colab button opens the chapter's plain-notebook edition.

The chapters are MyST notebooks, which Colab cannot render. ``make notebooks`` writes plain
editions of them (``_build/notebooks``, made by sphinx-tojupyter from this build's doctrees); they
are published on the branch ``editions_branch`` of the book's repository, in the same folders as
the sources. The repository itself is named once, in ``_config.yml`` (``repository.url``), which
Jupyter Book passes to the theme as ``html_theme_options["repository_url"]``.
"""

from __future__ import annotations

from typing import Any


def colab_url(app: Any, pagename: str) -> str:
    """Colab's address for the plain edition of ``pagename`` (a notebook's path without suffix)."""
    options = app.config.html_theme_options
    repository = options["repository_url"].rstrip("/").removesuffix(".git")
    org, repo = repository.split("github.com/")[-1].split("/")[:2]
    colab = options["launch_buttons"]["colab_url"].rstrip("/")
    return f"{colab}/github/{org}/{repo}/blob/{app.config.editions_branch}/{pagename}.ipynb"


def _point_colab_to_editions(
    app: Any, pagename: str, templatename: str, context: dict, doctree: Any
) -> None:
    for group in context.get("header_buttons", []):
        if group.get("label") != "launch-buttons":
            continue
        for button in group["buttons"]:
            if button.get("text") == "Colab":
                button["url"] = colab_url(app, pagename)


def setup(app: Any) -> dict[str, Any]:
    app.add_config_value("editions_branch", "notebooks", "html", types=[str])
    # After sphinx-book-theme's add_launch_buttons (priority 501) has made the buttons.
    app.connect("html-page-context", _point_colab_to_editions, priority=502)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
