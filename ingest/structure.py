"""Structure of a cleaned text: sections (from heading lines) and sentences, all as char offsets.

Hands on `Sentence`s that know their section, their paragraph and whether they are a list item,
so the chunker never crosses a section and the answerer can bring a list's items along.
Offsets always index the cleaned canonical text, which is what citations quote. Sentence ends
and list markers come from rag.sentences, which answering shares.

A heading is found three ways: a line the source's markup declared a heading (Markdown, HTML:
passed to `analyse`), a Markdown `#` line in a plain text, or by its shape: a short line of
its own, without sentence punctuation at its end. A numbered line of that shape ("4. The 1948
treaty") is a heading too, unless it is one of a run of numbered items (its neighbour carries the
number before or after it) or a wrapped line; PDF text has no blank lines around its headings,
so inside a block a numbered line is a heading only where a paragraph can end and begin.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

from rag.sentences import LIST_MARKER, split_sentences

MARKDOWN_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
HEADING_MAX_CHARS = 90
HEADING_MAX_WORDS = 12
TITLE_MAX_CHARS = 250
# A heading's number: "4. ", "4.2 ", "4.2. ", "4) ". A bare "12 " or "1950. " is not one.
HEADING_NUMBER = re.compile(r"(\d{1,3})(?:[.)]|(?:\.\d{1,3})+\.?)\s+")
_SENTENCE_END = re.compile(r"[.!?…][’”\"')\]]*$")
# A sentence ending inside a line, and the next one starting: prose, never a title's line.
_SENTENCE_INSIDE = re.compile(r"\w[.!?…][’”\"')\]]*\s+[’‘'\"“«(]?[A-Z]")
_OPENERS = "’‘'\"“«("
# A line of a fact sheet or an infobox: a short capitalised label, a colon, a space and a value
# ("Length: 515 km", "Opened: 1 October 1964"; not "4:41 a.m."). Two or more such lines in a row
# are facts written one to a line, not a run of wrapped prose.
KEY_VALUE = re.compile(r"[A-Z][^\n:!?]{0,48}:\s+\S")


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


def _shaped_like_heading(line: str, limit: int, max_words: int | None) -> bool:
    """Starts like a title, ends without sentence punctuation, short enough."""
    if not line or line[-1] in ".!?:;,…" or not (line[0].isupper() or line[0] in _OPENERS or line[0].isdigit()):
        return False
    return len(line) <= limit and (max_words is None or len(line.split()) <= max_words)


def heading_text(line: str, *, first_block: bool = False) -> str | None:
    """The section title if this single-line block is a heading, else None. General rules: a
    markdown heading, or a short line without sentence punctuation at its end."""
    markdown = MARKDOWN_HEADING.match(line)
    if markdown:
        return markdown.group(2).strip()
    stripped = line.strip()
    if LIST_MARKER.match(stripped) or not stripped:
        return None
    limit = TITLE_MAX_CHARS if first_block else HEADING_MAX_CHARS
    return stripped if _shaped_like_heading(stripped, limit, None if first_block else HEADING_MAX_WORDS) else None


def _number(line: str) -> int | None:
    """The (first) number of a numbered line, "4" of "4.2 Costs", else None."""
    match = HEADING_NUMBER.match(line)
    return int(match.group(1)) if match else None


def numbered_heading(line: str, before: str | None, after: str | None) -> bool:
    """True when `line` is a numbered heading ("4. The 1948 treaty") rather than a list item,
    judged by its shape and the non-blank lines next to it. A line whose neighbour carries the
    number just before or after its own is an item of a run of numbered items (a list)."""
    match = HEADING_NUMBER.match(line)
    if not match or not _shaped_like_heading(line[match.end() :], HEADING_MAX_CHARS, HEADING_MAX_WORDS):
        return False
    number = int(match.group(1))
    return not (
        (before is not None and _number(before) == number - 1) or (after is not None and _number(after) == number + 1)
    )


def _heading_inside_block(
    lines: list[str], i: int, before: str | None, after: str | None, after_heading: bool = False
) -> bool:
    """A numbered heading among the lines of a block (PDF text has no blank lines around one):
    the line before it ends a sentence (or is a list item that ends before the margin), it stops
    short of the block's right margin itself (a wrapped line would not: the next word did not
    fit on it), and the line after it starts a sentence. The block's longest line stands for its
    margin. `before` and `after`: the nearest lines outside the block, as numbered_heading wants.
    `after_heading`: the line before is a heading (the title), which ends nothing but stands apart."""
    line = lines[i]
    previous = lines[i - 1] if i > 0 else None
    following = lines[i + 1] if i + 1 < len(lines) else None
    margin = max(len(x) for x in lines)
    if (
        previous is not None
        and not after_heading
        and not (
            _SENTENCE_END.search(previous) or (LIST_MARKER.match(previous) and _stops_short(previous, line, margin))
        )
    ):
        return False
    if following is not None:
        if not _stops_short(line, following, margin):
            return False
        if not (following[0].isupper() or following[0].isdigit() or following[0] in _OPENERS):
            return False
    return numbered_heading(line, before if previous is None else previous, after if following is None else following)


def _title_inside_block(lines: list[str]) -> bool:
    """A document's first line run into its first paragraph (PDF text has no blank line after
    the title): it has a title's shape, it stops short of the block's right margin, and the next
    line starts a sentence."""
    following = lines[1]
    margin = max(len(x) for x in lines)
    starts = following[:1].isupper() or following[:1].isdigit() or following[:1] in _OPENERS
    return heading_text(lines[0], first_block=True) is not None and starts and _stops_short(lines[0], following, margin)


def _title_lines(lines: list[str]) -> int:
    """How many lines the title at the top of a block takes. A long title wraps: its next line has
    a title's shape too, is no numbered heading, holds no sentence end, and stops short of the
    block's margin (a wrapped line of prose would not). A title set in a larger type wraps at
    its own, narrower margin, so it goes on only while its lines so far were full to that
    margin: a title line that stopped short of it (the next word would have fit) was its last."""
    margin = max(len(x) for x in lines)
    count = 1
    while count + 1 < len(lines):
        line, following = lines[count], lines[count + 1]
        title = " ".join(x.strip() for x in lines[: count + 1])
        if HEADING_NUMBER.match(line) or heading_text(title, first_block=True) is None:
            break
        if _SENTENCE_INSIDE.search(line) or not _stops_short(line, following, margin):
            break
        title_margin = max(len(x) for x in lines[:count])
        if _stops_short(lines[count - 1], line, title_margin):
            break
        count += 1
    return count


def _stops_short(line: str, following: str, margin: int) -> bool:
    """True when `line` ends before the right margin: the next line's first word would have fit."""
    return len(line) + 1 + len(following.split(maxsplit=1)[0]) <= margin


