"""Write ``screenshots/*.svg`` (and ``*.png`` where ``rsvg-convert`` is installed) from the running
cockpit: the full-screen demo over the real Codex CLI and the scripted model, driven by keys; the
best-of-N review of a cloud task back from Codex Cloud with two attempts, and the review of a task the
cross-family review challenged, its challenges beside the diff (boards the layout snapshots use, made
on disk: no cloud and no reviewer is reached); and ``browser.png``, the cockpit served by
``cockpit serve`` in Debian's headless Chromium.

    .venv/bin/python scripts/screenshots.py [--out screenshots]
        [--only best-of-review|review-challenges|browser]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from textual.pilot import Pilot

from cockpit.core.board.blackboard import Blackboard
from cockpit.core.records.basics import TaskStatus
from cockpit.core.views.lane_rows import FOLD
from cockpit.demo.interactive import demo_setup
from cockpit.tui.app import CockpitApp
from cockpit.tui.screens.decision_modal import DecisionModal
from cockpit.tui.screens.diff_screen import DiffScreen, LiveDiffScreen
from cockpit.tui.screens.main_screen import MainScreen
from cockpit.tui.screens.task_screen import TaskScreen
from cockpit.tui.widgets.lane_pane import LanePane

SIZE = (120, 40)
ROOT = Path(__file__).resolve().parent.parent


async def until(pilot: Pilot[None], condition: Callable[[], bool], what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"screenshots: {what} did not happen within {timeout:.0f}s")
        await pilot.pause(0.05)


async def shoot(out: Path) -> list[Path]:
    saved: list[Path] = []
    with demo_setup() as setup:
        notes, subtract, _changelog, check, *_reviewed_and_cloud = setup.task_ids
        board = Blackboard(setup.repo)
        app = CockpitApp(setup.repo, env=setup.env, reviewer_env=setup.reviewer_env)

        def status(task_id: str) -> TaskStatus | None:
            state = board.read_state(task_id)
            return state.status if state else None

        def save(name: str) -> None:
            path = Path(app.save_screenshot(f"{name}.svg", str(out)))
            saved.append(path)
            print(f"wrote {path}")

        async with app.run_test(size=SIZE) as pilot:
            # The gate (left pending with escape) and the Codex approval (accepted), in arrival order.
            shot: set[str] = set()
            while len(shot) < 2:
                await until(
                    pilot,
                    lambda: isinstance(app.screen, DecisionModal) and app.screen.card.id not in shot,
                    "a decision modal",
                )
                modal = app.screen
                assert isinstance(modal, DecisionModal)
                shot.add(modal.card.id)
                await pilot.pause(0.3)
                approval = modal.card.trigger == "codex_approval"
                save("approval-modal" if approval else "decision-modal")
                await pilot.press("a" if approval else "escape")
                await until(pilot, lambda m=modal: app.screen is not m, "the modal closing")
            await until(pilot, lambda: status(subtract) == TaskStatus.REVIEW, "a diff waiting for review")
            await until(pilot, lambda: status(notes) == TaskStatus.SUCCEEDED, "the local task")
            await until(pilot, lambda: status(check) == TaskStatus.REVIEW, "the mcp task's review")
            if setup.review_task is not None:  # its card says the review converged in round 2
                reviewed = setup.review_task
                await until(
                    pilot, lambda: status(reviewed) == TaskStatus.REVIEW, "the reviewed task's review"
                )
            await until(pilot, lambda: isinstance(app.screen, MainScreen), "the main screen")
            await pilot.pause(0.5)
            save("cockpit")

            async def visit(
                name: str,
                keys: tuple[str, ...],
                reached: Callable[[], bool],
                typed: str = "",
                back: int = 1,
                start: type = MainScreen,
            ) -> None:
                """From ``start``: press ``keys``, wait for the screen, type, save it, go back."""
                await until(pilot, lambda: isinstance(app.screen, start), start.__name__)
                await pilot.press(*keys)
                await until(pilot, reached, name)
                await pilot.press(*typed)
                await pilot.pause(0.5)
                save(name)
                await pilot.press(*["escape"] * back)

            def select(task_id: str) -> None:
                pane = next(p for p in app.screen.query(LanePane) if p.row_lines(task_id) is not None)
                pane.focus()
                pane.select(task_id)

            select(check)
            await pilot.press("enter")
            live = lambda: isinstance(app.screen, LiveDiffScreen)  # noqa: E731
            await visit("live-diff", ("d",), live, back=2, start=TaskScreen)
            await until(pilot, lambda: isinstance(app.screen, MainScreen), "the main screen")
            local = app.screen.query_one("#lane-local", LanePane)
            local.focus()
            local.select(FOLD)
            await pilot.press("enter")  # the finished task is folded: expand the lane's history
            await until(pilot, lambda: local.row_lines(notes) is not None, "the expanded history")
            select(notes)
            await visit("task-view", ("enter",), lambda: isinstance(app.screen, TaskScreen))
            await visit("diff-review", ("v",), lambda: isinstance(app.screen, DiffScreen))
            typed = "Add a multiply function to calc.py"
            await visit("new-task", ("n",), lambda: not isinstance(app.screen, MainScreen), typed)
            await visit("usage", ("u",), lambda: not isinstance(app.screen, MainScreen))
            await until(pilot, lambda: isinstance(app.screen, MainScreen), "the main screen")
            await pilot.press("q")
    return saved


async def shoot_best_of(out: Path) -> list[Path]:
    """The best-of-N review, over the layout snapshots' board of cloud tasks."""
    sys.path.insert(0, str(ROOT))  # the board is the tests' (tests.helpers.showcase)
    from cockpit.tui.screens.cloud_review import CloudReviewScreen
    from tests.helpers.showcase import CLOUD_REVIEW, build_cloud_showcase, frozen_clock

    with tempfile.TemporaryDirectory(prefix="cockpit-best-of-") as tmp:
        app = CockpitApp(build_cloud_showcase(Path(tmp)), host_supervisor=False, clock=frozen_clock)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: bool(app.screen.query(LanePane)), "the lanes")
            await pilot.pause(0.5)
            await pilot.press("v")
            await until(pilot, lambda: isinstance(app.screen, CloudReviewScreen), "the best-of-N review")
            assert isinstance(app.screen, CloudReviewScreen) and app.screen.task_id == CLOUD_REVIEW
            await pilot.press("]", "n")  # attempt 2 and its second file
            await pilot.pause(0.5)
            path = Path(app.save_screenshot("best-of-review.svg", str(out)))
            print(f"wrote {path}")
    return [path]


