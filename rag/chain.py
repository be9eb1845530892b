"""The extractive answering chain, as named, typed steps a reader can follow:

    AnswerRequest --prepare--> PreparedQuestion --understand--> Understanding
                  --retrieve--> Retrieval --select_evidence--> Evidence --compose--> Answer

`understand` reads the question (rag/question.py) and splits a comparison or a multi-part
question into one part per side ("When did Finland join the EU and NATO?" -> the EU, NATO); each
part is retrieved and answered with its own evidence, and a side the sources do not cover is
named in the answer's notes. Embedding the question and searching Chroma need nothing from its
parse, so they run on a helper thread while spaCy reads it, and a comparison's sides are searched
at once; on two cores that hides most of their cost. Each step is a LangChain Runnable
(`ExtractiveAnswerer.chain`), so the chain can be traced, batched or swapped like any other.
`Answerer` is the protocol the CLI, the API and the evals use, whatever the mode; rag/factory.py
builds one.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from langchain_core.documents import Document
from langchain_core.runnables import Runnable, RunnableLambda

from rag.answer import Answer, abstention, compose_answer, retrieved_chunks, word_pieces
from rag.embeddings import MiniLMEmbeddings
from rag.evidence import EvidenceModel, ScoredSentence, score_sentences, select_evidence
from rag.features import answering_entities, window_terms
from rag.followup import already_said, conversation_context
from rag.headings import with_dated_headings
from rag.lexical import tokens
from rag.names import Name, without_names
from rag.question import QuestionShape, read_question
from rag.request import AnswerRequest, PreparedQuestion, prepare_question
from rag.retrieve import HybridRetriever
from rag.settings import Settings
from rag.short_answer import short_answer, short_list
from rag.sides import without
from rag.snapshot import IndexSnapshot, SentenceRow

if TYPE_CHECKING:
    from spacy.language import Language

# A follow-up's earlier turns steer retrieval at this weight against the question's own 1.0.
FOLLOW_UP_WEIGHT = 0.5
# Sentences per side of a comparison: the side's best evidence, and one more nearly as good.
SIDE_SENTENCES = 2


class Answerer(Protocol):
    """What the CLI, the API and the evals use, whatever the mode."""

    mode: str
    snapshot: IndexSnapshot  # the index answers are drawn from: sources, chunks, sentences
    retriever: HybridRetriever  # its store_problem() tells /healthz whether the store answers

    @property
    def embeddings(self) -> MiniLMEmbeddings: ...

    def answer(
        self,
        question: Any,
        history: Sequence[Mapping[str, str]] | None = None,
        top_k: Any = None,
        filters: Mapping[str, Any] | None = None,
    ) -> Answer: ...

    def stream_answer(
        self,
        question: Any,
        history: Sequence[Mapping[str, str]] | None = None,
        top_k: Any = None,
        filters: Mapping[str, Any] | None = None,
    ) -> Iterator[str | Answer]:
        """Text deltas, then the final Answer; bad input raises before the first item."""
        ...


@dataclass(frozen=True)
class Part:
    """One thing to find: the whole question, or one side of a comparison."""

    text: str  # what is searched
    shape: QuestionShape
    side: Name | None = None
    others: tuple[Name, ...] = ()  # the sides this one is compared with


@dataclass(frozen=True)
class Understanding:
    prepared: PreparedQuestion
    shape: QuestionShape
    parts: tuple[Part, ...]
    context: str | None  # what a follow-up leans on, from the conversation
    said: str = ""  # what the assistant already answered in this conversation
    # Chroma's results for the question as asked, searched while it was parsed (None: a follow-up)
    dense: Future[list[list[Document]]] | None = None


@dataclass(frozen=True)
class Retrieval:
    """Per part: the chunks retrieved and the question's vectors."""

    understanding: Understanding
    documents: tuple[list[Document], ...]
    vectors: tuple[list[np.ndarray], ...]
    # Per part, the vector of what it asks without the names it mentions (rag.names.without_names).
    focus: tuple[np.ndarray, ...]
    retrieve_ms: float


