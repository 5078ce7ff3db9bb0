"""``label``: a human (or, when the config allows, the orchestrator) labels one challenge of a review
round — refused with the reason for an unknown round, challenge or label, for the judge or anyone else
asking, for the orchestrator over a label the judge ran; written to ``state.json`` with a board event,
the task's status untouched; the same through a live supervisor's inbox."""

from __future__ import annotations

from pathlib import Path

import pytest

from cockpit.core.board.blackboard import Blackboard
from cockpit.core.commands import CommandError, run_task_command
from cockpit.core.records.basics import TaskStatus
from cockpit.core.records.review import Challenge
from cockpit.core.records.task import TaskState
from cockpit.core.supervisor.loop import Supervisor
from tests.helpers.inbox import expires_in, raw_drop
from tests.helpers.review import add_review, challenge, ran

TASK = "labelled-task-0001"


@pytest.fixture
def board(repo: Path) -> Blackboard:
    """A task in review whose one round left c1 VALID and c2 NOISE (both run by the judge), c3 PARTIAL."""
    board = Blackboard(repo)
    board.write_state(TaskState(id=TASK, lane="worktree", title="labelled", status=TaskStatus.REVIEW))
    add_review(
        board,
        TASK,
        [
            challenge("c1", "VALID", judge=ran(1)),
            challenge("c2", "NOISE", judge=ran(0, stdout="1 passed"), reason="the command passed"),
            challenge("c3", "PARTIAL", reason="not shown either way"),
        ],
    )
    return board


def allow_orchestrator(board: Blackboard) -> None:
    (board.root / "config.toml").write_text("[review]\norchestrator_may_label = true\n", encoding="utf-8")


def challenge_of(board: Blackboard, cid: str, round_n: int = -1) -> Challenge:
    state = board.read_state(TASK)
    assert state is not None and state.review is not None
    rnd = state.review.rounds[round_n] if round_n < 0 else state.review.rounds[round_n - 1]
    return next(c for c in rnd.challenges if c.id == cid)


def labelled_events(board: Blackboard) -> list[dict[str, object]]:
    return [e for e in board.read_jsonl("events.jsonl") if e.get("kind") == "challenge_labelled"]


def test_a_human_overrides_the_judge_and_the_label_is_written_with_an_event(board: Blackboard) -> None:
    said = run_task_command(board, "label", TASK, challenge="c2", label="valid", reason="it fails on 3.12")
    assert said == "c2 of round 1 labelled VALID by the human (was NOISE by the judge)"
    c2 = challenge_of(board, "c2")
    assert (c2.label, c2.labelled_by, c2.label_reason) == ("VALID", "human", "it fails on 3.12")
    assert c2.labelled_at is not None and c2.judge is not None  # what the judge saw is kept
    state = board.read_state(TASK)
    assert state is not None and state.status == TaskStatus.REVIEW  # no status change
    assert state.review is not None and state.review.status == "challenged"
    [event] = labelled_events(board)
    assert {k: event[k] for k in ("task_id", "round", "challenge", "label", "by", "was", "was_by")} == {
        "task_id": TASK,
        "round": 1,
        "challenge": "c2",
        "label": "VALID",
        "by": "human",
        "was": "NOISE",
        "was_by": "judge",
    }
    assert event["reason"] == "it fails on 3.12" and str(event["line"]).startswith(f"LABEL {TASK}:")


def test_an_unknown_challenge_round_or_label_is_refused_naming_what_there_is(board: Blackboard) -> None:
    with pytest.raises(CommandError, match=r"no challenge 'c9' \(it has: c1, c2, c3\)"):
        run_task_command(board, "label", TASK, challenge="c9", label="VALID")
    with pytest.raises(CommandError, match="has round 1; there is no round 4"):
        run_task_command(board, "label", TASK, challenge="c1", label="VALID", round=4)
    with pytest.raises(CommandError, match="unknown label 'MAYBE': use VALID, PARTIAL or NOISE"):
        run_task_command(board, "label", TASK, challenge="c1", label="MAYBE")
    with pytest.raises(CommandError, match="round must be a number"):
        run_task_command(board, "label", TASK, challenge="c1", label="VALID", round="two")
    assert challenge_of(board, "c1").label == "VALID" and labelled_events(board) == []


def test_a_task_without_a_review_has_nothing_to_label(repo: Path) -> None:
    board = Blackboard(repo)
    board.write_state(TaskState(id=TASK, lane="worktree", title="plain", status=TaskStatus.REVIEW))
    with pytest.raises(CommandError, match="has no review to label"):
        run_task_command(board, "label", TASK, challenge="c1", label="VALID")


