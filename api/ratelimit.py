"""`QA_RATE_LIMIT_PER_MINUTE`: a per-client limit on /v1 requests, off by default.

A token bucket per client (Wikipedia's "token bucket": `limit` tokens, refilled at `limit` per
minute, one per request), keyed by the API key the client sent when it is the configured
QA_API_KEY (hashed; never kept), and otherwise by the client's address: a made-up Authorization
header is the client's own choice, so a new one each request would be a fresh budget. The address
is the one uvicorn reports: under `qa serve` the connection's own, or X-Forwarded-For when the
connection comes from a proxy named in QA_TRUSTED_PROXIES (api/cli.py), so a client cannot name
a new address for itself each request. Over the limit: 429 with the JSON envelope and
`Retry-After`. The page, the docs, /healthz and /metrics are not limited. At most MAX_CLIENTS
buckets are kept, the least recently used dropped first, so a flood of addresses cannot grow memory.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from collections import OrderedDict

from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from api.errors import error_response
from rag.settings import Settings

MAX_CLIENTS = 10_000
LIMITED_PREFIX = "/v1/"


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp, per_minute: int) -> None:
        self.app = app
        self.capacity = float(per_minute)
        self.refill = per_minute / 60.0  # tokens per second
        self.buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # client -> (tokens, at)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(LIMITED_PREFIX):
            await self.app(scope, receive, send)
            return
        wait = self._take(self._client(scope))
        if wait <= 0:
            await self.app(scope, receive, send)
            return
        seconds = max(1, math.ceil(wait))
        message = f"too many requests: the limit is {self.capacity:g} a minute; try again in {seconds} s"
        await error_response(429, message, headers={"Retry-After": str(seconds)})(scope, receive, send)

    def _client(self, scope: Scope) -> str:
        key = _configured_key(scope)
        scheme, _, token = Headers(scope=scope).get("authorization", "").partition(" ")
        if key and scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode("utf-8"), key):
            return "key:" + hashlib.sha256(key).hexdigest()
        client = scope.get("client")
        return f"addr:{client[0] if client else '?'}"

    def _take(self, client: str) -> float:
        """Take one token; returns 0 when granted, else the seconds until one is there."""
        now = time.monotonic()
        tokens, at = self.buckets.pop(client, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - at) * self.refill)
        granted = tokens >= 1.0
        self.buckets[client] = (tokens - 1.0 if granted else tokens, now)
        while len(self.buckets) > MAX_CLIENTS:
            self.buckets.popitem(last=False)
        return 0.0 if granted else (1.0 - tokens) / self.refill


def _configured_key(scope: Scope) -> bytes | None:
    """QA_API_KEY from the app's settings (app.state.settings, as api/deps.py reads them), so the
    limiter keeps no copy of the secret; None when no key is set."""
    app = scope.get("app")
    settings = getattr(app.state, "settings", None) if isinstance(app, Starlette) else None
    if not isinstance(settings, Settings) or settings.api_key is None:
        return None
    return settings.api_key.get_secret_value().encode("utf-8")
