"""The fake cloud's state: environments, tasks and their lifecycle, queued faults (thread-safe).

A task's turn status is computed from the clock, never from a background timer, so the lifecycle is
deterministic: a new task is ``in_progress`` for its delay (the store's default, or ``[fake:delay=N]`` in
the prompt), then ``completed`` with one diff per attempt, each adding ``cloud_task_<id8>.txt``
(attempt 1) or ``cloud_task_<id8>_attempt<N>.txt``. Prompt markers select variants:

- ``[fake:fail]``: ``failed`` after the delay, with ``error{code,message}`` on every attempt;
- ``[fake:pending]``: ``pending`` until the control API sets a status;
- ``[fake:delay=N]``: ``in_progress`` for N seconds (N may be fractional);
- ``[fake:nodiff]``: ``completed`` with messages but no diff.

A status set through the control API (or given when seeding) pins the task: no lifecycle from then on.
The JSON shapes built here are the task API's (list items, details, sibling turns).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .models import (
    DEFAULT_ENVIRONMENTS,
    MAX_ATTEMPTS,
    Environment,
    Fault,
    SeedTask,
    TaskError,
    TaskPatch,
    TurnStatus,
)

TASK_URL_PREFIX = "https://chatgpt.com/codex/tasks/"
PAGE_LIMIT = 20
TITLE_LIMIT = 100
UNTITLED = "Untitled task"
FAIL_ERROR = TaskError(code="fake_failure", message="The fake cloud failed this task as the prompt asked.")
_MARKER = re.compile(r"\[fake:(fail|pending|nodiff|delay=(\d+(?:\.\d+)?))\]")


class StoreError(Exception):
    """A request the store refuses; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


@dataclass(frozen=True)
class Markers:
    """The ``[fake:...]`` markers of a prompt."""

    fail: bool = False
    pending: bool = False
    nodiff: bool = False
    delay: float | None = None


def parse_markers(prompt: str) -> Markers:
    fail = pending = nodiff = False
    delay: float | None = None
    for match in _MARKER.finditer(prompt):
        word = match.group(1)
        if word == "fail":
            fail = True
        elif word == "pending":
            pending = True
        elif word == "nodiff":
            nodiff = True
        else:
            delay = float(match.group(2))
    return Markers(fail=fail, pending=pending, nodiff=nodiff, delay=delay)


def title_from_prompt(prompt: str) -> str:
    """The first non-blank line, whitespace collapsed, cut to 100 characters; markers stay in."""
    for line in prompt.splitlines():
        text = " ".join(line.split())
        if text:
            return text[:TITLE_LIMIT]
    return UNTITLED


def id8(task_id: str) -> str:
    """The short id used in generated file names: the first 8 characters after ``task_e_``/``task_``."""
    core = task_id.removeprefix("task_e_").removeprefix("task_")
    return (core or task_id)[:8]


def attempt_file(task_id: str, attempt: int) -> str:
    suffix = "" if attempt == 1 else f"_attempt{attempt}"
    return f"cloud_task_{id8(task_id)}{suffix}.txt"


def _blob_id(content: str) -> str:
    data = content.encode()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()[:7]


def new_file_diff(path: str, content: str) -> str:
    """A git diff that adds ``path`` with ``content`` (a file already in the repository with other
    content makes ``codex cloud apply`` stop with an ``AA`` conflict)."""
    lines = content.splitlines()
    body = "".join(f"+{line}\n" for line in lines)
    return (
        f"diff --git a/{path} b/{path}\n"
        "new file mode 100644\n"
        f"index 0000000..{_blob_id(content)}\n"
        "--- /dev/null\n"
        f"+++ b/{path}\n"
        f"@@ -0,0 +1,{len(lines)} @@\n"
        f"{body}"
    )


def generated_diff(task_id: str, attempt: int, attempts: int) -> str:
    """The diff of a generated attempt: one new two-line file, ``attempt_file(task_id, attempt)``."""
    return new_file_diff(
        attempt_file(task_id, attempt), f"fake cloud task {task_id}\nattempt {attempt} of {attempts}\n"
    )


def diff_stats(diff: str) -> dict[str, int]:
    """``files_modified``, ``lines_added``, ``lines_removed`` of a unified diff."""
    files = added = removed = 0
    in_hunk = False
    for line in diff.splitlines():
        if line.startswith("diff --git "):
            files += 1
            in_hunk = False
        elif line.startswith("@@"):
            in_hunk = True
        elif in_hunk and line.startswith("+"):
            added += 1
        elif in_hunk and line.startswith("-"):
            removed += 1
    if files == 0 and (added or removed):
        files = 1  # a diff without git headers
    return {"files_modified": files, "lines_added": added, "lines_removed": removed}


