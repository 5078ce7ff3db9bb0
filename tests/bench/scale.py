"""Scale benchmark: the cockpit over a board with weeks of history, as a person runs it.

1. **Real runs.** The demo's three tasks run to the end once through the pinned real Codex CLI, driven
   by the project's scripted model on loopback (local lane: succeeded; worktree lane: review, then
   merged; worktree lane: three failed attempts, then a human gate). Their task directories (envelope,
   state, attempts with Codex's own ``events.jsonl``, diffs) are the templates.
2. **Cloned boards.** For each N a fresh git repository gets N tasks cloned from those templates: files
   hard-linked, the state rewritten through ``Blackboard.write_state`` (so every index a writer keeps
   is kept as in real use), creation times spread over the last weeks. All but a handful are finished
   (merged, succeeded, failed, rejected); the newest few need the user (two in review, one awaiting a
   decision, two failed in the last day), none is queued or running, so a hosting supervisor starts no
   worker.
3. **The installed app in a pty** (120x40, ``xterm-256color``, see ``pty_app.py``), once as a viewer
   (the bench holds the board's lock) and once hosting the supervisor:

   - spawn → first frame showing tasks: the first read by which a cloned task's title (``… #<i>``) is
     on screen;
   - idle CPU: ``/proc`` user + system time over ``--idle`` seconds (default 30) as % of one core;
   - peak RSS (``VmHWM``) at the end;
   - key → repaint: for each key the time from its write to the first read after it that shows the
     change it makes (a cursor move: any repaint; expand: a finished task's title appears; filter: the
     lane title's count changes), p50 and p95 over the keys; Escape (closing the filter) apart, since a
     lone ESC byte waits out Textual's escape timeout (``ESCDELAY``, 100 ms by default).

   ``cockpit status`` is timed too (spawn to exit, median of 3).

Prints a table with the issue's targets; asserts nothing. The machine's load average is printed: other
work on a 2-core machine shows up directly in these figures.
Usage: ``.venv/bin/python tests/bench/scale.py [--sizes 100,1000,5000,20000] [--idle S] [--keys K]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import textual

# pty_app is a sibling module: the script's directory is first on sys.path
from pty_app import PtyApp, cockpit_argv

from cockpit.core.board.blackboard import Blackboard
from cockpit.core.commands import run_task_command, submit
from cockpit.core.envelope.model import envelope_from_mapping
from cockpit.core.records.basics import TaskStatus
from cockpit.core.records.task import TaskState
from cockpit.core.supervisor.loop import Supervisor
from cockpit.demo.codex_home import demo_worker_env
from cockpit.demo.headless import DEMO_TASKS, SCENARIOS
from cockpit.demo.repo import make_demo_repo
from cockpit.demo.scripted_model import ScriptedModel, load_scenario

TIMEOUT_S = 120.0
KEY_TIMEOUT_S = 5.0
CLONE_TITLE = re.compile(r" #\d+")
ESCAPE_KEY = "filter clear (escape)"
TARGETS = {
    "first frame": "≤ 1.0 s",
    "idle CPU": "≤ 2 %",
    "peak RSS": "≤ 120 MB at 20,000",
    "key p95 (escape apart)": "≤ 50 ms",
    "status": "≤ 0.3 s at 5,000",
}
# What the clones are, oldest first; the newest few need the user.
FINISHED_MIX = (
    (TaskStatus.MERGED, 60),
    (TaskStatus.SUCCEEDED, 30),
    (TaskStatus.FAILED, 6),
    (TaskStatus.REJECTED, 4),
)
NEEDS_USER = (
    TaskStatus.REVIEW,
    TaskStatus.REVIEW,
    TaskStatus.AWAITING_DECISION,
    TaskStatus.FAILED,
    TaskStatus.FAILED,
)


# ------------------------------------------------------------------------------------------ real runs


def real_runs(workdir: Path) -> Blackboard:
    """Run the demo's tasks to the end with the real Codex CLI; returns their board."""
    repo = workdir / "template"
    make_demo_repo(repo)
    scenarios = [load_scenario(p) for p in sorted(SCENARIOS.glob("demo-*.toml"))]
    board = Blackboard(repo)
    board.init()
    with ScriptedModel(scenarios) as model:
        env = demo_worker_env(workdir, model.base_url)
        for fields in DEMO_TASKS:
            submit(board, envelope_from_mapping(fields))
        asyncio.run(Supervisor(board, env=env).run(until_idle=True))
    for state in board.states():
        if state.status == TaskStatus.REVIEW:
            run_task_command(board, "merge", state.id)
    return board


# -------------------------------------------------------------------------------------------- clones


