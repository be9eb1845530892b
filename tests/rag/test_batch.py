"""`qa batch`: CSV/JSONL in and out, malformed rows, resuming after deletions, torn rows and
kill -9, and the --api mode against a real server. Real model, real index, real subprocesses."""

from __future__ import annotations

import csv
import fcntl
import io
import json
import os
import pty
import signal
import struct
import subprocess
import sys
import termios
import time

import pytest

from evals.dataset import load_items
from rag.cli.batch import local_asker, run_batch
from rag.cli.batch_files import read_questions
from tests.servers import TEST_API_KEY  # the server fixtures come from tests/conftest.py

pytestmark = pytest.mark.integration

QUESTIONS = [
    ("troops", "How many American troops are stationed in South Korea?"),
    ("eu", "When did Finland become a member of the European Union?"),
    ("finland", "What does Finlandization refer to?"),
    ("patriots", "How many Patriot systems has Ukraine received so far?"),
]


def run_cli(args, settings, timeout=300, **env):
    environment = {
        **os.environ,
        "QA_DATA_DIR": str(settings.data_dir),
        "QA_CORPUS_DIR": str(settings.corpus_dir),
        "HF_HUB_OFFLINE": "1",
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "rag.cli", "batch", *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def write_csv(path, header, rows):
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_jsonl(path, objects):
    path.write_text("".join((o if isinstance(o, str) else json.dumps(o)) + "\n" for o in objects), encoding="utf-8")
    return path


def read_out(path):
    if path.suffix == ".csv":
        with path.open(encoding="utf-8", newline="") as handle:
            return list(csv.DictReader(handle))
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def batch(rows_path, out, answerer, settings, stderr=None, asked=None):
    """run_batch in-process; `asked` collects the questions that actually reached the answerer."""
    ask = local_asker(answerer)

    def counting(question, history):
        if asked is not None:
            asked.append(question)
        return ask(question, history)

    return run_batch(read_questions(rows_path), out, counting, settings, progress=False, stderr=stderr or io.StringIO())


def assert_exact_spans(citations, answerer):
    assert citations
    for c in citations:
        assert answerer.snapshot.sources[c["source_id"]].text[c["start"] : c["end"]] == c["quote"]


def test_the_progress_bar_is_drawn_on_a_terminal_only(tmp_path, corpus_settings, answerer):
    """On a terminal (a pseudo-terminal here) the bar is drawn; with --quiet it is not."""
    source = write_csv(tmp_path / "in.csv", ["id", "question"], [[i, q] for i, q in QUESTIONS[:1]])
    drawn = {}
    for flags in ((), ("--quiet",)):
        controller, terminal = pty.openpty()
        # A terminal has a size (a fresh pseudo-terminal has none, and tqdm draws nothing in 0 columns).
        fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
        try:
            out = tmp_path / f"out{len(flags)}.jsonl"
            with subprocess.Popen(
                [sys.executable, "-m", "rag.cli", "batch", str(source), "--out", str(out), *flags],
                env={**os.environ, "QA_DATA_DIR": str(corpus_settings.data_dir), "HF_HUB_OFFLINE": "1"},
                stdout=subprocess.DEVNULL,
                stderr=terminal,
            ) as process:
                os.close(terminal)
                seen = b""
                while chunk := _read_terminal(controller):
                    seen += chunk
                assert process.wait(timeout=300) == 0, seen
        finally:
            os.close(controller)
        drawn[flags] = seen.decode("utf-8", "replace")
    assert "100%" in drawn[()]
    assert "100%" not in drawn[("--quiet",)]


def _read_terminal(controller: int) -> bytes:
    try:
        return os.read(controller, 4096)
    except OSError:  # the other end closed: Linux reports EIO
        return b""


def test_cli_answers_a_csv_into_jsonl_with_carried_columns(tmp_path, corpus_settings, answerer):
    source = write_csv(
        tmp_path / "in.csv",
        ["id", "question", "expected", "answer"],
        [[i, q, f"e-{i}", "mine"] for i, q in QUESTIONS] + [["", "What is the Israel model?", "", ""]],
    )
    out = tmp_path / "out.jsonl"
    result = run_cli([str(source), "--out", str(out)], corpus_settings)
    assert result.returncode == 0, result.stderr
    assert "batch: 4 answered, 1 abstained, 0 failed, 0 skipped (already answered);" in result.stdout
    assert "100%" not in result.stderr  # no progress bar into a pipe (stderr is not a terminal)
    rows = read_out(out)
    assert [r["id"] for r in rows] == ["troops", "eu", "finland", "patriots", "line-6"]
    by_id = {r["id"]: r for r in rows}
    assert "28,000" in by_id["troops"]["answer"] and "1995" in by_id["eu"]["answer"]
    assert by_id["patriots"]["abstained"] is True and by_id["patriots"]["citations"] == []
    for row in rows:
        assert row["error"] == ""
        assert row["expected"] == ("" if row["id"] == "line-6" else f"e-{row['id']}")
        assert row["input_answer"] in ("mine", "")  # an input column named like an output field is kept apart
        if not row["abstained"]:
            assert_exact_spans(row["citations"], answerer)


def test_jsonl_into_csv_keeps_history_and_json_citations(tmp_path, corpus_settings, answerer):
    history = [
        {"role": "user", "content": "Tell me about the South Korean model."},
        {"role": "assistant", "content": "It is one of the models discussed."},
    ]
    source = write_jsonl(
        tmp_path / "in.jsonl",
        [
            {"id": "k1", "question": QUESTIONS[0][1], "topic": "korea"},
            {"id": 2, "question": "How many US troops are there?", "history": history},
        ],
    )
    out = tmp_path / "out.csv"
    summary = batch(source, out, answerer, corpus_settings)
    assert (summary.answered, summary.failed) == (2, 0)
    rows = read_out(out)
    assert list(rows[0])[:6] == ["id", "question", "answer", "abstained", "citations", "error"]
    assert [(r["id"], r["abstained"], r["error"]) for r in rows] == [("k1", "false", ""), ("2", "false", "")]
    assert rows[0]["topic"] == "korea" and json.loads(rows[1]["history"]) == history
    for row in rows:
        assert "28,000" in row["answer"]
        assert_exact_spans(json.loads(row["citations"]), answerer)


def test_malformed_rows_are_reported_by_line_and_the_rest_answered(tmp_path, corpus_settings, answerer):
    source = write_jsonl(
        tmp_path / "in.jsonl",
        [
            {"id": "good-1", "question": QUESTIONS[0][1]},
            "{not json",
            "[1, 2]",
            {"id": "no-question"},
            {"id": "empty", "question": "   "},
            {"id": "number", "question": 42},
            {"id": "long", "question": "x" * (corpus_settings.max_question_chars + 1)},
            {"id": "bad-history", "question": "Why?", "history": [{"role": "king", "content": "hi"}]},
            {"id": "good-1", "question": "a second row with the same id"},
            {"id": "good-2", "question": QUESTIONS[1][1]},
        ],
    )
    stderr = io.StringIO()
    out = tmp_path / "out.jsonl"
    summary = batch(source, out, answerer, corpus_settings, stderr=stderr)
    assert (summary.answered, summary.failed) == (2, 8)
    report = stderr.getvalue()
    for expected in [
        "line 2: not valid JSON",
        "line 3: must be a JSON object, got list",
        "line 4: question is missing",
        "line 5: question is empty",
        "line 6: question must be a string, got int",
        "line 7: question is 2001 characters long",
        "line 8: history[0] must be",
        "line 9: duplicate id 'good-1' (first on line 1)",
    ]:
        assert expected in report
    rows = read_out(out)
    assert len(rows) == 10
    errors = {r["id"]: r["error"] for r in rows}
    assert errors["line-2"].startswith("not valid JSON") and errors["empty"] == "question is empty"
    assert errors["good-2"] == "" and next(r["error"] for r in rows if r["id"] == "good-1") == ""
    assert next(r for r in rows if r["id"] == "number")["question"] == 42  # kept as given

    # CSV: a row with too many fields, an empty question.
    source = write_csv(tmp_path / "in.csv", ["question", "note"], [[QUESTIONS[1][1], "n"], ["", "n"], ["q", "n", "x"]])
    stderr = io.StringIO()
    batch(source, tmp_path / "out.csv", answerer, corpus_settings, stderr=stderr)
    assert "line 3: question is empty" in stderr.getvalue()
    assert "line 4: has 3 fields, the header has 2" in stderr.getvalue()
    assert [(r["id"], bool(r["error"])) for r in read_out(tmp_path / "out.csv")] == [
        ("line-2", False),
        ("line-3", True),
        ("line-4", True),
    ]


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_rerun_answers_only_missing_rows_and_drops_a_torn_last_row(tmp_path, corpus_settings, answerer, suffix):
    source = write_jsonl(
        tmp_path / "in.jsonl", [{"id": i, "question": q} for i, q in QUESTIONS] + [{"id": "bad", "question": ""}]
    )
    out = tmp_path / f"out{suffix}"
    first = batch(source, out, answerer, corpus_settings)
    assert (first.answered, first.abstained, first.failed) == (3, 1, 1)
    complete = out.read_text(encoding="utf-8")

    # Delete the rows of "eu" and "patriots", and leave half a row at the end, as a kill mid-write does.
    kept = [r for r in read_out(out) if r["id"] not in ("eu", "patriots")]
    if suffix == ".csv":
        with out.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, list(kept[0]), lineterminator="\n")
            writer.writeheader()
            writer.writerows(kept)
        torn = f'eu,{QUESTIONS[1][1]},"The Cold War ended,\n'  # cut after a line break inside a quoted cell
    else:
        out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in kept), encoding="utf-8")
        torn = json.dumps({"id": "eu", "question": QUESTIONS[1][1], "answer": "The Cold War"})[:40]
    with out.open("a", encoding="utf-8") as handle:
        handle.write(torn)

    asked, stderr = [], io.StringIO()
    second = batch(source, out, answerer, corpus_settings, stderr=stderr, asked=asked)
    assert asked == [QUESTIONS[1][1], QUESTIONS[3][1]]  # the bad row is recorded again, never asked
    assert (second.skipped, second.answered, second.abstained, second.failed) == (2, 1, 1, 1)
    assert "dropped an incomplete last row" in stderr.getvalue()
    rows = read_out(out)
    assert [r["id"] for r in rows] == ["troops", "eu", "finland", "patriots", "bad"]  # input order, once each
    assert out.read_text(encoding="utf-8") == complete

    asked = []
    third = batch(source, out, answerer, corpus_settings, asked=asked)
    assert asked == [] and third.skipped == 4 and third.failed == 1
    assert out.read_text(encoding="utf-8") == complete


