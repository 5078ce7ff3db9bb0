"""The supervisor against the pinned real Codex binary, a real git repo and the scripted model."""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
from pathlib import Path

import pytest
from git import Repo

from cockpit.core.board.blackboard import Blackboard
from cockpit.core.board.task_summary import TaskSummary
from cockpit.core.commands import CommandError, run_task_command, submit
from cockpit.core.envelope.model import envelope_from_mapping
from cockpit.core.records.basics import TaskStatus
from cockpit.core.views.task_rows import status_row
from cockpit.demo.codex_home import write_codex_home
from cockpit.demo.scripted_model import Scenario, ScriptedModel
from tests.helpers.supervisor import SupervisorThread, any_processes, codex_processes

pytestmark = pytest.mark.codex


def scenario(name: str, *responses: dict) -> Scenario:
    return Scenario.model_validate({"name": name, "match": name, "responses": list(responses)})


def items(*its: dict, **extra: object) -> dict:
    return {"items": list(its), **extra}


def msg(text: str) -> dict:
    return {"kind": "message", "text": text}


def shell(cmd: str) -> dict:
    return {"kind": "shell", "cmd": cmd}


def task(board: Blackboard, name: str, lane: str = "local", **fields: object) -> str:
    return submit(
        board, envelope_from_mapping({"goal": f"Do the {name} job", "title": name, "lane": lane, **fields})
    )


def run_idle(board: Blackboard, env: dict[str, str], timeout: float = 120.0) -> SupervisorThread:
    sup = SupervisorThread(board, env, until_idle=True).start()
    sup.join(timeout)
    return sup


def test_happy_path_local_three_signals_and_ledger(repo: Path, scripted_model: ScriptedModel, cockpit_env):
    scripted_model.add_scenario(
        scenario(
            "hello-job",
            items(shell("echo hi > hello.txt"), usage={"input_tokens": 100, "output_tokens": 20}),
            items(
                msg("COMPLETED: created hello.txt"),
                usage={"input_tokens": 150, "cached_tokens": 100, "output_tokens": 30},
            ),
        )
    )
    board = Blackboard(repo)
    tid = task(board, "hello-job")
    run_idle(board, cockpit_env)
    state = board.read_state(tid)
    assert state is not None
    assert state.status == TaskStatus.SUCCEEDED, state.message
    assert (repo / "hello.txt").read_text() == "hi\n"
    sig = state.attempts[0].signals
    assert (sig.exit_code, sig.turn_completed, sig.last_message) == (0, True, True)
    assert state.thread_id and state.attempts[0].outcome.status == "COMPLETED"
    # Usage is what the model served, summed by Codex; the ledger holds the attempt's delta.
    assert (state.usage.input_tokens, state.usage.cached_input_tokens, state.usage.output_tokens) == (
        250,
        100,
        50,
    )
    rows = [r for r in board.read_jsonl("ledger.jsonl") if r["task_id"] == tid]
    assert len(rows) == 1 and rows[0]["input_tokens"] == 250 and rows[0]["output_tokens"] == 50
    attempt_dir = board.attempt_dir(tid, 1)
    raw_events = (attempt_dir / "events.jsonl").read_bytes()
    assert b'"turn.completed"' in raw_events
    exit_info = json.loads((attempt_dir / "exit.json").read_text())
    assert exit_info["code"] == 0 and not exit_info["timed_out"]
    assert (attempt_dir / "last-message.md").read_text().startswith("COMPLETED:")
    row = status_row(TaskSummary.of(state))
    assert set(row) >= {"id", "lane", "state", "attempts", "thread_id", "signals", "usage"}


