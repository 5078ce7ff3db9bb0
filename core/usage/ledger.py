"""The token ledger: incremental reading of ``.cockpit/ledger.jsonl`` and its aggregates.

The supervisor appends one row per finished attempt (its usage *delta*, so rows add up), and one per
run of the cross-family reviewer. A row's ``family`` says whose model it paid for: ``codex`` (the
workers; a row without the column is one) or ``claude`` (the reviewer, with ``review_round``,
``review_try`` and the ``cost_usd`` Claude Code reported). The aggregates count one family at a time,
Codex's unless asked: Codex's credit windows and budgets are about Codex. :class:`Ledger`
keeps a byte offset and reads only what was appended since the last :meth:`Ledger.refresh`; a partial
last line waits for its newline, a file that shrank or was replaced is read again from the start, and
lines that are not rows are counted and skipped. A row written twice for the same ``(task_id, attempt)``
(a supervisor restarted between writing and recording it; for a reviewer's row, the same round and try
too) counts once: the first row is kept, unless a
later one carries usage that the first lacked.

Token arithmetic follows Codex: cached input is part of input and reasoning output part of output, so
``total_tokens = input_tokens + output_tokens`` and the subsets are never added again.

Windows are local: "today" starts at local midnight, "this week" at local midnight of the week's first day
(Monday unless configured), and both end at the next such midnight, so days around a DST change last
23 or 25 hours.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import Any, Final, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    computed_field,
    field_validator,
)

from cockpit.core.follow import GrowingFile, Restart
from cockpit.core.text import format_tokens, format_usd
from cockpit.core.vocabulary import EFFORTS, LANE_NAMES

__all__ = [
    "ALL",
    "CLAUDE",
    "CODEX",
    "FamilyTotals",
    "GroupBy",
    "Ledger",
    "LedgerRow",
    "LedgerSplit",
    "UsageReport",
    "UsageTotals",
    "day_window",
    "usage_report",
    "week_window",
]

GroupBy = Literal["lane", "effort", "task", "model"]
ALL: Final = "all"  # the key of :meth:`Ledger.totals` without grouping
CODEX: Final = "codex"  # the workers' rows
CLAUDE: Final = "claude"  # the cross-family reviewer's rows
_FAMILY_ORDER: Final = (CODEX, CLAUDE)
_CHECK_BYTES: Final = 4096  # up to this much of the last consumed line is kept to notice a rewritten file
_LANE_ORDER: Final = LANE_NAMES
_EFFORT_ORDER: Final = (*EFFORTS, "default")


class LedgerRow(BaseModel):
    """One ledger row as the supervisor writes it; unknown extra fields are kept, not rejected."""

    model_config = ConfigDict(extra="allow")

    ts: datetime
    task_id: str
    attempt: int
    lane: str | None = None
    effort: str | None = None
    model: str | None = None
    thread_id: str | None = None
    resumed: bool = False
    input_tokens: int = Field(default=0, ge=0)
    cached_input_tokens: int = Field(default=0, ge=0)
    output_tokens: int = Field(default=0, ge=0)
    reasoning_output_tokens: int = Field(default=0, ge=0)
    usage_reported: bool = True
    duration_s: float | None = None
    ok: bool | None = None
    family: str = CODEX  # whose model: codex (the workers) or claude (the reviewer)
    review_round: int | None = None
    review_try: int | None = None
    cost_usd: float | None = None

    @property
    def key(self) -> tuple[str, int] | tuple[str, int, str, int | None, int | None]:
        """What makes two rows the same: the attempt, and for a reviewer's row its round and try."""
        if self.family == CODEX:
            return (self.task_id, self.attempt)
        return (self.task_id, self.attempt, self.family, self.review_round, self.review_try)

    @field_validator("ts")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value

    @field_validator(
        "input_tokens", "cached_input_tokens", "output_tokens", "reasoning_output_tokens", mode="before"
    )
    @classmethod
    def _null_is_zero(cls, value: Any) -> Any:
        return 0 if value is None else value

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


