"""What the evidence model sees of one candidate sentence: a vector of features in [-1, 1].

How close it is in meaning to the question (the sentence alone, read with the sentence before it,
read under its section heading, and its chunk with title and section) and to what the question
asks without the names it mentions (alone and read with the sentence before: "focus"); how much
of the question's informative words it holds (alone, with what a reader has in mind: the sentence
before, the section heading, the document title, and with its whole section); how many of the
question's names it or its surroundings mention; whether it holds the kind of answer the question
asks for (its entities), whether it names what "how many" counts, whether the numbers the question
states are there, and its chunk's place among those retrieved. rag/evidence.py turns them into a
probability.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
from langchain_core.documents import Document

from rag.answer_type import NUMBER_LABELS, TIME_LABELS
from rag.headings import heading_year
from rag.language import Entity
from rag.lexical import tokens
from rag.question import QuestionShape
from rag.snapshot import IndexSnapshot, SentenceRow

FEATURES = (
    "dense",
    "dense_read",
    "dense_heading",
    "dense_chunk",
    "focus",
    "focus_read",
    "coverage",
    "coverage_window",
    "coverage_section",
    "names",
    "names_window",
    "other_subject",
    "type_match",
    "type_missing",
    "counted_missing",
    "numbers_missing",
    "rank",
)
# Entities that can be what a sentence is about (spaCy's OntoNotes labels).
SUBJECT_LABELS = frozenset({"PERSON", "NORP", "ORG", "GPE", "LOC", "FAC", "EVENT", "LAW", "PRODUCT"})


def sentence_features(
    snapshot: IndexSnapshot,
    documents: Sequence[Document],
    question_vectors: Sequence[np.ndarray],
    focus: np.ndarray,
    shape: QuestionShape,
) -> list[tuple[SentenceRow, int, dict[str, float]]]:
    """Every sentence of the retrieved chunks (once, with its best chunk's rank), with its features."""
    rows: dict[str, tuple[SentenceRow, int, int]] = {}
    for document in documents:
        position = snapshot.chunk_position[document.metadata["chunk_id"]]
        rank = int(document.metadata.get("rank", 1))
        for sentence in snapshot.sentences_of(snapshot.chunks[position]):
            # A sentence addressed to an assistant is an instruction planted in a document, never evidence.
            if sentence.sentence_id not in rows and not sentence.facts.instruction:
                rows[sentence.sentence_id] = (sentence, rank, position)
    if not rows:
        return []
    queries = np.vstack(question_vectors).astype(np.float32)
    retrieved = len(documents)  # at least one: every row comes from a document
    out = []
    for sentence, rank, position in rows.values():
        previous = previous_in_section(snapshot, sentence)
        vector = snapshot.sentence_vectors[sentence.row]
        read = vector + snapshot.sentence_vectors[previous.row] if previous is not None else vector
        read = read / (np.linalg.norm(read) or 1.0)
        heading = snapshot.heading_vectors.get(sentence.section)
        headed = vector + heading if heading is not None else vector
        headed = headed / (np.linalg.norm(headed) or 1.0)
        features = {
            "dense": float(np.max(queries @ vector)),
            "dense_read": float(np.max(queries @ read)),
            "dense_heading": float(np.max(queries @ headed)),
            "dense_chunk": float(np.max(queries @ snapshot.chunk_vectors[position])),
            "focus": float(focus @ vector),
            "focus_read": float(focus @ read),
            **_lexical(snapshot, sentence, previous, shape),
            # Linear in the chunk's place among those retrieved (1 for the first, 1/k for the last
            # of k). 1/rank, used before, let the first chunk's weaker sentences beat the
            # second's answer: fitted on all tuning sets but one, the top sentence of the set
            # left out was gold for 0.650 of questions with 1/rank, 0.692 with this.
            "rank": 1.0 - (rank - 1) / retrieved,
        }
        out.append((sentence, rank, features))
    return out


def previous_in_section(snapshot: IndexSnapshot, sentence: SentenceRow) -> SentenceRow | None:
    previous = snapshot.sentence_at(sentence.source_id, sentence.index - 1)
    return previous if previous is not None and previous.section == sentence.section else None


def window_terms(snapshot: IndexSnapshot, sentence: SentenceRow) -> set[str]:
    """What a reader has in mind reading the sentence: it, the sentence before, its section
    heading and its document's title."""
    return _window(snapshot, sentence, previous_in_section(snapshot, sentence))


def _window(snapshot: IndexSnapshot, sentence: SentenceRow, previous: SentenceRow | None) -> set[str]:
    terms = set(sentence.terms) | snapshot.heading_terms(sentence.section)
    terms |= snapshot.heading_terms(snapshot.title_of(sentence.source_id))
    if previous is not None:
        terms |= previous.terms
    return terms


def names_share(shape: QuestionShape, terms: set[str] | frozenset[str]) -> float:
    """The share of the question's names the terms show. Names carried over from the conversation
    fill one place together: "it" stands for one of them, not for all."""
    present = sum(n.present_in(terms) for n in shape.names)
    places = len(shape.names)
    if shape.carried:
        present += any(n.present_in(terms) for n in shape.carried)
        places += 1
    return present / places if places else 1.0


def _lexical(
    snapshot: IndexSnapshot, sentence: SentenceRow, previous: SentenceRow | None, shape: QuestionShape
) -> dict[str, float]:
    window = _window(snapshot, sentence, previous)
    type_match = _type_match(sentence, shape) if shape.typed else 0.0
    return {
        "coverage": snapshot.term_stats.coverage(shape.terms, sentence.terms),
        "coverage_window": snapshot.term_stats.coverage(shape.terms, window),
        "coverage_section": _section_coverage(snapshot, sentence, shape, window),
        "names": names_share(shape, sentence.terms),
        "names_window": names_share(shape, window),
        "other_subject": other_subject(sentence, previous, shape),
        "type_match": type_match,
        "type_missing": 1.0 if shape.typed and type_match == 0.0 else 0.0,
        "counted_missing": 1.0 if shape.counted and shape.counted not in sentence.terms else 0.0,
        "numbers_missing": 1.0 if any(n not in window for n in shape.numbers) else 0.0,
    }


def _section_coverage(snapshot: IndexSnapshot, sentence: SentenceRow, shape: QuestionShape, window: set[str]) -> float:
    """The share of the question's words other than its names that the sentence's whole section
    holds: a question may describe its subject by what the passage tells of it ("the French
    aviator who first flew the Channel") while the answering sentence only names it ("Blériot was
    born in Cambrai"). Names are left to the names features: a section that mentions North Vell
    in passing is not about it."""
    named = {term for name in (*shape.names, *shape.carried) for term in name.terms}
    described = {term: weight for term, weight in shape.terms.items() if term not in named}
    if not described:
        return snapshot.term_stats.coverage(shape.terms, window)
    section = snapshot.section_terms(sentence.source_id, sentence.section)
    return snapshot.term_stats.coverage(described, window | section)


def _asked(shape: QuestionShape) -> set[str]:
    return set(shape.terms) | {stem for name in (*shape.names, *shape.carried) for stem in name.stems}


def other_subject(sentence: SentenceRow, previous: SentenceRow | None, shape: QuestionShape) -> float:
    """1 when a name the question states is nowhere around the sentence, and the sentence names
    another person, place or organisation that the question does not ask for ("The United Kingdom
    signed on 12 January" for a question about the United States), or opens with a pronoun after
    a sentence naming another person: it is likely about something else."""
    names = (*shape.names, *shape.carried)
    if not names or any(n.present_in(sentence.terms) for n in names):
        return 0.0
    asked = _asked(shape)
    entities = list(sentence.facts.entities)
    if sentence.facts.refers_back and previous is not None:
        # "He was in the air for 12 seconds": "he" is the person the sentence before names. Only
        # a person: "It included about 1,900 warheads" after "... after Russia and the United
        # States" is still about the arsenal.
        entities += [e for e in previous.facts.entities if e.label == "PERSON"]
    others = [
        e
        for e in entities
        if e.label in SUBJECT_LABELS and e.label not in shape.answer_labels and not set(tokens(e.text)) <= asked
    ]
    return 1.0 if others else 0.0


def answering_entities(sentence: SentenceRow, shape: QuestionShape) -> list[Entity]:
    """The sentence's entities of a label the question wants that the question does not already
    name: what could be its answer."""
    asked = _asked(shape)
    # A question that asks for an amount ("how many", "which is deeper") is answered by a number:
    # "at night" (TIME) or "almost a quarter of a century" (DATE) holds none.
    counting = bool(shape.answer_labels & NUMBER_LABELS)
    return [
        e
        for e in sentence.facts.entities
        if e.label in shape.answer_labels and not set(tokens(e.text)) <= asked and (not counting or _numeral(e.text))
    ]


def _numeral(text: str) -> bool:
    """Does the text hold a number, in digits or in words (spaCy's English `like_num`)?"""
    # Imported here, not with the module: importing spaCy pulls in torch unless the answerer has
    # kept it out first (rag/embeddings.py keep_torch_out).
    from spacy.lang.en.lex_attrs import like_num

    return any(like_num(word.strip("()[],;:")) for word in re.split(r"[\s\-–]+", text))


def _type_match(sentence: SentenceRow, shape: QuestionShape) -> float:
    """1 when the sentence holds an entity of a wanted label that the question does not already
    name (half when "which countries" wants several and it holds one); numbers and dates written
    in digits count even where the entity recogniser missed them."""
    new = {e.text.lower() for e in answering_entities(sentence, shape)}
    if not new and shape.answer_labels & (NUMBER_LABELS | TIME_LABELS):
        # Digits the entity recogniser left unlabelled; a year inside a DATE is no count.
        taken = [(e.start, e.end) for e in sentence.facts.entities if e.label not in shape.answer_labels]
        new = {
            m.group(0)
            for m in re.finditer(r"\d[\d,.]*", sentence.text)
            if m.group(0).replace(",", "") not in shape.numbers and not any(a <= m.start() < b for a, b in taken)
        }
    if not new:
        # A sentence with no date of its own under a heading that holds a year ("2. Opening Day,
        # 27 September 1825"): the heading dates it, and is quoted with it (rag/headings.py).
        # Half: the year is the section's, not surely the event's.
        dated = shape.answer_labels & TIME_LABELS and heading_year(sentence.section, shape.numbers, single=True)
        return 0.5 if dated and not any(e.label in TIME_LABELS for e in sentence.facts.entities) else 0.0
    return 1.0 if len(new) >= 2 or not shape.wants_several else 0.5
