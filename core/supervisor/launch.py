"""Starting one attempt: its effort and prompt, the exec command, the spec and the detached runner, and
what happens when any of that fails (the task fails, never the supervisor)."""

from __future__ import annotations

import contextlib
import dataclasses
import time

from cockpit.core.atomic import (
    atomic_write_json,
    atomic_write_text,
    disk_full,
    make_private_dirs,
)
from cockpit.core.attempts.tailer import EventTailer
from cockpit.core.board.checkpoint import build_checkpoint, resume_digest, write_checkpoint
from cockpit.core.codex.confinement import confinement_problem, exec_overrides, trusted_places
from cockpit.core.codex.exec_command import plan_for
from cockpit.core.envelope.model import Envelope
from cockpit.core.envelope.prompt import render_followup_prompt, render_prompt
from cockpit.core.git.operations import GitOpError
from cockpit.core.lanes import Lane
from cockpit.core.layout import (
    ATTEMPT_EVENTS_FILE,
    LAST_MESSAGE_FILE,
    PROMPT_FILE,
    SPEC_FILE,
)
from cockpit.core.policy.effort import choose_effort_for
from cockpit.core.policy.failures import error_event, start_failure
from cockpit.core.policy.retry import max_attempts_for
from cockpit.core.records.attempt import Attempt
from cockpit.core.records.basics import TaskStatus
from cockpit.core.records.board_events import EventKind
from cockpit.core.records.task import TaskState
from cockpit.core.supervisor.base import Running, spawn_runner
from cockpit.core.vocabulary import EFFORTS


