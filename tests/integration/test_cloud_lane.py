"""The cloud lane end to end: the real ``codex cloud`` against the project's fake backend (through its
loopback proxy and throw-away CA), a real supervisor, git repository and worktrees; ``cockpit run``
killed with SIGKILL mid-submission."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from git import Repo

from cockpit.core.board.blackboard import Blackboard
from cockpit.core.board.decisions import DecisionStore
from cockpit.core.commands import CommandError, run_task_command, submit
from cockpit.core.envelope.model import envelope_from_mapping
from cockpit.core.records.basics import TaskStatus, utc_now
from cockpit.core.records.task import TaskState
from cockpit.demo.fake_cloud.store import new_file_diff
from tests.helpers.cloud import CloudRig, cloud_board_config
from tests.helpers.supervisor import ShiftedClock, SupervisorThread, state_of

pytestmark = pytest.mark.codex

CREATE = "/wham/tasks"  # POST: exec's create call (the list is GET …/tasks/list)


def cloud_task(board: Blackboard, goal: str, **fields: object) -> str:
    return submit(board, envelope_from_mapping({"goal": goal, "lane": "cloud", **fields}))


def supervise(board: Blackboard, rig: CloudRig, clock: Callable[[], float] | None = None) -> SupervisorThread:
    """A supervisor over the rig's board (``with supervise(...) as sup:`` runs it for the block)."""
    env = {"HOME": str(rig.home), "CODEX_HOME": str(rig.codex_home)}
    return SupervisorThread(board, env, **({"clock": clock} if clock else {}))


def settle(board: Blackboard, rig: CloudRig, tid: str, status: TaskStatus) -> TaskState:
    """Supervise until the task reaches ``status``; its state then."""
    with supervise(board, rig) as sup:
        sup.wait_status(tid, status)
    return state_of(board, tid)


def board_of(rig: CloudRig, **cloud: object) -> Blackboard:
    board = Blackboard(rig.repo)
    board.init()
    cloud_board_config(board.root, rig, poll_min_s=0.2, **cloud)
    return board


def submitted(board: Blackboard, tid: str) -> Callable[[], bool]:
    """True once the task's cloud id is recorded."""

    def check() -> bool:
        state = board.read_state(tid)
        run = state.attempts[-1].cloud if state is not None and state.attempts else None
        return run is not None and run.task_id is not None

    return check


def creates(rig: CloudRig) -> list[dict]:
    return [r for r in rig.fake.task_requests() if r["method"] == "POST" and r["path"].endswith(CREATE)]


def test_submit_pending_ready_review_merge(fake_cloud: CloudRig) -> None:
    rig = fake_cloud
    board = board_of(rig)
    tid = cloud_task(board, "Add a greeting file [fake:delay=1.5]")
    with supervise(board, rig) as sup:
        assert sup.wait_for(submitted(board, tid))
        pending = state_of(board, tid)
        assert pending.status == TaskStatus.RUNNING and "pending" in (pending.message or "")
        assert sup.supervisor.running == {}  # no local worker slot taken
        sup.wait_status(tid, TaskStatus.REVIEW)
    state = state_of(board, tid)
    run = state.attempts[0].cloud
    assert run is not None and run.task_id and run.url and run.url.endswith(run.task_id)
    assert run.status == "ready" and run.polls >= 1
    assert [r.chosen for r in run.results] == [True] and state.diff and state.diff.files == 1
    assert state.branch == f"cockpit/{tid}" and state.head_commit
    assert len(creates(rig)) == 1
    # the submitter's spec holds what differs from the supervisor's environment, not all of it
    spec = json.loads((board.attempt_dir(tid, 1) / "spec.json").read_text())
    assert "PATH" not in spec["env"] and spec["env"]["HTTPS_PROXY"] == rig.env["HTTPS_PROXY"]
    # codex cloud's error.log lands in the board's own directory, never in the user's tree
    assert (board.root / "cloud" / "error.log").exists()
    assert not (rig.repo / "error.log").exists()
    assert "error.log" not in Repo(rig.repo).git.status("--porcelain", "--ignored")
    said = run_task_command(board, "merge", tid)
    assert "merged" in said
    merged = sorted(p.name for p in rig.repo.glob("cloud_task_*.txt"))
    assert merged == [state.diff.paths[0]]
    rows = [json.loads(line) for line in (board.root / "ledger.jsonl").read_text().splitlines()]
    assert [(r["lane"], r["usage_reported"], r["ok"]) for r in rows] == [("cloud", False, True)]


