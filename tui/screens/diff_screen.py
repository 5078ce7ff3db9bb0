"""Diff screens: :class:`DiffBrowser`, the read-only browsing both share (files with +/- counts, the
selected file's unified diff, next/previous file ``n``/``p`` and hunk ``{``/``}``); :class:`DiffScreen`,
the review of a task's ``diff.patch`` with the three verdicts — approve and merge (a), reject (x), send
back with feedback (f), which go through the core commands (to a hosted supervisor via the inbox), and
for a cloud-lane task its subclass :class:`~cockpit.tui.screens.cloud_review.CloudReviewScreen`
(:func:`review_screen` picks the one a task needs); and :class:`LiveDiffScreen`, an attempt's
``turn.diff`` (the running mcp-lane turn's whole diff), re-read whenever the file changes.

Both panes draw only their visible rows (the file list is an ``OptionList``, the diff a Line-API
``DiffView``), so a diff of hundreds of files opens and moves as fast as a small one."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Input, Label, OptionList, Static
from textual.worker import Worker, WorkerState, get_current_worker

from cockpit.core import (
    DIFF_FILE,
    TURN_DIFF_FILE,
    Blackboard,
    CockpitError,
    FileDiff,
    clean,
    parse_patch,
    run_task_command,
)
from cockpit.tui.widgets.diff_view import DiffView

LIVE_POLL_S = 1.0
SYNC_READ_BYTES = 2 * 1024 * 1024  # larger turn diffs are read and parsed in a thread
TURN_DIFF = TURN_DIFF_FILE


def files_count(n: int) -> str:
    return f"{n} file" if n == 1 else f"{n} files"


class FeedbackModal(ModalScreen[str | None]):
    """A one-line text box for the feedback a sent-back task gets."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="feedback.cancel")]

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-body"):
            yield Label("Feedback for the worker (Enter sends the task back):")
            yield Input(placeholder="what to change", id="feedback-input")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class FileList(OptionList):
    """The reviewed files, one row each; fills the height of the review."""

    DEFAULT_CSS = """
    FileList {
        height: 1fr;
        max-height: 100%;
    }
    """


