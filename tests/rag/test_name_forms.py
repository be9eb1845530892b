"""A name or a measure written otherwise in the documents than in the question: "Mount Tallow"
asked of a corpus that writes "Mt. Tallow" and "Tallow", "higher" asked of a fact sheet that
writes "Height of Mt. Tallow: 3,120 metres". A made-up corpus, ingested for real (real model,
spaCy and Chroma), and the question reader on its own."""

from __future__ import annotations

import pytest

from rag.vocabulary import Vocabulary
from tests.conftest import answerer_over

PEAKS = """The peaks of the Harrow range

Key facts
Height of Mt. Tallow: 3,120 metres (2019 survey)
Height of Orrin Peak: 2,950 metres
First ascent of Tallow: 12 July 1861

Tallow

Tallow stands at the head of the Harrow valley, above the village of Kestrel. Shepherds grazed
sheep on its lower slopes for centuries. Mt. Tallow was first climbed by two guides from Kestrel.

Orrin Peak

Orrin Peak stands south of Tallow across the Gannet glacier. Its north face was climbed in 1931.
"""


@pytest.fixture(scope="module")
def peaks(tmp_path_factory, embeddings):
    return answerer_over(tmp_path_factory, embeddings, {"peaks.txt": PEAKS})


@pytest.mark.integration
def test_a_fact_label_with_an_abbreviation_is_one_sentence(peaks):
    texts = [row.text for source in peaks.snapshot.sources for row in peaks.snapshot.sentences_of_source(source)]
    assert "Height of Mt. Tallow: 3,120 metres (2019 survey)" in texts  # not cut after "Mt."
    assert "Mt. Tallow was first climbed by two guides from Kestrel." in texts


@pytest.mark.integration
def test_both_sides_are_answered_where_the_corpus_writes_the_name_and_measure_otherwise(peaks):
    answer = peaks.answer("Which is higher, Mount Tallow or Orrin Peak?")
    assert not answer.abstained and not answer.notes  # no side left uncovered
    assert "3,120 metres" in answer.answer and "2,950 metres" in answer.answer


def test_a_common_word_the_corpus_never_uses_leaves_the_name(nlp):
    from rag.question import read_question

    corpus = Vocabulary(used=frozenset({"tallow", "bridg", "mt", "orrin", "peak"}))
    assert read_question("How high is Mount Tallow?", nlp, corpus).names[0].stems == ("tallow",)
    # A word that is no English word is the name itself: the name stays whole, and absent.
    assert read_question("Who designed the Qarvo Bridge?", nlp, corpus).names[0].stems == ("qarvo", "bridg")
    # Every word in use: nothing is dropped.
    assert read_question("How high is Orrin Peak?", nlp, corpus).names[0].stems == ("orrin", "peak")
    # Without the corpus's words (a bare vocabulary), names are read as written.
    assert read_question("How high is Mount Tallow?", nlp, Vocabulary()).names[0].stems == ("mount", "tallow")


@pytest.mark.parametrize(
    "question, forms",
    [
        ("Which is higher, Tallow or Orrin?", {"high", "height"}),
        ("How deep is the Gannet lake?", {"deep", "depth"}),
        ("What is the length of the Harrow canal?", {"long", "length"}),
        ("Who was older, Tallow's first guide or Orrin's?", {"old", "age"}),
    ],
)
def test_a_measure_is_looked_for_as_its_adjective_and_its_noun(nlp, question, forms):
    from rag.question import read_question

    terms = read_question(question, nlp, Vocabulary()).terms
    assert {term: terms.get(term) for term in forms} == dict.fromkeys(forms, 0.5)


@pytest.fixture(scope="module")
def nlp():
    from rag.language import load_language

    return load_language()


def test_what_a_question_asks_is_read_without_its_names(nlp):
    from rag.names import without_names
    from rag.question import read_question

    shape = read_question("What was the Orrin Peak's first recorded height?", nlp, Vocabulary())
    assert [name.text for name in shape.names] == ["Orrin Peak"]
    assert without_names(shape.text, shape.names) == "What was the first recorded height?"  # no "'s" left
    # A question that is nothing but its name keeps it: there is nothing else to compare.
    only = read_question("Orrin Peak?", nlp, Vocabulary())
    assert without_names(only.text, only.names) == "Orrin Peak?"


@pytest.mark.integration
def test_each_part_is_also_searched_for_what_it_asks_without_its_names(peaks, embeddings):
    from rag.names import without_names
    from rag.request import AnswerRequest

    understanding = peaks.understand(peaks.prepare(AnswerRequest("Which is higher, Mount Tallow or Orrin Peak?")))
    retrieval = peaks.retrieve(understanding)
    assert len(retrieval.focus) == len(understanding.parts) == 2
    for part, focus, vectors in zip(understanding.parts, retrieval.focus, retrieval.vectors, strict=True):
        asked = without_names(part.text, part.shape.names)
        assert asked != part.text
        assert float(focus @ embeddings.embed_query_vector(asked)) > 0.999
        assert float(focus @ vectors[0]) < 0.99  # not the question's own vector
