"""Codex Cockpit's core: asyncio and pydantic, never a UI toolkit.

This package is the surface the front ends (``cockpit.cli``, ``cockpit.tui``, ``cockpit.demo``) import:
``from cockpit.core import Blackboard, submit``. Every name is loaded from its home module the first
time it is asked for, so importing the surface costs nothing and a front end pays only for what it
uses (the TUI's first frame imports neither the supervisor nor git). ``tests/unit/contracts/`` pins
``__all__``; an import contract in ``pyproject.toml`` keeps the front ends on this surface.

Where things live (each layer imports only the layers below it; ``make lint`` checks it)::

    supervisor/                      the loop: accept, dispatch, follow, settle, recover
    lanes/  doctor  archive          how each lane runs an attempt; ``cockpit doctor``; ``cockpit archive``
    commands                         submit, cancel, retry, revise, merge, reject, label (directly or via
                                     the inbox)
    merging  views/                  landing a merge, journaled; what front ends show
    config                           the project config and its sections
    policy/                          failures, retry, breaker, dead letters, gates, budgets, effort
    attempts/  usage/  review/       the runners and reading their output; credit windows, the ledger;
                                     the cross-family review's verdict, judge, validation retreat, rounds
    board/                           the blackboard: home, files, task index, summaries, decisions
    git/  codex/  claude/            git run safely; Codex's binary, command, events, app-server, cloud;
                                     Claude Code's binary and the stream-json it prints
    envelope/                        the task envelope and the prompt made from it
    records/                         what ``state.json`` holds: task, attempts, signals, usage, exit
    trust  errors  vocabulary  layout  text  atomic   leaves
    crashpoints  processes  diff_parse  follow  collector
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# name -> its home module: the one place each public name is defined.
_HOMES: dict[str, str] = {
    "TURN_DIFF_FILE": "cockpit.core.layout",
    "STATE_FILE": "cockpit.core.layout",
    "LEDGER_FILE": "cockpit.core.layout",
    "LAST_MESSAGE_FILE": "cockpit.core.layout",
    "EXIT_FILE": "cockpit.core.layout",
    "DIFF_FILE": "cockpit.core.layout",
    "DEAD_LETTERS_DIR": "cockpit.core.layout",
    "CONFIG_FILE": "cockpit.core.layout",
    "BREAKERS_DIR": "cockpit.core.layout",
    "BOARD_EVENTS_FILE": "cockpit.core.layout",
    "ATTEMPT_EVENTS_FILE": "cockpit.core.layout",
    "ATTEMPTS_DIR": "cockpit.core.layout",
    "AgentMessageItem": "cockpit.core.codex.exec_events",
    "ArchiveSelection": "cockpit.core.archive",
    "Blackboard": "cockpit.core.board.blackboard",
    "BlackboardError": "cockpit.core.board.blackboard",
    "BoardLanes": "cockpit.core.views.lane_rows",
    "BoardSnapshot": "cockpit.core.views.board",
    "BoardView": "cockpit.core.views.board",
    "BreakerRow": "cockpit.core.views.panels",
    "BreakerState": "cockpit.core.policy.breaker",
    "BreakerStore": "cockpit.core.policy.breaker",
    "CLOUD_BEST_OF_MAX": "cockpit.core.vocabulary",
    "CLOUD_LANE": "cockpit.core.vocabulary",
    "CODE_SETTINGS": "cockpit.core.config",
    "ClaudeBinary": "cockpit.core.claude.binary",
    "ClaudeNotFound": "cockpit.core.claude.binary",
    "ClaudeLimits": "cockpit.core.usage.claude_limits",
    "ClaudeWindow": "cockpit.core.usage.claude_limits",
    "CloudResult": "cockpit.core.records.cloud",
    "CloudRun": "cockpit.core.records.cloud",
    "CockpitError": "cockpit.core.errors",
    "CodexEvent": "cockpit.core.codex.exec_events",
    "Challenge": "cockpit.core.records.review",
    "CommandError": "cockpit.core.commands",
    "CommandExecutionItem": "cockpit.core.codex.exec_events",
    "ConfigError": "cockpit.core.config",
    "DENY_BASENAMES": "cockpit.core.envelope.paths",
    "DeadLetterQueue": "cockpit.core.policy.dead_letters",
    "DeadLetterRow": "cockpit.core.views.panels",
    "DecisionCard": "cockpit.core.board.decisions",
    "DecisionError": "cockpit.core.board.decisions",
    "DecisionStore": "cockpit.core.board.decisions",
    "EFFORTS": "cockpit.core.vocabulary",
    "EXIT_FAIL": "cockpit.core.errors",
    "EXIT_OK": "cockpit.core.errors",
    "EXTERNAL_LANE": "cockpit.core.views.board",
    "Envelope": "cockpit.core.envelope.model",
    "EnvelopeError": "cockpit.core.envelope.model",
    "ErrorEvent": "cockpit.core.codex.exec_events",
    "ErrorItem": "cockpit.core.codex.exec_events",
    "EventParseError": "cockpit.core.codex.exec_events",
    "EventTailer": "cockpit.core.attempts.tailer",
    "ExternalSession": "cockpit.core.board.external_sessions",
    "FAILURE_SOURCE": "cockpit.core.usage.windows",
    "FINISHED": "cockpit.core.records.basics",
    "FOLD": "cockpit.core.views.lane_rows",
    "FileChangeItem": "cockpit.core.codex.exec_events",
    "FileDiff": "cockpit.core.diff_parse",
    "FilterError": "cockpit.core.views.lane_rows",
    "GitOpError": "cockpit.core.git.safe_command",
    "INBOX_STATUS": "cockpit.core.views.task_rows",
    "InputError": "cockpit.core.errors",
    "InvalidId": "cockpit.core.board.blackboard",
    "ItemCompleted": "cockpit.core.codex.exec_events",
    "ItemStarted": "cockpit.core.codex.exec_events",
    "ItemUpdated": "cockpit.core.codex.exec_events",
    "LABELS": "cockpit.core.records.review",
    "PatchFile": "cockpit.core.diff_parse",
    "LANE_NAMES": "cockpit.core.vocabulary",
    "LANE_ORDER": "cockpit.core.views.board",
    "Lane": "cockpit.core.envelope.model",
    "LaneChange": "cockpit.core.views.lane_rows",
    "LaneFilter": "cockpit.core.views.lane_rows",
    "LaneRows": "cockpit.core.views.lane_rows",
    "Ledger": "cockpit.core.usage.ledger",
    "LineIndex": "cockpit.core.views.line_index",
    "LockHeld": "cockpit.core.board.blackboard",
    "LogRenderer": "cockpit.core.views.event_lines",
    "McpToolCallItem": "cockpit.core.codex.exec_events",
    "PayloadError": "cockpit.core.board.external_sessions",
    "ReasoningItem": "cockpit.core.codex.exec_events",
    "ReviewLine": "cockpit.core.views.task_view",
    "ReviewRound": "cockpit.core.records.review",
    "ReviewerHealthView": "cockpit.core.views.panels",
    "Row": "cockpit.core.views.lane_rows",
    "SANDBOXES": "cockpit.core.vocabulary",
    "STATUS_SYMBOLS": "cockpit.core.views.lane_rows",
    "Submission": "cockpit.core.views.task_rows",
    "Supervisor": "cockpit.core.supervisor.loop",
    "TaskState": "cockpit.core.records.task",
    "TaskStatus": "cockpit.core.records.basics",
    "TaskSummary": "cockpit.core.board.task_summary",
    "TurnFailed": "cockpit.core.codex.exec_events",
    "UnknownTask": "cockpit.core.board.blackboard",
    "UsageSummary": "cockpit.core.views.panels",
    "UsageTotals": "cockpit.core.usage.ledger",
    "UsageWindows": "cockpit.core.usage.windows",
    "ago": "cockpit.core.board.external_sessions",
    "board_config": "cockpit.core.config",
    "breaker_rows": "cockpit.core.views.panels",
    "budget_lines": "cockpit.core.views.panels",
    "check_task_ref": "cockpit.core.board.blackboard",
    "claude_limits_store": "cockpit.core.views.panels",
    "clean": "cockpit.core.text",
    "clean_data": "cockpit.core.text",
    "credits_text": "cockpit.core.views.panels",
    "cut": "cockpit.core.text",
    "dead_letter_rows": "cockpit.core.views.panels",
    "die_with_parent": "cockpit.core.processes",
    "disk_error_text": "cockpit.core.atomic",
    "disk_full": "cockpit.core.atomic",
    "envelope_from_mapping": "cockpit.core.envelope.model",
    "envelope_schema": "cockpit.core.envelope.schema",
    "escalation_rate": "cockpit.core.board.decisions",
    "feedback_text": "cockpit.core.review.rounds",
    "exit_code_of": "cockpit.core.errors",
    "file_digest": "cockpit.core.trust",
    "find_claude": "cockpit.core.claude.binary",
    "find_board": "cockpit.core.board.external_sessions",
    "format_duration": "cockpit.core.text",
    "format_tokens": "cockpit.core.text",
    "format_usd": "cockpit.core.text",
    "head_branch": "cockpit.core.git.safe_command",
    "load_envelope": "cockpit.core.envelope.formats",
    "log_rejected": "cockpit.core.board.external_sessions",
    "match_task_ref": "cockpit.core.board.blackboard",
    "one_line": "cockpit.core.text",
    "missing_inputs": "cockpit.core.envelope.paths",
    "parse_age": "cockpit.core.archive",
    "parse_card_id": "cockpit.core.board.decisions",
    "parse_event_line": "cockpit.core.codex.exec_events",
    "parse_patch": "cockpit.core.diff_parse",
    "index_patch": "cockpit.core.diff_parse",
    "parse_payload": "cockpit.core.board.external_sessions",
    "parse_states": "cockpit.core.archive",
    "record_notify": "cockpit.core.board.external_sessions",
    "render_event": "cockpit.core.views.event_lines",
    "render_markdown": "cockpit.core.board.decisions",
    "recent_reviewer_health": "cockpit.core.views.panels",
    "reset_text": "cockpit.core.views.panels",
    "review_lines": "cockpit.core.views.task_view",
    "reviewer_health": "cockpit.core.review.rounds",
    "revoke_trust": "cockpit.core.trust",
    "run_archive": "cockpit.core.archive",
    "run_checks": "cockpit.core.doctor",
    "shared_watcher": "cockpit.core.usage.watcher",
    "run_task_command": "cockpit.core.commands",
    "span": "cockpit.core.archive",
    "status_row": "cockpit.core.views.task_rows",
    "strip_control": "cockpit.core.text",
    "submissions": "cockpit.core.views.task_rows",
    "submit": "cockpit.core.commands",
    "tail_start": "cockpit.core.views.line_index",
    "tool_row": "cockpit.core.views.task_rows",
    "trust_file": "cockpit.core.trust",
    "usage_summary": "cockpit.core.views.panels",
    "utc_now": "cockpit.core.records.basics",
    "windows_binding_first": "cockpit.core.views.panels",
    "worker_task": "cockpit.core.board.external_sessions",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


if TYPE_CHECKING:
    from cockpit.core.archive import ArchiveSelection, parse_age, parse_states, run_archive, span
    from cockpit.core.atomic import disk_error_text, disk_full
    from cockpit.core.attempts.tailer import EventTailer
    from cockpit.core.board.blackboard import (
        Blackboard,
        BlackboardError,
        InvalidId,
        LockHeld,
        UnknownTask,
        check_task_ref,
        match_task_ref,
    )
    from cockpit.core.board.decisions import (
        DecisionCard,
        DecisionError,
        DecisionStore,
        escalation_rate,
        parse_card_id,
        render_markdown,
    )
    from cockpit.core.board.external_sessions import (
        ExternalSession,
        PayloadError,
        ago,
        find_board,
        log_rejected,
        parse_payload,
        record_notify,
        worker_task,
    )
    from cockpit.core.board.task_summary import TaskSummary
    from cockpit.core.claude.binary import ClaudeBinary, ClaudeNotFound, find_claude
    from cockpit.core.codex.exec_events import (
        AgentMessageItem,
        CodexEvent,
        CommandExecutionItem,
        ErrorEvent,
        ErrorItem,
        EventParseError,
        FileChangeItem,
        ItemCompleted,
        ItemStarted,
        ItemUpdated,
        McpToolCallItem,
        ReasoningItem,
        TurnFailed,
        parse_event_line,
    )
    from cockpit.core.commands import CommandError, run_task_command, submit
    from cockpit.core.config import CODE_SETTINGS, ConfigError, board_config
    from cockpit.core.diff_parse import FileDiff, PatchFile, index_patch, parse_patch
    from cockpit.core.doctor import run_checks
    from cockpit.core.envelope.formats import load_envelope
    from cockpit.core.envelope.model import Envelope, EnvelopeError, Lane, envelope_from_mapping
    from cockpit.core.envelope.paths import DENY_BASENAMES, missing_inputs
    from cockpit.core.envelope.schema import envelope_schema
    from cockpit.core.errors import EXIT_FAIL, EXIT_OK, CockpitError, InputError, exit_code_of
    from cockpit.core.git.safe_command import GitOpError, head_branch
    from cockpit.core.layout import (
        ATTEMPT_EVENTS_FILE,
        ATTEMPTS_DIR,
        BOARD_EVENTS_FILE,
        BREAKERS_DIR,
        CONFIG_FILE,
        DEAD_LETTERS_DIR,
        DIFF_FILE,
        EXIT_FILE,
        LAST_MESSAGE_FILE,
        LEDGER_FILE,
        STATE_FILE,
        TURN_DIFF_FILE,
    )
    from cockpit.core.policy.breaker import BreakerState, BreakerStore
    from cockpit.core.policy.dead_letters import DeadLetterQueue
    from cockpit.core.processes import die_with_parent
    from cockpit.core.records.basics import FINISHED, TaskStatus, utc_now
    from cockpit.core.records.cloud import CloudResult, CloudRun
    from cockpit.core.records.review import LABELS, Challenge, ReviewRound
    from cockpit.core.records.task import TaskState
    from cockpit.core.review.rounds import feedback_text, reviewer_health
    from cockpit.core.supervisor.loop import Supervisor
    from cockpit.core.text import (
        clean,
        clean_data,
        cut,
        format_duration,
        format_tokens,
        format_usd,
        one_line,
        strip_control,
    )
    from cockpit.core.trust import file_digest, revoke_trust, trust_file
    from cockpit.core.usage.claude_limits import ClaudeLimits, ClaudeWindow
    from cockpit.core.usage.ledger import Ledger, UsageTotals
    from cockpit.core.usage.watcher import shared_watcher
    from cockpit.core.usage.windows import FAILURE_SOURCE, UsageWindows
    from cockpit.core.views.board import EXTERNAL_LANE, LANE_ORDER, BoardSnapshot, BoardView
    from cockpit.core.views.event_lines import LogRenderer, render_event
    from cockpit.core.views.lane_rows import (
        FOLD,
        STATUS_SYMBOLS,
        BoardLanes,
        FilterError,
        LaneChange,
        LaneFilter,
        LaneRows,
        Row,
    )
    from cockpit.core.views.line_index import LineIndex, tail_start
    from cockpit.core.views.panels import (
        BreakerRow,
        DeadLetterRow,
        ReviewerHealthView,
        UsageSummary,
        breaker_rows,
        budget_lines,
        claude_limits_store,
        credits_text,
        dead_letter_rows,
        recent_reviewer_health,
        reset_text,
        usage_summary,
        windows_binding_first,
    )
    from cockpit.core.views.task_rows import INBOX_STATUS, Submission, status_row, submissions, tool_row
    from cockpit.core.views.task_view import ReviewLine, review_lines
    from cockpit.core.vocabulary import CLOUD_BEST_OF_MAX, CLOUD_LANE, EFFORTS, LANE_NAMES, SANDBOXES
