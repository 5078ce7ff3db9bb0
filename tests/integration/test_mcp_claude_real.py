"""Claude Code on top of the cockpit, everything real but the two models: the pinned Claude Code CLI,
driven by the scripted Messages API server, uses ``cockpit mcp`` as its only MCP server
(``--mcp-config`` + ``--strict-mcp-config``, the cockpit's tools allowed by ``--allowedTools``), while
a real supervisor runs the pinned Codex against the scripted Responses model.

One orchestrator session: an invalid envelope (the error names the field), a worktree task whose
result is a 2 MB diff (wait, one file's part, the diff's summary, then every page, then the last
message in pages), and an mcp-lane task whose command waits for an approval (its decision_id and
options surface in wait_for_task, the orchestrator answers it as the project allows, and waits for
the review). The scripted model copies ids and cursors from the results as a model would
(``input_from``) and asks for the next page for as long as there is one (``repeat_while``). What the
model saw is read back from the requests Claude Code sent: the metadata before each page, every page,
no result over the limit."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cockpit.cli.mcp_results import RESULT_LIMIT
from cockpit.cli.mcp_setup import allowed_tools, server_entry
from cockpit.core.board.blackboard import Blackboard
from cockpit.core.board.decisions import DecisionStore
from cockpit.core.claude.binary import ClaudeBinary
from cockpit.core.records.basics import utc_now
from cockpit.core.text import clean
from cockpit.demo.scripted_claude import RecordedRequest, Scenario, ScriptedClaude
from cockpit.demo.scripted_model import ScriptedModel
from tests.helpers.claude import run_claude
from tests.helpers.scripted_steps import escalated, say, scenario
from tests.helpers.supervisor import SupervisorThread

pytestmark = pytest.mark.claude

FILES = 40
LINES = 650
SECRET = "sk-live0123456789abcdefghijkl"
GENERATE = (
    "mkdir -p gen && for i in $(seq -w 1 "
    f'{FILES}); do seq -f "gen $i line %05g: the quick brown fox jumps over the lazy dog, again and again" '
    f"1 {LINES} > gen/part-$i.txt; done && printf 'API_KEY={SECRET}\\n' >> gen/part-07.txt"
)
REPORT = (
    "COMPLETED: generated the 40 parts under gen/\n"
    + "".join(
        f"- gen/part-{i:02d}.txt: {LINES} lines, checked line by line for the pattern and the numbering\n"
        for i in range(1, FILES + 1)
    )
    * 12
)
MCP = "mcp__cockpit__"


def tool(name: str, input_: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    """A model turn calling one cockpit tool (``from_`` keys copied from earlier results)."""
    source = extra.pop("from_", {})
    block = {"kind": "tool_use", "name": MCP + name, "input": input_ or {}, "input_from": source}
    return {"blocks": [block], **extra}


def orchestrator() -> Scenario:
    big = {
        "goal": "Generate the 40 gen/ parts (the big-diff job)",
        "title": "big-diff-job",
        "lane": "worktree",
        "acceptance_criteria": ["gen/part-01.txt .. gen/part-40.txt exist, 650 numbered lines each"],
        "inputs": [{"path": "README.md", "summary": "the project"}],
        "budget": {"tokens": 200000, "wall_time_s": 1200},
    }
    approval = {
        "goal": "Write approved.txt (the approval job)",
        "title": "approval-job",
        "lane": "mcp",
    }
    task = {"task": "task_id"}
    return Scenario.model_validate(
        {
            "name": "orchestrate",
            "match": "orchestrate",
            "responses": [
                tool("submit_task", {"envelope": {"goal": "Count lines", "budget": {"tokens": -5}}}),
                tool("submit_task", {"envelope": big}),
                tool("wait_for_task", {"timeout_s": 300}, from_=task),
                tool("get_task_diff", {"file": "gen/part-01.txt"}, from_=task),
                tool("get_diff_summary", {}, from_=task),
                # The summary's next_cursor is null: the first page is asked for without a cursor.
                tool(
                    "get_task_diff", {}, from_={**task, "cursor": "next_cursor"}, repeat_while="next_cursor"
                ),
                tool(
                    "get_last_message",
                    {},
                    from_={**task, "cursor": "next_cursor"},
                    repeat_while="next_cursor",
                ),
                tool("submit_task", {"envelope": approval}),
                tool("wait_for_task", {"timeout_s": 300}, from_=task),
                tool(
                    "answer_decision",
                    {"option": "A", "note": "the command is what the task asks"},
                    from_={"decision": "decision.id"},
                ),
                tool("wait_for_task", {"timeout_s": 300}, from_={**task, "since": "watch"}),
                {
                    "blocks": [
                        {"kind": "text", "text": "Both results wait for your review; merging is yours."}
                    ]
                },
            ],
        }
    )


def results_seen(requests: list[RecordedRequest]) -> list[tuple[str, dict[str, Any]]]:
    """Each tool call the model made and the result it then saw: (tool, the tool_result block), in
    order, read from the request that carried the result back (the newest tool result in it)."""
    calls: dict[str, str] = {}
    seen: list[tuple[str, dict[str, Any]]] = []
    for request in requests:
        for message in request.messages():
            content = message.get("content")
            if message.get("role") == "assistant" and isinstance(content, list):
                for block in content:
                    if isinstance(block, dict) and block.get("type") == "tool_use":
                        calls[str(block["id"])] = str(block["name"])
        results = request.tool_results()
        if results:
            newest = results[-1]
            seen.append((calls.get(str(newest.get("tool_use_id")), "?"), newest))
    return seen


def texts(result: dict[str, Any]) -> list[str]:
    content = result.get("content")
    if isinstance(content, str):
        return [content]
    return [b["text"] for b in content or [] if isinstance(b, dict) and b.get("type") == "text"]


def meta(result: dict[str, Any]) -> dict[str, Any]:
    first = texts(result)[0]
    parsed = json.loads(first)
    assert isinstance(parsed, dict), first[:200]
    return parsed


@pytest.mark.codex
def test_claude_code_orchestrates_the_cockpit_through_mcp(
    repo: Path,
    scripted_model: ScriptedModel,
    cockpit_env: dict[str, str],
    claude_bin: ClaudeBinary,
    scripted_claude: ScriptedClaude,
    claude_env: dict[str, str],
    tmp_path: Path,
) -> None:
    board = Blackboard(repo)
    (board.root / "config.toml").write_text(
        'orchestrator_may_answer = ["repeated_failures", "acceptance_failed", "unknown_error",\n'
        '                           "codex_approval"]\n'
    )
    scripted_model.add_scenario(
        scenario("big-diff-job", {"items": [{"kind": "shell", "cmd": GENERATE}]}, say(REPORT))
    )
    scripted_model.add_scenario(
        scenario(
            "approval-job",
            escalated("echo approved > approved.txt", "the task asks for approved.txt"),
            say("COMPLETED: wrote approved.txt"),
        )
    )
    scripted_claude.add_scenario(orchestrator())
    config = tmp_path / "mcp.json"
    config.write_text(json.dumps({"mcpServers": {"cockpit": server_entry(repo)}}))

    supervisor = SupervisorThread(board, cockpit_env).start()
    try:
        run = run_claude(
            claude_bin,
            claude_env,
            repo,
            "orchestrate: the big-diff job, then the approval job",
            "--tools",
            "Read",
            "--mcp-config",
            str(config),
            "--strict-mcp-config",
            f"--allowedTools={allowed_tools()}",
            timeout=600,
        )
    finally:
        supervisor.stop()
    assert run.exit_code == 0 and not run.timed_out, run.describe()[-4000:]
    result = run.stream.result
    assert result is not None and not result.is_error, run.describe()[-4000:]
    assert result.result == "Both results wait for your review; merging is yours."
    (init,) = [line for line in run.lines if line.get("type") == "system" and line.get("subtype") == "init"]
    assert {"name": "cockpit", "status": "connected"} in init["mcp_servers"], init["mcp_servers"]

    requests = scripted_claude.message_requests()
    # The server's instructions reach the model (Claude Code adds them as a system message).
    first_request = json.dumps(requests[0].body)
    assert "## cockpit" in first_request and "Loop: submit_task" in first_request
    # The model was offered the envelope's schema, generated from the model: fields, types, enums.
    offered = {t["name"]: t for t in requests[0].body["tools"]}
    envelope = offered[MCP + "submit_task"]["input_schema"]["properties"]["envelope"]
    assert envelope["properties"]["lane"]["enum"] == ["local", "worktree", "cloud", "mcp"]
    assert envelope["properties"]["budget"]["properties"]["tokens"]["type"] == "integer"
    assert envelope["required"] == ["goal"]

    seen = results_seen(requests)
    names = [name.removeprefix(MCP) for name, _ in seen]
    # Nothing the model saw was over the limit, or replaced by a file reference.
    for name, block in seen:
        size = len(json.dumps(block.get("content"), ensure_ascii=False))
        assert size <= RESULT_LIMIT, (name, size)
        for text in texts(block):
            assert "exceeds maximum allowed tokens" not in text and "<persisted-output>" not in text
            assert SECRET not in text

    # An invalid envelope: the error names the field, as `cockpit submit` does.
    name, refused = seen[0]
    assert name == MCP + "submit_task" and refused.get("is_error") is True
    assert texts(refused) == ["invalid envelope: budget.tokens: must be a positive integer"]

    # The big task: submitted, waited for, in review.
    submitted = meta(seen[1][1])
    task_id = submitted["task_id"]
    waited = meta(seen[2][1])
    assert (waited["id"], waited["status"], waited["timed_out"]) == (task_id, "review", False), waited
    assert waited["changes"] and "review" in waited["next"]

    # One file's part, asked by name.
    one = seen[3][1]
    one_meta = meta(one)
    assert one_meta["page"]["file"] == "gen/part-01.txt" and one_meta["truncated"] is True
    assert texts(one)[1].startswith("diff --git a/gen/part-01.txt b/gen/part-01.txt\n")

    # The summary: every file, with its counts, without any text.
    summary = meta(seen[4][1])
    assert summary["diff"]["files"] == FILES and summary["diff"]["insertions"] == FILES * LINES + 1
    assert summary["next_cursor"] is None and len(summary["files"]) == FILES
    assert summary["files"][0] == {
        "path": "gen/part-01.txt",
        "added": LINES,
        "removed": 0,
        "binary": False,
        "chars": summary["files"][0]["chars"],
    }
    patch = clean((board.task_dir(task_id) / "diff.patch").read_text())
    assert len(patch) > 2_000_000 and summary["diff"]["chars"] == len(patch)

    # Then the whole diff page by page: metadata first each time, every page seen, in order.
    pages = [block for name, block in seen[5:] if name == MCP + "get_task_diff"]
    assert len(pages) >= len(patch) // 32_000
    assert names[5 : 5 + len(pages)] == ["get_task_diff"] * len(pages)
    first = meta(pages[0])
    assert list(first)[:4] == ["task_id", "lane", "status", "branch"]
    assert first["diff"]["files"] == FILES and first["truncated"] is True and first["next_cursor"]
    assert first["page"]["from"] == 0 and first["page"]["of"] == len(patch)
    joined = ""
    for block in pages:
        page_meta, body = meta(block), texts(block)[1]
        assert page_meta["page"]["from"] == len(joined), page_meta
        joined += body
    assert joined == patch
    assert meta(pages[-1])["next_cursor"] is None and meta(pages[-1])["truncated"] is False
    assert "API_KEY=[REDACTED]" in joined

    # The last message, in pages too.
    at = 5 + len(pages)
    messages = [block for name, block in seen[at:] if name == MCP + "get_last_message"]
    assert len(messages) == 2 and len(REPORT) > 40_000
    assert "".join(texts(b)[1] for b in messages) == REPORT
    assert meta(messages[0])["outcome"]["status"] == "COMPLETED"

    # The approval: its card surfaces while the task runs, the orchestrator may answer it and does.
    at += len(messages)
    assert names[at:] == ["submit_task", "wait_for_task", "answer_decision", "wait_for_task"]
    second = meta(seen[at][1])["task_id"]
    asking = meta(seen[at + 1][1])
    assert (asking["id"], asking["status"], asking["timed_out"]) == (second, "running", False), asking
    card = asking["decision"]
    assert asking["decision_id"] == card["id"] and card["trigger"] == "codex_approval"
    assert card["orchestrator_may_answer"] is True and [o["key"] for o in card["options"]][:1] == ["A"]
    assert any("decision" in c for c in asking["changes"])
    answered = meta(seen[at + 2][1])
    assert (answered["decision"], answered["action"], answered["by"]) == (
        card["id"],
        "accept",
        "orchestrator",
    )
    done = meta(seen[at + 3][1])
    assert (done["id"], done["status"], done["timed_out"]) == (second, "review", False), done
    resolved = DecisionStore(board.root, utc_now).get(card["id"])
    assert resolved is not None and resolved.resolved is not None and resolved.resolved.by == "orchestrator"


def test_print_config_is_what_claude_code_writes_and_reads(
    repo: Path, claude_bin: ClaudeBinary, claude_env: dict[str, str]
) -> None:
    """The printed ``claude mcp add-json`` line, run by the real CLI, writes the printed ``.mcp.json``."""
    cockpit = Path(sys.executable).parent / "cockpit"
    printed = subprocess.run(
        [str(cockpit), "mcp", "--repo", str(repo), "--print-config"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert printed.returncode == 0, printed.stderr
    text = printed.stdout
    block = json.loads(text[text.index("{\n") : text.index("\n}\n") + 2])
    assert block == {"mcpServers": {"cockpit": server_entry(repo)}}
    (line,) = [x for x in text.splitlines() if x.startswith("claude mcp add-json ")]
    argv = shlex.split(line)
    added = subprocess.run(
        [*claude_bin.argv, *argv[1:]],
        cwd=repo,
        env=claude_env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert added.returncode == 0, added.stdout + added.stderr
    assert json.loads((repo / ".mcp.json").read_text()) == block
