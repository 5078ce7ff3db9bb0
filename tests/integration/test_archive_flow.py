"""``cockpit archive`` end to end on a real git repo's board: the round trip (``show``, ``log``, ``usage``
and ``status --all`` read archived tasks as they were, ledger totals unchanged), refusals with their exit
code and one line each, bad words exit 2, ``kill -9`` at every step of a move then a re-run, the request
through a live ``cockpit run``, and ``[archive] after_days`` at a supervisor's start-up."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from cockpit.core.board.blackboard import Blackboard
from cockpit.core.records.basics import TaskStatus
from tests.helpers.archive import put_task, tree

COCKPIT = Path(sys.executable).parent / "cockpit"
CRASH_POINTS = (
    "archive:after-journal",
    "archive:after-move",
    "archive:after-worktree",
    "archive:before-journal-removal",
)


def cockpit(repo: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k != "COCKPIT_CRASH_AT"}
    return subprocess.run(
        [str(COCKPIT), "--repo", str(repo), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**base, **(env or {})},
    )


def ok(repo: Path, *args: str) -> str:
    out = cockpit(repo, *args)
    assert out.returncode == 0, out.stderr
    return out.stdout


def by_id(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {row["id"]: row for row in rows}


def ledger_totals(repo: Path) -> dict[str, Any]:
    """``cockpit usage --json``: the ledger's report (less the time it was made) and the budgets."""
    shown = json.loads(ok(repo, "usage", "--json"))
    shown["usage"].pop("generated_at")
    return {**shown["usage"], "budget": shown["budget"]}


def finished_board(repo: Path, *, running: bool = True) -> Blackboard:
    """Two old finished tasks, a fresh one, an old one in review and (with ``running``) an old running
    one. A supervisor would finalise that running task's attempt, so its tests go without."""
    board = Blackboard(repo)
    put_task(board, "merged-task-0001", TaskStatus.MERGED, age_days=10, lane="worktree")
    put_task(board, "failed-task-0002", TaskStatus.FAILED, age_days=9)
    put_task(board, "fresh-task-0003", TaskStatus.SUCCEEDED, age_days=1)
    put_task(board, "review-task-0004", TaskStatus.REVIEW, age_days=10, lane="worktree")
    if running:
        put_task(board, "running-task-0005", TaskStatus.RUNNING, age_days=10)
    return board


def test_archive_round_trip_loses_nothing(repo: Path) -> None:
    board = finished_board(repo)
    old = ("merged-task-0001", "failed-task-0002")
    shown = {t: json.loads(ok(repo, "show", t, "--json")) for t in old}
    shown_text = {t: ok(repo, "show", t) for t in old}
    logs = {t: (ok(repo, "log", t), ok(repo, "log", t, "--raw")) for t in old}
    usage = ledger_totals(repo)
    assert usage["today"]["attempts"] == 5 and usage["today"]["input_tokens"] == 5 * 120
    status = by_id(json.loads(ok(repo, "status", "--json")))
    assert json.loads(ok(repo, "status", "--all", "--json")) == json.loads(ok(repo, "status", "--json"))

    dry = ok(repo, "archive", "--older-than", "7d", "--dry-run")
    assert "would archive merged-task-0001" in dry and "would archive failed-task-0002" in dry
    assert "2 would be archived (dry run: nothing moved)" in dry and board.archived_task_ids() == []

    out = ok(repo, "archive", "--older-than", "7d")
    assert "archived merged-task-0001  merged, last changed 10d ago" in out
    assert "archived failed-task-0002  failed, last changed 9d ago" in out
    assert board.archived_task_ids() == sorted(old)
    assert board.task_ids() == ["fresh-task-0003", "review-task-0004", "running-task-0005"]

    for task_id in old:
        after = json.loads(ok(repo, "show", task_id[:10], "--json"))  # a prefix resolves in the archive
        assert after.pop("archived") is True
        logged = [e for e in after["events"] if e.get("kind") == "archived"]
        assert [e["task_id"] for e in logged] == [task_id]
        after["events"] = [e for e in after["events"] if e.get("kind") != "archived"]
        assert after == shown[task_id]
        text = ok(repo, "show", task_id)
        header, *rest = text.splitlines()
        assert header == shown_text[task_id].splitlines()[0] + "  (archived)"
        assert [line for line in rest if "ARCHIVED" not in line] == shown_text[task_id].splitlines()[1:]
        assert (ok(repo, "log", task_id), ok(repo, "log", task_id, "--raw")) == logs[task_id]
    assert ledger_totals(repo) == usage  # the ledger is board-wide: archiving moves none of it

    live = by_id(json.loads(ok(repo, "status", "--json")))
    assert set(live) == set(status) - set(old) and all(live[t] == status[t] for t in live)
    everything = by_id(json.loads(ok(repo, "status", "--all", "--json")))
    assert set(everything) == set(status)
    for task_id, row in everything.items():
        expected = {**status[task_id], "archived": True} if task_id in old else status[task_id]
        assert row == expected
    table = ok(repo, "status", "--all")
    assert "merged (archived)" in table and "failed (archived)" in table and "review (archived)" not in table
    assert "merged-task-0001" not in ok(repo, "status")


