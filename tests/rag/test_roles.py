"""The role check of the llm mode's guard (rag/roles.py) on sentences written for these tests,
with the real spaCy pipeline: a name moved into another's slot fails support, while a
paraphrase that keeps every name in its role passes."""

from __future__ import annotations

import pytest

from rag.language import load_language
from rag.roles import RoleParser

PACT = (
    "Sweden signed a trade pact with Norway in 1905. "
    "Under the pact, the kingdom receives grain and fuel from Norway and its partners."
)
CONVOY = "In May the convoy carried the grain to Portugal to be stored, with Spain paid in the form of olive oil."
SIGNINGS = "Denmark signed on 3 May 2024. Norway concluded its own agreement with Iceland on the same day."


@pytest.fixture(scope="module")
def roles() -> RoleParser:
    return RoleParser(load_language())


@pytest.mark.parametrize(
    ("sentence", "window", "why"),
    [
        # The source names the receiver only as "the kingdom"; the answer makes the giver receive.
        ("Under the pact, Norway receives grain and fuel from Sweden and its partners.", PACT, "roles swapped"),
        # Portugal stands in the window, but never as the one paid.
        (
            "In May the convoy carried the grain to Portugal to be stored, "
            "with Portugal paid in the form of olive oil.",
            CONVOY,
            "name moved",
        ),
        ("Iceland signed its own agreement with Norway on the same day as Denmark.", SIGNINGS, "roles swapped"),
    ],
)
def test_a_name_put_in_another_ones_slot_conflicts(roles, sentence, window, why):
    assert any(reason.startswith(why) for reason in roles.conflicts(sentence, window))


@pytest.mark.parametrize(
    ("sentence", "window"),
    [
        ("Under the pact, Sweden receives grain and fuel from Norway and its partners.", PACT),
        ("Spain was paid in olive oil for the grain the convoy carried to Portugal.", CONVOY),
        # "signed" for the source's "concluded": Norway holds the same slot there.
        ("Norway signed its own agreement with Iceland on the same day as Denmark.", SIGNINGS),
    ],
)
def test_names_kept_in_their_roles_do_not_conflict(roles, sentence, window):
    assert roles.conflicts(sentence, window) == []
