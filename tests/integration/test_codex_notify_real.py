"""The real Codex CLI calls `cockpit hook codex-notify` from `codex exec` (its `notify` program) at the
end of a turn, and the turn lands on the blackboard as a hand-run session."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

from cockpit.core.board.blackboard import Blackboard
from cockpit.core.usage.watcher import RolloutWatcher
from cockpit.core.views.board import BoardView
from cockpit.demo.scripted_model import Scenario, ScriptedModel
from tests.helpers.codex import run_codex_exec

COCKPIT = Path(sys.executable).parent / "cockpit"
KEY = "sk-proj-" + "q9w8e7r6" * 4


def wait_for(path: Path, timeout: float = 20.0) -> None:
    """Codex spawns its notify program and does not wait for it."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} did not appear within {timeout:.0f}s")
        time.sleep(0.05)


@pytest.mark.codex
def test_codex_exec_notifies_the_cockpit(
    codex_bin: Path,
    scripted_model: ScriptedModel,
    codex_env: dict[str, str],
    codex_home: Path,
    repo: Path,
    tmp_path: Path,
) -> None:
    scripted_model.add_scenario(
        Scenario.model_validate(
            {
                "name": "notify",
                "match": "",
                "responses": [{"items": [{"kind": "message", "text": f"Looked around.\nkey {KEY}"}]}],
            }
        )
    )
    notify = [str(COCKPIT), "--repo", str(repo), "hook", "codex-notify"]
    config = codex_home / "config.toml"
    config.write_text(f"notify = {json.dumps(notify)}\n" + config.read_text())
    env = {k: v for k, v in codex_env.items() if k != "COCKPIT_TASK_ID"}
    run = run_codex_exec(codex_bin, env, repo / "pkg", "Look around")
    assert run.exit_code == 0, run.describe()
    thread_id = run.thread_id
    assert thread_id

    board = Blackboard(repo)
    record = board.root / "external" / f"{thread_id}.json"
    wait_for(record)
    data = json.loads(record.read_text())
    assert data["cwd"] == str(repo / "pkg") and data["client"] == "codex_exec"
    assert data["first_input"] == "Look around" and data["turns"] == 1
    assert data["last_message"] == "Looked around.\nkey sk-[REDACTED]"
    [row] = [r for r in board.read_jsonl("events.jsonl") if r.get("kind") == "codex_notify"]
    assert row["notify_kind"] == "agent-turn-complete" and row["thread_id"] == thread_id
    assert row["turn_id"] == data["turn_id"] and row["turn_id"]
    assert KEY not in (board.root / "events.jsonl").read_text()

    [session] = BoardView(board, windows=RolloutWatcher([tmp_path / "no-home"])).snapshot().external
    assert (session.place, session.headline) == ("pkg", "Looked around.")