def _link_tree(src: Path, dst: Path) -> None:
    """``dst`` as a copy of ``src`` whose files are hard links, except ``state.json`` (rewritten)."""
    for root, _dirs, files in os.walk(src):
        rel = Path(root).relative_to(src)
        target = dst / rel
        target.mkdir(mode=0o700, exist_ok=True)
        for name in files:
            if rel == Path(".") and name == "state.json":
                continue
            os.link(Path(root) / name, target / name)


def clone_board(templates: list[TaskState], template_board: Blackboard, repo: Path, n: int) -> list[str]:
    """A fresh repo at ``repo`` whose board holds ``n`` tasks cloned from ``templates``; returns the
    titles of the tasks that need the user (newest last)."""
    make_demo_repo(repo)
    board = Blackboard(repo)
    board.init()
    rng = random.Random(n)
    statuses, weights = zip(*FINISHED_MIX, strict=True)
    now = datetime.now(UTC)
    span = timedelta(days=28)
    live_titles: list[str] = []
    for i in range(n):
        template = templates[i % len(templates)]
        live = i >= n - len(NEEDS_USER)
        status = NEEDS_USER[i - (n - len(NEEDS_USER))] if live else rng.choices(statuses, weights)[0]
        task_id = f"{i:05d}-{template.id.split('-', 1)[1]}"[:64]
        title = f"{template.title} #{i}"
        created = now - span * (1 - i / n) if not live else now - timedelta(minutes=n - i)
        _link_tree(template_board.task_dir(template.id), board.task_dir(task_id))
        state = template.model_copy(
            update={
                "id": task_id,
                "title": title,
                "status": status,
                "created_at": created,
                "worktree": None,
                "branch": None,
                "decision_id": None,
            }
        )
        board.write_state(state)
        if live:
            live_titles.append(title)
    return live_titles


# ------------------------------------------------------------------------------------------- figures


@dataclass
class Figures:
    first_frame_s: float = float("nan")
    idle_cpu_pct: float = float("nan")
    peak_rss_mb: float = float("nan")
    keys_ms: dict[str, list[float]] = field(default_factory=dict)
    missed_keys: int = 0
    missed_names: list[str] = field(default_factory=list)


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def key_to_frame(
    app: PtyApp, keys: tuple[str, ...], check: Callable[[str], bool] | None = None
) -> float | None:
    """Seconds from writing ``keys`` to the first read after it (that passes ``check``); None when
    nothing came within :data:`KEY_TIMEOUT_S`."""
    app.decode()
    sent = app.send(*keys)
    try:
        if check is None:
            shown = app.wait_for(timeout=KEY_TIMEOUT_S, since=sent, check=lambda s: bool(s.strip()))
        else:
            shown = app.wait_for(timeout=KEY_TIMEOUT_S, since=sent, check=check)
    except TimeoutError:
        return None
    return max(0.0, shown.t - sent)


FILTER_COUNT = re.compile(r"\d[\d,]* of \d[\d,]*")
"""A lane title while a filter is set: ``worktree · 1,111 of 5,000``."""


def _filter_count(text: str) -> bool:
    return FILTER_COUNT.search(text) is not None


def _settle(app: PtyApp, quiet_s: float = 0.3, limit_s: float = 5.0) -> None:
    """Wait until the app has drawn nothing for ``quiet_s`` (or ``limit_s`` passed)."""
    end = time.perf_counter() + limit_s
    while time.perf_counter() < end:
        chunks = app.decode()
        last = chunks[-1].t if chunks else app.spawned_at
        if time.perf_counter() - last >= quiet_s:
            return
        time.sleep(0.05)


