"""Numbered headings ("3. Mooring fees") open sections; numbered lists stay lists.

Cases of both kinds, in plain text (blank lines around headings) and in PDF-like text (no blank
lines at all), so that the rule that tells them apart is checked from both sides.
"""

from __future__ import annotations

import pytest

from ingest.structure import analyse
from tests.ingest.structure_checks import assert_exact_spans

pytestmark = pytest.mark.unit

DEFAULT = "Lead"


def test_numbered_plain_text_headings_open_sections() -> None:
    text = (
        "Harbour Rules of Port Elsby\n\n"
        "These rules apply to every vessel in the inner basin.\n\n"
        "1. Mooring fees\n\n"
        "Boats pay by length. The fee doubles in August.\n\n"
        "2. Night arrivals\n\n"
        "A pilot must board any vessel arriving after dark.\n\n"
        "10. Appeals to the 1998 board\n\n"
        "Appeals go to the harbour board within ten days."
    )
    sections, sentences = analyse(text, DEFAULT)
    assert [s.title for s in sections] == [
        "Harbour Rules of Port Elsby",
        "1. Mooring fees",
        "2. Night arrivals",
        "10. Appeals to the 1998 board",
    ]
    by_text = {s.text: s for s in sentences}
    assert by_text["The fee doubles in August."].section == "1. Mooring fees"
    assert by_text["A pilot must board any vessel arriving after dark."].section == "2. Night arrivals"
    assert not by_text["The fee doubles in August."].is_list_item
    assert not any(s.text.startswith(("1.", "2.", "10.")) or s.text == "Mooring fees" for s in sentences)
    assert sections[1].start == text.index("1. Mooring fees")
    assert_exact_spans(text)


def test_dotted_section_numbers_are_headings_too() -> None:
    text = "Intro sentence.\n\n4.2 Winter tides\n\nThe tide tables change in November."
    sections, _ = analyse(text, DEFAULT)
    assert [s.title for s in sections] == [DEFAULT, "4.2 Winter tides"]


def test_a_numbered_list_in_one_block_stays_a_list() -> None:
    # Every item has a heading's shape (short, capitalised, no full stop): the run decides.
    text = "Before sailing, the crew must:\n1. Check the ropes\n2. Lock the hatches\n3. Report to the office"
    sections, sentences = analyse(text, DEFAULT)
    assert [s.title for s in sections] == [DEFAULT]
    assert [(s.text, s.is_list_item) for s in sentences] == [
        ("Before sailing, the crew must:", False),
        ("Check the ropes", True),
        ("Lock the hatches", True),
        ("Report to the office", True),
    ]


def test_a_loose_numbered_list_with_blank_lines_stays_a_list() -> None:
    text = (
        "The crew checks three things.\n\n1. Ropes and cleats\n\n2. Hatch seals\n\n3. Radio batteries\n\nThen it sails."
    )
    sections, sentences = analyse(text, DEFAULT)
    assert [s.title for s in sections] == [DEFAULT]
    items = [s.text for s in sentences if s.is_list_item]
    assert items == ["Ropes and cleats", "Hatch seals", "Radio batteries"]


def test_numbered_items_that_are_sentences_stay_list_items() -> None:
    text = "Lead sentence.\n\n4. The ferry leaves at noon.\n\nAnother paragraph follows."
    sections, sentences = analyse(text, DEFAULT)
    assert [s.title for s in sections] == [DEFAULT]
    assert {s.text: s.is_list_item for s in sentences}["The ferry leaves at noon."] is True


def test_a_numbered_heading_followed_by_its_own_numbered_list() -> None:
    text = (
        "Lead sentence.\n\n"
        "3. Loading order\n\n"
        "1. Fuel drums\n2. Fresh water\n3. Passenger luggage\n\n"
        "4. Departure\n\n"
        "The ship leaves at dawn."
    )
    sections, sentences = analyse(text, DEFAULT)
    assert [s.title for s in sections] == [DEFAULT, "3. Loading order", "4. Departure"]
    items = [(s.text, s.section) for s in sentences if s.is_list_item]
    assert items == [(x, "3. Loading order") for x in ("Fuel drums", "Fresh water", "Passenger luggage")]
    assert_exact_spans(text)


PDF_LIKE = (
    "Survey of the Kessel Canal Locks\n"
    "The canal has nine locks, and the survey team measured the gates of each one\n"
    "during the spring closure. Its findings are summarised below.\n"
    "1. Gate timber\n"
    "Most gates still have their original oak planks, which the team found sound\n"
    "apart from the lowest courses. Three gates need new planks within five years.\n"
    "The repair plan has two stages:\n"
    "1. Replace the planks of the three worst gates\n"
    "2. Survey the remaining gates again\n"
    "2. Lock keepers\n"
    "Each lock keeps one keeper, who lives in the cottage beside it and works the\n"
    "gates from dawn to dusk. The keepers asked for a second radio per lock."
)


