"""Reading an envelope file: TOML, JSON, YAML or Markdown (front matter and/or ``## Section``
headings, in the playbook template's spelling). Every problem becomes one :class:`EnvelopeError` naming
the file, the line where known, and the field."""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic_core import PydanticCustomError

from cockpit.core.envelope.model import (
    KEY_ALIASES,
    Envelope,
    EnvelopeError,
    envelope_from_mapping,
    normalise_key,
    normalise_mapping,
)


def load_envelope(path: Path) -> Envelope:
    """Load an envelope by suffix: ``.toml``, ``.json``, ``.yaml``/``.yml``, ``.md``/``.markdown``."""
    path = Path(path)
    suffix = path.suffix.lower()
    parsers: dict[str, Callable[[str, str], dict[str, Any]]] = {
        ".toml": _parse_toml,
        ".json": _parse_json,
        ".yaml": _parse_yaml,
        ".yml": _parse_yaml,
        ".md": _parse_markdown,
        ".markdown": _parse_markdown,
    }
    parser = parsers.get(suffix)
    if parser is None:
        raise EnvelopeError(
            "(file)", f"{path.name}: unsupported format {suffix or '(none)'!r} (use .toml, .json, .yaml, .md)"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise EnvelopeError("(file)", f"{path.name}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise EnvelopeError("(file)", f"{path.name}: cannot read: {exc.strerror or exc}") from None
    data = parser(text, path.name)
    return envelope_from_mapping(data)


def _require_mapping(data: Any, name: str, what: str) -> dict[str, Any]:
    if data is None:
        raise EnvelopeError("(file)", f"{name}: {what} is empty")
    if not isinstance(data, dict):
        raise EnvelopeError("(file)", f"{name}: {what} must be a mapping at the top level")
    return data


_TOML_LINE = re.compile(r"\(at line (\d+), column (\d+)\)")


def _parse_toml(text: str, name: str, line_offset: int = 0) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = _TOML_LINE.sub(
            lambda m: f"(at line {int(m.group(1)) + line_offset}, column {m.group(2)})", str(exc)
        )
        raise EnvelopeError("(file)", f"{name}: bad TOML: {message}") from None


def _parse_json(text: str, name: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise EnvelopeError(
            "(file)", f"{name}: bad JSON: {exc.msg} (at line {exc.lineno}, column {exc.colno})"
        ) from None
    return _require_mapping(data, name, "JSON")


def _parse_yaml(text: str, name: str, line_offset: int = 0) -> dict[str, Any]:
    import yaml  # only YAML and Markdown envelopes need it (a slow import the cockpit's start does not)

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        where = f" (at line {mark.line + 1 + line_offset}, column {mark.column + 1})" if mark else ""
        raise EnvelopeError("(file)", f"{name}: bad YAML: {problem}{where}") from None
    return _require_mapping(data, name, "YAML")


# ---------------------------------------------------------------------------------------- markdown

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_BULLET = re.compile(r"^\s*(?:[-*+•]|\d+[.)])\s+(?:\[[ xX]\]\s+)?(.*)$")
_KEY_VALUE = re.compile(r"^\s*(?:[-*+]\s+)?\**([A-Za-z][A-Za-z _-]*?)\**\s*:\s*(.*)$")
_LIST_FIELDS = frozenset({"acceptance_criteria", "inputs", "allowed_tools", "forbidden", "stop_conditions"})


def _split_front_matter(text: str, name: str) -> tuple[dict[str, Any], str, int]:
    """Strip leading ``---`` (YAML) and/or ``+++`` (TOML) blocks; returns (merged, body, body_line)."""
    lines = text.splitlines(keepends=True)
    if lines and lines[0].startswith("\ufeff"):
        lines[0] = lines[0][1:]
    front: dict[str, Any] = {}
    start = 0
    seen: set[str] = set()
    while start < len(lines) and lines[start].strip() in ("---", "+++") and lines[start].strip() not in seen:
        fence = lines[start].strip()
        seen.add(fence)
        closers = ("---", "...") if fence == "---" else ("+++",)
        end = next((i for i in range(start + 1, len(lines)) if lines[i].strip() in closers), None)
        if end is None:
            raise EnvelopeError("(file)", f"{name}: front matter opened at line {start + 1} is never closed")
        block = "".join(lines[start + 1 : end])
        if fence == "---":
            parsed = _parse_yaml(block, name, line_offset=start + 1) if block.strip() else {}
        else:
            parsed = _parse_toml(block, name, line_offset=start + 1)
        try:
            normalised = normalise_mapping(parsed, KEY_ALIASES)
        except PydanticCustomError as exc:
            raise EnvelopeError(str((exc.context or {}).get("field", "(file)")), exc.message()) from None
        for key, value in normalised.items():
            if key in front:
                raise EnvelopeError(key, "given twice (in both front matter blocks)")
            front[key] = value
        start = end + 1
        while start < len(lines) and not lines[start].strip():
            start += 1
    return front, "".join(lines[start:]), start + 1


def _section_key(heading: str) -> str:
    heading = re.sub(r"\s*\(.*\)\s*$", "", heading).strip().strip("*_`").rstrip(":")
    key = normalise_key(heading)
    return KEY_ALIASES.get(key, key)


def _items(lines: list[str]) -> list[str]:
    """Bullet items (continuation lines joined); without bullets, one item per non-blank line."""
    items: list[str] = []
    bulleted = any(_BULLET.match(line) for line in lines)
    in_fence = False
    for line in lines:
        if line.strip().startswith("```"):
            in_fence = not in_fence
            continue
        if not line.strip():
            continue
        match = _BULLET.match(line) if not in_fence else None
        if match:
            items.append(match.group(1).strip())
        elif bulleted and items and (line[:1].isspace() or in_fence):
            items[-1] = f"{items[-1]} {line.strip()}"
        else:
            items.append(line.strip())
    return items


def _text(lines: list[str]) -> str:
    items = [line for line in lines if line.strip()]
    if len(items) == 1 and (match := _BULLET.match(items[0])):
        return match.group(1).strip()
    return "\n".join(line.rstrip() for line in lines).strip()


def _section_value(key: str, lines: list[str]) -> Any:
    if key in _LIST_FIELDS:
        items = _items(lines)
        if key == "allowed_tools" and len(items) == 1 and "," in items[0]:
            items = [part.strip() for part in items[0].split(",")]
        return items
    if key == "budget":
        return ", ".join(_items(lines))
    if key == "output":
        fields: dict[str, str] = {}
        rest: list[str] = []
        for item in _items(lines):
            match = _KEY_VALUE.match(item)
            if match and normalise_key(match.group(1)) in ("path", "format"):
                fields[normalise_key(match.group(1))] = match.group(2).strip().strip("`")
            else:
                rest.append(item)
        if rest and "path" not in fields:
            fields["path"] = rest.pop(0).strip("`")
        if rest:
            raise EnvelopeError("output", f"cannot read {rest[0]!r} (write 'Path: …' and 'Format: …')")
        return fields
    return _text(lines)


def _parse_markdown_sections(body: str, first_line: int) -> dict[str, Any]:
    sections: dict[str, list[str]] = {}
    current: str | None = None
    in_fence = False
    for number, line in enumerate(body.splitlines(), start=first_line):
        if line.strip().startswith("```"):
            in_fence = not in_fence
        heading = None if in_fence else _HEADING.match(line)
        if heading and len(heading.group(1)) == 2:
            current = _section_key(heading.group(2))
            if not current:
                raise EnvelopeError("(file)", f"empty section heading at line {number}")
            if current in sections:
                raise EnvelopeError(current, f"section given twice (again at line {number})")
            sections[current] = []
            continue
        if heading and len(heading.group(1)) == 1:
            current = None  # the document's title, e.g. "# Task Envelope"
            continue
        if current is not None:
            sections[current].append(line)
    out: dict[str, Any] = {}
    for key, lines in sections.items():
        if not any(line.strip() for line in lines):
            continue  # an empty template section
        out[key] = _section_value(key, lines)
    return out


def _parse_markdown(text: str, name: str) -> dict[str, Any]:
    front, body, body_line = _split_front_matter(text, name)
    data = _parse_markdown_sections(body, body_line)
    data.update(front)  # front matter wins on conflict
    if not data:
        raise EnvelopeError("(file)", f"{name}: no front matter and no '## Goal' section")
    return data
