"""What the task view shows of a task's cross-family review, as plain lines (UI-free): where the review
stands, one line per round (its attempt, the verdict, the challenges by label and what the round led
to, or why it failed), the last round's summary and reviewer (model, cost, time), the effort a stall
raised, and the key that opens the diff review with the challenges.

Every string a model or the reviewer wrote goes through :func:`~cockpit.core.text.clean` and
:func:`~cockpit.core.text.one_line`: the lines are data, for a front end to show as text (never as
markup). A failed or cancelled review is never worded as a pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from cockpit.core.records.review import ReviewRound, ReviewState, count_challenges
from cockpit.core.text import clean, cut, format_duration, one_line

__all__ = ["ReviewLine", "ReviewTone", "review_lines"]

ReviewTone = Literal["heading", "round", "failed", "detail", "hint"]
"""How a line reads: ``heading`` (where the review stands), ``round`` (a round that ran or runs),
``failed`` (the review, or a round of it, failed or was cancelled: never a pass), ``detail`` (the last
round's summary and reviewer, the raised effort), ``hint`` (a key to press)."""

SUMMARY_CHARS: Final = 300
FAILURE_CHARS: Final = 300
DECISION_CHARS: Final = 300


@dataclass(frozen=True)
class ReviewLine:
    """One line of the review section, and how it reads."""

    text: str
    tone: ReviewTone = "round"


def _data(text: str, limit: int) -> str:
    """A model's or the reviewer's text as one cleaned line of at most ``limit`` characters."""
    return cut(one_line(clean(text)), limit)


def _counts(rnd: ReviewRound) -> str:
    """``1 VALID · 0 PARTIAL · 2 NOISE`` (and ``· 1 unlabelled`` when any), the cockpit's own
    challenges included; ``no challenges`` when the round raised none."""
    if not rnd.challenges:
        return "no challenges"
    counts = count_challenges(rnd.challenges, reviewer_only=False)
    parts = [f"{counts.valid} VALID", f"{counts.partial} PARTIAL", f"{counts.noise} NOISE"]
    if counts.unlabelled:
        parts.append(f"{counts.unlabelled} unlabelled")
    return " · ".join(parts)


def _outcome(rnd: ReviewRound, cancelled: bool) -> tuple[str, bool]:
    """What the round led to (its decision without the ``round n:`` prefix, or why it failed) and
    whether it failed. ``cancelled``: the task was cancelled while this round was under way."""
    decision = _data(rnd.decision, DECISION_CHARS).removeprefix(f"round {rnd.n}: ") if rnd.decision else ""
    if cancelled:
        return decision or "cancelled during the review", True
    if rnd.failure is not None:
        return f"review failed: {_data(rnd.failure, FAILURE_CHARS)}", True
    if decision:
        return decision, rnd.verdict == "none"
    if rnd.verdict == "none":
        if rnd.ended_at is not None:
            return "review failed: no verdict", True
        tries = f" (try {rnd.tries})" if rnd.tries > 1 else ""
        return f"reviewer running{tries}", False
    return "judging the challenges", False


def _round_line(rnd: ReviewRound, cancelled: bool = False) -> ReviewLine:
    outcome, failed = _outcome(rnd, cancelled)
    verdict = "no verdict" if rnd.verdict == "none" else f"verdict {rnd.verdict}"
    parts = [f"round {rnd.n}", f"attempt {rnd.attempt}", verdict]
    if rnd.verdict != "none":
        parts.append(_counts(rnd))
    parts.append(outcome)
    return ReviewLine("  " + " · ".join(parts), "failed" if failed else "round")


def _reviewer_line(rnd: ReviewRound) -> ReviewLine | None:
    """``reviewer claude-sonnet-4-5 · $0.42 · 3m 05s`` for the round's reviewer; None when nothing is
    known of it yet."""
    run = rnd.reviewer
    parts: list[str] = []
    if run.model:
        parts.append(_data(run.model, 80))
    if run.cost_usd is not None:
        parts.append(f"${run.cost_usd:.2f}")
    if run.duration_s is not None:
        parts.append(format_duration(run.duration_s))
    if not parts:
        return None
    return ReviewLine("  reviewer " + " · ".join(parts), "detail")


def _heading(review: ReviewState) -> ReviewLine:
    n = len(review.rounds)
    where = f" {n}/{review.soft_cap}" if n and review.soft_cap else f" {n}" if n else ""
    if review.status == "failed":
        return ReviewLine(f"review{where} failed: not a pass", "failed")
    if review.status == "cancelled":
        return ReviewLine(f"review{where} cancelled: not a pass", "failed")
    return ReviewLine(f"review{where} {review.status}", "heading")


def review_lines(review: ReviewState | None, *, review_key: str | None = None) -> list[ReviewLine]:
    """The task view's review section of a task whose review is ``review`` (None: not reviewed, no
    lines). ``review_key`` is the key that opens the task's diff review with the challenges; None when
    the task has no diff to review (then no hint)."""
    if review is None:
        return []
    if review.status == "skipped":
        reason = f": {_data(review.skipped_reason, SUMMARY_CHARS)}" if review.skipped_reason else ""
        return [ReviewLine(f"review skipped{reason}", "heading")]
    lines = [_heading(review)]
    last = review.last_round
    cancelled = review.status == "cancelled"
    lines += [_round_line(rnd, cancelled and rnd is last) for rnd in review.rounds]
    if last is not None:
        if last.summary:
            lines.append(ReviewLine(f"  summary: {_data(last.summary, SUMMARY_CHARS)}", "detail"))
        reviewer = _reviewer_line(last)
        if reviewer is not None:
            lines.append(reviewer)
    if review.effort_raised_to:
        effort = _data(review.effort_raised_to, 40)
        lines.append(ReviewLine(f"  a stall raised the next attempt's effort to {effort}", "detail"))
    if review_key and review.rounds:
        challenged = any(rnd.challenges for rnd in review.rounds)
        what = "the diff review with the challenges" if challenged else "the diff review"
        lines.append(ReviewLine(f"  {review_key}: {what}", "hint"))
    return lines
