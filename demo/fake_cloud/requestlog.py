"""The fake cloud's request log: every request it sees, in memory and as JSON lines in the state dir.

One entry per request: ``seq``, ``time``, ``via`` (``connect`` for the CONNECT itself, ``tunnel`` for a
request inside an intercepted TLS tunnel, ``direct`` for plain HTTP on the port), ``host`` (the tunnel's
host, or the Host header), ``method``, ``path``, ``query`` (name → list of values), ``headers`` (lower-case
names), ``body`` (parsed JSON, else text, else null) and the ``status`` answered. ``/__fake/reset`` clears
the in-memory list; the file keeps everything.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

REQUEST_LOG_NAME = "requests.jsonl"


def decode_body(raw: bytes) -> Any:
    if not raw:
        return None
    text = raw.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


class RequestLog:
    """Append-only, thread-safe."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._entries: list[dict[str, Any]] = []
        self._seq = 0

    def add(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._seq += 1
            record = {"seq": self._seq, "time": time.time(), **entry}
            self._entries.append(record)
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(record, sort_keys=True) + "\n")

    def entries(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
