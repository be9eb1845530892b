"""Files in a corpus folder that must not be read: links out of the folder, links to folders,
FIFOs, devices, oversized sparse files and names that are not UTF-8. Each is reported by name with
a reason, nothing hangs or fills memory, and every other file is still ingested (real model, real
Chroma on disk)."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from ingest.files import READ_PIECE, read_regular, refusal
from ingest.load import discover, load_file
from rag.errors import LoadError
from tests.conftest import REPO, make_settings
from tests.ingest.test_pipeline import cli_env, ingest, run_cli
from tests.store_checks import assert_consistent

GOOD = "The harbour of Velmar was rebuilt in 1911. It has two piers and a lighthouse.\n"
SECRET = "root:x:0:0:secret account line that must never be served\n"


def _corpus(tmp_path: Path) -> tuple[Path, Path]:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "good.txt").write_text(GOOD, encoding="utf-8")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(SECRET, encoding="utf-8")
    return corpus, outside


@pytest.mark.unit
def test_links_out_of_the_folder_and_to_folders_are_not_followed(tmp_path: Path) -> None:
    corpus, outside = _corpus(tmp_path)
    (corpus / "passwd.txt").symlink_to(outside / "secret.txt")
    (corpus / "elsewhere").symlink_to(outside, target_is_directory=True)
    (corpus / "inner.txt").symlink_to(corpus / "good.txt")  # inside: the same file, once
    (corpus / "dangling.txt").symlink_to(corpus / "gone.txt")
    skipped: list[tuple[str, str]] = []
    found = discover([corpus], corpus, on_skip=lambda path, reason: skipped.append((path.name, reason)))
    assert [p.name for p in found] == ["good.txt"]
    reasons = dict(skipped)
    assert "outside the corpus folder" in reasons["passwd.txt"]
    assert "folder" in reasons["elsewhere"]
    assert "broken" in reasons["dangling.txt"]
    assert "inner.txt" not in reasons  # admitted, and de-duplicated with its target
    with pytest.raises(LoadError, match="outside the corpus folder"):
        discover([corpus / "passwd.txt"], corpus)


@pytest.mark.unit
def test_a_sidecar_that_links_out_is_refused_with_its_file(tmp_path: Path) -> None:
    corpus, outside = _corpus(tmp_path)
    (outside / "meta.yaml").write_text("title: Stolen\n", encoding="utf-8")
    (corpus / "good.meta.yaml").symlink_to(outside / "meta.yaml")
    with pytest.raises(LoadError, match=r"good\.meta\.yaml: a symbolic link to a file outside"):
        load_file(corpus / "good.txt", corpus)


@pytest.mark.unit
def test_special_files_are_refused_without_blocking_or_reading(tmp_path: Path) -> None:
    corpus, _ = _corpus(tmp_path)
    os.mkfifo(corpus / "pipe.txt")
    (corpus / "zero.txt").symlink_to("/dev/zero")  # outside, and a device
    assert refusal(corpus / "pipe.txt", corpus) == "a FIFO, not a regular file"
    assert "outside the corpus folder" in (refusal(corpus / "zero.txt", corpus) or "")
    # Even asked to read them directly, it neither blocks on the FIFO nor reads the device.
    done: list[str] = []

    def read_both() -> None:
        for path in (corpus / "pipe.txt", Path("/dev/zero")):
            with pytest.raises(LoadError, match="not a regular file"):
                read_regular(path, 1000)
            done.append(path.name)

    worker = threading.Thread(target=read_both, daemon=True)
    worker.start()
    worker.join(timeout=20)
    assert done == ["pipe.txt", "zero"], "reading a FIFO or a device blocked or read it"


@pytest.mark.unit
def test_a_sparse_file_over_the_limit_is_refused_before_a_byte_is_read(tmp_path: Path) -> None:
    big = tmp_path / "sparse.txt"
    with big.open("wb") as handle:
        handle.truncate(2 * 1024**3)  # 2 GB of holes: no disk used
    # Measured in a child process, so that this test's own earlier allocations do not count.
    code = (
        "import resource, sys\n"
        "from pathlib import Path\n"
        "from ingest.files import read_regular\n"
        "from rag.errors import LoadError\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "try:\n"
        f"    read_regular(Path({str(big)!r}), 20_000_000)\n"
        "except LoadError as error:\n"
        "    print(error)\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    message, grown_kb = out.stdout.strip().splitlines()
    assert "2147483648 bytes is larger than the limit of 20000000 bytes" in message
    assert int(grown_kb) < 50_000, f"peak memory grew by {grown_kb} KB reading a refused file"
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss > 0


@pytest.mark.unit
def test_reading_stops_one_piece_past_the_limit_when_a_file_grows(tmp_path: Path) -> None:
    small = tmp_path / "small.txt"
    small.write_bytes(b"x" * 100)
    assert read_regular(small, 100) == b"x" * 100
    with pytest.raises(LoadError, match="larger than the limit"):
        read_regular(small, 99)
    assert READ_PIECE <= 1 << 20


@pytest.mark.integration
def test_a_hostile_corpus_is_reported_file_by_file_and_the_rest_ingested(tmp_path: Path, embeddings) -> None:
    corpus, outside = _corpus(tmp_path)
    (corpus / "passwd.txt").symlink_to(outside / "secret.txt")
    (corpus / "elsewhere").symlink_to(outside, target_is_directory=True)
    os.mkfifo(corpus / "pipe.txt")
    bad_name = Path(os.fsdecode(os.fsencode(corpus) + b"/caf\xe9.txt"))  # Latin-1 bytes: not a UTF-8 name
    bad_name.write_bytes(GOOD.encode())
    (corpus / "zz-last.txt").write_text("The zz report names the Orlen bridge, opened in 1933.\n", encoding="utf-8")
    settings = make_settings(tmp_path / "data", corpus)
    summary, _ = ingest(settings, embeddings)
    failed = {Path(path).name: reason for path, reason in summary.failed}
    assert set(failed) == {"passwd.txt", "elsewhere", "pipe.txt", "caf\\xe9.txt"}
    assert "UTF-8" in failed["caf\\xe9.txt"]
    assert summary.added == 2  # good.txt and the file after the bad name
    got = assert_consistent(settings)
    assert {r["id"] for r in got["sources"]} == {"good", "zz-last"}
    assert not any("secret account" in r["document"] for r in got["chunks"])


@pytest.mark.integration
def test_the_cli_names_a_bad_file_name_without_a_traceback(tmp_path: Path) -> None:
    corpus, _ = _corpus(tmp_path)
    Path(os.fsdecode(os.fsencode(corpus) + b"/\xff\xfe.txt")).write_bytes(GOOD.encode())
    out = run_cli("ingest", env=cli_env(tmp_path / "data", corpus))
    assert "Traceback" not in out.stderr
    assert "\\xff\\xfe.txt" in out.stdout + out.stderr
    assert "1 added" in out.stdout