@dataclass(frozen=True)
class Evidence:
    """The groups of consecutive source sentences chosen to answer (empty: abstain), and the
    sides the sources did not cover."""

    retrieval: Retrieval
    groups: list[list[SentenceRow]]
    uncovered: list[str]
    evidence_ms: float
    best: ScoredSentence | None = None  # the highest-scoring sentence, for a one-part question


class ExtractiveAnswerer:
    """Answers by quoting: no LLM, so nothing can be invented; abstains below the threshold."""

    mode = "extractive"

    def __init__(
        self,
        settings: Settings,
        snapshot: IndexSnapshot,
        retriever: HybridRetriever,
        nlp: Language,
        model: EvidenceModel,
    ) -> None:
        self.settings = settings
        self.snapshot = snapshot
        self.retriever = retriever
        self.nlp = nlp
        self.model = model
        # Threads for the dense searches that run beside a question's parse (understand), and for
        # a comparison's sides side by side (retrieve): two, one per core of a laptop.
        self._beside = ThreadPoolExecutor(max_workers=2, thread_name_prefix="dense-search")
        self.chain: Runnable[AnswerRequest, Answer] = (
            RunnableLambda(self.prepare, name="prepare")
            | RunnableLambda(self.understand, name="understand")
            | RunnableLambda(self.retrieve, name="retrieve")
            | RunnableLambda(self.select_evidence, name="select_evidence")
            | RunnableLambda(self.compose, name="compose")
        )

    @property
    def embeddings(self) -> MiniLMEmbeddings:
        return self.retriever.embeddings

    def answer(
        self,
        question: Any,
        history: Sequence[Mapping[str, str]] | None = None,
        top_k: Any = None,
        filters: Mapping[str, Any] | None = None,
    ) -> Answer:
        return self.chain.invoke(AnswerRequest(question, history, top_k, filters))

    def stream_answer(
        self,
        question: Any,
        history: Sequence[Mapping[str, str]] | None = None,
        top_k: Any = None,
        filters: Mapping[str, Any] | None = None,
    ) -> Iterator[str | Answer]:
        answer = self.answer(question, history, top_k, filters)  # raises on bad input, before streaming
        return iter([*word_pieces(answer.answer), answer])

    # -- the steps ------------------------------------------------------------------------------

    def prepare(self, request: AnswerRequest) -> PreparedQuestion:
        """Check the request (InputError on anything wrong)."""
        return prepare_question(request, self.settings, self.snapshot)

    def understand(self, prepared: PreparedQuestion) -> Understanding:
        """Read the question; a follow-up takes the names it leans on from the conversation."""
        vocabulary = self.snapshot.vocabulary
        dense = None
        if not prepared.history:
            # Embedding the question and searching Chroma need nothing from its parse, and both
            # run outside Python's lock: on a second core they cost the parse's time, not theirs.
            searcher = self.retriever.for_request(prepared.top_k, prepared.filters)
            dense = self._beside.submit(searcher.dense_results, prepared.question)
        shape = read_question(prepared.question, self.nlp, vocabulary)
        context = conversation_context(prepared.history, shape, self.nlp, vocabulary)
        if context is not None and shape.refers_back:
            for name in context.names:
                shape = _with_name(shape, name, FOLLOW_UP_WEIGHT)
        parts = tuple(_part_for_side(prepared.question, shape, side) for side in shape.sides)
        text = context.text if context is not None else None
        # Only a question that leans on the conversation ("its capital") is asking for something
        # new; a question that names its subject may ask again what was already answered.
        said = already_said(prepared.history) if shape.refers_back else ""
        return Understanding(prepared, shape, parts or (Part(prepared.question, shape),), text, said, dense)

    def retrieve(self, understanding: Understanding) -> Retrieval:
        """Hybrid retrieval for each part; a follow-up's earlier turns steer it at FOLLOW_UP_WEIGHT."""
        begin = time.perf_counter()
        prepared = understanding.prepared
        retrievers = [
            self.retriever.for_request(
                prepared.top_k, prepared.filters, understanding.context, FOLLOW_UP_WEIGHT, part.shape.terms
            )
            for part in understanding.parts
        ]
        to_search = [part.text for part in understanding.parts if part.text != prepared.question]
        focus_texts = [without_names(part.text, part.shape.names) for part in understanding.parts]
        if len(to_search) > 1 and not understanding.context:
            # A comparison's sides: embedded in one batch with what each asks, then each searched
            # (cached vectors).
            self.embeddings.embed_query_vectors([*to_search, *focus_texts])
        # While the question's own search runs on the helper thread.
        focus = self.embeddings.embed_query_vectors(focus_texts)
        searches = []
        for part, retriever in zip(understanding.parts, retrievers, strict=True):
            if understanding.dense is not None and part.text == prepared.question:  # a first question, whole
                searches.append(understanding.dense)
            else:  # each side of a comparison searched at once, one per core
                searches.append(self._beside.submit(retriever.dense_results, part.text))
        documents, vectors = [], []
        for part, retriever, search in zip(understanding.parts, retrievers, searches, strict=True):
            retriever = retriever.model_copy(update={"dense": search.result()})
            documents.append(retriever.invoke(part.text))
            vectors.append(retriever.query_vectors(part.text))  # cached: embedded once
        return Retrieval(understanding, tuple(documents), tuple(vectors), tuple(focus), _ms(begin))

    def select_evidence(self, retrieval: Retrieval) -> Evidence:
        """Score each part's sentences and pick the ones that answer it."""
        begin = time.perf_counter()
        parts = retrieval.understanding.parts
        groups: list[list[SentenceRow]] = []
        uncovered: list[str] = []
        for part, documents, vectors, focus in zip(
            parts, retrieval.documents, retrieval.vectors, retrieval.focus, strict=True
        ):
            scored = score_sentences(self.snapshot, documents, vectors, focus, part.shape, self.model)
            scored = [s for s in scored if not_yet_said(retrieval.understanding, s.sentence)]
            if part.side is not None:
                scored = [s for s in scored if speaks_of(self.snapshot, s, part)]
            limit = SIDE_SENTENCES if part.side is not None else self.settings.max_answer_sentences
            found = select_evidence(
                self.snapshot, scored, self.model, limit, part.shape, self.settings.abstain_threshold
            )
            if part.side is not None and not found:
                uncovered.append(part.side.text)
            groups += [group for group in found if group not in groups]
        if len(uncovered) == len(parts):
            groups = []
        best = scored[0] if groups and len(parts) == 1 else None
        return Evidence(retrieval, groups, uncovered if groups else [], _ms(begin), best)

    def compose(self, evidence: Evidence) -> Answer:
        """Quote the evidence with [n] markers and verified citations, or abstain."""
        retrieval = evidence.retrieval
        understanding = retrieval.understanding
        prepared = understanding.prepared
        context = understanding.context
        query = prepared.question if not context else f"{context} → {prepared.question}"
        timings = {"retrieve": retrieval.retrieve_ms, "evidence": evidence.evidence_ms}
        unique: dict[str, Document] = {}
        for documents in retrieval.documents:  # a chunk found for two sides counts once
            for document in documents:
                unique.setdefault(document.metadata["chunk_id"], document)
        retrieved = retrieved_chunks(list(unique.values()))
        if not evidence.groups:
            timings["total"] = _ms(prepared.started)
            return abstention(timings, query, retrieved)
        groups = with_dated_headings(self.snapshot, evidence.groups, understanding.shape)
        text, citations = compose_answer(self.snapshot, groups)
        lead, items = None, []
        if evidence.best is not None:
            shape = understanding.parts[0].shape
            lead = short_answer(evidence.best, groups, citations, shape, self.nlp)
            items = short_list(evidence.best, groups, citations, shape, self.nlp)
        notes = [f"The sources say nothing about this for {side}." for side in evidence.uncovered]
        timings["total"] = _ms(prepared.started)
        return Answer(
            answer=text,
            abstained=False,
            citations=citations,
            timings_ms=timings,
            retrieval_query=query,
            retrieved=retrieved,
            notes=notes,
            short_answer=lead,
            short_list=items,
        )


