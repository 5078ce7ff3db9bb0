"""Credit windows from rollout ``token_count`` snapshots: every shape, labels, binding window, tailing."""

from __future__ import annotations

import json
import os
import shutil
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest

from cockpit.core.usage.rollouts import (
    codex_homes_from,
    parse_rate_limits,
    parse_rollout_line,
    parse_timestamp,
)
from cockpit.core.usage.watcher import RolloutWatcher
from cockpit.core.usage.windows import Credits, UsageWindows, Window, window_label

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "rollouts"
RECORDED = json.loads((FIXTURES / "recorded-headers.json").read_text(encoding="utf-8"))

# Verbatim from the 0.169.0 rollout facts (headers: primary 42.5 % / 300 min, secondary, credits).
V0169_LINE = (
    '{"timestamp":"2026-11-23T21:37:50.228Z","ordinal":13,"type":"event_msg","payload":{"type":"token_count",'
    '"info":{"total_token_usage":{"input_tokens":100,"cached_input_tokens":0,"cache_write_input_tokens":0,'
    '"output_tokens":20,"reasoning_output_tokens":0,"total_tokens":120},"last_token_usage":{"input_tokens":100,'
    '"cached_input_tokens":0,"cache_write_input_tokens":0,"output_tokens":20,"reasoning_output_tokens":0,'
    '"total_tokens":120},"last_usage_includes_reasoning":false,"model_context_window":258400},"rate_limits":'
    '{"limit_id":"codex","limit_name":null,"primary":{"used_percent":42.5,"window_minutes":300,'
    '"resets_at":1795473469},"secondary":{"used_percent":13.0,"window_minutes":10080,"resets_at":1795556269},'
    '"credits":{"has_credits":true,"unlimited":false,"balance":"12.50"},"individual_limit":null,'
    '"spend_control_reached":null,"plan_type":null,"rate_limit_reached_type":null}}}'
)


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def snapshots_in(path: Path) -> list[UsageWindows]:
    out = []
    for line in path.read_bytes().splitlines():
        snap = parse_rollout_line(line, source=f"rollout:{path}")
        if snap is not None:
            out.append(snap)
    return out


def last_snapshot(name: str) -> UsageWindows:
    return snapshots_in(FIXTURES / name)[-1]


def token_line(
    ts: str, primary: dict[str, Any] | None, secondary: dict[str, Any] | None = None, **extra: Any
) -> str:
    limits = {"limit_id": "codex", "primary": primary, "secondary": secondary, **extra}
    payload = {"type": "token_count", "info": None, "rate_limits": limits}
    return json.dumps({"timestamp": ts, "type": "event_msg", "payload": payload}, separators=(",", ":"))


def filler_line(ts: str, size: int) -> str:
    text = "x" * size
    payload = {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": text}]}
    return json.dumps({"timestamp": ts, "type": "response_item", "payload": payload})


def window(minutes: int | None, used: float | None, resets_at: float | None = None) -> Window:
    return Window(minutes=minutes, used_percent=used, resets_at=resets_at, source="test", observed_at=0.0)


def rollout_path(home: Path, day: str = "2026/03/27", name: str = "a") -> Path:
    path = home / "sessions" / day / f"rollout-{day.replace('/', '-')}T10-00-00-{name}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def append(path: Path, text: str | bytes) -> None:
    with path.open("ab") as fh:
        fh.write(text.encode() if isinstance(text, str) else text)


T0 = parse_timestamp("2026-03-27T10:00:00.000Z") or 0.0


# --- labels and windows ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("minutes", "label"),
    [(300, "5h"), (10080, "weekly"), (90, "90m"), (60, "1h"), (2880, "2d"), (45, "45m"), (None, "unknown")],
)
def test_window_label_comes_from_minutes(minutes: int | None, label: str) -> None:
    assert window_label(minutes) == label
    assert window(minutes, 1.0).label == label


def test_window_methods() -> None:
    w = Window(minutes=300, used_percent=42.5, resets_at=1000.0, source="test", observed_at=0.0)
    assert w.left_percent == 57.5
    assert w.seconds_to_reset(400.0) == 600.0
    assert w.seconds_to_reset(2000.0) == 0.0
    assert not w.blocked
    assert window(300, 100.0).blocked and window(300, 100.0).left_percent == 0.0
    assert window(300, 120.0).left_percent == 0.0
    unknown = window(300, None)
    assert unknown.left_percent is None and not unknown.blocked
    assert unknown.seconds_to_reset(0.0) is None
    dumped = w.model_dump()
    assert dumped["label"] == "5h" and dumped["left_percent"] == 57.5 and dumped["blocked"] is False


