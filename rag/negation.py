"""Negation for the support test (rag/grounding.py): which word each negation cue negates, and
when a sentence and a passage disagree on it.

Cues are not/no/never/cannot/nor/without (rag.lexical.NEGATIONS), n't, and "rather than",
"instead of", "neither", "lack of". Each cue negates the first content word after it in its
clause ("is not realistic" negates "realistic").

A flip needs the other side to say the negated word plainly, in a sentence with no cue at all.
Two negative sentences agree in polarity even when their cues fall on different words: "Neither
France nor China put its name to it" and "France and China ... did not sign it"; "No signatory
is obliged" and "It creates no duty for any signatory". Whose "not" it is inside one sentence
is for the parse (rag/roles.py, the llm mode's guard).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.lexical import NEGATIONS, tokens

CLAUSE_BREAK = re.compile(r"[,;:.!?()\[\]–—]|\b(?:but|while|whereas|however|although|though)\b", re.IGNORECASE)
# "n't", the contrastive "rather than"/"instead of" and "lack of" read as a plain "not".
CONTRACTED_NOT = re.compile(r"n[’']t\b|\b(?:rather than|instead of|neither|lack(?:s|ing)?(?: of)?)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Negation:
    focus: str  # the negated content stem
    clause: frozenset[str]  # content stems of its clause
    cue_text: str  # the clause, for the reason message


def negations_in(text: str) -> list[Negation]:
    """Each negation cue with the first content word after it in the same clause."""
    text = CONTRACTED_NOT.sub(" not", text)
    found = []
    for clause in CLAUSE_BREAK.split(text):
        if not clause or not clause.strip():
            continue
        stems = tokens(clause)
        content = frozenset(s for s in stems if s not in NEGATIONS)
        for i, stem in enumerate(stems):
            if stem not in NEGATIONS:
                continue
            focus = next((s for s in stems[i + 1 :] if s not in NEGATIONS), None)
            if focus is not None:
                found.append(Negation(focus, content, " ".join(clause.split())))
    return found


def affirmative_stems(sentences: list[str]) -> set[str]:
    """The content stems of the sentences that hold no negation cue."""
    found: set[str] = set()
    for sentence in sentences:
        stems = tokens(CONTRACTED_NOT.sub(" not", sentence))
        if not NEGATIONS.intersection(stems):
            found.update(stems)
    return found


def flip(
    negations: list[Negation], other_content: set[str], other_negated: set[str], min_shared: int
) -> Negation | None:
    """The first negation whose word the other side uses plainly, in a clause sharing at least
    `min_shared` more content words with it."""
    for negation in negations:
        if negation.focus in other_negated or negation.focus not in other_content:
            continue
        shared = {s for s in negation.clause - {negation.focus} if s in other_content}
        if len(shared) >= min_shared:
            return negation
    return None


def plain_clauses(text: str) -> list[tuple[frozenset[str], frozenset[str]]]:
    """Each clause's content stems, and those of them it negates."""
    found = []
    for clause in CLAUSE_BREAK.split(CONTRACTED_NOT.sub(" not", text)):
        if clause and clause.strip():
            stems = frozenset(s for s in tokens(clause) if s not in NEGATIONS)
            negated = frozenset(n.focus for n in negations_in(clause))
            found.append((stems, negated))
    return found


def stated_plainly(
    negation: Negation, clauses: list[tuple[frozenset[str], frozenset[str]]], content: set[str], min_shared: int
) -> bool:
    """The passage also uses the negated word plainly, in a clause about what the sentence is
    about (sharing `min_shared` more content words with it): then the negation elsewhere does not
    veto the sentence. A plain use in an unrelated clause ("never signed a mutual defence treaty")
    does not undo "not a treaty ally"."""
    return any(
        negation.focus in stems
        and negation.focus not in negated
        and len((stems - {negation.focus}) & content) >= min_shared
        for stems, negated in clauses
    )
