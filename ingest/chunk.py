"""Sentence-aware chunking: sentences -> chunks that fit MiniLM's window, never crossing a section.

Hands on `Chunk`s (exact spans of the cleaned text with a stable, content-derived id) and the
sentence records the answerer scores. Ids depend only on the source id, the chunker version and
the text, so ingesting the same input twice gives the same ids.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import dataclass
from itertools import pairwise

from ingest.structure import Sentence, analyse

CHUNKER_NAME = "sentence-chunker/1"


@dataclass(frozen=True)
class Chunk:
    chunk_id: str
    source_id: str
    section: str
    start: int
    end: int
    text: str
    first_sentence: int  # index into the document's sentence list
    last_sentence: int  # inclusive

    def embedding_text(self) -> str:
        # The section title travels with the passage so "the South Korean model" finds its body.
        return f"{self.section}\n{self.text}" if self.section else self.text


@dataclass(frozen=True)
class SentenceRecord:
    sentence_id: str
    source_id: str
    index: int
    sentence: Sentence


@dataclass(frozen=True)
class ChunkedDocument:
    source_id: str
    chunks: list[Chunk]
    sentences: list[SentenceRecord]
    sections: list[str]


def chunker_version(max_tokens: int, overlap: int) -> str:
    return f"{CHUNKER_NAME}:max{max_tokens}:overlap{overlap}"


def _stable_id(kind: str, *parts: str) -> str:
    digest = hashlib.sha256("\x00".join((kind, *parts)).encode("utf-8")).hexdigest()
    return f"{kind[0]}{digest[:23]}"


def _split_long(sentence: Sentence, count_tokens: Callable[[str], int], max_tokens: int) -> list[Sentence]:
    """A 'sentence' longer than the room it has (a PDF table, a run-on line) is cut between
    words into pieces that fit, so no text is silently truncated by the embedder. Word pieces
    never span white space, so per-word counts add up to the whole's count (linear time)."""
    if count_tokens(sentence.text) <= max_tokens:
        return [sentence]
    pieces: list[tuple[int, int]] = []
    piece_start: int | None = None
    piece_end = 0
    used = 0
    for word in re.finditer(r"\S+", sentence.text):
        cost = count_tokens(word.group(0))
        if piece_start is not None and used + cost > max_tokens:
            pieces.append((piece_start, piece_end))
            piece_start, used = None, 0
        if piece_start is None:
            piece_start = word.start()
        piece_end, used = word.end(), used + cost
    if piece_start is not None:
        pieces.append((piece_start, piece_end))
    return [
        Sentence(
            sentence.start + left,
            sentence.start + right,
            sentence.text[left:right],
            sentence.section,
            sentence.paragraph,
            sentence.is_list_item,
        )
        for left, right in pieces
    ]


def chunk_document(
    source_id: str,
    text: str,
    title: str,
    count_tokens: Callable[[str], int],
    max_tokens: int = 200,
    overlap: int = 1,
    headings: Collection[str] | None = None,
) -> ChunkedDocument:
    """Group consecutive sentences of one section into chunks of at most `max_tokens` word
    pieces (section title included), repeating the last `overlap` sentences of a chunk at the
    start of the next one in the same section."""
    sections, raw_sentences = analyse(text, default_section=title, headings=headings)
    sentences: list[Sentence] = []
    for sentence in raw_sentences:
        # Room left beside the section title, which is embedded with every chunk.
        room = max(8, max_tokens - count_tokens(sentence.section))
        sentences.extend(_split_long(sentence, count_tokens, room))
    records = _sentence_records(source_id, sentences)
    chunks = _Packer(text, sentences, count_tokens, max_tokens, overlap).chunks(source_id)
    for chunk in chunks:
        assert text[chunk.start : chunk.end] == chunk.text
    return ChunkedDocument(source_id, chunks, records, [s.title for s in sections])


def _sentence_records(source_id: str, sentences: list[Sentence]) -> list[SentenceRecord]:
    """Each sentence with its stable id (a repeated sentence is numbered by its repetition)."""
    records = []
    seen: Counter[str] = Counter()
    for index, sentence in enumerate(sentences):
        seen[sentence.text] += 1
        sentence_id = _stable_id("sentence", source_id, sentence.text, str(seen[sentence.text]))
        records.append(SentenceRecord(sentence_id, source_id, index, sentence))
    return records


class _Packer:
    """Packs consecutive sentences of a section into chunks within the token budget."""

    def __init__(
        self, text: str, sentences: list[Sentence], count_tokens: Callable[[str], int], max_tokens: int, overlap: int
    ) -> None:
        self.text = text
        self.sentences = sentences
        self.count_tokens = count_tokens
        self.max_tokens = max_tokens
        self.overlap = overlap
        self.token_counts = [count_tokens(s.text) for s in sentences]
        # What lies between two sentences (a list marker, a line break) costs tokens too.
        self.gap_tokens = [
            count_tokens(text[a.end : b.start]) if a.section == b.section else 0 for a, b in pairwise(sentences)
        ]

    def chunks(self, source_id: str) -> list[Chunk]:
        sentences = self.sentences
        chunks: list[Chunk] = []
        seen: Counter[str] = Counter()
        version = chunker_version(self.max_tokens, self.overlap)
        index = 0
        while index < len(sentences):
            section = sentences[index].section
            budget = self.max_tokens - self.count_tokens(section)
            last = self._last_that_fits(index, budget)
            start, end = sentences[index].start, sentences[last].end
            chunk_text = self.text[start:end]
            seen[chunk_text] += 1
            chunk_id = _stable_id("chunk", version, source_id, section, chunk_text, str(seen[chunk_text]))
            chunks.append(Chunk(chunk_id, source_id, section, start, end, chunk_text, index, last))
            if last + 1 >= len(sentences):
                break
            index = self._next_start(index, last, budget)
        return chunks

    def _last_that_fits(self, index: int, budget: int) -> int:
        section = self.sentences[index].section
        last, used = index, self.token_counts[index]
        while last + 1 < len(self.sentences) and self.sentences[last + 1].section == section:
            if used + self.gap_tokens[last] + self.token_counts[last + 1] > budget:
                break
            last += 1
            used += self.gap_tokens[last - 1] + self.token_counts[last]
        return last

    def _next_start(self, index: int, last: int, budget: int) -> int:
        """Step back for the overlap, unless the overlap and the next sentence do not fit
        together (the next chunk would repeat the overlap alone); always move forward."""
        next_index = last + 1
        if self.sentences[next_index].section == self.sentences[index].section and self.overlap:
            back = last + 1 - self.overlap
            span_cost = sum(self.token_counts[back : last + 2]) + sum(self.gap_tokens[back : last + 1])
            if span_cost <= budget:
                next_index = max(index + 1, back)
        return next_index