def test_kill_9_mid_batch_then_resume_keeps_every_row_exactly_once(tmp_path, corpus_settings, answerer):
    from evals.dataset import DEFAULT_PATH

    questions = [item.question for item in load_items(DEFAULT_PATH)]
    questions += [item.question for item in load_items(DEFAULT_PATH.with_name("ukraine-article-validate.jsonl"))]
    questions = list(dict.fromkeys(questions))[:60]
    assert len(questions) == 60
    source = write_jsonl(tmp_path / "in.jsonl", [{"id": f"r{i:02d}", "question": q} for i, q in enumerate(questions)])
    out = tmp_path / "out.jsonl"
    env = {**os.environ, "QA_DATA_DIR": str(corpus_settings.data_dir), "HF_HUB_OFFLINE": "1"}
    with (tmp_path / "stderr").open("w") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "rag.cli", "batch", str(source), "--out", str(out)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
        try:
            deadline = time.monotonic() + 240
            while not (out.exists() and out.read_bytes().count(b"\n") >= 3):
                assert process.poll() is None, (tmp_path / "stderr").read_text()
                assert time.monotonic() < deadline, "the batch wrote nothing"
                time.sleep(0.005)
            process.send_signal(signal.SIGKILL)
        finally:
            process.kill()
            process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    written = out.read_bytes().count(b"\n")
    assert 3 <= written < 60, "the batch was not killed midway"

    asked = []
    summary = batch(source, out, answerer, corpus_settings, asked=asked)
    assert summary.skipped == written and len(asked) == 60 - written
    rows = read_out(out)
    assert [r["id"] for r in rows] == [f"r{i:02d}" for i in range(60)]
    assert all(r["error"] == "" for r in rows)


