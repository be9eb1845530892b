"""Server-sent events for the two streaming endpoints.

The extractive answerer finishes in milliseconds and has no partial output, so "streaming" sends
the finished answer in word-sized pieces: the page can render as it reads, and OpenAI clients
get the chunked protocol they expect. The answer is computed before the response starts, so a
bad request is still an ordinary JSON error with a status code.
"""

from __future__ import annotations

import json
import re
from typing import Any

# A word and the whitespace after it; `|\s+` keeps leading whitespace, so pieces join to the text.
_PIECE = re.compile(r"\S+\s*|\s+")
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def word_pieces(text: str) -> list[str]:
    return _PIECE.findall(text)


def event(name: str, data: Any) -> str:
    """One named event (`event:` + `data:`); JSON has no raw newlines, so one data line suffices."""
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def data_only(data: Any) -> str:
    """One unnamed event, as OpenAI streams chunks."""
    payload = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    return f"data: {payload}\n\n"
