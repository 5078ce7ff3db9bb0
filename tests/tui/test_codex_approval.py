"""A Codex approval answered from the cockpit with one key: the app hosts the supervisor, an mcp-lane
task's model asks to run an escalated command, the escalation modal opens with the command and the
reason, ``a`` accepts, the command runs and the task goes to review; and the card's cancel key stops a
turn that waits for an approval."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from textual.pilot import Pilot

from cockpit.core.board.blackboard import Blackboard
from cockpit.core.board.decisions import DecisionStore
from cockpit.core.commands import submit
from cockpit.core.envelope.model import envelope_from_mapping
from cockpit.core.records.basics import TaskStatus, utc_now
from cockpit.demo.scripted_model import ScriptedModel
from cockpit.tui.app import CockpitApp
from cockpit.tui.screens.confirm_modal import ConfirmModal
from cockpit.tui.screens.decision_modal import DecisionModal
from cockpit.tui.screens.main_screen import MainScreen
from cockpit.tui.widgets.lane_pane import LanePane
from tests.helpers.pilot import card_shown, select_task, shown, until
from tests.helpers.scripted_steps import escalated, say, scenario

pytestmark = pytest.mark.codex


def mcp_app(repo: Path, env: dict[str, str], name: str) -> tuple[CockpitApp, Blackboard, str]:
    """A cockpit hosting the supervisor over ``repo`` with one mcp-lane task whose prompt names ``name``
    (``cockpit_env`` gives workers a throwaway HOME: Codex's login shells skip the host's profile)."""
    board = Blackboard(repo)
    envelope = {"goal": f"Do the {name} job", "title": name, "lane": "mcp"}
    return CockpitApp(repo, env=env), board, submit(board, envelope_from_mapping(envelope))


async def until_approval_modal(app: CockpitApp, pilot: Pilot[None]) -> DecisionModal:
    await until(
        pilot,
        lambda: isinstance(app.screen, DecisionModal) and bool(app.screen.query("#decision-card")),
        what="the approval modal",
    )
    assert isinstance(app.screen, DecisionModal)
    return app.screen


async def test_a_codex_approval_is_answered_with_one_key(
    repo: Path, scripted_model: ScriptedModel, cockpit_env: dict[str, str]
) -> None:
    scripted_model.add_scenario(
        scenario(
            "approve-from-modal",
            escalated("echo ok > approved.txt", "write it"),
            say("COMPLETED: wrote approved.txt"),
        )
    )
    app, board, task_id = mcp_app(repo, cockpit_env, "approve-from-modal")
    async with app.run_test(size=(120, 40)) as pilot:
        modal = await until_approval_modal(app, pilot)
        assert modal.card.trigger == "codex_approval"
        body = str(modal.query_one("#decision-card").render())
        assert "echo ok > approved.txt" in body and "write it" in body
        await pilot.press("a")
        await until(
            pilot,
            lambda: (s := board.read_state(task_id)) is not None and s.status == TaskStatus.REVIEW,
            what="the task in review",
        )
        state = board.read_state(task_id)
        assert state is not None
        sent = (board.attempt_dir(task_id, state.attempts[-1].n) / "sent.jsonl").read_text().splitlines()
        assert {"id": 0, "result": {"decision": "accept"}} in [json.loads(line) for line in sent]
        assert (board.worktree_path(task_id) / "approved.txt").read_text().strip() == "ok"
        await pilot.press("q")


async def test_the_cancel_key_interrupts_a_turn_waiting_for_approval(
    repo: Path, scripted_model: ScriptedModel, cockpit_env: dict[str, str]
) -> None:
    """``esc`` leaves the approval for later; ``c`` on the task's card (after a yes) stops the turn with
    ``turn/interrupt``, the card is withdrawn and nothing the model asked for ran."""
    scripted_model.add_scenario(
        scenario("cancel-from-card", escalated("echo no > never.txt", "wants never.txt"), say("never sent"))
    )
    app, board, task_id = mcp_app(repo, cockpit_env, "cancel-from-card")
    # wide enough for the card's whole approval line (a lane shows a quarter of the screen)
    async with app.run_test(size=(200, 40)) as pilot:
        card_id = (await until_approval_modal(app, pilot)).card.id
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, MainScreen), what="the main screen")
        pane = app.screen.query_one("#lane-mcp", LanePane)

        def asking() -> bool:
            return pane.row_lines(task_id) is not None and "⚑" in card_shown(pane, task_id)

        # The lane pane says which task waits and for what, until the turn stops waiting.
        await until(pilot, asking, what="the card marked as asking")
        card = card_shown(pane, task_id)
        assert "⚑ waits for your approval to run" in card and "never.txt" in card
        first = pane.row_lines(task_id)[0] - round(pane.scroll_y)
        bar = next(iter(pane.render_line(first)))  # the card's bar takes the colour of a question
        asking_colour = pane.get_component_rich_style("lane-pane--asking").color
        assert bar.text == "▌ " and bar.style.color == asking_colour
        select_task(app, task_id)
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, ConfirmModal), what="the confirmation")
        await pilot.press("y")
        await until(
            pilot,
            lambda: (s := board.read_state(task_id)) is not None and s.status == TaskStatus.CANCELLED,
            what="the task cancelled",
            timeout=60,
        )
        assert not isinstance(app.screen, DecisionModal)
        await until(pilot, lambda: not any("⚑" in line for line in shown(pane)), what="the mark gone")
        state = board.read_state(task_id)
        assert state is not None
        sent = (board.attempt_dir(task_id, state.attempts[-1].n) / "sent.jsonl").read_text().splitlines()
        assert any(json.loads(line).get("method") == "turn/interrupt" for line in sent)
        resolved = DecisionStore(board.root, utc_now).get(card_id).resolved
        assert resolved is not None and resolved.action == "withdrawn"
        assert not (board.worktree_path(task_id) / "never.txt").exists()
        await pilot.press("q")
