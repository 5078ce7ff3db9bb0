"""``cockpit mcp``: the cockpit as an MCP server on stdio, so an orchestrator dispatches into it
(``claude mcp add cockpit -- cockpit mcp --repo .``) while the human watches the same blackboard.

The server is one more front end on the blackboard, like the CLI and the TUI, and never calls them:
submissions go through :func:`cockpit.core.commands.submit` into the inbox, answers through the
:class:`~cockpit.core.board.decisions.DecisionStore`, and everything else is a read. It starts no worker
itself: tasks are accepted from the inbox and run only while a supervisor holds the blackboard (the
full-screen cockpit or ``cockpit run``). Refusals come back as MCP tool errors carrying the same
one-line messages the CLI prints (``invalid envelope: budget.tokens: ...``). Every string of a tool's
result goes through :func:`cockpit.core.text.clean`, as on every other surface: worker text (messages,
errors, diffs, last messages) never carries terminal control sequences or unmasked secrets.

An orchestrator may answer a decision card only when the project's ``orchestrator_may_answer`` names
the card's trigger; merges, sandbox widening and protected paths stay with the human by default.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import anyio
import anyio.to_thread
from mcp.server.mcpserver import Context, MCPServer
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import Field

from cockpit.core import (
    CLOUD_BEST_OF_MAX,
    DIFF_FILE,
    INBOX_STATUS,
    LAST_MESSAGE_FILE,
    STATE_FILE,
    Blackboard,
    BlackboardError,
    CockpitError,
    CommandError,
    DecisionCard,
    DecisionError,
    DecisionStore,
    InvalidId,
    Submission,
    TaskState,
    TaskSummary,
    UnknownTask,
    board_config,
    check_task_ref,
    clean,
    clean_data,
    envelope_from_mapping,
    match_task_ref,
    parse_card_id,
    parse_patch,
    submissions,
    submit,
    tool_row,
    utc_now,
)

SERVER_NAME = "cockpit"
MAX_DIFF_BYTES = 200 * 1024
MAX_MESSAGE_BYTES = 200 * 1024
MAX_WAIT_S = 3600.0
WAIT_POLL_S = 0.25  # how often wait_for_task looks at the state file's stamp
WAIT_REREAD_S = 2.0  # and re-reads it even when the stamp did not move (coarse file-system clocks)
NO_SUPERVISOR = (
    "no supervisor is running on this blackboard: tasks are accepted and run only while the cockpit "
    "(`cockpit`) or `cockpit run` is running in the repository"
)

INSTRUCTIONS = """\
Codex Cockpit supervises Codex CLI workers for this repository through a file blackboard the human
watches live. Submit a task envelope with submit_task, follow it with wait_for_task or task_status,
read the result with get_task_diff and get_last_message, and its cross-family review (the rounds,
the challenges and the judge's labels) with get_review. Tasks run only while a supervisor is running
(the cockpit, or `cockpit run`); until then they wait in the inbox. Gated tasks wait in
awaiting_decision: list_decisions shows the cards; answer_decision answers those whose trigger the
project lets the orchestrator answer, the rest are for the human."""

# The core's refusals (every CockpitError: bad input, unknown task, a decision that is not ours, a
# task in the wrong state) and blackboard I/O.
_REFUSALS = (CockpitError, OSError)


def _refusal(exc: BaseException) -> CallToolResult:
    """A tool error carrying the one-line message the CLI prints for the same refusal."""
    text = clean(f"blackboard I/O failed: {exc}" if isinstance(exc, OSError) else str(exc))
    return CallToolResult(content=[TextContent(type="text", text=text)], is_error=True)


def as_tool(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a tool so its result is cleaned and the core's refusals come back as tool errors, word
    for word, rather than as crashes (whose text the server keeps to itself)."""
    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def run_async(*args: Any, **kwargs: Any) -> Any:
            try:
                return clean_data(await fn(*args, **kwargs))
            except _REFUSALS as exc:
                return _refusal(exc)

        return run_async

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return clean_data(fn(*args, **kwargs))
        except _REFUSALS as exc:
            return _refusal(exc)

    return run


def card_dict(card: DecisionCard, allowed: set[str]) -> dict[str, Any]:
    return {
        "id": card.id,
        "task_id": card.task_id,
        "trigger": card.trigger,
        "title": card.title,
        "context": card.context,
        "risk": card.risk,
        "options": [
            {
                "key": o.key,
                "label": o.label,
                "action": o.action,
                "pros": o.pros,
                "cons": o.cons,
                "cost": o.cost,
                "params": o.params,
            }
            for o in card.options
        ],
        "recommended": card.recommended,
        "recommended_why": card.recommended_why,
        "default": card.default,
        "deadline": card.deadline.isoformat(),
        "created_at": card.created_at.isoformat(),
        "orchestrator_may_answer": card.trigger in allowed,
    }


def _read_capped(path: Path, limit: int) -> tuple[str, int, bool]:
    """A text file's first ``limit`` bytes (cut at a line end when it is longer), its size, and whether
    it was cut."""
    raw = path.read_bytes()
    if len(raw) <= limit:
        return raw.decode("utf-8", "replace"), len(raw), False
    head = raw[:limit]
    cut = head.rfind(b"\n")
    if cut > 0:
        head = head[: cut + 1]
    return head.decode("utf-8", "ignore"), len(raw), True


class CockpitTools:
    """The tools over one blackboard. Each returns a JSON-able dict or raises the core's error for a
    refusal (:class:`EnvelopeError`, :class:`UnknownTask`, :class:`DecisionError`, ...)."""

    def __init__(self, repo: Path) -> None:
        self.board = Blackboard(repo)

    # ---- helpers ------------------------------------------------------------------------------
    def _decisions(self) -> DecisionStore:
        board = self.board
        return DecisionStore(board.root, utc_now, on_corrupt=board.quarantine, on_event=board.log_event)

    def _supervisor(self) -> dict[str, Any]:
        pid = self.board.supervisor_pid()
        return {"running": pid is not None, "pid": pid if pid and pid > 0 else None}

    def _inbox_submissions(self) -> dict[str, Submission]:
        return {s.id: s for s in submissions(self.board)}

    def _lookup(self, ref: str) -> tuple[dict[str, Any], TaskState | None]:
        """The row of a task by id or unique prefix (the CLI's rules), whether accepted or still in
        the inbox. A malformed, empty or too short reference is refused before anything is read."""
        board = self.board
        board.require()
        ref = check_task_ref(ref.strip())
        inbox = self._inbox_submissions()
        if ref in inbox:
            return tool_row(inbox[ref]), None
        try:
            task_id = board.resolve_task(ref, archived=True)  # an archived task reads as it was left
        except InvalidId:
            raise
        except UnknownTask:
            pending = match_task_ref(ref, inbox)
            if pending is not None:
                return tool_row(inbox[pending]), None
            raise
        state = board.read_state(task_id, archived=True)
        if state is None:
            inbox = self._inbox_submissions()  # being accepted right now: envelope written, state not yet
            if task_id in inbox:
                return tool_row(inbox[task_id]), None
            raise BlackboardError(f"task {task_id} has no readable state (see .cockpit/quarantine/)")
        return tool_row(TaskSummary.of(state)), state

    def _accepted(self, ref: str) -> TaskState:
        """A task a supervisor has accepted (its files exist); one still in the inbox is refused."""
        row, state = self._lookup(ref)
        if state is None:
            raise UnknownTask(f"task {row['id']} is still in the inbox (no supervisor has accepted it yet)")
        return state

    # ---- tools --------------------------------------------------------------------------------
    def submit_task(
        self,
        envelope: Annotated[
            dict[str, Any],
            Field(
                description=(
                    "The task envelope. Required: goal. Optional: title, lane (local|worktree|cloud|mcp; "
                    "default from the project config), effort (none|minimal|low|medium|high|xhigh), "
                    "sandbox (read-only|workspace-write|danger-full-access), network, model, kind, "
                    "risk_level (low|medium|high), priority (high|medium|low), budget {tokens, "
                    "tool_calls, wall_time (e.g. '20m'), usd}, acceptance_criteria [..], inputs "
                    "['path' or 'path: summary'], output {path}, stop_conditions [..], allowed_tools, "
                    "forbidden."
                )
            ),
        ],
    ) -> dict[str, Any]:
        """Submit a task envelope to the cockpit, validated exactly as `cockpit submit` validates it.

        The task lands in the blackboard's inbox and the human sees it in the cockpit. A running
        supervisor (the cockpit or `cockpit run`) accepts and runs it; until then its status is
        "submitted (in the inbox)". Asking for network or full access opens a decision card for the
        human before anything runs. Returns the task id; an invalid envelope is an error naming the
        field ("invalid envelope: budget.tokens: ...").
        """
        board = self.board
        board.init()
        parsed = envelope_from_mapping(envelope)
        if "lane" not in parsed.model_fields_set:
            parsed = parsed.model_copy(update={"lane": board_config(board).default_lane})
        task_id = submit(board, parsed)
        supervisor = self._supervisor()
        return {
            "task_id": task_id,
            "lane": parsed.lane,
            "status": INBOX_STATUS,
            "supervisor_running": supervisor["running"],
            **({} if supervisor["running"] else {"note": NO_SUPERVISOR}),
        }

    def task_status(
        self,
        task: Annotated[
            str | None,
            Field(description="A task id or a unique prefix of one; omit for every task."),
        ] = None,
    ) -> dict[str, Any]:
        """Status of one task or of all tasks.

        Each task: id, lane, status (queued, running, succeeded, failed, blocked, review, merged,
        rejected, conflict, cancelled, awaiting_decision, dead_letter, or "submitted (in the inbox)"),
        settled (false while queued, running or in the inbox), attempts, the three success signals of
        the last attempt (exit_code, turn_completed, last_message), tokens, message, decision_id (the
        pending decision card of a task awaiting a decision) and branch (worktree lane); a cloud-lane
        task also has cloud: the task_id, url and remote status of its Codex Cloud task (null until
        submitted).
        """
        if task is not None:
            row, _ = self._lookup(task)
            return {**row, "supervisor": self._supervisor()}
        board = self.board
        board.require()
        rows = [tool_row(s) for s in board.summaries()]
        known = {r["id"] for r in rows}
        rows += [tool_row(sub) for i, sub in self._inbox_submissions().items() if i not in known]
        return {
            "tasks": rows,
            "supervisor": self._supervisor(),
            "pending_decisions": len(self._decisions().pending()),
        }

    async def wait_for_task(
        self,
        task: Annotated[str, Field(description="A task id or a unique prefix of one.")],
        timeout_s: Annotated[
            float,
            Field(description=f"How long to wait, in seconds (at most {MAX_WAIT_S:.0f}).", ge=0),
        ] = 600.0,
        ctx: Context | None = None,
    ) -> dict[str, Any]:
        """Wait until a task settles, or until the timeout; returns its status and a timed_out flag.

        Settled means no longer queued or running: succeeded, failed, blocked, review (a worktree task
        waiting for merge or reject), merged, rejected, conflict, cancelled, dead_letter (parked for a
        later retry) or awaiting_decision (see list_decisions). Tasks are accepted from the inbox and
        run only while a supervisor is running (the cockpit or `cockpit run`); a task nobody has
        accepted yet reports "submitted (in the inbox)" and the result carries a note when no
        supervisor is running. Progress notifications report each change of status.
        """
        started = time.monotonic()
        timeout_s = min(timeout_s, MAX_WAIT_S)
        deadline = started + timeout_s
        state_path: Path | None = None
        seen: tuple[int, int] | None = None
        read_at = 0.0
        row: dict[str, Any] = {}
        last_status: str | None = None
        while True:
            # The state file's stamp is taken before reading it, so a write during the read is seen next.
            stamp = _file_stamp(state_path) if state_path is not None else None
            if stamp is None or stamp != seen or time.monotonic() - read_at >= WAIT_REREAD_S:
                read_at = time.monotonic()
                row, state = await anyio.to_thread.run_sync(self._lookup, task)
                seen = stamp
                if state is not None and state_path is None:
                    home = self.board.find_task_dir(state.id) or self.board.task_dir(state.id)
                    state_path = home / STATE_FILE
                if row["status"] != last_status:
                    last_status = row["status"]
                    if ctx is not None:
                        await ctx.report_progress(
                            time.monotonic() - started, timeout_s, f"{row['id']}: {last_status}"
                        )
            if row["settled"]:
                break
            if time.monotonic() >= deadline:
                break
            await anyio.sleep(min(WAIT_POLL_S, max(0.0, deadline - time.monotonic())))
        timed_out = not row["settled"]
        result = {**row, "timed_out": timed_out, "waited_s": round(time.monotonic() - started, 2)}
        supervisor = self._supervisor()
        result["supervisor"] = supervisor
        if timed_out and not supervisor["running"]:
            result["note"] = NO_SUPERVISOR
        return result

    def list_decisions(self) -> dict[str, Any]:
        """Pending decision cards: the gates where a task waits for an answer.

        Each card: id, task_id, trigger (repeated_failures, acceptance_failed, unknown_error,
        over_budget, catastrophic, network_access, full_access, protected_paths, merge,
        weekly_budget, ...), title, context, risk, options (key, label, action, pros, cons, cost),
        recommended (with why), default (applied if nobody answers by the deadline), deadline, and
        orchestrator_may_answer: whether answer_decision will accept an answer from you; the others
        are for the human.
        """
        self.board.require()
        allowed = set(board_config(self.board).orchestrator_may_answer)
        cards = self._decisions().pending()
        return {
            "decisions": [card_dict(c, allowed) for c in cards],
            "orchestrator_may_answer": sorted(allowed),
        }

    def answer_decision(
        self,
        decision: Annotated[str, Field(description="The card: decision-007, 007 or 7.")],
        option: Annotated[str, Field(description="The option key, e.g. A.")],
        note: Annotated[str, Field(description="Why, kept with the answer for the human.")] = "",
    ) -> dict[str, Any]:
        """Answer a pending decision card as the orchestrator; the supervisor then applies it.

        Allowed only for cards whose trigger the project lists in orchestrator_may_answer (by
        default repeated_failures, acceptance_failed and unknown_error). Budgets, merges, network
        or full access, protected paths and the other triggers are for the human: such an answer is
        refused with an error and the card stays pending.
        """
        board = self.board
        board.require()
        store = self._decisions()
        card_id = parse_card_id(decision)
        card = store.get(card_id)
        if card is None:
            raise DecisionError(f"no decision {card_id}")
        allowed = board_config(board).orchestrator_may_answer
        if card.is_pending and card.trigger not in allowed:
            raise DecisionError(
                f"{card.id} ({card.trigger}) is for the human: the orchestrator may answer only "
                f"{', '.join(allowed) or 'no trigger'} "
                "(orchestrator_may_answer in .cockpit/config.toml); "
                f"answer it in the cockpit or with `cockpit decide {card.id} <option>`"
            )
        done = store.answer(card.id, option, by="orchestrator", note=note)
        res = done.resolved
        assert res is not None
        chosen = done.option(res.option) if res.option else None
        supervisor = self._supervisor()
        return {
            "decision": done.id,
            "task_id": done.task_id,
            "trigger": done.trigger,
            "option": res.option,
            "label": chosen.label if chosen else None,
            "action": res.action,
            "by": res.by,
            "applied": (
                "the supervisor applies it now"
                if supervisor["running"]
                else "applied when a supervisor runs (the cockpit or `cockpit run`)"
            ),
        }

    def get_task_diff(
        self,
        task: Annotated[str, Field(description="A task id or a unique prefix of one.")],
        attempt: Annotated[
            int | None,
            Field(
                description=(
                    f"Cloud-lane tasks only: the best-of-N attempt (1-{CLOUD_BEST_OF_MAX}) whose diff to "
                    "return instead of the branch's; omit for the branch diff."
                ),
                json_schema_extra={"minimum": 1, "maximum": CLOUD_BEST_OF_MAX},
            ),
        ] = None,
    ) -> dict[str, Any]:
        """The change a worktree task made on its branch (diff.patch, new files included) and its
        diff stat per file. A very large diff is cut at 200 KB with a note giving the full patch's
        path. Local-lane tasks change the working tree directly and have no diff.patch.

        A cloud-lane task's result also lists its Codex Cloud task (cloud_task_id) and its best-of-N
        attempts (cloud_attempts: n, files, insertions, deletions, chosen — the one on the branch,
        has_diff); with `attempt`, the diff of that attempt as Codex Cloud returned it (see a task's
        other attempts before `cockpit pick TASK N` puts one on the branch)."""
        state = self._accepted(task)
        base: dict[str, Any] = {"task_id": state.id, "lane": state.lane, "status": state.status.value}
        last = state.last_attempt
        run = last.cloud if last is not None else None
        if run is not None:
            base["cloud_task_id"] = run.task_id
            base["cloud_attempts"] = [
                {
                    "n": r.n,
                    "files": r.files,
                    "insertions": r.insertions,
                    "deletions": r.deletions,
                    "chosen": r.chosen,
                    "has_diff": r.diff_file is not None,
                }
                for r in run.results
            ]
        if attempt is not None:
            return self._cloud_attempt_diff(state, attempt, base)
        path = (self.board.find_task_dir(state.id) or self.board.task_dir(state.id)) / DIFF_FILE
        if not path.exists():
            if state.lane == "local":
                why = "the local lane works in the repository's working tree (see `git diff` there)"
            else:
                why = f"no diff yet (the task is {state.status.value})"
            return {**base, "diff": "", "truncated": False, "stat": None, "note": why}
        result = {**base, **_diff_read(path)}
        if state.branch:
            result["branch"] = state.branch
            result["base_branch"] = state.base_branch
        return result

    def _cloud_attempt_diff(self, state: TaskState, attempt: int, base: dict[str, Any]) -> dict[str, Any]:
        """:meth:`get_task_diff` of one best-of-N attempt of a cloud task; a bad number is refused."""
        if not 1 <= attempt <= CLOUD_BEST_OF_MAX:
            raise CommandError(
                f"attempt must be 1-{CLOUD_BEST_OF_MAX} (a cloud task's best-of-N attempts), got {attempt}"
            )
        if state.lane != "cloud":
            raise CommandError(
                f"task {state.id} is in the {state.lane} lane: attempt is for cloud tasks (best-of-N); "
                "omit it for the task's diff"
            )
        last = state.last_attempt
        run = last.cloud if last is not None else None
        if last is None or run is None or not run.results:
            where = f"; Codex Cloud task {run.task_id} is {run.status}" if run and run.task_id else ""
            raise CommandError(
                f"task {state.id} has no cloud attempts to show yet (it is {state.status.value}{where})"
            )
        result = next((r for r in run.results if r.n == attempt), None)
        if result is None:
            raise CommandError(
                f"task {state.id} has attempts 1-{len(run.results)}; there is no attempt {attempt}"
            )
        out = {**base, "attempt": attempt, "chosen": result.chosen}
        empty = {"diff": "", "truncated": False, "stat": None}
        name = result.diff_file
        if name is None or Path(name).name != name:  # a plain name beside the attempt's other files
            return {**out, **empty, "note": f"attempt {attempt} came back with no diff"}
        path = self.board.attempt_dir(state.id, last.n, archived=True) / name
        if not path.exists():
            return {**out, **empty, "note": f"attempt {attempt}'s diff file is missing ({path})"}
        return {**out, **_diff_read(path)}

    def get_last_message(
        self,
        task: Annotated[str, Field(description="A task id or a unique prefix of one.")],
        attempt: Annotated[
            int | None, Field(description="The attempt number (1, 2, ...); omit for the last.", ge=1)
        ] = None,
    ) -> dict[str, Any]:
        """The worker's final message (last-message.md) of a task's last attempt, or of the given one.

        Its first line follows the output protocol: COMPLETED:, FAILED: or BLOCKED: and one line of
        detail. Also returns the attempt's outcome as the cockpit parsed it and its three signals.
        """
        state = self._accepted(task)
        if not state.attempts:
            return {
                "task_id": state.id,
                "status": state.status.value,
                "attempt": None,
                "attempts": 0,
                "message": "",
                "note": f"task {state.id} has no attempts yet",
            }
        numbers = [a.n for a in state.attempts]
        n = attempt if attempt is not None else numbers[-1]
        chosen = next((a for a in state.attempts if a.n == n), None)
        if chosen is None:
            raise CommandError(
                f"task {state.id} has no attempt {n} (attempts: {', '.join(map(str, numbers))})"
            )
        path = self.board.attempt_dir(state.id, n, archived=True) / LAST_MESSAGE_FILE
        result: dict[str, Any] = {
            "task_id": state.id,
            "status": state.status.value,
            "attempt": n,
            "attempts": len(numbers),
            "outcome": chosen.outcome.model_dump(mode="json") if chosen.outcome else None,
            "signals": chosen.signals.model_dump(),
        }
        if not path.exists():
            why = "the attempt is still running" if not chosen.finished else "the worker left no message"
            return {**result, "message": "", "note": why}
        text, size, truncated = _read_capped(path, MAX_MESSAGE_BYTES)
        result["message"] = text
        if truncated:
            result["note"] = f"message cut at {MAX_MESSAGE_BYTES // 1024} KB of {size // 1024} KB: {path}"
        return result

    def get_review(
        self, task: Annotated[str, Field(description="A task id or a unique prefix of one.")]
    ) -> dict[str, Any]:
        """The cross-family review of a task's result: its status (reviewing, challenged, converged,
        failed, skipped), each round (the attempt reviewed, the reviewer's verdict, usage and cost, how
        many tries it took, what the round led to) and each challenge (its claim, file and line, its
        evidence, the judge's label VALID / NOISE / PARTIAL, why, and the output the label rests on).

        A round that failed has no verdict: a failed review is never a pass. review is null when the task
        was not reviewed (its lane's review is off, or it has not reached review yet).
        """
        state = self._accepted(task)
        review = state.review
        base: dict[str, Any] = {"task_id": state.id, "status": state.status.value}
        if review is None:
            return {**base, "review": None, "note": "not reviewed (its lane's review is off, or not yet)"}
        last = review.last_round
        return {
            **base,
            "review_status": review.status,
            "rounds": len(review.rounds),
            "last_decision": last.decision if last else None,
            "substantive_rate": review.substantive_rate,
            "review": review.model_dump(mode="json"),
        }


def _diff_read(path: Path) -> dict[str, Any]:
    """A patch file as :meth:`CockpitTools.get_task_diff` returns it: its text (cut at
    :data:`MAX_DIFF_BYTES`, with a note), size and per-file stat (of the whole patch)."""
    text, size, truncated = _read_capped(path, MAX_DIFF_BYTES)
    files = parse_patch(path.read_bytes().decode("utf-8", "replace") if truncated else text)
    stat = {
        "files": len(files),
        "insertions": sum(f.added for f in files),
        "deletions": sum(f.removed for f in files),
        "per_file": [
            {"path": f.path, "added": f.added, "removed": f.removed, "binary": f.binary} for f in files
        ],
    }
    result: dict[str, Any] = {"diff": text, "truncated": truncated, "bytes": size, "stat": stat}
    if truncated:
        result["note"] = (
            f"diff cut at {MAX_DIFF_BYTES // 1024} KB of {size // 1024} KB; the whole patch is {path}"
        )
    return result


def _file_stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)