def test_best_of_two_with_attempt_two_chosen(fake_cloud: CloudRig) -> None:
    rig = fake_cloud
    board = board_of(rig)
    tid = cloud_task(board, "Two ways to greet", attempts=2)
    state = settle(board, rig, tid, TaskStatus.REVIEW)
    run = state.attempts[0].cloud
    assert run is not None and run.best_of == 2 and [r.n for r in run.results] == [1, 2]
    first, second = (r.paths[0] for r in run.results)
    assert first != second and second.endswith("_attempt2.txt")
    assert state.diff and state.diff.paths == [first]  # attempt 1 is on the branch until one is picked
    with pytest.raises(CommandError, match="no attempt 3"):
        run_task_command(board, "pick", tid, attempt=3)
    said = run_task_command(board, "pick", tid, attempt=2)
    assert said.startswith("picked attempt 2")
    state = state_of(board, tid)
    assert [r.chosen for r in state.attempts[0].cloud.results] == [False, True]
    assert state.diff and state.diff.paths == [second]
    run_task_command(board, "merge", tid)
    assert sorted(p.name for p in rig.repo.glob("cloud_task_*.txt")) == [second]


def test_a_task_that_fails_remotely_is_gated_not_resubmitted(fake_cloud: CloudRig) -> None:
    rig = fake_cloud
    board = board_of(rig)
    tid = cloud_task(board, "This one breaks [fake:fail]")
    state = settle(board, rig, tid, TaskStatus.AWAITING_DECISION)
    assert state.failures[-1].code.value == "cloud_task_error"
    card = DecisionStore(board.root, utc_now).get(state.decision_id or "")
    assert card is not None and card.trigger == "cloud_task_failed"
    assert len(creates(rig)) == 1


def test_401_is_not_retried(fake_cloud: CloudRig) -> None:
    rig = fake_cloud
    board = board_of(rig)
    rig.fake.fault(CREATE, 401, {"detail": "expired"}, method="POST")
    tid = cloud_task(board, "Never signed in")
    state = settle(board, rig, tid, TaskStatus.DEAD_LETTER)
    assert state.failures[-1].error_type.value == "auth" and state.failures[-1].code.value == "auth_401"
    assert len(state.attempts) == 1 and len(creates(rig)) == 1
    assert "expired" in (state.attempts[0].error or "")


def test_429_on_submit_and_500_on_a_poll_are_retried(fake_cloud: CloudRig) -> None:
    rig = fake_cloud
    board = board_of(rig)
    rig.fake.fault(CREATE, 429, {"detail": "slow down"}, method="POST")
    rig.fake.fault("/wham/tasks/list", 500, "upstream broke", count=2, method="GET")
    clock = ShiftedClock()
    tid = cloud_task(board, "Busy backend")
    with supervise(board, rig, clock) as sup:
        assert sup.wait_for(lambda: (s := board.read_state(tid)) is not None and bool(s.failures), 60)
        assert state_of(board, tid).failures[0].code.value == "http_429"
        # the failure counts against Codex Cloud's breaker, never the local model provider's
        breakers = {p.stem: json.loads(p.read_text()) for p in (board.root / "breakers").glob("*.json")}
        assert breakers["codex-cloud"]["last_failure"] is not None
        assert all(b["last_failure"] is None for name, b in breakers.items() if name != "codex-cloud")
        clock.advance(3600)  # past the backoff
        sup.wait_status(tid, TaskStatus.REVIEW)
    state = state_of(board, tid)
    assert len(state.attempts) == 2 and len(creates(rig)) == 2
    assert len(rig.fake.state()["tasks"]) == 1  # the refused create made no task
    lists = [r for r in rig.fake.task_requests() if r["path"].endswith("/tasks/list")]
    assert [r["status"] for r in lists][:2] == [500, 500] and lists[-1]["status"] == 200
    assert state.attempts[1].cloud.poll_errors == 0


