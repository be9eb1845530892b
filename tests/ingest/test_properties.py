"""Property tests (hypothesis) for the text stages over arbitrary Unicode: the cleaner, the
sentence splitter, the structure detector and the chunker. Whatever the text (empty, white space
only, right-to-left scripts, combining marks, NUL bytes, CRLF, long single lines, list markers,
numbered lines), nothing raises, every offset slices back to its text, sentences and chunks
cover the text without gaps beyond white space, and ids are stable."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.chunk import chunk_document
from ingest.clean import clean_text
from ingest.structure import analyse
from rag.sentences import split_sentences

pytestmark = pytest.mark.unit

# Pieces that exercise the rules: sentence ends, abbreviations, list markers, numbered headings,
# line and paragraph breaks, CRLF, NUL, right-to-left text, combining marks, quotes.
PIECES = st.sampled_from(
    [
        ". ", "? ", "! ", "… ", "\n", "\n\n", "\r\n", "\x00", "- ", "• ", "1. ", "12) ", "U.S. ", "Dr. ",
        "e.g. ", "No. 5 ", "“Quoted.” ", "(1998). ", "مرحبا بالعالم. ", "שלום. ", "e\u0301", "A\u030a",
        "Title Line\n", "2. The 1948 treaty\n", "   ", "\t", "Ünïcödé ", "日本語。", "x" * 50,
    ]
)  # fmt: skip
TEXTS = st.lists(st.one_of(PIECES, st.text(max_size=20)), max_size=60).map("".join)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def words(text: str) -> int:
    return len(text.split())


@SETTINGS
@given(TEXTS)
def test_sentences_slice_back_and_cover_the_text_beyond_white_space(text: str) -> None:
    spans = split_sentences(text, 0, len(text))
    position = 0
    for start, end in spans:
        assert position <= start < end <= len(text)
        assert text[position:start].strip() == ""  # nothing but white space between sentences
        assert text[start:end] == text[start:end].strip()
        position = end
    assert text[position:].strip() == ""


@SETTINGS
@given(TEXTS)
def test_the_cleaner_is_idempotent_and_never_raises(text: str) -> None:
    cleaned = clean_text(text)
    assert clean_text(cleaned) == cleaned
    assert "\x00" not in cleaned and "\r" not in cleaned


@SETTINGS
@given(TEXTS)
def test_structure_offsets_slice_back_and_sections_tile_the_text(text: str) -> None:
    cleaned = clean_text(text)
    sections, sentences = analyse(cleaned, "Lead")
    for sentence in sentences:
        assert cleaned[sentence.start : sentence.end] == sentence.text and sentence.text.strip()
    position = 0
    for section in sections:
        assert section.start == position and section.end > section.start
        position = section.end
    assert position == len(cleaned) or not cleaned


@SETTINGS
@given(TEXTS, st.integers(min_value=8, max_value=60))
def test_chunks_are_exact_spans_cover_every_sentence_and_have_stable_ids(text: str, max_tokens: int) -> None:
    cleaned = clean_text(text)
    first = chunk_document("doc", cleaned, "Lead", words, max_tokens=max_tokens)
    again = chunk_document("doc", cleaned, "Lead", words, max_tokens=max_tokens)
    assert [c.chunk_id for c in first.chunks] == [c.chunk_id for c in again.chunks]
    assert len({c.chunk_id for c in first.chunks}) == len(first.chunks)
    covered: set[int] = set()
    for chunk in first.chunks:
        assert cleaned[chunk.start : chunk.end] == chunk.text
        covered.update(range(chunk.first_sentence, chunk.last_sentence + 1))
    assert covered == set(range(len(first.sentences)))


def test_a_one_megabyte_single_line_is_split_and_chunked() -> None:
    line = "The gauge at km. 4 read 12.5 m. on Jan. 3 and it rose again " * 17_000  # ~1 MB, no break
    cleaned = clean_text(line)
    assert len(cleaned) > 1_000_000
    chunked = chunk_document("big", cleaned, "Lead", words, max_tokens=200)
    assert chunked.chunks and all(cleaned[c.start : c.end] == c.text for c in chunked.chunks)
