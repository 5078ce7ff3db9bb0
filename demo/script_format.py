"""The scenario-file pieces both scripted model servers share: a strict model base, what every scripted
response may say (``headers``, ``delay_ms``, ``gate``), literal SSE frames (``raw``), the discriminator
that reads a response's ``kind``, and loading scenarios from TOML files. The wire formats themselves are
:mod:`cockpit.demo.scripted_model`'s (Responses API) and :mod:`cockpit.demo.scripted_claude`'s
(Messages API); the server around them is :mod:`cockpit.demo.loopback`'s."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "RawEvent",
    "RawResponse",
    "ResponseBase",
    "StrictModel",
    "load_scenario",
    "load_scenarios",
    "response_tag",
]


class StrictModel(BaseModel):
    """A scenario-file model: unknown keys are a mistake in the file, refused when it is loaded."""

    model_config = ConfigDict(extra="forbid")


def _headers_as_strings(value: Any) -> Any:
    """TOML's booleans and numbers as header values (``true``/``false``, digits); the rest unchanged."""
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, val in value.items():
        if isinstance(val, bool):
            out[key] = "true" if val else "false"
        elif isinstance(val, int | float):
            out[key] = str(val)
        else:
            out[key] = val
    return out


class ResponseBase(StrictModel):
    """What every scripted response may add: extra response ``headers``, a ``delay_ms`` before it, and a
    ``gate`` that holds it until the server's ``open_gate(gate)`` (or the server stops)."""

    headers: dict[str, str] = Field(default_factory=dict)
    delay_ms: int = Field(default=0, ge=0)
    gate: str | None = None

    @field_validator("headers", mode="before")
    @classmethod
    def _headers(cls, value: Any) -> Any:
        return _headers_as_strings(value)


class RawEvent(StrictModel):
    """One literal SSE frame. ``event`` defaults to ``data["type"]`` when ``data`` is an object."""

    event: str | None = None
    data: dict[str, Any] | list[Any] | str


class RawResponse(ResponseBase):
    """Literal SSE frames, sent as given (strings are written verbatim), then the connection closes."""

    kind: Literal["raw"]
    events: list[RawEvent | str] = Field(default_factory=list)


def response_tag(default: str) -> Callable[[Any], str]:
    """The discriminator of a scenario's responses: the ``kind`` given, ``default`` when none is."""

    def tag(value: Any) -> str:
        if isinstance(value, dict):
            return str(value.get("kind", default))
        return str(getattr(value, "kind", default))

    return tag


M = TypeVar("M", bound=BaseModel)


def load_scenario(path: Path, model: type[M]) -> M:
    """One scenario from a TOML file as ``model``; ``name`` defaults to the file stem."""
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    data.setdefault("name", path.stem)
    return model.model_validate(data)


def load_scenarios(directory: Path, model: type[M]) -> list[M]:
    """Every ``*.toml`` scenario in ``directory`` as ``model``, sorted by file name."""
    return [load_scenario(path, model) for path in sorted(directory.glob("*.toml"))]
