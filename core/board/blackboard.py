"""The file blackboard (at ``<repo>/.git/cockpit``, see :mod:`cockpit.core.board.home`): layout, the
supervisor lock, inbox drops, task files (live under ``tasks/``, archived under ``archive/``), append-only
logs, and quarantine of files that fail to parse. It is the only shared state, and private to its owner:
directories ``0700``, files ``0600``."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import re
import secrets
import stat
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from cockpit.core.atomic import (
    PRIVATE_DIR,
    PRIVATE_FILE,
    append_jsonl,
    atomic_write_json,
    atomic_write_text,
    make_private_dirs,
    private_opener,
)
from cockpit.core.board.home import BoardMoveRefused, board_root_for, migrate_legacy_board
from cockpit.core.crashpoints import crash_point
from cockpit.core.errors import InputError, RefusedError
from cockpit.core.layout import (
    ARCHIVE_DIR,
    ATTEMPTS_DIR,
    BOARD_EVENTS_FILE,
    BREAKERS_DIR,
    CLAIMED_DIR,
    DEAD_LETTERS_DIR,
    DECISIONS_DIR,
    ENVELOPE_FILE,
    INBOX_DIR,
    LEDGER_FILE,
    LOCK_FILE,
    PENDING_DIR,
    QUARANTINE_DIR,
    REPLIES_DIR,
    RESOLVED_DIR,
    SCRATCH_DIR,
    STATE_FILE,
    TASKS_DIR,
    WORKTREES_DIR,
)
from cockpit.core.records.basics import utc_now
from cockpit.core.records.board_events import EventKind
from cockpit.core.text import strip_control

if TYPE_CHECKING:  # imported where used: listing tasks needs none of these models
    from cockpit.core.board.task_index.writer import TaskIndex
    from cockpit.core.board.task_summary import TaskSummary
    from cockpit.core.envelope.model import Envelope
    from cockpit.core.records.task import TaskState

_SUBDIRS = (
    INBOX_DIR,
    f"{INBOX_DIR}/{REPLIES_DIR}",
    f"{INBOX_DIR}/{CLAIMED_DIR}",
    TASKS_DIR,
    f"{DECISIONS_DIR}/{PENDING_DIR}",
    f"{DECISIONS_DIR}/{RESOLVED_DIR}",
    f"{DEAD_LETTERS_DIR}/{ARCHIVE_DIR}",
    BREAKERS_DIR,
    QUARANTINE_DIR,
    WORKTREES_DIR,
)
# The one shape of a task id, wherever one comes from (inbox, CLI, MCP, TUI): it names a directory, so
# no separators, no dots, never empty. Always used with ``fullmatch`` (``$`` would let a newline in).
TASK_ID_RE = re.compile(r"[a-z0-9][a-z0-9-]{2,63}", re.ASCII)
TASK_ID_RULE = "lowercase letters, digits and '-', 3 to 64 characters, starting with a letter or digit"
# A reference may be a whole id or a prefix of one; a prefix must be at least this long.
MIN_PREFIX = 4
# The id a command request is answered under (``inbox/replies/<id>.json``): the same alphabet.
REQUEST_ID_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,63}", re.ASCII)

Stamp = tuple[int, int, int]
"""Which ``state.json`` a task has: its inode, modification time (ns) and size. Every write of a state
file makes a new file (an atomic replace) while the old one still exists, so the next file never
carries the stamp of the one it replaces (see :mod:`cockpit.core.board.task_index`)."""


def stamp_of(st: os.stat_result) -> Stamp:
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def file_stamp(path: Path) -> Stamp | None:
    """:func:`stamp_of` the file at ``path``; None when it cannot be stat-ed (gone, say)."""
    try:
        return stamp_of(os.stat(path))
    except OSError:
        return None


class BlackboardError(RefusedError, RuntimeError):
    """A blackboard operation that cannot go ahead (unknown task, ambiguous id, no repo)."""


class UnknownTask(InputError, BlackboardError):
    """No task matches the id the user gave (bad input: exit 2)."""


class InvalidId(UnknownTask):
    """An id or reference that is not of the one allowed shape (bad input: exit 2)."""


class LockHeld(BlackboardError):
    def __init__(self, pid: int | None) -> None:
        who = f"pid {pid}" if pid else "another process"
        super().__init__(f"another supervisor ({who}) holds this blackboard")
        self.pid = pid


@dataclass
class InboxItem:
    path: Path
    data: dict[str, Any]

    @property
    def kind(self) -> str:
        return str(self.data.get("kind", ""))


def make_task_id(title: str) -> str:
    """A readable, unique-enough id: a slug of the title as shown (control sequences stripped) plus four
    hex digits (``add-hello-3fa2``)."""
    slug = re.sub(r"[^a-z0-9]+", "-", strip_control(title).lower()).strip("-")
    slug = "-".join(slug.split("-")[:4])[:32].strip("-") or "task"
    return f"{slug}-{secrets.token_hex(2)}"


def is_task_id(value: object) -> bool:
    return isinstance(value, str) and TASK_ID_RE.fullmatch(value) is not None


def check_task_id(value: object) -> str:
    """``value`` if it is a well-formed task id, else :class:`InvalidId` naming the problem."""
    if is_task_id(value):
        return str(value)
    raise InvalidId(f"invalid task id {_shown(value)}: {_id_problem(value)}")


def check_task_ref(ref: str) -> str:
    """A reference to a task as a person or an orchestrator gives it: a whole id, or a prefix of one
    with at least :data:`MIN_PREFIX` characters. Raises :class:`InvalidId` naming the problem."""
    if not is_task_id(ref):
        if isinstance(ref, str) and ref and TASK_ID_RE.fullmatch(ref.ljust(3, "0")):
            raise InvalidId(f"invalid task id {ref!r}: a prefix needs at least {MIN_PREFIX} characters")
        raise InvalidId(f"invalid task id {_shown(ref)}: {_id_problem(ref)}")
    return ref


def match_task_ref(ref: str, ids: Iterable[str]) -> str | None:
    """The one id of ``ids`` that ``ref`` names: the id itself, or the only id it is a prefix of (a
    prefix needs :data:`MIN_PREFIX` characters). None when nothing matches; :class:`InvalidId` for a
    malformed or too short reference, :class:`UnknownTask` when it is ambiguous."""
    check_task_ref(ref)
    known = list(ids)
    if ref in known:
        return ref
    if len(ref) < MIN_PREFIX:
        raise InvalidId(
            f"invalid task id {ref!r}: a prefix needs at least {MIN_PREFIX} characters (no task has this id)"
        )
    matches = sorted(i for i in known if i.startswith(ref))
    if len(matches) > 1:
        raise UnknownTask(f"task id {ref!r} is ambiguous: {', '.join(matches[:5])}")
    return matches[0] if matches else None


def _shown(value: object) -> str:
    return repr(value[:80] if isinstance(value, str) else value)


def _id_problem(value: object) -> str:
    if not isinstance(value, str):
        return f"not a string ({type(value).__name__})"
    if not value:
        return "empty"
    if "/" in value or "\\" in value or value.startswith("."):
        return f"no path separators or leading dots ({TASK_ID_RULE})"
    return TASK_ID_RULE


def is_request_id(value: object) -> bool:
    return isinstance(value, str) and REQUEST_ID_RE.fullmatch(value) is not None


class SupervisorLock:
    """An exclusive ``flock`` on ``supervisor.lock``; released when the process dies, however it dies."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = private_opener(self.path, os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EAGAIN, errno.EACCES):
                raise LockHeld(read_lock_pid(self.path)) from exc
            raise
        with contextlib.suppress(OSError):  # the pid is a courtesy to readers; the flock is the lock
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> SupervisorLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def read_lock_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip() or "0") or None
    except (OSError, ValueError):
        return None