def test_worktree_apply_patch_commits_on_task_branch_and_leaves_main_alone(
    repo: Path, scripted_model: ScriptedModel, cockpit_env
):
    patch = "*** Begin Patch\n*** Add File: notes/todo.md\n+# Todo\n+- ship it\n*** End Patch"
    scripted_model.add_scenario(
        scenario(
            "patch-job",
            items({"kind": "apply_patch", "patch": patch}),
            items(msg("COMPLETED: added notes/todo.md")),
        )
    )
    git = Repo(repo)
    before = git.head.commit.hexsha
    board = Blackboard(repo)
    tid = task(board, "patch-job", lane="worktree")
    run_idle(board, cockpit_env)
    state = board.read_state(tid)
    assert state is not None and state.status == TaskStatus.REVIEW, state.message
    assert state.attempts[0].progress.file_changes  # a file_change item was seen
    assert git.head.commit.hexsha == before and not (repo / "notes").exists()
    assert not git.is_dirty(untracked_files=True)
    branch = git.heads[f"cockpit/{tid}"]
    assert branch.commit.parents[0].hexsha == before
    assert branch.commit.author.name == "Codex Cockpit"
    diff = (board.task_dir(tid) / "diff.patch").read_text()
    assert "+++ b/notes/todo.md" in diff and "+- ship it" in diff
    assert state.diff and state.diff.files == 1 and state.diff.paths == ["notes/todo.md"]


def test_failing_command_inside_a_successful_turn(repo: Path, scripted_model: ScriptedModel, cockpit_env):
    scripted_model.add_scenario(
        scenario(
            "oops-job",
            items(shell("echo oops >&2; exit 3")),
            items(msg("COMPLETED: the check failed but I am done")),
        )
    )
    board = Blackboard(repo)
    tid = task(board, "oops-job")
    run_idle(board, cockpit_env)
    state = board.read_state(tid)
    assert state is not None and state.status == TaskStatus.SUCCEEDED
    progress = state.attempts[0].progress
    assert progress.commands == 1 and progress.commands_failed == 1


def test_connection_refused_is_killed_by_the_hard_cap(
    repo: Path, tmp_path: Path, scripted_model: ScriptedModel
):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = write_codex_home(tmp_path / "refused-home", f"http://127.0.0.1:{port}/v1")
    board = Blackboard(repo)
    (board.root / "config.toml").write_text("run_timeout_s = 8\nkill_grace_s = 1\n")
    tid = task(board, "refused-job")
    run_idle(board, env)
    state = board.read_state(tid)
    # the cap kills each run; connection failures get 2 attempts (linear 10 s), then a dead letter
    assert state is not None and state.status == TaskStatus.DEAD_LETTER, state.message
    assert len(state.attempts) == 2 and all(a.exit is not None and a.exit.timed_out for a in state.attempts)
    assert [f.code.value for f in state.failures] == ["connection_refused", "connection_refused"]
    assert state.attempts[0].progress.errors and "Reconnecting" in state.attempts[0].progress.errors[-1]
    gap = state.attempts[1].started_at - state.attempts[0].ended_at
    assert gap.total_seconds() >= 10
    assert any_processes(str(board.root)) == []


def test_sigkill_of_a_worker_mid_turn(repo: Path, scripted_model: ScriptedModel, cockpit_env):
    scripted_model.add_scenario(scenario("killed-job", items(msg("COMPLETED: never sent"), gate="hold")))
    board = Blackboard(repo)
    tid = task(board, "killed-job")
    sup = SupervisorThread(board, cockpit_env).start()
    try:
        assert scripted_model.wait_for_in_flight(1, timeout=60)
        pid_info = json.loads((board.attempt_dir(tid, 1) / "pid.json").read_text())
        os.kill(pid_info["codex_pid"], signal.SIGKILL)
        first = sup.wait_for(lambda: (st := board.read_state(tid)) is not None and len(st.attempts) == 2)
        assert first
        state = sup.wait_status(tid, "succeeded")
    finally:
        scripted_model.open_gate("hold")
        sup.stop()
    killed, resumed = state.attempts
    assert killed.exit is not None and killed.exit.signal == signal.SIGKILL
    assert killed.signals.exit_code is None and not killed.signals.turn_completed
    assert killed.failure is not None and killed.failure.code.value == "killed"
    # restarted once from where the thread stands, with a digest instead of starting over
    assert resumed.kind == "resume" and resumed.resumed_thread == state.thread_id
    assert any_processes(str(board.root)) == []


