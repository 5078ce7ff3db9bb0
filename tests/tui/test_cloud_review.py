"""The review of a cloud-lane task with Pilot over real git: a best-of-2 task lists both attempts, shows
the highlighted one's diff, compares two side by side with the differing files marked, picks attempt 2
with ``2`` (the branch diff and ``chosen`` on disk follow) and merges it; a single-attempt task reviews
like a worktree task plus its Codex Cloud line; a task whose chosen attempt did not apply names the
files and picks another."""

from __future__ import annotations

from pathlib import Path

from git import Repo
from textual.pilot import Pilot

from cockpit.core.board.blackboard import Blackboard
from cockpit.core.records.basics import TaskStatus
from cockpit.demo.fake_cloud.store import new_file_diff
from cockpit.tui.app import CockpitApp
from cockpit.tui.screens.cloud_review import AttemptList, CloudFileList, CloudReviewScreen
from cockpit.tui.screens.diff_screen import DiffScreen
from cockpit.tui.widgets.diff_view import DiffView
from tests.helpers.cloud_review import make_cloud_review_task
from tests.helpers.pilot import select_task, until

TASK = "multiply-best-of-two-c10d"
SIZE = (120, 40)
CALC_1 = "def add(a, b):\n    return a + b\n\n\ndef multiply(a, b):\n    return a * b\n"
CALC_2 = (
    "def add(a, b):\n    return a + b\n\n\ndef multiply(a, b):\n"
    '    """The product of a and b."""\n    return a * b\n'
)
NOTES = "multiply(a, b) returns the product\n"
TEST_CALC = "from calc import multiply\n\n\ndef test_multiply():\n    assert multiply(3, 4) == 12\n"


def best_of_two(repo: Path, **fields: object) -> Blackboard:
    """Attempt 1 edits calc.py and adds NOTES.md; attempt 2 edits calc.py otherwise, adds the same
    NOTES.md and a test. Attempt 1 is on the branch."""
    board = Blackboard(repo)
    make_cloud_review_task(
        board,
        TASK,
        [
            {"calc.py": CALC_1, "NOTES.md": NOTES},
            {"calc.py": CALC_2, "NOTES.md": NOTES, "test_calc.py": TEST_CALC},
        ],
        title="Add a multiply function",
        **fields,  # type: ignore[arg-type]
    )
    return board


async def open_review(app: CockpitApp, pilot: Pilot[None], task_id: str = TASK) -> CloudReviewScreen:
    await app.workers.wait_for_complete()
    await pilot.pause()
    select_task(app, task_id)
    await pilot.press("d")
    await pilot.pause()
    screen = app.screen
    assert isinstance(screen, CloudReviewScreen) and isinstance(screen, DiffScreen)
    await pilot.pause()
    return screen


def rows(widget: AttemptList | CloudFileList) -> list[str]:
    return [str(widget.get_option_at_index(i).prompt) for i in range(widget.option_count)]


def text_of(screen: CloudReviewScreen, selector: str) -> str:
    return str(screen.query_one(selector).render())