def test_a_diff_that_does_not_apply_leaves_the_task_in_conflict(fake_cloud: CloudRig) -> None:
    rig = fake_cloud
    board = board_of(rig)
    tid = cloud_task(board, "Rewrite the readme [fake:pending]")
    with supervise(board, rig) as sup:
        assert sup.wait_for(submitted(board, tid))
        cloud_id = state_of(board, tid).attempts[0].cloud.task_id
        rig.fake.update(cloud_id, status="completed", diff=new_file_diff("README.md", "another readme\n"))
        sup.wait_status(tid, TaskStatus.CONFLICT)
    state = state_of(board, tid)
    assert "README.md" in (state.message or "") and state.head_commit is None
    with pytest.raises(CommandError, match="did not apply"):
        run_task_command(board, "merge", tid)
    assert (rig.repo / "README.md").read_text() == "fake repo\n"  # the user's checkout untouched


def test_pending_past_the_deadline_is_surfaced(fake_cloud: CloudRig) -> None:
    rig = fake_cloud
    board = board_of(rig, pending_deadline_min=0.01)
    tid = cloud_task(board, "Stuck in the queue [fake:pending]")
    with supervise(board, rig) as sup:
        assert sup.wait_for(lambda: "overdue" in (((s := board.read_state(tid)) and s.message) or ""), 60)
        assert sup.wait_for(lambda: state_of(board, tid).status != TaskStatus.RUNNING, 60)
    events = [json.loads(line) for line in (board.root / "events.jsonl").read_text().splitlines()]
    assert [e["task_id"] for e in events if e.get("topic") == "cloud_pending"] == [tid]
    state = state_of(board, tid)
    assert state.failures[-1].code.value == "stream_stalled" and len(creates(rig)) == 1


def test_cancel_stops_following_and_says_where_the_task_is(fake_cloud: CloudRig) -> None:
    rig = fake_cloud
    board = board_of(rig)
    tid = cloud_task(board, "Long one [fake:pending]")
    with supervise(board, rig) as sup:
        assert sup.wait_for(submitted(board, tid))
        said = run_task_command(board, "cancel", tid)
        assert sup.wait_for(lambda: tid not in sup.supervisor.cloud, 10)
    state = state_of(board, tid)
    assert state.status == TaskStatus.CANCELLED and state.attempts[0].cloud.url in said


@pytest.mark.parametrize("point", ["cloud:submitter-started", "cloud:url-printed"])
def test_kill_9_between_exec_and_the_first_poll_makes_exactly_one_cloud_task(
    fake_cloud: CloudRig, codex_bin: Path, point: str
) -> None:
    rig = fake_cloud
    board = board_of(rig)
    tid = cloud_task(board, "Survive a crash [fake:delay=1]")
    env = {
        **{k: v for k, v in os.environ.items() if k != "COCKPIT_CRASH_AT"},
        "HOME": str(rig.home),
        "CODEX_HOME": str(rig.codex_home),
        "COCKPIT_CODEX_BIN": str(codex_bin),
    }
    argv = [sys.executable, "-m", "cockpit.cli.main", "--repo", str(rig.repo), "run"]
    killed = subprocess.run(argv, env={**env, "COCKPIT_CRASH_AT": point}, capture_output=True, timeout=60)
    assert killed.returncode == -9, killed.stderr
    assert state_of(board, tid).status == TaskStatus.RUNNING
    subprocess.run([*argv, "--until-idle"], env=env, capture_output=True, timeout=120, check=True)
    state = state_of(board, tid)
    assert state.status == TaskStatus.REVIEW, state.message
    assert len(state.attempts) == 1 and len(creates(rig)) == 1
    assert state.attempts[0].cloud.task_id == rig.fake.state()["tasks"][0]["id"]


def test_an_untrusted_extra_env_fails_the_task_not_the_supervisor(fake_cloud: CloudRig) -> None:
    """``[cloud] extra_env`` can send the user's ChatGPT login elsewhere: from a board config nobody
    trusted it is refused, the task fails saying so, nothing reaches a backend and the supervisor runs on."""
    rig = fake_cloud
    board = Blackboard(rig.repo)
    board.init()
    path = cloud_board_config(board.root, rig)
    path.write_text(path.read_text() + "\n")  # changed since it was trusted
    tid = cloud_task(board, "Sent nowhere")
    with supervise(board, rig) as sup:
        sup.wait_status(tid, TaskStatus.FAILED)
        assert sup.error is None and sup.supervisor.cloud == {}
    assert "refusing cloud.extra_env" in (state_of(board, tid).message or "")
    assert rig.fake.task_requests() == []
