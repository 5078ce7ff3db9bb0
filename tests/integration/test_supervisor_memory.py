"""The supervisor's cost follows the tasks it can act on: it keeps in memory only the actionable tasks'
full states (queued, running, awaiting a decision), reads any other task's state file when a request or
a due dead letter names it, starts from the task index (reading in full only the actionable tasks and
those whose index line is behind its state file, as a ``kill -9`` between the two leaves it), finds the
worktrees to clear stale locks in by listing them, and reads a decision card only when its files
changed."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from git import Repo

from cockpit.core.atomic import atomic_write_json
from cockpit.core.board.blackboard import Blackboard, stamp_of
from cockpit.core.board.decisions import DecisionStore
from cockpit.core.board.task_index.lines import IndexHeader, line_stamp, parse_record
from cockpit.core.board.task_index.reader import TaskIndexReader
from cockpit.core.board.task_index.scan import scan_summaries
from cockpit.core.board.task_index.startup import start_up
from cockpit.core.board.task_summary import TaskSummary
from cockpit.core.commands import run_task_command
from cockpit.core.git.operations import create_worktree, open_repo
from cockpit.core.layout import TASK_INDEX_FILE
from cockpit.core.policy.dead_letters import DeadLetter, DeadLetterQueue
from cockpit.core.policy.gates import failure_gate, open_gate
from cockpit.core.records.attempt import ErrorType
from cockpit.core.records.basics import ACTIONABLE, TaskStatus, utc_now
from cockpit.core.records.task import TaskState
from cockpit.core.supervisor.housekeeping import DEAD_LETTER_SWEEP_EVERY_S
from cockpit.core.supervisor.loop import Supervisor
from cockpit.core.views.task_rows import status_row
from tests.helpers.supervisor import ShiftedClock, SupervisorThread

COCKPIT = Path(sys.executable).parent / "cockpit"
FINISHED_MIX = (TaskStatus.MERGED, TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.REJECTED)


@pytest.fixture(autouse=True)
def _no_cloud_dispatch(monkeypatch: pytest.MonkeyPatch) -> None:
    """No cloud here: the in-process supervisors leave queued cloud tasks queued (no worker runs)."""
    monkeypatch.setattr(Supervisor, "dispatch_cloud", lambda self: None)


def task(task_id: str, status: TaskStatus, lane: str = "cloud") -> TaskState:
    """A task; the cloud lane is not dispatched here, so a queued one stays queued (no worker runs)."""
    return TaskState(id=task_id, lane=lane, title=f"Task {task_id}", status=status)


def journal_lines(board: Blackboard) -> list[bytes]:
    return [line for line in (board.root / TASK_INDEX_FILE).read_bytes().split(b"\n") if line]


def generation(board: Blackboard) -> str:
    return IndexHeader.model_validate_json(journal_lines(board)[0]).generation


class FullReads:
    """Counts the state files read in full (every full read goes through ``read_stamped_state``)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.ids: list[str] = []
        real = Blackboard.read_stamped_state

        def counted(board: Blackboard, task_id: str, *, archived: bool = False) -> tuple[object, object]:
            self.ids.append(task_id)
            return real(board, task_id, archived=archived)

        monkeypatch.setattr(Blackboard, "read_stamped_state", counted)


def write_behind_the_index(board: Blackboard, state: TaskState) -> None:
    """What a writer killed between its state file and its index line leaves behind."""
    state.touch()
    atomic_write_json(board.task_dir(state.id) / "state.json", state.model_dump(mode="json"))


def assert_index_current(board: Blackboard) -> None:
    """The journal is complete, every summary line carries its state file's stamp, and a reader loads
    exactly what the state files say without rescanning."""
    lines = journal_lines(board)
    assert IndexHeader.model_validate_json(lines[0]).complete
    for line in lines[1:]:
        record = parse_record(line)
        assert isinstance(record, TaskSummary)
        assert line_stamp(line) == stamp_of(os.stat(board.task_dir(record.id) / "state.json"))
    reader = TaskIndexReader(board)
    reader.poll()
    assert reader.rescans == 0 and reader.tasks == scan_summaries(board)


# ---- the index line's stamp -------------------------------------------------------------------------


