"""The credit window in the supervisor, with the real Codex binary: a usage-limit failure blocks new
dispatches until the window resets, then work resumes."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from cockpit.core.board.blackboard import Blackboard
from cockpit.core.commands import submit
from cockpit.core.envelope.model import envelope_from_mapping
from cockpit.core.records.basics import TaskStatus
from cockpit.demo.scripted_model import Scenario, ScriptedModel
from tests.helpers.supervisor import ShiftedClock, SupervisorThread

pytestmark = pytest.mark.codex


def test_usage_limit_blocks_new_dispatches_until_the_window_resets(
    repo: Path, scripted_model: ScriptedModel, cockpit_env
):
    reset = int(time.time()) + 3600
    headers = {
        "x-codex-primary-used-percent": "100",
        "x-codex-primary-window-minutes": "300",
        "x-codex-primary-reset-at": str(reset),
        "x-codex-secondary-used-percent": "40",
        "x-codex-secondary-window-minutes": "10080",
    }
    body = {"error": {"type": "usage_limit_reached", "message": "limit", "resets_at": reset}}
    scripted_model.add_scenario(
        Scenario.model_validate(
            {
                "name": "over",
                "match": "over-limit",
                "responses": [
                    {"kind": "http_error", "status": 429, "body": body, "headers": headers},
                    {"items": [{"kind": "message", "text": "COMPLETED: after the reset"}]},
                ],
            }
        )
    )
    scripted_model.add_scenario(
        Scenario.model_validate(
            {
                "name": "next",
                "match": "next-task",
                "responses": [
                    {"items": [{"kind": "message", "text": "COMPLETED: next"}]},
                ],
            }
        )
    )
    board = Blackboard(repo)
    first = submit(board, envelope_from_mapping({"goal": "Do the over-limit job", "lane": "local"}))
    clock = ShiftedClock()
    sup = SupervisorThread(board, cockpit_env, clock=clock).start()
    try:
        state = sup.wait_status(first, "queued", timeout=60)
        sup.wait_for(lambda: len(board.read_state(first).attempts) == 1 and board.read_state(first).failures)
        state = board.read_state(first)
        assert state.failures[0].code.value == "usage_limit"
        assert state.not_before is not None and state.not_before >= reset  # waits for the reset, no backoff
        second = submit(board, envelope_from_mapping({"goal": "Do the next-task job", "lane": "local"}))

        def held() -> bool:
            st = board.read_state(second)
            return st is not None and "usage window is exhausted" in (st.message or "")

        assert sup.wait_for(held, timeout=30)
        assert board.read_state(second).status == TaskStatus.QUEUED and not board.read_state(second).attempts
        assert len(scripted_model.requests) == 1  # nothing else was sent while blocked
        clock.advance(3700)  # past the reset
        sup.wait_status(second, "succeeded")
        sup.wait_status(first, "succeeded")
    finally:
        sup.stop()
