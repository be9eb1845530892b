"""ingest.chunk.chunk_document: section-bounded, exact-span, budgeted, overlapping, stable chunks."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import pytest

from ingest.chunk import Chunk, ChunkedDocument, chunk_document, chunker_version
from ingest.clean import clean_text
from ingest.structure import analyse

REPO = Path(__file__).resolve().parents[2]
SEED = REPO / "corpus" / "000_31241798ea01703b.txt"
SEED_TITLE = (
    "Amid tensions between the U.S. and Europe, the West is lagging behind in providing Ukraine with a viable "
    "security model"
)
SEED_SECTIONS = ["An Israel model", "A South Korean model", "’Finlandization’"]


def words(text: str) -> int:
    """A whitespace token counter: additive over whitespace-joined pieces, like a word-piece one."""
    return len(text.split())


def _sentence(section: int, n: int, extra: int = 0) -> str:
    filler = " ".join(f"w{section}x{n}x{k}" for k in range(extra))
    return f"Sentence {n} of part {section} talks about guarantees {filler}".rstrip() + "."


def synthetic_text(sections: int = 3, per_section: int = 9) -> str:
    blocks = ["Synthetic Document Title"]
    for s in range(sections):
        blocks.append(f"Part Number {s}")
        sentences = [_sentence(s, n, extra=n % 4) for n in range(per_section)]
        # two paragraphs per section, so chunks also span paragraph breaks
        half = per_section // 2
        blocks.append(" ".join(sentences[:half]))
        blocks.append(" ".join(sentences[half:]))
    return "\n\n".join(blocks)


def _check_invariants(doc: ChunkedDocument, text: str, count, max_tokens: int, overlap: int = 1) -> None:
    sections, _ = analyse(text, "Fallback")
    span_of = {}
    for s in sections:
        span_of.setdefault(s.title, []).append((s.start, s.end))
    sentences = [r.sentence for r in doc.sentences]
    assert [r.index for r in doc.sentences] == list(range(len(sentences)))
    assert len({r.sentence_id for r in doc.sentences}) == len(sentences), "sentence ids are unique"
    assert len({c.chunk_id for c in doc.chunks}) == len(doc.chunks), "chunk ids are unique"
    # every sentence is in at least one chunk, in order
    covered = set()
    for chunk in doc.chunks:
        assert text[chunk.start : chunk.end] == chunk.text
        assert chunk.first_sentence <= chunk.last_sentence
        members = sentences[chunk.first_sentence : chunk.last_sentence + 1]
        assert chunk.start == members[0].start and chunk.end == members[-1].end
        # never crosses a section: all member sentences share the chunk's section, and the span
        # lies inside one section span of the text
        assert {s.section for s in members} == {chunk.section}
        assert any(lo <= chunk.start and chunk.end <= hi for lo, hi in span_of[chunk.section])
        covered.update(range(chunk.first_sentence, chunk.last_sentence + 1))
    assert covered == set(range(len(sentences)))
    # consecutive chunks: overlap inside a section, a clean cut between sections
    for prev, nxt in pairwise(doc.chunks):
        if nxt.section == prev.section and overlap:
            # the overlap is repeated unless it and the next sentence do not fit together, in
            # which case the next chunk starts cleanly after the previous one
            expected = max(prev.first_sentence + 1, prev.last_sentence + 1 - overlap)
            assert nxt.first_sentence in (expected, prev.last_sentence + 1)
            assert nxt.last_sentence > prev.last_sentence
        else:
            assert nxt.first_sentence == prev.last_sentence + 1
        assert nxt.last_sentence >= prev.last_sentence and nxt.first_sentence > prev.first_sentence


# ---------------------------------------------------------------- pure unit tests (word counter)


@pytest.mark.unit
@pytest.mark.parametrize("max_tokens", [32, 45, 80, 200])
def test_chunks_are_exact_section_bounded_and_fit(max_tokens: int) -> None:
    text = synthetic_text()
    doc = chunk_document("doc", text, "Fallback", words, max_tokens=max_tokens)
    _check_invariants(doc, text, words, max_tokens)
    assert doc.sections == ["Synthetic Document Title", "Part Number 0", "Part Number 1", "Part Number 2"]
    for chunk in doc.chunks:
        assert words(chunk.embedding_text()) <= max_tokens
        assert chunk.embedding_text() == f"{chunk.section}\n{chunk.text}"
    if max_tokens < 80:
        assert len(doc.chunks) > len(doc.sections), "a small window gives several chunks per section"


@pytest.mark.unit
def test_consecutive_chunks_in_a_section_overlap_by_one_sentence() -> None:
    text = synthetic_text(sections=2, per_section=12)
    doc = chunk_document("doc", text, "Fallback", words, max_tokens=40, overlap=1)
    sentences = [r.sentence for r in doc.sentences]
    pairs = [(a, b) for a, b in pairwise(doc.chunks) if a.section == b.section]
    assert pairs, "the window is small enough for several chunks per section"
    for prev, nxt in pairs:
        assert prev.last_sentence > prev.first_sentence, "every chunk here holds more than one sentence"
        assert nxt.first_sentence == prev.last_sentence
        shared = sentences[prev.last_sentence].text
        assert prev.text.endswith(shared) and nxt.text.startswith(shared)
    # across a section boundary there is no overlap
    boundary = [(a, b) for a, b in pairwise(doc.chunks) if a.section != b.section]
    assert boundary and all(b.first_sentence == a.last_sentence + 1 and b.start > a.end for a, b in boundary)


@pytest.mark.unit
def test_zero_overlap_gives_disjoint_chunks() -> None:
    text = synthetic_text(sections=2, per_section=12)
    doc = chunk_document("doc", text, "Fallback", words, max_tokens=40, overlap=0)
    _check_invariants(doc, text, words, 40, overlap=0)
    for prev, nxt in pairwise(doc.chunks):
        assert nxt.first_sentence == prev.last_sentence + 1 and nxt.start > prev.end


@pytest.mark.unit
def test_same_input_gives_same_ids_and_ids_depend_on_source_and_version() -> None:
    text = synthetic_text()
    first = chunk_document("doc", text, "Fallback", words, max_tokens=40)
    second = chunk_document("doc", text, "Fallback", words, max_tokens=40)
    assert [c.chunk_id for c in first.chunks] == [c.chunk_id for c in second.chunks]
    assert [r.sentence_id for r in first.sentences] == [r.sentence_id for r in second.sentences]
    other_source = chunk_document("other", text, "Fallback", words, max_tokens=40)
    assert not {c.chunk_id for c in first.chunks} & {c.chunk_id for c in other_source.chunks}
    assert not {r.sentence_id for r in first.sentences} & {r.sentence_id for r in other_source.sentences}
    other_overlap = chunk_document("doc", text, "Fallback", words, max_tokens=40, overlap=0)
    assert chunker_version(40, 1) != chunker_version(40, 0)
    # the chunker version is part of a chunk id, even where the chunk text is the same
    same_text = {c.text for c in first.chunks} & {c.text for c in other_overlap.chunks}
    assert same_text
    assert not {c.chunk_id for c in first.chunks} & {c.chunk_id for c in other_overlap.chunks}


@pytest.mark.unit
def test_changing_one_sentence_changes_only_the_chunks_that_contain_it() -> None:
    text = synthetic_text(sections=3, per_section=12)
    before = chunk_document("doc", text, "Fallback", words, max_tokens=40)
    sentences = [r.sentence for r in before.sentences]
    # a sentence in the middle of section "Part Number 1", replaced by one with as many tokens
    target_index = next(i for i, s in enumerate(sentences) if s.section == "Part Number 1") + 5
    target = sentences[target_index]
    replacement = target.text.replace("guarantees", "assurances", 1)
    assert replacement != target.text and words(replacement) == words(target.text)
    edited = text[: target.start] + replacement + text[target.end :]
    after = chunk_document("doc", edited, "Fallback", words, max_tokens=40)
    _check_invariants(after, edited, words, 40)

    assert len(after.chunks) == len(before.chunks)
    containing = [c.first_sentence <= target_index <= c.last_sentence for c in before.chunks]
    assert 1 <= sum(containing) <= 2  # the sentence may be the overlap of two chunks
    for old, new, has_it in zip(before.chunks, after.chunks, containing, strict=False):
        assert (old.first_sentence, old.last_sentence) == (new.first_sentence, new.last_sentence)
        if has_it:
            assert old.chunk_id != new.chunk_id and replacement in new.text
        else:
            assert old.chunk_id == new.chunk_id, f"chunk {old.first_sentence}-{old.last_sentence} changed id"
    changed_sentences = [
        i
        for i, (a, b) in enumerate(zip(before.sentences, after.sentences, strict=False))
        if a.sentence_id != b.sentence_id
    ]
    assert changed_sentences == [target_index]


@pytest.mark.unit
def test_repeated_identical_sentences_and_chunks_get_distinct_ids() -> None:
    para = "The same sentence again. The same sentence again."
    text = f"Title Here\n\nSection A\n\n{para}\n\nSection B\n\n{para}"
    doc = chunk_document("doc", text, "Fallback", words, max_tokens=40)
    assert len({r.sentence_id for r in doc.sentences}) == len(doc.sentences) == 4
    assert len({c.chunk_id for c in doc.chunks}) == len(doc.chunks) == 2


@pytest.mark.unit
def test_very_long_sentence_without_punctuation_is_split_into_pieces_that_fit() -> None:
    body = " ".join(f"token{i}" for i in range(500))
    text = f"Long Table\n\n{body}"
    doc = chunk_document("doc", text, "Fallback", words, max_tokens=40)
    pieces = [r.sentence for r in doc.sentences]
    assert len(pieces) >= 500 // 40
    for piece in pieces:
        assert text[piece.start : piece.end] == piece.text
        assert words(piece.text) <= 40
    # nothing lost, nothing duplicated, order kept
    assert " ".join(p.text for p in pieces).split() == body.split()
    _check_invariants(doc, text, words, 40)


@pytest.mark.unit
@pytest.mark.parametrize("n_words", [41, 81])
def test_every_split_piece_fits_including_the_last(n_words: int) -> None:
    body = " ".join(f"token{i}" for i in range(n_words))
    doc = chunk_document("doc", f"Long Table\n\n{body}", "Fallback", words, max_tokens=40)
    assert max(words(r.sentence.text) for r in doc.sentences) <= 40


@pytest.mark.unit
def test_single_sentence_chunk_with_section_title_fits_the_window() -> None:
    sentence = " ".join(f"word{i}" for i in range(38)) + "."  # 38 tokens: fits 40, not 40 - title
    text = f"A Rather Long Section Title Here\n\n{sentence}"
    doc = chunk_document("doc", text, "Fallback", words, max_tokens=40)
    assert all(words(c.embedding_text()) <= 40 for c in doc.chunks)


@pytest.mark.unit
def test_every_chunk_brings_at_least_one_new_sentence() -> None:
    short = "Short one " + " ".join(["s"] * 6) + "."  # 8 tokens
    long_a = "Long A " + " ".join(["a"] * 26) + "."  # 28 tokens
    long_b = "Long B " + " ".join(["b"] * 26) + "."
    text = f"Title Is Here\n\nTwo Words\n\n{short} {long_a} {long_b}"
    doc = chunk_document("doc", text, "Fallback", words, max_tokens=40)  # budget 38 after the section title
    for prev, nxt in pairwise(doc.chunks):
        assert nxt.last_sentence > prev.last_sentence, f"{nxt.text!r} is already in {prev.text!r}"


@pytest.mark.integration
def test_seed_chunks_at_64_tokens_are_not_redundant(embeddings) -> None:
    _, doc = _seed_chunks(embeddings, 64)
    redundant = [n.text for p, n in pairwise(doc.chunks) if n.last_sentence <= p.last_sentence]
    assert redundant == []


@pytest.mark.unit
def test_empty_text_gives_no_chunks() -> None:
    doc = chunk_document("doc", "", "Fallback", words)
    assert doc.chunks == [] and doc.sentences == []


@pytest.mark.unit
def test_seed_corpus_chunks_with_word_counter() -> None:
    text = clean_text(SEED.read_text(encoding="utf-8"))
    doc = chunk_document("seed", text, SEED_TITLE, words, max_tokens=120)
    _check_invariants(doc, text, words, 120)
    assert doc.sections == [SEED_TITLE, *SEED_SECTIONS]
    chunk_sections = [c.section for c in doc.chunks]
    for section in SEED_SECTIONS:
        assert section in chunk_sections
    # sections appear in document order, each as one contiguous run of chunks
    runs = [s for i, s in enumerate(chunk_sections) if i == 0 or chunk_sections[i - 1] != s]
    assert runs == [SEED_TITLE, *SEED_SECTIONS]


# ---------------------------------------------------------------- the real MiniLM tokenizer


def _seed_chunks(embeddings, max_tokens: int = 200) -> tuple[str, ChunkedDocument]:
    text = clean_text(SEED.read_text(encoding="utf-8"))
    return text, chunk_document("000_31241798ea01703b", text, SEED_TITLE, embeddings.token_counter(), max_tokens)


@pytest.mark.integration
@pytest.mark.parametrize("max_tokens", [200, 120, 64])
def test_seed_corpus_chunks_with_real_tokenizer(embeddings, max_tokens: int) -> None:
    count = embeddings.token_counter()
    text, doc = _seed_chunks(embeddings, max_tokens)
    _check_invariants(doc, text, count, max_tokens)
    assert doc.sections == [SEED_TITLE, *SEED_SECTIONS]
    by_section: dict[str, list[Chunk]] = {}
    for chunk in doc.chunks:
        by_section.setdefault(chunk.section, []).append(chunk)
    assert list(by_section) == [SEED_TITLE, *SEED_SECTIONS]
    korea = " ".join(c.text for c in by_section["A South Korean model"])
    assert "about 28,000 American troops are also stationed in South Korea" in korea
    assert "Finland became an EU member state in 1995" in " ".join(c.text for c in by_section["’Finlandization’"])
    # the window of the model is never exceeded, whatever the chunk
    assert all(count(c.embedding_text()) + 2 <= embeddings.max_tokens for c in doc.chunks)
    # boilerplate removed by cleaning is in no chunk
    assert not any("Leave a Reply" in c.text or "5 min read" in c.text for c in doc.chunks)


@pytest.mark.integration
def test_seed_chunk_ids_are_stable_across_runs(embeddings) -> None:
    _, first = _seed_chunks(embeddings)
    _, second = _seed_chunks(embeddings)
    assert [c.chunk_id for c in first.chunks] == [c.chunk_id for c in second.chunks]
    assert [r.sentence_id for r in first.sentences] == [r.sentence_id for r in second.sentences]


@pytest.mark.integration
def test_seed_chunks_fit_max_tokens_with_real_tokenizer(embeddings) -> None:
    count = embeddings.token_counter()
    _, doc = _seed_chunks(embeddings, 200)
    over = [(c.section, count(c.embedding_text())) for c in doc.chunks if count(c.embedding_text()) > 200]
    assert over == []
