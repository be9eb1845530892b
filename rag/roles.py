"""Who does what to whom: the part of the support test (rag/grounding.py) that word overlap and
sentence embeddings cannot see, read off spaCy's dependency parse.

An answer sentence and the source window that otherwise supports it are parsed and cut into
clauses: a verb with its own arguments, nested clauses (relative, adverbial, complement,
coordinated verbs) cut off. In each clause the mentions of names (spaCy's entities of the name
types) and of numbers are found, each with its slot: the dependency labels on the way from the
mention up to its clause's verb, a preposition named ("pobj:in" in "stationed in South Korea",
"amod/nsubjpass" in "American troops are stationed"). Coordination and apposition share the
slot of what they join. A name that names a country is keyed by the country (rag/places.py),
so "American" and "America" are one; other names by their word stems, one name matching
another that holds all its words ("Trump", "Donald Trump"); numbers by their digits.

Five conflicts fail support:
- Swapped roles. An answer clause and a source clause with the same verb share two mentions or
  more, and a name stands in the answer where the source has another of the answer's names,
  while the source has it elsewhere: "About 28,000 Korean troops are stationed in America"
  against "About 28,000 American troops are stationed in South Korea"; "Israel provided
  guarantees to the U.S." against "the U.S. provided ... guarantees to Israel". The verb must be
  the same one because a converse verb swaps roles faithfully ("Israel received guarantees from
  the U.S.").
- A swap whose other partner the source calls by a common noun ("the country receives support
  from the U.S."): the answer moves a name of that clause to another slot and puts there a name
  the window holds elsewhere ("the U.S. receives support from Israel").
- A name put in another's place: no source clause with the answer's verb has the answer's name
  in its slot, one has another name of the same sort there, and the window has the answer's
  name only in other slots ("sent to Russia ..., with Ukraine compensated" against "with Russia
  compensated"). A name the window gives the same slot under another verb ("Japan concluded"
  for "Japan signed") is no conflict.
- A number taken from another event. Every source clause holding the answer's number has a
  name or number the answer's clause lacks, of the same sort (spaCy's entity label: place,
  organisation, person, date, sum ...) and, for a name, in the same role (subject, object, "by"
  ...) as one the answer's clause has and the window has elsewhere: "Finland joined NATO in 1995" against
  "... it joined the European Union on 1 January 1995 ... In 2023, the country joined NATO.";
  "The 2007 memorandum provided $38 billion" against "The 2007 memorandum ... provided $30
  billion ... It ... is worth $38 billion."
- The opposite polarity. The source clause that says what the answer's clause says (the same
  verb, one of its names, the most words in common) is negated where the answer's is not, or
  the other way round: "France and China signed the memorandum" against "France and China, the
  other two nuclear powers ..., did not sign it". Word-level negation (rag/negation.py) cannot
  see whose "not" it is when the clause is long.

Each conflict needs a different name on both sides, or a name that changed its slot. A name
that one side has and the other leaves to a pronoun ("the country", "it") in the same slot is
never a conflict, so paraphrases that refer back or change voice pass; so do sentences the
parser cannot split, which then count as one clause."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from rag.lexical import tokens
from rag.places import country_code

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc, Token

# spaCy's (OntoNotes) entity labels that name something, as opposed to dates and quantities.
NAME_LABELS = frozenset(
    {"PERSON", "NORP", "FAC", "ORG", "GPE", "LOC", "PRODUCT", "EVENT", "LAW", "WORK_OF_ART", "LANGUAGE"}
)
# ClearNLP dependency labels (spaCy's English scheme) under which a verb heads a clause of its own.
CLAUSE_DEPS = frozenset(
    {"ROOT", "conj", "advcl", "ccomp", "relcl", "acl", "xcomp", "csubj", "csubjpass", "parataxis", "pcomp"}
)
# Labels that join a word to another in the same role: the joined word takes its head's slot.
SAME_SLOT_DEPS = frozenset({"conj", "appos", "compound", "flat", "cc", "det"})
# Modifier labels, one slot "mod": which kind of modifier the parser chose is not a role.
MODIFIER_DEPS = frozenset({"amod", "nmod", "poss", "nummod", "quantmod", "npadvmod", "advmod"})
# Labels that tie a preposition (or "by" of the passive) to its head; the slot names the preposition.
PREPOSITION_DEPS = frozenset({"prep", "agent", "dative"})
# Entity labels grouped into the sorts of thing a number can be moved between: a year cannot
# stand in for a sum, nor a person for a country.
KINDS = {"GPE": "place", "NORP": "place", "LOC": "place", "FAC": "place", "DATE": "date", "TIME": "date"}
KINDS |= {"CARDINAL": "count", "QUANTITY": "count", "ORDINAL": "count", "MONEY": "money", "PERCENT": "percent"}
# What a verb is about, as ClearNLP labels it after a transitive verb ("joined NATO": dobj), a
# copula or "become" ("became an EU member": attr) or a verb with a predicate ("made it ...": oprd).
OBJECT_DEPS = frozenset({"dobj", "attr", "oprd"})
OBJECT_ROLE = "object"
DIGIT_GROUP = re.compile(r"(?<=\d)[,\s](?=\d{3}\b)")
NUMBER = re.compile(r"\d+(?:\.\d+)?")
PARSE_CACHE = 4096


@dataclass(frozen=True)
class Mention:
    key: str  # country code, name stems or digits: what a reason shows
    number: bool
    slot: str
    clause: int  # token index of the clause's verb
    verb: str  # its lemma
    kind: str  # what sort of thing: KINDS of its entity label
    entity: int  # token index where its entity starts (a number's own, if it has none)
    words: tuple[str, ...] = ()  # a name's word stems


@dataclass(frozen=True)
class Clause:
    head: int  # token index of its verb
    verb: str  # the verb's lemma
    negated: bool  # the verb has a negation ("not", "n't", "never": spaCy's `neg`)
    words: frozenset[str]  # its content lemmas


@dataclass(frozen=True)
class Parsed:
    mentions: tuple[Mention, ...]
    clauses: tuple[Clause, ...]

    def names_in(self, clause: Clause) -> list[Mention]:
        return [m for m in self.mentions if m.clause == clause.head and not m.number]


class RoleParser:
    """The full spaCy pipeline with a memo: the guard checks many answer sentences against the
    same few source windows."""

    def __init__(self, nlp: Language) -> None:
        self.nlp = nlp
        self.parse = lru_cache(maxsize=PARSE_CACHE)(self._parse)

    def _parse(self, text: str) -> Parsed:
        doc = self.nlp(text)
        return Parsed(tuple(mentions(doc)), tuple(clauses_of(doc)))

    def conflicts(self, sentence: str, window: str) -> list[str]:
        return role_conflicts(self.parse(sentence), self.parse(window))


def _is_clause_head(token: Token) -> bool:
    if token.dep_ == "ROOT" or token.head.i == token.i:
        return True
    return token.dep_ in CLAUSE_DEPS and token.pos_ in ("VERB", "AUX")


def slot_of(token: Token) -> tuple[str, Token]:
    """The path of labels from `token` up to its clause's verb, and that verb."""
    path: list[str] = []
    while not _is_clause_head(token):
        dep, head = token.dep_, token.head
        if dep == "pobj" and head.dep_ in PREPOSITION_DEPS and not _is_clause_head(head):
            path.append(f"pobj:{head.lower_}")
            token = head.head
            continue
        if dep not in SAME_SLOT_DEPS:
            path.append("mod" if dep in MODIFIER_DEPS else dep)
        token = head
    return "/".join(path), token


