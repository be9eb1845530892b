"""Evidence selection without an LLM: score every sentence of the retrieved chunks against the
question, decide once whether any answers it, and pick the few that do.

Each sentence gets a vector of features (rag/features.py `FEATURES`): closeness in meaning,
the question's words and names in the sentence and in what a reader has in mind around it, the
kind of answer it holds, its shape and its chunk's rank. A logistic model turns them into the
probability that the sentence answers the question, which ranks the sentences.

Whether to answer at all is one decision over all the signals (`DECISION_FEATURES`): a second
logistic model over the best sentence's probability and features, and what the question itself
reveals against the corpus (how much of its informative wording, and which of its names, the
corpus never uses). Both models and the decision threshold are fitted on the tuning question
sets by `python -m evals.fit` and shipped in rag/evidence_model.json. Names and types are
evidence, not vetoes: a sentence that says "It was signed in 1994" under the heading "The
Budapest Memorandum" answers "When was the Budapest Memorandum signed?".

Hands on groups of consecutive sentences, each of which becomes one citation, or nothing.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files

import numpy as np
from langchain_core.documents import Document

from rag.features import previous_in_section, sentence_features
from rag.lexical import tokens
from rag.question import QuestionShape
from rag.snapshot import IndexSnapshot, SentenceRow

DECISION_FEATURES = (
    "best",
    "best_fitting",
    "runner_up",
    "best_dense",
    "best_coverage_window",
    "best_names_window",
    "best_type_missing",
    "best_numbers_missing",
    "best_type_match",
    "unseen_share",
    "absent_names",
    "explains",
    "states_numbers",
)
MAX_LIST_ITEMS = 12
# Two answer sentences whose vectors are this close say the same thing (MiniLM cosine).
DUPLICATE_SIMILARITY = 0.9
MMR_LAMBDA = 0.75


@dataclass(frozen=True)
class EvidenceModel:
    """The fitted decision: weights over FEATURES, a bias, the probability below which the
    answerer abstains, and how far below the best a further sentence may score."""

    weights: dict[str, float]
    bias: float
    decision_weights: dict[str, float]
    decision_bias: float
    threshold: float  # on the decision probability
    margin: float
    explanation_margin: float
    provenance: str = ""

    def probability(self, features: Mapping[str, float]) -> float:
        """That one sentence answers the question."""
        return _logistic(self.bias, self.weights, features)

    def answer_probability(self, features: Mapping[str, float]) -> float:
        """That the question can be answered from the best sentences found."""
        return _logistic(self.decision_bias, self.decision_weights, features)

    def to_json(self) -> str:
        return json.dumps(self.__dict__, indent=1, sort_keys=True) + "\n"


def _logistic(bias: float, weights: Mapping[str, float], features: Mapping[str, float]) -> float:
    z = bias + sum(weights.get(name, 0.0) * value for name, value in features.items())
    return 1.0 / (1.0 + math.exp(-max(min(z, 40.0), -40.0)))


@lru_cache(maxsize=1)
def default_model() -> EvidenceModel:
    """The model shipped in rag/evidence_model.json."""
    data = json.loads(files("rag").joinpath("evidence_model.json").read_text(encoding="utf-8"))
    return EvidenceModel(**data)


@dataclass(frozen=True)
class ScoredSentence:
    sentence: SentenceRow
    chunk_rank: int
    features: dict[str, float]
    probability: float


def score_sentences(
    snapshot: IndexSnapshot,
    documents: Sequence[Document],
    question_vectors: Sequence[np.ndarray],
    focus: np.ndarray,
    shape: QuestionShape,
    model: EvidenceModel,
) -> list[ScoredSentence]:
    """The retrieved chunks' sentences, most probable answer first; `focus` is the vector of the
    question without its names (rag.names.without_names)."""
    scored = [
        ScoredSentence(sentence, rank, features, model.probability(features))
        for sentence, rank, features in sentence_features(snapshot, documents, question_vectors, focus, shape)
    ]
    scored.sort(key=lambda s: (-s.probability, s.sentence.source_id, s.sentence.index))
    return scored


def decision_features(
    snapshot: IndexSnapshot, scored: Sequence[ScoredSentence], shape: QuestionShape
) -> dict[str, float]:
    """What the answer-or-abstain decision sees: the best sentence and the question against the corpus."""
    best = scored[0] if scored else None
    stats = snapshot.term_stats
    total = sum(weight * stats.idf(term) for term, weight in shape.terms.items())
    unseen = sum(weight * stats.idf(term) for term, weight in shape.terms.items() if term not in stats.frequency)
    absent = [n for n in shape.names if not (n.aliases & stats.frequency.keys() or n.present_in(stats.vocabulary))]
    features = best.features if best is not None else {}
    fitting = [s.probability for s in scored if _fits(s.features)]
    return {
        "best": best.probability if best is not None else 0.0,
        # The best sentence that also holds every name and number the question states (around it)
        # and the kind of answer it asks for: a question built on a false premise often finds
        # close sentences, but none that fits all of it.
        "best_fitting": max(fitting, default=0.0),
        "runner_up": scored[1].probability if len(scored) > 1 else 0.0,
        "best_dense": features.get("dense", 0.0),
        "best_coverage_window": features.get("coverage_window", 0.0),
        "best_names_window": features.get("names_window", 0.0),
        "best_type_missing": features.get("type_missing", 0.0),
        "best_numbers_missing": features.get("numbers_missing", 0.0),
        # With type_missing this tells a typed question whose answer is there from one that asks
        # for no type of answer at all.
        "best_type_match": features.get("type_match", 0.0),
        "unseen_share": unseen / total if total > 0 else 1.0,
        "absent_names": len(absent) / len(shape.names) if shape.names else 0.0,
        # What kind of question it is: a "why" or "how" question, or one that states a number (a
        # year, a count), is the usual shape of a false premise ("Why did X close in 1932?"), so
        # the fit learns how much more evidence such a question needs.
        "explains": 1.0 if shape.wants_explanation else 0.0,
        "states_numbers": 1.0 if shape.numbers else 0.0,
    }


def _fits(features: Mapping[str, float]) -> bool:
    return (
        features.get("names_window", 1.0) >= 1.0
        and features.get("numbers_missing", 0.0) == 0.0
        and features.get("type_missing", 0.0) == 0.0
        and features.get("counted_missing", 0.0) == 0.0
    )


def select_evidence(
    snapshot: IndexSnapshot,
    scored: Sequence[ScoredSentence],
    model: EvidenceModel,
    max_sentences: int,
    shape: QuestionShape,
    threshold: float | None = None,
) -> list[list[SentenceRow]]:
    """The best sentence if it clears the threshold; then others nearly as probable, kept apart by
    MMR; each with what it needs to stand alone; neighbours merged into groups (one citation
    each), best first. Nothing (abstain) when the best does not clear the threshold."""
    floor = model.threshold if threshold is None else threshold
    if not scored or shape.instruction:
        return []
    if model.answer_probability(decision_features(snapshot, scored, shape)) < floor:
        return []
    best = scored[0]
    margin = model.explanation_margin if shape.wants_explanation else model.margin
    eligible = [
        s for s in scored[1:] if s.probability >= best.probability - margin and not _about_a_namesake(s, best, shape)
    ]
    chosen = _diverse(snapshot, best, eligible, max_sentences, shape.wants_explanation)
    keys: dict[tuple[str, int], float] = {}
    for item in chosen:
        for sentence in expand(snapshot, item.sentence, shape.wants_explanation):
            key = (sentence.source_id, sentence.index)
            keys[key] = max(keys.get(key, 0.0), item.probability)
    return _group(snapshot, keys)


def _about_a_namesake(candidate: ScoredSentence, best: ScoredSentence, shape: QuestionShape) -> bool:
    """A further sentence about another thing of a like name: fewer of the question's names stand
    around it than around the best, and it names something with the same head word as one of
    them, set apart by a modifier ("South Vell has a population of 186,000" beside the answer
    about North Vell; "the Tacoma Narrows Bridge" for a question about the Golden Gate Bridge)."""
    if candidate.features["names_window"] >= best.features["names_window"]:
        return False
    heads = {_head(name.text): name for name in shape.names}
    for entity in candidate.sentence.facts.entities:
        words = tokens(entity.text)
        name = heads.get(_head(entity.text))
        # Two words at least: a modifier sets it apart ("South Vell"); "State" alone is no namesake.
        if name is not None and len(words) >= 2 and not name.present_in(set(words)):
            return True
    return False


def _head(text: str) -> str | None:
    """The head word's stem of an English name: its last word, or the last before "of" ("the
    Secretary of State" -> secretari; "South Vell" -> vell)."""
    words = tokens(text.split(" of ", maxsplit=1)[0])
    return words[-1] if words else None


