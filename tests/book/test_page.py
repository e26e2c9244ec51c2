"""The page as read: every built page of the book in headless Chromium, offline, light and dark.

Run after the book build (`make test` and `make browser` do). Each page listed in `_toc.yml` is
opened twice, in one browser for the whole module: at 1280×1600 in light mode, then narrowed
to 390×844 (a phone), and at 1280×1600 in dark mode (the theme's stored choice, checked on
``<html data-theme>``). Failures are reported per page:

- title first: the first visible thing in the article is its h1 (setup code follows it);
- no stray output: no output area shows an unformatted Python repr (``CheckResult(``,
  ``<... object at 0x...>``, ``array(``, ``tensor(``, a dict);
- equations fit: at 1280 px every displayed equation fits its box (no sideways scroll) and its
  box lies in the text column; at 390 px a wider one scrolls inside its own box and its number
  stays in view; and at 390 px the page itself does not scroll sideways;
- output lines fit: at 1280 px no output block scrolls sideways;
- figures legible: the smallest font of the book's matplotlib style, rendered at the figure's
  displayed width, is at least 9 CSS px; and no notebook sets a font smaller than that style;
- alt text: every image in the article has an alt text that is not a file path;
- one numbering per chapter: on a page titled "N. ...", every number shown for a figure,
  equation, theorem-like box or exercise (and every in-page reference to one) starts "N.";
  no paragraph or caption shows a raw label such as ``eq-em-de``;
- axe-core (``node_modules/axe-core``, from package.json): no critical or serious violation,
  in light and in dark mode, unless listed in ``AXE_ALLOWED`` with its reason.

Screenshots of the first screen in dark mode and on the phone go to `_build/screenshots/`
(`test_html.py` takes the light one). `BOOK_HTML=<folder>` measures another build.
"""

from __future__ import annotations

import ast
import functools
import json
import os
import re
from pathlib import Path

import pytest
import yaml
from browser import ARGS, CHROMIUM
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[2]
HTML = Path(os.environ.get("BOOK_HTML", ROOT / "_build" / "html"))  # another build: BOOK_HTML=...
SCREENSHOTS = ROOT / "_build" / "screenshots"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
DESKTOP = {"width": 1280, "height": 1600}
PHONE = {"width": 390, "height": 844}
TIMEOUT_MS = 180_000  # one page on a loaded one-core machine; typically a few seconds
MIN_FONT_PX = 9.0
SLACK_PX = 1.0  # sub-pixel rounding of widths

# axe-core rules whose critical or serious violations are accepted, with the reason. Empty:
# everything axe reports at those levels is to be fixed in the book's content, CSS or templates.
AXE_ALLOWED: dict[str, str] = {}
AXE_FAILING = ("critical", "serious")

# An output area showing one of these printed an object the reader did not ask for.
REPR_PATTERNS = [
    ("CheckResult(", re.compile(r"CheckResult\(")),
    ("<object at 0x>", re.compile(r"<[\w.]+(?: [\w.]+)* object at 0x[0-9a-fA-F]+>")),
    ("array(", re.compile(r"(?<![\w.])array\(")),
    ("tensor(", re.compile(r"(?<![\w.])tensor\(")),
    ("np.float64(", re.compile(r"\bnp\.(?:float|int|bool|str)_?\d*\(")),
    ("Parameter containing", re.compile(r"Parameter containing:")),
    # a dict repr (quoted, numeric or tuple keys): a line that is one, or a label and one
    (
        "dict",
        re.compile(
            r"^(?:[^{}\n]*[:=]\s*)?\{\s*(?:'[^'\n]*'|\"[^\"\n]*\"|-?\d+|\([^()\n]*\))\s*:.*\}\s*$",
            re.M,
        ),
    ),
]

# A cross-reference label printed as text instead of being resolved to a number.
RAW_LABEL = re.compile(r"\b(?:eq|thm|prop|def|lem|cor|fig|ex|sec|ch)-[a-z0-9]+(?:-[a-z0-9]+)*\b")


