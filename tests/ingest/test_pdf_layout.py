"""PDF layout: running headers and "Page N of M" footers dropped, a sentence that runs over a page
break kept whole with every offset still on its own page, and numbered headings found in text
that has no blank lines. Real PDF files (tests/ingest/pdf_files.py), read by pypdf."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ingest.clean import join_pages
from ingest.formats import drop_running_lines
from ingest.load import load_file
from ingest.pipeline import _page_at, prepare_document
from tests.conftest import make_settings
from tests.ingest.pdf_files import CROSSING, HEADER, TITLE, make_pdf, survey_pages


def _words(text: str) -> int:
    return len(text.split())


@pytest.fixture
def survey(tmp_path: Path):
    src = tmp_path / "survey.pdf"
    src.write_bytes(make_pdf(survey_pages()))
    return src, prepare_document(src, tmp_path, make_settings(tmp_path / "data", tmp_path), _words)


@pytest.mark.unit
def test_running_header_and_page_footer_are_gone(survey) -> None:
    src, doc = survey
    raw = "\n".join(d.page_content for d in load_file(src, src.parent))
    assert HEADER not in raw and not re.search(r"Page \d of 3", raw)
    assert HEADER not in doc.text and "Page" not in doc.text
    # The title is the first line of the body, not the running header.
    assert doc.metadata["title"] == TITLE


@pytest.mark.unit
def test_a_sentence_across_a_page_break_is_one_sentence_on_both_pages(survey) -> None:
    _, doc = survey
    assert CROSSING in doc.text
    [crossing] = [r.sentence for r in doc.chunked.sentences if "because the upper" in r.sentence.text]
    assert crossing.text == CROSSING
    assert crossing.section == "1. Reservoir levels"
    spans = doc.metadata["pages"]
    assert _page_at(spans, crossing.start) == 1
    assert _page_at(spans, crossing.end - 1) == 2
    [second] = [r.sentence for r in doc.chunked.sentences if "reported no outages" in r.sentence.text]
    assert second.text == (
        "After the tests the stations returned to service within a week, and the board\n"
        "reported no outages during the changeover."
    )
    assert (_page_at(spans, second.start), _page_at(spans, second.end - 1)) == (2, 3)


@pytest.mark.unit
def test_every_page_span_holds_only_text_of_that_page(survey) -> None:
    src, doc = survey
    spans = doc.metadata["pages"]
    assert [page for page, _, _ in spans] == [1, 2, 3]
    by_number = {d.metadata["page"]: " ".join(d.page_content.split()) for d in load_file(src, src.parent)}
    covered = set()
    for page, start, end in spans:
        assert " ".join(doc.text[start:end].split()) in by_number[page]
        covered.update(range(start, end))
    # Only the separators between pages lie outside every page.
    assert all(doc.text[i].isspace() for i in range(len(doc.text)) if i not in covered)
    for record in doc.chunked.sentences:
        s = record.sentence
        assert doc.text[s.start : s.end] == s.text
        page = _page_at(spans, s.start)
        first_line = s.text.split("\n")[0]
        assert first_line in by_number[page], (page, s.text)


@pytest.mark.unit
def test_numbered_pdf_headings_are_sections_and_the_numbered_list_stays_a_list(survey) -> None:
    _, doc = survey
    assert doc.chunked.sections == [TITLE, "1. Reservoir levels", "2. Pumping stations", "3. Costs and funding"]
    items = [(r.sentence.text, r.sentence.section) for r in doc.chunked.sentences if r.sentence.is_list_item]
    assert items == [
        ("The old motors were lifted out by crane.", "2. Pumping stations"),
        ("The foundations were checked for cracks.", "2. Pumping stations"),
        ("The new motors were bolted in place and tested.", "2. Pumping stations"),
    ]
    costs = next(r.sentence for r in doc.chunked.sentences if r.sentence.text.startswith("The motors cost"))
    assert costs.section == "3. Costs and funding"
    assert _page_at(doc.metadata["pages"], costs.start) == 3


@pytest.mark.unit
def test_on_two_pages_a_line_at_the_same_edge_of_both_is_running(tmp_path: Path) -> None:
    pages = [[HEADER, "First page text ends here.", "Page 1 of 2"], [HEADER, "Second page text.", "Page 2 of 2"]]
    src = tmp_path / "short.pdf"
    src.write_bytes(make_pdf(pages))
    docs = load_file(src, tmp_path)
    assert not any(HEADER in d.page_content or "Page" in d.page_content for d in docs)
    assert "First page text ends here." in docs[0].page_content
    # Lines that differ between the two pages stay, at the edges too.
    different = [[HEADER, "Alpha opens here."], ["Beta opens here.", "Closing words."]]
    src.write_bytes(make_pdf(different))
    docs = load_file(src, tmp_path)
    assert HEADER in docs[0].page_content and "Beta opens here." in docs[1].page_content


# ---------------------------------------------------------------- the rules on their own


@pytest.mark.unit
def test_running_lines_are_compared_with_numbers_disregarded_and_only_at_the_edges() -> None:
    pages: list[tuple[int | None, str]] = [
        (1, "Ledger of the Orchard Cooperative\nApples were picked in May.\nShared line\nSold at the fair.\n- 1 -"),
        (2, "Ledger of the Orchard Cooperative\nPears were picked in June.\nShared line\nPressed.\n- 2 -"),
        (3, "Ledger of the Orchard Cooperative\nPlums were picked in July.\nShared line\nDried.\n- 3 -"),
        (4, "Quinces were picked in August.\nShared line\n\n- 4 -\n"),
    ]
    kept = drop_running_lines(pages)
    assert [n for n, _ in kept] == [1, 2, 3, 4]
    texts = [t for _, t in kept]
    # On 3 of 4 pages the cooperative's name is on top; every page ends with its number.
    assert not any("Ledger" in t or re.search(r"- \d -", t) for t in texts)
    # "Shared line" is on every page but inside the page, bar one: it stays everywhere.
    assert all("Shared line" in t for t in texts)
    assert texts[0] == "Apples were picked in May.\nShared line\nSold at the fair."
    assert texts[3] == "Quinces were picked in August.\nShared line"


@pytest.mark.unit
def test_a_line_on_a_minority_of_pages_stays() -> None:
    pages: list[tuple[int | None, str]] = [
        (1, "Chapter One\nA first page of prose."),
        (2, "Chapter One\nA second page of prose."),
        (3, "A third page of prose."),
        (4, "A fourth page of prose."),
        (5, "A fifth page of prose."),
    ]
    assert drop_running_lines(pages) == pages


@pytest.mark.unit
def test_pages_that_repeat_everything_are_kept_whole() -> None:
    pages: list[tuple[int | None, str]] = [(n, "Same words on every page") for n in (1, 2, 3)]
    assert drop_running_lines(pages) == pages


@pytest.mark.unit
def test_join_pages_paragraph_break_only_after_a_sentence_end() -> None:
    text, spans = join_pages(
        [
            (1, "A first paragraph ends here."),
            (2, "A sentence that runs on"),
            (3, "over the break ends here”."),
            (4, ""),
            (5, "Closing words; secu-"),
            (6, "rity follows."),
        ]
    )
    assert text == (
        "A first paragraph ends here.\n\n"
        "A sentence that runs on\nover the break ends here”.\n\n"
        "Closing words; security follows."
    )
    assert spans == [[1, 0, 28], [2, 30, 53], [3, 54, 80], [5, 82, 101], [6, 101, 114]]
    for page, start, end in spans:
        assert _page_at(spans, start) == page and _page_at(spans, end - 1) == page
    # A page that starts in lower case continues the sentence even after a full stop.
    assert join_pages([(1, "It costs 5 U.S."), (2, "dollars a day.")])[0] == "It costs 5 U.S.\ndollars a day."