def test_parse_timestamp_is_utc_with_milliseconds() -> None:
    assert parse_timestamp("2026-11-23T21:37:50.228Z") == pytest.approx(1795469870.228)
    assert parse_timestamp("2026-11-23T21:37:50.228") == pytest.approx(1795469870.228)  # naive = UTC
    assert parse_timestamp(1795469870228) == pytest.approx(1795469870.228)  # milliseconds
    assert parse_timestamp("garbage") is None
    assert parse_timestamp(None) is None


# --- every historical shape ----------------------------------------------------------------------------


def test_v0169_verbatim_line() -> None:
    snap = parse_rollout_line(V0169_LINE, source="rollout:x")
    assert snap is not None
    assert [(w.label, w.minutes, w.used_percent, w.resets_at) for w in snap.windows] == [
        ("5h", 300, 42.5, 1795473469.0),
        ("weekly", 10080, 13.0, 1795556269.0),
    ]
    assert snap.credits == Credits(has_credits=True, unlimited=False, balance="12.50")
    assert snap.limit_id == "codex" and snap.plan_type is None
    assert snap.observed_at == pytest.approx(1795469870.228)
    assert all(w.observed_at == snap.observed_at and w.source == "rollout:x" for w in snap.windows)
    assert snap.state == "ok" and snap.binding is not None and snap.binding.label == "5h"


def test_flat_v040_shape() -> None:
    snaps = snapshots_in(FIXTURES / "v0.40-flat.jsonl")
    assert len(snaps) == 2
    last = snaps[-1]
    assert [(w.label, w.used_percent, w.resets_at) for w in last.windows] == [
        ("5h", 36.5, None),
        ("weekly", 8.75, None),
    ]
    assert last.observed_at == parse_timestamp("2025-09-20T10:00:09.500Z")
    assert last.credits is None and last.state == "ok"


def test_resets_in_seconds_is_relative_to_the_line_timestamp() -> None:
    first, last = snapshots_in(FIXTURES / "v0.41-resets-in-seconds.jsonl")
    line_time = parse_timestamp("2025-10-01T12:00:03.250Z")
    assert line_time is not None
    assert first.window("5h") == Window(
        minutes=300, used_percent=20.0, resets_at=line_time + 3600, source=first.source, observed_at=line_time
    )
    later = parse_timestamp("2025-10-01T12:10:00.750Z") or 0.0
    five_h, weekly = last.windows
    assert (five_h.label, five_h.used_percent, five_h.resets_at) == ("5h", 22.0, later + 3000)
    assert (weekly.label, weekly.used_percent, weekly.resets_at) == ("weekly", 56.0, later + 258600)


def test_nested_absolute_resets_at_shape() -> None:
    snap = last_snapshot("nested-resets-at.jsonl")
    assert [(w.label, w.used_percent, w.resets_at) for w in snap.windows] == [
        ("5h", 53.0, 1774594435.0),
        ("weekly", 16.0, 1775181235.0),
    ]
    assert (snap.plan_type, snap.limit_id, snap.credits) == ("team", "codex", None)


def test_null_rate_limits_are_skipped_for_the_latest_non_null() -> None:
    path = FIXTURES / "null-rate-limits.jsonl"
    lines = path.read_bytes().splitlines()
    assert parse_rollout_line(lines[2], source="x") is None  # info present, rate_limits null
    assert parse_rollout_line(lines[3], source="x") is None  # info null, rate_limits null
    snap = last_snapshot("null-rate-limits.jsonl")
    assert [(w.label, w.used_percent) for w in snap.windows] == [("5h", 71.25), ("weekly", 40.0)]
    assert snap.credits == Credits(has_credits=False, unlimited=False, balance=None)


def test_null_windows_are_unknown_never_zero() -> None:
    snap = last_snapshot("api-key-null-windows.jsonl")
    assert [(w.label, w.used_percent, w.left_percent) for w in snap.windows] == [("unknown", None, None)]
    assert snap.state == "unknown" and snap.binding is None
    lines = snap.to_lines(now=0.0, tz=UTC)
    assert lines == ["window unknown"]
    assert not any("0.0%" in line for line in lines)


def test_primary_null_keeps_the_known_weekly_window() -> None:
    snap = last_snapshot("primary-null.jsonl")
    assert [(w.label, w.used_percent) for w in snap.windows] == [("weekly", 30.0), ("unknown", None)]
    assert snap.binding is not None and snap.binding.label == "weekly"
    assert snap.plan_type == "plus" and snap.state == "ok"


def test_null_slot_keeps_its_label_with_slot_hints() -> None:
    raw = {"limit_id": "codex", "primary": None, "secondary": None, "credits": None}
    snap = parse_rate_limits(
        raw, observed_at=5.0, source="x", slot_minutes={"primary": 300, "secondary": 10080}
    )
    assert snap is not None
    assert [(w.label, w.used_percent) for w in snap.windows] == [("5h", None), ("weekly", None)]
    assert snap.state == "unknown"
    assert parse_rate_limits(None, observed_at=5.0, source="x") is None


