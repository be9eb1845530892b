"""Anchors of the support test (rag/grounding.py): the numbers and names a sentence states and
whether a passage window holds them, the links and markup it carries, and how it writes an
acronym."""

from __future__ import annotations

import re

from rag.lexical import tokens
from rag.places import POSSESSIVE, country_code

# Thousands separators between digits ("28,000", "28 000"), as in rag.lexical and evals.metrics.
DIGIT_GROUP = re.compile(r"(?<=\d)[,. ](?=\d{3}\b)")
NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?:st|nd|rd|th|s)?(?![\w])")
NUMBER_WORDS = {
    word: value
    for value, word in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
        "sixteen seventeen eighteen nineteen twenty".split()
    )
}
TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}
NUMBER_WORD = re.compile(
    r"\b("
    + "|".join(TENS)
    + r")[-\s]("
    + "|".join(list(NUMBER_WORDS)[1:10])
    + r")\b|\b("
    + "|".join(list(NUMBER_WORDS) + list(TENS))
    + r")\b",
    re.IGNORECASE,
)
NAME_TOKEN = re.compile(r"(?:[A-Za-z]\.){2,}|[^\W\d_][\w’'-]*")
OPENING = "\"“‘’'([«"

# Links, e-mail addresses, HTML tags and Markdown links or images: what a sentence carries of
# them must stand in the passage as written, or a generation could smuggle in a link of its own.
LINK_OR_MARKUP = re.compile(
    r"https?://[^\s<>()\]]+|www\.[^\s<>()\]]+|[\w.+-]+@[\w-]+\.[\w.]+|<\s*/?\s*[A-Za-z][^>]*>|!?\[[^\]]*\]\([^)]*\)"
)


def links_not_in(text: str, window: str) -> list[str]:
    """The sentence's links, addresses, tags and Markdown links that the window does not hold."""
    found = dict.fromkeys(m.group(0).rstrip(".,;:") for m in LINK_OR_MARKUP.finditer(text))
    return [item for item in found if item not in window]


def lowercase_only(name: str, window: str) -> bool:
    """An acronym ("NATO", "PWNED") the window has only in lower case, inside other text (an
    identifier such as "window.__pwned"); "Nato", as some publications write it, still counts."""
    if not (name.isupper() and name.isalpha() and len(name) >= 2) or country_code(name) is not None:
        return False
    written = re.findall(rf"(?<![^\W_]){re.escape(name)}(?![^\W_])", window, re.IGNORECASE)
    return bool(written) and not any(w[0].isupper() for w in written)


def numbers_in(text: str, *, words: bool = False) -> set[str]:
    """Numbers as digit strings; with words=True also "twenty-six" -> "26" (passage side)."""
    text = DIGIT_GROUP.sub("", text)
    found = {re.sub(r"(?:st|nd|rd|th|s)$", "", m.group(0)) for m in NUMBER.finditer(text)}
    if words:
        for match in NUMBER_WORD.finditer(text):
            if match.group(1):
                found.add(str(TENS[match.group(1).lower()] + NUMBER_WORDS[match.group(2).lower()]))
            else:
                word = match.group(3).lower()
                found.add(str(NUMBER_WORDS.get(word, TENS.get(word))))
    return found


def sentence_numbers(text: str) -> set[str]:
    """The numbers a sentence states, as digits: its digits, and its number words from "two" up
    ("four commitments" must not stand on a passage that says six). "One" is left out: "one of
    the signatories" states no count."""
    return numbers_in(text) | (numbers_in(text, words=True) - {"0", "1"})


def _opens_sentence(text: str, position: int) -> bool:
    before = text[:position].rstrip().rstrip(OPENING).rstrip()
    if re.search(r"(?:^|\s)(?:[A-Za-z]\.){2,}$", before):  # "the U.S. President": an acronym's dot
        return False
    return not before or before[-1] in ".!?:;"


def names_in(sentence: str) -> list[str]:
    """Names as written: acronyms anywhere, capitalised words not opening the sentence (or a clause
    after a colon), stop words ("The", "In") left out. Name words next to each other form one
    name ("European Union", "U.S. President Donald Trump")."""
    pieces: list[tuple[int, int, str]] = []
    for match in NAME_TOKEN.finditer(sentence):
        word = match.group(0)
        if re.fullmatch(r"(?:[A-Za-z]\.){2,}", word):
            pieces.append((match.start(), match.end(), word))
            continue
        offset = match.start()
        for part in word.split("-"):
            bare = POSSESSIVE.sub("", part)
            acronym = len(bare) >= 2 and bare.isupper() and bare.isalpha()
            if acronym or (
                bare[:1].isupper() and len(bare) > 1 and not _opens_sentence(sentence, offset) and tokens(bare)
            ):
                pieces.append((offset, offset + len(bare), bare))
            offset += len(part) + 1
    names: list[list[str]] = []
    previous_end = -1
    for start, end, word in pieces:
        if names and previous_end >= 0 and not sentence[previous_end:start].strip():
            names[-1].append(word)
        else:
            names.append([word])
        previous_end = end
    return list(dict.fromkeys(" ".join(words) for words in names))


def name_present(name: str, passage_stems: set[str], passage_countries: set[str]) -> bool:
    """Every word of the name is in the passage (a longer or shorter form of it will do), the
    passage names the same country, or it has the name's initials ("EU" for "European Union")."""
    if initials_present(name, passage_stems):
        return True
    code = country_code(name)
    if code is not None:
        # A country is there only as itself: "North Korea" is not in a passage on "South Korea"
        # and "the North", though both its words are.
        return code in passage_countries
    for term in tokens(name):
        if term in passage_stems:
            continue
        # "Korea" meets "Korean" and "Israel" "Israeli": one name is the other with a suffix.
        if len(term) >= 4 and any(len(p) >= 4 and (p.startswith(term) or term.startswith(p)) for p in passage_stems):
            continue
        return False
    return True


def initials_present(name: str, passage_stems: set[str]) -> bool:
    words = name.split()
    return len(words) > 1 and "".join(w[0] for w in words).lower() in passage_stems