def _diverse(
    snapshot: IndexSnapshot, best: ScoredSentence, eligible: list[ScoredSentence], max_sentences: int, explain: bool
) -> list[ScoredSentence]:
    """The best, then MMR over the eligible; a sentence the chosen ones already bring along
    (the one a choice refers back to, a list's items) is not chosen again."""
    chosen = [best]
    covered = {s.sentence_id for s in expand(snapshot, best.sentence, explain)}
    eligible = [c for c in eligible if c.sentence.sentence_id not in covered]
    vectors = snapshot.sentence_vectors

    def redundancy(candidate: ScoredSentence) -> float:
        return max(float(vectors[candidate.sentence.row] @ vectors[c.sentence.row]) for c in chosen)

    # Relevance on the model's score scaled to [0, 1] over the candidates: probabilities saturate
    # (several at 0.99), and then the redundancy term alone would decide.
    scores = {id(c): _logit(c.probability) for c in eligible}
    low, high = min(scores.values(), default=0.0), _logit(best.probability)

    def relevance(candidate: ScoredSentence) -> float:
        return (scores[id(candidate)] - low) / (high - low) if high > low else 1.0

    while eligible and len(chosen) < max_sentences:
        candidate = max(eligible, key=lambda c: MMR_LAMBDA * relevance(c) - (1 - MMR_LAMBDA) * redundancy(c))
        eligible.remove(candidate)
        if redundancy(candidate) < DUPLICATE_SIMILARITY:
            chosen.append(candidate)
            covered |= {s.sentence_id for s in expand(snapshot, candidate.sentence, explain)}
            eligible = [c for c in eligible if c.sentence.sentence_id not in covered]
    return chosen


