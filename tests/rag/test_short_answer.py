"""The short answer's guard against a name the entity recogniser cut short."""

from __future__ import annotations

import pytest

from rag.language import Entity
from rag.short_answer import whole_name


def _entity(text: str, name: str, label: str = "ORG") -> Entity:
    start = text.index(name)
    return Entity(start, start + len(name), label, name)


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("It was signed at the Conference on Security and Co-operation in Europe.", "the Conference on Security"),
        ("The Board of Trade Harbours Office ran it.", "The Board of Trade"),
        ("The Anglo-Norse Company paid.", "The Anglo"),
        ("Envoys of the Hanse Towns League met.", "the Hanse Towns"),
    ],
)
def test_a_name_that_goes_on_is_no_short_answer(text, name):
    assert not whole_name(text, _entity(text, name))


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("The Maritime Safety Board (MSB) was set up in 1952.", "The Maritime Safety Board"),
        ("Its capital is Dunholt, a harbour town.", "Dunholt"),
        ("The lens was made in Paris.", "Paris"),
        ("Ships from Norway and from Denmark called there.", "Norway"),
    ],
)
def test_a_whole_name_is_a_short_answer(text, name):
    assert whole_name(text, _entity(text, name, "GPE"))
