"""Reading the rate-limit snapshots Codex writes into its rollout files, and finding those files.

After every model response Codex appends an ``event_msg``/``token_count`` line to the thread's rollout
(``$CODEX_HOME/sessions/YYYY/MM/DD/rollout-*.jsonl``); its ``rate_limits`` hold the windows the server
reported in that response's headers. :func:`parse_rate_limits` and :func:`parse_rollout_line` accept
every historical shape of that snapshot (flat ``primary_used_percent`` fields, nested windows with a
relative ``resets_in_seconds`` or an absolute ``resets_at``) and turn it into
:class:`~cockpit.core.usage.windows.UsageWindows`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Literal

from cockpit.core.codex.app_server.protocol import Credits
from cockpit.core.usage.windows import UsageWindows, Window, as_minutes, as_number

_SLOTS: Final = ("primary", "secondary")

State = Literal["ok", "unknown", "blocked"]


# ---------------------------------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------------------------------


def parse_timestamp(value: Any) -> float | None:
    """Unix seconds from an ISO-8601 string (``2025-10-17T05:54:20.209Z``; naive = UTC) or a number."""
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            return as_number(text)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.timestamp()
    number = as_number(value)
    if number is not None and number > 1e11:  # milliseconds
        number /= 1000.0
    return number


def _first(raw: Mapping[str, Any], *keys: str) -> Any:
    for key in keys:
        if raw.get(key) is not None:
            return raw[key]
    return None


def _raw_slots(raw: Mapping[str, Any]) -> dict[str, Mapping[str, Any] | None]:
    """The primary/secondary window mappings of a snapshot, whatever its era (None = null slot)."""
    if any(f"{slot}_used_percent" in raw for slot in _SLOTS):  # flat shape (~v0.40)
        out: dict[str, Mapping[str, Any] | None] = {}
        for slot in _SLOTS:
            used = raw.get(f"{slot}_used_percent")
            minutes = raw.get(f"{slot}_window_minutes")
            out[slot] = (
                None
                if used is None and minutes is None
                else {"used_percent": used, "window_minutes": minutes}
            )
        return out
    return {slot: (raw[slot] if isinstance(raw.get(slot), Mapping) else None) for slot in _SLOTS}


def _slot_minutes(raw: Mapping[str, Any]) -> dict[str, int]:
    out: dict[str, int] = {}
    for slot, window in _raw_slots(raw).items():
        minutes = as_minutes(_first(window, "window_minutes", "windowDurationMins")) if window else None
        if minutes is not None:
            out[slot] = minutes
    return out


def _parse_window(raw: Mapping[str, Any], observed_at: float, source: str) -> Window:
    used = as_number(_first(raw, "used_percent", "usedPercent"))
    minutes = as_minutes(_first(raw, "window_minutes", "windowDurationMins"))
    resets_at = parse_timestamp(_first(raw, "resets_at", "reset_at", "resetsAt"))
    if resets_at is None:
        relative = as_number(_first(raw, "resets_in_seconds", "reset_after_seconds"))
        if relative is not None:
            resets_at = observed_at + relative  # relative to the line's own timestamp
    return Window(
        minutes=minutes, used_percent=used, resets_at=resets_at, source=source, observed_at=observed_at
    )


def _parse_credits(raw: Any) -> Credits | None:
    if not isinstance(raw, Mapping):
        return None
    balance = _first(raw, "balance")
    return Credits(
        has_credits=_first(raw, "has_credits", "hasCredits") is True,
        unlimited=_first(raw, "unlimited") is True,
        balance=None if balance is None else str(balance),
    )


def _optional_str(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def parse_rate_limits(
    raw: Any,
    *,
    observed_at: float,
    source: str,
    slot_minutes: Mapping[str, int] | None = None,
) -> UsageWindows | None:
    """One ``rate_limits`` object → :class:`UsageWindows`; None for ``null`` or a non-object.

    A null primary window is kept as an unknown window; a null secondary is dropped (plans with a
    single window send only a primary). ``slot_minutes`` (the minutes each slot last reported for this
    limit) lets a null slot keep its label, e.g. ``5h unknown`` after a response without headers.
    """
    if not isinstance(raw, Mapping):
        return None
    hints = slot_minutes or {}
    known: list[Window] = []
    unknown: list[Window] = []
    for slot, window_raw in _raw_slots(raw).items():
        if window_raw is not None:
            window = _parse_window(window_raw, observed_at, source)
            (known if window.used_percent is not None else unknown).append(window)
        elif slot == "primary" or slot in hints:
            unknown.append(Window(minutes=hints.get(slot), source=source, observed_at=observed_at))
    windows: list[Window] = []
    for window in known + unknown:
        if window.used_percent is None and any(w.minutes == window.minutes for w in windows):
            continue  # a window of that length (or one unknown-length placeholder) is already listed
        windows.append(window)
    windows.sort(key=lambda w: (w.minutes is None, w.minutes or 0))
    return UsageWindows(
        windows=windows,
        credits=_parse_credits(raw.get("credits")),
        plan_type=_optional_str(_first(raw, "plan_type", "planType")),
        limit_id=_optional_str(_first(raw, "limit_id", "limitId")),
        limit_name=_optional_str(_first(raw, "limit_name", "limitName")),
        reached_type=_optional_str(_first(raw, "rate_limit_reached_type", "rateLimitReachedType")),
        observed_at=observed_at,
        source=source,
    )


def _keep_known(new: UsageWindows, old: UsageWindows | None) -> UsageWindows:
    """A sparse snapshot over the last known one: a window or credits it leaves unknown keep their
    known values (null is no news, never a reset). The rule of
    :func:`~cockpit.core.codex.app_server.protocol.merge_sparse`, applied across two sources (a rollout's
    snapshot and the live file's) whose windows match by length, not by their slot on the wire."""
    if old is None:
        return new
    windows = []
    for window in new.windows:
        if window.used_percent is None:
            known = next(
                (w for w in old.windows if w.minutes == window.minutes and w.used_percent is not None), None
            )
            window = known or window
        windows.append(window)
    return new.model_copy(update={"windows": windows, "credits": new.credits or old.credits})


def _token_count_body(record: Any) -> Mapping[str, Any] | None:
    if not isinstance(record, Mapping):
        return None
    payload = record.get("payload")
    kind = record.get("type")
    if kind == "event_msg" and isinstance(payload, Mapping) and payload.get("type") == "token_count":
        return payload
    if kind == "token_count":
        return payload if isinstance(payload, Mapping) else record
    return None


def _rate_limits_of(line: bytes | str, fallback_time: float | None) -> tuple[Mapping[str, Any], float] | None:
    try:
        record = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        return None
    body = _token_count_body(record)
    if body is None or not isinstance(body.get("rate_limits"), Mapping):
        return None
    observed = parse_timestamp(record.get("timestamp"))
    if observed is None:
        observed = fallback_time
    if observed is None:
        return None
    return body["rate_limits"], observed


def parse_rollout_line(
    line: bytes | str,
    *,
    source: str,
    fallback_time: float | None = None,
    slot_minutes: Mapping[str, int] | None = None,
) -> UsageWindows | None:
    """The snapshot of one rollout line, or None unless it is a ``token_count`` with non-null ``rate_limits``.

    Accepts ``{"type":"event_msg","payload":{"type":"token_count",…}}`` (every era, including 0.169.0) and a
    bare ``token_count`` record. ``fallback_time`` stands in for a missing line timestamp.
    """
    found = _rate_limits_of(line, fallback_time)
    if found is None:
        return None
    raw, observed = found
    return parse_rate_limits(raw, observed_at=observed, source=source, slot_minutes=slot_minutes)


# ---------------------------------------------------------------------------------------------------
# Homes
# ---------------------------------------------------------------------------------------------------


def codex_homes_from(env_values: Iterable[str | None]) -> list[Path]:
    """Distinct ``CODEX_HOME`` directories from env values (each may list several, comma-separated).

    Without any value the default ``~/.codex`` is returned.
    """
    homes: list[Path] = []
    seen: set[Path] = set()
    for value in env_values:
        for part in (value or "").split(","):
            text = part.strip()
            if not text:
                continue
            path = Path(os.path.expanduser(text))
            key = Path(os.path.abspath(path))
            if key not in seen:
                seen.add(key)
                homes.append(key)
    return homes or [Path(os.path.expanduser("~/.codex"))]


def codex_homes_of(env: Mapping[str, str]) -> list[Path]:
    """The homes whose rollouts hold the credit windows: the ``CODEX_HOME`` the workers get (``env``, the
    supervisor's additions) and this process's own, else ``~/.codex``."""
    return codex_homes_from([env.get("CODEX_HOME"), os.environ.get("CODEX_HOME")])
