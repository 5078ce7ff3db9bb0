"""The growing-file cursor on real files: partial lines, replaced / truncated / rewritten files, over-long
lines, empty reads, a missing file, and the modes its four users rely on."""

from __future__ import annotations

import gc
import os
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cockpit.core.follow import GrowingFile, Restart


def append(path: Path, data: bytes) -> None:
    with open(path, "ab") as fh:
        fh.write(data)


def replace(path: Path, data: bytes) -> None:
    """A new file (new inode) under the same name, as an atomic writer leaves it."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def test_missing_file_reads_nothing_until_it_appears(tmp_path: Path) -> None:
    path = tmp_path / "f.jsonl"
    cursor = GrowingFile(path)
    assert cursor.read_lines() == []
    assert cursor.missing and cursor.offset == 0 and cursor.backlog() == 0
    append(path, b"a\nb\n")
    assert cursor.backlog() == 4
    assert cursor.read_lines() == [b"a", b"b"]
    assert not cursor.missing and cursor.offset == 4 and cursor.bytes_read == 4


def test_empty_reads_change_nothing(tmp_path: Path) -> None:
    path = tmp_path / "f.jsonl"
    path.write_bytes(b"")
    cursor = GrowingFile(path)
    for _ in range(3):
        assert cursor.read_lines() == []
    append(path, b"x\n")
    assert cursor.read_lines() == [b"x"]
    for _ in range(3):
        assert cursor.read_lines() == []
    assert (cursor.offset, cursor.bytes_read, cursor.restarts) == (2, 2, 0)


def test_a_partial_line_is_delivered_once_its_newline_arrives(tmp_path: Path) -> None:
    path = tmp_path / "f.jsonl"
    cursor = GrowingFile(path)
    append(path, b"one\ntw")
    assert cursor.read_lines() == [b"one"]
    assert cursor.pending_bytes == 2 and cursor.offset == 6  # held: the offset is past it
    append(path, b"o")
    assert cursor.read_lines() == []
    append(path, b"\nthr")
    assert cursor.read_lines() == [b"two"]
    assert cursor.flush() == b"thr"  # the writer exited without a last newline
    assert cursor.flush() is None and cursor.pending_bytes == 0


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    data=st.lists(st.sampled_from([b"a", b"bc", b"\n", b"", b"{}", b"\xe2\x9c\x93"]), max_size=60),
    cuts=st.lists(st.integers(min_value=0, max_value=200), max_size=12),
    chunk=st.integers(min_value=1, max_value=9),
)
def test_any_split_and_chunk_size_gives_the_lines_of_the_whole(
    tmp_path_factory: pytest.TempPathFactory, data: list[bytes], cuts: list[int], chunk: int
) -> None:
    whole = b"".join(data)
    path = tmp_path_factory.mktemp("split") / "f.jsonl"
    path.write_bytes(b"")
    held, reread = (
        GrowingFile(path, chunk_bytes=chunk),
        GrowingFile(path, chunk_bytes=chunk, hold_partial=False),
    )
    got_held: list[bytes] = []
    got_reread: list[bytes] = []
    start = 0
    for cut in [*sorted(c for c in set(cuts) if c <= len(whole)), len(whole)]:
        append(path, whole[start:cut])
        start = cut
        got_held += held.read_lines()
        got_reread += reread.read_lines()
    complete = whole[: whole.rfind(b"\n") + 1].split(b"\n")[:-1]
    assert got_held == got_reread == complete
    assert held.offset == len(whole) and reread.offset == len(whole) - held.pending_bytes


def test_a_replaced_file_restarts_at_zero(tmp_path: Path) -> None:
    path = tmp_path / "f.jsonl"
    seen: list[Restart] = []
    cursor = GrowingFile(path, on_restart=seen.append)
    path.write_bytes(b"old\npart")
    assert cursor.read_lines() == [b"old"]
    replace(path, b"new one, longer than before\nsecond\n")  # only the identity tells
    assert cursor.backlog() == path.stat().st_size
    assert cursor.read_lines() == [b"new one, longer than before", b"second"]
    assert seen == [Restart("replaced", 8, path.stat().st_size)] and cursor.restarts == 1
    assert str(seen[0]) == "file replaced at offset 8"
    assert cursor.flush() is None  # the old file's partial line is gone


def test_a_file_replaced_before_anything_was_read_is_no_restart(tmp_path: Path) -> None:
    path = tmp_path / "f.jsonl"
    path.write_bytes(b"")
    cursor = GrowingFile(path)
    assert cursor.read_lines() == []
    replace(path, b"x\n")
    assert cursor.read_lines() == [b"x"] and cursor.restarts == 0


def test_a_truncated_file_restarts_at_zero(tmp_path: Path) -> None:
    path = tmp_path / "f.jsonl"
    path.write_bytes(b"one\ntwo\nthree\n")
    cursor = GrowingFile(path)
    assert len(cursor.read_lines()) == 3
    with open(path, "r+b") as fh:
        fh.truncate(0)
        fh.write(b"new\n")
    assert cursor.backlog() == 4
    assert cursor.read_lines() == [b"new"]
    assert cursor.last_restart == Restart("truncated", 14, 4)
    assert str(cursor.last_restart) == "file truncated from 14 to 4 bytes"


def test_verify_bytes_notices_a_file_rewritten_in_place_to_a_greater_length(tmp_path: Path) -> None:
    path = tmp_path / "f.jsonl"
    path.write_bytes(b"alpha\n")
    plain, verified = GrowingFile(path), GrowingFile(path, verify_bytes=4096, hold_partial=False)
    assert plain.read_lines() == verified.read_lines() == [b"alpha"]
    with open(path, "r+b") as fh:  # same inode, longer: neither the identity nor the size tells
        fh.truncate(0)
        fh.write(b"omega\nbeta\n")
    assert plain.read_lines() == [b"beta"]  # without verification the rewrite goes unseen
    assert verified.read_lines() == [b"omega", b"beta"]
    assert verified.last_restart is not None and verified.last_restart.kind == "rewritten"
    append(path, b"gamma\n")
    assert verified.read_lines() == [b"gamma"] and verified.restarts == 1


def test_without_holding_the_partial_line_is_read_again(tmp_path: Path) -> None:
    path = tmp_path / "f.jsonl"
    cursor = GrowingFile(path, hold_partial=False)
    append(path, b"one\ntw")
    assert cursor.read_lines() == [b"one"]
    assert cursor.offset == 4 and cursor.pending_bytes == 0 and cursor.bytes_read == 6
    append(path, b"o\n")
    assert cursor.read_lines() == [b"two"]
    assert cursor.bytes_read == 6 + 4  # "tw" was read a second time, with what followed it


def test_an_over_long_line_in_one_chunk_is_skipped_in_file_order(tmp_path: Path) -> None:
    path = tmp_path / "f.jsonl"
    order: list[str] = []
    cursor = GrowingFile(path, max_line_bytes=5, on_long_line=lambda: order.append("long"))
    path.write_bytes(b"a\nbb\n" + b"x" * 6 + b"\nccc\n\n")
    for batch in cursor.read_batches():
        order.extend(line.decode() or "<blank>" for line in batch)
    assert order == ["a", "bb", "long", "ccc", "<blank>"]
    assert cursor.long_lines == 1


def test_an_over_long_line_arriving_in_pieces_is_never_held_whole(tmp_path: Path) -> None:
    path = tmp_path / "f.jsonl"
    cursor = GrowingFile(path, max_line_bytes=100, chunk_bytes=16)
    append(path, b"ok\n")
    assert cursor.read_lines() == [b"ok"]
    for _ in range(10):
        append(path, b"y" * 30)
        assert cursor.read_lines() == []
        assert cursor.pending_bytes <= 100
    assert cursor.long_lines == 1
    append(path, b"yyy\nnext\n")
    assert cursor.read_lines() == [b"next"]
    assert cursor.long_lines == 1 and cursor.flush() is None


def test_a_held_line_that_grows_over_the_limit_when_it_ends_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "f.jsonl"
    cursor = GrowingFile(path, max_line_bytes=5)
    append(path, b"abcd")
    assert cursor.read_lines() == []
    append(path, b"ef\nok\n")  # 6 bytes once it ends
    assert cursor.read_lines() == [b"ok"] and cursor.long_lines == 1


def test_max_bytes_and_raw_chunks_with_their_positions(tmp_path: Path) -> None:
    path = tmp_path / "f.jsonl"
    data = b"".join(b"line %d\n" % i for i in range(50))
    path.write_bytes(data)
    cursor = GrowingFile(path, keep_open=True)
    pieces: list[tuple[int, bytes]] = []
    steps = 0
    while cursor.backlog():
        pieces += cursor.read_chunks(max_bytes=33, chunk_bytes=10)
        steps += 1
    assert steps == -(-len(data) // 33)
    assert all(data[pos : pos + len(chunk)] == chunk for pos, chunk in pieces)
    assert b"".join(chunk for _, chunk in pieces) == data
    assert cursor.pread(6, 7) == b"line 1"
    cursor.close()
    with pytest.raises(ValueError, match="not open"):
        cursor.pread(1, 0)


def test_a_held_descriptor_follows_the_path_to_a_new_file(tmp_path: Path) -> None:
    path = tmp_path / "f.jsonl"
    path.write_bytes(b"one\n")
    seen: list[Restart] = []
    cursor = GrowingFile(path, keep_open=True, on_restart=seen.append)
    assert list(cursor.read_chunks()) == [(0, b"one\n")]
    replace(path, b"first\nsecond\n")
    assert list(cursor.read_chunks()) == [(0, b"first\nsecond\n")]
    assert [r.kind for r in seen] == ["replaced"] and cursor.pread(5, 0) == b"first"
    cursor.close()


def test_take_over_from_a_tail_read(tmp_path: Path) -> None:
    path = tmp_path / "f.jsonl"
    path.write_bytes(b"earlier line\nlast complete\npart")
    size = path.stat().st_size
    cursor = GrowingFile(path)
    start = 8  # inside "earlier line"
    with open(path, "rb") as fh:
        st = os.fstat(fh.fileno())
        fh.seek(start)
        head, lines = cursor.take_over(st, start, fh.read())
    assert head == b"line" and lines == [b"last complete"]
    assert cursor.offset == size and cursor.pending_bytes == 4
    append(path, b"ial\n")
    assert cursor.read_lines() == [b"partial"]
    # A tail without any newline is inside a line begun earlier: skipped up to its end.
    append(path, b"a very long line whose end alone is read")
    with open(path, "rb") as fh:
        st = os.fstat(fh.fileno())
        fh.seek(st.st_size - 4)
        assert cursor.take_over(st, st.st_size - 4, fh.read()) == (None, [])
    append(path, b" and its end\nfresh\n")
    assert cursor.read_lines() == [b"fresh"]
    # Nothing read at all (a file known to hold nothing new): the next line starts where it ends.
    with open(path, "rb") as fh:
        st = os.fstat(fh.fileno())
    assert cursor.take_over(st, st.st_size, b"") == (None, [])
    append(path, b"next\n")
    assert cursor.read_lines() == [b"next"]


def test_around_wraps_the_reading_with_the_bytes_waiting(tmp_path: Path) -> None:
    path = tmp_path / "f.jsonl"
    path.write_bytes(b"x\n" * 100)
    sizes: list[int] = []

    def around(waiting: int) -> AbstractContextManager[object]:
        sizes.append(waiting)
        return nullcontext()

    cursor = GrowingFile(path, chunk_bytes=64)
    assert len([line for batch in cursor.read_batches(around=around) for line in batch]) == 100
    assert sizes == [200]
    assert list(cursor.read_batches(around=around)) == [] and sizes == [200]  # nothing waiting
    assert gc.isenabled()


def test_invalid_arguments() -> None:
    with pytest.raises(ValueError, match="max_line_bytes"):
        GrowingFile("x", max_line_bytes=0)
    with pytest.raises(ValueError, match="start"):
        GrowingFile("x", start=-1)
    with pytest.raises(ValueError, match="verify_bytes"):
        GrowingFile("x", verify_bytes=10, keep_open=True)
