"""The "New task" form with Pilot over a real git repository: a filled form lands on the blackboard as a
task with those envelope fields, invalid fields (empty goal, non-integer budget tokens, input paths
outside the repository or on the secrets deny list) are shown at the field and submit nothing, input
paths complete from the repository's files, and escape or Cancel close the form without a task; the
cloud lane's fields (environment, attempts, branch) show only for that lane, start from ``[cloud]
env``, reach the envelope, and name themselves when invalid."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, Select, Static, TextArea
from textual.worker import WorkerCancelled

from cockpit.core.board.blackboard import Blackboard
from cockpit.core.supervisor.loop import Supervisor
from cockpit.tui.app import CockpitApp
from cockpit.tui.screens.new_task_screen import (
    FORM_ERROR,
    NewTaskScreen,
    RepoPathSuggester,
    form_field_of,
)

SIZE = (120, 40)


async def settle(app: CockpitApp, pilot: Pilot[None]) -> None:
    """Let running workers (board polls, input suggestions) finish and their messages land."""
    for _ in range(10):
        try:
            await app.workers.wait_for_complete()
            break
        except WorkerCancelled:  # an exclusive board poll superseded by a newer one
            continue
    await pilot.pause()


async def close_form(app: CockpitApp, pilot: Pilot[None]) -> None:
    """Leave the app on its main screen, as a user would, before the test ends."""
    await pilot.press("escape")
    await pilot.pause()
    assert not isinstance(app.screen, NewTaskScreen)


async def open_form(app: CockpitApp, pilot: Pilot[None]) -> NewTaskScreen:
    await settle(app, pilot)
    await pilot.press("n")
    await pilot.pause()
    assert isinstance(app.screen, NewTaskScreen)
    return app.screen


async def type_into(pilot: Pilot[None], widget: Input | TextArea, text: str) -> None:
    widget.focus()
    await pilot.pause()
    await pilot.press(*text)


async def submit_and_settle(app: CockpitApp, pilot: Pilot[None]) -> None:
    await pilot.press("ctrl+s")
    await settle(app, pilot)


def submissions(repo: Path) -> list[dict]:
    return [item.data for item in Blackboard(repo).inbox() if item.kind == "submit"]


def error_text(screen: NewTaskScreen, key: str) -> str:
    error = screen.query_one(f"#{key}-error", Static)
    return str(error.render()) if error.has_class("-shown") else ""


def shown_errors(screen: NewTaskScreen) -> dict[str, str]:
    return {
        str(error.id).removesuffix("-error"): str(error.render())
        for error in screen.query(".field-error.-shown").results(Static)
    }


async def test_filled_form_submits_a_task_with_those_fields(repo: Path) -> None:
    app = CockpitApp(repo, host_supervisor=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_form(app, pilot)
        assert screen.focused is screen.query_one("#new-task-goal", TextArea)
        await pilot.press(*"Add a subtract function")
        screen.query_one("#new-task-lane", Select).value = "local"
        screen.query_one("#new-task-effort", Select).value = "high"
        await type_into(pilot, screen.query_one("#new-task-tokens", Input), "50000")
        await type_into(pilot, screen.query_one("#new-task-wall-time", Input), "20m")
        await type_into(pilot, screen.query_one("#new-task-acceptance", TextArea), "subtract(3, 1) == 2")
        await pilot.press("enter", *"tests pass")
        await type_into(pilot, screen.query_one("#new-task-input-0", Input), "calc.py: the module")
        await submit_and_settle(app, pilot)
        assert not isinstance(app.screen, NewTaskScreen)

    [payload] = submissions(repo)
    task_id = payload["task_id"]
    assert payload["envelope"]["goal"] == "Add a subtract function"
    board = Blackboard(repo)
    Supervisor(board, env={}).accept_inbox()  # what the supervisor does with the submission
    assert board.task_ids() == [task_id]
    [state] = board.states()
    assert state.lane == "local" and state.title == "Add a subtract function"
    envelope = board.read_envelope(task_id)
    assert envelope is not None
    assert envelope.goal == "Add a subtract function"
    assert envelope.lane == "local" and envelope.effort == "high"
    assert envelope.acceptance_criteria == ["subtract(3, 1) == 2", "tests pass"]
    assert [(ref.path, ref.summary) for ref in envelope.inputs] == [
        (str(board.repo / "calc.py"), "the module")
    ]
    assert envelope.budget.tokens == 50000 and envelope.budget.wall_time_s == 1200


async def test_lane_defaults_to_the_configured_lane(repo: Path) -> None:
    (Blackboard(repo).root / "config.toml").write_text('default_lane = "local"\n')
    app = CockpitApp(repo, host_supervisor=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_form(app, pilot)
        assert screen.query_one("#new-task-lane", Select).value == "local"
        assert screen.query_one("#new-task-effort", Select).value == "auto"
        await pilot.press(*"Write NOTES.md")
        await submit_and_settle(app, pilot)
        assert not isinstance(app.screen, NewTaskScreen)
    [payload] = submissions(repo)
    assert payload["envelope"]["lane"] == "local"
    assert payload["envelope"]["effort"] is None


async def test_empty_goal_is_shown_at_the_goal_and_nothing_is_submitted(repo: Path) -> None:
    app = CockpitApp(repo, host_supervisor=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_form(app, pilot)
        assert shown_errors(screen) == {}
        await pilot.press(*"   ")
        await pilot.click("#new-task-submit")
        await pilot.pause()
        assert app.screen is screen
        goal = screen.query_one("#new-task-goal", TextArea)
        assert shown_errors(screen) == {"goal": "must not be empty"}
        assert goal.has_class("-invalid") and screen.focused is goal
        # Typing into the field clears its error; a second submit then goes through.
        await pilot.press(*"Fix it")
        await pilot.pause()
        assert shown_errors(screen) == {} and not goal.has_class("-invalid")
        assert submissions(repo) == []
        await submit_and_settle(app, pilot)
        assert not isinstance(app.screen, NewTaskScreen)
    assert [p["envelope"]["goal"] for p in submissions(repo)] == ["Fix it"]


async def test_non_integer_budget_tokens_are_shown_at_that_field(repo: Path) -> None:
    app = CockpitApp(repo, host_supervisor=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_form(app, pilot)
        await pilot.press(*"Fix the bug")
        tokens = screen.query_one("#new-task-tokens", Input)
        await type_into(pilot, tokens, "abc")
        await submit_and_settle(app, pilot)
        assert app.screen is screen
        assert shown_errors(screen) == {"tokens": "must be a whole number (got 'abc')"}
        assert tokens.has_class("-invalid")
        # A whole number the model refuses is reported at the same field.
        tokens.value = "0"
        await submit_and_settle(app, pilot)
        assert shown_errors(screen) == {"tokens": "must be a positive integer"}
        assert tokens.has_class("-invalid")
        # So is a wall time the model cannot read.
        tokens.value = "1000"
        await type_into(pilot, screen.query_one("#new-task-wall-time", Input), "soon")
        await submit_and_settle(app, pilot)
        assert list(shown_errors(screen)) == ["wall_time"]
        assert not tokens.has_class("-invalid")
        await close_form(app, pilot)
    assert submissions(repo) == []


@pytest.mark.parametrize(
    ("bad_path", "message"),
    [
        ("../outside.txt", "outside the repository: ../outside.txt"),
        (".env", "on the deny list (secrets): .env"),
        ("config/credentials.json", "on the deny list (secrets): config/credentials.json"),
    ],
)
async def test_input_paths_outside_the_repo_or_denied_are_shown_at_the_inputs(
    repo: Path, bad_path: str, message: str
) -> None:
    app = CockpitApp(repo, host_supervisor=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_form(app, pilot)
        await pilot.press(*"Read the inputs")
        await type_into(pilot, screen.query_one("#new-task-input-0", Input), "calc.py")
        await pilot.pause()  # a filled last row adds a fresh one
        await type_into(pilot, screen.query_one("#new-task-input-1", Input), bad_path)
        await submit_and_settle(app, pilot)
        assert app.screen is screen
        assert shown_errors(screen) == {"inputs": message}
        assert screen.query_one("#new-task-input-1", Input).has_class("-invalid")
        assert not screen.query_one("#new-task-input-0", Input).has_class("-invalid")
        await close_form(app, pilot)
    assert submissions(repo) == []


async def test_path_suggester_completes_repo_paths(repo: Path) -> None:
    (repo / "src").mkdir()
    (repo / "src" / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    (repo / ".github").mkdir()
    (repo / ".env").write_text("TOKEN=x\n")
    suggester = RepoPathSuggester(repo)
    assert await suggester.get_suggestion("src/ca") == "src/calc.py"
    assert await suggester.get_suggestion("sr") == "src/"
    assert await suggester.get_suggestion("cal") == "calc.py"
    assert await suggester.get_suggestion("READ") == "README.md"
    assert await suggester.get_suggestion(".gi") == ".github/"  # not .git
    assert await suggester.get_suggestion(".c") is None  # .cockpit is never offered
    assert await suggester.get_suggestion(".git/") is None
    assert await suggester.get_suggestion(".e") is None  # deny-listed
    assert await suggester.get_suggestion("calc.py") is None  # already complete
    assert await suggester.get_suggestion("nothing/here") is None
    assert await suggester.get_suggestion("../") is None
    assert await suggester.get_suggestion("calc: the mod") is None  # past the path

    app = CockpitApp(repo, host_supervisor=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_form(app, pilot)
        row = screen.query_one("#new-task-input-0", Input)
        await type_into(pilot, row, "src/ca")
        await settle(app, pilot)
        await pilot.press("right")
        await pilot.pause()
        assert row.value == "src/calc.py"
        await close_form(app, pilot)


async def test_cloud_fields_show_for_the_cloud_lane_and_reach_the_envelope(repo: Path) -> None:
    (Blackboard(repo).root / "config.toml").write_text('[cloud]\nenv = "owner/repo"\n')
    app = CockpitApp(repo, host_supervisor=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_form(app, pilot)
        cloud = screen.query_one("#new-task-cloud")
        assert not cloud.display  # the worktree lane: no cloud fields
        await pilot.press(*"Add a multiply function")
        screen.query_one("#new-task-lane", Select).value = "cloud"
        await pilot.pause()
        assert cloud.display
        env = screen.query_one("#new-task-cloud-env", Input)
        assert env.value == "owner/repo"  # from [cloud] env
        env.value = ""
        await type_into(pilot, env, "env_abc123")
        await type_into(pilot, screen.query_one("#new-task-attempts", Input), "3")
        await type_into(pilot, screen.query_one("#new-task-branch", Input), "release/1.2")
        await submit_and_settle(app, pilot)
        assert not isinstance(app.screen, NewTaskScreen)
    [payload] = submissions(repo)
    envelope = payload["envelope"]
    assert envelope["lane"] == "cloud"
    assert (envelope["cloud_env"], envelope["attempts"], envelope["branch"]) == (
        "env_abc123",
        3,
        "release/1.2",
    )
    board = Blackboard(repo)
    Supervisor(board, env={}).accept_inbox()
    stored = board.read_envelope(payload["task_id"])
    assert stored is not None and (stored.cloud_env, stored.attempts, stored.branch) == (
        "env_abc123",
        3,
        "release/1.2",
    )


async def test_cloud_fields_filled_then_another_lane_chosen_are_left_out(repo: Path) -> None:
    app = CockpitApp(repo, host_supervisor=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_form(app, pilot)
        await pilot.press(*"Tidy up")
        lane = screen.query_one("#new-task-lane", Select)
        lane.value = "cloud"
        await pilot.pause()
        await type_into(pilot, screen.query_one("#new-task-attempts", Input), "2")
        lane.value = "local"
        await pilot.pause()
        assert not screen.query_one("#new-task-cloud").display
        await submit_and_settle(app, pilot)
        assert not isinstance(app.screen, NewTaskScreen)
    [payload] = submissions(repo)
    assert payload["envelope"]["lane"] == "local" and payload["envelope"]["attempts"] == 1


async def test_invalid_cloud_fields_are_shown_at_those_fields(repo: Path) -> None:
    app = CockpitApp(repo, host_supervisor=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_form(app, pilot)
        await pilot.press(*"Port the CI job")
        screen.query_one("#new-task-lane", Select).value = "cloud"
        await pilot.pause()
        # no environment here and none in config: the core names the field
        await submit_and_settle(app, pilot)
        assert app.screen is screen
        errors = shown_errors(screen)
        assert list(errors) == ["cloud_env"] and "needs a Codex Cloud environment" in errors["cloud_env"]
        env = screen.query_one("#new-task-cloud-env", Input)
        assert env.has_class("-invalid") and screen.focused is env
        await type_into(pilot, env, "-oops")
        await submit_and_settle(app, pilot)
        assert list(shown_errors(screen)) == ["cloud_env"]
        env.value = "owner/repo"
        attempts = screen.query_one("#new-task-attempts", Input)
        await type_into(pilot, attempts, "many")
        await submit_and_settle(app, pilot)
        assert shown_errors(screen) == {"attempts": "must be 1–4 (got 'many')"}
        assert attempts.has_class("-invalid") and not env.has_class("-invalid")
        attempts.value = "7"
        await submit_and_settle(app, pilot)
        assert shown_errors(screen) == {"attempts": "must be 1–4 (got '7')"}
        attempts.value = "2"
        branch = screen.query_one("#new-task-branch", Input)
        await type_into(pilot, branch, "a..b")
        await submit_and_settle(app, pilot)
        errors = shown_errors(screen)
        assert list(errors) == ["branch"] and errors["branch"].startswith("must be a git branch name")
        assert branch.has_class("-invalid")
        await close_form(app, pilot)
    assert submissions(repo) == []


async def test_escape_closes_without_submitting(repo: Path) -> None:
    app = CockpitApp(repo, host_supervisor=False)
    async with app.run_test(size=SIZE) as pilot:
        await open_form(app, pilot)
        await pilot.press(*"Never mind")
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, NewTaskScreen)
        await open_form(app, pilot)
        await pilot.click("#new-task-cancel")
        await pilot.pause()
        assert not isinstance(app.screen, NewTaskScreen)
    assert submissions(repo) == []
    assert Blackboard(repo).task_ids() == []


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("goal", ("goal", None)),
        ("title", ("title", None)),
        ("lane", ("lane", None)),
        ("effort", ("effort", None)),
        ("budget.tokens", ("tokens", None)),
        ("budget.wall_time", ("wall_time", None)),
        ("budget.usd", (FORM_ERROR, None)),
        ("acceptance_criteria.1", ("acceptance", None)),
        ("inputs.2.path", ("inputs", 2)),
        ("inputs", ("inputs", None)),
        ("output.path", ("output", None)),
        ("cloud_env", ("cloud_env", None)),
        ("attempts", ("attempts", None)),
        ("branch", ("branch", None)),
        ("(envelope)", (FORM_ERROR, None)),
    ],
)
def test_envelope_error_fields_map_to_form_fields(field: str, expected: tuple[str, int | None]) -> None:
    assert form_field_of(field) == expected
