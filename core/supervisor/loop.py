"""The supervisor: the one process that dispatches work for a blackboard.

It holds the blackboard lock and is the only writer of task state while it runs. It keeps in memory
the full state of the tasks it acts on by itself (:data:`~cockpit.core.records.basics.ACTIONABLE`: queued,
running, awaiting a decision) and reads any other task's from its ``state.json`` when a request, a due
dead letter or an archive pass names it, so its cost follows the work in hand, not the board's history.
It accepts drops from the inbox, checks the provider's circuit breaker and starts attempts
(each a detached runner owning one Codex process) within the worker cap, follows every running
attempt's ``events.jsonl`` through the tailer and reducer with a watchdog, and finalises attempts from
``exit.json`` and the files: three signals, usage deltas to the ledger, then settlement
(:mod:`cockpit.core.supervisor.settlement`). Housekeeping applies answered decisions, expires overdue
ones, and sweeps dead letters, and archives finished tasks (asked through the inbox, or by itself with
``[archive] after_days``). On start it re-attaches to runners that outlived a previous supervisor. When the
disk fills, it says so in one line, stops dispatching and retries its pass every
:data:`DISK_FULL_RETRY_S` seconds; work resumes when space returns (inbox drops stay until accepted).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from cockpit.core.archive import (
    ARCHIVE_REQUEST,
    ArchiveReport,
    ArchiveSelection,
    archive_candidates,
    archive_tasks,
    finish_interrupted,
)
from cockpit.core.atomic import (
    atomic_write_json,
    atomic_write_text,
    disk_error_text,
    disk_full,
    make_private_dirs,
    private_opener,
)
from cockpit.core.attempts.app_server_runner import APPROVAL_TRIGGER
from cockpit.core.attempts.reducer import AttemptReducer
from cockpit.core.attempts.tailer import EventTailer
from cockpit.core.board.blackboard import (
    Blackboard,
    BlackboardError,
    InboxItem,
    Stamp,
    is_request_id,
    is_task_id,
    stamp_of,
)
from cockpit.core.board.checkpoint import build_checkpoint, resume_digest, write_checkpoint
from cockpit.core.board.decisions import DECISION_ID_RE, DecisionError, DecisionStore
from cockpit.core.board.task_index import scan_stamped, start_up
from cockpit.core.codex.binary import CodexBinary, find_codex
from cockpit.core.codex.confinement import confinement_problem, exec_overrides, trusted_places
from cockpit.core.codex.exec_command import plan_for
from cockpit.core.codex.exec_events import CodexEvent, RateLimitsUpdated
from cockpit.core.commands import CommandError, apply_command, request_expired
from cockpit.core.config import ConfigError, board_config
from cockpit.core.envelope.model import Envelope, requested_escalations
from cockpit.core.envelope.prompt import parse_outcome, render_followup_prompt, render_prompt
from cockpit.core.git.operations import GitOpError, clear_stale_index_locks
from cockpit.core.lanes import LANES, UNBUILT, Lane
from cockpit.core.merging import recover_merge
from cockpit.core.policy.breaker import BreakerState, BreakerStore
from cockpit.core.policy.budgets import BudgetStatus, project_budget_status, stuck_check, task_size
from cockpit.core.policy.dead_letters import DeadLetterQueue
from cockpit.core.policy.effort import choose_effort_for
from cockpit.core.policy.failures import error_event, start_failure
from cockpit.core.policy.gates import escalation_gate, open_gate, weekly_budget_gate
from cockpit.core.policy.retry import max_attempts_for
from cockpit.core.records.attempt import Attempt
from cockpit.core.records.basics import ACTIONABLE, Signals, TaskStatus, utc_now
from cockpit.core.records.exit_info import ExitInfo
from cockpit.core.records.task import TaskState
from cockpit.core.supervisor.settlement import Settler
from cockpit.core.usage.ledger import Ledger, usage_report
from cockpit.core.usage.live import LIVE_RATE_LIMITS_FILE, record_live
from cockpit.core.usage.windows import shared_watcher

PERSIST_EVERY_S = 1.0
RUNNER_LOST_GRACE_S = 2.0
HOUSEKEEPING_EVERY_S = 1.0
DEAD_LETTER_SWEEP_EVERY_S = 30.0
ARCHIVE_EVERY_S = 3600.0
DISK_FULL_RETRY_S = 10.0
REPLY_TTL_S = 3600.0  # answers nobody collected (their sender died) are removed after this long


def codex_home_of(env: dict[str, str]) -> Path:
    """The ``CODEX_HOME`` the workers use: the supervisor's env additions, the environment, ``~/.codex``."""
    value = env.get("CODEX_HOME") or os.environ.get("CODEX_HOME")
    return Path(value).expanduser() if value else Path.home() / ".codex"