def test_each_index_line_carries_its_state_files_stamp_and_the_status_row_is_unchanged(repo: Path) -> None:
    board = Blackboard(repo)
    state = task("stamped-0001", TaskStatus.REVIEW)
    board.write_state(state)
    line = journal_lines(board)[-1]
    assert line_stamp(line) == stamp_of(os.stat(board.task_dir(state.id) / "state.json"))
    summary = parse_record(line)
    assert isinstance(summary, TaskSummary)
    assert summary == TaskSummary.of(state) and "stamp" not in status_row(summary)
    assert b'"stamp":' not in summary.model_dump_json().encode()
    # A line written before stamps existed has none, and still reads as a summary.
    assert line_stamp(TaskSummary.of(state).model_dump_json().encode()) is None
    # A title cannot forge one: its quotes are escaped inside the JSON string.
    forged = task("forged-0002", TaskStatus.MERGED)
    forged.title = 'x,"stamp":[1,2,3]}'
    board.write_state(forged)
    forged_line = journal_lines(board)[-1]
    assert line_stamp(forged_line) == stamp_of(os.stat(board.task_dir(forged.id) / "state.json"))
    assert line_stamp(TaskSummary.of(forged).model_dump_json().encode()) is None


def test_a_compaction_keeps_each_line_with_its_stamp(repo: Path) -> None:
    board = Blackboard(repo)
    for n in range(3):
        board.write_state(task(f"task-{n:04d}", TaskStatus.QUEUED))
        board.write_state(task(f"task-{n:04d}", TaskStatus.SUCCEEDED))
    board.task_index.compact(scan=lambda: pytest.fail("the journal stays valid"))
    assert len(journal_lines(board)) == 4
    assert_index_current(board)


# ---- start-up ----------------------------------------------------------------------------------------


