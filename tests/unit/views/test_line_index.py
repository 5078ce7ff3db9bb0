"""LineIndex on real files: incremental growth, partial lines, truncation, replacement, long lines."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cockpit.core.views.line_index as line_index
from cockpit.core.views.line_index import LineIndex, cut_marker, tail_start


def append(path: Path, data: bytes) -> None:
    with open(path, "ab") as fh:
        fh.write(data)


def complete_lines(data: bytes) -> list[bytes]:
    """What the index should hold: every line that has its newline (no ``\\r`` in the test data)."""
    return data[: data.rfind(b"\n") + 1].splitlines()


def all_lines(index: LineIndex) -> list[bytes]:
    return [index.read_line(i) for i in range(index.line_count)]


def test_missing_file_is_empty_until_it_appears(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    index = LineIndex(path)
    assert index.extend() == 0
    assert index.line_count == 0
    assert index.backlog() == 0
    path.write_bytes(b"a\nb\n")
    assert index.backlog() == 4
    assert index.extend() == 2
    assert all_lines(index) == [b"a", b"b"]
    index.close()


def test_appends_in_pieces_count_a_line_only_once_its_newline_arrives(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"")
    with LineIndex(path) as index:
        assert index.extend() == 0
        append(path, b'{"type":"turn')
        assert index.extend() == 0
        assert index.line_count == 0
        assert index.scanned == 13 and index.indexed_end == 0
        append(path, b'.started"}')
        assert index.extend() == 0
        append(path, b'\n{"type":')
        assert index.extend() == 1
        assert index.read_line(0) == b'{"type":"turn.started"}'
        append(path, b'"x"}\n\n{"type":"y"}\n')
        assert index.extend() == 3
        assert all_lines(index) == [b'{"type":"turn.started"}', b'{"type":"x"}', b"", b'{"type":"y"}']
        assert index.extend() == 0
        assert index.backlog() == 0


def test_extend_honours_max_bytes(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    data = b"".join(b"line %d\n" % i for i in range(1000))
    path.write_bytes(data)
    with LineIndex(path) as index:
        total = 0
        steps = 0
        while index.backlog():
            total += index.extend(max_bytes=100)
            steps += 1
        assert steps == -(-len(data) // 100)
        assert total == 1000
        assert all_lines(index) == complete_lines(data)


def test_chunk_boundaries_inside_lines_and_at_newlines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(line_index, "CHUNK_BYTES", 7)
    path = tmp_path / "events.jsonl"
    data = b"abcdef\n\n\nxy\n" + b"z" * 30 + b"\nend\npartial"
    path.write_bytes(data)
    with LineIndex(path) as index:
        assert index.extend() == 6
        assert all_lines(index) == complete_lines(data)


def test_truncation_restarts_the_index(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"one\ntwo\nthree\n")
    with LineIndex(path) as index:
        assert index.extend() == 3
        assert index.generation == 0
        with open(path, "r+b") as fh:
            fh.truncate(0)
            fh.write(b"new\n")
        assert index.backlog() == 4
        assert index.extend() == 1
        assert index.generation == 1
        assert all_lines(index) == [b"new"]


def test_replacement_by_a_new_file_restarts_the_index(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"one\ntwo\n")
    with LineIndex(path) as index:
        assert index.extend() == 2
        replacement = tmp_path / "next.jsonl"
        replacement.write_bytes(b"alpha\nbeta\ngamma\n")  # longer: only the inode tells it apart
        os.replace(replacement, path)
        assert index.extend() == 3
        assert index.generation == 1
        assert all_lines(index) == [b"alpha", b"beta", b"gamma"]


def test_long_lines_are_cut_with_a_marker_and_stay_whole_on_disk(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    long = b"x" * 5000
    path.write_bytes(b"short\n" + long + b"\nafter\n")
    with LineIndex(path, max_line_bytes=100) as index:
        assert index.extend() == 3
        assert index.read_line(1) == b"x" * 100 + cut_marker(4900)
        assert index.line_length(1) == 5000
        assert index.read_line(1, max_bytes=10_000) == long
        assert index.read_lines(0, 3) == [b"short", b"x" * 100 + cut_marker(4900), b"after"]
        start, end = index.line_span(1)
        assert path.read_bytes()[start:end] == long


def test_read_lines_clamps_and_negative_indexes_count_from_the_end(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"a\nbb\nccc\n")
    with LineIndex(path) as index:
        index.extend()
        assert index.read_lines(-5, 99) == [b"a", b"bb", b"ccc"]
        assert index.read_lines(2, 1) == []
        assert index.read_line(-1) == b"ccc"
        assert index.line_span(-1) == (5, 8)
        assert index.line_at(0) == 0 and index.line_at(3) == 1 and index.line_at(8) == 2
        with pytest.raises(IndexError):
            index.read_line(3)


def test_tail_start_and_an_index_from_it(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    data = b"".join(b"line %d\n" % i for i in range(100)) + b"partial"
    path.write_bytes(data)
    start = tail_start(path, 10)
    assert data[start:].startswith(b"line 90\n")
    assert tail_start(path, 1000) == 0
    assert tail_start(tmp_path / "missing", 5) == 0
    with LineIndex(path, start=start) as index:
        assert index.extend() == 10
        assert index.start == start
        assert all_lines(index) == [b"line %d" % i for i in range(90, 100)]
        append(path, b" done\n")
        assert index.extend() == 1
        assert index.read_line(-1) == b"partial done"


def test_tail_start_gives_up_early_on_huge_lines(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"y" * 300_000 + b"\n" + b"z" * 200_000 + b"\nlast\n")
    start = tail_start(path, 10, max_bytes=100_000)
    assert path.read_bytes()[start:] == b"last\n"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    data=st.binary(max_size=3000).map(lambda b: b.replace(b"\r", b"")),
    cuts=st.lists(st.integers(min_value=0, max_value=3000), max_size=6),
    chunk=st.sampled_from([1, 3, 16, 1024]),
)
def test_random_content_appended_in_pieces_matches_splitlines(
    tmp_path_factory: pytest.TempPathFactory, data: bytes, cuts: list[int], chunk: int
) -> None:
    path = tmp_path_factory.mktemp("idx") / "events.jsonl"
    path.write_bytes(b"")
    old = line_index.CHUNK_BYTES
    line_index.CHUNK_BYTES = chunk
    try:
        with LineIndex(path, max_line_bytes=4096) as index:
            pos = 0
            for cut in [*sorted({min(c, len(data)) for c in cuts}), len(data)]:
                append(path, data[pos:cut])
                pos = cut
                index.extend()
                expected = complete_lines(data[:pos])
                assert index.line_count == len(expected)
            expected = complete_lines(data)
            assert all_lines(index) == expected
            assert index.read_lines(0, len(expected)) == expected
            for i, line in enumerate(expected):
                start, end = index.line_span(i)
                assert data[start:end] == line
    finally:
        line_index.CHUNK_BYTES = old
