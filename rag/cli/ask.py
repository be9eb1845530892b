"""`qa ask` and `qa chat`: one question, or a conversation, answered in the terminal."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Sequence
from typing import Any

from rag.answer import Answer
from rag.citations import short_title
from rag.errors import InputError, LLMUnavailableError, QAError
from rag.request import check_question, check_top_k
from rag.settings import Settings
from rag.short_answer import ShortAnswer


def register_ask(subparsers: Any) -> None:
    parser = subparsers.add_parser("ask", help="answer one question with citations")
    parser.add_argument("question", help="the question, in quotes")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    parser.add_argument("--verbose", action="store_true", help="show each quote with its character offsets")
    parser.add_argument(
        "--api", default=None, metavar="URL", help="ask a running `qa serve` at URL (default: QA_API_URL) instead"
    )
    parser.add_argument("--top-k", type=int, default=None, help="chunks to retrieve (1-50)")
    parser.add_argument("--source", default=None, help="only this source id")
    parser.add_argument(
        "--section", default=None, help="only this section: its heading, or words only it contains (any case or quotes)"
    )
    parser.add_argument(
        "--mode", choices=["extractive", "llm"], default=None, help="answerer (default: QA_ANSWERER, extractive)"
    )
    parser.set_defaults(handler=_run_ask)


def register_chat(subparsers: Any) -> None:
    parser = subparsers.add_parser("chat", help="interactive chat that keeps the conversation")
    parser.add_argument("--top-k", type=int, default=None)
    parser.add_argument("--mode", choices=["extractive", "llm"], default=None)
    parser.add_argument("--verbose", action="store_true", help="show each quote with its character offsets")
    parser.set_defaults(handler=_run_chat)


def _filters(args: argparse.Namespace) -> dict[str, str]:
    return {k: v for k, v in (("source_id", args.source), ("section", args.section)) if v is not None}


def source_lines(answer: Answer, verbose: bool = False) -> list[str]:
    """Each source once: title, section, page; `verbose` adds the quote and its offsets."""
    lines = []
    for c in answer.citations:
        title = c.title if verbose else short_title(c.title)
        section = f" — {c.section}" if c.section and c.section != c.title else ""
        lines.append(f"  [{c.n}] {title}{section}{f', p. {c.page}' if c.page else ''}")
        if verbose:
            lines.append(f"      chars {c.start}-{c.end} of {c.source_id}: “{' '.join(c.quote.split())}”")
    return lines


def listed(spans: Sequence[ShortAnswer]) -> str:
    """A short list's items, each run from one citation followed by its marker once:
    "Canada, France [1], Japan [2]"."""
    pieces = []
    for position, span in enumerate(spans):
        last_of_run = position + 1 == len(spans) or spans[position + 1].n != span.n
        pieces.append(f"{span.text} [{span.n}]" if last_of_run else span.text)
    return ", ".join(pieces)


def format_answer(answer: Answer, verbose: bool = False) -> str:
    """The short answer (when there is one), the answer once, then a compact sources list: title,
    section, page; `verbose` adds each quote's offsets and text."""
    lines = []
    if answer.short_answer is not None:
        lines += [f"Answer: {answer.short_answer.text} [{answer.short_answer.n}]", ""]
    elif answer.short_list:
        lines += [f"Answer: {listed(answer.short_list)}", ""]
    lines += [answer.answer, *(f"({note})" for note in answer.notes)]
    if answer.citations:
        lines += ["", "Sources:", *source_lines(answer, verbose)]
    if answer.guard is not None:
        g = answer.guard
        lines.append(
            f"\nGrounding guard ({g.policy}): {g.checked} sentences checked, {g.kept} kept, "
            f"{g.dropped} dropped, {g.flagged} flagged, {g.recited} re-cited."
        )
    if answer.fallback:
        lines.append(f"Nothing generated survived the guard: this is the {answer.fallback} answer.")
    return "\n".join(lines)


def _asked_over_http(url: str, args: argparse.Namespace, settings: Settings) -> Answer:
    """The answer of a running `qa serve`: no model or index is loaded in this process, so a
    question costs the server's milliseconds plus this command's start."""
    from rag.cli.batch import api_client, error_message

    key = settings.api_key.get_secret_value() if settings.api_key else None
    body: dict[str, Any] = {"question": args.question, "filters": _filters(args)}
    if args.top_k is not None:
        body["top_k"] = args.top_k
    import httpx

    client = api_client(url, key)
    try:
        response = client.post("/v1/ask", json=body)
    except httpx.HTTPError as error:
        raise QAError(f"the API at {url} did not answer: {error or type(error).__name__}") from None
    finally:
        client.close()
    if response.status_code != 200:
        raise (InputError if response.status_code < 500 else QAError)(
            f"the API answered {response.status_code}: {error_message(response)}"
        )
    return Answer.model_validate(response.json())


def _run_ask(args: argparse.Namespace, settings: Settings) -> int:
    # Check cheap things before loading the model, so a typo fails in milliseconds.
    check_question(args.question, settings.max_question_chars)
    check_top_k(args.top_k, settings.top_k)
    url = args.api or settings.api_url
    if url and args.mode not in (None, "extractive"):
        raise InputError("--mode applies to the answerer in this process; a server answers in its own mode")
    if url:
        answer = _asked_over_http(url, args, settings)
    else:
        from rag.factory import load_answerer

        answerer = load_answerer(settings, mode=args.mode, defer_torch=True)
        answer = answerer.answer(args.question, top_k=args.top_k, filters=_filters(args))
    if args.json:
        print(json.dumps(answer.model_dump(include=answer.public_fields()), ensure_ascii=False))
    else:
        print(format_answer(answer, args.verbose))
    return 0


CHAT_HELP = "/sources shows the last answer's quotes, /new starts over, /quit (or an empty line, Ctrl-D) ends."


def _enable_line_editing() -> None:
    """Arrow keys, line editing and history for input(), where the platform has readline."""
    with contextlib.suppress(ImportError):  # Windows without it: plain input still works
        import readline  # noqa: F401  (importing it is what turns it on for input())


def _greeting(answerer: Any) -> str:
    titles = sorted(source.title for source in answerer.snapshot.sources.values())
    shown = "; ".join(short_title(t) for t in titles[:5]) + ("; …" if len(titles) > 5 else "")
    return f"{len(titles)} documents: {shown}\nAsk about them. {CHAT_HELP}"


def _run_chat(args: argparse.Namespace, settings: Settings) -> int:
    from rag.factory import load_answerer

    check_top_k(args.top_k, settings.top_k)
    print("Loading the model and the index…", file=sys.stderr)
    answerer = load_answerer(settings, mode=args.mode, defer_torch=True)
    _enable_line_editing()
    print(_greeting(answerer))
    history: list[dict[str, str]] = []
    last: Answer | None = None
    while True:
        try:
            question = input("\nyou> ").strip()
        except (EOFError, KeyboardInterrupt):
            print()
            return 0
        if not question or question == "/quit":
            return 0
        if question == "/new":
            history, last = [], None
            print("(a new conversation)")
            continue
        if question == "/sources":
            print("\n".join(source_lines(last, verbose=True)) if last and last.citations else "(no sources yet)")
            continue
        try:
            answer = answerer.answer(question, history=history[-settings.max_history_turns :], top_k=args.top_k)
        except (InputError, LLMUnavailableError) as error:
            print(f"qa: {error}")
            continue
        print(f"\nassistant> {format_answer(answer, args.verbose)}")
        history += [{"role": "user", "content": question}, {"role": "assistant", "content": answer.answer}]
        last = answer
