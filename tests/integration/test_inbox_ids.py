"""A drop whose ids try to leave the blackboard, met by a live supervisor running a real Codex task."""

from __future__ import annotations

import os
import secrets
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from cockpit.core.atomic import atomic_write_json
from cockpit.core.board.blackboard import Blackboard
from cockpit.core.commands import submit
from cockpit.core.envelope.model import envelope_from_mapping
from cockpit.core.records.basics import TaskStatus, utc_now
from cockpit.demo.scripted_model import Scenario, ScriptedModel
from tests.helpers.supervisor import SupervisorThread

pytestmark = pytest.mark.codex


def raw_drop(board: Blackboard, kind: str, data: dict[str, Any]) -> Path:
    """Written the way :meth:`Blackboard.drop` writes, with nothing checked."""
    name = f"{time.time_ns():020d}-{secrets.token_hex(3)}.{kind}.json"
    tmp = board.root / "inbox" / f".{name}.tmp"
    atomic_write_json(tmp, {"kind": kind, "dropped_at": utc_now().isoformat(), **data})
    os.replace(tmp, board.root / "inbox" / name)
    return board.root / "inbox" / name


def test_traversal_ids_in_the_inbox_stay_in_the_box_while_other_work_goes_on(
    repo: Path, tmp_path: Path, scripted_model: ScriptedModel, cockpit_env: dict[str, str]
) -> None:
    scripted_model.add_scenario(
        Scenario.model_validate(
            {
                "name": "boxed",
                "match": "boxed-job",
                "responses": [{"items": [{"kind": "message", "text": "COMPLETED: nothing to do"}]}],
            }
        )
    )
    board = Blackboard(repo)
    envelope = envelope_from_mapping({"goal": "escape", "lane": "local"}).model_dump(mode="json")
    deep = "../" * 8
    expires = (utc_now() + timedelta(minutes=5)).isoformat()
    drops = [
        raw_drop(board, "submit", {"task_id": f"{deep}escaped-submit", "envelope": envelope}),
        raw_drop(board, "submit", {"task_id": "../../escaped-near", "envelope": envelope}),
        raw_drop(
            board,
            "cancel",
            {"task_id": f"{deep}escaped-cancel", "request_id": "11-22", "expires_at": expires},
        ),
        raw_drop(
            board,
            "merge",
            {"task_id": "boxed-0001", "request_id": f"{deep}escaped-reply", "expires_at": expires},
        ),
    ]
    boxed = {"goal": "Do the boxed-job", "title": "boxed", "lane": "local"}
    good = submit(board, envelope_from_mapping(boxed))
    sup = SupervisorThread(board, cockpit_env, until_idle=True).start()
    sup.join(120)
    state = board.read_state(good)
    assert state is not None and state.status == TaskStatus.SUCCEEDED, state
    assert not any(p.exists() for p in drops)
    assert board.inbox() == [] and board.claimed() == []
    assert len(board.quarantined()) == 4
    assert board.task_ids() == [good]
    escaped = [p for p in tmp_path.rglob("*escaped*") if board.root not in p.parents]
    assert escaped == []
    written = [
        p
        for name in ("envelope.json", "state.json")
        for p in tmp_path.rglob(name)
        if board.root not in p.parents
    ]
    assert written == []
    reply = board.take_reply("11-22")
    assert reply is not None and reply["status"] == "refused" and "invalid task id" in reply["error"]
    lines = [e for e in board.read_jsonl("events.jsonl") if e.get("kind") == "quarantine"]
    assert len(lines) == 4 and all("invalid" in e["reason"] for e in lines)
