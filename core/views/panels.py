"""What the dead-letter, breaker and usage views show, computed from the blackboard with an injected
clock, so every front end states the same facts: plain rows and strings, no styling (UI-free)."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo

from cockpit.core.board.blackboard import Blackboard
from cockpit.core.board.task_index.reader import TaskIndexReader
from cockpit.core.board.task_summary import TaskSummary
from cockpit.core.config import board_config
from cockpit.core.layout import BREAKERS_DIR, CLAUDE_LIMITS_FILE, DEAD_LETTERS_DIR
from cockpit.core.policy.breaker import BreakerRecord, BreakerState, BreakerStore
from cockpit.core.policy.budgets import BudgetConfig, BudgetStatus, project_budget_status
from cockpit.core.policy.dead_letters import DeadLetter, DeadLetterQueue
from cockpit.core.records.attempt import ErrorType
from cockpit.core.records.basics import TaskStatus
from cockpit.core.review.rounds import ReviewerHealth, reviewer_health
from cockpit.core.text import format_duration
from cockpit.core.usage.claude_limits import ClaudeLimits, ClaudeLimitsStore
from cockpit.core.usage.ledger import Ledger, UsageReport, usage_report
from cockpit.core.usage.watcher import RolloutWatcher
from cockpit.core.usage.windows import Credits, UsageWindows, Window, _fmt_clock, _fmt_credits

__all__ = [
    "REVIEWER_WINDOW",
    "BreakerRow",
    "DeadLetterRow",
    "ReviewerHealthView",
    "UsageSummary",
    "breaker_rows",
    "budget_lines",
    "claude_limits_store",
    "credits_text",
    "dead_letter_rows",
    "recent_reviewer_health",
    "reset_text",
    "usage_summary",
    "windows_binding_first",
]

Clock = Callable[[], float]


def _breakers(board: Blackboard, clock: Clock) -> BreakerStore:
    return BreakerStore(board.root / BREAKERS_DIR, clock, random.Random(), on_corrupt=board.quarantine)


# ---- dead letters ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeadLetterRow:
    key: str
    """Unique within one listing (a task may have an active letter and archived ones)."""
    letter: DeadLetter
    archived: bool
    task_status: str | None
    """The task's state on the blackboard; None when it has no readable state."""
    age_s: float
    next_retry: str
    """When the next automatic retry goes, or why none will."""


def _next_retry(
    queue: DeadLetterQueue,
    letter: DeadLetter,
    status: TaskStatus | None,
    breakers: dict[str, BreakerState],
    now: float,
) -> str:
    if status is not None and status is not TaskStatus.DEAD_LETTER:
        return f"task is {status.value}"
    if (
        letter.error_type is ErrorType.TRANSIENT
        and letter.retry_after is not None
        and now < letter.retry_after
    ):
        return f"in {format_duration(math.ceil(letter.retry_after - now))}"
    hold = queue.hold_reason(letter, breakers)
    return "due at the next sweep" if hold is None else hold


def dead_letter_rows(board: Blackboard, clock: Clock, include_archived: bool = False) -> list[DeadLetterRow]:
    """Active letters oldest first, then (if asked) archived ones, each with its task's state."""
    queue = DeadLetterQueue(board.root / DEAD_LETTERS_DIR, clock, on_corrupt=board.quarantine)
    breakers = _breakers(board, clock).states()
    now = clock()
    rows: list[DeadLetterRow] = []

    def status_of(task_id: str) -> TaskStatus | None:
        state = board.read_state(task_id, archived=True)  # a letter's task may be archived since
        return None if state is None else state.status

    def age(letter: DeadLetter) -> float:
        born = letter.created_at if letter.created_at is not None else letter.first_attempt
        return max(0.0, now - born)

    for letter in queue.list():
        status = status_of(letter.task_id)
        rows.append(
            DeadLetterRow(
                key=f"active:{letter.task_id}",
                letter=letter,
                archived=False,
                task_status=None if status is None else status.value,
                age_s=age(letter),
                next_retry=_next_retry(queue, letter, status, breakers, now),
            )
        )
    if include_archived:
        for n, letter in enumerate(queue.archived()):
            status = status_of(letter.task_id)
            rows.append(
                DeadLetterRow(
                    key=f"archived:{n}:{letter.task_id}",
                    letter=letter,
                    archived=True,
                    task_status=None if status is None else status.value,
                    age_s=age(letter),
                    next_retry="archived: retried only by hand",
                )
            )
    return rows


# ---- breakers -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BreakerRow:
    record: BreakerRecord
    """The breaker as it reads now (HALF-OPEN once its cooldown is over)."""
    opened: str
    """How long ago it opened and for how long it cools down, or ``-`` when closed."""
    next_probe: str


def _next_probe(record: BreakerRecord, now: float) -> str:
    if record.state is BreakerState.CLOSED:
        return "-"
    if record.probe_in_flight:
        return "probe in flight"
    at = record.probe_not_before
    if at is None:
        return "-"
    return f"probe in {format_duration(math.ceil(at - now))}" if now < at else "probe due now"


def breaker_rows(board: Blackboard, clock: Clock) -> list[BreakerRow]:
    """One row per provider that has a breaker file (a provider without one has never tripped)."""
    now = clock()
    rows = []
    for record in _breakers(board, clock).all():
        opened = "-"
        if record.state is not BreakerState.CLOSED and record.opened_at is not None:
            ago = format_duration(math.ceil(now - record.opened_at))
            opened = f"{ago} ago (cooldown {record.cooldown_minutes} min)"
        rows.append(BreakerRow(record=record, opened=opened, next_probe=_next_probe(record, now)))
    return rows