def test_send_back_resumes_the_codex_thread(repo: Path, scripted_model: ScriptedModel, cockpit_env):
    scripted_model.add_scenario(
        scenario(
            "resume-job",
            items(msg("COMPLETED: first pass"), usage={"input_tokens": 100, "output_tokens": 10}),
            items(shell("cat calc.py"), usage={"input_tokens": 300, "output_tokens": 20}),
            items(
                msg("COMPLETED: second pass after feedback"), usage={"input_tokens": 400, "output_tokens": 30}
            ),
        )
    )
    board = Blackboard(repo)
    tid = task(board, "resume-job")
    run_idle(board, cockpit_env)
    first = board.read_state(tid)
    assert first is not None and first.status == TaskStatus.SUCCEEDED
    run_task_command(board, "revise", tid, feedback="Also read calc.py please")
    run_idle(board, cockpit_env)
    state = board.read_state(tid)
    assert state is not None and state.status == TaskStatus.SUCCEEDED
    a1, a2 = state.attempts
    assert a2.kind == "followup" and a2.resumed_thread == first.thread_id == state.thread_id
    spec = json.loads((board.attempt_dir(tid, 2) / "spec.json").read_text())
    assert spec["argv"][-3:-1] == ["resume", first.thread_id]
    reqs = scripted_model.requests_for(first.thread_id)
    assert [r.response_index for r in reqs] == [0, 1, 2]
    assert any("Also read calc.py please" in t for t in reqs[1].user_texts())
    # turn.completed is thread-cumulative: attempt 2's delta excludes attempt 1's tokens.
    assert a1.usage_delta.input_tokens == 100 and a2.usage_delta.input_tokens == 700
    assert state.usage.input_tokens == 800 and state.usage.output_tokens == 60
    ledger = [r for r in board.read_jsonl("ledger.jsonl") if r["task_id"] == tid]
    assert [r["input_tokens"] for r in ledger] == [100, 700] and ledger[1]["resumed"] is True


def test_two_worktree_tasks_in_parallel_then_merge_one_and_reject_the_other(
    repo: Path, scripted_model: ScriptedModel, cockpit_env
):
    for name, path in (("alpha-job", "alpha.txt"), ("beta-job", "beta.txt")):
        scripted_model.add_scenario(
            scenario(
                name,
                items(shell(f"echo {name} > {path}"), gate="both"),
                items(msg(f"COMPLETED: wrote {path}")),
            )
        )
    board = Blackboard(repo)
    a = task(board, "alpha-job", lane="worktree")
    b = task(board, "beta-job", lane="worktree")
    sup = SupervisorThread(board, cockpit_env).start()
    try:
        assert scripted_model.wait_for_in_flight(2, timeout=60), "the two tasks did not run at the same time"
        scripted_model.open_gate("both")
        sup.wait_status(a, "review")
        sup.wait_status(b, "review")
    finally:
        scripted_model.open_gate("both")
        sup.stop()
    git = Repo(repo)
    assert {f"cockpit/{a}", f"cockpit/{b}"} <= {h.name for h in git.heads}
    assert run_task_command(board, "merge", a).startswith("merged into main")
    assert (repo / "alpha.txt").read_text() == "alpha-job\n"
    assert len(git.head.commit.parents) == 2  # a merge commit on main
    assert f"cockpit/{a}" not in {h.name for h in git.heads} and not board.worktree_path(a).exists()
    run_task_command(board, "reject", b)
    assert f"cockpit/{b}" not in {h.name for h in git.heads} and not board.worktree_path(b).exists()
    assert not (repo / "beta.txt").exists()
    assert (
        board.read_state(a).status == TaskStatus.MERGED and board.read_state(b).status == TaskStatus.REJECTED
    )


