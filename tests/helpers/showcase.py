"""A fixed, fully deterministic board for layout snapshots: every lane populated, a running attempt
with a real recorded Codex log, a diff in review on a real git branch, a pending decision card and a
credit window read from a rollout file and Claude's from the board's ``claude-limits.json`` — all at
frozen times, so a snapshot changes only when the
layout does."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cockpit.core.records.task as state_module
from cockpit.core.board.blackboard import Blackboard
from cockpit.core.board.decisions import DecisionCard, DecisionOption, DecisionStore
from cockpit.core.claude.stream import RateLimitInfo
from cockpit.core.layout import CLAUDE_LIMITS_FILE
from cockpit.core.records.attempt import Attempt
from cockpit.core.records.basics import Signals, TaskStatus, Usage
from cockpit.core.records.cloud import CloudRun
from cockpit.core.records.review import Evidence
from cockpit.core.records.task import TaskState
from cockpit.core.usage.claude_limits import ClaudeLimitsStore
from cockpit.demo.repo import make_demo_repo
from tests.helpers.cloud_review import make_cloud_review_task
from tests.helpers.review import add_review, challenge, make_review_task, ran

FROZEN = datetime(2026, 11, 24, 12, 0, 0, tzinfo=UTC)
RECORDED_LOG = Path(__file__).resolve().parent.parent / "fixtures" / "codex" / "recorded-mixed.jsonl"
REVIEW = "add-a-subtract-function-0b0d"
RUNNING = "words-file-7c21"
WAITING = "summarise-the-changelog-3217"


def frozen_clock() -> float:
    return FROZEN.timestamp()


def _at(minutes: float) -> datetime:
    return FROZEN + timedelta(minutes=minutes)


def _rollout(home: Path) -> None:
    limits = {
        "limit_id": "codex",
        "primary": {"used_percent": 42.0, "window_minutes": 300, "resets_at": int(_at(135).timestamp())},
        "secondary": {"used_percent": 12.5, "window_minutes": 10080, "resets_at": int(_at(4000).timestamp())},
    }
    line = {
        "timestamp": _at(-1).isoformat(),
        "type": "event_msg",
        "payload": {"type": "token_count", "info": None, "rate_limits": limits},
    }
    path = home / "sessions" / "2026" / "11" / "24" / "rollout-2026-11-24T11-59-00-showcase.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(line) + "\n")


def _claude_limits(board: Blackboard) -> None:
    """The reviewer's latest rate-limit line: its five-hour window at 71 %, as a stream would give it."""
    info = RateLimitInfo.model_validate(
        {
            "status": "allowed_warning",
            "rateLimitType": "five_hour",
            "utilization": 0.71,
            "resetsAt": _at(200).timestamp(),
        }
    )
    ClaudeLimitsStore(board.root / CLAUDE_LIMITS_FILE).record([info], _at(-2).timestamp(), "showcase")


def build_showcase(root: Path) -> tuple[Path, dict[str, str]]:
    """Create ``root/repo`` and ``root/codex-home``; returns the repo and the env naming the home."""
    date = FROZEN.strftime("%Y-%m-%dT%H:%M:%S")  # a format both git and GitPython read
    saved = {k: os.environ.get(k) for k in ("GIT_AUTHOR_DATE", "GIT_COMMITTER_DATE")}
    os.environ.update(GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)  # the same commits every run
    try:
        repo = root / "repo"
        make_demo_repo(repo)
        board = Blackboard(repo)
        board.init()
        _tasks(board)
        _claude_limits(board)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    home = root / "codex-home"
    _rollout(home)
    return repo, {"CODEX_HOME": str(home)}


def _attempt(n: int, start: float, end: float | None, ok: bool, **extra: object) -> Attempt:
    signals = Signals(exit_code=0, turn_completed=True, last_message=True) if ok else Signals()
    return Attempt(
        n=n,
        started_at=_at(start),
        ended_at=_at(end) if end is not None else None,
        deadline_s=1800,
        signals=signals,
        **extra,  # type: ignore[arg-type]
    )


def _tasks(board: Blackboard) -> None:
    notes = TaskState(
        id="write-notes-md-890d",
        lane="local",
        title="Write NOTES.md",
        status=TaskStatus.SUCCEEDED,
        created_at=_at(-30),
        usage=Usage(input_tokens=6200, output_tokens=290),
        attempts=[_attempt(1, -29, -28, True)],
    )
    running = TaskState(
        id=RUNNING,
        lane="local",
        title="Create words.txt and count its lines",
        status=TaskStatus.RUNNING,
        created_at=_at(-12),
        usage=Usage(input_tokens=2100, output_tokens=180),
        attempts=[_attempt(1, -3, None, False)],
    )
    board.attempt_dir(RUNNING, 1).mkdir(parents=True, exist_ok=True)
    shutil.copy(RECORDED_LOG, board.attempt_dir(RUNNING, 1) / "events.jsonl")
    waiting = gate_state()
    queued = TaskState(
        id="port-ci-to-the-cloud-5e11",
        lane="cloud",
        title="Port the CI job to the cloud runner",
        created_at=_at(-5),
    )
    for state in (notes, running, waiting, queued):
        board.write_state(state)
    add_review_task(board)
    open_gate_card(board, FROZEN)