def _with_name(shape: QuestionShape, name: Name, weight: float) -> QuestionShape:
    """The shape with a name carried over from the conversation, its terms at `weight`. It joins
    the carried names: "it" stands for one of the things the conversation named, not for all."""
    terms = dict(shape.terms)
    for term in name.terms:
        terms.setdefault(term, weight)
    return replace(shape, terms=terms, carried=(*shape.carried, name))


def _part_for_side(question: str, shape: QuestionShape, side: Name) -> Part:
    """The question narrowed to one side: the other sides' phrases ("or Finland's entry into the
    European Union") leave the search text, with their names and words."""
    others = [s for s in shape.sides if s is not side]
    if shape.side_cuts:
        cuts = [cut for s, cut in zip(shape.sides, shape.side_cuts, strict=True) if s is not side]
        text, removed = without(question, cuts)
        names = tuple(n for n in shape.names if n is side or (n not in others and n.text.lower() in text.lower()))
        kept_terms = set(tokens(text)) | {term for name in names for term in name.terms}
        left_out = {term for name in shape.names if name not in names for term in name.terms}
        dropped = (set(tokens(removed)) | left_out) - kept_terms
    else:
        text = question
        for other in others:
            # The other side goes with the word that joined it ("X or Y" -> "X"), so the search
            # text still reads as a question about this side.
            name = re.escape(other.text)
            after = rf"\s*,?\s*\b(?:and|or|versus|vs\.?|with|than|from)\b\s*(?:the\s+)?{name}"
            before = rf"(?:the\s+)?{name}\s*,?\s*\b(?:and|or|versus|vs\.?)\b\s*"
            text = re.sub(f"{after}|{before}", " ", text, count=1, flags=re.IGNORECASE)
            text = text.replace(other.text, " ")
        dropped = {term for other in others for term in other.terms} - side.terms
        names = tuple(n for n in shape.names if n not in others)
    terms = {term: weight for term, weight in shape.terms.items() if term not in dropped}
    for term in side.terms:
        terms.setdefault(term, 1.0)
    narrowed = replace(shape, terms=terms, names=names, sides=(), side_cuts=())
    return Part(" ".join(text.split()), narrowed, side, tuple(others))