async def test_best_of_two_lists_both_attempts_and_shows_the_highlighted_ones_diff(repo: Path) -> None:
    best_of_two(repo)
    app = CockpitApp(repo, host_supervisor=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_review(app, pilot)
        assert text_of(screen, "#diff-title") == (
            f"review {TASK}: 2 files, +5 -0 · attempt 1 of 2 on the branch"
        )
        info = text_of(screen, "#cloud-info")
        assert "Codex Cloud task task_e_6a1f0c2b9d" in info and "/codex/tasks/task_e_6a1f0c2b9d" in info
        attempts = screen.query_one(AttemptList)
        assert attempts.display and app.focused is attempts
        first, second = rows(attempts)
        assert first.startswith("#1  chosen · on the branch") and "2 files" in first and "+5 -0" in first
        assert "NOTES.md, calc.py" in first
        assert second.startswith("#2  not chosen") and "3 files" in second and "+11 -0" in second
        # attempt 1 shows the branch diff; attempt 2 its own cloud diff
        view = screen.query_one("#diff-view", DiffView)
        assert [f.path for f in screen.files] == ["NOTES.md", "calc.py"]
        assert view.border_title == "attempt 1 · the branch diff"
        await pilot.press("]")
        await until(pilot, lambda: screen.shown == 2, 10, "attempt 2 shown")
        await pilot.pause()
        assert [f.path for f in screen.files] == ["NOTES.md", "calc.py", "test_calc.py"]
        assert rows(screen.query_one(CloudFileList))[2] == "+5 -0  test_calc.py"
        assert view.border_title == "attempt 2 · its cloud diff"
        await pilot.press("n", "n")
        await pilot.pause()
        assert view.diff is not None and view.diff.path == "test_calc.py"
        await pilot.press("escape")
        await pilot.pause()


async def test_compare_marks_the_files_that_differ(repo: Path) -> None:
    best_of_two(repo)
    app = CockpitApp(repo, host_supervisor=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_review(app, pilot)
        await pilot.press("c")
        await pilot.pause()
        left = screen.query_one("#diff-view", DiffView)
        right = screen.query_one("#diff-view-b", DiffView)
        assert screen.comparing and right.display and screen.has_class("-compare")
        assert (screen.shown, screen.against) == (1, 2)
        file_list = screen.query_one(CloudFileList)
        assert rows(file_list) == [
            "= NOTES.md  the same",
            "≠ calc.py  +4 -0 | +5 -0",
            "≠ test_calc.py  only in #2",
        ]
        # the differing rows carry the list's "differs" style, the same file does not
        differs = file_list.get_component_rich_style("cloud-files--differs", partial=True)
        marks = [row[0] for row in file_list.rows]
        assert [part for _, part in marks] == ["muted", "differs", "differs"]
        assert differs.color is not None
        prompt = file_list.get_option_at_index(1).prompt
        assert any(span.style == differs for span in prompt.spans)
        await pilot.press("n")
        await pilot.pause()
        assert left.diff is not None and right.diff is not None
        assert left.diff.path == right.diff.path == "calc.py"
        assert '+    """The product of a and b."""' in right.diff.lines
        assert '+    """The product of a and b."""' not in left.diff.lines
        assert (left.border_title, right.border_title) == ("attempt 1", "attempt 2")
        await pilot.press("n")
        await pilot.pause()
        assert left.diff is None and right.diff is not None and right.diff.path == "test_calc.py"
        assert left.border_title == "attempt 1 · not in it"
        await pilot.press("c")
        await pilot.pause()
        assert not screen.comparing and not right.display
        await pilot.press("escape")
        await pilot.pause()


async def test_two_picks_attempt_two_and_merge_lands_it(repo: Path) -> None:
    board = best_of_two(repo)
    app = CockpitApp(repo, host_supervisor=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_review(app, pilot)
        await pilot.press("2")
        await until(pilot, lambda: screen.run.chosen is not None and screen.run.chosen.n == 2, 30, "the pick")
        await pilot.pause()
        assert app.screen is screen  # a pick keeps the review open
        state = board.read_state(TASK)
        assert state is not None and state.status == TaskStatus.REVIEW
        assert [r.chosen for r in state.attempts[0].cloud.results] == [False, True]
        assert state.diff is not None and state.diff.paths == ["NOTES.md", "calc.py", "test_calc.py"]
        assert text_of(screen, "#diff-title") == (
            f"review {TASK}: 3 files, +11 -0 · attempt 2 of 2 on the branch"
        )
        first, second = rows(screen.query_one(AttemptList))
        assert first.startswith("#1  not chosen") and second.startswith("#2  chosen · on the branch")
        assert screen.shown == 2 and [f.path for f in screen.files] == ["NOTES.md", "calc.py", "test_calc.py"]
        assert screen.files is screen.branch_files
        assert screen.query_one("#diff-view", DiffView).border_title == "attempt 2 · the branch diff"
        await pilot.press("a")
        await until(pilot, lambda: not isinstance(app.screen, DiffScreen), 30, "the merge")
        await app.workers.wait_for_complete()
    state = board.read_state(TASK)
    assert state is not None and state.status == TaskStatus.MERGED
    assert (repo / "test_calc.py").read_text() == TEST_CALC
    assert '"""The product of a and b."""' in (repo / "calc.py").read_text()
    assert Repo(repo).head.commit.message.startswith(f"Merge cockpit task {TASK}")


async def test_a_single_attempt_reviews_like_a_worktree_task(repo: Path) -> None:
    board = Blackboard(repo)
    make_cloud_review_task(board, TASK, [{"calc.py": CALC_1}], title="Add a multiply function")
    app = CockpitApp(repo, host_supervisor=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_review(app, pilot)
        assert text_of(screen, "#diff-title") == f"review {TASK}: 1 file, +4 -0"
        assert text_of(screen, "#cloud-info").startswith("Codex Cloud task task_e_6a1f0c2b9d · https://")
        assert not screen.query_one(AttemptList).display
        assert not screen.query_one("#cloud-conflict").display
        assert rows(screen.query_one(CloudFileList)) == ["+4 -0  calc.py"]
        assert screen.query_one("#diff-view", DiffView).border_title is None
        shown = {key for key, b in screen.active_bindings.items() if b.binding.show and b.enabled}
        assert {"1", "2", "c", "[", "]"}.isdisjoint(shown)
        assert {"a", "x", "f", "n", "p"} <= shown
        await pilot.press("2")  # no attempts to pick: nothing happens
        await pilot.press("a")
        await until(pilot, lambda: not isinstance(app.screen, DiffScreen), 30, "the merge")
        await app.workers.wait_for_complete()
    state = board.read_state(TASK)
    assert state is not None and state.status == TaskStatus.MERGED
    assert "multiply" in (repo / "calc.py").read_text()


async def test_a_conflict_names_the_files_and_picking_another_applies(repo: Path) -> None:
    board = Blackboard(repo)
    make_cloud_review_task(
        board,
        TASK,
        [new_file_diff("README.md", "another readme\n"), {"NOTES.md": NOTES}],
        title="Rewrite the readme",
    )
    state = board.read_state(TASK)
    assert state is not None and state.status == TaskStatus.CONFLICT
    app = CockpitApp(repo, host_supervisor=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_review(app, pilot)
        assert text_of(screen, "#diff-title") == (
            f"review {TASK}: conflict · attempt 1 of 2 did not apply to the base commit"
        )
        assert text_of(screen, "#cloud-conflict") == (
            "✗ did not apply: README.md — pick another attempt (2) or reject (x)"
        )
        first, _ = rows(screen.query_one(AttemptList))
        assert first.startswith("#1  chosen · did not apply")
        assert rows(screen.query_one(CloudFileList)) == ["✗ +1 -0  README.md  did not apply"]
        await pilot.press("a")  # the core refuses: nothing applied
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.screen is screen
        await pilot.press("2")
        await until(pilot, lambda: screen.state.status == TaskStatus.REVIEW, 30, "the pick")
        await pilot.pause()
        assert not screen.query_one("#cloud-conflict").display
        assert (
            text_of(screen, "#diff-title") == f"review {TASK}: 1 file, +1 -0 · attempt 2 of 2 on the branch"
        )
        assert rows(screen.query_one(CloudFileList)) == ["+1 -0  NOTES.md"]
        await pilot.press("escape")
        await pilot.pause()
    state = board.read_state(TASK)
    assert state is not None and state.status == TaskStatus.REVIEW and state.head_commit
    assert [r.chosen for r in state.attempts[0].cloud.results] == [False, True]
    assert (repo / "README.md").read_text().startswith("# calc")  # the user's checkout untouched
