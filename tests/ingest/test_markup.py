"""Markdown and HTML become the text a reader sees: no `**`, `_`, backticks, link targets, images
or `#` marks in the canonical text, so every quote found by its offsets is text on the page. Their
headings still open sections (even those no plain-text rule would take for one) and their list
items are still list items."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ingest.load import load_file
from ingest.pipeline import prepare_document
from tests.conftest import make_settings

pytestmark = pytest.mark.unit

MARKDOWN = """---
title: Notes on the Orchard Cooperative
---
# The Orchard *Cooperative* of Lindholm

The cooperative was founded by **twelve growers** in the _upper valley_ and keeps its accounts in
`ledger.csv`. Its charter is on [the registry site](https://example.org/charter "Charter"), and a
copy hangs in the press house. ![The press house](img/press.png)

## Who may join?

Any grower with at least two hectares of trees may apply.\\
A vote of the members decides, and __no fee__ is due in the first year.

## Duties of a member, in brief.

- deliver the **whole harvest** to the shared press
- attend the *autumn* assembly

3. Pay the yearly levy.
4. Sign the charter.

> Members who leave keep their share of the reserve.

An escaped \\*star\\* and an &amp; stay, as a reader sees them. <span class="x">Inline HTML</span> shows its text.

Setext Heading Of The Second Kind
---------------------------------

| Tree | Count |
|------|-------|
| Apple | 140 |

The last paragraph ends the notes.
"""


def _reader_view(markdown: str) -> str:
    """What a browser shows for the Markdown: rendered to HTML by markdown-it, then its text.
    Table cells are written " | " apart, the one mark the canonical text adds (as the HTML reader
    does): a grid has no plain-text form without a separator between its cells."""
    from lxml import html
    from markdown_it import MarkdownIt

    body = markdown.split("---\n", 2)[2]
    rendered = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"]).render(body)
    rendered = re.sub(r"</t([dh])>\s*<t[dh][^>]*>", " | ", rendered)
    return " ".join(html.fromstring(f"<div>{rendered}</div>").text_content().split())


def _words(text: str) -> int:
    return len(text.split())


@pytest.fixture
def notes(tmp_path: Path):
    src = tmp_path / "notes.md"
    src.write_text(MARKDOWN, encoding="utf-8")
    return prepare_document(src, tmp_path, make_settings(tmp_path / "data", tmp_path), _words)


def test_markdown_markup_is_not_in_the_canonical_text(notes) -> None:
    text = notes.text
    for markup in ("**", "__", "_upper", "*Cooperative*", "`", "](", "![", "https://example.org", "img/press", "#"):
        assert markup not in text, markup
    assert "---" not in text and "<span" not in text and "&amp;" not in text and "> Members" not in text
    for seen in (
        "The Orchard Cooperative of Lindholm",
        "founded by twelve growers in the upper valley",
        "ledger.csv",
        "Its charter is on the registry site, and a",
        "An escaped *star* and an & stay",  # escaped characters are what a reader sees
        "Inline HTML shows its text.",
        "Members who leave keep their share of the reserve.",
        "Apple | 140",
    ):
        assert seen in text, seen


def test_every_quote_found_by_its_offsets_is_text_the_reader_sees(notes) -> None:
    view = _reader_view(MARKDOWN)
    assert notes.chunked.sentences
    for record in notes.chunked.sentences:
        s = record.sentence
        quote = notes.text[s.start : s.end]
        assert quote == s.text
        assert " ".join(quote.split()) in view, quote


def test_markdown_headings_are_sections_even_when_shaped_like_sentences(notes) -> None:
    # "Who may join?" and "Duties of a member, in brief." end like sentences: only the markup says
    # they are headings.
    assert notes.chunked.sections == [
        "The Orchard Cooperative of Lindholm",
        "Who may join?",
        "Duties of a member, in brief.",
        "Setext Heading Of The Second Kind",
    ]
    by_text = {r.sentence.text: r.sentence for r in notes.chunked.sentences}
    assert by_text["Any grower with at least two hectares of trees may apply."].section == "Who may join?"
    assert "Who may join?" not in by_text  # a heading is not a sentence
    assert "headings" not in notes.metadata  # structure, not metadata to store


def test_markdown_list_items_stay_list_items_with_the_numbers_a_reader_sees(notes) -> None:
    items = [(r.sentence.text, r.sentence.section) for r in notes.chunked.sentences if r.sentence.is_list_item]
    section = "Duties of a member, in brief."
    assert items == [
        ("deliver the whole harvest to the shared press", section),
        ("attend the autumn assembly", section),
        ("Pay the yearly levy.", section),
        ("Sign the charter.", section),
    ]
    # The marks before the items are those a browser draws: a bullet, and the list's own numbers.
    assert "• deliver the whole harvest to the shared press\n• attend the autumn assembly" in notes.text
    assert "3. Pay the yearly levy.\n4. Sign the charter." in notes.text


def test_markdown_title_and_empty_rendering(tmp_path: Path) -> None:
    from rag.errors import LoadError

    src = tmp_path / "plain.md"
    src.write_text("**Bold first line** of the note\n\nBody.\n", encoding="utf-8")
    [doc] = load_file(src, tmp_path)
    assert doc.metadata["title"] == "Bold first line of the note"
    only_image = tmp_path / "image.md"
    only_image.write_text("![a chart](chart.png)\n\n<!-- a comment -->\n", encoding="utf-8")
    with pytest.raises(LoadError, match=r"image\.md: is empty"):
        load_file(only_image, tmp_path)


HTML_PAGE = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Bee Keeping</title></head>
<body><article>
<h1>Keeping bees on a city roof</h1>
<p>Roof hives need shelter from the wind, and the keepers of the Kestrel Street hives learnt this
the hard way when two colonies were lost in a single storm in their first winter on the roof.</p>
<h2>What do the bees need in winter?</h2>
<p>They need stores of honey, a dry hive and a wind break. Keepers check the weight of each hive
every fortnight from November until the first willow flowers open in spring.</p>
<h2>Neighbours</h2>
<p>The building's residents were asked before the first hive arrived, and most of them agreed
to the plan after a visit from the city's bee inspector, who answered their questions.</p>
</article></body></html>"""


def test_html_headings_are_sections_without_marks_in_the_text(tmp_path: Path) -> None:
    src = tmp_path / "bees.html"
    src.write_text(HTML_PAGE, encoding="utf-8")
    doc = prepare_document(src, tmp_path, make_settings(tmp_path / "data", tmp_path), _words)
    assert "#" not in doc.text
    assert doc.text.startswith("Keeping bees on a city roof\n\n")
    assert doc.chunked.sections == [
        "Keeping bees on a city roof",
        "What do the bees need in winter?",
        "Neighbours",
    ]
    by_text = {r.sentence.text: r.sentence for r in doc.chunked.sentences}
    assert by_text["They need stores of honey, a dry hive and a wind break."].section == (
        "What do the bees need in winter?"
    )


PLAIN_PAGE = """<html><head><title>The Harrow breakwater</title></head><body>
<div class="menu"><ul><li><a href="/">Home</a></li><li><a href="/news">News</a></li></ul></div>
<h1>The Harrow breakwater</h1>
<p>The Harrow breakwater was completed on 3 May 2021 after six years of work. It protects the
inner harbour of the town from the winter storms that used to close the port for weeks.</p>
<h2>Key figures</h2>
<p>The project set several records for the region, and the port authority published them.</p>
<ul><li>The wall is 1,240 metres long.</li><li>It used 2.1 million tonnes of rock.</li></ul>
<h2>What comes next</h2>
<p>A second phase will extend the quay by 300 metres, the port authority said in its report.</p>
<div class="footer"><p>Copyright 2024 Harbour News. All rights reserved.</p></div>
</body></html>"""


def test_a_plain_page_keeps_its_headings_and_lists_and_drops_its_menu(tmp_path: Path) -> None:
    # Headings, paragraphs and a list straight in <body>, no <article> or <main>: the extractor's
    # fallback for such pages dropped every heading and the list.
    src = tmp_path / "harbour.html"
    src.write_text(PLAIN_PAGE, encoding="utf-8")
    doc = prepare_document(src, tmp_path, make_settings(tmp_path / "data", tmp_path), _words)
    assert doc.chunked.sections == ["The Harrow breakwater", "Key figures", "What comes next"]
    assert "The wall is 1,240 metres long." in doc.text and "2.1 million tonnes" in doc.text
    items = [r.sentence for r in doc.chunked.sentences if r.sentence.is_list_item]
    assert [i.text for i in items] == ["The wall is 1,240 metres long.", "It used 2.1 million tonnes of rock."]
    assert "Home" not in doc.text and "All rights reserved" not in doc.text


def test_markdown_line_breaks_as_a_reader_sees_them(tmp_path: Path) -> None:
    # A soft break is a space on the page: the wrapped "2. items ..." line is not a list item.
    # A hard break (backslash, two spaces, <br>) starts a new line.
    src = tmp_path / "minutes.md"
    src.write_text(
        "The board met on the fourth and carried\n2. items of the agenda without a vote.\n\n"
        "Chair: Ana Ilic\\\nClerk: Tom Berg<br>Treasurer: Eva Holm\n",
        encoding="utf-8",
    )
    doc = prepare_document(src, tmp_path, make_settings(tmp_path / "data", tmp_path), _words)
    assert doc.text == (
        "The board met on the fourth and carried 2. items of the agenda without a vote.\n\n"
        "Chair: Ana Ilic\nClerk: Tom Berg\nTreasurer: Eva Holm"
    )
    assert not any(r.sentence.is_list_item for r in doc.chunked.sentences)
