"""The supervisor: the one process that dispatches work for a blackboard, and its loop.

It holds the blackboard lock and is the only writer of task state while it runs. It keeps in memory the
full state of the tasks it acts on by itself (:data:`~cockpit.core.records.basics.ACTIONABLE`: queued,
running, reviewing, awaiting a decision) and reads any other task's from its ``state.json`` when a
request, a due dead letter or an archive pass names it, so its cost follows the work in hand, not the
board's history. Each pass of the loop (:meth:`Supervisor.step`) runs the phases in order, each in a
module of its own: :mod:`~cockpit.core.supervisor.inbox` (accept submissions, run requests),
:mod:`~cockpit.core.supervisor.housekeeping` (decisions, dead letters, the index),
:mod:`~cockpit.core.supervisor.dispatch` and :mod:`~cockpit.core.supervisor.launch` (start attempts
within the worker cap, the breaker and the budgets), :mod:`~cockpit.core.supervisor.follow` (read each
running attempt's events, the watchdog), :mod:`~cockpit.core.supervisor.finalise` (signals, ledger, then
:mod:`~cockpit.core.supervisor.settlement`), :mod:`~cockpit.core.supervisor.review` (the cross-family
review of a settled result, its judge and the round's decision);
:mod:`~cockpit.core.supervisor.recovery` runs once at start. The phases are mixins over this class's one
state, not objects of their own: they share every table and store, run on one loop, and call each other
(dispatch starts attempts, follow finalises them), so a phase object would only pass the whole
supervisor around. When the disk fills, the loop says so in one line, stops dispatching and retries its
pass every :data:`DISK_FULL_RETRY_S` seconds; work resumes when space returns (inbox drops stay until
accepted).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from cockpit.core.atomic import disk_error_text, disk_full
from cockpit.core.board.blackboard import Blackboard, Stamp
from cockpit.core.board.decisions import DecisionStore
from cockpit.core.claude.binary import ClaudeBinary
from cockpit.core.codex.binary import CodexBinary, find_codex
from cockpit.core.config import board_config
from cockpit.core.lanes import LANES, Lane
from cockpit.core.layout import BREAKERS_DIR, DEAD_LETTERS_DIR, LEDGER_FILE
from cockpit.core.policy.breaker import BreakerStore
from cockpit.core.policy.budgets import BudgetStatus
from cockpit.core.policy.dead_letters import DeadLetterQueue
from cockpit.core.records.basics import ACTIONABLE
from cockpit.core.records.board_events import EventKind
from cockpit.core.records.task import TaskState
from cockpit.core.supervisor.base import Running, _running_loop, _to_stderr, codex_home_of, provider_of
from cockpit.core.supervisor.cloud import CLOUD_PROVIDER
from cockpit.core.supervisor.cloud_follow import CloudFollowPhase
from cockpit.core.supervisor.cloud_submission import CloudSubmissionPhase
from cockpit.core.supervisor.dispatch import DispatchPhase
from cockpit.core.supervisor.finalise import FinalisePhase
from cockpit.core.supervisor.follow import FollowPhase
from cockpit.core.supervisor.housekeeping import HousekeepingPhase
from cockpit.core.supervisor.inbox import InboxPhase
from cockpit.core.supervisor.launch import LaunchPhase
from cockpit.core.supervisor.recovery import RecoveryPhase
from cockpit.core.supervisor.review import ReviewPhase
from cockpit.core.supervisor.settlement import Settler
from cockpit.core.usage.ledger import Ledger
from cockpit.core.usage.watcher import RolloutWatcher, shared_watcher

HOUSEKEEPING_EVERY_S = 1.0
DISK_FULL_RETRY_S = 10.0


class Supervisor(
    InboxPhase,
    HousekeepingPhase,
    DispatchPhase,
    LaunchPhase,
    FollowPhase,
    FinalisePhase,
    CloudSubmissionPhase,
    CloudFollowPhase,
    ReviewPhase,
    RecoveryPhase,
):
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
        claude: ClaudeBinary | None = None,
        reviewer_env: Mapping[str, str | None] | None = None,
    ) -> None:
        """``env``: additions to the workers' environment; ``claude``: the reviewer's CLI (default: found
        like Codex, when the first review starts); ``reviewer_env``: changes to the reviewer's
        environment (the user's own otherwise, untouched but for :func:`~cockpit.core.review.reviewer.
        reviewer_env`'s two variables): a value is set, ``None`` removes the variable (the demo points
        the CLI at its scripted server without the host's Anthropic settings)."""
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
            board.root / BREAKERS_DIR, self.clock, self.rng, on_corrupt=board.quarantine
        )
        self.dead_letters = DeadLetterQueue(
            board.root / DEAD_LETTERS_DIR, self.clock, on_corrupt=board.quarantine
        )
        self.windows = shared_watcher(board.root, self.env, clock=self.clock)
        self.settler = self._settler(self.provider, self.windows)
        self.cloud_settler = self._settler(CLOUD_PROVIDER, None)  # its breaker is keyed on Codex Cloud
        self._cloud_setup()
        self._review_setup(claude, reviewer_env)
        self.ledger = Ledger(board.root / LEDGER_FILE)
        self._budget: tuple[float, BudgetStatus] | None = None
        self._notified: set[str] = set()
        self._stop = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None  # the loop of a running run()
        self._last_housekeeping = 0.0
        self._last_sweep = 0.0
        self._last_archive = 0.0

    def _settler(self, provider: str, windows: RolloutWatcher | None) -> Settler:
        """The settler of the attempts whose calls go to ``provider`` (its breaker's key)."""
        return Settler(
            self.board,
            self._lanes,
            config=self.config,
            decisions=self.decisions,
            breakers=self.breakers,
            dead_letters=self.dead_letters,
            provider=provider,
            codex_home=self.codex_home,
            rng=self.rng,
            clock=self.clock,
            windows=windows,
        )

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
                self.board.log_event({"kind": EventKind.SUPERVISOR_STARTED, "pid": os.getpid()})
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
                self.cloud_shutdown()
                self.review_shutdown()
                with contextlib.suppress(OSError):
                    self.board.log_event(
                        {
                            "kind": EventKind.SUPERVISOR_STOPPED,
                            "pid": os.getpid(),
                            "running": sorted(self.running),
                        }
                    )

    def step(self, *, dispatch: bool = True) -> None:
        """One pass: inbox, running attempts, housekeeping, dispatch. The loop paces it."""
        self.accept_inbox()
        for run in list(self.running.values()):
            self.poll(run)
        if self.cloud or self._cloud_poll is not None:
            self.follow_cloud()
        if self.reviewing():
            self.follow_reviews()
        now = self.clock()
        if now - self._last_housekeeping >= HOUSEKEEPING_EVERY_S:
            self._last_housekeeping = now
            self.housekeeping(now)
        if dispatch:
            self.dispatch_cloud()
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
                self.board.log_event({"kind": EventKind.DISK_SPACE, "line": "NOTIFY disk: writes work again"})

    def idle(self) -> bool:
        """Nothing running, nothing in the inbox, nothing queued that this supervisor could start."""
        if self.running or self.cloud or self.reviewing() or self.board.inbox():
            return False
        return not any(self._dispatchable(s) for s in self._queued(ready_only=False))

    # ---- persistence --------------------------------------------------------------------------
    def _save(self, state: TaskState) -> None:
        """Write a task's state; it stays in memory while it is actionable, and leaves when it is not."""
        if state.status in ACTIONABLE:
            self.actionable[state.id] = state
        else:
            self.actionable.pop(state.id, None)
        self.note_reviewing(state)
        self.board.write_state(state)
        if self.on_change is not None:
            self.on_change(state)

    def _task(self, task_id: str) -> TaskState | None:
        """A live task's state: the one in memory when it is actionable, else read from its file."""
        state = self.actionable.get(task_id)
        return state if state is not None else self.board.read_state(task_id)
