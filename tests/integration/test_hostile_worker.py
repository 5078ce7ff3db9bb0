"""Workers stay in their box: a worker whose final message (and a task whose title) carry terminal
control sequences and secrets, run by the real Codex binary against the scripted model. None of it
reaches ``cockpit status``, ``show``, their ``--json``, ``state.json`` or the MCP tools; the attempt's
``events.jsonl`` still holds Codex's stream byte for byte."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from mcp import ClientSession, StdioServerParameters, stdio_client

from cockpit.core.board.blackboard import Blackboard
from cockpit.demo.scripted_model import ScriptedModel
from tests.helpers.scripted_steps import say, scenario

pytestmark = pytest.mark.codex
COCKPIT = Path(sys.executable).parent / "cockpit"

OSC_TITLE = "\x1b]0;pwned\x07"
OSC_CLIPBOARD = "\x1b]52;c;cm0gLXJmIH4=\x07"
COLOUR = "\x1b[31;1m"
OPENAI_KEY = "sk-proj-Zx9Qw8Er7Ty6Ui5Op4As3Df2Gh1Jk0Lz"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"
HOSTILE_MESSAGE = (
    f"{OSC_TITLE}COMPLETED: {COLOUR}all done\x1b[0m {OSC_CLIPBOARD}with {OPENAI_KEY}\n"
    f"AWS_SECRET_ACCESS_KEY={AWS_SECRET}\nthe end\n"
)
HOSTILE_TITLE = f"{OSC_TITLE}hostile-job {COLOUR}red\x1b[0m {OSC_CLIPBOARD}"
FORBIDDEN = ("\x1b", "\x07", "\\u001b", "\\u0007", "pwned", "cm0gLXJmIH4", OPENAI_KEY, AWS_SECRET)


def cockpit(repo: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(COCKPIT), "--repo", str(repo), *args],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, **(env or {})},
    )


def assert_clean(surface: str, text: str) -> None:
    for bad in FORBIDDEN:
        assert bad not in text, f"{surface} carries {bad!r}:\n{text}"


async def mcp_results(repo: Path, task_id: str) -> list[str]:
    params = StdioServerParameters(command=str(COCKPIT), args=["--repo", str(repo), "mcp"])
    out: list[str] = []
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        for tool, arguments in (
            ("get_last_message", {"task": task_id}),
            ("task_status", {"task": task_id}),
            ("task_status", {}),
            ("wait_for_task", {"task": task_id, "timeout_s": 1}),
        ):
            result = await session.call_tool(tool, arguments)
            assert not result.is_error, result.content
            if result.structured_content is not None:
                out.append(json.dumps(result.structured_content))
            out.extend(block.text for block in result.content)  # type: ignore[union-attr]
        last = json.loads(out[0])  # get_last_message: its metadata, then the message itself
        message = out[1]
        assert message.startswith("COMPLETED: all done")
        assert "sk-[REDACTED]" in message and "AWS_SECRET_ACCESS_KEY=[REDACTED]" in message
        assert last["outcome"]["status"] == "COMPLETED"
    return out


async def test_hostile_worker_text_reaches_no_surface(
    repo: Path, scripted_model: ScriptedModel, cockpit_env: dict[str, str]
) -> None:
    scripted_model.add_scenario(scenario("hostile-job", say(HOSTILE_MESSAGE)))
    submitted = cockpit(
        repo, "submit", "--goal", "Do the hostile-job", "--title", HOSTILE_TITLE, "--lane", "local"
    )
    assert submitted.returncode == 0, submitted.stderr
    task_id = submitted.stdout.strip()
    ran = cockpit(repo, "run", "--until-idle", env=cockpit_env)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert_clean("run --until-idle", ran.stdout + ran.stderr)

    board = Blackboard(repo)
    state = board.read_state(task_id)
    assert state is not None and state.status.value == "succeeded", state
    attempt = board.attempt_dir(task_id, 1)

    # The raw record stays raw: Codex's stream and the worker's own last-message.md.
    stream = (attempt / "events.jsonl").read_text(encoding="utf-8")
    assert OPENAI_KEY in stream and AWS_SECRET in stream and "\\u001b]0;pwned\\u0007" in stream
    assert (attempt / "last-message.md").read_text(encoding="utf-8").startswith(OSC_TITLE)

    assert_clean("state.json", (board.task_dir(task_id) / "state.json").read_text(encoding="utf-8"))
    assert state.title.startswith("hostile-job red")
    assert state.attempts[0].outcome is not None and state.attempts[0].outcome.status == "COMPLETED"

    for args in (("status",), ("status", "--json"), ("show", task_id), ("show", task_id, "--json")):
        result = cockpit(repo, *args)
        assert result.returncode == 0, result.stderr
        assert_clean(" ".join(args), result.stdout + result.stderr)
    shown = cockpit(repo, "show", task_id).stdout
    assert "hostile-job red" in shown and "outcome: COMPLETED: all done" in shown
    assert "sk-[REDACTED]" in shown
    assert json.loads(cockpit(repo, "show", task_id, "--json").stdout)["envelope"]["title"].startswith(
        "hostile-job red"
    )

    for text in await mcp_results(repo, task_id):
        assert_clean("mcp", text)
