"""The task index: the journal every state write appends to, and its reader that follows it with one
``stat`` per poll, falls back to reading every state file when the journal cannot be trusted alone, and
reloads after a rebuild."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from cockpit.core.atomic import atomic_write_json
from cockpit.core.board.blackboard import Blackboard
from cockpit.core.board.task_index import writer as task_index_module
from cockpit.core.board.task_index.briefs import briefs
from cockpit.core.board.task_index.lines import IndexHeader, Removal, parse_record
from cockpit.core.board.task_index.reader import TaskIndexReader
from cockpit.core.board.task_index.scan import scan_summaries
from cockpit.core.board.task_summary import TaskSummary
from cockpit.core.layout import TASK_INDEX_FILE
from cockpit.core.records.basics import TaskStatus
from cockpit.core.records.task import TaskState


@pytest.fixture
def board(tmp_path: Path) -> Blackboard:
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    board = Blackboard(repo)
    board.init()
    return board


def state(task_id: str, lane: str = "local", status: TaskStatus = TaskStatus.QUEUED) -> TaskState:
    return TaskState(id=task_id, lane=lane, title=f"Task {task_id}", status=status)


def journal(board: Blackboard) -> Path:
    return board.root / TASK_INDEX_FILE


def lines_of(board: Blackboard) -> list[bytes]:
    return journal(board).read_bytes().split(b"\n")


def write_behind_the_index(board: Blackboard, st: TaskState) -> None:
    """What a writer that died between its state file and its index line leaves behind."""
    st.touch()
    atomic_write_json(board.task_dir(st.id) / "state.json", st.model_dump(mode="json"))


def truth(board: Blackboard) -> dict[str, TaskSummary]:
    """The live tasks as their state files say."""
    return scan_summaries(board)


def test_a_new_board_has_a_complete_empty_index_and_each_write_appends_one_line(board: Blackboard) -> None:
    [head] = [line for line in lines_of(board) if line]
    header = IndexHeader.model_validate_json(head)
    assert header.complete and header.index == 1
    board.write_state(state("alpha-0001"))
    board.write_state(state("beta-0002", status=TaskStatus.RUNNING))
    board.write_state(state("alpha-0001", status=TaskStatus.SUCCEEDED))
    lines = lines_of(board)
    assert lines[-1] == b"" and len(lines) == 5  # header, three records, and the final newline
    records = [parse_record(line) for line in lines[1:-1]]
    assert [(r.id, r.status) for r in records if isinstance(r, TaskSummary)] == [
        ("alpha-0001", TaskStatus.QUEUED),
        ("beta-0002", TaskStatus.RUNNING),
        ("alpha-0001", TaskStatus.SUCCEEDED),
    ]
    assert os.stat(journal(board)).st_mode & 0o777 == 0o600


def test_the_reader_keeps_the_last_record_of_each_task(board: Blackboard) -> None:
    for n, status in enumerate((TaskStatus.QUEUED, TaskStatus.RUNNING, TaskStatus.REVIEW)):
        board.write_state(state("alpha-0001", lane="worktree", status=status))
        board.write_state(state(f"other-{n:04d}"))
    reader = TaskIndexReader(board)
    changes = reader.poll()
    assert reader.tasks == truth(board)
    assert reader.tasks["alpha-0001"].status == TaskStatus.REVIEW
    assert set(changes) == set(reader.tasks) and all(old is None for old, _ in changes.values())
    assert reader.rescans == 0


def test_a_poll_reads_only_the_lines_appended_since_and_nothing_when_nothing_changed(
    board: Blackboard, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(20):
        board.write_state(state(f"task-{n:04d}"))
    reader = TaskIndexReader(board)
    reader.poll()
    read_before = reader.lines_read
    board.write_state(state("task-0003", status=TaskStatus.RUNNING))
    board.write_state(state("task-0020"))
    changes = reader.poll()
    assert reader.lines_read - read_before == 2
    assert set(changes) == {"task-0003", "task-0020"}
    old, new = changes["task-0003"]
    assert old is not None and old.status == TaskStatus.QUEUED
    assert new is not None and new.status == TaskStatus.RUNNING
    assert changes["task-0020"][0] is None

    opened: list[str] = []
    real_open = open

    def spy_open(path: object, *args: object, **kwargs: object) -> object:
        opened.append(str(path))
        return real_open(path, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr("builtins.open", spy_open)
    monkeypatch.setattr(Blackboard, "read_state", lambda *_: pytest.fail("a state file was read"))
    monkeypatch.setattr(Blackboard, "task_ids", lambda *_: pytest.fail("tasks/ was listed"))
    read_before = reader.lines_read
    for _ in range(5):
        assert reader.poll() == {}
    assert opened == [] and reader.lines_read == read_before


def test_an_incomplete_last_line_waits_for_the_rest(board: Blackboard) -> None:
    board.write_state(state("alpha-0001"))
    reader = TaskIndexReader(board)
    reader.poll()
    line = TaskSummary.of(state("beta-0002")).model_dump_json().encode() + b"\n"
    with open(journal(board), "ab") as fh:  # a write still under way
        fh.write(line[:40])
    assert reader.poll() == {} and "beta-0002" not in reader.tasks
    with open(journal(board), "ab") as fh:
        fh.write(line[40:])
    assert set(reader.poll()) == {"beta-0002"}
    assert reader.rescans == 0


def test_a_torn_last_line_then_a_compaction_is_loaded_from_the_new_journal(board: Blackboard) -> None:
    for n in range(3):
        board.write_state(state(f"task-{n:04d}"))
    board.write_state(state("task-0001", status=TaskStatus.RUNNING))
    reader = TaskIndexReader(board)
    reader.poll()
    first = reader.generation
    with open(journal(board), "ab") as fh:  # a writer died in the middle of its line
        fh.write(TaskSummary.of(state("task-0002", status=TaskStatus.FAILED)).model_dump_json().encode()[:40])
    assert reader.poll() == {}  # the fragment is left on disk, unread
    board.task_index.compact(scan=lambda: pytest.fail("a valid journal is compacted from itself"))
    assert b"FAILED" not in journal(board).read_bytes()
    assert reader.poll() == {} and reader.rescans == 0  # the same tasks, from the new file
    assert reader.generation not in (None, first)
    board.write_state(state("task-0003"))
    assert set(reader.poll()) == {"task-0003"} and reader.tasks == truth(board)


def test_a_journal_cut_short_in_place_is_loaded_again(board: Blackboard) -> None:
    for n in range(3):
        board.write_state(state(f"task-{n:04d}"))
    reader = TaskIndexReader(board)
    reader.poll()
    keep = sum(len(line) + 1 for line in lines_of(board)[:2])  # the header and task-0000's line
    os.truncate(journal(board), keep)
    changes = reader.poll()
    assert set(changes) == {"task-0001", "task-0002"} and all(new is None for _, new in changes.values())
    assert set(reader.tasks) == {"task-0000"} and reader.rescans == 0
    board.write_state(state("task-0001", status=TaskStatus.RUNNING))  # read as an append again
    assert set(reader.poll()) == {"task-0001"} and reader.rescans == 0


def test_a_journal_replaced_between_two_polls_is_read_from_its_first_line(board: Blackboard) -> None:
    for n in range(3):
        board.write_state(state(f"task-{n:04d}"))
    reader = TaskIndexReader(board)
    reader.poll()
    journal(board).unlink()
    board.write_state(state("task-0003"))  # creates a journal that is not complete: readers rescan
    assert set(reader.poll()) == {"task-0003"}
    assert reader.rescans == 1 and reader.tasks == truth(board)
    board.write_state(state("task-0000", status=TaskStatus.RUNNING))
    assert set(reader.poll()) == {"task-0000"} and reader.rescans == 1


def test_a_record_is_never_glued_onto_a_torn_line(board: Blackboard) -> None:
    board.write_state(state("alpha-0001"))
    torn = TaskSummary.of(state("alpha-0001", status=TaskStatus.RUNNING)).model_dump_json().encode()[:50]
    with open(journal(board), "ab") as fh:  # a writer died in the middle of its line
        fh.write(torn)
    board.write_state(state("beta-0002"))
    lines = lines_of(board)
    assert lines[-3] == torn and lines[-1] == b""
    assert parse_record(lines[-2]).id == "beta-0002"
    with pytest.raises(ValueError):
        parse_record(torn)


def test_a_torn_line_makes_readers_rescan_and_nothing_is_missed(board: Blackboard) -> None:
    for n in range(5):
        board.write_state(state(f"task-{n:04d}"))
    reader = TaskIndexReader(board)
    reader.poll()
    # The writer dies after replacing task-0002's state file, half way through its index line.
    changed = state("task-0002", status=TaskStatus.FAILED)
    write_behind_the_index(board, changed)
    with open(journal(board), "ab") as fh:
        fh.write(TaskSummary.of(changed).model_dump_json().encode()[:60])
    assert reader.poll() == {}  # an incomplete last line: maybe still being written
    board.write_state(state("task-0005", status=TaskStatus.RUNNING))  # closes the torn line
    changes = reader.poll()
    assert reader.rescans == 1
    assert set(changes) == {"task-0002", "task-0005"}
    assert reader.tasks == truth(board)
    # A new reader meets the invalid line too, and rescans from the start.
    fresh = TaskIndexReader(board)
    fresh.poll()
    assert fresh.rescans == 1 and fresh.tasks == truth(board)
    # The lock holder compacts it away; every reader loads the new journal without rescanning.
    assert board.task_index.due(live=6) is not None
    board.task_index.compact(scan=lambda: scan_summaries(board))
    assert board.task_index.due(live=6) is None
    assert reader.poll() == {} and reader.rescans == 1
    assert TaskIndexReader(board).poll() and all(parse_record(x) for x in lines_of(board)[1:-1])


def test_a_missing_journal_makes_readers_rescan_and_an_append_brings_it_back(board: Blackboard) -> None:
    for n in range(3):
        board.write_state(state(f"task-{n:04d}"))
    reader = TaskIndexReader(board)
    reader.poll()
    journal(board).unlink()
    write_behind_the_index(board, state("task-0001", status=TaskStatus.CANCELLED))
    assert set(reader.poll()) == {"task-0001"}
    assert reader.rescans == 1 and reader.tasks == truth(board)
    assert reader.poll() == {} and reader.rescans == 1  # still missing: nothing was written since
    board.write_state(state("task-0003"))  # recreates the journal: not complete, so readers rescan
    header = IndexHeader.model_validate_json(lines_of(board)[0])
    assert not header.complete
    assert set(reader.poll()) == {"task-0003"}
    assert reader.rescans == 2 and reader.tasks == truth(board)
    fresh = TaskIndexReader(board)
    fresh.poll()
    assert fresh.rescans == 1 and fresh.tasks == truth(board)
    assert board.task_index.due(live=4) is not None  # the lock holder rebuilds it


def test_a_rebuild_has_a_new_generation_and_readers_load_it(board: Blackboard) -> None:
    for n in range(4):
        board.write_state(state(f"task-{n:04d}"))
        board.write_state(state(f"task-{n:04d}", status=TaskStatus.RUNNING))
    reader = TaskIndexReader(board)
    reader.poll()
    first = reader.generation
    size = journal(board).stat().st_size
    board.task_index.compact(scan=lambda: pytest.fail("a valid journal is compacted from itself"))
    assert journal(board).stat().st_size < size
    assert reader.poll() == {}  # the same tasks, from a new file
    assert reader.generation not in (None, first) and reader.rescans == 0
    board.write_state(state("task-0001", status=TaskStatus.SUCCEEDED))
    assert set(reader.poll()) == {"task-0001"}
    assert reader.tasks == truth(board)


def test_a_reload_keeps_the_objects_of_the_tasks_that_did_not_change(board: Blackboard) -> None:
    for n in range(6):
        board.write_state(state(f"task-{n:04d}"))
    reader = TaskIndexReader(board)
    reader.poll()
    before = dict(reader.tasks)
    board.write_state(state("task-0002", status=TaskStatus.RUNNING))
    board.task_index.compact(scan=lambda: pytest.fail("a valid journal is compacted from itself"))
    assert set(reader.poll()) == {"task-0002"} and reader.rescans == 0
    assert all(reader.tasks[i] is before[i] for i in before if i != "task-0002")
    assert reader.tasks["task-0002"].status == TaskStatus.RUNNING and reader.tasks == truth(board)


def test_appends_during_rebuilds_are_never_lost(board: Blackboard) -> None:
    """A writer blocked by a rebuild's lock finds the new file after the rename and appends there."""
    writes = 150
    done = threading.Event()

    def writer() -> None:
        try:
            for n in range(writes):
                board.task_index.record(
                    TaskSummary.of(state(f"task-{n % 30:04d}", status=TaskStatus.RUNNING))
                )
                board.task_index.record(TaskSummary.of(state(f"new-{n:04d}")))
        finally:
            done.set()

    thread = threading.Thread(target=writer)
    thread.start()
    rebuilds = 0
    while not done.is_set() or rebuilds == 0:
        board.task_index.compact(scan=lambda: pytest.fail("the journal stays valid"))
        rebuilds += 1
    thread.join()
    reader = TaskIndexReader(board)
    reader.poll()
    assert reader.rescans == 0
    assert {f"new-{n:04d}" for n in range(writes)} <= set(reader.tasks)
    assert {f"task-{n:04d}" for n in range(30)} <= set(reader.tasks)
    assert rebuilds > 1


