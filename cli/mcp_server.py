"""``cockpit mcp``: the cockpit as an MCP server on stdio, so an orchestrator dispatches into it
(``cockpit mcp --print-config`` prints how to add it to Claude Code) while the human watches the same
blackboard.

The server is one more front end on the blackboard, like the CLI and the TUI, and never calls them:
submissions go through :func:`cockpit.core.commands.submit` into the inbox, answers through the
:class:`~cockpit.core.board.decisions.DecisionStore`, labels through the core's task commands, and
everything else is a read. It starts no worker itself: tasks are accepted from the inbox and run only
while a supervisor holds the blackboard (the full-screen cockpit or ``cockpit run``). Refusals come
back as MCP tool errors carrying the same one-line messages the CLI prints (``invalid envelope:
budget.tokens: ...``).

Results are sized for a model (:mod:`cockpit.cli.mcp_results`): one JSON block with the metadata
first, then at most one page of long text (a diff, a last message), every result under 40,000
characters; long texts are read page by page with cursors. Every string of a result goes through
:func:`cockpit.core.text.clean`, as on every other surface: worker text never carries terminal control
sequences or unmasked secrets.

An orchestrator may answer a decision card only when the project's ``orchestrator_may_answer`` names
the card's trigger, and label a review challenge only when ``[review] orchestrator_may_label`` is on;
merges, sandbox widening and protected paths stay with the human by default.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

import anyio
import anyio.to_thread
from mcp.server.mcpserver import Context, MCPServer
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import Field, WithJsonSchema

from cockpit.cli.mcp_results import (
    PAGE_CHARS,
    CleanedText,
    Page,
    TextCache,
    cursor_of,
    fit_items,
    offset_of,
    page_of,
    reply,
)
from cockpit.cli.mcp_setup import TOOL_NAMES
from cockpit.cli.mcp_views import (
    INBOX,
    Watch,
    card_brief,
    card_dict,
    challenge_brief,
    challenge_text,
    next_step,
    text_digest,
)
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
    EnvelopeError,
    InvalidId,
    Submission,
    TaskState,
    TaskSummary,
    UnknownTask,
    board_config,
    check_task_ref,
    clean,
    envelope_from_mapping,
    envelope_schema,
    match_task_ref,
    parse_card_id,
    run_task_command,
    submissions,
    submit,
    tool_row,
    utc_now,
)

SERVER_NAME = "cockpit"
MAX_WAIT_S = 3600.0
WAIT_POLL_S = 0.25  # how often wait_for_task looks at the state file's and the cards' stamps
WAIT_REREAD_S = 2.0  # and reads them even when no stamp moved (coarse file-system clocks)
PROGRESS_EVERY_S = 10.0  # a progress notification at least this often while waiting
LIST_CAP = 20  # file names listed beside a diff page
ERROR_CHARS = 2_000  # of a refusal (Claude Code keeps ≈ 10,000 characters of an error result)
NO_SUPERVISOR = (
    "no supervisor is running on this blackboard: tasks are accepted and run only while the cockpit "
    "(`cockpit`) or `cockpit run` is running in the repository"
)

INSTRUCTIONS = """\
Codex Cockpit runs Codex CLI workers for this repository while the human watches the same board.
Loop: submit_task (an envelope: goal, acceptance_criteria, inputs as paths, budget) -> wait_for_task
(returns when the task needs you: done, in review, a decision, a failure, a review round; pass its
`watch` back as `since` to wait for the next change) -> get_diff_summary, then get_task_diff page by
page (or one file), get_last_message, get_review -> answer_decision / label_challenge only where the
result says you may. Merging, network, full access and budgets are the human's. Results are JSON
(metadata first), long text follows in pages: pass next_cursor back to read on. Tasks run only while a
supervisor runs (the cockpit, or `cockpit run`)."""

# The core's refusals (every CockpitError: bad input, unknown task, a decision that is not ours, a
# task in the wrong state) and blackboard I/O.
_REFUSALS = (CockpitError, OSError)


def _refusal(exc: BaseException) -> CallToolResult:
    """A tool error carrying the one-line message the CLI prints for the same refusal."""
    text = " ".join(clean(f"blackboard I/O failed: {exc}" if isinstance(exc, OSError) else str(exc)).split())
    if len(text) > ERROR_CHARS:
        text = f"{text[:ERROR_CHARS]}… ({len(text) - ERROR_CHARS} more characters)"
    return CallToolResult(content=[TextContent(type="text", text=text)], is_error=True)


def _result(value: Any) -> CallToolResult:
    return value if isinstance(value, CallToolResult) else reply(value)


def as_tool(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a tool so its result is sized and cleaned (:func:`reply`) and the core's refusals come back
    as tool errors, word for word, rather than as crashes (whose text the server keeps to itself)."""
    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def run_async(*args: Any, **kwargs: Any) -> CallToolResult:
            try:
                return _result(await fn(*args, **kwargs))
            except _REFUSALS as exc:
                return _refusal(exc)

        return run_async

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> CallToolResult:
        try:
            return _result(fn(*args, **kwargs))
        except _REFUSALS as exc:
            return _refusal(exc)

    return run


