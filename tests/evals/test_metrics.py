"""evals/metrics.py: retrieval against gold quotes, grounding of answer sentences in their
citations (with the real support test), and the bootstrap interval."""

from __future__ import annotations

import math

import pytest

from evals.metrics import (
    bootstrap_ci,
    citation_precision,
    citation_recall,
    cited_passage,
    covers,
    faithfulness,
    hit_at_k,
    locate_quotes,
    mean,
    mrr_at_k,
    ndcg_at_k,
    recall_at_k,
    relevance,
)
from rag.answer_sentences import AnswerSentence, split_answer_sentences
from rag.grounding import check_support


def supports(sentence: str, passage: str) -> bool:
    return check_support(sentence, passage).supported


SOURCES = {"a": "0123456789" * 10, "b": "Finland became an EU member state in 1995. In 2023, the country joined NATO."}


@pytest.mark.unit
def test_locate_quotes_finds_every_occurrence():
    assert locate_quotes(["2345", "In 2023", "absent"], SOURCES) == [
        [("a", i * 10 + 2, i * 10 + 6) for i in range(10)],
        [("b", 43, 50)],
        [],
    ]


@pytest.mark.unit
def test_a_chunk_is_relevant_when_it_covers_half_the_quote():
    quote = [("a", 10, 20)]
    assert covers(("a", 0, 15), quote)  # 5 of 10 characters: exactly half
    assert not covers(("a", 0, 14), quote)
    assert not covers(("b", 0, 100), quote)  # another source
    assert covers(("a", 12, 18), [("a", 0, 4), ("a", 10, 20)])  # any occurrence will do


@pytest.mark.unit
def test_retrieval_metrics_by_hand():
    gold = [[("a", 10, 20)], [("a", 50, 60)]]
    retrieved = [("a", 80, 90), ("a", 5, 25), ("a", 8, 22), ("a", 45, 70)]
    assert relevance(retrieved, gold) == [set(), {0}, {0}, {1}]
    assert hit_at_k(retrieved, gold) == 1.0 and hit_at_k(retrieved, gold, k=1) == 0.0
    assert recall_at_k(retrieved, gold) == 1.0 and recall_at_k(retrieved, gold, k=3) == 0.5
    assert mrr_at_k(retrieved, gold) == 0.5 and mrr_at_k(retrieved, gold, k=1) == 0.0
    # Gains 0, 1, 0 (repeats quote 0), 1; the ideal puts both gains first.
    expected = (1 / math.log2(3) + 1 / math.log2(5)) / (1 + 1 / math.log2(3))
    assert ndcg_at_k(retrieved, gold) == pytest.approx(expected)
    assert ndcg_at_k([("a", 5, 25), ("a", 45, 70)], gold) == pytest.approx(1.0)
    # A quote never retrieved still counts in the ideal: only one of two found at rank 1.
    assert ndcg_at_k([("a", 5, 25)], gold) == pytest.approx(1 / (1 + 1 / math.log2(3)))
    assert ndcg_at_k([("a", 80, 90)], gold) == 0.0
    # One chunk holding both quotes is as good as it gets.
    assert ndcg_at_k([("a", 0, 100)], gold) == pytest.approx(1.0)
    assert recall_at_k([], gold) == 0.0 and hit_at_k([], gold) == 0.0


FINLAND_EU = "Finland became an EU member state in 1995."
FINLAND_NATO = "In 2023, the country joined NATO."
KOREA = "At this point, it is important to note that about 28,000 American troops are also stationed in South Korea."


@pytest.mark.unit
def test_faithfulness_and_citation_recall_count_supported_sentences():
    quotes = {1: FINLAND_EU, 2: KOREA}
    answer = f"{FINLAND_EU} [1]\n\nFinland joined NATO in 2021. [1]\n\nNobody cites this."
    sentences = split_answer_sentences(answer)
    assert [s.markers for s in sentences] == [[1], [1], []]
    assert faithfulness(sentences, quotes, supports) == pytest.approx(1 / 3)
    assert citation_recall(sentences, quotes, supports) == pytest.approx(1 / 3)
    # A marker naming no citation gives no support.
    assert faithfulness([AnswerSentence(FINLAND_EU, [7])], quotes, supports) == 0.0
    assert faithfulness([], quotes, supports) == 1.0
    # Quotes stand apart by a blank line: a line break inside one is only where its source wrapped.
    assert cited_passage([2, 1, 2, 9], quotes) == f"{KOREA}\n\n{FINLAND_EU}"


