"""What ``cockpit mcp`` sends back, sized for a model: one copy on the wire, metadata first, long text in
pages.

A tool's result is one text block holding its JSON (compact, keys in the order a reader needs them:
what it is, how big, whether there is more and how to get it), followed, for a tool that returns a
long text (a diff, a worker's last message, a challenge in full), by one page of that text as a
second, plain text block. There is no ``structuredContent``: Claude Code shows the model either the
structured copy or the text blocks, never both, and a second copy would only double what travels.
Plain text keeps a diff readable (no JSON escapes) and lets the model see the metadata before it.

Every result stays under :data:`RESULT_LIMIT` characters as serialized: Claude Code (2.1.197) saves a
tool result over 50,000 characters to a file and shows the model a 2 KB preview, and one over its
token limit (25,000 by default) becomes a one-line "exceeds maximum allowed tokens" error. Text pages
are at most :data:`PAGE_CHARS` characters (≈ 8–10k tokens, under the client's 10k-token warning), cut
at a line end when one is in reach; a cursor names where the next page starts and which version of
the text it belongs to, so a text that changed between two pages (a new attempt) is noticed.

Worker text is cleaned (:func:`cockpit.core.clean`: control sequences removed, secrets masked) as a
whole before it is cut into pages, so a secret never straddles two pages and offsets are stable.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcp.types import CallToolResult, TextContent

from cockpit.core import CommandError, PatchFile, clean, clean_data, index_patch

RESULT_LIMIT = 40_000  # characters of a whole result, serialized (the client saves results over 50,000)
PAGE_CHARS = 32_000  # the most text one page carries
MIN_PAGE_CHARS = 2_000  # a page asked smaller than this is made this size
CACHE_ENTRIES = 4  # cleaned texts kept between calls (a diff being paged through)
CACHE_CHARS = 64 * 1024 * 1024  # and at most this many characters of them

__all__ = [
    "MIN_PAGE_CHARS",
    "PAGE_CHARS",
    "RESULT_LIMIT",
    "CleanedText",
    "Page",
    "TextCache",
    "bounded",
    "cursor_of",
    "fit_items",
    "offset_of",
    "page_of",
    "reply",
    "serialized_size",
]


def _dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def serialized_size(texts: list[str]) -> int:
    """Characters of the content blocks carrying ``texts`` as they travel (JSON)."""
    return len(_dumps([{"type": "text", "text": t} for t in texts]))


def _capped(value: Any, cap: int) -> Any:
    """``value`` with every string longer than ``cap`` cut, saying how much was left out."""
    if isinstance(value, str):
        return value if len(value) <= cap else f"{value[:cap]}… ({len(value) - cap} more characters)"
    if isinstance(value, dict):
        return {k: _capped(v, cap) for k, v in value.items()}
    if isinstance(value, list):
        return [_capped(v, cap) for v in value]
    return value


def bounded(meta: dict[str, Any], room: int) -> dict[str, Any]:
    """``meta`` cleaned, with its longest strings cut until its JSON fits in ``room`` characters as it
    travels: the last guard against a field the tool did not expect to be long (a title, a message)."""
    meta = clean_data(meta)
    cap = 8_000
    while serialized_size([_dumps(meta)]) > room and cap >= 50:
        meta = _capped(meta, cap)
        cap //= 2
    return meta


def reply(meta: dict[str, Any], body: str | None = None) -> CallToolResult:
    """A tool result: ``meta`` (cleaned, bounded) as JSON in the first text block, ``body`` (already
    cleaned text: one page) in a second one when given."""
    room = RESULT_LIMIT - (serialized_size([body]) if body is not None else 0)
    blocks = [TextContent(type="text", text=_dumps(bounded(meta, room)))]
    if body is not None:
        blocks.append(TextContent(type="text", text=body))
    return CallToolResult(content=blocks)


# ------------------------------------------------------------------------------------------- cursors


def cursor_of(version: str, offset: int) -> str:
    """``<version>.<offset>``: where the next page starts in one version of a text."""
    return f"{version}.{offset}"


def offset_of(cursor: str | None, version: str, low: int, high: int, what: str) -> int:
    """The offset a cursor names, checked against the text's version and the range ``[low, high]``;
    no cursor means ``low``. A cursor of another version (the text changed: a new attempt) or out of
    range is refused, saying to start again."""
    if cursor is None or not cursor.strip():
        return low
    text = cursor.strip()
    name, dot, number = text.rpartition(".")
    if not dot or not name or not number.isdigit():
        raise CommandError(f"invalid cursor {text[:40]!r}: pass the next_cursor of the previous page")
    if name != version:
        raise CommandError(
            f"the {what} changed since cursor {text[:40]!r} was given (a new attempt?): read it again "
            "from the start (no cursor)"
        )
    offset = int(number)
    if not low <= offset <= high:
        raise CommandError(f"cursor {text[:40]!r} is outside the {what} asked for")
    return offset


# --------------------------------------------------------------------------------------------- pages


@dataclass(frozen=True)
class Page:
    """A slice ``[start, end)`` of a text whose part asked for is ``[low, high)``."""

    text: str
    start: int
    end: int
    low: int
    high: int

    @property
    def more(self) -> bool:
        return self.end < self.high

    def info(self) -> dict[str, Any]:
        """Where the page lies: its first and last offsets and the part's size."""
        return {"from": self.start - self.low, "to": self.end - self.low, "of": self.high - self.low}


