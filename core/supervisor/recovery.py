"""Start-up after any stop: a half-done merge or archive move finished or undone, stale git locks in the
cockpit's own worktrees removed, the task table loaded from the task index, live runners re-attached."""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

from cockpit.core.archive import finish_interrupted
from cockpit.core.attempts.tailer import EventTailer
from cockpit.core.board.blackboard import is_task_id
from cockpit.core.board.task_index.startup import start_up
from cockpit.core.git.operations import GitOpError, clear_stale_index_locks
from cockpit.core.layout import ATTEMPT_EVENTS_FILE, WORKTREES_DIR
from cockpit.core.merging import recover_merge
from cockpit.core.records.basics import ACTIONABLE, TaskStatus
from cockpit.core.records.board_events import EventKind
from cockpit.core.supervisor.base import Running, _pid_alive
from cockpit.core.vocabulary import CLOUD_LANE


class RecoveryPhase:
    # ---- recovery -----------------------------------------------------------------------------
    def recover(self) -> None:
        """Load the actionable tasks and re-attach to attempts that were running when the last
        supervisor stopped or died: live runners are followed again, finished ones finalised, vanished
        ones recorded as lost (and retried by the policy from their checkpoint). First, with the lock
        held so no other cockpit process runs git here, a merge a killed process left half-done is
        finished or undone and stale ``index.lock`` files in task worktrees are removed. The task index
        is made current again on the way (:func:`~cockpit.core.board.task_index.startup.start_up`): only the
        actionable tasks' state files and those whose index line is behind are read in full."""
        self._recover_git()
        finish_interrupted(self.board)  # an archive move a killed process left: finished or dropped
        for path in self.board.claimed():
            self._set_aside(path, "a request an earlier supervisor took but did not finish; not run again")
        started = start_up(self.board, ACTIONABLE)
        self.actionable = {s.id: s for s in sorted(started.kept, key=lambda s: s.created_at)}
        self.live_tasks = started.tasks
        if started.error is not None:  # readers fall back to the state files; housekeeping tries again
            with contextlib.suppress(OSError):
                self.board.log_event({"kind": EventKind.TASK_INDEX_ERROR, "error": str(started.error)[:500]})
        self.recover_reviews()  # reviewing tasks are taken up by the review phase's first pass
        cloud = [
            s for s in self.actionable.values() if s.status == TaskStatus.RUNNING and s.lane == CLOUD_LANE
        ]
        self.recover_cloud(cloud)
        for state in list(self.actionable.values()):
            if state.status != TaskStatus.RUNNING or state.id in self.running or state.lane == CLOUD_LANE:
                continue
            attempt = state.last_attempt
            if attempt is None:
                state.status = TaskStatus.QUEUED
                self._save(state)
                continue
            directory = self.board.attempt_dir(state.id, attempt.n)
            run = Running(
                state,
                attempt,
                directory,
                EventTailer(directory / ATTEMPT_EVENTS_FILE),
                last_activity=time.monotonic(),
            )
            self.running[state.id] = run
            self.board.log_event(
                {
                    "kind": EventKind.REATTACHED,
                    "task_id": state.id,
                    "attempt": attempt.n,
                    "runner_alive": _pid_alive(attempt.runner_pid),
                }
            )
            self.poll(run)

    def _recover_git(self) -> None:
        try:
            note = recover_merge(self.board)
            for lock in clear_stale_index_locks(self.board.repo, self._worktrees()):
                self.board.log_event({"kind": EventKind.STALE_LOCK_REMOVED, "path": str(lock)})
        except (GitOpError, OSError) as exc:  # git's own failures are GitOpErrors too
            self.board.log_event({"kind": EventKind.GIT_RECOVERY_ERROR, "error": str(exc)[:500]})
            return
        if note:
            self.board.log_event({"kind": EventKind.NOTIFY, "topic": "merge", "line": f"NOTIFY {note}"})

    def _worktrees(self) -> list[Path]:
        """The task worktrees that exist: the directories of ``worktrees/`` named by a task id, each at
        the path the cockpit gives a task's worktree (found by listing one directory, not by reading
        every task's state; a symbolic link there is not followed)."""
        try:
            entries = list(os.scandir(self.board.root / WORKTREES_DIR))
        except FileNotFoundError:
            return []
        return sorted(
            self.board.worktree_path(entry.name)
            for entry in entries
            if is_task_id(entry.name) and entry.is_dir(follow_symlinks=False)
        )
