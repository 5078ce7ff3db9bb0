"""The app-server JSON-RPC client against the real ``codex app-server`` and the scripted model.

Every test runs the pinned binary with a fresh CODEX_HOME and a fresh git work dir. Commands the user
approves run outside the sandbox as a login shell, which sources the user's shell profile: the tests give
Codex an empty HOME so that the host's profile (slow or locking tool initialisers) cannot stall them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

import tests.helpers.scripted_steps as steps
from cockpit.core.codex.app_server.client import (
    COMMAND_APPROVAL,
    FILE_CHANGE_APPROVAL,
    AppServerClient,
    AppServerError,
    CommandApprovalRequest,
    Decision,
    ErrorNotification,
    FileChangeApprovalRequest,
    Incoming,
    RateLimitSnapshot,
    ServerRequestResolved,
    TurnDiffUpdated,
    TurnNotification,
    merge_rate_limits,
)
from cockpit.demo.repo import README, make_demo_repo
from cockpit.demo.scripted_model import Scenario, ScriptedModel
from tests.helpers.scripted_steps import escalated, say
from tests.helpers.supervisor import processes_with_marker

TIMEOUT = 30.0


def scenario(name: str, *responses: dict[str, Any]) -> Scenario:
    """These tests' prompts are free text: every scenario answers any prompt of its thread."""
    return steps.scenario(name, *responses, match="")


def transcript_lines(client: AppServerClient) -> list[bytes]:
    assert client.transcript_path is not None
    return client.transcript_path.read_bytes().splitlines(keepends=True)


def tool_output(model: ScriptedModel, index: int) -> str:
    """The text of the single tool output in the model's ``index``-th request."""
    [output] = model.requests[index].tool_outputs()
    return str(output["output"])


async def drive_turn(
    client: AppServerClient, turn_id: str, decide: Callable[[Incoming], Decision] | None = None
) -> tuple[TurnNotification, list[Incoming]]:
    """Consume the queue until ``turn/completed`` of ``turn_id``, answering approvals with ``decide``.
    Returns the completion and every message seen."""
    seen: list[Incoming] = []
    async with asyncio.timeout(TIMEOUT):
        async for incoming in client:
            seen.append(incoming)
            if incoming.method in (COMMAND_APPROVAL, FILE_CHANGE_APPROVAL):
                assert decide is not None, f"unexpected approval request: {incoming.params}"
                assert incoming.request_id is not None
                await client.decide(incoming.request_id, decide(incoming))
            completed = incoming.as_(TurnNotification)
            if incoming.method == "turn/completed" and completed and completed.turn_id == turn_id:
                return completed, seen
    raise AssertionError(f"app-server closed before turn {turn_id} completed")


def approvals(seen: list[Incoming]) -> list[Incoming]:
    return [i for i in seen if i.is_request]


# --- fixtures --------------------------------------------------------------------------------------


