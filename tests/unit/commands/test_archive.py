"""Archiving finished tasks: which states may go and why the others may not, age and state words,
selection (named tasks refused with a reason, a sweep keeping what is held), the whole-directory move and
its journal, a crash between any two steps (simulated here; ``kill -9`` in the integration tests), the
cockpit's own worktree of an archived task, lookups that still find archived tasks, and the supervisor
(requests through the inbox, tasks dropped from memory, ``[archive] after_days``)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from git import Repo

from cockpit.cli.main import health_lines
from cockpit.core import archive as archive_mod
from cockpit.core.archive import (
    ARCHIVABLE,
    NOT_ARCHIVABLE,
    ArchiveSelection,
    archive_tasks,
    finish_interrupted,
    parse_age,
    parse_states,
    plan_archive,
    run_archive,
)
from cockpit.core.atomic import atomic_write_json
from cockpit.core.board.blackboard import Blackboard, UnknownTask
from cockpit.core.board.decisions import DecisionStore
from cockpit.core.commands import prepare_submission
from cockpit.core.config import ConfigError, load_config
from cockpit.core.envelope.model import envelope_from_mapping
from cockpit.core.git.operations import create_worktree, open_repo
from cockpit.core.merging import journal_path
from cockpit.core.policy.dead_letters import DeadLetter, DeadLetterQueue
from cockpit.core.policy.gates import failure_gate, open_gate
from cockpit.core.records.attempt import ErrorType
from cockpit.core.records.basics import TaskStatus, utc_now
from cockpit.core.records.task import TaskState
from cockpit.core.supervisor.loop import Supervisor
from cockpit.core.views.panels import dead_letter_rows
from tests.helpers.archive import put_task, tree
from tests.helpers.supervisor import ShiftedClock

DAY = 86400.0
CRASH_POINTS = (
    "archive:after-journal",
    "archive:after-move",
    "archive:after-worktree",
    "archive:before-journal-removal",
)


class Crash(BaseException):
    """Stands for the process dying at a crash point: nothing after it runs, no handler catches it."""


@pytest.fixture
def board(repo: Path) -> Blackboard:
    return Blackboard(repo)


@pytest.fixture
def forgotten(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The ids the index is told about, in order (the index itself is another module's job)."""
    calls: list[str] = []
    monkeypatch.setattr(Blackboard, "forget_task", lambda self, task_id: calls.append(task_id))
    return calls


def expires_in(seconds: float) -> str:
    return (utc_now() + timedelta(seconds=seconds)).isoformat()


def raw_drop(board: Blackboard, kind: str, data: dict[str, object]) -> None:
    """A request dropped as any sender drops one, its fields as given (unchecked)."""
    board.drop(kind, data)


def live_states(board: Blackboard) -> dict[str, TaskState]:
    return {s.id: s for s in board.states()}


def events(board: Blackboard, kind: str) -> list[dict[str, object]]:
    return [e for e in board.read_jsonl("events.jsonl") if e.get("kind") == kind]


def archive_now(board: Blackboard, **selection: object) -> archive_mod.ArchiveReport:
    chosen = ArchiveSelection.model_validate(selection)
    return archive_tasks(board, live_states(board), chosen, datetime.now(UTC), by="test")


# ---- what may go ----------------------------------------------------------------------------------


def test_every_state_is_either_archivable_or_refused_with_a_reason() -> None:
    assert set(ARCHIVABLE).isdisjoint(NOT_ARCHIVABLE)
    assert set(ARCHIVABLE) | set(NOT_ARCHIVABLE) == set(TaskStatus)
    assert all(reason.strip() for reason in NOT_ARCHIVABLE.values())


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("7d", 7 * DAY), ("12h", 12 * 3600), ("30m", 1800), ("2w", 14 * DAY), ("45s", 45), ("1d12h", 1.5 * DAY)],
)
def test_age_words(text: str, seconds: float) -> None:
    assert parse_age(text) == seconds


