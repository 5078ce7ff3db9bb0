"""The dead-letter queue under ``dead-letters/``: one JSON file per task whose last allowed attempt failed,
the rules for retrying it automatically, and the move to ``archive/`` after 7 days (playbook §8).

A letter is retried automatically only when its error is transient, its ``retry_after`` has passed, its
provider's breaker is CLOSED and its priority cadence allows another sweep (high 15 min, medium hourly,
low daily). Everything else waits for a human (``cockpit retry``). Times are unix seconds from the
injected clock.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cockpit.core.atomic import atomic_write_json
from cockpit.core.layout import ARCHIVE_DIR
from cockpit.core.policy.breaker import BreakerState, OnCorrupt, set_aside
from cockpit.core.records.attempt import ErrorType


class Priority(StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


CADENCE_S: Mapping[Priority, float] = {
    Priority.HIGH: 15 * 60.0,
    Priority.MEDIUM: 60 * 60.0,
    Priority.LOW: 24 * 60 * 60.0,
}
"""The shortest gap between two automatic retries of one letter, by priority."""
ARCHIVE_AFTER_S = 7 * 24 * 60 * 60.0
_PRIORITY_RANK = {Priority.HIGH: 0, Priority.MEDIUM: 1, Priority.LOW: 2}
_TASK_ID_RE = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"


class DeadLetter(BaseModel):
    model_config = ConfigDict(extra="allow")

    task_id: str = Field(pattern=_TASK_ID_RE)
    original_task: dict[str, Any]
    """The task envelope as a dict, enough to dispatch it again."""
    error: str
    error_type: ErrorType
    attempts: int = Field(ge=0)
    first_attempt: float
    last_attempt: float
    context_summary: str = ""
    retry_after: float | None = None
    """Unix seconds before which no automatic retry happens; None = never automatically."""
    priority: Priority = Priority.MEDIUM
    related_circuit_breaker: str | None = None
    """The provider whose breaker must be CLOSED for a retry; None behaves as a CLOSED breaker."""
    created_at: float | None = None
    """Set by :meth:`DeadLetterQueue.add` when missing; the 7-day archive clock runs from here."""
    last_swept_at: float | None = None
    sweep_attempts: int = Field(default=0, ge=0)


def default_retry_after(error_type: ErrorType | str, priority: Priority | str, now: float) -> float | None:
    """When a fresh (or just re-failed) letter may next be retried automatically.

    Transient errors: one priority cadence from ``now``. Auth, logic, state and catastrophic errors need a
    human (credentials, a better brief, a rollback, the budget), so never automatically: None.
    """
    if ErrorType(error_type) is not ErrorType.TRANSIENT:
        return None
    return now + CADENCE_S[Priority(priority)]


class DeadLetterQueue:
    """``directory/<task_id>.json`` plus ``directory/archive/``. Re-adding a task replaces its letter."""

    def __init__(
        self, directory: Path, clock: Callable[[], float], on_corrupt: OnCorrupt | None = None
    ) -> None:
        self.directory = directory
        self._clock = clock
        self._on_corrupt: OnCorrupt = on_corrupt or set_aside

    @property
    def archive_dir(self) -> Path:
        return self.directory / ARCHIVE_DIR

    def path_for(self, task_id: str) -> Path:
        if not re.match(_TASK_ID_RE, task_id):
            raise ValueError(f"not a valid task id for a dead letter: {task_id!r}")
        return self.directory / f"{task_id}.json"

    # ---- storage ------------------------------------------------------------------------------
    def add(self, letter: DeadLetter) -> DeadLetter:
        stored = letter.model_copy(deep=True)
        if stored.created_at is None:
            stored.created_at = self._clock()
        self._write(stored)
        return stored

    def get(self, task_id: str, include_archived: bool = False) -> DeadLetter | None:
        letter = self._load(self.path_for(task_id), expect_id=task_id)
        if letter is None and include_archived:
            archived = [a for a in self._scan(self.archive_dir) if a.task_id == task_id]
            if archived:
                return max(archived, key=_born)
        return letter

    def list(self, include_archived: bool = False) -> list[DeadLetter]:
        """Active letters (then archived ones if asked), oldest first."""
        active = sorted(self._scan(self.directory, check_names=True), key=lambda a: (_born(a), a.task_id))
        return active + self.archived() if include_archived else active

    def archived(self) -> list[DeadLetter]:
        """The letters moved to ``archive/``, oldest first (a task archived twice appears twice)."""
        return sorted(self._scan(self.archive_dir), key=lambda a: (_born(a), a.task_id))

    def remove(self, task_id: str) -> bool:
        """The retry succeeded: delete the letter. False if there was none."""
        path = self.path_for(task_id)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        return True

    def bump(
        self, task_id: str, error: str | None = None, error_type: ErrorType | str | None = None
    ) -> DeadLetter:
        """The retry failed: one more attempt, and the next ``retry_after`` by priority cadence."""
        letter = self._require(task_id)
        now = self._clock()
        letter.attempts += 1
        letter.last_attempt = now
        if error is not None:
            letter.error = error
        if error_type is not None:
            letter.error_type = ErrorType(error_type)
        letter.retry_after = default_retry_after(letter.error_type, letter.priority, now)
        self._write(letter)
        return letter

    def mark_swept(self, task_id: str) -> DeadLetter:
        """A sweep picked this letter for a retry; the cadence runs from now."""
        letter = self._require(task_id)
        letter.last_swept_at = self._clock()
        letter.sweep_attempts += 1
        self._write(letter)
        return letter

    # ---- sweeps -------------------------------------------------------------------------------
    def hold_reason(self, letter: DeadLetter, breaker_states: Mapping[str, BreakerState]) -> str | None:
        """Why ``letter`` is not due now, or None if it is. A provider missing from ``breaker_states`` has
        no breaker file, so it has never tripped: it counts as CLOSED."""
        now = self._clock()
        reason = _retry_block(letter, now)
        if reason:
            return reason
        provider = letter.related_circuit_breaker
        if provider is not None:
            state = BreakerState(breaker_states.get(provider, BreakerState.CLOSED))
            if state is not BreakerState.CLOSED:
                return f"breaker {provider} is {state.value}"
        if letter.last_swept_at is not None:
            next_sweep = letter.last_swept_at + CADENCE_S[letter.priority]
            if now < next_sweep:
                return f"{letter.priority.value} priority: next sweep in {next_sweep - now:.0f} s"
        return None

    def due(self, breaker_states: Mapping[str, BreakerState]) -> list[DeadLetter]:
        """The letters to retry now, high priority first."""
        letters = [a for a in self.list() if self.hold_reason(a, breaker_states) is None]
        return sorted(letters, key=_sweep_order)

    def on_breaker_closed(self, provider: str) -> list[DeadLetter]:
        """The sweep on OPEN→CLOSED: the provider's transient letters past ``retry_after``, cadence aside."""
        now = self._clock()
        letters = [
            a for a in self.list() if a.related_circuit_breaker == provider and _retry_block(a, now) is None
        ]
        return sorted(letters, key=_sweep_order)

    def archive_old(self) -> list[str]:
        """Move letters at least 7 days old (by ``created_at``) to ``archive/``; returns their task ids."""
        now = self._clock()
        moved: list[str] = []
        for letter in self.list():
            if now - _born(letter) < ARCHIVE_AFTER_S:
                continue
            self.archive_dir.mkdir(parents=True, exist_ok=True)
            target = self.archive_dir / f"{letter.task_id}.json"
            n = 1
            while target.exists():  # archived before: keep both
                target = self.archive_dir / f"{letter.task_id}--{n}.json"
                n += 1
            os.replace(self.path_for(letter.task_id), target)
            moved.append(letter.task_id)
        return moved

    # ---- helpers ------------------------------------------------------------------------------
    def _require(self, task_id: str) -> DeadLetter:
        letter = self.get(task_id)
        if letter is None:
            raise KeyError(f"no dead letter for task {task_id}")
        return letter

    def _write(self, letter: DeadLetter) -> None:
        atomic_write_json(self.path_for(letter.task_id), letter.model_dump(mode="json"))

    def _scan(self, directory: Path, check_names: bool = False) -> list[DeadLetter]:
        if not directory.is_dir():
            return []
        out = []
        for path in sorted(directory.glob("*.json")):
            letter = self._load(path, expect_id=path.stem if check_names else None)
            if letter is not None:
                out.append(letter)
        return out

    def _load(self, path: Path, expect_id: str | None = None) -> DeadLetter | None:
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            letter = DeadLetter.model_validate(json.loads(raw))
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"]) or "letter"
            self._on_corrupt(path, f"dead letter does not validate: {where}: {err['msg']}")
            return None
        except (ValueError, UnicodeDecodeError) as exc:
            self._on_corrupt(path, f"dead letter is not valid JSON: {exc}")
            return None
        if expect_id is not None and letter.task_id != expect_id:
            self._on_corrupt(path, f"file holds task {letter.task_id!r}, expected {expect_id!r}")
            return None
        return letter


def _retry_block(letter: DeadLetter, now: float) -> str | None:
    """The conditions every automatic retry needs, whichever sweep asks: transient, past retry_after."""
    if letter.error_type is not ErrorType.TRANSIENT:
        return f"{letter.error_type.value} errors need a human (cockpit retry)"
    if letter.retry_after is None:
        return "no automatic retry scheduled"
    if now < letter.retry_after:
        return f"retry_after not reached ({letter.retry_after - now:.0f} s to go)"
    return None


def _born(letter: DeadLetter) -> float:
    return letter.created_at if letter.created_at is not None else letter.first_attempt


def _sweep_order(letter: DeadLetter) -> tuple[int, float, str]:
    return (_PRIORITY_RANK[letter.priority], letter.retry_after or 0.0, letter.task_id)
