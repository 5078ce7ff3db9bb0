"""Big-log benchmark: how fast the task view's event log shows the last page of a 1,000,000-line file.

Builds ``tests/bench/data/big-log-1000k.jsonl`` (git-ignored) by tiling the recorded Codex stream
``tests/fixtures/codex/recorded-mixed.jsonl``, ending with one unique event. Then, best of 3 each:

- ``wc -l`` on the file (a subprocess, so process start-up is included);
- the widget: a fresh app under ``App.run_test(size=(120, 40))`` mounts an ``EventLog`` on the file, and
  the clock runs from the mount call until the widget's render pass has drawn the unique last event
  (read from the strips it returns to the compositor);
- for reference, the full background index (mount until the thread-built index has replaced the tail
  one) and a bare full ``LineIndex`` build.

Prints the figures and the ratio widget / ``wc -l`` (target: at most 2). Asserts nothing.
Usage: ``.venv/bin/python tests/bench/big_log.py [--lines N] [--runs N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import textual
from textual.app import App
from textual.strip import Strip

from cockpit.core.views.line_index import LineIndex
from cockpit.tui.widgets import EventLog

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "codex" / "recorded-mixed.jsonl"
DATA_DIR = Path(__file__).resolve().parent / "data"
LAST_TEXT = "end of the big log"
TIMEOUT = 120.0


def last_event() -> bytes:
    event = {
        "type": "item.completed",
        "item": {"id": "item_last", "type": "agent_message", "text": LAST_TEXT},
    }
    return json.dumps(event, separators=(",", ":")).encode() + b"\n"


def build_file(path: Path, n_lines: int) -> None:
    """Tile the fixture's lines up to ``n_lines - 1`` and end with :func:`last_event` (kept if present)."""
    tail = last_event()
    lines = FIXTURE.read_bytes().splitlines(keepends=True)
    tiles, rest = divmod(n_lines - 1, len(lines))
    size = len(b"".join(lines)) * tiles + len(b"".join(lines[:rest])) + len(tail)
    if path.is_file() and path.stat().st_size == size:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tile = b"".join(lines)
    with open(path, "wb") as out:
        for _ in range(tiles):
            out.write(tile)
        out.write(b"".join(lines[:rest]))
        out.write(tail)


def best_of(runs: int, fn: Callable[[], float]) -> tuple[float, list[float]]:
    times = [fn() for _ in range(runs)]
    return min(times), times


def wc_l(path: Path) -> float:
    start = time.perf_counter()
    subprocess.run(["wc", "-l", str(path)], check=True, capture_output=True)
    return time.perf_counter() - start


def full_index(path: Path) -> float:
    start = time.perf_counter()
    with LineIndex(path) as index:
        index.extend()
    return time.perf_counter() - start


class TimedLog(EventLog):
    """An EventLog that notes when its render pass first draws the file's last event."""

    shown_at: float | None = None

    def render_line(self, y: int) -> Strip:
        strip = super().render_line(y)
        if self.shown_at is None and LAST_TEXT in strip.text:
            self.shown_at = time.perf_counter()
        return strip


async def widget_round(path: Path, n_lines: int) -> tuple[float, float]:
    """Seconds from mount to the last page drawn, and to the full index in place."""
    app: App[None] = App()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        log = TimedLog(path)
        start = time.perf_counter()
        await app.mount(log)
        deadline = start + TIMEOUT
        while log.shown_at is None and time.perf_counter() < deadline:
            await asyncio.sleep(0)
        if log.shown_at is None:
            raise RuntimeError("the last page was never drawn")
        shown = log.shown_at - start
        while log.indexing and time.perf_counter() < deadline:
            await asyncio.sleep(0.002)
        indexed = time.perf_counter() - start
        if log.line_count != n_lines:
            raise RuntimeError(f"indexed {log.line_count} lines, expected {n_lines}")
    return shown, indexed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    path = DATA_DIR / f"big-log-{args.lines // 1000}k.jsonl"
    build_file(path, args.lines)
    size = path.stat().st_size
    path.read_bytes()  # into the page cache, so every contender reads from memory

    print(f"python    {platform.python_version()}, textual {textual.__version__}, {os.cpu_count()} CPUs")
    print(f"load      {' '.join(f'{x:.2f}' for x in os.getloadavg())} (1/5/15 min)")
    print(f"file      {path.relative_to(ROOT)}: {args.lines:,} lines, {size / 1e6:.1f} MB")

    wc_best, wc_times = best_of(args.runs, lambda: wc_l(path))
    rounds = [asyncio.run(widget_round(path, args.lines)) for _ in range(args.runs)]
    shown = [r[0] for r in rounds]
    indexed = [r[1] for r in rounds]
    index_best, index_times = best_of(args.runs, lambda: full_index(path))

    def ms(values: list[float]) -> str:
        return ", ".join(f"{v * 1e3:.1f}" for v in values)

    print(f"wc -l                          best {wc_best * 1e3:7.1f} ms   (runs: {ms(wc_times)})")
    print(f"EventLog: mount → last page    best {min(shown) * 1e3:7.1f} ms   (runs: {ms(shown)})")
    print(f"EventLog: mount → full index   best {min(indexed) * 1e3:7.1f} ms   (runs: {ms(indexed)})")
    print(f"LineIndex full build (bare)    best {index_best * 1e3:7.1f} ms   (runs: {ms(index_times)})")
    print(f"ratio last page / wc -l: {min(shown) / wc_best:.2f}  (target ≤ 2)")


if __name__ == "__main__":
    main()