def _cut(text: str, start: int, high: int, limit: int) -> int:
    """Where a page from ``start`` ends: at most ``limit`` characters on, after the last line end in
    reach when there is one (a line longer than a page is cut where the page is full)."""
    end = min(high, start + limit)
    if end < high:
        newline = text.rfind("\n", start, end)
        if newline >= start:
            end = newline + 1
    return end


def page_of(
    text: str,
    start: int,
    low: int,
    high: int,
    meta_of: Any,
    limit: int = PAGE_CHARS,
) -> tuple[Page, dict[str, Any]]:
    """The page from ``start`` in ``text[low:high]`` and its metadata (``meta_of(page)``), made smaller
    until the whole result (metadata and page) fits in :data:`RESULT_LIMIT`."""
    limit = max(MIN_PAGE_CHARS, min(limit, PAGE_CHARS))
    while True:
        end = _cut(text, start, high, limit)
        page = Page(text[start:end], start, end, low, high)
        meta = bounded(meta_of(page), RESULT_LIMIT - 2 * MIN_PAGE_CHARS)
        over = serialized_size([_dumps(meta), page.text]) - RESULT_LIMIT
        if over <= 0 or end - start <= 1:
            return page, meta
        limit = max(1, (end - start) - over - 512)


def fit_items(
    meta: dict[str, Any], key: str, items: list[Any], start: int, budget: int = RESULT_LIMIT
) -> tuple[list[Any], int | None]:
    """As many of ``items`` from ``start`` as fit, with ``meta``, in ``budget`` characters when put under
    ``key``; and the index of the first left out (None: none was)."""
    used = serialized_size([_dumps(clean_data({**meta, key: [], "next_cursor": "x" * 40}))])
    chosen: list[Any] = []
    for i in range(start, len(items)):
        # The item's JSON as it travels inside the block's text (its quotes escaped), and a comma.
        size = len(_dumps(_dumps(clean_data(items[i])))) - 1
        if chosen and used + size > budget:
            return chosen, i
        chosen.append(items[i])
        used += size
    return chosen, None


# -------------------------------------------------------------------------------- cleaned text files


@dataclass(frozen=True)
class CleanedText:
    """A file's text as shown (cleaned as a whole), the version its cursors carry, and for a patch
    its files."""

    text: str
    version: str
    raw_bytes: int
    files: list[PatchFile] = field(default_factory=list)

    def file(self, path: str) -> PatchFile | None:
        return next((f for f in self.files if f.path == path), None)

    def files_between(self, start: int, end: int) -> list[PatchFile]:
        """The files whose part of the patch overlaps ``[start, end)``."""
        return [f for f in self.files if f.start < end and f.end > start]


class TextCache:
    """Cleaned texts of files, kept while the file is unchanged (same size and modification time): an
    orchestrator paging through a 2 MB diff has it read and cleaned once."""

    def __init__(self, entries: int = CACHE_ENTRIES, chars: int = CACHE_CHARS) -> None:
        self._entries = entries
        self._chars = chars
        self._items: OrderedDict[tuple[str, int, int, bool], CleanedText] = OrderedDict()
        self._lock = threading.Lock()

    def read(self, path: Path, *, patch: bool = False) -> CleanedText:
        st = path.stat()
        key = (str(path), st.st_mtime_ns, st.st_size, patch)
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
                return hit
        raw = path.read_bytes()
        text = clean(raw.decode("utf-8", "replace"))
        version = hashlib.blake2b(raw, digest_size=5).hexdigest()
        item = CleanedText(text, version, len(raw), index_patch(text) if patch else [])
        with self._lock:
            self._items[key] = item
            while len(self._items) > self._entries or (
                len(self._items) > 1 and sum(len(v.text) for v in self._items.values()) > self._chars
            ):
                self._items.popitem(last=False)
        return item
