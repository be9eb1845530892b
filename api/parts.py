"""The hidden part files an upload is received into (api/upload.py), named for the process that
writes them, and the removal of those that no running upload owns.

A server killed in the middle of an upload leaves its part behind: hidden, so never ingested, and
never renamed into place. So before each upload, and when `qa serve` starts, parts whose owner is
gone are removed, each with a warning on the log. A part's name says who owns it:

    .upload-<host>-<runtime>-<pid>-<started>-<random>.part

host is a hash of the host name, runtime one of the boot id and the PID namespace (a PID means a
process only within those), pid the process and started its start time (so a PID used again by a
later process is not taken for the owner). A part from here (same host and runtime) is stale when
its process is gone; another server on the same folder, in the middle of its own upload, keeps
its part. A part whose owner cannot be looked up from here (another machine or container sharing
the folder, an earlier boot, a name from before owners were recorded) is removed only once it has
not been written to for UNCHECKED_STALE_S: a running upload writes as its bytes arrive.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import socket
import time
from functools import lru_cache
from pathlib import Path

logger = logging.getLogger(__name__)

PREFIX = ".upload-"
SUFFIX = ".part"
UNCHECKED_STALE_S = 24 * 3600
_OWNED = re.compile(r"\.upload-([0-9a-f]{8})-([0-9a-f]{8})-(\d+)-(\d+)-[A-Za-z0-9_]+\.part")


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError:  # not Linux, or /proc not mounted: the runtime is then the host's alone
        return ""


@lru_cache(maxsize=1)
def _here() -> tuple[str, str]:
    """(host, runtime) of this process, as part names carry them."""
    runtime = _read("/proc/sys/kernel/random/boot_id") + "|" + _pid_namespace()
    return _digest(socket.gethostname()), _digest(runtime)


def _pid_namespace() -> str:
    try:
        return str(Path("/proc/self/ns/pid").readlink())
    except OSError:
        return ""


def _stat(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def _start_time(stat: str) -> int:
    # Field 22 of /proc/<pid>/stat, in clock ticks after boot; the command name (field 2) is in
    # parentheses and may hold spaces.
    return int(stat.rpartition(")")[2].split()[19])


def _owner_runs(pid: int, started: int) -> bool:
    """Whether the process that wrote a part of this runtime still runs: one with its id and its
    start time. Where /proc cannot show it (not Linux, or a /proc that hides other users'
    processes), any process with its id is taken for it: a part is kept rather than lost."""
    stat = _stat(pid)
    if stat is not None:
        return _start_time(stat) == started
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it runs
        return True
    return True


def part_prefix() -> str:
    """The start of this process's part file names (tempfile adds the random part and suffix)."""
    host, runtime = _here()
    pid = os.getpid()
    stat = _stat(pid)
    return f"{PREFIX}{host}-{runtime}-{pid}-{_start_time(stat) if stat else 0}-"


def stale_reason(name: str, modified: float, now: float) -> str | None:
    """Why the part file `name`, last written at `modified`, belongs to no running upload; None
    when it may."""
    owned = _OWNED.fullmatch(name)
    if owned is not None and owned.group(1, 2) == _here():
        pid, started = int(owned.group(3)), int(owned.group(4))
        return None if _owner_runs(pid, started) else f"process {pid}, which was receiving it, is gone"
    if now - modified > UNCHECKED_STALE_S:
        return f"not written to for {(now - modified) / 3600:.0f} hours"
    return None


def remove_stale_parts(folder: Path) -> list[Path]:
    """Remove the part files in `folder` that no running upload owns; returns them. A folder that
    is not there or cannot be read has none to remove; one that cannot be removed is logged and
    left (ingest never reads it)."""
    try:
        with os.scandir(folder) as scan:
            entries = [entry for entry in scan if entry.name.startswith(PREFIX) and entry.name.endswith(SUFFIX)]
    except OSError:
        return []
    removed: list[Path] = []
    now = time.time()
    for entry in entries:
        try:
            if not entry.is_file(follow_symlinks=False):
                continue
            reason = stale_reason(entry.name, entry.stat(follow_symlinks=False).st_mtime, now)
            if reason is None:
                continue
            Path(entry.path).unlink()
        except FileNotFoundError:  # removed meanwhile: by its upload, or by another server
            continue
        except OSError as error:
            logger.warning("could not remove %s from %s: %s", entry.name, folder, error.strerror or error)
            continue
        logger.warning("removed %s from %s: an upload that did not finish (%s)", entry.name, folder, reason)
        removed.append(Path(entry.path))
    return removed
