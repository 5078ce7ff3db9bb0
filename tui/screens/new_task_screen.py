"""The "New task" form: a modal that owns turning typed fields into a submitted task envelope.

Fields: goal, title, lane, effort, budget (tokens, wall time), acceptance criteria, inputs (with
completion of repo-relative paths) and output path; for the cloud lane only (shown while it is the
chosen lane), the Codex Cloud environment (prefilled from ``[cloud] env``), best-of-N attempts and the
branch the cloud task starts from. Validation is the core's: the form builds the same
mapping ``cockpit submit`` builds from its flags, validates it with :func:`envelope_from_mapping` and
submits it with :func:`cockpit.core.commands.submit` (which applies the repository path checks). Every
:class:`EnvelopeError` is shown under the field it names, and the form stays open until it is valid;
then it dismisses with the new task id (or ``None`` when cancelled).
"""

from __future__ import annotations

import os
import re
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, get_args

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.suggester import Suggester
from textual.widget import Widget
from textual.widgets import Button, Footer, Input, Label, Select, Static, TextArea

from cockpit.core import (
    CLOUD_BEST_OF_MAX,
    CLOUD_LANE,
    DENY_BASENAMES,
    EFFORTS,
    Blackboard,
    CockpitError,
    ConfigError,
    Envelope,
    EnvelopeError,
    Lane,
    board_config,
    envelope_from_mapping,
    missing_inputs,
    submit,
)

__all__ = ["FORM_ERROR", "NewTaskScreen", "RepoPathSuggester", "complete_path", "form_field_of"]

LANES: tuple[str, ...] = get_args(Lane)
AUTO_EFFORT = "auto"
MAX_INPUTS = 8
FORM_ERROR = "form"
"""The key of the error line for problems that belong to no single field."""

# Repository directories that are never offered as inputs.
SKIPPED_DIRS = frozenset({".git", ".cockpit"})
# An input written as "path: summary" / "path — summary" / "path - summary": past the path, no completion.
_SUMMARY_SEPARATOR = re.compile(r":\s|\s[-—–]\s|[—–]")


# ------------------------------------------------------------------------------ path completion


def complete_path(root: Path, value: str) -> str | None:
    """Complete ``value`` to the first repo-relative file or directory (directories end in ``/``).

    Only the last path segment is completed, against the entries of the directory the value names.
    ``.git`` and ``.cockpit`` are skipped anywhere, as are names on the secrets deny list; hidden entries
    are offered only once the segment starts with a dot. Absolute paths, ``~``, ``..`` and values that
    already carry a summary get no suggestion.
    """
    if not value or value.startswith(("/", "~")) or _SUMMARY_SEPARATOR.search(value):
        return None
    head, slash, prefix = value.rpartition("/")
    parts = [part for part in head.split("/") if part]
    if any(part in (".", "..") or part in SKIPPED_DIRS for part in parts):
        return None
    try:
        with os.scandir(root.joinpath(*parts)) as scan:
            entries = sorted(scan, key=lambda entry: entry.name)
    except OSError:
        return None
    for entry in entries:
        name = entry.name
        if name in SKIPPED_DIRS or not name.startswith(prefix):
            continue
        if name.startswith(".") and not prefix.startswith("."):
            continue
        if any(fnmatchcase(name.lower(), pattern) for pattern in DENY_BASENAMES):
            continue
        is_dir = entry.is_dir()
        if name == prefix and not is_dir:
            continue  # already complete
        return f"{head}{slash}{name}{'/' if is_dir else ''}"
    return None


class RepoPathSuggester(Suggester):
    """Suggests repo-relative paths from the repository's files and directories as an input is typed."""

    def __init__(self, root: Path) -> None:
        # No cache: files come and go while the form is open; paths are case sensitive.
        super().__init__(use_cache=False, case_sensitive=True)
        self.root = Path(root)

    async def get_suggestion(self, value: str) -> str | None:
        return complete_path(self.root, value)


# ----------------------------------------------------------------------------------- field errors