def gate_state() -> TaskState:
    """A worktree task stopped at a human gate after three failed attempts (its card:
    :func:`open_gate_card`)."""
    return TaskState(
        id=WAITING,
        lane="worktree",
        title="Summarise the upstream changelog",
        status=TaskStatus.AWAITING_DECISION,
        created_at=_at(-20),
        message="waiting for decision-001: failed repeatedly",
        usage=Usage(input_tokens=300, output_tokens=60),
        attempts=[_attempt(n, -19 + n, -18.5 + n, False) for n in (1, 2, 3)],
    )


def open_gate_card(board: Blackboard, now: datetime) -> DecisionCard:
    """The decision card of :func:`gate_state`'s task, opened at ``now`` (A retry, B park as a dead
    letter, C give up): one opened at the frozen time is long past its deadline on a real clock."""
    options = [
        DecisionOption(
            key="A",
            label="Retry now",
            action="retry",
            pros=["keeps the work done so far (resumes the Codex thread)"],
            cons=["may fail the same way and spend again"],
            cost="~80 tokens",
        ),
        DecisionOption(
            key="B",
            label="Park as a dead letter",
            action="dead_letter",
            pros=["spends nothing now"],
            cons=["the result waits"],
        ),
        DecisionOption(key="C", label="Give up", action="fail", pros=["ends the task now"]),
    ]
    return DecisionStore(board.root, lambda: now).open(
        task_id=WAITING,
        trigger="repeated_failures",
        title="Summarise the upstream changelog: failed repeatedly",
        context="Task summarise-the-changelog-3217 stopped after 3 attempts: BLOCKED: no network access.",
        options=options,
        recommended="A",
        recommended_why="one more attempt with the thread's context is cheap",
        risk="medium",
        default="B",
    )


def add_review_task(board: Blackboard) -> None:
    """A worktree task in review on a real branch: it adds ``subtract`` to ``calc.py`` and a test."""
    make_review_task(
        board,
        REVIEW,
        {
            "calc.py": "def add(a, b):\n    return a + b\n\n\ndef subtract(a, b):\n    return a - b\n",
            "test_calc.py": (
                "from calc import add, subtract\n\n\ndef test_subtract():\n    assert subtract(5, 3) == 2\n"
            ),
        },
        title="Add a subtract function",
        created_at=_at(-25),
        usage=Usage(input_tokens=9700, output_tokens=290),
        attempts=[_attempt(1, -24, -22, True)],
    )


def add_challenges(repo: Path) -> None:
    """The task in review after two rounds of cross-family review: the last one left a challenge the
    judge reproduced (VALID), one whose command passed (NOISE) and one it could not run (PARTIAL)."""
    board = Blackboard(repo)
    test = "tests/test_review_c1.py"
    body = (
        "import pytest\nfrom calc import subtract\n\n\ndef test_negative():\n"
        "    with pytest.raises(ValueError):\n        subtract(2, 5)\n"
    )
    last = [
        challenge(
            "c1",
            "VALID",
            claim="subtract(2, 5) returns -3: the spec asks for a ValueError when the result is negative",
            line=6,
            reason="reproduced: the command failed (exit 1)",
            evidence=Evidence(command=["python", "-m", "pytest", "-q", test], files={test: body}),
            judge=ran(
                1,
                argv=["python", "-m", "pytest", "-q", test],
                stdout="F\n___ test_negative ___\nE   Failed: DID NOT RAISE <class 'ValueError'>\n"
                "1 failed in 0.04s",
                duration_s=0.9,
            ),
        ),
        challenge(
            "c2",
            "NOISE",
            claim="subtract cannot be imported from calc",
            kind="counterexample",
            line=5,
            reason="the command succeeded (exit 0): the claim does not hold",
            evidence=Evidence(shell="python -c 'from calc import subtract'"),
            judge=ran(
                0, stdout="", argv=["bash", "-c", "python -c 'from calc import subtract'"], duration_s=0.2
            ),
        ),
        challenge(
            "c3",
            "PARTIAL",
            claim="the test checks one case only; the task asks for zero and negative inputs too",
            kind="spec_violation",
            file="test_calc.py",
            line=5,
            reason="no command to run: a person decides",
            evidence=Evidence(criterion="cover zero and negative inputs"),
        ),
    ]
    first = [challenge("c1", "VALID", claim="subtract is missing", line=None, judge=ran(1, duration_s=0.8))]
    with _written_at(iter([_at(-20), _at(-19)])):
        add_review(board, REVIEW, first, last)


