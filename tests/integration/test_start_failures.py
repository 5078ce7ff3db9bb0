"""An unexpected error while starting one task's attempt is that task's failure (a structured error
event, state ``failed``), never the supervisor's crash: another task still runs to completion."""

from __future__ import annotations

from pathlib import Path

import pytest

from cockpit.core.board.blackboard import Blackboard
from cockpit.core.commands import submit
from cockpit.core.envelope.model import envelope_from_mapping
from cockpit.core.records.basics import TaskStatus
from cockpit.core.supervisor import launch as launch_phase
from cockpit.demo.scripted_model import ScriptedModel
from tests.helpers.scripted_steps import say, scenario
from tests.helpers.supervisor import SupervisorThread

pytestmark = pytest.mark.codex


def test_a_task_that_cannot_start_fails_alone(
    repo: Path, scripted_model: ScriptedModel, cockpit_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    scripted_model.add_scenario(scenario("healthy-job", say("COMPLETED: healthy")))
    board = Blackboard(repo)
    doomed = submit(board, envelope_from_mapping({"goal": "Do the doomed-job", "lane": "local"}))
    healthy = submit(board, envelope_from_mapping({"goal": "Do the healthy-job", "lane": "local"}))
    real_plan_for = launch_phase.plan_for

    def plan_for(envelope, **kwargs):  # type: ignore[no-untyped-def]
        if "doomed" in envelope.goal:
            raise AssertionError("argv builder blew up")
        return real_plan_for(envelope, **kwargs)

    monkeypatch.setattr(launch_phase, "plan_for", plan_for)
    sup = SupervisorThread(board, cockpit_env, until_idle=True).start()
    sup.join(120)

    failed = board.read_state(doomed)
    assert failed is not None and failed.status == TaskStatus.FAILED
    assert failed.message == "attempt 1: could not start the attempt: AssertionError: argv builder blew up"
    assert not failed.attempts and failed.failures[-1].code == "unknown"
    event = next(e for e in board.read_jsonl("events.jsonl") if e.get("kind") == "error")
    assert event["task_id"] == doomed and event["error_type"] == "logic" and event["attempt"] == 1
    assert "argv builder blew up" in event["error"] and event["suggestion"]

    done = board.read_state(healthy)
    assert done is not None and done.status == TaskStatus.SUCCEEDED, done.message