class UsageTotals(BaseModel):
    """Summed usage of some attempts. ``cached`` ⊂ ``input`` and ``reasoning`` ⊂ ``output``."""

    input_tokens: int = 0
    cached_input_tokens: int = 0
    output_tokens: int = 0
    reasoning_output_tokens: int = 0
    attempts: int = 0
    unreported: int = 0  # attempts whose usage was never reported (counted, contributing 0 tokens)
    duration_s: float = 0.0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def add(self, row: LedgerRow) -> None:
        self.input_tokens += row.input_tokens
        self.cached_input_tokens += row.cached_input_tokens
        self.output_tokens += row.output_tokens
        self.reasoning_output_tokens += row.reasoning_output_tokens
        self.attempts += 1
        self.unreported += 0 if row.usage_reported else 1
        self.duration_s = round(self.duration_s + (row.duration_s or 0.0), 3)


class FamilyTotals(UsageTotals):
    """One model family's usage: Codex's workers or Claude's reviewer. ``attempts`` counts its rows
    (runs); ``reviews`` the distinct review rounds they belong to (the reviewer's rows; a retried try is
    the same review); ``cost_usd`` sums the costs the rows reported (``costed`` of them), None when none
    did: Codex reports no cost, so its cost is unknown, never $0."""

    reviews: int = 0
    cost_usd: float | None = None
    costed: int = 0
    _rounds: set[tuple[str, int, int | None]] = PrivateAttr(default_factory=set)

    def add(self, row: LedgerRow) -> None:
        super().add(row)
        if row.review_round is not None:
            self._rounds.add((row.task_id, row.attempt, row.review_round))
            self.reviews = len(self._rounds)
        if row.cost_usd is not None:
            self.cost_usd = round((self.cost_usd or 0.0) + row.cost_usd, 6)
            self.costed += 1


@dataclass(frozen=True)
class LedgerSplit:
    """The rows of one time window summed every way a report shows them, in one pass: Codex's rows
    overall, by lane and by effort tier (what budgets and the table count), and every family's."""

    codex: UsageTotals = field(default_factory=UsageTotals)
    by_lane: dict[str, UsageTotals] = field(default_factory=dict)
    by_effort: dict[str, UsageTotals] = field(default_factory=dict)
    by_family: dict[str, FamilyTotals] = field(default_factory=dict)

    @classmethod
    def of(cls, rows: Iterable[LedgerRow]) -> LedgerSplit:
        split = cls()
        for row in rows:
            split.by_family.setdefault(row.family, FamilyTotals()).add(row)
            if row.family != CODEX:
                continue
            split.codex.add(row)
            split.by_lane.setdefault(_KEYS["lane"](row), UsageTotals()).add(row)
            split.by_effort.setdefault(_KEYS["effort"](row), UsageTotals()).add(row)
        return split


# --------------------------------------------------------------------------------------------- windows


