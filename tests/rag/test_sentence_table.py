"""The sentence table gives back, row for row, what the sentences were when they went in."""

import dataclasses
import json

import pytest

from rag import sentence_table
from rag.sentence_table import SentenceRow, SentenceTable
from rag.store import SourceRecord, StoredSentence
from rag.vocabulary import Vocabulary

pytestmark = pytest.mark.unit

TEXTS = {
    "harbour": "The harbour opened in 1871. It was widened twice. A pier was added. - a list item\nA close.",
    "alps": "Tunnels cross the Alps. The Gotthard opened in 1882 under Swiss rule.",
}


def stored_rows() -> list[StoredSentence]:
    """Sentences of two sources, out of order, with a gap, a page, flags, entities, a text that
    is not its slice and a row of another content version."""
    rows = []
    for source_id, text in TEXTS.items():
        start = 0
        pieces = text.replace(". ", ".|").replace("\n", "|").split("|")
        for index, piece in enumerate(pieces):
            start = text.index(piece, start)
            rows.append(
                StoredSentence(
                    sentence_id=f"{source_id}-s{index}",
                    source_id=source_id,
                    content_sha256="v1",
                    index=index,
                    section="Opening" if index < 2 else "",
                    start=start,
                    end=start + len(piece),
                    text=piece,
                    paragraph=index // 2,
                    is_list_item=piece.startswith("- "),
                    page=None if source_id == "harbour" else 3,
                    entities=json.dumps([[4, 11, "FAC"]]) if index == 1 else "[]",
                    refers_back=piece.startswith("It "),
                    instruction=index == 3,
                )
            )
            start += len(piece)
    rows[1] = dataclasses.replace(rows[1], text="It was widened  twice.")  # not the slice: kept as stored
    rows[5] = dataclasses.replace(rows[5], content_sha256="v0")
    del rows[2]  # a sentence the index does not hold
    return [rows[i] for i in (3, 0, 5, 1, 4, 2)]  # the store's order, not the documents'


def table_and_originals() -> tuple[SentenceTable, list[SentenceRow]]:
    sources = {sid: SourceRecord(sid, text, {"content_sha256": "v1"}) for sid, text in TEXTS.items()}
    vocabulary = Vocabulary.learn(TEXTS.values())
    originals = [SentenceRow.of(stored, row, vocabulary) for row, stored in enumerate(stored_rows())]
    table = SentenceTable(sources)
    for row in originals:
        table.append(row, row.terms)
    return table.freeze(), originals


def test_every_row_comes_back_with_every_field():
    table, originals = table_and_originals()
    assert len(table) == len(originals)
    assert list(table) == originals  # dataclass equality: every field, terms and facts included
    assert table[-1] == originals[-1] and table[1:3] == originals[1:3]
    assert any(row.text != TEXTS[row.source_id][row.start : row.end] for row in table)
    assert {row.content_sha256 for row in table} == {"v0", "v1"}
    assert list(table.term_sets()) == [row.terms for row in originals]
    assert set(table.sections()) == {row.section for row in originals}
    with pytest.raises(IndexError):
        table[len(originals)]


def test_lookup_by_source_and_number_skips_what_the_index_lacks():
    table, originals = table_and_originals()
    by_place = {(row.source_id, row.index): row for row in originals}
    for (source_id, index), row in by_place.items():
        assert table.at(source_id, index) == row
    assert table.at("harbour", 2) is None  # the gap
    assert table.at("nowhere", 0) is None
    assert [row.index for row in table.of_source("harbour", 0, 4)] == sorted(i for (s, i) in by_place if s == "harbour")
    assert table.of_source("alps", 5, 9) == []
    assert table.terms_of_source("harbour", 0, 1) == by_place["harbour", 0].terms | by_place["harbour", 1].terms
    # One section's terms: the rows under that heading only, the whole source searched.
    untitled = set().union(*(row.terms for (s, _), row in by_place.items() if s == "harbour" and not row.section))
    assert table.terms_of_source("harbour", 0, 99, section="") == untitled
    assert table.terms_of_source("harbour", 0, 99, section="Opening") == table.terms_of_source("harbour", 0, 1)
    assert table.terms_of_source("harbour", 0, 99, section="No such heading") == set()


def test_made_rows_kept_are_bounded(monkeypatch):
    monkeypatch.setattr(sentence_table, "BUILT_ROWS", 2)
    table, originals = table_and_originals()
    for _ in range(2):
        assert list(table) == originals  # made again after being dropped, the same
    assert len(table._built) == 2
