"""Country names to one code, so that "U.S.", "the United States", "American" and "Washington",
or "UK", "Britain" and "British", count as the same name, while "North Korea" and "South Korea",
or "Austria" and "Australia", stay apart.

Two data tables made for this, read directly (neither package is imported: country_converter's
module imports pandas, which costs half a second and breaks on pandas 3):
- country_converter's `country_data.tsv`: one regular expression per country, matching its short
  and official names, common variants and codes;
- countryinfo's per-country JSON files: each country's demonym ("Finnish"), capital ("Seoul") and
  other spellings. A word several countries share ("French" for France and its overseas
  territories) goes to the one that is a UN member state (country_converter's UNmember column);
- and what ends a country's official name after its last "of" ("America" of "United States of
  America"), where it ends no other country's, for a name that stands alone ("South America" is
  no country).
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Sequence
from functools import lru_cache
from importlib.util import find_spec
from pathlib import Path

from rag.lexical import stopwords

# The longest text looked up: a country name is short; longer spans are not names of one.
MAX_NAME_CHARS = 60
# ISO 3166 codes are two or three letters: written that short, a name must be in capitals.
SHORT_CODE_CHARS = 3
# The possessive ending of a name ("Moscow's", "the Netherlands'").
POSSESSIVE = re.compile(r"[’']s?$")
# A run of capitalised words, possibly joined by "of" or "the" ("Republic of Korea") or a dash.
CAPITALISED_RUN = re.compile(r"[A-Z][\w’'.]*(?:[ –-](?:of |the )?[A-Z][\w’'.]*)*")
_WORD_OF_RUN = re.compile(r"[^\s–-]+")


def _package_dir(name: str) -> Path | None:
    spec = find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(spec.submodule_search_locations[0])


@lru_cache(maxsize=1)
def _converter_rows() -> tuple[dict[str, str], ...]:
    """country_converter's table, one row per country (none without the package)."""
    folder = _package_dir("country_converter")
    if folder is None:
        return ()
    text = (folder / "country_data.tsv").read_text(encoding="utf-8")
    return tuple(csv.DictReader(text.splitlines(), delimiter="\t"))


@lru_cache(maxsize=1)
def _table() -> tuple[tuple[tuple[str, re.Pattern[str]], ...], frozenset[str]]:
    """country_converter's patterns, and the codes of UN member states."""
    rows = _converter_rows()
    patterns = tuple(
        (r["ISO3"], re.compile(r["regex"], re.IGNORECASE)) for r in rows if r.get("regex") and r.get("ISO3")
    )
    members = frozenset(r["ISO3"] for r in rows if r.get("UNmember", "").strip())
    return patterns, members


