"""The reviewer's substantive rate for views that ask every second (read again only when a reviewed task
changed; the same rate ``cockpit status`` prints), and ``cockpit status`` saying that new reviews wait
while Claude Code's latest limit is rejected."""

from __future__ import annotations

import time
from pathlib import Path

from cockpit.cli.main import health_lines
from cockpit.core.board.blackboard import Blackboard
from cockpit.core.claude.stream import RateLimitInfo
from cockpit.core.layout import CLAUDE_LIMITS_FILE
from cockpit.core.records.task import TaskState
from cockpit.core.usage.claude_limits import ClaudeLimitsStore
from cockpit.core.views.panels import ReviewerHealthView, recent_reviewer_health
from tests.helpers.review import judged_review


def test_the_rate_is_worked_out_again_only_when_a_reviewed_task_changed(repo: Path) -> None:
    board = Blackboard(repo)
    view = ReviewerHealthView(board)
    assert view.get().reviews == 0 and view.computed == 1
    judged_review(board, "a-0001", "NOISE", "NOISE", "NOISE")
    judged_review(board, "b-0002", "VALID", "NOISE", "NOISE")
    health = view.get()
    assert (health.reviews, health.counts.labelled, view.computed) == (2, 6, 2)
    assert view.get() is health and view.computed == 2  # nothing changed: the index was only stat'ed
    board.write_state(TaskState(id="plain-0003", lane="local", title="not reviewed"))
    assert view.get() is health and view.computed == 2  # a change, but not to a reviewed task
    judged_review(board, "c-0004", "NOISE", "NOISE")
    again = view.get()
    assert again.reviews == 3 and again.needs_better_prompt and view.computed == 3
    assert again == recent_reviewer_health(board, board.summaries())  # what `cockpit status` prints
    assert f"reviewer: {again.message}" in health_lines(board)


def test_status_says_new_reviews_wait_while_claude_is_rejected(repo: Path) -> None:
    board = Blackboard(repo)
    store = ClaudeLimitsStore(board.root / CLAUDE_LIMITS_FILE)
    now = time.time()
    ok = RateLimitInfo.model_validate({"status": "allowed", "rateLimitType": "five_hour"})
    store.record([ok], now - 10, "s")
    assert not any(line.startswith("claude:") for line in health_lines(board))
    rejected = {"status": "rejected", "rateLimitType": "seven_day", "resetsAt": now + 3600}
    store.record([RateLimitInfo.model_validate(rejected)], now, "s")
    (line,) = [line for line in health_lines(board) if line.startswith("claude:")]
    assert line.startswith("claude: the reviewer's weekly limit is reached; new reviews wait until ")
