"""``cockpit demo --headless``: a throwaway repo, the scripted model and the real Codex CLI run three
tasks to the end through the local and worktree lanes, and the real ``codex cloud`` runs a fourth
through the cloud lane against the project's fake Codex Cloud backend (:mod:`cockpit.demo.cloud`); then
the status table, the signals, the cloud task's progress and its best-of-2 attempts are printed, and
the reviewed diffs merged."""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from git import Repo

from cockpit.core import (
    BOARD_EVENTS_FILE,
    Blackboard,
    Supervisor,
    TaskState,
    TaskStatus,
    envelope_from_mapping,
    render_markdown,
    run_task_command,
    submit,
)
from cockpit.demo.cloud import CLOUD_DEMO_TASK, DEMO_CLOUD_ENV, demo_cloud
from cockpit.demo.codex_home import demo_worker_env
from cockpit.demo.repo import make_demo_repo, write_demo_config
from cockpit.demo.scripted_model import ScriptedModel, load_scenario

SCENARIOS = Path(__file__).parent / "scenarios"

DEMO_TASKS = [
    {
        "goal": "Write NOTES.md that summarises what calc.py offers",
        "title": "Write NOTES.md",
        "lane": "local",
        "effort": "low",
        "inputs": ["calc.py: the module to describe"],
        "output": {"path": "NOTES.md", "format": "markdown"},
        "acceptance_criteria": ["NOTES.md exists and names every function in calc.py"],
    },
    {
        "goal": "Add a subtract function to calc.py with a test",
        "title": "Add a subtract function",
        "lane": "worktree",
        "effort": "medium",
        "inputs": ["calc.py: the module to extend"],
        "acceptance_criteria": ["subtract(5, 3) == 2", "a test covers add and subtract"],
        "budget": {"tokens": 40000, "tool_calls": 8, "wall_time": "10m"},
    },
    {
        "goal": "Summarise the upstream changelog into CHANGES.md",
        "title": "Summarise the upstream changelog",
        "lane": "worktree",
        "effort": "minimal",
        "output": {"path": "CHANGES.md", "format": "markdown"},
    },
]


def run_demo(show_status: Callable[[Blackboard], None], keep: bool = False) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="cockpit-demo-"))
    try:
        return asyncio.run(_run(workdir, show_status))
    finally:
        if keep:
            print(f"\nthe demo repository is kept at {workdir / 'repo'}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


async def _run(workdir: Path, show_status: Callable[[Blackboard], None]) -> int:
    repo_path = workdir / "repo"
    make_demo_repo(repo_path)
    scenarios = [load_scenario(p) for p in sorted(SCENARIOS.glob("demo-*.toml"))]
    board = Blackboard(repo_path)
    board.init()
    write_demo_config(board.root)
    print(f"demo repository: {repo_path}")
    with (
        ScriptedModel(scenarios) as model,
        demo_cloud(workdir, board, lambda why: print(f"fake Codex Cloud: not started ({why})")) as cloud,
    ):
        env = demo_worker_env(workdir, model.base_url)
        print(f"scripted model:  {model.base_url}")
        if cloud is not None:
            print(f"fake Codex Cloud: {cloud.address} (environment {DEMO_CLOUD_ENV})")
        print()
        tasks = [*DEMO_TASKS, *([CLOUD_DEMO_TASK] if cloud is not None else [])]
        for fields in tasks:
            task_id = submit(board, envelope_from_mapping(fields))
            print(f"submitted {task_id:<40} lane={fields['lane']}")
        supervisor = Supervisor(board, env=env)
        print(f"\nrunning with {supervisor.codex.path.name} {supervisor.codex.version()} ...\n")
        await supervisor.run(until_idle=True)
    show_status(board)
    print("\ncredit windows (read from the real Codex rollout files):")
    for line in supervisor.windows.snapshot().to_lines(time.time()):
        print(f"  {line}")
    states = board.states()
    print()
    for state in states:
        last = state.last_attempt
        print(f"{state.id}: {state.status.value} — {state.message}")
        if last and last.outcome and last.outcome.status:
            print(f"    last message: {last.outcome.status}: {last.outcome.detail}")
    expected = [TaskStatus.SUCCEEDED, TaskStatus.REVIEW, TaskStatus.AWAITING_DECISION]
    if cloud is not None:
        expected.append(TaskStatus.REVIEW)
    got = [s.status for s in states]
    if got != expected:
        print(f"\nunexpected demo outcome: {[g.value for g in got]}", file=sys.stderr)
        return 1
    gated = states[2]
    print(f"\n{gated.id} tried {len(gated.attempts)} times and now waits for a human:")
    for attempt in gated.attempts:
        print(f"  attempt {attempt.n} ({attempt.kind}): {attempt.error or 'ok'}"[:150])
    card = supervisor.decisions.get(gated.decision_id or "")
    if card is not None:
        print()
        print("\n".join(f"  {line}" for line in render_markdown(card).splitlines()))
    review = states[1]
    print(f"\n{review.id} waits for review on {review.branch}; the demo approves it:")
    print(f"  $ cockpit merge {review.id}")
    print(f"  {run_task_command(board, 'merge', review.id)}")
    if cloud is not None and not _cloud_review(board, states[3]):
        return 1
    log = Repo(repo_path).git.log("--oneline", "--graph", "-8", "main")
    print("\nmain now reads:\n" + "\n".join(f"  {line}" for line in log.splitlines()))
    return 0


def _cloud_review(board: Blackboard, state: TaskState) -> bool:
    """Print the cloud task's way through Codex Cloud and its best-of-2 attempts, then pick the second
    attempt and merge it; False when the task did not come back with two attempts to choose from."""
    run = state.last_attempt.cloud if state.last_attempt else None
    if run is None or len(run.results) < 2:
        print(f"\nunexpected cloud outcome: {state.message}", file=sys.stderr)
        return False
    print(f"\n{state.id} went through Codex Cloud (the fake backend) as {run.task_id}:")
    for event in board.read_jsonl(BOARD_EVENTS_FILE):
        if event.get("task_id") == state.id and event.get("line"):
            print(f"  {event['line']}")
    print(f"  {run.url}")
    print(f"\nbest of {run.best_of}: {len(run.results)} attempts came back; the branch holds the chosen one:")
    for result in run.results:
        mark = "▸" if result.chosen else " "
        paths = ", ".join(result.paths[:3])
        stat = f"{result.files} file(s) +{result.insertions} -{result.deletions}"
        print(f"  {mark} attempt {result.n}: {stat}  {paths}")
    print("\nthe demo picks attempt 2 instead, then approves it:")
    print(f"  $ cockpit pick {state.id} 2")
    print(f"  {run_task_command(board, 'pick', state.id, attempt=2)}")
    print(f"  $ cockpit merge {state.id}")
    print(f"  {run_task_command(board, 'merge', state.id)}")
    return True
