"""The decision modal with a long context (a file-change diff): the card scrolls inside the modal while
the countdown and the option keys stay on screen, and one key answers it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from cockpit.core.board.blackboard import Blackboard
from cockpit.core.board.decisions import DecisionOption, DecisionStore
from cockpit.core.records.task import TaskState
from cockpit.tui.app import CockpitApp
from cockpit.tui.screens.decision_modal import DecisionModal
from tests.helpers.pilot import until


async def test_a_long_card_scrolls_and_one_key_answers(repo: Path) -> None:
    board = Blackboard(repo)
    board.write_state(TaskState(id="patch-0001", lane="worktree", title="Patch many files"))
    diff = "\n".join(f"+line {n} of a long patch" for n in range(300))
    store = DecisionStore(board.root, lambda: datetime.now(UTC))
    card = store.open(
        task_id="patch-0001",
        trigger="protected_paths",
        title="Patch touches a protected path",
        context=diff,
        options=[
            DecisionOption(key="A", label="Allow", action="approve"),
            DecisionOption(key="B", label="Refuse", action="deny"),
        ],
        recommended="B",
        recommended_why="the path is protected",
        risk="high",
        default="B",
    )
    app = CockpitApp(repo, host_supervisor=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(
            pilot,
            lambda: isinstance(app.screen, DecisionModal) and bool(app.screen.query("#decision-scroll")),
            what="the modal, composed",
        )
        modal = app.screen
        scroll = modal.query_one("#decision-scroll")
        countdown = modal.query_one("#decision-countdown")
        # the diff is taller than the modal: once laid out, it scrolls
        await until(pilot, lambda: scroll.max_scroll_y > 0, what="the card's scroll area, laid out")
        assert countdown.region.bottom <= 40 and countdown.region.height >= 1
        scroll.scroll_end(animate=False)
        await pilot.pause()
        assert scroll.scroll_y == scroll.max_scroll_y
        await pilot.press("a")
        await until(pilot, lambda: not isinstance(app.screen, DecisionModal), what="the modal closing")
        answered = store.get(card.id)
        assert answered is not None and answered.resolved is not None and answered.resolved.option == "A"


async def test_the_modal_closes_itself_when_the_card_is_withdrawn(repo: Path) -> None:
    """Codex stopped waiting (the request was resolved, or the turn ended): the runner withdraws the
    card and the open modal goes away without an answer."""
    board = Blackboard(repo)
    board.write_state(TaskState(id="mcp-0001", lane="mcp", title="Asks to run a command"))
    store = DecisionStore(board.root, lambda: datetime.now(UTC))
    card = store.open(
        task_id="mcp-0001",
        trigger="codex_approval",
        title="Codex asks to run: make deploy",
        context="command: make deploy",
        options=[
            DecisionOption(key="A", label="Accept", action="accept"),
            DecisionOption(key="C", label="Decline", action="decline"),
        ],
        recommended="C",
        recommended_why="nothing leaves the sandbox unasked",
        risk="high",
        default="C",
    )
    app = CockpitApp(repo, host_supervisor=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, DecisionModal), what="the modal")
        store.withdraw(card.id, "the turn ended")
        await until(
            pilot, lambda: not isinstance(app.screen, DecisionModal), what="the modal closing", timeout=10
        )
        withdrawn = store.get(card.id)
        assert withdrawn is not None and withdrawn.resolved is not None and withdrawn.resolved.option is None