class LaunchPhase:
    def start_attempt(self, state: TaskState, lane: Lane, *, probe: bool = False) -> bool:
        """Start the next attempt of ``state``; True when its runner runs. An unexpected error on the way
        (preparing the lane, building Codex's argv, spawning the runner) fails this task with a structured
        error event and never stops the supervisor; a full disk is left to the loop, which pauses."""
        try:
            return self._start_attempt(state, lane, probe=probe)
        except Exception as exc:
            if isinstance(exc, OSError) and disk_full(exc):
                if probe and state.id not in self.running:
                    with contextlib.suppress(OSError):
                        self._release_probe()
                raise
            if state.id in self.running:  # the runner is up: its attempt is followed as any other
                return True
            self._start_failed(state, f"{type(exc).__name__}: {exc}", probe=probe)
            return False

    def _start_failed(self, state: TaskState, why: str, *, probe: bool, provider: str | None = None) -> None:
        """The task fails with a structured error event (its attempt never ran); a probe it was is
        given back to the breaker of ``provider`` (default: the local model provider's)."""
        n = len(state.attempts) + 1
        failure = start_failure(why)
        event = error_event(
            state.id, failure, n, max_attempts_for(failure), f"attempt {n - 1}" if n > 1 else "none"
        )
        self.board.log_event({"kind": EventKind.ERROR, **event.model_dump(mode="json")})
        state.failures.append(failure)
        state.status = TaskStatus.FAILED
        state.message = f"attempt {n}: {failure.message[:300]}"
        if probe:  # the breaker waits for its probe's result; this one never ran
            self._release_probe(provider)
        self._save(state)

    def _release_probe(self, provider: str | None = None) -> None:
        breaker = self.breakers.get(provider or self.provider)
        breaker.release_probe()
        self.breakers.save(breaker)

    def _start_attempt(self, state: TaskState, lane: Lane, *, probe: bool) -> bool:
        envelope = self.board.read_envelope(state.id)
        if envelope is None:
            state.status = TaskStatus.FAILED
            state.message = "envelope missing or unreadable (see quarantine/)"
            self._save(state)
            return False
        try:
            workdir = lane.prepare(state)
        except (GitOpError, RuntimeError) as exc:
            state.status = TaskStatus.FAILED
            state.message = f"could not prepare the {lane.name} lane: {exc}"
            self._save(state)
            return False
        n = len(state.attempts) + 1
        scratch = self.board.scratch_dir(state.id, n)
        problem = confinement_problem([workdir, scratch], trusted_places(self.board.root, self.codex.path))
        if problem:
            state.status = TaskStatus.FAILED
            state.message = problem
            self.board.log_event({"kind": EventKind.CONFINEMENT, "task_id": state.id, "line": problem})
            self._save(state)
            return False
        directory = self.board.attempt_dir(state.id, n)
        make_private_dirs(directory)
        scratch.mkdir(mode=0o700, parents=True, exist_ok=True)
        prompt, kind, resume = self._prompt_for(state, envelope)
        binding = self.windows.snapshot().binding
        choice = choose_effort_for(
            envelope,
            binding.used_percent if binding else None,
            self.config.effort,
            window_label=binding.label if binding else None,
        )
        raised = state.review.effort_raised_to if state.review is not None else None
        if raised in EFFORTS and EFFORTS.index(raised) > EFFORTS.index(choice.tier):
            choice = choice.model_copy(
                update={
                    "tier": raised,
                    "source": "review",
                    "reason": f"raised to {raised}: the review stalled (the same VALID challenges again)",
                }
            )
        if (state.effort, state.effort_reason) != (choice.tier, choice.reason):
            self.board.log_event(
                {
                    "kind": EventKind.EFFORT,
                    "task_id": state.id,
                    "tier": choice.tier,
                    "source": choice.source,
                    "reason": choice.reason,
                }
            )
        state.effort, state.effort_reason = choice.tier, choice.reason
        atomic_write_text(directory / PROMPT_FILE, prompt)
        plan = plan_for(
            envelope,
            codex=self.codex.path,
            workdir=workdir,
            last_message=directory / LAST_MESSAGE_FILE,
            prompt=prompt,
            resume_thread=resume,
            effort=choice.tier,
        )
        plan = dataclasses.replace(
            plan,
            approved_escalations=frozenset(state.approved_escalations),
            sandbox="workspace-write"
            if "danger-full-access sandbox" in state.denied_escalations
            else plan.sandbox,
            network=plan.network and "network access" not in state.denied_escalations,
            extra_config=exec_overrides(scratch),
        )
        deadline = min(
            self.config.run_timeout_s, float(envelope.budget.wall_time_s or self.config.run_timeout_s)
        )
        chunk = self.config.chunk_limit_s if self.config.chunk_limit_s < deadline else None
        spec = {
            "argv": plan.argv(),
            "cwd": str(workdir),
            "attempt_dir": str(directory),
            "deadline_s": deadline,
            "chunk_s": chunk,
            "grace_s": self.config.kill_grace_s,
            "env": {
                **self.env,
                "COCKPIT_TASK_ID": state.id,
                "COCKPIT_ATTEMPT_DIR": str(directory),
                "TMPDIR": str(scratch),
            },
        }
        if lane.runner_module != "cockpit.core.attempts.exec_runner":
            # The app-server runner: one turn through JSON-RPC, approvals as decision cards.
            spec.update(
                codex=str(self.codex.path),
                prompt_file=str(directory / PROMPT_FILE),
                approval_policy=envelope.approval_policy or "on-request",
                sandbox=plan.sandbox,
                network=plan.network,
                model=plan.model,
                effort=plan.effort,
                resume_thread=resume,
                board_root=str(self.board.root),
                scratch=str(scratch),
                task_id=state.id,
                attempt=n,
                chunk_s=None,
            )
        atomic_write_json(directory / SPEC_FILE, spec)
        popen = spawn_runner(lane.runner_module, directory)
        attempt = Attempt(
            n=n,
            kind=kind,
            resumed_thread=resume,
            deadline_s=deadline,
            effort=plan.effort,
            model=plan.model,
            runner_pid=popen.pid,
            probe=probe,
        )
        state.attempts.append(attempt)
        state.pending_feedback = None
        state.resume_reason = None
        state.not_before = None
        state.status = TaskStatus.RUNNING
        state.message = f"attempt {n} running" + (f" (resuming thread {resume})" if resume else "")
        now = time.monotonic()
        self.running[state.id] = Running(
            state,
            attempt,
            directory,
            EventTailer(directory / ATTEMPT_EVENTS_FILE),
            popen=popen,
            last_activity=now,
        )
        self.max_seen_running = max(self.max_seen_running, len(self.running))
        self._save(state)
        write_checkpoint(
            self.board.task_dir(state.id),
            build_checkpoint(state, phase="running", next_step=f"finish attempt {n}", artifacts=[]),
        )
        if resume:
            self.board.log_event(
                {
                    "kind": EventKind.RESUME,
                    "task_id": state.id,
                    "attempt": n,
                    "thread_id": resume,
                    "lane": state.lane,
                    "line": f"RESUME {state.id}: attempt {n} resumes thread {resume} ({kind})",
                }
            )
        self.board.log_event(
            {
                "kind": EventKind.RUNNING,
                "task_id": state.id,
                "attempt": n,
                "lane": state.lane,
                "line": f"RUNNING {state.id}: running (attempt {n}, {kind})",
            }
        )
        return True

    def _prompt_for(self, state: TaskState, envelope: Envelope) -> tuple[str, str, str | None]:
        """The prompt, the attempt kind and the thread to resume (if any) for the next attempt."""
        feedback, reason = state.pending_feedback, state.resume_reason
        thread = state.thread_id if (feedback or reason) and self._resumable(state.thread_id) else None
        previous = (
            state.last_attempt.outcome.detail if state.last_attempt and state.last_attempt.outcome else None
        )
        if feedback:
            if thread:
                return render_followup_prompt(envelope, state.id, feedback, previous), "followup", thread
            return (
                render_prompt(envelope, state.id) + "\n\nFeedback on an earlier attempt:\n" + feedback[:4000],
                "followup",
                None,
            )
        if reason and thread:
            digest = resume_digest(state, reason)
            return render_followup_prompt(envelope, state.id, digest, previous), "resume", thread
        return render_prompt(envelope, state.id), ("retry" if state.attempts else "initial"), None

    def _resumable(self, thread_id: str | None) -> bool:
        """A thread can be resumed when Codex has a rollout file for it."""
        if not thread_id:
            return False
        sessions = self.codex_home / "sessions"
        return any(sessions.glob(f"*/*/*/rollout-*-{thread_id}.jsonl"))
