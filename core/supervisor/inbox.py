"""What arrives in the inbox: submissions accepted as tasks (or set aside, named why), task commands and
``cockpit archive`` requests run and answered, and the archive passes the supervisor makes itself."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from cockpit.core.archive import (
    ARCHIVE_REQUEST,
    ArchiveReport,
    ArchiveSelection,
    archive_candidates,
    archive_tasks,
)
from cockpit.core.atomic import disk_full
from cockpit.core.board.blackboard import BlackboardError, InboxItem, is_request_id, is_task_id
from cockpit.core.commands import CommandError, apply_command, request_expired
from cockpit.core.config import ConfigError
from cockpit.core.envelope.model import Envelope, requested_escalations
from cockpit.core.git.operations import GitOpError
from cockpit.core.layout import ENVELOPE_FILE
from cockpit.core.policy.gates import escalation_gate, open_gate
from cockpit.core.records.basics import TaskStatus, utc_now
from cockpit.core.records.board_events import EventKind
from cockpit.core.records.task import TaskState


class InboxPhase:
    # ---- inbox --------------------------------------------------------------------------------
    def accept_inbox(self) -> None:
        """Every drop is consumed, whatever it holds: submissions are accepted or quarantined, command
        requests are claimed, then run, refused or discarded, and answered."""
        for item in self.board.inbox():
            if item.kind == "submit":
                try:
                    self._accept_submission(item)
                except OSError as exc:
                    if disk_full(exc):
                        raise  # a full disk keeps the drop: it is taken again with space
                    self._set_aside(item.path, f"submission could not be accepted: {exc}")
                except BlackboardError as exc:
                    self._set_aside(item.path, f"submission could not be accepted: {exc}")
                item.path.unlink(missing_ok=True)
            else:
                claimed = self.board.claim(item)
                if claimed is None:
                    continue  # its sender withdrew it
                try:
                    self._run_command(claimed)
                finally:
                    claimed.path.unlink(missing_ok=True)

    def _set_aside(self, path: Path, reason: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.board.quarantine(path, reason)

    def _accept_submission(self, item: InboxItem) -> None:
        data = item.data
        task_id = str(data.get("task_id", ""))
        try:
            envelope = Envelope.model_validate(data.get("envelope"))
        except ValidationError as exc:
            err = exc.errors()[0]
            reason = f"envelope invalid at {'.'.join(map(str, err['loc']))}: {err['msg']}"
            self.board.quarantine(item.path, reason)
            return
        if not is_task_id(task_id):
            self._set_aside(item.path, f"submission has an invalid task id {task_id[:80]!r}")
            return
        taken = self.board.read_state(task_id) is not None or self.board.archived_task_dir(task_id).exists()
        if task_id in self.actionable or taken:
            self._set_aside(item.path, f"submission has a duplicate task id {task_id!r}")
            return
        if not (self.board.task_dir(task_id) / ENVELOPE_FILE).exists():  # else: a full disk cut in
            self.board.write_envelope(task_id, envelope)
        state = TaskState(
            id=task_id,
            lane=envelope.lane,
            title=envelope.title or envelope.goal[:80],
            base_commit=data.get("base_commit"),
            base_branch=data.get("base_branch"),
        )
        self.board.log_event({"kind": EventKind.ACCEPTED, "task_id": task_id, "lane": envelope.lane})
        asked = requested_escalations(envelope)
        if asked:
            card = open_gate(self.decisions, state, escalation_gate(state, asked))
            state.status = TaskStatus.AWAITING_DECISION
            state.decision_id = card.id
            state.message = f"waiting for {card.id}: {card.title}"
            self.board.log_event(
                {
                    "kind": EventKind.BLOCKED,
                    "task_id": task_id,
                    "decision": card.id,
                    "line": f"BLOCKED {task_id}: blocked (reason: asks for {', '.join(asked)})",
                }
            )
        self._save(state)
        self.live_tasks += 1

    def _run_command(self, item: InboxItem) -> None:
        """One claimed command request: set aside when its ids or its expiry are malformed, discarded
        when past its ``expires_at`` (its sender has given up), else run; answered whenever its reply
        address is well formed."""
        data = item.data
        request_id = data.get("request_id")
        task_id = data.get("task_id")
        expired = request_expired(data, utc_now())  # real time: the sender's deadline is wall-clock
        if item.kind != ARCHIVE_REQUEST and not is_task_id(task_id):
            why: str | None = f"invalid task id {str(task_id)[:80]!r}"
        elif not is_request_id(request_id):
            why = f"invalid request id {str(request_id)[:80]!r}"
        elif expired is None:
            why = "no valid expires_at (a command request must say when it expires)"
        else:
            why = None
        if why is not None:
            self._set_aside(item.path, f"{item.kind} request refused: {why}")
            reply: dict[str, Any] = {"ok": False, "status": "refused", "error": f"refused: {why}"}
        elif expired:
            self.board.log_event(
                {
                    "kind": EventKind.REQUEST_EXPIRED,
                    "request": item.kind,
                    "task_id": task_id,
                    "expires_at": data.get("expires_at"),
                    "line": f"INBOX {item.kind} {task_id}: discarded, it expired at {data.get('expires_at')}",
                }
            )
            reply = {"ok": False, "status": "expired", "error": "not applied: the request expired unanswered"}
        elif item.kind == ARCHIVE_REQUEST:
            reply = self._archive_request(data)
        else:
            reply = self._apply_request(item.kind, str(task_id), data)
        if is_request_id(request_id):
            self.board.reply(str(request_id), reply)

    def _apply_request(self, kind: str, task_id: str, data: dict[str, Any]) -> dict[str, Any]:
        state = self._task(task_id)
        try:
            if state is None:
                raise BlackboardError(f"no task {task_id!r}")
            message = apply_command(self.board, kind, state, data)
        except (CommandError, BlackboardError, GitOpError, ConfigError, OSError) as exc:
            self.board.log_event(
                {"kind": EventKind.REQUEST_REFUSED, "request": kind, "task_id": task_id, "error": str(exc)}
            )
            return {"ok": False, "status": "refused", "error": str(exc)}
        finally:
            if state is not None:
                self._save(state)  # a refusal may still record something (a merge that conflicted)
        return {"ok": True, "status": "applied", "message": message}

    def _archive_request(self, data: dict[str, Any]) -> dict[str, Any]:
        """``cockpit archive`` sent while this supervisor holds the board: it moves the tasks itself."""
        try:
            selection = ArchiveSelection.model_validate(data.get("selection"))
        except ValidationError as exc:
            err = exc.errors()[0]
            why = f"invalid selection: {'.'.join(map(str, err['loc']))}: {err['msg']}"
            return {"ok": False, "status": "refused", "error": why}
        now = datetime.fromtimestamp(self.clock(), UTC)
        try:
            report = self._archive(selection, now, by="cockpit archive")
        except (BlackboardError, GitOpError, OSError) as exc:
            if isinstance(exc, OSError) and disk_full(exc):
                raise
            return {"ok": False, "status": "refused", "error": f"could not archive: {exc}"}
        return {"ok": True, "status": "applied", "report": report.model_dump(mode="json")}

    def _archive(self, selection: ArchiveSelection, now: datetime, *, by: str) -> ArchiveReport:
        """Archive among the live tasks: a sweep chooses from their summaries, and only the tasks chosen
        are read in full (none of them is in memory: an actionable task is never archived)."""
        chosen = archive_candidates(self.board, selection, self._task)
        report = archive_tasks(self.board, chosen, selection, now, by=by, load=self._task)
        if not selection.dry_run:
            for done in report.archived:
                self.actionable.pop(done.task_id, None)
            self.live_tasks = max(0, self.live_tasks - len(report.archived))
        return report

    def _auto_archive(self, now: float) -> None:
        """``[archive] after_days = N``: finished tasks unchanged for N days leave the live board (what
        something still holds stays); a failure is logged and never stops the supervisor."""
        days = self.config.archive.after_days
        if not days:
            return
        try:
            selection = ArchiveSelection(older_than_s=days * 86400.0)
            self._archive(selection, datetime.fromtimestamp(now, UTC), by=f"after_days = {days}")
        except Exception as exc:
            if isinstance(exc, OSError) and disk_full(exc):
                raise
            self.board.log_event({"kind": EventKind.ARCHIVE_ERROR, "error": str(exc)[:500]})
