"""Checks the structure tests share: every span slices back to its text, and sections tile it."""

from __future__ import annotations

import itertools

from ingest.structure import analyse

DEFAULT = "Doc title"


def assert_exact_spans(text: str, default: str = DEFAULT) -> None:
    sections, sentences = analyse(text, default)
    for s in sentences:
        assert 0 <= s.start < s.end <= len(text)
        assert text[s.start : s.end] == s.text
        assert s.text == s.text.strip(), f"sentence span not trimmed: {s.text!r}"
    assert [s.start for s in sentences] == sorted(s.start for s in sentences)
    # Sections tile the text: contiguous, from 0 to the end.
    assert sections[0].start == 0 and sections[-1].end == len(text)
    for before, after in itertools.pairwise(sections):
        assert before.end == after.start
