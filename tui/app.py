"""The Textual app: hosts the supervisor on an event loop of its own in a thread of its own (or, when a
headless ``cockpit run`` already holds the blackboard, attaches as a viewer), and redraws the main
screen from board snapshots taken by a thread worker a few times a second (the bridge: one message per
snapshot, never per event).

The hosted supervisor's passes read and write files, parse the workers' events and run git; on the
UI's loop they would hold up frames and keys, so they never run there. The app reaches the supervisor
only through thread-safe calls (:meth:`~cockpit.core.supervisor.loop.Supervisor.stop`), and the supervisor
reaches the app only by posting messages (its notices, and how its hosting ended)."""

from __future__ import annotations

import asyncio
import gc
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.message import Message
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from cockpit.core import (
    Blackboard,
    BoardSnapshot,
    BoardView,
    CockpitError,
    ConfigError,
    DecisionCard,
    DecisionStore,
    GitOpError,
    LockHeld,
    TaskStatus,
    UnknownTask,
    board_config,
    head_branch,
    utc_now,
)
from cockpit.tui.alerts import browser_notify, desktop_notify
from cockpit.tui.palette import binding_commands
from cockpit.tui.screens.main_screen import MainScreen
from cockpit.tui.widgets.lane_pane import LanePane

if TYPE_CHECKING:
    from cockpit.core import Supervisor

STYLES = Path(__file__).resolve().parent.parent / "styles"
STYLESHEETS = sorted(STYLES.glob("*.tcss"))
BOARD_POLL_S = 0.25
HOST_AFTER_S = 2.0  # the hosted supervisor starts at the latest this long after mount
GC_THRESHOLDS = (5000, 20, 50)
HOST_STOP_WAIT_S = 5.0  # on quit: how long the app waits for the hosted supervisor to finish its pass


