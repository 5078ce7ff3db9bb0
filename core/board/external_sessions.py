"""Codex sessions a user runs by hand, as Codex's ``notify`` hook reports them.

Codex runs its ``notify`` program with one extra argument, a JSON payload, when an agent turn completes
(``codex exec`` and the interactive TUI alike)::

    {"type": "agent-turn-complete", "thread-id": "...", "turn-id": "...", "cwd": "/abs/dir",
     "client": "codex_exec", "input-messages": ["..."], "last-assistant-message": "..." | null}

Each payload becomes one ``codex_notify`` line in ``.cockpit/events.jsonl``. A completed turn also
replaces ``.cockpit/external/<thread-id>.json`` (the latest turn of that thread), which
:class:`ExternalSessionReader` lists cheaply for the board view. Turns of the cockpit's own workers
(``COCKPIT_TASK_ID`` in the environment Codex hands down, or a cwd inside ``.cockpit/worktrees``) are
logged with their task id but are not external sessions. All text from the payload is data: control
sequences are stripped and obvious secrets masked before anything is written.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cockpit.core.atomic import atomic_write_json
from cockpit.core.board.blackboard import Blackboard
from cockpit.core.board.home import board_root_for
from cockpit.core.errors import InputError
from cockpit.core.layout import TASKS_DIR, WORKTREES_DIR
from cockpit.core.records.basics import utc_now
from cockpit.core.records.board_events import EventKind
from cockpit.core.text import clean, cut

TURN_COMPLETE: Final = "agent-turn-complete"
EVENT_KIND: Final = EventKind.CODEX_NOTIFY
REJECTED_KIND: Final = EventKind.CODEX_NOTIFY_REJECTED
EXTERNAL_DIR: Final = "external"
MAX_MESSAGE_CHARS: Final = 2000
MAX_INPUT_CHARS: Final = 200
KEEP_SESSIONS: Final = (
    200  # records kept under external/; older threads are dropped (the event log keeps all)
)
RECENT: Final = 5

_THREAD_ID_RE: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class PayloadError(InputError, ValueError):
    """The argument is not a JSON object of the notify shape."""


class NotifyPayload(BaseModel):
    """One ``notify`` payload; fields Codex adds later are kept (``model_extra``)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    type: str = ""
    thread_id: str | None = Field(default=None, alias="thread-id")
    turn_id: str | None = Field(default=None, alias="turn-id")
    cwd: str | None = None
    client: str | None = None
    input_messages: list[str] = Field(default_factory=list, alias="input-messages")
    last_assistant_message: str | None = Field(default=None, alias="last-assistant-message")

    @property
    def kind(self) -> str:
        """``agent-turn-complete``, or ``unknown`` for any other type."""
        return TURN_COMPLETE if self.type == TURN_COMPLETE else "unknown"