class DiffBrowser(Screen[None]):
    """Read-only browsing of parsed file diffs: a title line, the file list and the highlighted file's
    diff, with file and hunk navigation. Subclasses set ``files`` and the title, and bind the keys."""

    def __init__(self, files: list[FileDiff], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.files = files

    def compose(self) -> ComposeResult:
        yield Static(self._title(), id="diff-title")
        with Horizontal(id="diff-body"):
            yield FileList(*[self._file_label(f) for f in self.files], id="diff-files")
            yield DiffView(id="diff-view")
        yield Footer()

    def _title(self) -> Text:
        raise NotImplementedError

    @staticmethod
    def _file_label(diff: FileDiff) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(f"+{diff.added} -{diff.removed}  ")
        text.append(clean(diff.path) + (" (binary)" if diff.binary else ""))
        return text

    def on_mount(self) -> None:
        self.show_first_file()

    def show_first_file(self) -> None:
        self.query_one(DiffView).show(self.files[0] if self.files else None)
        if self.files:
            self.query_one(FileList).highlighted = 0

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option_list.id == "diff-files":
            self.file_highlighted(event.option_index)

    def file_highlighted(self, index: int) -> None:
        """Row ``index`` of the file list was highlighted: show its diff."""
        view = self.query_one(DiffView)
        if 0 <= index < len(self.files) and view.diff is not self.files[index]:
            view.show(self.files[index])

    def action_file(self, step: int) -> None:
        files = self.query_one(FileList)
        if files.option_count:
            files.highlighted = max(0, min(files.option_count - 1, (files.highlighted or 0) + step))

    def action_hunk(self, step: int) -> None:
        focused = self.focused
        view = focused if isinstance(focused, DiffView) else self.query_one(DiffView)
        view.jump_hunk(step)


class DiffScreen(DiffBrowser):
    """The review of a task's ``diff.patch``, with the verdicts."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="diff.back"),
        Binding("n", "file(1)", "Next file", id="diff.next_file"),
        Binding("p", "file(-1)", "Prev file", id="diff.prev_file"),
        Binding("}", "hunk(1)", "Next hunk", id="diff.next_hunk"),
        Binding("{", "hunk(-1)", "Prev hunk", id="diff.prev_hunk"),
        Binding("a", "verdict('merge')", "Approve + merge", id="diff.approve"),
        Binding("x", "verdict('reject')", "Reject", id="diff.reject"),
        Binding("f", "send_back", "Send back", id="diff.send_back"),
    ]

    def __init__(self, board: Blackboard, task_id: str) -> None:
        patch = board.task_dir(task_id) / DIFF_FILE
        files = parse_patch(patch.read_text(encoding="utf-8", errors="replace")) if patch.exists() else []
        super().__init__(files, id=f"diff-screen-{task_id}")
        self.board = board
        self.task_id = task_id

    def _title(self) -> Text:
        added = sum(f.added for f in self.files)
        removed = sum(f.removed for f in self.files)
        counts = f"{files_count(len(self.files))}, +{added} -{removed}"
        return Text(f"review {self.task_id}: {counts}", style="bold")

    def action_verdict(self, kind: str) -> None:
        self.run_command(kind, {})

    def action_send_back(self) -> None:
        def sent(feedback: str | None) -> None:
            if feedback:
                self.run_command("revise", {"feedback": feedback})

        self.app.push_screen(FeedbackModal(), sent)

    @work(thread=True, exclusive=True, group="verdict", exit_on_error=False)
    def run_command(self, kind: str, args: dict[str, object]) -> tuple[str, str] | None:
        """In a thread: a hosted supervisor answers through the inbox while this waits. Returns the
        verdict and its message; the screen closes once the worker has finished (see below)."""
        try:
            message = run_task_command(self.board, kind, self.task_id, **args)
        except CockpitError as exc:
            self.app.call_from_thread(self.app.notify, str(exc), title=kind, severity="error", timeout=15)
            return None
        return kind, message

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A verdict went through: say so and close the review (never from inside the worker, whose
        screen would be removed, and the worker cancelled, while it still runs)."""
        worker = event.worker
        if worker.group == "verdict" and event.state == WorkerState.SUCCESS and worker.result:
            kind, message = worker.result
            self.command_done(kind, message)

    def command_done(self, kind: str, message: str) -> None:
        """A command went through: a verdict is said and closes the review."""
        self.app.notify(message, title=kind)
        if self.is_current:
            self.app.pop_screen()


def review_screen(board: Blackboard, task_id: str) -> DiffScreen | None:
    """The review of ``task_id``: a cloud-lane task's (its Codex Cloud attempts, best-of-N) when its
    last attempt brought diffs back, else the branch diff's; None when there is nothing to review."""
    state = board.read_state(task_id)
    last = state.last_attempt if state is not None else None
    run = last.cloud if last is not None else None
    if state is not None and run is not None and any(result.diff_file for result in run.results):
        from cockpit.tui.screens.cloud_review import CloudReviewScreen

        return CloudReviewScreen(board, task_id, state)
    if not (board.task_dir(task_id) / DIFF_FILE).exists():
        return None
    return DiffScreen(board, task_id)


def turn_diff_path(board: Blackboard, task_id: str, attempt: int) -> Path:
    """Where the supervisor keeps the latest whole-turn diff of an mcp-lane attempt."""
    return board.attempt_dir(task_id, attempt, archived=True) / TURN_DIFF


def read_patch_file(path: Path) -> list[FileDiff]:
    """The parsed patch at ``path``; no files when it is missing (or vanished meanwhile)."""
    try:
        return parse_patch(path.read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return []


class LiveDiffScreen(DiffBrowser):
    """An attempt's ``turn.diff``, re-read when its modification time or size changes (polled every
    :data:`LIVE_POLL_S`); the highlighted file stays highlighted, by path, while it is in the diff."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="live_diff.back"),
        Binding("n", "file(1)", "Next file", id="live_diff.next_file"),
        Binding("p", "file(-1)", "Prev file", id="live_diff.prev_file"),
        Binding("}", "hunk(1)", "Next hunk", id="live_diff.next_hunk"),
        Binding("{", "hunk(-1)", "Prev hunk", id="live_diff.prev_hunk"),
    ]

    def __init__(self, board: Blackboard, task_id: str, attempt: int) -> None:
        super().__init__([], id=f"live-diff-{task_id}-{attempt}")
        self.board = board
        self.task_id = task_id
        self.attempt = attempt
        self.path = turn_diff_path(board, task_id, attempt)
        self._stamp: tuple[int, int] | None = None
        stamp = self._stat()
        self.loading = stamp is not None and stamp[1] >= SYNC_READ_BYTES
        if stamp is not None and stamp[1] < SYNC_READ_BYTES:
            self._stamp = stamp
            self.files = read_patch_file(self.path)

    def _stat(self) -> tuple[int, int] | None:
        try:
            st = self.path.stat()
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size

    def _title(self) -> Text:
        head = f"live diff of {self.task_id}, attempt {self.attempt}: "
        if self.loading and not self.files:
            return Text(head + "loading…", style="bold")
        if not self.files:
            return Text(head + "no changes yet", style="bold")
        added = sum(f.added for f in self.files)
        removed = sum(f.removed for f in self.files)
        return Text(f"{head}{files_count(len(self.files))}, +{added} -{removed}", style="bold")

    def on_mount(self) -> None:
        super().on_mount()
        self.poll()
        self.set_interval(LIVE_POLL_S, self.poll)

    def poll(self) -> None:
        """Re-read ``turn.diff`` when it changed: here when small, else in a thread."""
        stamp = self._stat()
        if stamp == self._stamp:
            return
        self._stamp = stamp
        self.workers.cancel_group(self, "live-diff")  # a slower read of an older version is dropped
        if stamp is None:
            self.show_files([])
        elif stamp[1] < SYNC_READ_BYTES:
            self.show_files(read_patch_file(self.path))
        else:
            self.loading = True
            self.query_one("#diff-title", Static).update(self._title())
            self._load_in_thread(stamp)

    @work(thread=True, exclusive=True, group="live-diff", exit_on_error=False)
    def _load_in_thread(self, stamp: tuple[int, int]) -> None:
        files = read_patch_file(self.path)
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._loaded, stamp, files)

    def _loaded(self, stamp: tuple[int, int], files: list[FileDiff]) -> None:
        if stamp == self._stamp:  # else a newer version was seen meanwhile and is on its way
            self.show_files(files)

    def show_files(self, files: list[FileDiff]) -> None:
        """Show ``files``, keeping the highlighted file (and its scroll position) when still present."""
        self.loading = False
        file_list = self.query_one(FileList)
        view = self.query_one(DiffView)
        current = file_list.highlighted
        kept = self.files[current].path if current is not None and 0 <= current < len(self.files) else None
        self.files = files
        self.query_one("#diff-title", Static).update(self._title())
        file_list.set_options([self._file_label(f) for f in files])
        if not files:
            view.show(None)
            return
        index = next((i for i, f in enumerate(files) if f.path == kept), 0)
        scroll_y = view.scroll_y if files[index].path == kept else 0
        view.show(files[index])
        if scroll_y:
            view.scroll_to(y=scroll_y, animate=False)
        file_list.highlighted = index
