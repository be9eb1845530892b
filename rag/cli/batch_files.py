"""Files of `qa batch`: reading the questions (CSV or JSONL) and keeping the answers file.

The answers file is the batch's memory. Rows are appended and flushed one at a time, so a run
that is killed keeps every complete row; on the next run `AnswerFile.resume()` drops a torn last
row (a kill mid-write) and the rows that failed, and returns the ids already answered.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from rag.errors import InputError

FORMATS = (".csv", ".jsonl")
FIELDS = ("id", "question", "answer", "abstained", "citations", "error")


@dataclass
class InputRow:
    """One question as read. `problem` is set when the row cannot be asked (it is still recorded)."""

    line: int
    id: str
    question: Any
    history: Any = None
    carried: dict[str, Any] = field(default_factory=dict)
    problem: str | None = None


def file_format(path: Path, role: str) -> str:
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise InputError(f"{role} must end in .csv or .jsonl, got {path.name!r}")
    return suffix[1:]


def _read_text(path: Path, role: str) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{role} {path} does not exist") from None
    except OSError as error:
        raise InputError(f"cannot read {role} {path}: {error.strerror or error}") from None
    try:
        return data.decode("utf-8-sig")  # a BOM, as spreadsheet exports write it, is fine
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise InputError(
            f"{role} {path} is not UTF-8 text (byte 0x{data[error.start]:02x} on line {line}); "
            "save it as UTF-8 and run again"
        ) from None


def _carried_name(name: str) -> str:
    # An input column named like an output field (say an expected `answer`) must not be overwritten.
    return f"input_{name}" if name in FIELDS else name


def read_questions(path: Path) -> list[InputRow]:
    """All rows of INPUT, malformed ones included with their problem. Raises InputError only when
    the file as a whole is unusable (unreadable, not UTF-8, no `question` column)."""
    kind = file_format(path, "INPUT")
    text = _read_text(path, "INPUT")
    rows = _read_csv(text, path) if kind == "csv" else _read_jsonl(text)
    first_line: dict[str, int] = {}
    for row in rows:
        if row.id in first_line:
            row.problem = row.problem or f"duplicate id {row.id!r} (first on line {first_line[row.id]})"
        else:
            first_line[row.id] = row.line
    return rows


def _read_jsonl(text: str) -> list[InputRow]:
    rows = []
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        row = InputRow(line_no, f"line-{line_no}", None)
        rows.append(row)
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as error:
            row.problem = f"not valid JSON ({error.msg} at column {error.colno})"
            continue
        if not isinstance(raw, dict):
            row.problem = f"must be a JSON object, got {type(raw).__name__}"
            continue
        row.question, row.history = raw.get("question"), raw.get("history")
        row.carried = {_carried_name(k): v for k, v in raw.items() if k not in ("id", "question")}
        if "question" not in raw:
            row.problem = "question is missing"
        given = raw.get("id")
        if isinstance(given, (str, int)) and not isinstance(given, bool) and str(given).strip():
            row.id = str(given).strip()
        elif given is not None:
            row.problem = row.problem or f"id must be a non-empty string or a number, got {given!r}"
    return rows


def _read_csv(text: str, path: Path) -> list[InputRow]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [name.strip() for name in next(reader)]
    except StopIteration:
        raise InputError(f"INPUT {path} is empty; it needs a header row with a `question` column") from None
    except csv.Error as error:
        raise InputError(f"INPUT {path}: the header row is not valid CSV ({error})") from None
    lowered = [name.lower() for name in header]
    if "question" not in lowered:
        raise InputError(f"INPUT {path} has no `question` column (header: {', '.join(header) or 'empty'})")
    if len(set(lowered)) != len(lowered):
        raise InputError(f"INPUT {path} has a repeated column name (header: {', '.join(header)})")
    q_col = lowered.index("question")
    id_col = lowered.index("id") if "id" in lowered else None
    rows, previous_end = [], reader.line_num
    while True:
        start = previous_end + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as error:  # e.g. a NUL byte; the reader cannot go on past it
            rows.append(InputRow(start, f"line-{start}", None, problem=f"not valid CSV ({error})"))
            break
        previous_end = reader.line_num
        if not cells or all(not cell.strip() for cell in cells):
            continue
        row = InputRow(start, f"line-{start}", None)
        rows.append(row)
        if len(cells) > len(header):
            row.problem = f"has {len(cells)} fields, the header has {len(header)}"
            continue
        cells += [""] * (len(header) - len(cells))
        row.question = cells[q_col]
        if id_col is not None and cells[id_col].strip():
            row.id = cells[id_col].strip()
        row.carried = {_carried_name(name): cells[i] for i, name in enumerate(header) if i not in (q_col, id_col)}
    return rows


class AnswerFile:
    """OUTPUT, in the format its suffix names. Records are dicts: JSON values for JSONL, strings for
    CSV (citations as a JSON string, abstained as true/false)."""

    def __init__(self, path: Path, carried: list[str]) -> None:
        self.path = path
        self.format = file_format(path, "OUTPUT")
        self.columns = list(FIELDS) + [name for name in carried if name not in FIELDS]
        self._handle: TextIO | None = None

    def encode(self, record: dict[str, Any]) -> dict[str, Any]:
        if self.format == "jsonl":
            return record
        return {key: _csv_cell(key, value) for key, value in record.items()}

    def resume(self) -> tuple[set[str], bool]:
        """Keep the complete, error-free rows of an earlier run (rewriting OUTPUT without the rest);
        returns their ids and whether a torn last row was dropped."""
        if not self.path.exists() or self.path.stat().st_size == 0:
            self._rewrite([])
            return set(), False
        records, torn = self._read()
        kept, done = [], set()
        for record in records:
            if not record.get("error") and record["id"] not in done:
                kept.append(record)
                done.add(record["id"])
        self._rewrite(kept)
        return done, torn

    def append(self, record: dict[str, Any]) -> None:
        if self._handle is None:
            self._handle = self.path.open("a", encoding="utf-8", newline="")
        if self.format == "jsonl":
            self._handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        else:
            writer = csv.DictWriter(self._handle, self.columns, lineterminator="\n", extrasaction="ignore")
            writer.writerow(self.encode(record))
        # Flushed to the OS per row: a killed process keeps every complete row (no fsync: we
        # guard against kills, not power cuts, and fsync per row would dominate the run time).
        self._handle.flush()

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def put_in_order(self, ids: list[str]) -> None:
        """Rewrite OUTPUT in INPUT order (a resumed run appends out of order); no-op when it is."""
        self.close()
        records, _ = self._read()
        position = {row_id: i for i, row_id in reversed(list(enumerate(ids)))}
        ordered = sorted(records, key=lambda r: position.get(r["id"], len(ids)))
        if ordered != records:
            self._rewrite(ordered)

    def _read(self) -> tuple[list[dict[str, Any]], bool]:
        text = _read_text(self.path, "OUTPUT")
        return self._read_jsonl(text) if self.format == "jsonl" else self._read_csv(text)

    def _read_jsonl(self, text: str) -> tuple[list[dict[str, Any]], bool]:
        lines = text.split("\n")
        complete, tail = lines[:-1], lines[-1]  # text after the last newline is a torn row
        records = []
        for line_no, line in enumerate(complete, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                record = None
            if not isinstance(record, dict) or not isinstance(record.get("id"), str):
                raise InputError(
                    f"OUTPUT {self.path} line {line_no} is not an answer row; "
                    "fix or delete that line, or choose another OUTPUT"
                )
            records.append(record)
        return records, bool(tail.strip())

    def _read_csv(self, text: str) -> tuple[list[dict[str, Any]], bool]:
        ends_cleanly = text.endswith("\n")
        reader = csv.reader(io.StringIO(text, newline=""), strict=True)
        header = next(reader, None)
        if header is None or header[: len(FIELDS)] != list(FIELDS):
            raise InputError(
                f"OUTPUT {self.path} is not a `qa batch` answers file (its header is not "
                f"{','.join(FIELDS)},...); choose another OUTPUT"
            )
        self.columns += [name for name in header if name not in self.columns]
        cells_list, torn = [], False
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                break
            except csv.Error:  # an unterminated quote: only a torn last row does that
                torn = True
                break
            cells_list.append((reader.line_num, cells))
        if cells_list and not ends_cleanly:
            cells_list.pop()
            torn = True
        records = []
        for i, (line_no, cells) in enumerate(cells_list):
            if not cells:
                continue
            if len(cells) != len(header) or not _json_list(cells[FIELDS.index("citations")]):
                if i == len(cells_list) - 1:
                    torn = True
                    break
                raise InputError(
                    f"OUTPUT {self.path} line {line_no} is not an answer row; "
                    "fix or delete that row, or choose another OUTPUT"
                )
            records.append(dict(zip(header, cells, strict=True)))
        return records, torn

    def _rewrite(self, records: list[dict[str, Any]]) -> None:
        """Replace OUTPUT atomically, so a kill during the rewrite leaves the old file whole."""
        self.close()
        temporary = self.path.with_name(self.path.name + ".tmp")
        try:
            with temporary.open("w", encoding="utf-8", newline="") as handle:
                if self.format == "jsonl":
                    handle.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
                else:
                    writer = csv.DictWriter(handle, self.columns, lineterminator="\n", extrasaction="ignore")
                    writer.writeheader()
                    writer.writerows(records)
            temporary.replace(self.path)
        except OSError as error:
            raise InputError(f"cannot write OUTPUT {self.path}: {error.strerror or error}") from None


def _json_list(cell: str) -> bool:
    try:
        return isinstance(json.loads(cell), list)
    except ValueError:
        return False


def _csv_cell(key: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if key == "citations" or isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)
