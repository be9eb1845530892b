"""ingest.structure.analyse: sections from heading lines, sentences as exact char spans."""

from __future__ import annotations

import pytest

from ingest.structure import analyse
from tests.ingest.structure_checks import assert_exact_spans

pytestmark = pytest.mark.unit

DEFAULT = "Default Section"


def _sentences(text: str, default: str = DEFAULT):
    return analyse(text, default)[1]


def _by_text(text: str, default: str = DEFAULT):
    return {s.text: s for s in _sentences(text, default)}


# ---------------------------------------------------------------- headings and sections


def test_plain_text_heading_between_blank_lines_opens_a_section() -> None:
    text = (
        "Lead paragraph about guarantees. It has two sentences.\n\n"
        "An Israel model\n\n"
        "Israel receives support from the U.S. and its allies. The model is debated."
    )
    sections, sentences = analyse(text, DEFAULT)
    assert [s.title for s in sections] == [DEFAULT, "An Israel model"]
    assert "An Israel model" not in {s.text for s in sentences}, "a heading is not a sentence"
    by_text = {s.text: s for s in sentences}
    assert by_text["Lead paragraph about guarantees."].section == DEFAULT
    assert by_text["It has two sentences."].section == DEFAULT
    assert by_text["Israel receives support from the U.S. and its allies."].section == "An Israel model"
    assert by_text["The model is debated."].section == "An Israel model"
    heading_at = text.index("An Israel model")
    assert sections[1].start == heading_at and sections[0].end == heading_at
    assert_exact_spans(text)


def test_markdown_heading_with_and_without_blank_line_after_it() -> None:
    text = (
        "Intro sentence here.\n\n"
        "## The South Korean Model\n\n"
        "Troops are stationed there. Air defences matter.\n\n"
        "### Finlandization, briefly.\n"
        "Finland kept its independence. It joined NATO in 2023."
    )
    sections, sentences = analyse(text, DEFAULT)
    # A markdown heading is a heading even when it ends with punctuation.
    assert [s.title for s in sections] == [DEFAULT, "The South Korean Model", "Finlandization, briefly."]
    by_text = {s.text: s for s in sentences}
    assert by_text["Intro sentence here."].section == DEFAULT
    assert by_text["Troops are stationed there."].section == "The South Korean Model"
    assert by_text["Finland kept its independence."].section == "Finlandization, briefly."
    assert by_text["It joined NATO in 2023."].section == "Finlandization, briefly."
    assert not any(s.text.startswith("#") for s in sentences)
    assert_exact_spans(text)


def test_first_line_title_is_a_section_even_when_long() -> None:
    title = (
        "Amid tensions between the U.S. and Europe, the West is lagging behind in providing Ukraine "
        "with a viable security model"
    )
    assert len(title.split()) > 12  # longer than a heading further down may be
    text = f"{title}\n\nThe peace process has two core issues. These are borders and guarantees."
    sections, sentences = analyse(text, "metadata title")
    assert sections[0].title == title and sections[0].start == 0
    assert [s.section for s in sentences] == [title, title]
    assert title not in {s.text for s in sentences}
    assert_exact_spans(text, "metadata title")


def test_the_same_long_line_later_in_the_text_is_not_a_heading() -> None:
    line = "Amid tensions between the U.S. and Europe the West is lagging behind in providing Ukraine a model"
    text = f"Short Title\n\nFirst paragraph is here.\n\n{line}\n\nLast paragraph is here."
    sections, sentences = analyse(text, DEFAULT)
    assert [s.title for s in sections] == ["Short Title"]
    assert line in {s.text for s in sentences}


@pytest.mark.parametrize("line", ["There are three main defining features of this model:", "This is not a heading."])
def test_line_ending_with_period_or_colon_is_not_a_heading(line: str) -> None:
    text = f"Lead sentence one.\n\n{line}\n\nNext paragraph follows."
    sections, sentences = analyse(text, DEFAULT)
    assert [s.title for s in sections] == [DEFAULT]
    assert [s.text for s in sentences] == ["Lead sentence one.", line, "Next paragraph follows."]
    assert all(s.section == DEFAULT for s in sentences)


def test_lowercase_short_line_is_not_a_heading() -> None:
    text = "Lead sentence one.\n\nand then some words\n\nNext paragraph follows."
    sections, sentences = analyse(text, DEFAULT)
    assert [s.title for s in sections] == [DEFAULT]
    assert "and then some words" in {s.text for s in sentences}


