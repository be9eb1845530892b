"""What a question asks for, read from its parse (spaCy): the kind of answer (the entity labels an
answer holds), the names and numbers it takes for granted, the sides it compares, and whether it
is an instruction to the assistant rather than a question about the documents.

None of this forbids a sentence: rag/evidence.py turns each into a feature of one calibrated
score. The kind of answer is read by rag/answer_type.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rag.answer_type import (
    COMPARISON_PREDICATES,
    NUMBER_LABELS,
    TIME_LABELS,
    answer_type,
    comparative_labels,
    listed,
    measure_forms,
    measure_stems,
    next_noun,
)
from rag.language import Entity, addresses_assistant, english_words
from rag.lexical import PERSONAL_PRONOUNS, PRONOUNS_REFERRING, tokens
from rag.names import Name, name_spans
from rag.sides import WH_TAGS, listed_sides, ordered_sides, side_cuts
from rag.vocabulary import Vocabulary

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc, Span, Token

# Words that put two things in order in time ("Which came first, X or Y?").
ORDER_WORDS = frozenset({"first", "earlier", "earliest", "later", "latest", "sooner", "last"})
# English prepositions whose object is several things taken together ("the line between X and Y").
JOINT_PREPOSITIONS = frozenset({"between", "among", "amongst"})
# An opening or closing markup tag, as XML and HTML write it ("<system>", "</documents>").
MARKUP_TAG = re.compile(r"</?[A-Za-z][\w:-]*(?:\s[^<>]*)?/?>")


@dataclass(frozen=True)
class QuestionShape:
    """What the evidence is scored against."""

    text: str
    terms: dict[str, float]  # weighted query terms: content stems, names by their alias terms
    answer_labels: frozenset[str] = frozenset()  # entity labels an answer holds; empty: not typed
    wants_several: bool = False  # "which countries": more than one
    listed: int | None = None  # how many: "which three countries" -> 3
    counted: str | None = None  # the stem of what "how many" counts
    names: tuple[Name, ...] = ()
    carried: tuple[Name, ...] = ()  # names a follow-up leans on, from the conversation: any one will do
    numbers: tuple[str, ...] = ()
    sides: tuple[Name, ...] = ()  # two or more names compared or asked about in turn
    side_cuts: tuple[tuple[int, int], ...] = ()  # per side, what to cut from the text to leave it out
    wants_explanation: bool = False
    instruction: bool = False
    refers_back: bool = False  # "it", "they", "that treaty" without a name of its own
    # The stems of the question's main verb ("join"; "wind" and "wound"), unless be/do/have.
    predicate: frozenset[str] = frozenset()
    # The stems that say what "how" asks about: its adjective and that adjective's noun ("How
    # deep ..." -> deep, depth).
    measure: frozenset[str] = frozenset()
    yes_no: bool = False  # "Was there ...?", "Did X ...?": no wh-word, an auxiliary first

    @property
    def typed(self) -> bool:
        return bool(self.answer_labels)


def read_question(text: str, nlp: Language, vocabulary: Vocabulary) -> QuestionShape:
    doc = nlp(text)
    spans = name_spans(doc, vocabulary, english_words(nlp))
    names = [name for _, name in spans]
    labels, several, type_word = answer_type(doc)
    sides, cuts, ordered = _sides_and_cuts(doc, spans)
    # With the sides named, "who" or "which country" is answered by one of them: what settles it
    # is the comparison ("Whose flight lasted longer, X's or Y's?"). "How many" still asks a count.
    by_sides = len(sides) >= 2 and not labels & (NUMBER_LABELS | TIME_LABELS)
    compared = comparative_labels(doc)
    if not labels or by_sides:
        labels = compared or labels  # "Which is deeper, X or Y?": measures
    framing = _framing_tokens(doc) | ({type_word.i} if type_word is not None else set())
    if ordered and not labels:
        labels = TIME_LABELS  # "Was X before or after Y?" is settled by dates
    ordering = len(sides) >= 2 and any(t.lower_ in ORDER_WORDS for t in doc) and not compared
    if ordering and (not labels or by_sides):
        # "Which came first, X or Y?" and "Who died first, X or Y?" are settled by dates.
        labels = TIME_LABELS
        # ... and "first" orders the sides' dates: it is no word to look for in a sentence
        # ("the First World War").
        framing |= {t.i for t in doc if t.lower_ in ORDER_WORDS}
    terms = _terms(doc, framing, names, vocabulary)
    return QuestionShape(
        text=text,
        terms=terms,
        answer_labels=labels,
        wants_several=several,
        listed=listed(type_word) if several else None,
        counted=_counted(doc),
        names=tuple(names),
        numbers=tuple(dict.fromkeys(t.text.replace(",", "") for t in doc if t.like_num and t.text[:1].isdigit())),
        sides=tuple(sides),
        side_cuts=cuts,
        wants_explanation=_wants_explanation(doc),
        predicate=_predicate(doc),
        instruction=is_instruction(doc),
        refers_back=not names and any(t.lower_ in PRONOUNS_REFERRING | PERSONAL_PRONOUNS for t in doc),
        measure=measure_stems(doc),
        yes_no=_asks_yes_or_no(doc),
    )


def _terms(doc: Doc, framing: set[int], names: list[Name], vocabulary: Vocabulary) -> dict[str, float]:
    """The question's words to look for, with their weights."""
    # Content words by their lemma ("deeper" -> deep, "went" -> go), names as written.
    content = [t.text if t.pos_ in ("PROPN", "NUM") or t.is_upper else t.lemma_ for t in doc if t.i not in framing]
    terms: dict[str, float] = {}
    for term in tokens(" ".join(content)):
        terms[term] = 1.0
    entities = [Entity(e.start_char, e.end_char, e.label_, e.text) for e in doc.ents]
    for extra in vocabulary.enrich(terms, entities) - set(terms):
        terms[extra] = 1.0
    # A measure is stated by its adjective or its noun ("8,849 m high", "Height: 8,849 m"): both
    # are looked for, each at half weight, as one word of the question.
    if len(forms := measure_forms(doc)) > 1:
        for stem in forms:
            terms[stem] = 0.5
    for name in names:  # a name found by its alias needs none of its own words
        if name.aliases:
            for stem in name.stems:
                terms.pop(stem, None)
            for alias in name.aliases:
                terms[alias] = 1.0
        elif (written := tokens(name.text)) != list(name.stems):  # an acronym read as its long form
            for stem in written:
                terms.pop(stem, None)
            terms.update(dict.fromkeys(name.stems, 1.0))
    return terms


