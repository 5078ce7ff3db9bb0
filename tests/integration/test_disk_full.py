"""A full disk, for real: a small tmpfs holds the repository and its board. ``cockpit submit`` says so
in one line (exit 1, no traceback, nothing left behind); the supervisor says so once, stops
dispatching, keeps running, and picks the work up when space returns."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cockpit.core.board.blackboard import Blackboard
from cockpit.core.commands import submit
from cockpit.core.envelope.model import envelope_from_mapping
from cockpit.core.supervisor import loop as supervisor_module
from cockpit.demo.repo import make_demo_repo
from cockpit.demo.scripted_model import ScriptedModel
from tests.helpers.scripted_steps import say, scenario
from tests.helpers.supervisor import SupervisorThread

COCKPIT = Path(sys.executable).parent / "cockpit"


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A 16 MB tmpfs (needs the right to mount: skipped where that is not given)."""
    mount = tmp_path / "fs"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)], capture_output=True, text=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(fs: Path) -> Path:
    """Fill the file system to the last byte; returns the filler (delete it to free the space)."""
    filler = fs / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    block = b"\0" * (1 << 16)
    try:
        while True:
            try:
                if os.write(fd, block) < len(block):
                    block = b"\0"
            except OSError as exc:
                if exc.errno != errno.ENOSPC or len(block) == 1:
                    assert exc.errno == errno.ENOSPC
                    break
                block = b"\0"
    finally:
        os.close(fd)
    return filler


def leftovers(board: Blackboard) -> list[Path]:
    return [p for p in board.root.rglob("*") if p.name.endswith(".tmp")]


def make_repo(fs: Path) -> Blackboard:
    repo = fs / "repo"
    make_demo_repo(repo)
    board = Blackboard(repo)
    board.init()
    return board


def test_submit_on_a_full_disk_is_one_line_and_changes_nothing(small_fs: Path) -> None:
    board = make_repo(small_fs)
    filler = fill(small_fs)
    argv = [str(COCKPIT), "--repo", str(board.repo), "submit", "--goal", "Write NOTES.md"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout == "" and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith(f"cockpit: no space left on device while writing {board.root}/inbox/")
    assert done.stderr.endswith("; nothing was changed\n")
    assert board.inbox() == [] and leftovers(board) == []
    filler.unlink()
    again = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert again.returncode == 0, again.stderr
    assert len(board.inbox()) == 1


@pytest.mark.codex
def test_the_supervisor_pauses_on_a_full_disk_and_resumes_with_space(
    small_fs: Path,
    scripted_model: ScriptedModel,
    cockpit_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(supervisor_module, "DISK_FULL_RETRY_S", 0.3)
    scripted_model.add_scenario(scenario("roomy-job", say("COMPLETED: roomy")))
    board = make_repo(small_fs)
    task_id = submit(board, envelope_from_mapping({"goal": "Do the roomy-job", "lane": "local"}))
    filler = fill(small_fs)
    sup = SupervisorThread(board, cockpit_env)
    notices: list[str] = []
    sup.supervisor.on_notice = notices.append
    sup.start()
    try:
        deadline = time.monotonic() + 30
        while not notices and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.0)  # several retries while the disk stays full
        assert sup.error is None and sup.supervisor.disk_full is not None
        assert notices == [
            f"cockpit: no space left on device while writing {board.task_dir(task_id)}/envelope.json; "
            "dispatching paused, retrying every 0.3s"
        ]
        assert [i.data["task_id"] for i in board.inbox()] == [task_id]  # the drop waits for space
        assert leftovers(board) == [] and board.read_state(task_id) is None

        filler.unlink()
        state = sup.wait_status(task_id, "succeeded", timeout=90)
        assert state.attempts[-1].outcome is not None and state.attempts[-1].outcome.detail == "roomy"
        assert notices[-1] == "cockpit: the disk takes writes again; dispatching resumed"
        assert board.inbox() == [] and leftovers(board) == []
    finally:
        sup.stop()
