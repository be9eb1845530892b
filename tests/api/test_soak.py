"""A short soak (evals/soak.py) against a real uvicorn server: 4 clients for 10 s mixing every way
in with bad requests. Every good request is answered 200, every bad one with a 4xx JSON error,
nothing with a 5xx. `make hardening` runs the long one (16 clients, 3 minutes) against `qa serve`."""

from __future__ import annotations

import pytest

from evals.soak import report, soak

pytestmark = pytest.mark.integration


def test_a_short_soak_has_no_errors(live_server):
    settings = live_server.settings
    tally = soak(live_server.base_url, 4, 10, settings.max_question_chars, settings.max_history_turns)
    print("\n" + report(tally, 4, 10))
    assert len(tally.requests) == 10, tally.requests  # every kind of request was sent
    assert sum(tally.requests.values()) >= 40
    assert sum(tally.errors.values()) == 0, tally.examples
