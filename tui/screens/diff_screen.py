"""Diff screens: :class:`DiffBrowser`, the read-only browsing both share (files with +/- counts, the
selected file's unified diff, next/previous file ``n``/``p`` and hunk ``{``/``}``); :class:`DiffScreen`,
the review of a task's ``diff.patch`` with the three verdicts — approve and merge (a), reject (x), send
back with feedback (f), which go through the core commands (to a hosted supervisor via the inbox), and
for a cloud-lane task its subclass :class:`~cockpit.tui.screens.cloud_review.CloudReviewScreen`
(:func:`review_screen` picks the one a task needs); and :class:`LiveDiffScreen`, an attempt's
``turn.diff`` (the running mcp-lane turn's whole diff), re-read whenever the file changes.

A task the cross-family review challenged has its challenges beside the diff
(:class:`~cockpit.tui.widgets.challenge_panel.ChallengePanel`, shown at first when there are any; ``t``
hides or shows it): Enter on one shows its file with its line marked, the diff's gutter marks every
line a challenge of the shown round names, ``r`` steps to an earlier round, ``l`` relabels the
highlighted challenge as the human (:class:`LabelModal`, the core's ``label`` command), and send back
(f) starts from the feedback the challenge loop would send: the last round's VALID and PARTIAL
challenges (:func:`~cockpit.core.review.rounds.feedback_text`), to edit. The panel reads this task's
state only.

Both panes draw only their visible rows (the file list is an ``OptionList``, the diff a Line-API
``DiffView``), so a diff of hundreds of files opens and moves as fast as a small one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.widget import Widget
from textual.widgets import Footer, Input, Label, OptionList, Static, TextArea
from textual.worker import Worker, WorkerState, get_current_worker

from cockpit.core import (
    DIFF_FILE,
    LABELS,
    TURN_DIFF_FILE,
    Blackboard,
    CockpitError,
    FileDiff,
    clean,
    cut,
    feedback_text,
    one_line,
    parse_patch,
    run_task_command,
)
from cockpit.tui.widgets.challenge_panel import ChallengePanel
from cockpit.tui.widgets.diff_view import DiffView

if TYPE_CHECKING:
    from cockpit.core import Challenge, ReviewRound, TaskState

LIVE_POLL_S = 1.0
# the footer groups keys that go together, so the review's keys fit on one line
FILE = Binding.Group("File")
HUNK = Binding.Group("Hunk")
SYNC_READ_BYTES = 2 * 1024 * 1024  # larger turn diffs are read and parsed in a thread
TURN_DIFF = TURN_DIFF_FILE


def files_count(n: int) -> str:
    return f"{n} file" if n == 1 else f"{n} files"


class FeedbackModal(ModalScreen[str | None]):
    """The feedback a sent-back task gets: a one-line text box, or, started from ``prefill`` (the
    review's VALID and PARTIAL challenges), a text area to edit it in (Ctrl+S or F4 sends)."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="feedback.cancel"),
        Binding("ctrl+s,f4", "send", "Send back", id="feedback.send"),
    ]

    def __init__(self, prefill: str = "") -> None:
        super().__init__(classes="-prefilled" if prefill else None)
        self.prefill = prefill

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-body"):
            if self.prefill:
                yield Static(
                    "Feedback for the worker, from the review's VALID and PARTIAL challenges — edit it, "
                    "then Ctrl+S (F4 in a browser) sends the task back (Escape: not now):",
                    markup=False,
                )
                yield TextArea(self.prefill, id="feedback-text", soft_wrap=True, tab_behavior="focus")
            else:
                yield Label("Feedback for the worker (Enter sends the task back):")
                yield Input(placeholder="what to change", id="feedback-input")

    @property
    def text(self) -> str:
        """The feedback as it stands."""
        if self.prefill:
            return self.query_one("#feedback-text", TextArea).text
        return self.query_one("#feedback-input", Input).value

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)

    def action_send(self) -> None:
        self.dismiss(self.text.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)


LABEL_MEANINGS = {
    "VALID": "it holds: the worker fixes it",
    "PARTIAL": "not shown either way: narrow it, then fix it or test it",
    "NOISE": "it does not hold: discard it",
}


