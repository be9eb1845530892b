"""schemathesis against the service's own OpenAPI schema, over every operation it lists, through a
real uvicorn server: no 5xx, responses that conform to the schema (status codes, content types,
bodies), and JSON errors. Run with and without QA_API_KEY. A fixed budget per operation and a
derandomised search keep it to about a minute and the same on every run; `make hardening` runs
it with a larger budget (QA_FUZZ_EXAMPLES)."""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.servers import TEST_API_KEY

pytestmark = pytest.mark.integration

# Examples per operation: the short run here, a longer one from `make hardening`.
EXAMPLES = int(os.environ.get("QA_FUZZ_EXAMPLES", "15"))
FUZZ = settings(
    max_examples=EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck), database=None
)


def fuzz(base_url: str, headers: dict[str, str]) -> dict[str, int]:
    """Every operation of the served schema, EXAMPLES generated cases each; cases tried per operation."""
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    tried: dict[str, int] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        tried[operation.label] = 0
        run_operation(operation.as_strategy(), operation.label, tried, base_url, headers)
    return tried


def run_operation(strategy, label: str, tried: dict[str, int], base_url: str, headers: dict[str, str]) -> None:
    @FUZZ
    @given(case=strategy)
    def one(case) -> None:
        tried[label] += 1
        check(case, case.call(base_url=base_url, headers=headers, timeout=60))

    one()


def check(case, response) -> None:
    content_type = (response.headers.get("content-type") or [""])[0]  # schemathesis keeps each header as a list
    assert response.status_code < 500, (case.method, case.path, response.status_code, response.text[:300])
    if response.status_code >= 400:
        assert content_type.startswith("application/json"), (case.method, case.path, response.text[:200])
    excluded = []
    if case.path in ("/v1/chat/completions", "/v1/responses"):
        # The OpenAI-compatible request is lenient on purpose (clients send fields we ignore), so
        # its schema cannot say that the last message must be the user's, with text: a request
        # without one is schema-valid and rightly refused with 400, which this check counts as
        # wrong. Every other check still applies to it.
        excluded.append(positive_data_acceptance)
    if case.path == "/v1/documents" and case.method == "POST":
        # An upload's schema cannot say which files are read (txt, md, html, pdf, by name):
        # schemathesis sends a schema-valid `file.png`, rightly refused with 415. (It never sends
        # a readable file, so the fuzz adds nothing to the index the other tests share.)
        excluded.append(positive_data_acceptance)
    case.validate_response(response, excluded_checks=excluded)


def test_every_operation_without_a_key(live_server):
    tried = fuzz(live_server.base_url, {})
    print(f"\nschemathesis without a key: {sum(tried.values())} cases over {len(tried)} operations: {tried}")
    assert len(tried) >= 7 and all(tried.values()), tried


def test_every_operation_with_a_key(live_server_with_key):
    tried = fuzz(live_server_with_key.base_url, {"Authorization": f"Bearer {TEST_API_KEY}"})
    print(f"\nschemathesis with a key: {sum(tried.values())} cases over {len(tried)} operations")
    assert len(tried) >= 7 and all(tried.values()), tried
