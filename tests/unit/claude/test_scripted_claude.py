"""The scripted Messages API server over loopback HTTP, without Claude Code: the SSE and whole-message
shapes, one response per request and session, matching by the prompt, errors with their headers, the
endpoints Claude Code calls besides, and the command line."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from cockpit.demo.scripted_claude import (
    EXHAUSTED_TEXT,
    NO_SCENARIO_TEXT,
    Scenario,
    ScriptedClaude,
    client_env,
    load_scenario,
    load_scenarios,
)

EXAMPLES = Path(__file__).resolve().parents[3] / "demo" / "claude_scenarios"


def scenario(*responses: dict[str, Any], match: str | None = "", name: str = "s", **extra: Any) -> Scenario:
    return Scenario.model_validate({"name": name, "match": match, "responses": list(responses), **extra})


def body(
    prompt: str = "hello", *, stream: bool = True, history: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    first = {
        "role": "user",
        "content": [
            {"type": "text", "text": "<system-reminder>x</system-reminder>"},
            {"type": "text", "text": prompt},
        ],
    }
    return {
        "model": "claude-opus-4-8",
        "max_tokens": 1000,
        "stream": stream,
        "messages": [first, *(history or [])],
    }


def post(
    server: ScriptedClaude,
    data: dict[str, Any] | None,
    *,
    session: str | None = "s-1",
    path: str = "/v1/messages?beta=true",
) -> tuple[int, dict[str, str], bytes]:
    headers = {"Content-Type": "application/json", "x-api-key": "k", "anthropic-version": "2023-06-01"}
    if session is not None:
        headers["X-Claude-Code-Session-Id"] = session
    request = urllib.request.Request(
        server.base_url + path, data=json.dumps(data).encode(), headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, {k.lower(): v for k, v in reply.headers.items()}, reply.read()
    except urllib.error.HTTPError as err:
        return err.code, {k.lower(): v for k, v in err.headers.items()}, err.read()


def sse(raw: bytes) -> list[tuple[str, dict[str, Any]]]:
    """(event name, data) of each SSE frame."""
    out = []
    for frame in raw.decode().split("\n\n"):
        if not frame.strip():
            continue
        name = next(line[7:] for line in frame.splitlines() if line.startswith("event: "))
        data = "\n".join(line[6:] for line in frame.splitlines() if line.startswith("data: "))
        out.append((name, json.loads(data)))
    return out


def assembled(events: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """The content blocks a client builds from the deltas."""
    blocks: dict[int, dict[str, Any]] = {}
    partial: dict[int, str] = {}
    for name, data in events:
        if name == "content_block_start":
            blocks[data["index"]] = dict(data["content_block"])
        elif name == "content_block_delta":
            delta, block = data["delta"], blocks[data["index"]]
            if delta["type"] == "text_delta":
                block["text"] += delta["text"]
            elif delta["type"] == "thinking_delta":
                block["thinking"] += delta["thinking"]
            elif delta["type"] == "signature_delta":
                block["signature"] = delta["signature"]
            elif delta["type"] == "input_json_delta":
                partial[data["index"]] = partial.get(data["index"], "") + delta["partial_json"]
        elif name == "content_block_stop" and data["index"] in partial:
            blocks[data["index"]]["input"] = json.loads(partial[data["index"]])
    return [blocks[i] for i in sorted(blocks)]


@pytest.fixture
def server() -> Any:
    with ScriptedClaude() as running:
        yield running


def test_the_example_scenarios_load() -> None:
    (example,) = load_scenarios(EXAMPLES)
    assert example == load_scenario(EXAMPLES / "example.toml")
    assert example.name == "example" and example.match == "hello.txt"
    assert [r.kind for r in example.responses] == ["message", "message"]
    assert [b.kind for b in example.responses[0].blocks] == ["text", "bash"]


def test_response_kinds_validate_and_typos_are_refused() -> None:
    loaded = scenario(
        {"blocks": [{"kind": "tool_use", "name": "Read", "input": {"file_path": "/x"}}]},
        {"kind": "http_error", "status": 429, "headers": {"retry-after": 2}},
        {"kind": "stream_error", "error_type": "api_error"},
        {"kind": "drop", "partial": "cut"},
        {"kind": "stall", "stall_s": 1},
        {"kind": "raw", "events": ["event: ping\ndata: {}"]},
    )
    assert [r.kind for r in loaded.responses] == [
        "message",
        "http_error",
        "stream_error",
        "drop",
        "stall",
        "raw",
    ]
    assert loaded.responses[1].headers == {"retry-after": "2"}
    with pytest.raises(ValidationError):
        scenario({"blocks": [{"kind": "text", "txt": "typo"}]})
    with pytest.raises(ValidationError):
        scenario({"kind": "http_error", "status": 200})


def test_a_streamed_turn_has_the_messages_api_shape(server: ScriptedClaude) -> None:
    server.add_scenario(
        scenario(
            {
                "blocks": [
                    {"kind": "thinking", "text": "Let me look."},
                    {"kind": "text", "text": "Reading it."},
                    {"kind": "bash", "command": "cat 'a b.txt'", "description": "Show it"},
                    {"kind": "tool_use", "name": "Read", "input": {"file_path": "/tmp/x"}},
                ],
                "usage": {"input_tokens": 1234, "output_tokens": 56, "cache_read_input_tokens": 7},
                "headers": {"anthropic-ratelimit-requests-remaining": 9},
            }
        )
    )
    status, headers, raw = post(server, body())
    assert status == 200 and headers["content-type"] == "text/event-stream"
    assert headers["anthropic-ratelimit-requests-remaining"] == "9" and headers["request-id"].startswith(
        "req_"
    )
    events = sse(raw)
    names = [name for name, _ in events]
    assert names[:2] == ["message_start", "ping"] and names[-2:] == ["message_delta", "message_stop"]
    assert all(name == data["type"] for name, data in events)
    start = events[0][1]["message"]
    assert start["model"] == "claude-opus-4-8" and start["content"] == [] and start["stop_reason"] is None
    assert start["usage"]["input_tokens"] == 1234 and start["usage"]["cache_read_input_tokens"] == 7
    assert events[-2][1]["delta"]["stop_reason"] == "tool_use" and events[-2][1]["usage"] == {
        "output_tokens": 56
    }
    blocks = assembled(events)
    assert blocks[0] == {"type": "thinking", "thinking": "Let me look.", "signature": "c2NyaXB0ZWQ="}
    assert blocks[1] == {"type": "text", "text": "Reading it."}
    assert blocks[2]["name"] == "Bash" and blocks[2]["input"] == {
        "command": "cat 'a b.txt'",
        "description": "Show it",
    }
    assert blocks[3]["name"] == "Read" and blocks[3]["input"] == {"file_path": "/tmp/x"}
    assert blocks[2]["id"].startswith("toolu_") and blocks[2]["id"] != blocks[3]["id"]
    deltas = [d for n, d in events if n == "content_block_delta" and d["index"] == 1]
    assert len(deltas) == 2  # the text comes in pieces


def test_a_non_streaming_request_gets_the_whole_message(server: ScriptedClaude) -> None:
    server.add_scenario(scenario({"blocks": [{"kind": "text", "text": "All at once."}], "model": "claude-x"}))
    status, headers, raw = post(server, body(stream=False))
    assert status == 200 and headers["content-type"] == "application/json"
    message = json.loads(raw)
    assert message["type"] == "message" and message["model"] == "claude-x"
    assert (
        message["content"] == [{"type": "text", "text": "All at once."}]
        and message["stop_reason"] == "end_turn"
    )
    assert message["usage"]["output_tokens"] == 20 and message["id"].startswith("msg_")
    (recorded,) = server.message_requests()
    assert not recorded.streamed and recorded.kind == "message"


def test_each_session_walks_its_own_scenario_chosen_by_the_prompt(server: ScriptedClaude) -> None:
    server.add_scenario(
        scenario(
            {"blocks": [{"kind": "text", "text": "A1"}]},
            {"blocks": [{"kind": "text", "text": "A2"}]},
            match="alpha",
            name="a",
        )
    )
    server.add_scenario(scenario({"blocks": [{"kind": "text", "text": "B1"}]}, name="b", repeat_last=True))

    def text(prompt: str, session: str | None) -> str:
        return "".join(
            b.get("text", "") for b in assembled(sse(post(server, body(prompt), session=session)[2]))
        )

    assert text("do alpha", "one") == "A1"
    assert text("anything", "two") == "B1"  # the catch-all
    assert text("ignored: the session keeps its scenario", "one") == "A2"
    assert text("more", "two") == "B1"  # repeat_last
    assert text("again", "one") == EXHAUSTED_TEXT
    assert server.session_scenario("one") == "a" and server.session_scenario("two") == "b"
    indexes = [(r.session_id, r.scenario, r.response_index, r.exhausted) for r in server.message_requests()]
    assert indexes == [
        ("one", "a", 0, False),
        ("two", "b", 0, False),
        ("one", "a", 1, False),
        ("two", "b", 0, True),
        ("one", "a", None, True),
    ]
    # Without the session header the session id in metadata.user_id is used.
    meta = body("alpha again") | {"metadata": {"user_id": json.dumps({"session_id": "three"})}}
    post(server, meta, session=None)
    assert server.message_requests()[-1].session_id == "three"


def test_no_scenario_answers_instead_of_hanging() -> None:
    with ScriptedClaude([scenario(match="only this")]) as server:
        events = sse(post(server, body("something else"))[2])
        assert assembled(events) == [{"type": "text", "text": NO_SCENARIO_TEXT}]


def test_the_request_is_recorded_with_its_tool_results(server: ScriptedClaude) -> None:
    history = [
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {}}],
        },
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "out"}]},
    ]
    data = body("hello", history=history) | {"tools": [{"name": "Bash"}, {"name": "Read"}]}
    post(server, data)
    (recorded,) = server.message_requests()
    assert recorded.path == "/v1/messages" and recorded.model == "claude-opus-4-8"
    assert recorded.user_texts()[-1] == "hello" and recorded.tool_names() == ["Bash", "Read"]
    assert recorded.tool_results() == [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "out"}]
    assert recorded.headers["x-api-key"] == "k"


def _result(n: int, *texts: str, as_string: bool = False) -> list[dict[str, Any]]:
    """The assistant's tool call ``n`` and the user message carrying its result (``texts``)."""
    content: Any = texts[0] if as_string else [{"type": "text", "text": t} for t in texts]
    return [
        {"role": "assistant", "content": [{"type": "tool_use", "id": f"t{n}", "name": "x", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": f"t{n}", "content": content}]},
    ]


def test_tool_inputs_copy_values_from_earlier_results_and_a_page_repeats_while_there_is_more(
    server: ScriptedClaude,
) -> None:
    page = {
        "blocks": [
            {
                "kind": "tool_use",
                "name": "mcp__cockpit__get_task_diff",
                "input": {"max_chars": 100},
                "input_from": {"task": "task_id", "cursor": "next_cursor", "file": "files.1.path"},
            }
        ],
        "repeat_while": "next_cursor",
    }
    server.add_scenario(scenario(page, {"blocks": [{"kind": "text", "text": "read it all"}]}))

    def ask(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return assembled(sse(post(server, body("go", history=history))[2]))

    submitted = _result(
        1, json.dumps({"task_id": "t-1", "files": [{"path": "a"}, {"path": "b"}]}), as_string=True
    )
    (first,) = ask(submitted)  # no result holds next_cursor yet: the key is left out
    assert first["input"] == {"max_chars": 100, "task": "t-1", "file": "b"}
    paged = submitted + _result(2, json.dumps({"next_cursor": "v.100", "task_id": "t-1"}), "page text")
    (second,) = ask(paged)  # the newest result with the path wins; plain text blocks are skipped
    assert second["input"] == {"max_chars": 100, "task": "t-1", "file": "b", "cursor": "v.100"}
    last = paged + _result(3, json.dumps({"next_cursor": None}), "last page")
    assert ask(last) == [{"type": "text", "text": "read it all"}]  # null: no more pages, move on
    indexes = [r.response_index for r in server.message_requests()]
    assert indexes == [0, 0, 1]


def test_a_repeat_stops_when_the_newest_result_is_not_json(server: ScriptedClaude) -> None:
    page = {"blocks": [{"kind": "tool_use", "name": "x", "input": {}}], "repeat_while": "next_cursor"}
    server.add_scenario(scenario(page, {"blocks": [{"kind": "text", "text": "on"}]}))
    history = _result(1, json.dumps({"next_cursor": "v.1"}), as_string=True)
    assert assembled(sse(post(server, body("go", history=history))[2]))[0]["type"] == "tool_use"
    history += _result(2, "an error, not JSON", as_string=True)
    assert assembled(sse(post(server, body("go", history=history))[2])) == [{"type": "text", "text": "on"}]


def test_http_errors_carry_the_api_error_body_and_headers(server: ScriptedClaude) -> None:
    server.add_scenario(
        scenario(
            {"kind": "http_error", "status": 429, "headers": {"retry-after": 3, "x-should-retry": True}},
            {"kind": "http_error", "status": 401, "message": "bad key"},
            {"kind": "http_error", "status": 500, "body": "<html>proxy</html>"},
            {"kind": "http_error"},
        )
    )
    status, headers, raw = post(server, body())
    assert status == 429 and headers["retry-after"] == "3" and headers["x-should-retry"] == "true"
    error = json.loads(raw)
    assert error["type"] == "error" and error["error"]["type"] == "rate_limit_error"
    assert error["request_id"] == headers["request-id"]
    status, _, raw = post(server, body())
    assert status == 401 and json.loads(raw)["error"] == {
        "type": "authentication_error",
        "message": "bad key",
    }
    status, headers, raw = post(server, body())
    assert (status, raw, headers["content-type"]) == (500, b"<html>proxy</html>", "text/plain; charset=utf-8")
    status, _, raw = post(server, body())
    assert status == 529 and json.loads(raw)["error"]["type"] == "overloaded_error"  # the default


def test_stream_errors_and_drops(server: ScriptedClaude) -> None:
    server.add_scenario(
        scenario(
            {"kind": "stream_error", "blocks": [{"kind": "text", "text": "so far"}]},
            {"kind": "stream_error", "error_type": "rate_limit_error", "message": "slow down"},
            {"kind": "drop", "blocks": [{"kind": "text", "text": "whole"}], "partial": "hal"},
        )
    )
    events = sse(post(server, body())[2])
    assert [n for n, _ in events][-2:] == ["content_block_stop", "error"]
    assert events[-1][1]["error"] == {"type": "overloaded_error", "message": "Overloaded"}
    status, _, raw = post(server, body(stream=False))  # the same failure to a whole-message request
    assert status == 429 and json.loads(raw)["error"]["message"] == "slow down"
    events = sse(post(server, body())[2])
    names = [n for n, _ in events]
    assert "message_stop" not in names and "message_delta" not in names
    assert names.count("content_block_start") == 2 and names.count("content_block_stop") == 1
    assert assembled(events)[1] == {"type": "text", "text": "hal"}


def test_count_tokens_the_start_probe_and_unknown_routes_consume_nothing(server: ScriptedClaude) -> None:
    server.add_scenario(scenario({"blocks": [{"kind": "text", "text": "first"}]}))
    status, _, raw = post(server, body(), path="/v1/messages/count_tokens?beta=true")
    assert status == 200 and json.loads(raw)["input_tokens"] > 0
    head = urllib.request.Request(server.base_url + "/", method="HEAD")
    with urllib.request.urlopen(head, timeout=5) as reply:
        assert reply.status == 200
    status, _, _ = post(server, body(), path="/v1/complete")
    assert status == 404
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(server.base_url + "/v1/models", timeout=5)
    assert missing.value.code == 404
    assert assembled(sse(post(server, body())[2])) == [{"type": "text", "text": "first"}]
    kinds = [(r.method, r.kind) for r in server.requests]
    assert kinds == [
        ("POST", "count_tokens"),
        ("HEAD", "probe"),
        ("POST", "not_found"),
        ("GET", "probe"),
        ("POST", "message"),
    ]
    assert len(server.message_requests()) == 1


def test_stop_releases_stalls_and_gates_promptly() -> None:
    server = ScriptedClaude(
        [scenario({"kind": "stall"}, {"gate": "g", "blocks": [{"kind": "text", "text": "x"}]})]
    )
    server.start()
    outcomes: list[object] = []

    def client() -> None:
        try:
            outcomes.append(post(server, body()))
        except Exception as exc:
            outcomes.append(exc)

    first = threading.Thread(target=client)
    first.start()
    assert server.wait_for_requests(1, timeout=5)
    second = threading.Thread(target=client)
    second.start()
    assert server.wait_for_requests(2, timeout=5)
    started = time.monotonic()
    server.stop()
    first.join(timeout=5)
    second.join(timeout=5)
    assert time.monotonic() - started < 5 and not first.is_alive() and not second.is_alive()


def test_a_gate_holds_the_reply_until_opened(server: ScriptedClaude) -> None:
    server.add_scenario(scenario({"gate": "go", "blocks": [{"kind": "text", "text": "released"}]}))
    replies: list[bytes] = []
    thread = threading.Thread(target=lambda: replies.append(post(server, body())[2]))
    thread.start()
    assert server.wait_for_requests(1, timeout=5)
    time.sleep(0.2)
    assert not replies
    server.open_gate("go")
    thread.join(timeout=5)
    assert assembled(sse(replies[0])) == [{"type": "text", "text": "released"}]


def test_client_env_points_claude_code_here_and_nowhere_else(tmp_path: Path) -> None:
    env = client_env("http://127.0.0.1:9", tmp_path / "home")
    assert env["ANTHROPIC_BASE_URL"] == "http://127.0.0.1:9" and env["ANTHROPIC_API_KEY"]
    assert env["HOME"] == str(tmp_path / "home") and env["CLAUDE_CONFIG_DIR"] == str(
        tmp_path / "home" / ".claude"
    )
    assert (tmp_path / "home" / ".claude").is_dir()
    assert env["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"] == "1" and env["DISABLE_TELEMETRY"] == "1"


def test_the_command_line_serves_a_directory_until_sigterm() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "cockpit.demo.scripted_claude", "--scenarios", str(EXAMPLES)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        base_url = proc.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:")
        data = json.dumps(body("what is in hello.txt?")).encode()
        request = urllib.request.Request(base_url + "/v1/messages", data=data, method="POST")
        with urllib.request.urlopen(request, timeout=10) as reply:
            blocks = assembled(sse(reply.read()))
        assert blocks[1]["input"]["command"] == "cat hello.txt"
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0 and "1 scenario(s): example" in err
