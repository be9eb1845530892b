"""The snapshot's vector matrices as read-only files that every worker maps into memory.

A worker needs every sentence's and chunk's vector at hand (evidence selection reads the rows of
the chunks a question retrieved). At 100k chunks that is about half a million sentence vectors of
384 float32, some 770 MB, which each worker held in its own memory. Written once to a file and
mapped read-only, the pages belong to the kernel's page cache: every worker that maps the same
file shares them, the kernel can drop them under pressure, and a worker brings in only the pages
of the rows its questions read.

A file is named by a digest of its bytes, so a worker that loads the same index finds the file
another wrote, and a file can only hold the matrix its name says (it is written under a temporary
name and renamed when complete). When a file cannot be written or read (read-only or full
storage, or one removed between the check and the map), the matrix stays in the worker's own
memory, as before: the answers are the same either way.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

SUFFIX = ".f32.npy"


def mapped(matrix: np.ndarray, folder: Path | None, kind: str) -> np.ndarray:
    """`matrix`, or the same values mapped from `folder/<kind>-<digest>.f32.npy`."""
    if folder is None or matrix.size == 0:
        return matrix
    matrix = np.ascontiguousarray(matrix, dtype=np.float32)
    digest = hashlib.blake2b(matrix.data.cast("B"), digest_size=16)
    digest.update(repr(matrix.shape).encode("ascii"))
    path = folder / f"{kind}-{digest.hexdigest()}{SUFFIX}"
    try:
        if not path.exists():
            _write(matrix, path)
            _remove_others(folder, kind, keep=path)
        on_disk = np.load(path, mmap_mode="r")
    except (OSError, ValueError) as error:
        log.warning("the %s vectors stay in memory: %s could not be used (%s)", kind, path.name, type(error).__name__)
        return matrix
    if on_disk.shape != matrix.shape or on_disk.dtype != matrix.dtype:
        log.warning("the %s vectors stay in memory: %s holds another matrix", kind, path.name)
        return matrix
    return np.asarray(on_disk)


def _write(matrix: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        with partial.open("wb") as file:
            np.save(file, matrix)
            file.flush()
            os.fsync(file.fileno())
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)


def _remove_others(folder: Path, kind: str, keep: Path) -> None:
    """Files of earlier versions of the index. A worker that still maps one keeps its pages: an
    unlinked file lives on until its last mapping goes."""
    for other in folder.glob(f"{kind}-*{SUFFIX}"):
        if other != keep:
            other.unlink(missing_ok=True)
    for partial in folder.glob(f".{kind}-*.part"):  # left by a worker killed while writing
        pid = partial.suffixes[-2].lstrip(".") if len(partial.suffixes) >= 2 else ""
        if pid.isdigit() and not _alive(int(pid)):
            partial.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True
