"""The dead-letter, breaker and usage views with Pilot, over real blackboard data written with the core
APIs: ``l``, ``b`` and ``u`` open them from the main screen, ``r`` retries a dead letter, ``a`` shows the
archived ones, countdowns follow the app's injected clock, ``escape`` goes back, and every key is a
palette entry."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import DataTable, Static

from cockpit.core.board.blackboard import Blackboard
from cockpit.core.claude.stream import RateLimitInfo
from cockpit.core.layout import CLAUDE_LIMITS_FILE
from cockpit.core.policy.breaker import BreakerStore
from cockpit.core.policy.dead_letters import ARCHIVE_AFTER_S, DeadLetter, DeadLetterQueue, Priority
from cockpit.core.records.attempt import ErrorType
from cockpit.core.records.basics import TaskStatus
from cockpit.core.records.task import TaskState
from cockpit.core.usage.claude_limits import ClaudeLimitsStore
from cockpit.tui.app import CockpitApp
from cockpit.tui.screens.breakers_screen import BreakersScreen
from cockpit.tui.screens.dead_letters_screen import DeadLettersScreen
from cockpit.tui.screens.main_screen import MainScreen
from cockpit.tui.screens.usage_screen import UsageScreen
from tests.helpers.review import judged_review

# 2026-11-23 21:40:00 UTC, a Monday: 130 s after the rollout line below was written.
FIXED = 1_795_470_000.0
ROLLOUT_LINE = {
    "timestamp": "2026-11-23T21:37:50.228Z",
    "type": "event_msg",
    "payload": {
        "type": "token_count",
        "info": None,
        "rate_limits": {
            "limit_id": "codex",
            "primary": {"used_percent": 42.5, "window_minutes": 300, "resets_at": 1795473469},
            "secondary": {"used_percent": 80.0, "window_minutes": 10080, "resets_at": 1795556269},
            "credits": {"has_credits": True, "unlimited": False, "balance": "12.50"},
            "plan_type": None,
            "rate_limit_reached_type": None,
        },
    },
}


async def until(pilot: Pilot[None], ready: Callable[[], bool], rounds: int = 50) -> None:
    """Let workers finish and messages land until ``ready()`` holds."""
    for _ in range(rounds):
        if ready():
            return
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
    assert ready()


def cell(table: DataTable[object], row: str, column: str) -> str:
    return str(table.get_cell(row, column))


def text_of(screen: object, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())  # type: ignore[attr-defined]


def titles(app: CockpitApp) -> list[str]:
    return [command.title for command in app.get_system_commands(app.screen)]


def dead_letter_task(board: Blackboard, task_id: str) -> None:
    board.write_state(TaskState(id=task_id, lane="local", title=task_id, status=TaskStatus.DEAD_LETTER))


def letter(task_id: str, error_type: ErrorType, **fields: object) -> DeadLetter:
    return DeadLetter(
        task_id=task_id,
        original_task={"goal": f"do {task_id}"},
        error=f"{task_id} failed: [bold]HTTP 429[/bold] Too Many Requests",
        error_type=error_type,
        attempts=3,
        first_attempt=FIXED - 4000,
        last_attempt=FIXED - 3700,
        **fields,
    )


def seed_dead_letters(repo: Path) -> Blackboard:
    board = Blackboard(repo)
    queue = DeadLetterQueue(board.root / "dead-letters", lambda: FIXED)
    for task_id in ("flaky-0001", "authz-0002", "old-0003"):
        dead_letter_task(board, task_id)
    queue.add(
        letter(
            "flaky-0001",
            ErrorType.TRANSIENT,
            priority=Priority.HIGH,
            retry_after=FIXED + 900,
            related_circuit_breaker="openai",
            created_at=FIXED - 3600,
        )
    )
    queue.add(letter("authz-0002", ErrorType.AUTH, created_at=FIXED - 1800))
    queue.add(letter("old-0003", ErrorType.LOGIC, created_at=FIXED - ARCHIVE_AFTER_S - 60))
    assert queue.archive_old() == ["old-0003"]
    return board


async def test_dead_letters_list_retry_and_archived(repo: Path) -> None:
    board = seed_dead_letters(repo)
    app = CockpitApp(repo, host_supervisor=False, clock=lambda: FIXED, env={"CODEX_HOME": str(repo.parent)})
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.press("l")
        screen = app.screen
        assert isinstance(screen, DeadLettersScreen)
        table = screen.query_one(DataTable)
        await until(pilot, lambda: table.row_count == 2)
        assert not screen.has_class("-empty")
        flaky, authz = "active:flaky-0001", "active:authz-0002"
        assert [str(row.key.value) for row in table.ordered_rows] == [flaky, authz]  # oldest first
        assert cell(table, flaky, "error_type") == "transient" and cell(table, flaky, "priority") == "high"
        assert cell(table, flaky, "attempts") == "3" and cell(table, flaky, "age") == "1h"
        assert cell(table, flaky, "next_retry") == "in 15m"
        assert cell(table, authz, "next_retry") == "auth errors need a human (cockpit retry)"
        assert cell(table, flaky, "reason") == "flaky-0001 failed: [bold]HTTP 429[/bold] Too Many Requests"
        assert "2 active" in text_of(screen, "#dlq-title")

        await pilot.press("a")
        await until(pilot, lambda: table.row_count == 3)
        archived = "archived:0:old-0003"
        assert cell(table, archived, "task") == "old-0003 (archived)"
        assert cell(table, archived, "next_retry") == "archived: retried only by hand"
        await pilot.press("a")
        await until(pilot, lambda: table.row_count == 2)

        table.move_cursor(row=0)
        await pilot.press("r")
        await until(pilot, lambda: cell(table, flaky, "next_retry") == "task is queued")
        state = board.read_state("flaky-0001")
        assert state is not None and state.status is TaskStatus.QUEUED
        assert state.message == "retried by hand"
        assert board.read_state("authz-0002").status is TaskStatus.DEAD_LETTER  # type: ignore[union-attr]

        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)


async def test_breakers_show_state_word_failures_and_probe_countdown(repo: Path) -> None:
    board = Blackboard(repo)
    store = BreakerStore(board.root / "breakers", lambda: FIXED - 10, random.Random(7))
    openai = store.get("openai")
    for _ in range(3):
        openai.on_failure("transient/429", "HTTP 429 Too Many Requests [red]x[/red]")
    store.save(openai)
    other = store.get("azure")
    other.on_failure("transient/503", "HTTP 503")
    store.save(other)
    app = CockpitApp(repo, host_supervisor=False, clock=lambda: FIXED, env={"CODEX_HOME": str(repo.parent)})
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.press("b")
        screen = app.screen
        assert isinstance(screen, BreakersScreen)
        table = screen.query_one(DataTable)
        await until(pilot, lambda: table.row_count == 2)
        assert cell(table, "openai", "state") == "✗ open"
        assert cell(table, "openai", "failures") == "3"
        assert cell(table, "openai", "opened") == "10s ago (cooldown 5 min)"
        probe = cell(table, "openai", "next_probe")
        assert probe.startswith("probe in 4m ") or probe == "probe in 5m", probe
        assert cell(table, "openai", "last_error") == "HTTP 429 Too Many Requests [red]x[/red]"
        assert cell(table, "azure", "state") == "✓ closed"
        assert cell(table, "azure", "failures") == "1" and cell(table, "azure", "next_probe") == "-"
        assert "2 provider(s), 1 not closed" in text_of(screen, "#breakers-title")
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)


def write_rollout(home: Path) -> None:
    day = home / "sessions" / "2026" / "11" / "23"
    day.mkdir(parents=True)
    (day / "rollout-2026-11-23T21-37-00-test.jsonl").write_text(json.dumps(ROLLOUT_LINE) + "\n")


def write_ledger(board: Blackboard) -> None:
    (board.root / "config.toml").write_text(
        'timezone = "UTC"\n[budget]\ndaily_tokens = 5000\nweekly_tokens = 20000\n', encoding="utf-8"
    )
    ts = datetime.fromtimestamp(FIXED - 600, UTC).isoformat()
    for n, (lane, effort, tokens_in) in enumerate((("local", "low", 1500), ("worktree", "high", 3000))):
        board.append_ledger(
            {
                "ts": ts,
                "task_id": f"t-{n}",
                "attempt": 1,
                "lane": lane,
                "effort": effort,
                "input_tokens": tokens_in,
                "cached_input_tokens": 100,
                "output_tokens": 300,
                "reasoning_output_tokens": 20,
            }
        )


async def test_usage_shows_windows_binding_first_tokens_by_lane_and_effort_and_budget(
    repo: Path, tmp_path: Path
) -> None:
    board = Blackboard(repo)
    home = tmp_path / "codex-home"
    write_rollout(home)
    write_ledger(board)
    app = CockpitApp(repo, host_supervisor=False, clock=lambda: FIXED, env={"CODEX_HOME": str(home)})
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.press("u")
        screen = app.screen
        assert isinstance(screen, UsageScreen)
        table = screen.query_one(DataTable)
        await until(pilot, lambda: table.row_count == 5)
        windows = text_of(screen, "#usage-windows").splitlines()
        assert windows[1].startswith("weekly  80.0% used  resets ")
        assert windows[1].endswith("(in 23h 57m)  ← binding")
        assert windows[2].startswith("5h      42.5% used  resets ") and windows[2].endswith("(in 57m 49s)")
        assert windows[3] == "credits 12.50"
        assert [str(row.key.value) for row in table.ordered_rows] == [
            "all",
            "lane local",
            "lane worktree",
            "effort low",
            "effort high",
        ]
        assert cell(table, "all", "today_total") == "5.1K" and cell(table, "all", "week_runs") == "2"
        assert cell(table, "lane local", "today_total") == "1.8K"
        assert cell(table, "effort high", "week_input") == "3.0K"
        assert "input includes cached (today 200" in text_of(screen, "#usage-notes")
        budget = text_of(screen, "#usage-budget")
        assert budget.startswith("budget: today 5100/5000 tokens, this week 5100/20000")
        assert "daily budget reached: 5,100 of 5,000 tokens used today" in budget
        assert "credit windows: Codex ok, Claude unknown" in text_of(screen, "#usage-title")
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)


async def test_usage_shows_claude_windows_each_family_and_the_reviewers_rate(
    repo: Path, tmp_path: Path
) -> None:
    """Claude's windows from the board's file, each family's figures from the ledger (Claude's reviews,
    tokens and reported cost; Codex's cost unknown), and the reviewer's substantive rate with its warning
    under 20 %, read once while nothing changes."""
    board = Blackboard(repo)
    home = tmp_path / "codex-home"
    write_rollout(home)
    write_ledger(board)
    ts = datetime.fromtimestamp(FIXED - 300, UTC).isoformat()
    for n, (task, round_n, cost) in enumerate((("t-0", 1, None), ("t-0", 1, 0.042), ("t-1", 1, 0.0113))):
        board.append_ledger(
            {
                "ts": ts,
                "task_id": task,
                "attempt": 1,
                "family": "claude",
                "review_round": round_n,
                "review_try": n + 1,
                "input_tokens": 2000,
                "output_tokens": 400,
                "cost_usd": cost,
            }
        )
    info = {
        "status": "allowed_warning",
        "rateLimitType": "five_hour",
        "utilization": 0.93,
        "resetsAt": FIXED + 4320,
    }
    ClaudeLimitsStore(board.root / CLAUDE_LIMITS_FILE).record(
        [RateLimitInfo.model_validate(info)], FIXED - 60, "s"
    )
    judged_review(board, "noisy-1", *["NOISE"] * 4)
    judged_review(board, "noisy-2", *["NOISE"] * 3)
    app = CockpitApp(repo, host_supervisor=False, clock=lambda: FIXED, env={"CODEX_HOME": str(home)})
    async with app.run_test(size=(160, 60)) as pilot:
        await pilot.press("u")
        screen = app.screen
        assert isinstance(screen, UsageScreen)
        await until(pilot, lambda: "Claude" in text_of(screen, "#usage-families"))
        assert "credit windows: Codex ok, Claude warning" in text_of(screen, "#usage-title")
        claude = text_of(screen, "#usage-claude").splitlines()
        assert claude[0] == "Claude Code credit windows (from the reviewer's rate_limit_event lines)"
        assert claude[1].startswith("5h      93.0% used  allowed_warning  resets ")
        assert claude[1].endswith("(in 1h 12m)  ← current")
        families = text_of(screen, "#usage-families").splitlines()
        assert families[0] == "By model family (today · this week)"
        assert families[1] == (
            "Codex   today 2 runs, 5.1K tokens, cost unknown · week 2 runs, 5.1K tokens, cost unknown"
        )
        assert families[2] == (
            "Claude  today 2 reviews (3 runs), 7.2K tokens, $0.0533 (1 without a cost) · "
            "week 2 reviews (3 runs), 7.2K tokens, $0.0533 (1 without a cost)"
        )
        assert families[3] == (
            "reviewer: substantive rate 0% over the last 2 reviews (0 of 7 challenges VALID or PARTIAL): "
            "under 20%, the reviewer needs a better prompt"
        )
        table = screen.query_one(DataTable)
        assert cell(table, "all", "today_runs") == "2"  # the table stays Codex's
        computed = screen.reviewer.computed
        screen.read()  # another tick, nothing changed
        assert screen.reviewer.computed == computed == 1


async def test_empty_states(repo: Path, tmp_path: Path) -> None:
    home = tmp_path / "empty-codex-home"
    home.mkdir()
    app = CockpitApp(repo, host_supervisor=False, clock=lambda: FIXED, env={"CODEX_HOME": str(home)})
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("l")
        await until(pilot, lambda: "0 active" in text_of(app.screen, "#dlq-title"))
        assert app.screen.has_class("-empty") and text_of(app.screen, "#dlq-empty") == "no dead letters"
        assert not app.screen.query_one("#dlq-table").display
        await pilot.press("r")  # nothing to retry: a warning, no worker
        await pilot.press("escape", "b")
        screen = app.screen
        assert isinstance(screen, BreakersScreen)
        await until(pilot, lambda: "0 provider(s)" in text_of(screen, "#breakers-title"))
        assert text_of(screen, "#breakers-empty") == "no breaker has tripped (all closed)"
        await pilot.press("escape", "u")
        screen = app.screen
        assert isinstance(screen, UsageScreen)
        await until(pilot, lambda: "credit windows" in text_of(screen, "#usage-title"))
        assert "usage  unknown (no rate-limit snapshot seen)" in text_of(screen, "#usage-windows")
        assert "credit windows: Codex unknown, Claude unknown" in text_of(screen, "#usage-title")
        claude = text_of(screen, "#usage-claude")
        assert "usage  unknown (no rate_limit_event seen" in claude
        families = text_of(screen, "#usage-families").splitlines()
        assert families[1].startswith("Codex   today 0 runs, 0 tokens, no cost")
        assert families[2].startswith("Claude  today 0 reviews (0 runs), 0 tokens, no cost")
        assert len(families) == 3  # no reviewed task: no reviewer line
        assert text_of(screen, "#usage-budget").startswith("budget: none configured")
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, MainScreen))


async def test_palette_lists_each_views_keys(repo: Path, tmp_path: Path) -> None:
    app = CockpitApp(repo, host_supervisor=False, clock=lambda: FIXED, env={"CODEX_HOME": str(tmp_path)})
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert {"Cockpit: Dead letters", "Cockpit: Breakers", "Cockpit: Usage"} <= set(titles(app))
        await pilot.press("l")
        await pilot.pause()
        assert {
            "Dead letters: Retry",
            "Dead letters: Archived on/off",
            "Dead letters: Refresh",
            "Dead letters: Back",
        } <= set(titles(app))
        await pilot.press("escape", "b")
        await pilot.pause()
        assert {"Breakers: Back", "Breakers: Refresh"} <= set(titles(app))
        await pilot.press("escape", "u")
        await pilot.pause()
        assert {"Usage: Back", "Usage: Refresh"} <= set(titles(app))
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, MainScreen))
