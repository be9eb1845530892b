"""A full disk and read-only storage, for real: a small tmpfs filled to the brim, and a read-only
bind mount. Mounting needs root with CAP_SYS_ADMIN, so these run in `make hardening`, not in
`make test` (tests/rag/test_storage_errors.py checks the error reading there)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import CORPUS, make_settings
from tests.ingest.test_crash import cli_env, fingerprint_of
from tests.ingest.test_pipeline import run_cli
from tests.store_checks import all_rows, assert_consistent

pytestmark = pytest.mark.integration

QUESTION = "How many American troops are stationed in South Korea?"


def mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True)


@pytest.fixture()
def small_disk(tmp_path) -> Iterator[Path]:
    folder = tmp_path / "disk"
    folder.mkdir()
    mount("-t", "tmpfs", "-o", "size=40m", "tmpfs", str(folder))
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def corpus_of(folder: Path, *names: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copy(CORPUS / name, folder / name)
    return folder


def cli_ingest(settings) -> subprocess.CompletedProcess:
    return run_cli("ingest", "--quiet", env=cli_env(settings), timeout=600)


def fill(folder: Path) -> Path:
    filler = folder / "filler"
    with filler.open("wb") as out:
        try:
            while True:
                out.write(b"\0" * (1 << 20))
                out.flush()
        except OSError:
            pass
    return filler


def test_ingest_on_a_full_disk_says_so_and_the_index_stays_served(small_disk, tmp_path, embeddings):
    from ingest.pipeline import ingest_paths
    from rag.factory import load_answerer

    corpus = corpus_of(tmp_path / "corpus", "000_31241798ea01703b.txt", "budapest-memorandum.txt")
    settings = make_settings(small_disk / "data", corpus)
    assert ingest_paths(None, settings, embedder_factory=lambda: embeddings, progress=False).added == 2
    before = fingerprint_of(all_rows(settings))
    expected = load_answerer(settings, embeddings).answer(QUESTION)
    filler = fill(small_disk)
    corpus_of(corpus, "g7-and-bilateral-agreements.txt", "us-israel-memoranda.md")
    failed = cli_ingest(settings)
    assert failed.returncode == 1 and "Traceback" not in failed.stderr
    assert "is full" in failed.stderr and str(settings.data_dir) in failed.stderr
    # Served as before, from the full disk (through a private copy), and nothing was lost.
    served = load_answerer(settings, embeddings).answer(QUESTION)
    assert served.answer == expected.answer and served.citations == expected.citations
    filler.unlink()
    assert fingerprint_of(assert_consistent(settings)) == before
    summary = ingest_paths(None, settings, embedder_factory=lambda: embeddings, progress=False)
    assert summary.added == 2 and summary.unchanged == 2
    assert_consistent(settings)


def test_an_index_on_read_only_storage_is_served_and_ingest_says_why_it_cannot(tmp_path, embeddings):
    from ingest.pipeline import ingest_paths
    from rag.factory import load_answerer

    corpus = corpus_of(tmp_path / "corpus", "000_31241798ea01703b.txt", "budapest-memorandum.txt")
    built = make_settings(tmp_path / "data", corpus)
    ingest_paths(None, built, embedder_factory=lambda: embeddings, progress=False)
    expected = load_answerer(built, embeddings).answer(QUESTION)
    read_only = tmp_path / "read-only"
    read_only.mkdir()
    mount("--bind", str(built.data_dir), str(read_only))
    try:
        mount("-o", "remount,bind,ro", str(read_only))
        settings = make_settings(read_only, corpus)
        served = load_answerer(settings, embeddings).answer(QUESTION)
        assert served.answer == expected.answer and served.citations == expected.citations
        refused = cli_ingest(settings)
        assert refused.returncode == 1 and "Traceback" not in refused.stderr
        assert "cannot be written" in refused.stderr
    finally:
        subprocess.run(["umount", "-l", str(read_only)], check=False)
