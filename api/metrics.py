"""`GET /metrics` in Prometheus text format (prometheus-client), one registry per app.

Counted by the request log middleware (api/logs.py) when a response is done: requests by method,
route template (never the raw path, so a scan of random URLs cannot grow the label set) and status;
latency per route; answers by whether they abstained; sentences the grounding guard dropped. The
index size is read from the loaded index when scraped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# Latency buckets in seconds: warm answers take tens of milliseconds, llm answers seconds.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


def _reader(index_stats: Callable[[], dict[str, Any] | None], key: str) -> Callable[[], float]:
    def read() -> float:
        return float((index_stats() or {}).get(key, 0))

    return read


class Metrics:
    def __init__(self, index_stats: Callable[[], dict[str, Any] | None]) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "qa_requests", "HTTP requests answered", ["method", "route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "qa_request_seconds", "time to the end of the response", ["route"], buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )  # fmt: skip
        self.answers = Counter("qa_answers", "answers given", ["abstained"], registry=self.registry)
        self.guard_dropped = Counter(
            "qa_guard_dropped_sentences", "generated sentences the grounding guard dropped", registry=self.registry
        )
        for name, key in (("qa_index_documents", "documents"), ("qa_index_chunks", "chunks")):
            gauge = Gauge(name, f"{key} in the loaded index (0 when none is loaded)", registry=self.registry)
            gauge.set_function(_reader(index_stats, key))

    def observe(self, method: str, route: str, status: int, seconds: float, noted: dict[str, Any]) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(route).observe(seconds)
        if "abstained" in noted:
            self.answers.labels(str(bool(noted["abstained"])).lower()).inc()
        if noted.get("guard_dropped"):
            self.guard_dropped.inc(noted["guard_dropped"])
