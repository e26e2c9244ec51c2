"""Open every built page in headless Chromium, offline: math typeset, figures shown, no errors.

Run after the book build (`make test` does). Screenshots go to `_build/screenshots/`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from browser import ARGS, CHROMIUM
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[2]
HTML = ROOT / "_build" / "html"
SCREENSHOTS = ROOT / "_build" / "screenshots"

# Text of the article outside code, math and scripts: raw TeX left here means MathJax failed.
ARTICLE_TEXT = """() => {
  const article = document.querySelector('article.bd-article').cloneNode(true);
  article.querySelectorAll('pre, code, .highlight, mjx-container, script, style, .output')
         .forEach(e => e.remove());
  return article.innerText;
}"""


def pages() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]] + [c["file"] for part in toc["parts"] for c in part["chapters"]]
    return files


def has_figures(page: str) -> bool:
    """A notebook that plots (every chapter, the execution report; not the mutation page)."""
    notebook = ROOT / f"{page}.ipynb"
    return notebook.exists() and "plt." in notebook.read_text()


def has_math(page: str) -> bool:
    source = next(ROOT.glob(f"{page}.*")).read_text()
    return "$" in source or "{math}" in source


@pytest.fixture(scope="module")
def browser():
    if not HTML.joinpath("index.html").exists():
        pytest.fail("no built book: run `make html` first")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


@pytest.mark.parametrize("page", pages())
def test_page_renders_offline(browser, page):
    context = browser.new_context(viewport={"width": 1280, "height": 1600})
    tab = context.new_page()
    errors: list[str] = []
    remote: list[str] = []
    tab.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    tab.on("pageerror", lambda exc: errors.append(str(exc)))

    def block_network(route):
        remote.append(route.request.url)
        route.abort()

    tab.route("http*://**", block_network)
    path = HTML / f"{page}.html"
    assert path.exists(), f"{page}.html was not built"
    tab.goto(path.as_uri(), wait_until="load")

    if has_math(page):
        tab.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise")
        tab.evaluate("() => MathJax.startup.promise")
        assert tab.locator("mjx-container").count() > 0, "no typeset math"
        text = tab.evaluate(ARTICLE_TEXT)
        for raw in ("$", "\\(", "\\[", "\\begin{"):
            assert raw not in text, f"raw TeX {raw!r} left in the page"
    if has_figures(page):
        images = tab.locator("article.bd-article .cell_output img")
        assert images.count() > 0, "a chapter page shows its figures"
        widths = images.evaluate_all("imgs => imgs.map(i => i.complete ? i.naturalWidth : 0)")
        assert all(w > 0 for w in widths), "an image failed to load"

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=SCREENSHOTS / f"{page.replace('/', '__')}.png", full_page=False)
    context.close()
    assert not errors, f"console errors: {errors}"
    assert not remote, f"the page tried to reach the network: {remote}"


def test_no_stray_check_result_reprs():
    """A cell ending with check(...) shows its ✓ line only, never ``CheckResult(...)``."""
    pages = [p for p in HTML.rglob("*.html") if "_static" not in p.parts]
    assert pages
    stray = [str(p.relative_to(HTML)) for p in pages if "CheckResult(" in p.read_text()]
    assert not stray, stray