def clauses_of(doc: Doc) -> list[Clause]:
    """Each clause's verb, whether it is negated, and its content words."""
    words: dict[int, set[str]] = {}
    negated: set[int] = set()
    for token in doc:
        _, head = slot_of(token)
        words.setdefault(head.i, set())
        if token.dep_ == "neg":
            negated.add(head.i)
        elif token.is_alpha and not token.is_stop:
            words[head.i].add(token.lemma_.lower())
    return [Clause(i, doc[i].lemma_.lower(), i in negated, frozenset(w)) for i, w in words.items()]


def _name(text: str) -> tuple[str, tuple[str, ...]] | None:
    stems = tuple(tokens(text))
    code = country_code(text)
    if code is None and not stems:
        return None
    return code or " ".join(stems), stems


def mentions(doc: Doc) -> list[Mention]:
    """Names and numbers of a parsed text, each with its slot and clause."""
    found: list[Mention] = []
    entity_of: dict[int, tuple[int, str]] = {}
    for entity in doc.ents:
        kind = KINDS.get(entity.label_, entity.label_)
        for token in entity:
            entity_of[token.i] = (entity.start, kind)
        if entity.label_ in NAME_LABELS and (name := _name(entity.text)) is not None:
            slot, verb = slot_of(entity.root)
            found.append(Mention(name[0], False, slot, verb.i, verb.lemma_.lower(), kind, entity.start, name[1]))
    for token in doc:
        digits = NUMBER.search(DIGIT_GROUP.sub("", token.text)) if any(c.isdigit() for c in token.text) else None
        if digits:
            slot, verb = slot_of(token)
            start, kind = entity_of.get(token.i, (token.i, "count"))
            found.append(Mention(digits.group(0), True, slot, verb.i, verb.lemma_.lower(), kind, start))
    return found