async def shoot_review_challenges(out: Path) -> list[Path]:
    """The review of a task with two rounds of challenges, over the layout snapshots' showcase board:
    the challenge panel beside the diff, the first challenge's line marked."""
    sys.path.insert(0, str(ROOT))  # the board is the tests' (tests.helpers.showcase)
    from tests.helpers.showcase import REVIEW, add_challenges, build_showcase, frozen_clock

    with tempfile.TemporaryDirectory(prefix="cockpit-challenges-") as tmp:
        repo, env = build_showcase(Path(tmp))
        add_challenges(repo)
        app = CockpitApp(repo, host_supervisor=False, env=env, clock=frozen_clock)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: isinstance(app.screen, DecisionModal), "the showcase's decision")
            await pilot.press("escape")
            await until(pilot, lambda: bool(app.screen.query(LanePane)), "the lanes")
            await pilot.pause(0.5)
            await pilot.press("v")
            await until(pilot, lambda: isinstance(app.screen, DiffScreen), "the review")
            assert isinstance(app.screen, DiffScreen) and app.screen.task_id == REVIEW
            await pilot.pause(0.5)
            await pilot.press("enter")  # the first challenge's file and line
            await pilot.pause(0.5)
            path = Path(app.save_screenshot("review-challenges.svg", str(out)))
            print(f"wrote {path}")
    return [path]


def shoot_browser(out: Path) -> Path | None:
    """``cockpit serve`` in Debian's headless Chromium: a board with a gate, a review and a folded
    history, drawn in the page (the decision modal that opens first is put off with escape)."""
    sys.path.insert(0, str(ROOT))  # the board and the browser harness are the tests' (tests.helpers)
    from datetime import UTC, datetime

    from cockpit.demo.repo import make_demo_repo
    from tests.helpers.browser import chromium, chromium_path, open_cockpit, serve, wait_screen
    from tests.helpers.showcase import add_history, add_review_task, gate_state, open_gate_card

    if chromium_path() is None:
        print("chromium not found (Debian: apt-get install chromium); no browser.png", file=sys.stderr)
        return None
    with tempfile.TemporaryDirectory(prefix="cockpit-browser-") as tmp:
        repo = Path(tmp) / "repo"
        make_demo_repo(repo)
        board = Blackboard(repo)
        board.init()
        card = open_gate_card(board, datetime.now(UTC))
        board.write_state(gate_state().model_copy(update={"decision_id": card.id}))
        add_review_task(board)
        add_history(repo, 40)
        lock = board.lock()
        lock.acquire()  # as a supervisor would: the board stays as built while the page is drawn
        try:
            with serve(repo) as served, chromium() as browser:
                page = open_cockpit(browser, served.url, width=1360, height=820)
                wait_screen(page, r"decision-001", r"\[B\] Park as a dead letter")
                page.keyboard.press("Escape")  # answer later: the lanes
                wait_screen(page, r"worktree · 43", r"\[viewer\]", r"f2 palette", absent=(r"\[B\] Park",))
                page.wait_for_timeout(500)  # the last frame settles
                path = out / "browser.png"
                page.screenshot(path=str(path))
        finally:
            lock.release()
    print(f"wrote {path}")
    return path


def to_png(svgs: list[Path]) -> None:
    converter = shutil.which("rsvg-convert")
    if converter is None:
        print("rsvg-convert not found (Debian: librsvg2-bin); wrote SVG only", file=sys.stderr)
        return
    for svg in svgs:
        png = svg.with_suffix(".png")
        subprocess.run([converter, str(svg), "-o", str(png)], check=True)
        print(f"wrote {png}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="screenshots", help="output folder (default: screenshots)")
    parser.add_argument(
        "--only",
        choices=["best-of-review", "review-challenges", "browser"],
        help="only this screenshot (no demo run)",
    )
    args = parser.parse_args()
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    saved = [] if args.only else asyncio.run(shoot(out))
    if args.only in (None, "best-of-review"):
        saved += asyncio.run(shoot_best_of(out))
    if args.only in (None, "review-challenges"):
        saved += asyncio.run(shoot_review_challenges(out))
    to_png(saved)
    if args.only in (None, "browser"):
        shoot_browser(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
