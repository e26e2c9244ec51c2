"""book/_ext/page.py: numbering within chapters, labels in outputs, accessible markup."""

from __future__ import annotations

import importlib.util
import re
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("page", ROOT / "book/_ext/page.py")
page = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(page)

TARGETS = {
    "eq-em-de-e1": ("#equation-eq-em-de-e1", "(5.3)"),
    "thm-em-threshold": ("other.html#thm-em-threshold", "Theorem 5.1"),
}


@pytest.mark.parametrize(
    ("title", "number"),
    [
        ("5. Emergence of skills: density evolution", 5),
        ("12. A twelfth chapter", 12),
        ("How a chapter works: the optimism of a training loss", None),
        ("Notation", None),
        ("2024 in review", None),
        ("", None),
    ],
)
def test_chapter_number_is_read_from_the_title(title, number):
    assert page.chapter_number(title) == number


def test_renumber_counts_each_kind_from_one_in_document_order_under_the_chapter():
    book_wide = {
        "figure": {"fig-b": (4,), "fig-a": (3,)},
        "displaymath": {"equation-x": (12,), "equation-y": (13,), "equation-z": (14,)},
        "theorem": {"thm-a": (2,)},
    }
    assert page.renumber(book_wide, 5) == {
        "figure": {"fig-a": (5, 1), "fig-b": (5, 2)},
        "displaymath": {"equation-x": (5, 1), "equation-y": (5, 2), "equation-z": (5, 3)},
        "theorem": {"thm-a": (5, 1)},
    }


def test_renumber_without_a_chapter_counts_from_one_unprefixed():
    assert page.renumber({"figure": {"a": (7,), "b": (9,)}}, None) == {
        "figure": {"a": (1,), "b": (2,)}
    }


def test_format_number_as_the_page_shows_it():
    formats = {"figure": "Fig. %s", "theorem": "theorem %s", "exercise": "Exercise %s"}
    assert page.format_number("displaymath", (5, 3), formats, "({number})") == "(5.3)"
    assert page.format_number("figure", (5, 2), formats, "({number})") == "Fig. 5.2"
    assert page.format_number("theorem", (5, 1), formats, "({number})") == "Theorem 5.1"
    assert page.format_number("lemma", (2,), formats, "({number})") == "Lemma 2"


def test_known_labels_become_links_showing_their_number():
    line = (
        "✓ density evolution, one step [eq-em-de-e1]: 0.25 ≈ 0.25 (rtol=1e-12) [thm-em-threshold]"
    )
    linked = page.link_labels(line, TARGETS)
    assert '<a class="reference internal output-label" href="#equation-eq-em-de-e1"' in linked
    assert ">(5.3)</a>: 0.25" in linked
    assert 'href="other.html#thm-em-threshold" title="thm-em-threshold">(Theorem 5.1)</a>' in linked
    assert "[eq-" not in linked and "[thm-" not in linked


def test_unknown_labels_and_arrays_are_left_as_printed():
    line = "[eq-not-in-the-book] [0.25 0.5] [1 2 3] [a]"
    assert page.link_labels(line, TARGETS) == line.replace("[a]", "[a]")


def test_only_the_text_of_cell_outputs_is_linked():
    body = textwrap.dedent(
        """\
        <p>The prose names [eq-em-de-e1] literally.</p>
        <div class="output stream highlight-myst-ansi notranslate"><div class="highlight"><pre>\
        <span></span>✓ one step [eq-em-de-e1]: 1 = 1 exactly
        </pre></div>
        </div>
        <div class="highlight-python notranslate"><div class="highlight">\
        <pre>x = [eq-em-de-e1]</pre></div></div>
        """
    )
    linked = page.link_output_labels(body, TARGETS)
    assert linked.count("output-label") == 1
    assert "<p>The prose names [eq-em-de-e1] literally.</p>" in linked
    assert "x = [eq-em-de-e1]" in linked


def test_bibliography_entries_are_list_items():
    body = '<div role="list" class="citation-list">\n<div id="a" role="doc-biblioentry">'
    fixed = page.list_items_of_citations(body)
    assert 'role="listitem"' in fixed and "doc-biblioentry" not in fixed


BOOK = {
    "conf.py": """
        import sys
        sys.path.insert(0, {ext!r})
        extensions = ["sphinx_proof", "page"]
        numfig = True
        math_numfig = True
        html_theme = "basic"
    """,
    "index.rst": """
        Book
        ====

        .. math:: a = b
           :label: eq-front

        .. toctree::

           one
           two
    """,
    "one.rst": """
        1. One
        ======

        .. math:: x = 1
           :label: eq-one

        .. prf:theorem:: First
           :label: thm-one

           Text.

        .. figure:: pic.png
           :name: fig-one

           A caption.
    """,
    "two.rst": """
        2. Two
        ======

        .. math:: y = 2
           :label: eq-two-a

        .. math:: y = 3
           :label: eq-two-b

        .. prf:theorem:: Second
           :label: thm-two

           See :eq:`eq-one`, :eq:`eq-two-b`, :prf:ref:`thm-one`, :numref:`fig-two`,
           :numref:`fig-one`.

        .. figure:: pic.png
           :name: fig-two

           Another caption.
    """,
}


