"""Splits a unified ``git diff`` patch into files and hunks for review, without loading anything but
the patch text. UI-free; the diff screen renders from it."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class FileDiff:
    path: str
    lines: list[str] = field(default_factory=list)
    added: int = 0
    removed: int = 0
    hunks: list[int] = field(default_factory=list)  # line numbers (within ``lines``) of each @@ header
    binary: bool = False


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
