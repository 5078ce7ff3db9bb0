"""Big-diff benchmark: how fast the diff review opens, moves between files and scrolls a huge lock file.

Builds a real git repository in a temporary directory the way a worktree task produces one: a base
commit with ``--files`` source files (Python under ``app/``, a mix of languages under ``web/``) and a
small ``package-lock.json``; a task worktree (``git worktree add``) edits every source file and grows
the lock file to ``--lock-lines`` lines; the commit's ``git diff`` against the base becomes the task's
``diff.patch`` on the blackboard, beside a ``TaskState`` in status ``review``. Then, in an app with
the cockpit's stylesheets under ``App.run_test(size=(160, 50))`` (headless), with the real
``DiffScreen`` reading that patch and its ``DiffView`` (a subclass that notes the rows it draws):

- open: from constructing the screen (which parses the patch) until the first file's first row is
  drawn, and until its syntax highlighting is on screen (the lexer is looked up in a thread);
- next file: ``n`` until the second file is drawn (and highlighted);
- lock file: selecting ``package-lock.json`` in the file list until its first row is drawn;
- scroll keys in the lock file: ``pagedown`` (twice), ``pageup``, ``end`` and ``home``, each until the
  page it asks for is drawn (the view scrolls without animation, so that page is the next frame);
- cold page: drawing a full page of highlighted Python with empty caches (lexing every row), and
  the same page again from the cache.

Each step calls the action its key is bound to and waits for the drawn rows, one settled step after
the other (workers done, animations over).

Prints the figures and the peak RSS of the process. Asserts nothing.
Usage: ``.venv/bin/python tests/bench/big_diff.py [--files N] [--lock-lines N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import textual
from git import Repo
from textual.app import App
from textual.strip import Strip

import cockpit.tui.screens.diff_screen as diff_screen_module

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the project: tests.helpers
from cockpit.core.board.blackboard import Blackboard
from cockpit.tui.app import STYLESHEETS
from cockpit.tui.screens.diff_screen import DiffScreen, FileList
from cockpit.tui.widgets.diff_view import DiffView
from tests.helpers.review import make_review_task

TASK = "bigdiff-0001"
LOCK = "package-lock.json"
SIZE = (160, 50)
TIMEOUT = 30.0
WEB_SUFFIXES = (".js", ".ts", ".go", ".rs", ".css", ".md", ".yaml", ".sh")


# ------------------------------------------------------------------------------------------ the repository


def python_source(i: int, edited: bool) -> str:
    lines = [f'"""Module {i}: helpers for the benchmark."""', "", "import os", ""]
    for k in range(12):
        body = f"    return a * {k + 2} + b" if edited and k % 3 == 0 else f"    return a + b + {k}"
        lines += ["", f"def helper_{k}(a: int, b: int) -> int:", f'    """Helper {k}."""', body]
    if edited:
        lines += ["", "", "class Added:", "    def __init__(self) -> None:", f"        self.value = {i}", ""]
    return "\n".join(lines) + "\n"


def other_source(i: int, suffix: str, edited: bool) -> str:
    lines = [f"// file {i}{suffix}"]
    for k in range(30):
        value = k * 7 if edited and k % 4 == 0 else k
        lines.append(f"const item_{k} = {{ id: {value}, name: 'item {k}' }};")
    if edited:
        lines += [f"function added_{i}(x) {{", "  return x + 1;", "}"]
    return "\n".join(lines) + "\n"


def lock_file(packages: int, version: str) -> str:
    entries = {
        f"node_modules/pkg-{n:05d}": {
            "version": f"{version}.{n}",
            "resolved": f"https://registry.npmjs.org/pkg-{n:05d}/-/pkg-{n:05d}-{version}.{n}.tgz",
            "integrity": f"sha512-{n:08d}{'x' * 64}",
            "license": "MIT",
        }
        for n in range(packages)
    }
    data = {"name": "bench", "version": "1.0.0", "lockfileVersion": 3, "requires": True, "packages": entries}
    return json.dumps(data, indent=2) + "\n"


def source_paths(n_files: int) -> list[str]:
    half = n_files // 2
    paths = [f"app/mod_{i:03d}.py" for i in range(half)]
    paths += [f"web/part_{i:03d}{WEB_SUFFIXES[i % len(WEB_SUFFIXES)]}" for i in range(n_files - half)]
    return paths


def write_sources(root: Path, paths: list[str], edited: bool) -> None:
    for i, rel in enumerate(paths):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        suffix = path.suffix
        path.write_text(python_source(i, edited) if suffix == ".py" else other_source(i, suffix, edited))


def build_review(root: Path, n_files: int, lock_lines: int) -> tuple[Blackboard, int]:
    """A repository with a task in review whose diff touches ``n_files`` files plus the lock file.
    Returns the blackboard and the number of lines of the patch."""
    repo = Repo.init(root, initial_branch="main")
    with repo.config_writer() as cw:
        cw.set_value("user", "name", "Bench User")
        cw.set_value("user", "email", "bench@example.invalid")
        cw.set_value("commit", "gpgsign", "false")
    paths = source_paths(n_files)
    write_sources(root, paths, edited=False)
    (root / LOCK).write_text(lock_file(50, "1.0"))
    repo.git.add("-A")
    repo.git.commit("-m", "base", "--no-verify")

    board = Blackboard(root)
    board.init()

    def edit(worktree: Path) -> None:
        write_sources(worktree, paths, edited=True)
        (worktree / LOCK).write_text(lock_file(max(1, (lock_lines - 5) // 6), "2.0"))

    patch = make_review_task(board, TASK, edit, title="Big change")
    return board, patch.count("\n")


# ------------------------------------------------------------------------------------------- the widget


class TimedDiffView(DiffView):
    """A DiffView that notes every drawn top row (time, file, first line) and when a file's rows first
    show more than one style (its highlighting on screen)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.tops: list[tuple[float, str, int]] = []
        self.highlighted: dict[str, float] = {}

    def render_line(self, y: int) -> Strip:
        strip = super().render_line(y)
        if self.diff is not None:
            now = time.perf_counter()
            if y == 0:
                self.tops.append((now, self.diff.path, self.scroll_offset.y))
            if self.diff.path not in self.highlighted and len({s.style for s in strip if s.text.strip()}) > 1:
                self.highlighted[self.diff.path] = now
        return strip

    def top_drawn(self, after: float, path: str, line: Callable[[int], bool]) -> float | None:
        """When, after ``after``, a top row of ``path`` whose first line satisfies ``line`` was drawn."""
        return next((t for t, p, top in self.tops if t > after and p == path and line(top)), None)


