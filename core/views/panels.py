"""What the dead-letter, breaker and usage views show, computed from the blackboard with an injected
clock, so every front end states the same facts: plain rows and strings, no styling (UI-free)."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

from cockpit.core.board.blackboard import Blackboard
from cockpit.core.config import board_config
from cockpit.core.layout import BREAKERS_DIR, DEAD_LETTERS_DIR
from cockpit.core.policy.breaker import BreakerRecord, BreakerState, BreakerStore
from cockpit.core.policy.budgets import BudgetConfig, BudgetStatus, project_budget_status
from cockpit.core.policy.dead_letters import DeadLetter, DeadLetterQueue
from cockpit.core.records.attempt import ErrorType
from cockpit.core.records.basics import TaskStatus
from cockpit.core.text import format_duration
from cockpit.core.usage.ledger import Ledger, UsageReport, usage_report
from cockpit.core.usage.watcher import RolloutWatcher
from cockpit.core.usage.windows import Credits, UsageWindows, Window, _fmt_clock, _fmt_credits

__all__ = [
    "BreakerRow",
    "DeadLetterRow",
    "UsageSummary",
    "breaker_rows",
    "budget_lines",
    "credits_text",
    "dead_letter_rows",
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
    """What ``cockpit usage`` reports: Codex's credit windows, the ledger's tokens, the budgets."""

    windows: UsageWindows
    report: UsageReport
    budget: BudgetStatus
    budget_config: BudgetConfig
    tz: tzinfo
    now: float


def usage_summary(board: Blackboard, watcher: RolloutWatcher, ledger: Ledger, now: float) -> UsageSummary:
    """Read what is new in the rollouts and the ledger (both incremental) and sum it up at ``now``."""
    config = board_config(board)
    tz = config.tz()
    windows = watcher.snapshot()
    report = usage_report(ledger, datetime.fromtimestamp(now, UTC), tz, week_starts_on=config.week_starts_on)
    return UsageSummary(
        windows=windows,
        report=report,
        budget=project_budget_status(report, config.budget),
        budget_config=config.budget,
        tz=tz,
        now=now,
    )


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
