"""Where each side of a comparison stands in the question, so that each side can be asked alone.

"Which came first: the signing of the Budapest Memorandum or Finland's entry into the European
Union?" compares two phrases, not two names: the European Union belongs to Finland's side.

- When punctuation opens the compared list (":" or ","), a side's phrase runs from the word after
  it to the word that joins it to the next side ("or", "and", a comma), and the last side's
  phrase to the punctuation that closes the list.
- Without it, a side is its name with its article, and a side set against another by a
  preposition is that preposition's phrase ("compare with NATO membership"); a comparative keeps
  its predicate ("Is X longer than Y?" -> "Is X longer?").
- Names that only modify a noun they share ("the Suez, Panama and Kiel canals") are cut alone.
- A list of alternatives after the question ("Which came first: A's flights near B or C's
  crossing of D?") is read by position, not by the parse: the small parser often hangs the
  second alternative from a word inside the first ("crossing" from "B"). The alternatives are
  what stands between the punctuation that opens the list, the word "or" and the punctuation
  that closes it, and each side is the first name in its alternative: in English a phrase's
  owner or head comes before the names in its modifiers ("Finland's agreement with the USSR").

Built on the tokens' positions and the parser's coordination labels; where the joining word
cannot be found, no cuts are made and the caller falls back to cutting the names alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from spacy.tokens import Doc, Span, Token

# Words that join coordinated sides, and prepositions that set one side against another.
COORDINATORS = frozenset({"or", "and", "nor", "versus", "vs", "vs."})
# Words that offer alternatives: inside an alternative, "and" joins co-owners ("Cooke and
# Wheatstone's telegraph"), so only these split a list of alternatives.
ALTERNATIVES = frozenset({"or", "versus", "vs", "vs."})
WH_TAGS = frozenset({"WDT", "WP", "WP$", "WRB"})  # Penn Treebank tags of wh-words
# The pairs that ask which of two things came first ("before or after Y").
ORDER_PAIRS = (frozenset({"before", "after"}), frozenset({"earlier", "later"}))
CONTRAST_PREPOSITIONS = frozenset({"than", "with", "from", "to"})
OPENERS = frozenset({":", ",", ";"})
CLOSERS = frozenset({",", ";", ":", "?", ".", "!"})
MODIFIER_DEPS = frozenset({"nmod", "amod", "compound"})
ARGUMENT_DEPS = frozenset({"nsubj", "nsubjpass", "dobj", "attr"})


def _joiner(doc: Doc, left: Span, right: Span) -> Token | None:
    """The word between two sides' names that joins them: the last coordinator, comma or
    contrasting preposition between them."""
    for token in reversed(doc[left.end : right.start]):
        if _joins_by_coordination(token):
            return token
        if token.lower_ in CONTRAST_PREPOSITIONS and token.dep_ == "prep":
            return token
    return None


def _joins_by_coordination(token: Token) -> bool:
    return token.lower_ in COORDINATORS or token.dep_ == "cc" or token.text == ","


def side_cuts(doc: Doc, spans: Sequence[Span]) -> tuple[tuple[int, int], ...]:
    """For each side (its name's span, in the order given), the characters to cut from the
    question to leave that side out; () when the sides are not joined in one recognisable way."""
    order = sorted(range(len(spans)), key=lambda i: spans[i].start)
    ordered = [spans[i] for i in order]
    joiners = [_joiner(doc, a, b) for a, b in pairwise(ordered)]
    found = [j for j in joiners if j is not None]
    if len(ordered) < 2 or len(found) < len(joiners):
        return ()
    if all(_joins_by_coordination(j) for j in found):
        cuts = _coordinated(doc, ordered, found)
    elif len(ordered) == 2:  # "X compared with Y", "X longer than Y"
        cuts = _contrasted(doc, ordered[0], found[0])
    else:  # a list joined now by "and", now by "with": too unsure to cut phrases
        return ()
    by_side = [(0, 0)] * len(spans)
    for position, index in enumerate(order):
        by_side[index] = cuts[position]
    return tuple(by_side)


def _coordinated(doc: Doc, ordered: list[Span], joiners: list[Token]) -> list[tuple[int, int]]:
    first, last = ordered[0], ordered[-1]
    # "the Suez, Panama and Kiel canals": the sides only modify a noun they share; cut the names.
    shared_head = first.root.dep_ in MODIFIER_DEPS and first.root.head.i >= last.end
    opener = next((t for t in reversed(doc[: first.start]) if t.text in OPENERS), None)
    if opener is not None and not shared_head:
        # "...: A or B's entry into C?" -- the list runs to the closing punctuation.
        begin = doc[opener.i + 1].idx
        closer = next((t for t in doc[last.end :] if t.text in CLOSERS), None)
        finish = closer.idx if closer is not None else len(doc.text)
    else:
        begin = _with_article(doc, first) if not shared_head else first.start_char
        finish = last.end_char
        if any(c.dep_ == "case" for c in last.root.children):
            # "Amundsen's or Scott's Terra Nova expedition": the last owner keeps what it owns.
            finish = next((t.idx for t in doc[last.end :] if t.text in CLOSERS), len(doc.text))
    starts = [begin] + [_after(j) for j in joiners]
    # Each side but the last goes with the word after it; the last with the word before it.
    cuts = [(starts[i], starts[i + 1]) for i in range(len(ordered) - 1)]
    return [*cuts, (joiners[-1].idx, finish)]


def _contrasted(doc: Doc, left: Span, preposition: Token) -> list[tuple[int, int]]:
    """The right side is the preposition's phrase ("with the period covered by ..."); the left is
    the subject or object phrase holding the left name ("the intended duration of the X
    agreement"), or the name alone where the parse gives none."""
    right_end = preposition.right_edge.idx + len(preposition.right_edge.text)
    holder = next(
        (t for t in [left.root, *left.root.ancestors] if t.dep_ in ARGUMENT_DEPS and preposition not in t.subtree),
        None,
    )
    if holder is None:
        return [(_with_article(doc, left), left.end_char), (preposition.idx, right_end)]
    left_end = holder.right_edge.idx + len(holder.right_edge.text)
    return [(holder.left_edge.idx, left_end), (preposition.idx, right_end)]


def listed_sides(doc: Doc, spans: Sequence[Span]) -> list[tuple[Span, tuple[int, int]]]:
    """For a list of alternatives after the question, per side: the span that names it, and the
    characters to cut to leave it out. [] unless there is one "or" after a question word, an
    opening punctuation mark between them, and something distinct named in every alternative.

    A side is the first name in its alternative. Where an alternative holds no name ("the 1918
    influenza pandemic or smallpox"), its first run of nouns stands for it, and the list is
    split at the "or" alone."""
    alternatives = [t for t in doc if t.lower_ in ALTERNATIVES]
    asking = next((t.i for t in doc if t.tag_ in WH_TAGS), None)
    if len(alternatives) != 1 or asking is None or alternatives[0].i <= asking:
        return []
    joiner = alternatives[0]
    inside_names = {i for span in spans for i in range(span.start, span.end)}
    # Punctuation between the question word and the "or", not inside a name ("Agreement of
    # Friendship, Cooperation and Mutual Assistance") nor the comma of ", or".
    marks = [t for t in doc[asking + 1 : joiner.i - 1] if t.text in OPENERS and t.i not in inside_names]
    closer = next((t for t in doc[joiner.i + 1 :] if t.text in CLOSERS and t.i not in inside_names), None)
    finish = closer.i if closer is not None else len(doc)
    opener, separators = _named_list(marks, joiner, finish, spans)
    if opener is None and marks:
        # No name in some alternative: the colon, or else the last comma, opens two of them.
        colons = [t for t in marks if t.text != ","]
        opener, separators = (colons or marks)[-1], []
    if opener is None or _lists_in_clause(doc, opener):
        return []
    named = _items(doc, [opener, *separators, joiner], finish, spans, phrases=not separators)
    if any(span is None for span in named) or len({s.text.lower() for s in named if s}) < len(named):
        return []
    # Each item but the last goes with the separator after it; the last with the one before it.
    starts = [_after(opener)] + [_after(t) for t in [*separators, joiner]]
    cuts = [(starts[i], starts[i + 1]) for i in range(len(starts) - 1)]
    end = doc[finish].idx if finish < len(doc) else len(doc.text)
    cuts.append((joiner.idx, end))
    return [(span, cut) for span, cut in zip(named, cuts, strict=True) if span is not None]


def ordered_sides(doc: Doc, spans: Sequence[Span]) -> list[tuple[Span, tuple[int, int]]]:
    """ "Was X finished before or after Y?": X, the subject, and Y, the object of the later of
    "before or after", each with what to cut to leave it out (from the subject to the pair, and
    the pair with its object). [] without that pair, a subject or an object."""
    around = ((t, frozenset({doc[t.i - 1].lower_, doc[t.i + 1].lower_})) for t in doc[1:-1])
    pair = next((t for t, words in around if t.lower_ in ALTERNATIVES and words in ORDER_PAIRS), None)
    if pair is None:
        return []
    first, second = doc[pair.i - 1], doc[pair.i + 1]
    objects = [c for c in (*second.children, *first.children) if c.dep_ == "pobj"]
    subject = next((t for t in doc[: first.i] if t.dep_ in ("nsubj", "nsubjpass") and t.pos_ != "PRON"), None)
    if subject is None:
        return []
    left = (subject.left_edge.idx, min(_after(subject.right_edge), first.idx))
    if objects:
        right = (first.idx, _after(objects[0].right_edge))
        later = _head_side(doc, objects[0], spans)
    else:
        # "after the golden spike was driven", "after the last Thames frost fair" (read as a
        # clause): what follows the pair, to the closing punctuation, named as a listed item is.
        closer = next((t for t in doc[second.i + 1 :] if t.text in CLOSERS), None)
        finish = closer.i if closer is not None else len(doc)
        found = _items(doc, [second], finish, spans, phrases=True)[0]
        if found is None:
            return []
        right, later = (first.idx, doc[finish - 1].idx + len(doc[finish - 1].text)), found
    sides = [(_head_side(doc, subject, spans), left), (later, right)]
    return sides if sides[0][0].text.lower() != sides[1][0].text.lower() else []


def _head_side(doc: Doc, head: Token, spans: Sequence[Span]) -> Span:
    """What names a phrase: the name it is part of, or its owner's name ("Sabin's vaccine"), or
    its head noun with the nouns compounded onto it ("the first telegraph line" -> telegraph
    line)."""
    for token in (head, *(c for c in head.children if c.dep_ == "poss")):
        name = next((span for span in spans if span.start <= token.i < span.end), None)
        if name is not None:
            return name
    start = head.i
    while start > 0 and doc[start - 1].dep_ == "compound" and doc[start - 1].head.i in range(start, head.i + 1):
        start -= 1
    return doc[start : head.i + 1]


def _named_list(
    marks: list[Token], joiner: Token, finish: int, spans: Sequence[Span]
) -> tuple[Token | None, list[Token]]:
    """The mark that opens a list whose every item holds a name, and the commas inside it: after
    a colon, its commas separate items if each holds a name ("...: A, B or C"; else only the
    "or" does: "...: the founding of the first airline, DELAG, or ..."). Without a colon, the
    commas from the "or" leftwards while each item holds a name ("Which got new, larger locks
    first, A or B?" -- "larger locks first" names nothing)."""
    doc = joiner.doc
    colons = [t for t in marks if t.text != ","]
    if colons:
        opener = colons[-1]
        separators = [t for t in marks if t.i > opener.i]
        for candidate in (separators, []):
            if None not in _items(doc, [opener, *candidate, joiner], finish, spans):
                return opener, candidate
        return None, []
    found: list[Token] = []
    for comma in reversed(marks):
        if None in _items(doc, [comma, *found, joiner], finish, spans):
            break
        found.insert(0, comma)
    return (found[0], found[1:]) if found else (None, [])


def _lists_in_clause(doc: Doc, opener: Token) -> bool:
    """ "How soon must London, Berlin or Paris reply?": the comma lists names inside the clause
    (the word before it is coordinated with what follows); the parse reads such a list."""
    if opener.text != ",":
        return False
    return any(c.dep_ == "conj" and c.i > opener.i for c in doc[opener.i - 1].children)


def _items(
    doc: Doc, marks: list[Token], finish: int, spans: Sequence[Span], phrases: bool = False
) -> list[Span | None]:
    """The first name in each stretch between the marks (and from the last mark to `finish`), by
    position; with `phrases`, a stretch that names nothing is named by its first run of nouns
    ("the 1918 influenza pandemic" -> "influenza pandemic"); else it is None."""
    bounds = [m.i for m in marks] + [finish]
    by_position = sorted(spans, key=lambda span: span.start)
    named: list[Span | None] = []
    for left, right in pairwise(bounds):
        name = next((span for span in by_position if left < span.start < right), None)
        named.append(name if name is not None or not phrases else _noun_run(doc, left + 1, right))
    return named


def _noun_run(doc: Doc, start: int, end: int) -> Span | None:
    nouns = [t.i for t in doc[start:end] if t.pos_ in ("NOUN", "PROPN")]
    if not nouns:
        return None
    last = nouns[0]
    while last + 1 < end and doc[last + 1].pos_ in ("NOUN", "PROPN"):
        last += 1
    return doc[nouns[0] : last + 1]


def _with_article(doc: Doc, span: Span) -> int:
    return doc[span.start - 1].idx if span.start > 0 and doc[span.start - 1].dep_ == "det" else span.start_char


def _after(token: Token) -> int:
    return token.idx + len(token.text)


def without(text: str, cuts: Sequence[tuple[int, int]]) -> tuple[str, str]:
    """The text with the cuts taken out (spaces collapsed), and what was cut."""
    kept, removed, position = [], [], 0
    for start, end in sorted(cuts):
        start = max(start, position)
        if end <= start:
            continue
        kept.append(text[position:start])
        removed.append(text[start:end])
        position = end
    kept.append(text[position:])
    joined = " ".join("".join(kept).split())
    return joined.replace(" ?", "?").replace(" ,", ","), " ".join(removed)