@pytest.mark.parametrize("text", ["", "7", "d", "7x", "-1d", "7d ago", "1.5d", "d7"])
def test_bad_age_words_say_what_is_accepted(text: str) -> None:
    with pytest.raises(ValueError, match=r"a number and a unit .* 7d"):
        parse_age(text)


def test_state_lists_name_the_first_bad_word() -> None:
    assert parse_states("succeeded, merged,rejected,failed") == [
        TaskStatus.SUCCEEDED,
        TaskStatus.MERGED,
        TaskStatus.REJECTED,
        TaskStatus.FAILED,
    ]
    assert parse_states("dead-letter,cancelled") == [TaskStatus.DEAD_LETTER, TaskStatus.CANCELLED]
    with pytest.raises(ValueError, match="unknown state 'sucess'"):
        parse_states("merged,sucess")
    with pytest.raises(ValueError, match="review tasks cannot be archived: it waits for review"):
        parse_states("merged,review")
    with pytest.raises(ValueError, match="empty state name"):
        parse_states("merged,,failed")
    with pytest.raises(ValueError, match="running tasks cannot be archived"):
        ArchiveSelection.model_validate({"states": ["running"]})


# ---- choosing -------------------------------------------------------------------------------------


def test_a_sweep_picks_finished_tasks_by_age_and_state_and_says_nothing_of_the_rest(
    board: Blackboard,
) -> None:
    put_task(board, "old-merged-0001", TaskStatus.MERGED, age_days=10)
    put_task(board, "old-failed-0002", TaskStatus.FAILED, age_days=10)
    put_task(board, "new-failed-0003", TaskStatus.FAILED, age_days=1)
    put_task(board, "old-review-0004", TaskStatus.REVIEW, age_days=10)
    put_task(board, "old-running-0005", TaskStatus.RUNNING, age_days=10)
    now = datetime.now(UTC)

    def picked(**selection: object) -> list[str]:
        report = plan_archive(board, board.states(), ArchiveSelection.model_validate(selection), now)
        assert report.refused == [] and report.kept == []
        return [a.task_id for a in report.archived]

    assert picked() == ["old-merged-0001", "old-failed-0002", "new-failed-0003"]
    assert picked(older_than_s=7 * DAY) == ["old-merged-0001", "old-failed-0002"]
    assert picked(older_than_s=7 * DAY, states=["failed"]) == ["old-failed-0002"]
    assert picked(states=["cancelled"]) == []


def test_named_tasks_that_cannot_go_are_refused_each_with_its_reason(board: Blackboard) -> None:
    put_task(board, "running-task-0001", TaskStatus.RUNNING, age_days=10)
    put_task(board, "review-task-0002", TaskStatus.REVIEW, age_days=10)
    put_task(board, "waiting-task-0003", TaskStatus.AWAITING_DECISION, age_days=10)
    put_task(board, "young-task-0004", TaskStatus.SUCCEEDED, age_days=0.5)
    put_task(board, "merged-task-0005", TaskStatus.MERGED, age_days=10)
    put_task(board, "failed-task-0006", TaskStatus.FAILED, age_days=10)
    selection = ArchiveSelection(
        task_ids=[
            "running-task-0001",
            "review-task-0002",
            "waiting-task-0003",
            "young-task-0004",
            "merged-task-0005",
            "failed-task-0006",
        ],
        older_than_s=7 * DAY,
        states=[TaskStatus.SUCCEEDED, TaskStatus.MERGED],
    )
    report = plan_archive(board, board.states(), selection, datetime.now(UTC))
    assert [a.task_id for a in report.archived] == ["merged-task-0005"]
    reasons = {r.task_id: r.reason for r in report.refused}
    assert reasons == {
        "running-task-0001": "it is running (cancel it first)",
        "review-task-0002": "it waits for review (merge or reject it first)",
        "waiting-task-0003": "it waits for a decision (answer it first: cockpit decisions)",
        "young-task-0004": "it changed 12h ago, not more than 7d ago",
        "failed-task-0006": "it is failed (asked for: succeeded,merged)",
    }