@pytest.mark.unit
def test_citation_precision_is_alce_style():
    quotes = {1: FINLAND_EU, 2: FINLAND_NATO, 3: KOREA}
    # [3] supports nothing here: it is superfluous; [1] alone supports the sentence.
    assert citation_precision([AnswerSentence(FINLAND_EU, [1, 3])], quotes, supports) == 0.5
    # Neither citation supports this alone; together they do, and dropping either breaks it.
    joint = "Finland became an EU member state in 1995, and in 2023 the country joined NATO."
    assert not supports(joint, FINLAND_EU) and not supports(joint, FINLAND_NATO)
    assert citation_precision([AnswerSentence(joint, [1, 2])], quotes, supports) == 1.0
    assert citation_recall([AnswerSentence(joint, [1, 2])], quotes, supports) == 1.0
    # With a third, useless citation, it is the only imprecise one.
    assert citation_precision([AnswerSentence(joint, [1, 2, 3])], quotes, supports) == pytest.approx(2 / 3)
    # An unsupported sentence's citations are all imprecise; no citations at all is vacuously precise.
    assert citation_precision([AnswerSentence("Finland joined NATO in 2021.", [2])], quotes, supports) == 0.0
    assert citation_precision([AnswerSentence("Uncited.", [])], quotes, supports) == 1.0


@pytest.mark.unit
def test_bootstrap_interval_is_deterministic_and_sensible():
    values = [1.0] * 15 + [0.0] * 5
    low, high = bootstrap_ci(values)
    assert (low, high) == bootstrap_ci(values)  # fixed seed
    assert low < mean(values) == 0.75 < high and low >= 0.0 and high <= 1.0
    spread = [(i * 7919) % 101 / 100 for i in range(30)]
    assert bootstrap_ci(spread, seed=14) != bootstrap_ci(spread)  # the seed is what fixes it
    wide = bootstrap_ci([1.0, 0.0] * 5)
    narrow = bootstrap_ci([1.0, 0.0] * 500)
    assert narrow[1] - narrow[0] < wide[1] - wide[0]
    assert bootstrap_ci([0.5, 0.5, 0.5]) == (0.5, 0.5)
    assert bootstrap_ci(values, stat=max) == (1.0, 1.0)
    assert bootstrap_ci(values, alpha=0.5)[1] - bootstrap_ci(values, alpha=0.5)[0] < high - low
    with pytest.raises(ValueError, match="at least one"):
        bootstrap_ci([])
    with pytest.raises(ValueError, match="alpha"):
        bootstrap_ci(values, alpha=1.5)


@pytest.mark.parametrize(
    ("short", "facts", "answerable", "right"),
    [
        ("5 December 1994", [["5 December 1994", "December 5, 1994"]], True, 1.0),
        ("1994", [["5 December 1994"]], True, 1.0),  # part of the fact
        ("about 7 million dollars", [["7 million dollars"]], True, 1.0),  # holds the fact
        ("28,000", [["28000"]], True, 1.0),
        ("1977", [["1999"]], True, 0.0),
        ("Holtenau", [["Wilhelm I"], ["1887"]], True, 0.0),
        ("2023", [], False, 0.0),  # a short answer to a question that should have been declined
        (None, [["1999"]], True, None),
    ],
)
def test_a_short_answer_is_right_when_it_is_a_required_fact(short, facts, answerable, right):
    from evals.dataset import EvalItem
    from evals.scoring import short_answer_right
    from rag.answer import Answer
    from rag.short_answer import ShortAnswer

    lead = ShortAnswer(text=short, n=1, start=0, end=len(short)) if short else None
    answer = Answer(answer="quote [1]", abstained=False, short_answer=lead)
    assert short_answer_right(answer, EvalItem("x", "factoid", "q?", answerable, facts)) == right


def test_a_short_list_scores_the_share_of_its_items_that_are_required_facts():
    from evals.dataset import EvalItem
    from evals.scoring import short_answer_right
    from rag.answer import Answer
    from rag.short_answer import ShortAnswer

    items = [ShortAnswer(text=t, n=1, start=0, end=len(t)) for t in ("Canada", "the United Kingdom", "Chile", "Peru")]
    answer = Answer(answer="quote [1]", abstained=False, short_list=items)
    facts = (("Canada",), ("United Kingdom", "UK"), ("Japan",))
    assert short_answer_right(answer, EvalItem("x", "list", "q?", True, facts)) == 0.5
    assert short_answer_right(answer, EvalItem("x", "list", "q?", False, ())) == 0.0
