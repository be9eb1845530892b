"""`qa ask` and `qa chat` as a user runs them: real subprocesses on a real index."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration


def run_qa(args, settings, stdin=None, timeout=180):
    env = {
        **os.environ,
        "QA_DATA_DIR": str(settings.data_dir),
        "QA_CORPUS_DIR": str(settings.corpus_dir),
        "HF_HUB_OFFLINE": "1",
    }
    return subprocess.run(
        [sys.executable, "-m", "rag.cli", *args], env=env, input=stdin, capture_output=True, text=True, timeout=timeout
    )


def test_ask_json_prints_one_object_with_verified_citations(corpus_settings, answerer):
    result = run_qa(["ask", "--json", "When did Finland become an EU member state?"], corpus_settings)
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert result.stderr == "", result.stderr  # no library progress bars ("Loading weights: ...")
    # short_answer only when the best quote names Finland itself and holds one date.
    assert {"answer", "abstained", "citations", "timings_ms"} <= set(payload)
    assert set(payload) <= {"answer", "abstained", "citations", "timings_ms", "short_answer"}
    assert payload["abstained"] is False and "1995" in payload["answer"]
    for citation in payload["citations"]:
        assert {"n", "source_id", "title", "section", "quote", "start", "end"} <= set(citation)
        text = answerer.snapshot.sources[citation["source_id"]].text
        assert text[citation["start"] : citation["end"]] == citation["quote"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["ask", ""], "question is empty"),
        (["ask", "x" * 3000], "limit is"),
        (["ask", "--top-k", "0", "Why?"], "top_k must be"),
        (["ask", "--top-k", "many", "Why?"], "invalid int value"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_arguments_exit_non_zero_with_a_message_not_a_traceback(corpus_settings, args, message):
    result = run_qa(args, corpus_settings, timeout=60)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_ask_without_an_index_says_to_ingest(tmp_path, corpus_settings):
    empty = corpus_settings.model_copy(update={"data_dir": tmp_path / "nothing-here"})
    result = run_qa(["ask", "What is Finlandization?"], empty)
    assert result.returncode == 1
    assert "qa ingest" in result.stderr
    assert "Traceback" not in result.stderr


def test_chat_keeps_the_conversation_for_follow_ups(corpus_settings):
    result = run_qa(
        ["chat"],
        corpus_settings,
        stdin="What is the South Korean model?\n/sources\nHow many US troops are there?\n/new\n/sources\n/quit\n",
    )
    assert result.returncode == 0, result.stderr
    # The greeting names what is loaded, not a subject written into the code.
    assert result.stdout.splitlines()[0].split(" documents: ")[0].isdigit()
    replies = result.stdout.split("assistant> ")[1:]
    assert len(replies) == 2
    assert "28,000" in replies[1]
    assert "A South Korean model" in replies[1]
    # /sources shows the last answer's quotes with offsets; after /new there are none.
    first_sources = replies[0].split("you> ")[1]
    assert "chars " in first_sources and "“" in first_sources
    assert "(a new conversation)" in replies[1] and replies[1].rstrip().endswith("you>")
    assert "(no sources yet)" in replies[1]


@pytest.mark.parametrize(
    ("variable", "value", "said"),
    [("QA_DATA_DIR", "FILE", "QA_DATA_DIR must be a folder"), ("QA_TOP_K", "abc", "QA_TOP_K: Input should be")],
)
def test_a_bad_setting_is_one_line_naming_its_variable(tmp_path, variable, value, said):
    import os
    import sys

    from tests.conftest import REPO

    a_file = tmp_path / "not-a-folder"
    a_file.write_text("x")
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    env.update(HF_HUB_OFFLINE="1", PYTHONPATH=str(REPO), **{variable: str(a_file) if value == "FILE" else value})
    done = subprocess.run(
        [sys.executable, "-m", "rag.cli", "ask", "When did Finland join NATO?"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.startswith("qa: bad settings: ") and said in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_ask_leads_with_the_short_answer_and_lists_sources_once(corpus_settings):
    question = "How many American troops are stationed in South Korea?"
    as_json = run_qa(["ask", "--json", question], corpus_settings)
    assert as_json.returncode == 0, as_json.stderr
    payload = json.loads(as_json.stdout)
    short = payload["short_answer"]
    assert short is not None and re.search(r"\d", short["text"])
    quote = payload["citations"][short["n"] - 1]["quote"]
    assert short["text"] in quote
    plain = run_qa(["ask", question], corpus_settings)
    assert plain.returncode == 0, plain.stderr
    lines = plain.stdout.splitlines()
    assert lines[0] == f"Answer: {short['text']} [{short['n']}]"
    sources = lines[lines.index("Sources:") + 1 :]
    assert sources and all(line.startswith("  [") for line in sources)
    # Each source once, by title and section; the quote is in the answer already.
    assert not any(short["text"] in line or "chars" in line for line in sources)
    verbose = run_qa(["ask", "--verbose", question], corpus_settings)
    assert verbose.returncode == 0, verbose.stderr
    listed = verbose.stdout.split("Sources:")[1]
    assert "chars " in listed and " ".join(quote.split()) in " ".join(listed.split())


def test_ask_can_ask_a_running_server_instead_of_loading_the_model(live_server):
    question = "How many American troops are stationed in South Korea?"
    asked = run_qa(["ask", "--api", live_server.base_url, question], live_server.settings, timeout=60)
    assert asked.returncode == 0, asked.stderr
    assert asked.stdout.startswith("Answer: ") and re.search(r"\b28,[05]00\b", asked.stdout)
    as_json = run_qa(["ask", "--json", "--api", live_server.base_url, question], live_server.settings, timeout=60)
    payload = json.loads(as_json.stdout)
    assert payload["abstained"] is False and payload["citations"][0]["quote"] in payload["answer"]
    # The server's refusal is the command's one-line error; nothing listening is a clear error too.
    refused = run_qa(["ask", "--api", live_server.base_url, "--section", "zzz", question], live_server.settings)
    assert refused.returncode == 2 and "no section 'zzz'" in refused.stderr and "Traceback" not in refused.stderr
    nobody = run_qa(["ask", "--api", "http://127.0.0.1:9", question], live_server.settings)
    assert nobody.returncode == 1 and "cannot reach the API" in nobody.stderr and "Traceback" not in nobody.stderr


def test_a_short_list_names_each_citation_once_after_its_run_of_items():
    from rag.answer import Answer
    from rag.cli.ask import format_answer
    from rag.short_answer import ShortAnswer

    items = [
        ShortAnswer(text=t, n=n, start=s, end=s + len(t))
        for t, n, s in (("Canada", 1, 0), ("Japan", 1, 8), ("Chile", 2, 0))
    ]
    answer = Answer(answer="Canada and Japan. [1]\n\nChile. [2]", abstained=False, short_list=items)
    assert format_answer(answer).splitlines()[0] == "Answer: Canada, Japan [1], Chile [2]"


def test_sources_lists_each_document_with_its_sections_as_the_index_holds_them(corpus_settings, answerer):
    """`qa sources` and `qa sources --json` against what the answerer loaded from the same index."""
    indexed = answerer.snapshot.sources
    result = run_qa(["sources"], corpus_settings, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"{len(indexed)} documents, ")
    for source_id, source in indexed.items():
        header = next(line for line in lines if line.startswith(f"{source_id}  ("))
        assert f"{source.metadata['n_chunks']} chunks" in header
        listed = lines[lines.index(header) + 2 :]
        listed = listed[: listed.index("")] if "" in listed else listed
        assert [line.removeprefix("  - ") for line in listed] == [s for s in source.sections if s != source.title]
    as_json = run_qa(["sources", "--json"], corpus_settings, timeout=60)
    rows = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert {row["source_id"]: row["sections"] for row in rows} == {sid: s.sections for sid, s in indexed.items()}
    assert all(row["title"] == indexed[row["source_id"]].title for row in rows)


def test_sources_without_an_index_says_to_ingest(tmp_path, corpus_settings):
    empty = corpus_settings.model_copy(update={"data_dir": tmp_path / "nothing-here"})
    result = run_qa(["sources"], empty, timeout=60)
    assert result.returncode == 1
    assert "qa ingest" in result.stderr and "Traceback" not in result.stderr


def test_a_reader_that_leaves_early_is_not_an_error(corpus_settings, answerer):
    """`qa ask ... | head -1`: the pipe closes before qa writes; no traceback, the shell's 141."""
    env = {**os.environ, "QA_DATA_DIR": str(corpus_settings.data_dir), "HF_HUB_OFFLINE": "1"}
    for args in (["sources"], ["ask", "--verbose", "What is Finlandization?"]):
        process = subprocess.Popen(
            [sys.executable, "-m", "rag.cli", *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        assert process.stdout is not None and process.stderr is not None
        process.stdout.close()  # the reader is gone before a byte is written
        errors = process.stderr.read().decode()
        assert process.wait(timeout=180) == 141, errors
        assert "Traceback" not in errors and "BrokenPipe" not in errors


def test_qa_ask_answers_without_importing_torch_and_the_same_as_with_it(corpus_settings, answerer):
    """With the ONNX export in place, spaCy runs without torch in a process that only answers."""
    from rag.onnx_encoder import prepare_export

    assert prepare_export(corpus_settings.data_dir, None) is not None  # what `qa ingest` leaves
    question = "How many American troops are stationed in South Korea?"
    probe = (
        "import sys\nfrom rag.cli.main import main\ncode = main(['ask', '--json', sys.argv[1]])\n"
        "print('torch loaded:', sys.modules.get('torch') is not None, file=sys.stderr)\nsys.exit(code)\n"
    )
    env = {**os.environ, "QA_DATA_DIR": str(corpus_settings.data_dir), "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(
        [sys.executable, "-c", probe, question], env=env, capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 0, result.stderr
    assert "torch loaded: False" in result.stderr
    expected = answerer.answer(question)  # this process has torch (the fixtures ingest with it)
    got = json.loads(result.stdout)
    assert (got["answer"], got["abstained"]) == (expected.answer, expected.abstained)