def _word_match(a: str, b: str) -> bool:
    """A name word and a longer form of it ("korea"/"korean", "israel"/"israeli"), as in
    rag/grounding.py's anchor rule."""
    return a == b or (min(len(a), len(b)) >= 4 and (a.startswith(b) or b.startswith(a)))


def same_name(a: Mention, b: Mention) -> bool:
    """The same number; the same country; or one name holds every word of the other ("Trump",
    "Donald Trump"), or is its initials ("EU", "European Union")."""
    if a.number or b.number:
        return a.number and b.number and a.key == b.key
    if a.key == b.key:
        return True
    if a.key.isupper() and b.key.isupper():  # two different countries
        return False
    short, long = sorted((a.words, b.words), key=len)
    if not short:
        return False
    if len(short) == 1 and len(long) > 1 and short[0] == "".join(w[0] for w in long):
        return True
    return all(any(_word_match(w, v) for v in long) for w in short)


def _has(mentions: Iterable[Mention], mention: Mention) -> bool:
    return any(same_name(mention, other) for other in mentions)


def _clauses(found: Iterable[Mention]) -> dict[int, list[Mention]]:
    clauses: dict[int, list[Mention]] = {}
    for mention in found:
        clauses.setdefault(mention.clause, []).append(mention)
    return clauses


def swapped_roles(answer: list[Mention], source: list[Mention]) -> str | None:
    """Two of the answer's mentions hold each other's places in a source clause with the same verb."""
    if not answer or not source or answer[0].verb != source[0].verb:
        return None
    for mention in (m for m in answer if not m.number):  # numbers: moved_number's business
        own = [s for s in source if same_name(s, mention)]
        if not own or any(s.slot == mention.slot for s in own):
            continue
        for other in source:
            if (
                other.slot == mention.slot
                and not other.number
                and not same_name(other, mention)
                and _has(answer, other)
            ):
                return f"roles swapped: the source has {other.key!r} where the sentence has {mention.key!r}"
    return None


def _in_slot(window: list[Mention], mention: Mention) -> bool:
    """The window gives the name the answer's slot somewhere, perhaps with another verb of the
    same sense ("Japan signed" against "Japan concluded its own agreement")."""
    return any(same_name(other, mention) and other.slot == mention.slot for other in window)


def displaced_name(answer: list[Mention], source: list[Mention], window: list[Mention]) -> str | None:
    """A swap whose other partner the source names only by a common noun ("where the country
    receives support from the U.S." against "where the U.S. receives support from Israel"): in a
    source clause with the same verb an answer name stands in another slot, and the answer puts
    in that slot a name the window has elsewhere, never in that slot, but this clause lacks."""
    if not answer or not source or answer[0].verb != source[0].verb:
        return None
    names = [m for m in answer if not m.number]
    for mention in names:
        own = [s for s in source if same_name(s, mention)]
        if not own or any(s.slot == mention.slot for s in own):
            continue
        for other in names:
            if (
                not same_name(other, mention)
                and any(s.slot == other.slot for s in own)
                and not _has(source, other)
                and _has(window, other)
                and not _in_slot(window, other)
            ):
                return f"roles swapped: the source has {mention.key!r} where the sentence has {other.key!r}"
    return None