@pytest.fixture(scope="module")
def small_book(tmp_path_factory) -> Path:
    from sphinx.application import Sphinx

    src = tmp_path_factory.mktemp("book")
    for name, text in BOOK.items():
        text = textwrap.dedent(text).format(ext=str(ROOT / "book/_ext"))
        (src / name).write_text(text)
    (src / "pic.png").write_bytes(b"")
    out = src / "_build"
    app = Sphinx(src, src, out, out / ".doctrees", "html", status=None, warning=None, freshenv=True)
    app.build()
    return out


def test_a_small_book_numbers_within_each_chapter(small_book):
    one = (small_book / "one.html").read_text()
    two = (small_book / "two.html").read_text()
    index = (small_book / "index.html").read_text()
    assert '<span class="eqno">(1)' in index
    assert '<span class="eqno">(1.1)' in one and '<span class="eqno">(2.2)' in two
    assert re.search(r"Theorem 2\.1", two) and re.search(r"Fig\. 2\.1", two)
    assert "Fig. 1.1" in one
    # References from chapter 2 show the target's own chapter number.
    for shown in ("(1.1)", "(2.2)", "Theorem 1.1", "Fig. 2.1", "Fig. 1.1"):
        assert re.search(r"<a [^>]*>(<span[^>]*>)?" + re.escape(shown), two), shown


def test_a_folded_cell_is_named_by_its_visible_text():
    body = '<details class="hide above-input"><summary aria-label="Toggle hidden content">\n<p>Show'
    assert (
        page.name_folds_by_their_text(body)
        == '<details class="hide above-input"><summary>\n<p>Show'
    )


def test_docstring_labels_become_links_in_text_only():
    targets = {"eq-em-core": ("ch5.html#equation-eq-em-core", "(5.7)")}
    body = '<dd><p>Implements (eq-em-core) and eq-unknown.</p><a href="x#eq-em-core">k</a></dd>'
    out = page.link_docstring_labels(body, targets)
    assert (
        'Implements <a class="reference internal output-label" href="ch5.html#equation-eq-em-core"'
        in out
    )
    assert ">(5.7)</a> and" in out and "eq-unknown" in out  # one pair of parentheses
    assert 'href="x#eq-em-core"' in out  # attributes untouched


def test_labels_in_outputs_tables_and_listings_become_numbers():
    body = textwrap.dedent(
        """\
        <div class="output stream highlight-myst-ansi notranslate"><div class="highlight"><pre>\
        <span></span>✓ law [thm-em-threshold]: 1 = 1; density vs eq-em-de-e1 and eq-unknown
        </pre></div>
        </div>
        <div class="output text_html"><table><tr><td>\
        (<a href="x.html#equation-eq-em-de-e1">eq-em-de-e1</a>)</td><td>vs eq-em-de-e1</td>\
        </tr></table></div>
        <div class="cell_output docutils container">
        <div class="highlight-python notranslate"><div class="highlight"><pre><span></span>\
        <span class="k">def</span> <span class="nf">f</span><span class="p">():</span>
            <span class="sd">&quot;&quot;&quot;One step of eq-em-de-e1.&quot;&quot;&quot;</span>
            <span class="n">x</span> = <span class="s2">&quot;eq-em-de-e1&quot;</span>
        </pre></div></div></div>
        """
    )
    linked = page.link_output_labels(body, TARGETS)
    assert 'title="thm-em-threshold">(Theorem 5.1)</a>: 1 = 1' in linked  # brackets -> parentheses
    assert 'title="eq-em-de-e1">(5.3)</a> and eq-unknown' in linked  # bare label, unknown kept
    assert '<a href="x.html#equation-eq-em-de-e1">(5.3)</a></td>' in linked  # a table's link,
    assert "((5.3))" not in linked  # with one pair of parentheses
    assert '<td>vs <a class="reference internal output-label"' in linked  # a table's bare label
    assert "One step of <a " in linked  # a docstring in a listing
    assert "&quot;eq-em-de-e1&quot;" in linked  # the code itself as written


def test_listing_lines_hang_from_their_own_indentation():
    body = (
        '<div class="cell_output docutils container">\n'
        '<div class="highlight-python notranslate"><div class="highlight"><pre><span></span>'
        '<span class="k">def</span> f():\n'
        '<span class="w">    </span><span class="k">return</span> 1\n</pre></div></div></div>'
    )
    hung = page.hang_listing_lines(body)
    lines = re.findall(r'<span class="listing-line" style="--hang: (\d+)ch">', hung)
    assert lines == ["4", "8"]
    assert hung.count("\n</span>") == 2 and "</pre>" in hung


@pytest.mark.parametrize(
    ("tex", "spoken"),
    [
        (r"R^*\approx1.038", "R^* ≈ 1.038"),
        (r"\Lambda=x^3", "Λ=x^3"),
        (r"u\approx e^{-3R}", "u ≈ e^(-3R)"),
        (r"n \gg 1/p_{\min}", "n ≫ 1/p_min"),
        (r"N_s=2\cdot10^4", "N_s=2·10^4"),
        (r"q^{(0)}=1", "q^(0)=1"),
    ],
)
def test_alt_text_speaks_math_without_tex(tex, spoken):
    assert page.spoken_tex(tex) == spoken


def test_a_label_in_parentheses_keeps_one_pair():
    linked = page.link_bare_labels("machine (eq-em-de-e1). See (thm-em-threshold).", TARGETS)
    assert 'title="eq-em-de-e1">(5.3)</a>. See (<a ' in linked
    assert ">Theorem 5.1</a>)." in linked
