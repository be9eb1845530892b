"""The kind of answer a question asks for, as entity labels: the coarse classes of question
classification (Li and Roth, 2002: NUMERIC, LOCATION, HUMAN, ...) mapped onto spaCy's OntoNotes
labels. The question word decides ("when", "who", "how many"), or the head noun of "which/what X"
("which year"), or a comparative ("deeper", "more people"); the words are general English words
for those types, not words of any corpus.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rag.anchors import numbers_in
from rag.lexical import tokens

if TYPE_CHECKING:
    from spacy.tokens import Doc, Token

NUMBER_LABELS = frozenset({"CARDINAL", "QUANTITY", "MONEY", "PERCENT"})
TIME_LABELS = frozenset({"DATE", "TIME"})
AGENT_LABELS = frozenset({"PERSON", "ORG", "NORP", "GPE"})
PLACE_ANSWER_LABELS = frozenset({"GPE", "LOC", "FAC"})
# Head nouns of "which/what X" that name the answer's type, by type.
TYPE_NOUNS = {
    "year": TIME_LABELS, "date": TIME_LABELS, "month": TIME_LABELS, "day": TIME_LABELS,
    "decade": TIME_LABELS, "century": TIME_LABELS, "period": TIME_LABELS, "time": TIME_LABELS,
    "country": frozenset({"GPE", "NORP"}), "nation": frozenset({"GPE", "NORP"}), "state": frozenset({"GPE", "NORP"}),
    "city": frozenset({"GPE"}), "capital": frozenset({"GPE"}), "place": PLACE_ANSWER_LABELS,
    "percentage": frozenset({"PERCENT"}), "percent": frozenset({"PERCENT"}), "share": frozenset({"PERCENT"}),
    "proportion": frozenset({"PERCENT"}), "number": NUMBER_LABELS, "amount": NUMBER_LABELS,
    "person": frozenset({"PERSON"}), "leader": frozenset({"PERSON"}), "organization": frozenset({"ORG"}),
    "man": frozenset({"PERSON"}), "woman": frozenset({"PERSON"}), "people": frozenset({"PERSON"}),
    # What a measure noun asks for: money, or a quantity or count (spaCy's MONEY, QUANTITY, CARDINAL).
    "cost": frozenset({"MONEY"}), "price": frozenset({"MONEY"}), "fee": frozenset({"MONEY"}),
    "budget": frozenset({"MONEY"}),
    "length": NUMBER_LABELS, "height": NUMBER_LABELS, "width": NUMBER_LABELS, "depth": NUMBER_LABELS,
    "distance": NUMBER_LABELS, "weight": NUMBER_LABELS, "area": NUMBER_LABELS, "population": NUMBER_LABELS,
    "speed": NUMBER_LABELS, "span": NUMBER_LABELS, "size": NUMBER_LABELS, "volume": NUMBER_LABELS,
    "mass": NUMBER_LABELS, "capacity": NUMBER_LABELS,
}  # fmt: skip
# Words that make "how much" a question about money (English: the verbs of paying, and "worth").
MONEY_WORDS = frozenset({"cost", "pay", "spend", "charge", "earn", "owe", "worth", "price", "fee", "budget"})
# "How far/long/big ..." asks for a measure. A size or a distance is a number; "long", "old" and
# "often" may also be answered by a date or a duration ("how old" by an age or a birth year).
MEASURE_LABELS = NUMBER_LABELS | TIME_LABELS
TIME_MEASURES = ("long", "old", "often")
HOW_LABELS = {
    **dict.fromkeys(("far", "big", "large", "wide", "deep", "high", "tall"), NUMBER_LABELS),
    **dict.fromkeys(TIME_MEASURES, MEASURE_LABELS),
}
# The comparatives of amount ("killed more people", "fewer men"): a count or a quantity decides.
AMOUNT_COMPARATIVES = frozenset({"more", "less", "fewer", "much", "many", "few", "little"})
# The noun of each measure adjective (English derivation: "deep" -> "depth").
MEASURE_NOUNS = {
    "long": "length", "far": "distance", "old": "age", "big": "size", "large": "size", "wide": "width",
    "deep": "depth", "high": "height", "tall": "height",
}  # fmt: skip
# Predicates that set two things side by side ("How does the length of X compare with ...").
COMPARISON_PREDICATES = frozenset({"differ", "different", "compare", "contrast", "similar", "distinguish", "resemble"})
WH_LABELS = {
    "when": TIME_LABELS,
    "who": AGENT_LABELS,
    "whom": AGENT_LABELS,
    "whose": AGENT_LABELS,
    "where": PLACE_ANSWER_LABELS,
}


def answer_type(doc: Doc) -> tuple[frozenset[str], bool, Token | None]:
    """The entity labels an answer holds, whether several are wanted, and the word that said so."""
    for token in doc:
        word = token.lower_
        following = doc[token.i + 1].lower_ if token.i + 1 < len(doc) else ""
        labels = WH_LABELS.get(word)
        if word == "how":
            labels = NUMBER_LABELS if following in ("many", "much") else HOW_LABELS.get(following)
            if following == "much" and any(t.lemma_.lower() in MONEY_WORDS for t in doc):
                # "How much did it cost?" is not answered in metres. A bare number stays: the small
                # recogniser reads "2.1 million euros" as a CARDINAL.
                labels = frozenset({"MONEY", "CARDINAL"})
        elif word == "when" and token.i > 2:
            labels = None  # "... when ..." inside the question is a clause, not its question word
        if labels is not None:
            # "Who were ...", "Who are ...": the plural verb asks for more than one.
            return labels, word in WH_LABELS and following in ("were", "are"), None
        if word in ("which", "what") and token.dep_ in ("det", "attr", "nsubj", "dobj", "pobj", "dep"):
            # The word "which" determines, or the next noun: the small parser may tag "states" as
            # a verb, or leave "which" hanging ("dep") before "three countries".
            candidates: list[Token | None] = [token.head] if token.dep_ == "det" else []
            candidates.append(_asked_noun(doc, token))
            noun = next((c for c in candidates if c is not None and c.lemma_.lower() in TYPE_NOUNS), None)
            if noun is not None:
                return TYPE_NOUNS[noun.lemma_.lower()], _plural(noun), noun
    compared = _compared_measure(doc)
    return (
        (TYPE_NOUNS[compared.lemma_.lower()], False, compared) if compared is not None else (frozenset(), False, None)
    )


def _compared_measure(doc: Doc) -> Token | None:
    """The measure a comparison compares: "How does the length of X compare with that of Y?"
    asks for two lengths (the subject or object of the comparing word)."""
    arguments = ("nsubj", "nsubjpass", "dobj")
    return next(
        (
            t
            for t in doc
            if t.lemma_.lower() in TYPE_NOUNS and t.dep_ in arguments and t.head.lemma_.lower() in COMPARISON_PREDICATES
        ),
        None,
    )


def listed(type_word: Token | None) -> int | None:
    """The number a plural type word is counted by ("Which three countries ..." -> 3)."""
    counts = [c for c in type_word.children if c.dep_ == "nummod"] if type_word is not None else []
    values = list(numbers_in(counts[0].text, words=True)) if counts else []
    return int(values[0]) if len(values) == 1 and values[0].isdigit() else None


def _plural(noun: Token) -> bool:
    """Tagged plural, or written otherwise than its lemma ("states" tagged as a verb, "men")."""
    return noun.tag_ in ("NNS", "NNPS") or noun.lower_ != noun.lemma_.lower()


def _asked_noun(doc: Doc, token: Token) -> Token | None:
    """The noun after the question word, unless a verb comes first and the noun is what does that
    verb: in "What did the leaders say?" the leaders speak, they are not asked for ("What was the
    total cost?" still asks for the cost: "be" joins it to the question word)."""
    noun = next_noun(doc, token)
    verb_first = token.i + 1 < len(doc) and doc[token.i + 1].pos_ in ("AUX", "VERB")
    if noun is not None and verb_first and noun.dep_ in ("nsubj", "nsubjpass") and noun.head.lemma_ != "be":
        return None
    return noun


def next_noun(doc: Doc, token: Token) -> Token | None:
    """The noun a question word asks about, within the next four words ("What was the total
    cost ..." -> cost); of a compound, its head ("What toll rate" -> rate)."""
    for candidate in doc[token.i + 1 : token.i + 5]:
        if candidate.pos_ in ("NOUN", "PROPN"):
            while candidate.dep_ == "compound" and candidate.head.pos_ in ("NOUN", "PROPN"):
                candidate = candidate.head
            return candidate
    return None


# The adjectives each measure noun is stated with ("98 kilometres long" states a length).
MEASURE_ADJECTIVES = {
    noun: [adjective for adjective, its_noun in MEASURE_NOUNS.items() if its_noun == noun]
    for noun in set(MEASURE_NOUNS.values())
}


def stated_measures(text: str, numbers: list[tuple[int, int]]) -> list[str]:
    """The measure words a sentence states of its numbers (character spans), in both forms: "98
    kilometres long", "a length of 98 kilometres" and "Length: 98 km" each state "long" and
    "length", so that a question in either form meets them."""
    words: list[str] = []
    for start, end in numbers:
        after = text[end : end + 12].split()[:1]
        before = text[max(0, start - 16) : start].lower().replace(":", " : ").split()[-2:]
        if after and after[0].lower().strip(".,;:") in MEASURE_NOUNS:
            adjective = after[0].lower().strip(".,;:")
            words += [adjective, MEASURE_NOUNS[adjective]]
        elif len(before) == 2 and before[1] in ("of", ":") and before[0] in MEASURE_ADJECTIVES:
            # "a length of 98 kilometres"; "Length: 515 km", as lists of key facts write it
            words += [before[0], *MEASURE_ADJECTIVES[before[0]]]
    return words


def comparative_labels(doc: Doc) -> frozenset[str]:
    """What a comparative asks to be compared: a number for a size or an amount ("deeper", "more
    people"), a number or a date for "longer" and "older" and for any other comparative; nothing
    without one. The tagger marks comparatives (JJR, RBR); the lemmatizer leaves some as they are
    ("higher"), so the English comparative endings are taken off ("-er", with a doubled
    consonant: "bigger")."""
    for token in doc:
        if token.tag_ not in ("JJR", "RBR"):
            continue
        word = token.lower_
        if word in AMOUNT_COMPARATIVES or token.lemma_.lower() in AMOUNT_COMPARATIVES:
            return NUMBER_LABELS
        for base in (token.lemma_.lower(), word[:-2], word[:-1], word[:-3]):
            if base in HOW_LABELS:
                return HOW_LABELS[base]
        return MEASURE_LABELS
    return frozenset()


def measure_stems(doc: Doc) -> frozenset[str]:
    """The stems of the adjective "how" asks about and of its noun ("How long is ..." -> long,
    length), if it asks about one."""
    for token in doc[:-1]:
        adjective = doc[token.i + 1].lower_
        if token.lower_ == "how" and adjective in HOW_LABELS:
            return frozenset(tokens(f"{adjective} {MEASURE_NOUNS.get(adjective, '')}"))
    return frozenset()


def measure_forms(doc: Doc) -> frozenset[str]:
    """Every stem a sentence may state the asked measure by: the adjective and its noun, whether
    the question asks "how high", "which is higher" or "what is the height" ("Height: 8,849 m"
    and "8,849 m high" state the same)."""
    forms = set(measure_stems(doc))
    for token in doc:
        base = token.lemma_.lower()
        if token.tag_ in ("JJR", "JJS", "RBR", "RBS"):
            word = token.lower_
            base = next((b for b in (base, word[:-2], word[:-1], word[:-3]) if b in MEASURE_NOUNS), base)
        if base in MEASURE_NOUNS and token.tag_ in ("JJR", "JJS", "RBR", "RBS"):
            forms.update(tokens(f"{base} {MEASURE_NOUNS[base]}"))
        elif token.pos_ == "NOUN" and base in MEASURE_ADJECTIVES:
            forms.update(tokens(" ".join([base, *MEASURE_ADJECTIVES[base]])))
    return frozenset(forms)