class LabelModal(ModalScreen[tuple[str, str] | None]):
    """Relabel one challenge as the human: the three labels (Enter picks one), then why (Enter labels)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="label.cancel")]

    def __init__(self, challenge: Challenge, round_n: int) -> None:
        super().__init__()
        self.challenge = challenge
        self.round_n = round_n

    def compose(self) -> ComposeResult:
        c = self.challenge
        now = f"{c.label} by the {c.labelled_by}" if c.label else "unlabelled"
        with Vertical(classes="modal-body"):
            yield Static(Text(f"Label {clean(c.id)} of round {self.round_n} (now {now}):"), id="label-title")
            yield Static(Text(cut(clean(one_line(c.claim)), 300)), id="label-claim")
            yield OptionList(
                *[Text(f"{word:<8} {LABEL_MEANINGS.get(word, '')}") for word in LABELS], id="label-choice"
            )
            yield Input(placeholder="why (optional) — Enter labels it", id="label-reason")

    def on_mount(self) -> None:
        choice = self.query_one("#label-choice", OptionList)
        current = self.challenge.label
        choice.highlighted = LABELS.index(current) if current in LABELS else 0
        choice.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.query_one("#label-reason", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        index = self.query_one("#label-choice", OptionList).highlighted
        self.dismiss((LABELS[index or 0], event.value.strip()))

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
            yield from self.beside_diff()
        yield Footer()

    def beside_diff(self) -> Iterator[Widget]:
        """Panes right of the diff (none here)."""
        return iter(())

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
        Binding("n", "file(1)", "Next file", group=FILE, id="diff.next_file"),
        Binding("p", "file(-1)", "Prev file", group=FILE, id="diff.prev_file"),
        Binding("}", "hunk(1)", "Next hunk", group=HUNK, id="diff.next_hunk"),
        Binding("{", "hunk(-1)", "Prev hunk", group=HUNK, id="diff.prev_hunk"),
        Binding("a", "verdict('merge')", "Approve + merge", id="diff.approve"),
        Binding("x", "verdict('reject')", "Reject", id="diff.reject"),
        Binding("f", "send_back", "Send back", id="diff.send_back"),
        Binding("t", "toggle_challenges", "Challenges", id="diff.challenges"),
        Binding("l", "label", "Label", id="diff.label"),
        Binding("r", "round(-1)", "Earlier round", show=False, id="diff.round"),  # said in the panel
    ]

    def __init__(self, board: Blackboard, task_id: str, state: TaskState | None = None) -> None:
        patch = board.task_dir(task_id) / DIFF_FILE
        files = parse_patch(patch.read_text(encoding="utf-8", errors="replace")) if patch.exists() else []
        super().__init__(files, id=f"diff-screen-{task_id}")
        self.board = board
        self.task_id = task_id
        if state is None:
            state = board.read_state(task_id)
        review = state.review if state is not None else None
        self.review_rounds: list[ReviewRound] = list(review.rounds) if review is not None else []

    # ---- the review's challenges --------------------------------------------------------------
    def beside_diff(self) -> Iterator[Widget]:
        if self.review_rounds:
            yield ChallengePanel(id="challenge-panel")

    def on_mount(self) -> None:  # before DiffBrowser.on_mount: Textual runs both
        self.mount_challenges(focus=self.focus_challenges)

    @property
    def focus_challenges(self) -> bool:
        """Whether the challenge list takes the focus when the review opens with challenges."""
        return True

    def mount_challenges(self, *, focus: bool) -> None:
        """Fill the challenge panel, shown (and focused when ``focus``) when any round has challenges."""
        if not self.review_rounds:
            return
        panel = self.query_one(ChallengePanel)
        panel.show_rounds(self.review_rounds)
        shown = any(r.challenges for r in self.review_rounds)
        self.show_challenges(shown)
        self.update_marks()
        if shown and focus:
            self.query_one("#challenge-list", OptionList).focus()

    def show_challenges(self, shown: bool) -> None:
        panel = self.query_one(ChallengePanel)
        if not shown and panel.has_focus_within:
            self.query_one("#diff-view", DiffView).focus()
        panel.display = shown
        self.set_class(shown, "-challenges")

    def update_marks(self) -> None:
        """Mark in the diff's gutter every line a challenge of the shown round names."""
        rnd = self.query_one(ChallengePanel).round
        marks: dict[str, set[int]] = {}
        for c in rnd.challenges if rnd is not None else []:
            if c.file and c.line is not None:
                marks.setdefault(c.file, set()).add(c.line)
        self.query_one("#diff-view", DiffView).set_marks(marks)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("toggle_challenges", "label"):
            return bool(self.review_rounds)
        if action == "round":
            return len(self.review_rounds) > 1
        return True

    def action_toggle_challenges(self) -> None:
        if self.review_rounds:
            self.show_challenges(not self.query_one(ChallengePanel).display)

    def action_round(self, step: int) -> None:
        if len(self.review_rounds) > 1:
            self.query_one(ChallengePanel).step_round(step)
            self.update_marks()

    def on_challenge_panel_jump(self, message: ChallengePanel.Jump) -> None:
        self.jump_to(message.challenge)

    def jump_to(self, challenge: Challenge) -> None:
        """Show the challenge's file with its line marked (or say why not)."""
        name = clean(challenge.id)
        if not challenge.file:
            self.say(f"{name} names no file")
            return
        path = clean(challenge.file)
        index = next((i for i, f in enumerate(self.files) if f.path == challenge.file), None)
        if index is None:
            self.say(f"{name}: {path} is not in this diff", warning=True)
            return
        view = self.query_one("#diff-view", DiffView)
        if view.diff is not self.files[index]:
            view.show(self.files[index])
        self.query_one(FileList).highlighted = index
        if challenge.line is None:
            self.say(f"{name}: {path} (it names no line)")
        elif not view.mark_line(challenge.line):
            self.say(
                f"{name}: line {challenge.line} of {path} is not in the diff; showing the file", warning=True
            )

    def say(self, message: str, *, warning: bool = False) -> None:
        self.app.notify(message, severity="warning" if warning else "information", markup=False)

    def action_label(self) -> None:
        panel = self.query_one(ChallengePanel)
        challenge, rnd = panel.highlighted, panel.round
        if challenge is None or rnd is None:
            self.say("no challenge to label", warning=True)
            return
        if not panel.display:
            self.show_challenges(True)
        round_n, cid = rnd.n, challenge.id

        def chosen(answer: tuple[str, str] | None) -> None:
            if answer is not None:
                self.label_challenge(round_n, cid, *answer)

        self.app.push_screen(LabelModal(challenge, round_n), chosen)

    @work(thread=True, exclusive=True, group="label", exit_on_error=False)
    def label_challenge(self, round_n: int, challenge: str, label: str, reason: str) -> None:
        """In a thread: the core's ``label`` as the human, then the panel again from the task's state."""
        try:
            message = run_task_command(
                self.board,
                "label",
                self.task_id,
                challenge=challenge,
                label=label,
                reason=reason,
                by="human",
                round=round_n,
            )
            failed = False
        except CockpitError as exc:
            message, failed = str(exc), True
        state = self.board.read_state(self.task_id)
        self.app.call_from_thread(self.labelled, message, failed, state)

    def labelled(self, message: str, failed: bool, state: TaskState | None) -> None:
        self.app.notify(
            message,
            title="label",
            severity="error" if failed else "information",
            timeout=15 if failed else 5,
            markup=False,
        )
        if state is not None and state.review is not None and self.is_mounted:
            self.review_rounds = list(state.review.rounds)
            self.query_one(ChallengePanel).show_rounds(self.review_rounds)
            self.update_marks()

    def review_feedback(self) -> str:
        """What the challenge loop would send back for the last round: its VALID and PARTIAL challenges
        (an unlabelled one counts as PARTIAL); empty when it has none."""
        last = self.review_rounds[-1] if self.review_rounds else None
        if last is None or not any(c.label != "NOISE" for c in last.challenges):
            return ""
        return feedback_text(last, acceptance_passed=True)

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

        self.app.push_screen(FeedbackModal(self.review_feedback()), sent)

    @work(thread=True, exclusive=True, group="verdict", exit_on_error=False)
    def run_command(self, kind: str, args: dict[str, object]) -> tuple[str, str] | None:
        """In a thread: a hosted supervisor answers through the inbox while this waits. Returns the
        verdict and its message; the screen closes once the worker has finished (see below)."""
        try:
            message = run_task_command(self.board, kind, self.task_id, **args)
        except CockpitError as exc:
            self.app.call_from_thread(
                self.app.notify, str(exc), title=kind, severity="error", timeout=15, markup=False
            )
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
        self.app.notify(message, title=kind, markup=False)
        if self.is_current:
            self.app.pop_screen()


def _cloud_diffs(state: TaskState | None) -> bool:
    """Whether the last attempt of ``state`` brought diffs back from Codex Cloud."""
    last = state.last_attempt if state is not None else None
    run = last.cloud if last is not None else None
    return run is not None and any(result.diff_file for result in run.results)


def has_review(board: Blackboard, task_id: str, state: TaskState | None) -> bool:
    """Whether :func:`review_screen` has a diff of ``task_id`` to show (``state``: its state as read)."""
    return _cloud_diffs(state) or (board.task_dir(task_id) / DIFF_FILE).exists()


def review_screen(board: Blackboard, task_id: str) -> DiffScreen | None:
    """The review of ``task_id``: a cloud-lane task's (its Codex Cloud attempts, best-of-N) when its
    last attempt brought diffs back, else the branch diff's; None when there is nothing to review."""
    state = board.read_state(task_id)
    if state is not None and _cloud_diffs(state):
        from cockpit.tui.screens.cloud_review import CloudReviewScreen

        return CloudReviewScreen(board, task_id, state)
    if not has_review(board, task_id, state):
        return None
    return DiffScreen(board, task_id, state)


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
