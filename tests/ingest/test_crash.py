"""kill -9 during `qa ingest`: whatever moment the process dies, the next ingest repairs the store
into exactly what a clean build of the same corpus gives, and readers never see half a document.

Two ways of killing the real CLI process with SIGKILL:
  * from outside, after a delay spread over the length of a measured full run (random moments);
  * from inside, at an exact point: a profile hook (sys.setprofile, nothing replaced or mocked)
    sends SIGKILL to its own process when the n-th call of a named function starts, so the
    narrow windows between two writes are hit every time, not by luck.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.conftest import CORPUS, REPO, make_settings
from tests.store_checks import all_rows, assert_consistent

pytestmark = pytest.mark.integration

SEED_ID = "000_31241798ea01703b"
QUESTION = "How many American troops are stationed in South Korea?"
N_GENERATED = 6

KILLER = textwrap.dedent(
    """
    import os, signal, sys
    function, file_suffix, nth, cli_args = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
    seen = 0

    def hook(frame, event, arg):
        global seen
        if event == "call" and frame.f_code.co_name == function and frame.f_code.co_filename.endswith(file_suffix):
            seen += 1
            if seen == nth:
                os.kill(os.getpid(), signal.SIGKILL)

    sys.setprofile(hook)
    from rag.cli.main import main
    sys.exit(main(["ingest", *cli_args]))
    """
)
INDEX_PY = str(Path("ingest", "index.py"))
CHROMA_CLIENT_PY = str(Path("chromadb", "api", "client.py"))

# ---------------------------------------------------------------- corpus

NOUNS = "treaty council border guarantee alliance envoy parliament ministry harbour railway garrison convoy".split()
ADJECTIVES = "northern careful provisional binding quiet eastern fragile formal joint naval civilian regional".split()
VERBS = "reviewed ratified delayed debated signed rejected extended funded inspected drafted".split()
PLACES = "Aldova Brenmark Corvia Dastria Elmont Fennick Galdor Hesper".split()


def _sentence(rng: random.Random) -> str:
    return (
        f"The {rng.choice(ADJECTIVES)} {rng.choice(NOUNS)} of {rng.choice(PLACES)} {rng.choice(VERBS)} the "
        f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)} in {rng.randint(1900, 2024)}, and the "
        f"{rng.choice(NOUNS)} {rng.choice(VERBS)} it again."
    )


def generated_text(number: int, paragraphs: int = 4, per_paragraph: int = 4, salt: str = "") -> str:
    rng = random.Random(f"{number}{salt}")
    blocks = [f"Report number {number} on the {PLACES[number % len(PLACES)]} question"]
    for p in range(paragraphs):
        if p % 2 == 0:
            blocks.append(f"Part {p // 2 + 1} of the {PLACES[(number + p) % len(PLACES)]} file")
        blocks.append(" ".join(_sentence(rng) for _ in range(per_paragraph)))
    return "\n\n".join(blocks) + "\n"


def make_crash_corpus(root: Path, seed: bool = True, n: int = N_GENERATED) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    if seed:
        for name in (f"{SEED_ID}.txt", f"{SEED_ID}.meta.yaml"):
            shutil.copy2(CORPUS / name, root / name)
    for number in range(n):
        (root / f"gen_{number:02d}.txt").write_text(generated_text(number), encoding="utf-8")
    return root


# ---------------------------------------------------------------- processes


def cli_env(settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    env.update(
        QA_DATA_DIR=str(settings.data_dir),
        QA_CORPUS_DIR=str(settings.corpus_dir),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        PYTHONPATH=str(REPO),
    )
    return env


def start_ingest(settings, log: Path) -> subprocess.Popen:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "rag.cli", "ingest", "--quiet"],
            cwd=REPO,
            env=cli_env(settings),
            stdout=out,
            stderr=out,
        )


def run_ingest_killed_at(
    settings,
    tmp_path: Path,
    function: str,
    file_suffix: str = INDEX_PY,
    nth: int = 1,
    cli_args: tuple[str, ...] = ("--quiet",),
) -> int:
    """Run the CLI ingest (`qa ingest *cli_args`) and SIGKILL it when the nth call of `function`
    starts; returns its exit code."""
    script = tmp_path / "kill_at.py"
    script.write_text(KILLER)
    result = subprocess.run(
        [sys.executable, str(script), function, file_suffix, str(nth), *cli_args],
        cwd=REPO,
        env=cli_env(settings),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == -signal.SIGKILL, (
        f"the ingest was not killed at call {nth} of {function}: rc={result.returncode}\n{result.stderr[-2000:]}"
    )
    return result.returncode


def _vector_files_stamp(settings) -> tuple:
    """Changes when a run first adds or deletes vectors: Chroma's per-collection HNSW segment files
    appear or are rewritten then (creating collections and reading do not touch them)."""
    root = settings.data_dir / "chroma"
    stamp = []
    for path in sorted(root.rglob("*")) if root.is_dir() else []:
        if path.name.startswith("chroma.sqlite3"):
            continue
        try:
            stat = path.stat()
        except FileNotFoundError:
            continue
        stamp.append((str(path.relative_to(root)), stat.st_mtime_ns, stat.st_size))
    return tuple(stamp)


def ingest_in_process(settings, embeddings, **kwargs):
    from ingest.pipeline import ingest_paths

    calls = []

    def factory():
        calls.append(1)
        return embeddings

    summary = ingest_paths(None, settings, embedder_factory=factory, progress=False, **kwargs)
    return summary, len(calls)


# ---------------------------------------------------------------- reading the store


def fingerprint_of(got: dict[str, list[dict]]) -> dict[str, object]:
    """What must equal a clean build: the id sets and each source's content hash."""
    return {
        "chunks": sorted(r["id"] for r in got["chunks"]),
        "sentences": sorted(r["id"] for r in got["sentences"]),
        "sources": {r["id"]: r["metadata"]["content_sha256"] for r in got["sources"]},
    }


