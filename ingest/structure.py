"""Structure of a cleaned text: sections (from heading lines) and sentences, all as char offsets.

Hands on `Sentence`s that know their section, their paragraph and whether they are a list item,
so the chunker never crosses a section and the answerer can bring a list's items along.
Offsets always index the cleaned canonical text, which is what citations quote.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A bullet or numbered-list marker at the start of a line; the item text starts after it.
LIST_MARKER = re.compile(r"(?:[•◦▪‣●○■□\-*–—]|\d{1,3}[.)])\s+")
MARKDOWN_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
# Sentence end: . ! ? or … with optional closing quotes/brackets, then space, then a likely start.
SENTENCE_END = re.compile(r"[.!?…]+[’”\"')\]]*(?=\s+[\"“‘’'(\[]?[A-Z0-9À-ÖØ-Þ•])")
# Words after which a period does not end a sentence.
ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof st gen sen rep gov lt col capt sgt jr sr vs etc approx fig figs "
    "jan feb mar apr jun jul aug sep sept oct nov dec inc ltd co corp dept univ est e.g i.e cf al".split()
)
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


def _is_abbreviation(text: str, dot: int) -> bool:
    """True when the period at `dot` closes an abbreviation or an initial, not a sentence."""
    word_start = dot
    while word_start > 0 and not text[word_start - 1].isspace() and text[word_start - 1] not in "(\"“‘’'[":
        word_start -= 1
    word = text[word_start : dot + 1]
    bare = word.rstrip(".").lower()
    if bare in ABBREVIATIONS:
        return True
    if bare in ("no", "nos"):  # "No. 5", but "he said no. The talks..." ends a sentence
        following = text[dot + 1 :].lstrip()
        return following[:1].isdigit()
    if re.fullmatch(r"(?:[A-Za-z]\.){2,}", word):  # U.S., e.g., U.K.
        return True
    return bool(re.fullmatch(r"[A-Z]\.", word))  # an initial: "John F. Kennedy"


def split_sentences(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Sentence spans inside text[start:end] (a paragraph or a list item), trimmed of spaces."""
    spans, pos = [], start
    for match in SENTENCE_END.finditer(text, start, end):
        stop = match.end()
        if text[match.start()] == "." and match.end() - match.start() == 1 and _is_abbreviation(text, match.start()):
            continue
        spans.append((pos, stop))
        pos = stop
    spans.append((pos, end))
    trimmed = []
    for left, right in spans:
        while left < right and text[left].isspace():
            left += 1
        while right > left and text[right - 1].isspace():
            right -= 1
        if right > left:
            trimmed.append((left, right))
    return trimmed


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