def settle_garbage_collector() -> None:
    """After start-up: move everything alive so far out of the collector's sight and collect the old
    generation less often. A flood of log lines churns many short-lived objects; full collections over
    a large heap were the app's longest pauses (tens to hundreds of ms)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_THRESHOLDS[0], GC_THRESHOLDS[1], GC_THRESHOLDS[2])


class BoardUpdated(Message):
    """A fresh snapshot of the blackboard (a newer one replaces an unprocessed older one)."""

    def __init__(self, snapshot: BoardSnapshot) -> None:
        super().__init__()
        self.snapshot = snapshot

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, BoardUpdated)


class SupervisorNotice(Message):
    """A line the hosted supervisor wants the person to see (posted from its thread)."""

    def __init__(self, line: str) -> None:
        super().__init__()
        self.line = line


class HostingEnded(Message):
    """The hosted supervisor is not (or no longer) running: ``title`` and ``text`` say why."""

    def __init__(self, title: str, text: str, *, severity: SeverityLevel = "information") -> None:
        super().__init__()
        self.title = title
        self.text = text
        self.severity = severity


class CockpitApp(App[None]):
    TITLE = "Codex Cockpit"
    CSS_PATH = STYLESHEETS
    BINDINGS = [
        Binding("q", "quit", "Quit", id="app.quit"),
        # Textual's palette key, with a second one no browser keeps for itself (tui/keys.py)
        Binding("ctrl+p,f2", "command_palette", "palette", show=False, priority=True, id="app.palette"),
    ]

    def __init__(
        self,
        repo: Path,
        *,
        host_supervisor: bool = True,
        env: dict[str, str] | None = None,
        clock: Callable[[], float] = time.time,
        open_task: str | None = None,
        reviewer_env: dict[str, str | None] | None = None,
    ) -> None:
        super().__init__()
        self.board = Blackboard(repo)
        self.board.init()
        self.clock = clock
        self.env = env or {}
        self.reviewer_env = reviewer_env  # the hosted supervisor's changes to the reviewer's environment
        self.view = BoardView(self.board, clock=clock, env=self.env)
        self.host_supervisor = host_supervisor
        self.open_task = open_task
        self.viewer = not host_supervisor
        self.supervisor: Supervisor | None = None
        self.supervisor_thread: threading.Thread | None = None
        self._stop_hosting = False
        self._host_started = False
        self.decisions = DecisionStore(self.board.root, utc_now)
        self._announced: set[str] = set()
        self._queue: list[DecisionCard] = []
        self._modal_open = False
        self._poller: Worker[None] | None = None
        self._latest: BoardSnapshot | None = None
        try:
            self.branch = head_branch(self.board.repo)
        except GitOpError:
            self.branch = None

    def on_mount(self) -> None:
        try:
            keys = board_config(self.board).keys
        except ConfigError as exc:
            keys = {}
            self.notify(str(exc), title="config", severity="error", timeout=30)
        if self.is_web:
            keys = self._browser_keys(keys)
        self.set_keymap(keys)
        self.push_screen(MainScreen(str(self.board.repo), self.branch, clock=self.clock))
        if self.open_task:
            from cockpit.tui.screens.task_screen import TaskScreen

            try:
                task_id = self.board.resolve_task(self.open_task, archived=True)  # archived ones too
                self.push_screen(TaskScreen(self.board, task_id))
            except UnknownTask as exc:
                self.notify(str(exc), severity="error")
        if self.host_supervisor:
            # The supervisor starts once the first board is drawn (its start-up reads the task index
            # too, and would share the interpreter with the first snapshot), or after a while regardless.
            self.set_timer(HOST_AFTER_S, self._host_once)
        self.poll_board()
        self.set_interval(BOARD_POLL_S, self.poll_board)
        if not self.is_headless:  # a process of its own (tests share theirs)
            self.call_after_refresh(settle_garbage_collector)

    def _browser_keys(self, keys: dict[str, str]) -> dict[str, str]:
        """Served to a browser: the keys no browser keeps for itself come first (the footer and the
        palette show them), and a key of the user's that a browser may keep is named in a warning."""
        from cockpit.tui.keys import browser_keymap, cockpit_bindings, split_keys

        keymap, warnings = browser_keymap(cockpit_bindings(), keys)
        for warning in warnings:
            self.notify(warning, title="keys in a browser", severity="warning", timeout=30)
        palette = keymap.get("app.palette")
        if palette:
            self.COMMAND_PALETTE_BINDING = split_keys(palette)[0]  # the key the footer shows
        return keymap

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from binding_commands(self, screen)
        yield from super().get_system_commands(screen)

    def _host_once(self) -> None:
        if self.host_supervisor and not self._host_started:
            self._host_started = True
            self.host()

    def host(self) -> None:
        """Start the hosted supervisor: an event loop of its own, in a thread of its own."""
        if self._stop_hosting:  # quit before it started
            return
        self.supervisor_thread = threading.Thread(target=self._host, name="cockpit-supervisor")
        self.supervisor_thread.start()

    def _host(self) -> None:
        """The supervisor's thread. Builds the supervisor here too (it looks up Codex and reads the
        config), then runs it until :meth:`stop_hosting`; what ends it is posted to the app."""
        from cockpit.core import Supervisor  # not needed for the first frame

        try:
            supervisor = Supervisor(
                self.board, env=self.env, on_notice=self._supervisor_notice, reviewer_env=self.reviewer_env
            )
        except CockpitError as exc:  # no Codex, a bad or untrusted config
            self.post_message(HostingEnded("cannot supervise", str(exc), severity="error"))
            return
        self.supervisor = supervisor
        if self._stop_hosting:  # the app quit while the supervisor was being built
            return
        try:
            asyncio.run(supervisor.run())
        except LockHeld as exc:
            self.post_message(HostingEnded("viewer mode", f"{exc}; this cockpit only watches"))
        except Exception as exc:  # never silent: the app says so and goes on as a viewer
            text = f"the supervisor stopped: {type(exc).__name__}: {exc}; this cockpit only watches"
            self.post_message(HostingEnded("error", text, severity="error"))

    def _supervisor_notice(self, line: str) -> None:
        self.post_message(SupervisorNotice(line))

    def on_supervisor_notice(self, message: SupervisorNotice) -> None:
        self.notify(message.line, title="supervisor", severity="warning", timeout=30)

    def on_hosting_ended(self, message: HostingEnded) -> None:
        self.supervisor = None
        self.viewer = True
        timeout = 30 if message.severity == "error" else 5
        self.notify(message.text, title=message.title, severity=message.severity, timeout=timeout)

    def stop_hosting(self, wait: float = 0.0) -> None:
        """Ask the hosted supervisor to stop after its pass (thread-safe; workers keep running and the
        next supervisor re-attaches to them), waiting up to ``wait`` seconds for its thread to end."""
        self._stop_hosting = True
        supervisor = self.supervisor
        if supervisor is not None:
            supervisor.stop()
        thread = self.supervisor_thread
        if wait > 0 and thread is not None and thread is not threading.current_thread():
            thread.join(wait)

    def poll_board(self) -> None:
        """Take a snapshot in a thread unless one is being taken (never cancel one half way)."""
        if self._poller is not None and self._poller.state in (WorkerState.PENDING, WorkerState.RUNNING):
            return
        self._poller = self._snapshot()

    @work(thread=True, group="board", exit_on_error=False)
    def _snapshot(self) -> None:
        self.post_message(BoardUpdated(self.view.snapshot()))

    def on_lane_pane_opened(self, message: LanePane.Opened) -> None:
        from cockpit.tui.screens.task_screen import TaskScreen

        self.push_screen(TaskScreen(self.board, message.task_id))

    def on_lane_pane_review_requested(self, message: LanePane.ReviewRequested) -> None:
        self.review(message.task_id)

    def review(self, task_id: str) -> None:
        """Open the diff review of a task (or say it has no diff)."""
        from cockpit.tui.screens.diff_screen import review_screen

        screen = review_screen(self.board, task_id)
        if screen is None:
            self.notify("this task has no diff to review", severity="warning")
            return
        self.push_screen(screen)

    def on_lane_pane_command_requested(self, message: LanePane.CommandRequested) -> None:
        task_id, kind = message.task_id, message.kind
        if kind != "cancel":
            self.task_command(kind, task_id)
            return
        from cockpit.tui.screens.confirm_modal import ConfirmModal

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.task_command(kind, task_id)

        self.push_screen(ConfirmModal(f"Cancel {task_id}? Its running turn is interrupted."), confirmed)

    @work(thread=True, group="commands", exit_on_error=False)
    def task_command(self, kind: str, task_id: str, **args: str) -> None:
        """Run a task command (directly, or through the inbox when another supervisor holds the board)."""
        from cockpit.core import run_task_command

        try:
            result = run_task_command(self.board, kind, task_id, **args)
        except CockpitError as exc:
            self.call_from_thread(self.notify, str(exc), title=kind, severity="error")
            return
        self.call_from_thread(self.notify, result, title=kind)
        self.call_from_thread(self.poll_board)

    def action_new_task(self) -> None:
        from cockpit.tui.screens.new_task_screen import NewTaskScreen

        def submitted(task_id: str | None) -> None:
            if task_id:
                self.notify(f"submitted {task_id}", title="new task")
                self.poll_board()

        self.push_screen(NewTaskScreen(self.board), submitted)

    def action_next_decision(self) -> None:
        pending = self.decisions.pending()
        if not pending:
            self.notify("no decision is waiting")
            return
        self._queue = [c for c in self._queue if c.id != pending[0].id]
        self._queue.insert(0, pending[0])
        self._open_next_decision()

    def action_next_review(self) -> None:
        """Open the diff review of the earliest submitted task that waits for review (candidates come from
        the latest snapshot; each is checked on disk, so a review settled since is skipped)."""
        if self._latest is not None:
            candidates = [t for t in self._latest.tasks.values() if t.status == TaskStatus.REVIEW]
        else:
            candidates = [t for t in self.board.summaries() if t.status == TaskStatus.REVIEW]
        for task in sorted(candidates, key=lambda t: t.created_at):
            state = self.board.read_state(task.id)
            if state is not None and state.status == TaskStatus.REVIEW:
                self.review(task.id)
                return
        self.notify("no diff waits for review")

    def action_dead_letters(self) -> None:
        from cockpit.tui.screens.dead_letters_screen import DeadLettersScreen

        self.push_screen(DeadLettersScreen(self.board))

    def action_breakers(self) -> None:
        from cockpit.tui.screens.breakers_screen import BreakersScreen

        self.push_screen(BreakersScreen(self.board, self.clock))

    def action_usage(self) -> None:
        from cockpit.tui.screens.usage_screen import UsageScreen

        self.push_screen(UsageScreen(self.board, self.env, self.clock))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """One place where any background failure becomes visible (workers never end the app)."""
        if event.state == WorkerState.ERROR:
            self.notify(
                f"{event.worker.name}: {event.worker.error}", title="error", severity="error", timeout=30
            )

    def on_board_updated(self, message: BoardUpdated) -> None:
        snapshot = message.snapshot
        self._latest = snapshot
        main = self.screen_stack[1] if len(self.screen_stack) > 1 else None
        if isinstance(main, MainScreen):
            main.show(snapshot, self.viewer)
        if self.host_supervisor and not self._host_started:
            self.call_after_refresh(self._host_once)  # after the first board is on screen
        for card in snapshot.decisions:
            if card.id not in self._announced:
                self._announced.add(card.id)
                self._queue.append(card)
                self.bell()
                if self.is_web:  # the page asks the browser for a notification
                    browser_notify(self, "Codex Cockpit waits for you", f"{card.id}: {card.title}")
                elif not self.is_headless:  # a real terminal (and desktop) to tell
                    desktop_notify("Codex Cockpit waits for you", f"{card.id}: {card.title}")
        self._open_next_decision()

    def _open_next_decision(self) -> None:
        if self._modal_open or not self._queue:
            return
        card = self._queue.pop(0)
        fresh = self.decisions.get(card.id)
        if fresh is None or fresh.resolved is not None:
            self._open_next_decision()  # answered elsewhere meanwhile
            return
        self._modal_open = True
        from cockpit.tui.screens.decision_modal import DecisionModal

        def closed(_answer: str | None) -> None:
            self._modal_open = False
            self.poll_board()

        self.push_screen(DecisionModal(card, self.decisions), closed)

    async def action_quit(self) -> None:
        self.stop_hosting()  # workers keep running; the next supervisor re-attaches to them
        self.exit()

    def on_unmount(self) -> None:
        """However the app ends: the hosted supervisor stops, and finishes its pass before the process
        goes (it releases the blackboard and logs that it stopped)."""
        self.stop_hosting(wait=HOST_STOP_WAIT_S)