def test_what_still_holds_a_task_is_refused_when_named_and_kept_in_a_sweep(board: Blackboard) -> None:
    gated = put_task(board, "gated-failed-0001", TaskStatus.FAILED, age_days=10)
    card = open_gate(
        DecisionStore(board.root, utc_now), gated, failure_gate(gated, "unknown_error", "?", None)
    )
    put_task(board, "parked-task-0002", TaskStatus.DEAD_LETTER, age_days=10)
    now = time.time()
    letter = DeadLetter(
        task_id="parked-task-0002",
        original_task={},
        error="401",
        error_type=ErrorType.AUTH,
        attempts=1,
        first_attempt=now,
        last_attempt=now,
    )
    DeadLetterQueue(board.root / "dead-letters", time.time).add(letter)
    put_task(board, "merging-task-0003", TaskStatus.MERGED, age_days=10)
    journal = {
        "task_id": "merging-task-0003",
        "base_branch": "main",
        "old": "a" * 40,
        "new": "b" * 40,
        "checkout": None,
        "phase": "prepared",
        "started_at": now,
        "message": "m",
    }
    atomic_write_json(journal_path(board), journal)
    put_task(board, "free-task-0004", TaskStatus.CANCELLED, age_days=10)
    held = {
        "gated-failed-0001": f"{card.id} is pending for it (answer it first: cockpit decisions)",
        "parked-task-0002": "its dead letter is still active (retry or cancel it first)",
        "merging-task-0003": "its merge was cut short (cockpit merge or the next supervisor settles it)",
    }
    sweep = plan_archive(board, board.states(), ArchiveSelection(), datetime.now(UTC))
    assert [a.task_id for a in sweep.archived] == ["free-task-0004"]
    assert {k.task_id: k.reason for k in sweep.kept} == held and sweep.refused == []
    named = plan_archive(board, board.states(), ArchiveSelection(task_ids=sorted(held)), datetime.now(UTC))
    assert {r.task_id: r.reason for r in named.refused} == held and named.archived == []


def test_a_dead_lettered_task_goes_once_its_letter_is_archived(board: Blackboard) -> None:
    put_task(board, "parked-task-0001", TaskStatus.DEAD_LETTER, age_days=10)
    queue = DeadLetterQueue(board.root / "dead-letters", time.time)
    old = time.time() - 8 * DAY
    queue.add(
        DeadLetter(
            task_id="parked-task-0001",
            original_task={},
            error="401",
            error_type=ErrorType.AUTH,
            attempts=1,
            first_attempt=old,
            last_attempt=old,
            created_at=old,
        )
    )
    assert archive_now(board).kept[0].task_id == "parked-task-0001"
    assert queue.archive_old() == ["parked-task-0001"]  # the letters' own 7-day archive
    report = archive_now(board)
    assert [a.task_id for a in report.archived] == ["parked-task-0001"]
    rows = dead_letter_rows(board, time.time, include_archived=True)  # the letter still shows its task
    assert [(r.letter.task_id, r.task_status) for r in rows] == [("parked-task-0001", "dead_letter")]


# ---- moving ---------------------------------------------------------------------------------------


def test_the_move_takes_the_whole_directory_and_says_so(board: Blackboard, forgotten: list[str]) -> None:
    put_task(board, "done-task-0001", TaskStatus.SUCCEEDED, age_days=3)
    put_task(board, "live-task-0002", TaskStatus.REVIEW)
    before = tree(board.task_dir("done-task-0001"))
    report = archive_now(board)
    assert [a.task_id for a in report.archived] == ["done-task-0001"]
    assert not board.task_dir("done-task-0001").exists()
    assert tree(board.archived_task_dir("done-task-0001")) == before  # every file, byte for byte
    assert board.task_ids() == ["live-task-0002"] and board.archived_task_ids() == ["done-task-0001"]
    assert forgotten == ["done-task-0001"]
    (logged,) = events(board, "archived")
    assert (
        logged["task_id"] == "done-task-0001" and logged["status"] == "succeeded" and logged["by"] == "test"
    )
    assert str(logged["line"]).startswith("ARCHIVED done-task-0001: succeeded, last changed 3d ago")
    assert list((board.archive_root / ".moving").iterdir()) == []
    assert archive_now(board, task_ids=["done-task-0001"]).already_archived == ["done-task-0001"]


