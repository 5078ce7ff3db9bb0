"""The effort-tier policy: which reasoning effort a task runs at when its envelope names none.

Tiers, cheapest first: ``none < minimal < low < medium < high < xhigh`` (playbook R7). Higher tiers burn
more of the credit window, so the policy follows the model-selection guide (playbook §10): execution work
(code, tests, fetch, format, docs — about 80 % of tasks) runs cheaper, judgment work (review, analysis,
architecture, security) runs higher, and a task's ``risk_level`` moves it within its kind's row.

The rule, in order:

1. **Envelope first.** An explicit ``effort`` in the envelope is used as is and never overridden; when the
   binding credit window is above the step-down threshold the reason says so (a hint for the operator).
2. **Base tier** = ``kinds[category][risk_level]``, where the envelope's ``kind`` is mapped to a category
   by :func:`kind_category` (aliases, then word by word; several matching words → the category with the
   highest tier at that risk, the higher row on a tie). No kind, or an unknown one → ``default_tier``.
3. **Risk floor.** The base is raised to ``risk_floor[risk_level]`` if below it (default: high risk never
   below ``medium``).
4. **Step-down on a busy window.** With the binding window's used percent strictly above
   ``step_down_above_percent`` (80) the tier drops one step; strictly above
   ``step_down_twice_above_percent`` (95) two steps. A stepped tier never drops below
   ``step_down_floor`` (``minimal``) nor below the risk floor, and never rises above the base (a base of
   ``none`` stays ``none``). An unknown window (``None``) never steps down.

Default table (base tier at risk low / medium / high):

category      low      medium   high    kinds mapped to it (examples)
---------------------------------------------------------------------------------------
format        minimal  low      medium  format, lint, style, rename
fetch         minimal  low      medium  fetch, download, collect, scrape
docs          low      low      medium  docs, documentation, readme, changelog
read          low      low      medium  read, read/analyse, summarise, explore
code          low      medium   high    code, code/test, implement, feature, fix, build
test          low      medium   high    test, tests, testing
refactor      medium   medium   high    refactor, migration, multi-file
research      medium   medium   high    research, investigate, survey, compare
analysis      medium   high     high    analyse, analysis, diagnose, debug
review        medium   high     high    review, audit, challenge, judge, verify
architecture  high     high     xhigh   architecture, design, plan, orchestrate
security      high     high     xhigh   security, threat-model, pentest
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from cockpit.core.vocabulary import EFFORTS, Effort

if TYPE_CHECKING:  # the config (and so a viewer) loads this module without the envelope's models
    from cockpit.core.envelope.model import Envelope

__all__ = [
    "DEFAULT_KIND_ALIASES",
    "DEFAULT_KIND_TIERS",
    "TIERS",
    "EffortChoice",
    "EffortPolicyConfig",
    "Tier",
    "choose_effort",
    "choose_effort_for",
    "kind_category",
    "step",
    "tier_index",
]

Tier = Effort
Risk = Literal["low", "medium", "high"]
TIERS: tuple[str, ...] = EFFORTS
_RISKS: tuple[Risk, ...] = ("low", "medium", "high")


def tier_index(tier: str) -> int:
    """Position of ``tier`` in :data:`TIERS`; ``ValueError`` for anything else."""
    try:
        return TIERS.index(tier)
    except ValueError:
        raise ValueError(f"unknown effort tier {tier!r} (expected one of {', '.join(TIERS)})") from None


def step(tier: str, n: int) -> Tier:
    """``tier`` moved ``n`` steps up (positive) or down (negative), clamped to ``none`` … ``xhigh``."""
    return TIERS[max(0, min(len(TIERS) - 1, tier_index(tier) + n))]


def _row(low: Tier, medium: Tier, high: Tier) -> dict[Risk, Tier]:
    return {"low": low, "medium": medium, "high": high}


DEFAULT_KIND_TIERS: dict[str, dict[Risk, Tier]] = {
    # Execution work: cheaper.
    "format": _row("minimal", "low", "medium"),
    "fetch": _row("minimal", "low", "medium"),
    "docs": _row("low", "low", "medium"),
    "read": _row("low", "low", "medium"),
    "code": _row("low", "medium", "high"),
    "test": _row("low", "medium", "high"),
    "refactor": _row("medium", "medium", "high"),
    # Judgment work: higher.
    "research": _row("medium", "medium", "high"),
    "analysis": _row("medium", "high", "high"),
    "review": _row("medium", "high", "high"),
    "architecture": _row("high", "high", "xhigh"),
    "security": _row("high", "high", "xhigh"),
}

DEFAULT_KIND_ALIASES: dict[str, str] = {
    **dict.fromkeys(("format", "formatting", "fmt", "lint", "linting", "style", "rename"), "format"),
    **dict.fromkeys(("fetch", "download", "collect", "gather", "scrape"), "fetch"),
    **dict.fromkeys(
        ("docs", "doc", "documentation", "document", "readme", "changelog", "writeup", "write-up"), "docs"
    ),
    **dict.fromkeys(("read", "reading", "summarise", "summarize", "summary", "explore", "inventory"), "read"),
    # The playbook's "read + analyse" row (3–5 tool calls) is reading work, not the analyst's judgment.
    **dict.fromkeys(("read analyse", "read analyze", "read and analyse", "read and analyze"), "read"),
    **dict.fromkeys(
        ("code", "coding", "implement", "implementation", "feature", "fix", "bugfix", "build", "script"),
        "code",
    ),
    **dict.fromkeys(("test", "tests", "testing"), "test"),
    **dict.fromkeys(("code test", "code and test", "code tests"), "code"),
    **dict.fromkeys(("refactor", "refactoring", "migration", "migrate", "multi-file"), "refactor"),
    **dict.fromkeys(("research", "investigate", "investigation", "survey", "compare"), "research"),
    **dict.fromkeys(
        ("analyse", "analyze", "analysis", "analyst", "diagnose", "diagnosis", "debug", "root-cause"),
        "analysis",
    ),
    **dict.fromkeys(
        ("review", "reviewer", "audit", "challenge", "judge", "verify", "verification", "critique"), "review"
    ),
    **dict.fromkeys(
        ("architecture", "architect", "design", "plan", "planning", "orchestrate", "orchestration"),
        "architecture",
    ),
    **dict.fromkeys(("security", "secure", "threat-model", "pentest"), "security"),
}

_WORD_SPLIT = re.compile(r"[\s/+&,;|_-]+")


def _normalise_kind(kind: str) -> str:
    """Lower case, words separated by single spaces (``"Read/Analyse"`` -> ``"read analyse"``)."""
    return " ".join(word for word in _WORD_SPLIT.split(kind.strip().lower()) if word)


_DEFAULT_ALIASES_NORMALISED: dict[str, str] = {_normalise_kind(k): v for k, v in DEFAULT_KIND_ALIASES.items()}


class EffortPolicyConfig(BaseModel):
    """Settings of the effort policy (``[effort]`` in the project config).

    ``kinds`` and ``aliases`` are merged over the built-in table and aliases: a given category replaces
    only the risk levels it names; a new category starts from ``default_tier`` at every risk level.
    """

    model_config = ConfigDict(extra="forbid")

    default_tier: Tier = "medium"
    kinds: dict[str, dict[Risk, Tier]] = Field(default_factory=lambda: _copy_table(DEFAULT_KIND_TIERS))
    aliases: dict[str, str] = Field(default_factory=lambda: dict(_DEFAULT_ALIASES_NORMALISED))
    risk_floor: dict[Risk, Tier] = Field(default_factory=lambda: {"high": "medium"})
    step_down_above_percent: float = Field(default=80.0, ge=0.0, le=100.0)
    step_down_twice_above_percent: float = Field(default=95.0, ge=0.0, le=100.0)
    step_down_floor: Tier = "minimal"

    @field_validator("kinds", mode="before")
    @classmethod
    def _merge_kinds(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        merged: dict[str, Any] = _copy_table(DEFAULT_KIND_TIERS)
        for raw_name, row in value.items():
            name = _normalise_kind(str(raw_name))
            if isinstance(row, str):  # one tier for every risk level
                row = dict.fromkeys(_RISKS, row)
            if not isinstance(row, dict):
                return value  # let pydantic report the type error
            merged[name] = {**merged.get(name, {}), **{str(k).strip().lower(): v for k, v in row.items()}}
        return merged

    @field_validator("aliases", mode="before")
    @classmethod
    def _merge_aliases(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        given = {_normalise_kind(str(k)): _normalise_kind(str(v)) for k, v in value.items()}
        return {**_DEFAULT_ALIASES_NORMALISED, **given}

    @model_validator(mode="after")
    def _consistent(self) -> EffortPolicyConfig:
        for name, row in self.kinds.items():
            for risk in _RISKS:
                row.setdefault(risk, self.default_tier)
            if name not in self.aliases:
                self.aliases[name] = name
        unknown = sorted({target for target in self.aliases.values() if target not in self.kinds})
        if unknown:
            raise ValueError(f"aliases point to unknown kind categories: {', '.join(unknown)}")
        if self.step_down_twice_above_percent < self.step_down_above_percent:
            raise ValueError("step_down_twice_above_percent must not be below step_down_above_percent")
        return self


def _copy_table(table: dict[str, dict[Risk, Tier]]) -> dict[str, Any]:
    return {name: dict(row) for name, row in table.items()}


class EffortChoice(BaseModel):
    """The tier to run at, where it came from, and a one-line reason for the log and the UI."""

    tier: Tier
    source: Literal["envelope", "policy", "review"]
    reason: str
    base_tier: Tier  # before any step-down (equal to ``tier`` for an envelope's choice)
    steps_down: int = 0


def kind_category(
    kind: str | None, config: EffortPolicyConfig | None = None, risk: str = "medium"
) -> str | None:
    """The policy category of an envelope ``kind``, or ``None`` when nothing matches.

    The kind is lower-cased and split into words at spaces, ``/``, ``+``, ``&``, ``,``, ``;``, ``|``,
    ``_`` and ``-``. The whole word sequence is looked up in the aliases first (``"threat-model"``,
    ``"read/analyse"``); otherwise each word. When several words match, the category with the highest
    tier at ``risk`` wins; a tie goes to the category whose row is higher over all risk levels, then to
    the first word. So ``"security review"`` and ``"review security"`` are both ``security``.
    """
    if not kind or not kind.strip():
        return None
    cfg = config or _DEFAULT_CONFIG
    text = _normalise_kind(kind)
    if text in cfg.aliases:
        return cfg.aliases[text]
    found: list[str] = []
    for word in text.split(" "):
        category = cfg.aliases.get(word)
        if category is not None and category not in found:
            found.append(category)
    if not found:
        return None
    level = _as_risk(risk) or "medium"

    def rank(category: str) -> tuple[int, int, int]:
        row = cfg.kinds[category]
        overall = sum(tier_index(row[r]) for r in _RISKS)
        return tier_index(row[level]), overall, -found.index(category)

    return max(found, key=rank)


def _as_risk(text: str) -> Risk | None:
    clean = text.strip().lower()
    return next((risk for risk in _RISKS if risk == clean), None)


def _steps_for(used_percent: float | None, cfg: EffortPolicyConfig) -> int:
    if used_percent is None:
        return 0
    if used_percent > cfg.step_down_twice_above_percent:
        return 2
    if used_percent > cfg.step_down_above_percent:
        return 1
    return 0


def _pct(value: float) -> str:
    return f"{value:.0f} %"


def choose_effort(
    envelope_effort: str | None,
    risk_level: str,
    kind: str | None,
    binding_used_percent: float | None,
    config: EffortPolicyConfig | None = None,
    *,
    window_label: str | None = None,
) -> EffortChoice:
    """Pick the effort tier for one dispatch (see the module docstring for the rule).

    ``binding_used_percent`` is the used percent of the binding credit window (the fuller one), or
    ``None`` when unknown; ``window_label`` (e.g. ``"weekly"``, ``"5 h"``) only changes the wording.
    """
    cfg = config or _DEFAULT_CONFIG
    risk = _as_risk(risk_level)
    if risk is None:
        raise ValueError(f"unknown risk level {risk_level!r} (expected low, medium or high)")
    window = f"{window_label} window" if window_label else "credit window"
    steps = _steps_for(binding_used_percent, cfg)

    if envelope_effort is not None:
        tier = TIERS[tier_index(envelope_effort.strip().lower())]
        reason = f"envelope: {tier}"
        if steps and binding_used_percent is not None:
            reason += f" (kept; {window} {_pct(binding_used_percent)} used, the policy would step down)"
        return EffortChoice(tier=tier, source="envelope", reason=reason, base_tier=tier)

    category = kind_category(kind, cfg, risk)
    if category is None:
        base: Tier = cfg.default_tier
        why = f"kind={kind.strip().lower()} (unknown)" if kind and kind.strip() else "no kind"
        reason = f"policy: {why} risk={risk} → default {base}"
    else:
        base = cfg.kinds[category][risk]
        shown = kind.strip().lower() if kind else category
        label = shown if shown == category else f"{shown} ({category})"
        reason = f"policy: kind={label} risk={risk} → {base}"
    floor = cfg.risk_floor.get(risk)
    if floor is not None and tier_index(base) < tier_index(floor):
        base = floor
        reason += f", raised to the {risk}-risk floor {floor}"

    tier = base
    if steps and binding_used_percent is not None:
        lowest = max(tier_index(cfg.step_down_floor), tier_index(floor) if floor else 0)
        stepped_index = max(tier_index(base) - steps, lowest)
        tier = TIERS[min(stepped_index, tier_index(base))]
        used = f"{window} {_pct(binding_used_percent)} used"
        if tier != base:
            reason += f"; {used} → stepped down to {tier}"
        else:
            reason += f"; {used}, no lower tier allowed"
    taken = tier_index(base) - tier_index(tier)
    return EffortChoice(tier=tier, source="policy", reason=reason, base_tier=base, steps_down=taken)


def choose_effort_for(
    envelope: Envelope,
    binding_used_percent: float | None,
    config: EffortPolicyConfig | None = None,
    *,
    window_label: str | None = None,
) -> EffortChoice:
    """:func:`choose_effort` for an :class:`~cockpit.core.envelope.model.Envelope` (effort, risk, kind)."""
    return choose_effort(
        envelope.effort,
        envelope.risk_level,
        envelope.kind,
        binding_used_percent,
        config,
        window_label=window_label,
    )


_DEFAULT_CONFIG = EffortPolicyConfig()
