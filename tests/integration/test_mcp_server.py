"""``cockpit mcp`` through a real MCP client session: the SDK's stdio client spawns the installed
``cockpit mcp --repo <repo>`` and calls its tools. The task flow runs a real supervisor with the pinned
Codex binary against the scripted model; decisions are real cards on the blackboard."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from mcp import ClientSession, StdioServerParameters, stdio_client

from cockpit.core.archive import ArchiveSelection, run_archive
from cockpit.core.atomic import atomic_write_text
from cockpit.core.board.blackboard import Blackboard
from cockpit.core.board.decisions import DecisionCard, DecisionStore
from cockpit.core.commands import submit
from cockpit.core.envelope.model import envelope_from_mapping
from cockpit.core.layout import cloud_diff_file
from cockpit.core.policy.gates import failure_gate, merge_gate, open_gate
from cockpit.core.records.attempt import Attempt
from cockpit.core.records.basics import TaskStatus, utc_now
from cockpit.core.records.cloud import CloudResult, CloudRun
from cockpit.core.records.task import TaskState
from cockpit.demo.fake_cloud.store import TASK_URL_PREFIX as CLOUD_URL
from cockpit.demo.fake_cloud.store import new_file_diff
from cockpit.demo.scripted_model import Scenario, ScriptedModel
from tests.helpers.archive import put_task
from tests.helpers.supervisor import SupervisorThread

COCKPIT = Path(sys.executable).parent / "cockpit"
TOOLS = {
    "submit_task",
    "task_status",
    "wait_for_task",
    "list_decisions",
    "answer_decision",
    "get_task_diff",
    "get_last_message",
    "get_review",
}


@contextlib.asynccontextmanager
async def mcp_session(repo: Path) -> AsyncIterator[ClientSession]:
    """An initialised client session with ``cockpit mcp`` running as a child process."""
    params = StdioServerParameters(command=str(COCKPIT), args=["--repo", str(repo), "mcp"])
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        yield session


async def call(session: ClientSession, tool: str, **arguments: Any) -> dict[str, Any]:
    result = await session.call_tool(tool, arguments)
    assert not result.is_error, result.content
    assert isinstance(result.structured_content, dict)
    return result.structured_content


async def refused(session: ClientSession, tool: str, **arguments: Any) -> str:
    """The one-line message of a tool error."""
    result = await session.call_tool(tool, arguments)
    assert result.is_error, result.structured_content
    text = result.content[0].text  # type: ignore[union-attr]
    assert "\n" not in text
    return text


def store(board: Blackboard) -> DecisionStore:
    return DecisionStore(board.root, utc_now, on_corrupt=board.quarantine, on_event=board.log_event)


def gated(board: Blackboard, task_id: str, trigger: str) -> DecisionCard:
    """A pending card as the supervisor opens it for ``trigger``."""
    state = TaskState(
        id=task_id, lane="worktree", title=task_id, branch=f"cockpit/{task_id}", base_branch="main"
    )
    gate = (
        merge_gate(state) if trigger == "merge" else failure_gate(state, trigger, "3 failed attempts", None)
    )
    return open_gate(store(board), state, gate)


async def test_lists_the_tools_with_descriptions_and_schemas(repo: Path) -> None:
    async with mcp_session(repo) as session:
        tools = {t.name: t for t in (await session.list_tools()).tools}
    assert set(tools) == TOOLS
    for tool in tools.values():
        assert tool.description and len(tool.description) > 40, tool.name
        assert tool.annotations is not None
    assert tools["submit_task"].input_schema["required"] == ["envelope"]
    assert tools["wait_for_task"].input_schema["properties"]["timeout_s"]["default"] == 600
    assert set(tools["answer_decision"].input_schema["required"]) == {"decision", "option"}
    assert tools["get_task_diff"].annotations.read_only_hint
    assert not tools["submit_task"].annotations.read_only_hint


async def test_submit_task_validates_like_the_cli_and_lands_in_the_inbox(repo: Path) -> None:
    board = Blackboard(repo)
    (board.root / "config.toml").write_text('default_lane = "local"\n')
    bad = {"goal": "Count the lines", "budget": {"tokens": -5}}
    envelope_file = repo / "bad.json"
    envelope_file.write_text(json.dumps(bad))
    cli = subprocess.run(
        [str(COCKPIT), "--repo", str(repo), "submit", str(envelope_file)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert cli.returncode == 2
    async with mcp_session(repo) as session:
        message = await refused(session, "submit_task", envelope=bad)
        assert message == "invalid envelope: budget.tokens: must be a positive integer"
        assert cli.stderr.strip() == f"cockpit: {message}"
        assert await refused(session, "submit_task", envelope={"title": "no goal"}) == (
            "invalid envelope: goal: field required"
        )
        outside = {"goal": "Write a report", "output": {"path": "../report.md"}}
        assert (await refused(session, "submit_task", envelope=outside)).startswith(
            "invalid envelope: output.path: outside the repository"
        )
        assert not board.inbox()

        submitted = await call(session, "submit_task", envelope={"goal": "Count the lines", "title": "count"})
        task_id = submitted["task_id"]
        assert submitted["lane"] == "local"  # the config's default lane, as `cockpit submit` does
        assert not submitted["supervisor_running"] and "cockpit run" in submitted["note"]
        drops = [i.data for i in board.inbox() if i.kind == "submit"]
        assert [d["task_id"] for d in drops] == [task_id]
        assert drops[0]["envelope"]["lane"] == "local"

        row = await call(session, "task_status", task=task_id[:8])
        assert (row["id"], row["status"], row["settled"]) == (task_id, "submitted (in the inbox)", False)
        everything = await call(session, "task_status")
        assert [t["id"] for t in everything["tasks"]] == [task_id]
        assert everything["supervisor"]["running"] is False

        waited = await call(session, "wait_for_task", task=task_id, timeout_s=0.3)
        assert waited["timed_out"] is True and waited["status"] == "submitted (in the inbox)"
        assert "no supervisor" in waited["note"]

        assert await refused(session, "task_status", task="nope") == "no task 'nope'"
        assert (await refused(session, "get_task_diff", task=task_id)).startswith(
            f"task {task_id} is still in the inbox"
        )


@pytest.mark.codex
async def test_worktree_task_runs_through_a_live_supervisor(
    repo: Path, scripted_model: ScriptedModel, cockpit_env: dict[str, str]
) -> None:
    patch = "*** Begin Patch\n*** Add File: notes/todo.md\n+# Todo\n+- ship it\n*** End Patch"
    scripted_model.add_scenario(
        Scenario.model_validate(
            {
                "name": "mcp-patch-job",
                "match": "mcp-patch-job",
                "responses": [
                    {"items": [{"kind": "apply_patch", "patch": patch}]},
                    {"items": [{"kind": "message", "text": "COMPLETED: added notes/todo.md"}]},
                ],
            }
        )
    )
    board = Blackboard(repo)
    supervisor = SupervisorThread(board, cockpit_env).start()
    try:
        async with mcp_session(repo) as session:
            envelope = {"goal": "Do the mcp-patch-job", "title": "mcp-patch-job", "lane": "worktree"}
            task_id = (await call(session, "submit_task", envelope=envelope))["task_id"]

            progress: list[str] = []

            async def on_progress(_done: float, _total: float | None, message: str | None) -> None:
                progress.append(message or "")

            result = await session.call_tool(
                "wait_for_task", {"task": task_id, "timeout_s": 120}, progress_callback=on_progress
            )
            assert not result.is_error, result.content
            done = result.structured_content
            assert done["timed_out"] is False, done
            assert done["status"] == "review" and done["settled"], done["message"]
            assert done["signals"] == {"exit_code": 0, "turn_completed": True, "last_message": True}
            assert done["attempts"] == 1 and done["branch"] == f"cockpit/{task_id}"
            assert done["supervisor"]["running"] is True
            assert progress and progress[-1] == f"{task_id}: review"  # one notification per status seen

            row = await call(session, "task_status", task=task_id)
            assert row["status"] == "review" and row["decision_id"] is None

            diff = await call(session, "get_task_diff", task=task_id)
            assert "+++ b/notes/todo.md" in diff["diff"] and "+- ship it" in diff["diff"]
            assert diff["truncated"] is False
            assert diff["stat"]["files"] == 1 and diff["stat"]["insertions"] == 2
            assert diff["stat"]["per_file"][0]["path"] == "notes/todo.md"

            last = await call(session, "get_last_message", task=task_id)
            assert last["attempt"] == 1 and last["message"].startswith("COMPLETED:")
            assert last["outcome"]["status"] == "COMPLETED"
            first = await call(session, "get_last_message", task=task_id, attempt=1)
            assert first["message"] == last["message"]
            assert (await refused(session, "get_last_message", task=task_id, attempt=3)) == (
                f"task {task_id} has no attempt 3 (attempts: 1)"
            )
    finally:
        supervisor.stop()
    assert not (repo / "notes").exists()  # the change stays on the task's branch until merged


async def test_orchestrator_answers_only_the_triggers_the_project_allows(repo: Path) -> None:
    board = Blackboard(repo)
    failing = gated(board, "flaky-job-0001", "repeated_failures")
    merging = gated(board, "ready-job-0002", "merge")
    async with mcp_session(repo) as session:
        listed = await call(session, "list_decisions")
        cards = {c["id"]: c for c in listed["decisions"]}
        assert set(cards) == {failing.id, merging.id}
        assert cards[failing.id]["orchestrator_may_answer"] is True
        assert cards[merging.id]["orchestrator_may_answer"] is False
        assert [o["key"] for o in cards[failing.id]["options"]] == ["A", "B", "C"]
        assert cards[failing.id]["recommended"] == "A" and cards[failing.id]["default"] == "B"
        assert cards[failing.id]["trigger"] == "repeated_failures" and cards[failing.id]["deadline"]
        assert "merge" not in listed["orchestrator_may_answer"]

        message = await refused(session, "answer_decision", decision=merging.id, option="A")
        assert message.startswith(f"{merging.id} (merge) is for the human: ")
        assert f"cockpit decide {merging.id}" in message
        assert store(board).get(merging.id).is_pending

        assert (await refused(session, "answer_decision", decision=failing.id, option="Z")).startswith(
            f"{failing.id} has no option 'Z'"
        )
        answer = await call(
            session, "answer_decision", decision=str(failing.number), option="a", note="one more try"
        )
        assert (answer["decision"], answer["option"], answer["action"], answer["by"]) == (
            failing.id,
            "A",
            "retry",
            "orchestrator",
        )
        assert "when a supervisor runs" in answer["applied"]
        resolved = store(board).get(failing.id)
        assert resolved is not None and resolved.resolved is not None
        assert (resolved.resolved.by, resolved.resolved.note) == ("orchestrator", "one more try")
        rows = [r for r in board.read_jsonl("events.jsonl") if r.get("kind") == "decision_resolved"]
        assert [(r["decision"], r["by"]) for r in rows] == [(failing.id, "orchestrator")]
        assert (await refused(session, "answer_decision", decision=failing.id, option="B")).startswith(
            f"{failing.id} was already resolved with A (retry) by orchestrator"
        )
        assert [c["id"] for c in (await call(session, "list_decisions"))["decisions"]] == [merging.id]

        # The project can hand more to the orchestrator; a bad setting is reported like the CLI does.
        config = board.root / "config.toml"
        config.write_text('orchestrator_may_answer = ["merge"]\n')
        merged = await call(session, "answer_decision", decision=merging.id, option="C")
        assert (merged["action"], merged["by"]) == ("keep", "orchestrator")
        config.write_text('orchestrator_may_answer = ["Merge!"]\n')
        message = await refused(session, "list_decisions")
        assert message.startswith("invalid config: orchestrator_may_answer: ") and "'Merge!'" in message
        assert (await refused(session, "answer_decision", decision="decision-999", option="A")) == (
            "no decision decision-999"
        )


def test_serve_refuses_a_missing_repository(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(COCKPIT), "--repo", str(tmp_path / "missing"), "mcp"],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        env=dict(os.environ),
    )
    assert result.returncode == 2
    assert result.stderr.strip() == f"cockpit: no repository at {tmp_path / 'missing'}"


async def test_tools_resolve_task_refs_by_the_cli_rules(repo: Path) -> None:
    board = Blackboard(repo)
    board.write_state(TaskState(id="only-task-0001", lane="local", title="only"))
    waiting = submit(board, envelope_from_mapping({"goal": "wait", "title": "inbox job", "lane": "local"}))
    async with mcp_session(repo) as session:
        assert await refused(session, "task_status", task="") == "invalid task id '': empty"
        assert (await refused(session, "task_status", task="onl")).startswith(
            "invalid task id 'onl': a prefix needs at least 4 characters"
        )
        assert (await refused(session, "get_task_diff", task="../only-task-0001")).startswith(
            "invalid task id '../only-task-0001': no path separators"
        )
        assert (await refused(session, "get_last_message", task="only/")).startswith(
            "invalid task id 'only/': no path separators"
        )
        assert await refused(session, "wait_for_task", task="   ", timeout_s=0) == (
            "invalid task id '': empty"
        )
        assert (await refused(session, "answer_decision", decision="../decision-001", option="A")).startswith(
            "not a decision id"
        )
        assert (await call(session, "task_status", task="only"))["id"] == "only-task-0001"
        assert (await call(session, "task_status", task=waiting[:6]))["id"] == waiting
        assert {t["id"] for t in (await call(session, "task_status"))["tasks"]} == {"only-task-0001", waiting}


async def test_an_archived_task_still_reads_through_the_tools(repo: Path) -> None:
    board = Blackboard(repo)
    put_task(board, "archived-task-0001", TaskStatus.SUCCEEDED, age_days=9)
    report = run_archive(board, ArchiveSelection(task_ids=["archived-task-0001"]))
    assert [a.task_id for a in report.archived] == ["archived-task-0001"]
    async with mcp_session(repo) as session:
        row = await call(session, "task_status", task="archived-task")
        assert row["id"] == "archived-task-0001" and row["status"] == "succeeded"
        waited = await call(session, "wait_for_task", task="archived-task-0001", timeout_s=0)
        assert waited["settled"] is True and waited["timed_out"] is False
        message = await call(session, "get_last_message", task="archived-task-0001")
        assert message["message"].startswith("COMPLETED: done")
        assert (await call(session, "task_status"))["tasks"] == []  # the list: live tasks only


def put_cloud_task(board: Blackboard, task_id: str) -> TaskState:
    """A cloud task in review as the supervisor leaves it: best of 3 (attempt 1 on the branch, attempt 3
    with no diff), each attempt's diff in the attempt's directory, the branch's in diff.patch."""
    envelope = envelope_from_mapping(
        {"goal": "Greet", "lane": "cloud", "cloud_env": "fake/repo", "attempts": 3}
    )
    board.write_envelope(task_id, envelope)
    diffs = {k: new_file_diff(f"greeting_{k}.txt", f"hello {k}\nfrom attempt {k}\n") for k in (1, 2)}
    directory = board.attempt_dir(task_id, 1)
    directory.mkdir(parents=True, exist_ok=True)
    for k, diff in diffs.items():
        atomic_write_text(directory / cloud_diff_file(k), diff)
    atomic_write_text(board.task_dir(task_id) / "diff.patch", diffs[1])
    results = [
        CloudResult(n=k, files=1, insertions=2, paths=[f"greeting_{k}.txt"], diff_file=cloud_diff_file(k))
        for k in (1, 2)
    ]
    results[0].chosen = True
    results.append(CloudResult(n=3))
    run = CloudRun(
        env="fake/repo", best_of=3, task_id="task_e_0123", url=f"{CLOUD_URL}task_e_0123", status="ready"
    )
    run.results = results
    state = TaskState(
        id=task_id,
        lane="cloud",
        title="Greet",
        status=TaskStatus.REVIEW,
        attempts=[Attempt(n=1, deadline_s=600, cloud=run)],
        branch=f"cockpit/{task_id}",
        base_branch="main",
    )
    board.write_state(state)
    return state