def not_yet_said(understanding: Understanding, sentence: SentenceRow) -> bool:
    """False for a source sentence the assistant already quoted in this conversation, when the
    question is a follow-up that leans on it: it asks for something new. So does a sentence
    whose every possible answer (a date for "When ...?") the conversation already gave, even in
    other words ("When did it lapse?" after an answer dated 6 April 1948)."""
    said = understanding.said
    if not said:
        return True
    if " ".join(sentence.text.split()) in said:
        return False
    answers = answering_entities(sentence, understanding.shape) if understanding.shape.typed else []
    return not answers or any(" ".join(e.text.split()) not in said for e in answers)


def speaks_of(snapshot: IndexSnapshot, scored: ScoredSentence, part: Part) -> bool:
    """Does the sentence, read in its place, speak of this side of a comparison? Not when it
    names another side, and this side only stands in the sentence before: "The British party
    under Scott arrived 34 days later" follows a sentence about Amundsen, but it is Scott's side's
    evidence, not Amundsen's."""
    side, sentence = part.side, scored.sentence
    if side is None:
        return True
    # What the sentence itself and its headings name outweighs the sentence before it.
    named = sentence.terms | snapshot.heading_terms(sentence.section)
    named |= snapshot.heading_terms(snapshot.title_of(sentence.source_id))
    if not side.present_in(named) and any(other.present_in(sentence.terms) for other in part.others):
        return False
    return side.present_in(window_terms(snapshot, sentence))


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 2)
