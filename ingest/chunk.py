"""Sentence-aware chunking: sentences -> chunks that fit MiniLM's window, never crossing a section.

Hands on `Chunk`s (exact spans of the cleaned text with a stable, content-derived id) and the
sentence records the answerer scores. Ids depend only on the source id, the chunker version and
the text, so ingesting the same input twice gives the same ids.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass
from typing import Callable

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
    """A 'sentence' longer than the window (a PDF table, a run-on line) is cut at spaces into
    pieces that fit, so no text is silently truncated by the embedder."""
    if count_tokens(sentence.text) <= max_tokens:
        return [sentence]
    pieces, piece_start, last_space = [], 0, None
    text = sentence.text
    for pos, char in enumerate(text):
        if char.isspace():
            if last_space is not None and count_tokens(text[piece_start:pos]) > max_tokens:
                pieces.append((piece_start, last_space))
                piece_start = last_space + 1
            last_space = pos
    pieces.append((piece_start, len(text)))
    out = []
    for left, right in pieces:
        chunk = text[left:right]
        trimmed_left = left + (len(chunk) - len(chunk.lstrip()))
        if text[trimmed_left:right].strip():
            out.append(
                Sentence(
                    sentence.start + trimmed_left,
                    sentence.start + right,
                    text[trimmed_left:right],
                    sentence.section,
                    sentence.paragraph,
                    sentence.is_list_item,
                )
            )
    return out


def chunk_document(
    source_id: str,
    text: str,
    title: str,
    count_tokens: Callable[[str], int],
    max_tokens: int = 200,
    overlap: int = 1,
) -> ChunkedDocument:
    """Group consecutive sentences of one section into chunks of at most `max_tokens` word
    pieces (section title included), repeating the last `overlap` sentences of a chunk at the
    start of the next one in the same section."""
    sections, raw_sentences = analyse(text, default_section=title)
    sentences: list[Sentence] = []
    for sentence in raw_sentences:
        sentences.extend(_split_long(sentence, count_tokens, max_tokens))
    token_counts = [count_tokens(s.text) for s in sentences]

    records, seen_sentences = [], Counter()
    for index, sentence in enumerate(sentences):
        seen_sentences[sentence.text] += 1
        sentence_id = _stable_id("sentence", source_id, sentence.text, str(seen_sentences[sentence.text]))
        records.append(SentenceRecord(sentence_id, source_id, index, sentence))

    chunks: list[Chunk] = []
    seen_chunks: Counter[str] = Counter()
    version = chunker_version(max_tokens, overlap)
    index = 0
    while index < len(sentences):
        section = sentences[index].section
        budget = max_tokens - count_tokens(section)
        last, used = index, token_counts[index]
        while (
            last + 1 < len(sentences)
            and sentences[last + 1].section == section
            and used + token_counts[last + 1] <= budget
        ):
            last += 1
            used += token_counts[last]
        start, end = sentences[index].start, sentences[last].end
        chunk_text = text[start:end]
        seen_chunks[chunk_text] += 1
        chunk_id = _stable_id("chunk", version, source_id, section, chunk_text, str(seen_chunks[chunk_text]))
        chunks.append(Chunk(chunk_id, source_id, section, start, end, chunk_text, index, last))
        if last + 1 >= len(sentences):
            break
        next_index = last + 1
        if sentences[next_index].section == section and overlap:
            # Step back for the overlap, but always move forward by at least one sentence.
            next_index = max(index + 1, last + 1 - overlap)
        index = next_index
    for chunk in chunks:
        assert text[chunk.start : chunk.end] == chunk.text
    return ChunkedDocument(source_id, chunks, records, [s.title for s in sections])
