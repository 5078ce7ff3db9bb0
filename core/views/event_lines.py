"""Plain-text rendering of Codex events for ``cockpit log``.

:func:`render_event` turns one event into a few short human lines (no styling, no terminal library).
Everything taken from the stream is passed through :func:`cockpit.core.text.clean` (no escape sequences
or control characters reach the terminal, obvious secrets are masked). :class:`LogRenderer`
adds the little state a running log needs: a command's ``$`` line is not repeated when its completion
directly follows its start.
"""

from __future__ import annotations

import json
import shlex
from typing import Any, Final

from cockpit.core.codex.app_server.protocol import (
    APPROVAL_METHODS,
    CONFIG_WARNING,
    ITEM_COMPLETED,
    ITEM_STARTED,
    SERVER_REQUEST_RESOLVED,
    THREAD_STATUS_CHANGED,
    TOKEN_USAGE_UPDATED,
)
from cockpit.core.codex.exec_events import (
    RPC_RESPONSE,
    AgentMessageItem,
    CodexEvent,
    CollabToolCallItem,
    CommandExecutionItem,
    ErrorEvent,
    ErrorItem,
    FileChangeItem,
    ItemCompleted,
    ItemStarted,
    ItemUpdated,
    McpToolCallItem,
    PlanDelta,
    PlanItem,
    RateLimitsUpdated,
    ReasoningItem,
    RequestUserInput,
    ThreadItem,
    ThreadStarted,
    TodoListItem,
    TurnCompleted,
    TurnDiffUpdated,
    TurnFailed,
    TurnStarted,
    UnknownEvent,
    UnknownItem,
    Usage,
    WebSearchItem,
)
from cockpit.core.diff_parse import count_patch
from cockpit.core.text import clean, cut

__all__ = ["LogRenderer", "render_event"]

OUTPUT_LINES: Final = 5
# App-server bookkeeping that says nothing a reader of the log needs (kept in the raw view).
QUIET_APP_METHODS: Final = frozenset(
    {
        RPC_RESPONSE,
        THREAD_STATUS_CHANGED,
        TOKEN_USAGE_UPDATED,
        "remoteControl/status/changed",
        "mcpServer/startupStatus/updated",
        "thread/name/updated",
    }
)
MAX_LINE_CHARS: Final = 2000

# ------------------------------------------------------------------------------------------- rendering


def render_event(
    event: CodexEvent, *, root: str | None = None, output_lines: int = OUTPUT_LINES
) -> list[str]:
    """Short human lines for one event; ``[]`` for events not worth a line (deltas, item updates).

    ``root`` (a working directory) is stripped from file paths; ``output_lines`` bounds the command
    output shown under a finished command.
    """
    return _render(event, root, output_lines, show_command=True)


class LogRenderer:
    """Renders a stream in order; skips the repeated ``$ command`` when a command's completion directly
    follows its start, and a turn diff the server re-sent unchanged."""

    def __init__(self, *, root: str | None = None, output_lines: int = OUTPUT_LINES) -> None:
        self.root = root
        self.output_lines = output_lines
        self._open_command: str | None = None
        self._last_diff: str | None = None

    def render(self, event: CodexEvent) -> list[str]:
        if isinstance(event, TurnDiffUpdated):
            if event.diff == self._last_diff:
                return []  # re-sent unchanged after every model response
            self._last_diff = event.diff
        show_command = True
        if isinstance(event, ItemCompleted) and isinstance(event.item, CommandExecutionItem):
            show_command = event.item.id != self._open_command
        lines = _render(event, self.root, self.output_lines, show_command=show_command)
        if lines:
            self._open_command = None
            if isinstance(event, ItemStarted) and isinstance(event.item, CommandExecutionItem):
                self._open_command = event.item.id
        return lines


