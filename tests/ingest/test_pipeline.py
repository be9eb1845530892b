"""The ingest pipeline end to end: real files in tmp dirs, the real model, real Chroma on disk.

The seed article is embedded once per module (it is the slow part); each test works on its own
copy of that corpus and of the Chroma directory.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import CORPUS, REPO, make_settings
from tests.store_checks import all_rows, assert_consistent, open_store

pytestmark = pytest.mark.integration

SEED_ID = "000_31241798ea01703b"
SMALL_FILES = {
    "alpha.md": (
        "# Alpha Notes\n\n"
        "The alpha council met in Brenmark to discuss the harbour treaty. "
        "It agreed that the harbour stays open to neutral ships.\n\n"
        "## Second Part\n\n"
        "The treaty was signed in 1999 by four delegations. Nobody objected to the final text.\n"
    ),
    "sub/beta.txt": (
        "Beta Report\n\n"
        "The beta envoy travelled to Corvia in the spring. The envoy returned with a new charter.\n\n"
        "The charter grants the railway union a seat on the council.\n"
    ),
    "sub/beta.meta.yaml": "title: The Beta Report\nkind: report\n",
    # The corpus README documents the corpus; its .qaignore says it is not a source.
    "README.md": "# Corpus\n\nThis folder holds the documents.\n",
    ".qaignore": "# not sources\n/README.md\n",
}
SMALL_IDS = {"alpha", "sub/beta"}


# ---------------------------------------------------------------- helpers


def write_files(root: Path, files: dict[str, str | bytes]) -> None:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


def make_corpus(root: Path, seed: bool = True, files: dict[str, str | bytes] | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    if seed:
        for name in (f"{SEED_ID}.txt", f"{SEED_ID}.meta.yaml"):
            shutil.copy2(CORPUS / name, root / name)
    write_files(root, SMALL_FILES if files is None else files)
    return root


class CountingFactory:
    """The real model, handed out by a factory that counts how often ingest asks for it."""

    def __init__(self, embeddings) -> None:
        self.embeddings = embeddings
        self.calls = 0

    def __call__(self):
        self.calls += 1
        return self.embeddings


def ingest(settings, embeddings, **kwargs):
    from ingest.pipeline import ingest_paths

    factory = CountingFactory(embeddings)
    summary = ingest_paths(kwargs.pop("paths", None), settings, embedder_factory=factory, progress=False, **kwargs)
    return summary, factory.calls


def ids_by_source(got: dict[str, list[dict]], kind: str = "chunks") -> dict[str, set[str]]:
    """Stable content ids (chunk_id / sentence_id) per source; the row id adds the version."""
    key = "chunk_id" if kind == "chunks" else "sentence_id"
    out: dict[str, set[str]] = {}
    for row in got[kind]:
        assert row["id"] == f"{row['metadata'][key]}@{row['metadata']['content_sha256'][:16]}"
        out.setdefault(row["metadata"]["source_id"], set()).add(row["metadata"][key])
    return out


def cli_env(data_dir: Path, corpus_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    env.update(
        QA_DATA_DIR=str(data_dir),
        QA_CORPUS_DIR=str(corpus_dir),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        PYTHONPATH=str(REPO),
    )
    return env


def run_cli(*args: str, env: dict[str, str], timeout: float = 300, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "rag.cli", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        **kwargs,
    )


SUMMARY_LINE = re.compile(
    r"^ingest: (?P<added>\d+) added, (?P<updated>\d+) updated, (?P<unchanged>\d+) unchanged, "
    r"(?P<removed>\d+) removed, (?P<failed>\d+) failed; (?P<written>\d+) chunks embedded, "
    r"(?P<total>\d+) chunks in (?P<sources>\d+) sources?; \d+\.\d s$"
)


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def base(tmp_path_factory, embeddings):
    """The seed plus small files, ingested once: (settings, first summary, factory calls)."""
    root = tmp_path_factory.mktemp("pipeline-base")
    settings = make_settings(root / "data", make_corpus(root / "corpus"))
    summary, calls = ingest(settings, embeddings)
    return settings, summary, calls


@pytest.fixture
def workspace(base, tmp_path):
    """A private copy of the base corpus and its index."""
    settings, _, _ = base
    shutil.copytree(settings.corpus_dir, tmp_path / "corpus")
    shutil.copytree(settings.data_dir, tmp_path / "data")
    return make_settings(tmp_path / "data", tmp_path / "corpus")


# ---------------------------------------------------------------- add, unchanged, edit, delete


def test_first_ingest_adds_every_file(base) -> None:
    settings, summary, calls = base
    assert summary.failed == []
    assert (summary.added, summary.updated, summary.unchanged, summary.removed) == (3, 0, 0, 0)
    assert calls == 1, "the model is loaded once per run"
    got = assert_consistent(settings)
    assert {r["id"] for r in got["sources"]} == {SEED_ID, *SMALL_IDS}, "the README listed in .qaignore is skipped"
    assert summary.sources_total == 3
    assert summary.chunks_written == summary.chunks_total == len(got["chunks"]) > 3
    seed = next(r for r in got["sources"] if r["id"] == SEED_ID)
    assert seed["metadata"]["title"].startswith("Amid tensions between the U.S. and Europe")
    sections = {r["metadata"]["section"] for r in got["chunks"] if r["metadata"]["source_id"] == SEED_ID}
    assert {"An Israel model", "A South Korean model", "’Finlandization’"} <= sections
    beta = next(r for r in got["sources"] if r["id"] == "sub/beta")
    assert beta["metadata"]["title"] == "The Beta Report" and beta["metadata"]["path"] == "sub/beta.txt"


def test_second_ingest_of_unchanged_corpus_embeds_nothing(workspace, embeddings) -> None:
    before = all_rows(workspace)
    summary, calls = ingest(workspace, embeddings)
    assert calls == 0, "the embedding model must not even be loaded"
    assert (summary.added, summary.updated, summary.removed, summary.unchanged) == (0, 0, 0, 3)
    assert summary.chunks_written == 0 and summary.failed == [] and summary.orphans_removed == 0
    after = assert_consistent(workspace)
    for kind in ("chunks", "sentences", "sources"):
        assert {r["id"] for r in after[kind]} == {r["id"] for r in before[kind]}
    assert summary.chunks_total == len(after["chunks"])


def test_editing_one_file_reembeds_only_that_file(workspace, embeddings) -> None:
    before = assert_consistent(workspace)
    old_sha = next(r["metadata"]["content_sha256"] for r in before["sources"] if r["id"] == "alpha")
    old_alpha = ids_by_source(before)["alpha"]
    path = workspace.corpus_dir / "alpha.md"
    path.write_text(path.read_text().replace("Nobody objected to the final text.", "Two delegations walked out."))

    summary, calls = ingest(workspace, embeddings)
    assert (summary.added, summary.updated, summary.unchanged, summary.removed) == (0, 1, 2, 0)
    assert summary.failed == [] and calls == 1
    after = assert_consistent(workspace)
    new_alpha = ids_by_source(after)["alpha"]
    assert summary.chunks_written == len(new_alpha), "only the edited file's chunks were embedded"
    assert old_alpha - new_alpha, "the chunk with the edited sentence got a new id"
    record = next(r for r in after["sources"] if r["id"] == "alpha")
    assert record["metadata"]["content_sha256"] != old_sha
    assert "Two delegations walked out." in record["document"]
    for kind in ("chunks", "sentences"):
        assert not any("Nobody objected" in r["document"] for r in after[kind]), f"old {kind} row left behind"
        assert any("Two delegations walked out." in r["document"] for r in after[kind])
    # the other sources are untouched
    for sid in (SEED_ID, "sub/beta"):
        assert ids_by_source(after)[sid] == ids_by_source(before)[sid]
        assert ids_by_source(after, "sentences")[sid] == ids_by_source(before, "sentences")[sid]


def test_editing_only_a_sidecar_updates_the_metadata(workspace, embeddings) -> None:
    (workspace.corpus_dir / "sub" / "beta.meta.yaml").write_text("title: Beta Report, Second Edition\n")
    summary, calls = ingest(workspace, embeddings)
    assert (summary.updated, summary.unchanged) == (1, 2) and calls == 1
    after = assert_consistent(workspace)
    assert (
        next(r for r in after["sources"] if r["id"] == "sub/beta")["metadata"]["title"] == "Beta Report, Second Edition"
    )
    titles = {r["metadata"]["title"] for r in after["chunks"] if r["metadata"]["source_id"] == "sub/beta"}
    assert titles == {"Beta Report, Second Edition"}


def test_deleting_a_file_removes_its_chunks_sentences_and_record(workspace, embeddings) -> None:
    before = assert_consistent(workspace)
    n_beta = len(ids_by_source(before)["sub/beta"])
    (workspace.corpus_dir / "sub" / "beta.txt").unlink()
    summary, calls = ingest(workspace, embeddings)
    assert (summary.removed, summary.added, summary.updated, summary.unchanged) == (1, 0, 0, 2)
    assert calls == 0 and summary.chunks_written == 0
    after = assert_consistent(workspace)
    assert {r["id"] for r in after["sources"]} == {SEED_ID, "alpha"}
    for kind in ("chunks", "sentences"):
        assert not [r for r in after[kind] if r["metadata"]["source_id"] == "sub/beta"]
    assert summary.chunks_total == len(before["chunks"]) - n_beta == len(after["chunks"])
    # and a third run has nothing left to do
    again, calls = ingest(workspace, embeddings)
    assert (again.removed, again.unchanged, calls) == (0, 2, 0)


def test_ingesting_one_named_file_leaves_the_rest_of_the_corpus_alone(workspace, embeddings) -> None:
    (workspace.corpus_dir / "sub" / "beta.txt").unlink()
    target = workspace.corpus_dir / "alpha.md"
    target.write_text(target.read_text() + "\nA late addendum was published in 2001.\n")
    summary, _ = ingest(workspace, embeddings, paths=[target])
    assert (summary.updated, summary.removed) == (1, 0), "beta was not scanned, so it is not removed"
    after = assert_consistent(workspace)
    assert {r["id"] for r in after["sources"]} == {SEED_ID, "alpha", "sub/beta"}


# ---------------------------------------------------------------- bad files

BROKEN_PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 9 0 R >> endobj\nthis is not a pdf body\n%%EOF\n"
BAD_FILES: dict[str, str | bytes] = {
    "broken.pdf": BROKEN_PDF,
    "truncated.pdf": b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n",
    "latin1.txt": "Caf\u00e9 cr\u00e8me in Z\u00fcrich, the treaty was signed.".encode("latin-1"),
    "binary.txt": bytes(range(256)) * 4,
    "empty.md": b"",
}


def test_bad_files_are_reported_by_path_and_good_files_still_ingested(workspace, embeddings) -> None:
    write_files(workspace.corpus_dir, BAD_FILES)
    write_files(workspace.corpus_dir, {"gamma.txt": "The gamma mission reached Dastria. It stayed for a week.\n"})
    failures: list[tuple[str, str]] = []
    from ingest.pipeline import ingest_paths

    factory = CountingFactory(embeddings)
    summary = ingest_paths(
        None,
        workspace,
        embedder_factory=factory,
        progress=False,
        on_failure=lambda path, reason: failures.append((path, reason)),
    )
    failed = {Path(path).name: reason for path, reason in summary.failed}
    assert set(failed) == set(BAD_FILES)
    for path, _ in summary.failed:  # reported by their full path in the corpus
        assert Path(path) == workspace.corpus_dir.resolve() / Path(path).name
    assert "PDF" in failed["broken.pdf"]
    assert "truncated" in failed["truncated.pdf"]
    assert "UTF-8" in failed["latin1.txt"]
    assert "binary" in failed["binary.txt"] or "NUL" in failed["binary.txt"]
    assert "empty" in failed["empty.md"]
    assert sorted(failures) == sorted(summary.failed), "on_failure hears about every unreadable file"
    assert (summary.added, summary.unchanged) == (1, 3)
    got = assert_consistent(workspace)
    assert {r["id"] for r in got["sources"]} == {SEED_ID, "alpha", "sub/beta", "gamma"}
    assert any("gamma mission" in r["document"] for r in got["chunks"])


def test_unchanged_corpus_with_a_broken_file_does_not_load_the_model(workspace, embeddings) -> None:
    write_files(workspace.corpus_dir, {"empty.md": b""})
    first, _ = ingest(workspace, embeddings)
    assert [Path(p).name for p, _ in first.failed] == ["empty.md"] and first.chunks_written == 0
    second, calls = ingest(workspace, embeddings)
    assert [Path(p).name for p, _ in second.failed] == ["empty.md"] and second.chunks_written == 0
    assert calls == 0, "nothing to embed, yet the model was loaded"


def test_bad_files_alone_do_not_break_a_fresh_ingest(tmp_path, embeddings) -> None:
    corpus = make_corpus(
        tmp_path / "corpus",
        seed=False,
        files={**BAD_FILES, "good.txt": "The good file speaks of the northern railway. It was built in 1901.\n"},
    )
    settings = make_settings(tmp_path / "data", corpus)
    summary, _ = ingest(settings, embeddings)
    assert summary.added == 1 and len(summary.failed) == len(BAD_FILES)
    assert {r["id"] for r in assert_consistent(settings)["sources"]} == {"good"}


def test_two_files_with_the_same_source_id_are_reported(tmp_path, embeddings) -> None:
    corpus = make_corpus(
        tmp_path / "corpus",
        seed=False,
        files={
            "twin.txt": "The first twin is plain text. It is about ships.\n",
            "twin.md": "# Twin\n\nThe second twin is markdown. It is about trains.\n",
        },
    )
    settings = make_settings(tmp_path / "data", corpus)
    summary, _ = ingest(settings, embeddings)
    assert summary.added == 1
    assert [(Path(p).name, "same source id" in reason) for p, reason in summary.failed] == [("twin.txt", True)]


# ---------------------------------------------------------------- a known file that turns unreadable


def test_indexed_file_that_becomes_undecodable_keeps_its_old_version(workspace, embeddings) -> None:
    before = assert_consistent(workspace)
    old_record = next(r for r in before["sources"] if r["id"] == "sub/beta")
    beta = workspace.corpus_dir / "sub" / "beta.txt"
    beta.write_bytes(b"Beta Report\n\nThe envoy went to Z\xfcrich and stayed there.\n")
    summary, _ = ingest(workspace, embeddings)
    assert [(Path(p).name, "UTF-8" in r) for p, r in summary.failed] == [("beta.txt", True)]
    assert (summary.updated, summary.removed, summary.chunks_written) == (0, 0, 0)
    after = assert_consistent(workspace)
    record = next(r for r in after["sources"] if r["id"] == "sub/beta")
    assert record["metadata"]["content_sha256"] == old_record["metadata"]["content_sha256"]
    assert record["document"] == old_record["document"]
    assert ids_by_source(after)["sub/beta"] == ids_by_source(before)["sub/beta"]
    assert ids_by_source(after, "sentences")["sub/beta"] == ids_by_source(before, "sentences")["sub/beta"]


def test_indexed_file_that_loses_read_permission_keeps_its_old_version(workspace) -> None:
    """The CLI, unable to read one indexed file, reports it and keeps its indexed version. Root
    reads everything, so as root the CLI runs without the DAC-override capabilities."""
    before = assert_consistent(workspace)
    beta = workspace.corpus_dir / "sub" / "beta.txt"
    prefix: list[str] = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root and no setpriv to drop CAP_DAC_OVERRIDE")
        prefix = [setpriv, "--bounding-set", "-dac_override,-dac_read_search"]
    beta.chmod(0)
    try:
        result = subprocess.run(
            [*prefix, sys.executable, "-m", "rag.cli", "ingest", "--quiet"],
            cwd=REPO,
            env=cli_env(workspace.data_dir, workspace.corpus_dir),
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        beta.chmod(0o644)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert re.search(r"skipped \S*sub/beta\.txt: cannot read", result.stderr), result.stderr
    match = SUMMARY_LINE.match(result.stdout.strip())
    assert match, result.stdout
    assert (match["added"], match["updated"], match["unchanged"], match["removed"], match["failed"]) == (
        "0",
        "0",
        "2",
        "0",
        "1",
    )
    after = assert_consistent(workspace)
    assert {r["id"] for r in after["sources"]} == {SEED_ID, *SMALL_IDS}
    assert ids_by_source(after)["sub/beta"] == ids_by_source(before)["sub/beta"]


# ---------------------------------------------------------------- the command line


def test_cli_ingest_prints_one_summary_line_and_exits_0(tmp_path) -> None:
    corpus = make_corpus(tmp_path / "corpus", seed=False)
    env = cli_env(tmp_path / "data", corpus)
    first = run_cli("ingest", "--quiet", env=env)
    assert first.returncode == 0, first.stderr
    assert "Traceback" not in first.stderr
    lines = first.stdout.splitlines()
    assert len(lines) == 1, first.stdout
    match = SUMMARY_LINE.match(lines[0])
    assert match, lines[0]
    assert (match["added"], match["updated"], match["unchanged"], match["failed"], match["sources"]) == (
        "2",
        "0",
        "0",
        "0",
        "2",
    )
    assert int(match["written"]) == int(match["total"]) > 0
    # An ingest that loaded the model leaves the question encoder's ONNX export beside the index.
    assert list((tmp_path / "data" / "encoders").glob("minilm-*.onnx"))

    second = run_cli("ingest", "--quiet", env=env)
    assert second.returncode == 0, second.stderr
    again = SUMMARY_LINE.match(second.stdout.strip())
    assert again and (again["added"], again["unchanged"], again["written"]) == ("0", "2", "0")
    assert again["total"] == match["total"]

    rebuilt = run_cli("ingest", "--rebuild", "--quiet", env=env)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "rebuilt the index because --rebuild was asked for" in rebuilt.stderr
    third = SUMMARY_LINE.match(rebuilt.stdout.strip())
    assert third and (third["added"], third["unchanged"]) == ("2", "0") and third["written"] == match["total"]
    assert {r["id"] for r in assert_consistent(make_settings(tmp_path / "data", corpus))["sources"]} == SMALL_IDS


def test_cli_reports_bad_paths_with_exit_2_and_no_traceback(tmp_path) -> None:
    corpus = make_corpus(tmp_path / "corpus", seed=False)
    env = cli_env(tmp_path / "data", corpus)
    missing = run_cli("ingest", "/no/such/path", env=env)
    assert missing.returncode == 2
    assert "no such file or folder: /no/such/path" in missing.stderr
    assert "Traceback" not in missing.stderr and missing.stdout == ""

    no_corpus = run_cli("ingest", env=cli_env(tmp_path / "data", tmp_path / "nowhere"))
    assert no_corpus.returncode == 2
    assert "does not exist" in no_corpus.stderr and "Traceback" not in no_corpus.stderr

    unsupported = corpus / "table.csv"
    unsupported.write_text("a,b\n1,2\n")
    wrong_type = run_cli("ingest", str(unsupported), env=env)
    assert wrong_type.returncode == 1
    assert "unsupported file type" in wrong_type.stderr and "Traceback" not in wrong_type.stderr


# ---------------------------------------------------------------- rebuilds


def test_changed_chunker_setting_rebuilds_and_reembeds_everything(tmp_path, embeddings) -> None:
    corpus = make_corpus(tmp_path / "corpus", seed=False)
    settings = make_settings(tmp_path / "data", corpus)
    first, _ = ingest(settings, embeddings)
    assert first.rebuilt_because is None and first.added == 2
    old = assert_consistent(settings)

    smaller = make_settings(tmp_path / "data", corpus, chunk_max_tokens=120)
    summary, calls = ingest(smaller, embeddings)
    assert summary.rebuilt_because and "chunker" in summary.rebuilt_because
    assert "max120" in summary.rebuilt_because and "max200" in summary.rebuilt_because
    assert (summary.added, summary.updated, summary.unchanged) == (2, 0, 0) and calls == 1
    new = assert_consistent(smaller)
    assert summary.chunks_written == summary.chunks_total == len(new["chunks"])
    assert not {r["id"] for r in old["chunks"]} & {r["id"] for r in new["chunks"]}, "ids carry the chunker version"
    assert "max120" in open_store(smaller).collection("chunks").metadata["chunker"]

    steady, calls = ingest(smaller, embeddings)
    assert steady.rebuilt_because is None and steady.chunks_written == 0 and calls == 0

    forced, calls = ingest(smaller, embeddings, rebuild=True)
    assert forced.rebuilt_because == "--rebuild was asked for"
    assert forced.added == 2 and forced.chunks_written == forced.chunks_total == len(new["chunks"]) and calls == 1
    assert {r["id"] for r in assert_consistent(smaller)["chunks"]} == {r["id"] for r in new["chunks"]}


# ---------------------------------------------------------------- reading the index


def test_snapshot_refuses_an_index_of_another_embedder(workspace, embeddings) -> None:
    from rag.errors import IndexNotReadyError
    from rag.snapshot import load_snapshot
    from rag.storage import open_client
    from rag.store import IndexReader

    with pytest.raises(IndexNotReadyError) as error:
        load_snapshot(IndexReader(open_client(workspace), workspace.collection), embedder_version="other")
    message = str(error.value)
    assert "other" in message and embeddings.version in message and "qa ingest" in message

    snapshot = load_snapshot(IndexReader(open_client(workspace), workspace.collection), embeddings.version)
    assert set(snapshot.sources) == {SEED_ID, *SMALL_IDS}
    assert len(snapshot.chunks) == len(all_rows(workspace)["chunks"])
    assert snapshot.sentence_vectors.shape == (len(snapshot.sentences), 384)


def test_snapshot_of_a_store_never_built_is_not_ready(tmp_path) -> None:
    from rag.errors import IndexNotReadyError
    from rag.snapshot import load_snapshot
    from rag.storage import open_client
    from rag.store import IndexReader

    settings = make_settings(tmp_path / "data", tmp_path)
    with pytest.raises(IndexNotReadyError, match="run `qa ingest`"):
        load_snapshot(IndexReader(open_client(settings), settings.collection))


def test_snapshot_of_an_empty_corpus_is_not_ready(tmp_path, embeddings) -> None:
    from rag.errors import IndexNotReadyError
    from rag.snapshot import load_snapshot
    from rag.storage import open_client
    from rag.store import IndexReader

    corpus = make_corpus(tmp_path / "corpus", seed=False, files={})
    settings = make_settings(tmp_path / "data", corpus)
    summary, calls = ingest(settings, embeddings)
    assert (summary.sources_total, summary.chunks_total, calls) == (0, 0, 0)
    with pytest.raises(IndexNotReadyError, match="no documents"):
        load_snapshot(IndexReader(open_client(settings), settings.collection))


# ---------------------------------------------------------------- an embedder with another dimension


@pytest.fixture(scope="module")
def narrow_model_dir(tmp_path_factory) -> Path:
    """The packaged MiniLM with a Dense layer down to 64 dimensions, saved as a model folder: a
    real sentence-transformers model whose vectors are not 384 wide."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Dense

    from rag.embeddings import packaged_model_path

    base = SentenceTransformer(str(packaged_model_path()), device="cpu", local_files_only=True)
    transformer, pooling, normalize = list(base)
    narrow = SentenceTransformer(modules=[transformer, pooling, Dense(384, 64), normalize], device="cpu")
    folder = tmp_path_factory.mktemp("narrow-model")
    narrow.save(str(folder))
    return folder


