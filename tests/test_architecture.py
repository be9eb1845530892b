"""The layout a newcomer reads from the folders, held by tests: dependencies run one way (ingest,
api and evals use rag; rag uses none of them), no import cycle anywhere, small functions and
modules, a docstring on every package, and nothing heavy at import."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.unit

PACKAGES = ("rag", "ingest", "api", "evals")
# rag is the kernel: it must not know who builds on it.
FORBIDDEN = {"rag": {"ingest", "api", "evals"}, "ingest": {"api", "evals"}}
MAX_FUNCTION_LINES = 60
MAX_MODULE_LINES = 400
# A module may run longer only if its docstring says why, in these words.
LONG_MODULE_REASON = "longer than 400 lines because"


def module_files() -> Iterator[tuple[str, Path]]:
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            parts = path.relative_to(REPO).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            yield name, path


MODULES = dict(module_files())


def imported_modules(name: str, path: Path) -> set[str]:
    """Every project module `name` imports, anywhere in the file (function bodies and
    TYPE_CHECKING blocks included: a lazy import is still a dependency)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else [])
                )
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for target in targets:
            # "from rag.cli import batch" names a module; "from rag.chain import Answerer" a name in one.
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


GRAPH = {name: imported_modules(name, path) for name, path in MODULES.items()}


def test_the_graph_sees_the_known_edges() -> None:
    # The check below is only as good as the graph: these edges exist, so it must find them.
    assert "rag.snapshot" in GRAPH["rag.chain"]
    assert "ingest.index" in GRAPH["ingest.pipeline"]
    assert "rag.factory" in GRAPH["api.main"]  # imported inside the lifespan function
    assert "rag.chain" in GRAPH["rag.cli.batch"]  # imported for a type only


def test_dependencies_run_one_way() -> None:
    back_edges = [
        f"{module} imports {target}"
        for module, targets in GRAPH.items()
        for target in targets
        if target.split(".")[0] in FORBIDDEN.get(module.split(".")[0], set())
    ]
    assert back_edges == []


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm: the groups of modules that import each other, directly or not."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"], ["d"]]


def test_no_import_cycles() -> None:
    cycles = [group for group in strongly_connected(GRAPH) if len(group) > 1]
    assert cycles == []


def test_functions_and_modules_stay_small() -> None:
    too_long = []
    for name, path in MODULES.items():
        text = path.read_text(encoding="utf-8")
        tree = ast.parse(text)
        lines = len(text.splitlines())
        if lines > MAX_MODULE_LINES and LONG_MODULE_REASON not in (ast.get_docstring(tree) or "").lower():
            too_long.append(f"{name}: {lines} lines")
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    too_long.append(f"{name}.{node.name}: {length} lines")
    assert too_long == []


def test_every_package_and_module_says_what_it_holds() -> None:
    missing = [name for name, path in MODULES.items() if not ast.get_docstring(ast.parse(path.read_text("utf-8")))]
    assert missing == []


def _modules_loaded_by(code: str) -> set[str]:
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"PATH": "", "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)},
    )
    assert result.returncode == 0, result.stderr
    return set(result.stdout.split())


def test_importing_every_module_loads_no_model() -> None:
    names = " ".join(sorted(n for n in MODULES if not n.endswith("__main__")))
    loaded = _modules_loaded_by(
        f"import importlib, sys\nfor n in {names.split()!r}: importlib.import_module(n)\nprint(' '.join(sys.modules))"
    )
    assert {"rag.chain", "api.main", "evals.report"} <= loaded  # the imports did happen
    assert not {"torch", "sentence_transformers"} & loaded


def test_qa_ask_does_not_import_the_other_front_ends() -> None:
    loaded = _modules_loaded_by(
        "import sys\nfrom rag.cli.main import build_parser\nbuild_parser(['ask', 'Why?'])\nprint(' '.join(sys.modules))"
    )
    assert "rag.cli.ask" in loaded
    assert not {m for m in loaded if m.split(".")[0] in ("ingest", "api", "evals")}


def test_qa_help_finds_every_command() -> None:
    from rag.cli.main import build_parser

    help_text = build_parser([]).format_help()
    for command in ("ingest", "ask", "chat", "serve", "eval", "batch"):
        assert command in help_text
