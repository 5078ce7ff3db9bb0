"""The mcp lane's runner against known app-server failure modes ("workers stay in their box").

- A ``turn/completed`` that never arrives: the real binary, told not to send it
  (``optOutNotificationMethods``), with the scripted model; the runner recovers the turn with
  ``thread/read``, either because the thread went idle or because the server went quiet.
- A server that ignores ``turn/interrupt`` and an approval request that arrives too late: the
  stand-in server in ``tests/helpers/fake_app_server.py`` (its docstring says why the real one cannot
  show this).
- A thread that never ran a turn is not kept for resume: the real binary, through the supervisor, with the
  runner stopped between ``thread/start`` and ``turn/start``.

The runner runs as the supervisor starts it: ``python -m cockpit.core.attempts.app_server_runner SPEC.json``.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cockpit.core.attempts.reducer import AttemptReducer
from cockpit.core.board.blackboard import Blackboard
from cockpit.core.board.decisions import DecisionStore
from cockpit.core.codex.app_server.client import RECOVERED_FROM, AppServerClient, AppServerError
from cockpit.core.codex.exec_events import parse_event_line
from cockpit.core.commands import submit
from cockpit.core.envelope.model import envelope_from_mapping
from cockpit.core.records.exit_info import ExitInfo
from cockpit.demo.scripted_model import ScriptedModel
from tests.helpers.scripted_steps import say, scenario
from tests.helpers.supervisor import SupervisorThread, any_processes, processes_with_marker

FAKE_SERVER = Path(__file__).resolve().parent.parent / "helpers" / "fake_app_server.py"
TASK = "t-recovery"


def runner_spec(board: Blackboard, repo: Path, codex: Path | str, env: dict[str, str], **extra: Any) -> Path:
    """Write an attempt's spec (as the supervisor would for the mcp lane); returns its path."""
    directory = board.attempt_dir(TASK, 1)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "prompt.md").write_text(f"Do the {extra.pop('job', 'recovery')} job\n")
    spec = {
        "codex": str(codex),
        "cwd": str(repo),
        "attempt_dir": str(directory),
        "prompt_file": str(directory / "prompt.md"),
        "deadline_s": 60.0,
        "grace_s": 2.0,
        "env": env,
        "approval_policy": "on-request",
        "sandbox": "workspace-write",
        "board_root": str(board.root),
        "task_id": TASK,
        "attempt": 1,
        **extra,
    }
    path = directory / "spec.json"
    path.write_text(json.dumps(spec))
    return path


