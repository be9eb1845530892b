"""The HTTP client under the llm mode's ChatOpenAI: a response must be whole within its read
timeout, not only each read.

httpx's read timeout is the longest wait for the next bytes, so a server that sends an empty
chunk or an SSE keep-alive comment (`: ping`) every half second resets it forever. The openai
client drops comments before LangChain sees a chunk, so only the transport can see those bytes
arrive: it fails the response with httpx's own ReadTimeout once the time is up. rag/llm.py passes
each call a timeout equal to the time its request has left, which makes that the whole-request
deadline; a server that sends nothing at all meets the read timeout itself.

httpx2 is the HTTP library of the openai client here (which accepts only its clients); this module
is imported with the optional langchain_openai, never by the extractive mode.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx2
import openai


class WholeResponseTimeout(httpx2.BaseTransport):
    """Wraps a transport; a response not read to its end within the request's read timeout,
    counted from when the request was sent, fails as a ReadTimeout."""

    def __init__(self, inner: httpx2.BaseTransport) -> None:
        self.inner = inner

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        budget = request.extensions.get("timeout", {}).get("read")
        sent = time.monotonic()
        response = self.inner.handle_request(request)
        if budget is not None and isinstance(response.stream, httpx2.SyncByteStream):
            response.stream = _DeadlineStream(response.stream, sent + budget, request)
        return response

    def close(self) -> None:
        self.inner.close()


class _DeadlineStream(httpx2.SyncByteStream):
    def __init__(self, inner: httpx2.SyncByteStream, deadline: float, request: httpx2.Request) -> None:
        self.inner = inner
        self.deadline = deadline
        self.request = request

    def __iter__(self) -> Iterator[bytes]:
        for part in self.inner:
            # Checked on every read, whatever it carried: a comment or an empty chunk counts.
            if time.monotonic() > self.deadline:
                raise httpx2.ReadTimeout("the response did not end within its read timeout", request=self.request)
            yield part

    def close(self) -> None:
        self.inner.close()


def deadline_http_client() -> httpx2.Client:
    """openai's own default client (its limits, redirects and timeouts) over the transport above."""
    inner = httpx2.HTTPTransport(limits=openai.DEFAULT_CONNECTION_LIMITS)
    return openai.DefaultHttpxClient(transport=WholeResponseTimeout(inner))
