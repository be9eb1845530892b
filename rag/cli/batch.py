"""`qa batch INPUT --out OUTPUT`: answers for a whole file of questions, for people who just need
the answers (no scoring; that is `qa eval`).

INPUT is CSV (a `question` column, optional `id`, other columns carried through) or JSONL
(`question`, optional `id` and `history`). OUTPUT (.jsonl or .csv) gets one row per question:
id, question, answer, abstained, citations, error, then the carried columns. A malformed row is
reported by line number and recorded with its error; it never stops the batch. Rows are appended
as they are answered, so an interrupted run is resumed by running the same command again: rows
already answered without error are skipped.

Answers come from the answerer in this process, or with `--api URL` from a running `qa serve`.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from rag.cli.batch_files import AnswerFile, InputRow, file_format, read_questions
from rag.errors import InputError, QAError
from rag.request import check_history, check_question, check_top_k
from rag.settings import Settings

if TYPE_CHECKING:
    import httpx

    from rag.chain import Answerer

# One row's answer: (answer, abstained, citations as dicts). Raises RowError or QAError for that row.
AskRow = Callable[[str, list[dict[str, str]] | None], tuple[str, bool, list[dict[str, Any]]]]


class RowError(Exception):
    """A failure of one row (an HTTP error, say): recorded in OUTPUT, the batch goes on."""


@dataclass
class BatchSummary:
    answered: int = 0
    abstained: int = 0
    failed: int = 0
    skipped: int = 0
    seconds: float = 0.0

    def line(self) -> str:
        return (
            f"batch: {self.answered} answered, {self.abstained} abstained, {self.failed} failed, "
            f"{self.skipped} skipped (already answered); {self.seconds:.1f} s"
        )


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "batch",
        help="answer every question in a CSV or JSONL file",
        description="Answer every question of INPUT into OUTPUT, one row per question with its citations. "
        "Run the same command again to resume: rows already answered are skipped.",
    )
    parser.add_argument("input", type=Path, metavar="INPUT", help="questions: .csv with a `question` column, or .jsonl")
    parser.add_argument(
        "--out", required=True, type=Path, metavar="OUTPUT", help="answers: .jsonl or .csv (appended, resumable)"
    )
    parser.add_argument("--api", default=None, metavar="URL", help="ask a running `qa serve` at URL instead")
    parser.add_argument("--api-key", default=None, metavar="KEY", help="bearer key for --api (default: QA_API_KEY)")
    parser.add_argument("--top-k", type=int, default=None, metavar="K", help="chunks to retrieve (1-50)")
    parser.add_argument(
        "--quiet", action="store_true", help="no progress bar (none either when stderr is not a terminal)"
    )
    parser.set_defaults(handler=run_cli)


def run_cli(args: argparse.Namespace, settings: Settings) -> int:
    # Everything cheap is checked before the model loads or the server is called.
    check_top_k(args.top_k, settings.top_k)
    file_format(args.out, "OUTPUT")
    if args.input.resolve() == args.out.resolve():
        raise InputError("OUTPUT must be another file than INPUT")
    rows = read_questions(args.input)
    # A bar is for a person watching: not into a log file or a pipe, where each redraw is kept.
    progress = not args.quiet and sys.stderr.isatty()
    if args.api:
        key = args.api_key or (settings.api_key.get_secret_value() if settings.api_key else None)
        client = api_client(args.api, key)
        try:
            summary = run_batch(rows, args.out, http_asker(client, args.top_k), settings, progress=progress)
        finally:
            client.close()
    else:
        from rag.factory import load_answerer

        summary = run_batch(
            rows,
            args.out,
            local_asker(load_answerer(settings, defer_torch=True), args.top_k),
            settings,
            progress=progress,
        )
    print(summary.line())
    return 0


def local_asker(answerer: Answerer, top_k: int | None = None) -> AskRow:
    def ask(question: str, history: list[dict[str, str]] | None) -> tuple[str, bool, list[dict[str, Any]]]:
        answer = answerer.answer(question, history=history, top_k=top_k)
        return answer.answer, answer.abstained, [c.model_dump() for c in answer.citations]

    return ask


def api_client(url: str, key: str | None) -> httpx.Client:
    """An httpx client for URL; fails with a clear QAError (exit 1) when nothing answers there."""
    import httpx

    if not url.startswith(("http://", "https://")):
        raise InputError(f"--api must be an http:// or https:// URL, got {url!r}")
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    client = httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=httpx.Timeout(60.0, connect=10.0))
    try:
        client.get("/healthz")  # any HTTP answer will do: we only learn that a server is there
    except httpx.HTTPError as error:
        client.close()
        raise QAError(f"cannot reach the API at {url}: {_transport_reason(error)}") from None
    return client


def http_asker(client: httpx.Client, top_k: int | None = None) -> AskRow:
    import httpx

    def ask(question: str, history: list[dict[str, str]] | None) -> tuple[str, bool, list[dict[str, Any]]]:
        body: dict[str, Any] = {"question": question}
        if history:
            body["history"] = history
        if top_k is not None:
            body["top_k"] = top_k
        try:
            response = client.post("/v1/ask", json=body)
        except httpx.HTTPError as error:
            raise RowError(f"API request failed: {_transport_reason(error)}") from None
        if response.status_code != 200:
            raise RowError(f"HTTP {response.status_code}: {error_message(response)}")
        try:
            payload = response.json()
            return payload["answer"], bool(payload["abstained"]), list(payload["citations"])
        except (ValueError, KeyError, TypeError):
            raise RowError("the API answered with something that is not an answer object") from None

    return ask


def _transport_reason(error: Exception) -> str:
    return str(error) or type(error).__name__


def error_message(response: httpx.Response) -> str:
    try:
        message = response.json()["error"]["message"]
        if isinstance(message, str) and message:
            return message
    except (ValueError, KeyError, TypeError):
        pass
    return " ".join(response.text.split())[:200] or response.reason_phrase


def check_row(row: InputRow, settings: Settings) -> InputRow:
    """Validate a well-formed row the way the answerer will, so bad rows never reach it."""
    if row.problem is None:
        try:
            check_question(row.question, settings.max_question_chars)  # OUTPUT keeps it as it was given
            row.history = check_history(row.history, settings.max_history_turns, settings.max_question_chars) or None
        except InputError as error:
            row.problem = str(error)
    return row


def run_batch(
    rows: list[InputRow],
    out: Path,
    ask: AskRow,
    settings: Settings,
    progress: bool = True,
    stderr: TextIO | None = None,
) -> BatchSummary:
    """Answer the rows not yet in OUTPUT, appending each as it is done. Per-row problems are
    reported on stderr by line number and recorded; only an unusable OUTPUT raises."""
    from tqdm import tqdm

    stderr = stderr or sys.stderr
    started = time.perf_counter()
    carried = list(dict.fromkeys(name for row in rows for name in row.carried))
    answers = AnswerFile(out, carried)
    done, torn = answers.resume()
    if torn:
        print(f"qa batch: dropped an incomplete last row of {out} (an earlier run was interrupted)", file=stderr)
    summary = BatchSummary()
    todo = []
    for row in rows:
        if row.problem is None and row.id in done:
            summary.skipped += 1
        else:
            todo.append(check_row(row, settings))
    for row in todo:
        if row.problem:
            print(f"line {row.line}: {row.problem}", file=stderr)
    bar = tqdm(
        todo, total=len(todo), desc="batch", unit="q", file=stderr, disable=not progress or not todo, dynamic_ncols=True
    )
    try:
        for row in bar:
            record = _answer_row(row, ask)
            answers.append(answers.encode(record))
            if record["error"]:
                summary.failed += 1
            elif record["abstained"]:
                summary.abstained += 1
            else:
                summary.answered += 1
            if record["error"] and not row.problem:
                bar.write(f"line {row.line}: {record['error']}", file=stderr)
    finally:
        bar.close()
        answers.close()
    answers.put_in_order([row.id for row in rows])
    summary.seconds = time.perf_counter() - started
    return summary


def _answer_row(row: InputRow, ask: AskRow) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": row.id,
        "question": row.question,
        "answer": "",
        "abstained": None,
        "citations": [],
        "error": row.problem or "",
    }
    if not row.problem:
        try:
            record["answer"], record["abstained"], record["citations"] = ask(row.question, row.history)
        except (RowError, QAError) as error:
            record["error"] = str(error)
        # A bug met by one row must not cost the rows after it: it is recorded, with its type, in
        # that row's error and reported on stderr, and the batch goes on.
        except Exception as error:  # noqa: BLE001
            record["error"] = f"internal error: {type(error).__name__}: {error}"
    return {**record, **row.carried}  # carried names never clash (see batch_io._carried_name)
