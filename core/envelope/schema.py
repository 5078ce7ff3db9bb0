"""The envelope as a JSON Schema, generated from :class:`~cockpit.core.envelope.model.Envelope`: its
fields, their types, enums, defaults and descriptions, for a client that builds envelopes from a schema
(an MCP tool's input schema). The model stays the one definition; this only reshapes pydantic's schema
for a reader that is a language model: references inlined, titles dropped, ``X | None`` written as
``X`` (leave a field out for "none").

The schema describes the canonical form. :func:`~cockpit.core.envelope.model.envelope_from_mapping`
still accepts everything an envelope file may say (``"Acceptance Criteria"``, an input as
``"path: summary"``, a budget as text) and stays the judge of validity: its errors name the field.
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

from cockpit.core.envelope.model import Envelope

__all__ = ["envelope_schema"]

_DROP = ("title",)
_LONG_DEFAULT = 120  # a default longer than this (the output protocol's) is described, not repeated


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    """``node`` with every ``$ref`` replaced by its definition and the noise removed."""
    if isinstance(node, list):
        return [_inline(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = defs[str(node["$ref"]).rsplit("/", 1)[-1]]
        extra = {k: v for k, v in node.items() if k != "$ref"}
        return _inline({**target, **extra}, defs)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROP and isinstance(value, str):
            continue
        if key == "$defs":
            continue
        out[key] = _inline(value, defs) if key != "default" else value
    options = out.get("anyOf")
    if isinstance(options, list):
        kept = [o for o in options if o != {"type": "null"}]
        if len(kept) == 1 and len(kept) < len(options):
            del out["anyOf"]
            out = {**kept[0], **out}
            if out.get("default", 0) is None:
                del out["default"]
    default = out.get("default")
    if isinstance(default, str) and len(default) > _LONG_DEFAULT:
        del out["default"]
    return out


@cache
def _schema() -> dict[str, Any]:
    raw = Envelope.model_json_schema(mode="validation")
    schema = _inline(raw, raw.get("$defs", {}))
    schema["description"] = (
        "A task envelope (the playbook's): a one-sentence goal, objective acceptance criteria, inputs as "
        "paths with one-line summaries, a budget, and where it runs."
    )
    return schema


def envelope_schema() -> dict[str, Any]:
    """The envelope's JSON Schema (an object: ``goal`` required, no other keys than its fields); a
    copy the caller may change."""
    return copy.deepcopy(_schema())