def test_forget_task_removes_it_from_readers(board: Blackboard, tmp_path: Path) -> None:
    board.write_state(state("keep-0001"))
    board.write_state(state("archive-0002", status=TaskStatus.MERGED))
    reader = TaskIndexReader(board)
    reader.poll()
    shutil.move(board.task_dir("archive-0002"), tmp_path / "archived")  # what the archive command does
    board.forget_task("archive-0002")
    assert parse_record(lines_of(board)[-2]) == Removal(gone="archived", id="archive-0002")
    changes = reader.poll()
    assert set(changes) == {"archive-0002"} and changes["archive-0002"][1] is None
    assert set(reader.tasks) == {"keep-0001"} == set(truth(board))
    board.task_index.compact(scan=lambda: pytest.fail("the journal stays valid"))
    assert b"archive-0002" not in journal(board).read_bytes()


def test_a_full_disk_while_appending_keeps_the_state_and_readers_miss_nothing(
    board: Blackboard, monkeypatch: pytest.MonkeyPatch
) -> None:
    board.write_state(state("alpha-0001"))
    reader = TaskIndexReader(board)
    reader.poll()
    real_write = os.write

    def full(fd: int, data: bytes) -> int:
        if os.fstat(fd).st_ino == journal(board).stat().st_ino:
            written = real_write(fd, data[:10])  # part of the line fits, then the disk is full
            assert written == 10
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    monkeypatch.setattr(task_index_module.os, "write", full)
    board.write_state(state("alpha-0001", status=TaskStatus.RUNNING))  # does not raise
    monkeypatch.undo()
    assert board.read_state("alpha-0001").status == TaskStatus.RUNNING  # type: ignore[union-attr]
    assert not journal(board).exists()
    assert set(reader.poll()) == {"alpha-0001"} and reader.rescans == 1
    assert reader.tasks == truth(board)
    assert board.task_index.due(live=1) is not None