def _message_item(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "assistant", "content": [{"content_type": "text", "text": text}]}


def user_input_items(prompt: str) -> list[dict[str, Any]]:
    return [{"type": "message", "role": "user", "content": [{"content_type": "text", "text": prompt}]}]


@dataclass
class Task:
    """One task. ``diffs`` (one per attempt, "" for none) replaces the generated diffs when set."""

    id: str
    seq: int
    prompt: str
    title: str
    environment_id: str
    environment_label: str | None
    branch: str
    attempts: int
    created_at: float
    delay: float
    markers: Markers
    input_items: list[dict[str, Any]]
    diffs: list[str] | None = None
    error: TaskError | None = None
    messages: list[str] | None = None
    pinned_status: TurnStatus | None = None
    changed_at: float | None = None
    starting_diff: str | None = None

    @property
    def url(self) -> str:
        return TASK_URL_PREFIX + self.id

    def status(self, now: float) -> TurnStatus:
        if self.pinned_status is not None:
            return self.pinned_status
        if self.markers.pending:
            return "pending"
        if now < self.created_at + self.delay:
            return "in_progress"
        if self.markers.fail or self.error is not None:
            return "failed"
        return "completed"

    def updated_at(self, now: float) -> float:
        if self.changed_at is not None:
            return self.changed_at
        if self.status(now) in ("completed", "failed", "cancelled"):
            return self.created_at + self.delay
        return self.created_at

    def turn_id(self, attempt: int) -> str:
        return f"turn_{id8(self.id)}_{self.seq}_a{attempt}"

    @property
    def user_turn_id(self) -> str:
        return f"turn_{id8(self.id)}_{self.seq}_user"

    def diff(self, attempt: int) -> str:
        """The attempt's diff once completed ("" when it has none)."""
        if self.markers.nodiff:
            return ""
        if self.diffs is not None:
            return self.diffs[min(attempt, len(self.diffs)) - 1] if self.diffs else ""
        return generated_diff(self.id, attempt, self.attempts)

    def _messages(self, attempt: int) -> list[str]:
        if self.messages is not None:
            return list(self.messages)
        return [f"Fake cloud attempt {attempt} of {self.attempts} for: {self.title}"]

    def assistant_turn(self, attempt: int, now: float) -> dict[str, Any]:
        """The assistant turn of one attempt (1-based), as details and sibling_turns carry it."""
        status = self.status(now)
        ids = [self.turn_id(k) for k in range(1, self.attempts + 1)]
        turn: dict[str, Any] = {
            "id": ids[attempt - 1],
            "attempt_placement": attempt - 1,
            "created_at": self.created_at + attempt * 0.001,
            "turn_status": status,
            "sibling_turn_ids": [t for t in ids if t != ids[attempt - 1]],
            "output_items": [],
        }
        if status == "completed":
            items = [_message_item(text) for text in self._messages(attempt)]
            diff = self.diff(attempt)
            if diff:
                items.append({"type": "pr", "pr_title": self.title, "output_diff": {"diff": diff}})
            turn["output_items"] = items
        elif status == "failed":
            turn["error"] = (self.error or FAIL_ERROR).model_dump()
        return turn

    def status_display(self, now: float) -> dict[str, Any]:
        status = self.status(now)
        stats = (
            diff_stats(self.diff(1))
            if status == "completed"
            else {"files_modified": 0, "lines_added": 0, "lines_removed": 0}
        )
        return {
            "state": status,
            "environment_label": self.environment_label,
            "branch": self.branch,
            "latest_turn_status_display": {
                "turn_id": self.turn_id(1),
                "turn_status": status,
                "diff_stats": stats,
                "sibling_turn_ids": [self.turn_id(k) for k in range(2, self.attempts + 1)],
            },
        }

    def list_item(self, now: float) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "has_generated_title": False,
            "created_at": self.created_at,
            "updated_at": self.updated_at(now),
            "archived": False,
            "has_unread_turn": False,
            "pull_requests": [],
            "task_status_display": self.status_display(now),
        }

    def details(self, now: float) -> dict[str, Any]:
        display = self.status_display(now)
        out: dict[str, Any] = {
            "task": {
                "id": self.id,
                "title": self.title,
                "archived": False,
                "has_unread_turn": False,
                "external_pull_requests": [],
                "environment_id": self.environment_id,
                "created_at": self.created_at,
                "updated_at": self.updated_at(now),
                "task_status_display": display,
            },
            "current_user_turn": {
                "id": self.user_turn_id,
                "role": "user",
                "created_at": self.created_at,
                "input_items": self.input_items,
            },
            "current_assistant_turn": self.assistant_turn(1, now),
        }
        diff = self.diff(1)
        if self.status(now) == "completed" and diff:
            out["current_diff_task_turn"] = {
                "id": self.turn_id(1),
                "output_items": [{"type": "output_diff", "diff": diff}],
            }
        return out

    def state(self, now: float) -> dict[str, Any]:
        """The control API's view: everything a test may want to check."""
        return {
            "id": self.id,
            "url": self.url,
            "title": self.title,
            "prompt": self.prompt,
            "status": self.status(now),
            "environment_id": self.environment_id,
            "environment_label": self.environment_label,
            "branch": self.branch,
            "attempts": self.attempts,
            "created_at": self.created_at,
            "updated_at": self.updated_at(now),
            "delay": self.delay,
            "diffs": [self.diff(k) for k in range(1, self.attempts + 1)],
            "error": self.error.model_dump() if self.error else None,
            "starting_diff": self.starting_diff,
        }