def _block_headings(
    lines: list[str], first_block: bool, before: str | None, after: str | None, declared: Collection[str]
) -> dict[int, str]:
    """{line index: section title} for the heading lines of one block. `before` and `after`: the
    line of the block before and after this one when that block is a single line, else None."""
    if len(lines) == 1:
        line = lines[0]
        if line in declared:
            return {0: line}
        title = heading_text(line, first_block=first_block)
        if title is None and numbered_heading(line, before, after):
            title = line
        return {} if title is None else {0: title}
    found: dict[int, str] = {}
    markdown = MARKDOWN_HEADING.match(lines[0])
    if markdown:
        # A markdown heading directly followed by its paragraph, with no blank line between.
        found[0] = markdown.group(2).strip()
    elif first_block and _title_inside_block(lines):
        for i in range(_title_lines(lines)):
            found[i] = " ".join(line.strip() for line in lines[: _title_lines(lines)])
    for i, line in enumerate(lines):
        if (
            i not in found
            and HEADING_NUMBER.match(line)
            and _heading_inside_block(lines, i, before, after, after_heading=i - 1 in found)
        ):
            found[i] = line
    return found


def analyse(
    text: str, default_section: str, headings: Collection[str] | None = None
) -> tuple[list[Section], list[Sentence]]:
    """Sections and sentences of a cleaned text. Text before the first heading belongs to
    `default_section` (usually the document title). `headings`: the heading lines the source's
    markup declared (Markdown, HTML); a line of its own equal to one of them is a heading."""
    declared = frozenset(h for h in headings or () if h)
    sections: list[Section] = []
    sentences: list[Sentence] = []
    current, current_start = default_section, 0
    spans = _blocks(text)
    blocks = [_lines(text, start, end) for start, end in spans]
    splits = 0  # paragraphs opened by a heading in the middle of a block
    for block_no, ((b_start, _), lines) in enumerate(zip(spans, blocks, strict=True)):
        # Items of one list share its layout: a line alone in its block continues a run of
        # numbered items only with lines that are alone in theirs (a loose list).
        before = _lone_line(text, blocks[block_no - 1]) if block_no else None
        after = _lone_line(text, blocks[block_no + 1]) if block_no + 1 < len(blocks) else None
        found = _block_headings([text[a:b] for a, b in lines], block_no == 0, before, after, declared)
        body: list[tuple[int, int]] = []
        for i, span in enumerate(lines):
            if i not in found:
                body.append(span)
                continue
            if i and found.get(i - 1) == found[i]:
                continue  # a title wrapped onto a further line: one heading
            if body:
                _add_block_sentences(text, body, current, block_no + splits, sentences)
                splits, body = splits + 1, []
            heading_at = span[0] if i else b_start
            if heading_at > current_start:
                sections.append(Section(current, current_start, heading_at))
            current, current_start = found[i], heading_at
        _add_block_sentences(text, body, current, block_no + splits, sentences)
    sections.append(Section(current, current_start, len(text)))
    return [s for s in sections if s.end > s.start], sentences