def pages() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [toc["root"]] + [c["file"] for part in toc["parts"] for c in part["chapters"]]


PAGES = pages()

# ---------------------------------------------------------------------------------------------
# What the browser measures, in one pass per page load.

COLLECT = r"""async () => {
  const art = document.querySelector('article.bd-article');
  if (!art) return {missing: true};
  await Promise.all([...document.images].map(i => i.decode().catch(() => null)));
  await document.fonts.ready;
  const rect = e => e.getBoundingClientRect();
  const css = e => getComputedStyle(e);
  const visible = e => {
    const r = rect(e), s = css(e);
    return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none';
  };
  const snip = (s, n = 100) => (s || '').replace(/\s+/g, ' ').trim().slice(0, n);
  const ar = rect(art), as = css(art);
  const col = {left: ar.left + parseFloat(as.paddingLeft),
               right: ar.right - parseFloat(as.paddingRight)};
  const out = {column: Math.round(col.right - col.left), innerWidth: window.innerWidth,
               pageWidth: document.scrollingElement.scrollWidth,
               theme: document.documentElement.dataset.theme || ''};

  // title first
  const h1 = art.querySelector('h1');
  const blocks = [...art.querySelectorAll(
      'h1,h2,h3,h4,h5,h6,p,pre,img,figure,table,div.cell,div.math,mjx-container,ul,ol,dl,' +
      'blockquote,div.admonition,details,div.highlight,div.output')].filter(visible);
  const first = blocks.find(e => !(h1 && (e === h1 || e.contains(h1) || h1.contains(e))));
  out.h1 = h1 ? snip(h1.textContent.replace(/#$/, '')) : null;
  out.h1Visible = !!h1 && visible(h1);
  out.titleFirst = !!h1 && out.h1Visible && (!first ||
      ((h1.compareDocumentPosition(first) & Node.DOCUMENT_POSITION_FOLLOWING) &&
       rect(first).top >= rect(h1).top - 1));
  const describe = e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') +
      (typeof e.className === 'string' && e.className.trim()
       ? '.' + e.className.trim().split(/\s+/).join('.') : '');
  out.firstElement = first ? describe(first) + ': ' + snip(first.innerText, 80) : '';
  out.titleTop = h1 ? Math.round(rect(h1).top + window.scrollY) : null;

  // outputs
  out.outputs = [...art.querySelectorAll('.cell_output')].map(o => o.innerText);
  out.scrollingOutputs = [...art.querySelectorAll('.cell_output pre')]
    .filter(p => p.scrollWidth > p.clientWidth + 1)
    .map(p => ({scrollWidth: p.scrollWidth, clientWidth: p.clientWidth,
                line: snip((p.innerText || p.textContent).split('\n')
                             .reduce((a, b) => b.length > a.length ? b : a, ''))}));

  // displayed equations
  const clipped = (e, stop) => {   // e's box is cut off by a clipping ancestor up to stop
    const r = rect(e);
    for (let a = e.parentElement; a && a !== document.body; a = a.parentElement) {
      if (css(a).overflowX !== 'visible') {
        const ra = rect(a);
        if (r.left < ra.left - 1 || r.right > ra.right + 1) return true;
      }
      if (a === stop) break;
    }
    return false;
  };
  out.equations = [];
  for (const c of art.querySelectorAll('mjx-container[display="true"]')) {
    const box = c.closest('div.math') || c;
    const math = c.querySelector('mjx-math') || c;
    const cs = css(c);
    const avail = c.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight);
    const width = rect(math).width;
    const br = rect(box);
    const eqno = box.querySelector('.eqno');
    let scroller = null;
    for (let a = math.parentElement; a; a = a.parentElement) {
      if (['auto', 'scroll'].includes(css(a).overflowX) && a.scrollWidth > a.clientWidth + 1) {
        scroller = a;
        break;
      }
      if (a === box || a === art) break;
    }
    let eqnoVisible = null;
    if (eqno) {
      const r = rect(eqno);
      eqnoVisible = r.width > 0 && r.left >= -1 && r.right <= window.innerWidth + 1
                    && !clipped(eqno, art);
    }
    const doc = window.MathJax && MathJax.startup && MathJax.startup.document;
    const item = doc && doc.getMathItemsWithin ? doc.getMathItemsWithin(c)[0] : null;
    out.equations.push({
      id: box.id || '', eqno: eqno ? eqno.textContent.replace(/#$/, '').trim() : '',
      tex: snip(item ? item.math : c.textContent, 90),
      width: Math.round(width), avail: Math.round(avail),
      fits: width <= avail + 1 && br.left >= col.left - 1 && br.right <= col.right + 1,
      scrolls: !!scroller, eqnoVisible,
    });
  }
  // what makes the page scroll sideways (outermost unclipped elements past the right edge)
  out.pageOverflow = [];
  if (out.pageWidth > window.innerWidth + 1) {
    for (const e of document.body.querySelectorAll('*')) {
      if (out.pageOverflow.length >= 5) break;
      const r = rect(e);
      if (r.right > window.innerWidth + 1 && r.width > 0 && !clipped(e, null)
          && !['fixed', 'sticky'].includes(css(e).position) && css(e).visibility !== 'hidden'
          && !(e.parentElement && rect(e.parentElement).right > window.innerWidth + 1)) {
        out.pageOverflow.push(describe(e) + ' right=' + Math.round(r.right));
      }
    }
  }

  // figures and images
  out.figures = [...art.querySelectorAll('.cell_output img')].map(i => ({
    src: i.getAttribute('src') || '', alt: i.getAttribute('alt') || '',
    rendered: i.clientWidth, natural: i.naturalWidth}));
  out.images = [...art.querySelectorAll('img')].map(i => ({
    src: i.getAttribute('src') || '', alt: i.getAttribute('alt') || ''}));

  // numbers shown, and the prose outside code and outputs
  const text = e => {
    const k = e.cloneNode(true);
    k.querySelectorAll('.headerlink').forEach(x => x.remove());
    return snip(k.textContent, 120);
  };
  out.numbers = [];
  for (const e of art.querySelectorAll('.caption-number')) {
    const kind = e.closest('figcaption') ? 'figure'
               : e.closest('.admonition-title') ? 'box' : 'caption';
    out.numbers.push({kind, text: text(e)});
  }
  for (const e of art.querySelectorAll('.eqno'))
    out.numbers.push({kind: 'equation', text: text(e)});
  for (const e of art.querySelectorAll('div.solution > .admonition-title'))
    out.numbers.push({kind: 'solution', text: text(e)});
  for (const a of art.querySelectorAll('a.reference.internal[href^="#"]')) {
    const t = document.getElementById(decodeURIComponent(a.getAttribute('href').slice(1)));
    if (t && t.matches('div.math, figure, table, div.admonition, div.proof, div.exercise, ' +
                       'div.literal-block-wrapper'))
      out.numbers.push({kind: 'reference', text: text(a)});
  }
  const prose = art.cloneNode(true);
  prose.querySelectorAll('pre, code, kbd, samp, .cell_input, .output, mjx-container, script, ' +
                         'style, .headerlink, .highlight').forEach(e => e.remove());
  const blocks_ = 'p, figcaption, li, h1, h2, h3, h4, h5, h6, .admonition-title, td, th, dt, dd, ' +
                  'caption';
  out.prose = [...prose.querySelectorAll(blocks_)]
    .filter(e => !e.querySelector(blocks_))  // innermost blocks: each text once
    .map(e => e.textContent.replace(/\s+/g, ' ').trim()).filter(Boolean);
  return out;
}"""

