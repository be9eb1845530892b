"""Is a sentence supported by a passage? The one support test, shared by the evals (faithfulness,
citation recall and precision) and by any answerer that writes its own sentences and must check
them against what it cites.

`check_support(sentence, passage)` says yes when some window of the passage (a run of up to three
consecutive sentences, so that anchors scattered over a long chunk do not add up to support)
meets all of these:

1. Anchors. Every number (digits: "28,000" == "28000", "20th" == "20", years included) and every
   name in the sentence occurs in the window. A name is an acronym anywhere ("NATO", "U.S.") or
   capitalised words not opening the sentence (months included, so "September 2025" is a name
   and a year); adjacent name words form one name, which its initials also satisfy ("EU" for
   "European Union"). A name that names a country is present only when the window names the
   same country (rag/places.py: "U.S." and "the United States" are one; "North Korea" is not
   in a window on "South Korea" and "the North"); another name word when one is a prefix of the
   other ("Korea"/"Korean"). The passage's number words count as numbers ("twenty-six" supports
   "26"); so do the sentence's from "two" up ("four commitments" needs a four there), but not
   "one", so a sentence saying "one of the ..." needs no "1" in its passage. Links, e-mail
   addresses, HTML tags and Markdown links in the sentence must stand in
   the window as written.
2. No negation flip (rag/negation.py). Negation cues are not/no/never/cannot/nor/without, n't, and "rather than",
   "instead of", "neither", "lack of". Each cue negates the first content word after it in its
   clause ("is not realistic" negates "realistic"). A flip is a word negated on one side and
   used plainly on the other, in a sentence with no cue at all and a clause sharing at least one
   more content word with the other side; a word the window both negates and states plainly is
   not held against the sentence. Two negative sentences agree even when their cues fall on
   different words ("No signatory is obliged" against "It creates no duty for any signatory").
   That is what turns "NATO membership is not realistic" into "NATO membership is realistic":
   same words, no cue.
3. Enough of the sentence is there: the share of its distinct content-word stems
   (rag.lexical.tokens, aliases count) found in the window reaches `thresholds.lexical`, or, with
   an embedding model, the MiniLM cosine between the sentence and the window reaches
   `thresholds.semantic`. Quotes pass on words; paraphrases need the model.
4. With a role check (rag.roles.RoleParser, spaCy's dependency parse): the window does not give
   the sentence's names other roles ("Israel provided guarantees to the U.S." against "the U.S.
   provided guarantees to Israel") or its number to another event. The evals leave it out for
   quotes, which are the source's own words; the llm mode's guard always runs it.

rag.answer_sentences cuts an answer into the sentences this test is run on, each with the [n]
markers that apply to it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from rag.anchors import (
    initials_present,
    links_not_in,
    lowercase_only,
    name_present,
    names_in,
    numbers_in,
    sentence_numbers,
)
from rag.answer_sentences import clean_sentence
from rag.lexical import NEGATIONS, PRONOUNS_REFERRING, tokens
from rag.negation import CONTRACTED_NOT, Negation, affirmative_stems, negations_in, plain_clauses, stated_plainly
from rag.negation import flip as negation_flip
from rag.places import countries_in, country_code
from rag.sentences import LIST_MARKER, split_sentences


class Encoder(Protocol):
    """What the semantic half of the test needs: unit-length sentence vectors (MiniLMEmbeddings,
    or the guard's memoising wrapper of it)."""

    def encode(self, texts: list[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class SupportThresholds:
    """The bounds of the support test, kept here and nowhere else (evals/thresholds.toml holds
    only the gate on the resulting scores). Values measured on the sentences in
    tests/evals/test_grounding.py, which hold both faithful and unfaithful ones.

    lexical = 0.9: share of the sentence's distinct content stems that must be in the passage for
        word overlap alone to count as support, i.e. at most one new content word in ten. A quote
        scores 1.0. Sentences that keep the passage's words but add a claim score 0.6-0.86
        ("Zelenskyy said that European countries refuse to guarantee Ukraine's security": 0.86;
        "The Red Cell Project recommends that Ukraine build nuclear weapons": 0.62), so the bound
        sits above them and such sentences must pass on meaning instead, which they do not.
    semantic = 0.8: MiniLM (all-MiniLM-L6-v2) cosine between the sentence and a passage window
        (below). Paraphrases score 0.82-0.96; new
        claims on the passage's topic 0.59-0.77 (the closest: "South Korea has promised to send
        air defense systems to Ukraine", 0.77). A wrong year, a swapped name or a dropped "not"
        can score above 0.8, which is why anchors and negation are hard rules, not scores.
    min_shared = 1: besides the negated word itself, how many content words a clause must share
        with the other side for a negation difference to count as a flip (so a "cannot" in an
        unrelated clause of a long passage does not veto a sentence).
    window = 3: a sentence is judged against runs of at most this many consecutive passage
        sentences, not the passage as a whole. A retrieved chunk holds "After 1940, ..." and,
        five sentences on, "In 2023, the country joined NATO."; "In 1940, Finland joined NATO"
        finds every anchor somewhere in it, but in no window. Three sentences leave room for an
        answer sentence that sums up a short run of the source.
    """

    lexical: float = 0.9
    semantic: float = 0.8
    min_shared: int = 1
    window: int = 3

    def __post_init__(self) -> None:
        for name in ("lexical", "semantic"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} threshold must be between 0 and 1, got {value}")
        if self.window < 1 or self.min_shared < 0:
            raise ValueError(f"window must be >= 1 and min_shared >= 0, got {self.window}, {self.min_shared}")


DEFAULT = SupportThresholds()


@dataclass(frozen=True)
class Support:
    supported: bool
    reasons: list[str] = field(default_factory=list)  # empty when supported
    lexical: float = 0.0  # share of the sentence's content stems found in the passage
    semantic: float | None = None  # best cosine; None when not computed (no model, or words sufficed)


# Windows whose roles are checked before the sentence is declared unsupported (best first).
MAX_ROLE_CHECKS = 4


class RoleCheck(Protocol):
    """Who does what to whom (rag.roles.RoleParser): reasons the window says otherwise."""

    def conflicts(self, sentence: str, window: str) -> list[str]: ...


def passage_sentences(passage: str) -> list[str]:
    """The passage's sentences. A blank line (between cited quotes or paragraphs) and a list
    marker at the start of a line end a sentence; any other line break is only where the source
    wrapped its lines (a PDF's, say), so a sentence runs on across it."""
    sentences: list[str] = []
    for block in re.split(r"\n\s*\n", passage):
        items: list[str] = []
        for line in block.splitlines():
            line = line.strip()
            bullet = LIST_MARKER.match(line)
            if bullet or not items:
                items.append(line[bullet.end() :] if bullet else line)
            else:
                items[-1] = f"{items[-1]} {line}"
        for body in items:
            sentences += [" ".join(body[a:b].split()) for a, b in split_sentences(body, 0, len(body))]
    return sentences or [" ".join(passage.split())]


def passage_windows(passage: str, size: int) -> list[str]:
    """Every run of 1..size consecutive passage sentences."""
    sentences = passage_sentences(passage)
    return [
        " ".join(sentences[i : i + width]) for width in range(1, size + 1) for i in range(len(sentences) - width + 1)
    ]


@dataclass
class _Verdict:
    window: str
    hard: list[str]  # failed anchors and negation flips
    lexical: float


@dataclass(frozen=True)
class Surroundings:
    """What a passage's title and section say, for the names a window leaves to them."""

    stems: set[str]
    countries: set[str]
    name: str = ""  # the one name they may supply: the sentence's opening name

    def supply(self, name: str, window: str) -> bool:
        """Whether they supply `name` to a window that opens by pointing back ("It ...")."""
        opening = re.match(r"\W*(\w+)", window)
        return (
            name == self.name
            and opening is not None
            and opening.group(1).lower() in PRONOUNS_REFERRING
            and name_present(name, self.stems, self.countries)
        )


NOTHING_AROUND = Surroundings(set(), set())


def _leading_name(sentence: str) -> str:
    """The name a sentence opens with, after at most an article ("The Budapest Memorandum
    creates ..." -> "Budapest Memorandum"), or ""."""
    names = names_in(sentence)
    if not names:
        return ""
    opening = re.sub(r"^\W*(?:the|a|an)\s+", "", sentence.strip(), flags=re.IGNORECASE)
    return names[0] if opening.startswith(names[0]) else ""


def _judge_window(
    text: str,
    content: set[str],
    negations: list[Negation],
    window: str,
    thresholds: SupportThresholds,
    around: Surroundings = NOTHING_AROUND,
) -> _Verdict:
    window_tokens = tokens(CONTRACTED_NOT.sub(" not", window))
    window_numbers = numbers_in(window, words=True)
    stems = set(window_tokens) | window_numbers  # "twenty-six" in the passage covers "26"
    hard = [f"number {n} is not in the passage" for n in sorted(sentence_numbers(text) - window_numbers)]
    hard += [f"{found!r} is not in the passage" for found in links_not_in(text, window)]
    names = names_in(text)
    countries = countries_in(window, patterns=True)
    named = {name for name in names if name_present(name, stems, countries) or around.supply(name, window)}
    hard += [f"name {name!r} is not in the passage" for name in names if name not in named]
    hard += [
        f"acronym {name!r} is not written as a name in the passage" for name in names if lowercase_only(name, window)
    ]
    # A name's words count as there when the passage has its initials or names the same country.
    by_initials = {t for name in names if initials_present(name, stems) for t in tokens(name)}
    # (Capitalised words count too: a sentence may open with its country, "Washington backs ...".)
    spoken = [*names, *re.findall(r"\b[A-Z][\w’'.-]*", text)]
    by_initials |= {t for name in spoken if country_code(name) in countries for t in tokens(name)}
    by_initials |= {t for name in named for t in tokens(name)}
    window_negations = negations_in(window)
    affirmed = affirmative_stems(passage_sentences(window))
    flip = negation_flip(negations, affirmed, {n.focus for n in window_negations}, thresholds.min_shared)
    if flip:
        hard.append(f"negation flip: the sentence negates {flip.focus!r} ({flip.cue_text!r}), the passage does not")
    # A word the passage negates in one place and states plainly in another clause on the same
    # thing gives a sentence using it plainly support.
    clauses = plain_clauses(window)
    negated_only = [n for n in window_negations if not stated_plainly(n, clauses, content, thresholds.min_shared)]
    flip = negation_flip(negated_only, set() if negations else content, set(), thresholds.min_shared)
    if flip:
        hard.append(f"negation flip: the passage negates {flip.focus!r} ({flip.cue_text!r}), the sentence does not")
    # A word the sentence states and the window only ever negates is not there: "Israel is a treaty
    # ally" does not find "treaty" in "... partnership without a treaty ...".
    counts, negated = Counter(window_tokens), Counter(n.focus for n in window_negations)
    said_plainly = {n.focus for n in negations}
    absent = {w for w in negated if counts[w] <= negated[w] and w not in said_plainly}
    lexical = sum(t in by_initials or (t in stems and t not in absent) for t in content) / len(content)
    return _Verdict(window, hard, lexical)


def _first_consistent(
    text: str, windows: Sequence[tuple[_Verdict, float | None]], roles: RoleCheck | None, reasons: list[str]
) -> tuple[_Verdict, float | None] | None:
    """The first window (best first) whose roles agree with the sentence; the conflicts of the
    others go into `reasons`. Only the best few are parsed: each parse costs milliseconds."""
    for verdict, score in windows[:MAX_ROLE_CHECKS]:
        conflicts = roles.conflicts(text, verdict.window) if roles is not None else []
        if not conflicts:
            return verdict, score
        reasons += [c for c in conflicts if c not in reasons]
    return None


def check_support(
    sentence: str,
    passage: str,
    *,
    embeddings: Encoder | None = None,
    thresholds: SupportThresholds = DEFAULT,
    roles: RoleCheck | None = None,
    context: str = "",
) -> Support:
    """Whether `passage` supports `sentence`: some window of the passage (up to
    `thresholds.window` consecutive sentences) holds its anchors, shows no negation flip, has
    enough of it by words or, with a model, by meaning, and (with `roles`) does not give its
    names other roles. Reasons come from the window that came closest. See the module docstring
    for each rule. `context` (the passage's document title and section heading) can supply the
    name the sentence opens with to a window that opens with a pronoun: "The Budapest Memorandum
    creates no duty ..." against "It creates no duty ..." under that title. Nothing else comes
    from it: a later name, a number or any other word must stand in the window itself."""
    text = clean_sentence(sentence)
    content = set(tokens(CONTRACTED_NOT.sub(" not", text))) - NEGATIONS
    if not content:
        return Support(False, ["the sentence has no content words"], 0.0, None)
    if not passage.strip():
        return Support(False, ["no passage to support it"], 0.0, None)
    negations = negations_in(text)
    leading = _leading_name(text)
    around = (
        Surroundings(set(tokens(context)), countries_in(context, patterns=True), leading)
        if context and leading
        else NOTHING_AROUND
    )
    verdicts = [
        _judge_window(text, content, negations, w, thresholds, around)
        for w in passage_windows(passage, thresholds.window)
    ]
    candidates = sorted((v for v in verdicts if not v.hard), key=lambda v: -v.lexical)
    role_reasons: list[str] = []
    by_words = [(v, None) for v in candidates if v.lexical >= thresholds.lexical]
    if by_words and (found := _first_consistent(text, by_words, roles, role_reasons)):
        return Support(True, [], round(found[0].lexical, 4), None)
    semantic = None
    if candidates and embeddings is not None:
        vectors = embeddings.encode([text] + [v.window for v in candidates])
        scores = [float(x) for x in vectors[1:] @ vectors[0]]
        semantic = max(scores)
        by_meaning = sorted(
            ((v, x) for v, x in zip(candidates, scores, strict=True) if x >= thresholds.semantic), key=lambda p: -p[1]
        )
        if by_meaning and (found := _first_consistent(text, by_meaning, roles, role_reasons)):
            return Support(True, [], round(found[0].lexical, 4), round(float(found[1] or 0.0), 4))
    if role_reasons:
        return Support(False, role_reasons, round(candidates[0].lexical, 4), semantic and round(semantic, 4))
    return _unsupported(verdicts, embeddings is not None, semantic, thresholds)


def _unsupported(
    verdicts: list[_Verdict],
    has_model: bool,
    semantic: float | None,
    thresholds: SupportThresholds,
) -> Support:
    """Explained with the window that matches the sentence's words best: its failed anchors or flips."""
    closest = max(verdicts, key=lambda v: (v.lexical, -len(v.hard)))
    reasons = list(closest.hard)
    if not has_model:
        shown = "no model given"
    elif semantic is None:
        shown = "no window without a missing anchor or a negation flip to compare meaning with"
    else:
        shown = f"semantic {semantic:.2f} < {thresholds.semantic}"
    if closest.lexical < thresholds.lexical:
        reasons.append(
            f"too little of it is in the passage: lexical {closest.lexical:.2f} < {thresholds.lexical}, {shown}"
        )
    return Support(False, reasons, round(closest.lexical, 4), None if semantic is None else round(semantic, 4))
