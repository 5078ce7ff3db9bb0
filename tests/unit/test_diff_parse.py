"""Splitting a unified patch: counts and hunks per file, content lines that look like headers, form
feeds inside lines, and binary files."""

from __future__ import annotations

from cockpit.core.diff_parse import parse_patch

PATCH = (
    "diff --git a/notes.sql b/notes.sql\n"
    "index 1111111..2222222 100644\n"
    "--- a/notes.sql\n"
    "+++ b/notes.sql\n"
    "@@ -1,3 +1,3 @@\n"
    "--- an old SQL comment\n"
    "+++ a new counter\n"
    " keep\fthis line whole\n"
    "-select 1;\n"
    "+select 2;\n"
    "diff --git a/logo.png b/logo.png\n"
    "index 3333333..4444444 100644\n"
    "Binary files a/logo.png and b/logo.png differ\n"
)


def test_header_lookalikes_inside_a_hunk_are_content() -> None:
    sql, logo = parse_patch(PATCH)
    assert sql.path == "notes.sql" and logo.path == "logo.png"
    assert (sql.added, sql.removed) == (2, 2)
    assert sql.hunks == [4]
    assert sql.lines[:4] == [
        "diff --git a/notes.sql b/notes.sql",
        "index 1111111..2222222 100644",
        "--- a/notes.sql",
        "+++ b/notes.sql",
    ]


def test_a_form_feed_does_not_split_a_line() -> None:
    (sql, _logo) = parse_patch(PATCH)
    assert " keep\fthis line whole" in sql.lines
    assert len(sql.lines) == 10


def test_binary_files_are_marked_and_uncounted() -> None:
    _sql, logo = parse_patch(PATCH)
    assert logo.binary and (logo.added, logo.removed) == (0, 0)