_TOP_LEVEL_FIELDS: dict[str, str] = {
    "goal": "goal",
    "title": "title",
    "lane": "lane",
    "effort": "effort",
    "acceptance_criteria": "acceptance",
    "inputs": "inputs",
    "output": "output",
    "cloud_env": "cloud_env",
    "attempts": "attempts",
    "branch": "branch",
}
_BUDGET_FIELDS: dict[str, str] = {"tokens": "tokens", "wall_time": "wall_time", "wall_time_s": "wall_time"}


def form_field_of(error_field: str) -> tuple[str, int | None]:
    """Map an :class:`EnvelopeError` field to the form field showing it, plus the input row if any.

    ``"goal"`` -> ``("goal", None)``; ``"budget.tokens"`` -> ``("tokens", None)``;
    ``"inputs.2.path"`` -> ``("inputs", 2)``; anything the form has no field for -> ``(FORM_ERROR, None)``.
    """
    parts = error_field.split(".")
    if parts[0] == "budget":
        return _BUDGET_FIELDS.get(parts[1] if len(parts) > 1 else "", FORM_ERROR), None
    field = _TOP_LEVEL_FIELDS.get(parts[0], FORM_ERROR)
    row = int(parts[1]) if field == "inputs" and len(parts) > 1 and parts[1].isdigit() else None
    return field, row


# ----------------------------------------------------------------------------------------- screen


def _field(key: str, label: str, *widgets: Widget) -> Vertical:
    """A labelled form field with its error line (hidden while empty)."""
    return Vertical(
        Label(label, classes="field-label"),
        *widgets,
        Static("", id=f"{key}-error", classes="field-error"),
        id=f"field-{key}",
        classes="field",
    )


def _input(
    widget_id: str, placeholder: str, *, classes: str | None = None, suggester: Suggester | None = None
) -> Input:
    """An input that leaves its ``-invalid`` class to the form (Textual's own validation is off)."""
    return Input(id=widget_id, classes=classes, placeholder=placeholder, suggester=suggester, validate_on=())


