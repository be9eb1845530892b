"""The ingest run: discover -> (unchanged? skip) -> load -> clean -> chunk -> embed -> store.

Incremental: a file whose bytes (and sidecar) hash to what its source row says is skipped
without loading the model. Changed files are re-embedded alone, removed files lose their rows,
and a sweep at the end removes anything a killed run left behind. A file that cannot be read is
reported by name and skipped; its previously indexed version, if any, stays.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from chromadb.errors import ChromaError
from filelock import FileLock, Timeout

from ingest.chunk import Chunk, ChunkedDocument, chunk_document, chunker_version
from ingest.clean import clean_text, join_pages
from ingest.files import read_regular, shown
from ingest.index import IndexWriter
from ingest.load import discover, find_sidecar, load_file, source_id_for
from rag.embeddings import MiniLMEmbeddings, model_fingerprint, packaged_model_path
from rag.errors import ConflictError, LoadError
from rag.language import SentenceFacts, annotate_sentences, load_language
from rag.settings import Settings
from rag.storage import open_client, storage_error
from rag.store import IndexVersions, SourceRecord, StoredChunk, StoredSentence

# Bump when loading, cleaning, structure or sentence-annotation rules change, so old chunks are
# rebuilt rather than mixed (clean11: "Mt." and "c. 1550" end no sentence, a fact line's label may
# hold an abbreviation, and "Albert C. Read" keeps its initial; earlier: git log -S PIPELINE_VERSION).
PIPELINE_VERSION = "clean11"


@dataclass
class IngestSummary:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    chunks_written: int = 0
    chunks_total: int = 0
    sources_total: int = 0
    orphans_removed: int = 0
    rebuilt_because: str | None = None
    seconds: float = 0.0

    def line(self) -> str:
        return (
            f"ingest: {self.added} added, {self.updated} updated, {self.unchanged} unchanged, "
            f"{self.removed} removed, {len(self.failed)} failed; {self.chunks_written} chunks embedded, "
            f"{self.chunks_total} chunks in {self.sources_total} source{'' if self.sources_total == 1 else 's'}; "
            f"{self.seconds:.1f} s"
        )


@dataclass(frozen=True)
class PlannedFile:
    """A file whose content is not in the index yet."""

    path: Path
    source_id: str
    sha: str
    existed: bool  # an older version of it is indexed


@dataclass(frozen=True)
class PreparedDocument:
    """One file loaded, cleaned and chunked: what gets embedded and written."""

    metadata: dict[str, Any]
    text: str
    chunked: ChunkedDocument


class LazyEmbedder:
    """The embedding model, loaded the first time something must be embedded or counted, so an
    ingest with nothing to do never pays for it."""

    def __init__(self, settings: Settings, factory: Callable[[], MiniLMEmbeddings] | None = None) -> None:
        self._factory = factory or (lambda: MiniLMEmbeddings(settings.embedding_model_path, settings.embed_batch_size))
        self._model: MiniLMEmbeddings | None = None
        self._counter: Callable[[str], int] | None = None

    def annotate(self, texts: Sequence[str]) -> list[SentenceFacts]:
        """Entities and refers-back flags of sentences (spaCy, loaded on first use)."""
        return annotate_sentences(load_language(full=False), texts)

    @property
    def model(self) -> MiniLMEmbeddings:
        if self._model is None:
            self._model = self._factory()
        return self._model

    def count_tokens(self, text: str) -> int:
        if self._counter is None:
            self._counter = self.model.token_counter()
        return self._counter(text)


def chunk_embedding_text(chunk: Chunk, title: str) -> str:
    """What a chunk is embedded as: its document's title and its section travel with its text, so
    a passage that says "it" is still found by the name of what it is about."""
    text = chunk.embedding_text()
    return text if chunk.section == title else f"{title}\n{text}"


def fingerprint(path: Path, max_bytes: int) -> str:
    """What decides 'unchanged': the file's bytes, its sidecar's bytes and the pipeline version.
    Type and size are checked before a byte is read (ingest/files.py): a LoadError says why not."""
    digest = hashlib.sha256(PIPELINE_VERSION.encode())
    digest.update(read_regular(path, max_bytes))
    sidecar = find_sidecar(path)
    if sidecar is not None:
        digest.update(b"\x00sidecar\x00" + read_regular(sidecar, max_bytes))
    return digest.hexdigest()


@contextmanager
def ingest_lock(settings: Settings, wait: bool = True) -> Iterator[None]:
    """One ingest at a time per data directory; a second one waits instead of interleaving, or
    with `wait=False` raises ConflictError. One lock object per file, re-entered by the thread
    holding it: the API saves an upload and ingests it under one hold (ingest/documents.py)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(settings.data_dir / ".ingest.lock", is_singleton=True)
    try:
        lock.acquire(timeout=-1 if wait else 0)
    except Timeout:
        raise ConflictError("another ingest is running; try again when it has finished") from None
    try:
        yield
    finally:
        lock.release()


