"""A stand-in ``codex app-server`` for failure modes the real binary cannot be made to show.

It speaks the real wire format (one JSON-RPC object per line, no ``"jsonrpc"`` member, ids from 0 on
both sides) and answers the handshake, ``thread/start``, ``turn/start``, ``turn/interrupt`` and
``thread/read`` just as ``codex app-server`` 0.169.0 does (see the project's app-server reference), but
misbehaves on purpose. Run as ``python fake_app_server.py MODE app-server`` (the runner appends
``app-server`` to whatever command it is given; a wrapper script passes the mode).

Why not the real binary:

- ``ignore-interrupt``: the real server answers ``turn/interrupt`` within milliseconds and ends the turn
  at once in every state (model request, pending approval, running command — §9 of the reference), and
  it exits on stdin EOF. Here the turn never ends: ``turn/interrupt`` is answered ``{}`` and ignored,
  ``thread/read`` keeps reporting the turn ``inProgress``, SIGTERM and stdin EOF are ignored, and a
  ``sleep`` child (with the same environment, so a marker variable finds both) shares the server's
  process group, so only killing that group ends it.
- ``late-approval``: the real server never sends an approval request for a turn other than the running
  one, nor one after the turn's ``turn/completed`` (a pending request is resolved when its turn ends).
  Here a command approval request for an unknown turn arrives while the turn runs (the fake waits for
  its answer), and a second one for the same turn arrives right after its ``turn/completed``, in the
  same write.

Every line received is appended to the file named by ``FAKE_APP_SERVER_LOG`` when that is set.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from typing import Any

THREAD_ID = "0f000000-0000-7000-8000-00000000fa4e"
TURN_ID = "0f000000-0000-7000-8000-0000000070c1"
OTHER_TURN_ID = "0f000000-0000-7000-8000-00000000dead"
FINAL_TEXT = "COMPLETED: the fake turn is done"


def now_ms() -> int:
    return int(time.time() * 1000)


class Fake:
    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.log = os.environ.get("FAKE_APP_SERVER_LOG")
        self.turn_status = "inProgress"
        self.next_request_id = 0

    # -- wire -------------------------------------------------------------------------------------

    def write(self, *messages: dict[str, Any]) -> None:
        """All messages in one write: the client reads them together."""
        data = "".join(json.dumps(m, separators=(",", ":")) + "\n" for m in messages)
        sys.stdout.write(data)
        sys.stdout.flush()

    def notify(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        return {"method": method, "params": params, "emittedAtMs": now_ms()}

    def server_request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        request = {"method": method, "id": self.next_request_id, "params": params}
        self.next_request_id += 1
        return request

    def read(self) -> dict[str, Any] | None:
        raw = sys.stdin.readline()
        if not raw:
            return None
        if self.log:
            with open(self.log, "a", encoding="utf-8") as fh:
                fh.write(raw)
        try:
            message = json.loads(raw)
        except ValueError:
            return {}
        return message if isinstance(message, dict) else {}

    # -- shapes -----------------------------------------------------------------------------------

    def turn(self, items: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        return {
            "id": TURN_ID,
            "items": items or [],
            "status": self.turn_status,
            "error": None,
            "durationMs": None,
        }

    def thread(self) -> dict[str, Any]:
        status = (
            {"type": "active", "activeFlags": []} if self.turn_status == "inProgress" else {"type": "idle"}
        )
        return {"id": THREAD_ID, "cwd": os.getcwd(), "status": status, "turns": []}

    def approval(self, turn_id: str, item_id: str) -> dict[str, Any]:
        return self.server_request(
            "item/commandExecution/requestApproval",
            {
                "kind": "command",
                "threadId": THREAD_ID,
                "turnId": turn_id,
                "itemId": item_id,
                "reason": "wants to write outside the workspace",
                "command": f"/bin/bash -lc 'echo {item_id} > /tmp/never'",
                "cwd": os.getcwd(),
                "availableDecisions": ["accept", "cancel"],
            },
        )

    # -- main loop --------------------------------------------------------------------------------

    def answer(self, message: dict[str, Any]) -> None:
        method, request_id = message.get("method"), message.get("id")
        if method is None or request_id is None:
            return  # a notification, or the client's answer to one of our requests
        if method == "initialize":
            self.write({"id": request_id, "result": {"userAgent": "fake_app_server/0.169.0"}})
        elif method == "thread/start":
            thread = self.thread()
            self.write(
                {"id": request_id, "result": {"thread": thread, "model": "gpt-5.5"}},
                self.notify("thread/started", {"thread": thread}),
            )
        elif method == "turn/start":
            self.write(
                {"id": request_id, "result": {"turn": self.turn()}},
                self.notify(
                    "thread/status/changed", {"threadId": THREAD_ID, "status": self.thread()["status"]}
                ),
                self.notify("turn/started", {"threadId": THREAD_ID, "turn": self.turn()}),
            )
            if self.mode == "late-approval":
                self.late_approval_turn()
        elif method == "turn/interrupt":
            self.write({"id": request_id, "result": {}})  # ... and nothing happens
        elif method == "thread/read":
            thread = self.thread()
            thread["turns"] = [self.turn()]
            self.write({"id": request_id, "result": {"thread": thread}})
        else:
            self.write(
                {"id": request_id, "error": {"code": -32600, "message": f"unknown variant `{method}`"}}
            )

    def late_approval_turn(self) -> None:
        # An approval for a turn this client never started: it must be declined, not shown.
        self.write(self.approval(OTHER_TURN_ID, "call_other"))
        while True:
            message = self.read()
            if message is None:
                return
            if message.get("id") == 0 and "method" not in message:
                break
            self.answer(message)
        message_item = {"type": "agentMessage", "id": "msg_1", "text": FINAL_TEXT}
        self.turn_status = "completed"
        self.write(
            self.notify("item/completed", {"threadId": THREAD_ID, "turnId": TURN_ID, "item": message_item}),
            self.notify("thread/status/changed", {"threadId": THREAD_ID, "status": {"type": "idle"}}),
            self.notify("turn/completed", {"threadId": THREAD_ID, "turn": self.turn([message_item])}),
            self.approval(TURN_ID, "call_late"),  # after its turn ended
        )

    def run(self) -> int:
        if self.mode == "ignore-interrupt":
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            subprocess.Popen(["sleep", "600"])  # same process group, same environment (and marker)
        while True:
            message = self.read()
            if message is None:
                break
            self.answer(message)
        if self.mode == "ignore-interrupt":
            while True:  # deaf to stdin EOF: only a kill ends this
                time.sleep(60)
        return 0


if __name__ == "__main__":
    sys.exit(Fake(sys.argv[1]).run())
