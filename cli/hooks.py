"""Hooks other tools call. ``codex_notify`` is Codex's ``notify`` program
(``notify = ["cockpit", "hook", "codex-notify"]`` in Codex's ``config.toml``): it records the turn a
hand-run Codex session just completed on the repo's blackboard.

Codex must never be disturbed by its hook: whatever happens this exits 0 and prints nothing to stdout;
a problem is one line on stderr. With no blackboard to report to it does nothing at all.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

from cockpit.core import (
    Blackboard,
    PayloadError,
    find_board,
    log_rejected,
    parse_payload,
    record_notify,
    worker_task,
)

PREFIX = "cockpit hook codex-notify"


def _warn(message: str) -> None:
    line = " ".join(str(message).split())
    try:
        print(f"{PREFIX}: {line[:500]}", file=sys.stderr)
    except OSError:
        pass


def codex_notify(repo: Path, payload: str, env: Mapping[str, str] | None = None) -> int:
    """Record one ``notify`` payload; always 0."""
    try:
        _codex_notify(repo, payload, os.environ if env is None else env)
    except Exception as exc:  # the hook never fails Codex
        _warn(f"{type(exc).__name__}: {exc}")
    return 0


def _codex_notify(repo: Path, payload: str, env: Mapping[str, str]) -> None:
    try:
        parsed = parse_payload(payload)
    except PayloadError as exc:
        _warn(str(exc))
        board = Blackboard(repo)
        if board.exists:  # a note where someone will look; nothing else is written
            log_rejected(board, str(exc), payload)
        return
    found = find_board(repo, parsed.cwd)
    if found is None:
        return
    record_notify(found, parsed, payload, task_id=worker_task(found, parsed.cwd, env))
