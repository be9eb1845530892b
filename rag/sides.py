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