def measure_app(repo: Path, env: dict[str, str], idle_s: float, rounds: int) -> Figures:
    figures = Figures()
    app = PtyApp(cockpit_argv("--repo", str(repo)), cwd=repo, env=env)
    try:
        shown = app.wait_for(timeout=TIMEOUT_S, check=lambda s: CLONE_TITLE.search(s) is not None)
        figures.first_frame_s = shown.t - app.spawned_at
        _settle(app)
        before = app.stats()
        t0 = time.perf_counter()
        time.sleep(idle_s)
        after = app.stats()
        figures.idle_cpu_pct = 100 * (after.cpu_s - before.cpu_s) / (time.perf_counter() - t0)

        def record(name: str, took: float | None) -> None:
            if took is None:
                figures.missed_keys += 1
                figures.missed_names.append(name)
            else:
                figures.keys_ms.setdefault(name, []).append(took * 1e3)
            _settle(app, quiet_s=0.15)

        for i in range(rounds):
            record("down/up", key_to_frame(app, ("down" if i % 2 == 0 else "up",)))
        app.send("down")  # off the first row, so that the first home below moves the cursor too
        _settle(app, quiet_s=0.15)
        for _ in range(max(1, rounds // 4)):
            # the fold line is the last row of the lane: end, enter shows the finished tasks (from the
            # top, so that end moves the cursor and repaints)
            record("home", key_to_frame(app, ("home",)))
            record("end", key_to_frame(app, ("end",)))
            expanded = key_to_frame(app, ("enter",), check=lambda s: CLONE_TITLE.search(s) is not None)
            record("expand", expanded)
            record("fold", key_to_frame(app, ("enter",)))
            record("filter", key_to_frame(app, ("/",)))
            # one key at a time, each until the lane title's count shows the filter applied
            record("filter text", key_to_frame(app, ("#",), check=_filter_count))
            record("filter text", key_to_frame(app, ("1",), check=_filter_count))
            record(ESCAPE_KEY, key_to_frame(app, ("escape",)))
        figures.peak_rss_mb = app.stats().peak_rss_kb / 1024
    finally:
        app.close()
    return figures


def time_status(repo: Path, env: dict[str, str]) -> float:
    runs = []
    for _ in range(3):
        start = time.perf_counter()
        subprocess.run(
            cockpit_argv("--repo", str(repo), "status"),
            check=True,
            stdout=subprocess.DEVNULL,
            env={**os.environ, **env},
        )
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,5000,20000")
    parser.add_argument("--idle", type=float, default=30.0, help="seconds of idle CPU measured")
    parser.add_argument("--keys", type=int, default=20, help="cursor keys per run")
    parser.add_argument("--modes", default="viewer,host")
    args = parser.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    modes = args.modes.split(",")

    print(f"python    {platform.python_version()}, textual {textual.__version__}, {os.cpu_count()} CPUs")
    print(f"load      {' '.join(f'{x:.2f}' for x in os.getloadavg())} (1/5/15 min)")
    rows: list[tuple[int, str, Figures, float]] = []
    with tempfile.TemporaryDirectory(prefix="cockpit-scale-") as tmp_name:
        tmp = Path(tmp_name)
        start = time.perf_counter()
        template_board = real_runs(tmp)
        templates = template_board.states()
        print(f"real runs: {len(templates)} tasks in {time.perf_counter() - start:.1f} s")
        home = tmp / "home"
        home.mkdir(exist_ok=True)
        env = {"CODEX_HOME": str(tmp / "codex-home"), "HOME": str(home)}
        for n in sizes:
            repo = tmp / f"board-{n}"
            start = time.perf_counter()
            clone_board(templates, template_board, repo, n)
            print(f"N={n:>6}: cloned in {time.perf_counter() - start:.1f} s", flush=True)
            status_s = time_status(repo, env)
            board = Blackboard(repo)
            for mode in modes:
                if mode == "viewer":
                    with board.lock():
                        figures = measure_app(repo, env, args.idle, args.keys)
                else:
                    figures = measure_app(repo, env, args.idle, args.keys)
                rows.append((n, mode, figures, status_s))
                print(f"N={n:>6} {mode:<6} done", flush=True)
            shutil.rmtree(repo, ignore_errors=True)

    print(f"\nload      {' '.join(f'{x:.2f}' for x in os.getloadavg())} (1/5/15 min)")
    print("\n|     N | mode   | first frame | idle CPU | peak RSS | key p50 | key p95 | missed | status |")
    print("|------:|--------|------------:|---------:|---------:|--------:|--------:|-------:|-------:|")
    for n, mode, f, status_s in rows:
        # Escape is left out here and shown below: a lone ESC byte is ambiguous until Textual's escape
        # timeout (ESCDELAY, 100 ms by default) has passed, whatever the app does.
        every = [v for name, values in f.keys_ms.items() if name != ESCAPE_KEY for v in values]
        print(
            f"| {n:>5} | {mode:<6} | {f.first_frame_s:9.2f} s | {f.idle_cpu_pct:6.1f} % | "
            f"{f.peak_rss_mb:5.0f} MB | {_pct(every, 0.5):4.0f} ms | {_pct(every, 0.95):4.0f} ms | "
            f"{f.missed_keys:>6} | {status_s:4.2f} s |"
        )
    print("\nkey → repaint by key (p50 / p95 ms):")
    for n, mode, f, _ in rows:
        parts = [f"{k} {_pct(v, 0.5):.0f}/{_pct(v, 0.95):.0f}" for k, v in f.keys_ms.items()]
        missed = f" (missed: {', '.join(f.missed_names)})" if f.missed_names else ""
        print(f"  N={n:>6} {mode:<6} " + ", ".join(parts) + missed)
    print("\ntargets at every N: " + "; ".join(f"{k} {v}" for k, v in TARGETS.items()))


if __name__ == "__main__":
    sys.exit(main())
