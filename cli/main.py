"""Entry point of the ``cockpit`` command: argument parsing and dispatch to the core.

Exit codes: 0 success, 1 a task or check failed (or the disk is full), 2 bad usage or invalid input (one
line naming the field). Output is plain text, or JSON with ``--json``; nothing here draws a UI. Every
string shown, in text or JSON, goes through :func:`cockpit.core.text.clean` (no terminal control
sequences, secrets masked).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cockpit.core import (
    ATTEMPT_EVENTS_FILE,
    BOARD_EVENTS_FILE,
    BREAKERS_DIR,
    CONFIG_FILE,
    DEAD_LETTERS_DIR,
    EFFORTS,
    EXIT_FAIL,
    EXIT_FILE,
    EXIT_OK,
    LANE_NAMES,
    LEDGER_FILE,
    SANDBOXES,
    Blackboard,
    BlackboardError,
    CockpitError,
    InputError,
    check_task_ref,
    clean,
    clean_data,
    disk_error_text,
    disk_full,
    exit_code_of,
    one_line,
)

if TYPE_CHECKING:
    from cockpit.core import TaskState, TaskSummary


class UsageError(InputError):
    """Bad usage or invalid input: printed as one line, exit 2."""


def _board(args: argparse.Namespace) -> Blackboard:
    return Blackboard(Path(args.repo or os.getcwd()))


def _print_json(obj: Any) -> None:
    print(json.dumps(clean_data(obj), indent=2, ensure_ascii=False))


def _say(text: str) -> None:
    """Print text that may carry worker or user input: cleaned first."""
    print(clean(text))


def _cell(value: object) -> str:
    """One table cell: cleaned, on one line."""
    return " ".join(clean(str(value)).split())


@functools.lru_cache(maxsize=256)
def _word_cell(value: object) -> str:
    """:func:`_cell` for the few values a column repeats (lanes, states, signals), remembered."""
    return _cell(value)


# ---- commands ---------------------------------------------------------------------------------


def cmd_init(args: argparse.Namespace) -> int:
    board = _board(args)
    created = board.init()
    print(f"{'created' if created else 'already initialised'}: {board.root}")
    return EXIT_OK


def cmd_submit(args: argparse.Namespace) -> int:
    from cockpit.core import envelope_from_mapping, load_envelope, submit

    board = _board(args)
    board.init()
    if args.file:
        envelope = load_envelope(Path(args.file))
        overrides = {k: v for k, v in _flag_fields(args).items() if k != "goal" or v}
        if overrides:
            data = envelope.model_dump(mode="json", exclude_unset=True)
            data.update(overrides)
            envelope = envelope_from_mapping(data)
    else:
        fields = _flag_fields(args)
        if not fields.get("goal"):
            raise UsageError("invalid envelope: goal: give an envelope FILE or --goal TEXT")
        envelope = envelope_from_mapping(fields)
    if "lane" not in envelope.model_fields_set:
        from cockpit.core import board_config

        envelope = envelope.model_copy(update={"lane": board_config(board).default_lane})
    task_id = submit(board, envelope)
    print(task_id)
    return EXIT_OK


def _flag_fields(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in (
        "goal",
        "lane",
        "effort",
        "sandbox",
        "model",
        "risk_level",
        "title",
        "kind",
        "cloud_env",
        "attempts",
        "branch",
    ):
        value = getattr(args, name, None)
        if value is not None:
            out[name] = value
    budget: dict[str, Any] = {}
    if args.budget_tokens is not None:
        budget["tokens"] = args.budget_tokens
    if args.budget_tool_calls is not None:
        budget["tool_calls"] = args.budget_tool_calls
    if args.budget_time is not None:
        budget["wall_time"] = args.budget_time
    if budget:
        out["budget"] = budget
    if args.accept:
        out["acceptance_criteria"] = args.accept
    if args.input:
        out["inputs"] = args.input
    if args.output:
        out["output"] = {"path": args.output}
    if args.stop_if:
        out["stop_conditions"] = args.stop_if
    return out


def cmd_run(args: argparse.Namespace) -> int:
    import asyncio

    from cockpit.core import Supervisor

    board = _board(args)
    board.init()
    supervisor = Supervisor(board)
    loop = asyncio.new_event_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, supervisor.stop)
    try:
        loop.run_until_complete(supervisor.run(until_idle=args.until_idle))
    finally:
        loop.close()
    if args.until_idle:
        print_status(board)
        failed = [s for s in board.summaries() if s.status.value in ("failed", "blocked")]
        return EXIT_FAIL if failed else EXIT_OK
    return EXIT_OK


def status_rows(
    board: Blackboard, summaries: list[TaskSummary] | None = None, *, archived: bool = False
) -> list[dict[str, Any]]:
    """One row per live task, oldest first (``summaries``, else from the task index: no task's full
    state is read), then one per submission still waiting in the inbox. With ``archived``, archived
    tasks' rows (marked ``"archived": true``) are listed among the live ones in order of creation."""
    if summaries is None:
        summaries = board.summaries(archived=archived)
    gone = _archived_ids(board, summaries) if archived else set()
    from cockpit.core import status_row

    rows = [{**status_row(s), "archived": True} if s.id in gone else status_row(s) for s in summaries]
    return rows + _inbox_rows(board)


