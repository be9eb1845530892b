"""Lexical side of retrieval and evidence scoring: a tokenizer with light stemming, BM25 over
chunks, and IDF-weighted term coverage for sentences. Built in memory from the stored chunks at
start-up, so Chroma stays the only thing persisted (and a Chroma server works with no local
files)."""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping

ACRONYM = re.compile(r"\b(?:[A-Za-z]\.){2,}")
WORD = re.compile(r"[^\W_]+(?:[’'][^\W_]+)*", re.UNICODE)
STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it its
    itself just me more most my myself no nor not of off on once only or other our ours ourselves
    out over own same she should so some such than that the their theirs them themselves then there
    these they this those through to too under until up very was we were what when where which while
    who whom why will with would you your yours yourself yourselves s t don now may might must shall
    yet ever one upon per via within without whether according article text say says said tell
    told mention mentioned mentions describe described explain give list name named kind sort
    source sources author please know""".split()
)
# Names that stand for the same country: the country, its people and its capital (news writes
# "Kyiv" for Ukraine and "Washington" for the US). General knowledge, not tuned to one text.
ALIAS_GROUPS = """
us usa america american americans washington | ukraine ukrainian ukrainians kyiv kiev |
russia russian russians moscow kremlin | finland finnish finn finns helsinki |
korea korean koreans seoul | israel israeli israelis jerusalem | britain british uk london |
france french paris | germany german berlin | china chinese beijing | japan japanese tokyo |
poland polish warsaw | estonia estonian tallinn | europe european europeans brussels eu |
soviet ussr | canada canadian ottawa | australia australian canberra | italy italian rome
"""
# Words whose presence flips meaning; kept even though they are stop words elsewhere.
NEGATIONS = frozenset({"no", "not", "never", "nor", "cannot", "without"})


def _alias_groups() -> list[frozenset[str]]:
    return [frozenset(stem(w) for w in group.split()) for group in ALIAS_GROUPS.split("|")]


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in text if not unicodedata.combining(ch)).lower().replace("’", "'")


def stem(word: str) -> str:
    """A deliberately small suffix stripper: enough to meet 'troops'/'troop', 'stationed'/
    'station' and 'guarantees'/'guarantee' on both sides, never clever enough to confuse words."""
    if word.endswith("'s"):
        word = word[:-2]
    if len(word) <= 3 or word.isdigit():
        return word
    for suffix, replacement, min_len in (
        ("ysis", "ys", 6),
        ("yses", "ys", 6),
        ("ysed", "ys", 6),
        ("yzed", "ys", 6),
        ("ysing", "ys", 7),
        ("yzing", "ys", 7),
        ("yse", "ys", 5),
        ("yze", "ys", 5),
        ("ies", "y", 5),
        ("sses", "ss", 5),
        ("ness", "", 7),
        ("ments", "ment", 6),
        ("ings", "", 7),
        ("ing", "", 6),
        ("edly", "", 7),
        ("ed", "", 5),
        ("es", "e", 5),
        ("s", "", 4),
    ):
        if not word.endswith(suffix) or len(word) < min_len:
            continue
        if suffix in ("s", "es") and word.endswith(("ss", "us", "is")):
            return word  # "class", "status", "crisis" are not plurals
        return word[: len(word) - len(suffix)] + replacement
    return word


ALIASES: list[frozenset[str]] = _alias_groups()
ALIAS_OF: dict[str, frozenset[str]] = {term: group for group in ALIASES for term in group}


def tokens(text: str) -> list[str]:
    """Content-word stems, in order; numbers keep their digits ("28,000" -> "28000")."""
    text = re.sub(r"(?<=\d)[,.](?=\d{3}\b)", "", text)
    text = ACRONYM.sub(lambda m: m.group(0).replace(".", ""), text)  # "U.S." and "US" meet
    out = []
    for match in WORD.finditer(normalise(text)):
        word = match.group(0)
        if word in STOPWORDS and word not in NEGATIONS:
            continue
        out.append(stem(word))
    return out


def content_terms(text: str) -> list[str]:
    """Query terms: content stems without negations (a question's 'not' is not a topic)."""
    return [t for t in tokens(text) if t not in NEGATIONS]


class BM25:
    """Okapi BM25 over a fixed list of texts, with weighted query terms."""

    def __init__(self, texts: Iterable[str], k1: float = 1.5, b: float = 0.75) -> None:
        self.docs = [Counter(tokens(t)) for t in texts]
        self.lengths = [sum(d.values()) for d in self.docs]
        self.avg_length = (sum(self.lengths) / len(self.lengths)) if self.lengths else 0.0
        frequency: Counter[str] = Counter()
        for doc in self.docs:
            frequency.update(doc.keys())
        n = len(self.docs)
        self.idf = {term: math.log(1 + (n - df + 0.5) / (df + 0.5)) for term, df in frequency.items()}
        self.k1, self.b = k1, b

    def scores(self, query: Mapping[str, float], allowed: Iterable[int] | None = None) -> list[tuple[int, float]]:
        positions = range(len(self.docs)) if allowed is None else allowed
        out = []
        for position in positions:
            doc, length = self.docs[position], self.lengths[position]
            score = 0.0
            for term, weight in query.items():
                frequency = doc.get(term)
                if not frequency:
                    continue
                norm = self.k1 * (1 - self.b + self.b * length / (self.avg_length or 1.0))
                score += weight * self.idf[term] * frequency * (self.k1 + 1) / (frequency + norm)
            if score > 0:
                out.append((position, score))
        out.sort(key=lambda item: (-item[1], item[0]))
        return out


class TermStats:
    """Inverse document frequency over sentences, for coverage: how much of a question's
    informative content a sentence (and its section title) contains. A term the corpus never
    uses gets the highest weight, so a question about something absent scores low."""

    def __init__(self, texts: Iterable[str]) -> None:
        frequency: Counter[str] = Counter()
        n = 0
        for text in texts:
            n += 1
            frequency.update(set(tokens(text)))
        self.n = max(n, 1)
        self.frequency = frequency
        self.unseen_idf = math.log(1 + self.n / 0.5)

    def idf(self, term: str) -> float:
        df = self.frequency.get(term, 0)
        return math.log(1 + self.n / (df + 0.5)) if df else self.unseen_idf

    def coverage(self, query: Mapping[str, float], present: set[str] | frozenset[str]) -> float:
        """IDF-weighted share of query terms present; a country name counts as present when
        any of its aliases is ("Kyiv" / "Ukraine")."""
        total = sum(weight * self.idf(term) for term, weight in query.items())
        if total <= 0:
            return 0.0
        found = sum(
            weight * self.idf(term)
            for term, weight in query.items()
            if term in present or (term in ALIAS_OF and not ALIAS_OF[term].isdisjoint(present))
        )
        return found / total
