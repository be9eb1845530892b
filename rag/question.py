"""What a question asks for, read from its surface: the expected answer type, the names and
numbers it takes for granted. All are hard constraints on evidence. They let the answerer
abstain on "How many Patriot systems has Ukraine received?" when the sources name Patriots but
give no count, or on "Why did South Korea join NATO in 2023?" when 2023 belongs to Finland.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from rag.lexical import ALIAS_OF, STOPWORDS, normalise, stem, tokens

NUMBER_WORDS = (
    "one two three four five six seven eight nine ten eleven twelve dozen dozens hundred hundreds "
    "thousand thousands million millions billion billions half third quarter percent"
).split()
COUNT = re.compile(r"\d|\b(?:" + "|".join(NUMBER_WORDS) + r")\b", re.IGNORECASE)
PERCENT = re.compile(r"%|\bper ?cent\b|\bpercentage\b|\b(?:half|third|quarter|fifth|tenth)s?\b", re.IGNORECASE)
YEAR = re.compile(r"\b(?:1[5-9]\d\d|20\d\d)s?\b")
MONTH = re.compile(
    r"\b(?:january|february|march|april|may|june|july|august|september|october|november|december)\b", re.IGNORECASE
)
TIME_WORDS = re.compile(r"\b(?:century|centuries|decades?|ago)\b", re.IGNORECASE)
ASKS_COUNT = re.compile(
    r"\b(?:how (?:many|much|large|big|long|far)|what (?:number|amount|size)|"
    r"what is the (?:number|amount|size))\b",
    re.IGNORECASE,
)
ASKS_PERCENT = re.compile(
    r"\b(?:what|which|how (?:large|big|much)(?: a)?) (?:share|percentage|proportion|fraction|"
    r"percent)\b",
    re.IGNORECASE,
)
ASKS_TIME = re.compile(
    r"^\s*(?:and\s+)?when\b|\b(?:what|which) (?:year|years|date|month|decade|century|day)\b", re.IGNORECASE
)
# "How many American troops are ...": the counted thing is the last word before the verb.
COUNTED = re.compile(
    r"\bhow many ((?:[\w’'.-]+ ){0,3}?[\w’'-]+?)(?: (?:are|is|were|was|did|does|do|would|will|has|have|had|"
    r"can|could|should|might|must)\b|[?,]|$)",
    re.IGNORECASE,
)
ASKS_MONEY = re.compile(
    r"\bhow much (?:money|funding|aid|did .{0,60}\bcost|does .{0,60}\bcost)|\bwhat (?:is|was|were) "
    r"the (?:cost|budget|price|value)|\b(?:cost|price|budget|worth) (?:of|in) (?:dollars|euros)\b",
    re.IGNORECASE,
)
MONEY = re.compile(r"[$€£¥]|\b(?:dollars?|euros?|pounds|usd|eur|budget|billion|million|trillion)\b", re.IGNORECASE)
# The words that only say what kind of answer is wanted, not what it is about.
WH_WORDS = frozenset(
    tokens(
        "year years date month day decade century time many much number amount share "
        "percentage proportion fraction percent name names large big long far exactly "
        "specifically precisely"
    )
)
# "Which countries ..." wants countries named (two or more for the plural); "which countries'
# newspapers" asks for newspapers, so a possessive is not the answer type.
ASKS_COUNTRY = re.compile(
    r"\b(?:which|what) (?:other )?(countries|country|nations|nation|states)\b(?![’'])", re.IGNORECASE
)
NOT_COUNTRIES = frozenset(stem(w) for w in "europe european europeans brussels eu".split())
# Who- and name-questions want a name that the question does not already contain.
ASKS_NAME = re.compile(
    r"^\s*(?:and\s+)?(?:who|whom|whose)\b|\bwhat (?:is|was|are|were) the names?\b|\bname the\b", re.IGNORECASE
)
QUESTION_OPENERS = frozenset(
    "what who whom which when where why how is are was were do does did can could "
    "should would will has have had in on at for according and but so apart besides "
    "if given ignore tell please".split()
)
CAPITALISED = re.compile(r"\b[A-Z][\w’'.-]*")
NUMBER_IN_QUESTION = re.compile(r"\b\d[\d,.]*\b")


@dataclass(frozen=True)
class Name:
    words: tuple[frozenset[str], ...]  # each word: the stems any of which satisfies it

    def present_in(self, window: set[str] | frozenset[str]) -> bool:
        return all(_word_present(word, window) for word in self.words)


@dataclass(frozen=True)
class QuestionShape:
    wants_count: bool = False
    wants_percent: bool = False
    wants_time: bool = False
    wants_name: bool = False
    wants_money: bool = False
    counted: str | None = None  # stem of what "how many" counts; the evidence must name it
    wants_country: int = 0  # how many countries the answer must name (0: not a country question)
    names: tuple[tuple[Name, ...], ...] = ()  # groups of alternatives: one name of each group must appear
    numbers: tuple[str, ...] = ()  # numbers the question states, digits only
    question_terms: frozenset[str] = frozenset()
    predicate_terms: frozenset[str] = frozenset()  # content words that are neither names nor wh-words

    @property
    def typed(self) -> bool:
        return (
            self.wants_count
            or self.wants_percent
            or self.wants_time
            or self.wants_name
            or self.wants_money
            or self.wants_country > 0
        )

    def satisfied_by(  # noqa: PLR0911 - one return per constraint the evidence fails
        self,
        text: str,
        window_terms: set[str] | frozenset[str],
        text_terms: set[str] | frozenset[str],
        strong_match: bool = False,
        near_terms: set[str] | frozenset[str] | None = None,
    ) -> bool:
        """Can evidence `text` (with `text_terms`), read with the terms of its paragraph and
        section (`window_terms`), answer this? A typed question (how many, when, who, ...)
        also needs the evidence to speak of what the question asks about: one of its predicate
        words, unless the sentence is a strong semantic match anyway."""
        if self.wants_money and not MONEY.search(text):
            return False
        if self.wants_country and _new_countries(text_terms, self.question_terms) < self.wants_country:
            return False
        if self.wants_count and not COUNT.search(YEAR.sub(" ", text)):
            return False
        if self.counted and self.counted not in text_terms and not strong_match:
            return False
        if self.wants_percent and not PERCENT.search(text):
            return False
        if self.wants_time and not (YEAR.search(text) or MONTH.search(text) or TIME_WORDS.search(text)):
            return False
        if self.wants_name and not _new_name(text, self.question_terms):
            return False
        if any(number not in window_terms for number in self.numbers):
            return False
        if self.typed and self.predicate_terms and not strong_match and not (self.predicate_terms & text_terms):
            return False
        # A number belongs to what stands near it: for "how many / how much / what share"
        # the names must be in the evidence itself (or its section title), not just the paragraph.
        quantity = self.wants_count or self.wants_percent or self.wants_money
        names_window = near_terms if (quantity and near_terms is not None) else window_terms
        for group in self.names:
            present = [name for name in group if name.present_in(names_window)]
            if not present or all(_only_in_enumeration(name, text) for name in present):
                return False
        return True


def _word_present(word: frozenset[str], window: set[str] | frozenset[str]) -> bool:
    for term in word:
        if term in window:
            return True
        # "Korean" meets "Korea": the same name with a suffix.
        if len(term) >= 5 and any(len(w) >= 5 and w[:5] == term[:5] for w in window):
            return True
    return False


def _new_name(text: str, question_terms: frozenset[str]) -> bool:
    """A capitalised word inside a sentence (not its first word) that the question lacks and
    that is not a country or its people (those are context, not an answer to "who")."""
    for match in CAPITALISED.finditer(text):
        before = text[: match.start()].rstrip()
        if not before or before[-1] in ".!?:•-–":
            continue
        stems = set(tokens(match.group(0)))
        if stems and not stems & question_terms and not any(s in ALIAS_OF for s in stems):
            return True
    return False


def _new_countries(text_terms: set[str] | frozenset[str], question_terms: frozenset[str]) -> int:
    """How many countries (by their name, people or capital) the evidence names that the
    question does not. Europe and the EU are not countries."""
    asked = {term for q in question_terms for term in ALIAS_OF.get(q, frozenset())}
    found = {
        ALIAS_OF[term] for term in text_terms if term in ALIAS_OF and term not in asked and term not in NOT_COUNTRIES
    }
    return len(found)


ENUMERATION = re.compile(
    r"(?:\b[A-Z][\w’'.-]*(?: [A-Z][\w’'.-]*)*, ){2,}(?:and |or )?[A-Z][\w’'.-]*(?: [A-Z][\w’'.-]*)*"
)


def _only_in_enumeration(name: Name, text: str) -> bool:
    """True when every mention of the name is one item in a list of three or more names
    ("Canada, Japan, Australia, ..."): such a sentence is about the group, not about it."""
    lists = [m.span() for m in ENUMERATION.finditer(text)]
    if not lists:
        return False
    mentions = [
        m for m in CAPITALISED.finditer(text) if Name(tuple(name.words[:1])).present_in(set(tokens(m.group(0))))
    ]
    return bool(mentions) and all(any(a <= m.start() < b for a, b in lists) for m in mentions)


def _capitalised_runs(question: str) -> list[tuple[list[str], int, int]]:
    """Runs of capitalised words with their span in the question."""
    runs: list[tuple[list[str], int, int]] = []
    previous_end = -2
    for match in CAPITALISED.finditer(question):
        word = match.group(0)
        if re.fullmatch(r"(?:[A-Za-z]\.){2,}", word):  # U.S. -> US
            word = word.replace(".", "")
        word = re.sub(r"(?:[’']s?|\.)$", "", word)
        if not word:
            continue
        lowered = normalise(word)
        if (match.start() == 0 or question[: match.start()].strip() == "") and lowered in QUESTION_OPENERS:
            continue
        if lowered in STOPWORDS or lowered in QUESTION_OPENERS:
            previous_end = -2
            continue
        if runs and question[previous_end : match.start()].strip() == "":
            runs[-1][0].append(word)
            runs[-1] = (runs[-1][0], runs[-1][1], match.end())
        else:
            runs.append(([word], match.start(), match.end()))
        previous_end = match.end()
    return runs


# "the Israel model and the South Korean model", "Israel, Korea or Finland": names joined like
# this are alternatives the question compares or chooses between, so one of them is enough.
COORDINATION = re.compile(r"^(?:\s*(?:,|and|or|the|a|an|[a-z-]+ (?=and|or))\s*){1,5}$")


def _coordinated(gap: str) -> bool:
    words = gap.split()
    return len(words) <= 5 and bool(re.search(r"(?:^|\s)(?:and|or)(?:\s|$)|,", gap)) and bool(COORDINATION.match(gap))


def _counted(question: str) -> str | None:
    match = COUNTED.search(question)
    if not match:
        return None
    stems = tokens(match.group(1))
    return stems[-1] if stems else None


def _countries_wanted(question: str) -> int:
    match = ASKS_COUNTRY.search(question)
    if not match:
        return 0
    return 2 if match.group(1).lower() in ("countries", "nations", "states") else 1


def read_question(
    question: str, corpus_terms: frozenset[str], corpus_bigrams: frozenset[tuple[str, str]]
) -> QuestionShape:
    """Answer type from the wording; names are runs of capitalised words that the corpus
    knows (a multi-word name only if the corpus has it as a phrase). A name the corpus never
    uses cannot be checked, so it is left to the relevance score instead of blocking."""
    groups: list[list[Name]] = []
    name_terms: set[str] = set()
    previous_end = None
    for run, start, end in _capitalised_runs(question):
        name_terms.update(s for word in run for s in tokens(word))
        stems = [s for word in run for s in tokens(word)]
        if not stems or not all(s in corpus_terms or s in ALIAS_OF for s in stems):
            continue
        if len(stems) > 1 and not all((a, b) in corpus_bigrams for a, b in itertools.pairwise(stems)):
            continue
        name = Name(tuple(ALIAS_OF.get(s, frozenset({s})) for s in stems))
        if any(name in group for group in groups):
            continue
        if groups and previous_end is not None and _coordinated(question[previous_end:start]):
            groups[-1].append(name)
        else:
            groups.append([name])
        previous_end = end
    numbers = tuple(dict.fromkeys(n.replace(",", "").rstrip(".") for n in NUMBER_IN_QUESTION.findall(question)))
    return QuestionShape(
        wants_count=bool(ASKS_COUNT.search(question)),
        wants_percent=bool(ASKS_PERCENT.search(question)),
        wants_time=bool(ASKS_TIME.search(question)),
        wants_name=bool(ASKS_NAME.search(question)),
        wants_money=bool(ASKS_MONEY.search(question)),
        wants_country=_countries_wanted(question),
        counted=_counted(question),
        names=tuple(tuple(group) for group in groups),
        numbers=numbers,
        question_terms=frozenset(tokens(question)),
        predicate_terms=frozenset(tokens(question)) - name_terms - WH_WORDS - frozenset(numbers),
    )