def _archived_ids(board: Blackboard, summaries: list[TaskSummary]) -> set[str]:
    """Which of ``summaries`` are archived tasks (a task archived while it was read counts as such)."""
    return {s.id for s in summaries if board.is_archived(s.id)}


def _inbox_rows(board: Blackboard) -> list[dict[str, Any]]:
    from cockpit.core import status_row, submissions

    return [status_row(s) for s in submissions(board)]


@functools.lru_cache(maxsize=64)
def _signals_words(code: object, turn: bool, msg: bool) -> str:
    exit_part = "exit ?" if code is None else f"exit {code}"
    mark = {True: "✓", False: "✗"}
    return f"{exit_part} {mark[code == 0] if code is not None else '·'} turn {mark[turn]} msg {mark[msg]}"


STATUS_HEADER = ("ID", "LANE", "STATE", "ATT", "SIGNALS", "TOKENS in/out", "TITLE")


def row_cells(r: dict[str, Any]) -> tuple[str, ...]:
    """A ``status`` row (see :func:`status_rows`) as the table's cells."""
    sig, u = r["signals"], r["usage"]
    return (
        _cell(r["id"]),
        _word_cell(r["lane"]),
        _word_cell(r["state"]),
        str(r["attempts"]),
        _signals_words(sig.get("exit_code"), bool(sig.get("turn_completed")), bool(sig.get("last_message"))),
        f"{u['input_tokens']}/{u['output_tokens']}",
        _cell(r.get("title") or "")[:48],
    )


def summary_cells(t: TaskSummary, archived: bool = False) -> tuple[str, ...]:
    """:func:`row_cells` of ``status_row(t)``, without building the row."""
    sig = t.signals
    return (
        _cell(t.id),
        _word_cell(t.lane),
        _word_cell(t.status.value) + (" (archived)" if archived else ""),
        str(t.attempts),
        _signals_words(sig.exit_code, sig.turn_completed, sig.last_message),
        f"{t.usage.input_tokens}/{t.usage.output_tokens}",
        _cell(t.title or "")[:48],
    )