def _logit(probability: float) -> float:
    p = min(max(probability, 1e-9), 1 - 1e-9)
    return math.log(p / (1 - p))


def expand(snapshot: IndexSnapshot, sentence: SentenceRow, explain: bool = False) -> list[SentenceRow]:
    """The sentence plus what it needs to stand alone: the sentences of its paragraph it refers
    back to (a paragraph's first sentence leans on no other), the items of a list that follows it,
    and the answer to a question it poses."""
    out = [sentence]
    current = sentence
    for _ in range(2 if explain else 1):
        previous = previous_in_section(snapshot, current)
        # An explanation also takes the sentence before: a cause is often stated just before
        # its effect ("The sea had begun to erode the rock. A replacement was built.").
        leans = current.facts.refers_back or (explain and current is sentence)
        if not leans or current.is_list_item or previous is None or previous.is_list_item:
            break
        if previous.paragraph != current.paragraph:
            break
        out.insert(0, previous)
        current = previous
    following = snapshot.sentence_at(sentence.source_id, sentence.index + 1)
    if not sentence.is_list_item and following is not None and following.is_list_item:
        for offset in range(1, MAX_LIST_ITEMS + 1):
            item = snapshot.sentence_at(sentence.source_id, sentence.index + offset)
            if item is None or not item.is_list_item or item.section != sentence.section:
                break
            out.append(item)
        return out
    if following is not None and following.section == sentence.section and not following.is_list_item:
        poses = sentence.text.rstrip("’”\"' ").endswith("?")
        continues = explain and following.paragraph == sentence.paragraph and following.facts.refers_back
        if poses or continues:
            out.append(following)
    return out


def _group(snapshot: IndexSnapshot, keys: Mapping[tuple[str, int], float]) -> list[list[SentenceRow]]:
    groups: list[tuple[float, list[SentenceRow]]] = []
    for source_id, index in sorted(keys):
        sentence = snapshot.sentence_at(source_id, index)
        if sentence is None:
            continue
        last = groups[-1][1][-1] if groups else None
        if (
            last is not None
            and last.source_id == source_id
            and last.index == index - 1
            and last.section == sentence.section
        ):
            score, members = groups[-1]
            groups[-1] = (max(score, keys[(source_id, index)]), [*members, sentence])
        else:
            groups.append((keys[(source_id, index)], [sentence]))
    groups.sort(key=lambda item: -item[0])
    return [members for _, members in groups]
