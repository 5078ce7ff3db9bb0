"""The challenge loop in the supervisor: a result of a reviewed lane is reviewed by Claude Code before the
human sees it, and the cockpit judges the review.

A task whose attempt settles into review while ``[review]`` wants it (the settler's
:meth:`~cockpit.core.supervisor.settlement.Settler.begin_review`) is ``reviewing`` with a new
:class:`~cockpit.core.records.review.ReviewRound`. This phase, run on every pass, then drives each such
task through its round, every step written to the task's state before the next starts (crash-only):

1. **a try of the reviewer**: the round's inputs written (``review-<n>/inputs/``), a throw-away detached
   checkout of the reviewed commit made under the board's ``reviews/``, the try recorded (``tries``), its
   spec written and the detached :mod:`~cockpit.core.attempts.review_runner` started — at most
   ``max_workers`` reviewers at once, and none while Claude Code's latest rate-limit line says
   ``rejected`` (the task says until when; :mod:`cockpit.core.usage.claude_limits`);
2. **while it runs**, the lines its stream gained since the last pass are read for ``rate_limit_event``
   lines, merged into the board's ``claude-limits.json`` (Claude's credit windows on the gauge);
   **the try ends** (``exit.json``): its checkout is removed (and the task's branch checked: a branch the
   reviewer moved is put back), its usage and cost go to the ledger (``family = claude``), and its
   stream is read: an error, a timeout, a cut stream or a reply without a readable verdict is a **failed
   try** (:mod:`cockpit.core.policy.review_failures`), retried within the round by the retry policy
   (529 and other transient errors with backoff, never an auth failure) — its files kept in
   ``try-<k>/`` — and, once the policy gives up, a ``review_failed`` gate: never a pass;
3. **the verdict** is recorded with the round's challenges and the validation retreat the cockpit finds
   in the diff itself, then **the judge** runs each challenge's evidence in Codex's sandbox on a pool
   thread (:func:`~cockpit.core.review.judge.judge_challenges`);
4. **the decision** (:func:`~cockpit.core.review.rounds.decide`): converged → ``review`` (the human's diff
   review, the merge gate first when the project asks for one) with the rounds attached; sent back → a
   new Codex attempt resuming the thread with the VALID and PARTIAL challenges as feedback (the effort
   raised one tier on a stall, a NOTIFY line at the soft cap); the hard cap → a gate.

After a restart, a ``reviewing`` task is taken up where its state says: a round with a verdict is judged
again (the judge is repeatable), a try whose runner still runs is followed, a finished one read, one
that never started is started, one whose runner vanished is a lost try. A round is created only by the
settler, once; tries and the judge never add one, so no round is counted twice.

A task that leaves review by other means (``cancel``, which records the round as cancelled) is let go:
its judge is stopped (the command under way killed, the judge's checkout removed by the judge itself),
its reviewer's runner is asked to stop and killed past the grace, and once both are gone the reviewer's
checkout is removed. A reviewer's checkout found at start whose task is no longer in that round's review
(cancelled with no supervisor running) is let go the same way.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import threading
import time
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cockpit.core.atomic import atomic_write_json, atomic_write_text, disk_full, make_private_dirs
from cockpit.core.attempts.review_runner import MODULE as REVIEW_RUNNER
from cockpit.core.claude.binary import ClaudeBinary, ClaudeNotFound, find_claude
from cockpit.core.claude.stream import ClaudeStream, read_stream
from cockpit.core.codex.sandbox import sandbox_works
from cockpit.core.config import UntrustedSetting
from cockpit.core.git.operations import GitOpError, add_detached_worktree, main_git, remove_worktree
from cockpit.core.layout import (
    CLAUDE_LIMITS_FILE,
    DIFF_FILE,
    EXIT_FILE,
    PID_FILE,
    PROMPT_FILE,
    REVIEW_INPUTS_DIR,
    REVIEW_SANDBOX_HOME_DIR,
    REVIEW_SANDBOX_SCRATCH_DIR,
    REVIEW_STREAM_FILE,
    REVIEWS_DIR,
    SPEC_FILE,
    STDERR_FILE,
    review_checkout,
    review_dir,
    review_try_dir,
)
from cockpit.core.policy.gates import review_cap_gate, review_failed_gate
from cockpit.core.policy.retry import decide as retry_decide
from cockpit.core.policy.review_failures import classify_review, no_verdict
from cockpit.core.processes import kill_group, runs
from cockpit.core.records.attempt import Failure
from cockpit.core.records.basics import TaskStatus, Usage, utc_now
from cockpit.core.records.board_events import EventKind
from cockpit.core.records.exit_info import ExitInfo
from cockpit.core.records.review import Challenge, ReviewRound
from cockpit.core.records.task import TaskState
from cockpit.core.review.judge import JUDGE_DIR_PREFIX, judge_challenges, remove_leftovers
from cockpit.core.review.retreat import retreat_for
from cockpit.core.review.reviewer import (
    review_prompt,
    reviewer_argv,
    reviewer_env,
    write_inputs,
    write_sandbox_runner,
)
from cockpit.core.review.rounds import decide, feedback_text
from cockpit.core.review.verdict import VerdictError, parse_verdict
from cockpit.core.supervisor.base import _pid_alive, _read_text, spawn_runner
from cockpit.core.text import cut, one_line
from cockpit.core.usage.claude_limits import ClaudeLimitsStore, RateLimitLines

REVIEWER_LOST_GRACE_S = 2.0
_CHECKOUT_NAME = re.compile(r"(?P<task>.+)-r(?P<round>[0-9]+)")  # layout.review_checkout's names
JUDGE_ROUNDS_OF_EVIDENCE = 4  # a round's judge stops starting commands after this many evidence timeouts
_TRY_FILES = (SPEC_FILE, PID_FILE, PROMPT_FILE, REVIEW_STREAM_FILE, STDERR_FILE, "runner.log", EXIT_FILE)


@dataclass
class ReviewFollow:
    """A task in review as the supervisor follows it (rebuilt from the task's state after a restart)."""

    state: TaskState
    directory: Path  # the round's directory, beside the reviewed attempt's files
    checkout: Path  # the reviewer's throw-away checkout
    popen: Any = None  # the runner this supervisor started (None: adopted after a restart)
    gone_at: float | None = None
    judging: Future[list[Challenge]] | None = None
    limits: RateLimitLines | None = None  # the running try's stream, followed for its rate-limit lines
    stop: threading.Event = field(default_factory=threading.Event)  # set: the judge stops
    stopping_at: float | None = None  # when the runner was asked to stop (the task left review)

    @property
    def round(self) -> ReviewRound:
        assert self.state.review is not None and self.state.review.rounds
        return self.state.review.rounds[-1]

    @property
    def task_id(self) -> str:
        return self.state.id


def _to_usage(stream: ClaudeStream) -> Usage | None:
    result = stream.result
    if result is None:
        return None
    u = result.usage
    cached, written = u.cache_read_input_tokens, u.cache_creation_input_tokens
    return Usage(
        input_tokens=u.input_tokens + cached + written,
        cached_input_tokens=cached,
        cache_write_input_tokens=written,
        output_tokens=u.output_tokens,
    )


class ReviewPhase:
    # ---- set up ---------------------------------------------------------------------------------
    def _review_setup(
        self, claude: ClaudeBinary | None, reviewer_env: Mapping[str, str | None] | None
    ) -> None:
        self.reviews: dict[str, ReviewFollow] = {}
        self._to_review: set[str] = set()  # reviewing tasks not followed yet (see note_reviewing)
        self._claude = claude
        changes = dict(reviewer_env or {})
        self.reviewer_env = {k: v for k, v in changes.items() if v is not None}  # set for the reviewer
        self.reviewer_env_remove = sorted(k for k, v in changes.items() if v is None)  # not inherited
        self._review_pool_: ThreadPoolExecutor | None = None
        self._sandbox: tuple[bool, str] | None = None
        self.claude_limits = ClaudeLimitsStore(self.board.root / CLAUDE_LIMITS_FILE, self.board.quarantine)

    def _review_pool(self) -> ThreadPoolExecutor:
        if self._review_pool_ is None:
            self._review_pool_ = ThreadPoolExecutor(max_workers=2, thread_name_prefix="cockpit-judge")
        return self._review_pool_

    def review_shutdown(self) -> None:
        """Stop the judges under way (each kills its command and removes its checkout; the next
        supervisor judges the round again) without waiting for them; the reviewers run on."""
        for follow in self.reviews.values():
            follow.stop.set()
        if self._review_pool_ is not None:
            self._review_pool_.shutdown(wait=False, cancel_futures=True)
            self._review_pool_ = None

    def recover_reviews(self) -> None:
        """At start, once the actionable tasks are loaded: the reviewing ones are to be taken up, and what
        a judge killed mid-run left under ``reviews/`` is removed (the reviewers' checkouts stay: a live
        reviewer may still use one)."""
        self._to_review |= {s.id for s in self.actionable.values() if s.status == TaskStatus.REVIEWING}
        with contextlib.suppress(OSError, GitOpError):
            remove_leftovers(self.board.repo, self.board.root / REVIEWS_DIR)
        with contextlib.suppress(OSError):
            for entry in sorted((self.board.root / REVIEWS_DIR).iterdir()):
                self._let_go_leftover(entry)

    def _let_go_leftover(self, checkout: Path) -> None:
        """A reviewer's checkout whose task is not in review in that round any more (cancelled while no
        supervisor ran): followed until its runner is gone, then removed (:meth:`_drop_review`). Nothing
        of the task's state is changed."""
        named = _CHECKOUT_NAME.fullmatch(checkout.name)
        if named is None or checkout.name.startswith(JUDGE_DIR_PREFIX):
            return
        task_id, n = named["task"], int(named["round"])
        live = self.actionable.get(task_id)
        if live is not None and live.status == TaskStatus.REVIEWING:
            last = live.review.last_round if live.review is not None else None
            if last is None or last.n != n:  # an earlier round's: its tries are over
                self._remove_checkout(checkout)
            return  # else taken up by the first pass
        state = live or self.board.read_state(task_id)
        review = state.review if state is not None else None
        if state is None or review is None or not 0 < n <= len(review.rounds) or task_id in self.reviews:
            self._remove_checkout(checkout)  # no round to find a runner by: nothing left runs there
            return
        directory = self.board.attempt_dir(task_id, review.rounds[n - 1].attempt) / review_dir(n)
        rounds = review.model_copy(update={"rounds": review.rounds[:n]})
        self.reviews[task_id] = ReviewFollow(state.model_copy(update={"review": rounds}), directory, checkout)

    def note_reviewing(self, state: TaskState) -> None:
        """Called for every state saved: a task that became ``reviewing`` is taken up by the next pass
        (so a pass looks at the tasks in review, never at the whole table)."""
        if state.status == TaskStatus.REVIEWING and state.id not in self.reviews:
            self._to_review.add(state.id)

    def reviewing(self) -> bool:
        return bool(self.reviews) or bool(self._to_review)

    def _claude_binary(self) -> ClaudeBinary:
        if self._claude is None:
            setting = self.config.trusted("claude_bin")
            self._claude = find_claude(setting if isinstance(setting, str) else None, self.board.repo)
        return self._claude

    # ---- the pass -------------------------------------------------------------------------------
    def follow_reviews(self) -> None:
        """Take up the tasks newly in review, then move every review on by one step where it can."""
        for task_id in sorted(self._to_review):
            self._to_review.discard(task_id)
            state = self.actionable.get(task_id)
            if state is not None and state.status == TaskStatus.REVIEWING and task_id not in self.reviews:
                self._adopt_review(state)
        for follow in list(self.reviews.values()):
            try:
                self._advance_review(follow)
            except Exception as exc:  # one task's review never stops the supervisor
                if isinstance(exc, OSError) and disk_full(exc):
                    raise
                self._review_broke(follow, f"{type(exc).__name__}: {exc}")

    def _adopt_review(self, state: TaskState) -> None:
        last = state.review.last_round if state.review is not None else None
        if last is None or last.ended_at is not None:
            state.status = TaskStatus.REVIEW  # nothing to review: the human's review as before
            self._save(state)
            return
        follow = ReviewFollow(
            state,
            self.board.attempt_dir(state.id, last.attempt) / review_dir(last.n),
            self.board.root / REVIEWS_DIR / review_checkout(state.id, last.n),
        )
        self.reviews[state.id] = follow
        if last.tries:
            self.board.log_event(
                {
                    "kind": EventKind.REATTACHED,
                    "task_id": state.id,
                    "review_round": last.n,
                    "review_try": last.tries,
                    "runner_alive": _pid_alive(last.reviewer.runner_pid),
                }
            )

    def _advance_review(self, follow: ReviewFollow) -> None:
        state = follow.state
        if state.status != TaskStatus.REVIEWING:  # cancelled, or answered elsewhere
            self._drop_review(follow)
            return
        rnd = follow.round
        if follow.judging is not None:
            if follow.judging.done():
                self._judged(follow)
            return
        if rnd.verdict != "none":  # read before a restart: judge it (again)
            self._start_judge(follow)
            return
        if (follow.directory / SPEC_FILE).exists():
            self._follow_try(follow)
        elif len(rnd.reviewer_failures) >= rnd.tries:  # no try yet, or the last one failed: the next one
            self._start_try(follow, rnd.tries + 1)
        else:  # a try recorded whose spec was never written (a restart in between): start it now
            self._start_try(follow, rnd.tries)

    # ---- a try of the reviewer ------------------------------------------------------------------
    def _live_reviewers(self) -> int:
        return sum(
            1
            for f in self.reviews.values()
            if (f.directory / SPEC_FILE).exists() and not (f.directory / EXIT_FILE).exists()
        )

    def _start_try(self, follow: ReviewFollow, k: int) -> None:
        state, rnd = follow.state, follow.round
        if rnd.retry_at is not None and self.clock() < rnd.retry_at:
            return
        if self._held_by_claude_limit(follow):
            return
        if self._live_reviewers() >= self.config.max_workers:
            return
        try:
            claude = self._claude_binary()
        except (ClaudeNotFound, UntrustedSetting) as exc:
            self._review_failed(follow, f"the reviewer cannot start: {exc}", None, retryable=False)
            return
        cfg = self.config.review
        directory = follow.directory
        make_private_dirs(directory)
        envelope = self.board.read_envelope(state.id)
        frozen = directory / REVIEW_INPUTS_DIR / DIFF_FILE  # every try of a round reviews the same diff
        diff_text = _read_text(frozen if frozen.exists() else self.board.task_dir(state.id) / DIFF_FILE)
        inputs = write_inputs(directory, envelope, diff_text)
        write_sandbox_runner(
            inputs.directory,
            self.codex.path,
            scratch=directory / REVIEW_SANDBOX_SCRATCH_DIR,
            codex_home=directory / REVIEW_SANDBOX_HOME_DIR,
        )
        earlier = _earlier_open(state)
        prompt = review_prompt(
            task_id=state.id, title=state.title, round_n=rnd.n, try_n=k, inputs=inputs, earlier=earlier
        )
        atomic_write_text(directory / PROMPT_FILE, prompt)
        self._fresh_checkout(follow.checkout, rnd.head_commit)
        removed = set(self.reviewer_env_remove)
        inherited = {k: v for k, v in os.environ.items() if k not in removed}
        env = {
            **reviewer_env(inherited, self.reviewer_env),
            "COCKPIT_TASK_ID": state.id,
            "COCKPIT_REVIEW_DIR": str(directory),
        }
        spec = {
            "argv": reviewer_argv(
                claude, prompt, inputs=inputs.directory, model=cfg.model, effort=cfg.effort
            ),
            "cwd": str(follow.checkout),
            "attempt_dir": str(directory),
            "deadline_s": cfg.reviewer_timeout_s,
            "grace_s": self.config.kill_grace_s,
            "env": env,
            "env_remove": sorted(removed - set(env)),
        }
        rnd.tries = k
        rnd.retry_at = None
        rnd.reviewer.runner_pid = None
        rnd.reviewer.model = cfg.model
        rnd.reviewer.effort = cfg.effort
        state.message = f"review round {rnd.n}: Claude Code reviews attempt {rnd.attempt}" + (
            f" (try {k})" if k > 1 else ""
        )
        self._save(state)  # the try is on record before its runner can exist
        atomic_write_json(directory / SPEC_FILE, spec)
        popen = spawn_runner(REVIEW_RUNNER, directory)
        follow.popen, follow.gone_at = popen, None
        rnd.reviewer.runner_pid = popen.pid
        self._save(state)
        self.board.log_event(
            {
                "kind": EventKind.REVIEWING,
                "task_id": state.id,
                "round": rnd.n,
                "try": k,
                "line": f"REVIEWING {state.id}: Claude Code reviews attempt {rnd.attempt} (round {rnd.n}"
                + (f", try {k})" if k > 1 else ")"),
            }
        )

    def _read_limits(self, follow: ReviewFollow, *, final: bool = False) -> None:
        """Claude's credit windows from what the running try's stream printed since the last pass (only
        the appended bytes are read); ``final`` once the try has ended (the cursor is then dropped: the
        next try writes a stream of its own)."""
        cursor = follow.limits
        if cursor is None:
            cursor = follow.limits = RateLimitLines(follow.directory / REVIEW_STREAM_FILE)
        found = cursor.read_new(final=final)
        if found.infos or found.malformed:
            self.claude_limits.record(found.infos, found.observed_at, str(cursor.path), found.malformed)
        if final:
            follow.limits = None

    def _held_by_claude_limit(self, follow: ReviewFollow) -> bool:
        """A reviewer is not started while Claude Code's latest limit says ``rejected``: the task says
        until when (a NOTIFY line when the hold begins), and the try starts once the window resets."""
        limits = self.claude_limits.read()
        until = limits.blocked_until(self.clock())
        if until is None or limits.current is None:
            return False
        state, rnd = follow.state, follow.round
        window = limits.current
        what = f"Claude Code's {window.label} limit" if window.label else "Claude Code's usage limit"
        when = f"{datetime.fromtimestamp(until, UTC):%Y-%m-%d %H:%M} UTC" + (
            "" if window.resets_at is not None else " (its reset time is unknown)"
        )
        message = f"review round {rnd.n}: waiting: {what} is reached (rejected); the reviewer starts at "
        message += when
        if state.message != message:
            first = not (state.message or "").startswith(f"review round {rnd.n}: waiting: ")
            state.message = message
            self._save(state)
            if first:
                self.board.log_event(
                    {
                        "kind": EventKind.NOTIFY,
                        "topic": "review",
                        "task_id": state.id,
                        "round": rnd.n,
                        "until": until,
                        "line": f"NOTIFY {state.id}: {message}",
                    }
                )
        return True

    def _fresh_checkout(self, path: Path, commit: str) -> None:
        """A detached checkout of ``commit`` at ``path``, whatever an earlier try left there."""
        self._remove_checkout(path)
        add_detached_worktree(self.board.repo, path, commit)

    def _remove_checkout(self, path: Path) -> None:
        if not path.exists() and not path.is_symlink():
            return
        with contextlib.suppress(GitOpError, OSError):
            remove_worktree(self.board.repo, path, None)
        if path.is_symlink():
            path.unlink(missing_ok=True)
        elif path.exists():
            shutil.rmtree(path, ignore_errors=True)
        with contextlib.suppress(GitOpError, OSError):
            main_git(self.board.repo).run("worktree", "prune", check=False)

    def _check_branch(self, state: TaskState, head: str) -> None:
        """The task's branch must still be where the review found it: put back if anything moved it."""
        if not state.branch:
            return
        git = main_git(self.board.repo)
        ref = f"refs/heads/{state.branch}"
        now = git.rev(ref)
        if now is None or now == head:
            return
        git.run("update-ref", ref, head, now, check=False)
        self.board.log_event(
            {
                "kind": EventKind.NOTIFY,
                "topic": "review",
                "task_id": state.id,
                "line": f"NOTIFY {state.id}: the task's branch moved during its review ({now[:12]}); "
                f"put back at {head[:12]}",
            }
        )

    def _follow_try(self, follow: ReviewFollow) -> None:
        directory = follow.directory
        self._read_limits(follow)
        if (directory / EXIT_FILE).exists():
            if follow.popen is not None:
                follow.popen.poll()
            self._finish_try(follow)
            return
        rnd = follow.round
        pid = rnd.reviewer.runner_pid
        if pid is None:
            with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
                pid = int(json.loads((directory / PID_FILE).read_text())["runner_pid"])
        alive = follow.popen.poll() is None if follow.popen is not None else _pid_alive(pid)
        started = _try_started(directory)
        cap = self.config.review.reviewer_timeout_s + self.config.kill_grace_s + 15.0
        overdue = started is not None and time.time() > started + cap
        if alive and not overdue:
            return
        now = time.monotonic()
        if not overdue:
            if follow.gone_at is None:
                follow.gone_at = now  # the runner may be writing exit.json this very moment
                return
            if now - follow.gone_at < REVIEWER_LOST_GRACE_S:
                return
        if pid:
            kill_group(pid, signal.SIGKILL)
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            kill_group(int(json.loads((directory / PID_FILE).read_text())["codex_pgid"]), signal.SIGKILL)
        info = ExitInfo(
            lost=not overdue,
            timed_out=overdue,
            started=started or 0.0,
            ended=time.time(),
            note="the review runner overran the review's cap; killed by the supervisor"
            if overdue
            else "the review runner disappeared without recording an exit status",
        )
        atomic_write_json(directory / EXIT_FILE, info.model_dump(mode="json"))
        self._finish_try(follow)

    def _finish_try(self, follow: ReviewFollow) -> None:
        state, rnd, directory = follow.state, follow.round, follow.directory
        k = rnd.tries
        try:
            info = ExitInfo.model_validate_json((directory / EXIT_FILE).read_bytes())
        except (ValueError, OSError):
            info = ExitInfo(lost=True, note="the review runner's exit status is unreadable")
        self._read_limits(follow, final=True)  # before the try's files may be set aside
        stream = read_stream(_read_text(directory / REVIEW_STREAM_FILE).splitlines())
        self._remove_checkout(follow.checkout)
        self._check_branch(state, rnd.head_commit)
        follow.popen = None
        if len(rnd.reviewer_failures) >= k:  # this try's failure was recorded before a restart
            self._set_try_aside(directory, k)
            return
        self._record_reviewer(state, rnd, k, stream, info)
        failure = classify_review(stream, info, stderr_tail=_read_text(directory / STDERR_FILE)[-4000:])
        parsed = None
        if failure is None:
            result = stream.result
            final = (result.result if result is not None else None) or stream.text()
            parsed = parse_verdict(final)
            if isinstance(parsed, VerdictError):
                failure = no_verdict(str(parsed))
        if failure is not None or parsed is None or isinstance(parsed, VerdictError):
            self._try_failed(follow, failure or no_verdict("nothing to read"))
            return
        envelope = self.board.read_envelope(state.id)
        rnd.verdict, rnd.summary = parsed.verdict, parsed.summary
        rnd.dropped, rnd.unreadable = parsed.dropped, parsed.unreadable
        found = list(parsed.challenges)
        if envelope is not None:
            found += retreat_for(_read_text(directory / REVIEW_INPUTS_DIR / DIFF_FILE), envelope)
        rnd.challenges = found
        state.message = (
            f"review round {rnd.n}: {parsed.verdict} with {len(found)} challenge"
            + ("s" if len(found) != 1 else "")
            + ("; the judge runs the evidence" if found else "")
        )
        self._save(state)  # the verdict is on record: a restart judges it again, never re-reviews
        self._start_judge(follow)

    def _record_reviewer(
        self, state: TaskState, rnd: ReviewRound, k: int, stream: ClaudeStream, info: ExitInfo
    ) -> None:
        result = stream.result
        run = rnd.reviewer
        run.exit_code = info.code
        run.duration_s = round(info.ended - info.started, 3) if info.ended and info.started else None
        run.session_id = stream.session_id
        init = stream.init
        if init is not None and init.model:
            run.model = init.model
        usage = _to_usage(stream)
        cost = result.total_cost_usd if result is not None else None
        if usage is not None:
            run.usage = usage.plus(run.usage) if run.usage is not None else usage
        if cost is not None:
            run.cost_usd = round((run.cost_usd or 0.0) + cost, 6)
        run.runner_pid = None
        self.board.append_ledger(
            {
                "task_id": state.id,
                "attempt": rnd.attempt,
                "family": "claude",
                "review_round": rnd.n,
                "review_try": k,
                "lane": state.lane,
                "effort": rnd.reviewer.effort or "default",
                "model": run.model,
                "session_id": run.session_id,
                "input_tokens": usage.input_tokens if usage else 0,
                "cached_input_tokens": usage.cached_input_tokens if usage else 0,
                "output_tokens": usage.output_tokens if usage else 0,
                "reasoning_output_tokens": 0,
                "usage_reported": usage is not None,
                "cost_usd": cost,
                "duration_s": run.duration_s,
                "ok": result is not None and not result.is_error,
            }
        )

    def _set_try_aside(self, directory: Path, k: int) -> None:
        """Keep a failed try's files in ``try-<k>/``, leaving the round's directory for the next try."""
        aside = directory / review_try_dir(k)
        aside.mkdir(mode=0o700, exist_ok=True)
        for name in _TRY_FILES:
            with contextlib.suppress(FileNotFoundError):
                (directory / name).replace(aside / name)

    def _try_failed(self, follow: ReviewFollow, failure: Failure) -> None:
        state, rnd = follow.state, follow.round
        history = rnd.reviewer_failures[rnd.retry_from :]
        rnd.reviewer_failures.append(failure)
        decision = retry_decide(failure, history, rng=self.rng, now=self.clock())
        self.board.log_event(
            {
                "kind": EventKind.REVIEW_ERROR,
                "task_id": state.id,
                "round": rnd.n,
                "try": rnd.tries,
                "error_type": failure.error_type.value,
                "code": failure.code.value,
                "message": failure.message,
                "action": decision.action,
                "line": f"FAILED {state.id}: review round {rnd.n}, try {rnd.tries}: "
                f"{cut(failure.message, 160)} ({decision.reason})",
            }
        )
        if decision.action == "retry":
            rnd.retry_at = self.clock() + decision.delay_s
            state.message = (
                f"review round {rnd.n}: the reviewer failed ({failure.code.value}); {decision.reason}"
            )
            self._save(state)
            self._set_try_aside(follow.directory, rnd.tries)
            return
        self._save(state)
        self._set_try_aside(follow.directory, rnd.tries)
        self._review_failed(
            follow,
            f"{failure.code.value}: {failure.message} ({decision.reason})",
            failure.suggestion,
            retryable=failure.retryable,
        )

    def _review_failed(
        self, follow: ReviewFollow, why: str, suggestion: str | None, *, retryable: bool
    ) -> None:
        """The round ends without a verdict: a failed review, for a person to decide — never a pass."""
        state, rnd = follow.state, follow.round
        rnd.failure = cut(one_line(why), 1000)
        rnd.ended_at = utc_now()
        rnd.decision = f"round {rnd.n}: the review failed: {cut(one_line(why), 300)}"
        assert state.review is not None
        state.review.status = "failed"
        self._remove_checkout(follow.checkout)
        self.board.log_event(
            {
                "kind": EventKind.REVIEW_ROUND,
                "task_id": state.id,
                "round": rnd.n,
                "action": "review_failed",
                "line": f"BLOCKED {state.id}: {rnd.decision}",
            }
        )
        self.settler.gate(state, review_failed_gate(state, rnd.failure, suggestion, retryable=retryable))
        self._save(state)
        self.reviews.pop(state.id, None)

    # ---- the judge and the decision -------------------------------------------------------------
    def _start_judge(self, follow: ReviewFollow) -> None:
        rnd = follow.round
        todo = list(rnd.challenges)
        follow.judging = self._review_pool().submit(self._judge, todo, rnd.head_commit, follow.stop)

    def _judge(self, challenges: list[Challenge], head_commit: str, stop: threading.Event) -> list[Challenge]:
        """On a pool thread: the judge, with doctor's sandbox check made once per supervisor."""
        if not any(c.label is None and c.evidence.executable for c in challenges):
            return judge_challenges(
                challenges,
                repo=self.board.repo,
                head_commit=head_commit,
                work_dir=self.board.root / REVIEWS_DIR,
                codex=self.codex.path,
                sandbox=(True, "not needed"),
                stop=stop,
            )
        if self._sandbox is None:
            self._sandbox = sandbox_works(self.codex.path)
        each = self.config.review.evidence_timeout_s
        return judge_challenges(
            challenges,
            repo=self.board.repo,
            head_commit=head_commit,
            work_dir=self.board.root / REVIEWS_DIR,
            codex=self.codex.path,
            timeout_s=each,
            sandbox=self._sandbox,
            deadline=time.monotonic() + JUDGE_ROUNDS_OF_EVIDENCE * each,  # the rest are PARTIAL
            stop=stop,
        )

    def _judged(self, follow: ReviewFollow) -> None:
        state, rnd = follow.state, follow.round
        future, follow.judging = follow.judging, None
        assert future is not None
        try:
            rnd.challenges = future.result()
        except Exception as exc:  # the judge itself broke: what it could not run is not shown either way
            why = f"not run: the judge failed ({type(exc).__name__}: {cut(str(exc), 200)})"
            rnd.challenges = [c if c.label else c.labelled("PARTIAL", "judge", why) for c in rnd.challenges]
        assert state.review is not None
        review = state.review
        rnd.acceptance_passed = True  # the settled attempt passed its signals and its output check
        attempt = state.attempts[rnd.attempt - 1] if 0 < rnd.attempt <= len(state.attempts) else None
        cfg = self.config.review
        decision = decide(
            review,
            acceptance_passed=True,
            effort=(attempt.effort if attempt else None) or state.effort,
            soft_cap=cfg.soft_cap,
            hard_cap=cfg.hard_cap,
        )
        rnd.decision, rnd.ended_at = decision.reason, utc_now()
        review.status = decision.status
        counts = rnd.counts
        self.board.log_event(
            {
                "kind": EventKind.REVIEW_ROUND,
                "task_id": state.id,
                "round": rnd.n,
                "action": decision.action,
                "valid": sum(1 for c in rnd.challenges if c.label == "VALID"),
                "partial": sum(1 for c in rnd.challenges if c.label in ("PARTIAL", None)),
                "noise": sum(1 for c in rnd.challenges if c.label == "NOISE"),
                "substantive_rate": counts.rate,
                "line": f"REVIEW {state.id}: {decision.reason}",
            }
        )
        self.reviews.pop(state.id, None)
        if decision.action == "converged":
            state.status, state.message = TaskStatus.REVIEW, f"{decision.reason}; review the diff, then merge"
            self.settler.to_human(state)
        elif decision.action == "send_back":
            state.status = TaskStatus.QUEUED
            state.pending_feedback = decision.feedback
            state.resume_reason = None
            state.not_before = None
            if decision.effort:
                review.effort_raised_to = decision.effort
            state.message = decision.reason
            if decision.notify:
                self.board.log_event(
                    {
                        "kind": EventKind.NOTIFY,
                        "topic": "review",
                        "task_id": state.id,
                        "line": f"NOTIFY {state.id}: {rnd.n} review rounds without converging "
                        f"(soft cap {cfg.soft_cap}; a gate at {cfg.hard_cap})",
                    }
                )
            self.settler._checkpoint(state, "sent_back", f"attempt {len(state.attempts) + 1} with the review")
        else:
            issues = [_issue_line(c) for c in decision.open_issues]
            feedback = feedback_text(rnd, acceptance_passed=True)
            state.status = TaskStatus.REVIEW
            self.settler.gate(state, review_cap_gate(state, decision.reason, issues, feedback))
        self._save(state)

    # ---- endings --------------------------------------------------------------------------------
    def _drop_review(self, follow: ReviewFollow) -> None:
        """The task left review by other means (cancelled; the command recorded the round): its judge is
        stopped and its reviewer's runner asked to stop, and once both are gone — over as many passes as
        that takes — the reviewer's checkout is removed and the task's branch checked. Nothing is written
        to the task's state."""
        follow.stop.set()
        if follow.judging is not None and not follow.judging.done():
            return  # the judge kills its command and removes its own checkout
        follow.judging = None
        if not self._reviewer_gone(follow):
            return
        self._remove_checkout(follow.checkout)
        now = self._task(follow.task_id)
        if now is not None and now.status == TaskStatus.CANCELLED:  # no later attempt moved it
            with contextlib.suppress(GitOpError, OSError):
                self._check_branch(now, follow.round.head_commit)
        self.reviews.pop(follow.task_id, None)
        if now is not None and now.status == TaskStatus.REVIEWING:  # back in review meanwhile
            self._to_review.add(follow.task_id)

    def _reviewer_gone(self, follow: ReviewFollow) -> bool:
        """Whether the round's runner is gone; if not, it is asked to stop (SIGTERM: it stops Claude Code
        and writes its exit), and killed with Claude Code's group once the kill grace has passed."""
        directory = follow.directory
        try:
            info = json.loads((directory / PID_FILE).read_text())
        except (OSError, ValueError):
            info = {}
        pid = info.get("runner_pid") if isinstance(info, dict) else None
        pid = pid if isinstance(pid, int) else follow.round.reviewer.runner_pid
        if follow.popen is not None:
            pid, alive = follow.popen.pid, follow.popen.poll() is None
        else:  # adopted: the runner of this round's spec, not whatever has its pid since
            alive = runs(pid, str(directory / SPEC_FILE).encode())
        if not alive:
            follow.popen = None
            return True
        assert pid is not None
        now = time.monotonic()
        if follow.stopping_at is None:
            follow.stopping_at = now
            kill_group(pid, signal.SIGTERM)
        elif now - follow.stopping_at > self.config.kill_grace_s + REVIEWER_LOST_GRACE_S:
            kill_group(pid, signal.SIGKILL)
            claude = info.get("codex_pgid") if isinstance(info, dict) else None
            if isinstance(claude, int) and claude > 0:
                kill_group(claude, signal.SIGKILL)
        return False

    def _review_broke(self, follow: ReviewFollow, why: str) -> None:
        """Something unexpected broke a review step: the review fails (a person decides), the supervisor
        goes on. A task that had left review already (cancelled) is only let go: its state stays as the
        command left it, and what is left of its review is removed by the next supervisor to start."""
        self.board.log_event(
            {
                "kind": EventKind.SETTLE_ERROR,
                "task_id": follow.task_id,
                "error": cut(why, 500),
                "error_type": "review",
            }
        )
        follow.stop.set()
        if follow.state.status == TaskStatus.REVIEWING:
            with contextlib.suppress(Exception):
                self._review_failed(follow, f"the review could not go on: {why}", None, retryable=True)
        self.reviews.pop(follow.task_id, None)


def _try_started(directory: Path) -> float | None:
    try:
        return float(json.loads((directory / PID_FILE).read_text())["started"])
    except (OSError, ValueError, KeyError, TypeError):
        try:
            return (directory / SPEC_FILE).stat().st_mtime
        except OSError:
            return None


def _earlier_open(state: TaskState) -> list[str]:
    """The previous round's open challenges, one line each, for the reviewer to check again."""
    rounds = state.review.rounds if state.review is not None else []
    if len(rounds) < 2:
        return []
    return [_issue_line(c) for c in rounds[-2].challenges if c.label != "NOISE"][:20]


def _issue_line(c: Challenge) -> str:
    where = f"{c.where}: " if c.where else ""
    return f"[{c.label or 'PARTIAL'}] {where}{cut(one_line(c.claim), 300)}"
