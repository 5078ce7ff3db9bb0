"""The fake cloud's routes: one parsed request in, one response out (no sockets here).

Serves the task API under ``/backend-api/wham/...``, ``/wham/...`` and ``/api/codex/...`` (the two path
styles ``codex cloud`` knows), the auth endpoints (``POST /oauth/token`` and
``GET .../v1/user-auth-credential/whoami``), and, on direct plain-HTTP requests only, the control API
under ``/__fake/``: ``GET requests``, ``GET state``, ``GET tasks/{id}``; ``POST tasks`` (seed),
``POST tasks/{id}`` (change), ``POST environments`` (replace), ``POST faults`` (queue), ``POST reset``.
A queued fault answers before any task-API or auth route. Unknown tasks and routes are 404
``{"detail": ...}``; a control-API body that does not validate is 400.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import unquote

from pydantic import TypeAdapter, ValidationError

from .models import Environment, EnvironmentList, Fault, SeedTask, TaskPatch
from .requestlog import RequestLog, decode_body
from .store import Store, StoreError

Via = Literal["tunnel", "direct"]
TASK_API_PREFIXES = ("/backend-api/wham/", "/wham/", "/api/codex/")
CONTROL_PREFIX = "/__fake/"
WHOAMI_SUFFIX = "/v1/user-auth-credential/whoami"
FAKE_ACCOUNT_ID = "acc_fake_cloud"
WHOAMI = {
    "email": "fake-user@example.invalid",
    "chatgpt_user_id": "user_fake_cloud",
    "chatgpt_account_id": FAKE_ACCOUNT_ID,
    "chatgpt_plan_type": "plus",
    "chatgpt_account_is_fedramp": False,
}

_faults = TypeAdapter(list[Fault])
_environments = TypeAdapter(list[Environment])


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # without the query
    query: Mapping[str, list[str]]
    headers: Mapping[str, str]  # lower-case names
    body: bytes
    via: Via
    host: str | None = None

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else None


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: Mapping[str, str] = field(default_factory=dict)


def json_response(status: int, payload: Any) -> Response:
    return Response(status, json.dumps(payload).encode())


def _detail(status: int, detail: str) -> Response:
    return json_response(status, {"detail": detail})


def dummy_id_token(account_id: str = FAKE_ACCOUNT_ID) -> str:
    """A JWT-shaped token (``alg: none``); Codex reads its claims but never verifies it."""

    def part(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    claims = {
        "email": WHOAMI["email"],
        "https://api.openai.com/auth": {"chatgpt_account_id": account_id, "chatgpt_plan_type": "plus"},
    }
    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}.c2ln"


def _json_body(request: Request) -> Any:
    if not request.body:
        return {}
    try:
        return json.loads(request.body)
    except ValueError:
        raise StoreError(400, "request body is not JSON") from None


def _prompt_from(input_items: Any) -> str:
    texts: list[str] = []
    for item in input_items if isinstance(input_items, list) else []:
        if isinstance(item, dict) and item.get("type") == "message" and item.get("role", "user") == "user":
            for part in item.get("content") or []:
                if isinstance(part, dict) and isinstance(part.get("text"), str):
                    texts.append(part["text"])
    return "\n".join(texts)


def _starting_diff(input_items: Any) -> str | None:
    for item in input_items if isinstance(input_items, list) else []:
        if isinstance(item, dict) and item.get("type") == "pre_apply_patch":
            diff = (item.get("output_diff") or {}).get("diff")
            return diff if isinstance(diff, str) else None
    return None


class Api:
    """Routes requests to the store; the control API also reaches the request log."""

    def __init__(self, store: Store, log: RequestLog) -> None:
        self.store = store
        self.log = log

    def handle(self, request: Request) -> Response:
        try:
            if request.path.startswith(CONTROL_PREFIX) and request.via == "direct":
                return self._control(request, request.path.removeprefix(CONTROL_PREFIX).strip("/"))
            fault = self.store.take_fault(request.method, request.path)
            if fault is not None:
                return self._fault(fault)
            if request.path == "/oauth/token":
                return self._oauth(request)
            if request.path.endswith(WHOAMI_SUFFIX):
                return self._whoami(request)
            for prefix in TASK_API_PREFIXES:
                if request.path.startswith(prefix):
                    return self._task_api(request, request.path.removeprefix(prefix).strip("/"))
            return _detail(404, "Not Found")
        except StoreError as exc:
            return _detail(exc.status, exc.detail)
        except ValidationError as exc:
            return _detail(400, str(exc))

    @staticmethod
    def _fault(fault: Fault) -> Response:
        if fault.body is None:
            body = json.dumps({"detail": f"injected fault {fault.status}"}).encode()
        elif isinstance(fault.body, str):
            body = fault.body.encode()
        else:
            body = json.dumps(fault.body).encode()
        return Response(fault.status, body, content_type=fault.content_type)

    # -- auth ----------------------------------------------------------------------------------------

    @staticmethod
    def _oauth(request: Request) -> Response:
        if request.method != "POST":
            return _detail(405, "Method Not Allowed")
        return json_response(
            200,
            {
                "id_token": dummy_id_token(),
                "access_token": "fake-access-" + secrets.token_hex(8),
                "refresh_token": "fake-refresh-" + secrets.token_hex(8),
                "token_type": "Bearer",
                "expires_in": 3600,
            },
        )

    @staticmethod
    def _whoami(request: Request) -> Response:
        if request.method != "GET":
            return _detail(405, "Method Not Allowed")
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer at-"):
            return _detail(401, "personal access token required")
        return json_response(200, WHOAMI)

    # -- task API ------------------------------------------------------------------------------------

    def _task_api(self, request: Request, route: str) -> Response:
        parts = [unquote(p) for p in route.split("/")] if route else []
        method = request.method
        if parts == ["environments"] and method == "GET":
            return json_response(200, self.store.environments())
        if len(parts) == 5 and parts[:2] == ["environments", "by-repo"] and method == "GET":
            return json_response(200, self.store.environments_for_repo(parts[3], parts[4]))
        if parts == ["tasks", "list"] and method == "GET":
            try:
                limit = int(request.param("limit") or 20)
            except ValueError:
                return _detail(400, "bad limit")
            page = self.store.list_tasks(
                limit=limit, cursor=request.param("cursor"), environment_id=request.param("environment_id")
            )
            return json_response(200, page)
        if parts == ["tasks"] and method == "POST":
            return self._create(request)
        if len(parts) == 2 and parts[0] == "tasks" and method == "GET":
            return json_response(200, self.store.details(parts[1]))
        if len(parts) == 5 and parts[0] == "tasks" and parts[2] == "turns" and parts[4] == "sibling_turns":
            if method != "GET":
                return _detail(405, "Method Not Allowed")
            return json_response(200, self.store.sibling_turns(parts[1], parts[3]))
        return _detail(404, "Not Found")

    def _create(self, request: Request) -> Response:
        body = _json_body(request)
        new_task = body.get("new_task") if isinstance(body, dict) else None
        environment_id = new_task.get("environment_id") if isinstance(new_task, dict) else None
        if not isinstance(environment_id, str) or not environment_id:
            return _detail(400, "new_task.environment_id is required")
        metadata = body.get("metadata") or {}
        attempts = metadata.get("best_of_n", 1) if isinstance(metadata, dict) else 1
        input_items = body.get("input_items") or []
        task = self.store.create(
            prompt=_prompt_from(input_items),
            environment_id=environment_id,
            branch=str(new_task.get("branch") or "main"),
            attempts=attempts if isinstance(attempts, int) else 1,
            input_items=input_items if isinstance(input_items, list) else [],
            starting_diff=_starting_diff(input_items),
        )
        return json_response(200, {"task": {"id": task["id"], "title": task["title"], "url": task["url"]}})

    # -- control API ---------------------------------------------------------------------------------

    def _control(self, request: Request, route: str) -> Response:
        method = request.method
        if method == "GET":
            if route == "requests":
                return json_response(200, self.log.entries())
            if route == "state":
                return json_response(200, self.store.state())
            if route.startswith("tasks/"):
                return json_response(200, self.store.task_state(unquote(route.removeprefix("tasks/"))))
            return _detail(404, "Not Found")
        if method != "POST":
            return _detail(405, "Method Not Allowed")
        body = _json_body(request)
        if route == "tasks":
            return json_response(200, self.store.seed(SeedTask.model_validate(body)))
        if route.startswith("tasks/"):
            task_id = unquote(route.removeprefix("tasks/"))
            return json_response(200, self.store.update(task_id, TaskPatch.model_validate(body)))
        if route == "environments":
            envs = (
                _environments.validate_python(body)
                if isinstance(body, list)
                else EnvironmentList.model_validate(body).environments
            )
            self.store.set_environments(envs)
            return json_response(200, self.store.environments())
        if route == "faults":
            faults = _faults.validate_python(body if isinstance(body, list) else [body])
            self.store.add_faults(faults)
            return json_response(200, {"queued": len(faults)})
        if route == "reset":
            self.store.reset()
            self.log.clear()
            return json_response(200, {"reset": True})
        return _detail(404, "Not Found")


def log_entry(request: Request, response: Response) -> dict[str, Any]:
    """The request log's record of one served request."""
    return {
        "via": request.via,
        "host": request.host,
        "method": request.method,
        "path": request.path,
        "query": dict(request.query),
        "headers": dict(request.headers),
        "body": decode_body(request.body),
        "status": response.status,
    }