def run_runner(spec: Path, timeout: float = 60.0) -> tuple[ExitInfo, float]:
    """Run the runner to its end; returns its exit.json and how long it took."""
    started = time.monotonic()
    out = subprocess.run(
        [sys.executable, "-m", "cockpit.core.attempts.app_server_runner", str(spec)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    elapsed = time.monotonic() - started
    assert out.returncode == 0, out.stderr
    info = ExitInfo.model_validate_json((spec.parent / "exit.json").read_bytes())
    return info, elapsed


def jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def reduce(path: Path) -> AttemptReducer:
    reducer = AttemptReducer()
    reducer.apply_many(parse_event_line(line) for line in path.read_bytes().splitlines() if line.strip())
    return reducer


def fake_codex(tmp_path: Path, mode: str) -> Path:
    """An executable standing in for the codex binary: ``codex app-server`` runs the fake in ``mode``."""
    script = tmp_path / f"fake-codex-{mode}"
    script.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE_SERVER}" {mode} "$@"\n')
    script.chmod(0o755)
    return script


def store(board: Blackboard) -> DecisionStore:
    return DecisionStore(board.root, lambda: datetime.now(UTC))


# --- a turn/completed that never arrives (real binary) ------------------------------------------------


@pytest.mark.codex
def test_missing_turn_completed_is_recovered_when_the_thread_goes_idle(
    repo: Path, codex_bin: Path, scripted_model: ScriptedModel, cockpit_env: dict[str, str]
) -> None:
    scripted_model.add_scenario(scenario("idle-job", say("COMPLETED: recovered from thread/read")))
    board = Blackboard(repo)
    spec = runner_spec(
        board,
        repo,
        codex_bin,
        cockpit_env,
        job="idle-job",
        idle_read_s=0.5,
        quiet_read_s=600,
        opt_out_notifications=["turn/completed"],
    )
    info, elapsed = run_runner(spec)
    directory = spec.parent
    assert info.code == 0, info.note
    assert info.model_extra["recovered"] == "thread/read"
    assert "the thread is idle but its turn did not end" in (info.note or "")
    assert "thread/read reports the turn completed" in (info.note or "")
    assert elapsed < 30  # not the 60 s hard cap
    assert (directory / "last-message.md").read_text() == "COMPLETED: recovered from thread/read"
    assert any(line.get("method") == "thread/read" for line in jsonl(directory / "sent.jsonl"))
    events = jsonl(directory / "events.jsonl")
    completions = [e for e in events if e.get("method") == "turn/completed"]
    assert len(completions) == 1 and completions[0][RECOVERED_FROM] == "thread/read"
    assert completions[0]["params"]["turn"]["id"] == info.model_extra["turn_id"]
    # What the supervisor folds from events.jsonl: a completed turn in a resumable thread.
    progress = reduce(directory / "events.jsonl").snapshot()
    assert progress.turn_completed and progress.turn_failed is None
    assert progress.thread_id == info.model_extra["thread_id"]


@pytest.mark.codex
def test_quiet_turn_is_recovered_without_any_end_signal(
    repo: Path, codex_bin: Path, scripted_model: ScriptedModel, cockpit_env: dict[str, str]
) -> None:
    scripted_model.add_scenario(scenario("quiet-job", say("COMPLETED: quiet but done")))
    board = Blackboard(repo)
    spec = runner_spec(
        board,
        repo,
        codex_bin,
        cockpit_env,
        job="quiet-job",
        idle_read_s=600,
        quiet_read_s=1.5,
        opt_out_notifications=["turn/completed", "thread/status/changed"],
    )
    info, elapsed = run_runner(spec)
    assert info.code == 0, info.note
    assert info.model_extra["recovered"] == "thread/read"
    assert "no notification for 1.5s" in (info.note or "")
    assert elapsed < 30
    assert (spec.parent / "last-message.md").read_text() == "COMPLETED: quiet but done"


# --- turn/interrupt with a deadline (stand-in server) -------------------------------------------------


def test_interrupt_that_is_ignored_ends_in_a_process_group_kill(repo: Path, tmp_path: Path) -> None:
    board = Blackboard(repo)
    marker = f"FAKE_APP_SERVER_MARKER={tmp_path}"
    spec = runner_spec(
        board,
        repo,
        fake_codex(tmp_path, "ignore-interrupt"),
        {"FAKE_APP_SERVER_MARKER": str(tmp_path)},
        deadline_s=1.0,
        grace_s=1.0,
        interrupt_grace_s=1.5,
    )
    info, elapsed = run_runner(spec, timeout=30)
    assert info.timed_out and info.code != 0
    assert info.signal == signal.SIGKILL
    assert info.model_extra["killed_after_interrupt"] is True
    killed = "turn did not end within 1.5s of turn/interrupt; app-server process group killed"
    assert killed in (info.note or "")
    assert elapsed < 10  # interrupt at 1 s, kill 1.5 s later, not close()'s SIGTERM/SIGKILL ladder
    sent = [line.get("method") for line in jsonl(spec.parent / "sent.jsonl")]
    interrupt_at = sent.index("turn/interrupt")
    assert "thread/read" in sent[interrupt_at:]  # a last look before the kill
    deadline = time.monotonic() + 5
    while processes_with_marker(marker) and time.monotonic() < deadline:
        time.sleep(0.05)  # polling /proc: there is nothing to await
    assert processes_with_marker(marker) == []  # the fake and its child: the whole group is gone


# --- approval requests that come too late (stand-in server) -------------------------------------------


def test_late_approval_requests_are_declined_and_never_become_cards(repo: Path, tmp_path: Path) -> None:
    board = Blackboard(repo)
    spec = runner_spec(board, repo, fake_codex(tmp_path, "late-approval"), {})
    info, _elapsed = run_runner(spec, timeout=30)
    assert info.code == 0, info.note
    assert info.model_extra["late_approvals_declined"] == 2
    assert info.model_extra["approvals"] == 0
    sent = jsonl(spec.parent / "sent.jsonl")
    assert {"id": 0, "result": {"decision": "decline"}} in sent  # for a turn it never started
    assert {"id": 1, "result": {"decision": "decline"}} in sent  # after its turn/completed
    assert not any(line.get("result", {}).get("decision") == "accept" for line in sent)
    assert store(board).pending() == [] and store(board).resolved() == []  # no card, not even withdrawn
    rows = [row for row in board.read_jsonl("events.jsonl") if row.get("kind") == "late_approval"]
    assert [(r["request_id"], r["decision"], r["task_id"]) for r in rows] == [
        (0, "decline", TASK),
        (1, "decline", TASK),
    ]
    assert "not the running turn" in rows[0]["why"] and "already ended" in rows[1]["why"]
    assert rows[1]["line"].startswith(f"LATE APPROVAL {TASK}: declined request 1")
    assert (spec.parent / "last-message.md").read_text() == "COMPLETED: the fake turn is done"


# --- a thread without a turn is not kept for resume (real binary, supervisor) -------------------------


@pytest.mark.codex
def test_thread_stopped_before_its_first_turn_is_not_recorded_for_resume(
    repo: Path,
    codex_bin: Path,
    scripted_model: ScriptedModel,
    cockpit_env: dict[str, str],
    codex_home: Path,
    tmp_path: Path,
) -> None:
    board = Blackboard(repo)
    tid = submit(board, envelope_from_mapping({"goal": "Do the early job", "title": "early", "lane": "mcp"}))
    pid_file = board.attempt_dir(tid, 1) / "pid.json"
    sup = SupervisorThread(board, cockpit_env).start()
    try:
        deadline = time.monotonic() + 60
        while not pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.005)  # the runner writes it before initialize: stop it before turn/start
        runner_pid = json.loads(pid_file.read_text())["runner_pid"]
        os.kill(runner_pid, signal.SIGTERM)
        state = sup.wait_status(tid, "cancelled", "failed", "review", "succeeded", "queued", timeout=60)
        assert sup.wait_for(lambda: not any_processes(str(board.root)), 15)
    finally:
        sup.stop()
    directory = board.attempt_dir(tid, 1)
    # the thread's id from the answer to thread/start (Codex may send its thread/started notification
    # after that answer, and the runner stops reading once it has the answer and the stop request)
    asked = [line["id"] for line in jsonl(directory / "sent.jsonl") if line.get("method") == "thread/start"]
    answers = [e for e in jsonl(directory / "events.jsonl") if "result" in e and e.get("id") in asked]
    assert len(answers) == 1, "the thread was started"
    thread_id = answers[0]["result"]["thread"]["id"]
    sent = [line.get("method") for line in jsonl(directory / "sent.jsonl")]
    assert "thread/start" in sent and "turn/start" not in sent
    info = ExitInfo.model_validate_json((directory / "exit.json").read_bytes())
    assert info.model_extra["thread_id"] is None and info.model_extra["turn_id"] is None
    assert "started but no turn ran" in (info.note or "")
    state = board.read_state(tid)
    assert state is not None and state.thread_id is None
    assert state.attempts[0].progress.thread_id is None
    checkpoint = json.loads((board.task_dir(tid) / "checkpoint.json").read_text())
    assert checkpoint["thread_id"] is None
    assert not list((codex_home / "sessions").glob(f"*/*/*/rollout-*-{thread_id}.jsonl"))
    assert scripted_model.requests == []
    # Why it must not be kept: the real server cannot resume a thread that never ran a turn.
    env = {**os.environ, **cockpit_env}
    spare = tmp_path / "resume-check"

    async def resume() -> str:
        async with AppServerClient() as client:
            await client.start(codex_bin, repo, env, spare / "events.jsonl")
            await client.initialize()
            with pytest.raises(AppServerError) as excinfo:
                await client.thread_resume(thread_id, cwd=repo)
            return excinfo.value.message

    assert "no rollout found" in asyncio.run(resume())
