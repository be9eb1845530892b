"""One structured log line per request, and a request id the client can quote.

`RequestLogMiddleware` (pure ASGI, outermost) takes the client's `X-Request-ID` when it is a
short token, or makes one, echoes it in the response header, and when the response is done logs
one JSON line on the `qa.requests` logger: id, method, path (never the query string), status,
latency, and for answers whether the assistant abstained, how many citations it gave and (llm
mode) how many sentences the guard dropped. The
question is logged only with QA_LOG_QUESTIONS=true; headers, keys and bodies never are.

Routes add what only they know through `note_answer`, into a dict the middleware put in the
request's state.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from typing import Any

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.metrics import Metrics
from rag.answer import Answer

logger = logging.getLogger("qa.requests")
# An id a client may choose: short, and nothing that could break a log line or a header.
CLIENT_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
STATE_KEY = "qa_log"


class RequestLogMiddleware:
    def __init__(self, app: ASGIApp, log_questions: bool = False, metrics: Metrics | None = None) -> None:
        self.app = app
        self.log_questions = log_questions
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        offered = Headers(scope=scope).get("x-request-id", "")
        request_id = offered if CLIENT_REQUEST_ID.match(offered) else uuid.uuid4().hex
        noted: dict[str, Any] = {}
        scope.setdefault("state", {})[STATE_KEY] = noted
        status = 500  # if the app fails before it answers
        began = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)["X-Request-ID"] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            line: dict[str, Any] = {
                "id": request_id,
                "method": scope.get("method"),
                "path": scope.get("path"),
                "status": status,
                "latency_ms": round((time.perf_counter() - began) * 1000, 1),
            }
            line.update({k: v for k, v in noted.items() if k != "question" or self.log_questions})
            logger.info(json.dumps(line, ensure_ascii=False))
            if self.metrics is not None:
                route = scope.get("route")
                template = getattr(route, "path", None) or "unmatched"
                self.metrics.observe(str(scope.get("method")), template, status, line["latency_ms"] / 1000, noted)


def note_answer(state: Any, answer: Answer, question: str) -> None:
    """Record what the request log says about an answer (`state`: the request's `state`)."""
    noted = getattr(state, STATE_KEY, None)
    if isinstance(noted, dict):
        noted.update(abstained=answer.abstained, citations=len(answer.citations), question=question)
        if answer.guard is not None:
            noted["guard_dropped"] = answer.guard.dropped
