"""Uploading and deleting documents through a real uvicorn server over a real index of a small
made-up corpus: an upload is answered from at once, a delete takes it out of the sources and the
answers, every refusal leaves the corpus folder and the index as they were, and a change while
another process holds the ingest lock (or while this server is ingesting) is a 409."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from tests.conftest import make_settings
from tests.servers import TEST_API_KEY, LiveServer, start_server

pytestmark = pytest.mark.integration

KEY = {"Authorization": f"Bearer {TEST_API_KEY}"}
MAX_FILE_BYTES = 4_000
CORPUS_FILES = {
    ".qaignore": "draft-*.txt\n",
    "harbour.txt": "The Old Harbour\n\nThe old harbour of Kessmouth was dredged in 1911. "
    "Its breakwater is 640 metres long and shelters about forty fishing boats.\n",
    "mill.md": "# The Tide Mill\n\n## Machinery\n\nThe tide mill at Orrin Quay ground grain until 1952. "
    "Its wheel was driven by water held back in a pond at high tide.\n",
}
NEW_NAME = "varnholm-light.md"
NEW_TEXT = (
    "# The Varnholm Lighthouse and the Keepers Who Tended It Through Two Centuries of Storms\n\n"
    "## First light\n\nThe Varnholm lighthouse was first lit in 1873 by the keeper Ansgar Toll. "
    "Its lamp burned colza oil until 1904, when paraffin replaced it.\n"
)
NEW_QUESTION = "When was the Varnholm lighthouse first lit?"


@pytest.fixture(scope="module")
def documents_server(tmp_path_factory, embeddings):
    """A server with an API key over its own corpus folder, which these tests change."""
    from api.main import create_app
    from ingest.pipeline import ingest_paths
    from rag.factory import load_answerer

    corpus = tmp_path_factory.mktemp("documents-corpus")
    for name, text in CORPUS_FILES.items():
        (corpus / name).write_text(text, encoding="utf-8")
    settings = make_settings(
        tmp_path_factory.mktemp("documents-data"),
        corpus,
        max_file_bytes=MAX_FILE_BYTES,
        api_key=SecretStr(TEST_API_KEY),
    )
    summary = ingest_paths(None, settings, embedder_factory=lambda: embeddings, progress=False)
    assert summary.added == len(CORPUS_FILES) - 1 and summary.failed == []
    server, thread, port = start_server(create_app(settings, answerer=load_answerer(settings, embeddings)))
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", settings, server)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def client(server: LiveServer, key: bool = True) -> httpx.Client:
    return httpx.Client(base_url=server.base_url, headers=KEY if key else {}, timeout=120)


def upload(http: httpx.Client, name: str, content: bytes, kind: str = "text/plain") -> httpx.Response:
    return http.post("/v1/documents", files={"file": (name, content, kind)})


def listed(http: httpx.Client) -> dict[str, dict]:
    response = http.get("/v1/sources")
    assert response.status_code == 200, response.text
    return {source["source_id"]: source for source in response.json()["sources"]}


def folder(server: LiveServer) -> list[str]:
    """Every entry of the corpus folder, hidden ones included (an upload's part file would show)."""
    return sorted(p.name for p in Path(server.settings.corpus_dir).iterdir())


def message(response: httpx.Response) -> str:
    return response.json()["error"]["message"]


def test_an_uploaded_document_is_answered_from_and_a_deleted_one_is_gone(documents_server):
    with client(documents_server) as http:
        response = upload(http, NEW_NAME, NEW_TEXT.encode(), "text/markdown")
        assert response.status_code == 201, response.text
        added = response.json()
        assert added["source"]["source_id"] == "varnholm-light"
        assert added["source"]["title"].startswith("The Varnholm Lighthouse and the Keepers")
        assert added["source"]["short_title"].endswith("…") and len(added["source"]["short_title"]) <= 61
        assert added["source"]["chunks"] >= 1 and "First light" in added["source"]["sections"]
        assert "1 added" in added["ingest"]
        assert NEW_NAME in folder(documents_server)

        source = listed(http)["varnholm-light"]
        assert source["kind"] is None or isinstance(source["kind"], str)
        assert source["chunks"] == added["source"]["chunks"]
        answer = http.post("/v1/ask", json={"question": NEW_QUESTION}).json()
        assert not answer["abstained"]
        assert answer["citations"][0]["source_id"] == "varnholm-light"
        assert "1873" in answer["citations"][0]["quote"]

        response = http.delete("/v1/documents/varnholm-light")
        assert response.status_code == 200, response.text
        assert response.json()["source_id"] == "varnholm-light" and "1 removed" in response.json()["ingest"]
        assert "varnholm-light" not in listed(http) and NEW_NAME not in folder(documents_server)
        after = http.post("/v1/ask", json={"question": NEW_QUESTION}).json()
        assert all(c["source_id"] != "varnholm-light" for c in after["citations"])
        assert http.get("/v1/sources/varnholm-light").status_code == 404

        gone = http.delete("/v1/documents/varnholm-light")
        assert gone.status_code == 404 and "no document 'varnholm-light'" in message(gone)


@pytest.mark.parametrize(
    ("name", "content", "status", "words"),
    [
        ("notes.docx", b"PK\x03\x04 a word file", 415, "not a type ingest reads"),
        ("script.sh", b"echo hi", 415, "not a type ingest reads"),
        ("big.txt", b"x" * (MAX_FILE_BYTES + 1), 413, f"limit of {MAX_FILE_BYTES} bytes"),
        ("../escape.txt", b"Out of the folder.", 400, "is a path"),
        ("sub/inner.txt", b"Into a folder.", 400, "is a path"),
        (".hidden.txt", b"Hidden.", 400, "is hidden"),
        ("semi;colon<tag>.txt", b"Odd name.", 400, "not a plain name"),
        ("draft-plans.txt", b"Not for answering yet.", 422, ".qaignore leaves this name out"),
        ("empty.txt", b"", 400, "is empty"),
        ("harbour.txt", b"Another harbour.", 409, "delete it first"),
        ("harbour.md", b"# Another harbour", 409, "same source id 'harbour'"),
        ("broken.pdf", b"%PDF-1.4 this is not really a PDF", 422, "broken.pdf"),
    ],
)
def test_a_refused_upload_says_why_and_changes_nothing(documents_server, name, content, status, words):
    with client(documents_server) as http:
        before_files, before_sources = folder(documents_server), listed(http)
        response = upload(http, name, content)
        assert response.status_code == status, response.text
        assert words in message(response)
        assert folder(documents_server) == before_files
        assert listed(http) == before_sources


def test_uploads_need_the_key_and_a_multipart_form(documents_server):
    before = folder(documents_server)
    with client(documents_server, key=False) as http:
        refused = upload(http, "keyless.txt", b"No key was sent with this file.")
        assert refused.status_code == 401 and "API key" in message(refused)
        assert http.delete("/v1/documents/harbour").status_code == 401
    with client(documents_server) as http:
        not_a_form = http.post("/v1/documents", json={"file": "text"})
        assert not_a_form.status_code == 415 and "multipart/form-data" in message(not_a_form)
        no_file = http.post("/v1/documents", files={"other": ("a.txt", b"text", "text/plain")})
        assert no_file.status_code == 400 and "field named 'file'" in message(no_file)
    assert declared_too_large(documents_server).startswith(b"HTTP/1.1 413")
    assert folder(documents_server) == before
    assert "harbour.txt" in before


def declared_too_large(server: LiveServer) -> bytes:
    """The status line for a body that declares a gigabyte: refused before it is sent (httpx
    will not send a Content-Length its body does not have, so this speaks HTTP itself)."""
    host, port = server.base_url.removeprefix("http://").split(":")
    head = (
        "POST /v1/documents HTTP/1.1\r\nHost: test\r\n"
        f"Authorization: Bearer {TEST_API_KEY}\r\n"
        "Content-Type: multipart/form-data; boundary=x\r\nContent-Length: 1000000000\r\n\r\n--x\r\n"
    )
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(head.encode())
        return sock.recv(4096).split(b"\r\n", 1)[0]


def hold_ingest_lock(settings) -> subprocess.Popen:
    """Another process holding the ingest lock, as a running `qa ingest` does."""
    code = (
        "import sys; from rag.settings import Settings; from ingest.pipeline import ingest_lock\n"
        f"with ingest_lock(Settings(data_dir={str(settings.data_dir)!r})):\n"
        "    print('held', flush=True); sys.stdin.read()\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=Path.cwd()
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    return holder


def test_while_another_process_ingests_uploads_and_deletes_are_409(documents_server):
    holder = hold_ingest_lock(documents_server.settings)
    try:
        with client(documents_server) as http:
            before_files, before_sources = folder(documents_server), listed(http)
            busy = upload(http, "while-busy.txt", b"Written while another ingest runs.")
            assert busy.status_code == 409 and "another ingest is running" in message(busy)
            busy_delete = http.delete("/v1/documents/harbour")
            assert busy_delete.status_code == 409 and "another ingest is running" in message(busy_delete)
            assert folder(documents_server) == before_files and listed(http) == before_sources
    finally:
        holder.communicate("", timeout=30)


def test_a_second_change_while_this_server_ingests_is_409_and_progress_shows_the_stage(documents_server):
    results: dict[str, httpx.Response] = {}

    def first_upload() -> None:
        with client(documents_server) as http:
            results["first"] = upload(http, "ferry.txt", b"The Ferry\n\nThe Kessmouth ferry first sailed in 1921.")

    worker = threading.Thread(target=first_upload)
    stages = set()
    with client(documents_server) as http:
        worker.start()
        deadline = time.monotonic() + 60
        second = None
        while worker.is_alive() and time.monotonic() < deadline:
            progress = http.get("/v1/documents/progress").json()
            if progress["running"]:
                stages.add(progress["stage"])
                if second is None:
                    second = upload(http, "second.txt", b"A second file sent meanwhile.")
            time.sleep(0.02)
        worker.join(timeout=60)
        assert results["first"].status_code == 201, results["first"].text
        assert second is not None, "the first upload finished before a second could be sent"
        assert second.status_code == 409 and "another upload or delete" in message(second)
        assert stages & {"indexing", "loading the new index"}
        assert http.get("/v1/documents/progress").json() == {"running": False, "stage": None, "file": None}
        assert "second.txt" not in folder(documents_server)
        assert http.delete("/v1/documents/ferry").status_code == 200
