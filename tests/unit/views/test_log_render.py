"""Plain-text log rendering (cleaned: see test_text.py for the sanitiser itself)."""

from __future__ import annotations

import json
from pathlib import Path

from cockpit.core.attempts.tailer import EventTailer
from cockpit.core.codex.exec_events import parse_event_line
from cockpit.core.views.event_lines import LogRenderer, render_event
from tests.helpers.codex_samples import HAPPY_PATH

RECORDED = Path(__file__).resolve().parents[2] / "fixtures" / "codex" / "recorded-mixed.jsonl"


def render(obj: dict[str, object] | str, **kwargs: object) -> list[str]:
    line = obj if isinstance(obj, str) else json.dumps(obj)
    return render_event(parse_event_line(line), **kwargs)  # type: ignore[arg-type]


def command(exit_code: int | None, output: str, status: str = "completed", cmd: str = "/bin/bash -lc 'make'"):
    item = {"id": "item_5", "type": "command_execution", "command": cmd, "aggregated_output": output}
    return {"type": "item.completed", "item": {**item, "exit_code": exit_code, "status": status}}


def test_happy_path_log() -> None:
    renderer = LogRenderer()
    lines = [text for line in HAPPY_PATH for text in renderer.render(parse_event_line(line))]
    assert lines == [
        "▸ thread 01a20a5f-decb-7541-abf5-b79e7c24b02c",
        "! Model metadata for `mock-model` not found. Defaulting to fallback metadata; this can degrade "
        "performance and cause issues.",
        "▸ turn started",
        "» Creating hello.txt",
        "$ echo hi > hello.txt",
        "  ✓ exit 0",
        "» done",
        "■ turn completed: in 1334 (cached 1000) out 76 (reasoning 7)",
    ]


def test_stateless_render_repeats_the_command_on_completion() -> None:
    assert render(HAPPY_PATH[4]) == ["$ echo hi > hello.txt"]
    assert render(HAPPY_PATH[5]) == ["$ echo hi > hello.txt", "  ✓ exit 0"]


def test_renderer_repeats_the_command_when_something_came_between() -> None:
    renderer = LogRenderer()
    renderer.render(parse_event_line(HAPPY_PATH[4]))
    renderer.render(parse_event_line(HAPPY_PATH[3]))
    assert renderer.render(parse_event_line(HAPPY_PATH[5]))[0] == "$ echo hi > hello.txt"


def test_failing_command_with_long_output() -> None:
    output = "".join(f"line {i}\n" for i in range(1, 9))
    assert render(command(3, output, "failed")) == [
        "$ make",
        "  ✗ exit 3",
        "    line 1",
        "    line 2",
        "    line 3",
        "    line 4",
        "    line 5",
        "    … (3 more lines)",
    ]
    assert render(command(3, "oops\n", "failed"), output_lines=0) == ["$ make", "  ✗ exit 3"]
    assert render(command(None, "", "declined")) == ["$ make", "  ✗ declined"]
    assert render(command(0, "", cmd="ls -la")) == ["$ ls -la", "  ✓ exit 0"]


def test_turn_outcomes_errors_and_unknowns() -> None:
    assert render('{"type":"turn.failed","error":{"message":"exceeded retry limit"}}') == [
        "✗ turn failed: exceeded retry limit"
    ]
    assert render('{"type":"error","message":"Reconnecting... 1/5"}') == ["! Reconnecting... 1/5"]
    assert render('{"type":"thread.compacted"}') == ["? unknown event type thread.compacted"]
    assert render('{"type":"item.completed","item":{"id":"i","type":"image_view"}}') == [
        "? unknown item type image_view"
    ]
    assert render('{"type":"turn.completed","usage":{"input_tokens":300,"output_tokens":60}}') == [
        "■ turn completed: in 300 out 60"
    ]


def test_items() -> None:
    change = {
        "type": "item.completed",
        "item": {
            "id": "i",
            "type": "file_change",
            "changes": [{"path": "/w/repo/hello.txt", "kind": "add"}, {"path": "/etc/x", "kind": "delete"}],
            "status": "completed",
        },
    }
    assert render(change, root="/w/repo") == ["✎ add hello.txt", "✎ delete /etc/x"]
    assert render({**change, "type": "item.started"}) == []
    assert render(
        {"type": "item.completed", "item": {"type": "reasoning", "text": "**Checking**\nthe file"}}
    ) == [
        "~ **Checking**",
        "  the file",
    ]
    assert render({"type": "item.completed", "item": {"type": "agent_message", "text": "a\n\nb"}}) == [
        "» a",
        "",
        "  b",
    ]
    todo = {
        "type": "todo_list",
        "items": [{"text": "read", "completed": True}, {"text": "write", "completed": False}],
    }
    assert render({"type": "item.updated", "item": todo}) == ["☰ todo 1/2", "  [x] read", "  [ ] write"]
    mcp = {"type": "mcp_tool_call", "server": "docs", "tool": "search", "arguments": {"q": "x"}}
    assert render({"type": "item.started", "item": mcp}) == ['⚙ docs.search {"q":"x"}']
    assert render({"type": "item.completed", "item": {**mcp, "status": "completed"}}) == ["  ✓ docs.search"]
    failed = {**mcp, "status": "failed", "error": {"message": "gone"}}
    assert render({"type": "item.completed", "item": failed}) == ["  ✗ docs.search: gone"]
    assert render({"type": "item.completed", "item": {"type": "web_search", "query": "q"}}) == ["⌕ search: q"]
    assert render({"type": "item.completed", "item": {"type": "plan", "text": "1. a\n2. b"}}) == [
        "≡ plan",
        "  1. a",
        "  2. b",
    ]
    assert render({"type": "item.plan.delta", "item_id": "i", "delta": "1."}) == []
    ask = {"type": "request_user_input", "questions": [{"id": "q", "question": "Which one?"}]}
    assert render(ask) == ["✋ input requested", "  Which one?"]


def test_recorded_stream_renders_without_escapes(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(RECORDED.read_bytes())
    renderer = LogRenderer(root="/tmp/cockpit-record-mixed/work")
    lines = [text for event in EventTailer(path).read_new() for text in renderer.render(event)]
    assert lines[0].startswith("▸ thread ")
    assert lines[-1].startswith("■ turn completed: ")
    assert "✎ add missing.txt" in lines and "✎ update words.txt" in lines
    assert all("\x1b" not in text and "\r" not in text for text in lines)


def test_rendering_strips_and_redacts_everything_displayed() -> None:
    hostile = command(
        0,
        "\x1b[32mok\x1b[0m\nAPI_KEY=sk-abcdefghijklmnopqrstuvwx\n\x1b]0;pwned\x07done\n",
        cmd="/bin/bash -lc 'curl -H \"Authorization: Bearer abcdefgh12345678\" \x1b[2J https://x'",
    )
    lines = render(hostile)
    assert lines == [
        '$ curl -H "Authorization: Bearer [REDACTED]"  https://x',
        "  ✓ exit 0",
        "    ok",
        "    API_KEY=[REDACTED]",
        "    done",
    ]
    message = render(
        {"type": "item.completed", "item": {"type": "agent_message", "text": "\x1b[31mhi\x07 ghp_"}}
    )
    assert message == ["» hi ghp_"]
    assert render({"type": "error", "message": "password=abc\x1b[0m"}) == ["! password=[REDACTED]"]
