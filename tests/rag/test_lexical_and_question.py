import pytest

from rag.lexical import BM25, TermStats, stem, tokens
from rag.question import read_question

pytestmark = pytest.mark.unit


def test_tokens_fold_acronyms_numbers_and_plurals():
    assert tokens("The U.S. stationed 28,000 troops") == ["us", "station", "28000", "troop"]
    assert stem("guarantees") == stem("guarantee")
    assert "not" in tokens("it is not realistic")


def test_bm25_prefers_the_matching_text():
    bm25 = BM25(["Finland joined NATO in 2023.", "Korea has Patriot systems.", "Nothing here."])
    ranked = bm25.scores({"nato": 1.0, "finland": 1.0})
    assert ranked[0][0] == 0 and all(position != 2 for position, _ in ranked)


def test_coverage_counts_country_aliases():
    stats = TermStats(["Ukraine asks for help.", "Finland joined NATO."])
    assert stats.coverage({"kyiv": 1.0}, {"ukraine"}) == 1.0
    assert stats.coverage({"kyiv": 1.0, "nato": 1.0}, {"finland"}) == 0.0


CORPUS_TERMS = frozenset(tokens("South Korea NATO Finland Patriot Ukraine 2023 Red Cell Project troops"))
BIGRAMS = frozenset({("south", "korea"), ("red", "cell"), ("cell", "project")})


@pytest.mark.parametrize(
    "question, evidence, paragraph, ok",
    [
        ("How many troops are in South Korea?", "About 28,000 troops are stationed in South Korea.", "", True),
        ("How many Patriot systems has Ukraine received?", "Ukraine wants Patriot systems like Korea.", "", False),
        # The name may stand elsewhere in the paragraph: "the country" is Finland.
        ("When did Finland join NATO?", "In 2023, the country joined NATO.", "Finland left.", True),
        ("When did Finland join NATO?", "In 2023, the country joined NATO.", "Sweden left.", False),
        ("When did Finland join NATO?", "Finland joined NATO eventually.", "", False),
        ("Why did South Korea join NATO in 2023?", "In 2023, Finland joined NATO.", "", False),
        ("Who leads the Red Cell Project?", "The Red Cell Project says so.", "", False),
        ("Who argued that Ukraine can repeat it?", "Finnish President Alexander Stubb argued Ukraine can.", "", True),
    ],
)
def test_question_shape_constraints(question, evidence, paragraph, ok):
    shape = read_question(question, CORPUS_TERMS, BIGRAMS)
    terms = set(tokens(evidence))
    assert shape.satisfied_by(evidence, terms | set(tokens(paragraph)), terms) is ok