AXE_RUN = """async () => {
  const r = await axe.run(document, {resultTypes: ['violations']});
  return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help, count: v.nodes.length,
                                 target: v.nodes.length ? String(v.nodes[0].target) : ''}));
}"""


@pytest.fixture(scope="module")
def browser():
    if not HTML.joinpath("index.html").exists():
        pytest.fail("no built book: run `make html` first")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


_MEASURED: dict[tuple[str, str], dict] = {}


def open_page(browser, page: str, mode: str) -> dict:
    """Load one built page offline in light or dark mode, at 1280 px; measure it and run axe-core.

    In light mode the same page is then narrowed to a phone's width and measured again
    (``result["phone"]``): the theme's layout is CSS, and MathJax does not typeset again.
    """
    key = (page, mode)
    if key in _MEASURED:
        return _MEASURED[key]
    path = HTML / f"{page}.html"
    assert path.exists(), f"{page}.html was not built"
    if not AXE.exists():
        pytest.fail(f"{AXE.relative_to(ROOT)} is missing: run `make setup` (npm ci, package.json)")
    context = browser.new_context(viewport=DESKTOP, color_scheme=mode)
    # pydata-sphinx-theme keeps the reader's choice in localStorage and sets <html data-theme>
    context.add_init_script(
        f"localStorage.setItem('mode', '{mode}'); localStorage.setItem('theme', '{mode}');"
    )
    tab = context.new_page()
    tab.set_default_timeout(TIMEOUT_MS)
    tab.route("http*://**", lambda route: route.abort())
    stem = page.replace("/", "__")
    try:
        tab.goto(path.as_uri(), wait_until="load")
        if tab.evaluate("() => !!document.querySelector('script[src*=\"mathjax\" i]')"):
            tab.wait_for_function(
                "() => window.MathJax && MathJax.startup && MathJax.startup.promise"
            )
            tab.evaluate("() => MathJax.startup.promise")
        if mode == "light":
            result = tab.evaluate(COLLECT)
            assert not result.get("missing"), f"{page}: no article.bd-article"
        else:
            result = {"theme": tab.evaluate("() => document.documentElement.dataset.theme || ''")}
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            tab.screenshot(path=SCREENSHOTS / f"{stem}__dark.png")
        tab.add_script_tag(path=str(AXE))
        result["axe"] = tab.evaluate(AXE_RUN)
        if mode == "light":
            tab.set_viewport_size(PHONE)
            tab.evaluate("() => new Promise(r => requestAnimationFrame(() => setTimeout(r, 50)))")
            result["phone"] = tab.evaluate(COLLECT)
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            tab.evaluate("() => window.scrollTo(0, 0)")
            tab.screenshot(path=SCREENSHOTS / f"{stem}__390.png")
    finally:
        context.close()
    _MEASURED[key] = result
    return result