def index_versions(settings: Settings) -> IndexVersions:
    """The versions this run writes. The vectors' dimension is left open: the writer takes it
    from an index the same model built, or records it from the first vectors, so that working it
    out never loads the model."""
    model_dir = settings.embedding_model_path or packaged_model_path()
    chunker = f"{chunker_version(settings.chunk_max_tokens, settings.chunk_overlap_sentences)}:{PIPELINE_VERSION}"
    return IndexVersions(model_fingerprint(Path(model_dir)), chunker, dimension=None)


def prepare_document(
    path: Path, root: Path, settings: Settings, count_tokens: Callable[[str], int]
) -> PreparedDocument:
    """Load, clean and chunk one file. A PDF's pages are cleaned one by one and joined
    (ingest.clean.join_pages: a sentence that runs over a page break stays one sentence);
    metadata["pages"] records where each page lies in the text."""
    pages = load_file(path, root, max_bytes=settings.max_file_bytes)
    metadata = dict(pages[0].metadata)
    # The headings the markup declared are structure, not metadata to store: the structure stage
    # gets them (cleaned like the text they stand in), and the sections list records them.
    declared = [clean_text(title) for title in metadata.pop("headings", None) or []]
    text, page_spans = join_pages((page.metadata.get("page"), clean_text(page.page_content)) for page in pages)
    if not text.strip():
        raise LoadError(f"{path}: nothing is left after removing boilerplate")
    source_id = metadata.get("source_id") or source_id_for(path, root)
    title = str(metadata.get("title") or source_id)
    chunked = chunk_document(
        source_id, text, title, count_tokens, settings.chunk_max_tokens, settings.chunk_overlap_sentences, declared
    )
    if not chunked.chunks:
        raise LoadError(f"{path}: no sentences found after cleaning")
    if metadata.get("format") == "pdf":
        metadata["pages"] = page_spans
    return PreparedDocument(metadata, text, chunked)


def _page_at(page_spans: list[list[Any]] | None, offset: int) -> int | None:
    """The page an offset of the text came from. Pages may touch (a word hyphenated across the
    break is joined), so a page owns [start, end); an offset at the very end of a page that
    nothing follows still belongs to it."""
    for page, start, end in page_spans or []:
        if start <= offset < end:
            return page
    for page, _, end in page_spans or []:
        if offset == end:
            return page
    return None


def stored_rows(
    source_id: str, sha: str, document: PreparedDocument, facts: Sequence[SentenceFacts]
) -> tuple[list[StoredChunk], list[StoredSentence]]:
    """The typed rows of one prepared document, for content version `sha`, with what the language
    pipeline found in each sentence (`facts`, in sentence order)."""
    pages = document.metadata.get("pages")
    title = str(document.metadata.get("title") or source_id)
    chunks = [
        StoredChunk(
            chunk_id=c.chunk_id,
            source_id=source_id,
            content_sha256=sha,
            section=c.section,
            start=c.start,
            end=c.end,
            text=c.text,
            first_sentence=c.first_sentence,
            last_sentence=c.last_sentence,
            chunk_index=i,
            title=title,
            page=_page_at(pages, c.start),
        )
        for i, c in enumerate(document.chunked.chunks)
    ]
    sentences = [
        StoredSentence(
            sentence_id=r.sentence_id,
            source_id=source_id,
            content_sha256=sha,
            index=r.index,
            section=r.sentence.section,
            start=r.sentence.start,
            end=r.sentence.end,
            text=r.sentence.text,
            paragraph=r.sentence.paragraph,
            is_list_item=r.sentence.is_list_item,
            page=_page_at(pages, r.sentence.start),
            entities=found.entities_json(),
            refers_back=found.refers_back,
            instruction=found.instruction,
        )
        for r, found in zip(document.chunked.sentences, facts, strict=True)
    ]
    return chunks, sentences


def source_record(
    planned: PlannedFile, root: Path, document: PreparedDocument, n_chunks: int, n_sentences: int
) -> SourceRecord:
    metadata = {
        **{k: v for k, v in document.metadata.items() if k not in ("source_id", "page")},
        "content_sha256": planned.sha,
        "path": _display_path(planned.path, root),
        "n_chunks": n_chunks,
        "n_sentences": n_sentences,
        "sections": json.dumps(document.chunked.sections, ensure_ascii=False),
    }
    return SourceRecord(planned.source_id, document.text, metadata)


