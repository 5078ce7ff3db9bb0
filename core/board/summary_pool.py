"""Task summaries kept by the tens of thousands share the parts that are equal among them.

A summary parsed from the journal is a frozen model of about twenty objects, and most of its bytes were
in parts that do not differ from one summary to the next: pydantic's record of the fields that were set
(a set of every field name, ≈ 0.7 KB, the same for every line the journal's writer wrote), the last
attempt's :class:`~cockpit.core.records.basics.Signals` (a handful of distinct values, each a model of its
own with a field set of its own) and its :class:`~cockpit.core.records.basics.Usage`'s field set and empty
dict of extra fields. :func:`share` swaps those for one instance each, which took a 20,000-task board's
summaries from ≈ 3.3 KB to ≈ 1.2 KB a task.

Why sharing is safe: a summary is never changed in place (the model is frozen, and what it holds is
read, never assigned to); a shared field set is only the full set of a model's fields, so the one thing
pydantic ever adds to it (the name of a field being assigned) is already in it, and ``model_copy`` copies
it before adding to it; a :class:`Usage` without extra fields gets ``None`` for them, which pydantic
reads, compares and copies as it does an empty dict (assigning an unknown attribute to it raises).
Equality is unchanged: pydantic compares field values, never field sets.
"""

from __future__ import annotations

from typing import Final

from pydantic import BaseModel

from cockpit.core.board.task_summary import TaskSummary
from cockpit.core.records.basics import Signals, Usage

__all__ = ["share"]

_MAX_SIGNALS: Final = 64
"""Distinct :class:`Signals` values kept for sharing (an exit code is the only open-ended part)."""

_FULL_FIELDS: dict[type[BaseModel], set[str]] = {}
_SIGNALS: dict[tuple[int | None, bool, bool], Signals] = {}


def _full_fields(model: BaseModel) -> None:
    """Give ``model`` the shared set of all its class's fields if that is what it has set."""
    cls = type(model)
    full = _FULL_FIELDS.get(cls)
    if full is None:
        full = _FULL_FIELDS.setdefault(cls, set(cls.model_fields))
    fields = model.__pydantic_fields_set__
    if fields is not full and fields == full:
        object.__setattr__(model, "__pydantic_fields_set__", full)


def _signals(signals: Signals) -> Signals:
    if type(signals) is not Signals:
        return signals
    key = (signals.exit_code, signals.turn_completed, signals.last_message)
    known = _SIGNALS.get(key)
    if known is None and len(_SIGNALS) < _MAX_SIGNALS:
        # a fresh instance: the one given may be held by a task's state, which changes it
        fresh = Signals(exit_code=key[0], turn_completed=key[1], last_message=key[2])
        known = _SIGNALS.setdefault(key, fresh)
    return signals if known is None else known


def _usage(usage: Usage) -> None:
    _full_fields(usage)
    if usage.__pydantic_extra__ == {}:
        object.__setattr__(usage, "__pydantic_extra__", None)


def share(summary: TaskSummary) -> TaskSummary:
    """``summary`` with its equal-everywhere parts swapped for shared ones (in place; returned for
    convenience). Call it only on a summary nothing else holds yet (one just parsed or built)."""
    if type(summary) is not TaskSummary:
        return summary
    _full_fields(summary)
    values = summary.__dict__
    values["signals"] = _signals(values["signals"])
    _usage(values["usage"])
    return summary