@pytest.fixture
def app_env(codex_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "user-home"
    home.mkdir()
    return {**codex_env, "HOME": str(home)}


@pytest.fixture
def work(tmp_path: Path) -> Path:
    path = tmp_path / "work"
    make_demo_repo(path)
    return path


@pytest.fixture
async def client(
    codex_bin: Path, app_env: dict[str, str], work: Path, tmp_path: Path
) -> AsyncIterator[AppServerClient]:
    c = AppServerClient()
    await c.start(codex_bin, work, app_env, tmp_path / "lane" / "events.jsonl")
    try:
        await c.initialize()
        yield c
    finally:
        await c.close()


# --- tests against the real binary -----------------------------------------------------------------


@pytest.mark.codex
async def test_handshake_thread_and_message_turn(
    client: AppServerClient, scripted_model: ScriptedModel, work: Path, codex_version: str
) -> None:
    scripted_model.add_scenario(
        scenario(
            "hello",
            say(
                "hello from the model",
                usage={"input_tokens": 1234, "cached_tokens": 1000, "output_tokens": 56},
                headers={"x-codex-primary-used-percent": 42.5, "x-codex-primary-window-minutes": 300},
            ),
        )
    )
    assert client.server_info["userAgent"].startswith(f"codex_cockpit/{codex_version} ")
    thread_id = await client.thread_start(work, "on-request", "workspace-write")
    turn_id = await client.turn_start(thread_id, "say hello")
    completed, seen = await drive_turn(client, turn_id)

    assert completed.status == "completed" and completed.error is None
    assert completed.threadId == thread_id
    assert client.final_message(turn_id) == "hello from the model"
    assert client.completed_turns[turn_id] is completed
    usage = client.token_usage[thread_id]
    assert (usage.last.inputTokens, usage.last.cachedInputTokens, usage.last.outputTokens) == (1234, 1000, 56)
    assert usage.total.totalTokens >= usage.last.totalTokens == 1290
    limits = client.rate_limits["codex"]
    assert limits.primary is not None and limits.primary.usedPercent == 43  # rounded on the wire
    assert limits.primary.windowDurationMins == 300
    methods = [i.method for i in seen]
    for expected in (
        "thread/started",
        "turn/started",
        "item/started",
        "item/agentMessage/delta",
        "item/completed",
    ):
        assert expected in methods
    assert client.malformed == 0
    # The model request carried the client name as originator.
    assert scripted_model.requests[0].headers["originator"] == "codex_cockpit"

    await client.close()
    assert client.returncode == 0
    lines = transcript_lines(client)
    assert len(lines) == client.received + client.sent
    assert all(line.endswith(b"\n") for line in lines)
    assert all(isinstance(json.loads(line), dict) for line in lines)
    # Every received line is in the transcript unchanged, in order.
    position = 0
    for incoming in seen:
        position = lines.index(incoming.line, position) + 1
    sent = [
        json.loads(line)
        for line in lines
        if b'"method":"initialize"' in line or line == b'{"method":"initialized"}\n'
    ]
    assert [m.get("method") for m in sent] == ["initialize", "initialized"]
    assert sent[0]["id"] == 0 and sent[0]["params"]["clientInfo"]["name"] == "codex_cockpit"


@pytest.mark.codex
async def test_escalated_command_accepted_runs(
    client: AppServerClient, scripted_model: ScriptedModel, work: Path, tmp_path: Path
) -> None:
    target = tmp_path / "outside" / "accepted.txt"
    target.parent.mkdir()
    scripted_model.add_scenario(
        scenario("accept", escalated(f"echo accepted > {target}", "write outside the workspace"), say("done"))
    )
    thread_id = await client.thread_start(work, "on-request", "workspace-write")
    turn_id = await client.turn_start(thread_id, "write outside")

    request = await client.wait_for(lambda i: i.method == COMMAND_APPROVAL, TIMEOUT)
    approval = request.as_(CommandApprovalRequest)
    assert approval is not None and request.request_id == 0  # server ids count from 0
    assert approval.reason == "write outside the workspace"
    assert approval.threadId == thread_id and approval.turnId == turn_id
    assert approval.command is not None and f"echo accepted > {target}" in approval.command
    assert approval.cwd == str(work)
    assert "accept" in (approval.availableDecisions or [])
    started = client.items[approval.itemId]
    assert started.type == "commandExecution" and started.status == "inProgress"
    assert client.thread_status[thread_id].activeFlags == ["waitingOnApproval"]
    assert request.request_id in client.pending_requests
    assert not target.exists()

    await client.decide(request.request_id, "accept")
    resolved = (await client.wait_for(lambda i: i.method == "serverRequest/resolved", TIMEOUT)).as_(
        ServerRequestResolved
    )
    assert resolved is not None and resolved.requestId == request.request_id
    completed, _ = await drive_turn(client, turn_id)

    assert completed.status == "completed"
    item = client.items[approval.itemId]
    assert (item.status, item.exitCode) == ("completed", 0)
    assert target.read_text() == "accepted\n"
    assert "Process exited with code 0" in tool_output(scripted_model, 1)
    assert client.pending_requests == {}
    assert b'{"id":0,"result":{"decision":"accept"}}\n' in transcript_lines(client)


@pytest.mark.codex
async def test_escalated_command_declined_does_not_run(
    client: AppServerClient, scripted_model: ScriptedModel, work: Path, tmp_path: Path
) -> None:
    target = tmp_path / "declined.txt"
    scripted_model.add_scenario(
        scenario("decline", escalated(f"echo nope > {target}", "please let me"), say("understood"))
    )
    thread_id = await client.thread_start(work, "on-request", "workspace-write")
    turn_id = await client.turn_start(thread_id, "try it")
    completed, seen = await drive_turn(client, turn_id, lambda _: "decline")

    [request] = approvals(seen)
    approval = request.as_(CommandApprovalRequest)
    assert approval is not None and approval.reason == "please let me"
    assert completed.status == "completed"
    item = client.items[approval.itemId]
    assert (item.status, item.exitCode) == ("declined", None)
    assert not target.exists()
    assert "rejected by user" in tool_output(scripted_model, 1)
    assert client.final_message(turn_id) == "understood"


@pytest.mark.codex
async def test_accept_for_session_is_not_asked_again(
    client: AppServerClient, scripted_model: ScriptedModel, work: Path, tmp_path: Path
) -> None:
    log = tmp_path / "runs.log"
    same = f"echo run >> {log}"
    other = f"echo other >> {log}"
    scripted_model.add_scenario(
        scenario(
            "session",
            escalated(same, "log a run"),
            escalated(same, "log a run"),
            say("first turn done"),
            escalated(same, "log a run"),
            escalated(other, "log another"),
            say("second turn done"),
        )
    )
    thread_id = await client.thread_start(work, "on-request", "workspace-write")

    first = await client.turn_start(thread_id, "run twice")
    completed, seen = await drive_turn(client, first, lambda _: "acceptForSession")
    assert completed.status == "completed"
    assert len(approvals(seen)) == 1
    assert log.read_text() == "run\nrun\n"

    second = await client.turn_start(thread_id, "run again, then something else")
    completed, seen = await drive_turn(client, second, lambda _: "accept")
    assert completed.status == "completed"
    [asked] = approvals(seen)
    approval = asked.as_(CommandApprovalRequest)
    assert approval is not None and approval.command is not None and other in approval.command
    assert log.read_text() == "run\nrun\nrun\nother\n"
    assert client.final_message(second) == "second turn done"


@pytest.mark.codex
async def test_cancel_interrupts_the_turn(
    client: AppServerClient, scripted_model: ScriptedModel, work: Path, tmp_path: Path
) -> None:
    target = tmp_path / "cancelled.txt"
    scripted_model.add_scenario(
        scenario("cancel", escalated(f"echo no > {target}", "one more thing"), say("never sent"))
    )
    thread_id = await client.thread_start(work, "on-request", "workspace-write")
    turn_id = await client.turn_start(thread_id, "do it")
    completed, seen = await drive_turn(client, turn_id, lambda _: "cancel")

    [request] = approvals(seen)
    approval = request.as_(CommandApprovalRequest)
    assert approval is not None
    assert completed.status == "interrupted" and completed.error is None
    assert completed.turn.items == []
    item = client.items[approval.itemId]
    assert (item.status, item.exitCode) == ("declined", None)
    assert len(scripted_model.requests) == 1  # the model was not asked again
    assert not target.exists()
    assert client.pending_requests == {}


@pytest.mark.codex
async def test_turn_interrupt_during_a_model_request(
    client: AppServerClient, scripted_model: ScriptedModel, work: Path
) -> None:
    scripted_model.add_scenario(scenario("stall", {"kind": "stall", "stall_s": 60}))
    thread_id = await client.thread_start(work, "on-request", "workspace-write")
    turn_id = await client.turn_start(thread_id, "think forever")
    await asyncio.to_thread(scripted_model.wait_for_in_flight, 1, TIMEOUT)
    await client.turn_interrupt(thread_id, turn_id)
    completed = await client.wait_turn_completed(turn_id, TIMEOUT)
    assert completed.status == "interrupted"
    with pytest.raises(AppServerError) as excinfo:
        await client.turn_interrupt(thread_id, turn_id)
    assert excinfo.value.code == -32600 and "no active turn" in excinfo.value.message


@pytest.mark.codex
async def test_untrusted_file_change_approval_carries_the_started_diff(
    client: AppServerClient, scripted_model: ScriptedModel, work: Path
) -> None:
    patch = (
        "*** Begin Patch\n*** Update File: README.md\n@@\n # calc\n \n"
        "-A tiny module the demo's workers improve.\n+A tiny module, patched by the lane.\n*** End Patch"
    )
    scripted_model.add_scenario(
        scenario("patch", {"items": [{"kind": "apply_patch", "patch": patch}]}, say("patched"))
    )
    thread_id = await client.thread_start(work, "untrusted", "workspace-write")
    turn_id = await client.turn_start(thread_id, "patch the readme")
    completed, seen = await drive_turn(client, turn_id, lambda _: "accept")

    [request] = approvals(seen)
    assert request.method == FILE_CHANGE_APPROVAL
    approval = request.as_(FileChangeApprovalRequest)
    assert approval is not None and approval.reason is None
    assert "changes" not in request.params  # the wire request has no diff: it comes from item/started
    assert approval.paths == [str(work / "README.md")]
    assert approval.diff.startswith("--- a/README.md\n+++ b/README.md\n@@ -")
    change = "\n-A tiny module the demo's workers improve.\n+A tiny module, patched by the lane.\n"
    assert change in approval.diff
    started = [i for i in seen if i.method == "item/started" and i.params["item"]["id"] == approval.itemId]
    assert seen.index(started[0]) < seen.index(request)

    assert completed.status == "completed"
    assert client.items[approval.itemId].status == "completed"
    assert (work / "README.md").read_text() == README.replace(
        "A tiny module the demo's workers improve.", "A tiny module, patched by the lane."
    )
    diffs = [i.as_(TurnDiffUpdated) for i in seen if i.method == "turn/diff/updated"]
    assert len(diffs) == 1 and diffs[0] is not None
    assert "diff --git a/README.md b/README.md" in diffs[0].diff
    assert "+A tiny module, patched by the lane." in diffs[0].diff
    assert client.turn_diffs[turn_id] == diffs[0].diff
    # The server re-sent the unchanged diff after the next model response; only the transcript has it.
    on_wire = [line for line in transcript_lines(client) if b'"method":"turn/diff/updated"' in line]
    assert len(on_wire) >= 1


@pytest.mark.codex
async def test_http_500_fails_the_turn(
    client: AppServerClient, scripted_model: ScriptedModel, work: Path
) -> None:
    scripted_model.add_scenario(scenario("boom", {"kind": "http_error", "status": 500}))
    thread_id = await client.thread_start(work, "on-request", "workspace-write")
    turn_id = await client.turn_start(thread_id, "fail please")
    completed, seen = await drive_turn(client, turn_id)

    errors = [i for i in seen if i.method == "error"]
    assert len(errors) == 1
    error = errors[0].as_(ErrorNotification)
    assert error is not None and error.willRetry is False and error.turnId == turn_id
    assert error.error.codexErrorInfo == "internalServerError"
    assert seen.index(errors[0]) < len(seen) - 1  # before turn/completed
    assert completed.status == "failed"
    assert completed.error is not None and completed.error.message == error.error.message
    assert client.errors == [error]
    assert len(scripted_model.requests) == 1  # no retries


@pytest.mark.codex
async def test_thread_resume_in_a_new_server(
    codex_bin: Path, app_env: dict[str, str], scripted_model: ScriptedModel, work: Path, tmp_path: Path
) -> None:
    scripted_model.add_scenario(scenario("resume", say("first answer"), say("second answer")))
    async with AppServerClient() as first:
        await first.start(codex_bin, work, app_env, tmp_path / "one.jsonl")
        await first.initialize()
        thread_id = await first.thread_start(work, "on-request", "workspace-write")
        turn_id = await first.turn_start(thread_id, "first question")
        assert (await first.wait_turn_completed(turn_id, TIMEOUT)).status == "completed"

    async with AppServerClient() as second:
        await second.start(codex_bin, work, app_env, tmp_path / "two.jsonl")
        await second.initialize()
        result = await second.thread_resume(
            thread_id, cwd=work, approval_policy="on-request", sandbox="workspace-write"
        )
        assert result["thread"]["id"] == thread_id
        turn_id = await second.turn_start(thread_id, "second question")
        assert (await second.wait_turn_completed(turn_id, TIMEOUT)).status == "completed"
        assert second.final_message(turn_id) == "second answer"

    texts = scripted_model.requests[-1].user_texts()
    assert "first question" in texts and "second question" in texts
    assert scripted_model.requests[-1].thread_id == thread_id


@pytest.mark.codex
async def test_close_ends_app_server_with_exit_0(
    codex_bin: Path, app_env: dict[str, str], work: Path, tmp_path: Path
) -> None:
    c = AppServerClient()
    await c.start(codex_bin, work, app_env, tmp_path / "events.jsonl")
    await c.initialize()
    await c.thread_start(work, "on-request", "workspace-write")
    # Codex may send the thread's notification after its answer: wait for it, so that what the queue
    # holds at EOF is known (closing first races Codex's own exit against that line)
    transcript = tmp_path / "events.jsonl"
    await c.wait_until(lambda: b'"thread/started"' in transcript.read_bytes(), 10)
    pid = c.pid
    assert pid is not None and os.getpgid(pid) == pid  # its own process group
    started = time.monotonic()
    assert await c.close(grace_s=5.0) == 0
    assert time.monotonic() - started < 5.0  # stdin EOF was enough: no signal needed
    assert c.returncode == 0 and c.closed
    drained = [i.method async for i in c]  # the queue ends after what was received before EOF
    assert "thread/started" in drained
    assert await c.next_incoming() is None
    with pytest.raises(ConnectionError):
        await c.request("thread/list", {})


CLIENT_SCRIPT = """
import asyncio, json, os, subprocess, sys
from cockpit.core.codex.app_server.client import AppServerClient

async def main(codex_bin, work, transcript, mode):
    c = AppServerClient()
    await c.start(codex_bin, work, os.environ, transcript)
    await c.initialize()
    thread_id = await c.thread_start(work, "never", "workspace-write")
    await c.turn_start(thread_id, "sleep for a long time")
    await c.wait_until(
        lambda: any(i.type == "commandExecution" and i.status == "inProgress" for i in c.items.values()), 30
    )
    holder = None
    if mode == "pipe-held":
        # Another process keeps the server's stdin open: only the parent-death signal can end it.
        fd = c.proc.stdin.transport.get_extra_info("pipe").fileno()
        holder = subprocess.Popen(["sleep", "120"], pass_fds=[fd]).pid
    print(json.dumps({"pid": c.pid, "holder": holder}), flush=True)
    await asyncio.Event().wait()

asyncio.run(main(*sys.argv[1:5]))
"""


def _cmdline_processes(marker: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                cmdline = fh.read()
            with open(f"/proc/{entry}/stat", "rb") as fh:
                state = fh.read().rsplit(b")", 1)[1].split()[0]
        except OSError:
            continue
        if marker.encode() in cmdline and state != b"Z":
            found.append(int(entry))
    return found


@pytest.mark.codex
@pytest.mark.parametrize("mode", ["eof", "pipe-held"])
async def test_killed_client_leaves_no_app_server(
    codex_bin: Path,
    app_env: dict[str, str],
    scripted_model: ScriptedModel,
    work: Path,
    tmp_path: Path,
    mode: str,
) -> None:
    sleeper = f"sleep 600.{os.getpid()}{len(mode)}"  # a unique command line to look for
    scripted_model.add_scenario(
        scenario("sleep", {"items": [{"kind": "shell", "cmd": sleeper}]}, {"kind": "stall", "stall_s": 60})
    )
    marker = str(tmp_path)
    argv = [
        sys.executable,
        "-c",
        CLIENT_SCRIPT,
        str(codex_bin),
        str(work),
        str(tmp_path / "events.jsonl"),
        mode,
    ]
    proc = subprocess.Popen(argv, env=app_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    holder: int | None = None
    try:
        assert proc.stdout is not None and proc.stderr is not None
        line = await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), TIMEOUT)
        assert line, proc.stderr.read()
        started = json.loads(line)
        holder = started["holder"]
        assert started["pid"] in processes_with_marker(marker)
        assert _cmdline_processes(sleeper)  # the command is running
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)

        def leftovers() -> list[int]:
            return [pid for pid in processes_with_marker(marker) if pid != holder] + _cmdline_processes(
                sleeper
            )

        deadline = time.monotonic() + 5.0
        while leftovers() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)  # polling /proc: there is nothing to await
        assert leftovers() == []
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        if holder is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(holder, signal.SIGKILL)


