"""Board files are private (directories 0700, files 0600, whatever the umask) and a write that fails
on a full disk leaves neither a temp file nor a torn line, and names the file it was writing."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from cockpit.core import atomic
from cockpit.core.atomic import append_jsonl, atomic_write_json, disk_error_text, disk_full
from cockpit.core.board.blackboard import Blackboard


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def loose_umask() -> Iterator[None]:
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def test_a_new_board_is_private_whatever_the_umask(tmp_path: Path, loose_umask: None) -> None:
    board = Blackboard(tmp_path)
    board.init()
    board.log_event({"kind": "x"})
    board.append_ledger({"task_id": "t"})
    drop = board.drop("cancel", {"task_id": "abc-0001"})
    atomic_write_json(board.task_dir("abc-0001") / "attempts" / "1" / "spec.json", {"a": 1})
    with board.lock():
        pass
    dirs = [p for p in board.root.rglob("*") if p.is_dir()] + [board.root]
    files = [p for p in board.root.rglob("*") if p.is_file()]
    assert drop in files and board.lock_path in files and len(files) >= 5
    assert {str(p): mode(p) for p in dirs} == {str(p): 0o700 for p in dirs}
    assert {str(p): mode(p) for p in files} == {str(p): 0o600 for p in files}


def test_an_existing_board_is_narrowed_on_init_but_not_its_worktrees(tmp_path: Path) -> None:
    board = Blackboard(tmp_path)
    board.init()
    state = board.task_dir("abc-0001") / "state.json"
    atomic_write_json(state, {})
    checkout = board.worktree_path("abc-0001")
    (checkout / "bin").mkdir(parents=True)
    (checkout / "bin" / "run.sh").write_text("#!/bin/sh\n")
    os.chmod(checkout / "bin" / "run.sh", 0o755)
    for path in (board.root, board.task_dir("abc-0001"), board.root / "tasks"):
        os.chmod(path, 0o755)
    os.chmod(state, 0o644)
    Blackboard(tmp_path).init()
    assert mode(board.root) == 0o700 and mode(board.task_dir("abc-0001")) == 0o700
    assert mode(state) == 0o600
    assert mode(checkout / "bin" / "run.sh") == 0o755  # a checkout of the user's repo keeps its modes


def _enospc(*_args: object, **_kwargs: object) -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_failed_atomic_write_leaves_the_old_file_and_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "state.json"
    atomic_write_json(target, {"old": True})
    monkeypatch.setattr(atomic.os, "replace", _enospc)
    with pytest.raises(OSError) as caught:
        atomic_write_json(target, {"new": True})
    assert disk_full(caught.value)
    assert disk_error_text(caught.value) == f"no space left on device while writing {target}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]
    assert target.read_text() == '{\n  "old": true\n}\n'


def test_a_line_cut_by_a_full_disk_is_taken_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "events.jsonl"
    append_jsonl(log, {"n": 1})
    real_write = os.write

    def short_write(fd: int, data: bytes) -> int:
        return real_write(fd, data[:5])  # the disk filled after five bytes

    monkeypatch.setattr(atomic.os, "write", short_write)
    with pytest.raises(OSError) as caught:
        append_jsonl(log, {"n": 2, "text": "a longer line"})
    assert caught.value.errno == errno.ENOSPC and caught.value.filename == str(log)
    monkeypatch.undo()
    append_jsonl(log, {"n": 3})
    assert log.read_text() == '{"n":1}\n{"n":3}\n'


def test_disk_error_words_follow_the_errno() -> None:
    quota = OSError(errno.EDQUOT, "Disk quota exceeded", "/x/y")
    read_only = OSError(errno.EROFS, "Read-only file system", "/x/y")
    assert disk_full(quota) and disk_full(read_only) and not disk_full(OSError(errno.EACCES, "no"))
    assert disk_error_text(quota) == "disk quota exceeded while writing /x/y"
    assert disk_error_text(read_only) == "read-only file system while writing /x/y"
