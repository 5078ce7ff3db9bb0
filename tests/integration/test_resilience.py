"""Resilience and human gates with the real Codex binary: failure classes end where the retry policy
says, the breaker opens and probes, dead letters, decision cards answered or defaulted, chunking, the
watchdog, and a kill -9 of the supervisor while three workers run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from git import Repo

from cockpit.core.board.blackboard import Blackboard
from cockpit.core.board.decisions import DecisionStore
from cockpit.core.commands import run_task_command, submit
from cockpit.core.envelope.model import envelope_from_mapping
from cockpit.core.policy.dead_letters import DeadLetterQueue
from cockpit.core.records.basics import TaskStatus, utc_now
from cockpit.demo.scripted_model import Scenario, ScriptedModel
from tests.helpers.supervisor import ShiftedClock, SupervisorThread, any_processes, codex_processes

pytestmark = pytest.mark.codex
COCKPIT = Path(sys.executable).parent / "cockpit"


def scenario(name: str, *responses: dict, repeat_last: bool = False) -> Scenario:
    return Scenario.model_validate(
        {"name": name, "match": name, "responses": list(responses), "repeat_last": repeat_last}
    )


def msg(text: str, **extra: object) -> dict:
    return {"items": [{"kind": "message", "text": text}], **extra}


def task(board: Blackboard, name: str, lane: str = "local", **fields: object) -> str:
    return submit(
        board, envelope_from_mapping({"goal": f"Do the {name} job", "title": name, "lane": lane, **fields})
    )


def errors_for(board: Blackboard, task_id: str) -> list[dict]:
    return [
        e for e in board.read_jsonl("events.jsonl") if e.get("task_id") == task_id and e["kind"] == "error"
    ]


def decisions(board: Blackboard) -> DecisionStore:
    return DecisionStore(board.root, utc_now)


def test_transient_failures_back_off_open_the_breaker_probe_and_end_as_a_dead_letter(
    repo: Path, scripted_model: ScriptedModel, cockpit_env
):
    outage = {"kind": "http_error", "status": 500}
    scripted_model.add_scenario(scenario("flaky-job", outage, outage, outage, outage, msg("COMPLETED: back")))
    board = Blackboard(repo)
    tid = task(board, "flaky-job")
    clock = ShiftedClock()
    sup = SupervisorThread(board, cockpit_env, clock=clock).start()
    try:
        # 1 s and 2 s backoffs, then the third failure within 60 s opens the breaker: the retry waits.
        breaker_file = board.root / "breakers" / "mock.json"

        def waiting_on_breaker() -> bool:
            st = board.read_state(tid)
            return (
                st is not None and st.status == TaskStatus.QUEUED and "breaker is open" in (st.message or "")
            )

        assert sup.wait_for(waiting_on_breaker, timeout=90)
        state = board.read_state(tid)
        assert len(state.attempts) == 3 and json.loads(breaker_file.read_text())["state"] == "open"
        starts = [a.started_at.timestamp() for a in state.attempts]
        assert starts[1] - starts[0] >= 1.0 and starts[2] - starts[1] >= 2.0
        # the cooldown passes (5 min + up to 30 s of probe jitter): one probe goes, fails, the breaker reopens
        clock.advance(6 * 60)
        state = sup.wait_status(tid, "dead_letter", timeout=90)
    finally:
        sup.stop()
    assert len(state.attempts) == 4 and state.attempts[3].probe
    assert json.loads(breaker_file.read_text())["cooldown_minutes"] == 10
    errs = errors_for(board, tid)
    assert [e["attempt"] for e in errs] == [1, 2, 3, 4]
    assert {e["error_type"] for e in errs} == {"transient"} and {e["code"] for e in errs} == {"http_5xx"}
    assert all(e["max_attempts"] == 4 and e["suggestion"] and e["status"] == "FAILED" for e in errs)
    letter = DeadLetterQueue(board.root / "dead-letters", time.time).get(tid)
    assert (
        letter is not None and letter.error_type == "transient" and letter.related_circuit_breaker == "mock"
    )
    assert letter.retry_after is not None and letter.original_task["goal"] == "Do the flaky-job job"
    out = subprocess.run([str(COCKPIT), "--repo", str(repo), "dlq", "--json"], capture_output=True, text=True)
    assert [row["task_id"] for row in json.loads(out.stdout)] == [tid]
    # Later: the letter's retry_after and the doubled cooldown pass; the sweep sends it as the probe,
    # the provider answers again, the breaker closes and the letter is deleted.
    sup = SupervisorThread(board, cockpit_env, clock=clock).start()
    try:
        clock.advance(45 * 60)
        state = sup.wait_status(tid, "succeeded", timeout=90)
    finally:
        sup.stop()
    assert len(state.attempts) == 5 and state.attempts[4].probe
    assert json.loads(breaker_file.read_text())["state"] == "closed"
    assert DeadLetterQueue(board.root / "dead-letters", time.time).get(tid) is None
    assert any(e["kind"] == "dead_letter_retry" for e in board.read_jsonl("events.jsonl"))


def test_auth_failure_is_not_retried_and_waits_for_a_retry_by_hand(
    repo: Path, scripted_model: ScriptedModel, cockpit_env
):
    scripted_model.add_scenario(
        scenario(
            "auth-job",
            {"kind": "http_error", "status": 401, "body": {"error": {"message": "Incorrect API key"}}},
            msg("COMPLETED: works with the new key"),
        )
    )
    board = Blackboard(repo)
    tid = task(board, "auth-job")
    SupervisorThread(board, cockpit_env, until_idle=True).start().join()
    state = board.read_state(tid)
    assert state.status == TaskStatus.DEAD_LETTER and len(state.attempts) == 1
    assert state.failures[0].code.value == "auth_401" and not state.failures[0].trips_breaker
    queue = DeadLetterQueue(board.root / "dead-letters", time.time)
    assert queue.get(tid).retry_after is None  # never automatically: credentials need a human
    assert (
        not (board.root / "breakers" / "mock.json").exists()
        or json.loads((board.root / "breakers" / "mock.json").read_text())["state"] == "closed"
    )
    run_task_command(board, "retry", tid)
    SupervisorThread(board, cockpit_env, until_idle=True).start().join()
    state = board.read_state(tid)
    assert state.status == TaskStatus.SUCCEEDED and len(state.attempts) == 2
    assert queue.get(tid) is None  # success deletes the letter


def test_worker_failed_is_retried_with_feedback_then_gated_and_answered(
    repo: Path, scripted_model: ScriptedModel, cockpit_env
):
    scripted_model.add_scenario(
        scenario(
            "stubborn-job",
            msg("FAILED: the tests in test_calc.py do not pass"),
            msg("FAILED: still red after fixing add"),
            msg("FAILED: subtract is missing"),
            msg("COMPLETED: all green now"),
        )
    )
    board = Blackboard(repo)
    tid = task(board, "stubborn-job")
    SupervisorThread(board, cockpit_env, until_idle=True).start().join()
    state = board.read_state(tid)
    assert state.status == TaskStatus.AWAITING_DECISION and len(state.attempts) == 3
    assert [a.kind for a in state.attempts] == ["initial", "followup", "followup"]
    assert all(a.resumed_thread == state.thread_id for a in state.attempts[1:])
    second_prompt = (board.attempt_dir(tid, 2) / "prompt.md").read_text()
    assert "the tests in test_calc.py do not pass" in second_prompt
    cards = decisions(board).pending()
    assert len(cards) == 1 and cards[0].task_id == tid and cards[0].trigger == "repeated_failures"
    assert cards[0].default == "B" and {o.key for o in cards[0].options} == {"A", "B", "C"}
    assert (board.root / "decisions" / "pending" / f"{cards[0].id}.md").exists()
    listed = subprocess.run(
        [str(COCKPIT), "--repo", str(repo), "decisions", "--json"], capture_output=True, text=True
    )
    assert [c["id"] for c in json.loads(listed.stdout)] == [cards[0].id]
    bad = subprocess.run(
        [str(COCKPIT), "--repo", str(repo), "decide", cards[0].id, "Z"], capture_output=True, text=True
    )
    assert bad.returncode == 2 and "choose one of A, B, C" in bad.stderr
    answered = subprocess.run(
        [str(COCKPIT), "--repo", str(repo), "decide", cards[0].id, "A"], capture_output=True, text=True
    )
    assert answered.returncode == 0, answered.stderr
    SupervisorThread(board, cockpit_env, until_idle=True).start().join()
    state = board.read_state(tid)
    assert state.status == TaskStatus.SUCCEEDED and len(state.attempts) == 4
    resolved = decisions(board).get(cards[0].id)
    assert resolved.resolved.by == "human" and resolved.resolved.option == "A"
    lines = [e.get("line", "") for e in board.read_jsonl("events.jsonl") if e.get("task_id") == tid]
    assert any(line.startswith(f"BLOCKED {tid}") for line in lines)
    assert any(line.startswith(f"COMPLETED {tid}") for line in lines)
    status = subprocess.run(
        [str(COCKPIT), "--repo", str(repo), "status"], capture_output=True, text=True
    ).stdout
    assert "escalation rate: 100%" in status


def test_network_request_is_gated_and_the_default_denies_it_when_the_deadline_passes(
    repo: Path, scripted_model: ScriptedModel, cockpit_env
):
    scripted_model.add_scenario(scenario("online-job", msg("COMPLETED: done offline")))
    board = Blackboard(repo)
    tid = task(board, "online-job", network=True)
    clock = ShiftedClock()
    sup = SupervisorThread(board, cockpit_env, clock=clock).start()
    try:
        state = sup.wait_status(tid, "awaiting_decision")
        card = decisions(board).get(state.decision_id)
        assert card.trigger == "network_access" and card.default == "B" and card.recommended == "B"
        assert not scripted_model.requests  # nothing ran before the decision
        clock.advance(25 * 3600)  # nobody answers within the 24 h deadline
        state = sup.wait_status(tid, "succeeded")
    finally:
        sup.stop()
    card = decisions(board).get(card.id)
    assert card.resolved.by == "default" and card.resolved.action == "deny"
    argv = json.loads((board.attempt_dir(tid, 1) / "spec.json").read_text())["argv"]
    assert "sandbox_workspace_write.network_access=true" not in argv and "workspace-write" in argv


def test_network_request_approved_by_hand_opens_the_sandbox_network(
    repo: Path, scripted_model: ScriptedModel, cockpit_env
):
    scripted_model.add_scenario(scenario("install-job", msg("COMPLETED: installed")))
    board = Blackboard(repo)
    tid = task(board, "install-job", network=True)
    sup = SupervisorThread(board, cockpit_env).start()
    try:
        state = sup.wait_status(tid, "awaiting_decision")
        decisions(board).answer(state.decision_id, "a")
        sup.wait_status(tid, "succeeded")
    finally:
        sup.stop()
    argv = json.loads((board.attempt_dir(tid, 1) / "spec.json").read_text())["argv"]
    assert "sandbox_workspace_write.network_access=true" in argv


def test_protected_paths_and_merge_gates(repo: Path, scripted_model: ScriptedModel, cockpit_env):
    patch = (
        "*** Begin Patch\n*** Update File: calc.py\n@@\n def add(a, b):\n     return a + b\n"
        "+# reviewed\n*** End Patch"
    )
    scripted_model.add_scenario(
        scenario(
            "guarded-job",
            {"items": [{"kind": "apply_patch", "patch": patch}]},
            msg("COMPLETED: touched calc.py"),
        )
    )
    board = Blackboard(repo)
    (board.root / "config.toml").write_text('protected_paths = ["calc.py"]\ngate_merges = true\n')
    tid = task(board, "guarded-job", lane="worktree")
    sup = SupervisorThread(board, cockpit_env).start()
    try:
        state = sup.wait_status(tid, "awaiting_decision")
        card = decisions(board).get(state.decision_id)
        assert card.trigger == "protected_paths" and "calc.py" in card.context
        decisions(board).answer(card.id, "A")  # accept the change: on to review, where the merge gate waits
        assert sup.wait_for(lambda: board.read_state(tid).decision_id not in (None, card.id), timeout=30)
        merge_card = decisions(board).get(board.read_state(tid).decision_id)
        assert merge_card.trigger == "merge" and merge_card.default == "C"
        assert "# reviewed" not in (repo / "calc.py").read_text()  # nothing lands without the answer
        decisions(board).answer(merge_card.id, "A")
        state = sup.wait_status(tid, "merged")
    finally:
        sup.stop()
    assert "# reviewed" in (repo / "calc.py").read_text()
    assert Repo(repo).head.commit.message.startswith(f"Merge cockpit task {tid}")


def test_chunk_limit_stops_gracefully_and_the_thread_continues_with_a_digest(
    repo: Path, scripted_model: ScriptedModel, cockpit_env
):
    scripted_model.add_scenario(
        scenario(
            "long-job",
            {"items": [{"kind": "shell", "cmd": "echo started > progress.txt; sleep 60"}]},
            msg("COMPLETED: finished after the break"),
        )
    )
    board = Blackboard(repo)
    (board.root / "config.toml").write_text("chunk_limit_s = 10\nrun_timeout_s = 120\nkill_grace_s = 2\n")
    tid = task(board, "long-job")
    SupervisorThread(board, cockpit_env, until_idle=True).start().join(timeout=120)
    state = board.read_state(tid)
    assert state.status == TaskStatus.SUCCEEDED, state.message
    first, second = state.attempts
    assert first.exit.chunked and not first.signals.ok and first.failure is None
    assert second.kind == "resume" and second.resumed_thread == state.thread_id
    prompt = (board.attempt_dir(tid, 2) / "prompt.md").read_text()
    assert (
        "interrupted (the chunk limit was reached)" in prompt and "1 still running when it stopped" in prompt
    )
    assert (board.task_dir(tid) / "checkpoint.json").exists()
    checkpoint = json.loads((board.task_dir(tid) / "checkpoint.json").read_text())
    assert checkpoint["thread_id"] == state.thread_id and len(checkpoint["completed"]) == 2


def test_watchdog_notifies_then_kills_a_silent_run_and_restarts_it(
    repo: Path, scripted_model: ScriptedModel, cockpit_env
):
    scripted_model.add_scenario(
        scenario(
            "quiet-job",
            {"items": [{"kind": "shell", "cmd": "sleep 60"}]},
            msg("COMPLETED: done after the restart"),
        )
    )
    board = Blackboard(repo)
    (board.root / "config.toml").write_text("watchdog_notify_s = 3\nwatchdog_kill_s = 8\nkill_grace_s = 2\n")
    tid = task(board, "quiet-job")
    SupervisorThread(board, cockpit_env, until_idle=True).start().join(timeout=120)
    state = board.read_state(tid)
    assert state.status == TaskStatus.SUCCEEDED and len(state.attempts) == 2
    assert state.attempts[0].exit.watchdog and state.attempts[1].kind == "resume"
    kinds = [e["kind"] for e in board.read_jsonl("events.jsonl") if e.get("task_id") == tid]
    assert kinds.index("watchdog") < kinds.index("watchdog_kill") < kinds.index("continuation")
    assert any_processes(str(board.root)) == []


def test_kill_9_of_the_supervisor_while_three_workers_run(
    repo: Path, scripted_model: ScriptedModel, cockpit_env
):
    names = [f"crash{i}-job" for i in range(3)]
    for name in names:
        scripted_model.add_scenario(
            scenario(
                name,
                {"items": [{"kind": "shell", "cmd": f"echo {name} > {name}.txt"}], "gate": "resume"},
                msg(f"COMPLETED: {name} done"),
            )
        )
    board = Blackboard(repo)
    ids = [task(board, name, lane="worktree") for name in names]
    env = {**os.environ, **cockpit_env}
    first = subprocess.Popen(
        [str(COCKPIT), "--repo", str(repo), "run"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert scripted_model.wait_for_in_flight(3, timeout=60)
        workers = sorted(codex_processes(str(board.root)))
        assert len(workers) == 3
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        assert sorted(codex_processes(str(board.root))) == workers  # the workers keep running
        assert board.supervisor_pid() is None
        scripted_model.open_gate("resume")
        # they finish while nobody supervises: exit.json is written by each runner
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not all(
            (board.attempt_dir(t, 1) / "exit.json").exists() for t in ids
        ):
            time.sleep(0.1)
        snapshots = {t: (board.attempt_dir(t, 1) / "events.jsonl").read_bytes() for t in ids}
        second = subprocess.run(
            [str(COCKPIT), "--repo", str(repo), "run", "--until-idle"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert second.returncode == 0, second.stdout + second.stderr
    finally:
        scripted_model.open_gate("resume")
        if first.poll() is None:
            first.kill()
    for t in ids:
        state = board.read_state(t)
        assert state.status == TaskStatus.REVIEW and len(state.attempts) == 1, state.message
        events = (board.attempt_dir(t, 1) / "events.jsonl").read_bytes()
        assert events == snapshots[t]  # byte for byte what Codex wrote; the supervisor only reads it
        lines = [json.loads(line) for line in events.splitlines()]
        assert lines[0]["type"] == "thread.started" and lines[-1]["type"] == "turn.completed"
    reattached = [e for e in board.read_jsonl("events.jsonl") if e["kind"] == "reattached"]
    assert {e["task_id"] for e in reattached} == set(ids)
    ledger = [r for r in board.read_jsonl("ledger.jsonl")]
    assert sorted(r["task_id"] for r in ledger) == sorted(ids)  # each attempt recorded exactly once
    assert any_processes(str(board.root)) == []


def test_missing_output_fails_acceptance_and_is_retried_with_that_feedback(
    repo: Path, scripted_model: ScriptedModel, cockpit_env
):
    scripted_model.add_scenario(
        scenario(
            "report-job",
            msg("COMPLETED: wrote the report"),  # ...but it did not
            {"items": [{"kind": "shell", "cmd": "echo '# Report' > REPORT.md"}]},
            msg("COMPLETED: REPORT.md written this time"),
        )
    )
    board = Blackboard(repo)
    tid = task(board, "report-job", output={"path": "REPORT.md", "format": "markdown"})
    SupervisorThread(board, cockpit_env, until_idle=True).start().join()
    state = board.read_state(tid)
    assert state.status == TaskStatus.SUCCEEDED and len(state.attempts) == 2
    first = state.attempts[0]
    assert first.signals.ok and first.failure.code.value == "acceptance_not_met"
    prompt = (board.attempt_dir(tid, 2) / "prompt.md").read_text()
    assert "REPORT.md" in prompt and "did not pass review" in prompt
    assert (repo / "REPORT.md").read_text() == "# Report\n"


def test_cost_over_150_percent_of_budget_is_gated(repo: Path, scripted_model: ScriptedModel, cockpit_env):
    scripted_model.add_scenario(
        scenario(
            "pricey-job",
            msg("COMPLETED: done, expensively", usage={"input_tokens": 900, "output_tokens": 100}),
        )
    )
    board = Blackboard(repo)
    tid = task(board, "pricey-job", budget={"tokens": 500})
    SupervisorThread(board, cockpit_env, until_idle=True).start().join()
    state = board.read_state(tid)
    assert state.status == TaskStatus.AWAITING_DECISION
    card = decisions(board).get(state.decision_id)
    assert card.trigger == "over_budget" and "200%" in card.context
    decisions(board).answer(card.id, "A")  # accept the result: the tokens are spent already
    SupervisorThread(board, cockpit_env, until_idle=True).start().join()
    assert board.read_state(tid).status == TaskStatus.SUCCEEDED
