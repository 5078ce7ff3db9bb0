"""The live diff with Pilot over real git: the task view summarises an attempt's live diff and ``d``
opens it; an atomic rewrite of the file updates the open screen (keeping the highlighted file);
without a ``turn.diff`` ``d`` only says so; worker paths are shown as data; a large diff is read in a
thread; escape goes back."""

from __future__ import annotations

from pathlib import Path

from git import Repo
from rich.text import Text
from textual.pilot import Pilot
from textual.strip import Strip

from cockpit.core.atomic import atomic_write_text
from cockpit.core.board.blackboard import Blackboard
from cockpit.core.records.attempt import Attempt, LiveDiff
from cockpit.core.records.basics import TaskStatus
from cockpit.core.records.task import TaskState
from cockpit.tui.app import CockpitApp
from cockpit.tui.screens.diff_screen import SYNC_READ_BYTES, DiffScreen, FileList, LiveDiffScreen
from cockpit.tui.screens.task_screen import TaskScreen
from cockpit.tui.widgets.diff_view import DiffView
from tests.helpers.pilot import until

TASK = "live-0001"


def git_diff(repo: Path, files: dict[str, str]) -> str:
    """The unified diff ``files`` would make against HEAD, as Codex streams it; the repo is left clean."""
    git = Repo(repo)
    for name, body in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(body)
    git.git.add("-A")
    patch = git.git.diff("--cached", "--no-color", "--no-ext-diff") + "\n"
    git.git.reset("--hard", "-q")
    git.git.clean("-fdq")
    return patch


def running_mcp_task(repo: Path, attempts: int = 1) -> Blackboard:
    board = Blackboard(repo)
    state = TaskState(id=TASK, lane="mcp", title="Live work", status=TaskStatus.RUNNING)
    state.attempts.extend(Attempt(n=n, deadline_s=600) for n in range(1, attempts + 1))
    board.write_state(state)
    for n in range(1, attempts + 1):
        board.attempt_dir(TASK, n).mkdir(parents=True, exist_ok=True)
    return board


def write_turn_diff(board: Blackboard, patch: str, attempt: int = 1) -> None:
    """What the supervisor does on ``turn/diff/updated``: the diff beside the attempt, its counts in the
    attempt's progress."""
    atomic_write_text(board.attempt_dir(TASK, attempt) / "turn.diff", patch)
    state = board.read_state(TASK)
    assert state is not None
    state.attempts[attempt - 1].progress.live_diff = LiveDiff.of(patch)
    board.write_state(state)


def details(screen: TaskScreen) -> str:
    return str(screen.query_one("#task-details").render())


def title(screen: LiveDiffScreen) -> str:
    return str(screen.query_one("#diff-title").render())


def shown_paths(screen: LiveDiffScreen) -> list[str]:
    return [f.path for f in screen.files]


def highlighted_path(screen: LiveDiffScreen) -> str | None:
    index = screen.query_one(FileList).highlighted
    return None if index is None else screen.files[index].path


def strip_text(strip: Strip) -> str:
    return "".join(segment.text for segment in strip)


async def open_task(app: CockpitApp, pilot: Pilot[None]) -> TaskScreen:
    await until(pilot, lambda: isinstance(app.screen, TaskScreen), what="task view")
    assert isinstance(app.screen, TaskScreen)
    return app.screen


async def open_live_diff(app: CockpitApp, pilot: Pilot[None]) -> LiveDiffScreen:
    await pilot.press("d")
    await until(pilot, lambda: isinstance(app.screen, LiveDiffScreen), what="live diff")
    assert isinstance(app.screen, LiveDiffScreen)
    return app.screen


