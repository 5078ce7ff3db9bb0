"""Following submitted cloud attempts: one board-wide ``codex cloud list --json`` when the earliest is
due (``status`` for what the list does not show), the status taken in with backoff, the pending
deadline, and a ready task's diffs fetched and settled (see :mod:`cockpit.core.supervisor.cloud`)."""

from __future__ import annotations

import time
from pathlib import Path

from cockpit.core.atomic import atomic_write_text
from cockpit.core.codex.cloud.commands import (
    cloud_diff,
    cloud_list,
    cloud_status,
)
from cockpit.core.codex.cloud.wire import (
    CloudOutputError,
    CloudTaskItem,
    parse_diff_output,
    parse_list_output,
    parse_status_output,
)
from cockpit.core.layout import (
    cloud_diff_file,
)
from cockpit.core.policy.cloud_failures import classify_cloud_error, cloud_task_failure
from cockpit.core.records.attempt import ErrorType, Failure, FailureCode, Outcome
from cockpit.core.records.basics import Signals, TaskStatus, utc_now
from cockpit.core.records.board_events import EventKind
from cockpit.core.records.cloud import CloudResult
from cockpit.core.records.exit_info import ExitInfo
from cockpit.core.supervisor.cloud import (
    JITTER,
    LIST_PAGES_MAX,
    STALLED_FACTOR,
    CloudBase,
    CloudCall,
    CloudFollow,
    _outcome,
    _Poll,
    poll_interval,
)


