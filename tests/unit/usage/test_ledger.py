"""The ledger on real files: incremental refresh, partial lines, restarts, de-duplication, token arithmetic,
local day/week windows (midnight, Monday, DST) and the usage report."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from cockpit.core.usage.ledger import (
    ALL,
    Ledger,
    LedgerRow,
    UsageReport,
    UsageTotals,
    day_window,
    usage_report,
    week_window,
)

BERLIN = ZoneInfo("Europe/Berlin")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def row(task: str = "t1", attempt: int = 1, ts: datetime | None = None, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "ts": (ts or utc(2025, 3, 12, 9, 0)).isoformat(),
        "task_id": task,
        "attempt": attempt,
        "lane": "local",
        "effort": "medium",
        "model": None,
        "thread_id": "th-1",
        "resumed": False,
        "input_tokens": 1000,
        "cached_input_tokens": 400,
        "output_tokens": 200,
        "reasoning_output_tokens": 50,
        "usage_reported": True,
        "duration_s": 12.5,
        "ok": True,
    }
    base.update(fields)
    return base


def line(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode() + b"\n"


def append(path: Path, data: bytes) -> None:
    with open(path, "ab") as fh:
        fh.write(data)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / ".cockpit" / "ledger.jsonl"


# ------------------------------------------------------------------------------------------- reading


def test_missing_file_is_empty(path: Path) -> None:
    ledger = Ledger(path)
    assert ledger.refresh() == 0
    assert len(ledger) == 0
    assert ledger.totals(utc(2000, 1, 1))[ALL] == UsageTotals()


def test_row_model_accepts_the_supervisor_shape_and_extra_fields() -> None:
    r = LedgerRow.model_validate(row(extra_field="kept", model="gpt-x"))
    assert r.total_tokens == 1200
    assert r.model_extra == {"extra_field": "kept"}
    naive = LedgerRow.model_validate(row(ts=datetime(2025, 1, 1, 12, 0)))  # naive ts reads as UTC
    assert naive.ts == utc(2025, 1, 1, 12, 0)


def test_incremental_refresh_reads_only_appended_lines_and_waits_for_a_partial_line(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path.parent.mkdir(parents=True)
    first, second, third = line(row("a")), line(row("b")), line(row("c"))
    append(path, first)
    ledger = Ledger(path)
    assert ledger.refresh() == 1
    assert ledger.offset == len(first)

    # Record every read as (start, length): a refresh reads only from its offset on, plus the few bytes
    # the last consumed line, re-read to check that the file was not rewritten.
    reads: list[tuple[int, int]] = []
    real_open = open

    class Spy:
        def __init__(self, fh: Any) -> None:
            self.fh = fh

        def __enter__(self) -> Spy:
            return self

        def __exit__(self, *exc: object) -> None:
            self.fh.close()

        def read(self, n: int = -1) -> bytes:
            start = self.fh.tell()
            data = self.fh.read(n)
            reads.append((start, len(data)))
            return data

        def __getattr__(self, name: str) -> Any:
            return getattr(self.fh, name)

    monkeypatch.setattr("builtins.open", lambda p, mode="r", *a, **k: Spy(real_open(p, mode, *a, **k)))

    def payload_read(since: int) -> int:
        assert all(start >= since - 4096 for start, _ in reads)
        return sum(n for start, n in reads if start >= since)

    cut = len(second) // 2
    append(path, second[:cut])  # half a line: not consumed yet
    assert ledger.refresh() == 0
    assert ledger.offset == len(first)
    assert payload_read(len(first)) == cut

    reads.clear()
    append(path, second[cut:] + third[:5])  # the line ends, the next one starts
    assert ledger.refresh() == 1
    assert ledger.offset == len(first) + len(second)
    assert payload_read(len(first)) == len(second) + 5  # the pending half is re-read, nothing before it
    assert [r.task_id for r in ledger.rows()] == ["a", "b"]

    reads.clear()
    assert ledger.refresh() == 0  # nothing complete appended
    assert payload_read(ledger.offset) == 5
    append(path, third[5:])
    assert ledger.refresh() == 1
    assert [r.task_id for r in ledger.rows()] == ["a", "b", "c"]
    assert ledger.bad_lines == 0


def test_bad_lines_are_counted_and_skipped(path: Path) -> None:
    path.parent.mkdir(parents=True)
    append(
        path,
        line(row("a"))
        + b"not json\n"
        + b"[1, 2]\n"
        + b"\n"  # blank: ignored, not bad
        + line({"task_id": "no-ts", "attempt": 1})
        + line(row("neg", input_tokens=-5))
        + b"\xff\xfe\n"
        + line(row("b")),
    )
    ledger = Ledger(path)
    assert ledger.refresh() == 2
    assert ledger.bad_lines == 5
    assert [r.task_id for r in ledger.rows()] == ["a", "b"]


def test_a_truncated_file_restarts_from_the_beginning(path: Path) -> None:
    path.parent.mkdir(parents=True)
    append(path, line(row("a")) + line(row("b")))
    ledger = Ledger(path)
    ledger.refresh()
    path.write_bytes(line(row("c")))  # shorter than before
    assert ledger.refresh() == 1
    assert ledger.restarts == 1
    assert [r.task_id for r in ledger.rows()] == ["c"]


def test_a_file_rewritten_to_the_same_length_or_longer_restarts(path: Path) -> None:
    path.parent.mkdir(parents=True)
    append(path, line(row("a")))
    ledger = Ledger(path)
    ledger.refresh()
    # Rewritten in place (same inode) with different content that is longer than the old offset.
    with open(path, "r+b") as fh:
        fh.truncate(0)
        fh.write(line(row("x")) + line(row("y")))
    assert ledger.refresh() == 2
    assert ledger.restarts == 1
    assert [r.task_id for r in ledger.rows()] == ["x", "y"]


def test_a_replaced_file_restarts(path: Path) -> None:
    path.parent.mkdir(parents=True)
    append(path, line(row("a")))
    ledger = Ledger(path)
    ledger.refresh()
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(line(row("a")) + line(row("z")))
    os.replace(tmp, path)
    ledger.refresh()
    assert ledger.restarts == 1
    assert [r.task_id for r in ledger.rows()] == ["a", "z"]


def test_a_removed_file_empties_the_ledger(path: Path) -> None:
    path.parent.mkdir(parents=True)
    append(path, line(row("a")))
    ledger = Ledger(path)
    ledger.refresh()
    path.unlink()
    assert ledger.refresh() == 0
    assert len(ledger) == 0


def test_duplicates_by_task_and_attempt_count_once(path: Path) -> None:
    path.parent.mkdir(parents=True)
    append(path, line(row("a", 1)) + line(row("a", 2)) + line(row("a", 1)))
    ledger = Ledger(path)
    assert ledger.refresh() == 2
    append(path, line(row("a", 2, ts=utc(2025, 3, 12, 10, 0))))  # repeated in a later refresh
    assert ledger.refresh() == 0
    assert ledger.duplicates == 2
    totals = ledger.totals(utc(2025, 1, 1))[ALL]
    assert totals.attempts == 2
    assert totals.total_tokens == 2 * 1200
    assert ledger.task_tokens("a") == 2400
    assert ledger.task_tokens("nope") == 0


def test_a_duplicate_with_usage_replaces_one_without(path: Path) -> None:
    path.parent.mkdir(parents=True)
    empty = row("a", 1, input_tokens=0, cached_input_tokens=0, output_tokens=0, reasoning_output_tokens=0)
    empty["usage_reported"] = False
    append(path, line(empty) + line(row("a", 1)))
    ledger = Ledger(path)
    ledger.refresh()
    assert ledger.task_tokens("a") == 1200
    assert ledger.totals(utc(2025, 1, 1))[ALL].unreported == 0


def test_cached_and_reasoning_tokens_are_not_counted_twice(path: Path) -> None:
    path.parent.mkdir(parents=True)
    append(
        path,
        line(
            row(
                "a",
                input_tokens=1000,
                cached_input_tokens=900,
                output_tokens=300,
                reasoning_output_tokens=250,
            )
        )
        + line(row("b", input_tokens=10, cached_input_tokens=0, output_tokens=5, reasoning_output_tokens=5)),
    )
    ledger = Ledger(path)
    ledger.refresh()
    t = ledger.totals(utc(2025, 1, 1))[ALL]
    assert (t.input_tokens, t.cached_input_tokens, t.output_tokens, t.reasoning_output_tokens) == (
        1010,
        900,
        305,
        255,
    )
    assert t.total_tokens == 1010 + 305
    assert t.model_dump()["total_tokens"] == 1315  # part of the serialised totals
    assert ledger.task_tokens("a") == 1300


def test_null_usage_and_unreported_attempts(path: Path) -> None:
    path.parent.mkdir(parents=True)
    unreported = row("a", input_tokens=0, cached_input_tokens=0, output_tokens=0, reasoning_output_tokens=0)
    unreported.update(usage_reported=False, duration_s=None)
    append(path, line(unreported) + line(row("b", input_tokens=None)))
    ledger = Ledger(path)
    ledger.refresh()
    t = ledger.totals(utc(2025, 1, 1))[ALL]
    assert (t.attempts, t.unreported, t.total_tokens, t.duration_s) == (2, 1, 200, 12.5)


# ------------------------------------------------------------------------------------------- grouping


def test_by_lane_effort_task_and_model(path: Path) -> None:
    path.parent.mkdir(parents=True)
    append(
        path,
        line(row("a", lane="local", effort="low", model="m1"))
        + line(row("b", lane="worktree", effort="high", model=None))
        + line(row("c", lane="worktree", effort="default", model="m1"))
        + line({k: v for k, v in row("d").items() if k not in ("lane", "effort")}),
    )
    ledger = Ledger(path)
    ledger.refresh()
    since = utc(2025, 1, 1)
    lanes = ledger.totals(since, by="lane")
    assert {k: v.attempts for k, v in lanes.items()} == {"local": 1, "worktree": 2, "unknown": 1}
    assert lanes["worktree"].total_tokens == 2400
    efforts = ledger.totals(since, by="effort")
    assert {k: v.attempts for k, v in efforts.items()} == {"low": 1, "high": 1, "default": 2}
    assert set(ledger.totals(since, by="task")) == {"a", "b", "c", "d"}
    assert {k: v.attempts for k, v in ledger.totals(since, by="model").items()} == {"m1": 2, "default": 2}
    assert ledger.totals(utc(2030, 1, 1), by="lane") == {}
    with pytest.raises(ValueError):
        ledger.totals(since, by="colour")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        ledger.totals(datetime(2025, 1, 1))  # naive


def test_until_is_exclusive(path: Path) -> None:
    path.parent.mkdir(parents=True)
    append(path, line(row("a", ts=utc(2025, 3, 12, 10))) + line(row("b", ts=utc(2025, 3, 12, 11))))
    ledger = Ledger(path)
    ledger.refresh()
    assert ledger.totals(utc(2025, 3, 12, 10), utc(2025, 3, 12, 11))[ALL].attempts == 1
    assert ledger.totals(utc(2025, 3, 12, 10, 0, 1), utc(2025, 3, 12, 11, 0, 1))[ALL].attempts == 1


# -------------------------------------------------------------------------------------------- windows


def test_day_window_starts_at_local_midnight() -> None:
    now = datetime(2025, 3, 12, 10, 0, tzinfo=BERLIN)
    assert day_window(now, BERLIN) == (utc(2025, 3, 11, 23), utc(2025, 3, 12, 23))
    # Shortly after local midnight the UTC date is still the previous day.
    assert day_window(utc(2025, 3, 12, 23, 30), BERLIN)[0] == utc(2025, 3, 12, 23)
    with pytest.raises(ValueError):
        day_window(datetime(2025, 3, 12, 10), BERLIN)


def test_day_windows_around_dst_last_23_and_25_hours() -> None:
    start, end = day_window(utc(2025, 3, 30, 12), BERLIN)  # clocks jump 02:00 → 03:00
    assert (start, end) == (utc(2025, 3, 29, 23), utc(2025, 3, 30, 22))
    assert end - start == timedelta(hours=23)
    start, end = day_window(utc(2025, 10, 26, 12), BERLIN)  # clocks fall back 03:00 → 02:00
    assert (start, end) == (utc(2025, 10, 25, 22), utc(2025, 10, 26, 23))
    assert end - start == timedelta(hours=25)


def test_a_midnight_skipped_by_dst_starts_the_day_at_its_first_instant() -> None:
    # In Santiago the clocks jumped from 2024-09-08 00:00 straight to 01:00 (UTC-4 → UTC-3).
    santiago = ZoneInfo("America/Santiago")
    start, end = day_window(datetime(2024, 9, 8, 12, tzinfo=santiago), santiago)
    assert start == utc(2024, 9, 8, 4)
    assert start.astimezone(santiago).hour == 1
    assert end - start == timedelta(hours=23)


def test_week_window_starts_monday_and_is_configurable() -> None:
    wednesday = datetime(2025, 3, 12, 10, tzinfo=BERLIN)
    assert week_window(wednesday, BERLIN) == (utc(2025, 3, 9, 23), utc(2025, 3, 16, 23))
    monday_midnight = datetime(2025, 3, 10, 0, 0, tzinfo=BERLIN)
    assert week_window(monday_midnight, BERLIN)[0] == utc(2025, 3, 9, 23)
    sunday_late = datetime(2025, 3, 9, 23, 59, 59, tzinfo=BERLIN)
    assert week_window(sunday_late, BERLIN)[0] == utc(2025, 3, 2, 23)
    assert week_window(wednesday, BERLIN, week_starts_on=6)[0] == utc(2025, 3, 8, 23)  # Sunday
    with pytest.raises(ValueError):
        week_window(wednesday, BERLIN, week_starts_on=7)


def test_week_across_the_spring_dst_change_is_167_hours() -> None:
    start, end = week_window(utc(2025, 3, 27, 12), BERLIN)
    assert (start, end) == (utc(2025, 3, 23, 23), utc(2025, 3, 30, 22))
    assert end - start == timedelta(hours=167)


def test_today_and_this_week_at_midnight_monday_and_dst_edges(path: Path) -> None:
    path.parent.mkdir(parents=True)
    stamps = {
        "sun-before-week": utc(2025, 3, 23, 22, 59, 59),  # Sun 23:59:59 CET: previous week
        "mon-first": utc(2025, 3, 23, 23, 0, 0),  # Mon 00:00 CET: this week
        "sat-last": utc(2025, 3, 29, 22, 59, 59),  # Sat 23:59:59 CET: this week, not today
        "sun-first": utc(2025, 3, 29, 23, 0, 0),  # Sun 00:00 CET: today
        "sun-last": utc(2025, 3, 30, 21, 59, 59),  # Sun 23:59:59 CEST: today (a 23-hour day)
        "next-mon": utc(2025, 3, 30, 22, 0, 0),  # Mon 00:00 CEST: next week and next day
        "next-mon-1h": utc(2025, 3, 30, 22, 30, 0),  # a fixed 24 h / 7×24 h window would wrongly count this
    }
    for name, ts in stamps.items():
        append(path, line(row(name, ts=ts, lane="local" if "sun" in name else "worktree")))
    ledger = Ledger(path)
    ledger.refresh()
    now = utc(2025, 3, 30, 12)  # Sunday afternoon, CEST
    today = ledger.today(now, BERLIN, by="task")
    assert set(today) == {"sun-first", "sun-last"}
    week = ledger.this_week(now, BERLIN, by="task")
    assert set(week) == {"mon-first", "sat-last", "sun-first", "sun-last"}
    assert ledger.this_week(now, BERLIN)[ALL].attempts == 4
    assert {k: v.attempts for k, v in ledger.today(now, BERLIN, by="lane").items()} == {"local": 2}
    # A week starting on Sunday: today is its first day and it runs to the next Saturday.
    assert set(ledger.this_week(now, BERLIN, by="task", week_starts_on=6)) == {
        "sun-first",
        "sun-last",
        "next-mon",
        "next-mon-1h",
    }


# --------------------------------------------------------------------------------------------- report


def test_usage_report_splits_today_and_week_by_lane_and_effort(path: Path) -> None:
    path.parent.mkdir(parents=True)
    now = datetime(2025, 3, 12, 15, 0, tzinfo=BERLIN)  # Wednesday
    append(
        path,
        line(row("a", ts=utc(2025, 3, 12, 8), lane="local", effort="low"))
        + line(row("b", ts=utc(2025, 3, 12, 9), lane="worktree", effort="high", output_tokens=800))
        + line(row("c", ts=utc(2025, 3, 10, 9), lane="cloud", effort="high"))
        + line(row("old", ts=utc(2025, 3, 2, 9), lane="mcp", effort="xhigh"))
        + b"garbage\n",
    )
    ledger = Ledger(path)
    report = usage_report(ledger, now, BERLIN)  # refreshes the ledger itself
    assert report.timezone == "Europe/Berlin"
    assert report.today.attempts == 2 and report.week.attempts == 3
    assert report.today.total_tokens == 1200 + 1800
    assert set(report.today_by_lane) == {"local", "worktree"}
    assert set(report.week_by_lane) == {"local", "worktree", "cloud"}
    assert report.week_by_effort["high"].attempts == 2
    assert report.today_by_effort["high"].total_tokens == 1800
    assert report.bad_lines == 1
    assert UsageReport.model_validate_json(report.model_dump_json()).today == report.today

    lines = report.to_lines()
    text = "\n".join(lines)
    assert "Europe/Berlin" in lines[0] and "Wed 2025-03-12 00:00" in lines[0] and "Mon 2025-03-10" in lines[0]
    body = [ln for ln in lines if ln.startswith(("all", "lane", "effort"))]
    assert [ln.split("  ")[0].strip() for ln in body] == [
        "all",
        "lane local",
        "lane worktree",
        "lane cloud",
        "effort low",
        "effort high",
    ]
    assert len({len(ln) for ln in body}) == 1  # aligned (right-justified numbers)
    assert body[0].split() == ["all", "3.0K", "2.0K", "1.0K", "2", "4.2K", "3.0K", "1.2K", "3"]
    assert "1 unreadable ledger line(s) skipped" in text
    assert "input includes cached" in text


def test_usage_report_on_an_empty_ledger(path: Path) -> None:
    report = usage_report(Ledger(path), utc(2025, 3, 12, 12), BERLIN)
    assert report.today == UsageTotals() and report.week_by_lane == {}
    assert report.to_lines()[3].split() == ["all", "0", "0", "0", "0", "0", "0", "0", "0"]


# ------------------------------------------------------------------------------------ model families


def reviewer_row(
    task: str, round_n: int, try_n: int, ts: datetime, cost: float | None, **fields: Any
) -> bytes:
    return line(
        row(
            task,
            ts=ts,
            family="claude",
            review_round=round_n,
            review_try=try_n,
            cost_usd=cost,
            input_tokens=500,
            cached_input_tokens=0,
            output_tokens=100,
            reasoning_output_tokens=0,
            **fields,
        )
    )


def test_each_family_counts_its_runs_reviews_tokens_and_cost(path: Path) -> None:
    """Codex's rows stay the table and the budgets; Claude's are counted apart: its reviews (a retried
    try is the same review), runs, tokens and the cost it reported. A cost no row gave is unknown."""
    path.parent.mkdir(parents=True)
    now = datetime(2025, 3, 12, 15, 0, tzinfo=BERLIN)
    append(
        path,
        line(row("a", ts=utc(2025, 3, 12, 8)))
        + reviewer_row("a", 1, 1, utc(2025, 3, 12, 8, 5), None)  # a failed try: no cost reported
        + reviewer_row("a", 1, 2, utc(2025, 3, 12, 8, 10), 0.03)
        + reviewer_row("b", 1, 1, utc(2025, 3, 10, 9), 0.5)
        + reviewer_row("a", 1, 2, utc(2025, 3, 12, 8, 10), 0.03),  # written twice: counted once
    )
    report = usage_report(Ledger(path), now, BERLIN)
    assert report.today.attempts == 1 and report.today.total_tokens == 1200  # Codex's only
    codex, claude = report.today_by_family["codex"], report.today_by_family["claude"]
    assert (codex.attempts, codex.total_tokens, codex.cost_usd, codex.reviews) == (1, 1200, None, 0)
    assert (claude.attempts, claude.reviews, claude.total_tokens) == (2, 1, 1200)
    assert (claude.cost_usd, claude.costed) == (0.03, 1)
    week = report.week_by_family["claude"]
    assert (week.attempts, week.reviews, week.cost_usd) == (3, 2, 0.53)
    assert [family for family, _, _ in report.families()] == ["codex", "claude"]
    codex_line, claude_line = report.family_lines()
    assert codex_line == (
        "Codex   today 1 run, 1.2K tokens, cost unknown · week 1 run, 1.2K tokens, cost unknown"
    )
    assert claude_line == (
        "Claude  today 1 review (2 runs), 1.2K tokens, $0.0300 (1 without a cost) · "
        "week 2 reviews (3 runs), 1.8K tokens, $0.5300 (1 without a cost)"
    )
    again = UsageReport.model_validate_json(report.model_dump_json())
    assert again.week_by_family["claude"].cost_usd == 0.53


def test_an_empty_ledger_names_both_families() -> None:
    report = usage_report(Ledger(Path("/nonexistent/ledger.jsonl")), utc(2025, 3, 12, 12), BERLIN)
    assert report.family_lines() == [
        "Codex   today 0 runs, 0 tokens, no cost · week 0 runs, 0 tokens, no cost",
        "Claude  today 0 reviews (0 runs), 0 tokens, no cost · week 0 reviews (0 runs), 0 tokens, no cost",
    ]


def test_windows_sum_only_their_rows_and_an_unchanged_ledger_sums_nothing(path: Path) -> None:
    """A report asked for every second costs nothing while no row changed, and what is in the window
    when one did: rows out of time order, replaced rows and appended ones all land in the right window."""
    path.parent.mkdir(parents=True)
    old = b"".join(line(row(f"old-{n}", ts=utc(2024, 1, 1) + timedelta(minutes=n))) for n in range(300))
    append(path, line(row("late", ts=utc(2025, 3, 12, 10))) + old)  # the old ones were written after
    ledger = Ledger(path)
    ledger.refresh()
    since, until = utc(2025, 3, 12), utc(2025, 3, 13)
    split = ledger.split(since, until)
    assert split.codex.attempts == 1 and ledger.split(since, until) is split  # kept
    assert ledger.totals(utc(2024, 1, 1), utc(2024, 1, 1, 1))[ALL].attempts == 60
    version = ledger.version
    append(path, line(row("new", ts=utc(2025, 3, 12, 11))))
    ledger.refresh()
    assert ledger.version == version + 1
    fresh = ledger.split(since, until)
    assert fresh is not split and fresh.codex.attempts == 2
    # a row written again with the usage the first lacked replaces it, in its window
    append(path, line(row("unreported", ts=utc(2025, 3, 12, 9), usage_reported=False, input_tokens=0)))
    append(path, line(row("unreported", ts=utc(2025, 3, 12, 9), input_tokens=5000)))
    ledger.refresh()
    assert ledger.split(since, until).codex.input_tokens == 1000 + 1000 + 5000
    assert ledger.task_tokens("late") == 1200


def test_task_tokens_counts_the_workers_rows_only(path: Path) -> None:
    path.parent.mkdir(parents=True)
    append(path, line(row("a")) + reviewer_row("a", 1, 1, utc(2025, 3, 12, 9, 30), 0.01))
    ledger = Ledger(path)
    ledger.refresh()
    assert ledger.task_tokens("a") == 1200
