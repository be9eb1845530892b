"""A corpus of hostile files beside good ones, through the real CLI: a zip renamed .pdf, a cut and
an encrypted PDF, HTML nested 10,000 tags deep, binary junk, Latin-1 text, an empty file, a 50 MB
text file, broken YAML front matter and a link out of the folder. Each is reported by name with a
reason and skipped; the good files (UTF-16 text with its byte order mark among them) are
ingested; and the peak memory of the run stays within a bound of a run over the good files alone,
measured in the same test."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO, make_settings
from tests.ingest.test_crash import cli_env
from tests.ingest.test_pipeline import BROKEN_PDF

pytestmark = pytest.mark.integration

# The hostile run may hold one limit-sized read more than the good run (QA_MAX_FILE_BYTES is 20 MB),
# plus the parsers' own working memory; a file read whole or a runaway parse would pass this.
EXTRA_MB_BOUND = 120
RUN_AND_MEASURE = (
    "import resource, sys\n"
    "from rag.cli.main import main\n"
    "code = main(['ingest', '--quiet'])\n"
    "print('MAXRSS_KB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
    "sys.exit(code)\n"
)
GOOD = {
    "railway.txt": b"The good file speaks of the northern railway. It was built in 1901.\n",
    "utf16.txt": "The treaty of the eastern harbour was signed in 1948 in Corvia.\n".encode("utf-16"),
}


def hostile_files(corpus: Path, outside: Path) -> dict[str, str]:
    """Writes them; returns each name with a word its reason must contain."""
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as packed:
        packed.writestr("inside.txt", "hello")
    (corpus / "archive.pdf").write_bytes(archive.getvalue())
    (corpus / "cut.pdf").write_bytes(BROKEN_PDF[:40])
    (corpus / "nested.html").write_text(
        "<html><body>" + "<div>" * 10_000 + "Deep." + "</div>" * 10_000 + "</body></html>"
    )
    (corpus / "junk.txt").write_bytes(os.urandom(1 << 16))
    (corpus / "latin1.txt").write_bytes("Caf\u00e9 cr\u00e8me in Z\u00fcrich.".encode("latin-1"))
    (corpus / "empty.md").write_bytes(b"")
    line = b"The long report on the harbour repeats itself, line after line, to make it large. " * 12 + b"\n"
    with (corpus / "big.txt").open("wb") as out:
        for _ in range((50 << 20) // len(line) + 1):
            out.write(line)
    (corpus / "frontmatter.md").write_text("---\ntitle: [unclosed\n  : : bad\n---\nThe bridge opened in 1920.\n")
    (outside / "secret.txt").write_text("root:x:0:0\n")
    (corpus / "passwd.txt").symlink_to(outside / "secret.txt")
    return {
        "archive.pdf": "PDF",
        "cut.pdf": "PDF",
        "nested.html": "content",
        "junk.txt": "binary",
        "latin1.txt": "UTF-8",
        "empty.md": "empty",
        "big.txt": "limit",
        "frontmatter.md": "YAML",
        "passwd.txt": "outside",
    }


def ingest_measured(settings) -> tuple[subprocess.CompletedProcess, float]:
    done = subprocess.run(
        [sys.executable, "-c", RUN_AND_MEASURE],
        cwd=REPO,
        env=cli_env(settings),
        capture_output=True,
        text=True,
        timeout=600,
    )
    peak = re.search(r"MAXRSS_KB (\d+)", done.stderr)
    assert peak, done.stderr[-2000:]
    return done, int(peak.group(1)) / 1024


def test_hostile_files_are_named_and_skipped_the_rest_ingested_in_bounded_memory(tmp_path):
    good_corpus, hostile_corpus, outside = tmp_path / "good", tmp_path / "hostile", tmp_path / "outside"
    for folder in (good_corpus, hostile_corpus, outside):
        folder.mkdir()
    for name, data in GOOD.items():
        (good_corpus / name).write_bytes(data)
        (hostile_corpus / name).write_bytes(data)
    expected = hostile_files(hostile_corpus, outside)

    baseline, baseline_mb = ingest_measured(make_settings(tmp_path / "good-data", good_corpus))
    assert baseline.returncode == 0 and baseline.stdout.startswith("ingest: 2 added"), baseline.stderr[-2000:]
    hostile, hostile_mb = ingest_measured(make_settings(tmp_path / "hostile-data", hostile_corpus))
    print(f"\npeak memory: {baseline_mb:.0f} MB over the good files, {hostile_mb:.0f} MB with the hostile ones")
    assert hostile.returncode == 0, hostile.stderr[-2000:]
    assert hostile.stdout.startswith(f"ingest: 2 added, 0 updated, 0 unchanged, 0 removed, {len(expected)} failed")
    assert "Traceback" not in hostile.stderr
    skipped = dict(re.findall(r"skipped \S+/(\S+?): (.*)", hostile.stderr))
    assert set(skipped) == set(expected), skipped
    for name, word in expected.items():
        assert word.lower() in skipped[name].lower(), (name, skipped[name])
        assert not skipped[name].startswith(str(hostile_corpus)), "the path is said once, not twice"
    assert hostile_mb <= baseline_mb + EXTRA_MB_BOUND
