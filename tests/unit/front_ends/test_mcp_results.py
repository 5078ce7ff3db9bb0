"""The MCP server's results, sized for a model: one JSON block then one page, pages cut at line ends
and shrunk until the whole result fits, cursors tied to a text's version, item lists cut to fit, and
cleaned texts cached while their file is unchanged; ``--print-config`` names this cockpit absolutely;
a task's next step and its watch."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cockpit.cli.mcp_results import (
    MIN_PAGE_CHARS,
    PAGE_CHARS,
    RESULT_LIMIT,
    Page,
    TextCache,
    bounded,
    cursor_of,
    fit_items,
    offset_of,
    page_of,
    reply,
    serialized_size,
)
from cockpit.cli.mcp_setup import TOOL_NAMES, allowed_tools, cockpit_command, config_text, server_entry
from cockpit.cli.mcp_views import Watch, next_step
from cockpit.core import CommandError


def meta_of(page: Page) -> dict[str, Any]:
    return {"page": page.info(), "more": page.more}


def size_of(meta: dict[str, Any], page: Page) -> int:
    return serialized_size([json.dumps(meta, ensure_ascii=False, separators=(",", ":")), page.text])


def test_a_reply_is_the_json_then_the_page_and_nothing_structured() -> None:
    result = reply({"task_id": "t", "note": "\x1b[31mred\x1b[0m sk-abcdefghijklmnopqrstuv"}, "the page\n")
    assert result.structured_content is None and not result.is_error
    first, second = (b.text for b in result.content)  # type: ignore[union-attr]
    assert json.loads(first) == {"task_id": "t", "note": "red sk-[REDACTED]"}
    assert second == "the page\n"
    assert len(reply({"a": 1}).content) == 1


def test_a_field_nobody_expected_to_be_long_is_cut_to_keep_the_result_under_the_limit() -> None:
    meta = {"task_id": "t", "title": "T" * 100_000, "outcome": {"detail": "D" * 60_000}, "n": 3}
    result = reply(meta, "page\n" * 2000)
    texts = [b.text for b in result.content]  # type: ignore[union-attr]
    assert serialized_size(texts) <= RESULT_LIMIT and texts[1] == "page\n" * 2000
    shown = json.loads(texts[0])
    assert shown["task_id"] == "t" and shown["n"] == 3
    assert shown["title"].startswith("TTTT") and shown["title"].endswith(" more characters)")
    assert bounded({"a": "x" * 100}, RESULT_LIMIT) == {"a": "x" * 100}  # what fits is left alone
    page, paged = page_of("line\n" * 20_000, 0, 0, 100_000, lambda p: {**meta_of(p), "huge": "h" * 90_000})
    assert size_of(paged, page) <= RESULT_LIMIT and len(page.text) > MIN_PAGE_CHARS


def test_pages_end_at_line_ends_and_cover_the_text() -> None:
    text = "".join(f"line {i:05d} " + "x" * (i % 50) + "\n" for i in range(5000))
    start, joined = 0, ""
    while True:
        page, meta = page_of(text, start, 0, len(text), meta_of)
        assert len(page.text) <= PAGE_CHARS and size_of(meta, page) <= RESULT_LIMIT
        assert page.text.endswith("\n")
        assert meta["page"] == {"from": start, "to": page.end, "of": len(text)}
        joined += page.text
        if not page.more:
            break
        start = page.end
    assert joined == text


def test_a_line_longer_than_a_page_is_cut_where_the_page_is_full() -> None:
    text = "short\n" + "y" * 100_000 + "\nend\n"
    first, _ = page_of(text, 0, 0, len(text), meta_of)
    assert first.text == "short\n"  # a line end in reach: cut there
    second, _ = page_of(text, first.end, 0, len(text), meta_of)
    assert len(second.text) == PAGE_CHARS and "\n" not in second.text


def test_a_page_shrinks_until_the_escaped_result_fits() -> None:
    text = ('"\\' * 20_000 + "\n") * 3  # every character doubles when escaped
    page, meta = page_of(text, 0, 0, len(text), meta_of)
    assert size_of(meta, page) <= RESULT_LIMIT and len(page.text) < PAGE_CHARS // 2 + 1000
    small, _ = page_of("a\n" * 10_000, 0, 0, 20_000, meta_of, limit=10)
    assert len(small.text) == MIN_PAGE_CHARS  # asked smaller than the floor


@settings(max_examples=40, deadline=None)
@given(st.text(alphabet=st.sampled_from('ab"\\é€\n\t'), min_size=0, max_size=90_000))
def test_any_text_pages_into_results_under_the_limit(text: str) -> None:
    start, joined = 0, ""
    for _ in range(200):
        page, meta = page_of(text, start, 0, len(text), meta_of)
        assert size_of(meta, page) <= RESULT_LIMIT
        joined += page.text
        if not page.more:
            break
        assert page.end > start
        start = page.end
    assert joined == text


def test_cursors_name_a_version_and_an_offset() -> None:
    cursor = cursor_of("abc123", 4096)
    assert cursor == "abc123.4096"
    assert offset_of(cursor, "abc123", 0, 10_000, "diff") == 4096
    assert offset_of(None, "abc123", 7, 10, "diff") == 7 and offset_of(" ", "v", 3, 9, "diff") == 3
    with pytest.raises(CommandError, match=r"the diff changed since cursor 'abc123.4096' was given"):
        offset_of(cursor, "def456", 0, 10_000, "diff")
    with pytest.raises(CommandError, match=r"invalid cursor 'nope': pass the next_cursor"):
        offset_of("nope", "abc123", 0, 10, "diff")
    with pytest.raises(CommandError, match=r"is outside the diff of a.txt"):
        offset_of(cursor, "abc123", 0, 100, "diff of a.txt")


def test_items_are_cut_to_fit_and_say_where_to_go_on() -> None:
    items = [{"path": f"dir/file-{i:04d}.txt", "added": i, "note": 'with "quotes"'} for i in range(2000)]
    meta = {"task_id": "t", "count": len(items)}
    start, seen = 0, []
    while True:
        chosen, stop = fit_items(meta, "files", items, start)
        whole = {**meta, "files": chosen, "next_cursor": None if stop is None else cursor_of("v", stop)}
        assert serialized_size([json.dumps(whole, ensure_ascii=False, separators=(",", ":"))]) <= RESULT_LIMIT
        seen += chosen
        if stop is None:
            break
        assert stop > start
        start = stop
    assert seen == items
    assert fit_items(meta, "files", [], 0) == ([], None)
    huge = [{"blob": "z" * (RESULT_LIMIT * 2)}]
    assert fit_items(meta, "files", huge, 0) == (huge, None)  # one item always goes (the caller cuts it)


def test_the_cache_cleans_once_and_notices_a_changed_file(tmp_path: Path) -> None:
    path = tmp_path / "diff.patch"
    path.write_text("diff --git a/x b/x\n+API_KEY=abc123\n")
    cache = TextCache(entries=2)
    first = cache.read(path, patch=True)
    assert first.text == "diff --git a/x b/x\n+API_KEY=[REDACTED]\n" and [f.path for f in first.files] == [
        "x"
    ]
    assert cache.read(path, patch=True) is first
    path.write_text("diff --git a/y b/y\n+new\n")
    os.utime(path, ns=(1, 1))
    second = cache.read(path, patch=True)
    assert second.version != first.version and [f.path for f in second.files] == ["y"]
    assert second.file("y") is not None and second.file("x") is None
    assert second.files_between(0, 5) == second.files and second.files_between(10_000, 10_001) == []
    plain = cache.read(path)
    assert plain.files == [] and plain.text == second.text


def test_print_config_names_this_cockpit_and_the_repository(tmp_path: Path) -> None:
    entry = server_entry(tmp_path)
    command = cockpit_command()
    assert Path(command[0]).is_absolute() and Path(command[0]).exists()
    assert entry == {
        "type": "stdio",
        "command": command[0],
        "args": [*command[1:], "--repo", str(tmp_path.resolve()), "mcp"],
        "alwaysLoad": True,
    }
    assert command == [str(Path(sys.executable).parent / "cockpit")]  # the venv's script, under pytest
    assert allowed_tools().split(",") == [f"mcp__cockpit__{name}" for name in TOOL_NAMES]
    text = config_text(tmp_path)
    block = text[text.index("{\n") : text.index("\n}\n") + 2]
    assert json.loads(block) == {"mcpServers": {"cockpit": entry}}
    assert f"claude mcp add-json --scope project cockpit '{json.dumps(entry)}'" in text
    assert "--strict-mcp-config" in text and "docs/orchestrator/CLAUDE.md" in text


@pytest.mark.parametrize(
    ("status", "lane", "supervisor", "expected"),
    [
        ("submitted (in the inbox)", "worktree", False, "waiting in the inbox: start a supervisor"),
        ("running", "mcp", True, "wait_for_task(task='t-1', since=<watch>)"),
        ("awaiting_decision", "worktree", False, "wait_for_task(task='t-1', since=<watch>): the answer is"),
        ("review", "worktree", True, "read the result: get_diff_summary"),
        ("succeeded", "local", True, "done: get_last_message for the worker's report; the change is in"),
        ("failed", "worktree", True, "get_last_message says why"),
        ("merged", "worktree", True, "nothing more to do"),
    ],
)
def test_next_says_what_to_do(status: str, lane: str, supervisor: bool, expected: str) -> None:
    assert next_step({"id": "t-1", "status": status, "lane": lane}, None, supervisor).startswith(expected)


def test_a_watch_is_a_short_token_and_says_what_changed() -> None:
    before = Watch.parse("running;-;0;0")
    assert before == Watch("running", None, 0, 0) and before.token == "running;-;0;0"
    assert not before.needs_orchestrator and Watch("review", None, 0, 0).needs_orchestrator
    assert Watch("running", "decision-001", 0, 0).needs_orchestrator
    assert Watch("queued", None, 0, 0).changes_since(before, None, None) == []  # not news by itself
    assert Watch("review", None, 0, 0).changes_since(before, None, None) == ["status running -> review"]
    for bad in ("", "running;-;0", "running;-;x;0", ";-;0;0"):
        with pytest.raises(CommandError, match="pass the `watch` of an earlier result"):
            Watch.parse(bad)
