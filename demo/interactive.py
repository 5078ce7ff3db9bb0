"""``cockpit demo``: the full-screen cockpit on a throwaway repo. The scripted model and the real Codex
CLI run the demo's three tasks through the local and worktree lanes — one stops at a human gate (the
decision modal opens), one diff waits for review — and a fourth through the mcp lane, where Codex asks
before running a command outside the sandbox (the escalation modal opens); the real ``codex cloud``
runs a fifth, best of 2, through the cloud lane against the project's fake Codex Cloud backend
(:mod:`cockpit.demo.cloud`): pending for a few seconds, then waiting for review. Quitting stops the
demo's workers and the fake cloud, and removes the throwaway repo unless ``--keep`` was given."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cockpit.core import Blackboard, TaskStatus, envelope_from_mapping, submit
from cockpit.demo.cloud import CLOUD_DEMO_TASK, DemoCloud, demo_cloud
from cockpit.demo.codex_home import demo_worker_env
from cockpit.demo.headless import DEMO_TASKS, SCENARIOS
from cockpit.demo.repo import make_demo_repo, write_demo_config
from cockpit.demo.scripted_model import ScriptedModel, load_scenario

# Only the full-screen demo runs this one: its approval waits for a person (the headless demo has none).
MCP_DEMO_TASK = {
    "goal": "Check that calc.py imports cleanly and record the check in CHECKS.md",
    "title": "Check calc.py imports",
    "lane": "mcp",
    "effort": "low",
    "inputs": ["calc.py: the module to check"],
    "output": {"path": "CHECKS.md", "format": "markdown"},
}


@dataclass(frozen=True)
class DemoSetup:
    """A throwaway repo with the demo tasks submitted, and the env that points Codex at the model.
    ``task_ids``: the local and worktree tasks, the mcp task, then the cloud task (``cloud_task``; None,
    and no cloud task, when the fake cloud could not start: ``cloud_note`` says why)."""

    workdir: Path
    repo: Path
    env: dict[str, str]
    model: ScriptedModel
    task_ids: tuple[str, ...]
    cloud: DemoCloud | None = None
    cloud_task: str | None = None
    cloud_note: str | None = None


@contextlib.contextmanager
def demo_setup(workdir: Path | None = None, *, keep: bool = False) -> Iterator[DemoSetup]:
    """Create the repo, start the scripted model and the fake cloud, submit the tasks; undo it all on
    exit."""
    workdir = workdir or Path(tempfile.mkdtemp(prefix="cockpit-demo-"))
    repo = workdir / "repo"
    make_demo_repo(repo)
    scenarios = [load_scenario(p) for p in sorted(SCENARIOS.glob("demo-*.toml"))]
    board = Blackboard(repo)
    board.init()
    write_demo_config(board.root)
    notes: list[str] = []
    try:
        with ScriptedModel(scenarios) as model, demo_cloud(workdir, board, notes.append) as cloud:
            env = demo_worker_env(workdir, model.base_url)
            ids = [submit(board, envelope_from_mapping(fields)) for fields in [*DEMO_TASKS, MCP_DEMO_TASK]]
            cloud_task = submit(board, envelope_from_mapping(CLOUD_DEMO_TASK)) if cloud else None
            if cloud_task is not None:
                ids.append(cloud_task)
            note = f"the demo runs without the cloud lane: {notes[0]}" if notes else None
            try:
                yield DemoSetup(workdir, repo, env, model, tuple(ids), cloud, cloud_task, note)
            finally:
                stop_workers(board)
    finally:
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)


def stop_workers(board: Blackboard) -> int:
    """Interrupt the runners of tasks still running (the demo's model is about to go away)."""
    stopped = 0
    for state in board.states():
        attempt = state.last_attempt
        if state.status == TaskStatus.RUNNING and attempt and attempt.runner_pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(attempt.runner_pid, signal.SIGTERM)
                stopped += 1
    return stopped


def run_interactive_demo(keep: bool = False) -> int:
    from cockpit.tui.app import CockpitApp

    with demo_setup(keep=keep) as setup:
        if setup.cloud_note:
            print(setup.cloud_note, file=sys.stderr, flush=True)
        CockpitApp(setup.repo, env=setup.env).run()
    if setup.cloud_note:
        print(setup.cloud_note, file=sys.stderr, flush=True)
    if keep:
        print(f"the demo repository is kept at {setup.repo}", flush=True)
    return 0
