"""The header line: repo and branch, worker slots in use, breakers, the credit-window gauge (binding
window first; "unknown" when Codex gave no numbers), and counts of pending decisions and reviews."""

from __future__ import annotations

import os

from rich.text import Text
from textual.widgets import Static

from cockpit.core import BoardSnapshot


def _gauge(snapshot: BoardSnapshot, now: float) -> str:
    windows = snapshot.windows
    binding = windows.binding
    if binding is None or binding.used_percent is None:
        return "credits: unknown"
    parts = [f"{binding.label} {binding.used_percent:.0f}% used"]
    left = binding.seconds_to_reset(now)
    if left is not None:
        hours, minutes = int(left // 3600), int(left % 3600 // 60)
        parts.append(f"resets in {hours}h{minutes:02d}m")
    others = [w for w in windows.windows if w is not binding and w.used_percent is not None]
    parts += [f"{w.label} {w.used_percent:.0f}%" for w in others]
    return "credits: " + " · ".join(parts)


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