def _render(event: CodexEvent, root: str | None, output_lines: int, *, show_command: bool) -> list[str]:
    if isinstance(event, ItemCompleted):
        return _render_item(event.item, "completed", root, output_lines, show_command)
    if isinstance(event, ItemStarted):
        return _render_item(event.item, "started", root, output_lines, show_command)
    if isinstance(event, ItemUpdated):
        return _render_item(event.item, "updated", root, output_lines, show_command)
    if isinstance(event, ThreadStarted):
        return [f"▸ thread {clean(event.thread_id)}"]
    if isinstance(event, TurnStarted):
        return ["▸ turn started"]
    if isinstance(event, TurnCompleted):
        if event.model_extra and "method" in event.model_extra:
            return ["■ turn completed"]  # app-server turns report usage separately
        return [f"■ turn completed: {format_usage(event.usage)}"]
    if isinstance(event, TurnFailed):
        return _block("✗ turn failed: ", event.message)
    if isinstance(event, ErrorEvent):
        return _block("! ", event.message or "error")
    if isinstance(event, PlanDelta):
        return []
    if isinstance(event, RequestUserInput):
        return _render_user_input(event)
    if isinstance(event, TurnDiffUpdated):
        return [_diff_line(event.diff)]
    if isinstance(event, RateLimitsUpdated):
        return []  # the credit window shows them
    if isinstance(event, UnknownEvent):
        return _render_unknown(event)
    return []  # pragma: no cover - every event type is handled above


def _diff_line(patch: str) -> str:
    counts = count_patch(patch, max_paths=0)
    plural = "s" if counts.files != 1 else ""
    return f"Δ turn diff: {counts.files} file{plural} +{counts.added} -{counts.removed}"


def _render_unknown(event: UnknownEvent) -> list[str]:
    kind = event.type
    if kind in QUIET_APP_METHODS or kind.endswith(("Delta", "/delta", "PartAdded")):
        return []
    params = (event.model_extra or {}).get("params")
    params = params if isinstance(params, dict) else {}
    if kind in APPROVAL_METHODS:
        command = params.get("command")
        what = f"to run {_one_line(command)}" if isinstance(command, str) else "to change files"
        reason = params.get("reason")
        why = f" ({_one_line(reason)})" if isinstance(reason, str) and reason else ""
        return [f"⚑ Codex asks {what}{why}: waiting for a decision"]
    if kind in (ITEM_STARTED, ITEM_COMPLETED):
        item = params.get("item")
        item_type = item.get("type") if isinstance(item, dict) else None
        if item_type == "userMessage" or kind == ITEM_STARTED:
            return []  # the prompt itself; unknown item kinds get their line once, when completed
        return [f"? unknown item type {clean(str(item_type)) if item_type else '(none)'}"]
    if kind == SERVER_REQUEST_RESOLVED:
        return ["⚑ approval answered"]
    if kind == CONFIG_WARNING:
        summary = params.get("summary")
        return _block("! config warning: ", summary if isinstance(summary, str) else "(no summary)")
    return [f"? unknown event type {clean(kind) or '(none)'}"]


def _one_line(text: str) -> str:
    first = clean(text).splitlines()[0] if text.strip() else ""
    return first[:200]


def format_usage(usage: Usage) -> str:
    """``in 1334 (cached 1000) out 76 (reasoning 7)``; the parenthesised parts only when non-zero."""
    text = f"in {usage.input_tokens}"
    if usage.cached_input_tokens:
        text += f" (cached {usage.cached_input_tokens})"
    text += f" out {usage.output_tokens}"
    if usage.reasoning_output_tokens:
        text += f" (reasoning {usage.reasoning_output_tokens})"
    return text


