"""The task view: the live log of one attempt (rendered, or raw JSONL with ``r``) beside the task's
state, its envelope, the three signals of every attempt (a cloud-lane attempt's Codex Cloud task: id,
URL, remote status, polls, overdue, and its best-of-N attempts), usage, effort and why, structured
error events, the cross-family review's rounds, and the last message as Markdown. ``[`` and ``]``
switch attempts, ``d`` opens the shown attempt's live diff (mcp lane: the running turn's ``turn.diff``),
``v`` the task's diff review with the review's challenges (shown when it has a diff to review);
``escape`` goes back."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Markdown, Static

from cockpit.core import (
    ATTEMPT_EVENTS_FILE,
    ATTEMPTS_DIR,
    BOARD_EVENTS_FILE,
    LAST_MESSAGE_FILE,
    STATE_FILE,
    Blackboard,
    CloudRun,
    Envelope,
    ReviewLine,
    TaskState,
    clean,
    review_lines,
)
from cockpit.tui.screens.diff_screen import (
    LiveDiffScreen,
    files_count,
    has_review,
    review_screen,
    turn_diff_path,
)
from cockpit.tui.widgets.event_log import EventLog

LOG_POLL_S = 1 / 15
DETAILS_POLL_S = 1.0
MAX_MESSAGE_CHARS = 20_000
REVIEW_STYLES = {"heading": "bold", "round": "", "failed": "bold", "detail": "", "hint": "italic"}


def _shown_path(path: str, root: str | None) -> str:
    """Paths inside the repo relative to it (envelopes store them resolved)."""
    if root and path.startswith(root.rstrip("/") + "/"):
        return path[len(root.rstrip("/")) + 1 :]
    return path


def envelope_text(envelope: Envelope, root: str | None = None) -> Text:
    """The envelope as the worker got it: goal, criteria, inputs, output, budget, sandbox."""
    text = Text()
    text.append("envelope\n", style="bold")
    text.append(f"goal: {clean(envelope.goal)}\n")
    for criterion in envelope.acceptance_criteria:
        text.append(f"  ✓? {clean(criterion)}\n")
    for ref in envelope.inputs:
        summary = f": {clean(ref.summary)}" if ref.summary else ""
        text.append(f"  in  {clean(_shown_path(ref.path, root))}{summary}\n")
    if envelope.output:
        text.append(f"  out {clean(_shown_path(envelope.output.path, root))} ({envelope.output.format})\n")
    b = envelope.budget
    limits = [
        f"{b.tokens} tokens" if b.tokens else "",
        f"{b.tool_calls} tool calls" if b.tool_calls else "",
        f"{b.wall_time_s // 60}m wall" if b.wall_time_s else "",
        f"${b.usd:g}" if b.usd else "",
    ]
    shown = ", ".join(x for x in limits if x)
    text.append(f"budget {shown or 'none'} · risk {envelope.risk_level} · sandbox {envelope.sandbox}")
    text.append(" · network" if envelope.network else "")
    text.append("\n\n")
    return text


def cloud_text(run: CloudRun) -> Text:
    """A cloud-lane attempt's Codex Cloud task, indented under the attempt (its text is data)."""
    text = Text()
    status = f"{run.status} (overdue)" if run.overdue else run.status
    text.append(f"  Codex Cloud task {clean(run.task_id or '(not submitted yet)')} · {clean(status)}")
    text.append(f" · {run.polls} poll{'' if run.polls == 1 else 's'}\n")
    if run.url:
        text.append(f"  {clean(run.url)}\n")
    setup = [f"env {clean(run.env)}", f"best of {run.best_of}"]
    if run.branch:
        setup.append(f"branch {clean(run.branch)}")
    if run.adopted:
        setup.append("found after an interrupted submission")
    text.append("  " + " · ".join(setup) + "\n")
    if run.poll_errors:
        text.append(f"  polling failed {run.poll_errors}×: {clean(run.last_error or '')[:200]}\n")
    if run.remote_error:
        text.append(f"  remote error: {clean(run.remote_error)[:300]}\n", style="bold")
    for result in run.results:
        chosen = "chosen" if result.chosen else "not chosen"
        if not result.diff_file:
            text.append(f"  #{result.n} no diff\n")
            continue
        counts = f"{files_count(result.files)} +{result.insertions} -{result.deletions}"
        text.append(f"  #{result.n} {counts} · {chosen}\n", style="bold" if result.chosen else "")
        if result.conflicts:
            text.append(f"     did not apply: {clean(', '.join(result.conflicts[:10]))}\n")
    return text


