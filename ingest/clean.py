"""Clean stage: raw extracted text -> the CANONICAL source text.

clean_text() output is what gets chunked, embedded and quoted: every citation offset
refers to it, so it is deterministic and idempotent (clean_text(clean_text(x)) ==
clean_text(x)). It normalises Unicode and whitespace, repairs words hyphenated across
PDF line breaks and drops whole lines of web boilerplate (reading time, share buttons,
comment forms, cookie notices, newsletter prompts, "related posts") plus a trailing
comment section. It never rewrites a sentence, fixes a typo or touches quotes.
join_pages() puts a PDF's cleaned pages together into the one canonical text and records where
each page lies in it. The result goes to chunking (one string per source).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

# Removed outright: zero-width space/joiners, word joiner, BOM, soft hyphen, Mongolian
# vowel separator. They are invisible, so a quote typed by anyone would never contain them.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e"))
_LIGATURES = {
    ord("ﬀ"): "ff",
    ord("ﬁ"): "fi",
    ord("ﬂ"): "fl",
    ord("ﬃ"): "ffi",
    ord("ﬄ"): "ffl",
    ord("ﬅ"): "st",
    ord("ﬆ"): "st",
}
_SPACES = re.compile(r"[\t\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]")
_LINE_BREAKS = re.compile(r"\r\n|[\r\v\f\x85\u2028\u2029]")
# Other C0/C1 control characters are extraction debris, never text.
_CONTROLS = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f]")
_RUN_OF_SPACES = re.compile(r" {2,}")
_MANY_NEWLINES = re.compile(r"\n{3,}")
# Glyph bullets always mark a list item, so a missing space after them is restored;
# "-", "*" and "1." only count with a following space ("-5 °C", "*emphasis*", "1.5").
_GLYPH_BULLET_NO_SPACE = re.compile(r"^([•◦▪‣●○■])(?=\S)", re.MULTILINE)
# "secu-\nrity": a hyphen at a line end between two letters; case is checked in code.
_HYPHEN_BREAK = re.compile(r"(?<=[^\W\d_])-\n(?=[^\W\d_])")
# Markdown heading marks, list bullets and matching emphasis around a boilerplate line
# ("## Leave a Reply", "- Share on Facebook", "**Advertisement**") do not make it prose.
_DECORATION = re.compile(r"^(?:#{1,6} +|(?:[•◦▪‣●○■*\-–]|\d{1,3}[.)]) +)?(\*\*|__|\*|_)?(.*?)\1?$")


def _line(pattern: str) -> re.Pattern[str]:
    """A whole-line rule, case-insensitive, optional trailing punctuation."""
    return re.compile(rf"(?:{pattern})\s*[.:!…]?", re.IGNORECASE)


_SOCIAL = r"facebook|twitter|x|linkedin|whatsapp|telegram|reddit|pinterest|email|e-mail|bluesky|threads"
_MINUTES = r"\d+(?:[.,]\d+)?\s*(?:-|–|to)?\s*(?:\d+\s*)?-?\s*(?:minutes?|mins?|m)\b"

BOILERPLATE_PATTERNS: list[re.Pattern[str]] = [
    # reading time: "5 min read", "3-minute read", "Reading time: 4 minutes", "Est. reading time 2 min"
    _line(rf"(?:about\s+|~\s*)?{_MINUTES}\.?\s+(?:read|reading(?:\s+time)?)"),
    _line(rf"(?:est(?:imated)?\.?\s+)?(?:reading|read)\s+time\s*:?\s*(?:about\s+|~\s*)?{_MINUTES}\.?"),
    _line(rf"time\s+to\s+read\s*:?\s*{_MINUTES}\.?"),
    # share / follow buttons
    _line(
        rf"share(?:\s+(?:this(?:\s+(?:article|story|post|page))?|(?:on|via|to)\s+(?:{_SOCIAL})(?:\s*\(.{{0,40}}\))?))?"
    ),
    _line(r"click to (?:share|print|email|tweet)\b.{0,80}"),
    _line(rf"(?:follow us|follow)(?:\s+(?:on|via)\s+(?:{_SOCIAL})(?:\s*(?:,|and|&)\s*(?:{_SOCIAL}))*)?"),
    _line(r"tweet|pin it|like this|like loading\.*|facebook|twitter|linkedin|whatsapp|pinterest|reddit"),
    _line(r"advertisements?|sponsored content|skip to (?:main )?content|print(?: this (?:page|article))?"),
    # comment forms
    _line(
        r"leave a (?:reply|comment)(?:\s+cancel reply)?|cancel reply|comments are closed|post comment"
        r"|submit comment|comment"
    ),
    _line(r"your email address will not be published\.?(?:\s*required fields are marked\s*\*)?"),
    _line(r"required fields are marked\s*\*"),
    _line(r"save my name,? email,? and website in this browser for the next time I comment"),
    _line(r"(?:name|email|e-mail|website|comment)\s*\*|website|\d+\s+comments?"),
    _line(r"notify me of (?:follow-up comments|new comments|new posts)\b.{0,80}"),
    _line(r"this site uses akismet to reduce spam\b.{0,120}"),
    # newsletter prompts
    _line(
        r"(?:subscribe|sign up)"
        r"(?:\s+(?:to|for)\s+(?:our|the)\s+(?:[\w-]+\s+){0,3}newsletters?\b.{0,150}|\s+now)?"
    ),
    # related content
    _line(
        r"related (?:posts|articles|stories|news|content|reading)"
        r"|you (?:may|might) also (?:like|enjoy|be interested in)"
    ),
    _line(r"read (?:more|also|next)(?:\s*:.{1,200})?"),
]

# A cookie/consent notice: mentions cookies AND speaks to the reader about consenting.
# "Grandma baked cookies" or "cookie consent rules were criticised" stay.
_COOKIE = re.compile(r"\bcookies?\b", re.IGNORECASE)
_CONSENT_NOTICE = re.compile(
    r"\b(?:uses|use|using) cookies\b|\bcookie (?:policy|notice|settings|preferences|statement)\b"
    r"|\b(?:accept|allow|reject|decline|manage)(?: all)? cookies\b|\byou(?:r)? (?:consent|agree|accept)"
    r"|\bby (?:continuing|using|clicking|browsing)\b|\b(?:our|the) privacy (?:policy|notice|statement)\b",
    re.IGNORECASE,
)
_MAX_NOTICE = 600

# Start of a trailing comment section; everything after it is dropped when it is only
# boilerplate or short lines (names, dates, "Reply"), never when article prose follows.
_COMMENTS_HEADING = _line(
    r"leave a (?:reply|comment)(?:\s+cancel reply)?|\d+\s+comments?|comments(?:\s*\(\d+\))?"
    r"|(?:one|\d+)\s+(?:thoughts?|responses?|replies|reactions?)\s+(?:on|to)\b.{0,300}"
)
# Reader names, dates, "Reply", "Like": a line this short is no article paragraph.
_SHORT_LINE = 40


def clean_text(raw: str) -> str:
    """Canonical text of a source: normalised, boilerplate-free, idempotent."""
    # After the first pass every step only removes characters, so repeating until
    # nothing changes terminates, and idempotence holds by construction (e.g. a hyphen
    # join that only becomes possible once a boilerplate line between the halves is gone).
    text = raw
    for _ in range(20):
        cleaned = _one_pass(_normalise_unicode(text))
        if cleaned == text:
            break
        text = cleaned
    return text


def is_boilerplate(line: str) -> bool:
    """True when a whole (whitespace-normalised) line is web boilerplate."""
    line = " ".join(line.split())
    if any(p.fullmatch(c) for p in BOILERPLATE_PATTERNS for c in _variants(line)):
        return True
    return len(line) <= _MAX_NOTICE and bool(_COOKIE.search(line)) and bool(_CONSENT_NOTICE.search(line))


def _variants(line: str) -> set[str]:
    """The line itself and the line without heading marks, bullet or emphasis around it."""
    core = _DECORATION.match(line)
    return {v for v in (line, core.group(2).strip() if core else "") if v}


def _normalise_unicode(raw: str) -> str:
    # Deletions and ligature expansion come before NFC so that nothing they bring
    # together (a letter and a combining accent) is left uncomposed.
    text = _CONTROLS.sub("", _LINE_BREAKS.sub("\n", raw).translate(_INVISIBLE))
    # NFC, not NFKC: NFKC would turn "…" into "...", "x²" into "x2" and fold other
    # characters the author chose; quotes must match the source as published.
    text = unicodedata.normalize("NFC", text.translate(_LIGATURES))
    return _SPACES.sub(" ", text)


def _one_pass(text: str) -> str:
    lines = [_RUN_OF_SPACES.sub(" ", line.strip(" ")) for line in text.split("\n")]
    # The comment section is found first: its heading ("Leave a Reply") is itself a
    # boilerplate line and would otherwise be gone before it could mark the section.
    lines = [ln for ln in _drop_comment_section(lines) if not is_boilerplate(ln)]
    text = _GLYPH_BULLET_NO_SPACE.sub(r"\1 ", "\n".join(lines))
    text = _HYPHEN_BREAK.sub(_join_hyphenated, text)
    return _MANY_NEWLINES.sub("\n\n", text).strip("\n")


def _join_hyphenated(match: re.Match[str]) -> str:
    # Only "lower-\nlower" is a word split by a line break; "Anglo-\nSaxon" or
    # "COVID-\n19" keep their hyphen.
    before, after = match.string[match.start() - 1], match.string[match.end()]
    return "" if before.islower() and after.islower() else match.group(0)


def _drop_comment_section(lines: list[str]) -> list[str]:
    """Cut a trailing comment section that holds no substantive paragraph."""
    tail_ok = len(lines)  # lines[tail_ok:] are all blank, short or boilerplate
    while tail_ok > 0 and (len(lines[tail_ok - 1]) <= _SHORT_LINE or is_boilerplate(lines[tail_ok - 1])):
        tail_ok -= 1
    # The earliest heading whose following lines are all ok: it may itself be long
    # ("12 thoughts on “<article title>”"), so it can sit just before the ok tail.
    for i in range(max(tail_ok - 1, 0), len(lines)):
        if any(_COMMENTS_HEADING.fullmatch(v) for v in _variants(lines[i])):
            return lines[:i]
    return lines


# The end of a sentence at the very end of a page: . ! ? or … with closing quotes or brackets.
_ENDS_SENTENCE = re.compile(r"[.!?…][’”\"')\]]*\Z")


def join_pages(pages: Iterable[tuple[int | None, str]]) -> tuple[str, list[list[int | None]]]:
    """The canonical text of a document from its cleaned pages, and [page, start, end] per page.

    A page whose text ends a sentence is followed by a paragraph break ("\n\n"). One that stops
    mid-sentence, or is followed by a page that starts in lower case, goes on to the next with a
    plain line break, as a line wrapped inside a page does, so the sentence stays one sentence
    (and a word hyphenated across the break is joined by the rule clean_text applies inside a
    page). Empty pages are skipped; every character of the text between a page's start and end
    came from that page, and only the separators lie outside every page.
    """
    text = ""
    spans: list[list[int | None]] = []
    for number, cleaned in pages:
        if not cleaned:
            continue
        if spans:
            if text.endswith("-") and text[-2:-1].islower() and cleaned[0].islower():
                text, separator = text[:-1], ""  # "secu-" | "rity": the hyphen only broke the line
                spans[-1][2] = len(text)
            elif _ENDS_SENTENCE.search(text) and not cleaned[0].islower():
                separator = "\n\n"
            else:
                separator = "\n"
            text += separator
        spans.append([number, len(text), len(text) + len(cleaned)])
        text += cleaned
    return text, spans
