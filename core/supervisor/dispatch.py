"""Which queued task starts next: the worker cap, the lanes, the circuit breaker and the budgets decide,
and tasks that must wait say why."""

from __future__ import annotations

from datetime import UTC, datetime

from cockpit.core.policy.budgets import BudgetStatus, project_budget_status
from cockpit.core.policy.gates import weekly_budget_gate
from cockpit.core.records.basics import TaskStatus
from cockpit.core.records.task import TaskState
from cockpit.core.usage.ledger import usage_report
from cockpit.core.vocabulary import CLOUD_LANE


class DispatchPhase:
    # ---- dispatch -----------------------------------------------------------------------------
    def _queued(self, *, ready_only: bool = True) -> list[TaskState]:
        now = self.clock()
        out = [
            s
            for s in self.actionable.values()
            if s.status == TaskStatus.QUEUED
            and s.id not in self.running
            and (not ready_only or (s.not_before or 0.0) <= now)
        ]
        out.sort(key=lambda s: s.created_at)
        return out

    def _dispatchable(self, state: TaskState) -> bool:
        return state.lane in self._lanes

    def dispatch(self) -> None:
        free = self.config.max_workers - len(self.running)
        if free <= 0:
            return
        ready = [s for s in self._queued() if self._dispatchable(s) and s.lane != CLOUD_LANE]
        if not ready:
            return
        blocked_until = self.windows.blocked_until(self.clock())
        if blocked_until is not None:
            when = datetime.fromtimestamp(blocked_until, UTC)
            self._note(ready, f"waiting: the Codex usage window is exhausted until {when:%Y-%m-%d %H:%M} UTC")
            return
        if self.config.budget.weekly_tokens or self.config.budget.daily_tokens:
            budget = self.budget_status()
            if budget.gate_new_tasks:
                for state in [s for s in ready if not s.attempts and not s.budget_approved]:
                    self.settler.gate(state, weekly_budget_gate(state, budget.gate_reason or "budget spent"))
                    self._save(state)
                ready = [s for s in ready if s.status == TaskStatus.QUEUED]
                if not ready:
                    return
        breaker = self.breakers.get(self.provider)
        busy_exclusive = {r.state.lane for r in self.running.values() if self._lanes[r.state.lane].exclusive}
        for state in ready:
            if free <= 0:
                break
            lane = self._lanes[state.lane]
            if lane.exclusive and state.lane in busy_exclusive:
                continue
            admission = breaker.allow()
            if not admission.allowed:
                self._note_waiting(ready, admission.reason, admission.retry_at)
                break
            self.breakers.save(breaker)
            if self.start_attempt(state, lane, probe=admission.probe):
                free -= 1
                if lane.exclusive:
                    busy_exclusive.add(state.lane)
            if admission.probe:
                break  # one probe at a time while HALF-OPEN

    def budget_status(self) -> BudgetStatus:
        """Today's and this week's spend against the project budgets (cached for a few seconds)."""
        now = self.clock()
        if self._budget is None or now - self._budget[0] > 5.0:
            report = usage_report(
                self.ledger,
                datetime.fromtimestamp(now, UTC),
                self.config.tz(),
                week_starts_on=self.config.week_starts_on,
            )
            self._budget = (now, project_budget_status(report, self.config.budget))
        return self._budget[1]

    def _note_waiting(self, states: list[TaskState], reason: str, retry_at: float | None) -> None:
        when = f" until {datetime.fromtimestamp(retry_at, UTC):%H:%M:%S} UTC" if retry_at else ""
        self._note(states, f"waiting: the {self.provider} circuit breaker is open{when} ({reason})")

    def _note(self, states: list[TaskState], message: str) -> None:
        """Say on each waiting task why it waits (written only when the reason changes)."""
        for state in states:
            if state.message != message:
                state.message = message
                self._save(state)