def test_windows_are_labelled_by_minutes_not_position() -> None:
    weekly_only = parse_rate_limits(
        {"primary": {"used_percent": 61, "window_minutes": 10080, "resets_at": 9e8}, "secondary": None},
        observed_at=1.0,
        source="x",
    )
    assert weekly_only is not None
    assert [(w.label, w.used_percent) for w in weekly_only.windows] == [("weekly", 61.0)]
    swapped = parse_rate_limits(
        {
            "primary": {"used_percent": 10, "window_minutes": 10080},
            "secondary": {"used_percent": 80, "window_minutes": 300},
        },
        observed_at=1.0,
        source="x",
    )
    assert swapped is not None
    assert [(w.label, w.used_percent) for w in swapped.windows] == [("5h", 80.0), ("weekly", 10.0)]


def test_nan_and_junk_values_are_unknown() -> None:
    snap = parse_rate_limits(
        {"primary": {"used_percent": "abc", "window_minutes": -5, "resets_at": "soon"}, "secondary": None},
        observed_at=1.0,
        source="x",
    )
    assert snap is not None
    [only] = snap.windows
    assert (only.minutes, only.used_percent, only.resets_at) == (None, None, None)


def test_duplicate_token_count_rows_do_not_matter() -> None:
    snaps = snapshots_in(FIXTURES / "duplicates.jsonl")
    assert len(snaps) == 3
    assert snaps[0].windows == snaps[1].windows  # same line written twice
    assert [(w.label, w.used_percent) for w in snaps[-1].windows] == [("5h", 12.0), ("weekly", 4.0)]


def test_corrupt_lines_are_ignored() -> None:
    path = FIXTURES / "corrupt.jsonl"
    for line in path.read_bytes().splitlines()[2:]:
        assert parse_rollout_line(line, source="x") is None
    snap = last_snapshot("corrupt.jsonl")
    assert [(w.label, w.used_percent) for w in snap.windows] == [("5h", 25.0), ("weekly", 9.0)]


def test_bare_token_count_record_and_missing_timestamp() -> None:
    line = json.dumps(
        {"type": "token_count", "rate_limits": {"primary": {"used_percent": 5, "window_minutes": 300}}}
    )
    assert parse_rollout_line(line, source="x") is None  # no timestamp, no fallback
    snap = parse_rollout_line(line, source="x", fallback_time=123.0)
    assert snap is not None and snap.observed_at == 123.0
    assert [(w.label, w.used_percent) for w in snap.windows] == [("5h", 5.0)]


# --- real recordings from the pinned binary -----------------------------------------------------------


def _headers_window(headers: dict[str, str], slot: str) -> tuple[str, float, float]:
    return (
        window_label(int(headers[f"x-codex-{slot}-window-minutes"])),
        float(headers[f"x-codex-{slot}-used-percent"]),
        float(headers[f"x-codex-{slot}-reset-at"]),
    )


def test_real_recording_headers_then_none() -> None:
    headers = RECORDED["real-limits-then-none.jsonl"][0]
    first, last = snapshots_in(FIXTURES / "real-limits-then-none.jsonl")
    assert [(w.label, w.used_percent, w.resets_at) for w in first.windows] == [
        _headers_window(headers, "primary"),
        _headers_window(headers, "secondary"),
    ]
    assert first.credits == Credits(has_credits=True, unlimited=False, balance="12.50")
    # The second response carried no headers: Codex wrote primary/secondary null but kept the credits.
    assert [w.used_percent for w in last.windows] == [None]
    assert last.state == "unknown" and last.credits == first.credits


def test_real_recording_weekly_only() -> None:
    headers = RECORDED["real-weekly-only.jsonl"][0]
    snap = last_snapshot("real-weekly-only.jsonl")
    assert [(w.label, w.used_percent, w.resets_at) for w in snap.windows] == [
        _headers_window(headers, "primary")
    ]
    assert snap.window("5h") is None and snap.credits is None


def test_real_recording_usage_limit_429() -> None:
    headers = RECORDED["real-usage-limit.jsonl"][0]
    records = [json.loads(line) for line in (FIXTURES / "real-usage-limit.jsonl").read_text().splitlines()]
    counts = [
        r["payload"] for r in records if r["type"] == "event_msg" and r["payload"]["type"] == "token_count"
    ]
    assert counts[-1]["info"] is None
    snap = last_snapshot("real-usage-limit.jsonl")
    assert snap.state == "blocked"
    assert snap.binding is not None
    assert (snap.binding.label, snap.binding.used_percent, snap.binding.resets_at) == _headers_window(
        headers, "primary"
    )


