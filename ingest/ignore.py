"""What a corpus folder says is not a source: its `.qaignore` files, in gitignore syntax.

A corpus folder often holds files that document it (a README, a reading list) or drafts that
must not be answered from. Which ones is the folder's own business, so it says so in a
`.qaignore` file, read by `pathspec`'s implementation of git's rules (wildcards, `**`, a
trailing `/` for folders, `!` to take a file back). As with `.gitignore`, a `.qaignore` may sit in
any folder below the one given, and its patterns are relative to its own folder. The rules hold
wherever the folder is given from: they travel with it, not with the configured `corpus/`.
"""

from __future__ import annotations

from pathlib import Path

from pathspec import GitIgnoreSpec

from ingest.files import read_regular, refusal, shown
from rag.errors import LoadError

IGNORE_FILE = ".qaignore"
# A list of patterns, not a document: a larger file is a mistake, refused before it is read.
MAX_IGNORE_BYTES = 1 << 20


class IgnoreRules:
    """The `.qaignore` files of the folders met, each read once, each applying below its folder."""

    def __init__(self) -> None:
        self._specs: dict[Path, GitIgnoreSpec | None] = {}

    def spec_of(self, folder: Path) -> GitIgnoreSpec | None:
        """The patterns of `folder`'s own `.qaignore`, or None when it has none."""
        folder = folder.resolve()
        if folder not in self._specs:
            self._specs[folder] = _read_spec(folder / IGNORE_FILE)
        return self._specs[folder]

    def ignores(self, path: Path, top: Path) -> bool:
        """Whether a `.qaignore` in `top` or a folder between it and `path` lists `path`. The
        deepest one that has a say wins, as in git, so a sub-folder can take a file back."""
        path, top = path.absolute(), top.absolute()
        if not path.is_relative_to(top):
            top = path.parent
        verdict = False
        folder = path.parent
        folders = [folder, *[p for p in folder.parents if p.is_relative_to(top)]]
        for folder in reversed(folders):  # from `top` down, so the deepest one decides
            spec = self.spec_of(folder)
            if spec is None:
                continue
            result = spec.check_file(path.relative_to(folder).as_posix())
            if result.include is not None:
                verdict = result.include
        return verdict


def _read_spec(path: Path) -> GitIgnoreSpec | None:
    if not path.exists() and not path.is_symlink():
        return None
    if (reason := refusal(path, path.parent)) is not None:
        raise LoadError(f"{shown(path)}: {reason}")
    try:
        text = read_regular(path, MAX_IGNORE_BYTES).decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise LoadError(f"{shown(path)}: not UTF-8 text (byte {error.start}); save it as UTF-8") from None
    return GitIgnoreSpec.from_lines(text.splitlines())
