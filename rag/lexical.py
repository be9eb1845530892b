"""The lexical side of retrieval and evidence scoring: content-word stems, BM25 over chunks, and
IDF-weighted term coverage for sentences. Built in memory from the stored rows at start-up, so
Chroma stays the only thing persisted (and a Chroma server works with no local files).

Words are stemmed with the Snowball (Porter 2) English stemmer, so "provide", "provided" and
"provides" meet; stop words are spaCy's English list, except negations (they flip meaning) and
number words (they are facts). Acronyms keep their letters: "U.S." and "US" are one term, and an
upper-case acronym is never a stop word ("US" is not "us").
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from functools import lru_cache

from snowballstemmer import stemmer as snowball

DOTTED_ACRONYM = re.compile(r"\b(?:[A-Za-z]\.){2,}")
WORD = re.compile(r"[^\W_]+(?:[’'][^\W_]+)*", re.UNICODE)
DIGIT_GROUP = re.compile(r"(?<=\d)[,.](?=\d{3}\b)")
# Words whose presence flips meaning; kept even though they are stop words elsewhere.
NEGATIONS = frozenset({"no", "not", "never", "nor", "cannot", "without"})
# English personal and demonstrative pronouns that point back at something named before.
PRONOUNS_REFERRING = frozenset({"it", "its", "they", "them", "their", "this", "that", "these", "those"})

_STEMMER = snowball("english")


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    """spaCy's English stop words without negations and number words. Read on first use: importing
    spaCy brings in its machine-learning stack, which a module import must not."""
    from spacy.lang.en.lex_attrs import like_num
    from spacy.lang.en.stop_words import STOP_WORDS

    return frozenset(w for w in STOP_WORDS if not like_num(w) and w not in NEGATIONS) | {"s"}


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in text if not unicodedata.combining(ch)).lower().replace("’", "'")


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """The Snowball stem of a lower-case word (a possessive 's goes first); numbers stay as they are."""
    if word.endswith("'s"):
        word = word[:-2]
    if word.isdigit():
        return word
    return str(_STEMMER.stemWord(word))


def words(text: str) -> list[tuple[str, bool]]:
    """The words of a text in order, lower-cased, each with whether it was written as an acronym
    (two or more capitals, or dotted letters)."""
    text = DIGIT_GROUP.sub("", text)  # "28,000" -> "28000"
    text = DOTTED_ACRONYM.sub(lambda m: m.group(0).replace(".", "").upper(), text)  # "U.S." -> "US"
    return [_word(match.group(0)) for match in WORD.finditer(text)]


@lru_cache(maxsize=1 << 18)
def _word(raw: str) -> tuple[str, bool]:
    """One written word, lower-cased and normalised, and whether it is an acronym. Memoised: a
    corpus repeats its words, and this ran for every word of every sentence and chunk at start-up
    (most of the time it took to load an index, measured with evals.bench_memory)."""
    acronym = len(raw) >= 2 and sum(ch.isupper() for ch in raw) >= 2 and raw.upper() == raw
    return normalise(raw), acronym


def tokens(text: str) -> list[str]:
    """Content-word stems, in order; numbers keep their digits ("28,000" -> "28000")."""
    stop = stopwords()
    return [stem(word) for word, acronym in words(text) if acronym or word not in stop]


def content_terms(text: str) -> list[str]:
    """Query terms: content stems without negations (a question's 'not' is not a topic)."""
    return [t for t in tokens(text) if t not in NEGATIONS]


class BM25:
    """Okapi BM25 over a fixed list of term lists, with weighted query terms. k1 = 1.5 and
    b = 0.75 are the usual defaults (Robertson and Zaragoza, 2009)."""

    def __init__(self, documents: Iterable[Iterable[str]], k1: float = 1.5, b: float = 0.75) -> None:
        self.docs = [Counter(terms) for terms in documents]
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
    informative content a sentence (and what surrounds it) contains. A term the corpus never
    uses gets the highest weight, so a question about something absent scores low."""

    def __init__(self, documents: Iterable[Iterable[str]]) -> None:
        frequency: Counter[str] = Counter()
        n = 0
        for terms in documents:
            n += 1
            frequency.update(set(terms))
        self.n = max(n, 1)
        self.frequency = frequency
        self.vocabulary = frozenset(frequency)
        self.unseen_idf = math.log(1 + self.n / 0.5)

    def idf(self, term: str) -> float:
        df = self.frequency.get(term, 0)
        return math.log(1 + self.n / (df + 0.5)) if df else self.unseen_idf

    def coverage(self, query: Mapping[str, float], present: set[str] | frozenset[str]) -> float:
        """IDF-weighted share of the query's terms that are present."""
        total = sum(weight * self.idf(term) for term, weight in query.items())
        if total <= 0:
            return 0.0
        return sum(weight * self.idf(term) for term, weight in query.items() if term in present) / total
