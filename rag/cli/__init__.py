"""The `qa` command: a small host (main.py) that finds each subcommand only when it is asked for.

rag's own commands (ask, chat, batch) live here, next to the answerer they drive; the other
packages add theirs (ingest, serve, eval) through the `qa.commands` entry-point group in
pyproject.toml, so rag never imports them. The host turns rag.errors into exit codes and one-line
messages: 0 done, 1 the assistant could not do it, 2 bad usage.
"""
