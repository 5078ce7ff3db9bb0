"""A board of many realistic tasks, written the way the cockpit writes them (``Blackboard.write_state``).

Each task has an envelope-free ``state.json`` with 1–3 attempts (each with its three signals, usage,
an event-stream summary, an outcome or a failure), a lane, a status drawn from the mix a long-lived
board has (mostly finished, some queued, a few running or waiting) and thread-cumulative usage. Tasks
waiting for a decision have a pending decision card, failed ones with three attempts a resolved one,
and the board has two breakers (one closed, one open). The same seed gives the same board. Used by
``status_speed.py`` and by tests that need a board of a given size; importable as ``tests.bench.board_gen``
(the project is on ``sys.path`` under pytest) or run directly:
``.venv/bin/python tests/bench/board_gen.py REPO N`` (REPO is created as a git repository if missing).
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cockpit.core.board.blackboard import Blackboard
from cockpit.core.board.decisions import DecisionStore
from cockpit.core.codex.exec_events import Usage
from cockpit.core.policy.breaker import BreakerStore
from cockpit.core.policy.failures import acceptance_failure, start_failure
from cockpit.core.policy.gates import failure_gate, open_gate
from cockpit.core.records.attempt import Attempt, AttemptProgress, DiffStat, Outcome
from cockpit.core.records.basics import Signals, TaskStatus
from cockpit.core.records.exit_info import ExitInfo
from cockpit.core.records.task import TaskState

LANES = ("local", "worktree", "worktree", "mcp", "cloud")
# (status, weight): a long-lived board is mostly finished work.
STATUS_MIX = (
    (TaskStatus.SUCCEEDED, 30),
    (TaskStatus.MERGED, 25),
    (TaskStatus.REJECTED, 4),
    (TaskStatus.FAILED, 8),
    (TaskStatus.DEAD_LETTER, 3),
    (TaskStatus.CANCELLED, 3),
    (TaskStatus.BLOCKED, 2),
    (TaskStatus.CONFLICT, 1),
    (TaskStatus.REVIEW, 6),
    (TaskStatus.AWAITING_DECISION, 3),
    (TaskStatus.QUEUED, 12),
    (TaskStatus.RUNNING, 3),
)
VERBS = ("Add", "Fix", "Refactor", "Document", "Test", "Port", "Speed up", "Remove", "Rename", "Split")
THINGS = (
    "the retry policy",
    "calc.py's subtract",
    "the config loader",
    "CI caching",
    "the merge journal",
    "log rendering",
    "the usage ledger",
    "the breaker store",
    "README's quick start",
    "the inbox sweep",
)
FILES = ("calc.py", "tests/test_calc.py", "README.md", "core/config.py", "docs/usage.md", "Makefile")


def make_repo(path: Path) -> Path:
    """A fresh git repository at ``path`` (created) with an initialised board; returns ``path``."""
    path.mkdir(parents=True, exist_ok=True)
    if not (path / ".git").exists():
        subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    Blackboard(path).init()
    return path


def make_state(rng: random.Random, n: int, base: datetime) -> TaskState:
    """Task number ``n`` of a generated board: realistic fields, drawn from ``rng``."""
    title = f"{rng.choice(VERBS)} {rng.choice(THINGS)} #{n}"
    status = rng.choices([s for s, _ in STATUS_MIX], weights=[w for _, w in STATUS_MIX])[0]
    lane = rng.choice(LANES)
    created = base + timedelta(seconds=n * 7 + rng.random())
    state = TaskState(
        id=f"task-{n:05d}-{rng.getrandbits(16):04x}",
        lane=lane,
        title=title,
        status=status,
        created_at=created,
        updated_at=created,
    )
    if status == TaskStatus.QUEUED:
        return state
    state.thread_id = f"0199{rng.getrandbits(48):012x}-7a1b-7c2d-8e3f-{rng.getrandbits(48):012x}"
    total = Usage()
    count = rng.choice((1, 1, 1, 2, 2, 3))
    at = created + timedelta(seconds=2)
    for k in range(1, count + 1):
        last = k == count
        running = last and status == TaskStatus.RUNNING
        ok = last and status in (TaskStatus.SUCCEEDED, TaskStatus.MERGED, TaskStatus.REVIEW)
        delta = Usage(
            input_tokens=rng.randint(2_000, 60_000),
            cached_input_tokens=rng.randint(0, 1_500),
            output_tokens=rng.randint(100, 4_000),
            reasoning_output_tokens=rng.randint(0, 800),
        )
        total = Usage(
            input_tokens=total.input_tokens + delta.input_tokens,
            cached_input_tokens=total.cached_input_tokens + delta.cached_input_tokens,
            output_tokens=total.output_tokens + delta.output_tokens,
            reasoning_output_tokens=total.reasoning_output_tokens + delta.reasoning_output_tokens,
        )
        changed = rng.sample(FILES, rng.randint(0, 3))
        progress = AttemptProgress(
            thread_id=state.thread_id,
            events=rng.randint(20, 400),
            turns_started=1,
            turns_completed=0 if running else 1,
            turn_completed=not running and ok,
            usage=total,
            commands=rng.randint(0, 30),
            commands_failed=rng.randint(0, 3),
            file_changes=changed,
            agent_messages=rng.randint(1, 12),
            last_agent_message=f"COMPLETED: {title}" if ok else f"working on {title}",
            reasoning_items=rng.randint(0, 20),
        )
        ended = None if running else at + timedelta(seconds=rng.randint(20, 900))
        attempt = Attempt(
            n=k,
            kind="initial" if k == 1 else "retry",
            resumed_thread=state.thread_id if k > 1 else None,
            started_at=at,
            ended_at=ended,
            deadline_s=1800.0,
            effort=rng.choice(("low", "medium", "high")),
            runner_pid=rng.randint(1000, 99_999) if running else None,
            exit=None if running else ExitInfo(code=0 if ok else 1, started=at.timestamp()),
            signals=Signals(exit_code=0, turn_completed=True, last_message=True)
            if ok
            else Signals(exit_code=None if running else 1, turn_completed=False, last_message=not running),
            progress=progress,
            usage_delta=None if running else delta,
            outcome=Outcome(status="COMPLETED", detail=title) if ok else None,
        )
        if not ok and not running:
            attempt.failure = (
                acceptance_failure("tests pass", "2 failed")
                if rng.random() < 0.5
                else start_failure("no slot")
            )
            attempt.error = attempt.failure.message
            state.failures.append(attempt.failure)
        state.attempts.append(attempt)
        at = (ended or at) + timedelta(seconds=rng.randint(1, 30))
    state.usage = total
    state.thread_usage = total
    state.effort = state.attempts[-1].effort
    state.effort_reason = "the envelope asked for it"
    if lane in ("worktree", "mcp"):
        state.branch = f"cockpit/{state.id}"
        state.base_branch = "main"
        state.base_commit = f"{rng.getrandbits(160):040x}"
        state.worktree = f"/tmp/worktrees/{state.id}"
        state.diff = DiffStat(
            files=len(FILES[:2]), insertions=rng.randint(1, 200), deletions=rng.randint(0, 80)
        )
        state.diff.paths = list(FILES[:2])
    state.message = {
        TaskStatus.MERGED: f"merged into main as {rng.getrandbits(40):010x}",
        TaskStatus.FAILED: "acceptance check failed: tests pass — 2 failed",
        TaskStatus.AWAITING_DECISION: "waiting for decision-001: failed repeatedly",
        TaskStatus.REVIEW: "diff ready for review",
    }.get(status)
    return state


def populate(board: Blackboard, n: int, *, seed: int = 7) -> list[str]:
    """Write ``n`` generated tasks into ``board`` with ``write_state`` (and their decision cards, and two
    breakers); returns the task ids, oldest first."""
    rng = random.Random(seed)
    base = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    decisions = DecisionStore(board.root, lambda: datetime.now(UTC))
    ids = []
    for k in range(n):
        state = make_state(rng, k, base)
        gated = state.status == TaskStatus.AWAITING_DECISION or (
            state.status == TaskStatus.FAILED and len(state.attempts) == 3
        )
        if gated:
            card = open_gate(
                decisions, state, failure_gate(state, "repeated_failures", "3 failed attempts", None)
            )
            state.decision_id = card.id
            if state.status == TaskStatus.FAILED:
                decisions.answer(card.id, "B", by="human")
                state.decision_id = None
        board.write_state(state)
        ids.append(state.id)
    breakers = BreakerStore(board.root / "breakers", time.time, random.Random(seed))
    for provider, failures in (("openai", 0), ("mock-provider", 3)):
        breaker = breakers.get(provider)
        for _ in range(failures):
            breaker.on_failure("http_5xx", "HTTP 503 from the provider")
        breakers.save(breaker)
    return ids


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("repo", type=Path)
    parser.add_argument("n", type=int)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    board = Blackboard(make_repo(args.repo))
    populate(board, args.n, seed=args.seed)
    print(f"{args.n} tasks written to {board.root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