class IngestRun:
    """One run of `ingest_paths`: the writer, the lazily loaded model and the summary it fills."""

    def __init__(
        self,
        settings: Settings,
        writer: IndexWriter,
        embedder: LazyEmbedder,
        on_failure: Callable[[str, str], None] | None,
    ) -> None:
        self.settings = settings
        self.root = settings.corpus_dir
        self.writer = writer
        self.embedder = embedder
        self.summary = IngestSummary()
        self.on_failure = on_failure

    def fail(self, path: Path, reason: str) -> None:
        self.summary.failed.append((shown(path), reason))
        if self.on_failure:
            self.on_failure(shown(path), reason)

    def plan(self, files: list[Path]) -> list[PlannedFile]:
        """The files whose content the index lacks; unchanged ones are counted and skipped."""
        records = self.writer.source_records()
        planned: list[PlannedFile] = []
        seen_ids: dict[str, Path] = {}
        for path in files:
            source_id = source_id_for(path, self.root)
            if source_id in seen_ids:
                self.fail(path, f"same source id {source_id!r} as {seen_ids[source_id]}; rename one of them")
                continue
            seen_ids[source_id] = path
            try:
                sha = fingerprint(path, self.settings.max_file_bytes)
            except LoadError as error:
                self.fail(path, str(error).removeprefix(f"{shown(path)}: "))
                continue
            record = records.get(source_id)
            if record and record.get("content_sha256") == sha:
                self.summary.unchanged += 1
            else:
                planned.append(PlannedFile(path, source_id, sha, record is not None))
        return planned

    def ingest(self, planned: PlannedFile) -> None:
        """Load, embed and swap in one file; a file that cannot be read is reported instead."""
        try:
            # The tokenizer comes with the model: it is loaded only once a file has been read.
            document = prepare_document(planned.path, self.root, self.settings, self.embedder.count_tokens)
        except LoadError as error:
            self.fail(
                planned.path, str(error).removeprefix(f"{planned.path}: ").removeprefix(f"{shown(planned.path)}: ")
            )
            return
        facts = self.embedder.annotate([r.sentence.text for r in document.chunked.sentences])
        chunks, sentences = stored_rows(planned.source_id, planned.sha, document, facts)
        title = str(document.metadata.get("title") or planned.source_id)
        vectors = self.embedder.model.encode(
            [chunk_embedding_text(c, title) for c in document.chunked.chunks] + [s.text for s in sentences]
        )
        chunk_vectors, sentence_vectors = vectors[: len(chunks)], vectors[len(chunks) :]
        record = source_record(planned, self.root, document, len(chunks), len(sentences))
        self.writer.replace_source(record, chunks, chunk_vectors, sentences, np.asarray(sentence_vectors))
        self.summary.chunks_written += len(chunks)
        if planned.existed:
            self.summary.updated += 1
        else:
            self.summary.added += 1

    def finish(self, targets: list[Path]) -> None:
        """Drop sources whose files are gone, sweep unfinished rows, count what is there."""
        for source_id, record in self.writer.source_records().items():
            if not _still_present(record, self.root, targets):
                self.writer.remove_source(source_id)
                self.summary.removed += 1
        self.summary.orphans_removed = self.writer.sweep_orphans()
        self.summary.sources_total = len(self.writer.source_records())
        self.summary.chunks_total = self.writer.collection("chunks").count()


def ingest_paths(
    paths: Sequence[Path] | None,
    settings: Settings,
    *,
    rebuild: bool = False,
    embedder_factory: Callable[[], MiniLMEmbeddings] | None = None,
    progress: bool = True,
    on_failure: Callable[[str, str], None] | None = None,
) -> IngestSummary:
    """Bring the index in line with the files under `paths` (default: the corpus directory). A
    full or read-only disk ends it with a StorageError that says so; what was published before
    stays whole (each source is swapped in by one write, a rebuild is published at the end)."""
    try:
        return _ingest_paths(paths, settings, rebuild, embedder_factory, progress, on_failure)
    except (OSError, ChromaError) as error:
        raise storage_error(error, settings.data_dir) or error from None


def _ingest_paths(
    paths: Sequence[Path] | None,
    settings: Settings,
    rebuild: bool,
    embedder_factory: Callable[[], MiniLMEmbeddings] | None,
    progress: bool,
    on_failure: Callable[[str, str], None] | None,
) -> IngestSummary:
    started = time.perf_counter()
    targets = [Path(p).resolve() for p in (paths or [settings.corpus_dir])]
    embedder = LazyEmbedder(settings, embedder_factory)
    with ingest_lock(settings):
        writer = IndexWriter(open_client(settings), settings.collection)
        run = IngestRun(settings, writer, embedder, on_failure)
        run.summary.rebuilt_because = writer.open_for_writing(index_versions(settings), rebuild)
        planned = run.plan(discover(targets, settings.corpus_dir, on_skip=run.fail))
        bar = None
        if progress and planned:
            from tqdm import tqdm

            bar = tqdm(total=len(planned), unit="file", desc="ingest", dynamic_ncols=True)
        for item in planned:
            run.ingest(item)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(chunks=run.summary.chunks_written)
        if bar is not None:
            bar.close()
        run.finish(targets)
        writer.publish()  # a rebuild goes live here, whole, in one write
    run.summary.seconds = time.perf_counter() - started
    return run.summary


def _display_path(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _still_present(record: dict[str, Any], root: Path, targets: list[Path]) -> bool:
    """A source stays unless its file is gone. Sources outside the folders scanned this run are
    left alone, so `qa ingest one.pdf` does not remove the rest of the corpus."""
    recorded = Path(str(record.get("path", "")))
    path = recorded if recorded.is_absolute() else root / recorded
    scanned = any(target == path or target in path.parents for target in targets if not target.is_file())
    scanned = scanned or any(target == path for target in targets)
    return path.is_file() or not scanned
