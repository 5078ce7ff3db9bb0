"""The review of a cloud-lane task: the diff review (:class:`~cockpit.tui.screens.diff_screen.DiffScreen`,
with its verdicts) plus what Codex Cloud brought back.

A line names the Codex Cloud task (id, URL, environment). A task whose chosen attempt did not apply to
its base commit (``conflict``) says which files did not, and marks them in the file list.

Best-of-N (the task's last attempt has more than one result): the attempts are listed — number, files,
+/−, first paths, which one is chosen and on the branch (the CLI gives no per-attempt message) — and
the highlighted attempt's diff is shown: the task's branch diff for the chosen attempt in review (what
a merge lands), else the attempt's own diff file. ``[``/``]`` (or the list) move between attempts;
``1``–``4`` put that attempt on the task's branch (the core's ``pick``, through the same command path as
the verdicts; the screen then shows the new branch diff and the choice); ``c`` compares the highlighted
attempt with another side by side (the chosen one, or the next; ``o`` takes the next one), every file
either has, those that differ between the two (in one only, or with other content) marked ``≠``.

Rows are plain data (paths come from diffs): their parts are styled by the lists' component classes
(``styles/cloud_review.tcss``), never by markup.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Footer, OptionList, Static

from cockpit.core import (
    CLOUD_BEST_OF_MAX,
    DIFF_FILE,
    Blackboard,
    Challenge,
    CloudResult,
    CloudRun,
    FileDiff,
    TaskState,
    TaskStatus,
    clean,
)
from cockpit.tui.screens.diff_screen import DiffScreen, FileList, files_count, read_patch_file
from cockpit.tui.widgets.diff_view import DiffView

__all__ = ["AttemptList", "CloudFileList", "CloudReviewScreen", "ComparedFile", "compare_files"]

# the footer groups keys that go together, so the review's keys fit on one line
FILE = Binding.Group("File")
HUNK = Binding.Group("Hunk")
PICK = Binding.Group("Pick")
ATTEMPT = Binding.Group("Attempt")
PATHS_SHOWN = 3  # first paths of an attempt in its row

Row = list[tuple[str, str]]
"""A list row: (text, part) pieces; ``part`` names the list's component class (``""``: plain)."""


# ------------------------------------------------------------------------------------ comparing


def _content(diff: FileDiff) -> tuple[bool, tuple[str, ...]]:
    """What a file's diff changes: its hunks (headers differ between tools; blob ids do not matter)."""
    lines = diff.lines[diff.hunks[0] :] if diff.hunks else diff.lines[1:]
    return diff.binary, tuple(lines)


@dataclass(frozen=True)
class ComparedFile:
    """One path of two attempts' diffs, side by side."""

    path: str
    left: FileDiff | None
    right: FileDiff | None

    @property
    def differs(self) -> bool:
        """In one attempt only, or changed differently."""
        if self.left is None or self.right is None:
            return True
        return _content(self.left) != _content(self.right)


def compare_files(left: list[FileDiff], right: list[FileDiff]) -> list[ComparedFile]:
    """Every path either diff touches: the left one's in its order, then those only the right has."""
    by_path = {diff.path: diff for diff in right}
    rows = [ComparedFile(diff.path, diff, by_path.get(diff.path)) for diff in left]
    seen = {diff.path for diff in left}
    rows += [ComparedFile(diff.path, None, diff) for diff in right if diff.path not in seen]
    return rows


# ---------------------------------------------------------------------------------------- lists


