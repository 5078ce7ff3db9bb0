"""The Textual app: hosts the supervisor in its own event loop (or, when a headless ``cockpit run``
already holds the blackboard, attaches as a viewer), and redraws the main screen from board snapshots
taken by a thread worker a few times a second (the bridge: one message per snapshot, never per event)."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from cockpit.core.blackboard import Blackboard, LockHeld, UnknownTask
from cockpit.core.board_view import BoardSnapshot, BoardView
from cockpit.core.codex_binary import CodexNotFound
from cockpit.core.commands import CommandError, run_task_command
from cockpit.core.config import ConfigError
from cockpit.core.decisions import DecisionCard, DecisionStore
from cockpit.core.git_ops import GitOpError, current_branch, open_repo
from cockpit.core.state import TaskStatus, utc_now
from cockpit.core.supervisor import Supervisor
from cockpit.tui.alerts import desktop_notify
from cockpit.tui.palette import binding_commands
from cockpit.tui.screens.confirm_modal import ConfirmModal
from cockpit.tui.screens.decision_modal import DecisionModal
from cockpit.tui.screens.diff_screen import DiffScreen
from cockpit.tui.screens.main_screen import MainScreen
from cockpit.tui.screens.task_screen import TaskScreen
from cockpit.tui.widgets.lane_pane import LanePane

STYLES = Path(__file__).resolve().parent.parent / "styles"
STYLESHEETS = sorted(STYLES.glob("*.tcss"))
BOARD_POLL_S = 0.25
GC_THRESHOLDS = (5000, 20, 50)


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


class CockpitApp(App[None]):
    TITLE = "Codex Cockpit"
    CSS_PATH = STYLESHEETS
    BINDINGS = [
        Binding("q", "quit", "Quit", id="app.quit"),
    ]

    def __init__(
        self,
        repo: Path,
        *,
        host_supervisor: bool = True,
        env: dict[str, str] | None = None,
        clock: Callable[[], float] = time.time,
        open_task: str | None = None,
    ) -> None:
        super().__init__()
        self.board = Blackboard(repo)
        self.board.init()
        self.clock = clock
        self.env = env or {}
        self.view = BoardView(self.board, clock=clock, env=self.env)
        self.host_supervisor = host_supervisor
        self.open_task = open_task
        self.viewer = not host_supervisor
        self.supervisor: Supervisor | None = None
        self.decisions = DecisionStore(self.board.root, utc_now)
        self._announced: set[str] = set()
        self._queue: list[DecisionCard] = []
        self._modal_open = False
        self._poller: Worker[None] | None = None
        self._latest: BoardSnapshot | None = None
        try:
            self.branch = current_branch(open_repo(self.board.repo))
        except GitOpError:
            self.branch = None

    def on_mount(self) -> None:
        try:
            self.set_keymap(self.board.config().keys)
        except ConfigError as exc:
            self.notify(str(exc), title="config", severity="error", timeout=30)
        self.push_screen(MainScreen(str(self.board.repo), self.branch, clock=self.clock))
        if self.open_task:
            try:
                task_id = self.board.resolve_task(self.open_task, archived=True)  # archived ones too
                self.push_screen(TaskScreen(self.board, task_id))
            except UnknownTask as exc:
                self.notify(str(exc), severity="error")
        if self.host_supervisor:
            self.host()
        self.poll_board()
        self.set_interval(BOARD_POLL_S, self.poll_board)
        if not self.is_headless:  # a process of its own (tests share theirs)
            self.call_after_refresh(settle_garbage_collector)

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from binding_commands(self, screen)
        yield from super().get_system_commands(screen)

    @work(exclusive=True, group="supervisor", exit_on_error=False)
    async def host(self) -> None:
        try:
            self.supervisor = Supervisor(
                self.board,
                env=self.env,
                on_notice=lambda line: self.notify(line, title="supervisor", severity="warning", timeout=30),
            )
            await self.supervisor.run()
        except LockHeld as exc:
            self.supervisor = None
            self.viewer = True
            self.notify(f"{exc}; this cockpit only watches", title="viewer mode")
        except (CodexNotFound, ConfigError) as exc:
            self.supervisor = None
            self.viewer = True
            self.notify(str(exc), title="cannot supervise", severity="error", timeout=30)

    def poll_board(self) -> None:
        """Take a snapshot in a thread unless one is being taken (never cancel one half way)."""
        if self._poller is not None and self._poller.state in (WorkerState.PENDING, WorkerState.RUNNING):
            return
        self._poller = self._snapshot()

    @work(thread=True, group="board", exit_on_error=False)
    def _snapshot(self) -> None:
        self.post_message(BoardUpdated(self.view.snapshot()))

    def on_lane_pane_opened(self, message: LanePane.Opened) -> None:
        self.push_screen(TaskScreen(self.board, message.task_id))

    def on_lane_pane_review_requested(self, message: LanePane.ReviewRequested) -> None:
        self.review(message.task_id)

    def review(self, task_id: str) -> None:
        """Open the diff review of a task (or say it has no diff)."""
        if not (self.board.task_dir(task_id) / "diff.patch").exists():
            self.notify("this task has no diff to review", severity="warning")
            return
        self.push_screen(DiffScreen(self.board, task_id))

    def on_lane_pane_command_requested(self, message: LanePane.CommandRequested) -> None:
        task_id, kind = message.task_id, message.kind
        if kind != "cancel":
            self.task_command(kind, task_id)
            return

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.task_command(kind, task_id)

        self.push_screen(ConfirmModal(f"Cancel {task_id}? Its running turn is interrupted."), confirmed)

    @work(thread=True, group="commands", exit_on_error=False)
    def task_command(self, kind: str, task_id: str, **args: str) -> None:
        """Run a task command (directly, or through the inbox when another supervisor holds the board)."""
        try:
            result = run_task_command(self.board, kind, task_id, **args)
        except (CommandError, UnknownTask) as exc:
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
        for card in snapshot.decisions:
            if card.id not in self._announced:
                self._announced.add(card.id)
                self._queue.append(card)
                self.bell()
                if not self.is_headless:  # a real terminal (and desktop) to tell
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

        def closed(_answer: str | None) -> None:
            self._modal_open = False
            self.poll_board()

        self.push_screen(DecisionModal(card, self.decisions), closed)

    async def action_quit(self) -> None:
        if self.supervisor is not None:
            self.supervisor.stop()  # workers keep running; the next supervisor re-attaches to them
        self.exit()
