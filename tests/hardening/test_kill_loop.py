"""kill -9 twenty times in a row: the real CLI ingest, killed at a random moment of its run (a
seeded generator spreads the moments from start-up to the end), with the corpus changing between
runs (a file rewritten, one added, one deleted) and every fourth run a `--rebuild`. After each
kill a reader sees every document whole or not at all; at the end one ingest repairs the store,
which then equals a clean ingest of the final corpus: the same chunk, sentence and source ids.

Too long for `make test` (twenty model loads); `make hardening` runs it. `make test` keeps the
short version (tests/ingest/test_crash.py)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import REPO, make_settings
from tests.ingest.test_crash import (
    cli_env,
    fingerprint_of,
    generated_text,
    ingest_in_process,
    make_crash_corpus,
    visible_state,
)
from tests.store_checks import assert_consistent

pytestmark = pytest.mark.integration

KILLS = 20


def start(settings, log, rebuild: bool) -> subprocess.Popen:
    command = [sys.executable, "-m", "rag.cli", "ingest", "--quiet"] + (["--rebuild"] if rebuild else [])
    with log.open("ab") as out:
        return subprocess.Popen(command, cwd=REPO, env=cli_env(settings), stdout=out, stderr=out)


def change_corpus(corpus, rng: random.Random, round_number: int) -> None:
    """Every round has something to embed (so every run loads the model and writes): a file
    added, or one rewritten, and in every third round one deleted besides."""
    files = sorted(corpus.glob("gen_*.txt"))
    if round_number % 3 == 2 and len(files) > 3:
        files.pop(rng.randrange(len(files))).unlink()
    target = corpus / f"gen_{rng.randint(0, 40):02d}.txt" if round_number % 2 == 0 else rng.choice(files)
    target.write_text(generated_text(rng.randint(0, 99), salt=f"round{round_number}"), encoding="utf-8")


def test_twenty_kills_in_a_row_then_one_repair_equals_a_clean_build(tmp_path, embeddings):
    rng = random.Random(20261130)
    corpus = make_crash_corpus(tmp_path / "corpus")
    settings = make_settings(tmp_path / "data", corpus)
    log = tmp_path / "ingest.log"
    started = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "rag.cli", "ingest", "--quiet"], cwd=REPO, env=cli_env(settings), check=True, timeout=600
    )
    full_run = time.monotonic() - started
    change_corpus(corpus, rng, 1)  # one file rewritten: how long a run with a small change takes
    started = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "rag.cli", "ingest", "--quiet"], cwd=REPO, env=cli_env(settings), check=True, timeout=600
    )
    small_run = time.monotonic() - started
    outcomes: list[int] = []
    partial = 0
    for number in range(KILLS):
        change_corpus(corpus, rng, number)
        rebuild = number % 4 == 3
        process = start(settings, log, rebuild)
        delay = rng.uniform(0.05, 0.95) * (full_run if rebuild else small_run)
        try:
            process.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
        code = process.wait(timeout=120)
        outcomes.append(code)
        assert code in (0, -signal.SIGKILL), log.read_text()[-3000:]
        state = visible_state(settings.data_dir, corpus, tmp_path / f"after-{number}") or {}
        partial += sum(1 for chunks, announced, sentences in state.values() if chunks != announced or not sentences)
    killed = outcomes.count(-signal.SIGKILL)
    print(
        f"\nruns: full {full_run:.1f} s, small change {small_run:.1f} s; {killed} of {KILLS} killed; partial: {partial}"
    )
    assert killed >= KILLS * 3 // 4, outcomes
    assert partial == 0

    repair, _ = ingest_in_process(settings, embeddings)
    assert repair.failed == []
    repaired = fingerprint_of(assert_consistent(settings))
    clean = make_settings(tmp_path / "clean-data", corpus)
    ingest_in_process(clean, embeddings)
    assert repaired == fingerprint_of(assert_consistent(clean))
    print(f"after the repair: {len(repaired['chunks'])} chunks, equal to a clean build")
