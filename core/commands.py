"""Core commands on tasks — submit, cancel, revise (send back with feedback), merge, reject, label (a
challenge of the task's review) — and how they reach the blackboard: executed directly when no
supervisor holds the lock, otherwise dropped into the inbox for the live supervisor, whose reply is
awaited. The TUI, the CLI and the MCP server all come through here, so every front end behaves the same."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar, cast

from cockpit.core.board.blackboard import Blackboard, BlackboardError, LockHeld, make_task_id
from cockpit.core.board.decisions import DecisionStore
from cockpit.core.config import board_config
from cockpit.core.envelope.model import Envelope, EnvelopeError
from cockpit.core.envelope.paths import check_paths
from cockpit.core.errors import RefusedError
from cockpit.core.git.operations import (
    GitOpError,
    MergePlan,
    current_branch,
    head_commit,
    open_repo,
    plan_merge,
    remove_worktree,
)
from cockpit.core.layout import DEAD_LETTERS_DIR, SPEC_FILE, review_dir
from cockpit.core.merging import land_merge, read_journal, recover_merge, run_hook
from cockpit.core.policy.dead_letters import DeadLetterQueue
from cockpit.core.processes import kill_group, runs
from cockpit.core.records.basics import TaskStatus, utc_now
from cockpit.core.records.board_events import EventKind
from cockpit.core.records.review import LABELS, Label, LabelledBy
from cockpit.core.records.task import TaskState
from cockpit.core.results import apply_cloud_result
from cockpit.core.review.rounds import LabelRefused, set_label
from cockpit.core.text import clean, cut, one_line
from cockpit.core.vocabulary import CLOUD_LANE, WORKTREE_LANES

StateLookup = Callable[[str], TaskState | None]

T = TypeVar("T")


class CommandError(RefusedError, RuntimeError):
    """A command that was refused; ``str()`` says why. Nothing was changed."""


def prepare_submission(board: Blackboard, envelope: Envelope) -> dict[str, Any]:
    """Validate an envelope against the repo and policy; returns the inbox payload (with a new id).

    Raises :class:`EnvelopeError` naming the field for anything the cockpit refuses.
    """
    envelope = check_paths(envelope, board.repo)  # escalations it asks for are gated on acceptance
    if envelope.lane == CLOUD_LANE and not envelope.cloud_env and not board_config(board).cloud.env:
        raise EnvelopeError(
            "cloud_env", "the cloud lane needs a Codex Cloud environment (--env, or [cloud] env in config)"
        )
    task_id = make_task_id(envelope.title or envelope.goal)
    for _ in range(20):  # never the id of a task the board has, live or archived
        if board.find_task_dir(task_id) is None:
            break
        task_id = make_task_id(envelope.title or envelope.goal)
    payload: dict[str, Any] = {
        "task_id": task_id,
        "envelope": envelope.model_dump(mode="json"),
    }
    if envelope.lane in WORKTREE_LANES:
        try:
            repo = open_repo(board.repo)
            payload["base_commit"] = head_commit(repo)
            payload["base_branch"] = board_config(board).base_branch or current_branch(repo)
        except GitOpError as exc:
            raise EnvelopeError(
                "lane", f"the worktree lane needs a git repository with a commit: {exc}"
            ) from exc
    return payload


def submit(board: Blackboard, envelope: Envelope) -> str:
    """Drop a validated envelope into the inbox; returns the task id."""
    payload = prepare_submission(board, envelope)
    board.drop("submit", payload)
    return str(payload["task_id"])


# ---- commands that change a task ------------------------------------------------------------------


def _decisions(board: Blackboard) -> DecisionStore:
    return DecisionStore(board.root, utc_now, on_corrupt=board.quarantine, on_event=board.log_event)


def _dead_letters(board: Blackboard) -> DeadLetterQueue:
    return DeadLetterQueue(board.root / DEAD_LETTERS_DIR, time.time, on_corrupt=board.quarantine)


def cancel(board: Blackboard, state: TaskState) -> str:
    if state.status in (TaskStatus.QUEUED, TaskStatus.AWAITING_DECISION, TaskStatus.DEAD_LETTER):
        if state.decision_id:
            with contextlib.suppress(BlackboardError):
                _decisions(board).withdraw(state.decision_id, "the task was cancelled")
            state.decision_id = None
        _dead_letters(board).remove(state.id)
        state.status = TaskStatus.CANCELLED
        state.message = "cancelled"
        return state.message
    if state.status == TaskStatus.REVIEWING:
        return _cancel_review(board, state)
    if state.status != TaskStatus.RUNNING:
        raise CommandError(
            f"task {state.id} is {state.status.value}; only queued, running or reviewing tasks can be "
            "cancelled"
        )
    attempt = state.last_attempt
    if attempt is not None and attempt.cloud is not None:
        # the CLI cannot stop a cloud task: the cockpit stops following it, and says where it is
        where = f" {attempt.cloud.url}" if attempt.cloud.url else " (if its submission went through)"
        state.status = TaskStatus.CANCELLED
        state.message = f"cancelled; the Codex Cloud task{where} is not stopped by this"
        board.log_event(
            {"kind": EventKind.CANCELLED, "task_id": state.id, "cloud_task": attempt.cloud.task_id}
        )
        return state.message
    pid = attempt.runner_pid if attempt else None
    if not pid:
        raise CommandError(f"task {state.id} has no runner to stop")
    try:
        os.kill(pid, signal.SIGINT)
    except ProcessLookupError:
        pass
    state.message = "cancel requested; interrupting the turn"
    return state.message


def _cancel_review(board: Blackboard, state: TaskState) -> str:
    """Cancel a task in review: its reviewer's runner is asked to stop (it stops Claude Code and writes
    its exit), and the round under way is recorded as cancelled — not a verdict, not a failed try of the
    reviewer, so nothing retries it. A live supervisor, or the next one to start, stops the judge and
    whatever is left of the reviewer, and removes their checkouts."""
    review = state.review
    rnd = review.last_round if review is not None else None
    if review is not None and rnd is not None and rnd.ended_at is None:
        spec = board.attempt_dir(state.id, rnd.attempt) / review_dir(rnd.n) / SPEC_FILE
        pid = rnd.reviewer.runner_pid
        if runs(pid, str(spec).encode()):  # this round's runner, not whatever has its pid since
            assert pid is not None
            kill_group(pid, signal.SIGTERM)
        rnd.failure = "the task was cancelled during the review"
        rnd.decision = f"round {rnd.n}: cancelled during the review"
        rnd.ended_at, rnd.retry_at = utc_now(), None
        review.status = "cancelled"
    state.status = TaskStatus.CANCELLED
    state.message = "cancelled during its review"
    where = f" review round {rnd.n}" if rnd is not None else " review"
    board.log_event(
        {
            "kind": EventKind.CANCELLED,
            "task_id": state.id,
            "review_round": rnd.n if rnd is not None else None,
            "line": f"{EventKind.CANCELLED} {state.id}: cancelled during its{where}",
        }
    )
    return state.message


def revise(board: Blackboard, state: TaskState, feedback: str) -> str:
    """Send a finished task back with feedback: a new attempt resumes its Codex thread."""
    feedback = feedback.strip()
    if not feedback:
        raise CommandError("feedback is empty")
    allowed = {
        TaskStatus.REVIEW,
        TaskStatus.SUCCEEDED,
        TaskStatus.FAILED,
        TaskStatus.BLOCKED,
        TaskStatus.CONFLICT,
    }
    if state.status not in allowed:
        raise CommandError(f"task {state.id} is {state.status.value}; it cannot be sent back now")
    state.pending_feedback = feedback
    state.status = TaskStatus.QUEUED
    state.message = "sent back with feedback"
    return state.message


def retry(board: Blackboard, state: TaskState) -> str:
    """Run a dead-lettered, failed or blocked task again now, resuming its thread where it can."""
    allowed = {TaskStatus.DEAD_LETTER, TaskStatus.FAILED, TaskStatus.BLOCKED, TaskStatus.CANCELLED}
    if state.status not in allowed:
        raise CommandError(
            f"task {state.id} is {state.status.value}; only dead-lettered, failed, blocked or "
            "cancelled tasks can be retried"
        )
    state.status = TaskStatus.QUEUED
    state.not_before = None
    state.resume_reason = "a retry by hand"
    state.message = "retried by hand"
    return f"{state.id} queued again"


def merge(board: Blackboard, state: TaskState) -> str:
    if state.lane not in WORKTREE_LANES or not state.branch:
        raise CommandError(f"task {state.id} has no branch to merge (lane {state.lane})")
    interrupted = read_journal(board)
    recover_merge(board, state)  # a merge a killed process left half-done is settled first
    if interrupted and interrupted.task_id == state.id and state.status == TaskStatus.MERGED:
        return state.message or f"task {state.id} is merged"
    if state.status not in (TaskStatus.REVIEW, TaskStatus.CONFLICT):
        raise CommandError(f"task {state.id} is {state.status.value}; only a task in review can be merged")
    if state.lane == CLOUD_LANE and not state.head_commit:
        raise CommandError(
            f"task {state.id}: the chosen cloud attempt did not apply; pick another (`cockpit pick "
            f"{state.id} N`) or reject it"
        )
    if not state.base_branch:
        raise CommandError(f"task {state.id} has no base branch (it was submitted on a detached HEAD)")
    repo = open_repo(board.repo)
    message = f"Merge cockpit task {state.id}: {state.title}"
    run_hooks = bool(
        board_config(board).trusted("merge_runs_hooks")
    )  # refused from an untrusted board config
    try:
        plan = plan_merge(repo, state.branch, state.base_branch, message)
        if isinstance(plan, MergePlan) and run_hooks and plan.checkout is not None:
            ok, said = run_hook(plan.checkout, "pre-merge-commit")
            if not ok:
                raise GitOpError(f"refusing to merge: the pre-merge-commit hook failed: {said[:300]}")
        if isinstance(plan, MergePlan):
            land_merge(board, state, plan)
    except GitOpError as exc:
        raise CommandError(str(exc)) from exc
    if not isinstance(plan, MergePlan):
        state.status = TaskStatus.CONFLICT
        files = ", ".join(plan.conflicts or []) or "unknown files"
        state.message = f"merge into {state.base_branch} conflicted ({files}); nothing changed"
        board.log_event({"kind": EventKind.MERGE_CONFLICT, "task_id": state.id, "files": plan.conflicts})
        raise CommandError(state.message)
    if run_hooks and plan.checkout is not None:
        ok, said = run_hook(plan.checkout, "post-merge", "0")
        if not ok:
            state.message = f"{state.message}; the post-merge hook failed: {said[:200]}"
    remove_worktree(
        repo, Path(state.worktree) if state.worktree else board.worktree_path(state.id), state.branch
    )
    board.log_event(
        {"kind": EventKind.MERGED, "task_id": state.id, "commit": plan.new, "into": state.base_branch}
    )
    return state.message or "merged"


def pick(board: Blackboard, state: TaskState, attempt: int) -> str:
    """Best-of-N: put cloud attempt ``attempt`` (1-based) on the task's branch instead of the one there;
    the others are recorded as not chosen. The task is then reviewed and merged as before."""
    last = state.last_attempt
    run = last.cloud if last is not None else None
    if run is None or not run.results:
        raise CommandError(f"task {state.id} has no cloud attempts to choose from")
    if state.status not in (TaskStatus.REVIEW, TaskStatus.CONFLICT):
        raise CommandError(f"task {state.id} is {state.status.value}; an attempt is picked in review")
    result = next((r for r in run.results if r.n == attempt), None)
    if result is None:
        raise CommandError(
            f"task {state.id} has attempts 1–{len(run.results)}; there is no attempt {attempt}"
        )
    if result.diff_file is None:
        raise CommandError(f"attempt {attempt} of task {state.id} has no diff")
    recover_merge(board, state)
    for r in run.results:
        r.chosen = r.n == attempt
    assert last is not None
    try:
        status, message = apply_cloud_result(board, state, last.n, result)
    except GitOpError as exc:
        raise CommandError(str(exc)) from exc
    state.status, state.message = status, f"picked attempt {attempt}: {message}"
    board.log_event(
        {"kind": EventKind.CLOUD_PICKED, "task_id": state.id, "attempt": attempt, "status": status.value}
    )
    return state.message


def reject(board: Blackboard, state: TaskState) -> str:
    if state.status in (TaskStatus.RUNNING, TaskStatus.QUEUED, TaskStatus.REVIEWING):
        raise CommandError(f"task {state.id} is {state.status.value}; cancel it first")
    if state.lane in WORKTREE_LANES:
        recover_merge(board, state)  # a merge a killed process left half-done is settled first
    if state.status == TaskStatus.MERGED:
        raise CommandError(f"task {state.id} is already merged")
    if state.lane in WORKTREE_LANES:
        repo = open_repo(board.repo)
        remove_worktree(
            repo, Path(state.worktree) if state.worktree else board.worktree_path(state.id), state.branch
        )
    state.status = TaskStatus.REJECTED
    state.message = "rejected; worktree and branch removed" if state.lane in WORKTREE_LANES else "rejected"
    board.log_event({"kind": EventKind.REJECTED, "task_id": state.id})
    return state.message


LABELLERS: tuple[str, ...] = ("human", "orchestrator")
"""Who may ask for a label: the judge labels from the evidence it ran, never on request."""


def label(
    board: Blackboard,
    state: TaskState,
    challenge: str,
    word: str,
    *,
    by: str = "human",
    reason: str = "",
    round_n: int | None = None,
) -> str:
    """Label challenge ``challenge`` of review round ``round_n`` (default: the last) ``word`` (VALID,
    PARTIAL or NOISE), as ``by`` (a human or the orchestrator, see
    :func:`~cockpit.core.review.rounds.set_label` for who may overturn what). The task's status is not
    changed: the label is a record (and the feedback a send-back carries)."""
    if by not in LABELLERS:
        raise CommandError(
            f"a challenge is labelled by a human or the orchestrator, not by {clean(str(by))!r}"
        )
    wanted = str(word).strip().upper()
    if wanted not in LABELS:
        raise CommandError(f"unknown label {clean(str(word))!r}: use VALID, PARTIAL or NOISE")
    review = state.review
    if review is None or not review.rounds:
        raise CommandError(f"task {state.id} has no review to label")
    if round_n is None:
        rnd = review.rounds[-1]
    else:
        found = next((r for r in review.rounds if r.n == round_n), None)
        if found is None:
            have = "round 1" if len(review.rounds) == 1 else f"rounds 1–{len(review.rounds)}"
            raise CommandError(f"task {state.id} has {have}; there is no round {round_n}")
        rnd = found
    if rnd is review.rounds[-1] and review.status == "reviewing" and rnd.ended_at is None:
        raise CommandError(
            f"round {rnd.n} of task {state.id} is under way (the judge has not finished): label it after"
        )
    index = next((i for i, c in enumerate(rnd.challenges) if c.id == challenge), None)
    if index is None:
        ids = ", ".join(c.id for c in rnd.challenges[:20]) or "none"
        raise CommandError(
            f"round {rnd.n} of task {state.id} has no challenge {clean(str(challenge))!r} (it has: {ids})"
        )
    before = rnd.challenges[index]
    why = cut(clean(one_line(str(reason or ""))), 500)
    may = board_config(board).review.orchestrator_may_label
    try:
        after = set_label(before, cast(Label, wanted), cast(LabelledBy, by), why, orchestrator_may_label=may)
    except LabelRefused as exc:
        raise CommandError(str(exc)) from exc
    rnd.challenges[index] = after
    was = f"{before.label} by the {before.labelled_by}" if before.label else "unlabelled"
    board.log_event(
        {
            "kind": EventKind.CHALLENGE_LABELLED,
            "task_id": state.id,
            "round": rnd.n,
            "challenge": after.id,
            "label": after.label,
            "by": by,
            "reason": after.label_reason,
            "was": before.label,
            "was_by": before.labelled_by,
            "line": f"LABEL {state.id}: round {rnd.n} {after.id} {after.label} by the {by} (was {was})"
            + (f": {cut(why, 160)}" if why else ""),
        }
    )
    return f"{after.id} of round {rnd.n} labelled {after.label} by the {by} (was {was})"


TASK_COMMANDS: dict[str, Callable[..., str]] = {
    "cancel": cancel,
    "retry": retry,
    "revise": revise,
    "merge": merge,
    "reject": reject,
    "pick": pick,
    "label": label,
}


def apply_command(board: Blackboard, kind: str, state: TaskState, args: dict[str, Any]) -> str:
    """Run one task command on ``state`` (mutated in place); the caller persists it."""
    fn = TASK_COMMANDS.get(kind)
    if fn is None:
        raise CommandError(f"unknown command {kind!r}")
    if kind == "revise":
        return fn(board, state, str(args.get("feedback", "")))
    if kind == "pick":
        try:
            number = int(args.get("attempt", 0))
        except (TypeError, ValueError):
            raise CommandError(f"attempt must be a number 1–4, got {args.get('attempt')!r}") from None
        return fn(board, state, number)
    if kind == "label":
        return fn(
            board,
            state,
            str(args.get("challenge", "")),
            str(args.get("label", "")),
            by=str(args.get("by", "human")),
            reason=str(args.get("reason") or ""),
            round_n=_round_number(args.get("round")),
        )
    return fn(board, state)


def _round_number(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise CommandError(f"round must be a number, got {value!r}")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise CommandError(f"round must be a number, got {clean(str(value))!r}") from None


def run_task_command(board: Blackboard, kind: str, task_ref: str, timeout: float = 60.0, **args: Any) -> str:
    """Execute a task command now (no supervisor) or through the live supervisor's inbox.

    It runs once or not at all: a request the supervisor does not take in time is withdrawn, and one
    whose lock holder lets go without taking it is withdrawn and run here instead."""
    board.require()
    task_id = board.resolve_task(task_ref)
    deadline = time.monotonic() + timeout

    def here() -> str:
        state = board.read_state(task_id)
        if state is None:
            raise BlackboardError(f"task {task_id} has no readable state")
        try:
            return apply_command(board, kind, state, args)
        finally:
            board.write_state(state)

    return here_or_through_supervisor(
        board, here, lambda: _through_supervisor(board, kind, task_id, deadline, timeout, args)
    )


def here_or_through_supervisor(
    board: Blackboard, here: Callable[[], T], through: Callable[[], T | None]
) -> T:
    """``here()`` under the board lock when no supervisor holds it, else ``through()``: a request to the
    live supervisor, which returns None when the holder let go without taking it (then the lock is tried
    again). What every command that changes the board runs through, so it runs once or not at all."""
    while True:
        lock = board.lock()
        try:
            lock.acquire()
        except LockHeld:
            answer = through()
            if answer is None:
                continue  # withdrawn: the holder let go without taking it, so take the lock now
            return answer
        try:
            return here()
        finally:
            lock.release()


REQUEST_TAKEN_GRACE_S = 5.0  # how long to wait for the answer to a request the supervisor already took


def request_expired(data: dict[str, Any], now: datetime) -> bool | None:
    """Whether a command request is past its ``expires_at`` (None: it carries no readable one)."""
    try:
        expires = datetime.fromisoformat(str(data["expires_at"]))
    except (KeyError, ValueError):
        return None
    if expires.tzinfo is None:
        return None
    return now >= expires


def _through_supervisor(
    board: Blackboard, kind: str, task_id: str, deadline: float, timeout: float, args: dict[str, Any]
) -> str | None:
    """A task command through the supervisor (see :func:`request_supervisor`): its answer, or None
    when it was withdrawn because the lock holder went away; :class:`CommandError` for a refusal."""
    reply = request_supervisor(board, kind, {"task_id": task_id, **args}, deadline, timeout)
    return None if reply is None else _answer(reply)


def request_supervisor(
    board: Blackboard, kind: str, payload: dict[str, Any], deadline: float, timeout: float
) -> dict[str, Any] | None:
    """Drop a request for the supervisor and wait for its reply until ``deadline`` (monotonic).

    The request carries its own ``expires_at``: a supervisor that sees it later discards it. Returns
    the reply as written, or None when the lock holder went away before taking the request (withdrawn,
    so the caller may run it itself); raises :class:`CommandError` when it was not applied in time.
    """
    left = deadline - time.monotonic()
    if left <= 0:
        raise CommandError(f"not applied: no supervisor took the request within {timeout:.0f}s")
    request_id = f"{time.time_ns()}-{os.getpid()}"
    expires_at = utc_now() + timedelta(seconds=left)
    drop = board.drop(kind, {**payload, "request_id": request_id, "expires_at": expires_at.isoformat()})
    while time.monotonic() < deadline:
        reply = board.take_reply(request_id)
        if reply is not None:
            return reply
        if board.supervisor_pid() is None:
            if board.withdraw(drop):
                return None
            break  # it was taken just before the holder went: its answer may still come
        time.sleep(0.05)
    else:
        if board.withdraw(drop):
            raise CommandError(
                f"not applied: the supervisor did not take the request within {timeout:.0f}s "
                "(the request was withdrawn; run the command again)"
            )
    grace = time.monotonic() + REQUEST_TAKEN_GRACE_S
    while time.monotonic() < grace:
        reply = board.take_reply(request_id)
        if reply is not None:
            return reply
        time.sleep(0.05)
    raise CommandError("the supervisor took the request; see `cockpit status`")


def _answer(reply: dict[str, Any]) -> str:
    if reply.get("ok"):
        return str(reply.get("message", "done"))
    raise CommandError(str(reply.get("error", "refused")))
