"""The task view's review section, without a UI: no lines for a task not reviewed; a skipped review with
its reason; a round under way; a challenged round with its counts and "sent back"; a converged review
with the reviewer's model, cost and time; a raised effort; a failed or cancelled review never worded as
a pass; the diff review's key only when given; and hostile model text shown as data."""

from __future__ import annotations

from typing import Any

from cockpit.core.records.review import ReviewerRun, ReviewRound, ReviewState
from cockpit.core.views.task_view import ReviewLine, review_lines
from tests.helpers.review import REVIEWED_AT, challenge

HOSTILE = "\x1b[2J\x1b]0;pwned\x07[bold red]boom[/bold red]\r\nsecond line sk-abcdefghijklmnopqrstuv"


def rnd(n: int, *challenges: Any, **fields: Any) -> ReviewRound:
    data: dict[str, Any] = {
        "n": n,
        "attempt": n,
        "head_commit": "0" * 40,
        "started_at": REVIEWED_AT,
        "challenges": list(challenges),
    }
    data.update(fields)
    return ReviewRound.model_validate(data)


def texts(lines: list[ReviewLine]) -> list[str]:
    return [line.text for line in lines]


def test_a_task_not_reviewed_has_no_review_lines() -> None:
    assert review_lines(None) == []
    assert review_lines(None, review_key="v") == []


def test_a_skipped_review_says_why() -> None:
    review = ReviewState(status="skipped", skipped_reason="the envelope says review = false")
    assert review_lines(review, review_key="v") == [
        ReviewLine("review skipped: the envelope says review = false", "heading")
    ]
    assert texts(review_lines(ReviewState(status="skipped"))) == ["review skipped"]


def test_round_one_under_way() -> None:
    review = ReviewState(status="reviewing", soft_cap=3, rounds=[rnd(1)])
    assert review_lines(review) == [
        ReviewLine("review 1/3 reviewing", "heading"),
        ReviewLine("  round 1 · attempt 1 · no verdict · reviewer running", "round"),
    ]
    retried = ReviewState(status="reviewing", soft_cap=3, rounds=[rnd(1, tries=2)])
    assert texts(review_lines(retried))[1] == "  round 1 · attempt 1 · no verdict · reviewer running (try 2)"
    judging = ReviewState(status="reviewing", rounds=[rnd(1, challenge("c1"), verdict="challenge")])
    assert texts(review_lines(judging)) == [
        "review 1 reviewing",
        "  round 1 · attempt 1 · verdict challenge · 0 VALID · 0 PARTIAL · 0 NOISE · 1 unlabelled · "
        "judging the challenges",
    ]


def test_a_challenged_round_shows_its_counts_and_that_it_was_sent_back() -> None:
    first = rnd(
        1,
        challenge("c1", "VALID"),
        challenge("c2", "NOISE"),
        challenge("c3", "PARTIAL"),
        challenge("retreat-1", "VALID", source="cockpit"),
        verdict="challenge",
        ended_at=REVIEWED_AT,
        decision="round 1: sent back (2 VALID, 1 PARTIAL, 1 NOISE; acceptance passing)",
        reviewer=ReviewerRun(model="claude-sonnet-4-5", cost_usd=0.4213, duration_s=185.7),
    )
    second = rnd(2, attempt=2)
    review = ReviewState(status="reviewing", soft_cap=3, rounds=[first, second], effort_raised_to="high")
    lines = review_lines(review, review_key="v")
    assert lines == [
        ReviewLine("review 2/3 reviewing", "heading"),
        ReviewLine(
            "  round 1 · attempt 1 · verdict challenge · 2 VALID · 1 PARTIAL · 1 NOISE · "
            "sent back (2 VALID, 1 PARTIAL, 1 NOISE; acceptance passing)",
            "round",
        ),
        ReviewLine("  round 2 · attempt 2 · no verdict · reviewer running", "round"),
        ReviewLine("  a stall raised the next attempt's effort to high", "detail"),
        ReviewLine("  v: the diff review with the challenges", "hint"),
    ]
    challenged = ReviewState(status="challenged", soft_cap=3, rounds=[first])
    shown = texts(review_lines(challenged, review_key="d"))
    assert shown[0] == "review 1/3 challenged"
    assert shown[2:] == [
        "  reviewer claude-sonnet-4-5 · $0.42 · 3m 05s",
        "  d: the diff review with the challenges",
    ]
    assert not any("d:" in line for line in texts(review_lines(challenged)))  # no diff to review: no hint


