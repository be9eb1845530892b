"""A server killed in the middle of an upload leaves its hidden part file in the corpus folder;
the next server on that folder removes it and says so, but never the part of an upload that is
still running in another server. Real `qa serve` processes, a real SIGKILL."""

from __future__ import annotations

import signal
import socket
import time
from pathlib import Path

import httpx
import pytest

from tests.api.test_parts import ended_process_prefix
from tests.api.test_serve import SERVE_KEY, index_of_the_article, served, wait_healthy

pytestmark = pytest.mark.integration

KEY = {"Authorization": f"Bearer {SERVE_KEY}"}
BOUNDARY = "qa-test-boundary"
FILE_HEAD = (
    f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="unfinished.txt"\r\n'
    "Content-Type: text/plain\r\n\r\nThe first line of a file whose upload never ends.\n"
)


def parts(folder: Path) -> set[str]:
    return {path.name for path in folder.glob(".upload-*.part")}


def start_upload_and_stall(base_url: str) -> socket.socket:
    """Sends the request head and the start of the file, declaring more that never comes; the
    socket is returned open, so the server keeps waiting for the rest."""
    host, port = base_url.removeprefix("http://").split(":")
    connection = socket.create_connection((host, int(port)))
    head = (
        f"POST /v1/documents HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {SERVE_KEY}\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: 4000\r\n\r\n"
    )
    connection.sendall(head.encode() + FILE_HEAD.encode())
    return connection


def wait_for_new_part(folder: Path, before: set[str], process) -> str:
    """The part file the stalled upload made (polled: the server creates it when the form's file
    part begins)."""
    for _ in range(600):
        if new := parts(folder) - before:
            (name,) = new
            return name
        assert process.poll() is None, process.stderr.read()
        time.sleep(0.1)
    raise AssertionError(f"no part file appeared in {folder}")


@pytest.fixture
def own_settings(tmp_path, embeddings):
    """A corpus folder and an index of their own: these tests upload into them."""
    return index_of_the_article(tmp_path, embeddings)


def dead_process_part(corpus: Path) -> str:
    """A part named for a process that has ended: one started only to tell its prefix."""
    name = ended_process_prefix() + "ended000.part"
    (corpus / name).write_bytes(b"half a file")
    return name


def test_a_part_left_by_a_killed_server_is_removed_and_a_running_uploads_part_is_not(own_settings):
    corpus = own_settings.corpus_dir
    with served(own_settings) as (first, first_url):
        wait_healthy(first, first_url)
        stalled = start_upload_and_stall(first_url)
        orphan = wait_for_new_part(corpus, set(), first)
        assert orphan.split("-")[3] == str(first.pid)  # named for the server receiving it
        ended = dead_process_part(corpus)
        with served(own_settings) as (second, second_url):
            # The second server starts while the first is in the middle of its upload.
            wait_healthy(second, second_url)
            assert parts(corpus) == {orphan}, "a running upload's part was removed, or a dead one kept"
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=30)
            stalled.close()
            assert orphan in parts(corpus)  # nobody else removes it
            text = "Harbour report\n\nThe Kessmouth breakwater was finished in 1911 by the harbour board.\n"
            files = {"file": ("kessmouth.txt", text.encode(), "text/plain")}
            uploaded = httpx.post(f"{second_url}/v1/documents", headers=KEY, files=files, timeout=300)
            assert uploaded.status_code == 201, uploaded.text
            assert parts(corpus) == set() and (corpus / "kessmouth.txt").exists()
            second.send_signal(signal.SIGTERM)
            second.wait(timeout=30)
            said = second.stderr.read()
    assert orphan in said and f"process {first.pid}, which was receiving it, is gone" in said, said
    assert ended in said