@lru_cache(maxsize=1)
def _words() -> dict[str, str]:
    """Demonyms, capitals and other spellings (lower-cased) -> the one country they name."""
    folder = _package_dir("countryinfo")
    if folder is None:
        return {}
    _, members = _table()
    found: dict[str, set[str]] = {}
    for path in sorted((folder / "data").glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        code = (data.get("ISO") or {}).get("alpha3")
        if not code:
            continue
        words = [data.get("name"), data.get("demonym"), data.get("capital"), *(data.get("altSpellings") or [])]
        for word in words:
            if isinstance(word, str) and word.strip():
                key = _key(word.replace(" D.C.", ""))
                found.setdefault(key, set()).add(code)
    out = {}
    for word, codes in found.items():
        if len(codes) > 1:
            codes = codes & members
        if len(codes) == 1:
            out[word] = next(iter(codes))
    return out


@lru_cache(maxsize=1)
def _official_tails() -> dict[str, str]:
    """What follows the last "of" in a country's official name, where it names that country
    alone and the tables above know no country by it: "America" of "United States of America"
    (country_converter's name_official column). "Korea" ends two official names, so it names
    neither."""
    found: dict[str, set[str]] = {}
    for row in _converter_rows():
        official, code = row.get("name_official", ""), row.get("ISO3", "")
        if " of " in official and code:
            found.setdefault(_key(official.rsplit(" of ", 1)[1].removeprefix("the ")), set()).add(code)
    return {tail: codes.pop() for tail, codes in found.items() if len(codes) == 1 and tail not in _words()}


def _key(name: str) -> str:
    return " ".join(name.split()).strip(" .,;:'’\"").lower()


def _word_code(name: str) -> str | None:
    """The code of a name the word table holds as written: a short code ("UK", "US") only in
    capitals, so that "It", "In" or "No" opening a sentence name no country."""
    key = _key(name)
    if len(key) <= SHORT_CODE_CHARS and not name.strip(" .,;:'’\"").replace(".", "").isupper():
        return None
    return _words().get(key) or (_words().get(key[:-1]) if key.endswith("s") else None)  # "Americans"


@lru_cache(maxsize=4096)
def country_code(name: str, whole: bool = True) -> str | None:
    """The ISO 3166 alpha-3 code of the one country `name` names, or None (no country, or more
    than one matches, as "Korea" alone might). `whole=False`: the name is a word of a longer
    run of capitalised words, so the tail of an official name is no country ("South America")."""
    name = " ".join(name.split()).strip(" .,;:'’\"")
    if not name or len(name) > MAX_NAME_CHARS or not any(ch.isalpha() for ch in name):
        return None
    name = name.removeprefix("the ").removeprefix("The ")
    word = _word_code(name)
    if word is not None:
        return word
    if len(_key(name)) <= SHORT_CODE_CHARS and not name.replace(".", "").isupper():
        return None
    found = {code for code, pattern in _table()[0] if pattern.search(name)}
    if not found and whole:
        return _official_tails().get(_key(name))
    return found.pop() if len(found) == 1 else None


def countries_in(text: str, skip: Sequence[tuple[int, int]] = (), patterns: bool = False) -> set[str]:
    """The codes of the countries a text names by a word the word table holds (a country's short
    name, capital, demonym or other spelling): each run of capitalised words, opening a sentence
    or not, and each word of it ("South Korea", "Kyiv", "American", "US-Israel"). What overlaps
    a `skip` span (an entity known to be a person or an organisation) is left out.
    `patterns`: also try country_converter's patterns (as country_code does); they cost a fifth
    of a millisecond per new word, too much for every capitalised word of a large corpus, so by
    default the word table alone is asked."""

    def lookup(name: str, whole: bool) -> str | None:
        return country_code(name, whole) if patterns else _word_code(name)

    def skipped(start: int, end: int) -> bool:
        return any(a < end and start < b for a, b in skip)

    found: set[str] = set()
    for run in CAPITALISED_RUN.finditer(text):
        begin = run.start()
        opener = _WORD_OF_RUN.match(run.group(0))
        if (
            opener
            and opener.end() < len(run.group(0))
            and not opener.group(0).isupper()  # "US Forces Korea": an acronym is no stop word
            and opener.group(0).lower() in stopwords()
        ):
            # A sentence's first word joins the run ("In America"): the name starts after it.
            begin += opener.end() + 1
        spans = [(begin, run.end())]
        if not _WORD_OF_RUN.fullmatch(text[begin : run.end()]):  # most runs are one word: no need to split them
            spans += [(begin + m.start(), begin + m.end()) for m in _WORD_OF_RUN.finditer(text[begin : run.end()])]
        for number, (start, end) in enumerate(spans):
            # A possessive is the name itself: "Moscow's demands" names Moscow.
            name = POSSESSIVE.sub("", text[start:end])
            whole = number == 0  # the whole run, not a word cut from it
            if not skipped(start, end) and (code := lookup(name, whole)) is not None:
                found.add(code)
    return found


def country_term(name: str) -> str | None:
    """The term that stands for the country in term sets ("country:USA"), or None."""
    code = country_code(name)
    return code_term(code) if code else None


def code_term(code: str) -> str:
    """The term of the country with ISO code `code` in term sets."""
    return f"country:{code}"