def test_real_recording_second_limit_family() -> None:
    snap = last_snapshot("real-limit-family.jsonl")
    # Codex wrote only the extra family for that response; the default codex windows were not recorded.
    assert (snap.limit_id, snap.limit_name) == ("spark", "Spark")
    assert [(w.label, w.used_percent, w.resets_at) for w in snap.windows] == [("1h", 77.0, None)]


# --- binding window and state -----------------------------------------------------------------------------


def usage(*windows: Window) -> UsageWindows:
    return UsageWindows(windows=list(windows), observed_at=0.0, source="test")


def test_binding_is_the_highest_used_window() -> None:
    snap = usage(window(300, 42.5, 100.0), window(10080, 70.0, 900.0))
    assert snap.binding is not None and snap.binding.label == "weekly"
    assert snap.state == "ok"


def test_either_window_at_100_blocks() -> None:
    snap = usage(window(300, 99.0, 100.0), window(10080, 100.0, 900.0))
    assert snap.binding is not None and snap.binding.label == "weekly"
    assert snap.state == "blocked"
    snap = usage(window(300, 100.0, 100.0), window(10080, 99.9, 900.0))
    assert snap.binding is not None and snap.binding.label == "5h" and snap.state == "blocked"


def test_both_exhausted_binds_the_later_reset() -> None:
    snap = usage(window(300, 100.0, 500.0), window(10080, 100.0, 900.0))
    assert snap.binding is not None and snap.binding.label == "weekly"
    snap = usage(window(300, 100.0, 5000.0), window(10080, 100.0, 900.0))
    assert snap.binding is not None and snap.binding.label == "5h"


def test_ties_go_to_the_later_reset() -> None:
    snap = usage(window(300, 50.0, 100.0), window(10080, 50.0, 900.0))
    assert snap.binding is not None and snap.binding.label == "weekly"
    snap = usage(window(300, 50.0, 1000.0), window(10080, 50.0, 900.0))
    assert snap.binding is not None and snap.binding.label == "5h"


def test_unknown_windows_never_bind() -> None:
    snap = usage(window(300, None), window(10080, 3.0, 900.0))
    assert snap.binding is not None and snap.binding.label == "weekly"
    assert UsageWindows.unknown().state == "unknown" and UsageWindows.unknown().binding is None


def test_as_of_expires_windows_whose_reset_passed() -> None:
    snap = usage(window(300, 100.0, 500.0), window(10080, 20.0, 900.0))
    later = snap.as_of(600.0)
    assert [(w.label, w.used_percent) for w in later.windows] == [("5h", None), ("weekly", 20.0)]
    assert later.state == "ok"
    assert snap.as_of(400.0) is snap


def test_json_dump_has_computed_fields() -> None:
    snap = parse_rollout_line(V0169_LINE, source="rollout:x")
    assert snap is not None
    data = json.loads(snap.model_dump_json())
    assert data["state"] == "ok" and data["binding"]["label"] == "5h"
    assert [w["label"] for w in data["windows"]] == ["5h", "weekly"]
    assert data["windows"][0]["left_percent"] == 57.5


# --- rendering ------------------------------------------------------------------------------------------


def test_to_lines() -> None:
    now = parse_timestamp("2026-11-23T22:25:00Z") or 0.0
    snap = UsageWindows(
        windows=[
            Window(minutes=300, used_percent=42.5, resets_at=now + 72 * 60, source="x", observed_at=now),
            Window(minutes=10080, used_percent=None, source="x", observed_at=now),
        ],
        credits=Credits(has_credits=True, balance="12.50"),
        observed_at=now,
        source="x",
    )
    assert snap.to_lines(now, tz=UTC) == [
        "5h      42.5% used  resets 23:37 (in 1h 12m)",
        "weekly unknown",
        "credits 12.50",
    ]
    blocked = UsageWindows(
        windows=[
            Window(minutes=10080, used_percent=100, resets_at=now + 2 * 86400 + 3 * 3600, source="failure")
        ],
        credits=Credits(unlimited=True),
    )
    assert blocked.to_lines(now, tz=UTC) == [
        "weekly 100.0% used  resets Thu 01:25 (in 2d 3h)  BLOCKED (usage limit hit)",
        "credits unlimited",
    ]
    assert UsageWindows.unknown().to_lines(now) == ["usage  unknown (no rate-limit snapshot seen)"]
    assert usage(window(300, None, now - 60)).to_lines(now, tz=UTC) == [
        "5h     unknown  (reset 22:24 passed)"
    ]


# --- homes --------------------------------------------------------------------------------------------------


