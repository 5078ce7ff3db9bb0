"""What ``cockpit mcp`` tells an orchestrator about a task beyond its row: the pending decision card
(in full for list_decisions, in brief beside a task's status), the :class:`Watch` that says what changed
since the orchestrator last looked and whether the task needs it, the next step in one sentence, and a
review's challenges (in brief, or in full as text to page through). Pure functions of the records."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from cockpit.core import INBOX_STATUS, CommandError, DecisionCard, TaskState, clean

INBOX = "inbox"  # the watch word of a task still in the inbox
MOVING = frozenset({INBOX, "queued", "running", "reviewing"})  # nothing for the orchestrator to do yet
CONTEXT_CHARS = 8_000  # of a card's context in list_decisions


# ------------------------------------------------------------------------------------------ decisions


def card_dict(card: DecisionCard, allowed: set[str]) -> dict[str, Any]:
    """A card in full, as list_decisions shows it."""
    return {
        "id": card.id,
        "task_id": card.task_id,
        "trigger": card.trigger,
        "orchestrator_may_answer": card.trigger in allowed,
        "title": card.title,
        "context": cut_context(card.context),
        "risk": card.risk,
        "options": [
            {
                "key": o.key,
                "label": o.label,
                "action": o.action,
                "pros": o.pros,
                "cons": o.cons,
                "cost": o.cost,
                "params": o.params,
            }
            for o in card.options
        ],
        "recommended": card.recommended,
        "recommended_why": card.recommended_why,
        "default": card.default,
        "deadline": card.deadline.isoformat(),
        "created_at": card.created_at.isoformat(),
    }


def cut_context(text: str) -> str:
    """A card's context, cut for a list of cards (an approval's file diff may be long)."""
    if len(text) <= CONTEXT_CHARS:
        return text
    cut = text.rfind("\n", 0, CONTEXT_CHARS)
    kept = text[: cut if cut > 0 else CONTEXT_CHARS]
    return f"{kept}\n… ({len(text) - len(kept)} more characters: the card in the cockpit has them all)"


def card_brief(card: DecisionCard, allowed: set[str]) -> dict[str, Any]:
    """A task's pending card as its status shows it: enough to answer it (list_decisions has the rest)."""
    may = card.trigger in allowed
    return {
        "id": card.id,
        "trigger": card.trigger,
        "orchestrator_may_answer": may,
        "title": card.title,
        "options": [{"key": o.key, "label": o.label, "action": o.action} for o in card.options],
        "recommended": card.recommended,
        "default": card.default,
        "deadline": card.deadline.isoformat(),
        "how": (
            f"answer_decision(decision='{card.id}', option=<key>)"
            if may
            else f"for the human (in the cockpit, or `cockpit decide {card.id} <option>`)"
        ),
    }


# ------------------------------------------------------------------------------------------- watching


@dataclass(frozen=True)
class Watch:
    """What of a task the orchestrator waits on: its status word, its pending card, how many attempts
    failed and how many review rounds finished. Written as ``status;card;failures;rounds``."""

    status: str
    decision: str | None
    failures: int
    rounds: int

    @property
    def token(self) -> str:
        return f"{self.status};{self.decision or '-'};{self.failures};{self.rounds}"

    @classmethod
    def parse(cls, token: str) -> Watch:
        parts = token.strip().split(";")
        if len(parts) != 4 or not all(parts) or not parts[2].isdigit() or not parts[3].isdigit():
            raise CommandError(f"invalid since {token[:60]!r}: pass the `watch` of an earlier result")
        return cls(parts[0], None if parts[1] == "-" else parts[1], int(parts[2]), int(parts[3]))

    @classmethod
    def of(cls, row: dict[str, Any], state: TaskState | None, card: DecisionCard | None) -> Watch:
        if state is None:
            return cls(INBOX, None, 0, 0)
        failures = sum(1 for a in state.attempts if a.failure is not None and a.ended_at is not None)
        review = state.review
        rounds = (
            sum(1 for r in review.rounds if r.decision is not None or r.failure is not None) if review else 0
        )
        return cls(str(row["status"]), card.id if card else None, failures, rounds)

    @property
    def needs_orchestrator(self) -> bool:
        """Settled (done, in review, failed, waiting on a card, ...) or a card pending while it runs."""
        return self.decision is not None or self.status not in MOVING

    def standing(self, card: DecisionCard | None) -> list[str]:
        """Where a task that needs the orchestrator stands, in words."""
        out = [f"status {self.status}"] if self.status not in MOVING else []
        if card is not None:
            out.append(f"decision {card.id} pending ({card.trigger}): {card.title}")
        return out

    def changes_since(self, before: Watch, state: TaskState | None, card: DecisionCard | None) -> list[str]:
        """What changed since ``before`` that the orchestrator needs to know, in words."""
        changes: list[str] = []
        if self.status != before.status and self.status not in MOVING:
            changes.append(f"status {before.status} -> {self.status}")
        if self.decision is not None and self.decision != before.decision and card is not None:
            changes.append(f"decision {card.id} opened ({card.trigger}): {card.title}")
        if self.failures > before.failures and state is not None:
            failed = [a for a in state.attempts if a.failure is not None and a.ended_at is not None]
            last = failed[-1]
            assert last.failure is not None
            changes.append(
                f"attempt {last.n} failed ({last.failure.error_type.value}): {last.failure.message}"[:400]
            )
        if self.rounds > before.rounds and state is not None and state.review is not None:
            done = [r for r in state.review.rounds if r.decision is not None or r.failure is not None]
            last_round = done[-1]
            said = last_round.decision or last_round.failure or last_round.verdict
            changes.append(f"review round {last_round.n} finished: {said}"[:400])
        return changes


