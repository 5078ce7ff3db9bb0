"""Building scripted-model scenarios in tests: a scenario from responses, a message step and an
escalated shell step (the model asks to run a command outside the sandbox, with its reason)."""

from __future__ import annotations

from typing import Any

from cockpit.demo.scripted_model import Scenario


def scenario(name: str, *responses: dict[str, Any], match: str | None = None) -> Scenario:
    """A scenario matched by ``match`` in the prompt (default: its name; "" matches every prompt)."""
    return Scenario.model_validate(
        {"name": name, "match": name if match is None else match, "responses": list(responses)}
    )


def say(text: str, **extra: Any) -> dict[str, Any]:
    return {"items": [{"kind": "message", "text": text}], **extra}


def escalated(cmd: str, justification: str, **extra: Any) -> dict[str, Any]:
    return {
        "items": [{"kind": "shell", "cmd": cmd, "escalate": True, "justification": justification}],
        **extra,
    }
