"""`qa`: ingest, ask and chat from the command line. Errors become messages and exit codes here.

Exit codes: 0 done, 1 the assistant could not do it (no index, bad corpus, ...), 2 bad usage.
"""

from __future__ import annotations

import argparse
import json
import sys

from rag.errors import ConfigError, InputError, LLMUnavailableError, QAError
from rag.settings import Settings, get_settings


def _add_ask(subparsers) -> None:
    parser = subparsers.add_parser("ask", help="answer one question with citations")
    parser.add_argument("question", help="the question, in quotes")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    parser.add_argument("--top-k", type=int, default=None, help="chunks to retrieve (1-50)")
    parser.add_argument("--source", default=None, help="only this source id")
    parser.add_argument("--section", default=None, help="only this section title")
    parser.add_argument("--mode", choices=["extractive", "llm"], default=None,
                        help="answerer (default: QA_ANSWERER, extractive)")
    parser.set_defaults(handler=_run_ask)


def _add_chat(subparsers) -> None:
    parser = subparsers.add_parser("chat", help="interactive chat that keeps the conversation")
    parser.add_argument("--top-k", type=int, default=None)
    parser.add_argument("--mode", choices=["extractive", "llm"], default=None)
    parser.set_defaults(handler=_run_chat)


def _filters(args: argparse.Namespace) -> dict[str, str]:
    return {k: v for k, v in (("source_id", args.source), ("section", args.section)) if v is not None}


def format_answer(answer) -> str:
    lines = [answer.answer]
    if answer.citations:
        lines.append("")
        lines.append("Sources:")
        for c in answer.citations:
            quote = " ".join(c.quote.split())
            lines.append(f"  [{c.n}] {c.title} — {c.section} (chars {c.start}-{c.end}): “{quote}”")
    if answer.guard is not None:
        g = answer.guard
        lines.append(f"\nGrounding guard ({g.policy}): {g.checked} sentences checked, {g.kept} kept, "
                     f"{g.dropped} dropped, {g.flagged} flagged, {g.recited} re-cited.")
    if answer.fallback:
        lines.append(f"Nothing generated survived the guard: this is the {answer.fallback} answer.")
    return "\n".join(lines)


def _run_ask(args: argparse.Namespace, settings: Settings) -> int:
    from rag.chain import check_question, check_top_k, load_answerer

    # Check cheap things before loading the model, so a typo fails in milliseconds.
    check_question(args.question, settings.max_question_chars)
    check_top_k(args.top_k, settings.top_k)
    answer = load_answerer(settings, mode=args.mode).answer(args.question, top_k=args.top_k, filters=_filters(args))
    if args.json:
        fields = {"answer", "abstained", "citations", "timings_ms"}
        if answer.mode != "extractive":
            fields |= {"mode", "guard", "fallback"}
        print(json.dumps(answer.model_dump(include=fields), ensure_ascii=False))
    else:
        print(format_answer(answer))
    return 0


def _run_chat(args: argparse.Namespace, settings: Settings) -> int:
    from rag.chain import check_top_k, load_answerer

    check_top_k(args.top_k, settings.top_k)
    print("Loading the model and the index…", file=sys.stderr)
    answerer = load_answerer(settings, mode=args.mode)
    print("Ask about the Israel model, the South Korean model or Finlandization. Empty line or Ctrl-D quits.")
    history: list[dict[str, str]] = []
    while True:
        try:
            question = input("\nyou> ").strip()
        except (EOFError, KeyboardInterrupt):
            print()
            return 0
        if not question:
            return 0
        try:
            answer = answerer.answer(question, history=history[-settings.max_history_turns:], top_k=args.top_k)
        except (InputError, LLMUnavailableError) as error:
            print(f"qa: {error}")
            continue
        print(f"\nassistant> {format_answer(answer)}")
        history += [{"role": "user", "content": question}, {"role": "assistant", "content": answer.answer}]


def build_parser() -> argparse.ArgumentParser:
    from api.cli import add_parser as add_serve
    from evals.batch import add_parser as add_batch
    from evals.run import add_parser as add_eval
    from ingest.cli import add_parser as add_ingest

    parser = argparse.ArgumentParser(prog="qa", description="Questions about security guarantees for Ukraine, "
                                     "answered from the corpus with exact citations.")
    subparsers = parser.add_subparsers(dest="command", required=True)
    add_ingest(subparsers)
    _add_ask(subparsers)
    _add_chat(subparsers)
    add_serve(subparsers)
    add_eval(subparsers)
    add_batch(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = get_settings()
    except Exception as error:  # pydantic's ValidationError: report the setting, not a traceback
        print(f"qa: bad settings: {error}", file=sys.stderr)
        return 2
    try:
        return args.handler(args, settings)
    except (InputError, ConfigError) as error:
        print(f"qa {args.command}: {error}", file=sys.stderr)
        return 2
    except QAError as error:
        print(f"qa {args.command}: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
