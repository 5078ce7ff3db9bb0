"""The usage view: Codex's credit windows (the binding one first, used %, reset countdown, "unknown"
without numbers) and Claude Code's (the reviewer's latest rate-limit state first), today's and this
week's ledger tokens by lane and by effort, each model family's figures (Codex: tokens and cost if
known; Claude: reviews, tokens, cost) with the reviewer's substantive rate, and the budget status — the
facts ``cockpit usage`` prints. Rollouts, ledger, Claude's windows and the reviewed tasks are read by a
thread worker every second, each only as far as it changed; countdowns use the injected clock;
``escape`` goes back."""

from __future__ import annotations

import threading
from collections.abc import Callable

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Footer, Static

from cockpit.core import (
    FAILURE_SOURCE,
    LEDGER_FILE,
    Blackboard,
    ConfigError,
    Ledger,
    ReviewerHealthView,
    UsageSummary,
    UsageTotals,
    budget_lines,
    claude_limits_store,
    credits_text,
    format_tokens,
    reset_text,
    shared_watcher,
    usage_summary,
    windows_binding_first,
)
from cockpit.tui.screens.panel_screen import PanelScreen, sync_table

COLUMNS = (
    ("", "label"),
    ("today tokens", "today_total"),
    ("input", "today_input"),
    ("output", "today_output"),
    ("runs", "today_runs"),
    ("week tokens", "week_total"),
    ("input", "week_input"),
    ("output", "week_output"),
    ("runs", "week_runs"),
)


def windows_text(summary: UsageSummary) -> Text:
    windows, now = summary.windows, summary.now
    text = Text("Codex credit windows", style="bold")
    text.append(" (from its rollout files)\n")
    if not windows.windows:
        text.append("usage  unknown (no rate-limit snapshot seen)")
    binding = windows.binding
    lines = []
    for window in windows_binding_first(windows):
        line = Text(f"{window.label if window.minutes is not None else 'window':<7}")
        if window.used_percent is None:
            line.append("unknown")
            if window.resets_at is not None and window.resets_at <= now:
                line.append(f"  ({reset_text(window, now, summary.tz)})")
        else:
            line.append(f"{window.used_percent:5.1f}% used", style="bold" if window is binding else "")
            line.append(f"  {reset_text(window, now, summary.tz)}")
            if window.blocked:
                line.append("  BLOCKED", style="bold reverse")
            if window.source == FAILURE_SOURCE:
                line.append(" (usage limit hit)")
        if window is binding:
            line.append("  ← binding", style="italic")
        lines.append(line)
    if windows.credits is not None:
        lines.append(Text(f"{'credits':<7} {credits_text(windows.credits)}"))
    text.append(Text("\n").join(lines))
    return text


def claude_text(summary: UsageSummary) -> Text:
    """Claude Code's windows as ``cockpit usage`` prints them, the current one marked."""
    text = Text("Claude Code credit windows", style="bold")
    text.append(" (from the reviewer's rate_limit_event lines)\n")
    lines = summary.claude.to_lines(summary.now, summary.tz)
    for n, line in enumerate(lines):
        blocked = "BLOCKED" in line
        text.append(line, style="bold" if blocked else "")
        if n < len(lines) - 1:
            text.append("\n")
    return text


def families_text(summary: UsageSummary) -> Text:
    """Each model family today and this week, then the reviewer's substantive rate (a warning when its
    prompt needs work)."""
    text = Text("By model family", style="bold")
    text.append(" (today · this week)\n")
    text.append("\n".join(summary.report.family_lines()))
    health = summary.reviewer
    if health is not None:
        text.append("\nreviewer: ")
        text.append(health.message, style="bold reverse" if health.needs_better_prompt else "")
    return text


def _cells(totals: UsageTotals) -> list[Text]:
    return [
        Text(format_tokens(totals.total_tokens), justify="right"),
        Text(format_tokens(totals.input_tokens), justify="right"),
        Text(format_tokens(totals.output_tokens), justify="right"),
        Text(str(totals.attempts), justify="right"),
    ]


def ledger_rows(summary: UsageSummary) -> list[tuple[str, list[Text]]]:
    return [
        (label, [Text(label, style="bold" if label == "all" else ""), *_cells(today), *_cells(week)])
        for label, today, week in summary.report.rows()
    ]


def budget_text(summary: UsageSummary) -> Text:
    lines = budget_lines(summary)
    if not lines:
        return Text("budget: none configured ([budget] in .cockpit/config.toml)")
    text = Text(lines[0], style="bold")
    for line in lines[1:]:
        text.append("\n" + line)
    return text


class UsageScreen(PanelScreen):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="usage.back"),
        Binding("ctrl+r,R", "reload", "Refresh", id="usage.refresh"),
    ]

    class Loaded(Message):
        def __init__(self, summary: UsageSummary | None, error: str | None = None) -> None:
            super().__init__()
            self.summary = summary
            self.error = error

    def __init__(self, board: Blackboard, env: dict[str, str], clock: Callable[[], float]) -> None:
        super().__init__()
        self.board = board
        self.clock = clock
        self.watcher = shared_watcher(board.root, env, clock=clock)
        self.ledger = Ledger(board.root / LEDGER_FILE)
        self.claude = claude_limits_store(board)
        self.reviewer = ReviewerHealthView(board)
        self._read_lock = threading.Lock()  # the readers are not thread-safe

    def compose(self) -> ComposeResult:
        yield Static(Text("Usage", style="bold"), id="usage-title", classes="panel-title")
        with VerticalScroll(id="usage-body"):
            yield Static(Text("reading…"), id="usage-windows", classes="panel-section")
            yield Static(id="usage-claude", classes="panel-section")
            yield Static(id="usage-heading", classes="panel-section")
            table: DataTable[Text] = DataTable(id="usage-table", classes="panel-table", cursor_type="none")
            for label, key in COLUMNS:
                table.add_column(label, key=key)
            yield table
            yield Static(id="usage-notes", classes="panel-note")
            yield Static(id="usage-families", classes="panel-section")
            yield Static(id="usage-budget", classes="panel-section")
        yield Footer()

    def read(self) -> Message:
        with self._read_lock:
            try:
                summary = usage_summary(
                    self.board,
                    self.watcher,
                    self.ledger,
                    self.clock(),
                    claude=self.claude,
                    reviewer=self.reviewer,
                )
                return self.Loaded(summary)
            except ConfigError as exc:
                return self.Loaded(None, str(exc))

    @on(Loaded)
    def apply_summary(self, message: Loaded) -> None:
        title = Text("Usage", style="bold")
        summary = message.summary
        if summary is None:
            title.append(f"  {message.error}")
            self.query_one("#usage-title", Static).update(title)
            return
        windows = summary.windows
        title.append(f"  credit windows: Codex {windows.state}, Claude {summary.claude.state}")
        if summary.budget.gate_new_tasks:
            title.append("  · new tasks gated by the budget", style="bold")
        self.query_one("#usage-title", Static).update(title)
        self.query_one("#usage-windows", Static).update(windows_text(summary))
        self.query_one("#usage-claude", Static).update(claude_text(summary))
        self.query_one("#usage-heading", Static).update(Text(summary.report.heading()))
        sync_table(self.query_one(DataTable), ledger_rows(summary))
        self.query_one("#usage-notes", Static).update(Text("\n".join(summary.report.notes())))
        self.query_one("#usage-families", Static).update(families_text(summary))
        self.query_one("#usage-budget", Static).update(budget_text(summary))