class Store:
    """Environments, tasks and faults behind one lock. ``clock`` is injectable for tests."""

    def __init__(self, *, delay: float = 0.0, clock: Callable[[], float] = time.time) -> None:
        self.default_delay = delay
        self._clock = clock
        self._lock = threading.Lock()
        self._tasks: dict[str, Task] = {}
        self._seq = 0
        self._environments: list[Environment] = list(DEFAULT_ENVIRONMENTS)
        self._faults: list[Fault] = []

    # -- environments ------------------------------------------------------------------------------

    def _environment_view(self, env: Environment) -> dict[str, Any]:
        count = sum(1 for t in self._tasks.values() if t.environment_id == env.id)
        return {"id": env.id, "label": env.label, "is_pinned": env.is_pinned, "task_count": count}

    def environments(self) -> list[dict[str, Any]]:
        with self._lock:
            return [self._environment_view(e) for e in self._environments]

    def environments_for_repo(self, owner: str, repo: str) -> list[dict[str, Any]]:
        """Environments whose repo or label is ``owner/repo`` (case-insensitive)."""
        wanted = f"{owner}/{repo}".lower()
        with self._lock:
            return [
                self._environment_view(e)
                for e in self._environments
                if wanted in {(e.repo or "").lower(), (e.label or "").lower()}
            ]

    def set_environments(self, environments: list[Environment]) -> None:
        with self._lock:
            self._environments = list(environments)

    # -- tasks -------------------------------------------------------------------------------------

    def _new_id(self) -> str:
        while True:
            task_id = "task_e_" + secrets.token_hex(16)
            if task_id not in self._tasks:
                return task_id

    def _label(self, environment_id: str) -> str | None:
        for env in self._environments:
            if env.id == environment_id:
                return env.label
        raise StoreError(400, f"unknown environment_id {environment_id!r}")

    def _add(
        self,
        *,
        prompt: str,
        environment_id: str,
        branch: str,
        attempts: int,
        task_id: str | None = None,
        title: str | None = None,
        input_items: list[dict[str, Any]] | None = None,
        delay: float | None = None,
    ) -> Task:
        label = self._label(environment_id)
        if task_id is not None and task_id in self._tasks:
            raise StoreError(409, f"task {task_id} already exists")
        markers = parse_markers(prompt)
        if delay is None:
            delay = markers.delay if markers.delay is not None else self.default_delay
        self._seq += 1
        task = Task(
            id=task_id or self._new_id(),
            seq=self._seq,
            prompt=prompt,
            title=title or title_from_prompt(prompt),
            environment_id=environment_id,
            environment_label=label,
            branch=branch,
            attempts=max(1, min(MAX_ATTEMPTS, attempts)),
            created_at=self._clock(),
            delay=delay,
            markers=markers,
            input_items=input_items if input_items is not None else user_input_items(prompt),
        )
        self._tasks[task.id] = task
        return task

    def create(
        self,
        *,
        prompt: str,
        environment_id: str,
        branch: str = "main",
        attempts: int = 1,
        input_items: list[dict[str, Any]] | None = None,
        starting_diff: str | None = None,
    ) -> dict[str, Any]:
        """A task made by ``POST /wham/tasks``; returns its control-API view."""
        with self._lock:
            task = self._add(
                prompt=prompt,
                environment_id=environment_id,
                branch=branch,
                attempts=attempts,
                input_items=input_items,
            )
            task.starting_diff = starting_diff
            return task.state(self._clock())

    def seed(self, spec: SeedTask) -> dict[str, Any]:
        """A task made by the control API; returns its control-API view."""
        attempts = spec.attempts or (len(spec.diff) if spec.diff else 1)
        with self._lock:
            task = self._add(
                prompt=spec.prompt,
                environment_id=spec.environment_id,
                branch=spec.branch,
                attempts=attempts,
                task_id=spec.task_id,
                title=spec.title,
                delay=spec.delay,
            )
            task.diffs = spec.diff
            task.error = spec.error
            task.messages = spec.messages
            task.pinned_status = spec.status
            return task.state(self._clock())

    def update(self, task_id: str, patch: TaskPatch) -> dict[str, Any]:
        with self._lock:
            task = self._get(task_id)
            now = self._clock()
            if patch.diff is not None:
                task.diffs = patch.diff
            if patch.messages is not None:
                task.messages = patch.messages
            if patch.title is not None:
                task.title = patch.title
            if patch.error is not None:
                task.error = patch.error
            status = patch.status or ("failed" if patch.error is not None else None)
            if status is not None:
                task.pinned_status = status
            task.changed_at = now
            return task.state(now)

    def _get(self, task_id: str) -> Task:
        task = self._tasks.get(task_id)
        if task is None:
            raise StoreError(404, f"task {task_id} not found")
        return task

    def task_state(self, task_id: str) -> dict[str, Any]:
        with self._lock:
            return self._get(task_id).state(self._clock())

    def details(self, task_id: str) -> dict[str, Any]:
        with self._lock:
            return self._get(task_id).details(self._clock())

    def sibling_turns(self, task_id: str, turn_id: str) -> dict[str, Any]:
        """Every attempt's turn except ``turn_id``'s, in attempt order."""
        with self._lock:
            task = self._get(task_id)
            now = self._clock()
            turns = [task.assistant_turn(k, now) for k in range(1, task.attempts + 1)]
            if turn_id not in {t["id"] for t in turns}:
                raise StoreError(404, f"turn {turn_id} not found in task {task_id}")
            return {"sibling_turns": [t for t in turns if t["id"] != turn_id]}

    def list_tasks(
        self, *, limit: int = PAGE_LIMIT, cursor: str | None = None, environment_id: str | None = None
    ) -> dict[str, Any]:
        """Newest first, at most ``limit`` (1-20) per page; the cursor is the next page's offset."""
        try:
            offset = int(cursor) if cursor else 0
        except ValueError:
            raise StoreError(400, f"bad cursor {cursor!r}") from None
        if offset < 0:
            raise StoreError(400, f"bad cursor {cursor!r}")
        limit = max(1, min(PAGE_LIMIT, limit))
        with self._lock:
            now = self._clock()
            tasks = sorted(self._tasks.values(), key=lambda t: (t.created_at, t.seq), reverse=True)
            if environment_id:
                tasks = [t for t in tasks if t.environment_id == environment_id]
            page = tasks[offset : offset + limit]
            more = offset + limit < len(tasks)
            return {
                "items": [t.list_item(now) for t in page],
                "cursor": str(offset + limit) if more else None,
            }

    # -- faults ------------------------------------------------------------------------------------

    def add_faults(self, faults: list[Fault]) -> None:
        with self._lock:
            self._faults.extend(faults)

    def take_fault(self, method: str, path: str) -> Fault | None:
        """The first queued fault matching the request, its count used up by one."""
        with self._lock:
            for index, fault in enumerate(self._faults):
                if fault.path_contains in path and fault.method in (None, method.upper()):
                    if fault.count <= 1:
                        del self._faults[index]
                    else:
                        self._faults[index] = fault.model_copy(update={"count": fault.count - 1})
                    return fault
            return None

    # -- control -----------------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        with self._lock:
            now = self._clock()
            tasks = sorted(self._tasks.values(), key=lambda t: t.seq)
            return {
                "default_delay": self.default_delay,
                "environments": [e.model_dump() for e in self._environments],
                "tasks": [t.state(now) for t in tasks],
                "faults": [f.model_dump() for f in self._faults],
            }

    def reset(self) -> None:
        with self._lock:
            self._tasks.clear()
            self._faults.clear()
            self._environments = list(DEFAULT_ENVIRONMENTS)