class CloudFollowPhase(CloudBase):
    def follow_cloud(self) -> None:
        """Take in what the submitters and the pool have finished; start the poll when one is due."""
        for follow in list(self.cloud.values()):
            if follow.state.status != TaskStatus.RUNNING or self._task(follow.state.id) is not follow.state:
                self.cloud.pop(follow.state.id, None)  # cancelled (or changed by a command): not followed
                continue
            if not follow.run.submitted:
                self._follow_submission(follow)
            elif follow.fetch is not None and follow.fetch.done():
                self._fetched(follow, _outcome(follow.fetch, "diff"))
        self._poll_cloud()

    def _poll_cloud(self) -> None:
        poll = self._cloud_poll
        if poll is not None:
            if poll.done():
                self._cloud_poll = None
                got = _outcome(poll, "list")
                self._polled(got if isinstance(got, _Poll) else _Poll(error=got))
            return
        now = time.monotonic()
        due = [
            f.run.task_id
            for f in self.cloud.values()
            if f.run.submitted and f.fetch is None and f.due <= now and f.run.task_id
        ]
        if due:
            self._cloud_polled = [tid for tid in due if tid]
            self._cloud_poll = self._pool().submit(self._list_all, list(self._cloud_polled))

    def _list_all(self, wanted: list[str]) -> _Poll:
        """The board's poll, on a pool thread: list pages until every wanted task was seen, then
        ``status`` for the ones the list did not show."""
        poll = _Poll()
        missing = set(wanted)
        cursor: str | None = None
        for _ in range(LIST_PAGES_MAX):
            call = self._call(cloud_list(self.codex.path, limit=20, cursor=cursor))
            if call.code != 0:
                poll.error = call
                return poll
            try:
                page = parse_list_output(call.stdout)
            except CloudOutputError as exc:
                poll.error = CloudCall(1, "", f"Decode error for codex cloud list: {exc}")
                return poll
            for item in page.tasks:
                if item.id in missing:
                    poll.items[item.id] = item
                    missing.discard(item.id)
            cursor = page.cursor
            if not missing or not cursor:
                break
        for task_id in sorted(missing):
            call = self._call(cloud_status(self.codex.path, task_id))
            try:
                status = parse_status_output(call.stdout) if call.stdout.strip() else None
            except CloudOutputError:
                status = None
            if status is None:
                if poll.error is None:
                    poll.error = call
                continue
            poll.items[task_id] = CloudTaskItem.model_validate(
                {"id": task_id, "title": status.title, "status": status.status}
            )
        return poll

    def _polled(self, poll: _Poll) -> None:
        now = time.monotonic()
        followed = {f.run.task_id: f for f in self.cloud.values() if f.run.task_id}
        failure = classify_cloud_error("list", poll.error.code, poll.error.stderr) if poll.error else None
        if failure is not None:
            self._cloud_breaker(failure)
        for task_id in self._cloud_polled:
            follow = followed.get(task_id)
            if follow is None:
                continue
            item = poll.items.get(task_id)
            if item is None:
                self._poll_failed(follow, failure, now)
            else:
                self._took_status(follow, item, now)
        if failure is None and poll.items:
            self._cloud_breaker(None)

    def _poll_failed(self, follow: CloudFollow, failure: Failure | None, now: float) -> None:
        run = follow.run
        run.poll_errors += 1
        run.last_error = (failure.message if failure else "the task was not found by list or status")[:300]
        backoff = min(self.config.cloud.poll_min_s * 2**run.poll_errors, self.config.cloud.poll_max_s)
        follow.due = now + backoff * self.rng.uniform(1 - JITTER, 1 + JITTER)
        what = failure.code.value if failure else "not found"
        if failure is not None and failure.error_type == ErrorType.AUTH:
            hint = "; run `codex login` — following resumes when it works"
        else:
            hint = f"; retrying in {backoff:.0f}s"
        message = f"attempt {follow.attempt.n}: Codex Cloud task {run.task_id}: polling failed ({what}){hint}"
        if follow.state.message != message:
            follow.state.message = message
            self._save(follow.state)

    def _took_status(self, follow: CloudFollow, item: CloudTaskItem, now: float) -> None:
        run, state = follow.run, follow.state
        run.polls += 1
        run.polled_at = utc_now()
        run.poll_errors = 0
        run.last_error = None
        if item.url and not run.url:
            run.url = item.url
        changed = item.status != run.status
        if changed:
            run.status, run.status_at = item.status, utc_now()
            self.board.log_event(
                {
                    "kind": EventKind.CLOUD_STATUS,
                    "task_id": state.id,
                    "cloud_task": run.task_id,
                    "status": item.status,
                    "line": f"RUNNING {state.id}: Codex Cloud task {run.task_id} is {item.status}",
                }
            )
        if item.is_ready or item.is_applied:
            total = item.attempt_total or run.best_of
            state.message = f"attempt {follow.attempt.n}: Codex Cloud task ready; fetching {total} diff(s)"
            self._save(state)
            follow.fetch = self._pool().submit(self._fetch_diffs, follow.directory, run.task_id or "", total)
            return
        if item.is_error:
            failure = cloud_task_failure(
                f"Codex Cloud reports task {run.task_id} failed (status error); its message is at {run.url}"
            )
            self._cloud_failed(follow, failure, ExitInfo(code=0, note="the cloud task ended in error"))
            return
        since = (utc_now() - follow.attempt.started_at).total_seconds()
        deadline = self.config.cloud.pending_deadline_min * 60
        if since >= deadline * STALLED_FACTOR:
            failure = Failure(
                error_type=ErrorType.STATE,
                code=FailureCode.STREAM_STALLED,
                message=f"Codex Cloud task {run.task_id} still {run.status} after {since / 60:.0f} min",
                retryable=False,
                trips_breaker=False,
                suggestion=f"open {run.url}; `cockpit retry` submits a new cloud task",
                signature=f"cloud_stalled:{run.status}",
            )
            self._cloud_failed(
                follow, failure, ExitInfo(code=0, timed_out=True, note="pending past the deadline")
            )
            return
        if since >= deadline and not run.overdue:
            run.overdue = True
            line = (
                f"NOTIFY {state.id}: Codex Cloud task {run.task_id} is still {run.status} after "
                f"{since / 60:.0f} min; Codex Cloud can leave a task pending for ever — "
                f"open {run.url}, or cancel"
            )
            self.board.log_event(
                {"kind": EventKind.NOTIFY, "topic": "cloud_pending", "task_id": state.id, "line": line}
            )
        word = f"{run.status} (overdue)" if run.overdue else run.status
        message = f"attempt {follow.attempt.n}: Codex Cloud task {run.task_id} {word}"
        interval = poll_interval(since, self.config.cloud.poll_min_s, self.config.cloud.poll_max_s)
        follow.due = now + interval * self.rng.uniform(1 - JITTER, 1 + JITTER)
        if changed or state.message != message:
            state.message = message
            self._save(state)

    def _fetch_diffs(self, directory: Path, task_id: str, total: int) -> list[CloudResult] | CloudCall:
        """Every attempt's diff into the attempt's directory (on a pool thread); a failed call instead."""
        results: list[CloudResult] = []
        for k in range(1, max(1, total) + 1):
            call = self._call(cloud_diff(self.codex.path, task_id, attempt=k if total > 1 else None))
            if call.code != 0:
                if "No diff available" in call.stderr:
                    results.append(CloudResult(n=k))
                    continue
                if "not available" in call.stderr and results:
                    break  # fewer attempts than the list said
                return call
            diff = parse_diff_output(call.stdout)
            if diff is None:
                results.append(CloudResult(n=k))
                continue
            name = cloud_diff_file(k)
            atomic_write_text(directory / name, diff.patch)
            results.append(
                CloudResult(
                    n=k,
                    files=diff.files,
                    insertions=diff.insertions,
                    deletions=diff.deletions,
                    paths=diff.paths[:200],
                    diff_file=name,
                )
            )
        return results

    def _fetched(self, follow: CloudFollow, got: list[CloudResult] | CloudCall) -> None:
        follow.fetch = None
        if isinstance(got, CloudCall):
            failure = classify_cloud_error("diff", got.code, got.stderr)
            if failure.retryable:
                self._poll_failed(follow, failure, time.monotonic())  # fetched again at the next poll
                follow.run.status = "pending-fetch"
                return
            self._cloud_failed(follow, failure, ExitInfo(code=got.code, note="the diff could not be fetched"))
            return
        run = follow.run
        run.results = got
        attempt, state = follow.attempt, follow.state
        info = ExitInfo(
            code=0, started=attempt.started_at.timestamp(), ended=time.time(), note="Codex Cloud task ready"
        )
        self._cloud_ended(follow, info)
        with_diff = [r for r in got if r.diff_file]
        attempt.signals = Signals(exit_code=0, turn_completed=True, last_message=True)
        attempt.outcome = Outcome(
            status="COMPLETED",
            detail=f"Codex Cloud task {run.task_id}: {len(with_diff)} of {len(got)} attempt(s) with a diff",
        )
        self._cloud_notify(state, attempt, EventKind.COMPLETED, f"completed ({attempt.outcome.detail})")
        self._ledger(state, attempt)
        envelope = self.board.read_envelope(state.id)
        try:
            self.cloud_settler._succeeded(state, attempt, envelope, None)
        except Exception as exc:  # one task's bad settle never stops the supervisor
            if isinstance(exc, OSError) and getattr(exc, "errno", None) == 28:
                raise
            state.status, state.message = TaskStatus.FAILED, f"could not settle the attempt: {exc}"
            self.board.log_event(
                {"kind": EventKind.SETTLE_ERROR, "task_id": state.id, "error": str(exc)[:500]}
            )
        self._save(state)
