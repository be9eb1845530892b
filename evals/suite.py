"""The question sets of evals/sets.toml, each asked of its own subject's corpus.

`load_sets()` reads the manifest; `subject_settings()` points the settings at a subject's corpus
and index (the configured one for the shipped corpus, a folder of its own under the data
directory for any other); `open_subject()` brings that index up to date (an incremental ingest:
nothing is embedded when the corpus has not changed) and loads an answerer on it.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rag.errors import ConfigError

if TYPE_CHECKING:
    from rag.chain import Answerer
    from rag.embeddings import MiniLMEmbeddings
    from rag.settings import Settings

EVALS = Path(__file__).parent
MANIFEST = EVALS / "sets.toml"
REPO = EVALS.parent
PARTS = ("tune", "validate")


@dataclass(frozen=True)
class QuestionSet:
    name: str
    subject: str
    part: str  # "tune" or "validate"
    path: Path
    corpus: Path


def load_sets(part: str | None = None, manifest: Path = MANIFEST) -> list[QuestionSet]:
    """The sets of the manifest, in its order; only one part's when `part` is given."""
    if part is not None and part not in PARTS:
        raise ConfigError(f"part must be one of {', '.join(PARTS)}, got {part!r}")
    data = tomllib.loads(manifest.read_text(encoding="utf-8"))
    subjects = data.get("subjects", {})
    sets = []
    for entry in data.get("sets", []):
        subject = subjects.get(entry["subject"])
        if subject is None or entry.get("part") not in PARTS:
            raise ConfigError(f"{manifest}: set {entry.get('name')!r} names an unknown subject or part")
        sets.append(
            QuestionSet(
                entry["name"],
                entry["subject"],
                entry["part"],
                manifest.parent / entry["file"],
                (REPO / subject["corpus"]).resolve(),
            )
        )
    return [s for s in sets if part is None or s.part == part]


def subject_settings(settings: Settings, question_set: QuestionSet) -> Settings:
    """Settings for the set's subject: the configured index when its corpus is the configured
    corpus, otherwise an index of its own under the data directory."""
    if question_set.corpus == settings.corpus_dir.resolve():
        return settings
    data_dir = settings.data_dir / "subjects" / question_set.subject
    return settings.model_copy(update={"corpus_dir": question_set.corpus, "data_dir": data_dir})


def open_subject(settings: Settings, embeddings: MiniLMEmbeddings, mode: str = "extractive") -> Answerer:
    """Bring the subject's index up to date, then load an answerer on it."""
    from ingest.pipeline import ingest_paths
    from rag.factory import load_answerer

    ingest_paths(None, settings, embedder_factory=lambda: embeddings, progress=False)
    return load_answerer(settings, embeddings, mode=mode)