@pytest.mark.parametrize("by", ["judge", "reviewer", "", "Human"])
def test_only_a_human_or_the_orchestrator_asks_for_a_label(board: Blackboard, by: str) -> None:
    with pytest.raises(CommandError, match="labelled by a human or the orchestrator"):
        run_task_command(board, "label", TASK, challenge="c3", label="VALID", by=by)
    assert challenge_of(board, "c3").labelled_by == "judge"


def test_the_orchestrator_is_refused_unless_the_config_allows_it(board: Blackboard) -> None:
    with pytest.raises(CommandError, match=r"may not label challenges \(\[review\] orchestrator_may_label\)"):
        run_task_command(board, "label", TASK, challenge="c3", label="VALID", by="orchestrator")
    allow_orchestrator(board)
    said = run_task_command(
        board, "label", TASK, challenge="c3", label="VALID", by="orchestrator", reason="the spec says so"
    )
    assert said.startswith("c3 of round 1 labelled VALID by the orchestrator")
    assert challenge_of(board, "c3").labelled_by == "orchestrator"


def test_the_orchestrator_never_overturns_what_the_judge_ran_nor_a_human(board: Blackboard) -> None:
    allow_orchestrator(board)
    with pytest.raises(CommandError, match="c1 is VALID by the judge from the evidence it ran: only a human"):
        run_task_command(board, "label", TASK, challenge="c1", label="NOISE", by="orchestrator")
    run_task_command(board, "label", TASK, challenge="c3", label="NOISE", reason="out of scope")
    with pytest.raises(CommandError, match="c3 is NOISE by the human: only a human"):
        run_task_command(board, "label", TASK, challenge="c3", label="VALID", by="orchestrator")
    assert challenge_of(board, "c1").label == "VALID" and challenge_of(board, "c3").label == "NOISE"
    assert [e["challenge"] for e in labelled_events(board)] == ["c3"]


def test_an_earlier_round_is_labelled_by_its_number_and_the_reason_is_cleaned(board: Blackboard) -> None:
    state = board.read_state(TASK)
    assert state is not None and state.review is not None
    add_review(board, TASK, state.review.rounds[0].challenges, [challenge("c1", "PARTIAL")])
    reason = "see \x1b[31mred\x1b[0m\nOPENAI_API_KEY=sk-abcdefghijklmnopqrstuvwx"
    said = run_task_command(board, "label", TASK, challenge="c2", label="PARTIAL", reason=reason, round=1)
    assert said.startswith("c2 of round 1 labelled PARTIAL")
    shown = challenge_of(board, "c2", round_n=1).label_reason
    assert shown is not None and "\x1b" not in shown and "\n" not in shown and "sk-abc" not in shown
    assert shown.startswith("see red OPENAI_API_KEY=")
    assert challenge_of(board, "c1", round_n=2).label == "PARTIAL"  # the last round is left alone
    assert labelled_events(board)[0]["reason"] == shown


def test_a_round_the_judge_is_still_on_is_not_labelled(board: Blackboard) -> None:
    state = board.read_state(TASK)
    assert state is not None and state.review is not None
    state.status, state.review.status = TaskStatus.REVIEWING, "reviewing"
    state.review.rounds[-1].ended_at = None
    board.write_state(state)
    with pytest.raises(CommandError, match=f"round 1 of task {TASK} is under way"):
        run_task_command(board, "label", TASK, challenge="c3", label="VALID")


def test_a_label_through_the_supervisors_inbox(board: Blackboard) -> None:
    """What ``run_task_command`` drops when a supervisor holds the board: applied by the supervisor, with
    its answer as the reply."""
    payload = {"task_id": TASK, "request_id": "11-22", "expires_at": expires_in(60)}
    raw_drop(board, "label", {**payload, "challenge": "c2", "label": "VALID", "by": "human", "round": None})
    Supervisor(board, env={}).accept_inbox()
    reply = board.take_reply("11-22")
    assert reply is not None and reply["ok"], reply
    assert reply["message"].startswith("c2 of round 1 labelled VALID by the human")
    assert challenge_of(board, "c2").label == "VALID" and len(labelled_events(board)) == 1
    raw_drop(board, "label", {**payload, "request_id": "33-44", "challenge": "c1", "label": "NOISE"})
    raw_drop(board, "label", {**payload, "request_id": "55-66", "challenge": "c1", "by": "orchestrator"})
    Supervisor(board, env={}).accept_inbox()
    assert board.take_reply("33-44")["ok"]  # type: ignore[index]  # by defaults to the human
    refused = board.take_reply("55-66")
    assert refused is not None and not refused["ok"] and "unknown label ''" in refused["error"]
