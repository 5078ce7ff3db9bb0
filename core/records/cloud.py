"""What a cloud-lane attempt leaves on the board, inside its ``Attempt`` in ``state.json``: the Codex
Cloud task it submitted (id and URL, recorded before anything else happens to it), the remote status as
last polled, and once ready one :class:`CloudResult` per best-of-N attempt, of which one is chosen.

Records only: how the cloud is asked (:mod:`cockpit.core.codex.cloud`) and followed
(:mod:`cockpit.core.supervisor.cloud`) live above.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from pydantic import BaseModel, Field

from cockpit.core.text import CleanText

__all__ = ["CLOUD_STATUSES", "CloudResult", "CloudRun"]

CLOUD_STATUSES: Final = ("submitting", "pending", "ready", "error", "applied")
"""The statuses the cockpit knows: ``submitting`` (its own: ``codex cloud exec`` has not printed the
task yet), then the CLI's. The CLI's are an open set: an unknown one is kept as written and followed as
pending."""


class CloudResult(BaseModel):
    """One of a cloud task's attempts (best-of-N), once the task is ready."""

    n: int  # 1-based, in the CLI's order (``codex cloud diff --attempt N``)
    files: int = 0
    insertions: int = 0
    deletions: int = 0
    paths: list[CleanText] = Field(default_factory=list)
    diff_file: str | None = None  # the attempt's diff, beside the attempt's other files; None: no diff
    chosen: bool = False
    # the files that did not apply the last time this attempt was put on the task's branch
    conflicts: list[CleanText] = Field(default_factory=list)


class CloudRun(BaseModel):
    """A cloud-lane attempt: one Codex Cloud task."""

    env: CleanText  # the environment id or label given to ``codex cloud exec --env``
    best_of: int = 1  # ``--attempts``
    branch: CleanText | None = None  # ``--branch``; None: the CLI's default
    task_id: CleanText | None = None  # set the moment ``exec`` printed the task's URL
    url: CleanText | None = None
    status: CleanText = "submitting"
    status_at: datetime | None = None  # when the status last changed
    polled_at: datetime | None = None
    polls: int = 0
    poll_errors: int = 0  # consecutive failed polls
    last_error: CleanText | None = None
    remote_error: CleanText | None = None  # the task's own error message (status ``error``)
    adopted: bool = False  # found by its title after a submission whose output was lost
    overdue: bool = False  # pending past the deadline: surfaced to the user
    results: list[CloudResult] = Field(default_factory=list)

    @property
    def submitted(self) -> bool:
        return self.task_id is not None

    @property
    def chosen(self) -> CloudResult | None:
        return next((r for r in self.results if r.chosen), None)

    @property
    def note(self) -> str:
        """The run in a few words, for a card: the remote status and how far following it got
        (``pending · 4 polls``, ``pending, overdue · 31 polls``, ``ready · best of 2, #2 chosen``)."""
        word = f"{self.status}, overdue" if self.overdue else self.status
        if self.results:
            chosen = self.chosen
            if len(self.results) > 1:
                which = f"#{chosen.n} chosen" if chosen is not None else "none chosen"
                return f"{word} · best of {len(self.results)}, {which}"
            return word
        if self.poll_errors:
            return f"{word} · polling failed ×{self.poll_errors}"
        if self.polls:
            return f"{word} · {self.polls} poll{'' if self.polls == 1 else 's'}"
        return word
