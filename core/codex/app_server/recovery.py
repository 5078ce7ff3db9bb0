"""Recovering a turn whose ``turn/completed`` never arrived, from ``thread/read``.

``thread/read`` (0.169.0, verified: params ``{"threadId", "includeTurns": true}``, result ``{"thread":
{…, "status", "turns": [Turn with its full items]}}``; without ``includeTurns`` a thread's ``turns`` are
always empty, and before its first turn has started a thread answers -32601 "list_turns is not supported
yet"). When the turn is finished there, it is recorded as if its ``turn/completed`` had arrived: a
synthesized ``turn/completed`` line (top-level ``"recoveredFrom": "thread/read"``) is appended to the
transcript and queued, so every reader of the transcript sees the turn end.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cockpit.core.codex.app_server.connection import AppServerError
from cockpit.core.codex.app_server.protocol import (
    RECOVERED_FROM,
    TURN_COMPLETED,
    Turn,
    TurnNotification,
    encode_line,
    turn_finished,
)

if TYPE_CHECKING:
    from cockpit.core.codex.app_server.client import AppServerClient

NO_TURNS_YET_CODE = -32601  # thread/read with turns before a thread's first turn: "list_turns is not …"


def completion_line(thread_id: str, turn: Turn) -> bytes:
    """The ``turn/completed`` line a turn read from ``thread/read`` stands for, marked as recovered."""
    message = {
        "method": TURN_COMPLETED,
        "params": {"threadId": thread_id, "turn": turn.model_dump(mode="json")},
        RECOVERED_FROM: "thread/read",
    }
    return encode_line(message)


async def recover_turn(
    client: AppServerClient, thread_id: str, turn_id: str, *, timeout: float | None
) -> TurnNotification | None:
    """The turn's completion, from ``thread/read`` when its ``turn/completed`` did not arrive.

    Returns the completion already received if there is one; otherwise reads the thread and, when the
    turn has finished there (:func:`~cockpit.core.codex.app_server.protocol.turn_finished`), records it
    exactly as a received ``turn/completed`` would be (state, queue) and appends the synthesized line to
    the transcript. ``None`` while the turn is still in progress (or unknown to the server)."""
    known = client.completed_turns.get(turn_id)
    if known is not None:
        return known
    try:
        snapshot = await client.thread_read(thread_id, timeout=timeout)
    except AppServerError as exc:
        if exc.code == NO_TURNS_YET_CODE:  # no turn of the thread has been stored yet
            return None
        raise
    known = client.completed_turns.get(turn_id)  # it may have arrived while we waited
    if known is not None:
        return known
    turn = snapshot.turn(turn_id)
    if turn is None or not turn_finished(turn.status):
        return None
    client.recovered_turns.add(turn_id)
    client.take_synthesized(completion_line(thread_id, turn))
    return client.completed_turns.get(turn_id)