def test_codex_homes_from(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    assert codex_homes_from([str(a), f"{b}, {a}", None, "", f"{a}/"]) == [a, b]
    assert codex_homes_from([None, ""]) == [Path(os.path.expanduser("~/.codex"))]
    assert codex_homes_from(["~/x"]) == [Path(os.path.expanduser("~/x"))]


# --- watcher: incremental tailing ---------------------------------------------------------------------------


def test_watcher_reads_only_appended_bytes(tmp_path: Path) -> None:
    home = tmp_path / "home"
    path = rollout_path(home)
    append(path, token_line("2026-03-27T10:00:01.000Z", {"used_percent": 10, "window_minutes": 300}) + "\n")
    clock = Clock(T0)
    watcher = RolloutWatcher([home], clock)
    assert watcher.snapshot().window("5h") == Window(
        minutes=300,
        used_percent=10.0,
        source=f"rollout:{path}",
        observed_at=parse_timestamp("2026-03-27T10:00:01.000Z") or 0.0,
    )
    size = path.stat().st_size
    assert watcher.bytes_read == size and watcher.offset(path) == size

    line = token_line("2026-03-27T10:00:02.000Z", {"used_percent": 20, "window_minutes": 300}) + "\n"
    cut = len(line) // 2
    append(path, line[:cut])  # a partial line: buffered, not parsed
    assert watcher.refresh() is False
    assert watcher.bytes_read == size + cut and watcher.offset(path) == size + cut
    assert watcher.snapshot().window("5h").used_percent == 10.0  # type: ignore[union-attr]

    append(path, line[cut:-1])  # still no newline
    watcher.refresh()
    assert watcher.snapshot().window("5h").used_percent == 10.0  # type: ignore[union-attr]
    append(path, "\n" + filler_line("2026-03-27T10:00:03.000Z", 100) + "\n")
    assert watcher.refresh() is True
    assert watcher.snapshot().window("5h").used_percent == 20.0  # type: ignore[union-attr]
    # Every byte of the file was read exactly once.
    assert watcher.bytes_read == path.stat().st_size == watcher.offset(path)
    before = watcher.bytes_read
    for _ in range(3):
        assert watcher.refresh() is False
    assert watcher.bytes_read == before


def test_watcher_discovers_new_files_and_day_folders_at_rescans(tmp_path: Path) -> None:
    home = tmp_path / "home"
    clock = Clock(T0)
    watcher = RolloutWatcher([home], clock, rescan_interval=5.0)
    assert watcher.snapshot().state == "unknown"  # no sessions directory yet
    first = rollout_path(home, "2026/03/27", "a")
    append(first, token_line("2026-03-27T10:00:01.000Z", {"used_percent": 10, "window_minutes": 300}) + "\n")
    clock.now += 1  # too soon: no rescan yet
    assert watcher.snapshot().state == "unknown"
    clock.now += 5
    assert watcher.snapshot().window("5h").used_percent == 10.0  # type: ignore[union-attr]
    rescans = watcher.rescans
    second = rollout_path(home, "2026/03/28", "b")  # a new day folder
    append(second, token_line("2026-03-28T00:00:01.000Z", {"used_percent": 3, "window_minutes": 300}) + "\n")
    watcher.refresh()
    assert watcher.rescans == rescans and second not in watcher.files
    clock.now += 5
    snap = watcher.snapshot()
    assert watcher.rescans == rescans + 1
    assert second in watcher.files
    assert snap.window("5h").used_percent == 3.0 and snap.source == f"rollout:{second}"  # type: ignore[union-attr]


def test_archived_sessions_and_several_homes(tmp_path: Path) -> None:
    home_a, home_b = tmp_path / "a", tmp_path / "b"
    archived = home_a / "archived_sessions" / "rollout-2026-03-27T09-00-00-x.jsonl"
    archived.parent.mkdir(parents=True)
    append(
        archived, token_line("2026-03-27T10:00:09.000Z", {"used_percent": 90, "window_minutes": 300}) + "\n"
    )
    live = rollout_path(home_b)
    append(live, token_line("2026-03-27T10:00:05.000Z", {"used_percent": 40, "window_minutes": 300}) + "\n")
    watcher = RolloutWatcher([home_a, home_b, home_a], Clock(T0))
    snap = watcher.snapshot()
    assert watcher.files == sorted([archived, live])
    # The latest line timestamp wins, whichever home or file it is in.
    assert snap.window("5h").used_percent == 90.0 and snap.source == f"rollout:{archived}"  # type: ignore[union-attr]


def test_first_read_of_a_big_rollout_touches_only_its_tail(tmp_path: Path) -> None:
    home = tmp_path / "home"
    path = rollout_path(home)
    with path.open("w") as fh:
        for i in range(1200):  # ~5 MB of older content
            fh.write(
                token_line("2026-03-27T09:00:00.000Z", {"used_percent": 1, "window_minutes": 300}) + "\n"
            )
            fh.write(filler_line(f"2026-03-27T09:{i // 60:02d}:{i % 60:02d}.000Z", 4000) + "\n")
        fh.write(token_line("2026-03-27T10:00:00.500Z", {"used_percent": 64, "window_minutes": 300}) + "\n")
        fh.write(filler_line("2026-03-27T10:00:01.000Z", 50_000) + "\n")
    size = path.stat().st_size
    assert size > 4 * 1024 * 1024
    watcher = RolloutWatcher([home], Clock(T0), tail_bytes=256 * 1024)
    snap = watcher.snapshot()
    assert snap.window("5h").used_percent == 64.0  # type: ignore[union-attr]
    assert watcher.bytes_read == 256 * 1024
    assert watcher.lines_parsed < 100
    assert watcher.offset(path) == size
    append(path, token_line("2026-03-27T10:00:02.000Z", {"used_percent": 65, "window_minutes": 300}) + "\n")
    watcher.refresh()
    assert watcher.bytes_read == 256 * 1024 + path.stat().st_size - size
    assert watcher.snapshot().window("5h").used_percent == 65.0  # type: ignore[union-attr]


def test_first_read_looks_further_back_when_the_tail_has_no_snapshot(tmp_path: Path) -> None:
    home = tmp_path / "home"
    path = rollout_path(home)
    with path.open("w") as fh:
        fh.write(filler_line("2026-03-27T09:00:00.000Z", 2_000_000) + "\n")
        fh.write(token_line("2026-03-27T09:30:00.000Z", {"used_percent": 33, "window_minutes": 300}) + "\n")
        for i in range(150):  # ~600 KB after the snapshot
            fh.write(filler_line(f"2026-03-27T09:40:{i % 60:02d}.000Z", 4000) + "\n")
    watcher = RolloutWatcher([home], Clock(T0), tail_bytes=256 * 1024)
    assert watcher.snapshot().window("5h").used_percent == 33.0  # type: ignore[union-attr]
    assert 512 * 1024 < watcher.bytes_read <= 3 * 256 * 1024


def test_files_older_than_the_latest_snapshot_are_not_read(tmp_path: Path) -> None:
    home = tmp_path / "home"
    new = rollout_path(home, "2026/03/27", "new")
    append(new, token_line("2026-03-27T10:00:00.000Z", {"used_percent": 50, "window_minutes": 300}) + "\n")
    old = rollout_path(home, "2026/03/01", "old")
    append(old, token_line("2026-03-01T10:00:00.000Z", {"used_percent": 99, "window_minutes": 300}) + "\n")
    append(old, filler_line("2026-03-01T10:00:01.000Z", 10_000) + "\n")
    old_mtime = parse_timestamp("2026-03-01T10:00:02.000Z") or 0.0
    os.utime(old, (old_mtime, old_mtime))
    new_mtime = parse_timestamp("2026-03-27T10:00:00.500Z") or 0.0
    os.utime(new, (new_mtime, new_mtime))
    watcher = RolloutWatcher([home], Clock(T0))
    assert watcher.snapshot().window("5h").used_percent == 50.0  # type: ignore[union-attr]
    assert watcher.bytes_read == new.stat().st_size
    assert watcher.offset(old) == old.stat().st_size  # tailed from its end from now on


def test_cold_file_appends_are_seen_at_the_next_rescan(tmp_path: Path) -> None:
    home = tmp_path / "home"
    path = rollout_path(home)
    append(path, token_line("2026-03-27T10:00:00.000Z", {"used_percent": 5, "window_minutes": 300}) + "\n")
    clock = Clock(T0)
    watcher = RolloutWatcher([home], clock, rescan_interval=5.0)
    watcher.snapshot()
    clock.now += 3600  # the file went cold (not polled between rescans)
    watcher.refresh(force_rescan=True)
    append(path, token_line("2026-03-27T11:00:00.000Z", {"used_percent": 6, "window_minutes": 300}) + "\n")
    clock.now += 1
    assert watcher.snapshot().window("5h").used_percent == 5.0  # type: ignore[union-attr]
    clock.now += 5
    assert watcher.snapshot().window("5h").used_percent == 6.0  # type: ignore[union-attr]


def test_replaced_or_truncated_file_is_read_again(tmp_path: Path) -> None:
    home = tmp_path / "home"
    path = rollout_path(home)
    append(path, token_line("2026-03-27T10:00:00.000Z", {"used_percent": 5, "window_minutes": 300}) + "\n")
    append(path, filler_line("2026-03-27T10:00:00.100Z", 1000) + "\n")
    clock = Clock(T0)
    watcher = RolloutWatcher([home], clock)
    watcher.snapshot()
    path.write_text(token_line("2026-03-27T10:05:00.000Z", {"used_percent": 7, "window_minutes": 300}) + "\n")
    clock.now += 1
    assert watcher.snapshot().window("5h").used_percent == 7.0  # type: ignore[union-attr]
    assert watcher.offset(path) == path.stat().st_size


def test_corrupt_and_duplicate_lines_while_tailing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    path = rollout_path(home)
    shutil.copyfile(FIXTURES / "duplicates.jsonl", path)
    watcher = RolloutWatcher([home], Clock(parse_timestamp("2026-03-27T07:00:10Z") or 0.0))
    assert [(w.label, w.used_percent) for w in watcher.snapshot().windows] == [("5h", 12.0), ("weekly", 4.0)]
    append(path, (FIXTURES / "corrupt.jsonl").read_bytes()[:-1])
    snap = watcher.snapshot()
    assert [(w.label, w.used_percent) for w in snap.windows] == [("5h", 25.0), ("weekly", 9.0)]


def test_over_long_partial_line_is_skipped(tmp_path: Path) -> None:
    home = tmp_path / "home"
    path = rollout_path(home)
    append(path, token_line("2026-03-27T10:00:00.000Z", {"used_percent": 5, "window_minutes": 300}) + "\n")
    clock = Clock(T0)
    watcher = RolloutWatcher([home], clock, max_line_bytes=1000)
    watcher.snapshot()
    append(path, "x" * 3000)
    watcher.refresh()
    append(
        path,
        "yyy\n" + token_line("2026-03-27T10:00:01.000Z", {"used_percent": 8, "window_minutes": 300}) + "\n",
    )
    assert watcher.snapshot().window("5h").used_percent == 8.0  # type: ignore[union-attr]


def test_null_windows_after_numbers_keep_their_labels(tmp_path: Path) -> None:
    home = tmp_path / "home"
    path = rollout_path(home)
    shutil.copyfile(FIXTURES / "real-limits-then-none.jsonl", path)
    first = snapshots_in(path)[0]
    watcher = RolloutWatcher([home], Clock(first.observed_at or 0.0))
    snap = watcher.snapshot()
    assert [(w.label, w.used_percent) for w in snap.windows] == [("5h", None), ("weekly", None)]
    assert snap.state == "unknown" and snap.credits == first.credits


def test_second_limit_family_does_not_replace_the_default_gauge(tmp_path: Path) -> None:
    home = tmp_path / "home"
    path = rollout_path(home)
    append(path, token_line("2026-03-27T10:00:00.000Z", {"used_percent": 30, "window_minutes": 300}) + "\n")
    spark = token_line("2026-03-27T10:00:01.000Z", {"used_percent": 77, "window_minutes": 60})
    append(path, spark.replace('"limit_id":"codex"', '"limit_id":"spark"') + "\n")
    watcher = RolloutWatcher([home], Clock(T0))
    assert watcher.snapshot().window("5h").used_percent == 30.0  # type: ignore[union-attr]
    assert watcher.snapshot("spark").window("1h").used_percent == 77.0  # type: ignore[union-attr]
    assert watcher.limit_ids() == ["codex", "spark"]
    assert set(watcher.snapshots()) == {"codex", "spark"}


# --- usage-limit failures -------------------------------------------------------------------------------


def limits_home(tmp_path: Path, used_5h: float, used_week: float, reset_5h: float, reset_week: float) -> Path:
    home = tmp_path / "home"
    path = rollout_path(home)
    append(
        path,
        token_line(
            "2026-03-27T10:00:00.000Z",
            {"used_percent": used_5h, "window_minutes": 300, "resets_at": reset_5h},
            {"used_percent": used_week, "window_minutes": 10080, "resets_at": reset_week},
        )
        + "\n",
    )
    return home


def test_record_usage_limit_then_a_newer_rollout_observation(tmp_path: Path) -> None:
    reset_5h, reset_week = T0 + 3600, T0 + 5 * 86400
    home = limits_home(tmp_path, 97.0, 13.0, reset_5h, reset_week)
    clock = Clock(T0 + 5)
    watcher = RolloutWatcher([home], clock)
    assert watcher.snapshot().state == "ok" and watcher.blocked_until() is None

    snap = watcher.record_usage_limit(reset_5h + 30)
    assert snap.state == "blocked"
    five_h = snap.window("5h")
    assert five_h is not None
    assert (five_h.used_percent, five_h.resets_at, five_h.source) == (100.0, reset_5h + 30, "failure")
    assert snap.window("weekly").used_percent == 13.0  # type: ignore[union-attr]
    assert watcher.blocked_until() == reset_5h + 30

    # An older line (the failing request's own snapshot) does not lift the block.
    path = watcher.files[0]
    older = token_line(
        "2026-03-27T10:00:03.000Z", {"used_percent": 98, "window_minutes": 300, "resets_at": reset_5h}
    )
    append(path, older + "\n")
    clock.now += 1
    assert watcher.snapshot().state == "blocked"
    # A newer line without numbers does not lift it either.
    append(path, token_line("2026-03-27T10:00:07.000Z", None) + "\n")
    clock.now += 1
    snap = watcher.snapshot()
    assert snap.state == "blocked" and snap.window("5h").source == "failure"  # type: ignore[union-attr]
    # A newer observation with its own numbers replaces the block.
    newer = token_line(
        "2026-03-27T10:00:09.000Z", {"used_percent": 4, "window_minutes": 300, "resets_at": T0 + 18000}
    )
    append(path, newer + "\n")
    clock.now += 5
    snap = watcher.snapshot()
    assert snap.state == "ok" and snap.window("5h").used_percent == 4.0  # type: ignore[union-attr]
    assert watcher.blocked_until() is None


def test_record_usage_limit_marks_the_window_whose_reset_matches(tmp_path: Path) -> None:
    reset_5h, reset_week = T0 + 3600, T0 + 5 * 86400
    home = limits_home(tmp_path, 80.0, 99.0, reset_5h, reset_week)
    watcher = RolloutWatcher([home], Clock(T0 + 5))
    watcher.snapshot()
    snap = watcher.record_usage_limit(reset_5h)
    assert snap.window("5h").used_percent == 100.0  # type: ignore[union-attr]
    assert snap.window("weekly").used_percent == 99.0  # type: ignore[union-attr]
    # Without a reset time the binding window (the highest used) is marked, until its own reset.
    snap = watcher.record_usage_limit(None)
    assert snap.window("weekly").used_percent == 100.0 and snap.window("5h").used_percent == 80.0  # type: ignore[union-attr]
    assert watcher.blocked_until() == reset_week


def test_usage_limit_expires_at_its_reset(tmp_path: Path) -> None:
    reset_5h, reset_week = T0 + 3600, T0 + 5 * 86400
    home = limits_home(tmp_path, 97.0, 13.0, reset_5h, reset_week)
    clock = Clock(T0 + 5)
    watcher = RolloutWatcher([home], clock)
    watcher.record_usage_limit(reset_5h)
    assert watcher.blocked_until() == reset_5h
    clock.now = reset_5h + 1
    snap = watcher.snapshot()
    assert snap.state == "ok" and snap.window("5h").used_percent is None  # type: ignore[union-attr]
    assert watcher.blocked_until() is None


def test_usage_limit_without_any_snapshot_or_reset(tmp_path: Path) -> None:
    clock = Clock(T0)
    watcher = RolloutWatcher([tmp_path / "empty"], clock, unknown_reset_hold=600.0)
    snap = watcher.record_usage_limit(T0 + 900)
    assert [(w.label, w.used_percent, w.resets_at, w.source) for w in snap.windows] == [
        ("unknown", 100.0, T0 + 900, "failure")
    ]
    assert snap.state == "blocked" and snap.source == "failure"
    assert watcher.blocked_until() == T0 + 900
    snap = watcher.record_usage_limit(None)
    assert snap.windows[0].resets_at is None
    assert watcher.blocked_until() == T0 + 600
    clock.now += 601
    assert watcher.blocked_until() is None and watcher.snapshot().state == "unknown"


def test_usage_limit_with_only_unknown_windows_adds_a_synthetic_one(tmp_path: Path) -> None:
    home = tmp_path / "home"
    path = rollout_path(home)
    shutil.copyfile(FIXTURES / "real-limits-then-none.jsonl", path)
    last = snapshots_in(path)[-1]
    watcher = RolloutWatcher([home], Clock((last.observed_at or 0.0) + 1))
    snap = watcher.record_usage_limit((last.observed_at or 0.0) + 1800)
    assert [(w.label, w.used_percent, w.source) for w in snap.windows] == [
        ("5h", None, f"rollout:{path}"),
        ("weekly", None, f"rollout:{path}"),
        ("unknown", 100.0, "failure"),
    ]
    assert snap.state == "blocked" and watcher.blocked_until() == (last.observed_at or 0.0) + 1800


def test_blocked_rollout_snapshot_holds_until_its_reset(tmp_path: Path) -> None:
    home = tmp_path / "home"
    path = rollout_path(home)
    shutil.copyfile(FIXTURES / "real-usage-limit.jsonl", path)
    snap = last_snapshot("real-usage-limit.jsonl")
    reset = snap.window("5h").resets_at  # type: ignore[union-attr]
    assert reset is not None
    clock = Clock(snap.observed_at or 0.0)
    watcher = RolloutWatcher([home], clock)
    assert watcher.snapshot().state == "blocked"
    assert watcher.blocked_until() == reset
    clock.now = reset
    assert watcher.blocked_until() is None
    assert watcher.snapshot().window("5h").used_percent is None  # type: ignore[union-attr]