def review_text(lines: list[ReviewLine]) -> Text:
    """The review's lines (already cleaned by the core) as text, never as markup; empty without any."""
    text = Text()
    for line in lines:
        text.append(line.text + "\n", style=REVIEW_STYLES.get(line.tone, ""))
    if lines:
        text.append("\n")
    return text


def details_text(
    state: TaskState,
    errors: list[dict[str, object]],
    envelope: Envelope | None = None,
    root: str | None = None,
    live_diff: str | None = None,
    review_key: str | None = None,
) -> Text:
    """The side panel; ``live_diff`` is the summary line of the shown attempt's ``turn.diff``,
    ``review_key`` the key that opens the diff review (None: the task has no diff to review)."""
    text = Text()
    text.append(f"{state.id}  [{state.lane}]  {state.status.value}\n", style="bold")
    text.append(f"{clean(state.title)}\n")
    if state.message:
        text.append(clean(state.message) + "\n", style="italic")
    if state.branch:
        text.append(f"branch {state.branch} from {state.base_branch or '?'}\n")
    if state.diff:
        d = state.diff
        text.append(f"diff {files_count(d.files)} +{d.insertions} -{d.deletions}\n")
    if live_diff:
        text.append(live_diff + "\n")
    u = state.usage
    text.append(
        f"tokens in {u.input_tokens} (cached {u.cached_input_tokens}) out {u.output_tokens} "
        f"(reasoning {u.reasoning_output_tokens})\n"
    )
    if state.effort:
        text.append(f"effort {state.effort}: {state.effort_reason or ''}\n")
    text.append(f"thread {state.thread_id or '-'}\n\n")
    text.append_text(review_text(review_lines(state.review, review_key=review_key)))
    if envelope is not None:
        text.append_text(envelope_text(envelope, root))
    for a in state.attempts:
        sig = a.signals
        marks = (
            f"exit {'·' if sig.exit_code is None else sig.exit_code} "
            f"turn {'✓' if sig.turn_completed else '✗'} msg {'✓' if sig.last_message else '✗'}"
        )
        text.append(f"attempt {a.n} ({a.kind})  {marks}\n", style="bold" if sig.ok else "")
        p = a.progress
        if a.cloud is not None:  # no local worker: nothing ran commands or streamed events here
            text.append_text(cloud_text(a.cloud))
        else:
            text.append(
                f"  commands {p.commands} (failed {p.commands_failed})  files {len(p.file_changes)}  "
                f"parse errors {p.parse_errors}\n"
            )
        if a.error:
            text.append(f"  {clean(a.error)[:300]}\n", style="bold")
    if errors:
        text.append("\nerror events\n", style="bold")
        for e in errors[-5:]:
            text.append(
                f"  #{e.get('attempt')} {e.get('error_type')}/{e.get('code')}: "
                f"{clean(str(e.get('suggestion', '')))}\n"
            )
    return text


class TaskScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="task.back"),
        Binding("[", "attempt(-1)", "Prev attempt", id="task.prev_attempt"),
        Binding("]", "attempt(1)", "Next attempt", id="task.next_attempt"),
        Binding("d", "live_diff", "Live diff", id="task.live_diff"),
        Binding("v", "review", "Review diff", id="task.review"),
    ]

    def __init__(self, board: Blackboard, task_id: str) -> None:
        super().__init__(id=f"task-screen-{task_id}")
        self._shown: tuple[int, ...] | None = None
        self._reviewable = False  # the task has a diff to review (read when the state changes)
        self.board = board
        self.task_id = task_id
        state = board.read_state(task_id, archived=True)
        self.attempt = state.attempts[-1].n if state and state.attempts else 1

    def compose(self) -> ComposeResult:
        with Horizontal(id="task-body"):
            yield EventLog(self._events_path(), root=str(self.board.repo), id="task-log")
            with VerticalScroll(id="task-side"):
                yield Static(id="task-details")
                yield Markdown(id="task-last-message")
        yield Footer()

    def _log_title(self) -> str:
        archived = self.board.is_archived(self.task_id)
        return f"attempt {self.attempt}" + (" · archived (read only)" if archived else "")

    def _events_path(self):
        return self.board.attempt_dir(self.task_id, self.attempt, archived=True) / ATTEMPT_EVENTS_FILE

    def on_mount(self) -> None:
        log = self.query_one(EventLog)
        log.border_title = self._log_title()
        self.set_interval(LOG_POLL_S, log.refresh_from_disk)
        self.set_interval(DETAILS_POLL_S, self.show_details)
        self.show_details()
        log.focus()

    def _details_signature(self) -> tuple[int, ...]:
        """Modification times of everything the side panel shows (0 when a file is missing)."""
        home = self.board.find_task_dir(self.task_id) or self.board.task_dir(self.task_id)  # or archived
        paths = (
            home / STATE_FILE,
            self.board.root / BOARD_EVENTS_FILE,
            home / ATTEMPTS_DIR / str(self.attempt) / LAST_MESSAGE_FILE,
        )
        out = [self.attempt]
        for path in paths:
            try:
                out.append(path.stat().st_mtime_ns)
            except OSError:
                out.append(0)
        return tuple(out)

    def show_details(self) -> None:
        """Redraw the side panel, only when one of its files changed (idle screens stay idle)."""
        signature = self._details_signature()
        if signature == self._shown:
            return
        state = self.board.read_state(self.task_id, archived=True)
        if state is None:
            return
        self._shown = signature
        errors = [
            e
            for e in self.board.read_jsonl(BOARD_EVENTS_FILE)
            if e.get("task_id") == self.task_id and e.get("kind") == "error"
        ]
        envelope = self.board.read_envelope(self.task_id, archived=True)
        reviewable = has_review(self.board, self.task_id, state)
        if reviewable != self._reviewable:
            self._reviewable = reviewable
            self.refresh_bindings()
        details = details_text(
            state,
            errors,
            envelope,
            str(self.board.repo),
            self._live_diff_summary(state),
            self._review_key() if reviewable else None,
        )
        self.query_one("#task-details", Static).update(details)
        message = self.board.attempt_dir(self.task_id, self.attempt, archived=True) / LAST_MESSAGE_FILE
        try:
            body = clean(message.read_text(encoding="utf-8", errors="replace")[:MAX_MESSAGE_CHARS])
        except OSError:
            body = ""
        self.query_one("#task-last-message", Markdown).update(body or "_no final message yet_")

    def _live_diff_summary(self, state: TaskState) -> str | None:
        """``live diff: N files +a -d (d)`` from the shown attempt's progress (the reducer counts each
        ``turn/diff/updated``); None when that attempt streamed no diff."""
        attempt = next((a for a in state.attempts if a.n == self.attempt), None)
        live = attempt.progress.live_diff if attempt is not None else None
        if live is None:
            return None
        if not live.files:
            return "live diff: no changes yet (d)"
        return f"live diff: {files_count(live.files)} +{live.insertions} -{live.deletions} (d)"

    def _review_key(self) -> str | None:
        """The key that opens the diff review, as the footer shows it (the user's keymap applied)."""
        for active in self.active_bindings.values():
            if active.binding.id == "task.review":
                return self.app.get_key_display(active.binding)
        return None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """``v`` is offered only while the task has a diff to review."""
        return self._reviewable if action == "review" else True

    def action_review(self) -> None:
        """Open the task's diff review, with the cross-family review's challenges beside the diff."""
        screen = review_screen(self.board, self.task_id)
        if screen is None:
            self.notify("this task has no diff to review", severity="warning")
            return
        self.app.push_screen(screen)

    def action_live_diff(self) -> None:
        """Open the shown attempt's live diff, or say why there is none."""
        if not turn_diff_path(self.board, self.task_id, self.attempt).exists():
            self.notify(
                f"no live diff for attempt {self.attempt}: only mcp-lane turns stream one", title="live diff"
            )
            return
        self.app.push_screen(LiveDiffScreen(self.board, self.task_id, self.attempt))

    async def action_attempt(self, step: int) -> None:
        state = self.board.read_state(self.task_id, archived=True)
        if state is None or not state.attempts:
            return
        target = min(max(1, self.attempt + step), state.attempts[-1].n)
        if target == self.attempt:
            return
        self.attempt = target
        old = self.query_one(EventLog)
        new = EventLog(self._events_path(), root=str(self.board.repo), id="task-log")
        await old.remove()
        await self.query_one("#task-body", Horizontal).mount(new, before=0)
        new.border_title = self._log_title()
        self.show_details()
