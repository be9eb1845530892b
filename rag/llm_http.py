"""The HTTP client under the llm mode's ChatOpenAI: a request, headers and body, must be whole
within its read timeout, counted from when it was sent, not only each read.

httpx's read timeout is the longest wait for the next bytes, so a server that sends an empty
chunk or an SSE keep-alive comment (`: ping`) every half second resets it forever, and one byte
just before the time is up buys a whole timeout more. So each socket operation here waits at most
the time the request has left (a network backend under httpcore's pool clamps it), and fails with
httpx's own ReadTimeout once that is gone: the deadline holds while the response's headers arrive
as much as its body, whatever the server sends. rag/llm.py passes each call a timeout equal to the
time its request has left, which makes that the whole-request deadline.

httpx2 is the HTTP library of the openai client here (which accepts only its clients); this module
is imported with the optional langchain_openai, never by the extractive mode.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import httpcore2
import httpx2
import openai

# The monotonic time by which the request being made in this context must be done; None outside.
_DEADLINE: ContextVar[float | None] = ContextVar("qa_llm_deadline", default=None)


@contextmanager
def _until(deadline: float) -> Iterator[None]:
    token = _DEADLINE.set(deadline)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def _clamp(timeout: float | None, expired: type[httpcore2.TimeoutException]) -> float | None:
    """`timeout`, or less: no wait outlasts the current request's deadline."""
    deadline = _DEADLINE.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise expired("the request did not end within its read timeout")
    return left if timeout is None else min(timeout, left)


class _DeadlineNetworkStream(httpcore2.NetworkStream):
    def __init__(self, inner: httpcore2.NetworkStream) -> None:
        self.inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self.inner.read(max_bytes, _clamp(timeout, httpcore2.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.inner.write(buffer, _clamp(timeout, httpcore2.WriteTimeout))

    def close(self) -> None:
        self.inner.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None) -> Any:
        timeout = _clamp(timeout, httpcore2.ConnectTimeout)
        return _DeadlineNetworkStream(self.inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        return self.inner.get_extra_info(info)


class _DeadlineBackend(httpcore2.NetworkBackend):
    """httpcore's own sync backend, each wait clamped to the current request's deadline."""

    def __init__(self) -> None:
        self.inner = httpcore2.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore2.NetworkStream:
        timeout = _clamp(timeout, httpcore2.ConnectTimeout)
        return _DeadlineNetworkStream(self.inner.connect_tcp(host, port, timeout, local_address, socket_options))

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore2.NetworkStream:
        timeout = _clamp(timeout, httpcore2.ConnectTimeout)
        return _DeadlineNetworkStream(self.inner.connect_unix_socket(path, timeout, socket_options))

    def sleep(self, seconds: float) -> None:
        self.inner.sleep(seconds)


class _DeadlineTransport(httpx2.HTTPTransport):
    """httpx's own transport (its request and response mapping, its errors), over a pool whose
    network backend is the one above. HTTPTransport takes no backend, so its pool is built again
    as HTTPTransport builds it without a proxy, with the backend added (httpcore's public API)."""

    def __init__(self, limits: httpx2.Limits) -> None:
        super().__init__(limits=limits)
        self._pool = httpcore2.ConnectionPool(
            ssl_context=httpx2.create_ssl_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_DeadlineBackend(),
        )


class WholeResponseTimeout(httpx2.BaseTransport):
    """Wraps a transport built on _DeadlineTransport; a request not done (sent, and its response
    read to its end) within its read timeout, counted from when it was sent, fails as a
    ReadTimeout."""

    def __init__(self, inner: httpx2.BaseTransport) -> None:
        self.inner = inner

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        budget = request.extensions.get("timeout", {}).get("read")
        if budget is None:
            return self.inner.handle_request(request)
        deadline = time.monotonic() + budget
        with _until(deadline):  # connecting, sending, and reading the headers
            response = self.inner.handle_request(request)
        if isinstance(response.stream, httpx2.SyncByteStream):
            response.stream = _DeadlineStream(response.stream, deadline, request)
        return response

    def close(self) -> None:
        self.inner.close()


class _DeadlineStream(httpx2.SyncByteStream):
    def __init__(self, inner: httpx2.SyncByteStream, deadline: float, request: httpx2.Request) -> None:
        self.inner = inner
        self.deadline = deadline
        self.request = request

    def __iter__(self) -> Iterator[bytes]:
        parts = iter(self.inner)
        while True:
            # Checked before every part, whatever it carries (a comment, an empty chunk), read
            # from the socket or already buffered; a read itself waits no longer than the time left.
            if time.monotonic() > self.deadline:
                raise httpx2.ReadTimeout("the response did not end within its read timeout", request=self.request)
            with _until(self.deadline):
                part = next(parts, None)
            if part is None:
                return
            yield part

    def close(self) -> None:
        self.inner.close()


def deadline_http_client() -> httpx2.Client:
    """openai's own default client (its limits, redirects and timeouts) over the transports above."""
    inner = _DeadlineTransport(limits=openai.DEFAULT_CONNECTION_LIMITS)
    return openai.DefaultHttpxClient(transport=WholeResponseTimeout(inner))
