"""Splits a unified ``git diff`` patch into files and hunks for review, without loading anything but
the patch text. UI-free; the diff screen renders from it."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

_HUNK_NEW: Final = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,\d+)? @@")


@dataclass
class FileDiff:
    path: str
    lines: list[str] = field(default_factory=list)
    added: int = 0
    removed: int = 0
    hunks: list[int] = field(default_factory=list)  # line numbers (within ``lines``) of each @@ header
    binary: bool = False

    def rows_of(self, new_lines: Iterable[int]) -> dict[int, int]:
        """Where lines of the new version of the file are shown: each of ``new_lines`` (1-based) that an
        added or context line of a hunk carries, mapped to its index in :attr:`lines`. Lines the diff
        does not show (unchanged outside its hunks, or removed) are left out."""
        wanted = set(new_lines)
        rows: dict[int, int] = {}
        for i, start in enumerate(self.hunks):
            if len(rows) == len(wanted):
                break
            match = _HUNK_NEW.match(self.lines[start])
            if match is None:
                continue
            number = int(match.group(1))
            end = self.hunks[i + 1] if i + 1 < len(self.hunks) else len(self.lines)
            for index in range(start + 1, end):
                line = self.lines[index]
                if line.startswith(("-", "\\")):
                    continue  # removed, or "\ No newline at end of file"
                if number in wanted:
                    rows[number] = index
                number += 1
        return rows


def parse_patch(text: str) -> list[FileDiff]:
    """Lines split on ``\n`` only (a form feed inside a line stays in it). ``+++``/``---`` are file
    headers only before a file's first hunk; inside a hunk they are content (``++x`` added, ``--x``
    removed)."""
    files: list[FileDiff] = []
    current: FileDiff | None = None
    in_hunk = False
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for line in lines:
        line = line.removesuffix("\r")
        if line.startswith("diff --git "):
            parts = line.split(" b/", 1)
            current = FileDiff(path=parts[1] if len(parts) == 2 else line[len("diff --git ") :])
            files.append(current)
            in_hunk = False
        if current is None:
            continue
        if line.startswith("@@"):
            current.hunks.append(len(current.lines))
            in_hunk = True
        elif line.startswith("+") and (in_hunk or not line.startswith("+++")):
            current.added += 1
        elif line.startswith("-") and (in_hunk or not line.startswith("---")):
            current.removed += 1
        elif not in_hunk and line.startswith(("Binary files", "GIT binary patch")):
            current.binary = True
        current.lines.append(line)
    return files


@dataclass(frozen=True)
class PatchCounts:
    files: int
    added: int
    removed: int
    paths: list[str]  # the first ``max_paths`` files


def count_patch(text: str, max_paths: int = 50) -> PatchCounts:
    """What :func:`parse_patch` would count (files, added and removed lines, paths) without building
    its per-file line lists: each file's hunks are counted with ``str.count``, so a multi-megabyte
    live diff is summarised in milliseconds."""
    files = added = removed = 0
    paths: list[str] = []
    for section in ("\n" + text).split("\ndiff --git ")[1:]:  # text before the first file is not a file
        files += 1
        first_line, _, rest = section.partition("\n")
        if len(paths) < max_paths:
            parts = first_line.removesuffix("\r").split(" b/", 1)
            paths.append(parts[1] if len(parts) == 2 else first_line.removesuffix("\r"))
        start = rest.find("@@") if rest.startswith("@@") else rest.find("\n@@")
        header = rest if start < 0 else rest[:start]
        for line in header.split("\n"):
            if line.startswith("+") and not line.startswith("+++"):
                added += 1
            elif line.startswith("-") and not line.startswith("---"):
                removed += 1
        if start >= 0:
            hunks = "\n" + rest[start:].lstrip("\n")
            added += hunks.count("\n+")
            removed += hunks.count("\n-")
    return PatchCounts(files, added, removed, paths)


@dataclass(frozen=True)
class PatchFile:
    """One file's part of a patch: where it is in the patch text (``start`` is the offset of its
    ``diff --git`` line, ``end`` of the next file's or the text's end) and what it changes."""

    path: str
    start: int
    end: int
    added: int
    removed: int
    binary: bool

    @property
    def size(self) -> int:
        """Characters of the file's part of the patch (its headers included)."""
        return self.end - self.start


def index_patch(text: str) -> list[PatchFile]:
    """Every file of a patch with its place in ``text`` and its counts (as :func:`parse_patch` counts
    them). Text before the first ``diff --git`` line belongs to no file."""
    starts = [0] if text.startswith("diff --git ") else []
    at = text.find("\ndiff --git ")
    while at >= 0:
        starts.append(at + 1)
        at = text.find("\ndiff --git ", at + 1)
    files: list[PatchFile] = []
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else len(text)
        (parsed,) = parse_patch(text[start:end])[:1] or (FileDiff(path=""),)
        files.append(PatchFile(parsed.path, start, end, parsed.added, parsed.removed, parsed.binary))
    return files