def build_server(repo: Path) -> MCPServer:
    """An MCP server with the cockpit's tools over the blackboard of ``repo``."""
    tools = CockpitTools(repo)
    server: MCPServer = MCPServer(SERVER_NAME, instructions=INSTRUCTIONS, log_level="WARNING")
    writes = {
        "submit_task": ToolAnnotations(
            read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=False
        ),
        "answer_decision": ToolAnnotations(
            read_only_hint=False, destructive_hint=True, idempotent_hint=False, open_world_hint=False
        ),
    }
    for fn in (
        tools.submit_task,
        tools.task_status,
        tools.wait_for_task,
        tools.list_decisions,
        tools.answer_decision,
        tools.get_task_diff,
        tools.get_last_message,
        tools.get_review,
    ):
        server.add_tool(
            as_tool(fn),
            description=inspect.cleandoc(fn.__doc__ or ""),
            annotations=writes.get(fn.__name__, READ_ONLY),
        )
    return server


def serve(repo: Path) -> int:
    """Serve the tools on stdin/stdout until the client closes them. Exit code as the CLI's."""
    repo = Path(repo)
    if not repo.is_dir():
        print(f"cockpit: no repository at {repo}", file=sys.stderr)
        return 2
    server = build_server(repo)
    with contextlib.suppress(KeyboardInterrupt):
        server.run("stdio")
    return 0


__all__ = ["CockpitTools", "build_server", "serve"]
