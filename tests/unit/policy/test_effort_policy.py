"""The effort-tier policy: the kind × risk table, step-down on a busy credit window, the envelope's own
effort, the config's merge rules, and properties over all inputs."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from cockpit.core.envelope.model import envelope_from_mapping
from cockpit.core.policy.effort import (
    DEFAULT_KIND_TIERS,
    TIERS,
    EffortPolicyConfig,
    choose_effort,
    choose_effort_for,
    kind_category,
    step,
    tier_index,
)

RISKS = ("low", "medium", "high")


def test_tiers_and_step() -> None:
    assert TIERS == ("none", "minimal", "low", "medium", "high", "xhigh")
    assert step("medium", -1) == "low"
    assert step("medium", 2) == "xhigh"
    assert step("minimal", -5) == "none"
    assert step("high", 9) == "xhigh"
    assert step("low", 0) == "low"
    assert tier_index("xhigh") == 5
    with pytest.raises(ValueError):
        step("huge", 1)


@pytest.mark.parametrize(
    ("kind", "risk", "tier"),
    [
        # Execution work: cheaper.
        ("format", "low", "minimal"),
        ("format", "medium", "low"),
        ("format", "high", "medium"),
        ("fetch", "low", "minimal"),
        ("docs", "low", "low"),
        ("docs", "high", "medium"),
        ("read", "low", "low"),
        ("read/analyse", "low", "low"),
        ("Read + Analyse", "medium", "low"),
        ("code", "low", "low"),
        ("code", "medium", "medium"),
        ("code", "high", "high"),
        ("code/test", "medium", "medium"),
        ("tests", "low", "low"),
        ("refactor", "low", "medium"),
        ("multi-file refactor", "high", "high"),
        # Judgment work: higher.
        ("research", "medium", "medium"),
        ("analysis", "medium", "high"),
        ("review", "low", "medium"),
        ("review", "medium", "high"),
        ("review", "high", "high"),
        ("architecture", "low", "high"),
        ("design", "high", "xhigh"),
        ("security", "high", "xhigh"),
        ("security review", "medium", "high"),
        ("threat-model", "low", "high"),
        # No kind / unknown kind: the default tier (the high-risk floor is medium, so no change).
        (None, "low", "medium"),
        ("", "high", "medium"),
        ("interpretive dance", "medium", "medium"),
    ],
)
def test_kind_by_risk_table(kind: str | None, risk: str, tier: str) -> None:
    choice = choose_effort(None, risk, kind, None)
    assert (choice.tier, choice.source, choice.steps_down) == (tier, "policy", 0)
    assert choice.reason.startswith("policy: ")
    assert f"risk={risk}" in choice.reason


def test_every_default_row_follows_the_guide() -> None:
    execution = ("format", "fetch", "docs", "read", "code", "test")
    judgment = ("analysis", "review", "architecture", "security")
    for risk in RISKS:
        cheapest_judgment = min(tier_index(DEFAULT_KIND_TIERS[k][risk]) for k in judgment)
        dearest_execution = max(tier_index(DEFAULT_KIND_TIERS[k][risk]) for k in execution)
        assert cheapest_judgment >= dearest_execution
    for row in DEFAULT_KIND_TIERS.values():  # risk never lowers the tier
        assert tier_index(row["low"]) <= tier_index(row["medium"]) <= tier_index(row["high"])


def test_kind_category_words_and_ties() -> None:
    assert kind_category("security review") == "security"  # the higher tier wins
    assert kind_category("review security") == "security"
    assert kind_category("docs_and_format") == "docs"  # docs outranks format at medium risk
    assert kind_category("THREAT-MODEL") == "security"
    assert kind_category("  ") is None
    assert kind_category("unknown") is None


@pytest.mark.parametrize(
    ("used", "tier", "steps"),
    [
        (None, "high", 0),
        (0.0, "high", 0),
        (80.0, "high", 0),  # "above 80" is strict
        (80.01, "medium", 1),
        (95.0, "medium", 1),
        (95.01, "low", 2),
        (100.0, "low", 2),
    ],
)
def test_step_down_at_80_and_95_percent(used: float | None, tier: str, steps: int) -> None:
    choice = choose_effort(None, "medium", "review", used, window_label="weekly")
    assert (choice.tier, choice.base_tier, choice.steps_down) == (tier, "high", steps)
    if steps:
        assert choice.reason == (
            "policy: kind=review risk=medium → high; "
            f"weekly window {used:.0f} % used → stepped down to {tier}"
        )


def test_step_down_never_goes_below_minimal_nor_the_risk_floor() -> None:
    assert choose_effort(None, "low", "format", 99.0).tier == "minimal"  # minimal stays minimal
    assert choose_effort(None, "low", "code", 99.0).tier == "minimal"  # low - 2 → none → minimal
    high_risk = choose_effort(None, "high", "code", 99.0)
    assert (high_risk.tier, high_risk.steps_down) == ("medium", 1)  # high - 2 = low, but high risk ≥ medium
    floor = choose_effort(None, "high", "format", 99.0)
    assert floor.tier == "medium" and "no lower tier allowed" in floor.reason


def test_risk_floor_raises_the_base() -> None:
    cfg = EffortPolicyConfig(kinds={"format": {"high": "low"}})
    choice = choose_effort(None, "high", "format", None, cfg)
    assert choice.tier == "medium"
    assert "raised to the high-risk floor medium" in choice.reason
    no_floor = EffortPolicyConfig(kinds={"format": {"high": "low"}}, risk_floor={})
    assert choose_effort(None, "high", "format", None, no_floor).tier == "low"


def test_an_explicit_envelope_effort_is_never_overridden() -> None:
    calm = choose_effort("xhigh", "low", "format", 10.0)
    assert (calm.tier, calm.source, calm.reason) == ("xhigh", "envelope", "envelope: xhigh")
    busy = choose_effort("high", "low", "format", 96.0, window_label="weekly")
    assert (busy.tier, busy.source) == ("high", "envelope")
    assert busy.reason == "envelope: high (kept; weekly window 96 % used, the policy would step down)"
    assert choose_effort("none", "high", "security", None).tier == "none"
    with pytest.raises(ValueError):
        choose_effort("turbo", "low", None, None)


def test_unknown_risk_is_an_error() -> None:
    with pytest.raises(ValueError):
        choose_effort(None, "extreme", "code", None)


def test_choose_effort_for_an_envelope() -> None:
    env = envelope_from_mapping({"goal": "Review the parser", "kind": "review", "risk_level": "high"})
    assert choose_effort_for(env, 85.0).tier == "medium"
    env = envelope_from_mapping({"goal": "Fix it", "effort": "low", "kind": "security"})
    assert choose_effort_for(env, None).source == "envelope"


def test_config_merges_over_the_built_in_table() -> None:
    cfg = EffortPolicyConfig(
        kinds={"code": {"low": "medium"}, "translate": "low", "Data Wrangling": {"high": "high"}},
        aliases={"l10n": "translate", "wrangle": "data wrangling"},
        default_tier="low",
    )
    assert cfg.kinds["code"] == {"low": "medium", "medium": "medium", "high": "high"}
    assert cfg.kinds["translate"] == {"low": "low", "medium": "low", "high": "low"}
    assert cfg.kinds["data wrangling"] == {"high": "high", "low": "low", "medium": "low"}
    assert "review" in cfg.kinds and cfg.aliases["review"] == "review"
    assert choose_effort(None, "low", "code", None, cfg).tier == "medium"
    assert choose_effort(None, "medium", "l10n", None, cfg).tier == "low"
    assert choose_effort(None, "high", "wrangle", None, cfg).tier == "high"
    assert choose_effort(None, "low", "whatever", None, cfg).tier == "low"  # default_tier


def test_config_validation() -> None:
    with pytest.raises(ValidationError):
        EffortPolicyConfig(aliases={"x": "no-such-category"})
    with pytest.raises(ValidationError):
        EffortPolicyConfig(step_down_above_percent=90, step_down_twice_above_percent=85)
    with pytest.raises(ValidationError):
        EffortPolicyConfig(kinds={"code": {"low": "ultra"}})
    with pytest.raises(ValidationError):
        EffortPolicyConfig(surprise=True)  # type: ignore[call-arg]
    assert EffortPolicyConfig.model_validate(EffortPolicyConfig().model_dump()) == EffortPolicyConfig()


KINDS = st.one_of(
    st.none(),
    st.sampled_from([*DEFAULT_KIND_TIERS, "security review", "read/analyse", "code+test", "nonsense"]),
    st.text(max_size=20),
)
PERCENT = st.one_of(st.none(), st.floats(min_value=0.0, max_value=150.0, allow_nan=False))


@given(
    kind=KINDS,
    risk=st.sampled_from(RISKS),
    used=PERCENT,
    envelope=st.one_of(st.none(), st.sampled_from(TIERS)),
)
def test_property_tier_is_valid_and_stepping_only_lowers_it(
    kind: str | None, risk: str, used: float | None, envelope: str | None
) -> None:
    choice = choose_effort(envelope, risk, kind, used)
    assert choice.tier in TIERS
    unstepped = choose_effort(envelope, risk, kind, None)
    assert choice.base_tier == unstepped.tier
    if envelope is not None:
        assert choice.tier == envelope and choice.source == "envelope"
        return
    assert tier_index(choice.tier) <= tier_index(unstepped.tier)  # never above the un-stepped tier
    assert choice.tier != "none"
    if risk == "high":
        assert tier_index(choice.tier) >= tier_index("medium")
    if used is not None and used > 80.0:
        assert choice.steps_down <= (2 if used > 95.0 else 1)
    else:
        assert choice.tier == unstepped.tier