class Blackboard:
    def __init__(self, repo: Path) -> None:
        self.repo = repo.resolve()
        self.root = board_root_for(self.repo)
        self._task_index: TaskIndex | None = None
        try:
            if migrate_legacy_board(self.repo, self.root):
                self._make_private()
        except BoardMoveRefused as exc:
            raise BlackboardError(str(exc)) from exc
        except OSError as exc:
            raise BlackboardError(f"could not move the board from .cockpit to {self.root}: {exc}") from exc

    # ---- layout -------------------------------------------------------------------------------
    @property
    def exists(self) -> bool:
        return (self.root / TASKS_DIR).is_dir()

    def init(self) -> bool:
        """Create the layout (idempotent), private to the owner. Returns True if anything was created."""
        created = not self.exists
        for sub in _SUBDIRS:
            make_private_dirs(self.root / sub)
        self._make_private()
        if created:  # no task yet, so an empty task index is complete
            self.task_index.rebuild([])
        return created

    def _make_private(self) -> None:
        """Bring a board made before the permission rule in line, once: its directories ``0700``, its
        files ``0600`` (the git worktrees under ``worktrees/`` keep their own modes)."""
        if stat.S_IMODE(self.root.stat().st_mode) == PRIVATE_DIR:
            return
        worktrees = self.root / WORKTREES_DIR
        for dirpath, dirnames, filenames in os.walk(self.root):
            here = Path(dirpath)
            if here == worktrees:
                dirnames[:] = []
            for name in filenames:
                path = here / name
                if not path.is_symlink():
                    os.chmod(path, PRIVATE_FILE)
            if here != self.root:
                os.chmod(here, PRIVATE_DIR)
        os.chmod(self.root, PRIVATE_DIR)  # last: an interrupted pass is done again next time

    def require(self) -> None:
        if not self.exists:
            raise BlackboardError(f"no blackboard at {self.root}; run `cockpit init` first")

    def task_dir(self, task_id: str) -> Path:
        """A task's directory; an id of any other shape is refused (:class:`InvalidId`), never joined."""
        return self.root / TASKS_DIR / check_task_id(task_id)

    def attempt_dir(self, task_id: str, n: int, *, archived: bool = False) -> Path:
        """An attempt's directory; ``archived=True`` finds it in the archive too (for readers)."""
        home = (self.find_task_dir(task_id) or self.task_dir(task_id)) if archived else self.task_dir(task_id)
        return home / ATTEMPTS_DIR / str(n)

    def scratch_dir(self, task_id: str, n: int) -> Path:
        """An attempt's private scratch directory: its ``TMPDIR`` and its one extra writable root."""
        return self.root / SCRATCH_DIR / task_id / str(n)

    def worktree_path(self, task_id: str) -> Path:
        return self.root / WORKTREES_DIR / check_task_id(task_id)

    @property
    def lock_path(self) -> Path:
        return self.root / LOCK_FILE

    def lock(self) -> SupervisorLock:
        return SupervisorLock(self.lock_path)

    def supervisor_pid(self) -> int | None:
        """The pid of the live supervisor, or None when nobody holds the lock."""
        if not self.lock_path.exists():
            return None
        probe = SupervisorLock(self.lock_path)
        try:
            fd = os.open(self.lock_path, os.O_RDWR)
        except OSError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return read_lock_pid(probe.path) or -1
        finally:
            os.close(fd)
        return None

    # ---- quarantine ---------------------------------------------------------------------------
    def quarantine(self, path: Path, reason: str) -> Path:
        """Move a file that failed to parse out of the way, with a note saying why. Nothing is deleted."""
        qdir = self.root / QUARANTINE_DIR
        qdir.mkdir(parents=True, exist_ok=True)
        try:
            rel = path.relative_to(self.root)
            label = "__".join(rel.parts)
        except ValueError:
            label = path.name
        now = time.time_ns()
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now // 10**9)) + f".{now % 10**9:09d}"
        target = qdir / f"{stamp}-{label}"
        os.replace(path, target)
        atomic_write_text(
            target.with_name(target.name + ".reason.txt"),
            f"original: {path}\nquarantined: {utc_now().isoformat()}\nreason: {reason}\n",
        )
        self.log_event(
            {"kind": EventKind.QUARANTINE, "path": str(path), "moved_to": str(target), "reason": reason}
        )
        return target

    def quarantined(self) -> list[Path]:
        qdir = self.root / QUARANTINE_DIR
        if not qdir.is_dir():
            return []
        return sorted(p for p in qdir.iterdir() if not p.name.endswith(".reason.txt"))

    # ---- inbox --------------------------------------------------------------------------------
    def drop(self, kind: str, payload: dict[str, Any]) -> Path:
        """Drop a request into the inbox with one atomic rename, so the supervisor never sees half."""
        self.require()
        data = {"kind": kind, "dropped_at": utc_now().isoformat(), **payload}
        name = f"{time.time_ns():020d}-{secrets.token_hex(3)}.{kind}.json"
        tmp = self.root / INBOX_DIR / f".{name}.tmp"
        atomic_write_json(tmp, data)
        final = self.root / INBOX_DIR / name
        os.replace(tmp, final)
        return final

    def inbox(self) -> list[InboxItem]:
        """Pending drops in arrival order; unreadable ones are quarantined and skipped."""
        idir = self.root / INBOX_DIR
        if not idir.is_dir():
            return []
        items: list[InboxItem] = []
        for path in sorted(idir.glob("*.json")):
            data = self._read_json(path)
            if not isinstance(data, dict):
                continue
            items.append(InboxItem(path, data))
        return items

    def claim(self, item: InboxItem) -> InboxItem | None:
        """Take a request out of the inbox with one rename (into ``inbox/claimed/``) before acting on
        it. None when it is gone: its sender withdrew it first. Exactly one of the two wins."""
        target = self.root / INBOX_DIR / CLAIMED_DIR / item.path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.rename(item.path, target)
        except FileNotFoundError:
            return None
        return InboxItem(target, item.data)

    def claimed(self) -> list[Path]:
        """Requests a supervisor took but did not finish (it stopped in between)."""
        cdir = self.root / INBOX_DIR / CLAIMED_DIR
        return sorted(cdir.glob("*.json")) if cdir.is_dir() else []

    def withdraw(self, drop: Path) -> bool:
        """Take one's own request back before a supervisor claims it: True if it was withdrawn (it
        will never run), False if a supervisor had already taken it."""
        try:
            drop.unlink()
        except FileNotFoundError:
            return False
        return True

    def _reply_path(self, request_id: str) -> Path:
        if not is_request_id(request_id):
            raise InvalidId(f"invalid request id {_shown(request_id)}")
        return self.root / INBOX_DIR / REPLIES_DIR / f"{request_id}.json"

    def reply(self, request_id: str, payload: dict[str, Any]) -> None:
        atomic_write_json(self._reply_path(request_id), payload)

    def take_reply(self, request_id: str) -> dict[str, Any] | None:
        path = self._reply_path(request_id)
        if not path.exists():
            return None
        data = self._read_json(path)
        path.unlink(missing_ok=True)
        return data if isinstance(data, dict) else {"ok": False, "error": "unreadable reply"}

    def sweep_replies(self, older_than_s: float) -> int:
        """Remove answers nobody collected (their sender is gone); returns how many."""
        rdir = self.root / INBOX_DIR / REPLIES_DIR
        cutoff = time.time() - older_than_s
        removed = 0
        for path in rdir.glob("*.json") if rdir.is_dir() else []:
            with contextlib.suppress(FileNotFoundError):
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
        return removed

    # ---- task files ---------------------------------------------------------------------------
    def task_ids(self) -> list[str]:
        tdir = self.root / TASKS_DIR
        if not tdir.is_dir():
            return []
        return sorted(p.name for p in tdir.iterdir() if p.is_dir() and is_task_id(p.name))

    def write_envelope(self, task_id: str, envelope: Envelope) -> None:
        path = self.task_dir(task_id) / ENVELOPE_FILE
        if path.exists():
            raise BlackboardError(f"task {task_id} already has an envelope (envelopes are immutable)")
        atomic_write_json(path, envelope.model_dump(mode="json"))

    def read_envelope(self, task_id: str, *, archived: bool = False) -> Envelope | None:
        path = self._task_file(task_id, ENVELOPE_FILE, archived)
        data = self._read_json(path)
        if data is None:
            return None
        try:
            from cockpit.core.envelope.model import Envelope

            return Envelope.model_validate(data)
        except ValidationError as exc:
            self.quarantine(path, f"envelope does not validate: {exc.errors()[0]['msg']}")
            return None

    @property
    def task_index(self) -> TaskIndex:
        """The journal of task summaries that lists of tasks follow (:mod:`cockpit.core.board.task_index`)."""
        if self._task_index is None:
            from cockpit.core.board.task_index.writer import TaskIndex

            self._task_index = TaskIndex(self.root)
        return self._task_index

    def write_state(self, state: TaskState) -> None:
        """Replace the task's ``state.json`` atomically, then append its summary to the task index, with
        the new file's stamp (the append never fails the write: the state file is the truth)."""
        from cockpit.core.board.task_summary import TaskSummary

        state.touch()
        written = atomic_write_json(self.task_dir(state.id) / STATE_FILE, state.model_dump(mode="json"))
        crash_point("task-state-written")  # tests: a writer that dies before the index line
        self.task_index.record(TaskSummary.of(state), stamp=stamp_of(written))

    def forget_task(self, task_id: str) -> None:
        """Tell readers of the live board that ``task_id`` left it (archived). Its files are gone from
        ``tasks/`` before this is called."""
        self.task_index.forget(check_task_id(task_id))

    def read_state(self, task_id: str, *, archived: bool = False) -> TaskState | None:
        """The task's state; ``archived=True`` reads an archived task's too (live first)."""
        return self.read_stamped_state(task_id, archived=archived)[0]

    def read_stamped_state(
        self, task_id: str, *, archived: bool = False
    ) -> tuple[TaskState | None, Stamp | None]:
        """The task's state and the stamp of the file it was read from (both None when there is no
        readable state)."""
        path = self._task_file(task_id, STATE_FILE, archived)
        data, stamp = self._read_json_stamped(path)
        if data is None:
            return None, None
        from cockpit.core.records.task import TaskState

        try:
            return TaskState.model_validate(data), stamp
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            self.quarantine(path, f"state does not validate: {where}: {err['msg']}")
            return None, None

    def state_stamps(self) -> Iterator[tuple[str, Stamp]]:
        """Every live task's id and the stamp of its ``state.json``, from one listing of ``tasks/`` and
        one ``stat`` per task (no file is read); a task directory without a state file is left out."""
        try:
            entries = os.scandir(self.root / TASKS_DIR)
        except FileNotFoundError:
            return
        with entries:
            for entry in entries:
                if not is_task_id(entry.name) or not entry.is_dir():
                    continue
                try:
                    stamp = stamp_of(os.stat(os.path.join(entry.path, STATE_FILE)))
                except (FileNotFoundError, NotADirectoryError):
                    continue
                yield entry.name, stamp

    def states(self) -> list[TaskState]:
        """Every live task's full state, oldest first: reads every state file (lists want
        :meth:`summaries`)."""
        out = [s for tid in self.task_ids() if (s := self.read_state(tid)) is not None]
        out.sort(key=lambda s: s.created_at)
        return out

    def summaries(self, *, archived: bool = False) -> list[TaskSummary]:
        """Every live task's summary, oldest first, from the task index (every state file is read only
        when the index cannot be trusted alone); with ``archived``, archived tasks' too (read from their
        state files: the archive is not indexed)."""
        from cockpit.core.board.task_index.reader import TaskIndexReader
        from cockpit.core.board.task_summary import TaskSummary

        reader = TaskIndexReader(self)
        reader.poll()
        found = dict(reader.tasks)
        if archived:
            for state in self.archived_states():
                found.setdefault(state.id, TaskSummary.of(state))  # archived while we read: listed once
        out = sorted(found.values(), key=lambda s: s.id)
        out.sort(key=lambda s: s.created_at)
        return out

    def resolve_task(self, ref: str, *, archived: bool = False) -> str:
        """An exact id, or the only id a prefix of at least :data:`MIN_PREFIX` characters names: among
        live tasks, and archived ones too with ``archived=True`` (readers: show, log, the task view)."""
        live = self.task_ids()
        # Live first, then the archive: a task archived in between is in the second list (deduplicated).
        known = list(dict.fromkeys(live + self.archived_task_ids())) if archived else live
        found = match_task_ref(ref, known)
        if found is not None:
            return found
        gone = None
        if not archived:
            with contextlib.suppress(UnknownTask):  # ambiguous among archived ones: just "no task"
                gone = match_task_ref(ref, self.archived_task_ids())
        if gone is not None:
            raise UnknownTask(f"task {gone} is archived; archived tasks are read only (cockpit show {gone})")
        pending = [i.data.get("task_id") for i in self.inbox() if i.kind == "submit"]
        if ref in pending:
            raise UnknownTask(f"task {ref} is still in the inbox (no supervisor has accepted it yet)")
        raise UnknownTask(f"no task {ref!r}")

    # ---- the archive (finished tasks off the live board; moved by cockpit.core.archive) ---------
    @property
    def archive_root(self) -> Path:
        return self.root / ARCHIVE_DIR

    def archived_task_dir(self, task_id: str) -> Path:
        return self.archive_root / check_task_id(task_id)

    def archived_task_ids(self) -> list[str]:
        adir = self.archive_root
        if not adir.is_dir():
            return []
        return sorted(p.name for p in adir.iterdir() if p.is_dir() and is_task_id(p.name))

    def find_task_dir(self, task_id: str) -> Path | None:
        """The task's directory, live or archived (live first); None when it has neither."""
        for directory in (self.task_dir(task_id), self.archived_task_dir(task_id)):
            if directory.is_dir():
                return directory
        return None

    def is_archived(self, task_id: str) -> bool:
        return not self.task_dir(task_id).is_dir() and self.archived_task_dir(task_id).is_dir()

    def archived_states(self) -> list[TaskState]:
        ids = self.archived_task_ids()
        out = [s for tid in ids if (s := self.read_state(tid, archived=True)) is not None]
        out.sort(key=lambda s: s.created_at)
        return out

    def _task_file(self, task_id: str, name: str, archived: bool) -> Path:
        """A task's file: the live one, or (``archived``) the archived one when only that exists."""
        live = self.task_dir(task_id) / name
        if not archived or live.exists():
            return live
        moved = self.archived_task_dir(task_id) / name
        return moved if moved.exists() else live

    # ---- logs ---------------------------------------------------------------------------------
    def append_ledger(self, row: dict[str, Any]) -> None:
        append_jsonl(self.root / LEDGER_FILE, {"ts": utc_now().isoformat(), **row})

    def log_event(self, row: dict[str, Any]) -> None:
        append_jsonl(self.root / BOARD_EVENTS_FILE, {"ts": utc_now().isoformat(), **row})

    def read_jsonl(self, name: str) -> Iterator[dict[str, Any]]:
        path = self.root / name
        if not path.exists():
            return
        with path.open("rb") as fh:
            for raw in fh:
                try:
                    row = json.loads(raw)
                except ValueError:
                    continue
                if isinstance(row, dict):
                    yield row

    # ---- helpers ------------------------------------------------------------------------------
    def _read_json(self, path: Path) -> Any:
        """Parse a JSON file; a corrupt one is quarantined (and None returned), a missing one is None."""
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        return self._parse_json(path, raw)

    def _read_json_stamped(self, path: Path) -> tuple[Any, Stamp | None]:
        """:meth:`_read_json`, with the stamp of the very file read (taken from its open descriptor)."""
        try:
            with open(path, "rb") as fh:
                stamp = stamp_of(os.fstat(fh.fileno()))
                raw = fh.read()
        except FileNotFoundError:
            return None, None
        data = self._parse_json(path, raw)
        return data, (stamp if data is not None else None)

    def _parse_json(self, path: Path, raw: bytes) -> Any:
        try:
            return json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            self.quarantine(path, f"not valid JSON: {exc}")
            return None
