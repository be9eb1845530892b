"""Vector matrices mapped from shared files: the same values, one file per matrix, and the
worker's own memory when no file can be used."""

import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rag.vector_files import SUFFIX, mapped

pytestmark = pytest.mark.unit


def matrix(seed: int, rows: int = 300) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((rows, 384)).astype(np.float32)


def mapped_files(process_maps: str) -> set[str]:
    return {line.split()[-1] for line in process_maps.splitlines() if line.endswith(SUFFIX)}


def test_the_matrix_comes_back_from_a_file_the_process_maps(tmp_path):
    original = matrix(1)
    got = mapped(original, tmp_path, "sentences")
    assert np.array_equal(got, original) and got.dtype == np.float32 and not got.flags.writeable
    (written,) = tmp_path.glob(f"sentences-*{SUFFIX}")
    assert str(written) in mapped_files(Path("/proc/self/maps").read_text(encoding="utf-8"))
    again = mapped(original.copy(), tmp_path, "sentences")  # a second worker, the same index
    assert np.array_equal(again, original)
    assert list(tmp_path.glob(f"sentences-*{SUFFIX}")) == [written]


def test_a_new_index_replaces_the_old_file_and_a_mapping_of_the_old_one_still_reads(tmp_path):
    old = mapped(matrix(1), tmp_path, "sentences")
    new = mapped(matrix(2), tmp_path, "sentences")
    assert len(list(tmp_path.glob(f"sentences-*{SUFFIX}"))) == 1
    assert np.array_equal(old, matrix(1)) and np.array_equal(new, matrix(2))
    chunks = mapped(matrix(3, rows=40), tmp_path, "chunks")  # another kind is left alone by either
    assert np.array_equal(chunks, matrix(3, rows=40)) and len(list(tmp_path.iterdir())) == 2


def test_without_a_usable_folder_the_matrix_stays_in_memory(tmp_path, caplog):
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder", encoding="utf-8")
    original = matrix(4)
    with caplog.at_level(logging.WARNING, logger="rag.vector_files"):
        got = mapped(original, blocked / "vectors", "sentences")
    assert got is not None and np.array_equal(got, original) and got.flags.writeable
    assert "stay in memory" in caplog.text
    assert mapped(original, None, "sentences") is original


def test_a_part_left_by_a_dead_writer_goes_and_a_live_writers_stays(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_part = tmp_path / f".sentences-x{SUFFIX}.{int(dead.stdout)}.part"
    live_part = tmp_path / f".sentences-y{SUFFIX}.{os.getppid()}.part"
    for part in (dead_part, live_part):
        part.write_bytes(b"half")
    mapped(matrix(5), tmp_path, "sentences")
    assert not dead_part.exists() and live_part.exists()
