"""Start-up benchmark: time to the first useful frame of the real cockpit in a terminal.

The installed ``cockpit --repo R`` runs in a pseudo-terminal (120x40, ``xterm-256color``; see
``pty_app.py``) on a fresh, initialised repository with no tasks, and the clock runs from the spawn
until the first read of its output that completes the main screen's header ("Codex Cockpit", drawn
from the first board snapshot) and a lane title ("worktree"). Then ``q`` ends it.

The bench process holds the blackboard's supervisor lock meanwhile, so the app starts as a viewer: it
still builds its supervisor (which looks up the Codex binary) but finds the board held and hosts none,
so no Codex process can start whatever the machine has installed. With no tasks a hosting supervisor
would not start Codex either, but it needs a Codex binary to exist; the lock keeps the figure the same
on machines with or without one.

For scale, the same interpreter runs ``python -c "import textual.app"`` (spawn to exit). Runs alternate
(cockpit, import, cockpit, …) so both see the same machine load; the medians and their ratio are
printed. Asserts nothing. Usage: ``.venv/bin/python tests/bench/startup.py [--runs N]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import textual

# pty_app is a sibling module: the script's directory is first on sys.path
from pty_app import PtyApp, cockpit_argv

from cockpit.core.board.blackboard import Blackboard

HEADER = "Codex Cockpit"
LANE = "worktree"
TIMEOUT_S = 60.0


def cockpit_first_frame(repo: Path, codex_home: Path) -> float:
    """Seconds from spawning ``cockpit --repo repo`` to the read that completes its first frame."""
    app = PtyApp(cockpit_argv("--repo", str(repo)), cwd=repo, env={"CODEX_HOME": str(codex_home)})
    try:
        shown = app.wait_for(HEADER, LANE, timeout=TIMEOUT_S)
        return shown.t - app.spawned_at
    finally:
        app.close()


def import_textual() -> float:
    """Seconds from spawning ``python -c "import textual.app"`` to its exit."""
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", "import textual.app"],
        check=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    print(f"python    {platform.python_version()}, textual {textual.__version__}, {os.cpu_count()} CPUs")
    print(f"load      {' '.join(f'{x:.2f}' for x in os.getloadavg())} (1/5/15 min)")

    cockpit: list[float] = []
    baseline: list[float] = []
    with tempfile.TemporaryDirectory(prefix="cockpit-startup-") as tmp_name:
        tmp = Path(tmp_name)
        repo = tmp / "repo"
        repo.mkdir()
        subprocess.run(["git", "init", "-q", str(repo)], check=True)
        board = Blackboard(repo)
        board.init()
        codex_home = tmp / "codex-home"  # empty: no rollouts of this machine's Codex to scan
        codex_home.mkdir()
        with board.lock():  # a viewer: no supervisor, no Codex
            import_textual()  # warm the page cache and the bytecode caches for both contenders
            cockpit_first_frame(repo, codex_home)
            for _ in range(args.runs):
                cockpit.append(cockpit_first_frame(repo, codex_home))
                baseline.append(import_textual())

    def ms(values: list[float]) -> str:
        return ", ".join(f"{v * 1e3:.0f}" for v in values)

    app_median = statistics.median(cockpit)
    base_median = statistics.median(baseline)
    print(f"cockpit: spawn → first frame ({HEADER!r} + {LANE!r})  median {app_median * 1e3:6.0f} ms", end="")
    print(f"   (runs: {ms(cockpit)})")
    print(f"python -c 'import textual.app': spawn → exit    median {base_median * 1e3:6.0f} ms", end="")
    print(f"   (runs: {ms(baseline)})")
    print(f"ratio first frame / import textual.app: {app_median / base_median:.2f}")


if __name__ == "__main__":
    main()