class _RowList(OptionList):
    """Rows kept as data, drawn with the list's component styles (again when those change: the theme)."""

    PREFIX: ClassVar[str]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.rows: list[Row] = []
        self._drawn_with: tuple[Style, ...] | None = None

    def _part_styles(self) -> tuple[Style, ...]:
        names = sorted(self.COMPONENT_CLASSES - OptionList.COMPONENT_CLASSES)
        return tuple(self.get_component_rich_style(name, partial=True) for name in names)

    def show_rows(self, rows: list[Row], highlighted: int | None = 0) -> None:
        self.rows = rows
        self._drawn_with = self._part_styles()
        self.set_options([self._prompt(row) for row in rows])
        if rows and highlighted is not None:
            self.highlighted = min(max(0, highlighted), len(rows) - 1)

    def _prompt(self, row: Row) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        for piece, part in row:
            style = self.get_component_rich_style(f"{self.PREFIX}--{part}", partial=True) if part else ""
            text.append(piece, style=style)
        return text

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self.call_later(self._restyle)

    def _restyle(self) -> None:
        if self.rows and self.is_mounted and self._part_styles() != self._drawn_with:
            self.show_rows(self.rows, self.highlighted)


class CloudFileList(FileList, _RowList):
    """The file list of a cloud review: files that did not apply, or that differ between two compared
    attempts, are marked. (``FileList`` first: Textual takes default CSS along the first base only.)"""

    PREFIX = "cloud-files"
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "cloud-files--differs",
        "cloud-files--failed",
        "cloud-files--muted",
    }


class AttemptList(_RowList):
    """A best-of-N task's attempts, one row each, in the CLI's order."""

    PREFIX = "attempt-list"
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "attempt-list--chosen",
        "attempt-list--failed",
        "attempt-list--muted",
    }


# --------------------------------------------------------------------------------------- screen


