"""The credit-window gauge fed by the real Codex binary: rate-limit headers → rollout → RolloutWatcher."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from cockpit.core.usage.watcher import RolloutWatcher
from cockpit.core.usage.windows import Credits
from cockpit.demo.scripted_model import Scenario, ScriptedModel
from tests.helpers.codex import CompletedRun, rollout_file, run_codex_exec, token_counts

pytestmark = pytest.mark.codex


def scenario(*responses: dict[str, Any]) -> Scenario:
    return Scenario.model_validate({"name": "limits", "match": "", "responses": list(responses)})


def say(text: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    return {"headers": headers or {}, "items": [{"kind": "message", "text": text}]}


def shell(cmd: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    return {"headers": headers or {}, "items": [{"kind": "shell", "cmd": cmd}]}


def limit_headers(
    primary: tuple[float, int, int] | None, secondary: tuple[float, int, int] | None = None, **extra: str
) -> dict[str, str]:
    headers: dict[str, str] = {}
    for slot, values in (("primary", primary), ("secondary", secondary)):
        if values is not None:
            used, minutes, reset = values
            headers[f"x-codex-{slot}-used-percent"] = str(used)
            headers[f"x-codex-{slot}-window-minutes"] = str(minutes)
            headers[f"x-codex-{slot}-reset-at"] = str(reset)
    return {**headers, **extra}


CREDITS = {
    "x-codex-credits-has-credits": "true",
    "x-codex-credits-unlimited": "false",
    "x-codex-credits-balance": "12.50",
}
USAGE_LIMIT_BODY = {"error": {"type": "usage_limit_reached", "message": "The usage limit has been reached"}}


def assert_ok(run: CompletedRun) -> None:
    assert run.exit_code == 0, run.describe()
    assert run.event_types[-1] == "turn.completed", run.describe()


def resets() -> tuple[int, int]:
    now = int(time.time())
    return now + 3 * 3600 + 17 * 60, now + 4 * 86400 + 600


def test_headers_become_the_gauge(
    codex_bin: Path, scripted_model: ScriptedModel, codex_env: dict[str, str], codex_home: Path, workdir: Path
) -> None:
    reset_5h, reset_week = resets()
    headers = limit_headers((42.5, 300, reset_5h), (13, 10080, reset_week), **CREDITS)
    scripted_model.add_scenario(scenario(say("COMPLETED: limits", headers)))
    started = time.time()
    run = run_codex_exec(codex_bin, codex_env, workdir, "check the limits")
    assert_ok(run)
    assert run.thread_id is not None
    snap = RolloutWatcher([codex_home]).snapshot()
    assert [(w.label, w.minutes, w.used_percent, w.resets_at) for w in snap.windows] == [
        ("5h", 300, 42.5, float(reset_5h)),
        ("weekly", 10080, 13.0, float(reset_week)),
    ]
    assert snap.credits == Credits(has_credits=True, unlimited=False, balance="12.50")
    assert snap.state == "ok" and snap.binding is not None and snap.binding.label == "5h"
    assert snap.limit_id == "codex"
    assert snap.source == f"rollout:{rollout_file(codex_home, run.thread_id)}"
    assert snap.observed_at is not None and started - 1 <= snap.observed_at <= time.time() + 1


def test_weekly_only_plan_is_one_weekly_window(
    codex_bin: Path, scripted_model: ScriptedModel, codex_env: dict[str, str], codex_home: Path, workdir: Path
) -> None:
    _, reset_week = resets()
    scripted_model.add_scenario(scenario(say("COMPLETED: weekly", limit_headers((61, 10080, reset_week)))))
    assert_ok(run_codex_exec(codex_bin, codex_env, workdir, "weekly plan"))
    snap = RolloutWatcher([codex_home]).snapshot()
    assert [(w.label, w.used_percent, w.resets_at) for w in snap.windows] == [
        ("weekly", 61.0, float(reset_week))
    ]
    assert snap.window("5h") is None and snap.credits is None


def test_a_response_without_headers_makes_the_windows_unknown(
    codex_bin: Path, scripted_model: ScriptedModel, codex_env: dict[str, str], codex_home: Path, workdir: Path
) -> None:
    reset_5h, reset_week = resets()
    headers = limit_headers((42.5, 300, reset_5h), (13, 10080, reset_week), **CREDITS)
    scripted_model.add_scenario(scenario(shell("true", headers), say("COMPLETED: no headers now")))
    run = run_codex_exec(codex_bin, codex_env, workdir, "headers then none")
    assert_ok(run)
    assert run.thread_id is not None
    # What the binary writes: the second response's snapshot has null windows but keeps the credits.
    limits = [c["rate_limits"] for c in token_counts(codex_home, run.thread_id)]
    assert [(lim["primary"] or {}).get("used_percent") for lim in limits] == [42.5, None]
    assert limits[-1]["secondary"] is None
    assert limits[-1]["credits"] == {"has_credits": True, "unlimited": False, "balance": "12.50"}
    snap = RolloutWatcher([codex_home]).snapshot()
    assert [(w.label, w.used_percent) for w in snap.windows] == [("5h", None), ("weekly", None)]
    assert snap.state == "unknown" and snap.binding is None
    assert snap.credits == Credits(has_credits=True, unlimited=False, balance="12.50")


def test_usage_limit_429_with_headers_blocks_the_gauge(
    codex_bin: Path, scripted_model: ScriptedModel, codex_env: dict[str, str], codex_home: Path, workdir: Path
) -> None:
    reset_5h, reset_week = resets()
    headers = limit_headers((100, 300, reset_5h), (13, 10080, reset_week))
    body = {"error": {**USAGE_LIMIT_BODY["error"], "resets_at": reset_5h}}
    scripted_model.add_scenario(
        scenario({"kind": "http_error", "status": 429, "body": body, "headers": headers})
    )
    run = run_codex_exec(codex_bin, codex_env, workdir, "over the limit", timeout=30)
    assert run.exit_code == 1, run.describe()
    assert run.thread_id is not None
    [count] = token_counts(codex_home, run.thread_id)
    assert count["info"] is None and count["rate_limits"]["primary"]["used_percent"] == 100.0
    watcher = RolloutWatcher([codex_home])
    snap = watcher.snapshot()
    assert snap.state == "blocked"
    assert snap.binding is not None
    assert (snap.binding.label, snap.binding.used_percent, snap.binding.resets_at) == ("5h", 100.0, reset_5h)
    assert snap.window("weekly").used_percent == 13.0  # type: ignore[union-attr]
    assert watcher.blocked_until() == reset_5h


def test_usage_limit_keeps_the_header_numbers_until_the_failure_is_recorded(
    codex_bin: Path, scripted_model: ScriptedModel, codex_env: dict[str, str], codex_home: Path, workdir: Path
) -> None:
    reset_5h, reset_week = resets()
    body_reset = reset_5h - 600
    headers = limit_headers((97, 300, reset_5h), (13, 10080, reset_week))
    body = {"error": {**USAGE_LIMIT_BODY["error"], "resets_at": body_reset}}
    scripted_model.add_scenario(
        scenario({"kind": "http_error", "status": 429, "body": body, "headers": headers})
    )
    run = run_codex_exec(codex_bin, codex_env, workdir, "nearly over the limit", timeout=30)
    assert run.exit_code == 1, run.describe()
    assert run.thread_id is not None
    # Codex records the headers as sent: the 429 does not push the window to 100 %.
    [count] = token_counts(codex_home, run.thread_id)
    assert count["rate_limits"]["primary"]["used_percent"] == 97.0
    watcher = RolloutWatcher([codex_home])
    assert watcher.snapshot().state == "ok" and watcher.blocked_until() is None
    snap = watcher.record_usage_limit(float(body_reset))
    assert snap.state == "blocked"
    five_h = snap.window("5h")
    assert five_h is not None
    assert (five_h.used_percent, five_h.resets_at, five_h.source) == (100.0, body_reset, "failure")
    assert watcher.blocked_until() == body_reset
    # The failing request's own snapshot is older than the failure: the block stays.
    assert watcher.snapshot().state == "blocked"


def test_resumed_thread_is_tailed_incrementally(
    codex_bin: Path, scripted_model: ScriptedModel, codex_env: dict[str, str], codex_home: Path, workdir: Path
) -> None:
    reset_5h, reset_week = resets()
    first = limit_headers((42.5, 300, reset_5h), (13, 10080, reset_week))
    second = limit_headers((57.25, 300, reset_5h), (14, 10080, reset_week))
    scripted_model.add_scenario(scenario(say("COMPLETED: first", first), say("COMPLETED: second", second)))
    run = run_codex_exec(codex_bin, codex_env, workdir, "first turn")
    assert_ok(run)
    assert run.thread_id is not None
    watcher = RolloutWatcher([codex_home])
    assert watcher.snapshot().window("5h").used_percent == 42.5  # type: ignore[union-attr]
    path = rollout_file(codex_home, run.thread_id)
    size, read = path.stat().st_size, watcher.bytes_read
    assert watcher.offset(path) == size == read
    resumed = run_codex_exec(codex_bin, codex_env, workdir, "again", "resume", run.thread_id)
    assert_ok(resumed)
    assert rollout_file(codex_home, run.thread_id) == path  # resume appends to the same rollout
    snap = watcher.snapshot()
    assert [(w.label, w.used_percent) for w in snap.windows] == [("5h", 57.25), ("weekly", 14.0)]
    assert watcher.bytes_read - read == path.stat().st_size - size  # only the appended bytes were read
