"""Evidence selection without an LLM: score the sentences inside the retrieved chunks against the
question and pick the few that answer it.

Scores use the sentence embeddings computed at ingest (only the question is embedded now) and
IDF-weighted term coverage; MMR keeps near-duplicates out. Hands on groups of consecutive
sentences, each of which becomes one citation, or nothing when the best sentence is not relevant
enough (the answerer then abstains).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from langchain_core.documents import Document

from rag.lexical import ALIAS_OF
from rag.question import QuestionShape
from rag.snapshot import IndexSnapshot, SentenceRow

# Relevance = DENSE_WEIGHT * cosine + (1 - DENSE_WEIGHT) * term coverage. Both lie in [0, 1]
# for the sentences that matter, so one threshold (settings.abstain_threshold) applies.
DENSE_WEIGHT = 0.6
# Ranking adds a little for the chunk's fused retrieval rank; relevance alone decides abstention.
RANK_BONUS = 0.05
MMR_LAMBDA = 0.75
# A further sentence joins the answer only if it is nearly as relevant as the best one.
SECOND_SENTENCE_MARGIN = 0.06
DUPLICATE_SIMILARITY = 0.9
MAX_LIST_ITEMS = 12
# A sentence opening with these leans on the one before it ("Given this, ..."), so that one
# comes along to make the answer readable on its own.
# A sentence opening with these leans on the one before it ("Given this, ...", "However, ..."),
# so that one comes along (up to MAX_BACK_STEPS) to make the answer readable on its own.
LEANS_BACK = re.compile(
    r"^(?:(?:given|considering|despite|because of|due to|in spite of|besides) (?:this|that|these|those)\b"
    r"|(?:this|these|those|such|they)\b(?! is (?:important|clear|also clear|essential|true))"
    r"|(?:as a result|however|moreover|furthermore|in addition|additionally|also|still|nevertheless|"
    r"at the same time|on the one hand|on the other hand|second(?:ly)?|third(?:ly)?|finally|therefore|thus|hence|"
    r"consequently|in this case|in that case),)",
    re.IGNORECASE,
)
# "...according to the same think-tank": the name is in an earlier sentence.
REFERS_BACK = re.compile(r"\bthe (?:same|latter|former|aforementioned)\b(?! (?:time|way))", re.IGNORECASE)
# A sentence that poses a question ("the main question is whether ...") is answered by the next.
POSES_QUESTION = re.compile(r"\bquestion (?:is|was|remains) (?:whether|if|how|what|why|who)\b", re.IGNORECASE)
# A question that asks for two things ("... the EU and NATO, respectively") needs room for both.
MULTI_PART = re.compile(
    r"\brespectively\b|\bboth\b|\band (?:what|why|how|when|who|which|where)\b|\bfor and against\b"
    r"|\bin common\b|\bcompared?\b|\bdiffer|\bwhich (?:one|of)\b",
    re.IGNORECASE,
)
# The next sentence spells out what this one announces ("... two core issues." "These are ...").
SPELLED_OUT_NEXT = re.compile(r"^(?:these|they|those|this|it) (?:are|is|were|was|include|includes)\b", re.IGNORECASE)
# Questions that want reasons or descriptions get room for more than one sentence, may follow
# back-references two steps instead of one, and take the next sentence when it elaborates.
WANTS_EXPLANATION = re.compile(
    r"\b(?:why|how (?:does|do|did|would|could|can|is|are|was|were|might|should)|explain|describe|"
    r"in what (?:way|sense)|what (?:are|were) the|compare|what (?:is|are) the (?:difference|pros|cons|drawback|"
    r"advantage|disadvantage|benefit|risk))",
    re.IGNORECASE,
)
EXPLANATION_MARGIN = 0.12
# Evidence for the second alternative of a two-part question may score this much lower.
COMPLEMENT_RATIO = 0.8
# A sentence this close to the question in embedding space answers what it asks about even
# when it shares none of its words (a paraphrase).
STRONG_DENSE_MATCH = 0.65


@dataclass(frozen=True)
class ScoredSentence:
    sentence: SentenceRow
    relevance: float
    dense: float
    coverage: float
    chunk_rank: int

    @property
    def ranking(self) -> float:
        return self.relevance + RANK_BONUS / self.chunk_rank


def score_sentences(
    snapshot: IndexSnapshot,
    documents: Sequence[Document],
    question_vectors: Sequence[np.ndarray],
    query_terms: Mapping[str, float],
) -> list[ScoredSentence]:
    """Every sentence of the retrieved chunks, scored once (overlapping chunks share some)."""
    seen: set[str] = set()
    rows: list[tuple[SentenceRow, int]] = []
    for document in documents:
        chunk = snapshot.chunks[snapshot.chunk_position[document.metadata["chunk_id"]]]
        for sentence in snapshot.sentences_of(chunk):
            if sentence.sentence_id not in seen:
                seen.add(sentence.sentence_id)
                rows.append((sentence, int(document.metadata.get("rank", 1))))
    if not rows:
        return []
    matrix = snapshot.sentence_vectors[[row.row for row, _ in rows]]
    # A follow-up brings two vectors (with and without its context): the better match counts.
    dense_scores = np.max(matrix @ np.vstack(question_vectors).astype(np.float32).T, axis=1)
    scored = []
    for (sentence, rank), dense in zip(rows, dense_scores, strict=True):
        coverage = snapshot.term_stats.coverage(query_terms, sentence.terms | snapshot.section_terms(sentence.section))
        relevance = DENSE_WEIGHT * max(float(dense), 0.0) + (1 - DENSE_WEIGHT) * coverage
        scored.append(ScoredSentence(sentence, relevance, float(dense), coverage, rank))
    scored.sort(key=lambda s: (-s.ranking, s.sentence.source_id, s.sentence.index))
    return scored


class EvidencePicker:
    """What select_evidence needs for one question: the expansion of each candidate sentence
    (what it needs to stand alone) and the terms around it, each worked out once."""

    def __init__(self, snapshot: IndexSnapshot, threshold: float, shape: QuestionShape | None, explain: bool) -> None:
        self.snapshot = snapshot
        self.threshold = threshold
        self.shape = shape
        self.explain = explain
        self.expansions: dict[str, list[SentenceRow]] = {}
        self.windows: dict[str, set[str]] = {}

    def expansion(self, item: ScoredSentence) -> list[SentenceRow]:
        key = item.sentence.sentence_id
        if key not in self.expansions:
            self.expansions[key] = _expand(self.snapshot, item.sentence, self.explain)
        return self.expansions[key]

    def window_of(self, item: ScoredSentence) -> set[str]:
        """The terms of the expanded sentence, its section title and its paragraph."""
        key = item.sentence.sentence_id
        if key not in self.windows:
            terms: set[str] = set()
            for sentence in self.expansion(item):
                terms |= sentence.terms
            self.windows[key] = (
                terms
                | self.snapshot.section_terms(item.sentence.section)
                | self.snapshot.paragraph_terms(item.sentence)
            )
        return self.windows[key]

    def qualifies(self, item: ScoredSentence, floor: float | None = None) -> bool:
        """Relevant enough, and fits what the question asks for (a count, a time, its names)."""
        if item.relevance < (self.threshold if floor is None else floor):
            return False
        window = self.window_of(item)
        if self.shape is None:
            return True
        unit = self.expansion(item)
        unit_terms: set[str] = set()
        for sentence in unit:
            unit_terms |= sentence.terms
        return self.shape.satisfied_by(
            " ".join(s.text for s in unit),
            window,
            _with_aliases(unit_terms),
            strong_match=item.dense >= STRONG_DENSE_MATCH,
            near_terms=unit_terms | self.snapshot.section_terms(item.sentence.section),
        )

    def speaks_of(self, item: ScoredSentence) -> set[str]:
        """Stricter than the paragraph window: the evidence itself (or its section title)."""
        terms = set(self.snapshot.section_terms(item.sentence.section))
        for sentence in self.expansions.get(item.sentence.sentence_id) or [item.sentence]:
            terms |= sentence.terms
        return terms

    def diverse(self, best: ScoredSentence, eligible: list[ScoredSentence], max_sentences: int) -> list[ScoredSentence]:
        """The best sentence, then MMR over the eligible ones, skipping near-duplicates."""
        chosen = [best]
        vectors = self.snapshot.sentence_vectors

        def redundancy(candidate: ScoredSentence) -> float:
            return max(float(vectors[candidate.sentence.row] @ vectors[c.sentence.row]) for c in chosen)

        while eligible and len(chosen) < max_sentences:
            candidate = max(eligible, key=lambda c: MMR_LAMBDA * c.ranking - (1 - MMR_LAMBDA) * redundancy(c))
            eligible.remove(candidate)
            if redundancy(candidate) < DUPLICATE_SIMILARITY:
                chosen.append(candidate)
        return chosen

    def complements(self, scored: Sequence[ScoredSentence], chosen: list[ScoredSentence]) -> None:
        """ "the Israel model and the South Korean model, respectively": each alternative the
        answer has not covered yet gets its own best evidence. The question already passed the
        threshold once, so the second part may be found a little below it."""
        if self.shape is None:
            return
        for group in self.shape.names:
            for name in group if len(group) > 1 else ():
                if any(name.present_in(self.speaks_of(item)) for item in chosen):
                    continue
                extra = next(
                    (
                        item
                        for item in scored
                        if item not in chosen
                        and self.qualifies(item, COMPLEMENT_RATIO * self.threshold)
                        and name.present_in(self.speaks_of(item))
                    ),
                    None,
                )
                if extra is not None:
                    chosen.append(extra)


def select_evidence(
    snapshot: IndexSnapshot,
    scored: Sequence[ScoredSentence],
    threshold: float,
    max_sentences: int,
    shape: QuestionShape | None = None,
    question: str = "",
) -> list[list[SentenceRow]]:
    """The best sentence that passes the threshold and satisfies what the question asks for
    (a count, a time, the names it mentions); then MMR over others near it; then lists and
    back-references come along; neighbours merge into groups (one citation each), best first.
    Nothing (abstain) when no sentence qualifies."""
    explain = bool(WANTS_EXPLANATION.search(question))
    multi_part = explain or bool(MULTI_PART.search(question))
    picker = EvidencePicker(snapshot, threshold, shape, explain)
    ranked = [item for item in scored if item.relevance >= threshold]
    best = next((item for item in ranked if picker.qualifies(item)), None)
    if best is None:
        return []
    margin = EXPLANATION_MARGIN if multi_part else SECOND_SENTENCE_MARGIN
    floor = max(threshold, best.relevance - margin)
    eligible = [s for s in ranked if s is not best and s.relevance >= floor and picker.qualifies(s)]
    chosen = picker.diverse(best, eligible, max_sentences)
    if multi_part:
        picker.complements(scored, chosen)
    keys: dict[tuple[str, int], float] = {}
    for item in chosen:
        for sentence in picker.expansions[item.sentence.sentence_id]:
            key = (sentence.source_id, sentence.index)
            keys[key] = max(keys.get(key, 0.0), item.ranking)
    return _group(snapshot, keys)


def _with_aliases(terms: set[str]) -> set[str]:
    out = set(terms)
    for term in terms:
        out |= ALIAS_OF.get(term, frozenset())
    return out


def _expand(snapshot: IndexSnapshot, sentence: SentenceRow, explain: bool = False) -> list[SentenceRow]:
    """The sentence plus what it needs to stand alone: earlier sentences it leans on, the
    items of a list it announces, the answer to a question it quotes, or the next sentence
    that spells out what it announces (for an explanation, also one that builds on it)."""
    out = [sentence]
    current = sentence
    for _ in range(2 if explain else 1):
        if current.is_list_item or not (LEANS_BACK.match(current.text) or REFERS_BACK.search(current.text)):
            break
        previous = snapshot.sentence_at(current.source_id, current.index - 1)
        if previous is None or previous.section != current.section or previous.is_list_item:
            break
        out.insert(0, previous)
        current = previous
    if sentence.text.rstrip().endswith(":"):
        # A list announced by "...:" brings its items along.
        for offset in range(1, MAX_LIST_ITEMS + 1):
            item = snapshot.sentence_at(sentence.source_id, sentence.index + offset)
            if item is None or not item.is_list_item or item.section != sentence.section:
                break
            out.append(item)
        return out
    current = sentence
    for step in range(2 if explain else 1):
        following = snapshot.sentence_at(current.source_id, current.index + 1)
        if following is None or following.section != current.section or following.is_list_item:
            break
        asks = current.text.rstrip("’”\"' ").endswith("?") or POSES_QUESTION.search(current.text)
        spelled_out = step == 0 and SPELLED_OUT_NEXT.match(following.text)
        builds_on = explain and following.paragraph == current.paragraph and LEANS_BACK.match(following.text)
        if not (asks or spelled_out or builds_on):
            break
        out.append(following)
        current = following
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
