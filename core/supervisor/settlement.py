"""What happens to a task after an attempt ends, and after a human answers its decision card.

An attempt with three green signals and no ``FAILED:``/``BLOCKED:`` line is settled by its lane
(review, succeeded) unless a gate stops it first (over budget, protected paths, merge). Any other
attempt is classified (:mod:`cockpit.core.policy.failures`), logged as a structured error event, reported to
the provider's circuit breaker, and handed to the retry policy (:mod:`cockpit.core.policy.retry`): retry after
a delay, gate with a decision card, park as a dead letter, or fail. A run stopped at the chunk limit or
by the watchdog is not a failure: it continues its Codex thread with a digest.
"""

from __future__ import annotations

import fnmatch
import random
from collections.abc import Callable
from pathlib import Path

from cockpit.core.board.blackboard import Blackboard
from cockpit.core.board.checkpoint import build_checkpoint, write_checkpoint
from cockpit.core.board.decisions import DecisionCard, DecisionStore
from cockpit.core.commands import CommandError
from cockpit.core.commands import merge as merge_task
from cockpit.core.commands import reject as reject_task
from cockpit.core.config import ProjectConfig
from cockpit.core.envelope.model import Envelope
from cockpit.core.git.operations import GitOpError
from cockpit.core.lanes import Lane
from cockpit.core.layout import DIFF_FILE, LAST_MESSAGE_FILE, STDERR_FILE
from cockpit.core.policy.breaker import BreakerState, BreakerStore
from cockpit.core.policy.budgets import over_budget
from cockpit.core.policy.dead_letters import DeadLetter, DeadLetterQueue, default_retry_after
from cockpit.core.policy.failures import acceptance_failure, classify, error_event, rollout_error_info
from cockpit.core.policy.gates import (
    Gate,
    failure_gate,
    merge_gate,
    open_gate,
    over_budget_gate,
    protected_paths_gate,
)
from cockpit.core.policy.retry import decide, max_attempts_for
from cockpit.core.records.attempt import Attempt, ErrorType, Failure, FailureCode
from cockpit.core.records.basics import TaskStatus
from cockpit.core.records.board_events import EventKind
from cockpit.core.records.review import ReviewRound, ReviewState
from cockpit.core.records.task import TaskState
from cockpit.core.usage.watcher import RolloutWatcher
from cockpit.core.vocabulary import WORKTREE_LANES


