"""Lanes benchmark: what a big board costs the cockpit's main screen, headless (``App.run_test``, 120x40).

For each board size N, one lane holds N tasks: 10 that need the user (3 running, 3 in review, 4 queued)
and N-10 finished ones (folded into one line). The board comes from ``board_stub.StubView`` (summaries in
memory, like a board view's snapshot), so the figures are the UI's own cost; the app polls it on its own
0.25 s timer as it polls the real board view. Printed per N:

- ``first frame``: wall time from entering ``run_test`` to the first frame that drew a task card;
- ``idle``: CPU used while the app runs untouched for a few seconds (polls, clock ticks), as a share of
  one core and per poll — the whole process, so it includes the stand-in's snapshot in its thread (a
  copy of the mapping, as the board view makes) — and ``screen``, the time the main screen takes to
  take in one snapshot (the lanes' share of a poll);
- ``1 change/poll``: the same while every snapshot changes one running task (its token count);
- key to repaint (median of several presses): ``down`` (cursor), ``enter`` on the fold line
  (expand N-10 tasks), ``end`` in the expanded list (the oldest task), and one filter keystroke (the
  ``2`` of ``item 12``, re-filtering every lane) — from the key press to the first frame that shows
  its effect;
- ``cards drawn``: task cards rendered over the whole run (only cards that were on screen are drawn).

Frames are capped at the app's frame rate (60 fps by default), so a repaint figure includes up to one
frame interval of waiting. Asserts nothing. Usage: ``.venv/bin/python tests/bench/lanes.py [--sizes
100,1000,5000,20000] [--seconds 3]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import textual

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the project: tests.helpers

from textual.pilot import Pilot

from cockpit.core.board.blackboard import Blackboard
from cockpit.core.codex.exec_events import Usage
from cockpit.core.records.basics import TaskStatus
from cockpit.core.views.board import BoardSnapshot
from cockpit.tui.app import CockpitApp
from cockpit.tui.screens.main_screen import MainScreen
from cockpit.tui.widgets.lane_pane import LanePane
from tests.helpers.board_stub import T0, StubView, history, summary

SIZE = (120, 40)
REPEATS = 5


class ChurnView(StubView):
    """A stand-in board view that, while ``churn`` is set, changes one running task per snapshot."""

    churn = False
    _tick = 0

    def snapshot(self) -> BoardSnapshot:
        if self.churn:
            self._tick += 1
            task = self.tasks["run-0"]
            self.put(task.model_copy(update={"usage": Usage(input_tokens=self._tick)}))
        return super().snapshot()


def board(n: int) -> list:
    needs = [
        *(summary(f"run-{i}", TaskStatus.RUNNING, created=-30 + i, started_at=T0) for i in range(3)),
        *(summary(f"review-{i}", TaskStatus.REVIEW, created=-20 + i) for i in range(3)),
        *(summary(f"queued-{i}", TaskStatus.QUEUED, created=-10 + i) for i in range(4)),
    ]
    return needs + history(max(n - len(needs), 0))


async def until(pilot: Pilot[None], condition: Callable[[], bool], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit("bench: a condition was not reached in time")
        await pilot.pause(0.002)


async def measure(n: int, seconds: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="cockpit-lanes-") as tmp:
        repo = Path(tmp)
        subprocess.run(["git", "init", "-q", str(repo)], check=True)
        Blackboard(repo).init()
        view = ChurnView(board(n))
        app = CockpitApp(repo, host_supervisor=False, clock=lambda: T0.timestamp())
        app.view = view  # type: ignore[assignment]
        frames: list[tuple[float, int, tuple[object, ...]]] = []  # (time, cards drawn, what the pane shows)
        panes: list[LanePane] = []
        display = app._display

        def drawn() -> int:
            return sum(sum(p.card_renders.values()) for p in panes)

        def shows() -> tuple[object, ...]:
            pane = panes[1] if panes else None
            if pane is None:
                return ()
            return (pane.border_title, pane.cursor_row, pane.rows.expanded, round(pane.scroll_y))

        def timed_display(screen: Any, renderable: Any) -> None:
            if renderable is not None:
                frames.append((time.perf_counter(), drawn(), shows()))
            display(screen, renderable)

        app._display = timed_display  # type: ignore[method-assign]
        handled = [0.0]
        out: dict[str, Any] = {"n": n}
        start = time.perf_counter()
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: isinstance(app.screen, MainScreen))
            pane = app.screen.query_one("#lane-worktree", LanePane)
            panes.extend(app.screen.query(LanePane))
            main = app.screen
            show = main.show

            def timed_show(snapshot: BoardSnapshot, viewer: bool) -> None:
                begin = time.perf_counter()
                show(snapshot, viewer)
                handled[0] += time.perf_counter() - begin

            main.show = timed_show  # type: ignore[method-assign]
            await until(pilot, lambda: any(cards for _, cards, _ in frames))
            out["first_frame"] = next(t for t, cards, _ in frames if cards) - start

            async def cpu_share() -> tuple[float, float, float]:
                polls, cpu, wall, ui = view.snapshots, time.process_time(), time.perf_counter(), handled[0]
                await asyncio.sleep(seconds)
                cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
                polls = max(view.snapshots - polls, 1)
                return cpu / wall, cpu / polls, (handled[0] - ui) / polls

            await pilot.pause(0.5)
            out["idle"] = await cpu_share()
            view.churn = True
            out["churn"] = await cpu_share()
            view.churn = False
            await pilot.pause(0.3)

            async def repaint(*keys: str) -> float:
                """Seconds from pressing the last of ``keys`` to the first frame that shows its effect on
                the lane (its title, cursor, fold or scroll position changed)."""
                if keys[:-1]:
                    await pilot.press(*keys[:-1])
                    await pilot.pause(0.05)
                seen, before = len(frames), shows()
                begin = time.perf_counter()
                await pilot.press(keys[-1])

                def shown() -> float | None:
                    return next((t for t, _, sig in frames[seen:] if sig != before), None)

                await until(pilot, lambda: shown() is not None, timeout=10)
                return (shown() or 0.0) - begin

            pane.focus()
            await pilot.press("home")
            out["down"] = statistics.median([await repaint("down") for _ in range(REPEATS)])
            expand = []
            for _ in range(REPEATS):
                expand.append(await repaint("end", "enter"))  # the cursor on the fold line: expand
                await pilot.press("enter")  # fold again
                await pilot.pause(0.05)
            out["expand"] = statistics.median(expand)
            await pilot.press("end", "enter")
            await pilot.pause(0.05)
            deepest = []
            for _ in range(REPEATS):
                deepest.append(await repaint("home", "end"))
            out["end"] = statistics.median(deepest)
            typed = []
            for _ in range(REPEATS):
                typed.append(await repaint("slash", *"item 1", "2"))
                await pilot.press("escape")  # clears the filter
                await pilot.pause(0.05)
            out["filter"] = statistics.median(typed)
            out["cards"] = drawn()
            await pilot.press("q")
        return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,5000,20000")
    parser.add_argument("--seconds", type=float, default=3.0, help="seconds of each CPU measurement")
    args = parser.parse_args()
    print(f"python    {platform.python_version()}, textual {textual.__version__}, {os.cpu_count()} CPUs")
    print(f"load      {' '.join(f'{x:.2f}' for x in os.getloadavg())} (1/5/15 min)")
    print(
        f"{'':>7}  {'':>11}  {'--------- idle ---------':>26}  {'---- 1 change/poll -----':>26}"
        f"  {'------ key to repaint ------':>33}"
    )
    print(
        f"{'tasks':>7}  {'first frame':>11}  {'CPU':>6}  {'per poll':>8}  {'screen':>8}"
        f"  {'CPU':>6}  {'per poll':>8}  {'screen':>8}"
        f"  {'down':>6}  {'expand':>7}  {'end':>6}  {'filter':>7}  {'cards drawn':>11}"
    )
    for n in (int(s) for s in args.sizes.split(",")):
        r = asyncio.run(measure(n, args.seconds))
        ms = 1000
        idle, churn = r["idle"], r["churn"]
        print(
            f"{r['n']:>7,}  {r['first_frame'] * ms:>9.0f}ms  {idle[0]:>6.1%}  {idle[1] * ms:>6.2f}ms"
            f"  {idle[2] * ms:>6.2f}ms  {churn[0]:>6.1%}  {churn[1] * ms:>6.2f}ms  {churn[2] * ms:>6.2f}ms"
            f"  {r['down'] * ms:>4.0f}ms  {r['expand'] * ms:>5.0f}ms  {r['end'] * ms:>4.0f}ms"
            f"  {r['filter'] * ms:>5.0f}ms  {r['cards']:>11,}"
        )


if __name__ == "__main__":
    main()
