"""What ``codex cloud`` prints, read as the 0.169.0 binary prints it (docs/codex-cloud.md §0, §1): the
task URL of ``exec``, the three ``status`` lines for READY, PENDING and ERROR, ``list --json`` with an
open ``status`` set, the raw diff; hostile titles reach the cockpit cleaned."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cockpit.core.codex.cloud.wire import (
    CloudOutputError,
    parse_diff_output,
    parse_exec_output,
    parse_list_output,
    parse_status_output,
    task_id_from_url,
)
from cockpit.core.errors import CodexError

TASK = "task_e_3d32c0ffee0123456789abcdef012345"
URL = f"https://chatgpt.com/codex/tasks/{TASK}"

LIST_JSON = """{
  "tasks": [
    {
      "id": "task_e_430d0a1b2c3d",
      "url": "https://chatgpt.com/codex/tasks/task_e_430d0a1b2c3d",
      "title": "second [fake:delay=3]",
      "status": "pending",
      "updated_at": "2026-11-23T21:53:35.937081098Z",
      "environment_id": null,
      "environment_label": "fake/other",
      "summary": { "files_changed": 0, "lines_added": 0, "lines_removed": 0 },
      "is_review": false,
      "attempt_total": 2
    }
  ],
  "cursor": null
}
"""

DIFF = """diff --git a/cloud_task_876e396f.txt b/cloud_task_876e396f.txt
new file mode 100644
index 0000000..1111111
--- /dev/null
+++ b/cloud_task_876e396f.txt
@@ -0,0 +1,2 @@
+hello
+from the cloud
"""


# ---------------------------------------------------------------------------------------------- exec


def test_exec_prints_the_task_url() -> None:
    ref = parse_exec_output(f"{URL}\n")
    assert (ref.id, ref.url) == (TASK, URL)


def test_exec_url_query_and_fragment_are_stripped() -> None:
    assert parse_exec_output(f"{URL}?tab=diff#top\n").id == TASK
    assert task_id_from_url(f"{URL}/") == TASK
    assert task_id_from_url(TASK) == TASK  # a bare id reads as itself, as codex cloud status takes it


def test_exec_takes_the_last_url_line() -> None:
    assert parse_exec_output(f"warning: stale login\n\x1b[36m{URL}\x1b[0m\n").id == TASK


@pytest.mark.parametrize(
    "stdout",
    [
        "",
        "\n",
        "Not signed in. Please run 'codex login' to sign in with ChatGPT, then re-run 'codex cloud'.\n",
        "https://chatgpt.com/codex/tasks/\n",
        "https://chatgpt.com/codex/tasks/-rf\n",
        "https://chatgpt.com/codex/tasks/task_e_1;rm\n",
        "https://chatgpt.com/codex/tasks/task_e_1%0a\n",
    ],
)
def test_exec_without_a_task_url_is_a_clear_error(stdout: str) -> None:
    with pytest.raises(CloudOutputError, match="codex cloud") as caught:
        parse_exec_output(stdout)
    assert isinstance(caught.value, CodexError)


TASK_IDS = st.from_regex(r"task_[A-Za-z0-9_]{1,60}", fullmatch=True)
SUFFIXES = st.sampled_from(["", "/", "?a=1", "#frag", "?a=1#b", "?x=/task_other#/y", "#?q"])
PREFIXES = st.sampled_from(
    ["https://chatgpt.com/codex/tasks/", "https://chatgpt-staging.com/codex/tasks/", "https://x/a/b/"]
)


@settings(max_examples=200, deadline=None)
@given(task_id=TASK_IDS, prefix=PREFIXES, suffix=SUFFIXES)
def test_the_task_id_is_the_last_path_segment(task_id: str, prefix: str, suffix: str) -> None:
    url = f"{prefix}{task_id}{suffix}"
    assert task_id_from_url(url) == task_id
    assert parse_exec_output(url + "\n").id == task_id


@settings(max_examples=200, deadline=None)
@given(segment=st.text(min_size=0, max_size=40))
def test_anything_but_a_task_id_is_refused(segment: str) -> None:
    url = f"https://chatgpt.com/codex/tasks/{segment}"
    try:
        task_id = task_id_from_url(url)
    except CloudOutputError:
        return
    assert task_id.startswith("task_") and task_id.replace("_", "").isalnum() and task_id.isascii()


# -------------------------------------------------------------------------------------------- status


def test_status_ready() -> None:
    status = parse_status_output("[READY] add a greeting file\nfake/repo  •  0s ago\n+2/-0 • 1 file\n")
    assert status.status == "ready" and status.is_ready and status.is_known
    assert status.title == "add a greeting file"
    assert (status.environment_label, status.age) == ("fake/repo", "0s ago")
    assert status.summary is not None
    assert (status.summary.files_changed, status.summary.lines_added, status.summary.lines_removed) == (
        1,
        2,
        0,
    )


def test_status_pending_has_no_diff() -> None:
    status = parse_status_output("[PENDING] second [fake:delay=3]\nfake/other  •  0s ago\nno diff\n")
    assert status.is_pending and not status.is_ready
    assert status.title == "second [fake:delay=3]"
    assert status.summary is not None and status.summary.empty


def test_status_error() -> None:
    status = parse_status_output("[ERROR] do x [fake:fail]\nfake/repo  •  5m ago\nno diff\n")
    assert status.is_error and status.status == "error"
    assert status.age == "5m ago"


def test_status_applied_and_an_unknown_tag_are_kept() -> None:
    assert parse_status_output("[APPLIED] t\n0s ago\n+1/-1 • 2 files\n").is_applied
    later = parse_status_output("[ARCHIVED] t\nfake/repo  •  1h ago\nno diff\n")
    assert later.status == "archived" and not later.is_known and not later.is_ready


def test_status_in_colour_and_without_environment() -> None:
    coloured = (
        "\x1b[32m[READY]\x1b[0m many files\n\x1b[2m2d ago\x1b[0m\n"
        "\x1b[32m+5\x1b[0m/\x1b[31m-2\x1b[0m  \x1b[2m•\x1b[0m  3 \x1b[2mfiles\x1b[0m\n"
    )
    status = parse_status_output(coloured)
    assert status.is_ready and status.environment_label is None and status.age == "2d ago"
    assert status.summary is not None and status.summary.files_changed == 3


def test_status_title_with_a_line_break() -> None:
    status = parse_status_output("[READY] first line\nsecond line\nfake/repo  •  0s ago\nno diff\n")
    assert status.title == "first line second line"
    assert status.environment_label == "fake/repo"


def test_status_decides_on_the_tag_not_on_lines_it_cannot_read() -> None:
    status = parse_status_output("[READY] t\nsomething else\nnot a summary\n")
    assert status.is_ready and status.summary is None
    assert parse_status_output("[PENDING] only the tag\n").is_pending


@pytest.mark.parametrize(
    "stdout",
    ["", "\n", "Error: http error: get_task_details failed", "READY add a file\n", "[] t\nx\nno diff\n"],
)
def test_status_without_a_state_line_is_a_clear_error(stdout: str) -> None:
    with pytest.raises(CloudOutputError, match=r"no \[STATE\] line"):
        parse_status_output(stdout)


def test_status_hostile_title_is_cleaned() -> None:
    title = "\x1b]8;;http://evil\x07click\x1b]8;;\x07 \x1b[2J\x1b[31mred\u202e txt"
    hostile = f"[READY] {title}\nfake/repo  •  0s ago\nno diff\n"
    status = parse_status_output(hostile)
    assert status.title == "click red txt"
    assert "\x1b" not in status.model_dump_json()


# ---------------------------------------------------------------------------------------- list --json


def test_list_json_sample() -> None:
    page = parse_list_output(LIST_JSON)
    assert page.cursor is None and page.skipped == 0 and len(page.tasks) == 1
    item = page.tasks[0]
    assert item.id == "task_e_430d0a1b2c3d"
    assert item.url == "https://chatgpt.com/codex/tasks/task_e_430d0a1b2c3d"
    assert item.title == "second [fake:delay=3]"
    assert item.is_pending and item.status == "pending"
    assert item.updated_at == datetime(2026, 11, 23, 21, 53, 35, 937081, tzinfo=UTC)
    assert item.environment_id is None and item.environment_label == "fake/other"
    assert item.summary.empty and not item.is_review and item.attempt_total == 2


def task(**fields: Any) -> dict[str, Any]:
    return {"id": "task_e_1", "title": "t", "status": "ready", **fields}


def page(*tasks: Any, cursor: Any = None, **extra: Any) -> str:
    return json.dumps({"tasks": list(tasks), "cursor": cursor, **extra})


def test_list_status_is_an_open_set() -> None:
    items = parse_list_output(
        page(task(status="ready"), task(status="error"), task(status="applied"), task(status="Queued"))
    ).tasks
    assert [i.status for i in items] == ["ready", "error", "applied", "queued"]
    assert [i.is_known for i in items] == [True, True, True, False]
    assert items[1].is_error and items[2].is_applied


def test_list_is_lenient() -> None:
    result = parse_list_output(
        page(
            task(summary=None, attempt_total=None, updated_at="yesterday", new_field={"x": "\x1b[31my"}),
            task(id="task_e_2", summary={"files_changed": 2, "lines_added": 3, "lines_removed": 1, "bin": 0}),
            {"title": "no id"},
            task(id="--all"),
            task(id="task_e_3", status=None),
            "not an object",
            cursor=2,
            next_fields="kept",
        )
    )
    assert [t.id for t in result.tasks] == ["task_e_1", "task_e_2"]
    assert result.skipped == 4 and result.cursor == "2"
    first, second = result.tasks
    assert first.summary.empty and first.attempt_total is None and first.updated_at is None
    assert first.model_extra == {"new_field": {"x": "y"}}
    assert second.summary.files_changed == 2 and second.summary.lines_added == 3


def test_list_empty_page() -> None:
    result = parse_list_output('{"tasks": [], "cursor": null}\n')
    assert result.tasks == [] and result.cursor is None


@pytest.mark.parametrize(
    "stdout", ["", "No tasks found.\n", "[1, 2]", '{"items": []}', '{"tasks": {}}', '{"tasks": [']
)
def test_list_without_a_task_list_is_a_clear_error(stdout: str) -> None:
    with pytest.raises(CloudOutputError, match="codex cloud list --json printed no"):
        parse_list_output(stdout)


def test_list_hostile_titles_and_labels_are_cleaned() -> None:
    hostile = "\x1b]0;pwned\x07fix \x1b[1mbold\x1b[0m\x1bP+q\x1b\\ it\u2066 token=hunter2secret"
    result = parse_list_output(page(task(title=hostile, environment_label="\x1b[31mfake/repo\x9b2J")))
    item = result.tasks[0]
    assert item.title == "fix bold it token=[REDACTED]"
    assert item.environment_label == "fake/repo"
    dumped = result.model_dump_json()
    assert "\x1b" not in dumped and "hunter2" not in dumped
    # Markup-looking text is data, kept as written: each UI escapes its own markup (core/text.py).
    assert parse_list_output(page(task(title="[bold]x[/bold]"))).tasks[0].title == "[bold]x[/bold]"


# ---------------------------------------------------------------------------------------------- diff


def test_diff_is_kept_byte_for_byte_with_its_counts() -> None:
    diff = parse_diff_output(DIFF)
    assert diff is not None and diff.patch == DIFF
    assert (diff.files, diff.insertions, diff.deletions) == (1, 2, 0)
    assert diff.paths == ["cloud_task_876e396f.txt"]


def test_diff_keeps_escapes_in_the_patch_but_not_in_the_paths() -> None:
    patch = DIFF.replace("+hello", "+\x1b[31mhello").replace(
        "b/cloud_task_876e396f.txt\n", "b/a\x1b[2Jb.txt\n", 1
    )
    diff = parse_diff_output(patch)
    assert diff is not None and diff.patch == patch
    assert diff.paths == ["ab.txt"]


@pytest.mark.parametrize("stdout", ["", "\n", "  \n\n"])
def test_empty_diff_is_none(stdout: str) -> None:
    assert parse_diff_output(stdout) is None
