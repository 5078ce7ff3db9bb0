"""What ``codex cloud`` prints, read into models: the task URL of ``exec``, the JSON of ``list --json``,
the three lines of ``status`` and the raw diff of ``diff``.

Everything shown of it is worker-derived text and goes through :func:`cockpit.core.text.clean`
(titles, labels, unknown keys); a diff is kept byte for byte, since it is what gets applied. The shapes
come from Codex's source, so parsing is lenient: unknown keys are kept, a task's ``status`` is an open
set (``pending | ready | applied | error`` today; a new word is kept as written, lower-cased), a list
item that cannot be read is skipped and counted. Only what the cockpit cannot do without (a task id,
the ``[STATE]`` tag, a JSON object) is an error: :class:`CloudOutputError`.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Annotated, Any, Final

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from cockpit.core.codex.cloud.commands import TASK_ID_PATTERN
from cockpit.core.diff_parse import count_patch
from cockpit.core.errors import CodexError
from cockpit.core.text import CleanText, clean, clean_data, cut, strip_control

__all__ = [
    "CLOUD_STATUSES",
    "CloudDiff",
    "CloudDiffSummary",
    "CloudOutputError",
    "CloudStatus",
    "CloudTaskItem",
    "CloudTaskList",
    "CloudTaskRef",
    "parse_diff_output",
    "parse_exec_output",
    "parse_list_output",
    "parse_status_output",
    "task_id_from_url",
]

PENDING: Final = "pending"
READY: Final = "ready"
APPLIED: Final = "applied"
ERROR: Final = "error"
CLOUD_STATUSES: Final[tuple[str, ...]] = (PENDING, READY, APPLIED, ERROR)
"""The task states codex cloud 0.169.0 reports; others may come and are kept."""
MAX_DIFF_PATHS: Final = 50


class CloudOutputError(CodexError, ValueError):
    """``codex cloud`` printed something the cockpit cannot use (no task URL, no ``[STATE]`` line, no
    JSON object)."""


def _excerpt(text: str) -> str:
    return repr(cut(clean(text.strip()), 120)) if text.strip() else "nothing"


# ---------------------------------------------------------------------------------------------- exec


def task_id_from_url(url: str) -> str:
    """The task id of a task URL (or a bare id): its last path segment, ``?query`` and ``#fragment``
    stripped, as codex cloud reads it. Raises :class:`CloudOutputError` unless that is a task id."""
    text = url.strip().split("#", 1)[0].split("?", 1)[0]
    task_id = text.rstrip("/").rsplit("/", 1)[-1]
    if TASK_ID_PATTERN.fullmatch(task_id) is None:
        raise CloudOutputError(f"codex cloud gave no task id in {_excerpt(url)}")
    return task_id


class CloudTaskRef(BaseModel):
    """The task ``exec`` created: its id and URL."""

    model_config = ConfigDict(frozen=True)

    id: str
    url: CleanText


def parse_exec_output(stdout: str) -> CloudTaskRef:
    """The task ``codex cloud exec`` printed: its last ``https://`` line is the task URL, whose last
    path segment is the task id (``https://chatgpt.com/codex/tasks/task_e_…``)."""
    lines = [line.strip() for line in strip_control(stdout).splitlines()]
    urls = [line for line in lines if line.startswith("https://")]
    if not urls:
        raise CloudOutputError(f"codex cloud exec printed no task URL (stdout: {_excerpt(stdout)})")
    url = urls[-1]
    return CloudTaskRef(id=task_id_from_url(url), url=url)


# ----------------------------------------------------------------------------------------- list --json


def _status_word(value: Any) -> Any:
    return clean(value).strip().lower() if isinstance(value, str) else value


StatusWord = Annotated[str, BeforeValidator(_status_word)]


class _HasStatus(BaseModel):
    """A task state read from codex cloud: ``status`` is an open set (see :data:`CLOUD_STATUSES`)."""

    status: StatusWord

    @property
    def is_ready(self) -> bool:
        """Finished with a result to fetch (``status`` exits 0 only for this)."""
        return self.status == READY

    @property
    def is_pending(self) -> bool:
        return self.status == PENDING

    @property
    def is_error(self) -> bool:
        return self.status == ERROR

    @property
    def is_applied(self) -> bool:
        return self.status == APPLIED

    @property
    def is_known(self) -> bool:
        """False for a state this cockpit does not know (a newer codex): poll on, do not decide."""
        return self.status in CLOUD_STATUSES


def _zero_if_null(value: Any) -> Any:
    return {} if value is None else value


class CloudDiffSummary(BaseModel):
    """The diff counts codex cloud reports (all zero: ``no diff``)."""

    files_changed: int = Field(default=0, ge=0)
    lines_added: int = Field(default=0, ge=0)
    lines_removed: int = Field(default=0, ge=0)

    @property
    def empty(self) -> bool:
        return self.files_changed == 0 and self.lines_added == 0 and self.lines_removed == 0


_TIME: Final = TypeAdapter(datetime)


def _time_or_none(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    try:
        return _TIME.validate_python(value)
    except ValidationError:
        return None


def _cursor(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value if isinstance(value, str) and value else None


def _task_id(value: Any) -> Any:
    if isinstance(value, str) and TASK_ID_PATTERN.fullmatch(value) is None:
        raise ValueError("not a task id")
    return value


class CloudTaskItem(_HasStatus):
    """One task of ``list --json``. Unknown keys are kept (cleaned) in ``model_extra``."""

    model_config = ConfigDict(extra="allow")

    id: Annotated[str, BeforeValidator(_task_id)]
    url: CleanText = ""
    title: CleanText = ""
    updated_at: Annotated[datetime | None, BeforeValidator(_time_or_none)] = None
    environment_id: CleanText | None = None  # always null in 0.169.0: use environment_label
    environment_label: CleanText | None = None
    summary: Annotated[CloudDiffSummary, BeforeValidator(_zero_if_null)] = Field(
        default_factory=CloudDiffSummary
    )
    is_review: bool = False
    attempt_total: int | None = None

    @model_validator(mode="before")
    @classmethod
    def _clean_unknown_keys(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        return {key: value if key in cls.model_fields else clean_data(value) for key, value in data.items()}


class CloudTaskList(BaseModel):
    """A page of ``list --json``: its tasks (newest first), the next page's ``cursor`` (``None`` on the
    last page) and how many items could not be read (``skipped``)."""

    model_config = ConfigDict(extra="allow")

    tasks: list[CloudTaskItem] = Field(default_factory=list)
    cursor: Annotated[str | None, BeforeValidator(_cursor)] = None
    skipped: int = 0

    @model_validator(mode="before")
    @classmethod
    def _skip_unreadable(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not isinstance(data.get("tasks"), list):
            return data
        tasks: list[CloudTaskItem] = []
        for item in data["tasks"]:
            try:
                tasks.append(CloudTaskItem.model_validate(item))
            except ValidationError:
                continue
        skipped = len(data["tasks"]) - len(tasks)
        return {
            **clean_data({k: v for k, v in data.items() if k not in ("tasks", "cursor")}),
            "cursor": data.get("cursor"),
            "tasks": tasks,
            "skipped": skipped,
        }


def parse_list_output(stdout: str) -> CloudTaskList:
    """The page ``codex cloud list --json`` printed (``{"tasks": [...], "cursor": ...}``)."""
    try:
        data = json.loads(stdout)
    except ValueError as exc:
        raise CloudOutputError(
            f"codex cloud list --json printed no JSON ({exc}): {_excerpt(stdout)}"
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("tasks"), list):
        raise CloudOutputError(f"codex cloud list --json printed no task list: {_excerpt(stdout)}")
    return CloudTaskList.model_validate(data)


# -------------------------------------------------------------------------------------------- status

_TAG_LINE: Final = re.compile(r"\[(?P<tag>[A-Za-z_]+)\] ?(?P<title>.*)")
_SUMMARY_LINE: Final = re.compile(
    r"\+(?P<added>\d+)\s*/\s*-(?P<removed>\d+)\s*•\s*(?P<files>\d+)\s+files?", re.IGNORECASE
)
_NO_DIFF: Final = "no diff"
_BULLET: Final = "•"


class CloudStatus(_HasStatus):
    """What ``codex cloud status`` printed::

        [READY] add a greeting file
        fake/repo  •  0s ago
        +2/-0 • 1 file

    ``status`` is the tag, lower-cased (``ready``). ``summary`` is all zero for ``no diff`` and
    ``None`` when the line is missing or unreadable; ``environment_label`` and ``age`` likewise.
    """

    title: CleanText = ""
    environment_label: CleanText | None = None
    age: CleanText | None = None
    summary: CloudDiffSummary | None = None


def _meta(line: str) -> tuple[str | None, str | None]:
    """(environment label, age) of ``fake/repo  •  0s ago``; a task without an environment shows only
    its age."""
    label, _, age = line.rpartition(_BULLET)
    return label.strip() or None, age.strip() or None


def _summary(line: str) -> CloudDiffSummary | None:
    if line.strip().lower() == _NO_DIFF:
        return CloudDiffSummary()
    match = _SUMMARY_LINE.fullmatch(line.strip())
    if match is None:
        return None
    return CloudDiffSummary(
        files_changed=int(match["files"]),
        lines_added=int(match["added"]),
        lines_removed=int(match["removed"]),
    )


def parse_status_output(stdout: str) -> CloudStatus:
    """The state ``codex cloud status`` printed. Decide on the tag, not the exit code: PENDING, ERROR
    and APPLIED exit 1 as real errors do, but only real errors print nothing here (their message is
    on stderr: :func:`cockpit.core.policy.cloud_failures.classify_cloud_error`).

    A title with line breaks spans several lines: the first line holds the tag, the last two the
    environment and age, and the diff summary.
    """
    lines = [line.rstrip() for line in strip_control(stdout).splitlines()]
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    match = _TAG_LINE.fullmatch(lines[0].strip()) if lines else None
    if match is None:
        raise CloudOutputError(f"codex cloud status printed no [STATE] line (stdout: {_excerpt(stdout)})")
    label = age = None
    summary = None
    if len(lines) >= 3:
        label, age = _meta(lines[-2])
        summary = _summary(lines[-1])
    return CloudStatus(
        status=match["tag"],
        title=" ".join(part.strip() for part in [match["title"], *lines[1:-2]] if part.strip()),
        environment_label=label,
        age=age,
        summary=summary,
    )


# ---------------------------------------------------------------------------------------------- diff


class CloudDiff(BaseModel):
    """The unified diff ``codex cloud diff`` printed, byte for byte in ``patch``, with its counts
    (count from here, not from ``apply``'s message: that one is unreliable)."""

    patch: str
    files: int = 0
    insertions: int = 0
    deletions: int = 0
    paths: list[CleanText] = Field(default_factory=list)  # at most :data:`MAX_DIFF_PATHS`

    @classmethod
    def of(cls, patch: str) -> CloudDiff:
        counts = count_patch(patch, MAX_DIFF_PATHS)
        return cls(
            patch=patch,
            files=counts.files,
            insertions=counts.added,
            deletions=counts.removed,
            paths=counts.paths,
        )


def parse_diff_output(stdout: str) -> CloudDiff | None:
    """The diff ``codex cloud diff`` printed; ``None`` when it printed nothing but whitespace.

    A task without a diff (still running, failed, or no change) exits 1 with ``No diff available for
    task …; it may still be running.`` on stderr; that is a failed call, classified by
    :func:`cockpit.core.policy.cloud_failures.classify_cloud_error`.
    """
    if not stdout.strip():
        return None
    return CloudDiff.of(stdout)