def _lone_line(text: str, block: list[tuple[int, int]]) -> str | None:
    return text[block[0][0] : block[0][1]] if len(block) == 1 else None


def _fact_lines(text: str, lines: list[tuple[int, int]]) -> set[int]:
    """The lines of a block that state one fact each ("Length: 515 km"): two or more in a row."""
    keyed = [_keyed(text, left, right) for left, right in lines]
    return {
        i for i, is_key in enumerate(keyed)
        if is_key and ((i and keyed[i - 1]) or (i + 1 < len(keyed) and keyed[i + 1]))
    }  # fmt: skip


def _keyed(text: str, left: int, right: int) -> bool:
    """ "Label: value" on one line, not a list item; the label one phrase ("Height of Mt.
    Everest", not "It ended. Result")."""
    match = KEY_VALUE.match(text, left, right)
    if match is None or LIST_MARKER.match(text, left, right):
        return False
    colon = text.index(":", left, right)
    return len(split_sentences(text, left, colon)) == 1


def _add_block_sentences(
    text: str, lines: list[tuple[int, int]], section: str, paragraph: int, out: list[Sentence]
) -> None:
    # Consecutive non-list lines form one run of prose (a PDF wraps lines mid-sentence);
    # each list line is an item of its own, and each line of a run of facts a sentence.
    run: list[tuple[int, int]] = []
    facts = _fact_lines(text, lines)

    def flush() -> None:
        if run:
            for left, right in split_sentences(text, run[0][0], run[-1][1]):
                out.append(Sentence(left, right, text[left:right], section, paragraph))
            run.clear()

    for i, (left, right) in enumerate(lines):
        marker = LIST_MARKER.match(text, left, right)
        if i in facts:
            flush()
            out.append(Sentence(left, right, text[left:right], section, paragraph))
        elif marker:
            flush()
            item_start = marker.end()
            for s_left, s_right in split_sentences(text, item_start, right) or []:
                out.append(Sentence(s_left, s_right, text[s_left:s_right], section, paragraph, is_list_item=True))
        else:
            run.append((left, right))
    flush()
