"""Splitting a unified patch: counts and hunks per file, content lines that look like headers, form
feeds inside lines, and binary files; the fast counts agree with the full parse; where a line of the
new file is shown."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from cockpit.core.diff_parse import FileDiff, count_patch, index_patch, parse_patch

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


def test_count_patch_agrees_with_parse_patch_on_lookalikes_and_binaries() -> None:
    counts = count_patch("preamble line\n+not a file yet\n" + PATCH)
    assert (counts.files, counts.added, counts.removed, counts.paths) == (2, 2, 2, ["notes.sql", "logo.png"])
    assert count_patch("", 5) == count_patch("no diff here\n", 5) == count_patch("\n", 5)
    assert count_patch(PATCH, max_paths=1).paths == ["notes.sql"]


_LINES = st.sampled_from(
    [
        "diff --git a/x.py b/x.py",
        "diff --git a/dir/y z.md b/dir/y z.md",
        "index 1..2 100644",
        "--- a/x.py",
        "+++ b/x.py",
        "@@ -1,2 +1,2 @@",
        "@@ -9 +9 @@ def f():",
        " context",
        "+added",
        "-removed",
        "+++ content that looks like a header",
        "--- content that looks like a header",
        "+",
        "-",
        "",
        "Binary files a/x.png and b/x.png differ",
        "\\ No newline at end of file",
        "+crlf\r",
    ]
)


@given(st.lists(_LINES, max_size=60), st.booleans())
def test_count_patch_equals_parse_patch(lines: list[str], trailing_newline: bool) -> None:
    text = "\n".join(lines) + ("\n" if trailing_newline else "")
    files = parse_patch(text)
    counts = count_patch(text, max_paths=1000)
    assert counts.files == len(files)
    assert counts.added == sum(f.added for f in files)
    assert counts.removed == sum(f.removed for f in files)
    assert counts.paths == [f.path for f in files]


def test_rows_of_new_file_lines_follow_the_hunk_headers() -> None:
    patch = (
        "diff --git a/calc.py b/calc.py\n"
        "--- a/calc.py\n"
        "+++ b/calc.py\n"
        "@@ -1,3 +1,3 @@\n"  # row 3
        " def add(a, b):\n"  # new line 1
        "-    return a - b\n"
        "+    return a + b\n"  # new line 2
        "\\ No newline at end of file\n"
        "@@ -10,2 +10,3 @@ def add(a, b):\n"  # row 8
        " x = 1\n"  # new line 10
        "+y = 2\n"  # new line 11
        "\n"  # new line 12: a context line whose space was stripped
    )
    [diff] = parse_patch(patch)
    assert diff.rows_of([1, 2, 3, 9, 10, 11, 12, 13]) == {1: 4, 2: 6, 10: 9, 11: 10, 12: 11}
    assert diff.rows_of([]) == {}
    assert FileDiff("x.bin", ["diff --git a/x.bin b/x.bin", "Binary files differ"]).rows_of([1]) == {}


def test_index_patch_places_each_file_and_counts_it() -> None:
    text = "preamble\n" + PATCH
    sql, logo = index_patch(text)
    assert (sql.path, sql.added, sql.removed, sql.binary) == ("notes.sql", 2, 2, False)
    assert (logo.path, logo.binary) == ("logo.png", True)
    assert text[sql.start : sql.end].startswith("diff --git a/notes.sql") and sql.end == logo.start
    assert logo.end == len(text) and sql.size == sql.end - sql.start
    assert "".join(text[f.start : f.end] for f in (sql, logo)) == PATCH
    assert index_patch("") == [] and index_patch("no patch here\n") == []
    assert [f.start for f in index_patch(PATCH)] == [0, PATCH.index("diff --git a/logo.png")]


@given(st.lists(st.sampled_from(["+a", "-b", " c", "+++ x", "--- y", "@@ -1 +1 @@"]), max_size=30))
def test_index_patch_counts_as_parse_patch(lines: list[str]) -> None:
    text = PATCH + "diff --git a/z b/z\n@@ -1 +1 @@\n" + "\n".join(lines) + "\n"
    indexed = index_patch(text)
    parsed = parse_patch(text)
    assert [(f.path, f.added, f.removed, f.binary) for f in indexed] == [
        (f.path, f.added, f.removed, f.binary) for f in parsed
    ]
