"""Ingestion: corpus files -> cleaned canonical text -> chunks and sentences -> Chroma."""