def test_api_mode_gives_the_same_rows_as_in_process(tmp_path, live_server, api_answerer):
    source = write_jsonl(
        tmp_path / "in.jsonl",
        [{"id": i, "question": q} for i, q in QUESTIONS]
        + [{"id": "winter", "question": "When did the Winter War begin?"}, {"id": "bad", "question": ""}],
    )
    local = tmp_path / "local.jsonl"
    batch(source, local, api_answerer, live_server.settings)
    remote = tmp_path / "remote.jsonl"
    result = run_cli(
        [str(source), "--out", str(remote), "--api", live_server.base_url, "--quiet"], live_server.settings, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "line 6: question is empty" in result.stderr
    assert read_out(remote) == read_out(local)
    assert any(not r["abstained"] and r["citations"] for r in read_out(remote) if r["id"] != "bad")


def test_api_http_errors_are_recorded_per_row_and_the_key_never_printed(tmp_path, live_server_with_key):
    source = write_jsonl(tmp_path / "in.jsonl", [{"id": i, "question": q} for i, q in QUESTIONS[:2]])
    out = tmp_path / "out.csv"
    wrong = "wrong-key-do-not-print-0123"
    result = run_cli(
        [str(source), "--out", str(out), "--api", live_server_with_key.base_url, "--api-key", wrong],
        live_server_with_key.settings,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "0 answered, 0 abstained, 2 failed" in result.stdout
    assert "line 1: HTTP 401" in result.stderr and "line 2: HTTP 401" in result.stderr
    assert wrong not in result.stdout + result.stderr + out.read_text(encoding="utf-8")
    assert all(r["error"].startswith("HTTP 401") for r in read_out(out))

    # Re-run with the key from QA_API_KEY: the failed rows are retried and answered, each once.
    result = run_cli(
        [str(source), "--out", str(out), "--api", live_server_with_key.base_url, "--quiet"],
        live_server_with_key.settings,
        timeout=120,
        QA_API_KEY=TEST_API_KEY,
    )
    assert result.returncode == 0, result.stderr
    assert "2 answered, 0 abstained, 0 failed, 0 skipped" in result.stdout
    assert TEST_API_KEY not in result.stdout + result.stderr
    assert [(r["id"], r["error"]) for r in read_out(out)] == [("troops", ""), ("eu", "")]


def test_unreachable_api_is_a_clear_error(tmp_path, corpus_settings):
    from tests.servers import free_port

    source = write_jsonl(tmp_path / "in.jsonl", [{"question": QUESTIONS[0][1]}])
    result = run_cli(
        [
            str(source),
            "--out",
            str(tmp_path / "out.jsonl"),
            "--api",
            f"http://127.0.0.1:{free_port()}",
            "--api-key",
            "secret-key-123",
        ],
        corpus_settings,
        timeout=60,
    )
    assert result.returncode == 1
    assert "cannot reach the API at http://127.0.0.1:" in result.stderr
    assert "Traceback" not in result.stderr and "secret-key-123" not in result.stderr


@pytest.mark.parametrize(
    "name, content, args, message",
    [
        (
            "latin1.csv",
            "question\nQu'est-ce que la finlandisation, café ?\n".encode("latin-1"),
            [],
            "is not UTF-8 text (byte 0xe9 on line 2)",
        ),
        ("in.csv", b"query,topic\nWhy?,x\n", [], "has no `question` column"),
        ("in.txt", b"question\nWhy?\n", [], "INPUT must end in .csv or .jsonl"),
        ("in.csv", b"question\nWhy?\n", ["--top-k", "0"], "top_k must be"),
    ],
)
def test_bad_input_files_exit_2_with_a_message_not_a_traceback(tmp_path, corpus_settings, name, content, args, message):
    source = tmp_path / name
    source.write_bytes(content)
    out = tmp_path / "out.jsonl"
    result = run_cli([str(source), "--out", str(out), *args], corpus_settings, timeout=60)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert not out.exists()


def test_missing_input_and_bad_output_suffix_exit_2(tmp_path, corpus_settings):
    result = run_cli([str(tmp_path / "nope.csv"), "--out", str(tmp_path / "out.jsonl")], corpus_settings, timeout=60)
    assert result.returncode == 2 and "does not exist" in result.stderr
    source = write_jsonl(tmp_path / "in.jsonl", [{"question": "Why?"}])
    result = run_cli([str(source), "--out", str(tmp_path / "out.xlsx")], corpus_settings, timeout=60)
    assert result.returncode == 2 and "OUTPUT must end in .csv or .jsonl" in result.stderr
