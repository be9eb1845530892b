"""A year given only by a section heading is quoted with the answer (rag/headings.py). A made-up
corpus, ingested for real (real model, spaCy and Chroma)."""

from __future__ import annotations

import pytest

from tests.conftest import answerer_over

pytestmark = pytest.mark.integration

VALLEY = """The Harrow Valley

The Harrow Valley lies below the Kestrel glacier. Its villages live from cattle and timber.

1712: a promise to the mountain

The ice crept towards the pastures of Lower Harrow. That year the villagers of Lower Harrow
swore to climb to the glacier every summer and bless it.

2. Floods

For ten months the meltwater lake rose behind the ice. The dam of ice broke and flooded the
mill of Upper Harrow.

3. 1790: the stone bridge

On 8 August the stone bridge over the Harrow brook was opened by the abbot of Kestrel.

4. The first school (1834)

A schoolhouse of larch beams was raised beside the chapel of Upper Harrow. Its first teacher
was a retired clerk from the abbey.
"""


@pytest.fixture(scope="module")
def valley(tmp_path_factory, embeddings):
    return answerer_over(tmp_path_factory, embeddings, {"valley.txt": VALLEY})


def test_a_year_only_the_heading_gives_is_quoted_and_cited(valley):
    answer = valley.answer("In what year did the villagers of Lower Harrow swear to bless the glacier?")
    assert not answer.abstained
    quotes = [citation.quote for citation in answer.citations]
    assert "1712: a promise to the mountain" in quotes
    heading = next(c for c in answer.citations if c.quote == "1712: a promise to the mountain")
    source = valley.snapshot.sources[heading.source_id].text
    assert source[heading.start : heading.end] == heading.quote  # an exact span, like any quote
    assert "1712" in answer.answer


def test_a_day_and_month_take_their_year_from_the_heading(valley):
    answer = valley.answer("On what date was the stone bridge over the Harrow brook opened?")
    quotes = [citation.quote for citation in answer.citations]
    assert "3. 1790: the stone bridge" in quotes and "1790" in answer.answer


def test_a_duration_or_a_section_number_brings_no_heading(valley):
    answer = valley.answer("When did the ice dam break and flood the mill of Upper Harrow?")
    assert not any(c.quote == "2. Floods" for c in answer.citations)


def test_a_sentence_with_no_date_is_dated_by_its_heading(valley):
    # The sentence says nothing of when; its section's heading holds the year.
    answer = valley.answer("In which year was the schoolhouse of Upper Harrow raised?")
    assert not answer.abstained
    quotes = [citation.quote for citation in answer.citations]
    assert "4. The first school (1834)" in quotes
    assert any(q.startswith("A schoolhouse of larch beams") for q in quotes)


def test_a_heading_with_one_year_dates_an_event_and_a_range_a_period():
    from rag.headings import heading_year

    assert heading_year("4. The first school (1834)", ())
    assert heading_year("4. The first school (1834)", (), single=True)
    # "1698-1703" spans a period: it dates no one event under it (but may still be quoted).
    assert heading_year("Winstanley's tower (1698-1703)", ()) is True
    assert heading_year("Winstanley's tower (1698-1703)", (), single=True) is False
    assert heading_year("4. The first school (1834)", ("1834",)) is False  # the question's own year
    assert heading_year("2. Floods", ()) is False  # a section number is no year