def test_text_before_first_heading_gets_default_section_and_sections_carry_on() -> None:
    text = (
        "Opening sentence without a title. Another one follows.\n\n"
        "First Heading\n\nBody one. Body two.\n\n"
        "Second paragraph under the first heading.\n\n"
        "Second Heading\n\nBody three."
    )
    sentences = _sentences(text)
    assert [(s.text, s.section) for s in sentences] == [
        ("Opening sentence without a title.", DEFAULT),
        ("Another one follows.", DEFAULT),
        ("Body one.", "First Heading"),
        ("Body two.", "First Heading"),
        ("Second paragraph under the first heading.", "First Heading"),
        ("Body three.", "Second Heading"),
    ]
    # Paragraph numbers: the same inside a block, different across blocks.
    assert sentences[0].paragraph == sentences[1].paragraph
    assert sentences[2].paragraph == sentences[3].paragraph != sentences[4].paragraph
    assert_exact_spans(text)


# ---------------------------------------------------------------- sentences


def test_sentence_offsets_are_exact_on_messy_spacing() -> None:
    text = (
        "Title Line\n\n"
        "  Indented start.   Two spaces after.\tTab here! Question? “Quoted start” ends.\n\n"
        "’Finlandization’\n\n"
        "The idea of ’Finlandization’ surfaced. It refers to Finland’s Cold War status…  Yes."
    )
    sentences = _sentences(text)
    assert [s.text for s in sentences] == [
        "Indented start.",
        "Two spaces after.",
        "Tab here!",
        "Question?",
        "“Quoted start” ends.",
        "The idea of ’Finlandization’ surfaced.",
        "It refers to Finland’s Cold War status…",
        "Yes.",
    ]
    assert sentences[-1].section == "’Finlandization’"
    assert_exact_spans(text)


def test_abbreviations_and_initials_do_not_split_sentences() -> None:
    text = (
        "Lead.\n\n"
        "The U.S. President met John F. Kennedy Jr. at the summit in Jan. 2020. "
        "Dr. Smith and Gen. Jones agreed, e.g. on aid. The U.K. voted no later. Done."
    )
    assert [s.text for s in _sentences(text)] == [
        "Lead.",
        "The U.S. President met John F. Kennedy Jr. at the summit in Jan. 2020.",
        "Dr. Smith and Gen. Jones agreed, e.g. on aid.",
        "The U.K. voted no later.",
        "Done.",
    ]
    assert_exact_spans(text)


def test_decimal_numbers_do_not_split_sentences() -> None:
    text = "About 28,000 troops and 1.5 million people. Finland lost 9.5 percent. End."
    assert [s.text for s in _sentences(text)] == [
        "About 28,000 troops and 1.5 million people.",
        "Finland lost 9.5 percent.",
        "End.",
    ]


def test_bullet_items_are_separate_sentences_without_their_marker() -> None:
    text = (
        "Features Of The Model\n\n"
        "There are three main defining features of this model:\n"
        "• Israel is not a formal treaty ally. It is a quasi ally\n"
        "- written guarantees were given\n"
        "1. steadfast support is provided\n"
        "2) the commitment is no bluff\n"
        "After the list comes prose again."
    )
    sentences = _sentences(text)
    assert [(s.text, s.is_list_item) for s in sentences] == [
        ("There are three main defining features of this model:", False),
        ("Israel is not a formal treaty ally.", True),
        ("It is a quasi ally", True),
        ("written guarantees were given", True),
        ("steadfast support is provided", True),
        ("the commitment is no bluff", True),
        ("After the list comes prose again.", False),
    ]
    for s, marker in ((sentences[1], "• "), (sentences[3], "- "), (sentences[4], "1. "), (sentences[5], "2) ")):
        line_start = text.rindex("\n", 0, s.start) + 1
        assert text[line_start : s.start] == marker, "the marker is excluded from the span"
    assert all(s.section == "Features Of The Model" for s in sentences)
    assert len({s.paragraph for s in sentences}) == 1
    assert_exact_spans(text)


def test_list_items_are_split_even_without_end_punctuation() -> None:
    text = "Intro to the list:\n• alpha item\n• beta item\n• gamma item"
    items = [s for s in _sentences(text) if s.is_list_item]
    assert [s.text for s in items] == ["alpha item", "beta item", "gamma item"]


