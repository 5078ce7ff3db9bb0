"""The envelope's JSON Schema comes from the model: every field, its type, enum and default, nothing
written twice; references inlined and ``X | None`` written as ``X`` for a model to read; what the
schema describes validates, and what the model refuses is still refused with the field named."""

from __future__ import annotations

import json
import typing
from typing import Any

import pytest

from cockpit.core.envelope.model import Envelope, EnvelopeError, envelope_from_mapping
from cockpit.core.envelope.schema import envelope_schema
from cockpit.core.vocabulary import EFFORTS, Lane, Sandbox


def test_every_field_is_described_with_its_type_and_enum() -> None:
    schema = envelope_schema()
    props = schema["properties"]
    assert list(props) == list(Envelope.model_fields)
    assert schema["required"] == ["goal"] and schema["additionalProperties"] is False
    for name, prop in props.items():
        assert prop.get("description"), name
    assert props["lane"]["enum"] == list(typing.get_args(Lane)) and props["lane"]["default"] == "worktree"
    assert props["sandbox"]["enum"] == list(typing.get_args(Sandbox))
    assert props["effort"] == {
        "enum": list(EFFORTS),
        "type": "string",
        "description": Envelope.model_fields["effort"].description,
    }
    assert props["risk_level"]["enum"] == ["low", "medium", "high"]
    assert props["approval_policy"]["enum"] == ["on-request", "untrusted"]
    assert (props["attempts"]["minimum"], props["attempts"]["maximum"]) == (1, 4)
    budget = props["budget"]
    assert budget["type"] == "object" and budget["additionalProperties"] is False
    assert {k: v["type"] for k, v in budget["properties"].items()} == {
        "tokens": "integer",
        "tool_calls": "integer",
        "wall_time_s": "integer",
        "usd": "number",
    }
    item = props["inputs"]["items"]
    assert item["required"] == ["path"] and set(item["properties"]) == {"path", "summary"}
    assert props["output"]["required"] == ["path"]


def test_the_schema_is_self_contained_and_plain() -> None:
    text = json.dumps(envelope_schema())
    assert "$ref" not in text and "$defs" not in text

    def titled(node: Any, inside_properties: bool = False) -> bool:
        if isinstance(node, list):
            return any(titled(n) for n in node)
        if not isinstance(node, dict):
            return False
        if not inside_properties and isinstance(node.get("title"), str):
            return True
        return any(titled(v, k == "properties") for k, v in node.items())

    assert not titled(envelope_schema())
    assert '{"type": "null"}' not in text  # leave a field out for "none"
    assert "output_protocol" in envelope_schema()["properties"]
    assert "default" not in envelope_schema()["properties"]["output_protocol"]  # the long default
    first = envelope_schema()
    first["properties"].clear()
    assert envelope_schema()["properties"]  # each call is a fresh copy


def test_an_envelope_written_to_the_schema_validates() -> None:
    written: dict[str, Any] = {
        "goal": "Add a --verbose flag to the CLI",
        "acceptance_criteria": ["pytest -q passes", "cockpit --verbose prints the config"],
        "inputs": [{"path": "cli/main.py", "summary": "the argument parser"}],
        "budget": {"tokens": 50000, "tool_calls": 10, "wall_time_s": 1200, "usd": 0.5},
        "output": {"path": "notes/verbose.md"},
        "lane": "worktree",
        "effort": "medium",
        "risk_level": "low",
    }
    envelope = envelope_from_mapping(written)
    assert envelope.budget.wall_time_s == 1200 and envelope.inputs[0].path == "cli/main.py"
    assert set(written) <= set(envelope_schema()["properties"])


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"goal": "x", "lane": "moon"}, "invalid envelope: lane: must be one of"),
        (
            {"goal": "x", "budget": {"tokens": -5}},
            "invalid envelope: budget.tokens: must be a positive integer",
        ),
        ({"goal": "x", "colour": "red"}, "invalid envelope: colour: unknown field"),
        ({"title": "no goal"}, "invalid envelope: goal: field required"),
    ],
)
def test_what_the_schema_forbids_is_refused_naming_the_field(data: dict[str, Any], message: str) -> None:
    with pytest.raises(EnvelopeError) as err:
        envelope_from_mapping(data)
    assert str(err.value).startswith(message)
