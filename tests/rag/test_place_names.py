"""A country is named by its capital, by a name the entity recogniser missed, or by a code, on
either side of a match; and the words that only look like codes ("It", "In", "No") name none.
The corpus is a made-up reef fund with real countries, ingested for real (real model, real spaCy,
real Chroma)."""

from __future__ import annotations

import pytest

from rag.language import Entity
from rag.lexical import tokens
from rag.places import countries_in, country_code
from rag.vocabulary import UNLABELLED, Vocabulary
from tests.conftest import answerer_over, first_quote


@pytest.mark.parametrize("word", ["It", "In", "At", "No", "Is", "Be", "Me", "And", "Can"])
def test_a_short_word_written_in_lower_case_is_no_country_code(word):
    assert country_code(word) is None
    assert countries_in(f"{word} the spring the fund paid.") == set()


@pytest.mark.parametrize("code, country", [("UK", "GBR"), ("US", "USA"), ("U.S.", "USA"), ("UAE", "ARE")])
def test_a_code_written_in_capitals_still_names_its_country(code, country):
    assert country_code(code) == country


def test_the_end_of_an_official_name_names_its_country_only_where_it_stands_alone():
    # "United States of America": "America" is the United States; "South America" is not a
    # country, and "Korea" ends two official names.
    assert country_code("America") == "USA"
    assert country_code("South America") is None
    assert countries_in("Brazil is the largest country in South America.", patterns=True) == {"BRA"}
    assert countries_in("North America and Europe met.", patterns=True) == set()
    assert countries_in("America pledged aid, and in America, Congress voted.", patterns=True) == {"USA"}
    assert country_code("Korea") != "PRK"


def test_a_word_opening_the_sentence_is_not_part_of_the_name_after_it():
    # "In America" is one run of capitalised words; the name starts after "In". An acronym that
    # spells a stop word ("US") is still a name.
    assert countries_in("In America, the fund closed.", patterns=True) == {"USA"}
    assert countries_in("US Forces Korea has its seat at Pyeongtaek.", patterns=True) >= {"USA"}


def test_countries_are_found_by_name_capital_or_people_but_not_inside_a_persons_name():
    text = "Later George Washington wrote to Lisbon, and the Finnish envoy came from Kyiv."
    person = text.index("George Washington")
    assert countries_in(text, skip=[(person, person + len("George Washington"))]) == {"PRT", "FIN", "UKR"}
    assert "USA" in countries_in(text)


def test_the_corpus_decides_whether_a_name_the_question_mislabels_is_a_place():
    vocabulary = Vocabulary()
    labels = {"Lisbon": ("GPE", "GPE", "PERSON"), "Michael Jordan": ("PERSON",), "Jordan": ("PERSON", "GPE")}
    vocabulary.learn_places(Entity(0, 6, label, name) for name, seen in labels.items() for label in seen)
    assert "country:PRT" in vocabulary.enrich(tokens("Lisbon"), [Entity(0, 6, "PERSON", "Lisbon")])
    # One word the small model calls a person: the gazetteer wins, unless the corpus has the word
    # inside a person's full name.
    assert "country:UKR" in vocabulary.enrich(tokens("Kyiv"), [Entity(0, 4, "PERSON", "Kyiv")])
    assert not any(t.startswith("country:") for t in vocabulary.enrich([], [Entity(0, 6, "PERSON", "Jordan")]))
    # A run of proper nouns the recogniser left unlabelled is looked up.
    assert "country:UKR" in Vocabulary().enrich(tokens("Kyiv"), [Entity(0, 4, UNLABELLED, "Kyiv")])


REEF = """The Skarn reef fund

Who paid

The Skarn reef fund was set up in 1996 to rebuild the lighthouse on the Skarn reef. Portugal paid
2.1 million euros for the new lantern in 1998. Norway paid 400,000 euros for the foghorn in 2001.
Lisbon also sent two survey ships to the reef in 1999. Austria, which has no coast, gave 12,000
euros for the keepers' library. Norway paid for the library's shelves in 2004. The Skarn reef fund
spent the last of its money on a boathouse. It closed in 2010.

The voyage

Their crews mapped the rocks around the light in nine days. A storm in Lisbon delayed the second
voyage by a week. A lantern maker in Lisbon offered the fund a cheaper design, which it refused.
"""


@pytest.fixture(scope="module")
def reef(tmp_path_factory, embeddings):
    return answerer_over(tmp_path_factory, embeddings, {"reef.txt": REEF})


@pytest.mark.integration
def test_a_question_that_names_the_country_by_its_capital_finds_the_countrys_sentence(reef):
    # The small model reads "Lisbon" in this question as a person; the corpus uses it as a place.
    assert "2.1 million euros" in first_quote(reef, "How much did Lisbon pay for the new lantern?")


@pytest.mark.integration
def test_a_capital_the_recogniser_missed_in_a_document_still_names_its_country(reef):
    # "Lisbon also sent two survey ships…" has no entity for Lisbon.
    assert "two survey ships" in first_quote(reef, "How many survey ships did Portugal send to the reef?")


@pytest.mark.integration
def test_austria_is_not_australia_and_a_capital_is_not_another_country(reef):
    answer = reef.answer("How much did Australia give to the Skarn reef fund?")
    assert "12,000" not in answer.answer


@pytest.mark.integration
def test_a_short_answer_may_take_its_subject_from_the_sentence_before(reef):
    # "It closed in 2010.": the fund is named by the sentence before, and by the title.
    answer = reef.answer("When did the Skarn reef fund close?")
    assert answer.short_answer is not None and answer.short_answer.text == "2010"
    source = reef.snapshot.sources["reef"].text
    assert source[answer.short_answer.start : answer.short_answer.end] == "2010"


@pytest.mark.integration
def test_no_short_answer_from_a_sentence_about_another_country(reef):
    # Austria is named by the sentence before; this one is about Norway, and so is its year.
    answer = reef.answer("When did Austria pay for the library's shelves?")
    assert answer.short_answer is None or answer.short_answer.text != "2004"


def test_a_possessive_names_its_country():
    # "Moscow's demands" names Moscow: the support test had judged a verbatim quote unsupported
    # ("name 'Moscow' is not in the passage") because the passage's only "Moscow" was possessive.
    from rag.places import countries_in

    assert countries_in("the government refused Moscow's demands") == {"RUS"}
    assert countries_in("Kyiv’s plea and the Netherlands' fleet", patterns=True) == {"UKR", "NLD"}