def desktop(browser, page: str) -> dict:
    return open_page(browser, page, "light")


def chapter_number(title: str | None) -> str | None:
    match = re.match(r"(\d+)\.\s", title or "")
    return match.group(1) if match else None


# ---------------------------------------------------------------------------------------------
# What a check finds on one page (also used by the audit script that counts them).


def stray_reprs(outputs: list[str]) -> list[str]:
    """One entry per output line that shows a repr: what it shows, and the line."""
    found = []
    for text in outputs:
        lines: dict[int, list[str]] = {}
        for name, pattern in REPR_PATTERNS:
            for match in pattern.finditer(text):
                start = text.rfind("\n", 0, match.start()) + 1
                if name not in lines.setdefault(start, []):
                    lines[start].append(name)
        for start, names in sorted(lines.items()):
            line = text[start:].split("\n", 1)[0].strip()
            found.append(f"{', '.join(names)}: {line[:100]}")
    return found


def wide_equations(equations: list[dict]) -> list[str]:
    return [
        f"{e['eqno'] or e['id'] or '(unnumbered)'} {e['width']} px in {e['avail']} px: {e['tex']}"
        for e in equations
        if not e["fits"]
    ]


def phone_page_overflow(measured: dict) -> list[str]:
    if measured["pageWidth"] <= measured["innerWidth"] + SLACK_PX:
        return []
    return [
        f"the page scrolls sideways ({measured['pageWidth']} px in {measured['innerWidth']}):"
        f" {measured['pageOverflow']}"
    ]


