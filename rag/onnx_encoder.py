"""The same MiniLM model run by onnxruntime instead of torch, for the answering processes.

A question is embedded on every request, and torch's per-call overhead dominates for one short
text: measured here (2 cores), 12.8 ms a question with sentence-transformers against 3.6 ms with
onnxruntime, the vectors within 2e-7 of each other (float rounding). An answering process that
finds the exported model never loads the torch model, which takes seconds off a cold `qa ask`
(and an answering process keeps torch itself out until an ingest needs it:
rag.embeddings.keep_torch_out).

The model is exported once from the sentence-transformers files that ship with the package
(torch.onnx with the `onnx` package; nothing is downloaded) into QA_DATA_DIR/encoders/, named by
the model's fingerprint, and written atomically, so processes starting together never read half
a file. The export runs the model's own layers with mean pooling and normalisation appended, so
it is made only for a model whose sentence-transformers modules are exactly those (as
all-MiniLM-L6-v2's are); any other model (QA_EMBEDDING_MODEL_PATH) is run by torch.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from rag.embeddings import MiniLMEmbeddings, model_fingerprint, packaged_model_path
from rag.errors import ConfigError

log = logging.getLogger(__name__)

INPUTS = ("input_ids", "attention_mask", "token_type_ids")
# The opset of the export: supported by every onnxruntime release of the last years.
OPSET = 17


def exported_path(data_dir: Path, model_dir: Path) -> Path:
    """Where the export of `model_dir` lives: one file per model fingerprint."""
    return data_dir / "encoders" / f"minilm-{model_fingerprint(model_dir).rsplit('@', 1)[-1]}.onnx"


def mean_pooled_and_normalised(model_dir: Path) -> bool:
    """Whether the sentence-transformers model is a transformer, mean pooling and normalisation,
    nothing else: what the export computes."""
    modules = json.loads((model_dir / "modules.json").read_text(encoding="utf-8"))
    kinds = [str(module.get("type", "")).rsplit(".", 1)[-1] for module in modules]
    if kinds != ["Transformer", "Pooling", "Normalize"]:
        return False
    pooling = json.loads((model_dir / modules[1]["path"] / "config.json").read_text(encoding="utf-8"))
    modes = {key for key, value in pooling.items() if key.startswith("pooling_mode") and value}
    return modes == {"pooling_mode_mean_tokens"}


def export_model(model_dir: Path, target: Path) -> Path:
    """Export the sentence-transformers model in `model_dir` (transformer, mean pooling,
    normalisation) to ONNX at `target`. Needs torch and the `onnx` package; slow (seconds)."""
    if not mean_pooled_and_normalised(model_dir):
        raise ConfigError(f"the model in {model_dir} is not a transformer with mean pooling and normalisation")
    import torch
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # no "Loading weights" bar on a start-up

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    model = AutoModel.from_pretrained(str(model_dir), local_files_only=True).eval()

    class Pooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            hidden = self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, dim=-1)

    sample = tokenizer(["a first text", "and a second, longer text"], padding=True, return_tensors="pt")
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(dir=target.parent, prefix=".export-", suffix=".onnx")
    os.close(handle)
    try:
        # The exporter warns about each trace-time Python branch of the model; none matters here.
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                Pooled(),
                tuple(sample[name] for name in INPUTS),
                partial,
                input_names=list(INPUTS),
                output_names=["embedding"],
                dynamic_axes={**{name: {0: "batch", 1: "tokens"} for name in INPUTS}, "embedding": {0: "batch"}},
                opset_version=OPSET,
                dynamo=False,
            )
        Path(partial).replace(target)
    finally:
        Path(partial).unlink(missing_ok=True)
    return target


class OnnxMiniLM(MiniLMEmbeddings):
    """MiniLMEmbeddings with onnxruntime doing the work: same vectors, same version, same cache."""

    def __init__(
        self, onnx_file: Path, model_dir: Path | None = None, batch_size: int = 64, cache_size: int = 256
    ) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        self.model_dir = Path(model_dir) if model_dir else packaged_model_path()
        config = json.loads((self.model_dir / "sentence_bert_config.json").read_text(encoding="utf-8"))
        self._max_tokens = int(config.get("max_seq_length", 256))
        self._tokenizer = Tokenizer.from_file(str(self.model_dir / "tokenizer.json"))
        self._tokenizer.enable_truncation(self._max_tokens)
        self._tokenizer.enable_padding()
        # Counting (for chunk sizes) must see every word piece: a tokenizer of its own, uncut.
        self._counting = Tokenizer.from_file(str(self.model_dir / "tokenizer.json"))
        self._counting.no_truncation()
        self._counting.no_padding()
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3  # its warnings about unused initialisers are noise
        # One thread: a question is one short sequence, which a second thread speeds up little
        # (about 5 against 7 ms here), and the answerer embeds it beside the question's parse
        # (rag/chain.py), which needs the other core. Idle pool threads that spin also slowed the
        # parse and every encoder after this one (evals/bench/query.py).
        options.intra_op_num_threads = 1
        self._session = onnxruntime.InferenceSession(str(onnx_file), options, providers=["CPUExecutionProvider"])
        hidden = json.loads((self.model_dir / "config.json").read_text(encoding="utf-8")).get("hidden_size")
        if not hidden:
            raise ConfigError(f"the model in {self.model_dir} does not say how long its vectors are")
        self.dimension = int(hidden)
        self.batch_size = batch_size
        self.version = model_fingerprint(self.model_dir)
        self._start_cache(cache_size)

    @property
    def max_tokens(self) -> int:
        return self._max_tokens

    def token_counter(self) -> Callable[[str], int]:
        def count(text: str) -> int:
            return len(self._counting.encode(text, add_special_tokens=False).ids)

        return count

    def encode(self, texts: list[str], show_progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        # Like sentence-transformers: texts of similar length share a batch, so little is padded.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for begin in range(0, len(order), self.batch_size):
            chosen = order[begin : begin + self.batch_size]
            encodings = self._tokenizer.encode_batch([texts[i] for i in chosen])
            feed = {
                "input_ids": np.asarray([e.ids for e in encodings], dtype=np.int64),
                "attention_mask": np.asarray([e.attention_mask for e in encodings], dtype=np.int64),
                "token_type_ids": np.asarray([e.type_ids for e in encodings], dtype=np.int64),
            }
            out[chosen] = self._session.run(None, feed)[0]
        return out


def prepare_export(data_dir: Path, model_dir: Path | None) -> Path | None:
    """The export for this data directory, made now if missing; None (with the reason logged)
    when it cannot be made: no `onnx` package, a read-only data directory, an exporter error."""
    target = exported_path(data_dir, Path(model_dir) if model_dir else packaged_model_path())
    if target.is_file():
        return target
    try:
        log.info("exporting the embedding model to %s (once per model)", target)
        return export_model(Path(model_dir) if model_dir else packaged_model_path(), target)
    except Exception as error:  # noqa: BLE001 - the optional route falls back to torch, whatever failed
        log.warning(
            "the ONNX encoder is not available (%s: %s); questions are embedded with torch", type(error).__name__, error
        )
        return None


def load_query_encoder(data_dir: Path, model_dir: Path | None, batch_size: int) -> MiniLMEmbeddings:
    """The ONNX encoder, exporting the model first if this data directory has no export yet;
    the torch one when that cannot be done."""
    exported = prepare_export(data_dir, model_dir)
    if exported is not None:
        try:
            return OnnxMiniLM(exported, model_dir, batch_size)
        except Exception as error:  # noqa: BLE001 - a damaged export file: torch still answers
            log.warning(
                "the ONNX encoder in %s does not load (%s); questions are embedded with torch",
                exported,
                type(error).__name__,
            )
    return MiniLMEmbeddings(model_dir, batch_size)