class CloudReviewScreen(DiffScreen):
    """A cloud-lane task's review; best-of-N when its last attempt has more than one result."""

    BINDINGS = [
        Binding("n", "file(1)", "Next file", group=FILE, id="diff.next_file"),
        Binding("p", "file(-1)", "Prev file", group=FILE, id="diff.prev_file"),
        Binding("}", "hunk(1)", "Next hunk", group=HUNK, id="diff.next_hunk"),
        Binding("{", "hunk(-1)", "Prev hunk", group=HUNK, id="diff.prev_hunk"),
        *(
            Binding(str(k), f"pick({k})", f"Pick attempt {k}", group=PICK, id=f"cloud_review.pick_{k}")
            for k in range(1, CLOUD_BEST_OF_MAX + 1)
        ),
        Binding("[", "attempt(-1)", "Prev attempt", group=ATTEMPT, id="cloud_review.prev_attempt"),
        Binding("]", "attempt(1)", "Next attempt", group=ATTEMPT, id="cloud_review.next_attempt"),
        Binding("c", "compare", "Compare", id="cloud_review.compare"),
        Binding("o", "other", "Compare with next", id="cloud_review.other"),
    ]

    def __init__(self, board: Blackboard, task_id: str, state: TaskState) -> None:
        super().__init__(board, task_id, state)
        self.state = state
        # the task's diff.patch, read by the diff screen; a conflict left nothing on the branch
        self.branch_files = [] if state.status == TaskStatus.CONFLICT else self.files
        self._diffs: dict[int, list[FileDiff]] = {}
        self.comparing = False
        self.against: int | None = None
        self.compared: list[ComparedFile] = []
        chosen = self.run.chosen
        self.shown = chosen.n if chosen is not None else self.results[0].n
        self.files = self.files_of(self.shown)

    # ---- what the task holds ------------------------------------------------------------------
    @property
    def run(self) -> CloudRun:
        last = self.state.last_attempt
        assert last is not None and last.cloud is not None
        return last.cloud

    @property
    def results(self) -> list[CloudResult]:
        return self.run.results

    @property
    def best_of(self) -> bool:
        return len(self.results) > 1

    def result(self, n: int) -> CloudResult | None:
        return next((r for r in self.results if r.n == n), None)

    def on_branch(self, result: CloudResult) -> bool:
        """True when ``result`` is what the task's branch holds (chosen, and it applied)."""
        return result.chosen and self.state.status != TaskStatus.CONFLICT and bool(self.branch_files)

    def files_of(self, n: int) -> list[FileDiff]:
        """Attempt ``n``'s files: the branch diff when it is on the branch, else its own diff file."""
        result = self.result(n)
        if result is None:
            return []
        if self.on_branch(result) and not self.comparing:
            return self.branch_files
        return self.attempt_diff(result)

    def attempt_diff(self, result: CloudResult) -> list[FileDiff]:
        """The attempt's own diff (``cloud-attempt-<k>.diff``), read once."""
        if result.n not in self._diffs:
            last = self.state.last_attempt
            files: list[FileDiff] = []
            if result.diff_file and last is not None:
                files = read_patch_file(self.board.attempt_dir(self.task_id, last.n) / result.diff_file)
            self._diffs[result.n] = files
        return self._diffs[result.n]

    # ---- layout -------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Static(self._title(), id="diff-title")
        yield Static(self._cloud_line(), id="cloud-info")
        yield Static(self._conflict_line(), id="cloud-conflict")
        yield AttemptList(id="cloud-attempts")
        with Horizontal(id="diff-body"):
            yield CloudFileList(id="diff-files")
            yield DiffView(id="diff-view")
            yield DiffView(id="diff-view-b")
            yield from self.beside_diff()
        yield Footer()

    def _title(self) -> Text:
        if self.state.status == TaskStatus.CONFLICT:
            chosen = self.run.chosen
            which = (
                f"attempt {chosen.n} of {len(self.results)}"
                if chosen is not None and self.best_of
                else "the cloud diff"
            )
            return Text(f"review {self.task_id}: conflict · {which} did not apply to the base commit", "bold")
        files = self.branch_files
        added = sum(f.added for f in files)
        removed = sum(f.removed for f in files)
        title = f"review {self.task_id}: {files_count(len(files))}, +{added} -{removed}"
        chosen = self.run.chosen
        if self.best_of and chosen is not None:
            title += f" · attempt {chosen.n} of {len(self.results)} on the branch"
        return Text(title, style="bold")

    def _cloud_line(self) -> Text:
        run = self.run
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(f"Codex Cloud task {clean(run.task_id or '?')}")
        if run.url:
            text.append(f" · {clean(run.url)}")
        text.append(f" · env {clean(run.env)}")
        if self.best_of:
            text.append(f" · best of {len(self.results)}")
        return text

    def _conflict_line(self) -> Text:
        chosen = self.run.chosen
        if self.state.status != TaskStatus.CONFLICT or chosen is None:
            return Text()
        files = ", ".join(clean(path) for path in chosen.conflicts[:10]) or "see the task's message"
        if len(chosen.conflicts) > 10:
            files += f" and {len(chosen.conflicts) - 10} more"
        others = [r.n for r in self.results if r.n != chosen.n and r.diff_file]
        if others:
            keys = "/".join(str(n) for n in others)
            hint = f"pick another attempt ({keys}) or reject (x)"
        else:
            hint = "send it back (f) or reject (x)"
        return Text(f"✗ did not apply: {files} — {hint}")

    def on_mount(self) -> None:
        self.query_one("#cloud-attempts", AttemptList).display = self.best_of
        self.query_one("#cloud-conflict", Static).display = self.state.status == TaskStatus.CONFLICT
        self.query_one("#diff-view-b", DiffView).display = False
        attempts = self.query_one("#cloud-attempts", AttemptList)
        attempts.border_title = "attempts"
        attempts.show_rows(self._attempt_rows(), self._index_of(self.shown))
        self._show_files()
        if self.best_of:
            attempts.focus()

    def show_first_file(self) -> None:
        """The file list is this screen's (see :meth:`_show_files`)."""

    def _index_of(self, n: int) -> int:
        return next((i for i, r in enumerate(self.results) if r.n == n), 0)

    # ---- rows ---------------------------------------------------------------------------------
    def _attempt_rows(self) -> list[Row]:
        rows: list[Row] = []
        for result in self.results:
            row: Row = [(f"#{result.n}  ", "")]
            if not result.diff_file:
                rows.append([*row, ("no diff", "muted")])
                continue
            if result.chosen and self.state.status == TaskStatus.CONFLICT:
                row.append((f"{'chosen · did not apply':<24}", "failed"))
            elif result.chosen:
                row.append((f"{'chosen · on the branch':<24}", "chosen"))
            else:
                row.append((f"{'not chosen':<24}", "muted"))
            row.append((f"{files_count(result.files):<9} +{result.insertions} -{result.deletions}  ", ""))
            paths = [clean(p) for p in result.paths[:PATHS_SHOWN]]
            more = max(result.files, len(result.paths)) - len(paths)
            row.append((", ".join(paths) + (f" and {more} more" if more > 0 else ""), "muted"))
            rows.append(row)
        return rows

    def _file_rows(self) -> list[Row]:
        if self.comparing:
            return [self._compared_row(c) for c in self.compared]
        result = self.result(self.shown)
        failed = set(result.conflicts) if result is not None and result.chosen else set()
        if self.state.status != TaskStatus.CONFLICT:
            failed = set()
        rows: list[Row] = []
        for diff in self.files:
            counts = f"+{diff.added} -{diff.removed}  "
            path = clean(diff.path) + (" (binary)" if diff.binary else "")
            if diff.path in failed:
                rows.append([("✗ ", "failed"), (counts, ""), (path, "failed"), ("  did not apply", "failed")])
            else:
                rows.append([(counts, ""), (path, "")])
        return rows

    def _compared_row(self, compared: ComparedFile) -> Row:
        path = clean(compared.path)
        if not compared.differs:
            return [("= ", "muted"), (path, ""), ("  the same", "muted")]
        left, right = compared.left, compared.right
        if right is None:
            note = f"  only in #{self.shown}"
        elif left is None:
            note = f"  only in #{self.against}"
        else:
            note = f"  +{left.added} -{left.removed} | +{right.added} -{right.removed}"
        return [("≠ ", "differs"), (path, "differs"), (note, "muted")]

    def _show_files(self) -> None:
        """Fill the file list for the shown attempt (or the compared pair) and show its first file."""
        self.set_class(self.comparing, "-compare")
        right = self.query_one("#diff-view-b", DiffView)
        right.display = self.comparing
        if self.comparing and self.against is not None:
            against = self.result(self.against)
            left_files = self.files_of(self.shown)
            right_files = self.attempt_diff(against) if against is not None else []
            self.compared = compare_files(left_files, right_files)
        file_list = self.query_one(CloudFileList)
        rows = self._file_rows()
        file_list.show_rows(rows)
        if not rows:
            self.query_one("#diff-view", DiffView).show(None)
            right.show(None)
        self._pane_titles(None)

    def _pane_titles(self, compared: ComparedFile | None) -> None:
        left = self.query_one("#diff-view", DiffView)
        right = self.query_one("#diff-view-b", DiffView)
        if not self.best_of:
            left.border_title = None
            return
        if self.comparing:
            missing = " · not in it"
            left.border_title = f"attempt {self.shown}" + (missing if compared and not compared.left else "")
            right.border_title = f"attempt {self.against}" + (
                missing if compared and not compared.right else ""
            )
            return
        result = self.result(self.shown)
        where = "the branch diff" if result is not None and self.on_branch(result) else "its cloud diff"
        left.border_title = f"attempt {self.shown} · {where}"

    def file_highlighted(self, index: int) -> None:
        if not self.comparing:
            super().file_highlighted(index)
            return
        if not 0 <= index < len(self.compared):
            return
        compared = self.compared[index]
        left = self.query_one("#diff-view", DiffView)
        right = self.query_one("#diff-view-b", DiffView)
        if left.diff is not compared.left or compared.left is None:
            left.show(compared.left)
        if right.diff is not compared.right or compared.right is None:
            right.show(compared.right)
        self._pane_titles(compared)

    # ---- attempts -----------------------------------------------------------------------------
    @on(OptionList.OptionHighlighted, "#cloud-attempts")
    def _attempt_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        index = event.option_index
        if not 0 <= index < len(self.results) or self.results[index].n == self.shown:
            return
        self.shown = self.results[index].n
        if self.comparing and self.against == self.shown:
            self.against = self._next_other(self.shown)
        self.files = self.files_of(self.shown)
        self._show_files()

    def action_attempt(self, step: int) -> None:
        attempts = self.query_one("#cloud-attempts", AttemptList)
        index = self._index_of(self.shown) + step
        attempts.highlighted = max(0, min(len(self.results) - 1, index))

    def _next_other(self, n: int, after: int | None = None) -> int | None:
        """The attempt after ``after`` (default ``n``), wrapping, that has a diff and is not ``n``."""
        numbers = [r.n for r in self.results if r.diff_file and r.n != n]
        if not numbers:
            return None
        start = n if after is None else after
        return next((k for k in numbers if k > start), numbers[0])

    def action_compare(self) -> None:
        """Compare the highlighted attempt with another (the chosen one, else the next), or stop."""
        if self.comparing:
            self.comparing = False
            self.files = self.files_of(self.shown)
        else:
            chosen = self.run.chosen
            if chosen is not None and chosen.n != self.shown:
                other: int | None = chosen.n
            else:
                other = self._next_other(self.shown)
            if other is None:
                self.notify("no other attempt has a diff to compare with", title="compare")
                return
            self.comparing, self.against = True, other
        self._show_files()
        self.refresh_bindings()

    def action_other(self) -> None:
        """Compare with the next attempt instead."""
        other = self._next_other(self.shown, self.against)
        if other is not None and other != self.against:
            self.against = other
            self._show_files()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "pick":
            result = self.result(int(str(parameters[0]))) if parameters else None
            return self.best_of and result is not None and bool(result.diff_file)
        if action in ("attempt", "compare"):
            return self.best_of
        if action == "other":
            return self.comparing and len([r for r in self.results if r.diff_file]) > 2
        return super().check_action(action, parameters)

    @property
    def focus_challenges(self) -> bool:
        return not self.best_of  # the attempts list has the focus

    def jump_to(self, challenge: Challenge) -> None:
        if self.comparing:
            self.say("stop comparing (c) to go to a challenge's line", warning=True)
            return
        super().jump_to(challenge)

    # ---- picking ------------------------------------------------------------------------------
    def action_pick(self, n: int) -> None:
        """Put attempt ``n`` on the task's branch (the core's ``pick``)."""
        result = self.result(n)
        if result is None or not result.diff_file:
            return
        if self.on_branch(result):
            self.notify(f"attempt {n} is already on the branch", title="pick")
            return
        self.run_command("pick", {"attempt": n})

    def command_done(self, kind: str, message: str) -> None:
        if kind != "pick":
            super().command_done(kind, message)
            return
        self.app.notify(message, title=kind)
        self.reload()

    def reload(self) -> None:
        """Read the task again (after a pick): its branch diff, which attempt is chosen, its status."""
        state = self.board.read_state(self.task_id)
        last = state.last_attempt if state is not None else None
        if state is None or last is None or last.cloud is None:
            return
        self.state = state
        patch = self.board.task_dir(self.task_id) / DIFF_FILE
        conflict = state.status == TaskStatus.CONFLICT
        self.branch_files = [] if conflict else read_patch_file(patch)
        chosen = self.run.chosen
        if chosen is not None:
            self.shown = chosen.n
        if self.comparing and self.against == self.shown:
            self.against = self._next_other(self.shown)
        self.files = self.files_of(self.shown)
        self.query_one("#diff-title", Static).update(self._title())
        line = self.query_one("#cloud-conflict", Static)
        line.update(self._conflict_line())
        line.display = conflict
        attempts = self.query_one("#cloud-attempts", AttemptList)
        attempts.show_rows(self._attempt_rows(), self._index_of(self.shown))
        self._show_files()
        self.refresh_bindings()
