"""The API tests' server fixtures live in tests/conftest.py (shared with tests/rag and tests/evals);
the helpers are in tests/servers.py and re-exported here for the tests that import them."""

from tests.servers import HOSTILE_TEXT, TEST_API_KEY, LiveServer, free_port, start_server  # noqa: F401