def visible_state(data_dir: Path, corpus_dir: Path, scratch: Path) -> dict[str, tuple[int, int, int]] | None:
    """What a reader would load from a (crashed) store, read from a copy so the live directory is
    never opened by this process: per source (vouched chunks, n_chunks announced, vouched sentences).
    None when there is no index yet."""
    from rag.errors import IndexNotReadyError
    from rag.snapshot import load_snapshot

    if not (data_dir / "chroma").exists():
        return None
    shutil.copytree(data_dir, scratch)
    settings = make_settings(scratch, corpus_dir)
    from rag.storage import open_client
    from rag.store import IndexReader

    try:
        snapshot = load_snapshot(IndexReader(open_client(settings), settings.collection))
    except IndexNotReadyError:
        return None
    state = {}
    for sid, doc in snapshot.sources.items():
        chunks = sum(1 for c in snapshot.chunks if c.source_id == sid)
        sentences = len(snapshot.sentences_of_source(sid))
        state[sid] = (chunks, int(doc.metadata["n_chunks"]), sentences)
    return state


def assert_answers_with_exact_citation(settings, embeddings) -> None:
    from rag.factory import load_answerer

    answerer = load_answerer(settings, embeddings)
    answer = answerer.answer(QUESTION)
    assert not answer.abstained, answer.answer
    assert answer.citations
    texts = {sid: doc.text for sid, doc in answerer.snapshot.sources.items()}
    for citation in answer.citations:
        assert texts[citation.source_id][citation.start : citation.end] == citation.quote
    assert any("28,000" in c.quote and c.source_id == SEED_ID for c in answer.citations), answer.answer
    # the quote is also the exact span of the stored canonical text, not only of the snapshot
    stored = {r["id"]: r["document"] for r in all_rows(settings)["sources"]}
    for citation in answer.citations:
        assert stored[citation.source_id][citation.start : citation.end] == citation.quote


def copy_workspace(reference_settings, tmp_path: Path, name: str):
    shutil.copytree(reference_settings.corpus_dir, tmp_path / f"{name}-corpus")
    shutil.copytree(reference_settings.data_dir, tmp_path / f"{name}-data")
    return make_settings(tmp_path / f"{name}-data", tmp_path / f"{name}-corpus")


# ---------------------------------------------------------------- a clean build, measured


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """A clean build of the crash corpus by the real CLI: (settings, seconds a full run takes, rows)."""
    root = tmp_path_factory.mktemp("crash-reference")
    settings = make_settings(root / "data", make_crash_corpus(root / "corpus"))
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "rag.cli", "ingest", "--quiet"],
        cwd=REPO,
        env=cli_env(settings),
        capture_output=True,
        text=True,
        timeout=300,
    )
    seconds = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"ingest: {N_GENERATED + 1} added, 0 updated"), result.stdout
    return settings, seconds, assert_consistent(settings)


# ---------------------------------------------------------------- kill at random moments


