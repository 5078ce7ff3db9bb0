"""The app-server client the mcp lane drives a turn through: the protocol's calls (``initialize``, threads,
turns, answers to server requests) over one connection, with the conversation's state kept as it goes.

:class:`AppServerClient` is an :class:`~cockpit.core.codex.app_server.connection.AppServerConnection`
(the process and the JSON-RPC line transport) that keeps a
:class:`~cockpit.core.codex.app_server.conversation.ConversationState` from every message received; a
``turn/completed`` that never arrives is recovered from ``thread/read``
(:mod:`cockpit.core.codex.app_server.recovery`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from cockpit.core.codex.app_server.connection import (
    AppServerClosed,
    AppServerConnection,
    AppServerError,
    Incoming,
)
from cockpit.core.codex.app_server.conversation import ConversationState
from cockpit.core.codex.app_server.protocol import (
    APPROVAL_METHODS,
    COMMAND_APPROVAL,
    FILE_CHANGE_APPROVAL,
    RECOVERED_FROM,
    RUNNING_TURN_STATUS,
    CommandApprovalRequest,
    ErrorNotification,
    FileChangeApprovalRequest,
    RateLimitSnapshot,
    RequestId,
    ServerRequestResolved,
    ThreadSnapshot,
    TurnDiffUpdated,
    TurnNotification,
    merge_rate_limits,
)
from cockpit.core.codex.app_server.recovery import NO_TURNS_YET_CODE, recover_turn
from cockpit.core.vocabulary import Sandbox

# The client and its errors, and the wire names its callers use with it (defined in the protocol module).
__all__ = [
    "APPROVAL_METHODS",
    "COMMAND_APPROVAL",
    "FILE_CHANGE_APPROVAL",
    "NO_TURNS_YET_CODE",
    "RECOVERED_FROM",
    "RUNNING_TURN_STATUS",
    "AppServerClient",
    "AppServerClosed",
    "AppServerError",
    "ApprovalPolicy",
    "CommandApprovalRequest",
    "Decision",
    "ErrorNotification",
    "FileChangeApprovalRequest",
    "Incoming",
    "RateLimitSnapshot",
    "RequestId",
    "SandboxMode",
    "ServerRequestResolved",
    "TurnDiffUpdated",
    "TurnNotification",
    "merge_rate_limits",
]

Decision = str | dict[str, Any]
ApprovalPolicy = Literal["untrusted", "on-request", "on-failure", "never"] | dict[str, Any]
SandboxMode = Sandbox


class AppServerClient(ConversationState, AppServerConnection):
    """One ``codex app-server`` process, the conversation with it, and what it said so far.

    Use from one event loop. ``start`` first; ``close`` (or ``async with``) last.
    """

    def __init__(self) -> None:
        AppServerConnection.__init__(self)
        ConversationState.__init__(self)
        self.server_info: dict[str, Any] = {}

    def _accept(self, incoming: Incoming) -> bool:
        return self.track(incoming)

    # -- answering server requests ----------------------------------------------------------------

    async def respond(self, request_id: RequestId, result: Any) -> None:
        """Answer a server request (for approvals ``{"decision": ...}``, see :meth:`decide`)."""
        self.pending_requests.pop(request_id, None)
        await self._send({"id": request_id, "result": result})

    async def respond_error(self, request_id: RequestId, code: int, message: str) -> None:
        """Refuse a server request the cockpit cannot serve."""
        self.pending_requests.pop(request_id, None)
        await self._send({"id": request_id, "error": {"code": code, "message": message}})

    async def decide(self, request_id: RequestId, decision: Decision) -> None:
        """Answer an approval: ``accept``, ``acceptForSession``, ``decline``, ``cancel`` or an amendment
        object such as ``{"acceptWithExecpolicyAmendment": {...}}``."""
        await self.respond(request_id, {"decision": decision})

    # -- protocol calls -------------------------------------------------------------------------

    async def initialize(
        self,
        client_name: str = "codex_cockpit",
        version: str | None = None,
        *,
        title: str = "Codex Cockpit",
        experimental_api: bool = False,
        opt_out_notifications: Sequence[str] = (),
        timeout: float | None = 30.0,
    ) -> dict[str, Any]:
        """``initialize`` then the ``initialized`` notification; returns the server's result
        (``userAgent``, ``codexHome``, …). ``client_name`` becomes the model requests' originator.
        ``opt_out_notifications`` names notification methods the server must not send at all."""
        capabilities: dict[str, Any] = {"experimentalApi": experimental_api}
        if opt_out_notifications:
            capabilities["optOutNotificationMethods"] = list(opt_out_notifications)
        params = {
            "clientInfo": {"name": client_name, "title": title, "version": version or _own_version()},
            "capabilities": capabilities,
        }
        result = await self.request("initialize", params, timeout=timeout)
        self.server_info = result if isinstance(result, dict) else {}
        await self.notify("initialized")
        return self.server_info

    async def thread_start(
        self,
        cwd: Path | str,
        approval_policy: ApprovalPolicy,
        sandbox: SandboxMode,
        model: str | None = None,
        *,
        developer_instructions: str | None = None,
        config: Mapping[str, Any] | None = None,
        timeout: float | None = 60.0,
    ) -> str:
        """Start a thread; returns its id. Note: the server appends a trust entry for ``cwd`` to
        ``$CODEX_HOME/config.toml``."""
        params: dict[str, Any] = {
            "cwd": str(cwd),
            "approvalPolicy": approval_policy,
            "sandbox": sandbox,
            **_given(model=model, developerInstructions=developer_instructions, config=_plain(config)),
        }
        result = await self.request("thread/start", params, timeout=timeout)
        return self._remember_thread(result)

    async def thread_resume(
        self,
        thread_id: str,
        *,
        cwd: Path | str | None = None,
        approval_policy: ApprovalPolicy | None = None,
        sandbox: SandboxMode | None = None,
        model: str | None = None,
        developer_instructions: str | None = None,
        config: Mapping[str, Any] | None = None,
        exclude_turns: bool = False,
        timeout: float | None = 60.0,
    ) -> dict[str, Any]:
        """Load a stored thread (from ``$CODEX_HOME/sessions``) into this server, optionally with new
        settings; returns the result (``thread`` with its ``turns`` unless ``exclude_turns``, ``model``,
        ``approvalPolicy``, ``sandbox``, …)."""
        params: dict[str, Any] = {
            "threadId": thread_id,
            **_given(
                cwd=None if cwd is None else str(cwd),
                approvalPolicy=approval_policy,
                sandbox=sandbox,
                model=model,
                developerInstructions=developer_instructions,
                config=_plain(config),
                excludeTurns=True if exclude_turns else None,
            ),
        }
        result = await self.request("thread/resume", params, timeout=timeout)
        self._remember_thread(result)
        return result

    def _remember_thread(self, result: Any) -> str:
        thread = result.get("thread") if isinstance(result, dict) else None
        if not isinstance(thread, dict) or not isinstance(thread.get("id"), str):
            raise AppServerError(0, f"thread result without a thread id: {result!r:.200}")
        thread_id = thread["id"]
        self.threads[thread_id] = result
        cwd = result.get("cwd") or thread.get("cwd")
        if isinstance(cwd, str):
            self.thread_cwd[thread_id] = cwd
        return thread_id

    async def turn_start(
        self, thread_id: str, text: str, *, timeout: float | None = 60.0, **overrides: Any
    ) -> str:
        """Start a turn with one text input; returns the turn id. ``overrides`` are passed as given
        (``model``, ``effort``, ``approvalPolicy``, …). During an active turn this acts as a steer and
        returns the same turn id."""
        params: dict[str, Any] = {
            "threadId": thread_id,
            "input": [{"type": "text", "text": text, "text_elements": []}],
            **overrides,
        }
        result = await self.request("turn/start", params, timeout=timeout)
        return str(result["turn"]["id"])

    async def turn_interrupt(self, thread_id: str, turn_id: str, *, timeout: float | None = 30.0) -> None:
        """Interrupt a turn. It does not stop a command already running."""
        await self.request("turn/interrupt", {"threadId": thread_id, "turnId": turn_id}, timeout=timeout)

    async def thread_read(self, thread_id: str, *, timeout: float | None = 30.0) -> ThreadSnapshot:
        """``thread/read``: the thread's status and its turns (with their items) as the server knows them."""
        params = {"threadId": thread_id, "includeTurns": True}
        result = await self.request("thread/read", params, timeout=timeout)
        thread = result.get("thread") if isinstance(result, dict) else None
        if not isinstance(thread, dict):
            raise AppServerError(0, f"thread/read result without a thread: {result!r:.200}")
        try:
            return ThreadSnapshot.model_validate(thread)
        except ValidationError as exc:
            raise AppServerError(0, f"thread/read result not understood: {exc}") from exc

    async def recover_turn(
        self, thread_id: str, turn_id: str, *, timeout: float | None = 30.0
    ) -> TurnNotification | None:
        """The turn's completion, from ``thread/read`` when its ``turn/completed`` did not arrive (see
        :func:`~cockpit.core.codex.app_server.recovery.recover_turn`)."""
        return await recover_turn(self, thread_id, turn_id, timeout=timeout)

    async def wait_turn_completed(self, turn_id: str, timeout: float) -> TurnNotification:
        """Wait for ``turn/completed`` of ``turn_id`` (the state, not the queue, is watched)."""
        await self.wait_until(lambda: turn_id in self.completed_turns, timeout)
        return self.completed_turns[turn_id]


def _given(**params: Any) -> dict[str, Any]:
    """The params that were given (not None), in the order named."""
    return {name: value for name, value in params.items() if value is not None}


def _plain(config: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return None if config is None else dict(config)


def _own_version() -> str:
    try:
        from importlib.metadata import version

        return version("codex-cockpit")
    except Exception:
        return "0.0.0"
