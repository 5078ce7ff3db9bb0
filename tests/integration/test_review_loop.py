"""The challenge loop end to end: the real Codex against the scripted Responses model writes the change,
the real Claude Code against the scripted Messages API server reviews it, the cockpit judges the
evidence in Codex's sandbox and decides. A clean approval goes to the human's review; a VALID challenge
sends the task back to Codex, whose fix converges in round 2; a NOISE challenge sends nothing back; a
reply with no verdict is a failed review, never a pass; a 529 is retried, an auth failure is not; the
hard cap is a gate; a supervisor stopped mid-review follows its reviewer again without a second round."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest
from git import Repo

from cockpit.cli.main import main as cockpit_main
from cockpit.cli.mcp_server import CockpitTools
from cockpit.core.board.decisions import DecisionStore
from cockpit.core.records.basics import TaskStatus, utc_now
from cockpit.core.supervisor.base import _pid_alive
from tests.helpers.processes import wait_until
from tests.helpers.review_loop import (
    BUGGY,
    FIXED,
    SUB_TEST,
    ReviewRig,
    failing_test,
    review_on,
    reviewer,
    text,
    verdict,
)
from tests.helpers.supervisor import state_of

pytestmark = [pytest.mark.codex, pytest.mark.claude]


def test_clean_approval_goes_to_the_human_review_with_the_round_attached(review_rig: ReviewRig):
    rig, board = review_rig, review_rig.board
    approve = text(verdict("approve"), input_tokens=1000, output_tokens=200)
    tid = rig.task("approve-job", FIXED, reviews=[reviewer("approve-job", approve)])
    rig.run_idle()
    state, review = rig.settled(tid, TaskStatus.REVIEW, "converged")
    (rnd,) = review.rounds
    assert (rnd.n, rnd.attempt, rnd.verdict, rnd.tries, rnd.challenges) == (1, 1, "approve", 1, [])
    assert rnd.head_commit == state.head_commit and rnd.decision and "converged" in rnd.decision
    assert rnd.reviewer.exit_code == 0 and rnd.reviewer.usage is not None
    assert rnd.reviewer.usage.output_tokens == 200 and (rnd.reviewer.cost_usd or 0) > 0
    # The stream is on the board beside the attempt; the reviewer's checkout is gone; the branch is as it was.
    round_dir = board.attempt_dir(tid, 1) / "review-1"
    lines = [json.loads(x) for x in (round_dir / "stream.jsonl").read_text().splitlines()]
    assert lines[0]["type"] == "system" and lines[-1]["type"] == "result"
    assert not (board.root / "reviews" / f"{tid}-r1").exists()
    assert Repo(rig.repo).heads[f"cockpit/{tid}"].commit.hexsha == state.head_commit
    # The prompt names paths (the envelope, the diff, the criteria), not their contents.
    (prompt,) = rig.prompts()
    assert prompt.startswith(f"Review round 1, try 1, of task {tid}.")
    assert str(round_dir / "inputs" / "diff.patch") in prompt and "return a - b" not in prompt
    # Ledger: the worker's row (codex) and the reviewer's (claude, with its cost).
    rows = [r for r in board.read_jsonl("ledger.jsonl") if r["task_id"] == tid]
    assert [r.get("family") for r in rows] == ["codex", "claude"]
    assert rows[1]["review_round"] == 1 and rows[1]["cost_usd"] > 0 and rows[1]["output_tokens"] == 200


def test_a_valid_challenge_goes_back_to_codex_and_round_2_converges(
    review_rig: ReviewRig, capsys: pytest.CaptureFixture[str]
):
    rig, board, repo = review_rig, review_rig.board, review_rig.repo
    challenge = failing_test(
        "tests/test_review_c1.py", SUB_TEST, "subtract adds instead of subtracting", file="sub.py", line=2
    )
    reviews = [
        reviewer("valid-job", text(verdict("challenge", challenge)), round_n=1),
        reviewer("valid-job", text(verdict("approve")), round_n=2),
    ]
    tid = rig.task("valid-job", BUGGY, FIXED, reviews=reviews)
    rig.run_idle()
    state, review = rig.settled(tid, TaskStatus.REVIEW, "converged")
    first, second = review.rounds
    (c1,) = first.challenges
    assert c1.label == "VALID" and c1.labelled_by == "judge" and c1.judge is not None
    assert c1.judge.exit_code == 1 and "assert 4 == 2" in c1.judge.stdout_tail
    assert first.decision and "sent back" in first.decision
    assert (second.attempt, second.verdict, second.challenges) == (2, "approve", [])
    # The fix came from Codex resuming its thread with the challenge as feedback.
    _, a2 = state.attempts
    assert a2.kind == "followup" and a2.resumed_thread == state.thread_id
    feedback = (board.attempt_dir(tid, 2) / "prompt.md").read_text()
    assert "[VALID · failing_test] sub.py:2" in feedback and "subtract adds" in feedback
    assert second.head_commit == state.head_commit != first.head_commit
    assert (Path(state.worktree or "") / "sub.py").read_text().endswith("return a - b\n")
    # The judge's test never landed on the branch: it ran in a throw-away checkout.
    assert "tests/test_review_c1.py" not in (board.task_dir(tid) / "diff.patch").read_text()
    second_prompt = rig.prompts()[1]
    assert "subtract adds instead of subtracting" in second_prompt  # the open challenge, to check again
    # Headless surfaces show the rounds: show --json dumps them, show names each challenge and label.
    assert cockpit_main(["--repo", str(repo), "show", tid, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)["state"]["review"]
    assert [r["verdict"] for r in shown["rounds"]] == ["challenge", "approve"]
    assert shown["rounds"][0]["challenges"][0]["label"] == "VALID" and shown["substantive"]["valid"] == 1
    tools = CockpitTools(repo)  # the MCP tool, as an orchestrator reads it
    tool = tools.get_review(tid[:12])
    assert isinstance(tool, dict)
    assert (tool["review_status"], len(tool["rounds"]), tool["substantive"]["rate"]) == ("converged", 2, 1.0)
    assert [r["valid"] for r in tool["rounds"]] == [1, 0] and tool["round"]["verdict"] == "approve"
    full = tools.get_review(tid[:12], round=1, challenge="c1")
    assert not isinstance(full, dict) and "-> exit 1" in full.content[1].text
    assert cockpit_main(["--repo", str(repo), "show", tid]) == 0
    out = capsys.readouterr().out
    assert "review: converged" in out and "[VALID] failing_test sub.py:2: subtract adds" in out
    assert cockpit_main(["--repo", str(repo), "status"]) == 0
    assert "reviewer: 2 reviews, 1 labelled challenges: too few to judge" in capsys.readouterr().out


def test_a_noise_challenge_is_not_sent_back(review_rig: ReviewRig):
    rig = review_rig
    challenge = failing_test("tests/test_review_c1.py", SUB_TEST, "subtract is wrong (it is not)")
    tid = rig.task("noise-job", FIXED, reviews=[reviewer("noise-job", text(verdict("challenge", challenge)))])
    rig.run_idle()
    state, review = rig.settled(tid, TaskStatus.REVIEW, "converged")
    (rnd,) = review.rounds
    (c1,) = rnd.challenges
    assert c1.label == "NOISE" and c1.judge is not None and c1.judge.exit_code == 0
    assert len(state.attempts) == 1 and state.pending_feedback is None


def test_no_verdict_is_a_failed_review_and_never_a_pass(review_rig: ReviewRig):
    rig, board = review_rig, review_rig.board
    # The fourth try (asked for by a person, below) answers; the first three say no verdict.
    reviews = [
        reviewer("silent-job", text(verdict("approve")), round_n=1, try_n=4),
        reviewer("silent-job", text("Looks good to me! Ship it.")),
    ]
    tid = rig.task("silent-job", FIXED, reviews=reviews)
    rig.run_idle()
    state, review = rig.settled(tid, TaskStatus.AWAITING_DECISION, "failed")
    (rnd,) = review.rounds
    assert rnd.verdict == "none" and rnd.failed and rnd.failure and "no verdict" in rnd.failure
    assert rnd.tries == 3 and {f.code.value for f in rnd.reviewer_failures} == {"no_final_message"}
    card = DecisionStore(board.root, utc_now).get(state.decision_id or "")
    assert card is not None and card.trigger == "review_failed"
    assert [o.action for o in card.options] == ["retry_review", "keep", "reject"]
    # Each failed try's files are kept apart; the prompt said which try it was.
    round_dir = board.attempt_dir(tid, 1) / "review-1"
    assert all((round_dir / f"try-{k}" / "stream.jsonl").is_file() for k in (1, 2, 3))
    assert [p.split(",")[1].strip() for p in rig.prompts()] == ["try 1", "try 2", "try 3"]
    # "Try the review again": the same round is opened again with a fresh retry budget.
    DecisionStore(board.root, utc_now).answer(card.id, "A")
    rig.run_idle()
    state, review = rig.settled(tid, TaskStatus.REVIEW, "converged")
    (rnd,) = review.rounds
    assert (rnd.tries, rnd.retry_from, rnd.verdict, rnd.failure) == (4, 3, "approve", None)


def test_an_overloaded_reviewer_is_retried_and_an_auth_failure_is_not(review_rig: ReviewRig):
    rig, board = review_rig, review_rig.board
    overloaded = {"kind": "http_error", "status": 529, "message": "Overloaded"}
    three = (overloaded, overloaded, overloaded)  # the first request and the CLI's own two retries
    refused = {
        "kind": "http_error",
        "status": 401,
        "error_type": "authentication_error",
        "message": "invalid x-api-key",
        "headers": {"x-should-retry": "false"},
    }
    overload = rig.task(
        "overload-job",
        FIXED,
        reviews=[
            reviewer("overload-job", *three, round_n=1, try_n=1),
            reviewer("overload-job", text(verdict("approve")), round_n=1, try_n=2),
        ],
    )
    locked = rig.task("locked-job", FIXED, reviews=[reviewer("locked-job", refused)])
    rig.run_idle()
    state, review = rig.settled(overload, TaskStatus.REVIEW, "converged")
    (rnd,) = review.rounds
    assert rnd.tries == 2 and [f.code.value for f in rnd.reviewer_failures] == ["http_5xx"]
    assert rnd.reviewer_failures[0].error_type.value == "transient"
    state, review = rig.settled(locked, TaskStatus.AWAITING_DECISION, "failed")
    (rnd,) = review.rounds
    assert rnd.tries == 1 and [f.code.value for f in rnd.reviewer_failures] == ["auth_401"]
    card = DecisionStore(board.root, utc_now).get(state.decision_id or "")
    assert card is not None and card.trigger == "review_failed" and card.recommended == "B"


def test_the_hard_cap_is_a_gate_after_a_stall_raised_the_effort(review_rig: ReviewRig):
    rig, board = review_rig, review_rig.board
    review_on(board, soft_cap=2, hard_cap=3)
    challenge = failing_test("tests/test_review_c1.py", SUB_TEST, "subtract adds", file="sub.py", line=2)
    tid = rig.task(
        "stubborn-job",
        BUGGY,
        BUGGY,
        BUGGY,
        reviews=[reviewer("stubborn-job", text(verdict("challenge", challenge)))],
    )
    rig.run_idle(timeout=360)
    state, review = rig.settled(tid, TaskStatus.AWAITING_DECISION, "challenged")
    assert [r.n for r in review.rounds] == [1, 2, 3] and len(state.attempts) == 3
    assert all(r.challenges[0].label == "VALID" for r in review.rounds)
    # Round 2 saw the same VALID challenge again: the next attempt ran one tier higher.
    assert review.effort_raised_to == "high" and state.attempts[2].effort == "high"
    card = DecisionStore(board.root, utc_now).get(state.decision_id or "")
    assert card is not None and card.trigger == "review_hard_cap" and "subtract adds" in card.context
    notes = [e for e in board.read_jsonl("events.jsonl") if e.get("topic") == "review"]
    assert any("soft cap 2" in e["line"] for e in notes)


def test_a_supervisor_stopped_mid_review_follows_its_reviewer_again(review_rig: ReviewRig):
    rig, board = review_rig, review_rig.board
    held = {**text(verdict("approve")), "gate": "hold"}
    tid = rig.task("restart-job", FIXED, reviews=[reviewer("restart-job", held)])
    with rig.supervisor() as sup:
        sup.wait_for(lambda: len(rig.claude.message_requests()) >= 1, timeout=120)
    state = state_of(board, tid)
    assert state.status == TaskStatus.REVIEWING and state.review is not None
    pid = state.review.rounds[0].reviewer.runner_pid
    assert pid is not None and os.path.exists(f"/proc/{pid}")  # the reviewer outlives its supervisor
    rig.claude.open_gate("hold")
    rig.run_idle()
    state, review = rig.settled(tid, TaskStatus.REVIEW, "converged")
    (rnd,) = review.rounds
    assert rnd.tries == 1 and not rnd.reviewer_failures  # followed again: not restarted, not recounted
    assert len(rig.prompts()) == 1
    reattached = [e for e in board.read_jsonl("events.jsonl") if e.get("kind") == "reattached"]
    assert any(e.get("review_round") == 1 for e in reattached)


def test_a_reviewer_lost_with_its_supervisor_is_started_again_in_the_same_round(review_rig: ReviewRig):
    rig, board = review_rig, review_rig.board
    held = {**text(verdict("approve")), "gate": "never"}
    reviews = [
        reviewer("lost-job", held, round_n=1, try_n=1),
        reviewer("lost-job", text(verdict("approve")), round_n=1, try_n=2),
    ]
    tid = rig.task("lost-job", FIXED, reviews=reviews)
    with rig.supervisor() as sup:
        sup.wait_for(lambda: len(rig.claude.message_requests()) >= 1, timeout=120)
    state = state_of(board, tid)
    assert state.review is not None
    pid = state.review.rounds[0].reviewer.runner_pid
    assert pid is not None
    os.killpg(pid, signal.SIGKILL)  # the runner and the reviewer die with the supervisor away
    wait_until(lambda: not _pid_alive(pid), 10, "the killed runner to be gone")
    rig.run_idle()
    state, review = rig.settled(tid, TaskStatus.REVIEW, "converged")
    (rnd,) = review.rounds
    assert rnd.tries == 2 and [f.code.value for f in rnd.reviewer_failures] == ["lost"]


def test_validation_retreat_is_a_valid_challenge_unless_the_envelope_allows_it(review_rig: ReviewRig):
    rig, board, repo = review_rig, review_rig.board, review_rig.repo
    test_file = "from calc import add\n\n\ndef test_add():\n    assert add(2, 2) == 4\n"
    (repo / "tests").mkdir()
    (repo / "tests" / "test_calc.py").write_text(test_file)
    git = Repo(repo)
    git.index.add(["tests/test_calc.py"])
    git.index.commit("a test")
    as_printf = test_file.replace("\n", "\\n")
    restore = f"mkdir -p tests && printf '{as_printf}' > tests/test_calc.py"
    retreat = rig.task(
        "retreat-job",
        f"rm tests/test_calc.py && {FIXED}",
        restore,
        reviews=[reviewer("retreat-job", text(verdict("approve")))],
    )
    allowed = rig.task(
        "allowed-job",
        f"rm tests/test_calc.py && {FIXED}",
        reviews=[reviewer("allowed-job", text(verdict("approve")))],
        allow_test_changes=True,
    )
    rig.run_idle()
    state, review = rig.settled(retreat, TaskStatus.REVIEW, "converged")
    first, second = review.rounds
    (found,) = first.challenges
    assert (found.source, found.kind, found.label, found.file) == (
        "cockpit",
        "validation_retreat",
        "VALID",
        "tests/test_calc.py",
    )
    assert first.verdict == "approve" and "sent back" in (first.decision or "")
    assert "validation_retreat" in (board.attempt_dir(retreat, 2) / "prompt.md").read_text()
    assert second.challenges == [] and len(state.attempts) == 2
    state = state_of(board, allowed)
    assert state.status == TaskStatus.REVIEW and state.review is not None
    (only,) = state.review.rounds
    assert only.challenges == [] and len(state.attempts) == 1