def phone_equation_problems(measured: dict) -> list[str]:
    problems = []
    for e in measured["equations"]:
        if e["width"] <= e["avail"] + SLACK_PX:
            continue
        name = e["eqno"] or e["id"] or "(unnumbered)"
        if not e["scrolls"]:
            problems.append(f"{name} is cut off, not scrolled in its box: {e['tex']}")
        if e["eqnoVisible"] is False:
            problems.append(f"{name}: the equation number is out of view: {e['tex']}")
    return problems


def small_figures(figures: list[dict], smallest_pt: float, dpi: float) -> list[str]:
    small = []
    for f in figures:
        if not f["natural"]:
            small.append(f"{f['src']}: not loaded")
            continue
        # SVG is laid out in CSS px (96 per inch); PNG at the style's figure.dpi
        per_inch = 96.0 if f["src"].lower().endswith(".svg") else dpi
        px = smallest_pt * per_inch / 72 * f["rendered"] / f["natural"]
        if px < MIN_FONT_PX:
            small.append(
                f"{Path(f['src']).name[:16]}…: {f['natural']} px shown at {f['rendered']} px,"
                f" {smallest_pt:g} pt text at {px:.1f} px ({f['alt'][:50]!r})"
            )
    return small


def smallest_figure_px(figures: list[dict], smallest_pt: float, dpi: float) -> float | None:
    sizes = [
        smallest_pt
        * (96.0 if f["src"].lower().endswith(".svg") else dpi)
        / 72
        * f["rendered"]
        / f["natural"]
        for f in figures
        if f["natural"]
    ]
    return round(min(sizes), 1) if sizes else None


def path_alts(images: list[dict]) -> list[str]:
    # a file name or path: one word with a slash or an image extension, or the build's _images
    bad = re.compile(r"^\S*/\S*$|_images|^\S+\.(?:png|jpe?g|svg|gif|webp)$", re.I)
    return [
        f"{i['src']}: alt={i['alt']!r}"
        for i in images
        if not i["alt"].strip() or bad.search(i["alt"]) or "\\" in i["alt"]  # a path or raw TeX
    ]


def numbering_problems(measured: dict) -> list[str]:
    chapter = chapter_number(measured["h1"])
    if chapter is None:
        return []
    problems = []
    for n in measured["numbers"]:
        number = re.search(r"\d+(?:\.\d+)*", n["text"])
        if number and not number.group().startswith(f"{chapter}."):
            problems.append(f"{n['kind']}: {n['text'][:80]!r}")
    return problems


def raw_labels(prose: list[str]) -> list[str]:
    found = []
    for text in prose:
        for match in RAW_LABEL.finditer(text):
            a, b = max(0, match.start() - 40), match.end() + 40
            found.append(f"{match.group()}: …{text[a:b]}…")
    return sorted(set(found))


def axe_failures(violations: list[dict]) -> list[str]:
    return [
        f"{v['impact']} {v['id']} ×{v['count']}, first {v['target']} ({v['help']})"
        for v in violations
        if v["impact"] in AXE_FAILING and v["id"] not in AXE_ALLOWED
    ]


# ---------------------------------------------------------------------------------------------
# The figure style: the smallest font it sets, and the resolution figures are drawn at.


