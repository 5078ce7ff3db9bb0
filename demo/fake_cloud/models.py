"""The fake cloud's boundary models: environments and the control API's request bodies (pydantic).

Everything a test sends to ``/__fake/...`` is validated here before the store sees it; a body that does
not fit is answered 400 with pydantic's message. The task API's own request bodies (what ``codex cloud``
sends) are read leniently in :mod:`cockpit.demo.fake_cloud.api`, as a real backend would.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

TurnStatus = Literal["pending", "in_progress", "completed", "failed", "cancelled"]
MAX_ATTEMPTS = 4
TASK_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Environment(_Model):
    """A cloud environment as the environments endpoints list it; ``repo`` (``owner/name``) is what the
    by-repo lookup matches besides the label, and is not sent to clients."""

    id: str = Field(min_length=1)
    label: str | None = None
    is_pinned: bool = False
    repo: str | None = None


DEFAULT_ENVIRONMENTS: tuple[Environment, ...] = (
    Environment(id="env_fake_main", label="fake/repo", is_pinned=True, repo="fake/repo"),
    Environment(id="env_fake_other", label="fake/other", is_pinned=False, repo="fake/other"),
)


class TaskError(_Model):
    """The ``error`` object of a failed assistant turn."""

    code: str = "fake_failure"
    message: str = "The fake cloud failed this task on request."


def _diffs(value: Any) -> Any:
    """One diff stands for every attempt; a list gives one per attempt ("" = that attempt has none)."""
    return [value] if isinstance(value, str) else value


class SeedTask(_Model):
    """``POST /__fake/tasks``: a task made directly, without ``codex cloud exec``.

    Unset fields follow the same rules as a task created through the API: the prompt's markers decide
    the lifecycle, the title is derived from the prompt, the id is generated. ``status`` pins the turn
    status (no lifecycle); ``error`` without ``status`` makes the task fail after its delay. ``diff`` is
    one diff for every attempt or a list with one per attempt (its length is the attempt count when
    ``attempts`` is not given)."""

    prompt: str = "seeded task"
    title: str | None = None
    diff: list[str] | None = None
    attempts: int | None = Field(default=None, ge=1, le=MAX_ATTEMPTS)
    status: TurnStatus | None = None
    error: TaskError | None = None
    messages: list[str] | None = None
    environment_id: str = "env_fake_main"
    task_id: str | None = None
    branch: str = "main"
    delay: float | None = Field(default=None, ge=0)

    _split_diff = field_validator("diff", mode="before")(_diffs)

    @field_validator("task_id")
    @classmethod
    def _task_id_shape(cls, value: str | None) -> str | None:
        if value is not None and not TASK_ID_PATTERN.match(value):
            raise ValueError("task_id must be 1-128 characters of letters, digits, '_' or '-'")
        return value

    @model_validator(mode="after")
    def _attempts_match_diffs(self) -> SeedTask:
        if self.diff is not None and len(self.diff) > 1 and self.attempts not in (None, len(self.diff)):
            raise ValueError(f"{len(self.diff)} diffs given for {self.attempts} attempt(s)")
        if self.diff is not None and len(self.diff) > MAX_ATTEMPTS:
            raise ValueError(f"at most {MAX_ATTEMPTS} diffs")
        return self


class TaskPatch(_Model):
    """``POST /__fake/tasks/{id}``: change a task. ``status`` pins the turn status from now on (this is
    how a ``[fake:pending]`` task is released); ``error`` without ``status`` also sets ``failed``."""

    status: TurnStatus | None = None
    diff: list[str] | None = None
    error: TaskError | None = None
    messages: list[str] | None = None
    title: str | None = None

    _split_diff = field_validator("diff", mode="before")(_diffs)


class Fault(_Model):
    """``POST /__fake/faults``: the next ``count`` requests (of ``method``, when given) whose path contains
    ``path_contains`` are answered ``status`` with ``body`` instead of being served. A dict or list body
    is sent as JSON; a string is sent as is with ``content_type``."""

    path_contains: str = ""
    status: int = Field(default=500, ge=100, le=599)
    body: Any = None
    count: int = Field(default=1, ge=1)
    method: str | None = None
    content_type: str = "application/json"

    @field_validator("method")
    @classmethod
    def _upper(cls, value: str | None) -> str | None:
        return value.upper() if value else None


class EnvironmentList(_Model):
    """``POST /__fake/environments``: the new list (a bare JSON array is accepted too)."""

    environments: list[Environment]