def test_the_index_is_due_for_compaction_when_it_outgrows_the_tasks(
    board: Blackboard, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(task_index_module, "COMPACT_SLACK", 10)
    board.task_index.rebuild([])
    summary = TaskSummary.of(state("busy-0001", status=TaskStatus.RUNNING))
    for _ in range(12):  # 1 header + 12 lines > 2 * 1 + 10
        assert board.task_index.due(live=1) is None
        board.task_index.record(summary)
    assert board.task_index.due(live=1) == "13 lines for 1 tasks"
    board.task_index.compact(scan=lambda: pytest.fail("the journal stays valid"))
    assert len(lines_of(board)) == 3 and board.task_index.due(live=1) is None


def test_a_rebuild_keeps_what_was_appended_after_its_mark(board: Blackboard) -> None:
    board.write_state(state("alpha-0001"))
    mark = board.task_index.mark()
    summaries = list(truth(board).values())  # the state files as read at start-up
    board.write_state(state("alpha-0001", status=TaskStatus.RUNNING))  # written meanwhile
    board.write_state(state("beta-0002"))
    board.task_index.rebuild(summaries, since=mark, scan=lambda: pytest.fail("nothing was torn"))
    reader = TaskIndexReader(board)
    reader.poll()
    assert reader.rescans == 0 and reader.tasks == truth(board)


def test_briefs_come_from_the_journal_alone_and_from_the_state_files_when_it_cannot_be_trusted(
    board: Blackboard, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(4):
        board.write_state(state(f"task-{n:04d}", status=TaskStatus.SUCCEEDED))
    board.write_state(state("task-0002", status=TaskStatus.MERGED))
    truth_now = {s.id: (s.status, s.created_at, s.updated_at) for s in truth(board).values()}
    with monkeypatch.context() as patched:
        patched.setattr(Blackboard, "read_stamped_state", lambda *_, **__: pytest.fail("a state was read"))
        found = {b.id: (b.status, b.created_at, b.updated_at) for b in briefs(board)}
    assert found == truth_now
    with open(journal(board), "ab") as fh:
        fh.write(b"not json\n")
    write_behind_the_index(board, state("task-0001", status=TaskStatus.FAILED))  # seen by a scan alone
    rescanned = {b.id: b.status for b in briefs(board)}
    assert rescanned == {i: s.status for i, s in truth(board).items()}
    assert rescanned["task-0001"] == TaskStatus.FAILED
