"""The challenge loop on the other reviewed lanes: an mcp-lane task (Codex through the app-server) sent
back resumes its thread there and converges; a cloud-lane task (the real ``codex cloud`` against the fake
backend) sent back is submitted again with the challenges as feedback and converges on its new diff."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from cockpit.core.board.blackboard import Blackboard
from cockpit.core.commands import submit
from cockpit.core.envelope.model import envelope_from_mapping
from cockpit.core.records.basics import TaskStatus
from cockpit.core.trust import trust_file
from cockpit.demo.review import failing_test, reviewer, text, verdict
from cockpit.demo.scripted_claude import ScriptedClaude, client_env
from cockpit.demo.scripted_model import Scenario, ScriptedModel
from tests.helpers.cloud import CloudRig, cloud_board_config
from tests.helpers.review_loop import PYTEST
from tests.helpers.supervisor import SupervisorThread

pytestmark = [pytest.mark.codex, pytest.mark.claude]

SUB_TEST = "from sub import subtract\n\n\ndef test_subtract():\n    assert subtract(3, 1) == 2\n"


@pytest.fixture
def reviewer_env(scripted_claude: ScriptedClaude, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    monkeypatch.delenv("IS_SANDBOX", raising=False)
    return client_env(scripted_claude.base_url, tmp_path / "claude-home")


def test_an_mcp_task_sent_back_resumes_its_thread_and_converges(
    repo: Path,
    scripted_model: ScriptedModel,
    scripted_claude: ScriptedClaude,
    cockpit_env: dict,
    reviewer_env: dict,
):
    buggy = "printf 'def subtract(a, b):\\n    return a + b\\n' > sub.py"
    fixed = "printf 'def subtract(a, b):\\n    return a - b\\n' > sub.py"
    responses = [
        {"items": [{"kind": "shell", "cmd": buggy}]},
        {"items": [{"kind": "message", "text": "COMPLETED: wrote sub.py"}]},
        {"items": [{"kind": "shell", "cmd": fixed}]},
        {"items": [{"kind": "message", "text": "COMPLETED: fixed subtract"}]},
    ]
    scripted_model.add_scenario(
        Scenario.model_validate({"name": "m", "match": "mcp-job", "responses": responses})
    )
    challenge = failing_test(
        "tests/test_review_c1.py", SUB_TEST, "subtract adds", runner=PYTEST, file="sub.py", line=2
    )
    scripted_claude.add_scenario(reviewer("mcp-job", text(verdict("challenge", challenge)), round_n=1))
    scripted_claude.add_scenario(reviewer("mcp-job", text(verdict("approve")), round_n=2))
    board = Blackboard(repo)
    (board.root / "config.toml").write_text('[review]\nlanes = ["mcp"]\n')
    tid = submit(
        board,
        envelope_from_mapping(
            {"goal": "Do the mcp-job: subtract in sub.py", "title": "mcp-job", "lane": "mcp"}
        ),
    )
    sup = SupervisorThread(board, cockpit_env, until_idle=True, reviewer_env=reviewer_env).start()
    sup.join(240)
    state = board.read_state(tid)
    assert state is not None and state.status == TaskStatus.REVIEW, state and state.message
    assert state.review is not None and state.review.status == "converged"
    assert [r.challenges[0].label if r.challenges else None for r in state.review.rounds] == ["VALID", None]
    assert state.attempts[1].kind == "followup" and state.attempts[1].resumed_thread == state.thread_id
    assert (Path(state.worktree or "") / "sub.py").read_text().endswith("return a - b\n")


def test_a_cloud_task_sent_back_is_submitted_again_and_converges(
    fake_cloud: CloudRig, scripted_claude: ScriptedClaude, reviewer_env: dict
):
    rig = fake_cloud
    board = Blackboard(rig.repo)
    board.init()
    path = cloud_board_config(board.root, rig, poll_min_s=0.2)
    path.write_text(path.read_text() + '[review]\nlanes = ["cloud"]\n')
    trust_file(path)  # the review section changed the file: trusted again, as a user would
    refuted = {
        "kind": "counterexample",
        "claim": "the greeting is not in the checkout",
        "command": [sys.executable, "-c", "raise SystemExit(3)"],
        "expect": "fails",
    }
    scripted_claude.add_scenario(reviewer("greeting-job", text(verdict("challenge", refuted)), round_n=1))
    scripted_claude.add_scenario(reviewer("greeting-job", text(verdict("approve")), round_n=2))
    tid = submit(
        board,
        envelope_from_mapping(
            {"goal": "Add a greeting file [fake:delay=0.5]", "title": "greeting-job", "lane": "cloud"}
        ),
    )
    env = {"HOME": str(rig.home), "CODEX_HOME": str(rig.codex_home)}
    sup = SupervisorThread(board, env, until_idle=True, reviewer_env=reviewer_env).start()
    sup.join(240)
    state = board.read_state(tid)
    assert state is not None and state.status == TaskStatus.REVIEW, state and state.message
    assert state.review is not None and state.review.status == "converged"
    first, second = state.review.rounds
    assert first.challenges[0].label == "VALID" and "sent back" in (first.decision or "")
    assert (first.attempt, second.attempt) == (1, 2) and len(state.attempts) == 2
    assert all(a.cloud is not None and a.cloud.task_id for a in state.attempts)
    assert "the greeting is not in the checkout" in (board.attempt_dir(tid, 2) / "prompt.md").read_text()
    assert second.head_commit == state.head_commit