def test_a_dry_run_moves_nothing(board: Blackboard, forgotten: list[str]) -> None:
    put_task(board, "done-task-0001", TaskStatus.SUCCEEDED)
    report = archive_now(board, dry_run=True)
    assert report.dry_run and [a.task_id for a in report.archived] == ["done-task-0001"]
    assert board.task_ids() == ["done-task-0001"] and forgotten == [] and events(board, "archived") == []


@pytest.mark.parametrize("point", CRASH_POINTS)
def test_a_crash_between_steps_leaves_the_task_whole_and_the_next_pass_finishes(
    board: Blackboard, forgotten: list[str], monkeypatch: pytest.MonkeyPatch, point: str
) -> None:
    put_task(board, "done-task-0001", TaskStatus.MERGED, age_days=2)
    before = tree(board.task_dir("done-task-0001"))

    def crash_at(name: str) -> None:
        if name == point:
            raise Crash(name)

    monkeypatch.setattr(archive_mod, "crash_point", crash_at)
    with pytest.raises(Crash):
        archive_now(board)
    live = board.task_dir("done-task-0001").exists()
    moved = board.archived_task_dir("done-task-0001").exists()
    assert live != moved  # live or archived, never both, never neither
    assert moved == (point != "archive:after-journal")
    assert (
        tree(board.task_dir("done-task-0001") if live else board.archived_task_dir("done-task-0001"))
        == before
    )
    monkeypatch.setattr(archive_mod, "crash_point", lambda name: None)
    finished = finish_interrupted(board)  # what a re-run or the next supervisor does first
    assert finished == ([] if live else ["done-task-0001"])
    assert list((board.archive_root / ".moving").iterdir()) == []
    if live:  # the move never happened: the task is simply live, and archived by the next pass
        assert forgotten == [] and events(board, "archived") == []
        assert [a.task_id for a in archive_now(board).archived] == ["done-task-0001"]
    assert tree(board.archived_task_dir("done-task-0001")) == before
    assert not board.task_dir("done-task-0001").exists()
    assert "done-task-0001" in forgotten
    said = 2 if point == "archive:before-journal-removal" else 1  # cut after the line: said again
    assert len(events(board, "archived")) == said


def test_an_unreadable_journal_is_set_aside_and_the_move_still_finishes(
    board: Blackboard, forgotten: list[str]
) -> None:
    put_task(board, "done-task-0001", TaskStatus.FAILED)
    board.archive_root.mkdir()
    board.task_dir("done-task-0001").rename(board.archived_task_dir("done-task-0001"))
    (board.archive_root / ".moving").mkdir()
    (board.archive_root / ".moving" / "done-task-0001.json").write_text("{torn")
    assert finish_interrupted(board) == ["done-task-0001"]
    assert forgotten == ["done-task-0001"] and len(board.quarantined()) == 1
    (logged,) = events(board, "archived")
    assert logged["by"] == "(recovered)"


def test_an_archived_id_is_never_reused(board: Blackboard, monkeypatch: pytest.MonkeyPatch) -> None:
    put_task(board, "write-notes-aaaa", TaskStatus.SUCCEEDED)
    archive_now(board)
    ids = iter(["write-notes-aaaa", "write-notes-bbbb"])
    monkeypatch.setattr("cockpit.core.commands.make_task_id", lambda title: next(ids))
    payload = prepare_submission(board, envelope_from_mapping({"goal": "Write notes", "lane": "local"}))
    assert payload["task_id"] == "write-notes-bbbb"
    envelope = envelope_from_mapping({"goal": "again", "lane": "local"}).model_dump(mode="json")
    board.drop("submit", {"task_id": "write-notes-aaaa", "envelope": envelope})  # e.g. an old client's
    Supervisor(board, env={}).accept_inbox()
    assert board.task_ids() == [] and len(board.quarantined()) == 1  # set aside, the archive untouched


