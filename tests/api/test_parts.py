"""Which hidden upload parts are stale (api/parts.py), on real files and real processes: this
test's own process is a running owner, a process started and ended here a gone one."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time

import pytest

from api.parts import UNCHECKED_STALE_S, part_prefix, remove_stale_parts, stale_reason

pytestmark = pytest.mark.unit

DAY_AND_AN_HOUR = UNCHECKED_STALE_S + 3600


def ended_process_prefix() -> str:
    told = subprocess.run(
        [sys.executable, "-c", "from api.parts import part_prefix; print(part_prefix())"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return told.stdout.strip()


def test_a_part_of_a_running_process_is_kept_and_one_of_an_ended_process_is_not():
    now = time.time()
    assert stale_reason(part_prefix() + "abc_1234.part", now, now) is None
    ended = ended_process_prefix()
    pid = ended.split("-")[3]
    assert stale_reason(ended + "abc_1234.part", now, now) == f"process {pid}, which was receiving it, is gone"


def test_a_running_process_with_the_owners_id_but_not_its_start_is_not_the_owner():
    # A process id used again: this process's id, with a start time that is not its own.
    host, runtime, pid, started = part_prefix().removeprefix(".upload-").rstrip("-").split("-")
    now = time.time()
    name = f".upload-{host}-{runtime}-{pid}-{int(started) + 1}-abc_1234.part"
    assert stale_reason(name, now, now) is not None


@pytest.mark.parametrize(
    "name",
    [
        ".upload-00000000-00000000-1-1-abc_1234.part",  # another machine, container or boot
        ".upload-abc_1234.part",  # named before parts carried their owner
    ],
)
def test_a_part_whose_owner_cannot_be_looked_up_goes_only_when_untouched_for_a_day(name):
    now = time.time()
    assert stale_reason(name, now - 60, now) is None
    assert stale_reason(name, now - DAY_AND_AN_HOUR, now) == "not written to for 25 hours"


def test_only_stale_parts_are_removed_and_each_removal_is_logged(tmp_path, caplog):
    live = part_prefix() + "live0000.part"
    dead = ended_process_prefix() + "dead0000.part"
    old, fresh = ".upload-old00000.part", ".upload-fresh000.part"
    for name in (live, dead, old, fresh, "notes.upload-x.part", "report.txt"):
        (tmp_path / name).write_bytes(b"x")
    os.utime(tmp_path / old, (time.time() - DAY_AND_AN_HOUR,) * 2)
    (tmp_path / ".upload-folder0.part").mkdir()
    with caplog.at_level(logging.WARNING, logger="api.parts"):
        removed = remove_stale_parts(tmp_path)
    assert sorted(path.name for path in removed) == sorted([dead, old])
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(
        [live, fresh, "notes.upload-x.part", "report.txt", ".upload-folder0.part"]
    )
    logged = [record.getMessage() for record in caplog.records]
    assert len(logged) == 2 and any(dead in line for line in logged) and any(old in line for line in logged)
    assert remove_stale_parts(tmp_path / "absent") == []