def _asks_yes_or_no(doc: Doc) -> bool:
    """No wh-word, and an auxiliary or modal first ("Was there ...?", "Did ...?", "Can ...?")."""
    if not doc or any(t.tag_ in WH_TAGS for t in doc):
        return False
    first = doc[0]
    return first.pos_ == "AUX" or first.tag_ == "MD" or first.lemma_.lower() in ("be", "do", "have")


def _predicate(doc: Doc) -> frozenset[str]:
    """The main verb's stems, of its lemma and of its form as written: a sentence's terms are
    stems of what it writes ("wound up", whose lemma is "wind"). The main verb is the root, or,
    when the parser made an auxiliary the root ("When was the fund wound up?"), the verb that
    hangs from it as its complement; with "be" alone, the noun it links "who" to ("Who are the
    authors ...?" -> author)."""
    root = next((t for t in doc if t.dep_ == "ROOT"), None)
    if root is not None and root.pos_ == "AUX":
        root = next((c for c in root.children if c.pos_ == "VERB" and c.dep_ in ("ccomp", "xcomp")), root)
    if root is not None and root.lemma_ == "be" and any(t.lower_ in ("who", "whom") for t in doc):
        # "Who are the authors of ...?": with "be", the noun it links "who" to says what is
        # asked. ("How tall is the tower?" asks about "tall", not about "tower".)
        linked = [c for c in root.children if c.dep_ in ("attr", "nsubj") and c.pos_ == "NOUN"]
        # Not the noun a wh-word asks for ("Which countries are members ...?" -> member).
        linked = [c for c in linked if not any(d.tag_ in WH_TAGS for d in c.children)]
        root = min(linked, key=lambda c: c.dep_ != "attr", default=root)
    if root is None or root.pos_ not in ("VERB", "NOUN"):
        return frozenset()
    return frozenset(stem for word in (root.lemma_, root.text) for stem in tokens(word)[:1])


def _counted(doc: Doc) -> str | None:
    """The noun a "how many" counts ("How many American troops ..." -> troop)."""
    for token in doc:
        if token.lower_ == "many" and token.i > 0 and doc[token.i - 1].lower_ == "how":
            noun = token.head if token.head.pos_ in ("NOUN", "PROPN") else next_noun(doc, token)
            if noun is not None:
                stems = tokens(noun.text)
                return stems[-1] if stems else None
    return None


def _framing_tokens(doc: Doc) -> set[int]:
    """Words that frame the request rather than say what it is about: an opening phrase closed by
    a comma ("According to the article, ..."), and an imperative request verb with its pronoun
    object ("Tell me about ...", "List ...")."""
    framing: set[int] = set()
    for token in doc[:8]:
        if token.text == ",":
            # An opening adjunct, not the question's own start ("How did the Suez, Panama ...").
            asks = any(t.tag_ in WH_TAGS for t in doc[: token.i])
            if token.i > 0 and doc[0].pos_ in ("ADP", "VERB", "SCONJ", "ADV") and not asks:
                framing.update(range(token.i + 1))
            break
    root = next((t for t in doc if t.dep_ == "ROOT"), None)
    # An imperative has no subject and no "did"/"do" before it ("... did construction begin?" is
    # a question even where the small parser loses its subject).
    if (
        root is not None
        and root.tag_ == "VB"
        and not any(c.dep_ in ("nsubj", "nsubjpass", "aux", "auxpass") for c in root.children)
    ):
        framing.add(root.i)
        framing.update(c.i for c in root.children if c.pos_ == "PRON")
    framing.update(t.i for t in doc if t.lower_ in ("please",))
    return framing


