"""A supervisor adopts attempt runners started by an earlier version of the cockpit.

A restarted supervisor finds live runners by the module name on their command line (``/proc/<pid>/
cmdline``). Before the core had subpackages the runners had other module names (parametrised below); a
runner started under them keeps running through an upgrade, and the new supervisor must follow it, not
record it as lost and start the attempt again. A process whose command line names no runner (a
recycled pid) is never taken for one.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from cockpit.core.board.blackboard import Blackboard
from cockpit.core.records.attempt import Attempt
from cockpit.core.records.basics import TaskStatus
from cockpit.core.records.task import TaskState
from cockpit.core.supervisor import follow as follow_phase
from cockpit.core.supervisor.loop import Supervisor
from tests.helpers.processes import sleeper


def _running_task(board: Blackboard, task_id: str, runner_pid: int) -> None:
    state = TaskState(id=task_id, lane="worktree", title=task_id, status=TaskStatus.RUNNING)
    state.attempts.append(Attempt(n=1, deadline_s=600.0, runner_pid=runner_pid))
    directory = board.attempt_dir(task_id, 1)
    directory.mkdir(parents=True)
    (directory / "events.jsonl").write_bytes(b"")
    board.write_state(state)


def _reattached(board: Blackboard) -> dict[str, bool]:
    return {
        e["task_id"]: e["runner_alive"] for e in board.read_jsonl("events.jsonl") if e["kind"] == "reattached"
    }


@pytest.mark.parametrize("old_module", ["cockpit.core.runner", "cockpit.core.mcp_runner"])  # old module name
def test_a_runner_started_under_an_old_module_name_is_followed_not_lost(
    repo: Path,
    codex_bin: Path,
    processes: list[subprocess.Popen[bytes]],
    monkeypatch: pytest.MonkeyPatch,
    old_module: str,
) -> None:
    board = Blackboard(repo)
    spec = board.root / "spec.json"
    old_runner = sleeper("-m", old_module, str(spec))  # its command line, as the old version left it
    stranger = sleeper("something-else")  # a pid a runner once had, now another program's
    processes += [old_runner, stranger]
    _running_task(board, "adopted-0001", old_runner.pid)
    _running_task(board, "recycled-0002", stranger.pid)

    supervisor = Supervisor(board)
    supervisor.recover()

    assert _reattached(board) == {"adopted-0001": True, "recycled-0002": False}
    run = supervisor.running["adopted-0001"]
    monkeypatch.setattr(follow_phase, "RUNNER_LOST_GRACE_S", 0.0)
    for _ in range(3):  # followed while it lives: no exit is invented for it
        supervisor.poll(run)
    assert not (run.directory / "exit.json").exists()
    assert board.read_state("adopted-0001").status == TaskStatus.RUNNING

    old_runner.kill()
    old_runner.wait()
    supervisor.poll(run)  # gone: noted, then (after the grace) recorded as lost
    supervisor.poll(run)
    assert json.loads((run.directory / "exit.json").read_text())["lost"] is True
