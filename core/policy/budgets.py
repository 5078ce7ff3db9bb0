"""Project budgets, the per-task over-budget gate and the token-based stuck signal (playbook §11).

Three rules, all on ledger tokens (``input + output``; cached and reasoning are already inside):

* **Project budgets** (:func:`project_budget_status`): today's spend above ``notify_daily_share`` (50 %)
  of the weekly budget → notify; the daily budget reached → notify (and gate only with
  ``gate_on_daily``); the weekly budget reached → notify and gate every new task.
* **Over budget** (:func:`over_budget`): one task above ``over_budget_factor`` (150 %) of its planned
  tokens → stop and escalate.
* **Stuck** (:func:`stuck_check`): a simple task above 2× its plan, a medium task above 1.5× its plan, or
  a complex task at or above ~200K tokens with no new artifacts since the last check → notify. A task
  without a token plan is measured against the default plan of its size (simple 50K, medium 150K).

Task size (:func:`task_size`) comes from the envelope, first signal wins:

1. the budget: ``tokens`` < 100K simple, < 200K medium, else complex; ``tool_calls`` < 5 simple (the
   lightweight bound), ≤ 10 medium, else complex (the playbook splits tasks above 10 calls); with both
   given the larger size wins;
2. the kind's category (see :mod:`cockpit.core.policy.effort`): format, fetch, docs, read and review are
   simple (3–5 calls); code, test, research, analysis and security medium; refactor and architecture
   complex;
3. the lightweight form (Goal, Inputs, Output, Stop if only) → simple;
4. otherwise medium.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from cockpit.core.policy.effort import EffortPolicyConfig, kind_category

if TYPE_CHECKING:  # the config (and so a viewer) loads this module without the envelope's models
    from cockpit.core.envelope.model import Envelope
    from cockpit.core.usage.ledger import UsageReport

__all__ = [
    "COMPLEX_FROM_TOKENS",
    "MEDIUM_MAX_TOOL_CALLS",
    "SIMPLE_BELOW_TOKENS",
    "SIMPLE_BELOW_TOOL_CALLS",
    "BudgetConfig",
    "BudgetStatus",
    "Size",
    "StuckVerdict",
    "over_budget",
    "project_budget_status",
    "stuck_check",
    "task_size",
]

Size = Literal["simple", "medium", "complex"]
_SIZES: tuple[Size, ...] = ("simple", "medium", "complex")

SIMPLE_BELOW_TOKENS = 100_000
COMPLEX_FROM_TOKENS = 200_000
SIMPLE_BELOW_TOOL_CALLS = 5
MEDIUM_MAX_TOOL_CALLS = 10

_SIZE_BY_CATEGORY: dict[str, Size] = {
    "format": "simple",
    "fetch": "simple",
    "docs": "simple",
    "read": "simple",
    "review": "simple",
    "code": "medium",
    "test": "medium",
    "research": "medium",
    "analysis": "medium",
    "security": "medium",
    "refactor": "complex",
    "architecture": "complex",
}


class BudgetConfig(BaseModel):
    """Project budget and stuck-signal settings (``[budget]`` in the project config)."""

    model_config = ConfigDict(extra="forbid")

    daily_tokens: int | None = Field(default=None, gt=0)
    weekly_tokens: int | None = Field(default=None, gt=0)
    notify_daily_share: float = Field(default=0.5, gt=0.0, le=1.0)
    gate_on_daily: bool = False
    over_budget_factor: float = Field(default=1.5, gt=1.0)
    stuck_simple_factor: float = Field(default=2.0, gt=1.0)
    stuck_medium_factor: float = Field(default=1.5, gt=1.0)
    stuck_complex_tokens: int = Field(default=200_000, gt=0)
    default_plan_simple_tokens: int | None = Field(default=50_000, gt=0)
    default_plan_medium_tokens: int | None = Field(default=150_000, gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> BudgetConfig:
        daily, weekly = self.daily_tokens, self.weekly_tokens
        if daily is not None and weekly is not None and daily > weekly:
            raise ValueError("daily_tokens must not exceed weekly_tokens")
        return self


def _pct(value: float) -> str:
    return f"{value:.0f} %"


def _n(value: int | float) -> str:
    return f"{round(value):,}"


# --------------------------------------------------------------------------------------- project level


class BudgetStatus(BaseModel):
    """The project's spend against its budgets and what the notify and gate tiers should do."""

    daily_used: int
    weekly_used: int
    daily_budget: int | None = None
    weekly_budget: int | None = None
    daily_share_of_weekly: float | None = None  # percent
    daily_over: bool = False  # the daily budget is reached or exceeded
    weekly_exhausted: bool = False  # the weekly budget is reached or exceeded
    notify: list[str] = Field(default_factory=list)
    gate_new_tasks: bool = False
    gate_reason: str | None = None


