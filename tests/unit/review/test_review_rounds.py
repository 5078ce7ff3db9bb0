"""The challenge loop's decisions: converge, send back with specific feedback, the soft and hard caps,
a stall raising the effort, who may relabel, and the reviewer's substantive rate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cockpit.core.records.review import (
    Challenge,
    Evidence,
    JudgeOutput,
    ReviewRound,
    ReviewState,
)
from cockpit.core.review.rounds import (
    LabelRefused,
    decide,
    raise_effort,
    reviewer_health,
    set_label,
    stalled_challenges,
)


def _c(
    i: int,
    label: str | None,
    *,
    claim: str | None = None,
    file: str = "calc.py",
    line: int = 3,
    kind: str = "failing_test",
    source: str = "reviewer",
    output: str | None = None,
) -> Challenge:
    judge = (
        JudgeOutput(argv=["pytest", "-q"], exit_code=1, stdout_tail=output, stderr_tail="")
        if output is not None
        else None
    )
    return Challenge(
        id=f"c{i}",
        kind=kind,
        claim=claim or f"claim number {i}",
        file=file,
        line=line,
        evidence=Evidence(command=["pytest", "-q", f"tests/test_{i}.py"]),
        source=source,  # type: ignore[arg-type]
        label=label,  # type: ignore[arg-type]
        labelled_by="judge" if label else None,
        label_reason=f"reason {i}" if label else None,
        judge=judge,
    )


def _state(*rounds: list[Challenge], verdict: str = "challenge", failure: str | None = None) -> ReviewState:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    return ReviewState(
        rounds=[
            ReviewRound(
                n=n,
                attempt=n,
                head_commit=f"{n:040x}",
                started_at=start + timedelta(minutes=n),
                verdict=verdict if n == len(rounds) else "challenge",  # type: ignore[arg-type]
                failure=failure if n == len(rounds) else None,
                challenges=challenges,
            )
            for n, challenges in enumerate(rounds, start=1)
        ]
    )


def test_converged_when_no_valid_and_acceptance_passes() -> None:
    state = _state([_c(1, "NOISE"), _c(2, "PARTIAL")])
    decision = decide(state, acceptance_passed=True)
    assert (decision.action, decision.status) == ("converged", "converged")
    assert decision.feedback is None and [c.id for c in decision.open_issues] == ["c2"]
    assert (
        decision.reason
        == "round 1: converged (no VALID challenge, acceptance passing, 1 open issue for review)"
    )


def test_an_approval_with_nothing_open_converges() -> None:
    assert decide(_state([], verdict="approve"), acceptance_passed=True).action == "converged"


def test_no_valid_but_failing_acceptance_goes_back() -> None:
    decision = decide(
        _state([_c(1, "NOISE")]), acceptance_passed=False, acceptance_detail="FAILED test_x - boom"
    )
    assert decision.action == "send_back"
    assert decision.feedback is not None
    assert (
        "acceptance checks do not pass" in decision.feedback and "FAILED test_x - boom" in decision.feedback
    )


def test_valid_and_partial_go_back_with_specific_feedback() -> None:
    state = _state(
        [
            _c(1, "VALID", claim="subtract(1, -1) returns 0", output="E   assert 0 == 2\n1 failed in 0.01s"),
            _c(2, "NOISE", claim="this one is discarded"),
            _c(3, "PARTIAL", claim="README not updated", file="README.md", line=10),
            _c(4, None, claim="never labelled"),
        ]
    )
    decision = decide(state, acceptance_passed=True, effort="medium")
    assert (decision.action, decision.status, decision.notify, decision.stalled) == (
        "send_back",
        "challenged",
        False,
        False,
    )
    assert decision.effort is None
    text = decision.feedback or ""
    assert "--- BEGIN EXTERNAL CONTENT ---" in text and text.rstrip().endswith("--- END EXTERNAL CONTENT ---")
    assert "1. [VALID · failing_test] calc.py:3" in text
    assert "Claim: subtract(1, -1) returns 0" in text
    assert "Evidence: `pytest -q tests/test_1.py`" in text
    assert "| E   assert 0 == 2" in text and "Judge: reason 1" in text
    assert (
        "2. [PARTIAL · failing_test] README.md:10" in text and "3. [PARTIAL · failing_test] calc.py:3" in text
    )
    assert "this one is discarded" not in text
    assert "Do not weaken, skip or delete tests" in text
    assert decision.reason == "round 1: sent back (1 VALID, 2 PARTIAL, 1 NOISE)"


def test_feedback_cleans_hostile_output_and_stays_bounded() -> None:
    noisy = _c(1, "VALID", claim="x", output=("\x1b[31mtoken=abcdef123456\x1b[0m\n" * 5_000))
    many = [_c(i, "VALID", claim=f"issue {i} " + "w" * 900, output="o" * 3_000) for i in range(2, 30)]
    text = decide(_state([noisy, *many]), acceptance_passed=True).feedback or ""
    assert "\x1b" not in text and "abcdef123456" not in text
    assert len(text) <= 12_100 and "more issues cut for length" in text
    assert text.rstrip().endswith("--- END EXTERNAL CONTENT ---")


def test_soft_cap_notifies_once_and_hard_cap_gates() -> None:
    rounds = [[_c(1, "VALID", claim=f"different claim {n}")] for n in range(1, 11)]
    assert not decide(_state(*rounds[:2]), acceptance_passed=True).notify
    third = decide(_state(*rounds[:3]), acceptance_passed=True)
    assert third.action == "send_back" and third.notify and "soft cap of 3 rounds" in third.reason
    fourth = decide(_state(*rounds[:4]), acceptance_passed=True)
    assert fourth.action == "send_back" and not fourth.notify and "past the soft cap" in fourth.reason
    tenth = decide(_state(*rounds), acceptance_passed=True)
    assert (tenth.action, tenth.status, tenth.feedback) == ("gate", "challenged", None)
    assert tenth.open_issues and "hard cap of 10 rounds" in tenth.reason
    assert decide(_state(*rounds[:2]), acceptance_passed=True, soft_cap=1, hard_cap=2).action == "gate"


def test_a_converging_tenth_round_still_converges() -> None:
    rounds = [[_c(1, "VALID", claim=f"c {n}")] for n in range(1, 10)] + [[_c(1, "NOISE")]]
    assert decide(_state(*rounds), acceptance_passed=True).action == "converged"


def test_stall_raises_the_effort_one_tier() -> None:
    first = [_c(1, "VALID", claim="Subtract is wrong!", line=3), _c(2, "VALID", claim="other")]
    second = [_c(1, "VALID", claim="  subtract IS wrong ", line=9), _c(2, "NOISE", claim="other")]
    state = _state(first, second)
    assert [c.id for c in stalled_challenges(state)] == ["c1"]
    decision = decide(state, acceptance_passed=True, effort="medium")
    assert decision.stalled and decision.effort == "high" and [c.id for c in decision.repeated] == ["c1"]
    assert "stalled: 1 VALID challenge again, effort raised to high" in decision.reason
    assert "(again: this was VALID in the previous round too)" in (decision.feedback or "")
    assert decide(state, acceptance_passed=True, effort=None).effort == "high"  # None runs at medium
    top = decide(state, acceptance_passed=True, effort="xhigh")
    assert top.stalled and top.effort is None and "already at the top" in top.reason


def test_no_stall_in_round_one_or_for_a_different_file_or_kind() -> None:
    assert stalled_challenges(_state([_c(1, "VALID")])) == []
    moved = _state([_c(1, "VALID", claim="x")], [_c(1, "VALID", claim="x", file="other.py")])
    assert stalled_challenges(moved) == []
    kind = _state([_c(1, "VALID", claim="x")], [_c(1, "VALID", claim="x", kind="regression")])
    assert stalled_challenges(kind) == []
    was_partial = _state([_c(1, "PARTIAL", claim="x")], [_c(1, "VALID", claim="x")])
    assert stalled_challenges(was_partial) == []


def test_raise_effort() -> None:
    assert [raise_effort(e) for e in ("none", "minimal", "low", "medium", "high", "xhigh", None)] == [
        "minimal",
        "low",
        "medium",
        "high",
        "xhigh",
        None,
        "high",
    ]


def test_a_failed_review_is_never_a_pass() -> None:
    state = _state([], verdict="none", failure="no verdict block: the reply is empty")
    decision = decide(state, acceptance_passed=True)
    assert (decision.action, decision.status) == ("review_failed", "failed")
    assert "no verdict block" in decision.reason
    with pytest.raises(ValueError):
        decide(ReviewState(), acceptance_passed=True)


def test_substantive_rate_per_task_counts_the_reviewers_challenges_only() -> None:
    state = _state(
        [_c(1, "VALID"), _c(2, "NOISE"), _c(3, "NOISE"), _c(4, "VALID", source="cockpit")],
        [_c(1, "PARTIAL"), _c(2, "NOISE"), _c(3, None)],
    )
    counts = state.counts
    assert (counts.valid, counts.partial, counts.noise, counts.unlabelled) == (1, 1, 3, 1)
    assert state.substantive_rate == pytest.approx(2 / 5)
    dumped = state.model_dump(mode="json")
    assert dumped["substantive"] == {"valid": 1, "partial": 1, "noise": 3, "unlabelled": 1, "rate": 0.4}
    assert ReviewState.model_validate(dumped).counts == counts


def test_reviewer_health_over_the_last_fifty_reviews() -> None:
    good_old = [_state(*[[_c(1, "VALID"), _c(2, "PARTIAL")] for _ in range(30)])]
    noisy_recent = ReviewState(
        rounds=[
            ReviewRound(
                n=i,
                attempt=i,
                head_commit="f" * 40,
                started_at=datetime(2027, 1, 1, tzinfo=UTC) + timedelta(minutes=i),
                verdict="challenge",
                challenges=[_c(1, "NOISE"), _c(2, "NOISE"), _c(3, "NOISE"), _c(4, "NOISE"), _c(5, "VALID")],
            )
            for i in range(1, 51)
        ]
    )
    health = reviewer_health([*good_old, noisy_recent])
    assert health.reviews == 50 and health.rate == pytest.approx(0.2)  # exactly the floor: not under it
    assert not health.needs_better_prompt
    noisier = noisy_recent.model_copy(deep=True)
    for r in noisier.rounds:
        r.challenges[-1] = _c(5, "NOISE")
    worse = reviewer_health([*good_old, noisier])
    assert worse.needs_better_prompt and worse.rate == 0 and "needs a better prompt" in worse.message
    mixed = reviewer_health([*good_old, noisier], last=80)
    assert mixed.reviews == 80 and mixed.counts.substantive == 60  # the 30 older reviews count too


def test_reviewer_health_needs_enough_challenges_and_skips_failed_reviews() -> None:
    assert not reviewer_health([_state([_c(1, "NOISE")])]).needs_better_prompt
    assert "too few" in reviewer_health([]).message
    failed = _state([_c(1, "NOISE")] * 10, verdict="none", failure="no verdict")
    assert reviewer_health([failed]).reviews == 0


def test_who_may_label() -> None:
    ran = _c(1, "VALID", output="1 failed")
    partial = _c(2, "PARTIAL")
    human = set_label(ran, "NOISE", "human", "the test asserts the wrong thing")
    assert (human.label, human.labelled_by, human.label_reason) == (
        "NOISE",
        "human",
        "the test asserts the wrong thing",
    )
    with pytest.raises(LabelRefused, match="may not label"):
        set_label(partial, "VALID", "orchestrator", "looks right")
    relabelled = set_label(partial, "VALID", "orchestrator", "read the spec", orchestrator_may_label=True)
    assert (relabelled.label, relabelled.labelled_by) == ("VALID", "orchestrator")
    with pytest.raises(LabelRefused, match="only a human"):
        set_label(ran, "NOISE", "orchestrator", "talked round", orchestrator_may_label=True)
    with pytest.raises(LabelRefused, match="only a human"):
        set_label(human, "VALID", "orchestrator", "overrule", orchestrator_may_label=True)
    retreat = _c(3, "VALID", source="cockpit")
    with pytest.raises(LabelRefused, match="cockpit's own"):
        set_label(retreat, "NOISE", "orchestrator", "fine", orchestrator_may_label=True)
    with pytest.raises(LabelRefused):
        set_label(partial, "VALID", "judge", "on request")
    with pytest.raises(LabelRefused):
        set_label(partial, "MAYBE", "human", "?")  # type: ignore[arg-type]


def test_an_approval_that_lists_a_reproduced_challenge_is_not_talked_round() -> None:
    decision = decide(_state([_c(1, "VALID")], verdict="approve"), acceptance_passed=True)
    assert decision.action == "send_back" and "1 VALID" in decision.reason
