"""The rows ``status --json`` and the MCP tools list, for the cloud lane: one projection adds the Codex
Cloud task's id, URL and remote status to both shapes (``cloud``), from the task's summary or, for a
submission still in the inbox, as not known yet; other lanes' rows keep exactly the keys they had, and
the summary carries the cloud task through the task index's journal line."""

from __future__ import annotations

from pathlib import Path

from cockpit.core.board.blackboard import InboxItem
from cockpit.core.board.task_index.lines import parse_record, record_line
from cockpit.core.board.task_summary import TaskSummary
from cockpit.core.records.attempt import Attempt
from cockpit.core.records.basics import TaskStatus
from cockpit.core.records.cloud import CloudResult, CloudRun
from cockpit.core.records.task import TaskState
from cockpit.core.views.task_rows import Submission, status_row, tool_row

URL = "https://chatgpt.com/codex/tasks/task_e_0123abcd"
STATUS_KEYS = {
    "id",
    "lane",
    "state",
    "title",
    "attempts",
    "thread_id",
    "signals",
    "usage",
    "branch",
    "message",
    "created_at",
    "updated_at",
}
TOOL_KEYS = {
    "id",
    "lane",
    "status",
    "settled",
    "title",
    "attempts",
    "signals",
    "tokens",
    "message",
    "decision_id",
    "branch",
    "updated_at",
}


def cloud_state(run: CloudRun | None, status: TaskStatus = TaskStatus.RUNNING) -> TaskState:
    attempts = [Attempt(n=1, deadline_s=600, cloud=run)] if run is not None else []
    return TaskState(id="greet-0001", lane="cloud", title="Greet", status=status, attempts=attempts)


def test_a_cloud_task_row_carries_its_cloud_task_in_both_shapes() -> None:
    run = CloudRun(env="fake/repo", best_of=2, task_id="task_e_0123abcd", url=URL, status="pending")
    summary = TaskSummary.of(cloud_state(run))
    cloud = {"task_id": "task_e_0123abcd", "url": URL, "status": "pending"}
    row = status_row(summary)
    assert row["cloud"] == cloud and set(row) == STATUS_KEYS | {"cloud"}
    assert row["state"] == "running" and row["lane"] == "cloud"
    tool = tool_row(summary)
    assert tool["cloud"] == cloud and set(tool) == TOOL_KEYS | {"cloud"}


def test_the_remote_status_follows_the_last_attempt() -> None:
    submitting = TaskSummary.of(cloud_state(CloudRun(env="fake/repo")))
    assert status_row(submitting)["cloud"] == {"task_id": None, "url": None, "status": "submitting"}
    ready = CloudRun(env="e", task_id="task_e_1", url=URL, status="ready", results=[CloudResult(n=1)])
    assert tool_row(TaskSummary.of(cloud_state(ready, TaskStatus.REVIEW)))["cloud"]["status"] == "ready"
    queued = TaskSummary.of(cloud_state(None, TaskStatus.QUEUED))  # no attempt yet: nothing known
    assert tool_row(queued)["cloud"] == {"task_id": None, "url": None, "status": None}


def test_other_lanes_keep_exactly_their_keys() -> None:
    for lane in ("local", "worktree", "mcp"):
        summary = TaskSummary.of(TaskState(id="t-0001", lane=lane, title="t"))
        assert set(status_row(summary)) == STATUS_KEYS
        assert set(tool_row(summary)) == TOOL_KEYS


def test_a_cloud_submission_in_the_inbox_has_its_cloud_task_not_known_yet() -> None:
    envelope = {"goal": "Greet", "lane": "cloud"}
    item = InboxItem(Path("inbox/x.json"), {"kind": "submit", "task_id": "greet-0002", "envelope": envelope})
    submission = Submission.of(item)
    assert submission is not None
    nothing = {"task_id": None, "url": None, "status": None}
    assert status_row(submission)["cloud"] == nothing and tool_row(submission)["cloud"] == nothing
    local = Submission(id="local-0003", lane="local", title="l")
    assert "cloud" not in status_row(local) and "cloud" not in tool_row(local)


def test_the_journal_line_keeps_the_cloud_task_and_reads_lines_written_before_it() -> None:
    run = CloudRun(env="fake/repo", task_id="task_e_0123abcd", url=URL, status="pending")
    summary = TaskSummary.of(cloud_state(run))
    back = parse_record(record_line(summary, (1, 2, 3)))
    assert back == summary and isinstance(back, TaskSummary)
    assert back.cloud is not None and back.cloud.url == URL
    old = summary.model_dump(mode="json", exclude={"cloud"})  # a line from before the field
    older = TaskSummary.model_validate(old)
    assert older.cloud is None and status_row(older)["cloud"]["task_id"] is None