def test_an_embedder_of_another_dimension_builds_an_index_its_readers_accept(tmp_path, narrow_model_dir) -> None:
    from rag.embeddings import MiniLMEmbeddings
    from rag.factory import load_answerer

    settings = make_settings(
        tmp_path / "data", make_corpus(tmp_path / "corpus", seed=True, files={}), embedding_model_path=narrow_model_dir
    )
    model = MiniLMEmbeddings(narrow_model_dir)
    assert model.dimension == 64
    summary, calls = ingest(settings, model)
    assert summary.added == 1 and calls == 1
    answerer = load_answerer(settings, model)  # refused before: the index claimed 384 dimensions
    assert answerer.snapshot.versions.dimension == 64
    assert answerer.snapshot.sentence_vectors.shape[1] == 64
    documents = answerer.retriever.invoke("How many American troops are stationed in South Korea?")
    assert documents and all(d.metadata["source_id"] == SEED_ID for d in documents)
    again, calls = ingest(settings, model)
    assert (again.unchanged, again.rebuilt_because, calls) == (1, None, 0), "the stamp is stable across runs"


@pytest.mark.unit
def test_the_summary_line_counts_one_source_in_the_singular() -> None:
    from ingest.pipeline import IngestSummary

    assert " in 1 source; " in IngestSummary(sources_total=1).line()
    assert " in 2 sources; " in IngestSummary(sources_total=2).line()
