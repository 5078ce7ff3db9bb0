"""Helpers for the challenge loop's tests: a board whose config turns the cross-family review on, the
worker's scripted thread and a worktree task for it, a supervisor run until idle, the prompts the
reviewer was given, and :class:`ReviewRig`, all of it around one board (the ``review_rig`` fixture in
``tests/conftest.py`` yields one). The reviewer's scripted replies (a verdict block, a Claude Code
scenario of one round and try) are the demo's (:mod:`cockpit.demo.review`), re-exported here;
:func:`failing_test` is the demo's with the tests' runner, pytest."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cockpit.core.board.blackboard import Blackboard
from cockpit.core.commands import submit
from cockpit.core.envelope.model import envelope_from_mapping
from cockpit.core.records.basics import TaskStatus
from cockpit.core.records.review import ReviewState
from cockpit.core.records.task import TaskState
from cockpit.demo import review as demo_review
from cockpit.demo.review import reviewer as reviewer  # re-exported: the tests' reply builders
from cockpit.demo.review import text as text
from cockpit.demo.review import verdict as verdict
from cockpit.demo.scripted_claude import Scenario, ScriptedClaude
from cockpit.demo.scripted_model import Scenario as ModelScenario
from cockpit.demo.scripted_model import ScriptedModel
from tests.helpers.supervisor import SupervisorThread, state_of

PYTEST = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly"]
BUGGY = "printf 'def subtract(a, b):\\n    return a + b\\n' > sub.py"
FIXED = "printf 'def subtract(a, b):\\n    return a - b\\n' > sub.py"
SUB_TEST = "from sub import subtract\n\n\ndef test_subtract():\n    assert subtract(3, 1) == 2\n"


def failing_test(
    path: str, body: str, claim: str, *, file: str | None = None, line: int | None = None
) -> dict[str, Any]:
    """The demo's challenge backed by a test the reviewer wrote, run by :data:`PYTEST`."""
    return demo_review.failing_test(path, body, claim, runner=PYTEST, file=file, line=line)


def worker(name: str, *attempts: str) -> ModelScenario:
    """The worker's thread for the task titled ``name``: each attempt runs one shell command, then says
    COMPLETED."""
    responses: list[dict[str, Any]] = []
    for n, command in enumerate(attempts, start=1):
        responses.append({"items": [{"kind": "shell", "cmd": command}]})
        responses.append({"items": [{"kind": "message", "text": f"COMPLETED: attempt {n} wrote sub.py"}]})
    return ModelScenario.model_validate({"name": name, "match": name, "responses": responses})


def review_task(board: Blackboard, name: str, *, lane: str = "worktree", **fields: object) -> str:
    """Submit the task titled ``name`` (the worker's and the reviewer's scenarios match it); its id."""
    envelope = {
        "goal": f"Do the {name} job: add subtract(a, b) in sub.py",
        "title": name,
        "lane": lane,
        "acceptance_criteria": ["subtract(3, 1) == 2"],
        **fields,
    }
    return submit(board, envelope_from_mapping(envelope))


def run_idle(
    board: Blackboard, env: dict[str, str], reviewer_env: dict[str, str], timeout: float = 240.0
) -> SupervisorThread:
    """A supervisor run until the board is idle (its reviewers pointed by ``reviewer_env``)."""
    sup = SupervisorThread(board, env, until_idle=True, reviewer_env=reviewer_env).start()
    sup.join(timeout)
    return sup


def prompts(server: ScriptedClaude) -> list[str]:
    """The first user text of each reviewer session (its prompt), in order."""
    seen: dict[str, str] = {}
    for request in server.message_requests():
        texts = request.user_texts()
        if request.session_id not in seen and texts:
            seen[request.session_id] = texts[-1]
    return list(seen.values())


def review_on(board: Blackboard, *, lanes: tuple[str, ...] = ("worktree",), **settings: object) -> None:
    """Write the board's ``config.toml`` with ``[review]`` on for ``lanes`` (the tests' user config turns
    it off) and the given settings (``soft_cap = 2``, ...)."""
    lines = ["[review]", f"lanes = {json.dumps(list(lanes))}", "reviewer_timeout_s = 120"]
    lines += [f"{key} = {json.dumps(value)}" for key, value in settings.items()]
    (board.root / "config.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")


@dataclass(frozen=True)
class ReviewRig:
    """The challenge loop's set-up around one board with the review on: the scripted model its workers
    talk to, the scripted Messages server its reviewers talk to, and the environments a supervisor over
    them is given (the workers' additions, the reviewer's)."""

    board: Blackboard
    model: ScriptedModel
    claude: ScriptedClaude
    env: dict[str, str]
    reviewer_env: dict[str, str]

    @property
    def repo(self) -> Path:
        return self.board.repo

    def task(self, name: str, *attempts: str, reviews: Sequence[Scenario] = (), **fields: Any) -> str:
        """The worker's thread for the task titled ``name`` (one shell command an attempt), the
        reviewer's scenarios, and the task submitted (``fields`` go into its envelope); its id."""
        self.model.add_scenario(worker(name, *attempts))
        for scenario in reviews:
            self.claude.add_scenario(scenario)
        return review_task(self.board, name, **fields)

    def supervisor(self) -> SupervisorThread:
        """A supervisor over the board, not started yet (``with rig.supervisor() as sup:``)."""
        return SupervisorThread(self.board, self.env, reviewer_env=self.reviewer_env)

    def run_idle(self, timeout: float = 240.0) -> None:
        run_idle(self.board, self.env, self.reviewer_env, timeout)

    def settled(self, task_id: str, status: TaskStatus, review_status: str) -> tuple[TaskState, ReviewState]:
        """The task's state and its review, which must be ``status`` and ``review_status``."""
        state = state_of(self.board, task_id)
        assert state.status == status, state.message
        assert state.review is not None and state.review.status == review_status, state.review
        return state, state.review

    def prompts(self) -> list[str]:
        return prompts(self.claude)