@contextmanager
def _written_at(clock: Iterator[datetime]) -> Iterator[None]:
    """States written meanwhile take their ``updated_at`` from ``clock`` (one value per write)."""
    real = state_module.utc_now
    state_module.utc_now = lambda: next(clock)
    try:
        yield
    finally:
        state_module.utc_now = real


def add_history(repo: Path, n: int) -> None:
    """``n`` finished worktree tasks, one every 7 minutes back from two days before the frozen time
    (mostly done, some merged, failed or cancelled), and one failure of an hour ago: a lane whose
    history folds into one line."""
    board = Blackboard(repo)
    kinds = [TaskStatus.SUCCEEDED] * 9 + [TaskStatus.MERGED] * 3 + [TaskStatus.FAILED, TaskStatus.CANCELLED]
    times = (_at(-2 * 24 * 60 - 7 * i) for i in range(n))
    with _written_at(times):
        for i in range(n):
            status = kinds[i % len(kinds)]
            start = -2 * 24 * 60 - 7 * i - 5
            board.write_state(
                TaskState(
                    id=f"history-{i:04d}",
                    lane="worktree",
                    title=f"Tidy module {i:04d}",
                    status=status,
                    created_at=_at(start - 1),
                    message="FAILED: tests did not pass" if status == TaskStatus.FAILED else None,
                    usage=Usage(input_tokens=1000 + i, output_tokens=90),
                    attempts=[_attempt(1, start, start + 3, status != TaskStatus.FAILED)],
                )
            )
    with _written_at(iter([_at(-60)])):
        board.write_state(
            TaskState(
                id="fresh-failure-0001",
                lane="worktree",
                title="Bump the lockfile",
                status=TaskStatus.FAILED,
                created_at=_at(-70),
                message="FAILED: the registry refused the request",
                usage=Usage(input_tokens=800, output_tokens=40),
                attempts=[_attempt(1, -69, -61, False)],
            )
        )


CLOUD_REVIEW = "add-a-multiply-function-c10d"
CLOUD_PENDING = "port-the-ci-job-5e11"
CLOUD_OVERDUE = "refresh-the-lockfile-77a0"
_MULTIPLY = "\n\ndef multiply(a, b):\n    return a * b\n"


def build_cloud_showcase(root: Path) -> Path:
    """``root/repo`` with a board of cloud tasks at frozen times: one back from Codex Cloud with two
    attempts (attempt 1 on its branch), one pending and one pending past the deadline."""
    date = FROZEN.strftime("%Y-%m-%dT%H:%M:%S")
    saved = {k: os.environ.get(k) for k in ("GIT_AUTHOR_DATE", "GIT_COMMITTER_DATE")}
    os.environ.update(GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)
    try:
        repo = root / "repo"
        make_demo_repo(repo)
        board = Blackboard(repo)
        board.init()
        calc = (repo / "calc.py").read_text()
        make_cloud_review_task(
            board,
            CLOUD_REVIEW,
            [
                {"calc.py": calc + _MULTIPLY, "NOTES.md": "multiply(a, b) returns the product\n"},
                {
                    "calc.py": calc + _MULTIPLY.replace(":\n", ':\n    """The product of a and b."""\n', 1),
                    "NOTES.md": "multiply(a, b) returns the product\n",
                    "test_calc.py": "from calc import multiply\n\n\ndef test_multiply():\n"
                    "    assert multiply(3, 4) == 12\n",
                },
            ],
            title="Add a multiply function",
            created_at=_at(-40),
            started_at=_at(-38),
            ended_at=_at(-21),
        )
        for task_id, title, start, polls, overdue in (
            (CLOUD_PENDING, "Port the CI job to the cloud runner", -6, 14, False),
            (CLOUD_OVERDUE, "Refresh the lockfile", -75, 42, True),
        ):
            cloud_id = f"task_e_{task_id[-4:]}0f3c"
            run = CloudRun(
                env="owner/repo",
                task_id=cloud_id,
                url=f"https://chatgpt.com/codex/tasks/{cloud_id}",
                status="pending",
                polls=polls,
                overdue=overdue,
            )
            board.write_state(
                TaskState(
                    id=task_id,
                    lane="cloud",
                    title=title,
                    status=TaskStatus.RUNNING,
                    created_at=_at(start - 1),
                    message=f"attempt 1: Codex Cloud task {cloud_id} {run.status}{overdue * ' (overdue)'}",
                    attempts=[_attempt(1, start, None, False, cloud=run)],
                )
            )
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return repo
