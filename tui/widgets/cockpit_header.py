"""The header line: repo and branch, worker slots in use, breakers, the credit-window gauge (binding
window first; "unknown" when Codex gave no numbers), and counts of pending decisions and reviews."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from cockpit.core.board_view import BoardSnapshot


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


def header_text(repo: str, branch: str | None, snapshot: BoardSnapshot, viewer: bool) -> Text:
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append("Codex Cockpit", style="bold")
    text.append(f"  {repo}" + (f" ({branch})" if branch else ""))
    text.append(f"  workers {snapshot.running}/{snapshot.max_workers}")
    if snapshot.breakers:
        text.append("  " + " ".join(f"{p}:{s}" for p, s in snapshot.breakers.items()))
    text.append(f"  {_gauge(snapshot, snapshot.taken_at)}")
    text.append(
        f"  decisions {snapshot.pending_decisions}", style="bold" if snapshot.pending_decisions else ""
    )
    text.append(f"  reviews {snapshot.reviews}", style="bold" if snapshot.reviews else "")
    if viewer:
        text.append("  [viewer]")
    return text


class CockpitHeader(Static):
    DEFAULT_CLASSES = "cockpit-header"