async def test_task_view_summarises_the_turn_diff_and_d_opens_it(repo: Path) -> None:
    board = running_mcp_task(repo)
    write_turn_diff(
        board,
        git_diff(
            repo,
            {
                "calc.py": (repo / "calc.py").read_text() + "\n\ndef subtract(a, b):\n    return a - b\n",
                "NOTES.md": "# Notes\n\nsubtract added\n",
            },
        ),
    )
    app = CockpitApp(repo, host_supervisor=False, open_task=TASK)
    async with app.run_test(size=(120, 40)) as pilot:
        task = await open_task(app, pilot)
        await until(pilot, lambda: "live diff:" in details(task), what="live diff line")
        assert "live diff: 2 files +7 -0 (d)" in details(task)
        screen = await open_live_diff(app, pilot)
        assert (screen.task_id, screen.attempt) == (TASK, 1)
        assert shown_paths(screen) == ["NOTES.md", "calc.py"]
        assert title(screen) == f"live diff of {TASK}, attempt 1: 2 files, +7 -0"
        view = screen.query_one(DiffView)
        assert view.diff is not None and view.diff.path == "NOTES.md"
        await pilot.press("n")
        await until(pilot, lambda: view.diff is not None and view.diff.path == "calc.py", what="next file")
        assert "+def subtract(a, b):" in view.diff.lines
        ids = {active.binding.id for active in screen.active_bindings.values() if active.binding.id}
        assert {"live_diff.back", "live_diff.next_file", "live_diff.next_hunk"} <= ids
        assert not {"diff.approve", "diff.reject", "diff.send_back"} & ids
        await pilot.press("a", "x")  # no verdicts here: the task is untouched and the screen stays
        await pilot.pause()
        assert app.screen is screen and board.read_state(TASK).status == TaskStatus.RUNNING
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is task, what="back to the task view")


async def test_a_rewritten_turn_diff_updates_the_open_screen(repo: Path) -> None:
    board = running_mcp_task(repo)
    calc = (repo / "calc.py").read_text()
    write_turn_diff(board, git_diff(repo, {"a.py": "a = 1\n", "b.py": "b = 1\n", "c.py": "c = 1\n"}))
    app = CockpitApp(repo, host_supervisor=False, open_task=TASK)
    async with app.run_test(size=(120, 40)) as pilot:
        task = await open_task(app, pilot)
        screen = await open_live_diff(app, pilot)
        assert shown_paths(screen) == ["a.py", "b.py", "c.py"]
        await pilot.press("n")
        await until(pilot, lambda: highlighted_path(screen) == "b.py", what="b.py highlighted")

        # a.py and c.py go, others come, b.py grows: b.py stays highlighted at its new place (neither its
        # old index nor the first), showing its new lines
        files = {
            "a0.py": "x = 0\n",
            "a1.py": "y = 0\n",
            "b.py": "b = 1\nb += 1\n",
            "calc.py": calc + "# more\n",
        }
        write_turn_diff(board, git_diff(repo, files))
        await until(pilot, lambda: shown_paths(screen) == sorted(files), what="reload")
        view = screen.query_one(DiffView)
        assert highlighted_path(screen) == "b.py" and screen.query_one(FileList).highlighted == 2
        await until(pilot, lambda: view.diff is screen.files[2], what="b.py shown")
        assert "+b += 1" in view.diff.lines
        assert title(screen) == f"live diff of {TASK}, attempt 1: 4 files, +5 -0"

        # the highlighted file is gone: the first file is shown
        write_turn_diff(board, git_diff(repo, {"d.py": "d = 2\n", "e.py": "e = 1\n"}))
        await until(pilot, lambda: shown_paths(screen) == ["d.py", "e.py"], what="second reload")
        assert highlighted_path(screen) == "d.py" and view.diff is screen.files[0]

        write_turn_diff(board, "")
        await until(pilot, lambda: not screen.files, what="empty diff")
        assert title(screen) == f"live diff of {TASK}, attempt 1: no changes yet"
        assert view.diff is None

        write_turn_diff(board, git_diff(repo, {"f.py": "f = 1\n"}))
        await until(pilot, lambda: shown_paths(screen) == ["f.py"], what="third reload")
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is task, what="back to the task view")
        # the side panel follows turn.diff too
        await until(pilot, lambda: "live diff: 1 file +1 -0 (d)" in details(task), what="panel update")