# --- the client alone, against a stand-in server ---------------------------------------------------

FAKE_SERVER = r"""
import json, sys
big = "x" * (3 * 1024 * 1024)
for raw in sys.stdin:
    msg = json.loads(raw)
    if msg.get("method") == "initialize":
        out = sys.stdout
        out.write("not json at all\n")
        out.write("[1, 2, 3]\n")
        out.write('{"id": 999, "result": {}}\n')
        out.write(json.dumps({"method": "brand/new", "params": {"big": big}, "emittedAtMs": 1}) + "\n")
        out.write('{"method":"turn/diff/updated","params":{"threadId":"t","turnId":"u","diff":"d1"}}\n')
        out.write('{"method":"turn/diff/updated","params":{"threadId":"t","turnId":"u","diff":"d1"}}\n')
        out.write('{"method":"account/rateLimits/updated","params":{"rateLimits":{"limitId":"codex",'
                  '"primary":{"usedPercent":42,"windowDurationMins":300,"resetsAt":9},"secondary":null}}}\n')
        out.write('{"method":"account/rateLimits/updated","params":{"rateLimits":{"limitId":"codex",'
                  '"primary":null,"secondary":{"usedPercent":7,"windowDurationMins":null,"resetsAt":null}}}}\n')
        out.write('{"method":"item/fileChange/requestApproval","id":"r1","params":{"threadId":"t",'
                  '"turnId":"u","itemId":"i","reason":null,"grantRoot":null,"future":true}}\n')
        out.write(json.dumps({"id": msg["id"], "result": {"userAgent": "fake"}}) + "\n")
        out.flush()
    elif msg.get("method") == "thread/start":
        sys.stdout.write(json.dumps({"id": msg["id"], "error": {"code": -32600, "message": "nope"}}) + "\n")
        sys.stdout.flush()
"""


