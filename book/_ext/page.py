"""Sphinx extension: the page as read (numbering, labels in outputs, alt text, accessible markup).

Numbering within each chapter
    Sphinx numbers figures, tables, captioned code blocks, labelled equations (``math_numfig``),
    the sphinx-proof boxes and the sphinx-exercise exercises in one pass over the whole book
    (``TocTreeCollector.assign_figure_numbers``, run on ``env-get-updated``), which stores them in
    ``env.toc_fignumbers[docname][figtype][node_id]``. Every renderer reads them from there: the
    captions, the equation numbers, ``{numref}``, ``{eq}``, ``{prf:ref}`` and the solutions'
    titles. After that pass (a later priority on the same event) each page's numbers are rewritten
    in document order, each kind counted from 1 on every page: a chapter's page, whose title starts
    with its number ("5. Emergence ..."), gets ``(5, k)``, shown as 5.k; every other page (the
    preface, the front matter, the back matter) gets ``(k,)``.

Labels in outputs
    The lines that ``llmtheory.check`` prints name the equation or result they test by its label,
    ``[eq-em-de-e1]``. In the HTML, each such label inside a cell's output becomes a link to it,
    showing the number the reader sees: "(5.3)", "Theorem 5.1". Labels the book does not define
    are left as printed. On the API page, the labels the docstrings cite become such links too.

Alt text
    An image drawn by a code cell takes its alt text from the caption of its figure
    (``mystnb.figure.caption`` in the cell's metadata), never from its file name. An image without
    a caption gets a descriptive fallback and a warning naming the page and the cell.

Accessible markup
    The bibliography's entries are list items of the list docutils puts them in (docutils writes
    the deprecated ``role="doc-biblioentry"``, which leaves the list without items), and a folded
    cell's toggle is named by its visible text. The theme's search and colour-mode buttons are
    overridden in ``book/_templates``; the styles are in ``book/_static/page.css``.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from docutils import nodes
from sphinx.util import logging

logger = logging.getLogger(__name__)

Numbers = dict[str, dict[str, tuple[int, ...]]]

_CHAPTER_TITLE = re.compile(r"\s*(\d+)\.\s")
_LABEL = re.compile(r"\[([A-Za-z][\w:.-]*)\]")
_BARE_LABEL = re.compile(  # with the parentheses around it, if any: "(eq-x)" shows "(5.3)"
    r"(\()?(?<![\w#/.-])((?:eq|thm|prop|def|lem|cor|fig|sec|ex|ch)-[\w-]*\w)(?![\w-])(\))?"
)
_TEXT = re.compile(r">([^<]+)<")
_OUTPUT_PRE = re.compile(
    r'(<div class="output[^"]*"[^>]*>\s*<div class="highlight">\s*<pre>)(.*?)(</pre>)', re.S
)
_LISTING_PRE = re.compile(
    r'(<div class="cell_output docutils container">\s*'
    r'<div class="highlight-python notranslate"><div class="highlight">\s*<pre>)(.*?)(</pre>)',
    re.S,
)
_HTML_OUTPUT = re.compile(r'(<div class="output text_html">)(.*?)(</div>)', re.S)
_LINK_TEXT = re.compile(r"(\()?(<a\b[^>]*>)([A-Za-z][\w-]*)(</a>)(\))?")
_DOCSTRING = re.compile(r'(<span class="(?:sd|c1)">)([^<]*)(</span>)')  # docstrings, comments
_TAG = re.compile(r"<[^>]+>")
_HANG_CH = 4  # a wrapped line of a listing continues this many characters further in


def chapter_number(title: str) -> int | None:
    """The chapter number a page title starts with ("5. Emergence ..." -> 5), or None."""
    match = _CHAPTER_TITLE.match(title)
    return int(match.group(1)) if match else None


def renumber(
    fignumbers: Mapping[str, Mapping[str, tuple[int, ...]]], chapter: int | None
) -> Numbers:
    """One page's numbers counted from 1 for each kind, in document order, under ``chapter``.

    ``fignumbers`` maps a kind (``figure``, ``displaymath``, ``theorem``, ...) to the numbers Sphinx
    gave the page's nodes of that kind across the whole book; those increase in document order.
    """
    renumbered: Numbers = {}
    for figtype, numbers in fignumbers.items():
        ordered = sorted(numbers, key=lambda node_id: numbers[node_id])
        prefix = () if chapter is None else (chapter,)
        renumbered[figtype] = {node_id: (*prefix, k) for k, node_id in enumerate(ordered, 1)}
    return renumbered


def format_number(
    figtype: str, number: tuple[int, ...], numfig_format: Mapping[str, str], eqref_format: str
) -> str:
    """The number of a node of kind ``figtype`` as shown: "(5.3)", "Fig. 5.2", "Theorem 5.1"."""
    text = ".".join(map(str, number))
    if figtype == "displaymath":
        return eqref_format.format(number=text)
    shown = numfig_format.get(figtype, figtype + " %s") % text
    return shown[:1].upper() + shown[1:]


def link_labels(text: str, targets: Mapping[str, tuple[str, str]]) -> str:
    """Replace each ``[label]`` of known ``targets`` (label -> (href, shown text)) by a link.

    ``text`` is HTML (the escaped text of an output); unknown labels are left as they are.
    """

    def link(match: re.Match[str]) -> str:
        target = targets.get(match.group(1))
        if target is None:
            return match.group(0)
        href, shown = target
        if not shown.startswith(
            "("
        ):  # "[thm-x]" reads "(Theorem 4.1)", like "(4.8)" for an equation
            shown = f"({shown})"
        return _anchor(match.group(1), (href, shown))

    return _LABEL.sub(link, text)


def link_bare_labels(text: str, targets: Mapping[str, tuple[str, str]]) -> str:
    """Each known label written without brackets (``vs eq-emb-e2e``) in ``text`` as a link.

    ``text`` is the HTML of an output or a docstring; only text between tags is touched.
    """

    def link(m: re.Match[str]) -> str:
        opened, label, closed = m.group(1) or "", m.group(2), m.group(3) or ""
        if label not in targets:
            return m.group(0)
        if opened and closed and targets[label][1].startswith("("):
            opened = closed = ""  # an equation's number brings its own parentheses
        return opened + _anchor(label, targets[label]) + closed

    def in_text(match: re.Match[str]) -> str:
        return ">" + _BARE_LABEL.sub(link, match.group(1)) + "<"

    return _TEXT.sub(in_text, f">{text}<")[1:-1]


def _anchor(label: str, target: tuple[str, str]) -> str:
    href, shown = target
    return (
        f'<a class="reference internal output-label" href="{html.escape(href)}" '
        f'title="{html.escape(label)}">{html.escape(shown)}</a>'
    )


def link_docstring_labels(body: str, targets: Mapping[str, tuple[str, str]]) -> str:
    """Each known label in the text of an API page (docstrings cite ``eq-em-core``) as a link.

    Only text between tags is touched, never an attribute; unknown labels are left as they are.
    """
    return link_bare_labels(body, targets)


def link_output_labels(body: str, targets: Mapping[str, tuple[str, str]]) -> str:
    """The labels in every cell output of a page's HTML body as links showing their numbers.

    Printed lines: ``[label]`` (the check lines) and bare labels. Tables (HTML outputs): bare
    labels and the text of links that show a label. Source listings (``show_source``): labels
    in docstrings and comments only, so that the code itself stays as written.
    """
    body = _OUTPUT_PRE.sub(
        lambda m: (
            m.group(1) + link_bare_labels(link_labels(m.group(2), targets), targets) + m.group(3)
        ),
        body,
    )
    body = _HTML_OUTPUT.sub(
        lambda m: (
            m.group(1) + link_bare_labels(_relabel_links(m.group(2), targets), targets) + m.group(3)
        ),
        body,
    )
    return _LISTING_PRE.sub(
        lambda m: m.group(1) + _docstring_links(m.group(2), targets) + m.group(3), body
    )


def _relabel_links(html_text: str, targets: Mapping[str, tuple[str, str]]) -> str:
    def relabel(m: re.Match[str]) -> str:
        opened, start, label, end, closed = (g or "" for g in m.groups())
        if label not in targets:
            return m.group(0)
        shown = targets[label][1]
        if opened and closed and shown.startswith("("):
            opened = closed = ""  # "(eq-x)" shows "(5.3)", not "((5.3))"
        return f"{opened}{start}{html.escape(shown)}{end}{closed}"

    return _LINK_TEXT.sub(relabel, html_text)


def _docstring_links(listing: str, targets: Mapping[str, tuple[str, str]]) -> str:
    return _DOCSTRING.sub(
        lambda m: m.group(1) + link_bare_labels(m.group(2), targets) + m.group(3), listing
    )


def hang_listing_lines(body: str) -> str:
    """Each line of a source listing (``show_source``) as a block with a hanging indent.

    Listings wrap to the column like every output; a wrapped line then continues
    ``_HANG_CH`` characters further in than the line's own indentation, so that the code's
    layout stays readable. Pygments closes its spans at every line end, so lines split cleanly.
    """

    def hang(listing: str) -> str:
        lines = listing.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        out = []
        for line in lines:
            text = html.unescape(_TAG.sub("", line))
            indent = len(text) - len(text.lstrip(" ")) + _HANG_CH
            out.append(f'<span class="listing-line" style="--hang: {indent}ch">{line}\n</span>')
        return "".join(out)

    return _LISTING_PRE.sub(lambda m: m.group(1) + hang(m.group(2)) + m.group(3), body)


def list_items_of_citations(body: str) -> str:
    """Bibliography entries as list items of docutils' ``role="list"`` citation list."""
    return body.replace('role="doc-biblioentry"', 'role="listitem"')


