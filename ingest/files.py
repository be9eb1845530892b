"""Which files in a corpus folder may be read, and reading one safely.

A corpus folder is untrusted: it may hold links to files elsewhere (`/etc/passwd`), device files
(`/dev/zero` never ends), FIFOs (opening one blocks until a writer comes), sparse files of
gigabytes, and names that are not valid UTF-8. So:
- a symbolic link is followed only when it points at a regular file inside the folder being
  scanned; a link to a folder is never walked;
- only regular files are read, opened without following a link and without blocking, and their
  type and size are checked on the open file before a byte is read;
- a file is read in bounded pieces, never more than the size limit plus one piece;
- a name that is not valid UTF-8 is reported, not read (it could not be stored or shown).

Each refusal is a reason in words, for the ingest summary.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from rag.errors import LoadError

READ_PIECE = 1 << 20  # bytes per read: bounded memory whatever the file claims
# Flags where the platform has them: no following a link at the last step, no blocking on a FIFO.
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)


def shown(path: Path | str) -> str:
    """A path as it can be printed and stored: bytes that are not UTF-8 shown as escapes."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def refusal(candidate: Path, folder: Path) -> str | None:
    """Why `candidate`, found while scanning `folder`, must not be read; None when it may."""
    try:
        os.fsencode(candidate).decode("utf-8")
    except UnicodeDecodeError:
        return "the file name is not valid UTF-8; rename the file"
    try:
        link = candidate.lstat()
    except OSError as error:
        return f"cannot read: {error.strerror or error}"
    if stat.S_ISLNK(link.st_mode):
        target = candidate.resolve()
        if not target.is_relative_to(folder.resolve()):
            return "a symbolic link to a file outside the corpus folder; not followed"
        try:
            mode = target.stat().st_mode
        except OSError:
            return "a broken symbolic link"
        return None if stat.S_ISREG(mode) else f"a symbolic link to {_kind(mode)}; not followed"
    return None if stat.S_ISREG(link.st_mode) else f"{_kind(link.st_mode)}, not a regular file"


def read_regular(path: Path, max_bytes: int) -> bytes:
    """The bytes of a regular file of at most `max_bytes`, read in bounded pieces. A link is
    resolved first (discovery admitted it); the file itself is opened without following a further
    link or blocking, and checked on the open descriptor, so it cannot be swapped in between."""
    target = path.resolve() if path.is_symlink() else path
    try:
        descriptor = os.open(target, _OPEN_FLAGS)
    except OSError as error:
        raise LoadError(f"{shown(path)}: cannot read file ({error.strerror or error})") from error
    with os.fdopen(descriptor, "rb", buffering=0) as handle:
        status = os.fstat(descriptor)
        if not stat.S_ISREG(status.st_mode):
            raise LoadError(f"{shown(path)}: {_kind(status.st_mode)}, not a regular file")
        if status.st_size > max_bytes:
            raise LoadError(f"{shown(path)}: {status.st_size} bytes is larger than the limit of {max_bytes} bytes")
        pieces, total = [], 0
        while piece := handle.read(min(READ_PIECE, max_bytes + 1 - total)):
            pieces.append(piece)
            total += len(piece)
            if total > max_bytes:  # it grew after the check
                raise LoadError(f"{shown(path)}: more than the limit of {max_bytes} bytes")
    return b"".join(pieces)
