"""A year that only a heading gives.

Documents often state a year once, in the heading of a section ("1678: a vow against the ice",
"2. 1786: Balmat and Paccard"), and then write "That year the people of the valley made a vow" or
"On 8 August they reached the summit", or give no date at all ("The ceremonial opening drew
crowds"). When the question asks for a date, and the evidence chosen to answer it names no year
but dates its event relative to an earlier date ("that year", "a few days later": a date the
entity recogniser finds that points back), by day and month alone, or not at all, while the
heading of its section holds a year, the heading is quoted as well, as a citation of
its own: it is an exact span of the source like any sentence, so a reader sees where the year
comes from.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import TYPE_CHECKING

from rag.answer_type import TIME_LABELS

if TYPE_CHECKING:
    from rag.question import QuestionShape
    from rag.snapshot import IndexSnapshot, SentenceRow

DIGITS = re.compile(r"\d[\d,.]*")
YEAR = re.compile(r"(?<![\d,.])\d{3,4}(?![\d,.]\d)")  # "1786", "AD 79" aside: three or four digits
# English words that make a date point back to one named before: the demonstratives, and the
# adjectives and adverbs of sequence ("that year", "the same day", "the following spring", "a
# week later"). A duration ("ten months", "decades") points nowhere.
POINTING_BACK = frozenset({"that", "this", "same", "following", "next", "previous", "later", "earlier"})
# A heading's own number ("2. The Rainhill Trials", "4.1 Costs"): it numbers the section.
SECTION_NUMBER = re.compile(r"^\s*(?:\d+\.)*\d+\.?\s+")


def with_dated_headings(
    snapshot: IndexSnapshot, groups: list[list[SentenceRow]], shape: QuestionShape
) -> list[list[SentenceRow]]:
    """The groups, each preceded by its section's heading where the question wants a date that
    the group gives only relative to the heading's (a heading is quoted once)."""
    if not shape.answer_labels & TIME_LABELS:
        return groups
    out: list[list[SentenceRow]] = []
    quoted: set[tuple[str, int]] = set()
    for group in groups:
        heading = _heading_of(snapshot, group, shape)
        if heading is not None and (heading.source_id, heading.start) not in quoted:
            quoted.add((heading.source_id, heading.start))
            out.append([heading])
        out.append(group)
    return out


def _heading_of(snapshot: IndexSnapshot, group: list[SentenceRow], shape: QuestionShape) -> SentenceRow | None:
    """The heading of the group's section as a quotable row, if the group names no year and
    dates something relatively or by day and month, and the heading holds a year the question
    does not give."""
    first = group[0]
    if not first.section or any(YEAR.search(sentence.text) for sentence in group):
        return None
    dates = [e for sentence in group for e in sentence.facts.entities if e.label in TIME_LABELS]
    # A date that needs the heading's year, or no date at all: the heading's year is the only one.
    if dates and not any(_wants_a_year(e.label, e.text) for e in dates):
        return None
    if not heading_year(first.section, shape.numbers):
        return None
    source = snapshot.sources.get(first.source_id)
    start = source.text.rfind(first.section, 0, first.start) if source is not None else -1
    if start < 0:
        return None
    end = start + len(first.section)
    page = _page_before(snapshot, first, start)
    return replace(first, text=first.section, start=start, end=end, is_list_item=False, terms=frozenset(), page=page)


def heading_year(section: str, stated: frozenset[str] | set[str] | tuple[str, ...], single: bool = False) -> bool:
    """Does the heading hold a year (its own section number aside) that the question does not
    state? Such a heading dates the sentences under it that give no date of their own. With
    `single`, only a heading with one year: "Winstanley's tower (1698-1703)" spans a period, and
    dates no one event under it."""
    years = set(YEAR.findall(SECTION_NUMBER.sub("", section))) if section else set()
    return (len(years) == 1 or not single) and any(year not in stated for year in years)


def _wants_a_year(label: str, text: str) -> bool:
    """A date that points back ("that year") or gives a day without its year ("On 8 August")."""
    if label not in TIME_LABELS or YEAR.search(text):
        return False
    return bool(POINTING_BACK & set(text.lower().split())) or bool(DIGITS.search(text))


def _page_before(snapshot: IndexSnapshot, sentence: SentenceRow, offset: int) -> int | None:
    """The page at `offset`, a heading's place before `sentence`: the page of the sentences on
    both sides of it when they agree; None (not known) where a page break may fall between."""
    if sentence.page is None:
        return None
    before = None
    for index in range(sentence.index - 1, -1, -1):
        candidate = snapshot.sentence_at(sentence.source_id, index)
        if candidate is None or candidate.end <= offset:
            before = candidate
            break
    if before is None:  # the heading opens the document's text
        return sentence.page if sentence.page == 1 else None
    return sentence.page if before.page == sentence.page else None
