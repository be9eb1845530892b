"""`qa serve [--host H] [--port P]`: the chat page and the HTTP API under uvicorn.

The model and the index are loaded before the server starts, so a missing index is one line on
stderr and exit code 1, like `qa ask`. uvicorn's access log shows the request line only, never
headers. The request log is ours (api/logs.py): one JSON line per request on stdout, with the
path but never the query string, so a client that puts a key or a question in the URL does not
get it written to the log; uvicorn's own access log is off. X-Forwarded-For is read only from the
proxies in QA_TRUSTED_PROXIES (none by default), not from any local peer as uvicorn would.
"""

from __future__ import annotations

import argparse
import errno
import ipaddress
import logging
import os
import socket
import sys
from typing import Any

from api.parts import remove_stale_parts
from rag.errors import ConfigError
from rag.settings import Settings


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="serve the chat page and the HTTP API (OpenAI-compatible too)",
        description="Serve the chat page at / and the API under /v1 (docs at /docs). "
        "Set QA_API_KEY to require 'Authorization: Bearer <key>'.",
    )
    parser.add_argument("--host", default=None, help="interface to listen on (default: QA_HOST, 127.0.0.1)")
    parser.add_argument("--port", type=int, default=None, help="port (default: QA_PORT, 8000)")
    parser.set_defaults(handler=run)


def page_url(host: str, port: int) -> str:
    # A wildcard address is where the server listens, not where a browser can go.
    shown = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def run(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from api.main import create_app
    from rag.factory import load_answerer

    host = args.host if args.host is not None else settings.host
    port = args.port if args.port is not None else settings.port
    if not 1 <= port <= 65535:
        raise ConfigError(f"--port must be between 1 and 65535, got {port}")
    settings = settings.model_copy(update={"host": host, "port": port})
    if settings.api_key is None and not _is_loopback(host):
        print(
            f"qa serve: warning: listening on {host} without QA_API_KEY: anyone who can reach it can use it",
            file=sys.stderr,
        )
    listening = _listen(host, port)  # before the model loads: a busy port is said at once
    remove_stale_parts(settings.corpus_dir)  # left by a server killed in the middle of an upload
    print("Loading the model and the index…", file=sys.stderr, flush=True)
    # torch stays out until an upload needs it for ingest (rag.embeddings.keep_torch_out).
    app = create_app(settings, answerer=load_answerer(settings, defer_torch=True))
    print(f"Chat page: {page_url(host, port)}", flush=True)
    requests = logging.getLogger("qa.requests")
    requests.setLevel(logging.INFO)
    requests.addHandler(logging.StreamHandler(sys.stdout))
    requests.propagate = False
    config = uvicorn.Config(app, host=host, port=port, log_level="info", access_log=False, **forwarding(settings))
    uvicorn.Server(config).run(sockets=[listening])
    return 0


def forwarding(settings: Settings) -> dict[str, Any]:
    """uvicorn's proxy options: X-Forwarded-For and -Proto are read only from QA_TRUSTED_PROXIES.
    uvicorn's own default believes them from any local peer (FORWARDED_ALLOW_IPS, 127.0.0.1),
    so a local client, or a local proxy that passes the header on, could name any address: a new
    budget under the rate limit at every request (api/ratelimit.py)."""
    if os.environ.get("FORWARDED_ALLOW_IPS") and not settings.trusted_proxies:
        print(
            "qa serve: warning: FORWARDED_ALLOW_IPS is ignored; set QA_TRUSTED_PROXIES to the proxies "
            "whose X-Forwarded-For to believe",
            file=sys.stderr,
        )
    if not settings.trusted_proxies:
        return {"proxy_headers": False}
    return {"proxy_headers": True, "forwarded_allow_ips": list(settings.trusted_proxies)}


def _listen(host: str, port: int) -> socket.socket:
    """The server's socket, bound now: uvicorn would find a busy port only after the model has
    loaded, and report it among its log lines. Kept open and handed to uvicorn, so no other
    process can take the port in between."""
    try:
        return socket.create_server((host, port), family=_family(host))
    except OSError as error:
        reason = "the port is in use" if error.errno == errno.EADDRINUSE else (error.strerror or str(error))
        raise ConfigError(f"cannot listen on {host}:{port}: {reason} (choose another with --port or QA_PORT)") from None


def _family(host: str) -> socket.AddressFamily:
    try:
        return socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
    except ValueError:  # a name such as "localhost": the first address it resolves to decides
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
        return infos[0][0] if infos else socket.AF_INET