@functools.cache
def style_fonts() -> tuple[float, float]:
    """(smallest font size in pt, figure.dpi) of llmtheory.plotting's style."""
    import matplotlib as mpl
    from matplotlib.font_manager import FontProperties

    from llmtheory.plotting import use_book_style

    keys = [
        "font.size",
        "legend.fontsize",
        "legend.title_fontsize",
        "axes.labelsize",
        "axes.titlesize",
        "xtick.labelsize",
        "ytick.labelsize",
        "figure.titlesize",
        "figure.labelsize",
    ]
    with mpl.rc_context():
        use_book_style()
        sizes = [
            FontProperties(size=mpl.rcParams[k]).get_size_in_points()
            for k in keys
            if k in mpl.rcParams and mpl.rcParams[k] is not None
        ]
        return float(min(sizes)), float(mpl.rcParams["figure.dpi"])


# ---------------------------------------------------------------------------------------------
# The checks, per page.


@pytest.mark.parametrize("page", PAGES)
def test_title_first(browser, page):
    m = desktop(browser, page)
    assert m["h1"], "the article has no h1"
    assert m["titleFirst"], (
        f"the title {m['h1']!r} (at {m['titleTop']} px) is not the first thing on the page:"
        f" {m['firstElement']!r} comes before it"
    )


@pytest.mark.parametrize("page", PAGES)
def test_no_stray_output(browser, page):
    found = stray_reprs(desktop(browser, page)["outputs"])
    assert not found, f"{len(found)} outputs show a Python repr:\n" + "\n".join(found)


@pytest.mark.parametrize("page", PAGES)
def test_equations_fit_desktop(browser, page):
    wide = wide_equations(desktop(browser, page)["equations"])
    assert not wide, f"{len(wide)} displayed equations do not fit at 1280 px:\n" + "\n".join(wide)


@pytest.mark.parametrize("page", PAGES)
def test_equations_scroll_on_phone(browser, page):
    problems = phone_equation_problems(desktop(browser, page)["phone"])
    assert not problems, "at 390 px:\n" + "\n".join(problems)


@pytest.mark.parametrize("page", PAGES)
def test_page_fits_phone(browser, page):
    problems = phone_page_overflow(desktop(browser, page)["phone"])
    assert not problems, "at 390 px:\n" + "\n".join(problems)


@pytest.mark.parametrize("page", PAGES)
def test_output_lines_fit(browser, page):
    wide = [
        f"{o['scrollWidth']} px in {o['clientWidth']} px: {o['line']}"
        for o in desktop(browser, page)["scrollingOutputs"]
    ]
    assert not wide, f"{len(wide)} output blocks scroll sideways at 1280 px:\n" + "\n".join(wide)


@pytest.mark.parametrize("page", PAGES)
def test_figures_legible(browser, page):
    smallest_pt, dpi = style_fonts()
    small = small_figures(desktop(browser, page)["figures"], smallest_pt, dpi)
    assert not small, f"figure text under {MIN_FONT_PX:g} px at 1280 px:\n" + "\n".join(small)


@pytest.mark.parametrize("page", PAGES)
def test_alt_text(browser, page):
    bad = path_alts(desktop(browser, page)["images"])
    assert not bad, "images without a description (empty, a path or raw TeX):\n" + "\n".join(bad)


@pytest.mark.parametrize("page", PAGES)
def test_numbered_within_chapter(browser, page):
    m = desktop(browser, page)
    problems = numbering_problems(m)
    chapter = chapter_number(m["h1"])
    assert not problems, (
        f"numbers on chapter {chapter}'s page that do not start with {chapter}.:\n"
        + "\n".join(problems)
    )


@pytest.mark.parametrize("page", PAGES)
def test_no_raw_labels(browser, page):
    measured = desktop(browser, page)
    found = raw_labels(measured["prose"] + measured["outputs"])  # outputs: check lines, listings
    assert not found, "labels shown as text instead of numbers:\n" + "\n".join(found)


@pytest.mark.parametrize("mode", ["light", "dark"])
@pytest.mark.parametrize("page", PAGES)
def test_axe(browser, page, mode):
    m = open_page(browser, page, mode)
    assert m["theme"] == mode, f"<html data-theme> is {m['theme']!r}, not {mode!r}"
    failures = axe_failures(m["axe"])
    assert not failures, f"axe-core, {mode} mode:\n" + "\n".join(failures)


