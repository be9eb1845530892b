"""The ingest run: discover -> (unchanged? skip) -> load -> clean -> chunk -> embed -> store.

Incremental: a file whose bytes (and sidecar) hash to what its source record says is skipped
without loading the model. Changed files are re-embedded alone, removed files lose their rows,
and a sweep at the end removes anything a killed run left behind. A file that cannot be read is
reported by name and skipped; its previously indexed version, if any, stays.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import time
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ingest.chunk import ChunkedDocument, chunk_document, chunker_version
from ingest.clean import clean_text
from ingest.index import IndexStore, IndexVersions, open_client
from ingest.load import discover, find_sidecar, load_file, source_id_for
from rag.embeddings import MiniLMEmbeddings, model_fingerprint, packaged_model_path
from rag.errors import LoadError
from rag.settings import Settings

# Bump when cleaning or structure rules change, so old chunks are rebuilt rather than mixed.
PIPELINE_VERSION = "clean1"


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
            f"{self.chunks_total} chunks in {self.sources_total} sources; {self.seconds:.1f} s"
        )


def fingerprint(path: Path) -> str:
    """What decides 'unchanged': the file's bytes, its sidecar's bytes and the pipeline version."""
    digest = hashlib.sha256(PIPELINE_VERSION.encode())
    digest.update(path.read_bytes())
    sidecar = find_sidecar(path)
    if sidecar is not None:
        digest.update(b"\x00sidecar\x00" + sidecar.read_bytes())
    return digest.hexdigest()


@contextmanager
def ingest_lock(settings: Settings):
    """One ingest at a time per data directory; a second one waits instead of interleaving."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with open(settings.data_dir / ".ingest.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def index_versions(settings: Settings) -> IndexVersions:
    model_dir = settings.embedding_model_path or packaged_model_path()
    return IndexVersions(
        embedder=model_fingerprint(Path(model_dir)),
        chunker=f"{chunker_version(settings.chunk_max_tokens, settings.chunk_overlap_sentences)}:{PIPELINE_VERSION}",
        dimension=384,
    )


def prepare_document(path: Path, root: Path, settings: Settings, count_tokens: Callable[[str], int]):
    """Load, clean and chunk one file. Returns (metadata, cleaned text, chunked document)."""
    pages = load_file(path, root, max_bytes=settings.max_file_bytes)
    metadata = dict(pages[0].metadata)
    parts, page_spans, cursor = [], [], 0
    for page in pages:
        cleaned = clean_text(page.page_content)
        if not cleaned:
            continue
        if parts:
            cursor += 2  # the "\n\n" that joins pages
        page_spans.append([page.metadata.get("page"), cursor, cursor + len(cleaned)])
        parts.append(cleaned)
        cursor += len(cleaned)
    text = "\n\n".join(parts)
    if not text.strip():
        raise LoadError(f"{path}: nothing is left after removing boilerplate")
    source_id = metadata.get("source_id") or source_id_for(path, root)
    title = str(metadata.get("title") or source_id)
    chunked = chunk_document(
        source_id, text, title, count_tokens, settings.chunk_max_tokens, settings.chunk_overlap_sentences
    )
    if not chunked.chunks:
        raise LoadError(f"{path}: no sentences found after cleaning")
    if metadata.get("format") == "pdf":
        metadata["pages"] = page_spans
    return metadata, text, chunked


def _page_at(page_spans: list[list[Any]] | None, offset: int) -> int | None:
    for page, start, end in page_spans or []:
        if start <= offset <= end:
            return page
    return None


def row_id(stable_id: str, sha: str) -> str:
    """Chroma row id: the stable content id plus the version it belongs to, so a new version's
    rows can be written before the old ones are deleted."""
    return f"{stable_id}@{sha[:16]}"


def rows_for(source_id: str, sha: str, metadata: dict[str, Any], chunked: ChunkedDocument):
    pages = metadata.get("pages")
    title = str(metadata.get("title") or source_id)
    chunk_rows = [
        (
            row_id(c.chunk_id, sha),
            c.text,
            {
                "chunk_id": c.chunk_id, "source_id": source_id, "content_sha256": sha, "title": title, "section": c.section,
                "start": c.start, "end": c.end, "first_sentence": c.first_sentence,
                "last_sentence": c.last_sentence, "chunk_index": i, "page": _page_at(pages, c.start),
            },
        )
        for i, c in enumerate(chunked.chunks)
    ]
    sentence_rows = [
        (
            row_id(r.sentence_id, sha),
            r.sentence.text,
            {
                "sentence_id": r.sentence_id, "source_id": source_id, "content_sha256": sha, "section": r.sentence.section,
                "start": r.sentence.start, "end": r.sentence.end, "index": r.index,
                "paragraph": r.sentence.paragraph, "is_list_item": r.sentence.is_list_item,
                "page": _page_at(pages, r.sentence.start),
            },
        )
        for r in chunked.sentences
    ]
    return chunk_rows, sentence_rows