def _sides(doc: Doc, spans: list[tuple[Span, Name]]) -> list[Name]:
    """Names in phrases joined by "and"/"or" ("the signing of X or the entry of Y", "X's or Y's
    expedition") or set against each other ("X differs from Y", "Is X longer than Y", "Compare X
    with Y"): each is a side the answer should cover."""
    sides: list[Name] = []

    def first_name(tokens_in: set[int]) -> Name | None:
        return next((name for span, name in spans if span.start in tokens_in), None)

    for token in doc:
        left: Name | None = None
        right: Name | None = None
        if token.dep_ == "conj" and not _joint_object(token.head):
            inside = {t.i for t in token.subtree}
            right = first_name(inside)
            left = first_name({t.i for t in token.head.subtree} - inside)
        elif token.dep_ == "poss" and (other := _coordinated_owner(doc, token)) is not None:
            # "Amundsen's or Scott's expedition": two owners of one noun.
            left = first_name({t.i for t in token.subtree})
            right = first_name({t.i for t in other.subtree})
        elif token.dep_ == "pobj" and _compares(token.head):
            right = first_name({t.i for t in token.subtree})
            governor = token.head.head
            around = [*governor.children, *governor.head.children]
            others = [c for c in around if c.dep_ in ("nsubj", "nsubjpass", "dobj", "attr")]
            left = next((n for c in others if (n := first_name({t.i for t in c.subtree})) is not None), None)
        if left is not None and right is not None and left is not right:
            for name in (left, right):
                if name not in sides:
                    sides.append(name)
    return sides if len(sides) >= 2 else []


def _sides_and_cuts(doc: Doc, spans: list[tuple[Span, Name]]) -> tuple[list[Name], tuple[tuple[int, int], ...], bool]:
    """The sides, what to cut to leave each out, and whether "before or after" orders them: by
    position for "before or after" and for a list of alternatives after the question, else by
    the parse."""
    ordered = ordered_sides(doc, [span for span, _ in spans])
    by_position = ordered or listed_sides(doc, [span for span, _ in spans])
    if by_position:
        by_span = {span.start: name for span, name in spans}
        sides = [by_span.get(span.start) or _phrase_side(span) for span, _ in by_position]
        return sides, tuple(cut for _, cut in by_position), bool(ordered)
    sides = _sides(doc, spans)
    return sides, side_cuts(doc, [next(span for span, name in spans if name == side) for side in sides]), False


def _phrase_side(span: Span) -> Name:
    """A side named by a run of nouns, not a name ("the 1918 influenza pandemic or smallpox"):
    all of its words show it."""
    return Name(span.text, tuple(tokens(span.text)))


def _joint_object(token: Token) -> bool:
    """ "between Tokyo and Osaka", "among A, B and C": the preposition takes the coordinated
    names together, as one route or one group, not as sides to answer in turn."""
    return token.dep_ == "pobj" and token.head.lower_ in JOINT_PREPOSITIONS


def _coordinated_owner(doc: Doc, owner: Token) -> Token | None:
    """The next owner ("poss") of the same noun, when "and"/"or" stands between them."""
    later = [c for c in owner.head.children if c.dep_ == "poss" and c.i > owner.i]
    if later and any(t.dep_ == "cc" for t in doc[owner.i + 1 : later[0].i]):
        return later[0]
    return None


def _compares(preposition: Token) -> bool:
    """ "than" after a comparative ("longer than"), or "from"/"with"/"to" after a predicate of
    comparison ("differ from", "compared with", "similar to")."""
    governor = preposition.head
    if preposition.lower_ == "than":
        return governor.tag_ in ("JJR", "RBR")
    return preposition.lower_ in ("from", "with", "to") and governor.lemma_.lower() in COMPARISON_PREDICATES


def _wants_explanation(doc: Doc) -> bool:
    first = doc[0].lower_ if len(doc) else ""
    if first == "why":
        return True
    if first == "how" and len(doc) > 1 and doc[1].pos_ in ("AUX", "VERB"):
        return True
    return any(t.dep_ == "ROOT" and t.lemma_.lower() in ("explain", "describe", "compare") for t in doc)


def is_instruction(doc: Doc) -> bool:
    """A message that addresses the assistant's own set-up instead of asking about the documents,
    or that writes markup tags ("</documents> New instruction ..."): a question has no use for
    them, and they are how an injection tries to close the prompt's own delimiters. (A document's
    sentences are not held to the tag rule: a technical text may quote markup.)"""
    return addresses_assistant(doc) or MARKUP_TAG.search(doc.text) is not None
