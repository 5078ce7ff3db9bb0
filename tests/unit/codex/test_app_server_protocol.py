"""One app-server wire: the live client and the reader of a recorded stream decode the same line the
same way; one sparse rate-limit merge, one limit key and one ``Credits`` model for every reader."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import cockpit.core.usage.windows as usage_windows
from cockpit.core.attempts.reducer import AttemptReducer
from cockpit.core.attempts.tailer import EventTailer
from cockpit.core.codex.app_server import protocol as wire
from cockpit.core.codex.app_server.client import AppServerClient, Incoming
from cockpit.core.codex.exec_events import ErrorEvent, TurnFailed, UnknownEvent, parse_event_line
from cockpit.core.usage.live import read_live, record_live
from cockpit.core.usage.rollouts import parse_rate_limits, parse_rollout_line
from cockpit.core.usage.watcher import RolloutWatcher

T0 = 1_795_000_000.0


def line(method: str, params: dict[str, Any] | None = None, **extra: object) -> bytes:
    return json.dumps({"method": method, "params": params or {}, **extra}).encode() + b"\n"


def item(method: str, **fields: object) -> bytes:
    return line(method, {"threadId": "thr-1", "turnId": "u", "item": fields})


def limits(primary: float | None, secondary: float | None, credits: dict[str, Any] | None) -> dict[str, Any]:
    def window(used: float | None, minutes: int) -> dict[str, Any] | None:
        return None if used is None else {"usedPercent": used, "windowDurationMins": minutes, "resetsAt": 2e9}

    return {
        "limitId": "codex",
        "primary": window(primary, 300),
        "secondary": window(secondary, 10080),
        "credits": credits,
    }


# A turn as a server sends it, with shapes a newer Codex may send: an item kind this version does not know
# inside the completed turn, an error given as a bare string, a method nobody declared.
STREAM = [
    line("thread/started", {"thread": {"id": "thr-1", "cwd": "/w"}}),
    b'{"id":3,"result":{"turn":{"id":"u"}}}\n',
    line("turn/started", {"threadId": "thr-1", "turn": {"id": "u", "status": "inProgress"}}),
    item("item/started", type="commandExecution", id="c1", command="ls", status="inProgress"),
    item("item/completed", type="commandExecution", id="c1", command="ls", status="completed", exitCode=0),
    line("turn/diff/updated", {"threadId": "thr-1", "turnId": "u", "diff": "diff --git a/x b/x\n"}),
    item("item/completed", type="agentMessage", id="m1", text="COMPLETED: done"),
    line(
        "thread/tokenUsage/updated",
        {
            "threadId": "thr-1",
            "turnId": "u",
            "tokenUsage": {
                "total": {
                    "inputTokens": 90,
                    "cachedInputTokens": 40,
                    "outputTokens": 7,
                    "reasoningOutputTokens": 2,
                },
                "last": {"inputTokens": 9},
            },
        },
    ),
    line(
        "account/rateLimits/updated", {"rateLimits": limits(43, 13, {"hasCredits": True, "balance": "12.50"})}
    ),
    line("account/rateLimits/updated", {"rateLimits": limits(44, None, None)}, emittedAtMs=T0 * 1000),
    line("error", {"error": {"message": "Reconnecting... 1/5"}, "willRetry": True, "threadId": "thr-1"}),
    line("brand/new", {"anything": [1, 2]}),
    line(
        "turn/completed",
        {
            "threadId": "thr-1",
            "turn": {
                "id": "u",
                "status": "failed",
                "error": "quota exhausted",  # a bare string where an object was
                "items": [{"type": ["a", "new", "shape"], "id": "x1"}],
            },
        },
    ),
]


def client_reading(lines: list[bytes]) -> tuple[AppServerClient, list[Incoming]]:
    """The live client's path: every line as it arrives on the server's stdout."""
    client = AppServerClient()
    for raw in lines:
        client._on_line(raw)
    delivered: list[Incoming] = []
    while not client.incoming.empty():
        got = client.incoming.get_nowait()
        assert got is not None
        delivered.append(got)
    return client, delivered


def tailer_reading(tmp_path: Path, lines: list[bytes]) -> AttemptReducer:
    """The recorded stream's path: the mcp lane's events.jsonl through the tailer and the reducer."""
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"".join(lines))
    reducer = AttemptReducer()
    reducer.apply_many(EventTailer(path).read_new())
    return reducer


def test_the_client_and_the_tailer_read_a_turn_alike(tmp_path: Path) -> None:
    client, delivered = client_reading(STREAM)
    reducer = tailer_reading(tmp_path, STREAM)
    progress = reducer.snapshot()
    assert client.malformed == 1  # the answer to a request this client never sent
    # The thread, its last agent message, its diff and its usage: the same facts on both sides.
    assert client.thread_cwd == {"thr-1": "/w"} and progress.thread_id == "thr-1"
    assert client.final_message("u") == progress.last_agent_message == "COMPLETED: done"
    assert client.turn_diffs["u"] == reducer.turn_diff
    total = client.token_usage["thr-1"].total
    assert progress.usage is not None
    assert (total.inputTokens, total.cachedInputTokens, total.outputTokens, total.reasoningOutputTokens) == (
        progress.usage.input_tokens,
        progress.usage.cached_input_tokens,
        progress.usage.output_tokens,
        progress.usage.reasoning_output_tokens,
    )
    assert [e.error.message for e in client.errors] == progress.errors == ["Reconnecting... 1/5"]
    # The turn with new shapes inside still ends for both, failed, with its message kept.
    completed = client.completed_turns["u"]
    assert completed.status == "failed" and completed.error is None
    assert progress.turn_failed == "turn failed" and not progress.turn_completed
    # An undeclared method is delivered untyped by one and kept as an unknown event by the other.
    brand_new = next(i for i in delivered if i.method == "brand/new")
    assert brand_new.typed is None and brand_new.params == {"anything": [1, 2]}
    assert "brand/new" in progress.unknown_types


@pytest.mark.parametrize("raw", STREAM, ids=lambda raw: json.loads(raw).get("method", "response"))
def test_each_line_decodes_once_for_both_readers(raw: bytes) -> None:
    decoded = wire.decode_line(raw)
    event = parse_event_line(raw)
    if isinstance(decoded, wire.Response):
        assert isinstance(event, UnknownEvent) and event.type == "rpc/response"
        return
    assert isinstance(decoded, wire.Notification)
    _, delivered = client_reading([raw])
    typed = delivered[0].typed if delivered else None  # an unchanged diff is not queued twice
    assert typed == decoded.typed
    assert event.model_extra is not None
    assert event.model_extra.get("method") == decoded.method or event.type == decoded.method


def test_a_new_error_shape_is_repaired_alike() -> None:
    raw = line("error", {"error": {"message": 5, "codexErrorInfo": {"new": True}}, "willRetry": "maybe"})
    typed = wire.decode_line(raw)
    assert isinstance(typed, wire.Notification) and isinstance(typed.typed, wire.ErrorNotification)
    assert typed.typed.error.message == "" and typed.typed.willRetry is False
    event = parse_event_line(raw)
    assert isinstance(event, ErrorEvent) and event.message == "error"
    _, delivered = client_reading([raw])
    assert delivered[0].typed == typed.typed


def test_turn_completed_without_a_turn_fails_the_turn_for_the_tailer_and_is_untyped_for_the_client() -> None:
    raw = line("turn/completed", {"threadId": "thr-1"})
    assert wire.decode_line(raw).typed is None  # type: ignore[union-attr]
    event = parse_event_line(raw)
    assert isinstance(event, TurnFailed) and event.message == "turn ended"


# --------------------------------------------------------------------- rate limits: merge, key, Credits


UPDATES = [
    (T0 + 1, limits(43, 13, {"hasCredits": True, "unlimited": False, "balance": "12.50"})),
    (T0 + 2, limits(44, None, None)),  # sparse: the weekly window and the credits are no news
    (
        T0 + 3,
        {"limitId": "codex", "primary": {"usedPercent": 45, "resetsAt": None}, "credits": {"balance": "3"}},
    ),
]


def test_the_client_and_the_live_file_merge_sparse_snapshots_alike(tmp_path: Path) -> None:
    client, _ = client_reading(
        [line("account/rateLimits/updated", {"rateLimits": raw}) for _, raw in UPDATES]
    )
    live = tmp_path / "rate-limits.json"
    for observed, raw in UPDATES:
        record_live(live, raw, observed)
    [(key, recorded)] = read_live(live).limits.items()
    assert key == "codex" and list(client.rate_limits) == ["codex"]
    from_file = wire.RateLimitSnapshot.model_validate(recorded.rate_limits)
    assert from_file == client.rate_limits["codex"]
    merged = client.rate_limits["codex"]
    assert merged.primary is not None and merged.secondary is not None and merged.credits is not None
    assert (merged.primary.usedPercent, merged.primary.resetsAt, merged.secondary.usedPercent) == (
        45,
        2e9,
        13,
    )
    assert (merged.credits.has_credits, merged.credits.balance) == (True, "3")
    # And the watcher reading that file files it under the same key, with the same numbers.
    watcher = RolloutWatcher([tmp_path / "no-home"], lambda: T0 + 5, live_file=live)
    assert watcher.limit_ids() == [] and watcher.refresh() and watcher.limit_ids() == ["codex"]
    snap = watcher.snapshot("codex")
    assert [w.used_percent for w in snap.windows] == [45.0, 13.0]
    assert snap.credits == wire.Credits(has_credits=True, unlimited=False, balance="3")


@pytest.mark.parametrize(
    ("snapshot", "key"),
    [
        ({"limitId": "spark"}, "spark"),  # the app-server's camelCase
        ({"limit_id": "spark"}, "spark"),  # a rollout's snake_case
        (wire.RateLimitSnapshot(limitId="spark"), "spark"),  # the client's model
        ({"limitId": None, "primary": None}, "codex"),
        ({}, "codex"),
        (wire.RateLimitSnapshot(), "codex"),
    ],
)
def test_one_limit_key_for_every_shape(snapshot: Any, key: str) -> None:
    assert wire.limit_key(snapshot) == key


def test_one_credits_model_from_the_app_server_and_from_a_rollout() -> None:
    assert usage_windows.Credits is wire.Credits
    camel = wire.RateLimitSnapshot.model_validate(
        limits(1, 2, {"hasCredits": True, "unlimited": False, "balance": "7"})
    )
    rollout = json.dumps(
        {
            "timestamp": "2026-03-27T10:00:00.000Z",
            "type": "event_msg",
            "payload": {
                "type": "token_count",
                "rate_limits": {
                    "primary": {"used_percent": 1, "window_minutes": 300},
                    "credits": {"has_credits": True, "unlimited": False, "balance": "7"},
                },
            },
        }
    )
    parsed = parse_rollout_line(rollout, source="rollout:x")
    assert parsed is not None
    live = parse_rate_limits(
        limits(1, 2, {"hasCredits": True, "balance": "7"}), observed_at=T0, source="live"
    )
    assert live is not None
    assert camel.credits == parsed.credits == live.credits == wire.Credits(has_credits=True, balance="7")
    assert parsed.model_dump(mode="json")["credits"] == {
        "has_credits": True,
        "unlimited": False,
        "balance": "7",
    }