async def wait_for(condition: Callable[[], float | None]) -> float:
    """The time ``condition`` returns once it is no longer None. Polls every millisecond: a busy loop
    would hold the GIL and slow down the thread that looks up the lexer."""
    deadline = time.perf_counter() + TIMEOUT
    while (value := condition()) is None:
        if time.perf_counter() > deadline:
            raise RuntimeError("timed out waiting for the diff view")
        await asyncio.sleep(0.001)
    return value


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class ReviewApp(App[None]):
    """The cockpit's stylesheets without its board polling, which is not what is measured here."""

    CSS_PATH = STYLESHEETS


async def measure(board: Blackboard) -> dict[str, float | int]:
    """Figures in ms. Steps call the action a key is bound to, so the clock sees the app's own work
    (``Pilot.press`` adds waits for the process to go idle)."""
    figures: dict[str, float | int] = {}
    app = ReviewApp()
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        figures["RSS before the review opens (MB)"] = rss_mb()

        async def settle() -> None:
            await app.workers.wait_for_complete()
            await app.animator.wait_until_complete()
            await pilot.pause()

        start = time.perf_counter()
        screen = DiffScreen(board, TASK)
        figures["parse the patch (ms)"] = (time.perf_counter() - start) * 1e3
        await app.push_screen(screen)
        view = screen.query_one(TimedDiffView)
        files = screen.files
        first, second = files[0].path, files[1].path
        shown = await wait_for(lambda: view.top_drawn(start, first, lambda top: top == 0))
        figures["open: first file drawn (ms)"] = (shown - start) * 1e3
        coloured = await wait_for(lambda: view.highlighted.get(first))
        figures["open: first file highlighted (ms)"] = (coloured - start) * 1e3
        await settle()

        start = time.perf_counter()
        screen.action_file(1)  # n
        shown = await wait_for(lambda: view.top_drawn(start, second, lambda top: top == 0))
        figures["n: next file drawn (ms)"] = (shown - start) * 1e3
        coloured = await wait_for(lambda: view.highlighted.get(second))
        figures["n: next file highlighted (ms)"] = (coloured - start) * 1e3
        await settle()

        lock_index = next(i for i, f in enumerate(files) if f.path == LOCK)
        lock = files[lock_index]
        start = time.perf_counter()
        screen.query_one(FileList).highlighted = lock_index
        shown = await wait_for(lambda: view.top_drawn(start, LOCK, lambda top: top == 0))
        figures[f"select the lock file (#{lock_index + 1}): drawn (ms)"] = (shown - start) * 1e3
        view.focus()
        await settle()

        # The scroll keys, each the action its key is bound to (they land without animation).
        page = view.scrollable_content_region.height
        last_top = len(lock.lines) - page
        for action, top, figure in (
            (view.action_page_down, page, "pagedown: next page drawn (ms)"),
            (view.action_page_down, 2 * page, "pagedown again: next page drawn (ms)"),
            (view.action_page_up, page, "pageup: previous page drawn (ms)"),
            (view.action_scroll_end, last_top, "end: last page drawn (ms)"),
            (view.action_scroll_home, 0, "home: first page drawn (ms)"),
        ):
            start = time.perf_counter()
            action()
            done = await wait_for(
                lambda top=top, start=start: view.top_drawn(start, LOCK, lambda t, top=top: t == top)
            )
            figures[figure] = (done - start) * 1e3
            await settle()

        # Lexing cost: a page of Python rows drawn with every cache empty, then again from the cache.
        view.show(files[0])
        await settle()
        rows = min(page, len(files[0].lines))
        view.notify_style_update()
        start = time.perf_counter()
        for y in range(rows):
            view.render_line(y)
        figures[f"cold page of Python, {rows} rows (ms)"] = (time.perf_counter() - start) * 1e3
        start = time.perf_counter()
        for y in range(rows):
            view.render_line(y)
        figures[f"cached page of Python, {rows} rows (ms)"] = (time.perf_counter() - start) * 1e3
        figures["files in the review"] = len(files)
        figures["lines in the lock file's diff"] = len(lock.lines)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=499, help="source files besides the lock file")
    parser.add_argument("--lock-lines", type=int, default=20_000)
    args = parser.parse_args()

    diff_screen_module.DiffView = TimedDiffView  # the screen composes (and queries) the timed view
    print(f"python    {platform.python_version()}, textual {textual.__version__}, {os.cpu_count()} CPUs")
    print(f"load      {' '.join(f'{x:.2f}' for x in os.getloadavg())} (1/5/15 min)")
    git_version = subprocess.run(["git", "--version"], capture_output=True, text=True).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="cockpit-big-diff-") as tmp:
        start = time.perf_counter()
        board, patch_lines = build_review(Path(tmp) / "repo", args.files, args.lock_lines)
        print(f"repo      {git_version}; built in {time.perf_counter() - start:.1f} s")
        patch = board.task_dir(TASK) / "diff.patch"
        print(f"patch     {patch_lines:,} lines, {patch.stat().st_size / 1e6:.1f} MB")
        figures = asyncio.run(measure(board))
    for name, value in figures.items():
        print(f"{name:48} {value:10.1f}" if isinstance(value, float) else f"{name:48} {value:10,}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{'peak RSS (MB)':48} {peak:10.1f}")


if __name__ == "__main__":
    main()
