"""Wire models of an open set: the JSON lines the programs the cockpit runs print (Codex's ``exec
--json`` events and items, Claude Code's ``stream-json`` lines and content blocks) grow from one
version to the next, and what this version does not know is kept, never rejected.

The pieces every family's models are built from:

* :class:`WireModel`, the base: unknown fields are kept (``model_extra``); a model gives every field but
  its discriminating ``type`` a default, so a known type with a new shape still parses;
* :func:`open_union`, a union of the known models discriminated by ``type`` that falls back to the
  family's :class:`UnknownType` model for any other ``type``;
* :func:`not_known`, the validator of that unknown model's ``type``: a *known* type whose fields did
  not fit its own model must not pass as unknown (the reader then calls the line malformed).

The models themselves stay with their family (:mod:`cockpit.core.codex.exec_events`,
:mod:`cockpit.core.claude.stream`).
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

__all__ = ["UnknownType", "WireModel", "not_known", "open_union", "type_names"]


class WireModel(BaseModel):
    """Base of every wire model: unknown fields are kept (``model_extra``), nothing is required."""

    model_config = ConfigDict(extra="allow")


def type_names(union: Any) -> frozenset[str]:
    """The ``type`` values of the models in a union of known models."""
    return frozenset(cls.model_fields["type"].default for cls in union.__args__)


def not_known(known: frozenset[str], what: str) -> AfterValidator:
    """The validator of an unknown model's ``type``: any string but one of ``known`` (``what`` names the
    kind in the error: ``item``, ``event``, ``block``)."""

    def check(value: str) -> str:
        if value in known:
            raise ValueError(f"malformed {value} {what}")
        return value

    return AfterValidator(check)


class UnknownType(WireModel):
    """A model of a type this version does not know; all its fields are kept (see :attr:`raw`). A family
    subclasses it, narrowing ``type`` with :func:`not_known` where it sits in an :func:`open_union`."""

    type: str

    @property
    def raw(self) -> dict[str, Any]:
        return {"type": self.type, **(self.model_extra or {})}

    @classmethod
    def from_raw(cls, raw: dict[str, Any]) -> Self:
        """The object as it came, unvalidated (a ``type`` that is not a string is kept as its JSON)."""
        data = dict(raw)
        kind = data.pop("type", None)
        if not isinstance(kind, str):
            kind = "" if kind is None else json.dumps(kind)
        return cls.model_construct(type=kind, **data)


def open_union(known: Any, unknown: type[UnknownType]) -> Any:
    """The annotation of one value of an open set: the ``known`` union, discriminated by ``type``, else
    ``unknown`` (tried in that order)."""
    return Annotated[
        Annotated[known, Field(discriminator="type")] | unknown,
        Field(union_mode="left_to_right"),
    ]