def test_kill_9_at_moments_spread_over_a_run_then_repair(reference, embeddings, tmp_path) -> None:
    ref_settings, full_run, ref_rows = reference
    corpus = tmp_path / "corpus"
    shutil.copytree(ref_settings.corpus_dir, corpus)
    settings = make_settings(tmp_path / "data", corpus)
    log = tmp_path / "ingest.log"

    # Kill moments: right after start (imports); when a run first touches the vector files plus a
    # small offset (while it writes a file's rows, between two files); late in a run (the last
    # files, the sweep). Killed runs keep what they committed, so each run gets further.
    plan = [("delay", 0.5)] + [("after first write", o) for o in (0.0, 0.02, 0.3, 0.8)] + [("delay", 0.9 * full_run)]
    outcomes, states = [], []
    for number, (kind, seconds) in enumerate(plan):
        stamp_before = _vector_files_stamp(settings)
        process = start_ingest(settings, log)
        if kind == "delay":
            try:
                process.wait(timeout=seconds)
            except subprocess.TimeoutExpired:
                os.kill(process.pid, signal.SIGKILL)
        else:
            while process.poll() is None and _vector_files_stamp(settings) == stamp_before:
                time.sleep(0.002)
            if process.poll() is None:
                time.sleep(seconds)
                if process.poll() is None:
                    os.kill(process.pid, signal.SIGKILL)
        code = process.wait(timeout=120)
        outcomes.append(code)
        assert code in (0, -signal.SIGKILL), log.read_text()[-3000:]
        # What a reader sees right after the crash: documents are whole or absent, never partial.
        state = visible_state(settings.data_dir, corpus, tmp_path / f"after-kill-{number}")
        states.append(len(state or {}))
        for sid, (chunks, announced, sentences) in (state or {}).items():
            assert chunks == announced and sentences > 0, (
                f"after kill {number} ({kind} {seconds:.2f} s) {sid} is partial"
            )
        if code == 0:
            break  # this run finished the index: there is nothing left to interrupt
    print(f"full run {full_run:.1f} s; exit codes {outcomes}; documents readable after each run: {states}")
    assert outcomes.count(-signal.SIGKILL) >= 3, (
        f"too few runs were killed: {outcomes} (full run {full_run:.1f} s, documents after each: {states})"
    )

    summary, _ = ingest_in_process(settings, embeddings)
    assert summary.failed == []
    assert summary.sources_total == N_GENERATED + 1
    got = assert_consistent(settings)
    assert len(got["chunks"]) == len(ref_rows["chunks"])
    assert fingerprint_of(got) == fingerprint_of(ref_rows)

    again, calls = ingest_in_process(settings, embeddings)
    assert (again.unchanged, again.chunks_written, again.orphans_removed, calls) == (N_GENERATED + 1, 0, 0, 0)
    assert_answers_with_exact_citation(settings, embeddings)


# ---------------------------------------------------------------- kill at exact points


def test_kill_while_creating_the_collections_then_repair(tmp_path, embeddings) -> None:
    """Killed between creating the first and the second collection of a brand-new store."""
    from rag.errors import IndexNotReadyError
    from rag.snapshot import load_snapshot
    from rag.storage import open_client
    from rag.store import IndexReader

    settings = make_settings(tmp_path / "data", make_crash_corpus(tmp_path / "corpus", seed=False, n=2))
    run_ingest_killed_at(settings, tmp_path, "get_or_create_collection", CHROMA_CLIENT_PY, nth=2)
    # a reader is told clearly that there is no usable index (not a raw Chroma error)
    scratch = tmp_path / "scratch"
    shutil.copytree(settings.data_dir, scratch)
    copy = make_settings(scratch, settings.corpus_dir)
    from rag.embeddings import model_fingerprint, packaged_model_path

    with pytest.raises(IndexNotReadyError):
        load_snapshot(IndexReader(open_client(copy), copy.collection), model_fingerprint(packaged_model_path()))

    summary, _ = ingest_in_process(settings, embeddings)
    assert summary.rebuilt_because, "the half-created store is rebuilt, not trusted"
    assert summary.added == 2 and summary.failed == []
    got = assert_consistent(settings)
    assert {r["id"] for r in got["sources"]} == {"gen_00", "gen_01"}


def test_half_created_store_is_not_ready_for_a_plain_reader(tmp_path) -> None:
    from rag.errors import IndexNotReadyError
    from rag.snapshot import load_snapshot
    from rag.storage import open_client
    from rag.store import IndexReader

    settings = make_settings(tmp_path / "data", make_crash_corpus(tmp_path / "corpus", seed=False, n=1))
    run_ingest_killed_at(settings, tmp_path, "get_or_create_collection", CHROMA_CLIENT_PY, nth=2)
    with pytest.raises(IndexNotReadyError):
        load_snapshot(IndexReader(open_client(settings), settings.collection))


@pytest.fixture(scope="module")
def killed_update(reference, tmp_path_factory):
    """One file edited, then the CLI ingest killed right after it deleted that file's old rows and
    before it wrote the new ones (the first call of IndexStore._add). Returns the crashed workspace
    and what was indexed before."""
    ref_settings, _, ref_rows = reference
    root = tmp_path_factory.mktemp("killed-update")
    settings = copy_workspace(ref_settings, root, "work")
    edited = settings.corpus_dir / "gen_02.txt"
    original = edited.read_text(encoding="utf-8")
    new_text = original.replace(" and the ", " and later the ", 1) + "\nA closing remark was added in 2025.\n"
    assert new_text != original
    edited.write_text(new_text, encoding="utf-8")
    run_ingest_killed_at(settings, root, "_add", INDEX_PY, nth=1)
    crashed = root / "crashed-data"
    shutil.copytree(settings.data_dir, crashed)  # pristine copy of the crashed store, for the next tests
    return settings, crashed, original, ref_rows


