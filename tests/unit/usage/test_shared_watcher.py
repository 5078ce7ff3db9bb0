"""One rollout watcher per process: the supervisor, the board view, the usage screen and the CLI share it,
so what one of them learns (a usage-limit block) is what the others show."""

from __future__ import annotations

import gc
import json
import time
import weakref
from pathlib import Path

import pytest

from cockpit.core.board.blackboard import Blackboard
from cockpit.core.supervisor.loop import Supervisor
from cockpit.core.usage.watcher import shared_watcher
from cockpit.core.views.board import BoardView
from cockpit.tui.screens.usage_screen import UsageScreen


@pytest.fixture
def board(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Blackboard:
    monkeypatch.setenv("CODEX_HOME", str(tmp_path / "codex-home"))
    return Blackboard(repo)


def test_the_supervisor_the_view_and_the_usage_screen_share_one_watcher(board: Blackboard) -> None:
    supervisor = Supervisor(board, env={})
    view = BoardView(board)
    assert view.windows is supervisor.windows
    assert UsageScreen(board, {}, time.time).watcher is supervisor.windows
    assert shared_watcher(board.root) is supervisor.windows  # what `cockpit usage` reads
    # The usage limit the supervisor records after a failed attempt is on the gauge the view draws.
    assert view.snapshot().windows.state == "unknown"
    now = time.time()
    supervisor.windows.record_usage_limit(resets_at=now + 3600, now=now)
    gauge = view.snapshot().windows
    assert gauge.state == "blocked" and gauge.binding is not None
    assert gauge.binding.resets_at == pytest.approx(now + 3600)


def test_other_homes_boards_or_clocks_get_their_own(board: Blackboard, tmp_path: Path) -> None:
    mine = shared_watcher(board.root)
    assert shared_watcher(board.root, {"CODEX_HOME": str(tmp_path / "other-home")}) is not mine
    other_board = tmp_path / "other-board"
    assert shared_watcher(other_board) is not mine

    def fake_clock() -> float:
        return 0.0

    assert shared_watcher(board.root, clock=fake_clock) is not mine
    assert shared_watcher(board.root, clock=fake_clock) is shared_watcher(board.root, clock=fake_clock)


def test_a_new_holder_sees_rollouts_written_since_the_last_scan(board: Blackboard, tmp_path: Path) -> None:
    now = 1_795_000_000.0

    def clock() -> float:
        return now  # frozen: no rescan interval ever passes on its own

    first = shared_watcher(board.root, clock=clock)
    assert first.snapshot().state == "unknown"  # scanned: no rollout yet
    rollout = (
        tmp_path / "codex-home" / "sessions" / "2026" / "11" / "17" / "rollout-2026-11-17T10-00-00-x.jsonl"
    )
    rollout.parent.mkdir(parents=True)
    limits = {"primary": {"used_percent": 91, "window_minutes": 300, "resets_in_seconds": 3600}}
    record = {
        "timestamp": now - 1,
        "type": "event_msg",
        "payload": {"type": "token_count", "rate_limits": limits},
    }
    rollout.write_text(json.dumps(record) + "\n")
    assert first.snapshot().state == "unknown"  # its holder waits for the next rescan
    second = shared_watcher(board.root, clock=clock)  # e.g. the next supervisor of this process
    assert second is first
    window = second.snapshot().window("5h")
    assert window is not None and window.used_percent == 91.0


def test_a_watcher_nobody_holds_is_let_go(tmp_path: Path) -> None:
    ref = weakref.ref(shared_watcher(tmp_path / "board"))
    gc.collect()
    assert ref() is None
