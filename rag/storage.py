"""Where the index lives: the Chroma client (on disk under QA_DATA_DIR, or a server at
QA_CHROMA_URL), and on this machine's disk, telling "disk full" and "read-only" apart from other
failures, and opening an index on read-only storage for reading.

Chroma reports both through its SQLite and Rust layers as plain error text, so they are told by
their standard codes: SQLite's result codes SQLITE_FULL (13) and SQLITE_READONLY (8)
(https://www.sqlite.org/rescode.html) as "(code: N)", and POSIX errno ENOSPC, EDQUOT and EROFS as
"(os error N)" from Rust's std::io.
"""

from __future__ import annotations

import atexit
import errno
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from rag.errors import ConfigError, StorageError
from rag.settings import Settings

if TYPE_CHECKING:
    from chromadb.api import ClientAPI

FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
READ_ONLY_ERRNOS = frozenset({errno.EROFS, errno.EACCES, errno.EPERM})
SQLITE_FULL, SQLITE_READONLY = 13, 8
CODE = re.compile(r"\((?:code|os error):? (\d+)\)")


def storage_problem(error: BaseException) -> str | None:
    """ "full" or "read-only" when `error` (or what caused it) is one of those, else None."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno is not None:
            if seen.errno in FULL_ERRNOS:
                return "full"
            if seen.errno in READ_ONLY_ERRNOS:
                return "read-only"
        text = str(seen)
        for code in (int(m.group(1)) for m in CODE.finditer(text)):
            sqlite = "(code" in text
            if (sqlite and code == SQLITE_FULL) or (not sqlite and code in FULL_ERRNOS):
                return "full"
            if (sqlite and code == SQLITE_READONLY) or (not sqlite and code == errno.EROFS):
                return "read-only"
        seen = seen.__cause__ or seen.__context__
    return None


def storage_error(error: BaseException, data_dir: Path) -> StorageError | None:
    """The clear error for a storage failure, or None when `error` is something else."""
    problem = storage_problem(error)
    if problem == "full":
        return StorageError(
            f"the disk holding {data_dir} is full: free some space and run `qa ingest` again "
            "(the index as it was before this run is still there and still served)"
        )
    if problem == "read-only":
        return StorageError(
            f"{data_dir} cannot be written (read-only storage or no permission): ingest needs a writable "
            "QA_DATA_DIR; answering can read an index there as it is"
        )
    return None


def writable(folder: Path) -> bool:
    """Can this process create files in `folder` (False on a read-only mount, even for root)?"""
    return os.access(folder, os.W_OK) and all(os.access(path, os.W_OK) for path in folder.glob("chroma.sqlite3*"))


def private_copy(folder: Path) -> Path:
    """A copy of a read-only index folder in the temporary directory, removed at exit. Chroma's
    embedded client writes to its database even to read (it opens it for writing), so an index
    on read-only storage is served from the copy."""
    target = Path(tempfile.mkdtemp(prefix="qa-read-only-index-"))
    atexit.register(shutil.rmtree, target, True)
    try:
        shutil.copytree(folder, target, dirs_exist_ok=True)
    except OSError as error:
        raise storage_error(error, target) or error from None
    return target


def open_client(settings: Settings, *, for_reading: bool = False) -> ClientAPI:
    """A Chroma client: on disk under QA_DATA_DIR, or a server at QA_CHROMA_URL. A reader
    (`for_reading`) of an index on read-only storage, or on a full disk, gets a private copy of it
    in the temporary directory."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings
    from chromadb.errors import ChromaError

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if settings.chroma_url:
        url = urlparse(settings.chroma_url)
        if not url.hostname:
            raise ConfigError(f"QA_CHROMA_URL has no host: {settings.chroma_url!r}")
        client = chromadb.HttpClient(
            host=url.hostname,
            port=url.port or (443 if url.scheme == "https" else 80),
            ssl=url.scheme == "https",
            settings=chroma_settings,
        )
        bound_server_calls(client, settings.chroma_timeout_s)
        return client
    folder = settings.chroma_dir
    if for_reading and folder.is_dir() and not writable(folder):
        folder = private_copy(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(folder), settings=chroma_settings)
    except (OSError, ChromaError) as error:
        if for_reading and folder == settings.chroma_dir and storage_problem(error) is not None:
            # A full disk refuses even the writes Chroma makes when it opens: read from a copy.
            return chromadb.PersistentClient(path=str(private_copy(folder)), settings=chroma_settings)
        raise storage_error(error, settings.data_dir) or error from None


def bound_server_calls(client: ClientAPI, seconds: float) -> None:
    """chromadb's HTTP client makes its httpx session with no timeout, so a server that stops
    answering (stopped, not gone) would hold every request forever. Its session is not public;
    when it is where chromadb 1.x keeps it, it gets QA_CHROMA_TIMEOUT_S."""
    import httpx

    session = getattr(getattr(client, "_server", None), "_session", None)
    if isinstance(session, httpx.Client):
        session.timeout = httpx.Timeout(seconds)
