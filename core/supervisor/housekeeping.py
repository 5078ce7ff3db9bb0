"""The supervisor's once-a-second chores: overdue decisions expired, answered ones applied (a card is read
only when its file changed), dead letters swept when due, budget notices, the task index compacted."""

from __future__ import annotations

from datetime import UTC, datetime

from cockpit.core.board.blackboard import Stamp, file_stamp
from cockpit.core.board.decisions import DECISION_ID_RE, DecisionError
from cockpit.core.board.task_index.scan import scan_stamped
from cockpit.core.policy.breaker import BreakerState
from cockpit.core.records.basics import TaskStatus
from cockpit.core.records.board_events import EventKind

DEAD_LETTER_SWEEP_EVERY_S = 30.0
ARCHIVE_EVERY_S = 3600.0
REPLY_TTL_S = 3600.0  # answers nobody collected (their sender died) are removed after this long


class HousekeepingPhase:
    # ---- housekeeping -------------------------------------------------------------------------
    def housekeeping(self, now: float) -> None:
        """Expire overdue decisions, apply answered ones, sweep dead letters, compact the task index."""
        self.decisions.expire_due()
        self._compact_index()
        for state in list(self.actionable.values()):
            if state.status != TaskStatus.AWAITING_DECISION or not state.decision_id:
                continue
            seen = self._card_files(state.decision_id)
            if seen is not None and self._cards_seen.get(state.id) == seen:
                continue  # its card's files are the ones read last time, when it was still pending
            try:
                card = self.decisions.get(state.decision_id)
            except DecisionError:  # not a decision id at all: as good as missing
                card = None
            if card is None:
                state.status, state.decision_id = TaskStatus.FAILED, None
                state.message = "its decision card is missing (see quarantine/)"
                self._save(state)
            elif card.resolved is not None:
                self.settler.apply_decision(state, card)
                self._save(state)
            elif seen is not None:
                self._cards_seen[state.id] = seen
        for task_id in [t for t in self._cards_seen if t not in self.actionable]:
            del self._cards_seen[task_id]
        due: list[str] = list(self.settler.requeue)
        self.settler.requeue.clear()
        if now - self._last_sweep >= DEAD_LETTER_SWEEP_EVERY_S:
            self._last_sweep = now
            states = self.breakers.states()
            half_open = {p for p, st in states.items() if st == BreakerState.HALF_OPEN}
            # A HALF-OPEN breaker only closes after a successful probe; with every failing task parked
            # there is no traffic to probe with, so one due letter per such provider goes as the probe.
            eligible = {p: (BreakerState.CLOSED if p in half_open else st) for p, st in states.items()}
            probing: set[str] = set()
            for letter in self.dead_letters.due(eligible):
                provider = letter.related_circuit_breaker
                if provider in half_open:
                    if provider in probing:
                        continue
                    probing.add(provider)
                self.dead_letters.mark_swept(letter.task_id)
                due.append(letter.task_id)
        for task_id in due:
            state = self._task(task_id)  # a dead-lettered task is not kept in memory: read it now
            if state is not None and state.status == TaskStatus.DEAD_LETTER:
                state.status, state.not_before = TaskStatus.QUEUED, None
                state.resume_reason = "a dead-letter sweep"
                state.message = "retried by the dead-letter sweep"
                self.board.log_event({"kind": EventKind.DEAD_LETTER_RETRY, "task_id": task_id})
                self._save(state)
        for message in self.budget_status().notify:
            key = f"{datetime.fromtimestamp(now, UTC):%Y-%m-%d}:{message}"
            if key not in self._notified:
                self._notified.add(key)
                self.board.log_event(
                    {"kind": EventKind.NOTIFY, "topic": "budget", "line": f"NOTIFY budget: {message}"}
                )
        if now - self._last_archive >= ARCHIVE_EVERY_S:
            self._last_archive = now
            for task_id in self.dead_letters.archive_old():
                self.board.log_event({"kind": EventKind.DEAD_LETTER_ARCHIVED, "task_id": task_id})
            self.board.sweep_replies(REPLY_TTL_S)
            self._auto_archive(now)

    def _card_files(self, card_id: str) -> tuple[Stamp | None, Stamp | None] | None:
        """The stamps of a card's pending and resolved files: a card is written, answered and withdrawn
        only by making new files, so the same stamps mean the same card. None for a malformed id."""
        if not DECISION_ID_RE.fullmatch(card_id):
            return None
        pending = file_stamp(self.decisions.pending_dir / f"{card_id}.json")
        resolved = file_stamp(self.decisions.resolved_dir / f"{card_id}.json")
        return (pending, resolved)

    def _compact_index(self) -> None:
        """Rebuild the task index when it grew, held a torn line or was removed (this process holds the
        board lock: the only one that may)."""
        index = self.board.task_index
        reason = index.due(self.live_tasks)
        if reason is None:
            return
        self.live_tasks = index.compact(scan=lambda: scan_stamped(self.board))
        self.board.log_event({"kind": EventKind.TASK_INDEX_REBUILT, "reason": reason})
