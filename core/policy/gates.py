"""The playbook's human gates: which decision card each trigger opens, with its options, the
recommendation and the default that applies if nobody answers. The supervisor applies the answer.

Defaults are always the option that spends nothing and widens nothing: park, deny, keep, reject.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cockpit.core.board.decisions import DecisionCard, DecisionOption, DecisionStore
from cockpit.core.policy.retry import CLOUD_TASK_TRIGGER
from cockpit.core.records.task import TaskState
from cockpit.core.text import format_tokens
from cockpit.core.vocabulary import WORKTREE_LANES


@dataclass(frozen=True)
class Gate:
    trigger: str
    title: str
    context: str
    options: list[DecisionOption]
    recommended: str
    why: str
    risk: str
    default: str


def _opt(
    key: str, label: str, action: str, pros: list[str], cons: list[str], cost: str = "none", **params: Any
) -> DecisionOption:
    return DecisionOption(key=key, label=label, action=action, pros=pros, cons=cons, cost=cost, params=params)


def _tokens(state: TaskState) -> str:
    used = state.usage.input_tokens + state.usage.output_tokens
    per = used // max(1, len(state.attempts))
    return f"~{format_tokens(per)} tokens"


def failure_gate(state: TaskState, trigger: str, reason: str, feedback: str | None) -> Gate:
    """After repeated, unknown, catastrophic or acceptance failures."""
    last = state.failures[-1] if state.failures else None
    context = (
        f"Task {state.id} ({state.lane}) stopped after {len(state.attempts)} attempts: {reason}."
        + (f"\nLast error ({last.error_type.value}/{last.code.value}): {last.message[:300]}" if last else "")
        + (f"\nSuggestion: {last.suggestion}" if last else "")
    )
    retry = _opt(
        "A",
        "Retry now",
        "retry_with_feedback" if feedback else "retry",
        ["keeps the work done so far (resumes the Codex thread)"],
        ["may fail the same way and spend again"],
        _tokens(state),
        **({"feedback": feedback} if feedback else {}),
    )
    park = _opt(
        "B",
        "Park as a dead letter",
        "dead_letter",
        ["spends nothing now", "retried by the sweep or `cockpit retry`"],
        ["the result waits"],
    )
    if trigger == "acceptance_failed":
        accept = _opt(
            "C",
            "Accept as is",
            "accept_partial",
            ["keeps the partial result for review"],
            ["acceptance criteria are not met"],
        )
        return Gate(
            trigger,
            f"{state.title}: acceptance still failing",
            context,
            [retry, park, accept],
            "A",
            "specific feedback often fixes what the worker missed",
            "medium",
            "B",
        )
    give_up = _opt("C", "Give up", "fail", ["ends the task now"], ["nothing is delivered"])
    recommended, why = (
        ("B", "the provider looks unhealthy; retrying now would burn credits")
        if (trigger == "catastrophic")
        else ("A", "one more attempt with the thread's context is cheap")
    )
    title = {
        "catastrophic": "failing hard",
        "unknown_error": "an error the cockpit does not know",
        "repeated_failures": "failed repeatedly",
        CLOUD_TASK_TRIGGER: "the cloud task failed",
    }.get(trigger, "needs a decision")
    return Gate(
        trigger,
        f"{state.title}: {title}",
        context,
        [retry, park, give_up],
        recommended,
        why,
        "high" if trigger == "catastrophic" else "medium",
        "B",
    )


def escalation_gate(state: TaskState, asked: list[str]) -> Gate:
    """An envelope asks for sandbox network access and/or danger-full-access."""
    what = " and ".join(asked)
    trigger = "full_access" if any("full-access" in a for a in asked) else "network_access"
    context = (
        f"Task {state.id} asks for {what}. Codex runs with the workspace-write sandbox and no "
        "network unless you approve. Approving applies to this task only."
    )
    return Gate(
        trigger,
        f"{state.title}: allow {what}?",
        context,
        [
            _opt(
                "A",
                f"Approve {what}",
                "approve",
                ["the task runs as its envelope asks"],
                [
                    "the worker can reach the network" if "network access" in asked else "",
                    "the worker can write anywhere on this machine" if trigger == "full_access" else "",
                ],
                escalations=asked,
            ),
            _opt(
                "B",
                "Run without it",
                "deny",
                ["least privilege: workspace-write, no network"],
                ["the task may fail where it needs the access"],
                escalations=asked,
            ),
            _opt("C", "Cancel the task", "cancel", ["nothing runs"], ["nothing is delivered"]),
        ],
        "B",
        "least privilege first; approve only if the task cannot work without it",
        "high" if trigger == "full_access" else "medium",
        "B",
    )


def protected_paths_gate(state: TaskState, touched: list[str], then: str) -> Gate:
    shown = ", ".join(touched[:8]) + (f" and {len(touched) - 8} more" if len(touched) > 8 else "")
    where = "on its branch" if state.lane in WORKTREE_LANES else "in the working tree"
    return Gate(
        "protected_paths",
        f"{state.title}: touches protected paths",
        f"Task {state.id} changed protected paths {where}: {shown}.",
        [
            _opt(
                "A",
                "Accept the change",
                "approve",
                ["the result goes on to review"],
                ["protected files change"],
                then=then,
            ),
            _opt(
                "B",
                "Reject the change",
                "reject",
                ["protected files stay as they are"],
                ["the rest of the result is dropped too"],
            ),
            _opt(
                "C",
                "Send back",
                "retry_with_feedback",
                ["the worker redoes it without those paths"],
                ["another attempt"],
                _tokens(state),
                feedback=f"Do not modify these protected paths: {shown}. Redo the task without them.",
            ),
        ],
        "C",
        "the worker can usually reach the goal without the protected paths",
        "high",
        "B",
    )


def merge_gate(state: TaskState) -> Gate:
    diff = state.diff
    stat = f"{diff.files} files, +{diff.insertions} -{diff.deletions}" if diff else "no diff"
    return Gate(
        "merge",
        f"{state.title}: merge into {state.base_branch}?",
        f"Task {state.id} finished on {state.branch} ({stat}). The project asks for a decision before any "
        f"merge into {state.base_branch}.",
        [
            _opt("A", f"Merge into {state.base_branch}", "merge", ["the change lands"], ["review it first"]),
            _opt("B", "Reject", "reject", ["the base branch stays as it is"], ["the work is discarded"]),
            _opt(
                "C",
                "Keep for review",
                "keep",
                ["decide later, after reading the diff"],
                ["nothing lands yet"],
            ),
        ],
        "C",
        "read the diff before it lands",
        "medium",
        "C",
    )


def over_budget_gate(state: TaskState, budget: int) -> Gate:
    used = state.usage.input_tokens + state.usage.output_tokens
    return Gate(
        "over_budget",
        f"{state.title}: over budget",
        f"Task {state.id} used {used} tokens, {used / budget:.0%} of its budget of {budget}.",
        [
            _opt(
                "A",
                "Accept the result",
                "accept_partial",
                ["the tokens are spent already"],
                ["the budget was wrong or the task grew"],
            ),
            _opt(
                "B", "Park as a dead letter", "dead_letter", ["nothing more is spent"], ["the result waits"]
            ),
            _opt("C", "Give up", "fail", ["ends the task"], ["the spend is lost"]),
        ],
        "A",
        "the result exists; rejecting it does not refund the tokens",
        "medium",
        "B",
    )


def weekly_budget_gate(state: TaskState, reason: str) -> Gate:
    return Gate(
        "weekly_budget",
        f"{state.title}: the weekly budget is spent",
        f"Task {state.id} has not started. {reason}. New tasks wait for a decision until the week resets.",
        [
            _opt(
                "A",
                "Run it anyway",
                "approve",
                ["the task runs now"],
                ["spends past the weekly budget"],
                budget=True,
            ),
            _opt(
                "B",
                "Park as a dead letter",
                "dead_letter",
                ["spends nothing", "`cockpit retry` next week"],
                ["the task waits"],
            ),
            _opt("C", "Cancel the task", "cancel", ["nothing runs"], ["nothing is delivered"]),
        ],
        "B",
        "the budget exists to stop spending; run it only if it cannot wait",
        "medium",
        "B",
    )


def open_gate(store: DecisionStore, state: TaskState, gate: Gate) -> DecisionCard:
    options = [o.model_copy(update={"cons": [c for c in o.cons if c]}) for o in gate.options]
    return store.open(
        task_id=state.id,
        trigger=gate.trigger,
        title=gate.title,
        context=gate.context,
        options=options,
        recommended=gate.recommended,
        recommended_why=gate.why,
        risk=gate.risk,  # type: ignore[arg-type]
        default=gate.default,
    )


REVIEW_FAILED_TRIGGER = "review_failed"
REVIEW_CAP_TRIGGER = "review_hard_cap"


def review_failed_gate(
    state: TaskState, reason: str, suggestion: str | None, *, retryable: bool = True
) -> Gate:
    """The cross-family review of a result could not be had (no verdict, an API error, a timeout, its
    retries spent): a person decides. Never a pass: keeping the result sends it to the human's diff
    review with the review marked failed. Trying again is recommended unless the failure is one that
    does not go away by itself (``retryable`` False: a login, a missing reviewer)."""
    rounds = state.review.rounds if state.review else []
    n = rounds[-1].n if rounds else 1
    context = (
        f"Task {state.id} ({state.lane}) finished its work, but review round {n} by the other model family "
        f"failed: {reason}."
        + (f"\nSuggestion: {suggestion}" if suggestion else "")
        + "\nNothing is approved: a failed review is not a pass."
    )
    return Gate(
        REVIEW_FAILED_TRIGGER,
        f"{state.title}: the review failed",
        context,
        [
            _opt(
                "A",
                "Try the review again",
                "retry_review",
                ["the reviewer runs again on the same result"],
                ["may fail the same way"],
            ),
            _opt(
                "B",
                "Review it yourself",
                "keep",
                ["the diff waits for your review, marked as not cross-reviewed"],
                ["no second model family looked at it"],
            ),
            _opt("C", "Reject", "reject", ["the base branch stays as it is"], ["the work is discarded"]),
        ],
        "A" if retryable else "B",
        "a reviewer that failed once (an outage, a cut stream) usually answers the next time"
        if retryable
        else "this failure does not go away by itself: fix it (see the suggestion), or review it yourself",
        "medium",
        "B",
    )


def review_cap_gate(state: TaskState, reason: str, open_issues: list[str], feedback: str | None) -> Gate:
    """The challenge loop reached its hard cap without converging: a person decides, with the best state
    (the branch as it stands) and the open challenges."""
    shown = "\n".join(f"- {line}" for line in open_issues[:10]) or "- (none listed)"
    more = f"\n… and {len(open_issues) - 10} more" if len(open_issues) > 10 else ""
    options = [
        _opt(
            "A",
            "Review it yourself",
            "keep",
            ["the diff as it stands waits for your review, its open challenges beside it"],
            ["the challenges are not resolved"],
        ),
        _opt(
            "B",
            "Send back once more",
            "retry_with_feedback" if feedback else "retry",
            ["Codex gets the open challenges again"],
            ["the loop has not converged so far"],
            _tokens(state),
            **({"feedback": feedback} if feedback else {}),
        ),
        _opt("C", "Reject", "reject", ["the base branch stays as it is"], ["the work is discarded"]),
    ]
    return Gate(
        REVIEW_CAP_TRIGGER,
        f"{state.title}: the review loop did not converge",
        f"Task {state.id} ({state.lane}): {reason}.\nOpen challenges:\n{shown}{more}",
        options,
        "A",
        "rounds past the hard cap rarely converge; a person sees what the models disagree on",
        "medium",
        "A",
    )