def name_folds_by_their_text(body: str) -> str:
    """A folded cell's toggle is named by what it shows ("Show code cell source").

    myst-nb labels every such ``<summary>`` "Toggle hidden content", a name that leaves out its
    visible text.
    """
    return body.replace('<summary aria-label="Toggle hidden content">', "<summary>")


# --- Sphinx ------------------------------------------------------------------------------------


def _number_within_chapters(app: Any, env: Any) -> list[str]:
    previous = getattr(env, "page_fignumbers", {})
    for docname, fignumbers in list(env.toc_fignumbers.items()):
        title = env.titles.get(docname)
        env.toc_fignumbers[docname] = renumber(
            fignumbers, chapter_number(title.astext() if title else "")
        )
    env.page_fignumbers = {
        docname: dict(numbers) for docname, numbers in env.toc_fignumbers.items()
    }
    return [
        docname
        for docname, numbers in env.toc_fignumbers.items()
        if previous.get(docname) != numbers
    ]


def _number_of(env: Any, docname: str, node_id: str) -> tuple[str, tuple[int, ...]] | None:
    for figtype, numbers in env.toc_fignumbers.get(docname, {}).items():
        if node_id in numbers:
            return figtype, numbers[node_id]
    return None


def label_targets(app: Any, fromdocname: str) -> dict[str, tuple[str, str]]:
    """Each label of the book -> (its address from ``fromdocname``, the text the reader sees)."""
    env, builder, config = app.env, app.builder, app.config
    shown_by_label: dict[str, tuple[str, str, str]] = {}  # label -> (docname, anchor, shown)

    def number(docname: str, node_id: str) -> str | None:
        found = _number_of(env, docname, node_id)
        if found is None:
            return None
        return format_number(
            found[0], found[1], config.numfig_format, config.math_eqref_format or "({number})"
        )

    for label, (docname, labelid, sectname) in env.domains["std"].labels.items():
        shown = number(docname, labelid) or sectname
        if shown:
            shown_by_label[label] = (docname, labelid, shown)
    for label, entry in getattr(env, "proof_list", {}).items():
        node_id = entry["ids"][0] if entry.get("ids") else label
        shown = number(entry["docname"], node_id) if not entry.get("nonumber") else None
        shown = shown or entry["realtype"].title()
        shown_by_label[label] = (entry["docname"], node_id, shown)
    for label, (docname, _eqno) in env.domains["math"].equations.items():
        node_id = nodes.make_id(f"equation-{label}")
        shown = number(docname, node_id)
        if shown:
            shown_by_label[label] = (docname, node_id, shown)

    targets = {}
    for label, (docname, anchor, shown) in shown_by_label.items():
        uri = "" if docname == fromdocname else builder.get_relative_uri(fromdocname, docname)
        targets[label] = (f"{uri}#{anchor}", shown)
    return targets


