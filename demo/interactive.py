"""``cockpit demo``: the full-screen cockpit on a throwaway repo. The scripted model and the real Codex
CLI run the demo's three tasks through the local and worktree lanes — one stops at a human gate (the
decision modal opens), one diff waits for review — and a fourth through the mcp lane, where Codex asks
before running a command outside the sandbox (the escalation modal opens). A fifth, in the worktree
lane, is reviewed by the real Claude Code against the scripted Messages API server
(:mod:`cockpit.demo.review`): its card goes reviewing, challenged and back to Codex, reviewing again,
then waits for review, paced so a person can follow it. The real ``codex cloud`` runs a sixth, best of
2, through the cloud lane against the project's fake Codex Cloud backend (:mod:`cockpit.demo.cloud`):
pending for a few seconds, then waiting for review. Quitting stops the demo's workers, its reviewer's
server and the fake cloud, and removes the throwaway repo unless ``--keep`` was given."""

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
from cockpit.demo.review import REVIEW_DEMO_TASK, REVIEW_PACE_MS, DemoReviewer, codex_scenario, demo_reviewer
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
    ``task_ids``: the local and worktree tasks, the mcp task, the reviewed task (``review_task``; None,
    and no such task, when no Claude Code CLI was found: ``review_note`` says why), then the cloud task
    (``cloud_task``; None, and no cloud task, when the fake cloud could not start: ``cloud_note`` says
    why). ``reviewer_env``: the changes to the reviewer's environment the supervisor is given."""

    workdir: Path
    repo: Path
    env: dict[str, str]
    model: ScriptedModel
    task_ids: tuple[str, ...]
    cloud: DemoCloud | None = None
    cloud_task: str | None = None
    cloud_note: str | None = None
    reviewer: DemoReviewer | None = None
    review_task: str | None = None
    review_note: str | None = None

    @property
    def reviewer_env(self) -> dict[str, str | None] | None:
        return self.reviewer.env if self.reviewer is not None else None

    @property
    def notes(self) -> list[str]:
        """What the demo runs without, and why."""
        return [note for note in (self.review_note, self.cloud_note) if note]


@contextlib.contextmanager
def demo_setup(
    workdir: Path | None = None, *, keep: bool = False, review_pace_ms: int = REVIEW_PACE_MS
) -> Iterator[DemoSetup]:
    """Create the repo, start the scripted model, the reviewer's scripted server and the fake cloud,
    submit the tasks; undo it all on exit. ``review_pace_ms``: how long the reviewed task's paced
    replies are held (:data:`~cockpit.demo.review.REVIEW_PACE_MS`)."""
    workdir = workdir or Path(tempfile.mkdtemp(prefix="cockpit-demo-"))
    repo = workdir / "repo"
    make_demo_repo(repo)
    scenarios = [load_scenario(p) for p in sorted(SCENARIOS.glob("demo-*.toml"))]
    board = Blackboard(repo)
    board.init()
    write_demo_config(board.root)
    notes: list[str] = []
    missing: list[str] = []
    try:
        with (
            demo_reviewer(workdir, missing.append, pace_ms=review_pace_ms) as reviewer,
            ScriptedModel([*scenarios, codex_scenario(review_pace_ms)]) as model,
            demo_cloud(workdir, board, notes.append) as cloud,
        ):
            env = demo_worker_env(workdir, model.base_url)
            ids = [submit(board, envelope_from_mapping(fields)) for fields in [*DEMO_TASKS, MCP_DEMO_TASK]]
            review_task = submit(board, envelope_from_mapping(REVIEW_DEMO_TASK)) if reviewer else None
            cloud_task = submit(board, envelope_from_mapping(CLOUD_DEMO_TASK)) if cloud else None
            ids += [t for t in (review_task, cloud_task) if t is not None]
            note = f"the demo runs without the cloud lane: {notes[0]}" if notes else None
            review_note = f"the demo runs without its reviewed task: {missing[0]}" if missing else None
            try:
                yield DemoSetup(
                    workdir,
                    repo,
                    env,
                    model,
                    tuple(ids),
                    cloud=cloud,
                    cloud_task=cloud_task,
                    cloud_note=note,
                    reviewer=reviewer,
                    review_task=review_task,
                    review_note=review_note,
                )
            finally:
                stop_workers(board)
    finally:
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)


def stop_workers(board: Blackboard) -> int:
    """Interrupt the runners of tasks still running and of reviews under way (the demo's model and its
    reviewer's server are about to go away)."""
    stopped = 0
    for state in board.states():
        attempt = state.last_attempt
        pid = attempt.runner_pid if attempt and state.status == TaskStatus.RUNNING else None
        last = state.review.last_round if state.review is not None else None
        if state.status == TaskStatus.REVIEWING and last is not None:
            pid = last.reviewer.runner_pid
        if pid and _is_runner(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
                stopped += 1
    return stopped


def _is_runner(pid: int) -> bool:
    """Whether ``pid`` is still one of the cockpit's detached runners (not a pid used again since)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return b"cockpit.core.attempts." in fh.read()
    except OSError:
        return True  # gone (the kill finds nothing), or no /proc to ask: trust the state


def run_interactive_demo(keep: bool = False) -> int:
    from cockpit.tui.app import CockpitApp

    with demo_setup(keep=keep) as setup:
        for note in setup.notes:
            print(note, file=sys.stderr, flush=True)
        CockpitApp(setup.repo, env=setup.env, reviewer_env=setup.reviewer_env).run()
    for note in setup.notes:
        print(note, file=sys.stderr, flush=True)
    if keep:
        print(f"the demo repository is kept at {setup.repo}", flush=True)
    return 0
