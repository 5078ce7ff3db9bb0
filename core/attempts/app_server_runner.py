"""The mcp lane's attempt runner: a detached process that drives one ``codex app-server`` turn.

Started by the supervisor exactly like the exec lanes' runner (``python -m
cockpit.core.attempts.app_server_runner SPEC.json``, a session of its own), so a supervisor crash does not
interrupt the turn. It starts the app-server, initializes, starts (or resumes) the thread and starts one
turn with the prompt. Every line the server sends is appended unchanged to ``events.jsonl`` (the supervisor
tails it like exec output); the lines the runner sends go to ``sent.jsonl``.

Approval requests become decision cards (trigger ``codex_approval``) on the board. The runner polls the card
and answers the server when someone resolves it; when the request stops mattering first (the server resolved
it, or the turn ended) it withdraws the card. Signals: SIGINT cancels (``turn/interrupt``, then shutdown),
SIGTERM/SIGHUP stop, SIGUSR1 is the watchdog's stop; at the hard wall-clock cap the turn is interrupted and
the server closed. At the end it writes ``last-message.md`` and ``exit.json`` (see
:class:`cockpit.core.records.exit_info.ExitInfo`): code 0 only after a completed turn and a clean shutdown.

Known upstream failure modes are contained:

- A ``turn/completed`` that never arrives: when the server reports the thread idle (or a terminal
  ``error``) and ``idle_read_s`` pass without the turn ending, or nothing at all arrives for
  ``quiet_read_s``, the runner asks ``thread/read``; a turn finished there completes the attempt (its
  status and last agent message) instead of waiting for the hard cap. ``exit.json`` says
  ``recovered: "thread/read"``.
- ``turn/interrupt`` has a deadline: when the turn has not ended ``interrupt_grace_s`` (default
  ``grace_s``) after it was sent, the app-server's process group is killed (``killed_after_interrupt``).
- An approval request for a turn that has ended, or for a turn that is not this attempt's, is declined
  at once and logged on the board's events; it never becomes a decision card.
- ``exit.json`` names the thread only when a turn ran in it (or it was resumed): a thread without a turn
  has no rollout and cannot be resumed.

Spec keys: ``codex``, ``cwd``, ``attempt_dir``, ``prompt_file``, ``deadline_s``, ``grace_s``, ``env``,
``approval_policy``, ``sandbox``, ``network``, ``model``, ``effort``, ``resume_thread``, ``board_root``,
``task_id``, ``attempt``; optional ``idle_read_s``, ``quiet_read_s``, ``interrupt_grace_s`` and
``opt_out_notifications`` (notification methods the server must not send).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cockpit.core.atomic import append_jsonl
from cockpit.core.attempts.exec_runner import (
    PR_SET_CHILD_SUBREAPER,
    _prctl,
    _sweep_descendants,
    spec_main,
    write_json,
)
from cockpit.core.board.decisions import WITHDRAWN, DecisionCard, DecisionError, DecisionOption, DecisionStore
from cockpit.core.codex.app_server.client import AppServerClient
from cockpit.core.codex.app_server.connection import AppServerClosed, AppServerError, Incoming
from cockpit.core.codex.app_server.protocol import (
    COMMAND_APPROVAL,
    FILE_CHANGE_APPROVAL,
    CommandApprovalRequest,
    FileChangeApprovalRequest,
    TurnNotification,
)
from cockpit.core.codex.confinement import thread_config
from cockpit.core.layout import (
    ATTEMPT_EVENTS_FILE,
    BOARD_EVENTS_FILE,
    EXIT_FILE,
    LAST_MESSAGE_FILE,
    PID_FILE,
    SENT_FILE,
    STDERR_FILE,
)
from cockpit.core.records.board_events import EventKind
from cockpit.core.vocabulary import WORKER_SANDBOX

APPROVAL_TRIGGER = "codex_approval"
APPROVAL_DEADLINE = timedelta(minutes=30)
POLL_S = 0.2
MAX_CONTEXT_DIFF = 20_000
IDLE_READ_S = 2.0  # thread idle (or a terminal error) without turn/completed: ask thread/read after this
QUIET_READ_S = 60.0  # no line at all from the server for this long: ask thread/read
READ_TIMEOUT_S = 10.0
LATE_APPROVAL_KIND = EventKind.LATE_APPROVAL

# Card action -> the app-server's decision word.
DECISIONS = {
    "accept": "accept",
    "accept_for_session": "acceptForSession",
    "decline": "decline",
    "cancel_turn": "cancel",
}


def approval_options(kind: str) -> list[DecisionOption]:
    what = "the command" if kind == "command" else "the file change"
    return [
        DecisionOption(key="A", label=f"Allow {what} once", action="accept", pros=["the turn goes on"]),
        DecisionOption(
            key="B",
            label="Allow it for the rest of this session",
            action="accept_for_session",
            pros=["no more questions for the same kind of request"],
            cons=["later requests run without review"],
        ),
        DecisionOption(
            key="C",
            label="Decline; Codex continues without it",
            action="decline",
            pros=["nothing outside the sandbox happens"],
            cons=["the task may end incomplete"],
        ),
        DecisionOption(
            key="D",
            label="Decline and stop the turn (the task is cancelled)",
            action="cancel_turn",
            cons=["the attempt ends now; nothing is retried"],
        ),
    ]


def approval_card_fields(incoming: Incoming) -> dict[str, Any]:
    """Title, context and risk of the decision card for one approval request."""
    command = incoming.as_(CommandApprovalRequest)
    if command is not None:
        lines = [f"Command: `{command.command or '?'}`"]
        if command.cwd:
            lines.append(f"Working directory: `{command.cwd}`")
        if command.reason:
            lines.append(f"Reason given by Codex: {command.reason}")
        title = f"Codex asks to run: {(command.command or '?').splitlines()[0][:120]}"
        return {"title": title, "context": "\n\n".join(lines), "risk": "high", "kind": "command"}
    change = incoming.as_(FileChangeApprovalRequest)
    lines = []
    if change is not None:
        if change.reason:
            lines.append(f"Reason given by Codex: {change.reason}")
        if change.grantRoot:
            lines.append(f"Asks for write access under `{change.grantRoot}`")
        if change.paths:
            lines.append("Files: " + ", ".join(f"`{p}`" for p in change.paths[:50]))
        diff = change.diff
        if diff:
            clipped = diff[:MAX_CONTEXT_DIFF]
            more = f"\n… ({len(diff) - len(clipped)} more characters)" if len(diff) > len(clipped) else ""
            lines.append(f"```diff\n{clipped}```{more}")
    return {
        "title": "Codex asks to change files",
        "context": "\n\n".join(lines),
        "risk": "medium",
        "kind": "file_change",
    }


class McpRun:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.attempt_dir = Path(spec["attempt_dir"])
        self.deadline_s = float(spec["deadline_s"])
        self.grace_s = float(spec.get("grace_s", 5.0))
        self.task_id = str(spec["task_id"])
        self.store = DecisionStore(Path(spec["board_root"]), lambda: datetime.now(UTC))
        self.board_events = Path(spec["board_root"]) / BOARD_EVENTS_FILE  # the board's event log
        self.client = AppServerClient()
        self.stop_signal: int | None = None
        self.started = time.time()
        self.thread_id: str | None = None
        self.turn_id: str | None = None
        self.interrupt_sent_at: float | None = None
        self.timed_out = False
        self.cancelled = False
        self.watchdog = False
        self.queue: list[Incoming] = []  # approval requests waiting for a card
        self.card: tuple[str, Incoming] | None = None  # (card id, request) now on the board
        self.notes: list[str] = []
        self.approvals = 0
        self.idle_read_s = float(spec.get("idle_read_s", IDLE_READ_S))
        self.quiet_read_s = float(spec.get("quiet_read_s", QUIET_READ_S))
        self.interrupt_grace_s = float(spec.get("interrupt_grace_s", self.grace_s))
        self.turn_started_at: float | None = None  # time.monotonic() when turn/start was acknowledged
        self.last_read_at = 0.0  # time.monotonic() of the last thread/read
        self.end_signal_at: float | None = None  # a terminal error of the turn (turn/completed follows)
        self.errors_seen = 0
        self.read_now = False
        self.thread_reads = 0
        self.read_failed = False
        self.recovered: str | None = None
        self.killed_after_interrupt = False
        self.late_approvals = 0
        self.interrupt_task: asyncio.Task[None] | None = None

    # -- lifecycle --------------------------------------------------------------------------------

    async def run(self) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1):
            loop.add_signal_handler(sig, self._on_signal, sig)
        env = dict(os.environ)
        env.update(self.spec.get("env", {}))
        for key in self.spec.get("env_remove", []):
            env.pop(key, None)
        status: str | None = None
        code: int | None = None
        self._withdraw_stale_cards()
        try:
            await self.client.start(
                self.spec["codex"],
                self.spec["cwd"],
                env,
                self.attempt_dir / ATTEMPT_EVENTS_FILE,
                stderr_path=self.attempt_dir / STDERR_FILE,
                sent_path=self.attempt_dir / SENT_FILE,
            )
        except OSError as exc:
            self.notes.append(f"could not start codex app-server: {exc}")
            return self._result(None, None)
        write_json(
            self.attempt_dir / PID_FILE,
            {
                "runner_pid": os.getpid(),
                "codex_pid": self.client.pid,
                "codex_pgid": self.client.pid,
                "started": self.started,
                "deadline": self.started + self.deadline_s,
            },
        )
        try:
            status = await self._drive()
        except (AppServerClosed, AppServerError, TimeoutError) as exc:
            self.notes.append(f"app-server: {exc}")
        except Exception as exc:  # the attempt still gets its exit.json
            self.notes.append(f"runner error: {exc!r}")
        finally:
            self._withdraw_card("the attempt ended")
            self._write_last_message()
            code = await self.client.close(self.grace_s)
        clean = code == 0
        exit_code = 0 if status == "completed" and clean else (code if code and code > 0 else 1)
        if status and status != "completed":
            self.notes.append(f"turn {status}")
        return self._result(exit_code, -code if code is not None and code < 0 else None)

    def _result(self, code: int | None, sig: int | None) -> dict[str, Any]:
        ran_turn = self.turn_id is not None or bool(self.spec.get("resume_thread"))
        if self.timed_out:
            self.notes.insert(0, f"hard wall-clock cap of {self.deadline_s:.0f}s reached; turn interrupted")
        elif self.watchdog:
            self.notes.insert(0, "stopped by the watchdog: no new event for too long")
        elif self.cancelled:
            self.notes.insert(0, "cancelled")
        return {
            "code": code,
            "signal": sig,
            "timed_out": self.timed_out,
            "cancelled": self.cancelled,
            "lost": False,
            "started": self.started,
            "ended": time.time(),
            "chunked": False,
            "watchdog": self.watchdog,
            "lane": "mcp",
            # Only a thread that ran a turn (or was resumed) has a rollout: anything else cannot be resumed.
            "thread_id": self.thread_id if ran_turn else None,
            "turn_id": self.turn_id,
            "approvals": self.approvals,
            "late_approvals_declined": self.late_approvals,
            "thread_reads": self.thread_reads,
            "recovered": self.recovered,
            "killed_after_interrupt": self.killed_after_interrupt,
            "note": "; ".join(self.notes) or None,
        }

    def _on_signal(self, sig: int) -> None:
        if self.stop_signal is None:
            self.stop_signal = sig
            self.watchdog = sig == signal.SIGUSR1
            self.cancelled = not self.watchdog

    async def _drive(self) -> str | None:
        client = self.client
        await client.initialize(
            timeout=60.0, opt_out_notifications=list(self.spec.get("opt_out_notifications") or [])
        )
        policy = self.spec.get("approval_policy") or "on-request"
        sandbox = self.spec.get("sandbox") or WORKER_SANDBOX
        model = self.spec.get("model")
        resume = self.spec.get("resume_thread")
        if resume:
            await client.thread_resume(
                resume,
                cwd=self.spec["cwd"],
                approval_policy=policy,
                sandbox=sandbox,
                model=model,
                config=self._config(sandbox),
            )
            self.thread_id = resume
        else:
            self.thread_id = await client.thread_start(
                self.spec["cwd"], policy, sandbox, model, config=self._config(sandbox)
            )
        if self.stop_signal is not None:
            if not resume:
                self.notes.append(f"thread {self.thread_id} started but no turn ran: not kept for resume")
            return None
        prompt = Path(self.spec["prompt_file"]).read_text(encoding="utf-8")
        overrides: dict[str, Any] = {}
        if self.spec.get("effort"):
            overrides["effort"] = self.spec["effort"]
        self.turn_id = await client.turn_start(self.thread_id, prompt, **overrides)
        self.turn_started_at = time.monotonic()
        while True:
            completed = client.completed_turns.get(self.turn_id)
            if completed is not None:
                return completed.status
            if client.closed:
                self.notes.append("app-server exited before the turn completed")
                return None
            now = time.time()
            if self.interrupt_sent_at is None:
                if self.stop_signal in (signal.SIGINT, signal.SIGUSR1):
                    self._interrupt()
                elif self.stop_signal is not None:
                    return None  # SIGTERM/SIGHUP: shut down now
                elif now - self.started >= self.deadline_s:
                    self.timed_out = True
                    self._interrupt()
            elif now - self.interrupt_sent_at >= self.interrupt_grace_s:
                # Last chance: the turn may have ended without telling us.
                recovered = await self._recover("the turn did not end after turn/interrupt")
                if recovered is not None:
                    return recovered.status
                self._kill_after_interrupt()
                return None
            await self._pump()
            await self._tend_approvals()
            reason = self._read_reason()
            if reason is not None:
                recovered = await self._recover(reason)
                if recovered is not None:
                    return recovered.status

    # -- a turn/completed that never arrives --------------------------------------------------------

    def _read_reason(self) -> str | None:
        """Why the turn's state should be asked for with ``thread/read`` now, or ``None``."""
        client = self.client
        now = time.monotonic()
        assert self.thread_id is not None and self.turn_started_at is not None
        if len(client.errors) > self.errors_seen:
            fresh = client.errors[self.errors_seen :]
            self.errors_seen = len(client.errors)
            if any(not e.willRetry and e.turnId in ("", self.turn_id) for e in fresh):
                self.end_signal_at = now
        if self.read_now:
            self.read_now = False
            return "turn/interrupt found no active turn"
        since = max(self.turn_started_at, self.last_read_at)
        if self.end_signal_at is not None and since <= self.end_signal_at <= now - self.idle_read_s:
            return f"a terminal error came {self.idle_read_s:g}s ago and the turn did not end"
        status = client.thread_status.get(self.thread_id)
        changed = client.thread_status_at.get(self.thread_id, 0.0)
        if (
            status is not None
            and status.type in ("idle", "systemError")
            and since <= changed <= now - self.idle_read_s
        ):
            return f"the thread is {status.type} but its turn did not end"
        if now - max(client.last_received_at, since) >= self.quiet_read_s:
            return f"no notification for {self.quiet_read_s:g}s"
        return None

    async def _recover(self, reason: str) -> TurnNotification | None:
        """Ask ``thread/read`` whether the turn has finished; if so, complete the attempt from it."""
        assert self.thread_id is not None and self.turn_id is not None
        self.last_read_at = time.monotonic()
        self.thread_reads += 1
        try:
            completed = await self.client.recover_turn(
                self.thread_id, self.turn_id, timeout=min(READ_TIMEOUT_S, max(self.grace_s, 1.0))
            )
        except (AppServerError, TimeoutError) as exc:
            if not self.read_failed:
                self.read_failed = True
                self.notes.append(f"thread/read failed ({reason}): {exc}")
            return None
        finally:
            self.last_read_at = time.monotonic()
        if completed is not None and self.turn_id in self.client.recovered_turns:
            self.recovered = "thread/read"
            self.notes.append(
                f"turn/completed never arrived ({reason}); thread/read reports the turn {completed.status}"
            )
        return completed

    def _kill_after_interrupt(self) -> None:
        self.killed_after_interrupt = True
        self.notes.append(
            f"turn did not end within {self.interrupt_grace_s:g}s of turn/interrupt; "
            "app-server process group killed"
        )
        self.client.kill()

    def _config(self, sandbox: str) -> dict[str, Any] | None:
        """Config overrides for the thread: the confinement (no /tmp, the attempt's scratch dir as its
        only extra writable root) and network access only when approved."""
        if sandbox != WORKER_SANDBOX:
            return None
        scratch = self.spec.get("scratch")
        if not scratch:
            return {"sandbox_workspace_write": {"network_access": True}} if self.spec.get("network") else None
        return thread_config(Path(scratch), network=bool(self.spec.get("network")))

    def _interrupt(self) -> None:
        """Send ``turn/interrupt`` without waiting for its answer: the deadline runs from now."""
        self.interrupt_sent_at = time.time()
        self._withdraw_card("the turn is being interrupted")
        self.interrupt_task = asyncio.create_task(self._send_interrupt())

    async def _send_interrupt(self) -> None:
        assert self.thread_id is not None and self.turn_id is not None
        try:
            await self.client.turn_interrupt(self.thread_id, self.turn_id, timeout=self.interrupt_grace_s)
        except AppServerError as exc:
            if "no active turn" in exc.message or "expected active turn" in exc.message:
                self.read_now = True  # the turn ended without its turn/completed: read at once
        except (AppServerClosed, TimeoutError):
            pass

    async def _pump(self) -> None:
        """Take what arrived (waiting up to one poll interval); queue approval requests."""
        try:
            incoming = await self.client.next_incoming(timeout=POLL_S)
        except TimeoutError:
            return
        if incoming is None:
            return
        while incoming is not None:  # None: the server's output ended
            if incoming.method in (COMMAND_APPROVAL, FILE_CHANGE_APPROVAL) and incoming.is_request:
                late = self._late(incoming)
                if late is not None:
                    await self._decline_late(incoming, late)
                else:
                    self.queue.append(incoming)
            elif incoming.is_request:
                # A server request this lane cannot serve: refuse it so the turn does not hang.
                assert incoming.request_id is not None
                with contextlib.suppress(AppServerClosed):
                    await self.client.respond_error(
                        incoming.request_id, -32601, f"{incoming.method} is not supported"
                    )
            if self.client.incoming.empty():
                return
            incoming = self.client.incoming.get_nowait()
        self.client.incoming.put_nowait(None)  # keep the end marker for later reads

    # -- approvals --------------------------------------------------------------------------------

    def _late(self, incoming: Incoming) -> str | None:
        """Why an approval request can no longer be meant for this attempt's running turn, or ``None``."""
        if incoming.request_id not in self.client.pending_requests:
            return None  # already resolved: nothing to answer
        params = incoming.params if isinstance(incoming.params, dict) else {}
        turn_id = params.get("turnId")
        if self.turn_id is None:
            return "no turn has started"
        if turn_id != self.turn_id:
            return f"it names turn {turn_id!r}, not the running turn {self.turn_id}"
        if turn_id in self.client.completed_turns:
            return "its turn has already ended"
        return None

    async def _decline_late(self, incoming: Incoming, why: str) -> None:
        """Decline an approval request that arrived too late (or for another turn), and log it."""
        assert incoming.request_id is not None
        self.late_approvals += 1
        with contextlib.suppress(AppServerClosed):
            await self.client.decide(incoming.request_id, "decline")
        fields = approval_card_fields(incoming)
        line = (
            f"LATE APPROVAL {self.task_id}: declined request {incoming.request_id} ({why}): {fields['title']}"
        )
        if self.late_approvals == 1:
            self.notes.append(f"declined a late approval request: {why}")
        row = {
            "ts": datetime.now(UTC).isoformat(),
            "kind": LATE_APPROVAL_KIND,
            "task_id": self.task_id,
            "attempt": self.spec.get("attempt"),
            "request_id": incoming.request_id,
            "method": incoming.method,
            "turn_id": (incoming.params or {}).get("turnId") if isinstance(incoming.params, dict) else None,
            "decision": "decline",
            "why": why,
            "line": line,
        }
        with contextlib.suppress(OSError):
            append_jsonl(self.board_events, row)

    async def _tend_approvals(self) -> None:
        pending = self.client.pending_requests
        if self.card is not None:
            card_id, incoming = self.card
            if incoming.request_id not in pending:
                self._withdraw_card("Codex no longer waits for this answer")
                return
            card = self.store.get(card_id)
            if card is None or card.resolved is None:
                return
            self.card = None
            action = card.resolved.action
            if action == WITHDRAWN:
                return
            decision = DECISIONS.get(action, "decline")
            if decision == "cancel":
                self.cancelled = True
                self.notes.append(f"stopped at approval {card.id}")
            assert incoming.request_id is not None
            await self.client.decide(incoming.request_id, decision)
            return
        while self.queue:
            incoming = self.queue.pop(0)
            if incoming.request_id not in pending or self.interrupt_sent_at is not None:
                continue
            self.card = (self._open_card(incoming).id, incoming)
            self.approvals += 1
            return

    def _open_card(self, incoming: Incoming) -> DecisionCard:
        fields = approval_card_fields(incoming)
        return self.store.open(
            self.task_id,
            trigger=APPROVAL_TRIGGER,
            title=fields["title"],
            context=fields["context"],
            options=approval_options(fields["kind"]),
            recommended="C",
            recommended_why="declining is the safe choice unless the request is clearly needed and harmless",
            risk=fields["risk"],
            default="C",
            deadline=datetime.now(UTC) + APPROVAL_DEADLINE,
        )

    def _withdraw_stale_cards(self) -> None:
        """Approval cards an earlier attempt left pending (its runner was killed) answer nothing now."""
        with contextlib.suppress(OSError):
            for card in self.store.pending_for(self.task_id):
                if card.trigger == APPROVAL_TRIGGER:
                    with contextlib.suppress(DecisionError, OSError):
                        self.store.withdraw(card.id, "left by an earlier attempt whose runner is gone")

    def _withdraw_card(self, note: str) -> None:
        if self.card is None:
            return
        card_id, _incoming = self.card
        self.card = None
        with contextlib.suppress(DecisionError, OSError):
            self.store.withdraw(card_id, note)

    def _write_last_message(self) -> None:
        if self.turn_id is None:
            return
        text = self.client.final_message(self.turn_id)
        if text is not None:
            path = self.attempt_dir / LAST_MESSAGE_FILE
            tmp = path.with_name(".last-message.md.tmp")
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, path)


def run(spec: dict[str, Any]) -> int:
    attempt_dir = Path(spec["attempt_dir"])
    subreaper = _prctl(PR_SET_CHILD_SUBREAPER, 1)
    started = time.time()
    try:
        result = asyncio.run(McpRun(spec).run())
    except Exception as exc:
        result = {"code": None, "started": started, "ended": time.time(), "note": f"runner error: {exc!r}"}
    result["swept_processes"] = _sweep_descendants() if subreaper else 0
    write_json(attempt_dir / EXIT_FILE, result)
    return 0


def main(argv: list[str] | None = None) -> int:
    return spec_main("cockpit.core.attempts.app_server_runner", run, argv)


if __name__ == "__main__":
    sys.exit(main())