def test_a_converged_review() -> None:
    review = ReviewState(
        status="converged",
        soft_cap=3,
        rounds=[
            rnd(
                1,
                verdict="approve",
                ended_at=REVIEWED_AT,
                summary="Looks right; the tests cover the edge cases.",
                decision="round 1: converged (no VALID challenge, acceptance passing)",
                reviewer=ReviewerRun(model="claude-opus-4-1", cost_usd=1.5, duration_s=42),
            )
        ],
    )
    assert review_lines(review, review_key="v") == [
        ReviewLine("review 1/3 converged", "heading"),
        ReviewLine(
            "  round 1 · attempt 1 · verdict approve · no challenges · "
            "converged (no VALID challenge, acceptance passing)",
            "round",
        ),
        ReviewLine("  summary: Looks right; the tests cover the edge cases.", "detail"),
        ReviewLine("  reviewer claude-opus-4-1 · $1.50 · 42s", "detail"),
        ReviewLine("  v: the diff review", "hint"),
    ]


def test_a_failed_review_is_never_shown_as_a_pass() -> None:
    failed = rnd(
        1,
        ended_at=REVIEWED_AT,
        failure="no verdict block in the reviewer's output",
        decision="round 1: the review failed: no verdict block in the reviewer's output",
        reviewer=ReviewerRun(model="claude-sonnet-4-5", exit_code=0, duration_s=61),
    )
    lines = review_lines(ReviewState(status="failed", soft_cap=3, rounds=[failed]), review_key="v")
    assert lines[:2] == [
        ReviewLine("review 1/3 failed: not a pass", "failed"),
        ReviewLine(
            "  round 1 · attempt 1 · no verdict · review failed: no verdict block in the reviewer's output",
            "failed",
        ),
    ]
    shown = " ".join(texts(lines))
    assert "converged" not in shown and "approve" not in shown
    # Ended without a verdict and nothing else recorded: still a failure.
    bare = review_lines(ReviewState(status="failed", rounds=[rnd(1, ended_at=REVIEWED_AT)]))
    assert bare[1] == ReviewLine("  round 1 · attempt 1 · no verdict · review failed: no verdict", "failed")
    cancelled = rnd(
        2,
        failure="the task was cancelled during the review",
        decision="round 2: cancelled during the review",
        ended_at=REVIEWED_AT,
    )
    lines = review_lines(ReviewState(status="cancelled", soft_cap=3, rounds=[cancelled]))
    assert lines == [
        ReviewLine("review 1/3 cancelled: not a pass", "failed"),
        ReviewLine("  round 2 · attempt 2 · no verdict · cancelled during the review", "failed"),
    ]


def test_hostile_model_text_is_shown_as_data() -> None:
    # Written past validation (a record from elsewhere): the view cleans what it shows itself.
    hostile = rnd(1, challenge("c1", "VALID"), verdict="challenge", ended_at=REVIEWED_AT).model_copy(
        update={
            "summary": HOSTILE,
            "decision": "round 1: " + HOSTILE,
            "reviewer": ReviewerRun.model_construct(model="\x1b[31m[b]claude[/b]", cost_usd=0.1),
        }
    )
    review = ReviewState(status="challenged", rounds=[hostile]).model_copy(
        update={"effort_raised_to": "\x1b]8;;http://x\x07xhigh"}
    )
    shown = texts(review_lines(review))
    assert shown[1].endswith(" · [bold red]boom[/bold red] second line sk-[REDACTED]")
    assert shown[2] == "  summary: [bold red]boom[/bold red] second line sk-[REDACTED]"
    assert shown[3] == "  reviewer [b]claude[/b] · $0.10"
    assert shown[4] == "  a stall raised the next attempt's effort to xhigh"
    for line in shown:
        assert "\x1b" not in line and "\x07" not in line and "\n" not in line and "\r" not in line
