import pytest

from rag.citations import make_citation, verify_citations
from rag.errors import CitationError

pytestmark = pytest.mark.unit
TEXT = "Alpha beta. Gamma delta."


def test_exact_span_passes():
    citation = make_citation(1, "doc", "T", "S", TEXT, 12, 24)
    assert citation.quote == "Gamma delta."
    verify_citations([citation], {"doc": TEXT})


@pytest.mark.parametrize(
    "change",
    [
        {"quote": "Gamma delta!"},
        {"start": 11},
        {"end": 99},
        {"source_id": "other"},
        {"n": 2},
    ],
)
def test_any_mismatch_is_a_citation_error(change):
    citation = make_citation(1, "doc", "T", "S", TEXT, 12, 24).model_copy(update=change)
    with pytest.raises(CitationError):
        verify_citations([citation], {"doc": TEXT})
