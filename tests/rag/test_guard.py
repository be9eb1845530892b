"""The grounding guard on deliberately unfaithful generations, against real retrieved passages
(real model, real index). No LLM is needed to write a bad sentence: we write them."""

from __future__ import annotations

import pytest

from rag.guard import UNSUPPORTED_MARK, guard_answer

pytestmark = pytest.mark.integration


def retrieve(answerer, question, k=4):
    return answerer.retriever.model_copy(update={"k": k}).invoke(question)


def cite_of(documents, needle):
    """The [n] of the retrieved chunk containing `needle` (1-based)."""
    for n, document in enumerate(documents, start=1):
        if needle in document.page_content:
            return n
    raise AssertionError(f"{needle!r} not retrieved")


@pytest.fixture(scope="module")
def korea(answerer):
    documents = retrieve(answerer, "How many American troops are stationed in South Korea?")
    return documents, cite_of(documents, "28,000 American troops")


@pytest.fixture(scope="module")
def finland(answerer):
    documents = retrieve(answerer, "When did Finland join NATO and the EU?")
    return documents, cite_of(documents, "joined NATO")


def run(answerer, text, documents, policy="drop"):
    return guard_answer(text, documents, answerer.snapshot, answerer.retriever.embeddings, policy)


def test_a_faithful_quote_and_a_faithful_paraphrase_pass(answerer, korea):
    documents, n = korea
    text = (
        f"About 28,000 American troops are stationed in South Korea to help deter aggression from North [{n}]. "
        f"Some 28,000 US soldiers are based in South Korea to deter the North [{n}]."
    )
    result = run(answerer, text, documents)
    assert result.report.kept == 2 and result.report.dropped == 0
    for _, spans in result.sentences:
        source = answerer.snapshot.sources[spans[0].source_id].text
        assert "28,000" in source[spans[0].start : spans[0].end]


@pytest.mark.parametrize(
    "sentence",
    [
        "About 45,000 American troops are stationed in South Korea [{n}].",  # invented number
        "About 28,000 American troops are stationed in Japan [{n}].",  # swapped country
        "About 28,000 French troops are stationed in South Korea [{n}].",  # swapped country, other side
        "Zelenskyy said no American troops are stationed in South Korea [{n}].",  # negation
    ],
)
def test_unfaithful_sentences_are_dropped(answerer, korea, sentence):
    documents, n = korea
    result = run(answerer, sentence.format(n=n), documents)
    assert result.report.checked == 1
    assert result.report.dropped == 1 and result.sentences == []


@pytest.mark.parametrize(
    "sentence",
    [
        "Finland joined NATO in 2021 [{n}].",  # wrong year
        "In 1940, Finland joined NATO.",  # uncited and invented: the small base model's favourite
        "Finland never joined NATO [{n}].",  # negation
    ],
)
def test_wrong_years_uncited_claims_and_negations_are_dropped(answerer, finland, sentence):
    documents, n = finland
    result = run(answerer, sentence.format(n=n), documents)
    assert result.report.dropped == 1 and not result.sentences


def test_an_uncited_true_sentence_gets_the_passage_that_supports_it(answerer, finland):
    documents, _ = finland
    result = run(answerer, "Finland became an EU member state in 1995.", documents)
    assert result.report.kept == 1
    ((_, spans),) = result.sentences
    text = answerer.snapshot.sources[spans[0].source_id].text
    assert "1995" in text[spans[0].start : spans[0].end]


def test_a_wrong_citation_is_moved_to_the_passage_that_supports_it(answerer, korea):
    documents, n = korea
    wrong = 1 if n != 1 else 2
    result = run(answerer, f"About 28,000 American troops are stationed in South Korea [{wrong}].", documents)
    assert result.report.kept == 1 and result.report.recited == 1


def test_flag_policy_keeps_and_marks_unsupported_sentences(answerer, finland):
    documents, n = finland
    result = run(
        answerer, f"In 2023, Finland joined NATO [{n}]. Finland joined NATO in 1940 [{n}].", documents, policy="flag"
    )
    assert result.report.kept == 1 and result.report.flagged == 1 and result.report.dropped == 0
    assert result.flagged == ["Finland joined NATO in 1940."]
    assert UNSUPPORTED_MARK == "[unsupported]"


def test_a_refusal_and_a_trailing_sources_list_are_recognised(answerer, korea):
    documents, n = korea
    assert run(answerer, "Not in the sources.", documents).declined
    result = run(
        answerer, f"About 28,000 American troops are in South Korea [{n}].\n\nSources:\n[{n}] Some title", documents
    )
    assert result.report.checked == 1 and result.report.kept == 1