def _file_stamp(path: Path | None) -> tuple[int, int] | None:
    if path is None:
        return None
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


def _envelope_input_schema() -> dict[str, Any]:
    """The envelope's schema (from the model) as submit_task's ``envelope`` argument."""
    schema = envelope_schema()
    lane = schema["properties"]["lane"]
    lane.pop("default", None)
    lane["description"] += " Omitted: the project's default_lane."
    return schema


# ---------------------------------------------------------------------------------------------- tools


class CockpitTools:
    """The tools over one blackboard. Each returns a JSON-able dict (or a result with a page of text)
    or raises the core's error for a refusal (:class:`EnvelopeError`, :class:`UnknownTask`,
    :class:`DecisionError`, ...)."""

    def __init__(self, repo: Path) -> None:
        self.board = Blackboard(repo)
        self.texts = TextCache()

    # ---- helpers ------------------------------------------------------------------------------
    def _decisions(self) -> DecisionStore:
        board = self.board
        return DecisionStore(board.root, utc_now, on_corrupt=board.quarantine, on_event=board.log_event)

    def _allowed(self) -> set[str]:
        return set(board_config(self.board).orchestrator_may_answer)

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

    def _card_for(self, task_id: str) -> DecisionCard | None:
        cards = self._decisions().pending_for(task_id)
        return cards[0] if cards else None

    def _observe(self, ref: str) -> tuple[dict[str, Any], TaskState | None, DecisionCard | None, Watch]:
        """A task's row, state, pending card and watch, read together."""
        row, state = self._lookup(ref)
        card = self._card_for(row["id"]) if state is not None else None
        return row, state, card, Watch.of(row, state, card)

    def _described(
        self, row: dict[str, Any], card: DecisionCard | None, watch: Watch, supervisor: dict[str, Any]
    ) -> dict[str, Any]:
        """A task's row with what it waits on, what to do next and its watch, the row's fields after."""
        brief = card_brief(card, self._allowed()) if card is not None else None
        head = {
            "id": row["id"],
            "status": row["status"],
            "settled": row["settled"],
            "decision_id": card.id if card is not None else row.get("decision_id"),
            "decision": brief,
            "next": next_step(row, brief, supervisor["running"]),
            "watch": watch.token,
        }
        return {**head, **{k: v for k, v in row.items() if k not in head}}

    def _diff_source(self, state: TaskState, attempt: int | None) -> tuple[dict[str, Any], Path | None, str]:
        """The metadata every diff result starts with, the patch file (None: there is none) and why."""
        base: dict[str, Any] = {"task_id": state.id, "lane": state.lane, "status": state.status.value}
        if state.branch:
            base["branch"] = state.branch
            base["base_branch"] = state.base_branch
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
            return self._cloud_attempt_source(state, attempt, base)
        path = (self.board.find_task_dir(state.id) or self.board.task_dir(state.id)) / DIFF_FILE
        if path.exists():
            return base, path, ""
        if state.lane == "local":
            return base, None, "the local lane works in the repository's working tree (see `git diff` there)"
        return base, None, f"no diff yet (the task is {state.status.value})"

    def _cloud_attempt_source(
        self, state: TaskState, attempt: int, base: dict[str, Any]
    ) -> tuple[dict[str, Any], Path | None, str]:
        """The diff of one best-of-N attempt of a cloud task; a bad number is refused."""
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
        name = result.diff_file
        if name is None or Path(name).name != name:  # a plain name beside the attempt's other files
            return out, None, f"attempt {attempt} came back with no diff"
        path = self.board.attempt_dir(state.id, last.n, archived=True) / name
        if not path.exists():
            return out, None, f"attempt {attempt}'s diff file is missing ({path})"
        return out, path, ""

    @staticmethod
    def _diff_totals(doc: CleanedText) -> dict[str, Any]:
        return {
            "files": len(doc.files),
            "insertions": sum(f.added for f in doc.files),
            "deletions": sum(f.removed for f in doc.files),
            "chars": len(doc.text),
            "pages": max(1, -(-len(doc.text) // PAGE_CHARS)),
        }

    # ---- tools --------------------------------------------------------------------------------
    def submit_task(
        self, envelope: Annotated[Any, WithJsonSchema(_envelope_input_schema())]
    ) -> dict[str, Any]:
        """Submit a task envelope; it is validated exactly as `cockpit submit` validates it.

        Write it as the playbook asks: `goal` in one sentence, objective `acceptance_criteria`, `inputs`
        as repository paths with one-line summaries (never file contents), a `budget`, and the `lane`
        (worktree: its own branch, reviewed before merge). The task lands in the inbox and the human sees
        it in the cockpit; a running supervisor (the cockpit or `cockpit run`) accepts and runs it.
        Asking for `network` or `danger-full-access` opens a decision card for the human first. Returns
        the task id and a `watch` for wait_for_task; an invalid envelope is an error naming the field
        ("invalid envelope: budget.tokens: must be a positive integer").
        """
        board = self.board
        board.init()
        if isinstance(envelope, str):  # an envelope sent as JSON text rather than as an object
            with contextlib.suppress(ValueError):
                envelope = json.loads(envelope)
        if not isinstance(envelope, dict):
            raise EnvelopeError("(envelope)", f"must be an object (got {type(envelope).__name__})")
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
            "watch": Watch(INBOX, None, 0, 0).token,
            "next": f"wait_for_task(task='{task_id}')",
            **({} if supervisor["running"] else {"note": NO_SUPERVISOR}),
        }

    def task_status(
        self,
        task: Annotated[
            str | None, Field(description="A task id or a unique prefix of one; omit for every task.")
        ] = None,
        cursor: Annotated[
            str | None, Field(description="Every task: the next_cursor of the previous page.")
        ] = None,
    ) -> dict[str, Any]:
        """Status of one task, or of every task (a page at a time).

        One task: id, status (queued, running, reviewing, succeeded, failed, blocked, review, merged,
        rejected, conflict, cancelled, awaiting_decision, dead_letter, or "submitted (in the inbox)"),
        settled, decision_id and decision (the pending card: trigger, options, whether you may answer
        it — also while an mcp-lane task runs and Codex waits for an approval), next (what to do now),
        watch (pass it to wait_for_task as `since`), then lane, title, attempts, the last attempt's
        three signals, tokens, message, branch; a cloud task also has cloud {task_id, url, status}.
        """
        supervisor = self._supervisor()
        if task is not None:
            row, _state, card, watch = self._observe(task)
            return {**self._described(row, card, watch, supervisor), "supervisor": supervisor}
        board = self.board
        board.require()
        rows = [tool_row(s) for s in board.summaries()]
        known = {r["id"] for r in rows}
        rows += [tool_row(sub) for i, sub in self._inbox_submissions().items() if i not in known]
        pending = self._decisions().pending()
        by_task = {c.task_id: c.id for c in reversed(pending)}
        listed = [
            {
                "id": r["id"],
                "status": r["status"],
                "settled": r["settled"],
                "decision_id": by_task.get(r["id"], r.get("decision_id")),
                "lane": r["lane"],
                "title": r["title"],
                "attempts": r["attempts"],
                "message": (r["message"] or "")[:200] or None,
                **({"cloud": r["cloud"]} if "cloud" in r else {}),
            }
            for r in rows
        ]
        start = offset_of(cursor, "tasks", 0, len(listed), "task list")
        meta = {
            "count": len(listed),
            "from": start,
            "supervisor": supervisor,
            "pending_decisions": len(pending),
        }
        page, stop = fit_items(meta, "tasks", listed, start)
        return {
            **meta,
            "tasks": page,
            "next_cursor": cursor_of("tasks", stop) if stop is not None else None,
        }

    async def wait_for_task(
        self,
        task: Annotated[str, Field(description="A task id or a unique prefix of one.")],
        timeout_s: Annotated[
            float,
            Field(description=f"How long to wait, in seconds (at most {MAX_WAIT_S:.0f}).", ge=0),
        ] = 600.0,
        since: Annotated[
            str | None,
            Field(
                description=(
                    "The `watch` of an earlier result: return on the next change after it. Omitted: "
                    "return at once if the task already needs you."
                )
            ),
        ] = None,
        ctx: Context | None = None,
    ) -> dict[str, Any]:
        """Wait until a task needs the orchestrator, or until the timeout.

        Returns on any of: the task settles (succeeded, failed, blocked, review — a worktree result
        waiting for the human's merge —, merged, rejected, conflict, cancelled, dead_letter,
        awaiting_decision), a decision card opens for it (also an mcp-lane approval while it runs), an
        attempt fails (even one that is retried), a review round finishes. `changes` says what changed;
        the result is the task's status (as task_status: decision, next, watch) with timed_out. Pass
        `watch` back as `since` to wait for the next change without missing one. Progress
        notifications report each status and keep the call alive. Tasks run only while a supervisor
        runs (the cockpit or `cockpit run`).
        """
        started = time.monotonic()
        timeout_s = min(timeout_s, MAX_WAIT_S)
        deadline = started + timeout_s
        before = Watch.parse(since) if since is not None else None
        row, state, card, watch = await anyio.to_thread.run_sync(self._observe, task)
        if before is None:  # where it stands now, if that needs the orchestrator
            before = watch
            changes = watch.standing(card) if watch.needs_orchestrator else []
        else:
            changes = watch.changes_since(before, state, card)
        state_path: Path | None = None
        pending_dir = self._decisions().pending_dir
        stamps: tuple[Any, ...] = ()
        read_at = time.monotonic()
        reported = ("", -PROGRESS_EVERY_S)
        while not changes and time.monotonic() < deadline:
            if state is not None and state_path is None:
                home = self.board.find_task_dir(state.id) or self.board.task_dir(state.id)
                state_path = home / STATE_FILE
            elapsed = time.monotonic() - started
            if ctx is not None and (
                row["status"] != reported[0] or elapsed - reported[1] >= PROGRESS_EVERY_S
            ):
                reported = (row["status"], elapsed)
                await ctx.report_progress(
                    round(elapsed, 2), timeout_s, f"{row['id']}: {row['status']} ({elapsed:.0f}s)"
                )
            await anyio.sleep(min(WAIT_POLL_S, max(0.0, deadline - time.monotonic())))
            # Stamps are taken before reading, so a write during the read is seen on the next turn.
            now_stamps = (_file_stamp(state_path), _file_stamp(pending_dir))
            if now_stamps != stamps or state is None or time.monotonic() - read_at >= WAIT_REREAD_S:
                stamps = now_stamps
                read_at = time.monotonic()
                row, state, card, watch = await anyio.to_thread.run_sync(self._observe, task)
                changes = watch.changes_since(before, state, card)
        supervisor = self._supervisor()
        result = {
            **self._described(row, card, watch, supervisor),
            "changes": changes,
            "timed_out": not changes,
            "waited_s": round(time.monotonic() - started, 2),
            "supervisor": supervisor,
        }
        if not changes and not supervisor["running"]:
            result["note"] = NO_SUPERVISOR
        if ctx is not None:
            await ctx.report_progress(
                round(time.monotonic() - started, 2), timeout_s, f"{row['id']}: {row['status']}"
            )
        return result

    def list_decisions(
        self,
        cursor: Annotated[str | None, Field(description="The next_cursor of the previous page.")] = None,
    ) -> dict[str, Any]:
        """Pending decision cards: the gates where a task waits for an answer (a page at a time).

        Each card: id, task_id, trigger (repeated_failures, acceptance_failed, unknown_error,
        over_budget, catastrophic, network_access, full_access, protected_paths, merge, codex_approval,
        review_failed, ...), orchestrator_may_answer (whether answer_decision accepts your answer; the
        others are for the human), title, context, risk, options (key, label, action, pros, cons, cost),
        recommended (with why), default (applied if nobody answers by the deadline), deadline.
        """
        self.board.require()
        allowed = self._allowed()
        cards = [card_dict(c, allowed) for c in self._decisions().pending()]
        start = offset_of(cursor, "decisions", 0, len(cards), "decision list")
        meta = {"count": len(cards), "from": start, "orchestrator_may_answer": sorted(allowed)}
        page, stop = fit_items(meta, "decisions", cards, start)
        return {
            **meta,
            "decisions": page,
            "next_cursor": cursor_of("decisions", stop) if stop is not None else None,
        }

    def answer_decision(
        self,
        decision: Annotated[str, Field(description="The card: decision-007, 007 or 7.")],
        option: Annotated[str, Field(description="The option key, e.g. A.")],
        note: Annotated[str, Field(description="Why, kept with the answer for the human.")] = "",
    ) -> dict[str, Any]:
        """Answer a pending decision card as the orchestrator; the supervisor then applies it.

        Allowed only for cards whose trigger the project lists in orchestrator_may_answer (by default
        repeated_failures, acceptance_failed and unknown_error; a task's status says
        orchestrator_may_answer for its card). Budgets, merges, network or full access, protected paths
        and the other triggers are for the human: such an answer is refused with an error and the card
        stays pending.
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
            "next": f"wait_for_task(task='{done.task_id}')",
        }

    def get_diff_summary(
        self,
        task: Annotated[str, Field(description="A task id or a unique prefix of one.")],
        attempt: Annotated[
            int | None,
            Field(
                description=(
                    f"Cloud tasks only: the best-of-N attempt (1-{CLOUD_BEST_OF_MAX}); omit for the branch."
                ),
                json_schema_extra={"minimum": 1, "maximum": CLOUD_BEST_OF_MAX},
            ),
        ] = None,
        cursor: Annotated[str | None, Field(description="The next_cursor of the previous page.")] = None,
    ) -> dict[str, Any]:
        """What a task's diff touches, without its text: each file with its added and removed lines,
        whether it is binary and its size in the patch (chars), and the totals (files, insertions,
        deletions, chars, pages). Read first, then get_task_diff only the files you need (`file`) or
        the whole diff page by page. A cloud task also lists its best-of-N attempts (cloud_attempts).
        """
        state = self._accepted(task)
        base, path, why = self._diff_source(state, attempt)
        if path is None:
            return {**base, "diff": None, "note": why}
        doc = self.texts.read(path, patch=True)
        files = [
            {"path": f.path, "added": f.added, "removed": f.removed, "binary": f.binary, "chars": f.size}
            for f in doc.files
        ]
        start = offset_of(cursor, doc.version, 0, len(files), "diff")
        meta = {
            **base,
            "diff": {**self._diff_totals(doc), "version": doc.version},
            "from": start,
            "how": "get_task_diff(task, file=<path>) for one file, or get_task_diff(task) page by page",
        }
        page, stop = fit_items(meta, "files", files, start)
        return {
            **meta,
            "files": page,
            "next_cursor": cursor_of(doc.version, stop) if stop is not None else None,
        }

    def get_task_diff(
        self,
        task: Annotated[str, Field(description="A task id or a unique prefix of one.")],
        file: Annotated[
            str | None,
            Field(description="Only this file's part of the diff (a path from get_diff_summary)."),
        ] = None,
        cursor: Annotated[
            str | None, Field(description="The next_cursor of the previous page; omit for the first.")
        ] = None,
        attempt: Annotated[
            int | None,
            Field(
                description=(
                    f"Cloud tasks only: the best-of-N attempt (1-{CLOUD_BEST_OF_MAX}) whose diff to "
                    "return instead of the branch's; omit for the branch diff."
                ),
                json_schema_extra={"minimum": 1, "maximum": CLOUD_BEST_OF_MAX},
            ),
        ] = None,
        max_chars: Annotated[
            int,
            Field(description=f"The most diff text per page (at most {PAGE_CHARS}).", ge=1),
        ] = PAGE_CHARS,
    ) -> CallToolResult | dict[str, Any]:
        """One page of the change a task made on its branch (diff.patch, new files included): first a
        JSON block (the totals, this page's place: from/to/of, the files on it, truncated and
        next_cursor), then the page itself as plain text. Pages end at line ends; pass next_cursor
        back for the next one until it is null, or ask for one `file`. A cursor of a diff that changed
        since (a new attempt) is refused: start again. Local-lane tasks change the working tree
        directly and have no diff. A cloud task's result lists its best-of-N attempts
        (cloud_attempts); with `attempt`, that attempt's diff as Codex Cloud returned it (see the
        others before `cockpit pick TASK N` puts one on the branch)."""
        state = self._accepted(task)
        base, path, why = self._diff_source(state, attempt)
        if path is None:
            return {**base, "diff": None, "truncated": False, "next_cursor": None, "note": why}
        doc = self.texts.read(path, patch=True)
        low, high = 0, len(doc.text)
        if file is not None:
            part = doc.file(file.strip())
            if part is None:
                names = ", ".join(f.path for f in doc.files[:LIST_CAP])
                more = f" and {len(doc.files) - LIST_CAP} more" if len(doc.files) > LIST_CAP else ""
                raise CommandError(f"the diff of task {state.id} has no file {file!r} (it has {names}{more})")
            low, high = part.start, part.end
        start = offset_of(cursor, doc.version, low, high, "diff" if file is None else f"diff of {file}")
        totals = {**self._diff_totals(doc), "version": doc.version}

        def meta_of(page: Page) -> dict[str, Any]:
            on_page = doc.files_between(page.start, page.end)
            return {
                **base,
                "diff": totals,
                "page": {
                    "file": file,
                    **page.info(),
                    "files": [f.path for f in on_page[:LIST_CAP]],
                    **({"more_files": len(on_page) - LIST_CAP} if len(on_page) > LIST_CAP else {}),
                },
                "truncated": page.more,
                "next_cursor": cursor_of(doc.version, page.end) if page.more else None,
                "how": "the page follows as text; call again with cursor=next_cursor for the next one"
                if page.more
                else "this is the last page",
            }

        page, meta = page_of(doc.text, start, low, high, meta_of, max_chars)
        return reply(meta, page.text)

    def get_last_message(
        self,
        task: Annotated[str, Field(description="A task id or a unique prefix of one.")],
        attempt: Annotated[
            int | None, Field(description="The attempt number (1, 2, ...); omit for the last.", ge=1)
        ] = None,
        cursor: Annotated[
            str | None, Field(description="The next_cursor of the previous page; omit for the first.")
        ] = None,
    ) -> CallToolResult | dict[str, Any]:
        """The worker's final message (last-message.md) of a task's last attempt, or of the given one:
        first a JSON block (the attempt's outcome as the cockpit parsed it, its three signals, the
        message's size, this page's place, next_cursor), then the message (one page) as plain text.
        Its first line follows the output protocol: COMPLETED:, FAILED: or BLOCKED: and one line of
        detail."""
        state = self._accepted(task)
        if not state.attempts:
            return {
                "task_id": state.id,
                "status": state.status.value,
                "attempt": None,
                "attempts": 0,
                "message": None,
                "next_cursor": None,
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
        base: dict[str, Any] = {
            "task_id": state.id,
            "status": state.status.value,
            "attempt": n,
            "attempts": len(numbers),
            "outcome": chosen.outcome.model_dump(mode="json") if chosen.outcome else None,
            "signals": chosen.signals.model_dump(),
        }
        if not path.exists():
            why = "the attempt is still running" if not chosen.finished else "the worker left no message"
            return {**base, "message": None, "next_cursor": None, "note": why}
        doc = self.texts.read(path)
        start = offset_of(cursor, doc.version, 0, len(doc.text), "message")

        def meta_of(page: Page) -> dict[str, Any]:
            return {
                **base,
                "message": page.info(),
                "truncated": page.more,
                "next_cursor": cursor_of(doc.version, page.end) if page.more else None,
            }

        page, meta = page_of(doc.text, start, 0, len(doc.text), meta_of)
        return reply(meta, page.text)

    def get_review(
        self,
        task: Annotated[str, Field(description="A task id or a unique prefix of one.")],
        round: Annotated[
            int | None, Field(description="The round (1, 2, ...); omit for the last.", ge=1)
        ] = None,
        challenge: Annotated[
            str | None,
            Field(
                description="One challenge in full (its id, e.g. c1): evidence, files, the judge's output."
            ),
        ] = None,
        cursor: Annotated[str | None, Field(description="The next_cursor of the previous page.")] = None,
    ) -> CallToolResult | dict[str, Any]:
        """The cross-family review of a task's result: its status (reviewing, challenged, converged,
        failed, cancelled, skipped), every round in brief (the attempt reviewed, verdict, decision,
        challenges by label), then one round (the last unless `round`) with its challenges: claim,
        file:line, the evidence in one line, the label VALID / NOISE / PARTIAL, who gave it and why, and
        whether the judge's run failed. With `challenge`, that challenge in full as text (evidence files, the
        judge's command and output). A failed round has no verdict: a failed review is never a pass.
        review is null when the task was not reviewed. orchestrator_may_label says whether
        label_challenge is open to you.
        """
        state = self._accepted(task)
        review = state.review
        may_label = board_config(self.board).review.orchestrator_may_label
        base: dict[str, Any] = {
            "task_id": state.id,
            "status": state.status.value,
            "orchestrator_may_label": may_label,
        }
        if review is None:
            return {**base, "review": None, "note": "not reviewed (its lane's review is off, or not yet)"}
        counts = review.counts
        base |= {
            "review_status": review.status,
            "skipped_reason": review.skipped_reason,
            "effort_raised_to": review.effort_raised_to,
            "substantive": {
                "valid": counts.valid,
                "partial": counts.partial,
                "noise": counts.noise,
                "unlabelled": counts.unlabelled,
                "rate": counts.rate,
            },
            "rounds": [
                {
                    "n": r.n,
                    "attempt": r.attempt,
                    "verdict": r.verdict,
                    "failed": r.failed,
                    "decision": r.decision,
                    "challenges": len(r.challenges),
                    "valid": r.counts.valid,
                    "partial": r.counts.partial,
                    "noise": r.counts.noise,
                }
                for r in review.rounds
            ],
        }
        if not review.rounds:
            return {**base, "round": None}
        numbers = [r.n for r in review.rounds]
        chosen = (
            review.rounds[-1] if round is None else next((r for r in review.rounds if r.n == round), None)
        )
        if chosen is None:
            raise CommandError(
                f"task {state.id} has review rounds {', '.join(map(str, numbers))}; there is no round {round}"
            )
        reviewer = chosen.reviewer
        head = {
            "n": chosen.n,
            "attempt": chosen.attempt,
            "head_commit": chosen.head_commit,
            "verdict": chosen.verdict,
            "summary": (chosen.summary or "")[:2000] or None,
            "decision": chosen.decision,
            "failure": chosen.failure,
            "acceptance_passed": chosen.acceptance_passed,
            "tries": chosen.tries,
            "dropped": chosen.dropped,
            "unreadable": len(chosen.unreadable),
            "reviewer": {
                "model": reviewer.model,
                "cost_usd": reviewer.cost_usd,
                "duration_s": reviewer.duration_s,
            },
        }
        if challenge is not None:
            found = next((c for c in chosen.challenges if c.id == challenge.strip()), None)
            if found is None:
                ids = ", ".join(c.id for c in chosen.challenges) or "none"
                raise CommandError(
                    f"round {chosen.n} of task {state.id} has no challenge {challenge!r} (it has {ids})"
                )
            text = challenge_text(found)
            version = text_digest(text)
            start = offset_of(cursor, version, 0, len(text), "challenge")

            def meta_of(page: Page) -> dict[str, Any]:
                return {
                    **base,
                    "round": head,
                    "challenge": challenge_brief(found),
                    "text": page.info(),
                    "truncated": page.more,
                    "next_cursor": cursor_of(version, page.end) if page.more else None,
                }

            page, meta = page_of(text, start, 0, len(text), meta_of)
            return reply(meta, page.text)
        briefs = [challenge_brief(c) for c in chosen.challenges]
        version = f"r{chosen.n}"
        start = offset_of(cursor, version, 0, len(briefs), "review round")
        meta = {**base, "round": head, "from": start}
        page_items, stop = fit_items(meta, "challenges", briefs, start)
        return {
            **meta,
            "challenges": page_items,
            "next_cursor": cursor_of(version, stop) if stop is not None else None,
        }

    async def label_challenge(
        self,
        task: Annotated[str, Field(description="A task id or a unique prefix of one.")],
        challenge: Annotated[str, Field(description="The challenge's id (e.g. c2), from get_review.")],
        label: Annotated[Literal["VALID", "NOISE", "PARTIAL"], Field(description="The label.")],
        reason: Annotated[str, Field(description="Why, in one line: kept with the label for the human.")],
        round: Annotated[
            int | None, Field(description="The round (1, 2, ...); omit for the last.", ge=1)
        ] = None,
    ) -> dict[str, Any]:
        """Label a challenge of the cross-family review as the orchestrator: VALID (fix it), PARTIAL
        (narrow it), NOISE (discard it).

        Only when the project turns on [review] orchestrator_may_label (get_review says
        orchestrator_may_label), and only challenges the judge could not decide: one the judge labelled
        from evidence it ran, a human's label and the cockpit's own findings stay as they are (the
        refusal says why). Goes through the supervisor when one runs, like the CLI's commands.
        """
        board = self.board
        board.require()
        if not board_config(board).review.orchestrator_may_label:
            raise CommandError(
                "the orchestrator may not label challenges: [review] orchestrator_may_label is off in "
                ".cockpit/config.toml (the human labels them in the cockpit)"
            )
        state = self._accepted(task)
        said = await anyio.to_thread.run_sync(
            functools.partial(
                run_task_command,
                board,
                "label",
                state.id,
                challenge=challenge.strip(),
                label=label,
                reason=reason,
                round=round,
                by="orchestrator",
            )
        )
        return {
            "task_id": state.id,
            "challenge": challenge.strip(),
            "label": label,
            "round": round,
            "by": "orchestrator",
            "result": said,
            "next": f"get_review(task='{state.id}') shows it; wait_for_task for the next round",
        }


READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)
WRITES = {
    "submit_task": ToolAnnotations(
        read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=False
    ),
    "answer_decision": ToolAnnotations(
        read_only_hint=False, destructive_hint=True, idempotent_hint=False, open_world_hint=False
    ),
    "label_challenge": ToolAnnotations(
        read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False
    ),
}


def build_server(repo: Path) -> MCPServer:
    """An MCP server with the cockpit's tools over the blackboard of ``repo``."""
    tools = CockpitTools(repo)
    server: MCPServer = MCPServer(SERVER_NAME, instructions=INSTRUCTIONS, log_level="WARNING")
    for name in TOOL_NAMES:
        fn = getattr(tools, name)
        server.add_tool(
            as_tool(fn),
            description=inspect.cleandoc(fn.__doc__ or ""),
            annotations=WRITES.get(name, READ_ONLY),
            structured_output=False,  # one copy on the wire: the text blocks (see mcp_results)
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
