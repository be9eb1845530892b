"""The one factory: settings (and a mode) in, a ready `Answerer` out.

Builds everything once: the embedding model, the language pipeline (spaCy), the Chroma client,
the in-memory index, the retriever and the evidence model; for the llm mode also the chat client
(no request is sent until a question comes). The optional llm dependency is imported inside its
branch.
"""

from __future__ import annotations

from rag.chain import Answerer, ExtractiveAnswerer
from rag.embeddings import MiniLMEmbeddings, keep_torch_out, packaged_model_path
from rag.errors import ConfigError
from rag.evidence import default_model
from rag.language import load_language
from rag.retrieve import HybridRetriever
from rag.settings import Settings
from rag.snapshot import load_snapshot
from rag.storage import open_client
from rag.store import IndexReader

MODES = ("extractive", "llm")


def query_encoder(settings: Settings) -> MiniLMEmbeddings:
    """What embeds questions: by QA_QUERY_ENCODER, the ONNX export of the model (made once per
    data directory) or the torch model."""
    if settings.query_encoder == "onnx":
        from rag.onnx_encoder import load_query_encoder

        return load_query_encoder(settings.data_dir, settings.embedding_model_path, settings.embed_batch_size)
    return MiniLMEmbeddings(settings.embedding_model_path, settings.embed_batch_size)


def load_answerer(
    settings: Settings,
    embeddings: MiniLMEmbeddings | None = None,
    mode: str | None = None,
    *,
    defer_torch: bool = False,
) -> Answerer:
    """The answerer for `mode` (default: settings.answerer). `defer_torch`: keep torch out of the
    process until something needs it (keep_torch_out): a process that answers needs it only to
    ingest, as `qa serve` does for an upload, and the torch model lets it in then."""
    mode = mode or settings.answerer
    if mode not in MODES:
        raise ConfigError(f"mode must be extractive or llm, got {mode!r}")
    if defer_torch and embeddings is None and settings.query_encoder == "onnx":
        from rag.onnx_encoder import exported_path

        model_dir = settings.embedding_model_path or packaged_model_path()
        keep_torch_out(exported_path(settings.data_dir, model_dir))
    if mode == "llm":
        from rag.llm import LLMAnswerer, make_chat_model

        chat_model = make_chat_model(settings)  # checks the settings before the slow loads
        return LLMAnswerer(load_extractive(settings, embeddings), chat_model, settings)
    return load_extractive(settings, embeddings)


def load_extractive(settings: Settings, embeddings: MiniLMEmbeddings | None = None) -> ExtractiveAnswerer:
    """The extractive answerer over the index that `settings` names, warmed up."""
    from langchain_chroma import Chroma

    embeddings = embeddings or query_encoder(settings)
    client = open_client(settings, for_reading=True)
    reader = IndexReader(client, settings.collection)
    vector_folder = settings.vectors_dir / settings.collection  # one index per folder: each removes old files
    snapshot = load_snapshot(reader, embedder_version=embeddings.version, vector_folder=vector_folder)
    snapshot.embed_headings(embeddings.encode)
    if snapshot.versions.dimension != embeddings.dimension:
        raise ConfigError(
            f"index vectors have {snapshot.versions.dimension} dimensions, the model {embeddings.dimension}"
        )
    vectorstore = Chroma(
        collection_name=reader.name("chunks"),
        embedding_function=embeddings,
        client=client,
        create_collection_if_not_exists=False,
    )
    retriever = HybridRetriever(
        snapshot=snapshot,
        vectorstore=vectorstore,
        embeddings=embeddings,
        k=settings.top_k,
        rrf_k=settings.rrf_k,
        check_store=lambda: client.get_collection(reader.name("chunks"), embedding_function=None),
    )
    answerer = ExtractiveAnswerer(settings, snapshot, retriever, load_language(), default_model())
    answerer.answer("warm-up")  # the first call pays one-off costs (tokenizer, Chroma query path)
    return answerer
