"""Country names to one code, so that "U.S.", "the United States", "American" and "Washington",
or "UK", "Britain" and "British", count as the same name, while "North Korea" and "South Korea",
or "Austria" and "Australia", stay apart.

Two data tables made for this, read directly (neither package is imported: country_converter's
module imports pandas, which costs half a second and breaks on pandas 3):
- country_converter's `country_data.tsv`: one regular expression per country, matching its short
  and official names, common variants and codes;
- countryinfo's per-country JSON files: each country's demonym ("Finnish"), capital ("Seoul") and
  other spellings. A word several countries share ("French" for France and its overseas
  territories) goes to the one that is a UN member state (country_converter's UNmember column).
"""

from __future__ import annotations

import csv
import json
import re
from functools import lru_cache
from importlib.util import find_spec
from pathlib import Path

# The longest text looked up: a country name is short; longer spans are not names of one.
MAX_NAME_CHARS = 60


def _package_dir(name: str) -> Path | None:
    spec = find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(spec.submodule_search_locations[0])


@lru_cache(maxsize=1)
def _table() -> tuple[tuple[tuple[str, re.Pattern[str]], ...], frozenset[str]]:
    """country_converter's patterns, and the codes of UN member states."""
    folder = _package_dir("country_converter")
    if folder is None:
        return (), frozenset()
    rows = list(csv.DictReader((folder / "country_data.tsv").read_text(encoding="utf-8").splitlines(), delimiter="\t"))
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
        words = [data.get("demonym"), data.get("capital"), *(data.get("altSpellings") or [])]
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


def _key(name: str) -> str:
    return " ".join(name.split()).strip(" .,;:'’\"").lower()


@lru_cache(maxsize=4096)
def country_code(name: str) -> str | None:
    """The ISO 3166 alpha-3 code of the one country `name` names, or None (no country, or more
    than one matches, as "Korea" alone might)."""
    name = " ".join(name.split()).strip(" .,;:'’\"")
    if not name or len(name) > MAX_NAME_CHARS or not any(ch.isalpha() for ch in name):
        return None
    name = name.removeprefix("the ").removeprefix("The ")
    key = _key(name)
    word = _words().get(key) or (_words().get(key[:-1]) if key.endswith("s") else None)  # "Americans"
    if word is not None:
        return word
    found = {code for code, pattern in _table()[0] if pattern.search(name)}
    return found.pop() if len(found) == 1 else None


def country_term(name: str) -> str | None:
    """The term that stands for the country in term sets ("country:USA"), or None."""
    code = country_code(name)
    return f"country:{code}" if code else None
