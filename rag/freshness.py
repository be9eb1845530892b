"""Which version of the index the store holds now, so a serving process can tell that another
process has ingested since it loaded its snapshot.

The signature is the published generation (a rebuild publishes a new one) and every source's
content hash (an incremental ingest swaps a source's rows, then its source record, in that
order): it changes exactly when what a reader would load changes. It reads only the sources'
metadata, never the texts or the vectors.
"""

from __future__ import annotations

import hashlib

from rag.settings import Settings
from rag.storage import open_client
from rag.store import IndexReader


def index_signature(settings: Settings) -> str:
    """A digest of the published generation and every source's id and content hash."""
    from chromadb.errors import NotFoundError

    client = open_client(settings, for_reading=True)
    reader = IndexReader(client, settings.collection)
    publication = reader.published()
    digest = hashlib.sha256(f"{publication.generation}:{publication.serial}".encode())
    try:
        collection = client.get_collection(reader.name("sources", publication.generation), embedding_function=None)
    except NotFoundError:
        return digest.hexdigest()
    found = collection.get(include=["metadatas"])
    rows = sorted(
        (source_id, str((meta or {}).get("content_sha256", "")))
        for source_id, meta in zip(found["ids"], found["metadatas"] or [], strict=False)
    )
    for source_id, sha in rows:
        digest.update(f"\0{source_id}\0{sha}".encode())
    return digest.hexdigest()
