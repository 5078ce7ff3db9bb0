"""The mcp lane's live streams and its recovery, through the supervisor with the real pinned Codex
app-server and the scripted model: the turn's diff reaches the task (``turn.diff``), the credit window
follows ``account/rateLimits/updated`` (sparse updates merged), and an attempt whose runner is killed
mid-turn is resumed on its thread by the next one, which says so in the event log."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from cockpit.core.board.blackboard import Blackboard
from cockpit.core.board.decisions import WITHDRAWN
from cockpit.core.commands import submit
from cockpit.core.envelope.model import envelope_from_mapping
from cockpit.core.usage.live import LIVE_RATE_LIMITS_FILE, read_live
from cockpit.core.views.board import BoardView
from cockpit.demo.scripted_model import ScriptedModel
from tests.helpers.scripted_steps import escalated, say, scenario
from tests.helpers.supervisor import SupervisorThread, any_processes

pytestmark = pytest.mark.codex

PATCH = "*** Begin Patch\n*** Add File: notes/live.md\n+# Live\n+streamed while the turn ran\n*** End Patch"


def mcp_task(board: Blackboard, name: str) -> str:
    return submit(board, envelope_from_mapping({"goal": f"Do the {name} job", "title": name, "lane": "mcp"}))


def test_turn_diff_and_rate_limits_stream_into_the_board(
    repo: Path, scripted_model: ScriptedModel, cockpit_env: dict[str, str]
) -> None:
    reset = int(time.time()) + 3600
    headers = {
        "x-codex-primary-used-percent": "42",
        "x-codex-primary-window-minutes": "300",
        "x-codex-primary-reset-at": str(reset),
        "x-codex-secondary-used-percent": "13",
        "x-codex-secondary-window-minutes": "10080",
    }
    scripted_model.add_scenario(
        scenario(
            "live-job",
            {"items": [{"kind": "apply_patch", "patch": PATCH}], "headers": headers},
            say("COMPLETED: added notes/live.md"),  # no headers: a sparse update, never a reset
        )
    )
    board = Blackboard(repo)
    tid = mcp_task(board, "live-job")
    sup = SupervisorThread(board, cockpit_env).start()
    try:
        state = sup.wait_status(tid, "review", "succeeded", "failed", timeout=90)
        sup.supervisor.windows.refresh(force_rescan=True)  # the rollout's header-less line is read too
        gauge = sup.supervisor.windows.snapshot()
    finally:
        sup.stop()
    assert state.status.value == "review", state.message
    attempt = state.attempts[-1]
    turn_diff = (board.attempt_dir(tid, attempt.n) / "turn.diff").read_text()
    assert "diff --git a/notes/live.md b/notes/live.md" in turn_diff
    assert "+streamed while the turn ran" in turn_diff
    live = attempt.progress.live_diff
    assert live is not None and (live.files, live.insertions, live.paths) == (1, 2, ["notes/live.md"])
    assert state.diff.paths == ["notes/live.md"]  # the review diff agrees with what was streamed

    recorded = read_live(board.root / LIVE_RATE_LIMITS_FILE).limits["codex"]
    assert recorded.rate_limits["primary"]["usedPercent"] == 42
    assert recorded.rate_limits["secondary"]["usedPercent"] == 13
    for windows in (gauge, BoardView(board, env=cockpit_env).snapshot().windows):
        assert [(w.label, w.used_percent) for w in windows.windows] == [("5h", 42.0), ("weekly", 13.0)]
        assert windows.binding is not None and windows.binding.resets_at == reset
    assert not any_processes(str(board.root))


@pytest.mark.parametrize("supervisor_restarts", [False, True], ids=["live", "after-restart"])
def test_a_killed_runner_is_resumed_on_its_thread(
    repo: Path, scripted_model: ScriptedModel, cockpit_env: dict[str, str], supervisor_restarts: bool
) -> None:
    """The runner (and with it the app-server and the turn) dies while Codex waits for an approval,
    with the supervisor watching or while no supervisor runs; either way the next attempt resumes the
    thread by the id in the task's checkpoint, and the dead request's card is withdrawn."""
    scripted_model.add_scenario(
        scenario(
            "resume-job",
            escalated("echo early > early.txt", "needs early.txt"),
            {"items": [{"kind": "shell", "cmd": "echo resumed > resumed.txt"}]},
            say("COMPLETED: resumed and wrote resumed.txt"),
        )
    )
    board = Blackboard(repo)
    tid = mcp_task(board, "resume-job")
    sup = SupervisorThread(board, cockpit_env).start()
    try:
        found: list = []

        def asked() -> bool:
            found[:] = [c for c in sup.supervisor.decisions.pending_for(tid) if c.trigger == "codex_approval"]
            return bool(found)

        assert sup.wait_for(asked, 60), board.read_state(tid)
        first = board.read_state(tid)
        assert first is not None and first.thread_id
        thread = first.thread_id
        if supervisor_restarts:
            sup.stop()  # the supervisor goes away first; the runner keeps the turn
        os.kill(first.attempts[0].runner_pid, signal.SIGKILL)  # the runner dies; its app-server follows
        if supervisor_restarts:
            deadline = time.monotonic() + 30
            while any_processes(str(board.root)) and time.monotonic() < deadline:
                time.sleep(0.1)  # processes outside the board: nothing to await but /proc
            assert not any_processes(str(board.root)), "the app-server outlived its runner"
            sup = SupervisorThread(board, cockpit_env).start()
        state = sup.wait_status(tid, "review", "succeeded", "failed", timeout=120)
    finally:
        sup.stop()
    assert state.status.value == "review", state.message
    lost, resumed = state.attempts
    assert lost.exit is not None and lost.exit.lost, lost.exit
    card = sup.supervisor.decisions.get(found[0].id)
    assert card is not None and card.resolved is not None and card.resolved.action == WITHDRAWN
    assert "gone" in (card.resolved.note or "")

    assert resumed.kind == "resume" and resumed.resumed_thread == thread
    sent = [json.loads(x) for x in (board.attempt_dir(tid, 2) / "sent.jsonl").read_text().splitlines()]
    resume_calls = [m for m in sent if m.get("method") == "thread/resume"]
    assert len(resume_calls) == 1 and resume_calls[0]["params"]["threadId"] == thread
    assert not [m for m in sent if m.get("method") == "thread/start"]
    assert state.thread_id == thread

    # The resumed turn carries the thread's history: the first prompt is still in the model's input.
    first_prompt = (board.attempt_dir(tid, 1) / "prompt.md").read_text().strip()
    second_prompt = (board.attempt_dir(tid, 2) / "prompt.md").read_text().strip()
    assert first_prompt != second_prompt
    texts = scripted_model.requests[-1].user_texts()
    assert any(first_prompt in t for t in texts) and any(second_prompt in t for t in texts)

    lines = [e.get("line", "") for e in board.read_jsonl("events.jsonl") if e.get("task_id") == tid]
    assert f"RESUME {tid}: attempt 2 resumes thread {thread} (resume)" in lines
    assert (Path(state.worktree or "") / "resumed.txt").read_text() == "resumed\n"
    assert not (Path(state.worktree or "") / "early.txt").exists()  # never approved
    assert not any_processes(str(board.root))