def _local_midnight(day: date, tz: tzinfo) -> datetime:
    # A midnight skipped by a DST gap resolves (fold=0) to the first instant of that local day.
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def _require_aware(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")


def day_window(now: datetime, tz: tzinfo) -> tuple[datetime, datetime]:
    """``[start, end)`` in UTC of the local day (in ``tz``) that contains ``now``."""
    _require_aware(now)
    day = now.astimezone(tz).date()
    return _local_midnight(day, tz), _local_midnight(day + timedelta(days=1), tz)


def week_window(now: datetime, tz: tzinfo, week_starts_on: int = 0) -> tuple[datetime, datetime]:
    """``[start, end)`` in UTC of the local week containing ``now`` (``week_starts_on``: 0 Mon … 6 Sun)."""
    _require_aware(now)
    if not 0 <= week_starts_on <= 6:
        raise ValueError("week_starts_on must be 0 (Monday) … 6 (Sunday)")
    day = now.astimezone(tz).date()
    first = day - timedelta(days=(day.weekday() - week_starts_on) % 7)
    return _local_midnight(first, tz), _local_midnight(first + timedelta(days=7), tz)


# ---------------------------------------------------------------------------------------------- ledger

_KEYS: dict[str, Callable[[LedgerRow], str]] = {
    "lane": lambda r: r.lane or "unknown",
    "effort": lambda r: r.effort or "default",
    "task": lambda r: r.task_id,
    "model": lambda r: r.model or "default",
}


class Ledger:
    """Incremental reader and aggregator of one ledger file.

    Counters: ``bad_lines`` (lines skipped: not JSON, not an object, or not a valid row), ``duplicates``
    (rows dropped as a repeat of a known ``(task_id, attempt)``), ``restarts`` (times the file shrank or
    was replaced and was read again from the start), ``offset`` (bytes consumed; a partial last line is
    not consumed until its newline arrives).

    Sums over a time window cost what is in the window, not the whole ledger: the rows are also kept
    by time (appended rows extend that order; any other change sorts it again, once, when next asked),
    and :meth:`split` keeps its last answers until a row changes, so a view that asks every second
    over an unchanged ledger sums nothing.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.bad_lines = 0
        self.duplicates = 0
        self._rows: dict[tuple[object, ...], LedgerRow] = {}
        self.version = 0  # bumped on every change of the rows
        self._by_time: list[LedgerRow] | None = []  # the rows by ts (None: to be sorted again)
        self._splits: dict[tuple[datetime, datetime | None], LedgerSplit] = {}  # of this version
        # A partial last line stays on disk until its newline arrives; the tail of the last line read is
        # kept to notice a file rewritten in place.
        self._file = GrowingFile(
            self.path, hold_partial=False, verify_bytes=_CHECK_BYTES, on_restart=self._forget
        )

    @property
    def offset(self) -> int:
        """Bytes consumed: the end of the last complete line read."""
        return self._file.offset

    @property
    def restarts(self) -> int:
        """Times the file shrank, was replaced, rewritten or removed and was read again from the start."""
        return self._file.restarts

    # ------------------------------------------------------------------------------------------ reading

    def refresh(self) -> int:
        """Read the lines appended since the last call; returns the number of new (unique) rows."""
        added = 0
        for lines in self._file.read_batches():
            for raw in lines:
                added += self._take(raw)
        if self._file.missing and (self._file.offset or self._rows):
            self._file.restart(Restart("removed", self._file.offset, 0))
        return added

    def _forget(self, _reason: Restart) -> None:
        self.bad_lines = 0
        self.duplicates = 0
        self._rows = {}
        self._changed(None)

    def _changed(self, added: LedgerRow | None) -> None:
        """The rows changed: ``added`` appended (kept in time order when it is the newest), or anything
        else (None: the time order is sorted again when next needed)."""
        self.version += 1
        self._splits = {}
        order = self._by_time
        if added is not None and order is not None and (not order or added.ts >= order[-1].ts):
            order.append(added)
        else:
            self._by_time = None

    def _take(self, raw: bytes) -> int:
        if not raw.strip():
            return 0
        try:
            data = json.loads(raw)
            row = LedgerRow.model_validate(data)
        except (ValueError, ValidationError):  # JSON and UTF-8 errors are ValueErrors too
            self.bad_lines += 1
            return 0
        key = row.key
        known = self._rows.get(key)
        if known is None:
            self._rows[key] = row
            self._changed(row)
            return 1
        self.duplicates += 1
        if not known.usage_reported and row.usage_reported:
            self._rows[key] = row
            self._changed(None)
        return 0

    # --------------------------------------------------------------------------------------- aggregates

    def __len__(self) -> int:
        return len(self._rows)

    def rows(self) -> Iterator[LedgerRow]:
        """The unique rows in file order."""
        return iter(list(self._rows.values()))

    def totals(
        self,
        since: datetime,
        until: datetime | None = None,
        by: GroupBy | None = None,
        *,
        family: str = "codex",
    ) -> dict[str, UsageTotals]:
        """Usage of the rows of ``family`` with ``since <= ts < until`` (``until`` open when ``None``).

        Without ``by`` the answer is ``{"all": totals}`` (zero totals when nothing matched); with ``by``
        one entry per lane / effort tier / task / model that has rows (a missing lane reads ``unknown``,
        a missing effort or model ``default``).
        """
        _require_aware(since)
        if until is not None:
            _require_aware(until)
        if by is not None and by not in _KEYS:
            raise ValueError(f"cannot group by {by!r} (expected one of {', '.join(_KEYS)})")
        out: dict[str, UsageTotals] = {ALL: UsageTotals()} if by is None else {}
        for row in self._window(since, until):
            if row.family != family:
                continue
            key = ALL if by is None else _KEYS[by](row)
            out.setdefault(key, UsageTotals()).add(row)
        return out

    def _window(self, since: datetime, until: datetime | None) -> list[LedgerRow]:
        """The rows with ``since <= ts < until``, found by bisection in the time order."""
        order = self._by_time
        if order is None:
            order = self._by_time = sorted(self._rows.values(), key=_ts)
        lo = bisect.bisect_left(order, since, key=_ts)
        hi = len(order) if until is None else bisect.bisect_left(order, until, lo=lo, key=_ts)
        return order[lo:hi]

    def split(self, since: datetime, until: datetime | None = None) -> LedgerSplit:
        """:class:`LedgerSplit` of the rows with ``since <= ts < until``; the same answer again until a
        row changes."""
        _require_aware(since)
        if until is not None:
            _require_aware(until)
        key = (since, until)
        split = self._splits.get(key)
        if split is None:
            split = self._splits[key] = LedgerSplit.of(self._window(since, until))
        return split

    def today(self, now: datetime, tz: tzinfo, by: GroupBy | None = None) -> dict[str, UsageTotals]:
        """:meth:`totals` over the local day containing ``now``."""
        return self.totals(*day_window(now, tz), by=by)

    def this_week(
        self, now: datetime, tz: tzinfo, by: GroupBy | None = None, week_starts_on: int = 0
    ) -> dict[str, UsageTotals]:
        """:meth:`totals` over the local week containing ``now`` (Monday first unless ``week_starts_on``)."""
        return self.totals(*week_window(now, tz, week_starts_on), by=by)

    def task_tokens(self, task_id: str) -> int:
        """All tokens (input + output) the task's attempts used, over the whole ledger (Codex's rows)."""
        return sum(r.total_tokens for r in self._rows.values() if r.task_id == task_id and r.family == CODEX)


def _ts(row: LedgerRow) -> datetime:
    return row.ts


# ---------------------------------------------------------------------------------------------- report


class UsageReport(BaseModel):
    """Today's and this week's ledger usage, overall, by lane and by effort tier."""

    generated_at: datetime
    timezone: str
    day_start: datetime
    day_end: datetime
    week_start: datetime
    week_end: datetime
    today: UsageTotals
    week: UsageTotals
    today_by_lane: dict[str, UsageTotals] = Field(default_factory=dict)
    week_by_lane: dict[str, UsageTotals] = Field(default_factory=dict)
    today_by_effort: dict[str, UsageTotals] = Field(default_factory=dict)
    week_by_effort: dict[str, UsageTotals] = Field(default_factory=dict)
    today_by_family: dict[str, FamilyTotals] = Field(default_factory=dict)
    week_by_family: dict[str, FamilyTotals] = Field(default_factory=dict)
    bad_lines: int = 0

    def heading(self) -> str:
        """The line above the table: the time zone and where today and this week start."""
        zone = self.generated_at.tzinfo
        day, week = self.day_start.astimezone(zone), self.week_start.astimezone(zone)
        return (
            f"Token usage from the ledger ({self.timezone}; today from {day:%a %Y-%m-%d %H:%M}, "
            f"week from {week:%a %Y-%m-%d})"
        )

    def rows(self) -> list[tuple[str, UsageTotals, UsageTotals]]:
        """``(label, today, this week)``: ``all``, then one per lane and per effort tier, in display order."""
        out: list[tuple[str, UsageTotals, UsageTotals]] = [("all", self.today, self.week)]
        for label, today, week_split, order in (
            ("lane", self.today_by_lane, self.week_by_lane, _LANE_ORDER),
            ("effort", self.today_by_effort, self.week_by_effort, _EFFORT_ORDER),
        ):
            for key in _ordered({*today, *week_split}, order):
                out.append(
                    (f"{label} {key}", today.get(key, UsageTotals()), week_split.get(key, UsageTotals()))
                )
        return out

    def families(self) -> list[tuple[str, FamilyTotals, FamilyTotals]]:
        """``(family, today, this week)``: Codex's workers, Claude's reviewer, then any other family."""
        keys = _ordered({CODEX, CLAUDE, *self.today_by_family, *self.week_by_family}, _FAMILY_ORDER)
        return [
            (key, self.today_by_family.get(key, FamilyTotals()), self.week_by_family.get(key, FamilyTotals()))
            for key in keys
        ]

    def family_lines(self) -> list[str]:
        """One line per model family, e.g. ``Claude  today 2 reviews (3 runs), 12.3K tokens, $0.4200 ·
        week ...``. A cost no row reported is unknown, never $0."""
        lines = []
        for family, today, week in self.families():
            name = family.capitalize()
            lines.append(f"{name:<7} today {_family_part(family, today)} · week {_family_part(family, week)}")
        return lines

    def notes(self) -> list[str]:
        """The lines under the table: what input and output include, unreported attempts, bad lines."""
        today, week_total = self.today, self.week
        lines = [
            f"input includes cached (today {format_tokens(today.cached_input_tokens)}, "
            f"week {format_tokens(week_total.cached_input_tokens)}); output includes reasoning "
            f"(today {format_tokens(today.reasoning_output_tokens)}, "
            f"week {format_tokens(week_total.reasoning_output_tokens)})"
        ]
        unreported = self.week.unreported
        if unreported:
            lines.append(f"{unreported} attempt(s) this week reported no usage (counted as 0 tokens)")
        if self.bad_lines:
            lines.append(f"{self.bad_lines} unreadable ledger line(s) skipped")
        return lines

    def to_lines(self) -> list[str]:
        """A small aligned plain-text table: one row overall, then one per lane and per effort tier."""
        rows: list[list[str]] = [
            ["", "today", "", "", "", "this week", "", "", ""],
            ["", "tokens", "input", "output", "runs", "tokens", "input", "output", "runs"],
        ]
        rows += [[label, *_cells(today), *_cells(week)] for label, today, week in self.rows()]
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines = [self.heading()]
        for r in rows:
            cells = [r[0].ljust(widths[0])] + [
                r[i].rjust(widths[i]) + ("   " if i == 4 else "") for i in range(1, len(r))
            ]
            lines.append("  ".join(cells).rstrip())
        return lines + self.notes()


def _cells(t: UsageTotals) -> list[str]:
    return [
        format_tokens(t.total_tokens),
        format_tokens(t.input_tokens),
        format_tokens(t.output_tokens),
        str(t.attempts),
    ]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _family_part(family: str, t: FamilyTotals) -> str:
    runs = _plural(t.attempts, "run")
    head = f"{_plural(t.reviews, 'review')} ({runs})" if family == CLAUDE else runs
    if t.cost_usd is None:
        cost = "cost unknown" if t.attempts else "no cost"
    else:
        missing = t.attempts - t.costed
        cost = format_usd(t.cost_usd) + (f" ({missing} without a cost)" if missing else "")
    return f"{head}, {format_tokens(t.total_tokens)} tokens, {cost}"


def _ordered(keys: set[str], order: tuple[str, ...]) -> list[str]:
    return sorted(keys, key=lambda k: (order.index(k) if k in order else len(order), k))


def _tz_name(tz: tzinfo, now: datetime) -> str:
    key = getattr(tz, "key", None)
    return str(key) if key else (now.astimezone(tz).tzname() or str(tz))


def usage_report(
    ledger: Ledger, now: datetime, tz: tzinfo, *, week_starts_on: int = 0, refresh: bool = True
) -> UsageReport:
    """Today's and this week's usage (``tz``-local windows around ``now``); refreshes the ledger first."""
    if refresh:
        ledger.refresh()
    day_start, day_end = day_window(now, tz)
    week_start, week_end = week_window(now, tz, week_starts_on)
    day, week = ledger.split(day_start, day_end), ledger.split(week_start, week_end)
    return UsageReport(
        generated_at=now.astimezone(tz),
        timezone=_tz_name(tz, now),
        day_start=day_start,
        day_end=day_end,
        week_start=week_start,
        week_end=week_end,
        today=day.codex,
        week=week.codex,
        today_by_lane=day.by_lane,
        week_by_lane=week.by_lane,
        today_by_effort=day.by_effort,
        week_by_effort=week.by_effort,
        today_by_family=day.by_family,
        week_by_family=week.by_family,
        bad_lines=ledger.bad_lines,
    )
