"""The board's file of credit windows reported live by Codex's app-server (``rate-limits.json``).

Every mcp-lane model response brings an ``account/rateLimits/updated`` notification. Those snapshots are
sparse: a null field means "no news", never "reset to zero". The supervisor (the file's only writer)
merges each one into the last known snapshot of its ``limitId`` with
:func:`~cockpit.core.codex.app_server.protocol.merge_sparse` (the one rule, shared with the app-server client)
and writes the result here; every credit-window reader (:class:`cockpit.core.usage.windows.RolloutWatcher`)
reads it beside the rollout files, so the gauge moves with the turn instead of waiting for a rollout
rescan.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from cockpit.core.atomic import atomic_write_text
from cockpit.core.codex.app_server.protocol import limit_key, merge_sparse
from cockpit.core.layout import LIVE_RATE_LIMITS_FILE

__all__ = ["LIVE_RATE_LIMITS_FILE", "LiveLimit", "LiveRateLimits", "merge_sparse", "read_live", "record_live"]


class LiveLimit(BaseModel):
    """One limit family: its merged snapshot (the app-server's camelCase shape) and when it was reported."""

    rate_limits: dict[str, Any] = Field(default_factory=dict)
    observed_at: float = 0.0


class LiveRateLimits(BaseModel):
    limits: dict[str, LiveLimit] = Field(default_factory=dict)


def read_live(path: Path, on_corrupt: Callable[[Path, str], object] | None = None) -> LiveRateLimits:
    """The file's contents; empty when it is missing, and quarantined (then empty) when corrupt."""
    try:
        data = path.read_bytes()
    except OSError:
        return LiveRateLimits()
    try:
        return LiveRateLimits.model_validate_json(data)
    except ValidationError as exc:
        if on_corrupt is not None:
            on_corrupt(path, f"unreadable live rate limits: {exc.errors()[0]['msg']}")
        return LiveRateLimits()


def record_live(
    path: Path,
    raw: Mapping[str, Any],
    observed_at: float,
    on_corrupt: Callable[[Path, str], object] | None = None,
) -> bool:
    """Merge one snapshot into the file; False (nothing written) when it is older than the known one of
    its limit or changes nothing."""
    live = read_live(path, on_corrupt)
    key = limit_key(raw)
    known = live.limits.get(key)
    if known is not None and observed_at < known.observed_at:
        return False  # a replayed or late line: the file already holds newer news
    merged = merge_sparse(known.rate_limits if known else {}, raw)
    if known is not None and merged == known.rate_limits:
        return False
    live.limits[key] = LiveLimit(rate_limits=merged, observed_at=observed_at)
    atomic_write_text(path, json.dumps(live.model_dump(mode="json"), indent=1) + "\n")
    return True