class Settler:
    def __init__(
        self,
        board: Blackboard,
        lanes: dict[str, Lane],
        *,
        config: ProjectConfig,
        decisions: DecisionStore,
        breakers: BreakerStore,
        dead_letters: DeadLetterQueue,
        provider: str,
        codex_home: Path,
        rng: random.Random,
        clock: Callable[[], float],
        windows: RolloutWatcher | None = None,
    ) -> None:
        self.board = board
        self.lanes = lanes
        self.config = config
        self.decisions = decisions
        self.breakers = breakers
        self.dead_letters = dead_letters
        self.provider = provider
        self.codex_home = codex_home
        self.rng = rng
        self.clock = clock
        self.windows = windows
        self.requeue: list[
            str
        ] = []  # dead letters to retry now that the breaker closed; the caller drains it

    # ---- after an attempt ---------------------------------------------------------------------
    def settle(self, state: TaskState, attempt: Attempt, envelope: Envelope | None) -> None:
        info = attempt.exit
        assert info is not None
        if info.chunked or info.watchdog:
            self._continue(
                state,
                attempt,
                "the chunk limit was reached"
                if info.chunked
                else "the watchdog saw no new event for too long",
            )
            return
        if info.cancelled:
            if attempt.probe:
                self._release_probe()
            state.status, state.message = TaskStatus.CANCELLED, "cancelled; the turn was interrupted"
            attempt.error = "cancelled"
            self._checkpoint(state, "cancelled", "nothing: the task was cancelled")
            return
        over_budget = self._over_budget(state, envelope)
        error_info, resets_at = self._error_info(state, attempt)
        failure = classify(
            attempt.progress,
            info,
            attempt.outcome,
            codex_error_info=error_info,
            resets_at=resets_at,
            stderr_tail=_tail(self.board.attempt_dir(state.id, attempt.n) / STDERR_FILE),
            consecutive_failures=_trailing_failures(state),  # failures before this attempt
            over_budget=over_budget is not None,
            now=self.clock(),
        )
        if failure is None:
            failure = self._acceptance(state, envelope)
        if failure is None:
            self._succeeded(state, attempt, envelope, over_budget)
        else:
            self._failed(state, attempt, failure)

    def _succeeded(
        self, state: TaskState, attempt: Attempt, envelope: Envelope | None, over_budget: int | None
    ) -> None:
        self._breaker_result(None)
        if self.dead_letters.get(state.id) is not None:
            self.dead_letters.remove(state.id)
        if over_budget is not None:
            self.gate(state, over_budget_gate(state, over_budget))
            return
        self._settle_result(state, attempt.n)

    def _settle_result(self, state: TaskState, attempt_n: int, *, skip_protected: bool = False) -> None:
        lane = self.lanes[state.lane]
        try:
            try:
                status, message = lane.settle_success(state, attempt_n)
            except Exception:  # committing is idempotent: one more try before giving up
                status, message = lane.settle_success(state, attempt_n)
        except Exception as exc:  # never leaves the task running nor stops the supervisor
            state.status, state.message = TaskStatus.FAILED, f"could not record the result: {exc}"
            self.board.log_event(
                {
                    "kind": EventKind.SETTLE_ERROR,
                    "task_id": state.id,
                    "error": str(exc)[:500],
                    "error_type": "git" if isinstance(exc, GitOpError) else type(exc).__name__,
                }
            )
            return
        last = state.last_attempt
        if last and (last.outcome is None or last.outcome.status is None):
            message += " (no COMPLETED: line in the final message)"
        state.status, state.message = status, message
        touched = [] if skip_protected else self._protected(state)
        if touched:
            self.gate(state, protected_paths_gate(state, touched, then=status.value))
            return
        if status == TaskStatus.REVIEW and self.begin_review(state, attempt_n):
            return
        self.to_human(state)

    def to_human(self, state: TaskState) -> None:
        """A settled task where it goes next: the merge gate when the project asks for one, else its
        checkpoint (review the diff, or nothing when it is done)."""
        if state.status == TaskStatus.REVIEW and self.config.gate_merges:
            self.gate(state, merge_gate(state))
            return
        self._checkpoint(
            state,
            state.status.value,
            "review the diff, then merge or reject"
            if state.status == TaskStatus.REVIEW
            else "nothing: the task is done",
        )

    def begin_review(self, state: TaskState, attempt_n: int) -> bool:
        """Put a result on its way to the cross-family review when ``[review]`` wants it for the task's
        lane and its envelope does not say ``review = false``: a new round is recorded and the task is
        ``reviewing`` (the supervisor's review phase starts the reviewer). False: no review, the caller
        goes on to the human's review."""
        envelope = self.board.read_envelope(state.id)
        wanted = envelope.review if envelope is not None else True
        if not self.config.review.wants_review(state.lane, wanted):
            if not wanted and state.lane in self.config.review.lanes:
                state.review = state.review or ReviewState()
                state.review.status, state.review.skipped_reason = (
                    "skipped",
                    "the envelope says review = false",
                )
            return False
        if not state.head_commit:
            return False
        review = state.review or ReviewState()
        n = len(review.rounds) + 1
        review.rounds.append(ReviewRound(n=n, attempt=attempt_n, head_commit=state.head_commit))
        review.status = "reviewing"
        review.soft_cap = self.config.review.soft_cap
        state.review = review
        state.status = TaskStatus.REVIEWING
        state.message = f"review round {n}: waiting for the reviewer ({state.message or 'result committed'})"
        self.board.log_event(
            {
                "kind": EventKind.REVIEWING,
                "task_id": state.id,
                "round": n,
                "attempt": attempt_n,
                "head_commit": state.head_commit,
                "line": f"REVIEWING {state.id}: review round {n} of attempt {attempt_n}",
            }
        )
        self._checkpoint(state, "reviewing", f"review round {n}, then the judge")
        return True

    def _failed(self, state: TaskState, attempt: Attempt, failure: Failure) -> None:
        history = list(state.failures)
        max_attempts = max_attempts_for(failure)
        failure = failure.model_copy(update={"max_attempts": max_attempts})  # kept for the task's lists
        state.failures.append(failure)
        attempt.failure = failure
        attempt.error = f"{failure.code.value}: {failure.message}"[:500]
        step = f"attempt {attempt.n - 1}" if attempt.n > 1 else "none"
        event = error_event(state.id, failure, attempt.n, max_attempts, step)
        self.board.log_event({"kind": EventKind.ERROR, **event.model_dump(mode="json")})
        if failure.code != FailureCode.INTERRUPTED:
            self._breaker_result(failure)
        elif attempt.probe:
            self._release_probe()
        if failure.code == FailureCode.USAGE_LIMIT and self.windows is not None:
            self.windows.record_usage_limit(failure.resets_at, self.clock())  # the gauge shows it blocked
        decision = decide(failure, history, rng=self.rng, now=self.clock())
        if failure.error_type == ErrorType.AUTH:
            decision = decision.model_copy(update={"action": "dead_letter", "reason": decision.reason})
        if decision.action == "retry":
            state.status = TaskStatus.QUEUED
            state.not_before = self.clock() + decision.delay_s
            if failure.code in (FailureCode.KILLED, FailureCode.LOST):
                # interrupted work: resume the thread with a digest of what was done, not generic feedback
                state.pending_feedback = None
                state.resume_reason = f"the run was stopped: {failure.message[:120]}"
            else:
                state.pending_feedback = decision.feedback
                state.resume_reason = None if decision.feedback else f"a retry after {failure.code.value}"
            state.message = f"{failure.code.value}: {decision.reason}"
            self._checkpoint(state, "retry_wait", f"attempt {attempt.n + 1} after {decision.delay_s:.1f}s")
        elif decision.action == "gate":
            self.gate(
                state,
                failure_gate(
                    state, decision.gate_trigger or "repeated_failures", decision.reason, decision.feedback
                ),
            )
        elif decision.action == "dead_letter":
            self._dead_letter(state, failure, decision.delay_s, decision.reason)
        else:
            state.status = TaskStatus.FAILED
            state.message = f"{failure.code.value}: {failure.message[:200]} — {decision.reason}"
            self._checkpoint(state, "failed", failure.suggestion)

    def _continue(self, state: TaskState, attempt: Attempt, why: str) -> None:
        if attempt.probe:
            self._release_probe()
        if state.continuations >= self.config.max_chunks:
            state.failures.append(
                Failure(
                    error_type=ErrorType.STATE,
                    code=FailureCode.TIMEOUT,
                    message=why,
                    retryable=False,
                    trips_breaker=False,
                    suggestion="split the task into smaller envelopes",
                    signature=f"continuation:{why}",
                )
            )
            self.gate(
                state, failure_gate(state, "repeated_failures", f"{why} {state.continuations} times", None)
            )
            return
        state.continuations += 1
        state.status = TaskStatus.QUEUED
        state.not_before = None
        state.resume_reason = why
        state.message = f"{why}; continuing the thread in a fresh run ({state.continuations})"
        self.board.log_event(
            {"kind": EventKind.CONTINUATION, "task_id": state.id, "attempt": attempt.n, "why": why}
        )
        self._checkpoint(state, "continuing", f"resume thread {state.thread_id} with a digest")

    # ---- gates, dead letters, breaker ---------------------------------------------------------
    def gate(self, state: TaskState, gate: Gate) -> DecisionCard:
        card = open_gate(self.decisions, state, gate)
        state.status = TaskStatus.AWAITING_DECISION
        state.decision_id = card.id
        state.message = f"waiting for {card.id}: {card.title}"
        self.board.log_event(
            {
                "kind": EventKind.BLOCKED,
                "task_id": state.id,
                "decision": card.id,
                "trigger": card.trigger,
                "line": f"BLOCKED {state.id}: blocked (reason: {gate.trigger}; answer with "
                f"`cockpit decide {card.id} <option>`, default {card.default} at "
                f"{card.deadline:%Y-%m-%d %H:%M} UTC)",
            }
        )
        self._checkpoint(state, "awaiting_decision", f"apply the answer to {card.id}")
        return card

    def _dead_letter(self, state: TaskState, failure: Failure, delay_s: float, reason: str) -> None:
        envelope = self.board.read_envelope(state.id)
        now = self.clock()
        existing = self.dead_letters.get(state.id)
        priority = envelope.priority if envelope else "medium"
        retry_after = (
            now + delay_s
            if failure.error_type == ErrorType.TRANSIENT
            else default_retry_after(failure.error_type.value, priority, now)
        )
        if existing is not None:
            self.dead_letters.bump(state.id, error=failure.message)
        else:
            self.dead_letters.add(
                DeadLetter(
                    task_id=state.id,
                    original_task=envelope.model_dump(mode="json") if envelope else {},
                    error=failure.message[:1000],
                    error_type=failure.error_type.value,
                    attempts=len(state.attempts),
                    first_attempt=state.attempts[0].started_at.timestamp(),
                    last_attempt=now,
                    context_summary=(
                        f"{state.title}; {len(state.attempts)} attempts; "
                        f"last {failure.code.value}; {failure.suggestion}"
                    ),
                    retry_after=retry_after,
                    priority=priority,
                    related_circuit_breaker=self.provider if failure.trips_breaker else None,
                )
            )
        state.status = TaskStatus.DEAD_LETTER
        auto = (
            "retried automatically when the provider is healthy"
            if retry_after
            else "`cockpit retry` after fixing it"
        )
        state.message = f"dead letter ({failure.code.value}): {reason}; {auto}"
        self._checkpoint(state, "dead_letter", failure.suggestion)

    def _breaker_result(self, failure: Failure | None) -> None:
        breaker = self.breakers.get(self.provider)
        before = breaker.state
        if failure is None:
            breaker.on_success()
        else:
            breaker.on_failure(failure.signature, failure.message[:300], trips=failure.trips_breaker)
        self.breakers.save(breaker)
        after = breaker.state
        if after != before:
            self.board.log_event(
                {
                    "kind": EventKind.BREAKER,
                    "provider": self.provider,
                    "from": before.value,
                    "to": after.value,
                    "line": f"breaker {self.provider}: {before.value} → {after.value}",
                }
            )
        if after == BreakerState.CLOSED and before != BreakerState.CLOSED:
            self.requeue += [letter.task_id for letter in self.dead_letters.on_breaker_closed(self.provider)]

    def _release_probe(self) -> None:
        breaker = self.breakers.get(self.provider)
        breaker.release_probe()
        self.breakers.save(breaker)

    # ---- after a decision ---------------------------------------------------------------------
    def apply_decision(self, state: TaskState, card: DecisionCard) -> None:
        """Carry out the answer to a resolved card (by a human, the default, or the orchestrator)."""
        assert card.resolved is not None
        res = card.resolved
        option = card.option(res.option) if res.option else None
        params = option.params if option else {}
        action = res.action
        state.decision_id = None
        who = {"human": "you", "default": "the default", "orchestrator": "the orchestrator"}.get(
            res.by, res.by
        )
        note = f"{card.id}: {who} chose {res.option or '-'} ({action})"
        self.board.log_event(
            {
                "kind": EventKind.DECISION_APPLIED,
                "task_id": state.id,
                "decision": card.id,
                "action": action,
                "by": res.by,
            }
        )
        if action in ("retry", "retry_with_feedback"):
            state.status = TaskStatus.QUEUED
            state.not_before = None
            state.pending_feedback = params.get("feedback") if action == "retry_with_feedback" else None
            state.resume_reason = None if state.pending_feedback else "a retry chosen in a decision"
            state.message = note
        elif action == "dead_letter":
            last = state.failures[-1] if state.failures else None
            if last is None:
                last = Failure(
                    error_type=ErrorType.STATE,
                    code=FailureCode.UNKNOWN,
                    message=card.title,
                    retryable=False,
                    trips_breaker=False,
                    suggestion="`cockpit retry` when ready",
                    signature=card.trigger,
                )
            self._dead_letter(
                state,
                last.model_copy(update={"error_type": ErrorType.STATE})
                if last.error_type == ErrorType.CATASTROPHIC
                else last,
                0.0,
                note,
            )
        elif action in ("fail", "withdrawn"):
            if action == "fail":
                state.status, state.message = TaskStatus.FAILED, note
        elif action == "cancel":
            state.status, state.message = TaskStatus.CANCELLED, note
        elif action == "approve" and card.trigger in ("network_access", "full_access"):
            state.approved_escalations = sorted(
                set(state.approved_escalations) | set(params.get("escalations", []))
            )
            state.status, state.message = TaskStatus.QUEUED, note
        elif action == "deny":
            state.denied_escalations = sorted(
                set(state.denied_escalations) | set(params.get("escalations", []))
            )
            state.status, state.message = (
                TaskStatus.QUEUED,
                note + "; runs with workspace-write and no network",
            )
        elif action == "approve" and card.trigger == "weekly_budget":
            state.budget_approved = True
            state.status, state.message = TaskStatus.QUEUED, note
        elif action == "approve":  # protected paths accepted: on to where the task was going
            then = TaskStatus(params.get("then", TaskStatus.REVIEW.value))
            state.status, state.message = then, note
            last_n = state.attempts[-1].n if state.attempts else 0
            if then == TaskStatus.REVIEW and self.begin_review(state, last_n):
                return
            if then == TaskStatus.REVIEW and self.config.gate_merges:
                self.gate(state, merge_gate(state))
        elif action == "retry_review":
            self._retry_review(state, note)
            return
        elif action == "accept_partial":
            self._settle_result(state, state.attempts[-1].n if state.attempts else 0, skip_protected=False)
            state.message = f"{note}; {state.message}"
        elif action in ("merge", "reject"):
            state.status = TaskStatus.REVIEW  # the card stood in for review; a refused merge stays there
            command = merge_task if action == "merge" else reject_task
            try:
                state.message = f"{note}; {command(self.board, state)}"
            except (CommandError, GitOpError) as exc:
                state.message = f"{note}; {exc}"
        elif action == "keep":
            state.status, state.message = TaskStatus.REVIEW, note
        else:
            state.status, state.message = TaskStatus.FAILED, f"{note}: unknown action"
        self._checkpoint(state, state.status.value, state.message or "")

    def _retry_review(self, state: TaskState, note: str) -> None:
        """A person asked for another try of a review that failed: the same round is opened again (it is
        not a new round), with a fresh retry budget."""
        last = state.review.last_round if state.review else None
        if last is None:
            state.status, state.message = TaskStatus.REVIEW, f"{note}; no review round to try again"
            self._checkpoint(state, state.status.value, "review the diff, then merge or reject")
            return
        last.failure, last.decision, last.ended_at, last.retry_at = None, None, None, None
        last.retry_from = len(last.reviewer_failures)
        assert state.review is not None
        state.review.status = "reviewing"
        state.status, state.message = TaskStatus.REVIEWING, f"{note}; review round {last.n} tried again"
        self._checkpoint(state, "reviewing", f"review round {last.n}, then the judge")

    # ---- helpers ------------------------------------------------------------------------------
    def _acceptance(self, state: TaskState, envelope: Envelope | None) -> Failure | None:
        """The cockpit's own check after a COMPLETED attempt: the envelope's output landed on disk."""
        if envelope is None or envelope.output is None:
            return None
        declared = Path(envelope.output.path)
        rel = (
            declared.relative_to(self.board.repo)
            if declared.is_absolute() and declared.is_relative_to(self.board.repo)
            else declared
        )
        root = Path(state.worktree) if state.lane in WORKTREE_LANES and state.worktree else self.board.repo
        target = rel if rel.is_absolute() else root / rel
        if target.is_file() and target.stat().st_size > 0:
            return None
        return acceptance_failure(
            f"the output {rel} exists and is not empty", "the worker reported success but did not write it"
        )

    def _over_budget(self, state: TaskState, envelope: Envelope | None) -> int | None:
        """The task's token budget when its cost is past the gate (150 % by default), else None."""
        budget = envelope.budget.tokens if envelope else None
        used = state.usage.input_tokens + state.usage.output_tokens
        return budget if over_budget(used, budget, self.config.budget.over_budget_factor) else None

    def _protected(self, state: TaskState) -> list[str]:
        globs = self.config.protected_paths
        if not globs:
            return []
        if state.diff is not None:
            paths = state.diff.paths
        else:
            last = state.last_attempt
            paths = []
            for p in last.progress.file_changes if last else []:
                try:
                    paths.append(str(Path(p).resolve().relative_to(self.board.repo)))
                except ValueError:
                    paths.append(p)
        return sorted({p for p in paths for g in globs if fnmatch.fnmatch(p, g)})

    def _error_info(self, state: TaskState, attempt: Attempt) -> tuple[str | None, float | None]:
        """The rollout's structured error kind and, for usage limits, the reset time."""
        if not attempt.progress.turn_failed or not state.thread_id:
            return None, None
        return rollout_error_info(self.codex_home, state.thread_id)

    def _checkpoint(self, state: TaskState, phase: str, next_step: str) -> None:
        task_dir = self.board.task_dir(state.id)
        artifacts = [str(p) for p in (task_dir / DIFF_FILE,) if p.exists()]
        last = state.last_attempt
        if last is not None:
            msg = self.board.attempt_dir(state.id, last.n) / LAST_MESSAGE_FILE
            if msg.exists() and msg.stat().st_size:
                artifacts.append(str(msg))
        write_checkpoint(
            task_dir, build_checkpoint(state, phase=phase, next_step=next_step, artifacts=artifacts)
        )


def _trailing_failures(state: TaskState) -> int:
    """Consecutive failed attempts at the end of the task's history."""
    count = 0
    for attempt in reversed(state.attempts[:-1]):
        if attempt.failure is None:
            break
        count += 1
    return count


def _tail(path: Path, size: int = 4096) -> str:
    try:
        with path.open("rb") as fh:
            fh.seek(max(0, path.stat().st_size - size))
            return fh.read().decode("utf-8", "replace")
    except OSError:
        return ""