# ---- usage ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UsageSummary:
    """What ``cockpit usage`` reports: Codex's credit windows and Claude's, the ledger's tokens (by lane,
    effort tier and model family), the budgets, and the reviewer's substantive rate."""

    windows: UsageWindows
    report: UsageReport
    budget: BudgetStatus
    budget_config: BudgetConfig
    tz: tzinfo
    now: float
    claude: ClaudeLimits = field(default_factory=ClaudeLimits)
    reviewer: ReviewerHealth | None = None


def usage_summary(
    board: Blackboard,
    watcher: RolloutWatcher,
    ledger: Ledger,
    now: float,
    *,
    claude: ClaudeLimitsStore | None = None,
    reviewer: ReviewerHealthView | None = None,
) -> UsageSummary:
    """Read what is new in the rollouts, the ledger and Claude's windows (each only as far as it changed)
    and sum it up at ``now``. A view asking again and again passes its own ``claude`` store and
    ``reviewer`` view, which read again only what changed."""
    config = board_config(board)
    tz = config.tz()
    windows = watcher.snapshot()
    report = usage_report(ledger, datetime.fromtimestamp(now, UTC), tz, week_starts_on=config.week_starts_on)
    store = claude if claude is not None else claude_limits_store(board)
    health = (reviewer if reviewer is not None else ReviewerHealthView(board)).get()
    return UsageSummary(
        windows=windows,
        report=report,
        budget=project_budget_status(report, config.budget),
        budget_config=config.budget,
        tz=tz,
        now=now,
        claude=store.read().as_of(now),
        reviewer=health if health.reviews else None,
    )


def claude_limits_store(board: Blackboard) -> ClaudeLimitsStore:
    """A reader of the board's Claude credit windows (``claude-limits.json``)."""
    return ClaudeLimitsStore(board.root / CLAUDE_LIMITS_FILE)


# ---- the reviewer's substantive rate ---------------------------------------------------------------

REVIEWER_WINDOW = 50  # the last reviewed tasks read in full for the reviewer's substantive rate


def _last_reviewed(summaries: Iterable[TaskSummary]) -> list[TaskSummary]:
    return sorted(
        (s for s in summaries if s.review is not None and s.review.round), key=lambda s: s.updated_at
    )[-REVIEWER_WINDOW:]


def recent_reviewer_health(board: Blackboard, summaries: Iterable[TaskSummary]) -> ReviewerHealth:
    """:func:`~cockpit.core.review.rounds.reviewer_health` over the reviews of the last
    :data:`REVIEWER_WINDOW` reviewed tasks (only their states are read)."""
    states = [board.read_state(s.id) for s in _last_reviewed(summaries)]
    return reviewer_health(s.review for s in states if s is not None and s.review is not None)


class ReviewerHealthView:
    """The reviewer's substantive rate for a view that asks every second: the task index is followed
    (one ``stat`` while nothing changed) and the last reviewed tasks' states are read again only when
    one of them changed."""

    def __init__(self, board: Blackboard) -> None:
        self.board = board
        self.index = TaskIndexReader(board)
        self._key: tuple[tuple[str, datetime], ...] | None = None
        self._health: ReviewerHealth | None = None
        self.computed = 0  # times the states were read and the rate worked out

    def get(self) -> ReviewerHealth:
        changes = self.index.poll()
        if self._health is not None and not changes:
            return self._health
        last = _last_reviewed(self.index.tasks.values())
        key = tuple((s.id, s.updated_at) for s in last)
        if self._health is None or key != self._key:
            self.computed += 1
            self._key = key
            self._health = recent_reviewer_health(self.board, last)
        return self._health


def budget_lines(summary: UsageSummary) -> list[str]:
    """Spend against the budgets, its alerts and the gate; empty when no budget is configured."""
    config, budget = summary.budget_config, summary.budget
    if not (config.daily_tokens or config.weekly_tokens):
        return []
    lines = [
        f"budget: today {budget.daily_used}/{budget.daily_budget or '-'} tokens, "
        f"this week {budget.weekly_used}/{budget.weekly_budget or '-'}"
    ]
    lines += [f"  ! {message}" for message in budget.notify]
    if budget.gate_new_tasks:
        lines.append(f"  new tasks wait for a decision: {budget.gate_reason}")
    return lines


def windows_binding_first(windows: UsageWindows) -> list[Window]:
    """The windows with the binding one (the one that blocks first) leading, the rest by length."""
    binding = windows.binding
    if binding is None:
        return list(windows.windows)
    return [binding, *(w for w in windows.windows if w is not binding)]


def reset_text(window: Window, now: float, tz: tzinfo | None = None) -> str:
    """``resets 23:37 (in 57m 49s)``, ``reset 23:37 passed``, or ``reset time unknown``."""
    if window.resets_at is None:
        return "reset time unknown"
    when = _fmt_clock(window.resets_at, now, tz)
    if window.resets_at <= now:
        return f"reset {when} passed"
    return f"resets {when} (in {format_duration(math.ceil(window.resets_at - now))})"


def credits_text(credits: Credits) -> str:
    """Purchased credits as ``cockpit usage`` prints them: ``unlimited``, the balance, or ``none``."""
    return _fmt_credits(credits)