def _render_item(
    item: ThreadItem, phase: str, root: str | None, output_lines: int, show_command: bool
) -> list[str]:
    if isinstance(item, CommandExecutionItem):
        return _render_command(item, phase, output_lines, show_command)
    if isinstance(item, TodoListItem):
        return _render_todo(item) if phase in ("started", "updated") else []
    if phase != "completed":
        if isinstance(item, McpToolCallItem) and phase == "started":
            return [f"⚙ {clean(item.server)}.{clean(item.tool)}{_short_json(item.arguments)}"]
        return []
    if isinstance(item, AgentMessageItem):
        return _block("» ", item.text)
    if isinstance(item, ReasoningItem):
        return _block("~ ", item.text)
    if isinstance(item, FileChangeItem):
        failed = " (failed)" if item.status == "failed" else ""
        return [
            f"✎ {clean(change.kind)} {clean(_relative(change.path, root))}{failed}" for change in item.changes
        ]
    if isinstance(item, ErrorItem):
        return _block("! ", item.message or "error")
    if isinstance(item, McpToolCallItem):
        name = f"{clean(item.server)}.{clean(item.tool)}"
        if item.error is not None or item.status == "failed":
            message = item.error.message if item.error is not None else "failed"
            return _block(f"  ✗ {name}: ", message)
        return [f"  ✓ {name}"]
    if isinstance(item, WebSearchItem):
        return [f"⌕ search: {clean(item.query)}"]
    if isinstance(item, PlanItem):
        return ["≡ plan", *_indent(item.text, "  ")]
    if isinstance(item, CollabToolCallItem):
        head = f"⇄ {clean(item.tool) or 'collab tool'} ({clean(item.status)})"
        return [head, *_indent(item.prompt or "", "  ")]
    if isinstance(item, UnknownItem):
        return [f"? unknown item type {clean(item.type) or '(none)'}"]
    return []  # pragma: no cover - every item type is handled above


def _render_command(
    item: CommandExecutionItem, phase: str, output_lines: int, show_command: bool
) -> list[str]:
    head = f"$ {clean(_display_command(item.command))}"
    if phase == "started":
        return [head]
    if phase != "completed":
        return []
    lines = [head] if show_command else []
    if item.status == "declined":
        lines.append("  ✗ declined")
    elif item.exit_code is None:
        lines.append(f"  ✗ {clean(item.status)}" if item.status == "failed" else f"  · {clean(item.status)}")
    elif item.failed:
        lines.append(f"  ✗ exit {item.exit_code}")
    else:
        lines.append(f"  ✓ exit {item.exit_code}")
    output = clean(item.aggregated_output).rstrip("\n")
    if output and output_lines > 0:
        out = output.split("\n")
        lines.extend("    " + cut(line, MAX_LINE_CHARS) for line in out[:output_lines])
        if len(out) > output_lines:
            lines.append(f"    … ({len(out) - output_lines} more lines)")
    return lines


def _render_todo(item: TodoListItem) -> list[str]:
    done = sum(1 for entry in item.items if entry.completed)
    lines = [f"☰ todo {done}/{len(item.items)}"]
    lines.extend(
        f"  [{'x' if entry.completed else ' '}] {cut(clean(entry.text), MAX_LINE_CHARS)}"
        for entry in item.items
    )
    return lines


def _render_user_input(event: RequestUserInput) -> list[str]:
    lines = ["✋ input requested"]
    for question in event.questions:
        if isinstance(question, dict):
            text = question.get("question") or question.get("header") or question.get("id") or ""
        else:
            text = question
        lines.extend(_indent(str(text), "  "))
    return lines


def _display_command(command: str) -> str:
    """``/bin/bash -lc 'echo hi'`` → ``echo hi``; anything else unchanged."""
    try:
        parts = shlex.split(command)
    except ValueError:
        return command
    if len(parts) == 3 and parts[0].rsplit("/", 1)[-1] in ("bash", "sh", "zsh") and parts[1] in ("-lc", "-c"):
        return parts[2]
    return command


def _relative(path: str, root: str | None) -> str:
    if root:
        prefix = root.rstrip("/") + "/"
        if path.startswith(prefix):
            return path[len(prefix) :]
    return path


def _block(prefix: str, text: str) -> list[str]:
    """First line behind ``prefix``, later lines indented to match."""
    lines = clean(text).rstrip("\n").split("\n")
    pad = " " * len(prefix)
    return [prefix + cut(lines[0], MAX_LINE_CHARS)] + [
        pad + cut(line, MAX_LINE_CHARS) if line else "" for line in lines[1:]
    ]


def _indent(text: str, pad: str) -> list[str]:
    text = clean(text).rstrip("\n")
    return [pad + cut(line, MAX_LINE_CHARS) if line else "" for line in text.split("\n")] if text else []


def _short_json(value: Any, limit: int = 200) -> str:
    if value in (None, {}, []):
        return ""
    try:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError):
        text = str(value)
    text = clean(text)
    return " " + (text if len(text) <= limit else text[: limit - 1] + "…")
