"""The ONNX query encoder (rag/onnx_encoder.py): a real export of the shipped model with torch.onnx,
run by onnxruntime, against the torch model it was exported from."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from rag.embeddings import MiniLMEmbeddings
from rag.onnx_encoder import OnnxMiniLM, exported_path, load_query_encoder, prepare_export
from tests.conftest import make_settings

pytestmark = pytest.mark.integration

TEXTS = [
    "When did the harbour board open the second lock?",
    "ok",
    "A longer passage: the tidewater compact of 1911 bound the three ports to share the cost of dredging "
    "the channel, and it set up a board of six pilots who met twice a year in Marport.",
    "word " * 400,  # past the model's 256 word pieces: both must cut it at the same place
    "Ünïcödé, emoji 🚢 and numbers 1,234.5",
]


@pytest.fixture(scope="module")
def onnx_encoder(tmp_path_factory) -> OnnxMiniLM:
    exported = prepare_export(tmp_path_factory.mktemp("onnx-data"), None)
    assert exported is not None and exported.is_file()
    return OnnxMiniLM(exported)


def test_the_export_embeds_as_the_torch_model_does(onnx_encoder, embeddings):
    vectors, reference = onnx_encoder.encode(TEXTS), embeddings.encode(TEXTS)
    assert vectors.shape == reference.shape == (len(TEXTS), embeddings.dimension)
    assert float(np.abs(vectors - reference).max()) < 1e-5
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    # One at a time (a question) as in a batch (padded beside longer texts).
    for text in TEXTS:
        assert float(np.abs(onnx_encoder.embed_query_vector(text) - embeddings.embed_query_vector(text)).max()) < 1e-5
    count, expected = onnx_encoder.token_counter(), embeddings.token_counter()
    assert [count(t) for t in TEXTS] == [expected(t) for t in TEXTS]
    assert (onnx_encoder.version, onnx_encoder.dimension, onnx_encoder.max_tokens) == (
        embeddings.version,
        embeddings.dimension,
        embeddings.max_tokens,
    )
    assert onnx_encoder.encode([]).shape == (0, embeddings.dimension)


def test_several_questions_are_embedded_in_one_call_and_remembered(onnx_encoder, monkeypatch):
    """A comparison's sides go to the model as one batch; the memo then serves each alone."""
    questions = [f"{text} (batch {id(onnx_encoder)})" for text in TEXTS[:3]]
    batches: list[list[str]] = []
    encode = onnx_encoder.encode
    monkeypatch.setattr(onnx_encoder, "encode", lambda texts, **kw: batches.append(list(texts)) or encode(texts, **kw))
    vectors = onnx_encoder.embed_query_vectors([*questions, questions[0]])
    assert batches == [questions]  # the repeated question is embedded once
    assert all(vector is onnx_encoder.embed_query_vector(q) for vector, q in zip(vectors, questions, strict=False))
    assert batches == [questions]  # served from the memo
    alone = [encode([q])[0] for q in questions]
    assert max(float(np.abs(v - a).max()) for v, a in zip(vectors, alone, strict=False)) < 1e-5


def test_a_data_dir_that_cannot_hold_the_export_falls_back_to_torch(tmp_path, caplog):
    (tmp_path / "encoders").write_text("a file where the folder should be", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="rag.onnx_encoder"):
        encoder = load_query_encoder(tmp_path, None, 64)
    assert type(encoder) is MiniLMEmbeddings
    assert "questions are embedded with torch" in caplog.text


def test_a_damaged_export_falls_back_to_torch(tmp_path, caplog):
    from rag.embeddings import packaged_model_path

    target = exported_path(tmp_path, packaged_model_path())
    target.parent.mkdir(parents=True)
    target.write_bytes(b"not an onnx graph")
    with caplog.at_level(logging.WARNING, logger="rag.onnx_encoder"):
        encoder = load_query_encoder(tmp_path, None, 64)
    assert type(encoder) is MiniLMEmbeddings and "does not load" in caplog.text


def test_a_model_pooled_otherwise_is_not_exported(tmp_path, caplog):
    import json
    import shutil

    from rag.embeddings import packaged_model_path

    model = tmp_path / "model"
    shutil.copytree(packaged_model_path(), model)
    pooling = model / "1_Pooling" / "config.json"
    config = json.loads(pooling.read_text(encoding="utf-8"))
    pooling.write_text(
        json.dumps({**config, "pooling_mode_mean_tokens": False, "pooling_mode_cls_token": True}), encoding="utf-8"
    )
    with caplog.at_level(logging.WARNING, logger="rag.onnx_encoder"):
        assert prepare_export(tmp_path / "data", model) is None
    assert "mean pooling" in caplog.text
    assert not (tmp_path / "data" / "encoders").exists() or not list((tmp_path / "data" / "encoders").iterdir())


def test_answers_are_the_same_with_either_encoder(corpus_settings, answerer):
    from evals.dataset import load_items
    from evals.suite import load_sets
    from rag.factory import load_answerer

    onnx_answerer = load_answerer(corpus_settings)  # no model passed: QA_QUERY_ENCODER's default
    assert isinstance(onnx_answerer.embeddings, OnnxMiniLM)
    assert exported_path(corpus_settings.data_dir, onnx_answerer.embeddings.model_dir).is_file()
    torch_settings = make_settings(corpus_settings.data_dir, query_encoder="torch")
    assert type(load_answerer(torch_settings).embeddings) is MiniLMEmbeddings
    questions = [
        item.question
        for question_set in load_sets()
        if question_set.name.startswith("ukraine-article-validate")
        for item in load_items(question_set.path)
        if not item.history
    ]
    assert len(questions) >= 20
    for question in questions:
        mine, reference = onnx_answerer.answer(question), answerer.answer(question)
        assert mine.answer == reference.answer, question
        assert [(c.source_id, c.start, c.end) for c in mine.citations] == [
            (c.source_id, c.start, c.end) for c in reference.citations
        ]