def next_step(row: dict[str, Any], card: dict[str, Any] | None, supervisor: bool) -> str:
    """What the orchestrator can do next with a task, in one sentence."""
    status = row["status"]
    task = row["id"]
    if card is not None:
        return (
            f"{card['id']} waits for an answer: {card['how']}"
            if card["orchestrator_may_answer"]
            else f"{card['id']} ({card['trigger']}) is for the human; wait_for_task(task='{task}', "
            "since=<watch>) returns when it moves on"
        )
    if status == INBOX_STATUS:
        return "waiting in the inbox" + ("" if supervisor else ": start a supervisor (`cockpit run`)")
    if status in ("queued", "running", "reviewing"):
        return f"wait_for_task(task='{task}', since=<watch>)" + (
            "" if supervisor else " (no supervisor runs: nothing moves until one does)"
        )
    if status == "awaiting_decision":  # its card answered, not applied yet
        return f"wait_for_task(task='{task}', since=<watch>): the answer is applied " + (
            "now" if supervisor else "when a supervisor runs"
        )
    if status == "review":
        return (
            "read the result: get_diff_summary, get_task_diff (pages, or one file), get_last_message, "
            "get_review; merging or rejecting it is the human's"
        )
    if status == "succeeded":
        return "done: get_last_message for the worker's report" + (
            "; the change is in the working tree" if row["lane"] == "local" else ""
        )
    if status in ("failed", "blocked", "dead_letter", "conflict"):
        return (
            "get_last_message says why; submit a revised envelope, or leave it to the human "
            "(`cockpit retry`, `cockpit reject`)"
        )
    return "nothing more to do"


def text_digest(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=5).hexdigest()


def challenge_text(challenge: Any) -> str:
    """A challenge in full as text (what get_review(challenge=...) pages through)."""
    ev = challenge.evidence
    label = (
        f"{challenge.label} by the {challenge.labelled_by}: {challenge.label_reason or ''}"
        if challenge.label
        else "not labelled yet"
    )
    lines = [
        f"challenge {challenge.id} ({challenge.kind}, from the {challenge.source}): {label}",
        f"claim: {challenge.claim}",
    ]
    if challenge.where:
        lines.append(f"where: {challenge.where}")
    if ev.command:
        lines.append("command: " + json.dumps(list(ev.command)))
    if ev.shell:
        lines.append(f"shell: {ev.shell}")
    if ev.command or ev.shell:
        lines.append(f"expect: the command {'fails' if ev.expect == 'fails' else 'succeeds'}")
    if ev.criterion:
        lines.append(f"criterion: {ev.criterion}")
    if ev.problem:
        lines.append(f"not executable: {ev.problem}")
    for path, content in sorted(ev.files.items()):
        lines += [f"--- file written before the command: {path}", content.rstrip("\n")]
    judge = challenge.judge
    if judge is not None:
        lines.append(
            f"--- the judge ran: {json.dumps(list(judge.argv))} -> exit {judge.exit_code}"
            f"{' (timed out)' if judge.timed_out else ''} in {judge.duration_s:.1f} s, "
            f"{judge.output_bytes} bytes of output"
        )
        if judge.stdout_tail:
            lines += ["--- stdout (tail)", judge.stdout_tail.rstrip("\n")]
        if judge.stderr_tail:
            lines += ["--- stderr (tail)", judge.stderr_tail.rstrip("\n")]
    return clean("\n".join(lines) + "\n")


def challenge_brief(challenge: Any) -> dict[str, Any]:
    judge = challenge.judge
    return {
        "id": challenge.id,
        "kind": challenge.kind,
        "source": challenge.source,
        "label": challenge.label,
        "labelled_by": challenge.labelled_by,
        "label_reason": (challenge.label_reason or "")[:300] or None,
        "claim": challenge.claim[:600],
        "where": challenge.where or None,
        "evidence": challenge.evidence.shown,
        "judge": {"exit_code": judge.exit_code, "timed_out": judge.timed_out} if judge else None,
    }


__all__ = [
    "INBOX",
    "MOVING",
    "Watch",
    "card_brief",
    "card_dict",
    "challenge_brief",
    "challenge_text",
    "next_step",
    "text_digest",
]