def project_budget_status(report: UsageReport, config: BudgetConfig) -> BudgetStatus:
    """Apply the project alerts to a usage report (today's and this week's ledger totals)."""
    daily = report.today.total_tokens
    weekly = report.week.total_tokens
    status = BudgetStatus(
        daily_used=daily,
        weekly_used=weekly,
        daily_budget=config.daily_tokens,
        weekly_budget=config.weekly_tokens,
    )
    if config.weekly_tokens is not None:
        share = 100.0 * daily / config.weekly_tokens
        status.daily_share_of_weekly = share
        if daily > config.notify_daily_share * config.weekly_tokens:
            status.notify.append(
                f"today's spend is {_pct(share)} of the weekly budget "
                f"({_n(daily)} of {_n(config.weekly_tokens)} tokens; alert above "
                f"{_pct(100 * config.notify_daily_share)})"
            )
        if weekly >= config.weekly_tokens:
            status.weekly_exhausted = True
            status.gate_new_tasks = True
            status.gate_reason = (
                f"weekly budget exhausted: {_n(weekly)} of {_n(config.weekly_tokens)} tokens used this week"
            )
            status.notify.append(status.gate_reason + " — new tasks are gated")
    if config.daily_tokens is not None and daily >= config.daily_tokens:
        status.daily_over = True
        message = f"daily budget reached: {_n(daily)} of {_n(config.daily_tokens)} tokens used today"
        if config.gate_on_daily and not status.gate_new_tasks:
            status.gate_new_tasks = True
            status.gate_reason = message
            message += " — new tasks are gated"
        status.notify.append(message)
    return status


# ------------------------------------------------------------------------------------------ task level


def _size_from_tokens(tokens: int) -> Size:
    if tokens < SIMPLE_BELOW_TOKENS:
        return "simple"
    return "medium" if tokens < COMPLEX_FROM_TOKENS else "complex"


def _size_from_tool_calls(calls: int) -> Size:
    if calls < SIMPLE_BELOW_TOOL_CALLS:
        return "simple"
    return "medium" if calls <= MEDIUM_MAX_TOOL_CALLS else "complex"


def task_size(envelope: Envelope, policy: EffortPolicyConfig | None = None) -> Size:
    """The task's complexity class for the stuck rule (see the module docstring for the order)."""
    sizes: list[Size] = []
    if envelope.budget.tokens is not None:
        sizes.append(_size_from_tokens(envelope.budget.tokens))
    if envelope.budget.tool_calls is not None:
        sizes.append(_size_from_tool_calls(envelope.budget.tool_calls))
    if sizes:
        return max(sizes, key=_SIZES.index)
    category = kind_category(envelope.kind, policy, envelope.risk_level)
    if category is not None and category in _SIZE_BY_CATEGORY:
        return _SIZE_BY_CATEGORY[category]
    if envelope.is_lightweight:
        return "simple"
    return "medium"


class StuckVerdict(BaseModel):
    """A task that looks stuck by its token use; ``message`` is ready for the notify tier."""

    size: Size
    used_tokens: int
    planned_tokens: int | None
    plan_is_default: bool = False
    threshold_tokens: int
    rule: str
    message: str


def stuck_check(
    size: Size,
    planned_tokens: int | None,
    used_tokens: int,
    new_artifacts_since_last_check: bool,
    config: BudgetConfig | None = None,
    *,
    task_id: str | None = None,
) -> StuckVerdict | None:
    """The playbook's stuck rule; ``None`` when the task does not look stuck.

    simple: used > ``stuck_simple_factor`` (2) × plan; medium: used > ``stuck_medium_factor`` (1.5) × plan;
    complex: used ≥ ``stuck_complex_tokens`` (200K) and no new artifacts since the last check. Without a
    plan (``None`` or ≤ 0) simple and medium use the config's default plan for the size, or never fire
    when that is ``None``.
    """
    cfg = config or BudgetConfig()
    who = f"task {task_id}" if task_id else "task"
    if size == "complex":
        limit = cfg.stuck_complex_tokens
        if used_tokens < limit or new_artifacts_since_last_check:
            return None
        return StuckVerdict(
            size=size,
            used_tokens=used_tokens,
            planned_tokens=planned_tokens,
            threshold_tokens=limit,
            rule=f"complex: ≥ {_n(limit)} tokens with no new artifacts",
            message=(
                f"{who} looks stuck: {_n(used_tokens)} tokens used (≥ {_n(limit)} for a complex task) "
                "with no new artifacts since the last check — checkpoint or stop it"
            ),
        )
    if size not in ("simple", "medium"):
        raise ValueError(f"unknown task size {size!r}")
    plan: int | None = planned_tokens if planned_tokens and planned_tokens > 0 else None
    is_default = plan is None
    if plan is None:
        plan = cfg.default_plan_simple_tokens if size == "simple" else cfg.default_plan_medium_tokens
    if plan is None:
        return None
    factor = cfg.stuck_simple_factor if size == "simple" else cfg.stuck_medium_factor
    threshold = factor * plan
    if used_tokens <= threshold:
        return None
    plan_words = f"the default plan of {_n(plan)}" if is_default else f"its plan of {_n(plan)}"
    return StuckVerdict(
        size=size,
        used_tokens=used_tokens,
        planned_tokens=plan,
        plan_is_default=is_default,
        threshold_tokens=int(threshold),
        rule=f"{size}: > {factor:g}× plan",
        message=(
            f"{who} looks stuck: {_n(used_tokens)} tokens used, over {factor:g}× {plan_words} "
            f"({size} task) — check it or stop it"
        ),
    )


def over_budget(used: int, planned: int | None, factor: float = 1.5) -> bool:
    """True when ``used`` is above ``factor`` (150 %) of a positive ``planned``: stop and escalate."""
    if planned is None or planned <= 0:
        return False
    return used > factor * planned
