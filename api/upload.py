"""Receiving one uploaded file (`multipart/form-data`, field `file`) into a hidden file in the
corpus folder, checked while it arrives rather than after.

The body is parsed as a stream (python-multipart's push parser), so memory stays at one network
piece whatever the client sends: the name and type are checked from the part's headers before a
byte of it is written, the file is cut off the moment it passes QA_MAX_FILE_BYTES (the limit
ingest itself applies), and the whole body may carry only a little framing beyond that. What
arrives is written to `.upload-*.part` beside its final name (same folder, so the rename that
publishes it is atomic; hidden, so no ingest reads it half-written) and flushed to disk. The part's
name says which process writes it, and before each upload the parts of uploads that never ended
(their server was killed) are removed (api/parts.py).
"""

from __future__ import annotations

import os
import re
import tempfile
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from fastapi import HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from python_multipart import MultipartParser
from python_multipart.multipart import parse_options_header

from api.parts import SUFFIX, part_prefix, remove_stale_parts

# The form's framing and part headers around the file; a body longer than the file limit plus
# this is refused without reading further.
FRAMING_BYTES = 16_384
MAX_NAME_CHARS = 120
_PLAIN = re.compile(r"[^\W_][\w .-]*", re.UNICODE)


def name_problem(name: str) -> str | None:
    """Why `name` is not a plain file name to store in the corpus folder, or None when it is:
    one path segment, not hidden, letters, digits, spaces, '.', '_' and '-' only, with a type
    ingest reads."""
    if not name:
        return "the upload has no file name"
    if "/" in name or "\\" in name or ".." in name:
        return f"file name {name[:MAX_NAME_CHARS]!r} is a path; send a plain file name"
    if name.startswith("."):
        return f"file name {name[:MAX_NAME_CHARS]!r} is hidden (starts with '.')"
    if len(name) > MAX_NAME_CHARS or unicodedata.normalize("NFC", name) != name or not _PLAIN.fullmatch(name):
        return (
            f"file name {name[:MAX_NAME_CHARS]!r} is not a plain name: use at most {MAX_NAME_CHARS} letters, "
            "digits, spaces, '.', '_' or '-', starting with a letter or digit"
        )
    return None


def type_problem(name: str) -> str | None:
    """Why ingest would not read a file of this name's type (by its suffix, as ingest decides)."""
    from ingest.load import SUPPORTED_SUFFIXES

    if Path(name).suffix.lower() in SUPPORTED_SUFFIXES:
        return None
    return f"{name!r} is not a type ingest reads: send one of {', '.join(SUPPORTED_SUFFIXES)}"


@dataclass
class Received:
    """The uploaded file: its checked name, the hidden file holding it, its size."""

    name: str
    path: Path
    size: int = 0


@dataclass
class _Form:
    """What the push parser's callbacks have seen so far."""

    folder: Path
    max_bytes: int
    headers: dict[bytes, bytes] = field(default_factory=dict)
    header: tuple[bytes, bytes] = (b"", b"")
    received: Received | None = None
    out: BinaryIO | None = None
    done: bool = False
    error: HTTPException | None = None

    def header_field(self, data: bytes, start: int, end: int) -> None:
        self.header = (self.header[0] + data[start:end], self.header[1])

    def header_value(self, data: bytes, start: int, end: int) -> None:
        self.header = (self.header[0], self.header[1] + data[start:end])

    def header_end(self) -> None:
        self.headers[self.header[0].lower()] = self.header[1]
        self.header = (b"", b"")

    def headers_finished(self) -> None:
        _, params = parse_options_header(self.headers.pop(b"content-disposition", b""))
        self.headers.clear()
        if params.get(b"name") != b"file" or self.error is not None:
            return  # another field: its bytes are not kept
        if self.received is not None:
            self.error = HTTPException(400, "send one file per request")
            return
        self.error = self._open(params.get(b"filename", b""))

    def _open(self, raw: bytes) -> HTTPException | None:
        try:
            name = raw.decode("utf-8")
        except UnicodeDecodeError:
            return HTTPException(400, "the file name is not valid UTF-8; rename the file")
        if problem := name_problem(name):
            return HTTPException(400, problem)
        if problem := type_problem(name):
            return HTTPException(415, problem)
        self.folder.mkdir(parents=True, exist_ok=True)
        descriptor, temp = tempfile.mkstemp(prefix=part_prefix(), suffix=SUFFIX, dir=self.folder)
        self.out = os.fdopen(descriptor, "wb")
        self.received = Received(name, Path(temp))
        return None

    def part_data(self, data: bytes, start: int, end: int) -> None:
        if self.out is None or self.received is None or self.error is not None:
            return
        self.received.size += end - start
        if self.received.size > self.max_bytes:
            limit = self.max_bytes
            self.error = HTTPException(413, f"the file is larger than the limit of {limit} bytes (QA_MAX_FILE_BYTES)")
            return
        self.out.write(data[start:end])

    def part_end(self) -> None:
        if self.out is not None and not self.out.closed and self.error is None:
            self.out.flush()
            os.fsync(self.out.fileno())  # on disk before the rename makes it a document
            self.out.close()
            self.done = True


def _boundary(request: Request) -> bytes:
    kind, params = parse_options_header(request.headers.get("content-type", ""))
    if kind != b"multipart/form-data" or not params.get(b"boundary"):
        raise HTTPException(415, "send the document as multipart/form-data, in a form field named 'file'")
    return params[b"boundary"]


def _parser(form: _Form, boundary: bytes) -> MultipartParser:
    callbacks = {
        "on_header_field": form.header_field,
        "on_header_value": form.header_value,
        "on_header_end": form.header_end,
        "on_headers_finished": form.headers_finished,
        "on_part_data": form.part_data,
        "on_part_end": form.part_end,
    }
    return MultipartParser(boundary, callbacks)  # type: ignore[arg-type]


async def receive_upload(request: Request, folder: Path, max_bytes: int) -> Received:
    """Read the request's one file into a hidden file in `folder`. Raises HTTPException (400 bad
    form or name, 413 too large, 415 wrong type) with nothing left behind."""
    boundary = _boundary(request)
    limit = max_bytes + FRAMING_BYTES
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"the upload declares {declared} bytes; the file limit is {max_bytes} bytes")
    await run_in_threadpool(remove_stale_parts, folder)
    form = _Form(folder, max_bytes)
    try:
        await _feed(request, _parser(form, boundary), form, limit)
        if form.received is None or not form.done:
            raise HTTPException(400, "no file in the form: send it in a field named 'file'")
        if form.received.size == 0:
            raise HTTPException(400, f"{form.received.name} is empty")
    except BaseException:
        _discard(form)
        raise
    return form.received


async def _feed(request: Request, parser: MultipartParser, form: _Form, limit: int) -> None:
    from python_multipart.exceptions import MultipartParseError

    total = 0
    async for piece in request.stream():
        total += len(piece)
        if total > limit:
            raise HTTPException(413, f"the upload is more than {limit} bytes; the file limit is {form.max_bytes}")
        try:
            parser.write(piece)
        except MultipartParseError as error:
            raise HTTPException(400, f"the form could not be read: {error}") from None
        if form.error is not None:
            raise form.error
    parser.finalize()


def _discard(form: _Form) -> None:
    if form.out is not None:
        form.out.close()
    if form.received is not None:
        form.received.path.unlink(missing_ok=True)
