"""Atomic file writes: temp file in the same directory, fsync, rename; and appends of whole lines.

Everything written here is private to the owner, whatever the umask: files ``0600``, directories
created on the way ``0700``. A write that fails (a full disk above all) leaves no temp file and no
torn line behind, and its error names the file it was writing (:func:`disk_full`,
:func:`disk_error_text`).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700
# Writes that fail because of the device, not the data: no space, no quota, mounted read-only.
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS})
_DISK_WORDS = {
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only file system",
}


def disk_full(exc: BaseException) -> bool:
    """True for an ``OSError`` saying the device takes no more writes (ENOSPC, EDQUOT, EROFS)."""
    return isinstance(exc, OSError) and exc.errno in DISK_FULL_ERRNOS


def disk_error_text(exc: OSError) -> str:
    """``no space left on device while writing <path>`` (the words follow the errno)."""
    words = _DISK_WORDS.get(exc.errno or 0, exc.strerror or str(exc))
    return f"{words} while writing {exc.filename}" if exc.filename else words


def _names(exc: OSError, path: Path) -> None:
    """Let the error name the file being written (``os.write`` and temp names say nothing useful)."""
    exc.filename = str(path)
    exc.filename2 = None


def make_private_dirs(directory: Path) -> None:
    """Create ``directory`` and its missing parents, each ``0700`` whatever the umask."""
    missing: list[Path] = []
    probe = directory
    while not probe.exists() and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    directory.mkdir(parents=True, exist_ok=True)
    for created in missing:
        with contextlib.suppress(OSError):
            os.chmod(created, PRIVATE_DIR)


def private_opener(path: str | os.PathLike[str], flags: int) -> int:
    """An ``open(..., opener=)`` giving a ``0600`` file, whatever the umask (an older file is narrowed)."""
    fd = os.open(path, flags, PRIVATE_FILE)
    with contextlib.suppress(OSError):
        if stat.S_IMODE(os.fstat(fd).st_mode) != PRIVATE_FILE:
            os.fchmod(fd, PRIVATE_FILE)
    return fd


def atomic_write_bytes(path: Path, data: bytes, *, durable: bool = True) -> os.stat_result:
    """Replace ``path`` with ``data`` so readers see the old or the new file, never a torn one.
    ``durable=False`` skips the fsyncs: for files derived from others and rebuilt when lost. Returns
    the new file's status as it was complete, before the rename (which changes neither its inode, nor
    its size, nor its modification time): the file ``path`` names now, with no race on a later ``stat``."""
    return atomic_write_chunks(path, (data,), durable=durable)


def atomic_write_chunks(path: Path, chunks: Iterable[bytes], *, durable: bool = True) -> os.stat_result:
    """:func:`atomic_write_bytes` of the concatenated ``chunks``, written as they come (a large file is
    never whole in memory)."""
    try:
        make_private_dirs(path.parent)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        _names(exc, path)
        raise
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), PRIVATE_FILE)
            for chunk in chunks:
                fh.write(chunk)
            fh.flush()
            if durable:
                os.fsync(fh.fileno())
            written = os.fstat(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            _names(exc, path)
        raise
    if durable:
        fsync_dir(path.parent)
    return written


def atomic_write_text(path: Path, text: str, *, durable: bool = True) -> os.stat_result:
    return atomic_write_bytes(path, text.encode("utf-8"), durable=durable)


def atomic_write_json(path: Path, obj: Any) -> os.stat_result:
    """Write JSON atomically; the text is parsed back before the rename (verify, then commit)."""
    text = json.dumps(obj, indent=2, sort_keys=False, ensure_ascii=False) + "\n"
    json.loads(text)
    return atomic_write_text(path, text)


def append_jsonl(path: Path, obj: Any) -> None:
    """Append one JSON object as a single line with one ``write`` on an ``O_APPEND`` descriptor.

    When the disk fills in the middle of the line, the piece written is cut off again, so the file
    never holds a torn line, and the error is raised naming the file."""
    line = (json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
    try:
        make_private_dirs(path.parent)
        fd = private_opener(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    except OSError as exc:
        _names(exc, path)
        raise
    try:
        written = os.write(fd, line)
        if written < len(line):
            with contextlib.suppress(OSError):
                os.ftruncate(fd, os.fstat(fd).st_size - written)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    except OSError as exc:
        _names(exc, path)
        raise
    finally:
        os.close(fd)


def fsync_dir(directory: Path) -> None:
    """Make a rename in ``directory`` durable (best effort: some filesystems refuse)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
