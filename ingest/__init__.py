"""Ingestion: corpus files -> raw text -> cleaned canonical text -> sections and sentences ->
chunks -> embeddings -> Chroma.

Owns loading (ingest/load.py, ingest/formats.py), cleaning, structure, chunking, writing the
store (ingest/index.py) and the incremental, crash-safe run (ingest/pipeline.py). Hands on an
index in the layout rag/store.py defines, which rag reads. Adds `qa ingest` to the command.
"""