async def test_get_task_diff_shows_a_cloud_tasks_attempts_and_refuses_bad_ones(repo: Path) -> None:
    board = Blackboard(repo)
    put_cloud_task(board, "greet-cloud-0001")
    board.write_state(TaskState(id="queued-cloud-0002", lane="cloud", title="later"))
    board.write_state(TaskState(id="plain-work-0003", lane="worktree", title="plain"))
    async with mcp_session(repo) as session:
        schema = {t.name: t for t in (await session.list_tools()).tools}["get_task_diff"].input_schema
        assert (schema["properties"]["attempt"]["minimum"], schema["properties"]["attempt"]["maximum"]) == (
            1,
            4,
        )
        branch = await call(session, "get_task_diff", task="greet-cloud")
        assert branch["diff"].startswith("diff --git a/greeting_1.txt") and "attempt" not in branch
        assert branch["cloud_task_id"] == "task_e_0123" and branch["branch"] == "cockpit/greet-cloud-0001"
        assert branch["cloud_attempts"] == [
            {"n": 1, "files": 1, "insertions": 2, "deletions": 0, "chosen": True, "has_diff": True},
            {"n": 2, "files": 1, "insertions": 2, "deletions": 0, "chosen": False, "has_diff": True},
            {"n": 3, "files": 0, "insertions": 0, "deletions": 0, "chosen": False, "has_diff": False},
        ]
        second = await call(session, "get_task_diff", task="greet-cloud-0001", attempt=2)
        assert (second["attempt"], second["chosen"]) == (2, False)
        assert second["diff"].startswith("diff --git a/greeting_2.txt") and "from attempt 2" in second["diff"]
        assert second["stat"]["per_file"] == [
            {"path": "greeting_2.txt", "added": 2, "removed": 0, "binary": False}
        ]
        assert second["cloud_attempts"] == branch["cloud_attempts"]
        third = await call(session, "get_task_diff", task="greet-cloud-0001", attempt=3)
        assert third["diff"] == "" and third["note"] == "attempt 3 came back with no diff"

        for bad in (0, 5, -1):
            assert await refused(session, "get_task_diff", task="greet-cloud-0001", attempt=bad) == (
                f"attempt must be 1-4 (a cloud task's best-of-N attempts), got {bad}"
            )
        assert await refused(session, "get_task_diff", task="greet-cloud-0001", attempt=4) == (
            "task greet-cloud-0001 has attempts 1-3; there is no attempt 4"
        )
        assert await refused(session, "get_task_diff", task="plain-work-0003", attempt=1) == (
            "task plain-work-0003 is in the worktree lane: attempt is for cloud tasks (best-of-N); "
            "omit it for the task's diff"
        )
        assert await refused(session, "get_task_diff", task="queued-cloud-0002", attempt=1) == (
            "task queued-cloud-0002 has no cloud attempts to show yet (it is queued)"
        )

        # task_status and `status --json` share the row: the cloud task's id, URL and remote status.
        cloud = {"task_id": "task_e_0123", "url": f"{CLOUD_URL}task_e_0123", "status": "ready"}
        assert (await call(session, "task_status", task="greet-cloud"))["cloud"] == cloud
        rows = {r["id"]: r for r in (await call(session, "task_status"))["tasks"]}
        assert rows["greet-cloud-0001"]["cloud"] == cloud
        assert rows["queued-cloud-0002"]["cloud"] == {"task_id": None, "url": None, "status": None}
        assert "cloud" not in rows["plain-work-0003"]
    status = subprocess.run(
        [str(COCKPIT), "--repo", str(repo), "status", "--json"], capture_output=True, text=True, timeout=60
    )
    assert status.returncode == 0, status.stderr
    rows = {r["id"]: r for r in json.loads(status.stdout)}
    assert rows["greet-cloud-0001"]["cloud"] == cloud and "cloud" not in rows["plain-work-0003"]
