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
from cockpit.demo.scripted_claude import ScriptedClaude
from tests.helpers.cloud import CloudRig, cloud_board_config
from tests.helpers.review_loop import (
    BUGGY,
    FIXED,
    SUB_TEST,
    ReviewRig,
    failing_test,
    review_on,
    reviewer,
    run_idle,
    text,
    verdict,
)

pytestmark = [pytest.mark.codex, pytest.mark.claude]


def test_an_mcp_task_sent_back_resumes_its_thread_and_converges(review_rig: ReviewRig):
    rig = review_rig
    review_on(rig.board, lanes=("mcp",))
    challenge = failing_test("tests/test_review_c1.py", SUB_TEST, "subtract adds", file="sub.py", line=2)
    reviews = [
        reviewer("mcp-job", text(verdict("challenge", challenge)), round_n=1),
        reviewer("mcp-job", text(verdict("approve")), round_n=2),
    ]
    tid = rig.task("mcp-job", BUGGY, FIXED, reviews=reviews, lane="mcp")
    rig.run_idle()
    state, review = rig.settled(tid, TaskStatus.REVIEW, "converged")
    assert [r.challenges[0].label if r.challenges else None for r in review.rounds] == ["VALID", None]
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
    run_idle(board, {"HOME": str(rig.home), "CODEX_HOME": str(rig.codex_home)}, reviewer_env)
    state = board.read_state(tid)
    assert state is not None and state.status == TaskStatus.REVIEW, state and state.message
    assert state.review is not None and state.review.status == "converged"
    first, second = state.review.rounds
    assert first.challenges[0].label == "VALID" and "sent back" in (first.decision or "")
    assert (first.attempt, second.attempt) == (1, 2) and len(state.attempts) == 2
    assert all(a.cloud is not None and a.cloud.task_id for a in state.attempts)
    assert "the greeting is not in the checkout" in (board.attempt_dir(tid, 2) / "prompt.md").read_text()
    assert second.head_commit == state.head_commit
