"""Claude's credit windows: the ``rate_limit_event`` lines of a reviewer's stream read as they are appended
(malformed ones counted, other lines never parsed), merged into the latest snapshot (one window per kind,
the newest line the current state, an unknown kind kept, older news dropped), expiring at their reset,
holding reviewers while rejected, and kept in the board's file that readers read again only when it
changed."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from cockpit.core.claude.stream import RateLimitInfo
from cockpit.core.usage.claude_limits import (
    ClaudeLimits,
    ClaudeLimitsStore,
    ClaudeWindow,
    RateLimitLines,
    claude_window_label,
)
from cockpit.core.usage.windows import UNKNOWN_RESET_HOLD_S

NOW = 1_800_000_000.0
SID = "5c0ffee0-0000-4000-8000-000000000000"


def event(status: str = "allowed_warning", **info: Any) -> dict[str, Any]:
    return {"type": "rate_limit_event", "rate_limit_info": {"status": status, **info}, "session_id": SID}


def jl(*objs: object) -> bytes:
    return b"".join((o if isinstance(o, bytes) else json.dumps(o).encode()) + b"\n" for o in objs)


def info(status: str = "allowed", kind: str | None = "five_hour", **fields: Any) -> RateLimitInfo:
    return RateLimitInfo.model_validate({"status": status, "rateLimitType": kind, **fields})


# ---- reading a stream ------------------------------------------------------------------------------


def test_lines_are_read_as_they_are_appended_and_malformed_ones_counted(tmp_path: Path) -> None:
    stream = tmp_path / "stream.jsonl"
    init = {"type": "system", "subtype": "init", "session_id": SID}
    # The model's text naming the word is another line type: skipped, not parsed as a limit, not counted.
    talk = {"type": "assistant", "message": {"content": [{"type": "text", "text": "a rate_limit_event"}]}}
    stream.write_bytes(
        jl(
            init,
            talk,
            event(resetsAt=NOW + 3600, rateLimitType="five_hour", utilization=0.91, surpassedThreshold=0.9),
            b'{"type": "rate_limit_event", "rate_limit_info": {"status": ',  # cut: not JSON
            {"type": "rate_limit_event", "rate_limit_info": {}},  # no status: nothing to learn
            event("allowed", rateLimitType="seven_day_haiku", resetsAt=NOW + 86400),  # an unknown kind
        )
        + b'{"type":"rate_limit_event","rate_limit_info":{"status":"rejected"'  # no newline yet
    )
    written = time.time() - 100
    os.utime(stream, (written, written))
    lines = RateLimitLines(stream)
    found = lines.read_new()
    assert [(i.status, i.rate_limit_type) for i in found.infos] == [
        ("allowed_warning", "five_hour"),
        ("allowed", "seven_day_haiku"),
    ]
    assert found.infos[0].utilization == 0.91 and found.infos[0].model_extra == {"surpassedThreshold": 0.9}
    assert found.malformed == 2 and lines.malformed == 2
    assert found.observed_at == written  # the file's last write: the lines carry no time of their own
    read = lines.file.bytes_read
    nothing = lines.read_new()
    assert nothing.infos == [] and nothing.malformed == 0
    with stream.open("ab") as fh:
        fh.write(b',"resetsAt":1800007200}}\n')
    again = lines.read_new()
    (rejected,) = again.infos
    assert rejected.status == "rejected" and rejected.resets_at == NOW + 7200 and again.malformed == 0
    assert lines.file.bytes_read - read == len(b',"resetsAt":1800007200}}\n')  # only what was appended


def test_the_final_read_takes_an_unterminated_last_line(tmp_path: Path) -> None:
    stream = tmp_path / "stream.jsonl"
    stream.write_bytes(json.dumps(event("rejected", rateLimitType="five_hour")).encode())
    lines = RateLimitLines(stream)
    assert lines.read_new().infos == []
    (last,) = lines.read_new(final=True).infos
    assert last.status == "rejected"


def test_a_missing_stream_reads_as_nothing(tmp_path: Path) -> None:
    found = RateLimitLines(tmp_path / "none.jsonl").read_new(final=True)
    assert found.infos == [] and found.malformed == 0


# ---- the snapshot ------------------------------------------------------------------------------------


def test_the_newest_line_is_the_current_state_and_each_kind_keeps_its_latest() -> None:
    limits = ClaudeLimits()
    assert limits.state == "unknown" and limits.shown() == [] and limits.blocked_until(NOW) is None
    weekly = info("allowed_warning", "seven_day", utilization=0.8, resetsAt=NOW + 86400)
    limits = limits.merged(weekly, NOW, "a") or limits
    five = info("allowed_warning", "five_hour", utilization=0.71, resetsAt=NOW + 3600)
    limits = limits.merged(five, NOW + 10, "b") or limits
    odd = info("allowed", "seven_day_haiku", resetsAt=NOW + 86400)  # an unknown kind: kept as printed
    limits = limits.merged(odd, NOW + 20, "c") or limits
    assert [w.kind for w in limits.windows] == ["five_hour", "seven_day", "seven_day_haiku"]
    assert [w.label for w in limits.windows] == ["5h", "weekly", "seven_day_haiku"]
    assert limits.current is not None and limits.current.kind == "seven_day_haiku" and limits.state == "ok"
    assert limits.source == "c"
    # the gauge: the current window first, then the others that have a number
    assert [w.kind for w in limits.shown()] == ["seven_day_haiku", "five_hour", "seven_day"]
    assert limits.window("five_hour") is not None and limits.window("five_hour").used_percent == 71.0  # type: ignore[union-attr]
    # older news (a stream read again after a restart) changes nothing; nor does a repeat
    assert limits.merged(info("rejected", "five_hour"), NOW + 5, "old") is None
    again = info("allowed", "seven_day_haiku", resetsAt=NOW + 86400)
    assert limits.merged(again, NOW + 20, "c") is None
    # a line without a kind is the current state, not a window
    plain = limits.merged(info("allowed", None), NOW + 30, "d")
    assert plain is not None and plain.current is not None and plain.current.label == ""
    assert [w.kind for w in plain.windows] == [w.kind for w in limits.windows]


def test_unknown_is_never_zero_and_a_passed_reset_makes_a_window_unknown() -> None:
    ok = ClaudeWindow(kind="five_hour", status="allowed", resets_at=NOW + 60, observed_at=NOW)
    assert ok.utilization is None and ok.used_percent is None  # "allowed" gives no number
    limits = ClaudeLimits(windows=[ok], current=ok)
    assert limits.as_of(NOW) is limits and limits.state == "ok"
    later = limits.as_of(NOW + 61)
    assert later.current is not None and later.current.status == "" and later.state == "unknown"
    assert later.current.utilization is None and later.current.resets_at == NOW + 60


def test_rejected_holds_until_its_reset_or_for_the_unknown_reset_hold() -> None:
    rejected = ClaudeWindow(kind="five_hour", status="rejected", resets_at=NOW + 600, observed_at=NOW)
    limits = ClaudeLimits(windows=[rejected], current=rejected)
    assert limits.state == "blocked" and limits.blocked_until(NOW + 1) == NOW + 600
    assert limits.blocked_until(NOW + 600) is None
    assert limits.as_of(NOW + 600).blocked_until(NOW + 600) is None
    no_reset = ClaudeWindow(status="rejected", observed_at=NOW)
    limits = ClaudeLimits(current=no_reset)
    assert limits.blocked_until(NOW) == NOW + UNKNOWN_RESET_HOLD_S
    assert limits.as_of(NOW + UNKNOWN_RESET_HOLD_S).state == "unknown"
    # a newer allowed line lifts the block whatever window the block was on
    lifted = limits.merged(info("allowed", "seven_day"), NOW + 1, "x")
    assert lifted is not None and lifted.blocked_until(NOW + 2) is None


def test_cli_lines() -> None:
    assert ClaudeLimits().to_lines(NOW)[0].startswith("usage  unknown (no rate_limit_event seen")
    warn = ClaudeWindow(kind="five_hour", status="allowed_warning", utilization=0.93, resets_at=NOW + 4320)
    block = ClaudeWindow(kind="seven_day", status="rejected", observed_at=NOW)
    limits = ClaudeLimits(windows=[warn], current=block, malformed=2)
    lines = limits.to_lines(NOW)
    assert lines[0].startswith("weekly used unknown  BLOCKED  reset time unknown  ← current")
    assert lines[1].startswith("5h      93.0% used  allowed_warning  resets ") and "(in 1h 12m)" in lines[1]
    assert lines[2] == "2 unreadable rate_limit_event line(s) skipped"


@pytest.mark.parametrize(
    ("kind", "label"),
    [("five_hour", "5h"), ("seven_day", "weekly"), ("seven_day_opus", "weekly opus"), ("new_one", "new_one")],
)
def test_labels(kind: str, label: str) -> None:
    assert claude_window_label(kind) == label


# ---- the board's file --------------------------------------------------------------------------------


def test_the_store_writes_on_change_and_readers_read_again_only_then(tmp_path: Path) -> None:
    path = tmp_path / "claude-limits.json"
    reader = ClaudeLimitsStore(path)
    assert reader.read() == ClaudeLimits() and reader.reads == 0
    writer = ClaudeLimitsStore(path)
    five = info("allowed_warning", "five_hour", utilization=0.5, resetsAt=NOW + 3600)
    assert writer.record([five], NOW, "s1")
    assert not writer.record([five], NOW, "s1")  # nothing new: not written
    past = time.time() - 100
    os.utime(path, (past, past))  # settled: its stamp now says everything
    first = reader.read()
    assert first.current is not None and first.current.used_percent == 50.0 and reader.reads == 1
    assert reader.read() is first and reader.reads == 1  # unchanged: one stat, no read
    assert writer.record([], NOW, "s2", malformed=3)  # malformed lines alone are news
    os.utime(path, (past + 1, past + 1))
    assert reader.read().malformed == 3 and reader.reads == 2
    saved = json.loads(path.read_text())
    assert saved["current"]["kind"] == "five_hour" and saved["current"]["used_percent"] == 50.0


def test_a_corrupt_file_is_quarantined_by_the_writer_and_read_as_empty(tmp_path: Path) -> None:
    path = tmp_path / "claude-limits.json"
    path.write_text("{not json")
    moved: list[str] = []
    assert ClaudeLimitsStore(path).read() == ClaudeLimits()  # a reader leaves it where it is
    writer = ClaudeLimitsStore(path, on_corrupt=lambda p, why: moved.append(why))
    assert writer.record([info("rejected", "five_hour")], NOW, "s")
    assert len(moved) == 1 and moved[0].startswith("unreadable Claude credit windows")
    assert ClaudeLimits.model_validate_json(path.read_bytes()).state == "blocked"