def _page_context(app: Any, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    body = context.get("body")
    if not body or doctree is None:
        return
    if '<div class="output' in body or '<div class="cell_output' in body:
        body = hang_listing_lines(link_output_labels(body, label_targets(app, pagename)))
    if '<dl class="py' in body:  # the API page: docstrings cite the labels of their equations
        body = link_docstring_labels(body, label_targets(app, pagename))
    context["body"] = name_folds_by_their_text(list_items_of_citations(body))


def _cell_of_output(node: nodes.Node) -> int | None:
    """The number (from 1) of the code cell whose output ``node`` is in, or None."""
    in_output = False
    parent = node.parent
    while parent is not None:
        if isinstance(parent, nodes.container):
            if parent.get("nb_element") == "cell_code_output" or "cell_output" in parent.get(
                "classes", []
            ):
                in_output = True
            if in_output and parent.get("cell_index") is not None:
                return int(parent["cell_index"]) + 1
        parent = parent.parent
    return 0 if in_output else None


_TEX_WORDS = {
    "approx": " ≈ ",
    "le": " ≤ ",
    "leq": " ≤ ",
    "ge": " ≥ ",
    "geq": " ≥ ",
    "gg": " ≫ ",
    "ll": " ≪ ",
    "propto": " ∝ ",
    "to": " → ",
    "times": "×",
    "cdot": "·",
    "ell": "ℓ",
    "infty": "∞",
    "sum": "Σ",
    "top": "ᵀ",
    "varepsilon": "ε",
    "varphi": "φ",
    "vartheta": "θ",
    "operatorname": "",
    "mathrm": "",
    "mathbf": "",
    "text": "",
    "left": "",
    "right": "",
}
_TEX_COMMAND = re.compile(r"\\([A-Za-z]+)")


def spoken_tex(tex: str) -> str:
    """Inline TeX as plain text for alt text: ``R^*\\approx1.038`` -> ``R^* ≈ 1.038``.

    Greek letters become their characters, relations their symbols and other commands their
    names (``\\max`` -> ``max``); braces go, ``^`` and ``_`` stay as plain-text math writes them.
    """

    def command(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in _TEX_WORDS:
            return _TEX_WORDS[name]
        case = "CAPITAL" if name[0].isupper() else "SMALL"
        try:
            letter = name.upper().replace("LAMBDA", "LAMDA")  # Unicode's spelling
            return unicodedata.lookup(f"GREEK {case} LETTER {letter}")
        except KeyError:
            return name

    text = _TEX_COMMAND.sub(command, tex)
    text = re.sub(r"\\[,;:! ]", " ", text)  # TeX's spaces
    text = re.sub(r"\\(.)", r"\1", text)  # escaped characters: \{ \% \_
    text = re.sub(r"\^\{(?!\()([^{}]{2,})\}", r"^(\1)", text)  # e^{-3R} -> e^(-3R)
    text = text.replace("{", "").replace("}", "")
    return re.sub(r" {2,}", " ", text)


def caption_text(caption: nodes.Node) -> str:
    """The text of a caption with its math spoken (:func:`spoken_tex`), for alt text."""
    parts = []
    for node in caption.findall(lambda n: isinstance(n, nodes.math | nodes.Text)):
        if isinstance(node, nodes.math):
            parts.append(spoken_tex(node.astext()))
        elif not isinstance(node.parent, nodes.math):
            parts.append(node.astext())
    return "".join(parts)


def _alt_text(app: Any, doctree: nodes.document, docname: str) -> None:
    title = app.env.titles.get(docname)
    title_text = title.astext() if title else docname
    uncaptioned = 0
    for image in list(doctree.findall(nodes.image)):
        cell = _cell_of_output(image)
        if image.get("alt") or cell is None:
            continue
        figure = image.parent
        while figure is not None and not isinstance(figure, nodes.figure):
            figure = figure.parent
        captions = list(figure.findall(nodes.caption)) if figure is not None else []
        if captions:
            image["alt"] = " ".join(caption_text(captions[0]).split())
            continue
        uncaptioned += 1
        image["alt"] = f"Plot {uncaptioned} drawn by the code of “{title_text}”"
        logger.warning(
            f"the image drawn by cell {cell} has no caption (give the cell mystnb.figure.caption)",
            location=(docname, None),
            type="page",
            subtype="alt",
        )


def _equation_numbers(app: Any, doctree: nodes.document, docname: str) -> None:
    """Give each numbered equation node its number within the chapter ("5.3").

    The HTML reads the number from ``toc_fignumbers``; the plain editions (sphinx-tojupyter) read
    the node's own ``number``, which the math domain counts per page.
    """
    numbers = app.env.toc_fignumbers.get(docname, {}).get("displaymath", {})
    for node in doctree.findall(nodes.math_block):
        if node.get("number") and node.get("ids") and node["ids"][0] in numbers:
            node["number"] = ".".join(map(str, numbers[node["ids"][0]]))


def _doctree_resolved(app: Any, doctree: nodes.document, docname: str) -> None:
    if app.config.math_numfig and app.config.numfig:
        _equation_numbers(app, doctree, docname)
    _alt_text(app, doctree, docname)


def setup(app: Any) -> dict[str, Any]:
    # After Sphinx's TocTreeCollector (priority 500) has numbered the whole book.
    app.connect("env-get-updated", _number_within_chapters, priority=900)
    app.connect("doctree-resolved", _doctree_resolved)
    app.connect("html-page-context", _page_context, priority=800)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "env_version": 1}
