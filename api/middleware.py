"""Two pure ASGI guards that run before any routing or parsing: the API key and the body size.

Pure ASGI (not BaseHTTPMiddleware) so that a rejected request never reaches FastAPI's body
parsing, and streaming responses pass through untouched.
"""

from __future__ import annotations

import hmac

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_response

# Open without a key: the health check, the page and its assets, and FastAPI's API docs.
PUBLIC_PATHS = frozenset({"/", "/healthz", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})
PUBLIC_PREFIXES = ("/static/",)


class BearerKeyMiddleware:
    """Every path not listed above needs `Authorization: Bearer <key>`. Default-deny, so a route
    added later is protected without anyone remembering to protect it."""

    def __init__(self, app: ASGIApp, api_key: str) -> None:
        self.app = app
        self.key = api_key.encode("utf-8")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _is_public(scope["path"]) or self._authorized(scope):
            await self.app(scope, receive, send)
            return
        # The message names the header, never the key or what the client sent.
        response = error_response(
            401,
            "missing or wrong API key: send the header 'Authorization: Bearer <key>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
        await response(scope, receive, send)

    def _authorized(self, scope: Scope) -> bool:
        scheme, _, token = Headers(scope=scope).get("authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return False
        # Constant-time, so response timing does not reveal how much of a guess was right.
        return hmac.compare_digest(token.strip().encode("utf-8"), self.key)


def _is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


class BodyLimitMiddleware:
    """413 for a body over `max_bytes`: at once when Content-Length says so, and by counting the
    bytes actually received, since a chunked body has no Content-Length and a client can lie.

    The body (at most `max_bytes`, 64 KiB by default) is read here and replayed to the app, so
    nothing downstream parses a byte of an oversized request.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, streamed: frozenset[str] = frozenset()) -> None:
        self.app = app
        self.max_bytes = max_bytes
        # POSTs to these paths (file uploads) pass unread: their route reads the body as a stream
        # and holds it to its own, larger, limit (api/upload.py).
        self.streamed = streamed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (scope["method"] == "POST" and scope["path"] in self.streamed):
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None:
            if not declared.strip().isdigit():
                await error_response(400, f"Content-Length must be a number of bytes, got {declared[:40]!r}")(
                    scope, receive, send
                )
                return
            if int(declared) > self.max_bytes:
                await self._too_large(scope, receive, send, f"declares {int(declared)} bytes")
                return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client left before finishing its request: nobody to answer
            body += message.get("body", b"")
            if len(body) > self.max_bytes:
                await self._too_large(scope, receive, send, f"is more than {self.max_bytes} bytes")
                return
            if not message.get("more_body", False):
                break
        replay: list[Message] = [{"type": "http.request", "body": bytes(body), "more_body": False}]

        async def receive_replayed() -> Message:
            # After the body, later receive() calls (a streaming response waiting for
            # http.disconnect) go to the server as usual.
            return replay.pop() if replay else await receive()

        await self.app(scope, receive_replayed, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send, what: str) -> None:
        message = f"request body {what}; the limit is {self.max_bytes} bytes (QA_MAX_BODY_BYTES)"
        await error_response(413, message, headers={"Connection": "close"})(scope, receive, send)
