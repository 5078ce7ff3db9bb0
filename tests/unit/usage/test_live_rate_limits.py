"""The board's live rate-limit file (mcp-lane ``account/rateLimits/updated``) and how the credit window
reads it beside rollout files: sparse snapshots merge, null is no news, newest wins."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from test_usage_windows import T0, Clock, append, rollout_path, token_line

from cockpit.core.board.blackboard import Blackboard
from cockpit.core.usage.live import LIVE_RATE_LIMITS_FILE, merge_sparse, read_live, record_live
from cockpit.core.usage.watcher import LIVE_SOURCE, RolloutWatcher


def limits(primary: Any = None, secondary: Any = None, credits: Any = None, limit: str = "codex") -> dict:
    return {"limitId": limit, "primary": primary, "secondary": secondary, "credits": credits}


def win(used: float, minutes: int = 300, resets: float | None = None) -> dict[str, Any]:
    return {"usedPercent": used, "windowDurationMins": minutes, "resetsAt": resets}


def test_merge_sparse_keeps_known_values_at_every_depth() -> None:
    old = {"primary": {"usedPercent": 40, "resetsAt": 100}, "credits": {"balance": "3"}}
    new = {"primary": {"usedPercent": 41, "resetsAt": None}, "credits": None, "secondary": None}
    assert merge_sparse(old, new) == {
        "primary": {"usedPercent": 41, "resetsAt": 100},
        "credits": {"balance": "3"},
    }


def test_record_merges_and_ignores_older_or_empty_news(tmp_path: Path) -> None:
    path = tmp_path / LIVE_RATE_LIMITS_FILE
    assert record_live(path, limits(win(42), win(13, 10080), {"hasCredits": True, "balance": "12.50"}), 10.0)
    # A response without headers: every window null. No news, nothing written, nothing reset.
    assert not record_live(path, limits(), 11.0)
    assert record_live(path, limits(win(43)), 12.0)
    live = read_live(path).limits["codex"]
    assert live.observed_at == 12.0
    assert live.rate_limits["primary"]["usedPercent"] == 43
    assert live.rate_limits["secondary"]["usedPercent"] == 13
    assert live.rate_limits["credits"]["balance"] == "12.50"
    # A replayed, older line (a supervisor re-reading an attempt after a restart) changes nothing.
    assert not record_live(path, limits(win(5)), 9.0)
    assert read_live(path).limits["codex"].rate_limits["primary"]["usedPercent"] == 43
    # Another limit family is kept apart.
    assert record_live(path, limits(win(7), limit="codex_other"), 13.0)
    assert set(read_live(path).limits) == {"codex", "codex_other"}


def test_a_corrupt_file_is_quarantined_and_starts_over(tmp_path: Path) -> None:
    board = Blackboard(tmp_path)
    board.init()
    path = board.root / LIVE_RATE_LIMITS_FILE
    path.write_text("{not json")
    assert record_live(path, limits(win(50)), 1.0, board.quarantine)
    assert read_live(path).limits["codex"].rate_limits["primary"]["usedPercent"] == 50
    quarantined = board.quarantined()
    assert len(quarantined) == 1 and quarantined[0].read_text() == "{not json"


def test_the_credit_window_reads_the_live_file(tmp_path: Path) -> None:
    live = tmp_path / LIVE_RATE_LIMITS_FILE
    watcher = RolloutWatcher([tmp_path / "home"], Clock(T0 + 5), live_file=live)
    assert watcher.snapshot().state == "unknown"
    record_live(live, limits(win(42, resets=T0 + 3600), win(13, 10080, T0 + 86400)), T0 + 1)
    snap = watcher.snapshot()
    assert snap.source == LIVE_SOURCE
    assert [(w.label, w.used_percent) for w in snap.windows] == [("5h", 42.0), ("weekly", 13.0)]
    assert snap.binding is not None and snap.binding.label == "5h"


def test_live_numbers_survive_a_rollout_line_without_headers(tmp_path: Path) -> None:
    """The same response lands twice: live (merged) and in the thread's rollout with null windows."""
    home = tmp_path / "home"
    path = rollout_path(home)
    live = tmp_path / LIVE_RATE_LIMITS_FILE
    watcher = RolloutWatcher([home], Clock(T0 + 60), live_file=live)
    record_live(live, limits(win(42, resets=T0 + 3600)), T0 + 1)
    assert watcher.snapshot().window("5h").used_percent == 42.0  # type: ignore[union-attr]
    append(path, token_line("2026-03-27T10:00:02.000Z", None) + "\n")
    watcher.refresh(force_rescan=True)
    assert watcher.snapshot().window("5h").used_percent == 42.0  # type: ignore[union-attr]
    # A rollout line with its own numbers is news and wins when newer.
    append(path, token_line("2026-03-27T10:00:03.000Z", {"used_percent": 44, "window_minutes": 300}) + "\n")
    watcher.refresh(force_rescan=True)
    assert watcher.snapshot().window("5h").used_percent == 44.0  # type: ignore[union-attr]


def test_live_null_window_keeps_the_rollout_value(tmp_path: Path) -> None:
    home = tmp_path / "home"
    path = rollout_path(home)
    append(path, token_line("2026-03-27T10:00:00.000Z", {"used_percent": 30, "window_minutes": 300}) + "\n")
    live = tmp_path / LIVE_RATE_LIMITS_FILE
    watcher = RolloutWatcher([home], Clock(T0 + 60), live_file=live)
    assert watcher.snapshot().window("5h").used_percent == 30.0  # type: ignore[union-attr]
    record_live(
        live, limits(None, win(20, 10080), {"hasCredits": True, "unlimited": False, "balance": "1"}), T0 + 5
    )
    snap = watcher.snapshot()
    assert [(w.label, w.used_percent) for w in snap.windows] == [("5h", 30.0), ("weekly", 20.0)]
    assert snap.credits is not None and snap.credits.balance == "1"
    assert json.loads(live.read_text())["limits"]["codex"]["rate_limits"].get("primary") is None