def test_axe_allowlist_has_reasons():
    assert all(reason.strip() for reason in AXE_ALLOWED.values())


# ---------------------------------------------------------------------------------------------
# Font sizes set in the notebooks' code (figures are drawn at the style's sizes or larger).

NOTEBOOKS = sorted(
    p.relative_to(ROOT).as_posix()
    for p in (ROOT / "book").rglob("*.ipynb")
    if ".ipynb_checkpoints" not in p.parts
)
# calls whose `size=` is a font size
TEXT_CALLS = {
    "text", "annotate", "title", "set_title", "suptitle", "supxlabel", "supylabel", "xlabel",
    "ylabel", "set_xlabel", "set_ylabel", "legend", "figtext", "table", "clabel", "bar_label",
    "FontProperties", "set_xticklabels", "set_yticklabels", "tick_params",
}  # fmt: skip
FONT_KEYWORDS = {"fontsize", "labelsize", "title_fontsize", "titlesize"}


def _code(cell: dict) -> str:
    source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
    # IPython magics and shell lines are not Python
    return "\n".join(
        "" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines()
    )


def font_settings(code: str) -> list[tuple[int, str, object]]:
    """(line, what, value) for every literal font size the code sets."""
    found: list[tuple[int, str, object]] = []

    def literal(node):
        try:
            return ast.literal_eval(node)
        except ValueError:
            return None

    def name(func) -> str:
        return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")

    def rc_key(key) -> bool:
        return isinstance(key, str) and (
            key == "font.size" or key.endswith(("fontsize", "labelsize", "titlesize"))
        )

    def dict_sizes(node, what, font_dict: bool):
        value = literal(node)
        if isinstance(value, dict):
            for k, v in value.items():
                if (font_dict and k in ("size", "fontsize")) or rc_key(k):
                    found.append((node.lineno, f"{what}[{k!r}]", v))

    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Call):
            func = name(node.func)
            for kw in node.keywords:
                if kw.arg in FONT_KEYWORDS or (kw.arg == "size" and func in TEXT_CALLS | {"rc"}):
                    found.append((node.lineno, f"{func}({kw.arg}=)", literal(kw.value)))
                elif kw.arg in ("prop", "fontdict", "title_fontproperties"):
                    dict_sizes(kw.value, f"{func}({kw.arg}=)", font_dict=True)
            if func in ("set_fontsize", "set_size") and node.args:
                found.append((node.lineno, f"{func}()", literal(node.args[0])))
            if func in ("update", "rc_context") and node.args:
                dict_sizes(node.args[0], f"{func}()", font_dict=False)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Subscript) and rc_key(literal(target.slice)):
                    found.append(
                        (node.lineno, f"[{literal(target.slice)!r}] =", literal(node.value))
                    )
    return [(line, what, value) for line, what, value in found if value is not None]


def points(value, base: float) -> float | None:
    from matplotlib.font_manager import font_scalings

    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and value in font_scalings:
        return base * font_scalings[value]
    return None


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_no_font_below_the_style(notebook):
    import matplotlib as mpl

    from llmtheory.plotting import use_book_style

    smallest_pt, _ = style_fonts()
    with mpl.rc_context():
        use_book_style()
        base = float(mpl.rcParams["font.size"])
    cells = json.loads((ROOT / notebook).read_text())["cells"]
    small = []
    for index, cell in enumerate(cells):
        if cell["cell_type"] != "code":
            continue
        for line, what, value in font_settings(_code(cell)):
            pt = points(value, base)
            if pt is not None and pt < smallest_pt:
                small.append(f"cell {index}, line {line}: {what} {value!r} ({pt:g} pt)")
    assert not small, (
        f"fonts smaller than the figure style's smallest ({smallest_pt:g} pt):\n" + "\n".join(small)
    )