def provider_of(codex_home: Path, configured: str | None) -> str:
    """The model provider the breaker is keyed on: the project config, Codex's config, or ``openai``."""
    if configured:
        return configured
    try:
        data = tomllib.loads((codex_home / "config.toml").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return "openai"
    return str(data.get("model_provider") or "openai")


@dataclass
class Running:
    """A live attempt as the supervisor follows it."""

    state: TaskState
    attempt: Attempt
    directory: Path
    tailer: EventTailer
    reducer: AttemptReducer = field(default_factory=AttemptReducer)
    popen: subprocess.Popen[bytes] | None = None
    last_persist: float = 0.0
    last_activity: float = 0.0
    watchdog_notified: bool = False
    watchdog_fired: bool = False
    todo_done: int = -1
    runner_gone_at: float | None = None
    finalised: set[str] = field(default_factory=set)  # finalise's steps done (a full disk may cut it)
    diff_written: int = 0  # the reducer's turn-diff version last written to ``turn.diff``

    @property
    def task_id(self) -> str:
        return self.state.id


class Supervisor:
    def __init__(
        self,
        board: Blackboard,
        *,
        codex: CodexBinary | None = None,
        env: dict[str, str] | None = None,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        on_change: Callable[[TaskState], None] | None = None,
        on_notice: Callable[[str], None] | None = None,
    ) -> None:
        self.board = board
        self.config = board_config(board)
        self.codex = codex or find_codex(self._codex_bin_setting(), board.repo)
        self.env = env or {}
        self.clock = clock
        self.rng = rng or random.Random()
        self.on_change = on_change
        self.on_notice = on_notice or _to_stderr
        self.disk_full: str | None = None  # what could not be written, while the disk is full
        self._disk_retry_at = 0.0
        self.running: dict[str, Running] = {}
        # The full states of the ACTIONABLE tasks, the only ones kept in memory (see _save and _task).
        self.actionable: dict[str, TaskState] = {}
        self.live_tasks = 0  # tasks on the live board, as the task index counts them (for compaction)
        # Awaiting tasks whose card was still pending when last read, with its files' stamps then.
        self._cards_seen: dict[str, tuple[Stamp | None, Stamp | None]] = {}
        self.max_seen_running = 0
        self.codex_home = codex_home_of(self.env)
        self.provider = provider_of(self.codex_home, self.config.provider)
        self._lanes: dict[str, Lane] = {name: cls(board) for name, cls in LANES.items()}
        self.decisions = DecisionStore(
            board.root,
            lambda: datetime.fromtimestamp(self.clock(), UTC),
            on_corrupt=board.quarantine,
            on_event=board.log_event,
        )
        self.breakers = BreakerStore(
            board.root / "breakers", self.clock, self.rng, on_corrupt=board.quarantine
        )
        self.dead_letters = DeadLetterQueue(
            board.root / "dead-letters", self.clock, on_corrupt=board.quarantine
        )
        self.windows = shared_watcher(board.root, self.env, clock=self.clock)
        self.settler = Settler(
            board,
            self._lanes,
            config=self.config,
            decisions=self.decisions,
            breakers=self.breakers,
            dead_letters=self.dead_letters,
            provider=self.provider,
            codex_home=self.codex_home,
            rng=self.rng,
            clock=self.clock,
            windows=self.windows,
        )
        self.ledger = Ledger(board.root / "ledger.jsonl")
        self._budget: tuple[float, BudgetStatus] | None = None
        self._notified: set[str] = set()
        self._stop = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None  # the loop of a running run()
        self._last_housekeeping = 0.0
        self._last_sweep = 0.0
        self._last_archive = 0.0

    def _codex_bin_setting(self) -> str | None:
        value = self.config.trusted("codex_bin")  # an untrusted board config is refused here (exit 2)
        return value if isinstance(value, str) else None

    # ---- life cycle ---------------------------------------------------------------------------
    def stop(self) -> None:
        """Ask :meth:`run` to end after the pass under way. Safe from any thread: a cockpit that hosts
        the supervisor on an event loop of its own calls it from the UI's thread."""
        loop = self._loop
        if loop is not None and loop is not _running_loop():
            try:
                loop.call_soon_threadsafe(self._stop.set)
                return
            except RuntimeError:  # that loop has closed: run() is over
                pass
        self._stop.set()

    async def run(self, *, until_idle: bool = False) -> None:
        """Supervise until stopped (or, with ``until_idle``, until nothing is queued or running)."""
        self._loop = asyncio.get_running_loop()
        try:
            await self._run(until_idle=until_idle)
        finally:
            self._loop = None

    async def _run(self, *, until_idle: bool) -> None:
        self.board.init()
        with self.board.lock():
            with contextlib.suppress(OSError):  # a full disk is met (and said) by the first pass
                self.board.log_event({"kind": "supervisor_started", "pid": os.getpid()})
            self.recover()
            try:
                while not self._stop.is_set():
                    self.guarded_step()
                    if until_idle and self.disk_full is None and self.idle():
                        break
                    try:
                        await asyncio.wait_for(self._stop.wait(), timeout=self.config.poll_interval_s)
                    except TimeoutError:
                        pass
            finally:
                with contextlib.suppress(OSError):
                    self.board.log_event(
                        {"kind": "supervisor_stopped", "pid": os.getpid(), "running": sorted(self.running)}
                    )

    def step(self, *, dispatch: bool = True) -> None:
        """One pass: inbox, running attempts, housekeeping, dispatch. The loop paces it."""
        self.accept_inbox()
        for run in list(self.running.values()):
            self.poll(run)
        now = self.clock()
        if now - self._last_housekeeping >= HOUSEKEEPING_EVERY_S:
            self._last_housekeeping = now
            self.housekeeping(now)
        if dispatch:
            self.dispatch()

    def guarded_step(self) -> None:
        """:meth:`step`, surviving a full disk: the first failed write is said in one line, dispatching
        pauses, and the pass is retried every :data:`DISK_FULL_RETRY_S` seconds until it writes again."""
        now = time.monotonic()
        if self.disk_full is not None and now < self._disk_retry_at:
            return
        try:
            self.step(dispatch=self.disk_full is None)
        except OSError as exc:
            if not disk_full(exc):
                raise
            if self.disk_full is None:
                self.on_notice(
                    f"cockpit: {disk_error_text(exc)}; dispatching paused, retrying every "
                    f"{DISK_FULL_RETRY_S:g}s"
                )
            self.disk_full = disk_error_text(exc)
            self._disk_retry_at = now + DISK_FULL_RETRY_S
            return
        if self.disk_full is not None:
            self.disk_full = None
            self.on_notice("cockpit: the disk takes writes again; dispatching resumed")
            with contextlib.suppress(OSError):
                self.board.log_event({"kind": "disk_space", "line": "NOTIFY disk: writes work again"})

    def idle(self) -> bool:
        """Nothing running, nothing in the inbox, nothing queued that this supervisor could start."""
        if self.running or self.board.inbox():
            return False
        return not any(self._dispatchable(s) for s in self._queued(ready_only=False))

    # ---- inbox --------------------------------------------------------------------------------
    def accept_inbox(self) -> None:
        """Every drop is consumed, whatever it holds: submissions are accepted or quarantined, command
        requests are claimed, then run, refused or discarded, and answered."""
        for item in self.board.inbox():
            if item.kind == "submit":
                try:
                    self._accept_submission(item)
                except OSError as exc:
                    if disk_full(exc):
                        raise  # a full disk keeps the drop: it is taken again with space
                    self._set_aside(item.path, f"submission could not be accepted: {exc}")
                except BlackboardError as exc:
                    self._set_aside(item.path, f"submission could not be accepted: {exc}")
                item.path.unlink(missing_ok=True)
            else:
                claimed = self.board.claim(item)
                if claimed is None:
                    continue  # its sender withdrew it
                try:
                    self._run_command(claimed)
                finally:
                    claimed.path.unlink(missing_ok=True)

    def _set_aside(self, path: Path, reason: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.board.quarantine(path, reason)

    def _accept_submission(self, item: InboxItem) -> None:
        data = item.data
        task_id = str(data.get("task_id", ""))
        try:
            envelope = Envelope.model_validate(data.get("envelope"))
        except ValidationError as exc:
            err = exc.errors()[0]
            reason = f"envelope invalid at {'.'.join(map(str, err['loc']))}: {err['msg']}"
            self.board.quarantine(item.path, reason)
            return
        if not is_task_id(task_id):
            self._set_aside(item.path, f"submission has an invalid task id {task_id[:80]!r}")
            return
        taken = self.board.read_state(task_id) is not None or self.board.archived_task_dir(task_id).exists()
        if task_id in self.actionable or taken:
            self._set_aside(item.path, f"submission has a duplicate task id {task_id!r}")
            return
        if not (self.board.task_dir(task_id) / "envelope.json").exists():  # else: a full disk cut in
            self.board.write_envelope(task_id, envelope)
        state = TaskState(
            id=task_id,
            lane=envelope.lane,
            title=envelope.title or envelope.goal[:80],
            base_commit=data.get("base_commit"),
            base_branch=data.get("base_branch"),
        )
        if envelope.lane in UNBUILT:
            state.message = UNBUILT[envelope.lane]
        self.board.log_event({"kind": "accepted", "task_id": task_id, "lane": envelope.lane})
        asked = requested_escalations(envelope)
        if asked:
            card = open_gate(self.decisions, state, escalation_gate(state, asked))
            state.status = TaskStatus.AWAITING_DECISION
            state.decision_id = card.id
            state.message = f"waiting for {card.id}: {card.title}"
            self.board.log_event(
                {
                    "kind": "BLOCKED",
                    "task_id": task_id,
                    "decision": card.id,
                    "line": f"BLOCKED {task_id}: blocked (reason: asks for {', '.join(asked)})",
                }
            )
        self._save(state)
        self.live_tasks += 1

    def _run_command(self, item: InboxItem) -> None:
        """One claimed command request: set aside when its ids or its expiry are malformed, discarded
        when past its ``expires_at`` (its sender has given up), else run; answered whenever its reply
        address is well formed."""
        data = item.data
        request_id = data.get("request_id")
        task_id = data.get("task_id")
        expired = request_expired(data, utc_now())  # real time: the sender's deadline is wall-clock
        if item.kind != ARCHIVE_REQUEST and not is_task_id(task_id):
            why: str | None = f"invalid task id {str(task_id)[:80]!r}"
        elif not is_request_id(request_id):
            why = f"invalid request id {str(request_id)[:80]!r}"
        elif expired is None:
            why = "no valid expires_at (a command request must say when it expires)"
        else:
            why = None
        if why is not None:
            self._set_aside(item.path, f"{item.kind} request refused: {why}")
            reply: dict[str, Any] = {"ok": False, "status": "refused", "error": f"refused: {why}"}
        elif expired:
            self.board.log_event(
                {
                    "kind": "request_expired",
                    "request": item.kind,
                    "task_id": task_id,
                    "expires_at": data.get("expires_at"),
                    "line": f"INBOX {item.kind} {task_id}: discarded, it expired at {data.get('expires_at')}",
                }
            )
            reply = {"ok": False, "status": "expired", "error": "not applied: the request expired unanswered"}
        elif item.kind == ARCHIVE_REQUEST:
            reply = self._archive_request(data)
        else:
            reply = self._apply_request(item.kind, str(task_id), data)
        if is_request_id(request_id):
            self.board.reply(str(request_id), reply)

    def _apply_request(self, kind: str, task_id: str, data: dict[str, Any]) -> dict[str, Any]:
        state = self._task(task_id)
        try:
            if state is None:
                raise BlackboardError(f"no task {task_id!r}")
            message = apply_command(self.board, kind, state, data)
        except (CommandError, BlackboardError, GitOpError, ConfigError, OSError) as exc:
            self.board.log_event(
                {"kind": "request_refused", "request": kind, "task_id": task_id, "error": str(exc)}
            )
            return {"ok": False, "status": "refused", "error": str(exc)}
        finally:
            if state is not None:
                self._save(state)  # a refusal may still record something (a merge that conflicted)
        return {"ok": True, "status": "applied", "message": message}

    def _archive_request(self, data: dict[str, Any]) -> dict[str, Any]:
        """``cockpit archive`` sent while this supervisor holds the board: it moves the tasks itself."""
        try:
            selection = ArchiveSelection.model_validate(data.get("selection"))
        except ValidationError as exc:
            err = exc.errors()[0]
            why = f"invalid selection: {'.'.join(map(str, err['loc']))}: {err['msg']}"
            return {"ok": False, "status": "refused", "error": why}
        now = datetime.fromtimestamp(self.clock(), UTC)
        try:
            report = self._archive(selection, now, by="cockpit archive")
        except (BlackboardError, GitOpError, OSError) as exc:
            if isinstance(exc, OSError) and disk_full(exc):
                raise
            return {"ok": False, "status": "refused", "error": f"could not archive: {exc}"}
        return {"ok": True, "status": "applied", "report": report.model_dump(mode="json")}

    def _archive(self, selection: ArchiveSelection, now: datetime, *, by: str) -> ArchiveReport:
        """Archive among the live tasks: a sweep chooses from their summaries, and only the tasks chosen
        are read in full (none of them is in memory: an actionable task is never archived)."""
        chosen = archive_candidates(self.board, selection, self._task)
        report = archive_tasks(self.board, chosen, selection, now, by=by, load=self._task)
        if not selection.dry_run:
            for done in report.archived:
                self.actionable.pop(done.task_id, None)
            self.live_tasks = max(0, self.live_tasks - len(report.archived))
        return report

    def _auto_archive(self, now: float) -> None:
        """``[archive] after_days = N``: finished tasks unchanged for N days leave the live board (what
        something still holds stays); a failure is logged and never stops the supervisor."""
        days = self.config.archive.after_days
        if not days:
            return
        try:
            selection = ArchiveSelection(older_than_s=days * 86400.0)
            self._archive(selection, datetime.fromtimestamp(now, UTC), by=f"after_days = {days}")
        except Exception as exc:
            if isinstance(exc, OSError) and disk_full(exc):
                raise
            self.board.log_event({"kind": "archive_error", "error": str(exc)[:500]})

    # ---- housekeeping -------------------------------------------------------------------------
    def housekeeping(self, now: float) -> None:
        """Expire overdue decisions, apply answered ones, sweep dead letters, compact the task index."""
        self.decisions.expire_due()
        self._compact_index()
        for state in list(self.actionable.values()):
            if state.status != TaskStatus.AWAITING_DECISION or not state.decision_id:
                continue
            seen = self._card_files(state.decision_id)
            if seen is not None and self._cards_seen.get(state.id) == seen:
                continue  # its card's files are the ones read last time, when it was still pending
            try:
                card = self.decisions.get(state.decision_id)
            except DecisionError:  # not a decision id at all: as good as missing
                card = None
            if card is None:
                state.status, state.decision_id = TaskStatus.FAILED, None
                state.message = "its decision card is missing (see quarantine/)"
                self._save(state)
            elif card.resolved is not None:
                self.settler.apply_decision(state, card)
                self._save(state)
            elif seen is not None:
                self._cards_seen[state.id] = seen
        for task_id in [t for t in self._cards_seen if t not in self.actionable]:
            del self._cards_seen[task_id]
        due: list[str] = list(self.settler.requeue)
        self.settler.requeue.clear()
        if now - self._last_sweep >= DEAD_LETTER_SWEEP_EVERY_S:
            self._last_sweep = now
            states = self.breakers.states()
            half_open = {p for p, st in states.items() if st == BreakerState.HALF_OPEN}
            # A HALF-OPEN breaker only closes after a successful probe; with every failing task parked
            # there is no traffic to probe with, so one due letter per such provider goes as the probe.
            eligible = {p: (BreakerState.CLOSED if p in half_open else st) for p, st in states.items()}
            probing: set[str] = set()
            for letter in self.dead_letters.due(eligible):
                provider = letter.related_circuit_breaker
                if provider in half_open:
                    if provider in probing:
                        continue
                    probing.add(provider)
                self.dead_letters.mark_swept(letter.task_id)
                due.append(letter.task_id)
        for task_id in due:
            state = self._task(task_id)  # a dead-lettered task is not kept in memory: read it now
            if state is not None and state.status == TaskStatus.DEAD_LETTER:
                state.status, state.not_before = TaskStatus.QUEUED, None
                state.resume_reason = "a dead-letter sweep"
                state.message = "retried by the dead-letter sweep"
                self.board.log_event({"kind": "dead_letter_retry", "task_id": task_id})
                self._save(state)
        for message in self.budget_status().notify:
            key = f"{datetime.fromtimestamp(now, UTC):%Y-%m-%d}:{message}"
            if key not in self._notified:
                self._notified.add(key)
                self.board.log_event(
                    {"kind": "notify", "topic": "budget", "line": f"NOTIFY budget: {message}"}
                )
        if now - self._last_archive >= ARCHIVE_EVERY_S:
            self._last_archive = now
            for task_id in self.dead_letters.archive_old():
                self.board.log_event({"kind": "dead_letter_archived", "task_id": task_id})
            self.board.sweep_replies(REPLY_TTL_S)
            self._auto_archive(now)

    def _card_files(self, card_id: str) -> tuple[Stamp | None, Stamp | None] | None:
        """The stamps of a card's pending and resolved files: a card is written, answered and withdrawn
        only by making new files, so the same stamps mean the same card. None for a malformed id."""
        if not DECISION_ID_RE.fullmatch(card_id):
            return None
        pending = _file_stamp(self.decisions.pending_dir / f"{card_id}.json")
        resolved = _file_stamp(self.decisions.resolved_dir / f"{card_id}.json")
        return (pending, resolved)

    def _compact_index(self) -> None:
        """Rebuild the task index when it grew, held a torn line or was removed (this process holds the
        board lock: the only one that may)."""
        index = self.board.task_index
        reason = index.due(self.live_tasks)
        if reason is None:
            return
        self.live_tasks = index.compact(scan=lambda: scan_stamped(self.board))
        self.board.log_event({"kind": "task_index_rebuilt", "reason": reason})

    # ---- dispatch -----------------------------------------------------------------------------
    def _queued(self, *, ready_only: bool = True) -> list[TaskState]:
        now = self.clock()
        out = [
            s
            for s in self.actionable.values()
            if s.status == TaskStatus.QUEUED
            and s.id not in self.running
            and (not ready_only or (s.not_before or 0.0) <= now)
        ]
        out.sort(key=lambda s: s.created_at)
        return out

    def _dispatchable(self, state: TaskState) -> bool:
        return state.lane in self._lanes

    def dispatch(self) -> None:
        free = self.config.max_workers - len(self.running)
        if free <= 0:
            return
        ready = [s for s in self._queued() if self._dispatchable(s)]
        if not ready:
            return
        blocked_until = self.windows.blocked_until(self.clock())
        if blocked_until is not None:
            when = datetime.fromtimestamp(blocked_until, UTC)
            self._note(ready, f"waiting: the Codex usage window is exhausted until {when:%Y-%m-%d %H:%M} UTC")
            return
        if self.config.budget.weekly_tokens or self.config.budget.daily_tokens:
            budget = self.budget_status()
            if budget.gate_new_tasks:
                for state in [s for s in ready if not s.attempts and not s.budget_approved]:
                    self.settler.gate(state, weekly_budget_gate(state, budget.gate_reason or "budget spent"))
                    self._save(state)
                ready = [s for s in ready if s.status == TaskStatus.QUEUED]
                if not ready:
                    return
        breaker = self.breakers.get(self.provider)
        busy_exclusive = {r.state.lane for r in self.running.values() if self._lanes[r.state.lane].exclusive}
        for state in ready:
            if free <= 0:
                break
            lane = self._lanes[state.lane]
            if lane.exclusive and state.lane in busy_exclusive:
                continue
            admission = breaker.allow()
            if not admission.allowed:
                self._note_waiting(ready, admission.reason, admission.retry_at)
                break
            self.breakers.save(breaker)
            if self.start_attempt(state, lane, probe=admission.probe):
                free -= 1
                if lane.exclusive:
                    busy_exclusive.add(state.lane)
            if admission.probe:
                break  # one probe at a time while HALF-OPEN

    def budget_status(self) -> BudgetStatus:
        """Today's and this week's spend against the project budgets (cached for a few seconds)."""
        now = self.clock()
        if self._budget is None or now - self._budget[0] > 5.0:
            report = usage_report(
                self.ledger,
                datetime.fromtimestamp(now, UTC),
                self.config.tz(),
                week_starts_on=self.config.week_starts_on,
            )
            self._budget = (now, project_budget_status(report, self.config.budget))
        return self._budget[1]

    def _note_waiting(self, states: list[TaskState], reason: str, retry_at: float | None) -> None:
        when = f" until {datetime.fromtimestamp(retry_at, UTC):%H:%M:%S} UTC" if retry_at else ""
        self._note(states, f"waiting: the {self.provider} circuit breaker is open{when} ({reason})")

    def _note(self, states: list[TaskState], message: str) -> None:
        """Say on each waiting task why it waits (written only when the reason changes)."""
        for state in states:
            if state.message != message:
                state.message = message
                self._save(state)

    def start_attempt(self, state: TaskState, lane: Lane, *, probe: bool = False) -> bool:
        """Start the next attempt of ``state``; True when its runner runs. An unexpected error on the way
        (preparing the lane, building Codex's argv, spawning the runner) fails this task with a structured
        error event and never stops the supervisor; a full disk is left to the loop, which pauses."""
        try:
            return self._start_attempt(state, lane, probe=probe)
        except Exception as exc:
            if isinstance(exc, OSError) and disk_full(exc):
                if probe and state.id not in self.running:
                    with contextlib.suppress(OSError):
                        self._release_probe()
                raise
            if state.id in self.running:  # the runner is up: its attempt is followed as any other
                return True
            self._start_failed(state, exc, probe=probe)
            return False

    def _start_failed(self, state: TaskState, exc: Exception, *, probe: bool) -> None:
        n = len(state.attempts) + 1
        failure = start_failure(f"{type(exc).__name__}: {exc}")
        event = error_event(
            state.id, failure, n, max_attempts_for(failure), f"attempt {n - 1}" if n > 1 else "none"
        )
        self.board.log_event({"kind": "error", **event.model_dump(mode="json")})
        state.failures.append(failure)
        state.status = TaskStatus.FAILED
        state.message = f"attempt {n}: {failure.message[:300]}"
        if probe:  # the breaker waits for its probe's result; this one never ran
            self._release_probe()
        self._save(state)

    def _release_probe(self) -> None:
        breaker = self.breakers.get(self.provider)
        breaker.release_probe()
        self.breakers.save(breaker)

    def _start_attempt(self, state: TaskState, lane: Lane, *, probe: bool) -> bool:
        envelope = self.board.read_envelope(state.id)
        if envelope is None:
            state.status = TaskStatus.FAILED
            state.message = "envelope missing or unreadable (see quarantine/)"
            self._save(state)
            return False
        try:
            workdir = lane.prepare(state)
        except (GitOpError, RuntimeError) as exc:
            state.status = TaskStatus.FAILED
            state.message = f"could not prepare the {lane.name} lane: {exc}"
            self._save(state)
            return False
        n = len(state.attempts) + 1
        scratch = self.board.scratch_dir(state.id, n)
        problem = confinement_problem([workdir, scratch], trusted_places(self.board.root, self.codex.path))
        if problem:
            state.status = TaskStatus.FAILED
            state.message = problem
            self.board.log_event({"kind": "confinement", "task_id": state.id, "line": problem})
            self._save(state)
            return False
        directory = self.board.attempt_dir(state.id, n)
        make_private_dirs(directory)
        scratch.mkdir(mode=0o700, parents=True, exist_ok=True)
        prompt, kind, resume = self._prompt_for(state, envelope)
        binding = self.windows.snapshot().binding
        choice = choose_effort_for(
            envelope,
            binding.used_percent if binding else None,
            self.config.effort,
            window_label=binding.label if binding else None,
        )
        if (state.effort, state.effort_reason) != (choice.tier, choice.reason):
            self.board.log_event(
                {
                    "kind": "effort",
                    "task_id": state.id,
                    "tier": choice.tier,
                    "source": choice.source,
                    "reason": choice.reason,
                }
            )
        state.effort, state.effort_reason = choice.tier, choice.reason
        atomic_write_text(directory / "prompt.md", prompt)
        plan = plan_for(
            envelope,
            codex=self.codex.path,
            workdir=workdir,
            last_message=directory / "last-message.md",
            prompt=prompt,
            resume_thread=resume,
            effort=choice.tier,
        )
        plan = dataclasses.replace(
            plan,
            approved_escalations=frozenset(state.approved_escalations),
            sandbox="workspace-write"
            if "danger-full-access sandbox" in state.denied_escalations
            else plan.sandbox,
            network=plan.network and "network access" not in state.denied_escalations,
            extra_config=exec_overrides(scratch),
        )
        deadline = min(
            self.config.run_timeout_s, float(envelope.budget.wall_time_s or self.config.run_timeout_s)
        )
        chunk = self.config.chunk_limit_s if self.config.chunk_limit_s < deadline else None
        spec = {
            "argv": plan.argv(),
            "cwd": str(workdir),
            "attempt_dir": str(directory),
            "deadline_s": deadline,
            "chunk_s": chunk,
            "grace_s": self.config.kill_grace_s,
            "env": {
                **self.env,
                "COCKPIT_TASK_ID": state.id,
                "COCKPIT_ATTEMPT_DIR": str(directory),
                "TMPDIR": str(scratch),
            },
        }
        if lane.runner_module != "cockpit.core.attempts.exec_runner":
            # The app-server runner: one turn through JSON-RPC, approvals as decision cards.
            spec.update(
                codex=str(self.codex.path),
                prompt_file=str(directory / "prompt.md"),
                approval_policy=envelope.approval_policy or "on-request",
                sandbox=plan.sandbox,
                network=plan.network,
                model=plan.model,
                effort=plan.effort,
                resume_thread=resume,
                board_root=str(self.board.root),
                scratch=str(scratch),
                task_id=state.id,
                attempt=n,
                chunk_s=None,
            )
        atomic_write_json(directory / "spec.json", spec)
        with open(directory / "runner.log", "ab", opener=private_opener) as runner_log:
            popen = subprocess.Popen(
                # -P: the runner runs outside the sandbox, so the worker's directory (where it could
                # plant modules) never goes on its sys.path; it starts in the attempt's own directory.
                [sys.executable, "-P", "-m", lane.runner_module, str(directory / "spec.json")],
                cwd=str(directory),
                stdin=subprocess.DEVNULL,
                stdout=runner_log,
                stderr=runner_log,
                start_new_session=True,
                close_fds=True,
            )
        attempt = Attempt(
            n=n,
            kind=kind,
            resumed_thread=resume,
            deadline_s=deadline,
            effort=plan.effort,
            model=plan.model,
            runner_pid=popen.pid,
            probe=probe,
        )
        state.attempts.append(attempt)
        state.pending_feedback = None
        state.resume_reason = None
        state.not_before = None
        state.status = TaskStatus.RUNNING
        state.message = f"attempt {n} running" + (f" (resuming thread {resume})" if resume else "")
        now = time.monotonic()
        self.running[state.id] = Running(
            state, attempt, directory, EventTailer(directory / "events.jsonl"), popen=popen, last_activity=now
        )
        self.max_seen_running = max(self.max_seen_running, len(self.running))
        self._save(state)
        write_checkpoint(
            self.board.task_dir(state.id),
            build_checkpoint(state, phase="running", next_step=f"finish attempt {n}", artifacts=[]),
        )
        if resume:
            self.board.log_event(
                {
                    "kind": "resume",
                    "task_id": state.id,
                    "attempt": n,
                    "thread_id": resume,
                    "lane": state.lane,
                    "line": f"RESUME {state.id}: attempt {n} resumes thread {resume} ({kind})",
                }
            )
        self.board.log_event(
            {
                "kind": "RUNNING",
                "task_id": state.id,
                "attempt": n,
                "lane": state.lane,
                "line": f"RUNNING {state.id}: running (attempt {n}, {kind})",
            }
        )
        return True

    def _prompt_for(self, state: TaskState, envelope: Envelope) -> tuple[str, str, str | None]:
        """The prompt, the attempt kind and the thread to resume (if any) for the next attempt."""
        feedback, reason = state.pending_feedback, state.resume_reason
        thread = state.thread_id if (feedback or reason) and self._resumable(state.thread_id) else None
        previous = (
            state.last_attempt.outcome.detail if state.last_attempt and state.last_attempt.outcome else None
        )
        if feedback:
            if thread:
                return render_followup_prompt(envelope, state.id, feedback, previous), "followup", thread
            return (
                render_prompt(envelope, state.id) + "\n\nFeedback on an earlier attempt:\n" + feedback[:4000],
                "followup",
                None,
            )
        if reason and thread:
            digest = resume_digest(state, reason)
            return render_followup_prompt(envelope, state.id, digest, previous), "resume", thread
        return render_prompt(envelope, state.id), ("retry" if state.attempts else "initial"), None

    def _resumable(self, thread_id: str | None) -> bool:
        """A thread can be resumed when Codex has a rollout file for it."""
        if not thread_id:
            return False
        sessions = self.codex_home / "sessions"
        return any(sessions.glob(f"*/*/*/rollout-*-{thread_id}.jsonl"))

    # ---- following ----------------------------------------------------------------------------
    def poll(self, run: Running) -> None:
        events = run.tailer.read_new()
        now = time.monotonic()  # process timing is real time; the injected clock is for policy
        if events:
            run.last_activity = now
            run.reducer.apply_many(events)
            self._live_updates(run, events)
            asked_before = run.attempt.progress.awaiting_approval
            progress = run.reducer.snapshot()
            progress.parse_errors = run.tailer.parse_errors
            run.attempt.progress = progress
            asking = progress.awaiting_approval != asked_before
            if asking:  # shown on the task's card at once, not at the next periodic save
                run.state.message = (
                    f"waits for approval to {progress.awaiting_approval}"
                    if progress.awaiting_approval
                    else f"attempt {run.attempt.n} running"
                )
            first_thread = progress.thread_id and run.state.thread_id != progress.thread_id
            if first_thread:
                run.state.thread_id = progress.thread_id  # persisted at spawn time, not at exit
            self._note_steps(run)
            if first_thread or asking or now - run.last_persist >= PERSIST_EVERY_S:
                run.last_persist = now
                self._save(run.state)
        exit_path = run.directory / "exit.json"
        if exit_path.exists():
            if run.popen is not None:
                run.popen.poll()
            self.finalise(run)
            return
        self._watchdog(run, now)
        self._check_runner(run)

    def _live_updates(self, run: Running, events: list[CodexEvent]) -> None:
        """What mcp-lane turns stream beside their items: the turn's diff so far (``turn.diff`` in the
        attempt directory, for the task view) and the account's credit windows (into the board's
        live rate-limit file, which every credit-window reader follows)."""
        if run.reducer.turn_diff_version != run.diff_written and run.reducer.turn_diff is not None:
            run.diff_written = run.reducer.turn_diff_version
            # derived from events.jsonl (rewritten on re-attach): no fsync on the hot path
            atomic_write_text(run.directory / "turn.diff", run.reducer.turn_diff, durable=False)
        for event in events:
            if type(event) is RateLimitsUpdated:
                observed = event.emitted_at if event.emitted_at is not None else time.time()
                path = self.board.root / LIVE_RATE_LIMITS_FILE
                record_live(path, event.rate_limits, observed, self.board.quarantine)

    def _note_steps(self, run: Running) -> None:
        """A ``RUNNING step n/m`` line whenever the worker's plan advances."""
        todo = run.attempt.progress.todo
        if not todo:
            return
        done = sum(1 for t in todo if t.get("completed"))
        if done == run.todo_done:
            return
        run.todo_done = done
        current = next((t.get("text", "") for t in todo if not t.get("completed")), "finishing")
        self.board.log_event(
            {
                "kind": "RUNNING",
                "task_id": run.task_id,
                "step": done,
                "steps": len(todo),
                "line": f"RUNNING {run.task_id}: running (step {min(done + 1, len(todo))}/"
                f"{len(todo)}: {str(current)[:80]})",
            }
        )

    def _watchdog(self, run: Running, now: float) -> None:
        quiet = now - run.last_activity
        if quiet >= self.config.watchdog_notify_s and self._awaiting_approval(run):
            run.last_activity = now  # Codex waits on a person's answer: quiet, not stuck
            return
        if quiet >= self.config.watchdog_notify_s and not run.watchdog_notified:
            run.watchdog_notified = True
            run.state.message = f"no new event for {quiet / 60:.0f} min"
            self.board.log_event(
                {
                    "kind": "watchdog",
                    "task_id": run.task_id,
                    "line": f"RUNNING {run.task_id}: no new event for {quiet:.0f}s",
                }
            )
            self._save(run.state)
        if quiet >= self.config.watchdog_kill_s and not run.watchdog_fired and run.attempt.runner_pid:
            run.watchdog_fired = True
            self.board.log_event({"kind": "watchdog_kill", "task_id": run.task_id, "quiet_s": round(quiet)})
            try:
                os.kill(run.attempt.runner_pid, signal.SIGUSR1)
            except ProcessLookupError:
                pass

    def _awaiting_approval(self, run: Running) -> bool:
        """True while an mcp-lane attempt has an approval card pending (the runner answers it)."""
        if run.attempt.runner_pid is None or run.state.lane != "mcp":
            return False
        return any(card.trigger == APPROVAL_TRIGGER for card in self.decisions.pending_for(run.task_id))

    def _check_runner(self, run: Running) -> None:
        """Backstops for a runner that died without writing ``exit.json`` or overran its cap."""
        alive = run.popen.poll() is None if run.popen is not None else _pid_alive(run.attempt.runner_pid)
        now = time.time()  # the runner's cap runs in real time, whatever the policy clock says
        started = run.attempt.started_at.timestamp()
        overdue = now > started + run.attempt.deadline_s + self.config.kill_grace_s + 15.0
        if alive and not overdue:
            return
        if run.runner_gone_at is None and not overdue:
            run.runner_gone_at = now  # the runner may be writing exit.json this very moment
            return
        if not overdue and run.runner_gone_at is not None and now - run.runner_gone_at < RUNNER_LOST_GRACE_S:
            return
        _kill_attempt(run.directory, run.attempt.runner_pid)
        self._withdraw_approvals(run.task_id, "the attempt that asked is gone (its runner stopped)")
        info = ExitInfo(
            lost=not overdue,
            timed_out=overdue,
            started=started,
            ended=now,
            note="runner overran the hard cap; killed by the supervisor"
            if overdue
            else "runner disappeared without recording an exit status",
        )
        atomic_write_json(run.directory / "exit.json", info.model_dump(mode="json"))
        self.finalise(run)

    def _withdraw_approvals(self, task_id: str, note: str) -> None:
        """Codex approval cards answer a live app-server request; once its runner is gone nobody waits."""
        for card in self.decisions.pending_for(task_id):
            if card.trigger == APPROVAL_TRIGGER:
                with contextlib.suppress(DecisionError, OSError):
                    self.decisions.withdraw(card.id, note)

    def finalise(self, run: Running) -> None:
        state, attempt = run.state, run.attempt
        run.reducer.apply_many(run.tailer.read_new())
        run.reducer.apply_many(run.tailer.flush())  # a last line Codex left without its newline
        progress = run.reducer.snapshot()
        progress.parse_errors = run.tailer.parse_errors
        attempt.progress = progress
        try:
            info = ExitInfo.model_validate_json((run.directory / "exit.json").read_bytes())
        except (ValueError, OSError) as exc:
            self.board.quarantine(run.directory / "exit.json", f"unreadable exit status: {exc}")
            info = ExitInfo(lost=True, note="exit status unreadable")
        attempt.exit = info
        attempt.ended_at = datetime.fromtimestamp(info.ended, UTC) if info.ended else utc_now()
        last_text = _read_text(run.directory / "last-message.md")
        attempt.signals = Signals(
            exit_code=info.code,
            turn_completed=progress.turn_completed and progress.turn_failed is None,
            last_message=bool(last_text.strip()),
        )
        if progress.thread_id:
            state.thread_id = progress.thread_id
        if progress.usage is not None:
            same_thread = state.thread_usage is not None and attempt.resumed_thread == progress.thread_id
            delta = progress.usage.minus(state.thread_usage) if same_thread else progress.usage
            attempt.usage_delta = delta
            state.thread_usage = progress.usage
            state.usage = state.usage.plus(delta)
        attempt.outcome = parse_outcome(last_text) if last_text.strip() else None
        shutil.rmtree(self.board.scratch_dir(state.id, attempt.n), ignore_errors=True)
        # Each step once, even when a full disk cuts this short and the next pass finalises again.
        if "notify" not in run.finalised:
            self._notify(state, attempt)  # the completion line is written before any analysis
            run.finalised.add("notify")
        if "ledger" not in run.finalised:
            self._ledger(state, attempt)
            run.finalised.add("ledger")
        if "settle" not in run.finalised:
            envelope = self.board.read_envelope(state.id)
            self._stuck(state, attempt, envelope)
            try:
                self.settler.settle(state, attempt, envelope)
            except Exception as exc:  # one task's bad settle never stops the supervisor
                if isinstance(exc, OSError) and disk_full(exc):
                    raise  # the loop pauses; this step runs again when space returns
                state.status, state.message = TaskStatus.FAILED, f"could not settle the attempt: {exc}"
                self.board.log_event(
                    {
                        "kind": "settle_error",
                        "task_id": state.id,
                        "error": str(exc)[:500],
                        "error_type": type(exc).__name__,
                    }
                )
            run.finalised.add("settle")
        self._save(state)
        self.running.pop(state.id, None)

    def _notify(self, state: TaskState, attempt: Attempt) -> None:
        info = attempt.exit or ExitInfo()
        out = attempt.outcome
        if info.cancelled:
            word, text = "CANCELLED", "cancelled"
        elif attempt.signals.ok and out and out.status in ("FAILED", "BLOCKED"):
            word, text = out.status, f"{out.status.lower()} ({out.detail[:160]})"
        elif attempt.signals.ok:
            size = (self.board.attempt_dir(state.id, attempt.n) / "last-message.md").stat().st_size
            word, text = "COMPLETED", f"completed (output: last-message.md, {size} B)"
        else:
            reason = attempt.progress.turn_failed or info.note or f"exit {info.code}, signal {info.signal}"
            word, text = "FAILED", f"FAILED (error: {reason[:200]})"
        self.board.log_event(
            {
                "kind": word,
                "task_id": state.id,
                "attempt": attempt.n,
                "signals": attempt.signals.model_dump(),
                "line": f"{word} {state.id}: {text}",
            }
        )

    def _stuck(self, state: TaskState, attempt: Attempt, envelope: Envelope | None) -> None:
        """The playbook's token stuck rule, to the notify tier (over 150 % of budget is a gate)."""
        if envelope is None:
            return
        verdict = stuck_check(
            task_size(envelope, self.config.effort),
            envelope.budget.tokens,
            state.usage.input_tokens + state.usage.output_tokens,
            bool(attempt.progress.file_changes),
            self.config.budget,
            task_id=state.id,
        )
        if verdict is not None:
            self.board.log_event(
                {
                    "kind": "notify",
                    "topic": "stuck",
                    "task_id": state.id,
                    "line": f"NOTIFY {state.id}: {verdict.message}",
                }
            )

    def _ledger(self, state: TaskState, attempt: Attempt) -> None:
        delta = attempt.usage_delta
        duration = (attempt.ended_at - attempt.started_at).total_seconds() if attempt.ended_at else None
        self.board.append_ledger(
            {
                "task_id": state.id,
                "attempt": attempt.n,
                "lane": state.lane,
                "effort": attempt.effort or "default",
                "model": attempt.model,
                "thread_id": state.thread_id,
                "resumed": attempt.resumed_thread is not None,
                "input_tokens": delta.input_tokens if delta else 0,
                "cached_input_tokens": delta.cached_input_tokens if delta else 0,
                "output_tokens": delta.output_tokens if delta else 0,
                "reasoning_output_tokens": delta.reasoning_output_tokens if delta else 0,
                "usage_reported": delta is not None,
                "duration_s": round(duration, 3) if duration is not None else None,
                "ok": attempt.signals.ok,
            }
        )

    # ---- recovery -----------------------------------------------------------------------------
    def recover(self) -> None:
        """Load the actionable tasks and re-attach to attempts that were running when the last
        supervisor stopped or died: live runners are followed again, finished ones finalised, vanished
        ones recorded as lost (and retried by the policy from their checkpoint). First, with the lock
        held so no other cockpit process runs git here, a merge a killed process left half-done is
        finished or undone and stale ``index.lock`` files in task worktrees are removed. The task index
        is made current again on the way (:func:`~cockpit.core.board.task_index.start_up`): only the
        actionable tasks' state files and those whose index line is behind are read in full."""
        self._recover_git()
        finish_interrupted(self.board)  # an archive move a killed process left: finished or dropped
        for path in self.board.claimed():
            self._set_aside(path, "a request an earlier supervisor took but did not finish; not run again")
        started = start_up(self.board, ACTIONABLE)
        self.actionable = {s.id: s for s in sorted(started.kept, key=lambda s: s.created_at)}
        self.live_tasks = started.tasks
        if started.error is not None:  # readers fall back to the state files; housekeeping tries again
            with contextlib.suppress(OSError):
                self.board.log_event({"kind": "task_index_error", "error": str(started.error)[:500]})
        for state in list(self.actionable.values()):
            if state.status != TaskStatus.RUNNING or state.id in self.running:
                continue
            attempt = state.last_attempt
            if attempt is None:
                state.status = TaskStatus.QUEUED
                self._save(state)
                continue
            directory = self.board.attempt_dir(state.id, attempt.n)
            run = Running(
                state,
                attempt,
                directory,
                EventTailer(directory / "events.jsonl"),
                last_activity=time.monotonic(),
            )
            self.running[state.id] = run
            self.board.log_event(
                {
                    "kind": "reattached",
                    "task_id": state.id,
                    "attempt": attempt.n,
                    "runner_alive": _pid_alive(attempt.runner_pid),
                }
            )
            self.poll(run)

    def _recover_git(self) -> None:
        try:
            note = recover_merge(self.board)
            for lock in clear_stale_index_locks(self.board.repo, self._worktrees()):
                self.board.log_event({"kind": "stale_lock_removed", "path": str(lock)})
        except (GitOpError, OSError) as exc:  # git's own failures are GitOpErrors too
            self.board.log_event({"kind": "git_recovery_error", "error": str(exc)[:500]})
            return
        if note:
            self.board.log_event({"kind": "notify", "topic": "merge", "line": f"NOTIFY {note}"})

    def _worktrees(self) -> list[Path]:
        """The task worktrees that exist: the directories of ``worktrees/`` named by a task id, each at
        the path the cockpit gives a task's worktree (found by listing one directory, not by reading
        every task's state; a symbolic link there is not followed)."""
        try:
            entries = list(os.scandir(self.board.root / "worktrees"))
        except FileNotFoundError:
            return []
        return sorted(
            self.board.worktree_path(entry.name)
            for entry in entries
            if is_task_id(entry.name) and entry.is_dir(follow_symlinks=False)
        )

    # ---- persistence --------------------------------------------------------------------------
    def _save(self, state: TaskState) -> None:
        """Write a task's state; it stays in memory while it is actionable, and leaves when it is not."""
        if state.status in ACTIONABLE:
            self.actionable[state.id] = state
        else:
            self.actionable.pop(state.id, None)
        self.board.write_state(state)
        if self.on_change is not None:
            self.on_change(state)

    def _task(self, task_id: str) -> TaskState | None:
        """A live task's state: the one in memory when it is actionable, else read from its file."""
        state = self.actionable.get(task_id)
        return state if state is not None else self.board.read_state(task_id)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:  # called from a thread that runs no event loop
        return None


def _to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _file_stamp(path: Path) -> Stamp | None:
    try:
        return stamp_of(os.stat(path))
    except OSError:
        return None


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


# The attempt runners, as a live runner's command line names them. The last two are the names runners
# started by a cockpit before the core had subpackages still carry: such a runner is adopted, not lost.
RUNNER_MODULES = (
    b"cockpit.core.attempts.exec_runner",
    b"cockpit.core.attempts.app_server_runner",
    b"cockpit.core.runner",  # old module name
    b"cockpit.core.mcp_runner",  # old module name
)


def _pid_alive(pid: int | None) -> bool:
    """True while ``pid`` is a live (non-zombie) attempt runner; a recycled pid does not count."""
    if not pid:
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            state = fh.read().rsplit(b")", 1)[1].split()[0]
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            cmdline = fh.read()
    except (OSError, IndexError):
        return False
    return state != b"Z" and any(module in cmdline for module in RUNNER_MODULES)


def _kill_attempt(directory: Path, runner_pid: int | None) -> None:
    """Kill a runner's and its Codex's process groups (used only when the runner failed its job)."""

    groups = set()
    if runner_pid:
        groups.add(runner_pid)
    try:
        info = json.loads((directory / "pid.json").read_text())
        groups.add(int(info["codex_pgid"]))
    except (OSError, ValueError, KeyError, TypeError):
        pass
    for pgid in groups:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
