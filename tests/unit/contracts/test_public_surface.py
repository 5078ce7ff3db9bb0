"""The core's public surface: what ``cockpit.core`` offers the front ends, pinned. A name added or
removed here is a deliberate change of the surface; every name resolves to the object defined in its
home module, and importing the surface imports none of them."""

from __future__ import annotations

import importlib
import subprocess
import sys

import cockpit.core as core

SURFACE = [
    "ATTEMPTS_DIR",
    "ATTEMPT_EVENTS_FILE",
    "AgentMessageItem",
    "ArchiveSelection",
    "BOARD_EVENTS_FILE",
    "BREAKERS_DIR",
    "Blackboard",
    "BlackboardError",
    "BoardLanes",
    "BoardSnapshot",
    "BoardView",
    "BreakerRow",
    "BreakerState",
    "BreakerStore",
    "CLOUD_BEST_OF_MAX",
    "CLOUD_LANE",
    "CODE_SETTINGS",
    "CONFIG_FILE",
    "Challenge",
    "ClaudeBinary",
    "ClaudeLimits",
    "ClaudeNotFound",
    "ClaudeWindow",
    "CloudResult",
    "CloudRun",
    "CockpitError",
    "CodexEvent",
    "CommandError",
    "CommandExecutionItem",
    "ConfigError",
    "DEAD_LETTERS_DIR",
    "DENY_BASENAMES",
    "DIFF_FILE",
    "DeadLetterQueue",
    "DeadLetterRow",
    "DecisionCard",
    "DecisionError",
    "DecisionStore",
    "EFFORTS",
    "EXIT_FAIL",
    "EXIT_FILE",
    "EXIT_OK",
    "EXTERNAL_LANE",
    "Envelope",
    "EnvelopeError",
    "ErrorEvent",
    "ErrorItem",
    "EventParseError",
    "EventTailer",
    "ExternalSession",
    "FAILURE_SOURCE",
    "FINISHED",
    "FOLD",
    "FileChangeItem",
    "FileDiff",
    "FilterError",
    "GitOpError",
    "INBOX_STATUS",
    "InputError",
    "InvalidId",
    "ItemCompleted",
    "ItemStarted",
    "ItemUpdated",
    "LABELS",
    "LANE_NAMES",
    "LANE_ORDER",
    "LAST_MESSAGE_FILE",
    "LEDGER_FILE",
    "Lane",
    "LaneChange",
    "LaneFilter",
    "LaneRows",
    "Ledger",
    "LineIndex",
    "LockHeld",
    "LogRenderer",
    "McpToolCallItem",
    "PatchFile",
    "PayloadError",
    "ReasoningItem",
    "ReviewLine",
    "ReviewRound",
    "ReviewerHealthView",
    "Row",
    "SANDBOXES",
    "STATE_FILE",
    "STATUS_SYMBOLS",
    "Submission",
    "Supervisor",
    "TURN_DIFF_FILE",
    "TaskState",
    "TaskStatus",
    "TaskSummary",
    "TurnFailed",
    "UnknownTask",
    "UsageSummary",
    "UsageTotals",
    "UsageWindows",
    "ago",
    "board_config",
    "breaker_rows",
    "budget_lines",
    "check_task_ref",
    "claude_limits_store",
    "clean",
    "clean_data",
    "credits_text",
    "cut",
    "dead_letter_rows",
    "die_with_parent",
    "disk_error_text",
    "disk_full",
    "envelope_from_mapping",
    "envelope_schema",
    "escalation_rate",
    "exit_code_of",
    "feedback_text",
    "file_digest",
    "find_board",
    "find_claude",
    "format_duration",
    "format_tokens",
    "format_usd",
    "head_branch",
    "index_patch",
    "load_envelope",
    "log_rejected",
    "match_task_ref",
    "missing_inputs",
    "one_line",
    "parse_age",
    "parse_card_id",
    "parse_event_line",
    "parse_patch",
    "parse_payload",
    "parse_states",
    "recent_reviewer_health",
    "record_notify",
    "render_event",
    "render_markdown",
    "reset_text",
    "review_lines",
    "reviewer_health",
    "revoke_trust",
    "run_archive",
    "run_checks",
    "run_task_command",
    "shared_watcher",
    "span",
    "status_row",
    "strip_control",
    "submissions",
    "submit",
    "tail_start",
    "tool_row",
    "trust_file",
    "usage_summary",
    "utc_now",
    "windows_binding_first",
    "worker_task",
]


def test_the_surface_is_pinned() -> None:
    assert core.__all__ == SURFACE


def test_every_name_resolves_to_its_home_definition() -> None:
    for name in SURFACE:
        value = getattr(core, name)
        home = importlib.import_module(core._HOMES[name])
        assert getattr(home, name) is value, name
        defined_in = getattr(value, "__module__", None)
        if defined_in is not None and defined_in.startswith("cockpit.core"):
            assert defined_in == core._HOMES[name], f"{name} is defined in {defined_in}, not its listed home"


def test_an_unknown_name_is_an_attribute_error() -> None:
    try:
        core.NoSuchThing  # noqa: B018
    except AttributeError as exc:
        assert "NoSuchThing" in str(exc)
    else:
        raise AssertionError("an unknown name resolved")


def test_importing_the_surface_imports_no_core_module() -> None:
    code = "import sys, cockpit.core; print(sorted(m for m in sys.modules if m.startswith('cockpit.core.')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_type_checkers_imports_name_the_same_homes() -> None:
    """The surface spells each name's home twice (the lazy table and the imports type checkers read):
    the two must agree, name for name."""
    import ast
    from pathlib import Path

    tree = ast.parse(Path(core.__file__).read_text())
    typed: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            for imp in node.body:
                assert isinstance(imp, ast.ImportFrom) and imp.module
                typed.update({alias.name: imp.module for alias in imp.names})
    assert typed == core._HOMES
