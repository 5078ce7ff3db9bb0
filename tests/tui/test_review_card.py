"""A reviewed task's card says where its cross-family review is: the round out of the soft cap and the
review's state, before the signals (a narrow lane cuts the line's end); a task never reviewed says
nothing about it. The summary carries it from the state."""

from __future__ import annotations

from datetime import UTC, datetime

from cockpit.core import TaskState, TaskStatus, TaskSummary
from cockpit.core.records.review import ReviewRound, ReviewState
from cockpit.tui.widgets.task_card import card_text

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _state(status: TaskStatus, review: ReviewState | None) -> TaskState:
    return TaskState(id="sub-1a2b", lane="worktree", title="sub", status=status, review=review)


def test_cards_show_the_round_and_the_review_state():
    rounds = [ReviewRound(n=n, attempt=n, head_commit="c") for n in (1, 2)]
    challenged = ReviewState(status="challenged", rounds=rounds, soft_cap=3)
    text = card_text(TaskSummary.of(_state(TaskStatus.QUEUED, challenged)), NOW).plain
    assert text.splitlines()[1].endswith("att 0/3  review 2/3 challenged  exit · turn · msg ·")
    converged = ReviewState(status="converged", rounds=rounds[:1], soft_cap=3)
    text = card_text(TaskSummary.of(_state(TaskStatus.REVIEW, converged)), NOW).plain
    assert "review 1/3 converged" in text
    reviewing = card_text(TaskSummary.of(_state(TaskStatus.REVIEWING, ReviewState(rounds=rounds[:1]))), NOW)
    assert reviewing.plain.startswith("◇ reviewing") and "review 1 reviewing" in reviewing.plain


def test_an_unreviewed_card_is_unchanged_and_the_brief_survives_the_index():
    summary = TaskSummary.of(_state(TaskStatus.REVIEW, None))
    assert summary.review is None and "review " not in card_text(summary, NOW).plain.splitlines()[1]
    skipped = TaskSummary.of(_state(TaskStatus.REVIEW, ReviewState(status="skipped")))
    assert skipped.review is not None and skipped.review.words == "review skipped"
    again = TaskSummary.model_validate_json(skipped.model_dump_json())
    assert again == skipped
