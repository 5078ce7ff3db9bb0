"""Budgets and effort tiers with the real Codex binary: the effort policy steps down when the credit
window is high (and Codex is really asked for that effort), the weekly budget gates new tasks, and
``cockpit usage`` reports windows and tokens by lane and effort."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cockpit.core.board.blackboard import Blackboard
from cockpit.core.board.decisions import DecisionStore
from cockpit.core.commands import submit
from cockpit.core.envelope.model import envelope_from_mapping
from cockpit.core.records.basics import TaskStatus, utc_now
from cockpit.demo.scripted_model import Scenario, ScriptedModel
from tests.helpers.supervisor import SupervisorThread

pytestmark = pytest.mark.codex
COCKPIT = Path(sys.executable).parent / "cockpit"
HIGH = {
    "x-codex-primary-used-percent": "91",
    "x-codex-primary-window-minutes": "300",
    "x-codex-secondary-used-percent": "40",
    "x-codex-secondary-window-minutes": "10080",
}


def scenario(name: str, text: str, **response: object) -> Scenario:
    return Scenario.model_validate(
        {
            "name": name,
            "match": name,
            "responses": [{"items": [{"kind": "message", "text": text}], **response}],
        }
    )


def test_effort_steps_down_when_the_binding_window_is_high(
    repo: Path, scripted_model: ScriptedModel, cockpit_env
) -> None:
    scripted_model.add_scenario(scenario("warmup-job", "COMPLETED: warm", headers=HIGH))
    scripted_model.add_scenario(scenario("coding-job", "COMPLETED: coded", headers=HIGH))
    board = Blackboard(repo)
    first = submit(
        board, envelope_from_mapping({"goal": "Do the warmup-job", "lane": "local", "effort": "high"})
    )
    SupervisorThread(board, cockpit_env, until_idle=True).start().join()
    second = submit(
        board,
        envelope_from_mapping(
            {"goal": "Do the coding-job", "lane": "local", "kind": "code", "risk_level": "medium"}
        ),
    )
    SupervisorThread(board, cockpit_env, until_idle=True).start().join()
    kept, stepped = board.read_state(first), board.read_state(second)
    assert kept.effort == "high" and kept.effort_reason.startswith("envelope")
    # code at medium risk is "medium" by policy; the 5h window at 91 % steps it down one tier
    assert stepped.effort == "low" and "91" in stepped.effort_reason and "5h" in stepped.effort_reason
    [request] = scripted_model.requests_for(stepped.thread_id)
    assert request.body["reasoning"]["effort"] == "low"  # what Codex really asked the model for
    rows = {r["task_id"]: r for r in board.read_jsonl("ledger.jsonl")}
    assert rows[second]["effort"] == "low" and rows[first]["effort"] == "high"


def test_weekly_budget_gates_every_new_task(repo: Path, scripted_model: ScriptedModel, cockpit_env) -> None:
    scripted_model.add_scenario(
        scenario("spend-job", "COMPLETED: spent", usage={"input_tokens": 900, "output_tokens": 100})
    )
    scripted_model.add_scenario(scenario("later-job", "COMPLETED: later"))
    board = Blackboard(repo)
    (board.root / "config.toml").write_text("[budget]\nweekly_tokens = 800\n")
    first = submit(board, envelope_from_mapping({"goal": "Do the spend-job", "lane": "local"}))
    SupervisorThread(board, cockpit_env, until_idle=True).start().join()
    assert board.read_state(first).status == TaskStatus.SUCCEEDED
    later = submit(board, envelope_from_mapping({"goal": "Do the later-job", "lane": "local"}))
    SupervisorThread(board, cockpit_env, until_idle=True).start().join()
    state = board.read_state(later)
    assert state.status == TaskStatus.AWAITING_DECISION and not state.attempts
    store = DecisionStore(board.root, utc_now)
    card = store.get(state.decision_id)
    assert card.trigger == "weekly_budget" and card.default == "B"
    events = [e for e in board.read_jsonl("events.jsonl") if e["kind"] == "notify"]
    assert any("weekly" in e["line"] for e in events)
    store.answer(card.id, "A")  # run it anyway
    SupervisorThread(board, cockpit_env, until_idle=True).start().join()
    assert board.read_state(later).status == TaskStatus.SUCCEEDED
    out = subprocess.run(
        [str(COCKPIT), "--repo", str(repo), "usage", "--json"],
        capture_output=True,
        text=True,
        env={**os.environ, **cockpit_env},
    )
    report = json.loads(out.stdout)
    assert report["usage"]["week"]["total_tokens"] >= 1000 and report["budget"]["weekly_exhausted"]
    assert "local" in report["usage"]["week_by_lane"]
    assert report["windows"]["state"] in ("ok", "unknown")