async def test_routing_is_lenient_and_the_transcript_is_byte_exact(tmp_path: Path) -> None:
    c = AppServerClient()
    await c.start(
        sys.executable, tmp_path, dict(os.environ), tmp_path / "events.jsonl", extra_args=["-c", FAKE_SERVER]
    )
    try:
        assert (await c.initialize(version="9.9"))["userAgent"] == "fake"
        assert c.malformed == 3  # not JSON, not an object, an answer to nothing we asked
        unknown = await c.next_incoming(TIMEOUT)
        assert unknown is not None and unknown.method == "brand/new" and unknown.typed is None
        assert len(unknown.params["big"]) == 3 * 1024 * 1024
        diff = await c.next_incoming(TIMEOUT)
        assert diff is not None and diff.method == "turn/diff/updated"
        limits = [await c.next_incoming(TIMEOUT), await c.next_incoming(TIMEOUT)]
        assert [i.method for i in limits if i] == [
            "account/rateLimits/updated"
        ] * 2  # the repeat diff was dropped
        merged = c.rate_limits["codex"]
        assert (
            merged.primary is not None and merged.primary.usedPercent == 42 and merged.primary.resetsAt == 9
        )
        assert merged.secondary is not None and merged.secondary.usedPercent == 7
        request = await c.next_incoming(TIMEOUT)
        assert request is not None and request.request_id == "r1" and request.is_request
        assert request.as_(FileChangeApprovalRequest) is not None and request.params["future"] is True
        assert "r1" in c.pending_requests
        await c.decide("r1", "decline")
        assert c.pending_requests == {}
        with pytest.raises(AppServerError) as excinfo:
            await c.thread_start(tmp_path, "on-request", "read-only")
        assert (excinfo.value.code, excinfo.value.message) == (-32600, "nope")
    finally:
        assert await c.close() == 0
    lines = (tmp_path / "events.jsonl").read_bytes().splitlines(keepends=True)
    assert lines[1] == b"not json at all\n" and lines[2] == b"[1, 2, 3]\n"
    assert len(lines[4]) > 3 * 1024 * 1024
    assert lines[-3] == b'{"id":"r1","result":{"decision":"decline"}}\n'
    assert len(lines) == c.received + c.sent


def test_merge_rate_limits_never_resets_a_known_value() -> None:
    known = RateLimitSnapshot.model_validate(
        {
            "limitId": "codex",
            "primary": {"usedPercent": 43, "windowDurationMins": 300, "resetsAt": 100},
            "secondary": {"usedPercent": 13, "windowDurationMins": 10080, "resetsAt": 200},
            "credits": {"hasCredits": True, "unlimited": False, "balance": "12.50"},
        }
    )
    update = RateLimitSnapshot.model_validate(
        {
            "limitId": "codex",
            "primary": {"usedPercent": 44, "resetsAt": None},
            "secondary": None,
            "credits": None,
        }
    )
    merged = merge_rate_limits(known, update)
    assert merged.primary is not None and merged.secondary is not None and merged.credits is not None
    assert (merged.primary.usedPercent, merged.primary.windowDurationMins, merged.primary.resetsAt) == (
        44,
        300,
        100,
    )
    assert merged.secondary.usedPercent == 13 and merged.credits.balance == "12.50"
    assert merge_rate_limits(None, update) is update