async def test_d_without_a_turn_diff_notifies_and_stays(repo: Path) -> None:
    board = running_mcp_task(repo, attempts=2)
    write_turn_diff(board, git_diff(repo, {"a.py": "a = 1\n"}), attempt=1)
    app = CockpitApp(repo, host_supervisor=False, open_task=TASK)
    async with app.run_test(size=(120, 40)) as pilot:
        task = await open_task(app, pilot)
        assert task.attempt == 2
        await pilot.pause()
        assert "live diff" not in details(task)
        await pilot.press("d")
        await until(
            pilot,
            lambda: any("no live diff for attempt 2" in str(n.message) for n in app._notifications),
            what="notification",
        )
        assert app.screen is task
        assert not any(isinstance(s, LiveDiffScreen | DiffScreen) for s in app.screen_stack)
        # attempt 1 has one: `[` then `d` opens that attempt's
        await pilot.press("[")
        await until(pilot, lambda: "live diff: 1 file +1 -0 (d)" in details(task), what="attempt 1 line")
        screen = await open_live_diff(app, pilot)
        assert screen.attempt == 1 and shown_paths(screen) == ["a.py"]


async def test_markup_in_a_path_is_shown_literally(repo: Path) -> None:
    board = running_mcp_task(repo)
    name = "[bold]x[/bold].py"  # a directory ``[bold]x[`` holding ``bold].py``
    write_turn_diff(board, git_diff(repo, {name: "[red]not red[/red] = 1\n"}))
    app = CockpitApp(repo, host_supervisor=False, open_task=TASK)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_task(app, pilot)
        screen = await open_live_diff(app, pilot)
        assert shown_paths(screen) == [name]
        file_list = screen.query_one(FileList)
        prompt = file_list.get_option_at_index(0).prompt
        assert isinstance(prompt, Text) and prompt.plain == f"+1 -0  {name}"
        assert all(span.style in ("", None) for span in prompt.spans)  # no markup was applied
        await pilot.pause()
        assert name in strip_text(file_list.render_line(0))
        view = screen.query_one(DiffView)
        rows = [strip_text(view.render_line(y)) for y in range(view.size.height)]
        assert any(f"diff --git a/{name} b/{name}" in row for row in rows), rows
        assert any("+[red]not red[/red] = 1" in row for row in rows), rows


async def test_a_large_turn_diff_is_read_in_a_thread(repo: Path) -> None:
    board = running_mcp_task(repo)
    body = "".join(f"line_{i} = {i}  # padding padding padding padding\n" for i in range(40_000))
    patch = git_diff(repo, {"big.py": body, "small.py": "s = 1\n"})
    assert len(patch.encode()) > SYNC_READ_BYTES
    write_turn_diff(board, patch)
    app = CockpitApp(repo, host_supervisor=False, open_task=TASK)
    async with app.run_test(size=(120, 40)) as pilot:
        task = await open_task(app, pilot)
        await until(pilot, lambda: "live diff:" in details(task), what="live diff line")
        assert "live diff: 2 files +40001 -0 (d)" in details(task)  # counted by the reducer, not here
        screen = await open_live_diff(app, pilot)
        await until(pilot, lambda: shown_paths(screen) == ["big.py", "small.py"], what="threaded load")
        assert title(screen) == f"live diff of {TASK}, attempt 1: 2 files, +40001 -0"
        await pilot.press("n")
        await until(pilot, lambda: highlighted_path(screen) == "small.py", what="small.py highlighted")
        write_turn_diff(board, patch + git_diff(repo, {"tiny.py": "t = 1\n"}))
        await until(pilot, lambda: len(screen.files) == 3, what="threaded reload")
        assert highlighted_path(screen) == "small.py"
