"""Diff review: files with +/- counts, the selected file's unified diff, next/previous file (n/p) and
hunk ({/}), and the three verdicts — approve and merge (a), reject (x), send back with feedback (f).
Verdicts go through the core commands (to a hosted supervisor they travel via the inbox).

Both panes draw only their visible rows (the file list is an ``OptionList``, the diff a Line-API
``DiffView``), so a review of hundreds of files opens and moves as fast as a small one."""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Input, Label, OptionList, Static

from cockpit.core.blackboard import Blackboard, BlackboardError
from cockpit.core.commands import CommandError, run_task_command
from cockpit.core.diff_parse import FileDiff, parse_patch
from cockpit.core.git_ops import GitOpError
from cockpit.tui.widgets.diff_view import DiffView


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


class DiffScreen(Screen[None]):
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
        super().__init__(id=f"diff-screen-{task_id}")
        self.board = board
        self.task_id = task_id
        patch = board.task_dir(task_id) / "diff.patch"
        self.files: list[FileDiff] = (
            parse_patch(patch.read_text(encoding="utf-8", errors="replace")) if (patch.exists()) else []
        )

    def compose(self) -> ComposeResult:
        yield Static(self._title(), id="diff-title")
        with Horizontal(id="diff-body"):
            yield FileList(*[self._file_label(f) for f in self.files], id="diff-files")
            yield DiffView(id="diff-view")
        yield Footer()

    def _title(self) -> Text:
        added = sum(f.added for f in self.files)
        removed = sum(f.removed for f in self.files)
        return Text(f"review {self.task_id}: {len(self.files)} files, +{added} -{removed}", style="bold")

    @staticmethod
    def _file_label(diff: FileDiff) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(f"+{diff.added} -{diff.removed}  ")
        text.append(diff.path + (" (binary)" if diff.binary else ""))
        return text

    def on_mount(self) -> None:
        self.query_one(DiffView).show(self.files[0] if self.files else None)
        if self.files:
            self.query_one(FileList).highlighted = 0

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        index = event.option_index
        view = self.query_one(DiffView)
        if 0 <= index < len(self.files) and view.diff is not self.files[index]:
            view.show(self.files[index])

    def action_file(self, step: int) -> None:
        files = self.query_one(FileList)
        if self.files:
            files.highlighted = max(0, min(len(self.files) - 1, (files.highlighted or 0) + step))

    def action_hunk(self, step: int) -> None:
        self.query_one(DiffView).jump_hunk(step)

    def action_verdict(self, kind: str) -> None:
        self.run_command(kind, {})

    def action_send_back(self) -> None:
        def sent(feedback: str | None) -> None:
            if feedback:
                self.run_command("revise", {"feedback": feedback})

        self.app.push_screen(FeedbackModal(), sent)

    @work(thread=True, exclusive=True, group="verdict", exit_on_error=False)
    def run_command(self, kind: str, args: dict[str, str]) -> None:
        """In a thread: a hosted supervisor answers through the inbox while this waits."""
        try:
            message = run_task_command(self.board, kind, self.task_id, **args)
        except (CommandError, BlackboardError, GitOpError) as exc:
            self.app.call_from_thread(self.app.notify, str(exc), title=kind, severity="error", timeout=15)
            return
        self.app.call_from_thread(self.app.notify, message, title=kind)
        self.app.call_from_thread(self.app.pop_screen)
