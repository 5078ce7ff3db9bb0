"""Memory per task: what a viewer keeps for each task of a big board, measured with ``tracemalloc``.

For each N (default 1,000 and 20,000) a fresh board's task index is written with N summaries of
realistic tasks (``board_gen.make_state``: the status mix of a long-lived board, 1–3 attempts with
their signals and usage, messages, threads, branches) through the index's own rebuild, so the journal is
the one the cockpit reads (complete: no state file is needed). Then, in this process:

- ``view``: a board view's first snapshot — the index reader's summaries, the counts, each lane's order
  and the snapshot's mapping — in bytes per task: ``steady`` is what stays allocated afterwards (after
  a collection), ``peak`` the most allocated at once while the journal was loaded (the peak resident
  size follows it);
- ``change``: the peak of the next poll, after one task changed (the snapshot's new mapping);
- ``lanes``: the lanes taking the snapshot in and every lane's rows synced, finished tasks folded;
- ``expanded``: every lane's finished tasks expanded (one row per task);
- the view's largest allocation sites (file and line) at the largest N.

Bytes are Python allocations as ``tracemalloc`` sees them (not the interpreter's own overhead or
fragmentation); ``scale.py`` measures the running app's peak resident size. Asserts nothing.
Usage: ``.venv/bin/python tests/bench/memory.py [--sizes 1000,20000] [--top 8]``.
"""

from __future__ import annotations

import argparse
import gc
import platform
import random
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

# board_gen is a sibling module: the script's directory is first on sys.path
from board_gen import make_repo, make_state

from cockpit.core.board.blackboard import Blackboard
from cockpit.core.board.task_summary import TaskSummary
from cockpit.core.usage.watcher import RolloutWatcher
from cockpit.core.views.board import LANE_ORDER, BoardSnapshot, BoardView
from cockpit.core.views.lane_rows import BoardLanes


def write_board(repo: Path, n: int) -> Blackboard:
    """A fresh board at ``repo`` whose task index names ``n`` generated tasks."""
    board = Blackboard(make_repo(repo))
    rng = random.Random(n)
    base = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    board.task_index.rebuild(TaskSummary.of(make_state(rng, k, base)) for k in range(n))
    return board


def measured(step: Callable[[], object]) -> tuple[object, int, int]:
    """Run ``step`` under tracemalloc: its result, and the bytes it left allocated (after a collection)
    and allocated at most while it ran, both above what was allocated before."""
    gc.collect()
    before = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    result = step()
    peak = tracemalloc.get_traced_memory()[1]
    gc.collect()
    return result, tracemalloc.get_traced_memory()[0] - before, peak - before


def figures(board: Blackboard, home: Path, n: int, top: int) -> dict[str, tuple[float, float]]:
    """Bytes per task (steady, peak) of each step; prints the view's largest allocation sites."""
    out: dict[str, tuple[float, float]] = {}
    view = BoardView(board, windows=RolloutWatcher([home]))
    start = tracemalloc.take_snapshot() if top else None
    snapshot, steady, peak = measured(view.snapshot)
    assert isinstance(snapshot, BoardSnapshot) and len(snapshot.tasks) == n
    out["view"] = (steady / n, peak / n)
    changed = next(iter(snapshot.tasks.values()))
    del snapshot  # the app keeps the latest snapshot only
    if start is not None:
        stats = tracemalloc.take_snapshot().compare_to(start, "lineno")
        print(f"\nN={n:,}: the view's largest allocation sites (steady)")
        for stat in stats[:top]:
            frame = stat.traceback[0]
            where = f"{'/'.join(Path(frame.filename).parts[-2:])}:{frame.lineno}"
            print(f"  {where:<32} {stat.size_diff / 2**20:7.2f} MiB  {stat.count_diff:>8,} blocks")

    board.task_index.record(changed.model_copy(update={"title": f"{changed.title} (renamed)"}))
    _, steady, peak = measured(view.snapshot)
    out["change"] = (steady / n, peak / n)

    lanes = BoardLanes(LANE_ORDER)
    now = datetime.now(UTC)

    def take_in() -> None:
        lanes.apply(view.snapshot())
        for lane in LANE_ORDER:
            lanes.lane(lane).sync(now)

    _, steady, peak = measured(take_in)
    out["lanes"] = (steady / n, peak / n)

    def expand() -> None:
        for lane in LANE_ORDER:
            lanes.lane(lane).expanded = True
            lanes.lane(lane).sync(now)

    _, steady, peak = measured(expand)
    out["expanded"] = (steady / n, peak / n)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,20000")
    parser.add_argument("--top", type=int, default=8, help="allocation sites listed at the largest N")
    args = parser.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    print(f"python    {platform.python_version()}")
    rows: list[tuple[int, dict[str, tuple[float, float]]]] = []
    with tempfile.TemporaryDirectory(prefix="cockpit-memory-") as tmp_name:
        tmp = Path(tmp_name)
        for n in sizes:
            start = time.perf_counter()
            board = write_board(tmp / f"board-{n}", n)
            size = board.task_index.path.stat().st_size
            print(
                f"N={n:>6}: journal of {size / 2**20:.1f} MiB written in {time.perf_counter() - start:.1f} s"
            )
            tracemalloc.start()
            try:
                rows.append((n, figures(board, tmp / "home", n, args.top if n == max(sizes) else 0)))
            finally:
                tracemalloc.stop()
    print("\nbytes per task (steady / peak while it ran):")
    print("|      N | view          | change      | lanes (folded) | expanded    | view total at N |")
    print("|-------:|---------------|-------------|----------------|-------------|----------------:|")
    for n, f in rows:
        cells = [f"{f[k][0]:5.0f} / {f[k][1]:5.0f}" for k in ("view", "change", "lanes", "expanded")]
        total = (f["view"][0] + f["lanes"][0]) * n / 2**20
        print(
            f"| {n:>6} | {cells[0]:<13} | {cells[1]:<11} | {cells[2]:<14} | {cells[3]:<11} "
            f"| {total:12.1f} MiB |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
