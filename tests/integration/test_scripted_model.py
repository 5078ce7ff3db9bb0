"""The scripted model server driven by the real Codex CLI: items, failures, limits, parallelism, resume."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from cockpit.demo.scripted_model import (
    EXHAUSTED_TEXT,
    Scenario,
    ScriptedModel,
    load_scenario,
    load_scenarios,
)
from tests.helpers.codex import CompletedRun, run_codex_exec, token_counts

EXAMPLE = Path(__file__).resolve().parents[2] / "demo" / "scenarios" / "example.toml"
HIGH_DEMAND = "We’re currently experiencing high demand, which may cause temporary errors."


def scenario(name: str, *responses: dict[str, Any], match: str | None = "") -> Scenario:
    return Scenario.model_validate({"name": name, "match": match, "responses": list(responses)})


def say(*texts: str, **extra: Any) -> dict[str, Any]:
    return {"items": [{"kind": "message", "text": t} for t in texts], **extra}


def shell(cmd: str, **extra: Any) -> dict[str, Any]:
    return {"items": [{"kind": "shell", "cmd": cmd}], **extra}


def assert_success(run: CompletedRun) -> None:
    assert run.exit_code == 0, run.describe()
    assert run.event_types[0] == "thread.started", run.describe()
    assert run.event_types[-1] == "turn.completed", run.describe()
    assert "turn.failed" not in run.event_types


# --- scenario loading (no Codex) -------------------------------------------------------------------


def test_example_toml_loads() -> None:
    loaded = load_scenario(EXAMPLE)
    assert loaded.name == "hello" and loaded.match == "hello.txt"
    assert [r.kind for r in loaded.responses] == ["items", "items"]
    first = loaded.responses[0]
    assert first.headers["x-codex-primary-used-percent"] == "42.5"
    assert [i.kind for i in first.items] == ["reasoning", "shell"]
    assert "hello" in [s.name for s in load_scenarios(EXAMPLE.parent)]


def test_whole_response_kinds_validate() -> None:
    loaded = scenario(
        "kinds",
        {"kind": "http_error", "status": 429, "headers": {"x-codex-primary-used-percent": 100}},
        {"kind": "failed", "code": "server_error", "message": "boom"},
        {"kind": "drop", "items": [{"kind": "message", "text": "partial"}]},
        {"kind": "stall", "stall_s": 1.5},
        {"kind": "raw", "events": [{"data": {"type": "response.created", "response": {"id": "r"}}}]},
    )
    assert [r.kind for r in loaded.responses] == ["http_error", "failed", "drop", "stall", "raw"]
    assert loaded.responses[0].headers == {"x-codex-primary-used-percent": "100"}
    with pytest.raises(ValueError):
        scenario("bad", {"kind": "nonsense"})
    with pytest.raises(ValueError):
        scenario("bad", {"items": [{"kind": "shell"}]})  # cmd missing


def test_stop_releases_a_stalled_stream_promptly() -> None:
    model = ScriptedModel([scenario("stall", {"kind": "stall", "stall_s": 600})]).start()
    received: list[bytes] = []

    def client() -> None:
        request = urllib.request.Request(
            model.base_url + "/responses", data=b"{}", headers={"thread-id": "t-stall"}, method="POST"
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            received.append(response.read())

    thread = threading.Thread(target=client)
    thread.start()
    try:
        assert model.wait_for_in_flight(1, timeout=10)
    finally:
        started = time.monotonic()
        model.stop()
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert time.monotonic() - started < 3
    assert b"response.created" in received[0] and b"response.completed" not in received[0]


# --- real Codex ------------------------------------------------------------------------------------


@pytest.mark.codex
def test_happy_path_from_toml(
    codex_bin: Path, scripted_model: ScriptedModel, codex_env: dict[str, str], workdir: Path
) -> None:
    scripted_model.add_scenario(load_scenario(EXAMPLE))
    run = run_codex_exec(codex_bin, codex_env, workdir, "Create hello.txt containing hi")
    assert_success(run)
    assert (workdir / "hello.txt").read_text() == "hi\n"
    assert run.last_message == "COMPLETED: created hello.txt"
    [command] = run.items("command_execution")
    assert command["command"].endswith("'echo hi > hello.txt'") and command["exit_code"] == 0
    assert command["status"] == "completed"
    assert [i["text"] for i in run.items("reasoning")] == ["Thinking about it"]
    # turn.completed reports the sum of the usage served by both responses.
    assert run.last("turn.completed")["usage"] == {
        "input_tokens": 250,
        "cached_input_tokens": 100,
        "cache_write_input_tokens": 0,
        "output_tokens": 50,
        "reasoning_output_tokens": 5,
    }
    requests = scripted_model.requests
    assert [(r.scenario, r.response_index) for r in requests] == [("hello", 0), ("hello", 1)]
    assert {r.thread_id for r in requests} == {run.thread_id}
    assert requests[0].headers["authorization"] == "Bearer scripted"
    assert requests[0].body["model"] == "gpt-5.5"
    # The second request carries the command output under the call id the server issued.
    call_ids = {o["call_id"] for o in requests[1].tool_outputs()}
    issued = [i["call_id"] for i in requests[1].input_items() if i.get("type") == "function_call"]
    assert issued and call_ids == set(issued)


@pytest.mark.codex
@pytest.mark.parametrize("model_slug", ["gpt-5.5", "mock-model"])
def test_apply_patch_adds_a_file(
    codex_bin: Path,
    scripted_model: ScriptedModel,
    codex_env: dict[str, str],
    workdir: Path,
    model_slug: str,
) -> None:
    patch = "*** Begin Patch\n*** Add File: notes.md\n+# Notes\n+second line\n*** End Patch"
    scripted_model.add_scenario(
        scenario("patch", {"items": [{"kind": "apply_patch", "patch": patch}]}, say("COMPLETED: patched"))
    )
    run = run_codex_exec(codex_bin, codex_env, workdir, "write notes", "-m", model_slug)
    assert_success(run)
    assert (workdir / "notes.md").read_text() == "# Notes\nsecond line\n"
    [change] = run.items("file_change")
    assert change["status"] == "completed"
    assert change["changes"] == [{"path": str(workdir / "notes.md"), "kind": "add"}]
    first, second = scripted_model.requests
    custom_tools = {t.get("name") for t in first.body["tools"] if t.get("type") == "custom"}
    expected_output = "custom_tool_call_output" if "apply_patch" in custom_tools else "function_call_output"
    assert (model_slug == "gpt-5.5") == ("apply_patch" in custom_tools)
    [output] = second.tool_outputs()
    assert output["type"] == expected_output
    assert "A notes.md" in output["output"]


@pytest.mark.codex
def test_reasoning_and_messages_become_items(
    codex_bin: Path, scripted_model: ScriptedModel, codex_env: dict[str, str], workdir: Path
) -> None:
    scripted_model.add_scenario(
        scenario(
            "talk",
            {
                "items": [
                    {"kind": "reasoning", "text": "**Planning** the answer"},
                    {"kind": "message", "text": "First thought"},
                    {"kind": "reasoning", "text": "Second look"},
                    {"kind": "message", "text": "COMPLETED: two\nlines"},
                ]
            },
        )
    )
    run = run_codex_exec(codex_bin, codex_env, workdir, "talk to me")
    assert_success(run)
    kinds = [(i["type"], i.get("text")) for i in run.items() if i["type"] in ("reasoning", "agent_message")]
    assert kinds == [
        ("reasoning", "**Planning** the answer"),
        ("agent_message", "First thought"),
        ("reasoning", "Second look"),
        ("agent_message", "COMPLETED: two\nlines"),
    ]
    assert run.last_message == "COMPLETED: two\nlines"
    assert len(scripted_model.requests) == 1


@pytest.mark.codex
def test_failing_command_does_not_fail_the_turn(
    codex_bin: Path, scripted_model: ScriptedModel, codex_env: dict[str, str], workdir: Path
) -> None:
    scripted_model.add_scenario(
        scenario("fail", shell("echo oops >&2; exit 3"), say("COMPLETED: saw failure"))
    )
    run = run_codex_exec(codex_bin, codex_env, workdir, "run a failing command")
    assert_success(run)
    [command] = run.items("command_execution")
    assert command["status"] == "failed" and command["exit_code"] == 3
    assert command["aggregated_output"].endswith("oops\n")
    assert "Process exited with code 3" in scripted_model.requests[1].tool_outputs()[0]["output"]
    assert run.last_message == "COMPLETED: saw failure"


FAILURES = [
    pytest.param({"kind": "http_error", "status": 500}, (), HIGH_DEMAND, 1, id="http-500"),
    pytest.param(
        {
            "kind": "http_error",
            "status": 429,
            "body": {"error": {"type": "rate_limit_exceeded", "message": "Slow down"}},
        },
        ("-c", "model_providers.mock.request_max_retries=3"),  # 429 is never retried
        "exceeded retry limit, last status: 429 Too Many Requests",
        1,
        id="http-429",
    ),
    pytest.param(
        {
            "kind": "http_error",
            "status": 401,
            "body": {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}},
        },
        (),
        "unexpected status 401 Unauthorized: Incorrect API key provided, url: {base_url}/responses",
        1,
        id="http-401",
    ),
    pytest.param(
        {"kind": "failed", "code": "server_error", "message": "scripted meltdown"},
        (),
        "stream disconnected before completion: scripted meltdown",
        1,
        id="response-failed",
    ),
    pytest.param(
        {"kind": "drop", "items": [{"kind": "message", "text": "half"}]},
        (),
        "stream disconnected before completion: stream closed before response.completed",
        1,
        id="drop",
    ),
    pytest.param(
        {"kind": "stall", "stall_s": 30},
        (),
        "stream disconnected before completion: idle timeout waiting for SSE",
        1,
        id="stall",
    ),
]


@pytest.mark.codex
@pytest.mark.parametrize(("response", "extra_args", "message", "requests"), FAILURES)
def test_failures_end_the_turn(
    codex_bin: Path,
    scripted_model: ScriptedModel,
    codex_env: dict[str, str],
    workdir: Path,
    response: dict[str, Any],
    extra_args: tuple[str, ...],
    message: str,
    requests: int,
) -> None:
    scripted_model.add_scenario(scenario("failure", response, say("COMPLETED: should not be reached")))
    run = run_codex_exec(codex_bin, codex_env, workdir, "do the thing", *extra_args, timeout=30)
    expected = message.format(base_url=scripted_model.base_url)
    assert run.exit_code == 1, run.describe()
    assert not run.timed_out
    assert run.last("turn.failed") == {"type": "turn.failed", "error": {"message": expected}}
    assert "turn.completed" not in run.event_types
    assert {"type": "error", "message": expected} in run.events
    assert run.last_message == ""
    assert len(scripted_model.requests) == requests
    # Codex hung up on the stalled stream; the server notices and frees the handler.
    assert scripted_model.wait_idle(timeout=5)


@pytest.mark.codex
def test_server_error_then_success_is_retried_silently(
    codex_bin: Path, scripted_model: ScriptedModel, codex_env: dict[str, str], workdir: Path
) -> None:
    scripted_model.add_scenario(
        scenario("retry", {"kind": "http_error", "status": 500}, say("COMPLETED: after retry"))
    )
    run = run_codex_exec(
        codex_bin, codex_env, workdir, "retry please", "-c", "model_providers.mock.request_max_retries=2"
    )
    assert_success(run)
    assert run.last_message == "COMPLETED: after retry"
    assert "error" not in run.event_types
    assert [r.kind for r in scripted_model.requests] == ["http_error", "items"]


@pytest.mark.codex
def test_rate_limit_headers_reach_the_rollout(
    codex_bin: Path,
    scripted_model: ScriptedModel,
    codex_env: dict[str, str],
    codex_home: Path,
    workdir: Path,
) -> None:
    first = {
        "x-codex-primary-used-percent": "42.5",
        "x-codex-primary-window-minutes": "300",
        "x-codex-secondary-used-percent": "13",
        "x-codex-secondary-window-minutes": "10080",
    }
    second = {**first, "x-codex-primary-used-percent": "57.25"}
    scripted_model.add_scenario(
        scenario("limits", shell("true", headers=first), say("COMPLETED: limits", headers=second))
    )
    run = run_codex_exec(codex_bin, codex_env, workdir, "check limits")
    assert_success(run)
    assert "rate_limits" not in run.stdout_text  # limits never reach --json
    limits = [c["rate_limits"] for c in token_counts(codex_home, run.thread_id) if c.get("rate_limits")]
    primaries = [(lim["primary"]["used_percent"], lim["primary"]["window_minutes"]) for lim in limits]
    assert (42.5, 300) in primaries
    assert primaries[-1] == (57.25, 300)
    assert limits[-1]["secondary"]["used_percent"] == 13.0
    assert limits[-1]["secondary"]["window_minutes"] == 10080


@pytest.mark.codex
def test_parallel_processes_get_their_own_scripts(
    codex_bin: Path, scripted_model: ScriptedModel, codex_env: dict[str, str], tmp_path: Path
) -> None:
    # A catch-all registered first must not shadow the specific scenarios.
    scripted_model.add_scenario(scenario("catch-all", say("COMPLETED: caught"), match=""))
    for name in ("alpha", "beta"):
        scripted_model.add_scenario(
            scenario(
                name,
                shell(f"echo {name} > {name}.txt", gate="both-running"),
                say(f"COMPLETED: {name} done"),
                match=f"{name}.txt",
            )
        )
    prompts = {name: f"please create {name}.txt" for name in ("alpha", "beta")}
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {
            name: pool.submit(run_codex_exec, codex_bin, codex_env, tmp_path / name, prompt)
            for name, prompt in prompts.items()
        }
        try:
            # Both first requests are held on the gate, so both are in flight at once.
            assert scripted_model.wait_for_in_flight(2, timeout=30)
        finally:
            scripted_model.open_gate("both-running")
        runs = {name: future.result() for name, future in futures.items()}
    assert scripted_model.max_in_flight == 2
    for name, run in runs.items():
        assert_success(run)
        assert (tmp_path / name / f"{name}.txt").read_text() == f"{name}\n"
        assert run.last_message == f"COMPLETED: {name} done"
        served = scripted_model.requests_for(run.thread_id)
        assert [(r.scenario, r.response_index) for r in served] == [(name, 0), (name, 1)]
        assert scripted_model.thread_scenario(run.thread_id) == name
    assert runs["alpha"].thread_id != runs["beta"].thread_id


@pytest.mark.codex
def test_resume_continues_the_scenario_cursor(
    codex_bin: Path, scripted_model: ScriptedModel, codex_env: dict[str, str], workdir: Path
) -> None:
    scripted_model.add_scenario(
        scenario(
            "two-turns",
            shell("echo first > one.txt"),
            say("COMPLETED: first turn"),
            shell("cat one.txt"),
            say("COMPLETED: resumed"),
        )
    )
    first = run_codex_exec(codex_bin, codex_env, workdir, "start the work")
    assert_success(first)
    assert first.last_message == "COMPLETED: first turn"
    second = run_codex_exec(codex_bin, codex_env, workdir, "more", "resume", str(first.thread_id))
    assert_success(second)
    assert second.thread_id == first.thread_id
    assert second.last_message == "COMPLETED: resumed"
    [command] = second.items("command_execution")
    assert command["aggregated_output"].endswith("first\n")
    served = scripted_model.requests
    assert [(r.thread_id, r.response_index) for r in served] == [(first.thread_id, i) for i in range(4)]
    assert served[2].user_texts()[-2:] == ["start the work", "more"]
    # turn.completed usage is cumulative over the thread: four default responses of 100 + 20 tokens.
    usage = second.last("turn.completed")["usage"]
    assert (usage["input_tokens"], usage["output_tokens"]) == (400, 80)


@pytest.mark.codex
def test_exhausted_scenario_completes_instead_of_hanging(
    codex_bin: Path, scripted_model: ScriptedModel, codex_env: dict[str, str], workdir: Path
) -> None:
    scripted_model.add_scenario(scenario("short", shell("echo only")))
    run = run_codex_exec(codex_bin, codex_env, workdir, "do one thing")
    assert_success(run)
    assert run.last_message == EXHAUSTED_TEXT
    assert [(r.response_index, r.exhausted) for r in scripted_model.requests] == [(0, False), (None, True)]


@pytest.mark.codex
def test_raw_events_and_default_scenario(
    codex_bin: Path, scripted_model: ScriptedModel, codex_env: dict[str, str], workdir: Path
) -> None:
    scripted_model.add_scenario(scenario("unrelated", say("wrong"), match="never-in-the-prompt"))
    message = {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "raw hi"}]}
    scripted_model.default = scenario(
        "fallback",
        {
            "kind": "raw",
            "events": [
                {"data": {"type": "response.created", "response": {"id": "raw_1"}}},
                {"data": {"type": "response.output_item.done", "item": {"id": "m1", **message}}},
                "event: response.completed\ndata: "
                + json.dumps({"type": "response.completed", "response": {"id": "raw_1"}}),
            ],
        },
        match=None,
    )
    run = run_codex_exec(codex_bin, codex_env, workdir, "anything at all")
    assert_success(run)
    assert run.last_message == "raw hi"
    assert [r.scenario for r in scripted_model.requests] == ["fallback"]