def test_wrapped_paragraph_splits_on_sentence_punctuation() -> None:
    text = (
        "Heading Of Wrapped Text\n\n"
        "In April 2022, President Zelenskyy argued that post-war\n"
        "Ukraine could resemble a big Israel. The model has gained\n"
        "support in Washington. It focuses on\nweapons supplies."
    )
    sentences = _sentences(text)
    assert [s.text for s in sentences] == [
        "In April 2022, President Zelenskyy argued that post-war\nUkraine could resemble a big Israel.",
        "The model has gained\nsupport in Washington.",
        "It focuses on\nweapons supplies.",
    ]
    assert not any(s.is_list_item for s in sentences)
    assert len({s.paragraph for s in sentences}) == 1
    assert_exact_spans(text)


def test_seed_like_structure_end_to_end() -> None:
    text = (
        "Amid tensions, the West is lagging behind\n\n"
        "Lead paragraph one. Lead paragraph two.\n\n"
        "An Israel model\n\n"
        "There are three main defining features of this model:\n\n"
        "• Israel is not a formal treaty ally but a ’quasi ally’ of the U.S.\n"
        "• Regardless of the lack of a treaty, the U.S. provided written guarantees (1975, 1981).\n\n"
        "A South Korean model\n\n"
        "About 28,000 American troops are also stationed in South Korea to help deter aggression.\n\n"
        "’Finlandization’\n\n"
        "Finland became an EU member state in 1995. In 2023, the country joined NATO."
    )
    sections, sentences = analyse(text, "fallback")
    assert [s.title for s in sections] == [
        "Amid tensions, the West is lagging behind",
        "An Israel model",
        "A South Korean model",
        "’Finlandization’",
    ]
    by_text = {s.text: s for s in sentences}
    bullet = by_text["Israel is not a formal treaty ally but a ’quasi ally’ of the U.S."]
    assert bullet.is_list_item and bullet.section == "An Israel model"
    troops = by_text["About 28,000 American troops are also stationed in South Korea to help deter aggression."]
    assert troops.section == "A South Korean model" and not troops.is_list_item
    assert by_text["In 2023, the country joined NATO."].section == "’Finlandization’"
    assert_exact_spans(text, "fallback")


def test_empty_and_blank_text() -> None:
    for text in ("", "\n\n  \n"):
        sections, sentences = analyse(text, DEFAULT)
        assert sentences == []
        assert all(s.end > s.start for s in sections)


def test_sentence_ending_with_the_word_no_is_split() -> None:
    text = "Asked about NATO membership, he said no. The talks went on. See No. 5 of the list."
    assert [s.text for s in _sentences(text)] == [
        "Asked about NATO membership, he said no.",
        "The talks went on.",
        "See No. 5 of the list.",
    ]


def test_a_mountains_mt_and_circa_before_a_year_do_not_split_sentences() -> None:
    text = (
        "Lead.\n\nThe guides reached Mt. Tallow in c. 1550 BC, the story goes. The mask is from ca. 1600 BC. "
        "The king died c. AD 624. The boat was commanded by Albert C. Read. Done."
    )
    assert [s.text for s in _sentences(text)] == [
        "Lead.",
        "The guides reached Mt. Tallow in c. 1550 BC, the story goes.",
        "The mask is from ca. 1600 BC.",
        "The king died c. AD 624.",
        "The boat was commanded by Albert C. Read.",  # an initial, not "c." before a number
        "Done.",
    ]


def test_each_line_of_a_run_of_facts_is_a_sentence_of_its_own() -> None:
    text = (
        "The Harrow Line\n\nThe line crosses the moor. It opened late.\n\n"
        "Key facts: Harrow Line\nOpened: 1 October 1964\nLength: 515 km\nGauge: 1,435 mm (4 ft 8½ in)\n\n"
        "At 4:41 a.m. the first train left. Note: the driver\nwas new to the line.\n"
    )
    sentences = _sentences(text)
    assert_exact_spans(text)
    texts = [s.text for s in sentences]
    assert texts[2:5] == ["Key facts: Harrow Line", "Opened: 1 October 1964", "Length: 515 km"]
    assert "Gauge: 1,435 mm (4 ft 8½ in)" in texts
    # One "Label: value" line inside prose, and a time, leave the prose as it is.
    assert "Note: the driver\nwas new to the line." in texts
    assert not any(s.is_list_item for s in sentences)