# ---- worktrees ------------------------------------------------------------------------------------


def with_worktree(repo: Path, board: Blackboard, task_id: str, status: TaskStatus, dirty: bool) -> Path:
    put_task(board, task_id, status, lane="worktree")
    path = board.worktree_path(task_id)
    create_worktree(open_repo(repo), path, f"cockpit/{task_id}", Repo(repo).head.commit.hexsha)
    state = board.read_state(task_id)
    assert state is not None
    state.branch, state.worktree = f"cockpit/{task_id}", str(path)
    board.write_state(state)
    if dirty:
        (path / "half-done.txt").write_text("the worker's unfinished work\n")
    return path


def test_a_clean_worktree_goes_and_a_dirty_one_stays_and_no_branch_is_touched(
    repo: Path, board: Blackboard
) -> None:
    clean = with_worktree(repo, board, "clean-failed-0001", TaskStatus.FAILED, dirty=False)
    dirty = with_worktree(repo, board, "dirty-failed-0002", TaskStatus.FAILED, dirty=True)
    rejected = with_worktree(repo, board, "dirty-rejected-0003", TaskStatus.REJECTED, dirty=True)
    report = archive_now(board)
    notes = {a.task_id: a.note for a in report.archived}
    assert notes == {
        "clean-failed-0001": "worktree removed (clean); branch cockpit/clean-failed-0001 kept",
        "dirty-failed-0002": f"worktree kept: it holds uncommitted changes ({dirty})",
        "dirty-rejected-0003": "leftover worktree removed",
    }
    assert not clean.exists() and not rejected.exists()
    assert (dirty / "half-done.txt").read_text() == "the worker's unfinished work\n"
    branches = {h.name for h in Repo(repo).heads}
    assert {
        "cockpit/clean-failed-0001",
        "cockpit/dirty-failed-0002",
        "cockpit/dirty-rejected-0003",
    } <= branches
    worktrees = Repo(repo).git.worktree("list")
    assert str(dirty) in worktrees and str(clean) not in worktrees
    logged = {e["task_id"]: e.get("worktree") for e in events(board, "archived")}
    assert logged == notes


# ---- lookups --------------------------------------------------------------------------------------


def test_archived_tasks_are_found_by_readers_and_refused_to_writers(board: Blackboard) -> None:
    put_task(board, "shared-prefix-0001", TaskStatus.MERGED)
    put_task(board, "shared-prefix-0002", TaskStatus.REVIEW)
    archive_now(board, task_ids=["shared-prefix-0001"])
    with pytest.raises(UnknownTask, match="shared-prefix-0001 is archived; archived tasks are read only"):
        board.resolve_task("shared-prefix-0001")
    assert board.resolve_task("shared-prefix-0001", archived=True) == "shared-prefix-0001"
    assert board.resolve_task("shared-prefix-0002") == "shared-prefix-0002"
    with pytest.raises(UnknownTask, match="ambiguous"):
        board.resolve_task("shared-prefix", archived=True)
    state = board.read_state("shared-prefix-0001", archived=True)
    assert state is not None and state.status == TaskStatus.MERGED
    assert board.read_state("shared-prefix-0001") is None  # the live board no longer has it
    envelope = board.read_envelope("shared-prefix-0001", archived=True)
    assert envelope is not None and envelope.goal == "Do shared-prefix-0001"
    events_file = board.attempt_dir("shared-prefix-0001", 1, archived=True) / "events.jsonl"
    assert events_file.parent.parent.parent == board.archived_task_dir("shared-prefix-0001")
    assert events_file.exists()
    assert [s.id for s in board.states()] == ["shared-prefix-0002"]
    assert [s.id for s in board.archived_states()] == ["shared-prefix-0001"]