def test_merge_refused_on_dirty_base_and_conflict_aborts_cleanly(
    repo: Path, scripted_model: ScriptedModel, cockpit_env
):
    patch = (
        "*** Begin Patch\n*** Update File: calc.py\n@@\n def add(a, b):\n"
        "-    return a + b\n+    return b + a\n*** End Patch"
    )
    scripted_model.add_scenario(
        scenario("swap-job", items({"kind": "apply_patch", "patch": patch}), items(msg("COMPLETED: swapped")))
    )
    board = Blackboard(repo)
    tid = task(board, "swap-job", lane="worktree")
    run_idle(board, cockpit_env)
    assert board.read_state(tid).status == TaskStatus.REVIEW
    git = Repo(repo)
    (repo / "calc.py").write_text("def add(a, b):\n    return a + b  # local edit\n")
    head = git.head.commit.hexsha
    with pytest.raises(CommandError, match="uncommitted changes"):
        run_task_command(board, "merge", tid)
    assert git.head.commit.hexsha == head and "local edit" in (repo / "calc.py").read_text()
    git.index.add(["calc.py"])
    git.index.commit("user edits calc.py")
    head = git.head.commit.hexsha
    with pytest.raises(CommandError, match="conflicted"):
        run_task_command(board, "merge", tid)
    assert git.head.commit.hexsha == head and not git.is_dirty(untracked_files=True)
    assert not (Path(git.git_dir) / "MERGE_HEAD").exists()
    assert board.read_state(tid).status == TaskStatus.CONFLICT


def test_ten_queued_tasks_never_run_more_than_three_codex_processes(
    repo: Path, scripted_model: ScriptedModel, cockpit_env
):
    names = [f"bulk{i}-job" for i in range(10)]
    for i, name in enumerate(names):
        scripted_model.add_scenario(
            scenario(name, items(shell(f"echo {i} > out{i}.txt"), gate="go"), items(msg("COMPLETED: done")))
        )
    board = Blackboard(repo)
    ids = [task(board, name, lane="worktree") for name in names]
    peak = {"codex": 0}
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak["codex"] = max(peak["codex"], len(codex_processes(str(board.root))))
            stop.wait(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sup = SupervisorThread(board, cockpit_env).start()
    sampler.start()
    try:
        assert scripted_model.wait_for_in_flight(3, timeout=60)
        assert not scripted_model.wait_for_in_flight(4, timeout=1.5)  # the fourth is not let in while 3 run
        assert len(codex_processes(str(board.root))) == 3
        scripted_model.open_gate("go")
        for tid in ids:
            sup.wait_status(tid, "review", timeout=120)
    finally:
        scripted_model.open_gate("go")
        stop.set()
        sampler.join()
        sup.stop()
    assert peak["codex"] == 3
    assert sup.supervisor.max_seen_running == 3
    assert scripted_model.max_in_flight <= 3


def test_local_lane_runs_one_task_at_a_time(repo: Path, scripted_model: ScriptedModel, cockpit_env):
    for name in ("first-local", "second-local"):
        scripted_model.add_scenario(scenario(name, items(msg("COMPLETED: ok"), gate=name)))
    board = Blackboard(repo)
    a = task(board, "first-local")
    b = task(board, "second-local")
    sup = SupervisorThread(board, cockpit_env).start()
    try:
        assert scripted_model.wait_for_in_flight(1, timeout=60)
        assert board.read_state(b).status == TaskStatus.QUEUED
        assert len(codex_processes(str(board.root))) == 1
        scripted_model.open_gate("first-local")
        sup.wait_status(a, "succeeded")
        scripted_model.open_gate("second-local")
        sup.wait_status(b, "succeeded")
    finally:
        scripted_model.open_gate("first-local")
        scripted_model.open_gate("second-local")
        sup.stop()