class NewTaskScreen(ModalScreen[str | None]):
    """Dismisses with the submitted task's id, or ``None`` when cancelled."""

    BINDINGS = [
        Binding("ctrl+s,f4", "submit", "Submit", id="form.submit"),
        Binding("escape", "cancel", "Cancel", id="form.cancel"),
    ]

    def __init__(self, board: Blackboard) -> None:
        super().__init__(id="new-task-screen")
        self.board = board
        self.default_cloud_env = ""
        try:
            config = board_config(board)
            self.default_lane: str = config.default_lane
            self.default_cloud_env = config.cloud.env or ""
        except ConfigError:
            self.default_lane = str(Envelope.model_fields["lane"].default)
        self.suggester = RepoPathSuggester(board.repo)

    # ---- layout ---------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-body"):
            yield Static("New task", id="new-task-heading")
            with Horizontal(id="new-task-columns"):
                with Vertical(classes="form-column"):
                    yield _field(
                        "goal",
                        "Goal (required)",
                        TextArea(id="new-task-goal", placeholder="what the worker should achieve"),
                    )
                    yield _field("title", "Title", _input("new-task-title", "derived from the goal"))
                    yield _field(
                        "acceptance",
                        "Acceptance criteria (one per line)",
                        TextArea(id="new-task-acceptance", placeholder="tests pass\nno new dependencies"),
                    )
                with Vertical(classes="form-column"):
                    with Horizontal(classes="form-row"):
                        yield _field(
                            "lane",
                            "Lane",
                            Select(
                                [(lane, lane) for lane in LANES],
                                value=self.default_lane,
                                allow_blank=False,
                                id="new-task-lane",
                            ),
                        )
                        yield _field(
                            "effort",
                            "Effort",
                            Select(
                                [(AUTO_EFFORT, AUTO_EFFORT), *[(effort, effort) for effort in EFFORTS]],
                                value=AUTO_EFFORT,
                                allow_blank=False,
                                id="new-task-effort",
                            ),
                        )
                    with Horizontal(classes="form-row", id="new-task-cloud"):
                        yield _field(
                            "cloud_env",
                            "Cloud environment",
                            _input("new-task-cloud-env", "id or label, e.g. owner/repo"),
                        )
                        yield _field(
                            "attempts",
                            "Attempts",
                            _input("new-task-attempts", f"1–{CLOUD_BEST_OF_MAX}"),
                        )
                        yield _field("branch", "Branch", _input("new-task-branch", "default"))
                    with Horizontal(classes="form-row"):
                        yield _field(
                            "tokens",
                            "Budget: tokens",
                            _input("new-task-tokens", "e.g. 50000"),
                        )
                        yield _field(
                            "wall_time",
                            "Budget: wall time",
                            _input("new-task-wall-time", "e.g. 20m"),
                        )
                    yield _field(
                        "inputs",
                        "Inputs: repo paths, one per box (→ completes)",
                        VerticalScroll(self._path_input(0), id="new-task-inputs"),
                    )
                    yield _field(
                        "output",
                        "Output path",
                        _input("new-task-output", "optional, e.g. NOTES.md"),
                    )
            yield Static("", id=f"{FORM_ERROR}-error", classes="field-error")
            with Horizontal(id="new-task-buttons"):
                yield Button("Submit", variant="primary", id="new-task-submit")
                yield Button("Cancel", id="new-task-cancel")
        yield Footer()

    def _path_input(self, row: int) -> Input:
        return _input(
            f"new-task-input-{row}", "path or 'path: summary'", classes="path-input", suggester=self.suggester
        )

    def on_mount(self) -> None:
        self.query_one("#new-task-cloud-env", Input).value = self.default_cloud_env
        self._show_cloud_fields()
        self.query_one("#new-task-goal", TextArea).focus()

    def _lane(self) -> str | None:
        lane = self.query_one("#new-task-lane", Select).value
        return lane if isinstance(lane, str) else None

    def _show_cloud_fields(self) -> None:
        """The cloud lane's fields show only while it is the chosen lane."""
        self.query_one("#new-task-cloud").display = self._lane() == CLOUD_LANE

    @property
    def path_inputs(self) -> list[Input]:
        return list(self.query_one("#new-task-inputs").query(".path-input").results(Input))

    # ---- actions --------------------------------------------------------------------------------
    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_submit(self) -> None:
        self._clear_errors()
        collected = self._collect()
        if collected is None:
            return
        data, rows = collected
        try:
            envelope = envelope_from_mapping(data)
            if "lane" not in envelope.model_fields_set:
                envelope = envelope.model_copy(update={"lane": self.default_lane})
            task_id = submit(self.board, envelope)  # checks paths and the lane before writing anything
        except EnvelopeError as exc:
            self._show_envelope_error(exc, rows)
            return
        except (CockpitError, OSError) as exc:
            self._show_error(FORM_ERROR, str(exc))
            return
        missing = missing_inputs(envelope, self.board.repo)
        if missing:
            self.app.notify(
                f"not in the repository yet: {', '.join(missing)}", title=task_id, severity="warning"
            )
        self.dismiss(task_id)

    @on(Button.Pressed, "#new-task-submit")
    def _submit_pressed(self) -> None:
        self.action_submit()

    @on(Button.Pressed, "#new-task-cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel()

    # ---- reading the form -----------------------------------------------------------------------
    def _collect(self) -> tuple[dict[str, Any], list[Input]] | None:
        """The envelope mapping (``cockpit submit`` spelling) and the input rows in list order.

        ``None`` after showing an error the model is not asked about (budget tokens that are no integer).
        """
        data: dict[str, Any] = {"goal": self.query_one("#new-task-goal", TextArea).text}
        title = self.query_one("#new-task-title", Input).value.strip()
        if title:
            data["title"] = title
        lane = self._lane()
        if lane is not None:
            data["lane"] = lane
        effort = self.query_one("#new-task-effort", Select).value
        if isinstance(effort, str) and effort != AUTO_EFFORT:
            data["effort"] = effort
        budget: dict[str, Any] = {}
        tokens_input = self.query_one("#new-task-tokens", Input)
        tokens = tokens_input.value.strip()
        if tokens:
            try:
                budget["tokens"] = int(tokens.replace(",", ""))
            except ValueError:
                self._show_error("tokens", f"must be a whole number (got {tokens!r})")
                return None
        wall_time = self.query_one("#new-task-wall-time", Input).value.strip()
        if wall_time:
            budget["wall_time"] = wall_time
        if budget:
            data["budget"] = budget
        criteria = [
            line.strip() for line in self.query_one("#new-task-acceptance", TextArea).text.splitlines()
        ]
        if any(criteria):
            data["acceptance_criteria"] = [line for line in criteria if line]
        rows = [row for row in self.path_inputs if row.value.strip()]
        if rows:
            data["inputs"] = [row.value.strip() for row in rows]
        output = self.query_one("#new-task-output", Input).value.strip()
        if output:
            data["output"] = {"path": output}
        if lane == CLOUD_LANE and not self._collect_cloud(data):
            return None
        return data, rows

    def _collect_cloud(self, data: dict[str, Any]) -> bool:
        """The cloud lane's fields into ``data``; False after showing an error (attempts not 1–4)."""
        env = self.query_one("#new-task-cloud-env", Input).value.strip()
        if env:
            data["cloud_env"] = env
        attempts = self.query_one("#new-task-attempts", Input).value.strip()
        if attempts:
            number = int(attempts) if attempts.isdecimal() else 0
            if not 1 <= number <= CLOUD_BEST_OF_MAX:
                self._show_error("attempts", f"must be 1–{CLOUD_BEST_OF_MAX} (got {attempts!r})")
                return False
            data["attempts"] = number
        branch = self.query_one("#new-task-branch", Input).value.strip()
        if branch:
            data["branch"] = branch
        return True

    # ---- errors ---------------------------------------------------------------------------------
    def _field_widgets(self, key: str) -> list[Widget]:
        """The widgets that take the ``-invalid`` class for a form field."""
        if key == FORM_ERROR:
            return []
        if key == "inputs":
            return list(self.path_inputs)
        field = self.query_one(f"#field-{key}")
        return [child for child in field.children if not isinstance(child, Label | Static)]

    def _show_error(self, key: str, message: str, widget: Widget | None = None) -> None:
        error = self.query_one(f"#{key}-error", Static)
        error.update(message)
        error.add_class("-shown")
        targets = [widget] if widget is not None else self._field_widgets(key)[:1]
        for target in targets:
            target.add_class("-invalid")
            target.focus()

    def _show_envelope_error(self, exc: EnvelopeError, rows: list[Input]) -> None:
        key, row = form_field_of(exc.field)
        widget = rows[row] if row is not None and row < len(rows) else None
        message = exc.message if key != FORM_ERROR else f"{exc.field}: {exc.message}"
        self._show_error(key, message, widget)

    def _clear_field(self, key: str) -> None:
        error = self.query_one(f"#{key}-error", Static)
        if error.has_class("-shown"):
            error.update("")
            error.remove_class("-shown")
        for widget in self._field_widgets(key):
            widget.remove_class("-invalid")

    def _clear_errors(self) -> None:
        for error in self.query(".field-error").results(Static):
            error.update("")
            error.remove_class("-shown")
        for widget in self.query(".-invalid"):
            widget.remove_class("-invalid")

    def _key_of(self, widget: Widget) -> str | None:
        for node in widget.ancestors_with_self:
            if isinstance(node, Vertical) and node.has_class("field") and node.id:
                return node.id.removeprefix("field-")
        return None

    def _edited(self, widget: Widget) -> None:
        key = self._key_of(widget)
        if key is not None:
            self._clear_field(key)

    # ---- editing --------------------------------------------------------------------------------
    def on_input_changed(self, event: Input.Changed) -> None:
        self._edited(event.input)
        if event.input.has_class("path-input") and event.value.strip():
            rows = self.path_inputs
            if rows and rows[-1] is event.input and len(rows) < MAX_INPUTS:
                self.query_one("#new-task-inputs", VerticalScroll).mount(self._path_input(len(rows)))

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        self._edited(event.text_area)

    def on_select_changed(self, event: Select.Changed) -> None:
        self._edited(event.select)
        if event.select.id == "new-task-lane":
            self._show_cloud_fields()
