"""Structure of a cleaned text: sections (from heading lines) and sentences, all as char offsets.

Hands on `Sentence`s that know their section, their paragraph and whether they are a list item,
so the chunker never crosses a section and the answerer can bring a list's items along.
Offsets always index the cleaned canonical text, which is what citations quote. Sentence ends
and list markers come from rag.sentences, which answering shares.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.sentences import LIST_MARKER, split_sentences

MARKDOWN_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
HEADING_MAX_CHARS = 90
HEADING_MAX_WORDS = 12
TITLE_MAX_CHARS = 250


@dataclass(frozen=True)
class Sentence:
    start: int
    end: int
    text: str
    section: str
    paragraph: int
    is_list_item: bool = False


@dataclass(frozen=True)
class Section:
    title: str
    start: int  # where the heading line starts (or 0 for the lead)
    end: int


def _blocks(text: str) -> list[tuple[int, int]]:
    """Spans of blank-line separated blocks."""
    spans, pos = [], 0
    for match in re.finditer(r"\n[ \t]*\n", text):
        if text[pos : match.start()].strip():
            spans.append((pos, match.start()))
        pos = match.end()
    if text[pos:].strip():
        spans.append((pos, len(text)))
    return spans


def _lines(text: str, start: int, end: int) -> list[tuple[int, int]]:
    spans, pos = [], start
    for line in text[start:end].split("\n"):
        line_end = pos + len(line)
        left = pos + (len(line) - len(line.lstrip()))
        right = pos + len(line.rstrip())
        if right > left:
            spans.append((left, right))
        pos = line_end + 1
    return spans


def heading_text(line: str, *, first_block: bool = False) -> str | None:
    """The section title if this single-line block is a heading, else None. General rules: a
    markdown heading, or a short line without sentence punctuation at its end."""
    markdown = MARKDOWN_HEADING.match(line)
    if markdown:
        return markdown.group(2).strip()
    stripped = line.strip()
    if LIST_MARKER.match(stripped) or not stripped:
        return None
    if stripped[-1] in ".!?:;,…" or not (stripped[0].isupper() or stripped[0] in "’‘'\"“«" or stripped[0].isdigit()):
        return None
    limit = TITLE_MAX_CHARS if first_block else HEADING_MAX_CHARS
    if len(stripped) > limit or (not first_block and len(stripped.split()) > HEADING_MAX_WORDS):
        return None
    return stripped


def analyse(text: str, default_section: str) -> tuple[list[Section], list[Sentence]]:
    """Sections and sentences of a cleaned text. Text before the first heading belongs to
    `default_section` (usually the document title)."""
    sections: list[Section] = []
    sentences: list[Sentence] = []
    current, current_start = default_section, 0
    for block_no, (b_start, b_end) in enumerate(_blocks(text)):
        lines = _lines(text, b_start, b_end)
        heading, body = None, lines
        if len(lines) == 1:
            heading = heading_text(text[lines[0][0] : lines[0][1]], first_block=block_no == 0)
            body = [] if heading is not None else lines
        elif lines and MARKDOWN_HEADING.match(text[lines[0][0] : lines[0][1]]):
            # A markdown heading directly followed by its paragraph, with no blank line between.
            heading = heading_text(text[lines[0][0] : lines[0][1]])
            body = lines[1:]
        if heading is not None:
            if b_start > current_start:
                sections.append(Section(current, current_start, b_start))
            current, current_start = heading, b_start
        _add_block_sentences(text, body, current, block_no, sentences)
    sections.append(Section(current, current_start, len(text)))
    return [s for s in sections if s.end > s.start], sentences


def _add_block_sentences(
    text: str, lines: list[tuple[int, int]], section: str, paragraph: int, out: list[Sentence]
) -> None:
    # Consecutive non-list lines form one run of prose (a PDF wraps lines mid-sentence);
    # each list line is an item of its own.
    run: list[tuple[int, int]] = []

    def flush() -> None:
        if run:
            for left, right in split_sentences(text, run[0][0], run[-1][1]):
                out.append(Sentence(left, right, text[left:right], section, paragraph))
            run.clear()

    for left, right in lines:
        marker = LIST_MARKER.match(text, left, right)
        if marker:
            flush()
            item_start = marker.end()
            for s_left, s_right in split_sentences(text, item_start, right) or []:
                out.append(Sentence(s_left, s_right, text[s_left:s_right], section, paragraph, is_list_item=True))
        else:
            run.append((left, right))
    flush()