def parse_payload(text: str) -> NotifyPayload:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise PayloadError(f"payload is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise PayloadError(f"payload is a JSON {type(data).__name__}, not an object")
    try:
        return NotifyPayload.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "payload"
        raise PayloadError(f"payload field {where}: {err['msg']}") from exc


def _safe(text: str | None, limit: int) -> str | None:
    return None if text is None else cut(clean(text), limit)


# ---- where to record ---------------------------------------------------------------------------


def _board_at_or_above(start: Path) -> Blackboard | None:
    for directory in (start, *start.parents):
        if (board_root_for(directory) / TASKS_DIR).is_dir():
            return Blackboard(directory)
    return None


def find_board(repo: Path, cwd: str | None) -> Blackboard | None:
    """The blackboard to record into: ``repo`` itself when it has one; else the nearest one at or above
    the payload's ``cwd``; else the nearest one above ``repo``. None when there is nowhere to report."""
    board = Blackboard(repo)
    if board.exists:
        return board
    if cwd and os.path.isabs(cwd):
        found = _board_at_or_above(Path(os.path.normpath(cwd)))
        if found is not None:
            return found
    return _board_at_or_above(board.repo.parent)


def worker_task(board: Blackboard, cwd: str | None, env: Mapping[str, str]) -> str | None:
    """The cockpit task whose worker ran this turn, if any (workers are not hand-run sessions)."""
    task_id = env.get("COCKPIT_TASK_ID")
    if task_id:
        return task_id
    if cwd and os.path.isabs(cwd):
        try:
            rel = Path(os.path.normpath(cwd)).relative_to(board.root / WORKTREES_DIR)
        except ValueError:
            return None
        return rel.parts[0] if rel.parts else None
    return None


# ---- recording ---------------------------------------------------------------------------------


def session_key(payload: NotifyPayload) -> str:
    """The record's file stem: the thread id when it is a plain id, else a digest of what is known."""
    if payload.thread_id and _THREAD_ID_RE.match(payload.thread_id):
        return payload.thread_id
    seed = f"{payload.thread_id}\0{payload.cwd}".encode("utf-8", "replace")
    return "anon-" + hashlib.sha256(seed).hexdigest()[:16]


def record_notify(
    board: Blackboard, payload: NotifyPayload, raw: str, *, task_id: str | None = None
) -> Path | None:
    """Log the payload to ``events.jsonl``; for a hand-run completed turn also write its thread's record.
    Returns the record written, if any."""
    message = _safe(payload.last_assistant_message, MAX_MESSAGE_CHARS)
    row: dict[str, Any] = {
        "kind": EVENT_KIND,
        "notify_kind": payload.kind,
        "type": _safe(payload.type, 100),
        "thread_id": _safe(payload.thread_id, 200),
        "turn_id": _safe(payload.turn_id, 200),
        "cwd": _safe(payload.cwd, 1000),
        "client": _safe(payload.client, 100),
        "last_message": message,
    }
    if task_id:
        row["task_id"] = cut(task_id, 100)
    if payload.kind != TURN_COMPLETE:
        row["raw"] = _safe(raw, MAX_MESSAGE_CHARS)
    board.log_event(row)
    if payload.kind != TURN_COMPLETE or task_id:
        return None
    directory = board.root / EXTERNAL_DIR
    path = directory / f"{session_key(payload)}.json"
    previous = _read_record(path) or {}
    now = utc_now().isoformat()
    first_input = payload.input_messages[0] if payload.input_messages else None
    turns = previous.get("turns")
    atomic_write_json(
        path,
        {
            "thread_id": row["thread_id"],
            "turn_id": row["turn_id"],
            "cwd": row["cwd"],
            "client": row["client"],
            "last_message": message,
            "first_input": _safe(first_input, MAX_INPUT_CHARS),
            "turns": (turns if isinstance(turns, int) else 0) + 1,
            "first_seen": previous.get("first_seen") or now,
            "updated_at": now,
        },
    )
    _prune(directory, KEEP_SESSIONS)
    return path


def log_rejected(board: Blackboard, reason: str, raw: str) -> None:
    board.log_event({"kind": REJECTED_KIND, "reason": cut(clean(reason), 300), "bytes": len(raw.encode())})


def _read_record(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _records(directory: Path) -> list[tuple[int, Path]]:
    out: list[tuple[int, Path]] = []
    try:
        with os.scandir(directory) as entries:
            for entry in entries:
                if entry.name.endswith(".json") and not entry.name.startswith("."):
                    try:
                        out.append((entry.stat().st_mtime_ns, Path(entry.path)))
                    except FileNotFoundError:
                        continue
    except (FileNotFoundError, NotADirectoryError):
        return []
    out.sort(key=lambda item: (item[0], item[1].name), reverse=True)
    return out


def _prune(directory: Path, keep: int) -> None:
    for _, path in _records(directory)[keep:]:
        path.unlink(missing_ok=True)


# ---- reading -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExternalSession:
    """The latest completed turn of one hand-run Codex thread."""

    thread_id: str
    turn_id: str
    cwd: str
    place: str  # the cwd relative to the repo, or the thread's short id
    last_message: str
    turns: int
    updated_at: datetime

    @property
    def headline(self) -> str:
        """The last message's first non-empty line (or a placeholder)."""
        for line in self.last_message.splitlines():
            if line.strip():
                return line.strip()
        return "(no message)"


def short_thread(thread_id: str) -> str:
    """Codex thread ids are UUIDv7: the leading digits are a timestamp, the tail tells threads apart."""
    compact = thread_id.replace("-", "")
    return compact[-8:] if compact else "?"


def place_of(cwd: str, thread_id: str, repo: Path) -> str:
    if cwd and os.path.isabs(cwd):
        try:
            rel = Path(os.path.normpath(cwd)).relative_to(repo)
        except ValueError:
            rel = None
        if rel is not None and rel.parts:
            return rel.as_posix()
    return f"thread {short_thread(thread_id)}"


def ago(seconds: float) -> str:
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s ago"
    if s < 3600:
        return f"{s // 60}m ago"
    if s < 86400:
        return f"{s // 3600}h ago"
    return f"{s // 86400}d ago"


def _session(data: dict[str, Any], path: Path, mtime_ns: int, repo: Path) -> ExternalSession:
    def text(key: str, limit: int) -> str:
        value = data.get(key)
        return cut(clean(value), limit) if isinstance(value, str) else ""

    thread_id = text("thread_id", 200) or path.stem
    cwd = text("cwd", 1000)
    try:
        updated = datetime.fromisoformat(str(data.get("updated_at")))
        if updated.tzinfo is None:
            updated = updated.replace(tzinfo=UTC)
    except ValueError:
        updated = datetime.fromtimestamp(mtime_ns / 1e9, UTC)
    turns = data.get("turns")
    return ExternalSession(
        thread_id=thread_id,
        turn_id=text("turn_id", 200),
        cwd=cwd,
        place=place_of(cwd, thread_id, repo),
        last_message=text("last_message", MAX_MESSAGE_CHARS),
        turns=turns if isinstance(turns, int) else 0,
        updated_at=updated,
    )


@dataclass
class ExternalSessionReader:
    """The newest external sessions of a blackboard; the directory is rescanned only when it changed
    (or changed so recently that a coarse mtime could hide a second write), and a record is parsed
    only when its file changed."""

    board: Blackboard
    limit: int = RECENT
    clock: Callable[[], float] = time.time
    _dir_mtime: int | None = None
    _recent: tuple[ExternalSession, ...] = ()
    _parsed: dict[Path, tuple[int, ExternalSession]] = field(default_factory=dict)

    @property
    def directory(self) -> Path:
        return self.board.root / EXTERNAL_DIR

    def recent(self) -> tuple[ExternalSession, ...]:
        try:
            mtime = self.directory.stat().st_mtime_ns
        except OSError:
            self._dir_mtime, self._recent, self._parsed = None, (), {}
            return ()
        settled = self.clock() - mtime / 1e9 > 1.0
        if mtime == self._dir_mtime and settled:
            return self._recent
        sessions: list[ExternalSession] = []
        parsed: dict[Path, tuple[int, ExternalSession]] = {}
        for file_mtime, path in _records(self.directory):
            if len(sessions) >= self.limit:
                break
            cached = self._parsed.get(path)
            if cached is not None and cached[0] == file_mtime:
                session = cached[1]
            else:
                data = _read_record(path)
                if data is None:
                    continue
                session = _session(data, path, file_mtime, self.board.repo)
            parsed[path] = (file_mtime, session)
            sessions.append(session)
        sessions.sort(key=lambda s: s.updated_at, reverse=True)
        self._dir_mtime, self._recent, self._parsed = mtime, tuple(sessions), parsed
        return self._recent
