"""The header line: repo and branch, worker slots in use, breakers, the credit-window gauge of both model
families — Codex's windows (the binding one first, with its reset) and Claude Code's (the reviewer's
latest rate-limit state first), e.g. ``Codex 5h 42% resets in 1h12m · wk 10% │ Claude 5h 71%``; a
family with no numbers reads "unknown", never 0 % — and counts of pending decisions and reviews."""

from __future__ import annotations

import os

from rich.text import Text
from textual.widgets import Static

from cockpit.core import BoardSnapshot, ClaudeLimits, UsageWindows


def _short(label: str) -> str:
    """``weekly`` is ``wk`` on the header (``weekly opus`` → ``wk opus``)."""
    return "wk" + label[len("weekly") :] if label.startswith("weekly") else label


def _countdown(left: float) -> str:
    hours, minutes = int(left // 3600), int(left % 3600 // 60)
    return f"{hours}h{minutes:02d}m"


def codex_gauge(windows: UsageWindows, now: float) -> str:
    """``Codex 5h 42% resets in 1h12m · wk 10%`` (the binding window first), or ``Codex unknown``."""
    binding = windows.binding
    if binding is None or binding.used_percent is None:
        return "Codex unknown"
    head = f"{_short(binding.label)} {binding.used_percent:.0f}%" + (" blocked" if binding.blocked else "")
    left = binding.seconds_to_reset(now)
    if left is not None:
        head += f" resets in {_countdown(left)}"
    others = [w for w in windows.windows if w is not binding and w.used_percent is not None]
    return "Codex " + " · ".join([head, *(f"{_short(w.label)} {w.used_percent:.0f}%" for w in others)])


def claude_gauge(limits: ClaudeLimits, now: float) -> str:
    """``Claude 5h 71%`` (the latest state's window first), ``Claude 5h ok`` (allowed, no number
    given), ``Claude 5h blocked resets in 2h03m``, or ``Claude unknown``."""
    shown = limits.shown()
    if not shown:
        return "Claude unknown"
    parts = []
    for w in shown:
        label = _short(w.label)
        if w.blocked:
            left = w.seconds_to_reset(now)
            word = "blocked" + (f" resets in {_countdown(left)}" if left is not None else " (reset unknown)")
        elif w.used_percent is not None:
            word = f"{w.used_percent:.0f}%"
        elif not w.status:
            word = "unknown"
        else:
            word = "ok" if w.status == "allowed" else w.status
        parts.append(f"{label} {word}" if label else word)
    return "Claude " + " · ".join(parts)


def _gauge(snapshot: BoardSnapshot, now: float) -> str:
    return f"{codex_gauge(snapshot.windows, now)} │ {claude_gauge(snapshot.claude, now)}"


def short_path(path: str, limit: int = 48) -> str:
    """The repo path for the header: ``~`` for home, the tail kept when it is long."""
    home = os.path.expanduser("~")
    if home not in ("", "/") and (path == home or path.startswith(home + os.sep)):
        path = "~" + path[len(home) :]
    return path if len(path) <= limit else "…" + path[-(limit - 1) :]


def header_text(repo: str, branch: str | None, snapshot: BoardSnapshot, viewer: bool) -> Text:
    """Two lines: who and what waits for you; then the credit window and the breakers."""
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append("Codex Cockpit", style="bold")
    text.append(f"  {short_path(repo)}" + (f" ({branch})" if branch else ""))
    text.append(f"  workers {snapshot.running}/{snapshot.max_workers}")
    decisions, reviews = snapshot.pending_decisions, snapshot.reviews
    text.append("  ")
    text.append(f" ? decisions {decisions} ", style="bold reverse" if decisions else "")
    text.append(" ")
    text.append(f" ◆ reviews {reviews} ", style="bold reverse" if reviews else "")
    if viewer:
        text.append("  [viewer]", style="bold")
    text.append(f"\n{_gauge(snapshot, snapshot.taken_at)}")
    if snapshot.breakers:
        text.append("   breakers: " + ", ".join(f"{p} {s}" for p, s in snapshot.breakers.items()))
    return text


class CockpitHeader(Static):
    DEFAULT_CLASSES = "cockpit-header"
