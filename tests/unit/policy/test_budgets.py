"""Project budgets (notify and gate tiers), the over-budget gate, task size and the stuck rules at their
edges."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from cockpit.core.envelope.model import envelope_from_mapping
from cockpit.core.policy.budgets import (
    BudgetConfig,
    over_budget,
    project_budget_status,
    stuck_check,
    task_size,
)
from cockpit.core.usage.ledger import UsageReport, UsageTotals

NOW = datetime(2025, 3, 12, 12, tzinfo=UTC)


def report(today: int, week: int) -> UsageReport:
    """A usage report with ``today`` and ``week`` total tokens (split 3:1 input:output, as it happens)."""

    def totals(n: int) -> UsageTotals:
        return UsageTotals(
            input_tokens=n - n // 4, output_tokens=n // 4, cached_input_tokens=n // 8, attempts=1
        )

    return UsageReport(
        generated_at=NOW,
        timezone="UTC",
        day_start=NOW,
        day_end=NOW,
        week_start=NOW,
        week_end=NOW,
        today=totals(today),
        week=totals(week),
    )


# ------------------------------------------------------------------------------------ project budgets


def test_no_budgets_no_alerts() -> None:
    status = project_budget_status(report(10**9, 10**9), BudgetConfig())
    assert (status.daily_used, status.weekly_used) == (10**9, 10**9)
    assert status.notify == [] and not status.gate_new_tasks and status.daily_share_of_weekly is None


def test_notify_when_today_is_over_half_the_weekly_budget() -> None:
    cfg = BudgetConfig(weekly_tokens=1_000_000)
    at_half = project_budget_status(report(500_000, 600_000), cfg)
    assert at_half.notify == []  # "over 50 %" is strict
    over = project_budget_status(report(630_000, 700_000), cfg)
    assert over.daily_share_of_weekly == pytest.approx(63.0)
    assert len(over.notify) == 1
    assert over.notify[0].startswith(
        "today's spend is 63 % of the weekly budget (630,000 of 1,000,000 tokens"
    )
    assert not over.gate_new_tasks and not over.weekly_exhausted


def test_the_daily_share_threshold_is_configurable() -> None:
    cfg = BudgetConfig(weekly_tokens=1_000, notify_daily_share=0.25)
    assert project_budget_status(report(250, 250), cfg).notify == []
    assert len(project_budget_status(report(251, 251), cfg).notify) == 1


def test_gate_every_new_task_when_the_weekly_budget_is_gone() -> None:
    cfg = BudgetConfig(weekly_tokens=1_000_000)
    below = project_budget_status(report(10, 999_999), cfg)
    assert not below.weekly_exhausted and not below.gate_new_tasks and below.gate_reason is None
    gone = project_budget_status(report(10, 1_000_000), cfg)
    assert gone.weekly_exhausted and gone.gate_new_tasks
    assert gone.gate_reason == "weekly budget exhausted: 1,000,000 of 1,000,000 tokens used this week"
    assert gone.notify == [gone.gate_reason + " — new tasks are gated"]


def test_daily_budget_notifies_and_gates_only_when_asked() -> None:
    cfg = BudgetConfig(daily_tokens=100_000)
    under = project_budget_status(report(99_999, 99_999), cfg)
    assert not under.daily_over and under.notify == []
    reached = project_budget_status(report(100_000, 100_000), cfg)
    assert reached.daily_over and not reached.gate_new_tasks
    assert reached.notify == ["daily budget reached: 100,000 of 100,000 tokens used today"]
    gated = project_budget_status(
        report(100_000, 100_000), BudgetConfig(daily_tokens=100_000, gate_on_daily=True)
    )
    assert gated.gate_new_tasks and gated.gate_reason is not None and "daily budget" in gated.gate_reason


def test_all_alerts_together_keep_the_weekly_gate_reason() -> None:
    cfg = BudgetConfig(daily_tokens=500, weekly_tokens=1_000, gate_on_daily=True)
    status = project_budget_status(report(900, 1_200), cfg)
    assert status.daily_over and status.weekly_exhausted and status.gate_new_tasks
    assert status.gate_reason is not None and status.gate_reason.startswith("weekly budget exhausted")
    assert len(status.notify) == 3


def test_budget_config_validation() -> None:
    with pytest.raises(ValidationError):
        BudgetConfig(daily_tokens=2_000, weekly_tokens=1_000)
    with pytest.raises(ValidationError):
        BudgetConfig(weekly_tokens=0)
    with pytest.raises(ValidationError):
        BudgetConfig(notify_daily_share=1.5)
    with pytest.raises(ValidationError):
        BudgetConfig(monthly_tokens=5)  # type: ignore[call-arg]
    defaults = BudgetConfig()
    assert (defaults.stuck_simple_factor, defaults.stuck_medium_factor, defaults.stuck_complex_tokens) == (
        2.0,
        1.5,
        200_000,
    )


# ------------------------------------------------------------------------------------------- task level


def env(**fields: Any) -> Any:
    return envelope_from_mapping({"goal": "Do the thing", **fields})


@pytest.mark.parametrize(
    ("fields", "size"),
    [
        ({"budget": {"tokens": 99_999}}, "simple"),
        ({"budget": {"tokens": 100_000}}, "medium"),
        ({"budget": {"tokens": 199_999}}, "medium"),
        ({"budget": {"tokens": 200_000}}, "complex"),
        ({"budget": "max 4 tool calls"}, "simple"),
        ({"budget": "max 5 tool calls"}, "medium"),
        ({"budget": "max 10 tool calls"}, "medium"),
        ({"budget": "max 11 tool calls"}, "complex"),
        ({"budget": "max 3 tool calls, 150000 tokens"}, "medium"),  # the larger size wins
        ({"budget": "max 3 tool calls", "kind": "refactor"}, "simple"),  # the budget beats the kind
        ({"kind": "review", "risk_level": "high"}, "simple"),
        ({"kind": "code", "acceptance_criteria": ["tests pass"]}, "medium"),
        ({"kind": "refactor"}, "complex"),
        ({"kind": "architecture"}, "complex"),
        ({}, "simple"),  # the lightweight form
        ({"kind": "dance"}, "simple"),  # unknown kind, lightweight form
        ({"acceptance_criteria": ["x"]}, "medium"),  # full form, nothing else known
    ],
)
def test_task_size(fields: dict[str, Any], size: str) -> None:
    assert task_size(env(**fields)) == size


@pytest.mark.parametrize(
    ("size", "planned", "used", "new_artifacts", "stuck"),
    [
        # simple: > 2× plan
        ("simple", 10_000, 20_000, False, False),
        ("simple", 10_000, 20_001, False, True),
        ("simple", 10_000, 20_001, True, True),  # artifacts do not matter for simple tasks
        # medium: > 1.5× plan
        ("medium", 100_000, 150_000, False, False),
        ("medium", 100_000, 150_001, False, True),
        # complex: ≥ 200K with no new artifacts
        ("complex", None, 199_999, False, False),
        ("complex", None, 200_000, False, True),
        ("complex", None, 200_000, True, False),
        ("complex", 50_000, 150_000, False, False),  # a complex task's plan does not drive the stuck rule
        # no plan: the default plan of the size (simple 50K, medium 150K)
        ("simple", None, 100_000, False, False),
        ("simple", None, 100_001, False, True),
        ("medium", 0, 225_000, False, False),
        ("medium", None, 225_001, False, True),
    ],
)
def test_stuck_rules_at_their_edges(
    size: Any, planned: int | None, used: int, new_artifacts: bool, stuck: bool
) -> None:
    verdict = stuck_check(size, planned, used, new_artifacts)
    assert (verdict is not None) == stuck
    if verdict is not None:
        assert verdict.size == size and verdict.used_tokens == used
        assert "looks stuck" in verdict.message


def test_stuck_messages() -> None:
    simple = stuck_check("simple", 10_000, 25_000, False, task_id="t-7")
    assert simple is not None
    assert simple.message == (
        "task t-7 looks stuck: 25,000 tokens used, over 2× its plan of 10,000 (simple task)"
        " — check it or stop it"
    )
    assert simple.threshold_tokens == 20_000 and not simple.plan_is_default
    default = stuck_check("medium", None, 300_000, False)
    assert (
        default is not None and default.plan_is_default and "the default plan of 150,000" in default.message
    )
    complex_ = stuck_check("complex", None, 250_000, False, task_id="t-8")
    assert (
        complex_ is not None
        and "no new artifacts" in complex_.message
        and complex_.threshold_tokens == 200_000
    )


def test_stuck_thresholds_come_from_the_config() -> None:
    cfg = BudgetConfig(stuck_simple_factor=3.0, stuck_complex_tokens=100_000, default_plan_medium_tokens=None)
    assert stuck_check("simple", 10_000, 30_000, False, cfg) is None
    assert stuck_check("simple", 10_000, 30_001, False, cfg) is not None
    assert stuck_check("complex", None, 100_000, False, cfg) is not None
    assert stuck_check("medium", None, 10**9, False, cfg) is None  # no plan and no default plan
    with pytest.raises(ValueError):
        stuck_check("huge", 1, 2, False)  # type: ignore[arg-type]


def test_over_budget_is_above_150_percent() -> None:
    assert not over_budget(15_000, 10_000)
    assert over_budget(15_001, 10_000)
    assert not over_budget(10**9, None)
    assert not over_budget(10**9, 0)
    assert over_budget(201, 100, factor=2.0) and not over_budget(200, 100, factor=2.0)