def test_refusals_and_bad_words(repo: Path) -> None:
    board = finished_board(repo)
    before = tree(board.root / "tasks")
    refused = cockpit(repo, "archive", "running-task-0005", "review-task")
    assert refused.returncode == 1
    assert refused.stderr.splitlines() == [
        "cockpit: not archived: running-task-0005: it is running (cancel it first)",
        "cockpit: not archived: review-task-0004: it waits for review (merge or reject it first)",
    ]
    for args, line in (
        (("--state", "merged,sucess"), "cockpit: invalid --state: unknown state 'sucess' (archivable: "),
        (
            ("--state", "review"),
            "cockpit: invalid --state: review tasks cannot be archived: it waits for review",
        ),
        (("--older-than", "7x"), "cockpit: invalid --older-than '7x': a number and a unit (s, m, h, d, w)"),
        (("nope-0000",), "cockpit: no task 'nope-0000'"),
        (("fa",), "cockpit: invalid task id 'fa': a prefix needs at least 4 characters"),
    ):
        out = cockpit(repo, "archive", *args)
        assert out.returncode == 2, (args, out.stderr)
        assert len(out.stderr.splitlines()) == 1 and out.stderr.startswith(line), out.stderr
    assert tree(board.root / "tasks") == before and board.archived_task_ids() == []
    ok(repo, "archive", "failed-task-0002")
    gone = cockpit(repo, "cancel", "failed-task-0002")  # a command that changes a task: not on archived ones
    assert (
        gone.returncode == 2 and "failed-task-0002 is archived; archived tasks are read only" in gone.stderr
    )
    again = ok(repo, "archive", "failed-task-0002")
    assert again.strip() == "already archived failed-task-0002"


@pytest.mark.parametrize("point", CRASH_POINTS)
def test_kill_9_at_any_step_leaves_the_task_whole_and_a_rerun_finishes(repo: Path, point: str) -> None:
    board = Blackboard(repo)
    put_task(board, "crashy-task-0001", TaskStatus.MERGED, age_days=3)
    before = tree(board.task_dir("crashy-task-0001"))
    killed = cockpit(repo, "archive", "crashy-task-0001", env={"COCKPIT_CRASH_AT": point})
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    live, moved = board.task_dir("crashy-task-0001"), board.archived_task_dir("crashy-task-0001")
    assert live.exists() != moved.exists()  # live or archived: never both, never neither
    assert tree(live if live.exists() else moved) == before
    rerun = ok(repo, "archive", "crashy-task-0001")
    if point == "archive:after-journal":
        assert rerun.startswith("archived crashy-task-0001")  # it was still live: archived now
    else:
        assert rerun.strip() == "already archived crashy-task-0001"  # and its move was finished first
    assert not live.exists() and tree(moved) == before
    assert list((board.archive_root / ".moving").iterdir()) == []
    logged = [e for e in board.read_jsonl("events.jsonl") if e.get("kind") == "archived"]
    assert len(logged) == (2 if point == "archive:before-journal-removal" else 1)
    assert json.loads(ok(repo, "show", "crashy-task-0001", "--json"))["archived"] is True


def test_archive_goes_through_a_live_supervisor(repo: Path) -> None:
    board = finished_board(repo, running=False)
    put_task(board, "waiting-task-0005", TaskStatus.AWAITING_DECISION, age_days=10)
    server = subprocess.Popen(
        [str(COCKPIT), "--repo", str(repo), "run"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while board.supervisor_pid() is None:
            assert server.poll() is None, server.communicate()
            assert time.monotonic() < deadline, "the supervisor never took the board"
            time.sleep(0.05)
        out = cockpit(repo, "archive", "merged-task-0001", "review-task-0004")
        assert out.returncode == 1
        assert out.stdout.startswith("archived merged-task-0001  merged")
        assert out.stderr.strip() == (
            "cockpit: not archived: review-task-0004: it waits for review (merge or reject it first)"
        )
        assert board.archived_task_ids() == ["merged-task-0001"]
        swept = ok(repo, "archive", "--older-than", "7d")  # what waits is no part of a sweep
        assert swept.strip() == "archived failed-task-0002  failed, last changed 9d ago"
        assert board.supervisor_pid() == server.pid  # served, not taken over
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    assert server.returncode == 0, server.stderr.read() if server.stderr else ""
    assert board.archived_task_ids() == ["failed-task-0002", "merged-task-0001"]
    assert not board.task_dir("merged-task-0001").exists()  # the supervisor wrote nothing back
    requests = [e for e in board.read_jsonl("events.jsonl") if e.get("kind") == "archived"]
    assert [e["by"] for e in requests] == ["cockpit archive", "cockpit archive"]


def test_after_days_archives_when_a_supervisor_starts(repo: Path) -> None:
    board = finished_board(repo, running=False)
    (board.root / "config.toml").write_text("[archive]\nafter_days = 7\n")
    out = cockpit(repo, "run", "--until-idle")
    assert out.returncode == 0, out.stderr
    assert board.archived_task_ids() == ["failed-task-0002", "merged-task-0001"]
    assert board.task_ids() == ["fresh-task-0003", "review-task-0004"]
    logged = [e for e in board.read_jsonl("events.jsonl") if e.get("kind") == "archived"]
    assert {e["by"] for e in logged} == {"after_days = 7"}


def test_a_bad_after_days_stops_with_one_line_naming_it(repo: Path) -> None:
    board = Blackboard(repo)
    (board.root / "config.toml").write_text("[archive]\nafter_days = -3\n")
    out = cockpit(repo, "run", "--until-idle")
    assert out.returncode == 2
    assert out.stderr.strip() == (
        "cockpit: invalid config: archive.after_days: Input should be greater than or equal to 0"
    )
