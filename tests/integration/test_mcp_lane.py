"""The mcp lane through the supervisor: a detached app-server runner, approvals as decision cards.

Real pinned Codex binary, scripted model, real git repo. Commands approved by the user run as a login
shell; `cockpit_env` gives Codex an empty HOME (the host's shell profile must not stall the tests).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cockpit.core.board.blackboard import Blackboard
from cockpit.core.board.decisions import DecisionCard, DecisionStore
from cockpit.core.commands import submit
from cockpit.core.envelope.model import envelope_from_mapping
from cockpit.core.records.exit_info import ExitInfo
from cockpit.core.records.task import TaskState
from cockpit.demo.scripted_model import Scenario, ScriptedModel
from tests.helpers.scripted_steps import escalated, say, scenario
from tests.helpers.supervisor import SupervisorThread, any_processes

pytestmark = pytest.mark.codex


def mcp_task(board: Blackboard, name: str, **fields: object) -> str:
    envelope = {"goal": f"Do the {name} job", "title": name, "lane": "mcp", **fields}
    return submit(board, envelope_from_mapping(envelope))


def store(board: Blackboard) -> DecisionStore:
    return DecisionStore(board.root, lambda: datetime.now(UTC))


def wait_card(sup: SupervisorThread, board: Blackboard, task_id: str, timeout: float = 60.0) -> DecisionCard:
    found: list[DecisionCard] = []

    def pending() -> bool:
        found[:] = [c for c in store(board).pending_for(task_id) if c.trigger == "codex_approval"]
        return bool(found)

    assert sup.wait_for(pending, timeout), f"no approval card: {board.read_state(task_id)}"
    return found[0]


def attempt_dir(board: Blackboard, state: TaskState) -> Path:
    return board.attempt_dir(state.id, state.attempts[-1].n)


def sent_lines(board: Blackboard, state: TaskState) -> list[dict]:
    path = attempt_dir(board, state) / "sent.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_approval_accepted_runs_command_and_reaches_review(
    repo: Path, scripted_model: ScriptedModel, cockpit_env: dict[str, str]
) -> None:
    scripted_model.add_scenario(
        scenario(
            "approve-job",
            escalated(
                "echo approved > approved.txt", "needs to write approved.txt", usage={"input_tokens": 50}
            ),
            say("COMPLETED: wrote approved.txt", usage={"input_tokens": 80, "output_tokens": 9}),
        )
    )
    board = Blackboard(repo)
    tid = mcp_task(board, "approve-job")
    sup = SupervisorThread(board, cockpit_env).start()
    try:
        card = wait_card(sup, board, tid)
        assert "echo approved > approved.txt" in card.title + card.context
        assert "needs to write approved.txt" in card.context
        assert card.recommended == "C" and card.default == "C"

        def asking() -> str | None:
            st = board.read_state(tid)
            return st.attempts[-1].progress.awaiting_approval if st and st.attempts else None

        # The task says what Codex waits for (its card in the lane pane shows it too).
        assert sup.wait_for(lambda: asking() is not None, 30)
        assert asking() == "run /bin/bash -lc 'echo approved > approved.txt'"
        assert "waits for approval to run" in (board.read_state(tid).message or "")
        store(board).answer(card.id, "A")
        assert sup.wait_for(lambda: asking() is None, 60)
        state = sup.wait_status(tid, "review", "succeeded", "failed", timeout=90)
    finally:
        sup.stop()
    assert state.status.value == "review", state.message
    sig = state.attempts[-1].signals
    assert (sig.exit_code, sig.turn_completed, sig.last_message) == (0, True, True)
    assert state.thread_id
    assert state.diff is not None and "approved.txt" in " ".join(state.diff.paths)
    assert {"id": 0, "result": {"decision": "accept"}} in sent_lines(board, state)
    events = (attempt_dir(board, state) / "events.jsonl").read_bytes()
    assert b'"method":"item/commandExecution/requestApproval"' in events
    assert b'"decision"' not in events  # only what Codex said
    assert store(board).get(card.id).resolved.action == "accept"
    assert state.usage is not None and state.usage.input_tokens == 130
    assert not any_processes(str(board.root))


def test_approval_declined_turn_still_completes(
    repo: Path, scripted_model: ScriptedModel, cockpit_env: dict[str, str]
) -> None:
    scripted_model.add_scenario(
        scenario(
            "decline-job",
            escalated("echo no > declined.txt", "wants declined.txt"),
            say("COMPLETED: could not write declined.txt"),
        )
    )
    board = Blackboard(repo)
    tid = mcp_task(board, "decline-job")
    sup = SupervisorThread(board, cockpit_env).start()
    try:
        card = wait_card(sup, board, tid)
        store(board).answer(card.id, "C")
        state = sup.wait_status(tid, "review", "succeeded", "failed", timeout=90)
    finally:
        sup.stop()
    assert state.status.value == "succeeded", state.message  # no changes: nothing to review
    sig = state.attempts[-1].signals
    assert (sig.exit_code, sig.turn_completed) == (0, True)
    assert {"id": 0, "result": {"decision": "decline"}} in sent_lines(board, state)
    progress = state.attempts[-1].progress
    assert progress is not None and progress.commands_failed == 1
    assert not (Path(state.worktree or "") / "declined.txt").exists()


def test_option_d_stops_the_turn_and_cancels_the_task(
    repo: Path, scripted_model: ScriptedModel, cockpit_env: dict[str, str]
) -> None:
    scripted_model.add_scenario(
        scenario("stop-job", escalated("echo s > s.txt", "wants s.txt"), say("never sent"))
    )
    board = Blackboard(repo)
    tid = mcp_task(board, "stop-job")
    sup = SupervisorThread(board, cockpit_env).start()
    try:
        card = wait_card(sup, board, tid)
        store(board).answer(card.id, "D")
        state = sup.wait_status(tid, "cancelled", "failed", "review", "succeeded", timeout=60)
    finally:
        sup.stop()
    assert state.status.value == "cancelled", state.message
    assert {"id": 0, "result": {"decision": "cancel"}} in sent_lines(board, state)
    assert not any_processes(str(board.root))


def test_cancel_during_pending_approval(
    repo: Path, scripted_model: ScriptedModel, cockpit_env: dict[str, str]
) -> None:
    scripted_model.add_scenario(
        scenario("cancel-job", escalated("echo x > x.txt", "wants x.txt"), say("never sent"))
    )
    board = Blackboard(repo)
    tid = mcp_task(board, "cancel-job")
    sup = SupervisorThread(board, cockpit_env).start()
    try:
        card = wait_card(sup, board, tid)
        out = subprocess.run(
            [str(Path(sys.executable).parent / "cockpit"), "--repo", str(repo), "cancel", tid],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, **cockpit_env},
        )
        assert out.returncode == 0, out.stderr
        state = sup.wait_status(tid, "cancelled", "failed", timeout=60)
        assert state.status.value == "cancelled", state.message
        assert sup.wait_for(lambda: not any_processes(str(board.root)), 15)
    finally:
        sup.stop()
    resolved = store(board).get(card.id).resolved
    assert resolved is not None and resolved.action == "withdrawn"
    info = ExitInfo.model_validate_json((attempt_dir(board, state) / "exit.json").read_bytes())
    assert info.cancelled and info.code != 0
    events = (attempt_dir(board, state) / "events.jsonl").read_bytes()
    assert b'"status":"interrupted"' in events
    assert any(line.get("method") == "turn/interrupt" for line in sent_lines(board, state))


def test_http_500_fails_the_attempt_cleanly(
    repo: Path, scripted_model: ScriptedModel, cockpit_env: dict[str, str]
) -> None:
    error = {"kind": "http_error", "status": 500, "body": None}
    scripted_model.add_scenario(scenario("broken-job", *([error] * 12)))
    board = Blackboard(repo)
    tid = mcp_task(board, "broken-job")
    sup = SupervisorThread(board, cockpit_env).start()
    try:
        sup.wait_for(
            lambda: (s := board.read_state(tid)) is not None and s.attempts and s.attempts[0].exit, 120
        )
        state = board.read_state(tid)
    finally:
        sup.stop()
    attempt = state.attempts[0]
    assert attempt.signals.exit_code != 0 and not attempt.signals.turn_completed
    assert attempt.failure is not None, state.message
    assert attempt.failure.http_status == 500, attempt.failure
    assert not any_processes(str(board.root))


def test_turn_survives_a_supervisor_stop(
    repo: Path, scripted_model: ScriptedModel, cockpit_env: dict[str, str]
) -> None:
    """Crash-only: the runner owns the turn, so an approval answered while no supervisor runs still
    reaches Codex, and the next supervisor settles the attempt from its files."""
    scripted_model.add_scenario(
        scenario(
            "survive-job",
            escalated("echo kept > kept.txt", "needs kept.txt"),
            say("COMPLETED: wrote kept.txt"),
        )
    )
    board = Blackboard(repo)
    tid = mcp_task(board, "survive-job")
    sup = SupervisorThread(board, cockpit_env).start()
    try:
        card = wait_card(sup, board, tid)
    finally:
        sup.stop()
    state = board.read_state(tid)
    assert state is not None and state.status.value == "running"
    exit_path = attempt_dir(board, state) / "exit.json"
    store(board).answer(card.id, "A")
    deadline = time.monotonic() + 60
    while not exit_path.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert exit_path.exists(), "the runner did not finish on its own"
    sup = SupervisorThread(board, cockpit_env).start()
    try:
        state = sup.wait_status(tid, "review", "succeeded", "failed", timeout=60)
    finally:
        sup.stop()
    assert state.status.value == "review", state.message
    assert (Path(state.worktree or "") / "kept.txt").read_text() == "kept\n"
    assert not any_processes(str(board.root))


def test_untrusted_policy_asks_for_a_plain_command(
    repo: Path, scripted_model: ScriptedModel, cockpit_env: dict[str, str]
) -> None:
    scripted_model.add_scenario(
        scenario(
            "untrusted-job",
            {"items": [{"kind": "shell", "cmd": "touch asked.txt"}]},
            say("COMPLETED: touched asked.txt"),
        )
    )
    board = Blackboard(repo)
    tid = mcp_task(board, "untrusted-job", approval_policy="untrusted")
    sup = SupervisorThread(board, cockpit_env).start()
    try:
        card = wait_card(sup, board, tid)
        assert "touch asked.txt" in card.title
        store(board).answer(card.id, "B")
        state = sup.wait_status(tid, "review", "succeeded", "failed", timeout=90)
    finally:
        sup.stop()
    assert state.status.value == "review", state.message
    assert {"id": 0, "result": {"decision": "acceptForSession"}} in sent_lines(board, state)
    spec = json.loads((attempt_dir(board, state) / "spec.json").read_text())
    assert spec["approval_policy"] == "untrusted"


README_PATCH = (
    "*** Begin Patch\n*** Update File: README.md\n@@\n # calc\n \n"
    "-A tiny module the demo's workers improve.\n+A tiny module, patched through a card.\n*** End Patch"
)
README_BEFORE = "# calc\n\nA tiny module the demo's workers improve.\n"


def patch_scenario(name: str) -> Scenario:
    return scenario(
        name,
        {"items": [{"kind": "apply_patch", "patch": README_PATCH}]},
        say(f"COMPLETED: {name} done"),
    )


def test_untrusted_file_change_card_carries_the_diff_and_accept_applies_it(
    repo: Path, scripted_model: ScriptedModel, cockpit_env: dict[str, str]
) -> None:
    scripted_model.add_scenario(patch_scenario("patch-accept-job"))
    board = Blackboard(repo)
    # A chunk limit shorter than the deadline: the exec lanes would chunk, the mcp lane must not.
    (board.root / "config.toml").write_text("chunk_limit_s = 10\nrun_timeout_s = 120\n")
    tid = mcp_task(board, "patch-accept-job", approval_policy="untrusted")
    sup = SupervisorThread(board, cockpit_env).start()
    try:
        card = wait_card(sup, board, tid)
        assert card.title == "Codex asks to change files"
        assert card.risk == "medium"
        assert [o.key for o in card.options] == ["A", "B", "C", "D"]
        assert "```diff\n--- a/README.md\n+++ b/README.md\n" in card.context
        diff_block = card.context.split("```diff\n", 1)[1].split("```", 1)[0]
        assert "\n-A tiny module the demo's workers improve.\n" in diff_block
        assert "\n+A tiny module, patched through a card.\n" in diff_block
        store(board).answer(card.id, "A")
        state = sup.wait_status(tid, "review", "succeeded", "failed", timeout=90)
    finally:
        sup.stop()
    assert state.status.value == "review", state.message
    assert state.worktree
    worktree = Path(state.worktree)
    assert f"Files: `{worktree / 'README.md'}`" in card.context.split("```diff", 1)[0]
    assert (worktree / "README.md").read_text() == README_BEFORE.replace(
        "A tiny module the demo's workers improve.", "A tiny module, patched through a card."
    )
    assert (repo / "README.md").read_text() == README_BEFORE  # only the worktree changed
    assert state.diff is not None and state.diff.files == 1
    assert state.diff.paths == ["README.md"]
    [request_id] = [
        json.loads(line)["id"]
        for line in (attempt_dir(board, state) / "events.jsonl").read_text().splitlines()
        if '"method":"item/fileChange/requestApproval"' in line
    ]
    assert {"id": request_id, "result": {"decision": "accept"}} in sent_lines(board, state)
    assert store(board).get(card.id).resolved.action == "accept"
    spec = json.loads((attempt_dir(board, state) / "spec.json").read_text())
    assert spec["deadline_s"] == 120  # the board config was read
    assert spec["chunk_s"] is None
    assert not state.attempts[-1].exit.chunked
    assert len(state.attempts) == 1
    assert not any_processes(str(board.root))


def test_untrusted_file_change_declined_leaves_the_worktree_unchanged(
    repo: Path, scripted_model: ScriptedModel, cockpit_env: dict[str, str]
) -> None:
    scripted_model.add_scenario(patch_scenario("patch-decline-job"))
    board = Blackboard(repo)
    tid = mcp_task(board, "patch-decline-job", approval_policy="untrusted")
    sup = SupervisorThread(board, cockpit_env).start()
    try:
        card = wait_card(sup, board, tid)
        assert card.title == "Codex asks to change files"
        store(board).answer(card.id, "C")
        state = sup.wait_status(tid, "review", "succeeded", "failed", timeout=90)
    finally:
        sup.stop()
    # Nothing changed, so there is nothing to review: the worktree and its branch are dropped.
    assert state.status.value == "succeeded", state.message
    assert "no changes" in (state.message or "")
    assert state.diff is not None and (state.diff.files, state.diff.paths) == (0, [])
    assert state.worktree
    worktree = Path(state.worktree)
    assert not worktree.exists()
    assert (repo / "README.md").read_text() == README_BEFORE
    sig = state.attempts[-1].signals
    assert (sig.exit_code, sig.turn_completed, sig.last_message) == (0, True, True)
    assert len(scripted_model.requests) == 2  # the turn went on after the decline
    assert {"id": 0, "result": {"decision": "decline"}} in sent_lines(board, state)
    assert store(board).get(card.id).resolved.action == "decline"
    events = [
        json.loads(line) for line in (attempt_dir(board, state) / "events.jsonl").read_text().splitlines()
    ]
    [patch_item] = [
        e["params"]["item"]
        for e in events
        if e.get("method") == "item/completed" and e["params"]["item"]["type"] == "fileChange"
    ]
    assert patch_item["status"] == "declined"
    assert patch_item["changes"][0]["path"] == str(worktree / "README.md")
    assert not any_processes(str(board.root))