def test_status_health_still_counts_archived_tasks(board: Blackboard) -> None:
    gated = put_task(board, "gated-task-0001", TaskStatus.FAILED)
    store = DecisionStore(board.root, utc_now)
    card = open_gate(store, gated, failure_gate(gated, "unknown_error", "?", None))
    store.answer(card.id, card.recommended)
    for n in range(2, 9):
        put_task(board, f"plain-task-000{n}", TaskStatus.SUCCEEDED)
    (rate,) = [line for line in health_lines(board) if line.startswith("escalation rate")]
    assert rate.startswith("escalation rate: 12% of 8 tasks")
    archive_now(board, task_ids=["gated-task-0001", "plain-task-0002", "plain-task-0003"])
    lines = health_lines(board)
    assert rate in lines and "archived tasks: 3 (cockpit status --all)" in lines


# ---- through the supervisor -----------------------------------------------------------------------


def test_the_supervisor_archives_on_request_tasks_it_keeps_no_state_of_in_memory(
    board: Blackboard, forgotten: list[str]
) -> None:
    put_task(board, "done-task-0001", TaskStatus.SUCCEEDED)
    put_task(board, "review-task-0002", TaskStatus.REVIEW)
    put_task(board, "queued-task-0003", TaskStatus.QUEUED)
    supervisor = Supervisor(board, env={})
    supervisor.recover()
    assert set(supervisor.actionable) == {"queued-task-0003"}  # the others are read when named
    selection = ArchiveSelection(task_ids=["done-task-0001", "review-task-0002"]).model_dump(mode="json")
    raw_drop(board, "archive", {"selection": selection, "request_id": "1-1", "expires_at": expires_in(60)})
    supervisor.accept_inbox()
    reply = board.take_reply("1-1")
    assert reply is not None and reply["ok"] is True
    report = archive_mod.ArchiveReport.model_validate(reply["report"])
    assert [a.task_id for a in report.archived] == ["done-task-0001"]
    assert [(r.task_id, r.reason) for r in report.refused] == [
        ("review-task-0002", "it waits for review (merge or reject it first)")
    ]
    assert set(supervisor.actionable) == {"queued-task-0003"} and supervisor.live_tasks == 2
    assert board.is_archived("done-task-0001") and forgotten == ["done-task-0001"]
    supervisor.step(dispatch=False)  # later passes write nothing back into tasks/
    assert board.task_ids() == ["queued-task-0003", "review-task-0002"]


