"""The task view with Pilot: Enter on a card (here in the expanded fold of finished tasks) opens the
attempt's live log beside the signals, usage, effort and the last message; escape returns to the
lanes."""

from __future__ import annotations

import shutil
from pathlib import Path

from cockpit.core.board.blackboard import Blackboard
from cockpit.core.codex.exec_events import Usage
from cockpit.core.envelope.model import envelope_from_mapping
from cockpit.core.records.attempt import Attempt
from cockpit.core.records.basics import Signals, TaskStatus
from cockpit.core.records.task import TaskState
from cockpit.tui.app import CockpitApp
from cockpit.tui.screens.main_screen import MainScreen
from cockpit.tui.screens.task_screen import TaskScreen
from cockpit.tui.widgets.event_log import EventLog
from cockpit.tui.widgets.lane_pane import LanePane
from tests.helpers.pilot import card_shown

RECORDED = Path(__file__).resolve().parents[1] / "fixtures" / "codex" / "recorded-mixed.jsonl"


async def test_enter_on_a_card_opens_the_task_view(repo: Path) -> None:
    board = Blackboard(repo)
    state = TaskState(
        id="mixed-0001",
        lane="local",
        title="Mixed work",
        status=TaskStatus.SUCCEEDED,
        usage=Usage(input_tokens=1200, cached_input_tokens=800, output_tokens=90),
        effort="low",
        effort_reason="policy: kind=code risk=low → low",
    )
    state.attempts.append(
        Attempt(n=1, deadline_s=60, signals=Signals(exit_code=0, turn_completed=True, last_message=True))
    )
    board.write_state(state)
    board.write_envelope(
        state.id,
        envelope_from_mapping(
            {
                "goal": "Tidy [bold]words.txt[/bold]",
                "acceptance_criteria": ["words.txt is sorted"],
                "inputs": ["words.txt: the list"],
                "budget": {"tokens": 40000, "wall_time": "10m"},
            }
        ),
    )
    attempt_dir = board.attempt_dir(state.id, 1)
    attempt_dir.mkdir(parents=True)
    shutil.copy(RECORDED, attempt_dir / "events.jsonl")
    (attempt_dir / "last-message.md").write_text("COMPLETED: all done\n\n- **notes** written\n")
    app = CockpitApp(repo, host_supervisor=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        local = app.screen.query_one("#lane-local", LanePane)
        local.focus()
        await pilot.press("home", "enter")  # the succeeded task is folded: expand the fold line
        assert "✓ succeeded  Mixed work" in card_shown(local, "mixed-0001")
        await pilot.press("home", "down", "enter")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, TaskScreen) and screen.task_id == "mixed-0001"
        log = screen.query_one(EventLog)
        log.refresh_from_disk()
        await pilot.pause()
        assert log.line_count == len(RECORDED.read_bytes().splitlines())
        details = str(screen.query_one("#task-details").render())
        assert "attempt 1 (initial)  exit 0 turn ✓ msg ✓" in details
        assert "tokens in 1200 (cached 800) out 90" in details and "effort low: policy" in details
        assert "goal: Tidy [bold]words.txt[/bold]" in details  # the envelope, shown as data
        assert "✓? words.txt is sorted" in details and "in  words.txt: the list" in details
        assert "budget 40000 tokens, 10m wall · risk low · sandbox workspace-write" in details
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
