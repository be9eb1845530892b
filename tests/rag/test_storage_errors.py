"""Telling a full disk and read-only storage apart from other failures (rag/storage.py), by the
standard codes Chroma's layers report. The real faults are in tests/hardening/."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest
from chromadb.errors import InternalError

from rag.errors import StorageError
from rag.storage import storage_error, storage_problem

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("error", "problem"),
    [
        (OSError(errno.ENOSPC, "No space left on device"), "full"),
        (OSError(errno.EDQUOT, "Disk quota exceeded"), "full"),
        (OSError(errno.EROFS, "Read-only file system"), "read-only"),
        (InternalError("error returned from database: (code: 13) database or disk is full"), "full"),
        (InternalError("error returned from database: (code: 8) attempt to write a readonly database"), "read-only"),
        (InternalError("Error writing segment: No space left on device (os error 28)"), "full"),
        (InternalError("Error opening file: Read-only file system (os error 30)"), "read-only"),
        (InternalError("error returned from database: (code: 1) no such table"), None),
        (ValueError("a bug"), None),
    ],
)
def test_storage_problems_are_told_by_their_codes(error, problem):
    assert storage_problem(error) == problem


def test_a_cause_deep_in_the_chain_is_found_and_the_message_names_the_folder():
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError as inner:
            raise RuntimeError("writing failed") from inner
    except RuntimeError as outer:
        found = storage_error(outer, Path("/data/qa"))
    assert isinstance(found, StorageError) and "/data/qa" in str(found) and "full" in str(found)
    assert storage_error(KeyError("x"), Path("/data")) is None