def status_table(cells: list[tuple[str, ...]]) -> str:
    """The ``status`` table: a header, then one line per row of cells, columns padded to fit."""
    table = [STATUS_HEADER, *cells]
    widths = [max(len(row[i]) for row in table) for i in range(len(STATUS_HEADER))]
    return "\n".join("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in table)


def print_status(board: Blackboard, *, archived: bool = False) -> None:
    summaries = board.summaries(archived=archived)
    gone = _archived_ids(board, summaries) if archived else set()
    live = [t for t in summaries if t.id not in gone]
    cells = [summary_cells(t, t.id in gone) for t in summaries]
    cells += [row_cells(r) for r in _inbox_rows(board)]
    if not cells:
        print("no tasks")
        return
    sys.stdout.write(status_table(cells) + "\n")
    pid = board.supervisor_pid()
    print(
        f"\nsupervisor: {'running (pid ' + str(pid) + ')' if pid else 'not running'}"
        f"   quarantined files: {len(board.quarantined())}"
    )
    for line in health_lines(board, live):
        print(line)


def health_lines(board: Blackboard, summaries: list[TaskSummary] | None = None) -> list[str]:
    """Breakers, pending decisions, dead letters and the escalation rate, one line each (``summaries``:
    the live tasks, when the caller has them already)."""
    import random as _random
    import time as _time

    from cockpit.core import FINISHED, BreakerStore, DeadLetterQueue, escalation_rate

    if summaries is None:
        summaries = board.summaries()

    lines = []
    breakers = BreakerStore(board.root / BREAKERS_DIR, _time.time, _random.Random()).all()
    if breakers:
        lines.append("breakers: " + ", ".join(f"{b.provider} {b.state.value}" for b in breakers))
    store = _decision_store(board)
    pending = store.pending()
    if pending:
        lines.append(f"decisions pending: {len(pending)} ({', '.join(c.id for c in pending[:5])})")
    letters = DeadLetterQueue(board.root / DEAD_LETTERS_DIR, _time.time).list()
    if letters:
        lines.append(f"dead letters: {len(letters)} (cockpit dlq)")
    gated = {c.task_id for c in pending + store.resolved() if c.trigger != "merge"}
    decided = {s.id for s in summaries if s.status in FINISHED or s.id in gated}
    archived = board.archived_task_ids()
    decided.update(archived)  # archived tasks are finished ones: still counted
    rate, reading = escalation_rate(len(gated), len(decided))
    if rate is not None:
        lines.append(f"escalation rate: {rate:.0%} of {len(decided)} tasks — {reading} (aim: 10–15 %)")
    if archived:
        lines.append(f"archived tasks: {len(archived)} (cockpit status --all)")
    lines += _reviewer_lines(board, summaries)
    return lines


def _reviewer_lines(board: Blackboard, summaries: list[TaskSummary]) -> list[str]:
    """The cross-family reviewer's substantive rate over the last reviews (the states of at most the
    last 50 reviewed tasks are read); under 20 % it says the prompt needs work. And, while Claude Code's
    latest limit says ``rejected``, that new reviews wait for its reset."""
    import time as _time

    from cockpit.core import claude_limits_store, recent_reviewer_health

    lines = []
    health = recent_reviewer_health(board, summaries)
    if health.reviews:
        lines.append(f"reviewer: {health.message}")  # says when the reviewer's prompt needs work
    now = _time.time()
    limits = claude_limits_store(board).read()
    until = limits.blocked_until(now)
    if until is not None and limits.current is not None:
        what = f"{limits.current.label} limit" if limits.current.label else "usage limit"
        lines.append(
            f"claude: the reviewer's {what} is reached; new reviews wait until "
            f"{_time.strftime('%Y-%m-%d %H:%M', _time.localtime(until))}"
        )
    return lines


def cmd_status(args: argparse.Namespace) -> int:
    board = _board(args)
    board.require()
    if args.json:
        _print_json(status_rows(board, archived=args.all))
    else:
        print_status(board, archived=args.all)
    return EXIT_OK


def cmd_show(args: argparse.Namespace) -> int:
    board = _board(args)
    board.require()
    task_id = board.resolve_task(args.task, archived=True)
    state = board.read_state(task_id, archived=True)
    if state is None:
        raise BlackboardError(f"task {task_id} has no readable state (see .cockpit/quarantine/)")
    envelope = board.read_envelope(task_id, archived=True)
    archived = board.is_archived(task_id)
    events = [e for e in board.read_jsonl(BOARD_EVENTS_FILE) if e.get("task_id") == task_id]
    if args.json:
        shown = {
            "state": state.model_dump(mode="json"),
            "envelope": envelope.model_dump(mode="json") if envelope else None,
            "events": events,
        }
        _print_json({**shown, "archived": True} if archived else shown)
        return EXIT_OK
    print(f"{state.id}  [{state.lane}]  {state.status.value}{'  (archived)' if archived else ''}")
    _say(f"  {state.title}")
    if state.message:
        _say(f"  {state.message}")
    if state.branch:
        print(f"  branch {state.branch} from {state.base_branch or '?'}@{(state.base_commit or '')[:10]}")
    if state.diff:
        print(f"  diff: {state.diff.files} files +{state.diff.insertions} -{state.diff.deletions}")
    print(
        f"  thread {state.thread_id or '-'}   usage in {state.usage.input_tokens} "
        f"(cached {state.usage.cached_input_tokens}) out {state.usage.output_tokens}"
    )
    for a in state.attempts:
        p = a.progress
        print(
            f"  attempt {a.n} ({a.kind}{', resumed' if a.resumed_thread else ''}): "
            f"{_signals_words(a.signals.exit_code, a.signals.turn_completed, a.signals.last_message)}"
            f"  commands {p.commands} (failed {p.commands_failed})  files {len(p.file_changes)}"
            f"  parse errors {p.parse_errors}"
        )
        if a.cloud is not None:
            c = a.cloud
            _say(f"    Codex Cloud: {c.task_id or '(submitting)'} {c.status}  env {c.env}  {c.url or ''}")
            for r in c.results:
                mark = "▸" if r.chosen else " "
                paths = ", ".join(r.paths[:3])
                _say(f"    {mark} attempt {r.n}: {r.files} files +{r.insertions} -{r.deletions}  {paths}")
        if a.error:
            _say(f"    error: {a.error}")
        if a.outcome and a.outcome.status:
            _say(f"    outcome: {a.outcome.status}: {a.outcome.detail}")
    _show_review(state)
    for e in events[-10:]:
        if e.get("line"):
            _say(f"  {str(e.get('ts', ''))[:19]}  {e['line']}")
    return EXIT_OK


def _show_review(state: TaskState) -> None:
    """The cross-family review's rounds and challenges, one line each (``show --json`` has them all)."""
    review = state.review
    if review is None:
        return
    rate = review.substantive_rate
    print(
        f"  review: {review.status}"
        + (f" ({review.skipped_reason})" if review.skipped_reason else "")
        + (f"  substantive {rate:.0%}" if rate is not None else "")
        + (f"  effort raised to {review.effort_raised_to}" if review.effort_raised_to else "")
    )
    for r in review.rounds:
        tries = f", {r.tries} tries" if r.tries > 1 else ""
        outcome = r.decision or r.failure or "under way"
        _say(f"    round {r.n} (attempt {r.attempt}{tries}): {r.verdict}; {one_line(outcome)}")
        for c in r.challenges:
            where = f" {c.where}" if c.where else ""
            _say(f"      [{c.label or 'unlabelled'}] {c.kind}{where}: {one_line(c.claim)}")
            if c.label_reason:
                _say(f"        {c.labelled_by or 'judge'}: {one_line(c.label_reason)}")


def cmd_log(args: argparse.Namespace) -> int:
    from cockpit.core import EventTailer, render_event

    board = _board(args)
    board.require()
    task_id = board.resolve_task(args.task, archived=True)
    state = board.read_state(task_id, archived=True)
    if state is None or not state.attempts:
        print(f"task {task_id} has no attempts yet")
        return EXIT_OK
    n = args.attempt or state.attempts[-1].n
    path = board.attempt_dir(task_id, n, archived=True) / ATTEMPT_EVENTS_FILE
    if args.raw and not args.follow:
        sys.stdout.buffer.write(path.read_bytes() if path.exists() else b"")
        return EXIT_OK
    tailer = EventTailer(path)

    def emit(events: list[Any]) -> None:
        for event in events:
            if args.raw:
                print(event.model_dump_json())
            else:
                for line in render_event(event):
                    print(line)
        sys.stdout.flush()

    if args.follow:
        exit_path = path.parent / EXIT_FILE

        async def follow() -> None:
            async for event in tailer.follow(stop=exit_path.exists):
                emit([event])

        import asyncio

        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(follow())
    else:
        emit(tailer.read_new())
        emit(tailer.flush())
    if tailer.parse_errors:
        print(f"({tailer.parse_errors} lines could not be parsed)", file=sys.stderr)
    return EXIT_OK


def cmd_archive(args: argparse.Namespace) -> int:
    import time

    from cockpit.core import ArchiveSelection, parse_age, parse_states, run_archive, span

    board = _board(args)
    board.require()
    try:
        older = parse_age(args.older_than) if args.older_than is not None else None
    except ValueError as exc:
        raise UsageError(f"invalid --older-than {args.older_than!r}: {exc}") from exc
    try:
        states = parse_states(args.state) if args.state is not None else None
    except ValueError as exc:
        raise UsageError(f"invalid --state: {exc}") from exc
    ids = [board.resolve_task(ref, archived=True) for ref in args.tasks]
    selection = ArchiveSelection(task_ids=ids, older_than_s=older, states=states, dry_run=args.dry_run)
    report = run_archive(board, selection)
    if args.json:
        _print_json(report.model_dump(mode="json"))
        return EXIT_FAIL if report.refused else EXIT_OK
    verb = "would archive" if report.dry_run else "archived"
    now = time.time()
    for done in report.archived:
        age = span(now - done.updated_at.timestamp())
        print(f"{verb} {done.task_id}  {done.status.value}, last changed {age} ago")
        if done.note:
            _say(f"  {done.note}")
    for task_id in report.already_archived:
        print(f"already archived {task_id}")
    for kept in report.kept:
        _say(f"kept {kept.task_id}: {kept.reason}")
    if not (report.archived or report.already_archived or report.kept or report.refused):
        print("nothing to archive")
    elif report.dry_run:
        print(f"{len(report.archived)} would be archived (dry run: nothing moved)")
    for refused in report.refused:
        _fail(f"not archived: {refused.task_id}: {refused.reason}")
    return EXIT_FAIL if report.refused else EXIT_OK


def run_task_command(board: Blackboard, kind: str, task_ref: str, **args: Any) -> str:
    """:func:`cockpit.core.commands.run_task_command`, imported when a task command runs."""
    from cockpit.core import run_task_command as run

    return run(board, kind, task_ref, **args)


def _task_command(kind: str, **extra: Any):
    def run(args: argparse.Namespace) -> int:
        board = _board(args)
        fields = {k: getattr(args, k) for k in extra}
        _say(run_task_command(board, kind, args.task, **fields))
        return EXIT_OK

    return run


def cmd_label(args: argparse.Namespace) -> int:
    """Label one challenge of a task's review as the human: the label is checked here (exit 2 naming
    it), who may overturn what by the core."""
    word = args.label.strip().upper()
    if word not in ("VALID", "PARTIAL", "NOISE"):
        raise UsageError(f"invalid LABEL {args.label!r}: VALID, PARTIAL or NOISE")
    if args.round is not None and args.round < 1:
        raise UsageError(f"invalid --round {args.round}: a round number, 1 or more")
    board = _board(args)
    fields = {"challenge": args.challenge, "label": word, "reason": args.reason or "", "by": "human"}
    _say(run_task_command(board, "label", args.task, round=args.round, **fields))
    return EXIT_OK


def _decision_store(board: Blackboard):
    from cockpit.core import DecisionStore, utc_now

    return DecisionStore(board.root, utc_now, on_corrupt=board.quarantine, on_event=board.log_event)


def cmd_decisions(args: argparse.Namespace) -> int:
    from cockpit.core import render_markdown

    board = _board(args)
    board.require()
    cards = _decision_store(board).pending()
    if args.json:
        _print_json([c.model_dump(mode="json") for c in cards])
        return EXIT_OK
    if not cards:
        print("no pending decisions")
    for card in cards:
        _say(render_markdown(card))
        print()
    return EXIT_OK


def cmd_decide(args: argparse.Namespace) -> int:
    board = _board(args)
    board.require()
    card = _decision_store(board).answer(args.decision, args.option, by="human", note=args.note or "")
    res = card.resolved
    assert res is not None
    option = card.option(res.option) if res.option else None
    _say(f"{card.id}: {res.option} — {option.label if option else '?'} ({res.action})")
    pid = board.supervisor_pid()
    print("the supervisor applies it now" if pid else "applied when a supervisor runs (`cockpit run`)")
    return EXIT_OK


def cmd_dlq(args: argparse.Namespace) -> int:
    import time as _time

    from cockpit.core import DeadLetterQueue

    board = _board(args)
    board.require()
    queue = DeadLetterQueue(board.root / DEAD_LETTERS_DIR, _time.time, on_corrupt=board.quarantine)
    letters = queue.list(include_archived=args.all)
    if args.json:
        _print_json([letter.model_dump(mode="json") for letter in letters])
        return EXIT_OK
    if not letters:
        print("no dead letters")
    for letter in letters:
        when = (
            _time.strftime("%Y-%m-%d %H:%M", _time.localtime(letter.retry_after))
            if letter.retry_after
            else "by hand (cockpit retry)"
        )
        print(
            f"{letter.task_id}  {letter.error_type}  attempts {letter.attempts}  priority {letter.priority}  "
            f"retry {when}"
        )
        _say(f"    {_cell(letter.error)[:160]}")
    return EXIT_OK


def cmd_usage(args: argparse.Namespace) -> int:
    import time as _time

    from cockpit.core import Ledger, budget_lines, shared_watcher, usage_summary

    board = _board(args)
    board.require()
    now = _time.time()
    summary = usage_summary(
        board,
        shared_watcher(board.root),
        Ledger(board.root / LEDGER_FILE),
        now,
    )
    if args.json:
        _print_json(
            {
                "windows": summary.windows.model_dump(mode="json"),
                "claude": summary.claude.model_dump(mode="json"),
                "usage": summary.report.model_dump(mode="json"),
                "budget": summary.budget.model_dump(mode="json"),
                "reviewer": None
                if summary.reviewer is None
                else {
                    "reviews": summary.reviewer.reviews,
                    "rate": summary.reviewer.rate,
                    "needs_better_prompt": summary.reviewer.needs_better_prompt,
                    "message": summary.reviewer.message,
                },
            }
        )
        return EXIT_OK
    print("Codex credit windows (from its rollout files):")
    for line in summary.windows.to_lines(now, tz=summary.tz):
        print(f"  {line}")
    print("Claude Code credit windows (from the reviewer's rate_limit_event lines):")
    for line in summary.claude.to_lines(now, tz=summary.tz):
        print(f"  {line}")
    print()
    for line in summary.report.to_lines():
        print(line)
    print()
    print("By model family (today · this week):")
    for line in summary.report.family_lines():
        print(f"  {line}")
    if summary.reviewer is not None:
        print(f"  reviewer: {summary.reviewer.message}")
    budget = budget_lines(summary)
    if budget:
        print()
        for line in budget:
            print(line)
    return EXIT_OK


def cmd_doctor(args: argparse.Namespace) -> int:
    from cockpit.core import run_checks

    results = run_checks(Path(args.repo or os.getcwd()))
    if args.json:
        _print_json([r.__dict__ for r in results])
    else:
        for r in results:
            print(f"{'ok  ' if r.ok else 'warn' if r.warning else 'FAIL'}  {r.name:<10} {r.detail}")
    return EXIT_FAIL if any(r.fails for r in results) else EXIT_OK


def cmd_trust(args: argparse.Namespace) -> int:
    """Trust the board's config file as it is now (or revoke that): only then may it name programs."""
    from cockpit.core import CODE_SETTINGS, ConfigError, file_digest, revoke_trust, trust_file

    board = _board(args)
    path = board.root / CONFIG_FILE
    if args.revoke:
        print(f"{'revoked' if revoke_trust(path) else 'was not trusted'}: {path}")
        return EXIT_OK
    if file_digest(path) is None:
        print(f"nothing to trust: no config at {path}")
        return EXIT_OK
    import tomllib

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError("(file)", f"{path}: {exc}") from exc
    runs = [f"{k} = {data[k]!r}" for k in CODE_SETTINGS if k in data]
    digest = trust_file(path)
    print(f"trusted: {path} (sha256 {digest[:12]})")
    for line in runs:
        print(f"  runs code: {line}")
    return EXIT_OK


EXIT_GRACE_S = 5.0


def _leave_after_ui(code: int) -> int:
    """After the full-screen UI has quit and cleaned up, the process must end even if a background
    thread of the UI (a board snapshot, a lexer lookup) is still busy: give the interpreter a few
    seconds to exit normally, then end it, naming what held it."""

    def force() -> None:
        busy = [t.name for t in threading.enumerate() if t is not threading.current_thread() and t.is_alive()]
        held = ", ".join(busy) or "nothing"
        print(f"cockpit: exit held by {held}; ending now", file=sys.stderr, flush=True)
        os._exit(code)

    timer = threading.Timer(EXIT_GRACE_S, force)
    timer.daemon = True
    timer.start()
    return code


def cmd_demo(args: argparse.Namespace) -> int:
    if args.headless:
        from cockpit.demo.headless import run_demo

        return run_demo(print_status, keep=args.keep)
    from cockpit.demo.interactive import run_interactive_demo

    return _leave_after_ui(run_interactive_demo(keep=args.keep))


def cmd_mcp(args: argparse.Namespace) -> int:
    """Serve the cockpit's tools over MCP on stdio; ``--print-config`` prints how to add it to Claude
    Code instead."""
    repo = Path(args.mcp_repo or args.repo or os.getcwd())
    if args.print_config:
        from cockpit.cli.mcp_setup import print_config

        return print_config(repo)
    from cockpit.cli.mcp_server import serve

    return serve(repo)


def cmd_serve(args: argparse.Namespace) -> int:
    """The cockpit in a browser (``cockpit.cli.serve``): one viewer per connection, behind a token."""
    from cockpit.cli.serve import serve

    return serve(Path(args.repo or os.getcwd()), args.host, args.port)


def cmd_hook(args: argparse.Namespace) -> int:
    """Hooks other tools call: ``codex-notify`` takes Codex's ``notify`` payload (JSON, last argument)."""
    from cockpit.cli.hooks import codex_notify

    try:
        here = Path(args.repo or os.getcwd())
    except OSError:  # Codex's working directory may be gone; the hook still must not disturb it
        here = Path("/")
    return codex_notify(here, args.payload)


def cmd_default(args: argparse.Namespace) -> int:
    """The full-screen cockpit over the repo (hosting the supervisor, or watching a headless one)."""
    from cockpit.tui.app import CockpitApp

    if args.task is not None:
        check_task_ref(args.task)  # a malformed --task is bad usage before any screen opens
    CockpitApp(Path(args.repo or os.getcwd()), open_task=args.task).run()
    return _leave_after_ui(EXIT_OK)


# ---- parser -----------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cockpit", description="Supervise real Codex CLI workers.")
    parser.add_argument("--repo", help="the repository (default: the current directory)")
    parser.add_argument(
        "--task", help="open this task's live view at start: an id or a 4+ character prefix (full-screen)"
    )
    parser.set_defaults(func=cmd_default)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    sub.add_parser("init", help="create the board (in the repo's git dir; idempotent)").set_defaults(
        func=cmd_init
    )
    p = sub.add_parser("trust", help="trust the board's config.toml as it is now (it may then name programs)")
    p.add_argument("--revoke", action="store_true", help="withdraw the trust")
    p.set_defaults(func=cmd_trust)

    p = sub.add_parser("submit", help="submit an envelope (file or flags); prints the task id")
    p.add_argument("file", nargs="?", help="envelope: .toml, .json, .md (front matter), .yaml")
    p.add_argument("--goal")
    p.add_argument("--title")
    p.add_argument("--lane", choices=LANE_NAMES)
    p.add_argument("--effort", choices=EFFORTS)
    p.add_argument("--sandbox", choices=SANDBOXES)
    p.add_argument("--model")
    p.add_argument("--kind")
    p.add_argument("--risk-level", dest="risk_level", choices=["low", "medium", "high"])
    p.add_argument("--budget-tokens", type=int)
    p.add_argument("--budget-tool-calls", type=int)
    p.add_argument("--budget-time", help="wall time, e.g. 20m")
    p.add_argument("--accept", action="append", help="an acceptance criterion (repeatable)")
    p.add_argument("--input", action="append", help="an input path, optionally 'path: summary' (repeatable)")
    p.add_argument("--output", help="output path")
    p.add_argument("--stop-if", dest="stop_if", action="append", help="a stop condition (repeatable)")
    p.add_argument("--env", dest="cloud_env", help="cloud lane: the Codex Cloud environment (id or label)")
    p.add_argument("--attempts", type=int, help="cloud lane: best-of-N attempts, 1-4")
    p.add_argument("--branch", help="cloud lane: the branch the cloud task starts from")
    p.set_defaults(func=cmd_submit)

    p = sub.add_parser("run", help="headless supervisor")
    p.add_argument("--until-idle", action="store_true", help="stop when nothing is queued or running")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("status", help="one row per live task (--all: archived ones too)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--all", action="store_true", help="include archived tasks (marked archived)")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("show", help="state, attempts, three signals, usage, events")
    p.add_argument("task")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("log", help="rendered or raw Codex events of a task")
    p.add_argument("task")
    p.add_argument("--raw", action="store_true")
    p.add_argument("--follow", "-f", action="store_true")
    p.add_argument("--attempt", type=int)
    p.set_defaults(func=cmd_log)

    for name, help_text in (
        ("merge", "merge a reviewed worktree task into its base branch"),
        ("retry", "run a dead-lettered or failed task again now"),
        ("reject", "discard a task's worktree and branch"),
        ("cancel", "stop a task (interrupts its turn)"),
    ):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("task")
        p.set_defaults(func=_task_command(name))

    p = sub.add_parser(
        "archive",
        help="move finished tasks off the live board to its archive/ (still read by show, log, status --all)",
        description="Move finished tasks (succeeded, merged, rejected, failed, cancelled, and dead letters "
        "no longer retried) from the board's tasks/ to archive/. Named tasks, else every live one; both "
        "narrowed by --older-than and --state. Tasks that run, wait or are in review are refused. "
        "Exit 1 when a named task was refused.",
    )
    p.add_argument("tasks", nargs="*", metavar="TASK", help="task ids or 4+ character prefixes")
    p.add_argument(
        "--older-than", dest="older_than", metavar="AGE", help="last changed over AGE ago: 30m 12h 7d 2w"
    )
    p.add_argument("--state", metavar="STATES", help="a comma list, e.g. succeeded,merged,rejected,failed")
    p.add_argument(
        "--dry-run", dest="dry_run", action="store_true", help="list what would move; move nothing"
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_archive)

    p = sub.add_parser("pick", help="cloud lane, best-of-N: put attempt N on the task's branch for review")
    p.add_argument("task")
    p.add_argument("attempt", type=int, help="the attempt number, 1-4")
    p.set_defaults(func=_task_command("pick", attempt=True))

    p = sub.add_parser("revise", help="send a task back with feedback (resumes its Codex thread)")
    p.add_argument("task")
    p.add_argument("--feedback", required=True)
    p.set_defaults(func=_task_command("revise", feedback=True))

    p = sub.add_parser(
        "label",
        help="label a challenge of a task's cross-family review VALID, PARTIAL or NOISE (as the human)",
        description="Label challenge CHALLENGE (c1, c2, retreat-1 …) of the task's last review round, or of "
        "round N, as the human (over the judge's label too). The task's status is unchanged; a send-back "
        "carries its VALID and PARTIAL challenges. Exit 2 for an invalid LABEL, 1 when refused.",
    )
    p.add_argument("task")
    p.add_argument("challenge", metavar="CHALLENGE", help="the challenge's id, e.g. c2")
    p.add_argument("label", metavar="LABEL", help="VALID, PARTIAL or NOISE")
    p.add_argument("--reason", metavar="TEXT", help="why (kept with the label)")
    p.add_argument("--round", type=int, metavar="N", help="the review round (default: the last)")
    p.set_defaults(func=cmd_label)

    p = sub.add_parser("decisions", help="pending decision cards")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_decisions)

    p = sub.add_parser("decide", help="answer a pending decision card with one option letter")
    p.add_argument("decision", help="decision-007, 007 or 7")
    p.add_argument("option", help="the option letter, e.g. B")
    p.add_argument("--note", help="a note kept with the answer")
    p.set_defaults(func=cmd_decide)

    p = sub.add_parser("dlq", help="dead letters")
    p.add_argument("--json", action="store_true")
    p.add_argument("--all", action="store_true", help="include archived letters")
    p.set_defaults(func=cmd_dlq)

    p = sub.add_parser("usage", help="credit windows, today's and this week's tokens by lane and effort")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_usage)

    p = sub.add_parser("doctor", help="codex binary and version, sandbox, claude code, git, config")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_doctor)

    p = sub.add_parser("mcp", help="serve the cockpit over MCP on stdio (for an orchestrator)")
    p.add_argument("--repo", dest="mcp_repo", help="the repository (as the global --repo)")
    p.add_argument(
        "--print-config",
        action="store_true",
        help="print the `claude mcp add-json` line and the .mcp.json block for this cockpit, and exit",
    )
    p.set_defaults(func=cmd_mcp)

    p = sub.add_parser(
        "serve",
        help="the cockpit in a browser, behind a token (loopback unless --host says otherwise)",
        description="Serve the cockpit over HTTP and a WebSocket: each browser tab runs its own cockpit, "
        "a viewer of the board (a supervisor is started when none holds it). The URL printed at start "
        "carries the token (random, or COCKPIT_SERVE_TOKEN); nothing is served without it.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 picks a free one)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("hook", help="entry points for other tools' hooks")
    hooks = p.add_subparsers(dest="hook", metavar="HOOK", required=True)
    h = hooks.add_parser("codex-notify", help="record a Codex `notify` payload (agent-turn-complete)")
    h.add_argument("payload", help="the JSON payload Codex passes as the last argument")
    h.set_defaults(func=cmd_hook)

    p = sub.add_parser("demo", help="a throwaway repo driven by the scripted model and the real Codex")
    p.add_argument("--headless", action="store_true", help="no TUI: run the tasks, print the status")
    p.add_argument("--keep", action="store_true", help="keep the throwaway repo and print its path")
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `cockpit log X | head` ends quietly
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse already printed its one line
        return int(exc.code or 0)
    try:
        return int(args.func(args))
    except CockpitError as exc:  # input → 2, refused, Codex or Claude Code → 1 (core/errors.py)
        _fail(str(exc))
        return exit_code_of(exc)
    except OSError as exc:
        if not disk_full(exc):
            raise
        # Every write is atomic (or a whole line): the one that failed left nothing behind.
        _fail(f"{disk_error_text(exc)}; nothing was changed")
        return EXIT_FAIL


def _fail(message: str) -> None:
    print(f"cockpit: {' '.join(clean(message).split())}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