def test_a_sweep_chooses_from_the_summaries_and_reads_in_full_only_the_tasks_it_moves(
    board: Blackboard, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(12):
        put_task(board, f"recent-{n:04d}", TaskStatus.SUCCEEDED, ledger=False)
    put_task(board, "old-done-0001", TaskStatus.MERGED, age_days=9, ledger=False)
    put_task(board, "old-failed-0002", TaskStatus.FAILED, age_days=9, ledger=False)
    changed = put_task(board, "old-changed-0003", TaskStatus.CANCELLED, age_days=9, ledger=False)
    # Its state file moved on behind the index (a writer killed before its line): it stays.
    changed.status = TaskStatus.QUEUED
    atomic_write_json(board.task_dir(changed.id) / "state.json", changed.model_dump(mode="json"))
    supervisor = Supervisor(board, env={})
    supervisor.live_tasks = 15
    read: list[str] = []
    real = Blackboard.read_state

    def counted(self: Blackboard, task_id: str, *, archived: bool = False) -> TaskState | None:
        read.append(task_id)
        return real(self, task_id, archived=archived)

    monkeypatch.setattr(Blackboard, "read_state", counted)
    monkeypatch.setattr(Blackboard, "states", lambda *_: pytest.fail("every state file was read"))
    report = supervisor._archive(ArchiveSelection(older_than_s=7 * DAY), datetime.now(UTC), by="test")
    assert sorted(a.task_id for a in report.archived) == ["old-done-0001", "old-failed-0002"]
    assert [(k.task_id, k.reason) for k in report.kept] == [
        ("old-changed-0003", "it changed since it was chosen (it is queued now); archive again")
    ]
    assert sorted(read) == ["old-changed-0003", "old-done-0001", "old-failed-0002"]  # the chosen only
    assert board.task_ids()[-1] == "recent-0011" and "old-changed-0003" in board.task_ids()
    assert supervisor.live_tasks == 13


def test_a_malformed_archive_request_is_refused_and_moves_nothing(board: Blackboard) -> None:
    put_task(board, "done-task-0001", TaskStatus.SUCCEEDED)
    bad = {"selection": {"states": ["running"]}, "request_id": "2-2", "expires_at": expires_in(60)}
    raw_drop(board, "archive", bad)
    raw_drop(board, "archive", {"selection": {}, "request_id": "3-3", "expires_at": expires_in(-1)})
    escape = {"selection": {"task_ids": ["../../tasks"]}, "request_id": "4-4", "expires_at": expires_in(60)}
    raw_drop(board, "archive", escape)
    raw_drop(board, "archive", {"selection": "all", "request_id": "5-5", "expires_at": expires_in(60)})
    Supervisor(board, env={}).accept_inbox()
    for request_id, said in (("4-4", "invalid task id '../../tasks'"), ("5-5", "invalid selection")):
        reply = board.take_reply(request_id)
        assert reply is not None and reply["status"] == "refused" and said in reply["error"]
    refused = board.take_reply("2-2")
    assert refused is not None and refused["status"] == "refused"
    assert (
        "invalid selection: states" in refused["error"]
        and "running tasks cannot be archived" in refused["error"]
    )
    expired = board.take_reply("3-3")
    assert expired is not None and expired["status"] == "expired"
    assert board.task_ids() == ["done-task-0001"] and board.archived_task_ids() == []


def test_without_a_supervisor_the_command_archives_under_the_lock(board: Blackboard) -> None:
    put_task(board, "done-task-0001", TaskStatus.CANCELLED)
    report = run_archive(board, ArchiveSelection())
    assert [a.task_id for a in report.archived] == ["done-task-0001"]
    assert board.supervisor_pid() is None  # the lock was let go


def test_after_days_archives_at_start_up_then_hourly_and_never_what_waits(board: Blackboard) -> None:
    (board.root / "config.toml").write_text("[archive]\nafter_days = 7\n")
    put_task(board, "old-done-0001", TaskStatus.MERGED, age_days=8)
    put_task(board, "old-review-0002", TaskStatus.REVIEW, age_days=30)
    put_task(board, "almost-done-0003", TaskStatus.FAILED, age_days=7 - 1 / 48)  # 30 min short of 7 days
    clock = ShiftedClock()
    supervisor = Supervisor(board, env={}, clock=clock)
    supervisor.recover()
    supervisor.step(dispatch=False)  # the first pass is the start-up one
    assert board.archived_task_ids() == ["old-done-0001"] and supervisor.actionable == {}
    (logged,) = events(board, "archived")
    assert logged["by"] == "after_days = 7"
    clock.advance(1800)  # half an hour on: the task is old enough, but the next pass is hourly
    supervisor.housekeeping(clock())
    assert board.archived_task_ids() == ["old-done-0001"]
    clock.advance(1800)
    supervisor.housekeeping(clock())
    assert board.archived_task_ids() == ["almost-done-0003", "old-done-0001"]
    assert board.task_ids() == ["old-review-0002"]


def test_after_days_is_off_by_default(board: Blackboard) -> None:
    put_task(board, "old-done-0001", TaskStatus.MERGED, age_days=400)
    supervisor = Supervisor(board, env={})
    supervisor.recover()
    supervisor.step(dispatch=False)
    assert board.archived_task_ids() == [] and board.task_ids() == ["old-done-0001"]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("-1", "greater than or equal to 0"),
        ('"7"', "valid integer"),
        ("1.5", "valid integer"),
        ("true", "valid integer"),
    ],
)
def test_after_days_must_be_a_non_negative_integer(tmp_path: Path, value: str, message: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f"[archive]\nafter_days = {value}\n")
    with pytest.raises(ConfigError, match=rf"^invalid config: archive.after_days: .*{message}"):
        load_config(path, user_path=tmp_path / "none.toml")