def ingest_paths(
    paths: Sequence[Path] | None,
    settings: Settings,
    *,
    rebuild: bool = False,
    embedder_factory: Callable[[], MiniLMEmbeddings] | None = None,
    progress: bool = True,
    on_failure: Callable[[str, str], None] | None = None,
) -> IngestSummary:
    """Bring the index in line with the files under `paths` (default: the corpus directory)."""
    started = time.perf_counter()
    root = settings.corpus_dir
    targets = [Path(p).resolve() for p in (paths or [root])]
    summary = IngestSummary()
    embedder: MiniLMEmbeddings | None = None

    def fail(path: Path, reason: str) -> None:
        summary.failed.append((str(path), reason))
        if on_failure:
            on_failure(str(path), reason)

    counter: Callable[[str], int] | None = None

    def count_tokens(text: str) -> int:
        nonlocal counter
        if counter is None:
            counter = get_embedder().token_counter()
        return counter(text)

    def get_embedder() -> MiniLMEmbeddings:
        nonlocal embedder
        if embedder is None:  # loaded only when something must be embedded
            if embedder_factory is not None:
                embedder = embedder_factory()
            else:
                embedder = MiniLMEmbeddings(settings.embedding_model_path, settings.embed_batch_size)
        return embedder

    with ingest_lock(settings):
        store = IndexStore(open_client(settings), settings.collection)
        summary.rebuilt_because = store.open_for_writing(index_versions(settings), rebuild)
        records = store.source_records()
        files = discover(targets, root)
        planned: list[tuple[Path, str, str, bool]] = []
        seen_ids: dict[str, Path] = {}
        for path in files:
            source_id = source_id_for(path, root)
            if source_id in seen_ids:
                fail(path, f"same source id {source_id!r} as {seen_ids[source_id]}; rename one of them")
                continue
            seen_ids[source_id] = path
            try:
                sha = fingerprint(path)
            except OSError as error:
                fail(path, f"cannot read: {error.strerror or error}")
                continue
            record = records.get(source_id)
            if record and record.get("content_sha256") == sha:
                summary.unchanged += 1
            else:
                planned.append((path, source_id, sha, record is not None))

        bar = None
        if progress and planned:
            from tqdm import tqdm

            bar = tqdm(total=len(planned), unit="file", desc="ingest", dynamic_ncols=True)
        for path, source_id, sha, existed in planned:
            try:
                # The tokenizer comes with the model: load it only once a file has been read.
                metadata, text, chunked = prepare_document(path, root, settings, lambda t: count_tokens(t))
            except LoadError as error:
                fail(path, str(error))
            else:
                chunk_rows, sentence_rows = rows_for(source_id, sha, metadata, chunked)
                vectors = get_embedder().encode(
                    [c.embedding_text() for c in chunked.chunks] + [r[1] for r in sentence_rows]
                )
                chunk_vectors, sentence_vectors = vectors[: len(chunk_rows)], vectors[len(chunk_rows) :]
                source_metadata = {
                    **{k: v for k, v in metadata.items() if k not in ("source_id", "page")},
                    "content_sha256": sha,
                    "path": _display_path(path, root),
                    "n_chunks": len(chunk_rows),
                    "n_sentences": len(sentence_rows),
                    "sections": json.dumps(chunked.sections, ensure_ascii=False),
                }
                store.replace_source(source_id, text, source_metadata, chunk_rows, chunk_vectors,
                                     sentence_rows, np.asarray(sentence_vectors))
                summary.chunks_written += len(chunk_rows)
                if existed:
                    summary.updated += 1
                else:
                    summary.added += 1
            if bar is not None:
                bar.update(1)
                bar.set_postfix(chunks=summary.chunks_written)
        if bar is not None:
            bar.close()

        for source_id, record in store.source_records().items():
            if not _still_present(record, root, targets):
                store.remove_source(source_id)
                summary.removed += 1
        summary.orphans_removed = store.sweep_orphans()
        records = store.source_records()
        summary.sources_total = len(records)
        summary.chunks_total = store.collection("chunks").count()
    summary.seconds = time.perf_counter() - started
    return summary


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
