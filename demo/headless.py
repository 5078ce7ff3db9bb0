"""``cockpit demo --headless``: a throwaway repo, the scripted model and the real Codex CLI run three
tasks to the end through the local and worktree lanes; a fourth worktree task goes through the
cross-family review, the real Claude Code against the scripted Messages API server challenging it once
(:mod:`cockpit.demo.review`); and the real ``codex cloud`` runs a fifth through the cloud lane against
the project's fake Codex Cloud backend (:mod:`cockpit.demo.cloud`). Then the status table, the signals,
the reviewed task's rounds, the cloud task's progress and its best-of-2 attempts are printed, and the
diffs waiting for review merged."""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

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
from cockpit.demo.review import REVIEW_DEMO_TASK, codex_scenario, demo_reviewer
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
        "review": False,  # only the reviewed task (cockpit.demo.review) goes to Claude Code
    },
    {
        "goal": "Summarise the upstream changelog into CHANGES.md",
        "title": "Summarise the upstream changelog",
        "lane": "worktree",
        "effort": "minimal",
        "output": {"path": "CHANGES.md", "format": "markdown"},
        "review": False,
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
        demo_reviewer(workdir, lambda why: print(f"the reviewed task is left out: {why}")) as reviewer,
        ScriptedModel([*scenarios, codex_scenario()]) as model,
        demo_cloud(workdir, board, lambda why: print(f"fake Codex Cloud: not started ({why})")) as cloud,
    ):
        env = demo_worker_env(workdir, model.base_url)
        print(f"scripted model:  {model.base_url}")
        if reviewer is not None:
            print(f"scripted Claude: {reviewer.server.base_url} (Claude Code {reviewer.claude.version()})")
        if cloud is not None:
            print(f"fake Codex Cloud: {cloud.address} (environment {DEMO_CLOUD_ENV})")
        print()
        notes, subtract, changelog = (_submit(board, fields) for fields in DEMO_TASKS)
        reviewed = _submit(board, REVIEW_DEMO_TASK) if reviewer is not None else None
        cloud_task = _submit(board, CLOUD_DEMO_TASK) if cloud is not None else None
        supervisor = Supervisor(board, env=env, reviewer_env=reviewer.env if reviewer is not None else None)
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
    expected = {
        notes: TaskStatus.SUCCEEDED,
        subtract: TaskStatus.REVIEW,
        changelog: TaskStatus.AWAITING_DECISION,
        **({reviewed: TaskStatus.REVIEW} if reviewed is not None else {}),
        **({cloud_task: TaskStatus.REVIEW} if cloud_task is not None else {}),
    }
    by_id = {state.id: state for state in states}
    got = {task_id: state.status for task_id, state in by_id.items()}
    if got != expected:
        print(f"\nunexpected demo outcome: {[s.status.value for s in states]}", file=sys.stderr)
        return 1
    gated = by_id[changelog]
    print(f"\n{gated.id} tried {len(gated.attempts)} times and now waits for a human:")
    for attempt in gated.attempts:
        print(f"  attempt {attempt.n} ({attempt.kind}): {attempt.error or 'ok'}"[:150])
    card = supervisor.decisions.get(gated.decision_id or "")
    if card is not None:
        print()
        print("\n".join(f"  {line}" for line in render_markdown(card).splitlines()))
    review = by_id[subtract]
    print(f"\n{review.id} waits for review on {review.branch}; the demo approves it:")
    print(f"  $ cockpit merge {review.id}")
    print(f"  {run_task_command(board, 'merge', review.id)}")
    if reviewed is not None:
        _review_history(by_id[reviewed])
        print(f"\n{reviewed} waits for review on {by_id[reviewed].branch}; the demo approves it:")
        print(f"  $ cockpit merge {reviewed}")
        print(f"  {run_task_command(board, 'merge', reviewed)}")
    if cloud_task is not None and not _cloud_review(board, by_id[cloud_task]):
        return 1
    log = Repo(repo_path).git.log("--oneline", "--graph", "-10", "main")
    print("\nmain now reads:\n" + "\n".join(f"  {line}" for line in log.splitlines()))
    return 0


def _submit(board: Blackboard, fields: dict[str, Any]) -> str:
    task_id = submit(board, envelope_from_mapping(fields))
    print(f"submitted {task_id:<40} lane={fields['lane']}")
    return task_id


def _review_history(state: TaskState) -> None:
    """Print the reviewed task's way through the cross-family review: each round's verdict and what
    the cockpit decided, each challenge with its evidence and the judge's label and exit code, and the
    attempt Codex made with a round's feedback."""
    review = state.review
    rounds = review.rounds if review is not None else []
    print(f"\n{state.id} was reviewed by Claude Code (the real CLI, the scripted Messages API):")
    for rnd in rounds:
        cost = f", ${rnd.reviewer.cost_usd:.4f}" if rnd.reviewer.cost_usd else ""
        print(f"  round {rnd.n} (attempt {rnd.attempt}{cost}): {rnd.verdict}; {rnd.decision or 'under way'}")
        for c in rnd.challenges:
            where = f" {c.where}" if c.where else ""
            print(f"    [{c.label or 'unlabelled'}] {c.kind}{where}: {c.claim}")
            print(f"      evidence: {c.evidence.shown}")
            if c.judge is not None:
                print(f"      judge: exit {c.judge.exit_code} in codex sandbox — {c.label_reason}")
                failure = _last_error(c.judge.stdout_tail + "\n" + c.judge.stderr_tail)
                if failure:
                    print(f"        {failure}")
            elif c.label_reason:
                print(f"      judge: {c.label_reason}")
        following = state.attempts[rnd.attempt] if rnd.attempt < len(state.attempts) else None
        if following is not None:
            resumed = ", the thread resumed" if following.resumed_thread else ""
            outcome = following.outcome.detail if following.outcome else following.error or ""
            print(f"  back to Codex: attempt {following.n} ({following.kind}{resumed}): {outcome}"[:160])
    if review is not None:
        print(f"  review: {review.status} after {len(rounds)} round{'s' if len(rounds) != 1 else ''}")


def _last_error(output: str) -> str:
    """The last line of a test run's output that names an error (``AssertionError: 2 != 2.5``)."""
    lines = [line.strip() for line in output.splitlines() if "Error" in line]
    return lines[-1] if lines else ""


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