def test_start_up_of_a_thousand_task_board_reads_in_full_only_the_actionable_and_the_stale(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    board = Blackboard(repo)
    for n in range(990):
        board.write_state(task(f"done-{n:04d}", FINISHED_MIX[n % len(FINISHED_MIX)]))
    actionable = {"queued-0001": TaskStatus.QUEUED, "gated-0002": TaskStatus.AWAITING_DECISION}
    for task_id, status in actionable.items():
        board.write_state(task(task_id, status))
    # Behind the index: a writer killed after its state file (review → merged), a line from before
    # stamps, a task the journal never heard of, and a task whose directory vanished.
    behind = task("behind-0003", TaskStatus.REVIEW)
    board.write_state(behind)
    behind.status = TaskStatus.MERGED
    write_behind_the_index(board, behind)
    old = task("unstamped-0004", TaskStatus.SUCCEEDED)
    old.touch()
    atomic_write_json(board.task_dir(old.id) / "state.json", old.model_dump(mode="json"))
    board.task_index.record(TaskSummary.of(old))  # no stamp: as written before stamps existed
    write_behind_the_index(board, task("unknown-0005", TaskStatus.FAILED))
    board.write_state(task("vanished-0006", TaskStatus.FAILED))
    for n in range(4):
        board.write_state(task(f"done-{n:04d}", TaskStatus.CANCELLED))  # later lines win
    os.rename(board.task_dir("vanished-0006"), repo / "elsewhere")
    before = generation(board)

    reads = FullReads(monkeypatch)
    supervisor = Supervisor(board, env={})
    with board.lock():
        supervisor.recover()
    assert sorted(reads.ids) == sorted([*actionable, "behind-0003", "unstamped-0004", "unknown-0005"])
    assert {i: s.status for i, s in supervisor.actionable.items()} == actionable
    assert supervisor.live_tasks == 990 + 2 + 3
    assert generation(board) != before
    assert_index_current(board)
    summaries = {s.id: s for s in board.summaries()}
    assert summaries["behind-0003"].status == TaskStatus.MERGED and "vanished-0006" not in summaries
    assert summaries["done-0001"].status == TaskStatus.CANCELLED

    reads.ids.clear()
    rebuilt, size = generation(board), (board.root / TASK_INDEX_FILE).stat().st_size
    again = Supervisor(board, env={})
    with board.lock():
        again.recover()
    assert sorted(reads.ids) == sorted(actionable)  # the index is current: only what it acts on
    # ... and it stays as it is (no reader loads it again), taken as this supervisor's own.
    assert generation(board) == rebuilt and (board.root / TASK_INDEX_FILE).stat().st_size == size
    assert again.live_tasks == 995 and board.task_index.due(again.live_tasks) is None


@pytest.mark.parametrize("trouble", ["missing", "not complete", "invalid line"])
def test_start_up_reads_every_state_file_when_the_index_cannot_be_trusted(
    repo: Path, monkeypatch: pytest.MonkeyPatch, trouble: str
) -> None:
    board = Blackboard(repo)
    for n in range(5):
        board.write_state(task(f"done-{n:04d}", TaskStatus.SUCCEEDED))
    journal = board.root / TASK_INDEX_FILE
    if trouble == "missing":
        journal.unlink()
    elif trouble == "not complete":
        journal.unlink()
        board.write_state(task("done-0001", TaskStatus.MERGED))  # an append creates an incomplete one
    else:
        with open(journal, "ab") as fh:
            fh.write(b'{"id": "done-0002", "torn\n')
    reads = FullReads(monkeypatch)
    with board.lock():
        started = start_up(board, ACTIONABLE)
    assert (
        started.rescan is not None
        and started.reads == 5
        and sorted(reads.ids) == sorted(f"done-{n:04d}" for n in range(5))
    )
    assert started.tasks == 5 and started.kept == []
    assert_index_current(board)


def test_a_supervisor_killed_between_a_state_file_and_its_index_line_is_caught_up_by_the_stamp(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real supervisor process dies (SIGKILL) right after it replaced a state file, before its index
    line; the next start-up sees the stamps differ for that task alone and reads just that file."""
    board = Blackboard(repo)
    for n in range(20):
        board.write_state(task(f"done-{n:04d}", TaskStatus.SUCCEEDED))
    board.write_state(task("failed-0001", TaskStatus.FAILED))
    with board.lock():
        Supervisor(board, env={}).recover()  # a current index, every line stamped
    expires = (utc_now() + timedelta(seconds=60)).isoformat()
    board.drop("retry", {"task_id": "failed-0001", "request_id": "1-1", "expires_at": expires})
    killed = subprocess.run(
        [str(COCKPIT), "--repo", str(repo), "run"],
        env={**os.environ, "COCKPIT_CRASH_AT": "task-state-written"},
        capture_output=True,
        timeout=120,
    )
    assert killed.returncode == -9, killed.stderr
    assert board.read_state("failed-0001").status == TaskStatus.QUEUED  # type: ignore[union-attr]
    index = {s.id: s for s in board.summaries()}
    assert index["failed-0001"].status == TaskStatus.FAILED  # the line the kill cut off

    reads = FullReads(monkeypatch)
    supervisor = Supervisor(board, env={})
    with board.lock():
        supervisor.recover()
    assert reads.ids == ["failed-0001"]  # by its stamp: the index said failed, which is not acted on
    assert supervisor.actionable["failed-0001"].status == TaskStatus.QUEUED
    assert {s.id: s.status for s in board.summaries()}["failed-0001"] == TaskStatus.QUEUED
    assert_index_current(board)


def test_start_up_clears_stale_locks_in_the_worktrees_it_lists_and_follows_no_planted_path(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    board = Blackboard(repo)
    for n in range(10):
        board.write_state(task(f"done-{n:04d}", TaskStatus.MERGED, lane="worktree"))
    head = Repo(repo).heads["main"].commit.hexsha
    state = task("review-0001", TaskStatus.REVIEW, lane="worktree")
    path = board.worktree_path(state.id)
    create_worktree(open_repo(repo), path, "cockpit/review-0001", head)
    state.worktree, state.branch = str(path), "cockpit/review-0001"
    board.write_state(state)
    admin = repo / ".git" / "worktrees" / "review-0001"
    (admin / "index.lock").write_text("")
    outside = tmp_path / "outside"
    (outside / ".git").mkdir(parents=True)
    (outside / ".git" / "index.lock").write_text("")
    os.symlink(outside, board.root / "worktrees" / "planted-0002")
    # A worktree whose .git pointer a worker rewrote to name a directory of its choosing.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "index.lock").write_text("")
    (board.root / "worktrees" / "pointer-0003").mkdir()
    (board.root / "worktrees" / "pointer-0003" / ".git").write_text(f"gitdir: {elsewhere}\n")
    reads = FullReads(monkeypatch)
    with board.lock():
        Supervisor(board, env={}).recover()
    assert not (admin / "index.lock").exists()
    assert (outside / ".git" / "index.lock").exists() and (elsewhere / "index.lock").exists()
    assert reads.ids == []  # no state was read to find the worktrees
    assert any(e.get("kind") == "stale_lock_removed" for e in board.read_jsonl("events.jsonl"))


# ---- on demand ---------------------------------------------------------------------------------------


def test_requests_through_the_inbox_act_on_tasks_read_from_their_files(repo: Path) -> None:
    """Retry, merge and cancel sent while a supervisor runs: finished tasks are read when named, enter
    memory when they become actionable, and leave it when they stop being so."""
    board = Blackboard(repo)
    for n in range(30):
        board.write_state(task(f"done-{n:04d}", TaskStatus.SUCCEEDED))
    board.write_state(task("failed-0001", TaskStatus.FAILED))
    board.write_state(task("queued-0002", TaskStatus.QUEUED))
    git = Repo(repo)
    git.git.checkout("-b", "cockpit/review-0003")
    (repo / "feature.txt").write_text("feature\n")
    git.git.add("feature.txt")
    git.git.commit("-m", "add feature.txt")
    git.git.checkout("main")
    review = task("review-0003", TaskStatus.REVIEW, lane="worktree")
    review.branch, review.base_branch = "cockpit/review-0003", "main"
    review.base_commit = git.heads["main"].commit.hexsha
    board.write_state(review)

    thread = SupervisorThread(board, env={}).start()
    supervisor = thread.supervisor
    try:
        assert thread.wait_for(lambda: board.supervisor_pid() is not None and supervisor.live_tasks == 33)
        assert set(supervisor.actionable) == {"queued-0002"}
        assert run_task_command(board, "retry", "failed-0001") == "failed-0001 queued again"
        assert set(supervisor.actionable) == {"queued-0002", "failed-0001"}
        assert supervisor.actionable["failed-0001"].status == TaskStatus.QUEUED
        assert "merge" in run_task_command(board, "merge", "review-0003").lower()
        assert board.read_state("review-0003").status == TaskStatus.MERGED  # type: ignore[union-attr]
        assert (repo / "feature.txt").read_text() == "feature\n"
        assert run_task_command(board, "cancel", "queued-0002") == "cancelled"
        assert set(supervisor.actionable) == {"failed-0001"}
        assert board.read_state("queued-0002").status == TaskStatus.CANCELLED  # type: ignore[union-attr]
    finally:
        thread.stop()
    statuses = {s.id: s.status for s in board.summaries()}
    assert statuses["failed-0001"] == TaskStatus.QUEUED and statuses["review-0003"] == TaskStatus.MERGED


def test_the_dead_letter_sweep_retries_a_task_it_reads_from_its_file(repo: Path) -> None:
    board = Blackboard(repo)
    board.write_state(task("parked-0001", TaskStatus.DEAD_LETTER))
    clock = ShiftedClock()
    supervisor = Supervisor(board, env={}, clock=clock)
    supervisor.recover()
    assert supervisor.actionable == {}  # a dead letter is parked: its letter is what the sweep follows
    DeadLetterQueue(board.root / "dead-letters", clock).add(
        DeadLetter(
            task_id="parked-0001",
            original_task={"title": "parked", "lane": "cloud"},
            error="429 Too Many Requests",
            error_type=ErrorType.TRANSIENT,
            attempts=3,
            first_attempt=clock() - 100,
            last_attempt=clock() - 10,
            retry_after=clock() - 1,
        )
    )
    clock.advance(DEAD_LETTER_SWEEP_EVERY_S)
    supervisor.housekeeping(clock())
    state = board.read_state("parked-0001")
    assert state is not None and state.status == TaskStatus.QUEUED
    assert state.resume_reason == "a dead-letter sweep"
    assert supervisor.actionable["parked-0001"].status == TaskStatus.QUEUED


# ---- housekeeping ------------------------------------------------------------------------------------


def test_housekeeping_reads_a_card_only_when_its_files_changed(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    board = Blackboard(repo)
    gated = task("gated-0001", TaskStatus.QUEUED)
    lost = task("lost-0002", TaskStatus.QUEUED)
    supervisor = Supervisor(board, env={})
    for state in (gated, lost):
        card = open_gate(
            supervisor.decisions, state, failure_gate(state, "repeated_failures", "3 failed attempts", None)
        )
        state.status, state.decision_id = TaskStatus.AWAITING_DECISION, card.id
        board.write_state(state)
    supervisor.recover()
    loads: list[str] = []
    real_load = DecisionStore._load

    def counted(store: DecisionStore, path: Path) -> object:
        loads.append(path.name)
        return real_load(store, path)

    monkeypatch.setattr(DecisionStore, "_load", counted)
    now = time.time()
    supervisor.housekeeping(now)
    assert loads  # the first pass reads each card once
    loads.clear()
    for n in range(1, 4):
        supervisor.housekeeping(now + n)
    assert loads == []  # nothing changed: no card read, neither to apply it nor to expire it
    assert set(supervisor.actionable) == {"gated-0001", "lost-0002"}

    assert gated.decision_id is not None and lost.decision_id is not None
    DecisionStore(board.root, utc_now).answer(gated.decision_id, "A")
    (board.root / "decisions" / "pending" / f"{lost.decision_id}.json").unlink()  # lost by hand
    supervisor.housekeeping(now + 5)
    assert {f"{gated.decision_id}.json", f"{lost.decision_id}.json"} <= set(loads)
    answered, missing = board.read_state("gated-0001"), board.read_state("lost-0002")
    assert answered is not None and answered.status != TaskStatus.AWAITING_DECISION
    assert missing is not None and missing.status == TaskStatus.FAILED
    assert missing.message == "its decision card is missing (see quarantine/)"
