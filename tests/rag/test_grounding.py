"""rag/grounding.py: the one support test, on real corpus passages. Unfaithful sentences (wrong
year, swapped country, invented number, negation flip, invented claim) must be flagged; quotes
and faithful paraphrases must pass."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import FrozenInstanceError

import pytest

from ingest.structure import analyse
from rag.answer_sentences import AnswerSentence, split_answer_sentences
from rag.grounding import (
    DEFAULT,
    SupportThresholds,
    check_support,
    names_in,
    numbers_in,
    passage_sentences,
)
from tests.conftest import CORPUS, REPO

TEXT = (CORPUS / "000_31241798ea01703b.txt").read_text(encoding="utf-8")


def paragraph(snippet: str) -> str:
    """The corpus paragraph holding `snippet` (fails loudly if the corpus changed)."""
    at = TEXT.index(snippet)
    start = TEXT.rfind("\n\n", 0, at) + 2
    end = TEXT.find("\n\n", at)
    return TEXT[start : end if end > 0 else len(TEXT)]


KOREA = paragraph("about 28,000 American troops are also stationed in South Korea")
FINLAND = paragraph("In 2023, the country joined NATO.")
NATO = paragraph("NATO membership is not realistic for Ukraine any time soon")
RED_CELL = paragraph("the American The Red Cell Project says")
ZELENSKYY = paragraph("26 countries are ready to guarantee")
ISRAEL_LIST = TEXT[TEXT.index("There are three main defining features") : TEXT.index("When mentioning the pros")]
VIABLE = paragraph("This model indeed seems more viable")

UNFAITHFUL = [
    ("Finland joined NATO in 2021.", FINLAND, "2021"),  # wrong year
    ("About 28,000 American troops are stationed in Japan.", KOREA, "Japan"),  # swapped country
    ("About 35,000 American troops are stationed in South Korea.", KOREA, "35000"),  # invented number
    ("NATO membership is realistic for Ukraine soon.", NATO, "negation"),  # negation dropped
    ("Finland did not join NATO in 2023.", FINLAND, "negation"),  # negation added
    ("Bilateral security guarantees can provide the same level of security as NATO.", NATO, "negation"),
    ("The U.S. signed a formal defense treaty with Israel.", ISRAEL_LIST, "negation"),
    ("The Red Cell Project recommends that Ukraine build nuclear weapons.", RED_CELL, "too little"),  # invented
    ("The Israel model would end all future conflicts in the region.", RED_CELL, "too little"),
    ("South Korea has promised to send air defense systems to Ukraine.", paragraph("Patriot systems"), "too little"),
    ("Zelenskyy said that European countries refuse to guarantee Ukraine's security.", ZELENSKYY, "too little"),
]

# Faithful rewordings; the first ones share the passage's words, the later ones need the model.
PARAPHRASES = [
    ("About 28,000 U.S. troops are stationed in South Korea.", KOREA),
    ("Finland became a member of the EU in 1995.", FINLAND),
    ("Finland joined NATO in 2023.", FINLAND),
    ("Israel is a quasi ally of the U.S. rather than a formal treaty ally.", ISRAEL_LIST),
    ("Zelenskyy said 26 countries are ready to guarantee Ukraine's security.", ZELENSKYY),
    ("Roughly 28000 American soldiers are based in South Korea to deter the North.", KOREA),
    ("Finland entered the European Union in 1995 and NATO in 2023.", FINLAND),
    ("The Soviet Union took roughly 9 percent of Finnish territory after 1940.", FINLAND),
    ("NATO membership is not a realistic prospect for Ukraine in the near future.", NATO),
    ("Bilateral guarantees cannot offer the same security as NATO.", NATO),
    ("The U.S. gave Israel written security guarantees in 1975 and 1981.", ISRAEL_LIST),
    ("An Israel-style partnership would help Washington increase its influence.", RED_CELL),
    (
        "Ukraine could deter future Russian attacks with weapons supplies and military aid modeled on the "
        "US-Israel relationship.",
        VIABLE,
    ),
]


@pytest.mark.unit
@pytest.mark.parametrize(("sentence", "passage", "why"), UNFAITHFUL, ids=[u[0][:40] for u in UNFAITHFUL])
def test_unfaithful_sentences_are_flagged_on_words_alone(sentence, passage, why):
    support = check_support(sentence, passage)
    assert not support.supported
    assert any(why in reason for reason in support.reasons), support.reasons


@pytest.mark.integration
def test_unfaithful_sentences_stay_flagged_with_the_model(embeddings):
    # The model cannot rescue them: a wrong year or a dropped "not" can look close in meaning.
    for sentence, passage, why in UNFAITHFUL:
        support = check_support(sentence, passage, embeddings=embeddings)
        assert not support.supported, (sentence, support)
        assert any(why in reason for reason in support.reasons), (sentence, support.reasons)
        if why == "too little":
            assert support.semantic is not None and support.semantic < DEFAULT.semantic


@pytest.mark.integration
def test_faithful_paraphrases_pass_with_the_model(embeddings):
    needed_model = 0
    for sentence, passage in PARAPHRASES:
        support = check_support(sentence, passage, embeddings=embeddings)
        assert support.supported, (sentence, support)
        assert support.reasons == []
        needed_model += support.semantic is not None
        if support.semantic is not None:
            assert support.lexical < DEFAULT.lexical <= 1.0 and support.semantic >= DEFAULT.semantic
    assert needed_model >= 5  # the later paraphrases pass on meaning, not on shared words


@pytest.mark.unit
def test_paraphrases_that_change_words_need_the_model():
    support = check_support("Roughly 28000 American soldiers are based in South Korea to deter the North.", KOREA)
    assert not support.supported and support.semantic is None
    assert "no model given" in support.reasons[-1]


@pytest.mark.unit
def test_every_corpus_sentence_supports_itself_and_is_supported_by_its_paragraph():
    _, sentences = analyse(TEXT, "lead")
    assert len(sentences) > 40
    for sentence in sentences:
        alone = check_support(sentence.text, sentence.text)
        assert alone.supported and alone.lexical == 1.0, (sentence.text, alone.reasons)
        context = paragraph(sentence.text) if "\n" not in sentence.text else sentence.text
        in_paragraph = check_support(sentence.text, context)
        assert in_paragraph.supported, (sentence.text, in_paragraph.reasons)


@pytest.mark.unit
def test_a_quote_wrapped_over_several_lines_supports_itself():
    # A PDF wraps its lines: a cited sentence holds line breaks, and its last name may sit on the
    # fourth line. Line breaks inside a paragraph are not sentence ends; blank lines and list
    # markers are.
    wrapped = (
        "Rather than join the next venture, she founded her own, the Coastal\n"
        "Survey Expedition, aimed at the unexplored shore north of\n"
        "the bay, by way of the relay station on Hope Island, and far\n"
        "from Portugal."
    )
    assert check_support(" ".join(wrapped.split()), wrapped).supported
    assert check_support(wrapped, wrapped).supported
    assert passage_sentences("Intro:\n- one item\n- two\nwrapped. Next one.\n\nA quote.") == [
        "Intro:",
        "one item",
        "two wrapped.",
        "Next one.",
        "A quote.",
    ]


@pytest.mark.unit
def test_markers_and_list_bullets_are_ignored():
    support = check_support("- In 2023, the country joined NATO. [1]", FINLAND)
    assert support.supported and support.lexical == 1.0
    assert check_support(
        "• Israel is not a formal treaty ally but a ’quasi ally’ of the U.S. [2][3]", ISRAEL_LIST
    ).supported


@pytest.mark.unit
def test_numbers_are_normalised_and_number_words_in_the_passage_count():
    assert numbers_in("about 28,000 troops in the 20th century") == {"28000", "20"}
    assert numbers_in("twenty-six countries and nine percent", words=True) >= {"26", "9"}
    assert check_support(
        "Zelenskyy said 26 countries are ready.", "Zelenskyy said twenty-six countries are ready."
    ).supported
    assert check_support("28000 troops are in South Korea.", "About 28,000 troops are in South Korea.").supported
    assert not check_support("28 troops are in South Korea.", "About 28,000 troops are in South Korea.").supported


@pytest.mark.unit
def test_a_number_written_as_a_word_must_match_too():
    passage = "The compact made six commitments to the ports. One of the ports later left it."
    support = check_support("The compact made four commitments to the ports.", passage)
    assert not support.supported and support.reasons[0] == "number 4 is not in the passage"
    assert check_support("The compact made six commitments to the ports.", passage).supported
    assert check_support("The compact made 6 commitments to the ports.", passage).supported
    assert check_support("One of the ports later left the compact.", passage).supported  # "one" states no count


@pytest.mark.unit
def test_names_aliases_and_prefixes():
    assert names_in("In 2023, Finland joined NATO after the U.S. President spoke: Yes.") == [
        "Finland",
        "NATO",
        "U.S. President",
    ]
    assert check_support("Finland joined the European Union in 1995.", "Finland joined the EU in 1995.").supported
    assert not check_support(
        "Finland joined the European Parliament in 1995.", "Finland joined the EU in 1995."
    ).supported
    # The sentence opener is not a name; acronyms are names anywhere.
    assert names_in("Seoul hosts troops.") == [] and names_in("NATO grew.") == ["NATO"]
    assert check_support("Washington backs Seoul.", "The U.S. backs South Korea.").supported  # aliases
    assert check_support("The Korean model is discussed.", "The South Korea model is discussed.").supported  # prefix
    support = check_support("Troops from Australia back Ukraine.", "Troops from Austria back Ukraine.")
    assert not support.supported and "Australia" in support.reasons[0]


@pytest.mark.unit
def test_the_title_supplies_only_the_opening_name_a_pronoun_stands_for():
    title = "The Tidewater Compact on Harbour Dredging\n\nWhat the compact says"
    passage = "It creates no duty for any port to dredge the channel, and it sets no deadline."
    sentence = "The Tidewater Compact creates no duty for any port to dredge the channel."
    assert not check_support(sentence, passage).supported  # the name is nowhere in the window
    assert check_support(sentence, passage, context=title).supported
    # A name later in the sentence must stand in the window, whatever the title says: "it joined
    # the Coastal Union" does not become "joined the Tidewater Compact".
    joined = "Following a vote in 1994, it joined the Coastal Union in 1995."
    assert not check_support("Marport joined the Tidewater Compact in 1995.", joined, context=title).supported
    # And the opening name only stands in for a window that opens by pointing back.
    plain = "Ports along the coast have no duty to dredge the channel."
    assert not check_support("The Tidewater Compact gives ports no duty to dredge.", plain, context=title).supported


@pytest.mark.unit
def test_anchors_scattered_over_a_long_passage_do_not_add_up_to_support():
    # 1940, Finland, joined and NATO are all in the paragraph, five sentences apart.
    support = check_support("In 1940, Finland joined NATO.", FINLAND)
    assert not support.supported and support.reasons[0] == "number 1940 is not in the passage"
    assert check_support("In 1940, Finland joined NATO.", FINLAND, thresholds=SupportThresholds(window=20)).supported
    # Adjacent sentences (or two cited quotes, one per line) may support one sentence together.
    assert check_support(
        "Finland became an EU member state in 1995 and in 2023 the country joined NATO.", FINLAND
    ).supported
    with pytest.raises(ValueError, match="window"):
        SupportThresholds(window=0)


@pytest.mark.unit
def test_a_negation_elsewhere_in_the_passage_does_not_veto():
    # The passage negates "view" in another clause; the sentence is about the clause without it.
    assert check_support("The Israel model has gained support in Washington and among NATO members.", VIABLE).supported
    # A list that both negates "formal" and uses it plainly supports the plain use.
    assert check_support(
        "Regardless the lack of a formal treaty commitment, the U.S. provided written security "
        "guarantees to Israel (1975, 1981).",
        ISRAEL_LIST,
    ).supported


@pytest.mark.unit
@pytest.mark.parametrize(
    ("sentence", "passage"),
    [
        (
            "Neither Peru nor Chile signed the accord.",
            "Peru and Chile, the two coastal states, did not sign the accord.",
        ),
        (
            "No member state is bound by the pact to send ships.",
            "The pact creates no duty for any member state to send ships.",
        ),
    ],
)
def test_two_negative_sentences_agree_when_their_cues_fall_on_different_words(sentence, passage):
    assert not [reason for reason in check_support(sentence, passage).reasons if "negation flip" in reason]


@pytest.mark.unit
@pytest.mark.parametrize(
    ("sentence", "passage"),
    [
        ("Peru and Chile signed the accord.", "Peru and Chile, the two coastal states, did not sign the accord."),
        ("Neither Peru nor Chile signed the accord.", "Peru and Chile, the two coastal states, signed the accord."),
        ("Every member state is bound by the pact to send ships.", "The pact binds no member state to send ships."),
    ],
)
def test_a_negative_sentence_against_a_plain_one_is_a_flip(sentence, passage):
    assert any("negation flip" in reason for reason in check_support(sentence, passage).reasons)


@pytest.mark.unit
def test_empty_inputs_and_thresholds():
    assert not check_support("", FINLAND).supported
    assert not check_support("[1]", FINLAND).supported
    assert not check_support("Finland joined NATO in 2023.", "  ").supported
    with pytest.raises(ValueError, match="lexical"):
        SupportThresholds(lexical=1.5)
    with pytest.raises(FrozenInstanceError):
        DEFAULT.lexical = 0.1  # type: ignore[misc]
    loose = SupportThresholds(lexical=0.5)
    assert check_support(
        "The Red Cell Project recommends that Ukraine build nuclear weapons.", RED_CELL, thresholds=loose
    ).supported  # what the default bound is there to stop


@pytest.mark.integration
def test_stricter_semantic_threshold_rejects_a_paraphrase(embeddings):
    sentence, passage = "NATO membership is not a realistic prospect for Ukraine in the near future.", NATO
    assert check_support(sentence, passage, embeddings=embeddings).supported
    strict = check_support(sentence, passage, embeddings=embeddings, thresholds=SupportThresholds(semantic=0.99))
    assert not strict.supported and strict.semantic is not None


@pytest.mark.unit
def test_split_answer_sentences_groups_and_markers():
    answer = (
        "There are three main defining features of this model:\n- Israel is not a formal treaty ally.\n"
        "- The U.S. provided written guarantees. [1]\n\n"
        "First sentence here. Second sentence there. [2]\n\n"
        "Finland joined the EU in 1995 [3], and NATO in 2023 [4]. It is known [3, 4]. No marker after."
    )
    assert split_answer_sentences(answer) == [
        AnswerSentence("There are three main defining features of this model:", [1]),
        AnswerSentence("Israel is not a formal treaty ally.", [1]),
        AnswerSentence("The U.S. provided written guarantees.", [1]),
        AnswerSentence("First sentence here.", [2]),
        AnswerSentence("Second sentence there.", [2]),
        AnswerSentence("Finland joined the EU in 1995, and NATO in 2023.", [3, 4]),
        AnswerSentence("It is known.", [3, 4]),
        AnswerSentence("No marker after.", []),
    ]


@pytest.mark.unit
def test_split_answer_sentences_marker_placement():
    # After the period, before it, inside: each belongs to its own sentence; "U.S." does not split.
    assert split_answer_sentences("A is so. [1] B is so [2]. The U.S. agreed [1][2].") == [
        AnswerSentence("A is so.", [1]),
        AnswerSentence("B is so.", [2]),
        AnswerSentence("The U.S. agreed.", [1, 2]),
    ]
    # A marker inside a sentence does not close the group before it.
    assert split_answer_sentences("Lead. Middle [1] part.") == [
        AnswerSentence("Lead.", []),
        AnswerSentence("Middle part.", [1]),
    ]
    assert split_answer_sentences("") == []


@pytest.mark.unit
def test_grounding_does_not_depend_on_evals():
    code = (
        "import sys, rag.grounding; bad = [m for m in sys.modules if m.split('.')[0] == 'evals']; assert not bad, bad"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
