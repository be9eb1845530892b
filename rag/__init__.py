"""The kernel: from a question to an answer whose every quote is an exact source span.

Owns what readers and writers share (settings, errors, the embedder, the store's client, layout
and typed rows, the sentence splitter) and everything on the answering path (request checks,
retrieval, evidence, answers, citations, the llm mode and its grounding guard), plus the `qa`
command host. Hands on `Answer`s through the `Answerer` protocol (rag/chain.py), built by
rag/factory.py. Imports none of ingest, api or evals: they build on it.
"""
