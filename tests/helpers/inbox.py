"""Inbox drops as a sender writes them, for tests of what the supervisor does with them."""

from __future__ import annotations

import os
import secrets
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from cockpit.core.atomic import atomic_write_json
from cockpit.core.board.blackboard import Blackboard
from cockpit.core.records.basics import utc_now


def raw_drop(board: Blackboard, kind: str, data: dict[str, Any]) -> Path:
    """A drop written the way :meth:`Blackboard.drop` writes one, with no check of what it holds."""
    name = f"{time.time_ns():020d}-{secrets.token_hex(3)}.{kind}.json"
    tmp = board.root / "inbox" / f".{name}.tmp"
    atomic_write_json(tmp, {"kind": kind, "dropped_at": utc_now().isoformat(), **data})
    final = board.root / "inbox" / name
    os.replace(tmp, final)
    return final


def expires_in(seconds: float) -> str:
    return (utc_now() + timedelta(seconds=seconds)).isoformat()