def _crashed_copy(killed_update, tmp_path: Path):
    settings, crashed, _, _ = killed_update
    shutil.copytree(settings.corpus_dir, tmp_path / "corpus")
    shutil.copytree(crashed, tmp_path / "data")
    return make_settings(tmp_path / "data", tmp_path / "corpus")


def test_kill_during_an_update_then_repair(killed_update, embeddings, tmp_path) -> None:
    from ingest.pipeline import prepare_document

    _, _, _, ref_rows = killed_update
    settings = _crashed_copy(killed_update, tmp_path)
    summary, calls = ingest_in_process(settings, embeddings)
    assert summary.failed == [] and summary.updated == 1 and summary.unchanged == N_GENERATED and calls == 1
    got = assert_consistent(settings)

    ref_ids = {r["metadata"]["source_id"]: set() for r in ref_rows["chunks"]}
    for r in ref_rows["chunks"]:
        ref_ids[r["metadata"]["source_id"]].add(r["metadata"]["chunk_id"])
    ids: dict[str, set[str]] = {}
    for r in got["chunks"]:
        ids.setdefault(r["metadata"]["source_id"], set()).add(r["metadata"]["chunk_id"])
    # the edited file has exactly the chunks a clean build of its new text has
    document = prepare_document(
        settings.corpus_dir / "gen_02.txt", settings.corpus_dir, settings, embeddings.token_counter()
    )
    assert ids["gen_02"] == {c.chunk_id for c in document.chunked.chunks}
    assert "A closing remark was added in 2025." in document.text
    assert ids["gen_02"] != ref_ids["gen_02"]
    # and nothing else moved
    assert {sid: v for sid, v in ids.items() if sid != "gen_02"} == {
        sid: v for sid, v in ref_ids.items() if sid != "gen_02"
    }
    assert_answers_with_exact_citation(settings, embeddings)


def test_kill_during_an_update_keeps_serving_the_old_version(killed_update, tmp_path) -> None:
    _, crashed, _, ref_rows = killed_update
    state = visible_state(crashed, tmp_path / "corpus", tmp_path / "scratch")
    assert state is not None and "gen_02" in state
    old_chunks = sum(1 for r in ref_rows["chunks"] if r["metadata"]["source_id"] == "gen_02")
    assert state["gen_02"][0] == old_chunks, f"gen_02 has {state['gen_02'][0]} of its {old_chunks} chunks"


def test_reverting_the_file_after_a_killed_update_restores_it(killed_update, embeddings, tmp_path) -> None:
    _, _, original, ref_rows = killed_update
    settings = _crashed_copy(killed_update, tmp_path)
    (settings.corpus_dir / "gen_02.txt").write_text(original, encoding="utf-8")
    ingest_in_process(settings, embeddings)
    got = assert_consistent(settings)
    assert fingerprint_of(got) == fingerprint_of(ref_rows)


def test_two_modifications_a_kill_and_a_deletion_converge_to_a_clean_build(reference, embeddings, tmp_path) -> None:
    ref_settings, _, _ = reference
    settings = copy_workspace(ref_settings, tmp_path, "work")
    for number in (3, 4):
        (settings.corpus_dir / f"gen_{number:02d}.txt").write_text(
            generated_text(number, paragraphs=5, salt="modified"), encoding="utf-8"
        )
    # killed while writing the second modified file: the first one is done (chunks and sentences:
    # two _add calls), the second has its old rows deleted and its new chunks, not yet its sentences
    # or its source record
    run_ingest_killed_at(settings, tmp_path, "_add", INDEX_PY, nth=4)
    (settings.corpus_dir / "gen_05.txt").unlink()
    summary, _ = ingest_in_process(settings, embeddings)
    assert summary.failed == [] and summary.removed == 1
    assert summary.updated == 1, "one modification was committed before the kill, the other is finished now"
    got = assert_consistent(settings)

    clean = make_settings(tmp_path / "clean-data", settings.corpus_dir)
    clean_summary, _ = ingest_in_process(clean, embeddings)
    assert clean_summary.added == N_GENERATED and clean_summary.failed == []
    clean_rows = assert_consistent(clean)
    assert len(got["chunks"]) == len(clean_rows["chunks"])
    assert fingerprint_of(got) == fingerprint_of(clean_rows)
    assert "gen_05" not in fingerprint_of(got)["sources"]
