"""People as texts name them: in full once, then by the family name or a pronoun. A made-up
corpus about two expeditions, ingested for real (real model, real spaCy, real Chroma)."""

from __future__ import annotations

import pytest

from rag.language import load_language
from rag.question import read_question
from rag.vocabulary import Vocabulary
from tests.conftest import answerer_over, first_quote

EXPEDITIONS = """Two lake expeditions

The first expedition

Oskar Lund led the first expedition to Lake Orsa in 1921. He reached the lake on 3 May and stayed
for 40 days.

The second expedition

Maria Vinter led the second expedition to Lake Orsa in 1925. She reached the lake on 9 June and
stayed for 12 days.

The lake

Lake Orsa lies on the border between Sweden and Norway. It covers about 40 square kilometres.

Later lives

Both leaders wrote books about the lake. Lund spent his last years in Tromsø, where he taught
geology. Vinter moved to Bergen and ran the city museum until 1950.
"""


@pytest.mark.unit
def test_a_persons_family_name_alone_shows_the_person():
    shape = read_question("When did Maria Vinter reach the lake?", load_language(), Vocabulary())
    (person,) = (n for n in shape.names if "vinter" in n.stems)
    assert person.present_in({"vinter"}) and person.present_in({"maria", "vinter"})
    assert not person.present_in({"maria"})  # a first name is shared by too many people
    place = read_question("When did the ship reach New Guinea?", load_language(), Vocabulary())
    assert not any(n.present_in({"guinea"}) for n in place.names)  # only a person's name


@pytest.fixture(scope="module")
def expeditions(tmp_path_factory, embeddings):
    return answerer_over(tmp_path_factory, embeddings, {"expeditions.txt": EXPEDITIONS})


@pytest.mark.integration
def test_a_pronoun_stands_for_the_person_the_sentence_before_names(expeditions):
    # "He ... stayed for 40 days" is about Oskar Lund, named in the sentence before it.
    assert "12 days" in first_quote(expeditions, "How long did Maria Vinter stay at Lake Orsa?")


@pytest.mark.integration
def test_a_sentence_whose_pronoun_stands_for_another_person_is_about_someone_else(expeditions):
    from rag.features import other_subject, previous_in_section

    snapshot = expeditions.snapshot
    shape = read_question("How long did Maria Vinter stay at Lake Orsa?", expeditions.nlp, snapshot.vocabulary)
    rows = {row.text.split()[0]: row for row in snapshot.sentences if "reached the lake" in row.text}
    assert other_subject(rows["He"], previous_in_section(snapshot, rows["He"]), shape) == 1.0
    assert other_subject(rows["She"], previous_in_section(snapshot, rows["She"]), shape) == 0.0
    # "It" after a sentence naming places, not people, is still about the lake.
    lake = read_question("How large is Lake Orsa?", expeditions.nlp, snapshot.vocabulary)
    (covers,) = (row for row in snapshot.sentences if row.text.startswith("It covers"))
    assert other_subject(covers, previous_in_section(snapshot, covers), lake) == 0.0


@pytest.mark.integration
def test_a_person_named_by_the_family_name_alone_is_found(expeditions):
    assert "Tromsø" in first_quote(expeditions, "Where did Oskar Lund spend his last years?")