def substituted_name(answer: list[Mention], source_clauses: list[list[Mention]], window: list[Mention]) -> str | None:
    """A name put in another's place: no source clause with the answer's verb has the answer's
    name in its slot, one has there another name of the same sort that the answer lacks, and the
    answer's name stands elsewhere in the window, never in that slot ("with Russia compensated"
    against "sent to Russia ..., with Ukraine compensated")."""
    for mention in (m for m in answer if not m.number):
        if not _has(window, mention) or _in_slot(window, mention):
            continue
        for clause in (c for c in source_clauses if c[0].verb == mention.verb):
            for other in clause:
                if (
                    not other.number
                    and other.slot == mention.slot
                    and other.kind == mention.kind
                    and not same_name(other, mention)
                    and not _has(answer, other)
                ):
                    return f"name moved: the source has {other.key!r} where the sentence has {mention.key!r}"
    return None


def _about_other(
    number: Mention, others: list[Mention], clause: list[Mention], answer: list[Mention], window: list[Mention]
) -> bool:
    """The source clause holding the number has a thing the answer lacks, where the answer has
    a thing of the same sort in the same role from elsewhere in the window."""
    own = {m.entity for m in clause if same_name(m, number)}
    missing = {(m.kind, _role(m)) for m in others if not _has(clause, m) and _has(window, m)}
    extra = {(m.kind, _role(m)) for m in clause if m.entity not in own and not _has(answer, m)}
    return bool(missing & extra)


def _role(mention: Mention) -> str:
    """A name's relation to its verb: the last step of its slot ("dobj" for "invasion of Ukraine"
    as the object), so that a name stands in for another only in the same role. Numbers have
    none: a date or a sum is an adjunct that the parser hangs on whatever is near ("the 2007
    memorandum", "over fiscal years 2009 to 2018"), so its sort alone is compared."""
    if mention.number:
        return ""
    role = mention.slot.rsplit("/", 1)[-1]
    return OBJECT_ROLE if role in OBJECT_DEPS else role


def moved_number(answer: list[Mention], source_clauses: list[list[Mention]], window: list[Mention]) -> str | None:
    """The answer's number stands in the source only in clauses that name, where the answer
    names something of the window, another thing of the same sort (NATO for the EU, $30 billion
    for $38 billion)."""
    for number in (m for m in answer if m.number):
        holders = [c for c in source_clauses if _has(c, number)]
        if not holders:
            continue  # an absent number is the anchor rule's business
        others = [m for m in answer if m.entity != number.entity]
        if all(_about_other(number, others, clause, answer, window) for clause in holders):
            return f"number {number.key} belongs to another event in the source"
    return None


def flipped_polarity(sentence: Parsed, window: Parsed) -> str | None:
    """The source clause that says what an answer clause says (same verb, one of its names, most
    words in common) says it with the other polarity: "France and China signed the memorandum"
    against "France and China ... did not sign it". A tie goes to the answer's polarity."""
    for clause in sentence.clauses:
        names = sentence.names_in(clause)
        rivals = [
            c for c in window.clauses if c.verb == clause.verb and any(_has(window.names_in(c), n) for n in names)
        ]
        if not rivals:
            continue
        best = max(rivals, key=lambda c: (len(c.words & clause.words), c.negated == clause.negated))
        if best.negated != clause.negated:
            said = "negates" if best.negated else "affirms"
            return f"negation flip: the source {said} what the sentence says of {names[0].key!r} ({clause.verb!r})"
    return None


def _swap(answer: list[Mention], source: list[Mention], window: list[Mention]) -> str | None:
    """Swapped roles where the clauses share two names, else one name moved out of its slot."""
    shared = {m.key for m in answer if _has(source, m)}
    if len(shared) >= 2 and (reason := swapped_roles(answer, source)):
        return reason
    return displaced_name(answer, source, window) if shared else None


def role_conflicts(sentence: Parsed, window: Parsed) -> list[str]:
    """Why the window does not say what the sentence says about who did what (empty: no conflict)."""
    source_clauses = list(_clauses(window.mentions).values())
    around = list(window.mentions)
    reasons: list[str] = []
    for answer in _clauses(sentence.mentions).values():
        for source in source_clauses:
            if reason := _swap(answer, source, around):
                reasons.append(reason)
        if reason := substituted_name(answer, source_clauses, around):
            reasons.append(reason)
        if reason := moved_number(answer, source_clauses, around):
            reasons.append(reason)
    if reason := flipped_polarity(sentence, window):
        reasons.append(reason)
    return list(dict.fromkeys(reasons))
