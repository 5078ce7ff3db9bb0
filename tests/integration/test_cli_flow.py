"""The installed ``cockpit`` command end to end: a live ``cockpit run`` serving commands through the
inbox, ``log`` rendered and raw, ``cancel`` of a running turn, and the headless demo."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from git import Repo

from cockpit.core.board.blackboard import Blackboard
from cockpit.demo.scripted_model import Scenario, ScriptedModel
from tests.helpers.cloud import fake_cloud_processes
from tests.helpers.supervisor import any_processes

pytestmark = pytest.mark.codex
COCKPIT = Path(sys.executable).parent / "cockpit"


def cockpit(repo: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 120):
    return subprocess.run(
        [str(COCKPIT), "--repo", str(repo), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def wait_state(board: Blackboard, task_id: str, *states: str, timeout: float = 60.0) -> dict:
    """Poll the blackboard the way any other front end would (the supervisor is another process)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = {r["id"]: r for r in json.loads(cockpit(board.repo, "status", "--json").stdout)}
        if task_id in rows and rows[task_id]["state"] in states:
            return rows[task_id]
        time.sleep(0.1)
    raise AssertionError(f"{task_id} never reached {states}")


def test_live_supervisor_serves_merge_and_log(repo: Path, scripted_model: ScriptedModel, cockpit_env) -> None:
    scripted_model.add_scenario(
        Scenario.model_validate(
            {
                "name": "live",
                "match": "live-job",
                "responses": [
                    {
                        "items": [
                            {
                                "kind": "shell",
                                "cmd": "printf 'token sk-live1234567890abcdefghij\\n\\033[31mred\\033[0m\\n'",
                            }
                        ]
                    },
                    {
                        "items": [
                            {
                                "kind": "apply_patch",
                                "patch": "*** Begin Patch\n*** Add File: live.txt\n+live\n*** End Patch",
                            }
                        ]
                    },
                    {"items": [{"kind": "message", "text": "COMPLETED: wrote live.txt"}]},
                ],
            }
        )
    )
    board = Blackboard(repo)
    task_id = cockpit(repo, "submit", "--goal", "Do the live-job", "--lane", "worktree").stdout.strip()
    server = subprocess.Popen(
        [str(COCKPIT), "--repo", str(repo), "run"],
        env={**os.environ, **cockpit_env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        row = wait_state(board, task_id, "review")
        assert row["signals"] == {"exit_code": 0, "turn_completed": True, "last_message": True}
        # A second supervisor is refused while this one holds the blackboard.
        second = cockpit(repo, "run", "--until-idle", env=cockpit_env)
        assert second.returncode == 1 and "holds this blackboard" in second.stderr
        # merge goes through the inbox to the live supervisor and comes back with its answer
        merged = cockpit(repo, "merge", task_id[:12])
        assert merged.returncode == 0, merged.stderr
        assert "merged into main" in merged.stdout
        assert (repo / "live.txt").read_text() == "live\n"
        assert Repo(repo).head.commit.message.startswith(f"Merge cockpit task {task_id}")
        again = cockpit(repo, "merge", task_id)
        assert again.returncode == 1 and "merged" in again.stderr
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    assert server.returncode == 0
    rendered = cockpit(repo, "log", task_id).stdout
    assert "$ " in rendered and "live.txt" in rendered and "COMPLETED: wrote live.txt" in rendered
    assert "sk-live1234567890abcdefghij" not in rendered  # secrets redacted for display
    assert "\x1b" not in rendered  # terminal control sequences stripped
    raw = cockpit(repo, "log", task_id, "--raw").stdout
    assert raw == (board.attempt_dir(task_id, 1) / "events.jsonl").read_text()  # byte for byte
    shown = json.loads(cockpit(repo, "show", task_id, "--json").stdout)
    assert shown["state"]["status"] == "merged" and shown["envelope"]["goal"] == "Do the live-job"


def test_cancel_interrupts_a_running_turn(repo: Path, scripted_model: ScriptedModel, cockpit_env) -> None:
    scripted_model.add_scenario(
        Scenario.model_validate(
            {
                "name": "slow",
                "match": "slow-job",
                "responses": [
                    {"items": [{"kind": "message", "text": "COMPLETED: never"}], "gate": "never"},
                ],
            }
        )
    )
    board = Blackboard(repo)
    task_id = cockpit(repo, "submit", "--goal", "Do the slow-job", "--lane", "local").stdout.strip()
    server = subprocess.Popen(
        [str(COCKPIT), "--repo", str(repo), "run"],
        env={**os.environ, **cockpit_env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert scripted_model.wait_for_in_flight(1, timeout=60)
        out = cockpit(repo, "cancel", task_id)
        assert out.returncode == 0, out.stderr
        row = wait_state(board, task_id, "cancelled")
        assert row["signals"]["turn_completed"] is False
    finally:
        scripted_model.open_gate("never")
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    assert any_processes(str(board.root)) == []


@pytest.mark.claude
def test_headless_demo_runs_to_the_end(tmp_path: Path) -> None:
    env = {**os.environ, "TMPDIR": str(tmp_path)}  # the demo's throwaway directory lands in tmp_path
    out = subprocess.run(
        [str(COCKPIT), "demo", "--headless"], capture_output=True, text=True, timeout=300, env=env
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "succeeded" in out.stdout and "review" in out.stdout and "awaiting_decision" in out.stdout
    assert "cockpit decide decision-001" in out.stdout and "http_5xx" in out.stdout
    assert "merged into main" in out.stdout
    # The cloud lane: the real codex cloud against the fake, best of 2, in review, then picked and merged.
    cloud = re.search(r"^submitted (\S+)\s+lane=cloud$", out.stdout, re.M)
    assert cloud is not None, out.stdout
    task = cloud[1]
    assert re.search(rf"^{task}\s+cloud\s+review\s+1\s", out.stdout, re.M), out.stdout
    assert f"RUNNING {task}: Codex Cloud task task_" in out.stdout
    assert f"COMPLETED {task}: completed (Codex Cloud task" in out.stdout
    assert re.search(r"▸ attempt 1: 1 file\(s\) \+2 -0\s+cloud_task_\w+\.txt$", out.stdout, re.M)
    assert f"$ cockpit pick {task} 2\n  picked attempt 2: diff ready for review" in out.stdout
    # The reviewed task: the real Claude Code challenged round 1 with a test the judge saw fail in the
    # sandbox (VALID), Codex fixed it on its resumed thread, round 2 approved; then it was merged.
    reviewed = re.search(r"^submitted (add-a-mean-function-\w+)\s+lane=worktree$", out.stdout, re.M)
    assert reviewed is not None, out.stdout
    mean = reviewed[1]
    history = out.stdout.split(f"{mean} was reviewed by Claude Code", 1)[1].split("\n\n", 1)[0]
    rounds = re.findall(r"^  round (\d) \(attempt (\d)[^)]*\): (\w+); (.*)$", history, re.M)
    assert [r[:3] for r in rounds] == [("1", "1", "challenge"), ("2", "2", "approve")], history
    assert "sent back (1 VALID, 0 PARTIAL, 0 NOISE)" in rounds[0][3] and "converged" in rounds[1][3]
    assert "    [VALID] failing_test stats.py:3: mean() floors the result" in history
    judged = re.search(r"judge: exit (\d+) in codex sandbox — reproduced", history)
    assert judged is not None and int(judged[1]) != 0, history
    assert "AssertionError: 2 != 2.5" in history
    assert "back to Codex: attempt 2 (followup, the thread resumed)" in history
    assert "review: converged after 2 rounds" in history
    assert f"$ cockpit merge {mean}\n  merged into main as" in out.stdout
    assert out.stdout.count("merged into main") == 3
    assert fake_cloud_processes(str(tmp_path)) == []  # the fake cloud stopped with the demo
    assert list(tmp_path.iterdir()) == []  # and the throwaway directory is gone