def test_numbered_headings_without_blank_lines_open_sections_inside_a_block() -> None:
    sections, sentences = analyse(PDF_LIKE, "Survey")
    # The title line runs into the first paragraph in PDF text: it is a heading, not part of a sentence.
    title = "Survey of the Kessel Canal Locks"
    assert [s.title for s in sections] == [title, "1. Gate timber", "2. Lock keepers"]
    by_text = {s.text: s for s in sentences}
    assert not any(title in s.text for s in sentences)
    assert by_text["Its findings are summarised below."].section == title
    planks = "Three gates need new planks within five years."
    assert by_text[planks].section == "1. Gate timber"
    assert by_text["The keepers asked for a second radio per lock."].section == "2. Lock keepers"
    # The list under the first heading stays a list, though its items are numbered too.
    items = [s.text for s in sentences if s.is_list_item]
    assert items == ["Replace the planks of the three worst gates", "Survey the remaining gates again"]
    assert all(by_text[i].section == "1. Gate timber" for i in items)
    # The heading splits the block: what follows it is a new paragraph.
    assert by_text["Its findings are summarised below."].paragraph != by_text[planks].paragraph
    assert sections[1].start == PDF_LIKE.index("1. Gate timber")
    assert_exact_spans(PDF_LIKE)


def test_a_number_at_the_start_of_a_wrapped_line_is_no_heading() -> None:
    # The line before does not end a sentence: "12." continues it.
    text = (
        "By the end of the season the fleet of the northern harbour had grown to a total of\n"
        "12. Boats then sailed north\n"
        "and wintered in the fjord, as they had done for many years before the war."
    )
    sections, _ = analyse(text, DEFAULT)
    assert [s.title for s in sections] == [DEFAULT]


def test_a_wrapped_numbered_item_that_fills_the_line_is_no_heading() -> None:
    # "1. The survey covered ..." runs to the right margin: it is a wrapped item, not a heading.
    text = (
        "The report makes two points about the survey and the state of the upper canal.\n"
        "1. The survey covered the locks, the towpath, the weirs and the feeder\n"
        "Reservoirs of the upper canal, which were dredged last year.\n"
        "2. The budget for repairs is not yet agreed."
    )
    sections, sentences = analyse(text, DEFAULT)
    assert [s.title for s in sections] == [DEFAULT]
    assert sum(s.is_list_item for s in sentences) == 2


def test_a_pdf_title_wrapped_over_two_lines_is_one_heading_and_the_numbered_one_follows() -> None:
    # PDF text: a long title in a large font wraps, then the first numbered heading, then prose
    # that wraps at the margin; no blank lines anywhere.
    text = (
        "Harbour Rules of Port Elsby and the Inner\n"
        "Basin Authority\n"
        "1. Mooring fees\n"
        "Boats pay by their length at the quay, and the fee doubles\n"
        "in August when the basin is full. Nobody pays twice.\n"
    )
    sections, sentences = analyse(text, DEFAULT)
    assert [s.title for s in sections] == [
        "Harbour Rules of Port Elsby and the Inner Basin Authority",
        "1. Mooring fees",
    ]
    assert [s.text for s in sentences if s.section == "1. Mooring fees"] == [
        "Boats pay by their length at the quay, and the fee doubles\nin August when the basin is full.",
        "Nobody pays twice.",
    ]
    assert not any("Basin Authority" in s.text for s in sentences)
    assert_exact_spans(text)


def test_prose_that_wraps_under_a_title_is_not_taken_into_it() -> None:
    text = (
        "Harbour Rules\n"
        "Every vessel that enters the inner basin after dark must carry\n"
        "a pilot on board. Fees are due on arrival.\n"
    )
    sections, sentences = analyse(text, DEFAULT)
    assert [s.title for s in sections] == ["Harbour Rules"]
    assert sentences[0].text.startswith("Every vessel")


def test_a_wrapped_title_ends_at_its_short_last_line_even_when_prose_follows_without_a_gap() -> None:
    # The title's second line stopped far short of the title's own width, so the title ended
    # there; the prose after it is the lead paragraph, although its first line stops a little
    # short of the body's (wider) margin and has no sentence punctuation at its end.
    text = (
        "Harbour Rules of Port Elsby and the Inner\n"
        "Basin Authority\n"
        "Port Elsby is often named as a model harbour for small towns because it\n"
        "shows how a basin that silted up can be kept open for decades by a levy paid\n"
        "by its users. This brief describes the levy and the authority that spends it.\n"
        "1. Mooring fees\n"
        "Boats pay by their length at the quay, and the fee doubles\n"
        "in August when the basin is full. Nobody pays twice.\n"
    )
    sections, sentences = analyse(text, DEFAULT)
    assert [s.title for s in sections] == [
        "Harbour Rules of Port Elsby and the Inner Basin Authority",
        "1. Mooring fees",
    ]
    assert sentences[0].text.startswith("Port Elsby is often named")
    assert sentences[0].section == "Harbour Rules of Port Elsby and the Inner Basin Authority"
    assert_exact_spans(text)


def test_a_short_title_is_not_joined_to_a_first_line_that_ends_a_sentence() -> None:
    # The title in a large type is short; the first line of prose under it stops a little short
    # of the margin and has no punctuation at its end, but a sentence ends inside it.
    text = (
        "The Harrow Canal\n"
        "The Harrow Canal is a narrow canal on the moor. It cuts through the ridge of\n"
        "Harrow, the strip of high ground between the two valleys, and links the\n"
        "upper river with the lower one, which saves boats a day of travel on the river here.\n"
        "1. Early plans\n"
        "Nobody dug it for a century.\n"
    )
    sections, sentences = analyse(text, DEFAULT)
    assert [s.title for s in sections] == ["The Harrow Canal", "1. Early plans"]
    assert sentences[0].text == "The Harrow Canal is a narrow canal on the moor."
    assert sentences[0].section == "The Harrow Canal"
    assert_exact_spans(text)
