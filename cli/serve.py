"""``cockpit serve``: the cockpit in a browser, over HTTP and a WebSocket, with ``textual-serve``'s page
script and app protocol.

Each browser connection runs its own cockpit process, a viewer of the board (``cockpit.cli.served_app``,
the same app as in a terminal); the board's supervisor is the one that holds it (a terminal cockpit or a
``cockpit run``), or, when none does, a ``cockpit run`` that serve starts and stops itself.

Access (:class:`Access`, checked by :func:`guard` before any route runs):

- a token, random per start (``secrets``) or ``COCKPIT_SERVE_TOKEN``, printed once in the URL; every
  request carries it, in the query (the first visit, which trades it for a cookie and is redirected to a
  URL without it) or in an HttpOnly, SameSite=Strict cookie; compared with ``hmac.compare_digest``. A
  request without it gets 401 and reaches no handler, so it starts no process.
- the Host header names the served host (a page of another site resolved to this address, DNS
  rebinding, is refused), and the WebSocket's Origin must be the served origin: a page of another origin
  (even another port of this machine, which the browser sends the cookie to) gets 403.
- three routes: the page, the WebSocket and a fixed list of static files (no listing, no downloads).
- the command each connection starts is fixed here (:func:`app_argv`); nothing of a request goes into
  it but the terminal's size, as numbers, in the environment.

The token is printed once and never logged: no access log is kept, and refusals name the path only.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import json
import os
import re
import secrets
import signal
import socket
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import textual_serve
from aiohttp import WSMsgType, web
from textual_serve.app_service import AppService
from textual_serve.download_manager import DownloadManager

from cockpit.core import Blackboard, InputError, clean, die_with_parent

TOKEN_ENV = "COCKPIT_SERVE_TOKEN"
TOKEN_RE = re.compile(r"[A-Za-z0-9._~-]{16,256}")
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
MAX_SESSIONS = 8  # browser connections (app processes) at once; more get 503
APP_QUIT_GRACE_S = 5.0  # an app asked to quit gets this long before it is terminated, then killed
SUPERVISOR_START_S = 30.0  # how long serve waits for the supervisor it started to take the board
SUPERVISOR_STOP_GRACE_S = 20.0  # the supervisor finishes its pass on SIGTERM; killed after this
MAX_MESSAGE = 1 << 20  # one WebSocket message from the page (a paste): 1 MiB
NOTIFY = "cockpit_notify"  # the app's message asking the page for a notification (tui/alerts.py)
WEB = Path(__file__).resolve().parent / "web"
TEXTUAL_SERVE = Path(textual_serve.__file__).resolve().parent
STATIC: dict[str, Path] = {  # the only files served: what the page needs
    "js/textual.js": TEXTUAL_SERVE / "static" / "js" / "textual.js",
    "css/xterm.css": TEXTUAL_SERVE / "static" / "css" / "xterm.css",
    "cockpit.js": WEB / "cockpit.js",
}
WILDCARDS = frozenset({"", "0.0.0.0", "::"})
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")


class ServeError(InputError):
    """Bad usage of ``cockpit serve`` (exit 2)."""


def say(line: str) -> None:
    print(f"cockpit serve: {line}", flush=True)


def asked(request: web.Request) -> str:
    """A refused request in one short line for serve's output: method and path as data (the path is the
    client's: control sequences stripped, secrets masked, cut), and where it came from."""
    path = clean(request.path.replace("\n", " "))
    if len(path) > 200:
        path = path[:200] + "…"
    return f"{clean(request.method)} {path} from {request.remote or '?'}"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def host_port(host: str, port: int) -> str:
    """``host:port`` as Host and Origin headers spell it (an IPv6 address in brackets), lower case."""
    host = host.lower().strip("[]")
    if ":" in host:
        host = f"[{host}]"
    return f"{host}:{port}"


def header_host_port(value: str, default_port: int) -> str | None:
    """A Host header (``name``, ``name:port``, ``[v6]:port``) as ``host:port``; None when malformed."""
    try:
        parts = urlsplit(f"http://{value}")
        port = parts.port or default_port
    except ValueError:
        return None
    if not parts.hostname or parts.username or parts.password or parts.path or parts.query:
        return None
    return host_port(parts.hostname, port)


def origin_host_port(origin: str) -> str | None:
    """An Origin header (``http://name:port``) as ``host:port``; None when it is not an http(s) origin."""
    try:
        parts = urlsplit(origin)
        scheme = parts.scheme.lower()
        port = parts.port or {"http": 80, "https": 443}.get(scheme)
    except ValueError:
        return None
    if scheme not in ("http", "https") or not parts.hostname or port is None:
        return None
    if parts.username or parts.password or parts.path not in ("", "/") or parts.query:
        return None
    return host_port(parts.hostname, port)


@dataclass(frozen=True)
class Access:
    """Who may come in: the token, and the hosts the page and the WebSocket are served as."""

    token: str
    port: int
    hosts: frozenset[str] | None  # allowed ``host:port``; None (a wildcard address): any, same-origin only

    @classmethod
    def for_bind(cls, token: str, host: str, port: int) -> Access:
        if host in WILDCARDS:
            return cls(token, port, None)
        names = {host, *LOOPBACK_NAMES} if is_loopback(host) else {host}
        return cls(token, port, frozenset(host_port(name, port) for name in names))

    @property
    def cookie(self) -> str:
        return f"cockpit_serve_{self.port}"  # cookies ignore ports: one name per port

    def _same(self, given: str | None) -> bool:
        if not given:
            return False
        return hmac.compare_digest(given.encode("utf-8", "replace"), self.token.encode())

    def token_from_query(self, request: web.Request) -> bool:
        return self._same(request.query.get("token"))

    def token_ok(self, request: web.Request) -> bool:
        return self.token_from_query(request) or self._same(request.cookies.get(self.cookie))

    def request_host(self, request: web.Request) -> str | None:
        """The request's Host as ``host:port`` when it is one this cockpit is served as, else None."""
        given = header_host_port(request.headers.get("Host", ""), 80)
        if given is None or (self.hosts is not None and given not in self.hosts):
            return None
        return given

    def origin_ok(self, request: web.Request) -> bool:
        """The WebSocket's Origin is the page's own: a served host, the very one the request names."""
        origin = origin_host_port(request.headers.get("Origin", ""))
        return origin is not None and origin == self.request_host(request)


def app_argv(repo: Path) -> list[str]:
    """The command every browser connection runs: fixed at start, nothing from a request in it."""
    return [sys.executable, "-m", "cockpit.cli.served_app", str(repo)]


class CockpitAppService(AppService):
    """textual-serve's app process protocol, with the process started here: the fixed argv (no shell),
    an environment without the token, a session of its own (a Ctrl+C in serve's terminal is serve's to
    handle), killed by the kernel if serve dies; and a stop that always ends the process."""

    def __init__(self, argv: list[str], **kwargs: Any) -> None:
        super().__init__(" ".join(argv), **kwargs)
        self.argv = argv

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def _build_environment(self, width: int = 80, height: int = 24) -> dict[str, str]:
        env = super()._build_environment(width=width, height=height)
        env.pop(TOKEN_ENV, None)
        return env

    async def _open_app_process(self, width: int = 80, height: int = 24) -> asyncio.subprocess.Process:
        self._process = process = await asyncio.create_subprocess_exec(
            *self.argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=self._build_environment(width=width, height=height),
            start_new_session=True,
            preexec_fn=die_with_parent(os.getpid()),
        )
        assert process.stdin is not None
        self._stdin = process.stdin
        return process

    async def on_meta(self, data: bytes) -> None:
        """The app's messages: it ended, or it asks for a notification. Nothing else is passed on (the
        cockpit opens no URLs and delivers no files through the page)."""
        meta = json.loads(data)
        kind = meta.get("type") if isinstance(meta, dict) else None
        if kind == "exit":
            await self.remote_close()
        elif kind == NOTIFY:
            note = {"title": str(meta.get("title", ""))[:200], "body": str(meta.get("body", ""))[:200]}
            with contextlib.suppress(ConnectionError, RuntimeError):
                await self.remote_write_str(json.dumps([NOTIFY, note]))

    async def stop(self) -> None:
        """Ask the app to quit; terminate it after :data:`APP_QUIT_GRACE_S`, kill it two seconds later.
        Returns once the process is gone (and reaped)."""
        process, task = self._process, self._task
        if process is None:
            return
        if process.returncode is None:
            await self.send_meta({"type": "quit"})
        for signum, wait in ((None, APP_QUIT_GRACE_S), (signal.SIGTERM, 2.0), (signal.SIGKILL, 10.0)):
            if signum is not None and process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(signum)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait(), wait)
            if process.returncode is not None:
                break
        if task is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(task, 5.0)  # ends at the end of the app's output
            self._task = None


@dataclass(eq=False)
class Session:
    service: CockpitAppService
    websocket: web.WebSocketResponse
    peer: str


@dataclass(eq=False)
class Server:
    """The web side: routes, sessions, and stopping everything it started."""

    repo: Path
    access: Access
    sessions: set[Session] = field(default_factory=set)
    stopping: bool = False

    def application(self) -> web.Application:
        app = web.Application(middlewares=[guard(self.access)], client_max_size=64 * 1024)
        app.add_routes(
            [
                web.get("/", self.page, allow_head=False),
                web.get("/ws", self.websocket, allow_head=False),
                web.get("/static/{name:.+}", self.static, allow_head=False),
            ]
        )
        return app

    async def page(self, request: web.Request) -> web.StreamResponse:
        if self.access.token_from_query(request):
            # The token goes into a cookie and out of the address bar (and of every Referer).
            response = web.HTTPSeeOther("/")
            response.set_cookie(
                self.access.cookie, self.access.token, httponly=True, samesite="Strict", path="/"
            )
            return response
        html = (WEB / "index.html").read_text(encoding="utf-8")
        ws_url = f"ws://{self.access.request_host(request)}/ws"
        html = html.replace("{{websocket_url}}", ws_url).replace("{{font_size}}", str(font_size(request)))
        return web.Response(text=html, content_type="text/html", headers=PAGE_HEADERS)

    async def static(self, request: web.Request) -> web.StreamResponse:
        path = STATIC.get(request.match_info["name"])
        if path is None:
            raise web.HTTPNotFound()
        return web.FileResponse(path, headers={"Cache-Control": "no-cache"})

    async def websocket(self, request: web.Request) -> web.StreamResponse:
        peer = request.remote or "?"
        if not self.access.origin_ok(request):
            say(f"refused a WebSocket from {peer}: its origin is not this cockpit's")
            raise web.HTTPForbidden(text="403: the WebSocket's origin is not this cockpit's page\n")
        if self.stopping or len(self.sessions) >= MAX_SESSIONS:
            raise web.HTTPServiceUnavailable(text=f"503: at most {MAX_SESSIONS} browser connections\n")
        width = clamp(request.query.get("width"), 80, 20, 1000)
        height = clamp(request.query.get("height"), 24, 5, 500)
        websocket = web.WebSocketResponse(heartbeat=15, max_msg_size=MAX_MESSAGE)
        service = CockpitAppService(
            app_argv(self.repo),
            write_bytes=websocket.send_bytes,
            write_str=websocket.send_str,
            close=websocket.close,
            download_manager=DownloadManager(),
        )
        session = Session(service, websocket, peer)
        self.sessions.add(session)  # the slot is taken before the first await
        try:
            await websocket.prepare(request)
            await service.start(width, height)
            if service._task is not None:  # the app ended by itself (quit, crash): the page is told
                service._task.add_done_callback(lambda _: asyncio.ensure_future(websocket.close()))
            say(f"browser connected from {peer}: cockpit pid {service.pid} ({len(self.sessions)} open)")
            await pump(websocket, service)
        finally:
            await service.stop()
            self.sessions.discard(session)
            with contextlib.suppress(Exception):
                await websocket.close()
            say(f"browser left ({peer}): cockpit pid {service.pid} ended ({len(self.sessions)} open)")
        return websocket

    async def stop_sessions(self) -> None:
        self.stopping = True
        sessions = list(self.sessions)
        await asyncio.gather(*(s.service.stop() for s in sessions), return_exceptions=True)
        for s in sessions:
            with contextlib.suppress(Exception):
                await s.websocket.close(code=1001, message=b"cockpit serve stopped")


PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "font-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    ),
}


def guard(access: Access) -> Callable[..., Awaitable[web.StreamResponse]]:
    """The middleware every request passes first: the token, then the Host."""

    @web.middleware
    async def check(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if not access.token_ok(request):
            say(f"refused {asked(request)}: no valid token")
            return web.Response(
                status=401, text="401: this cockpit needs the token `cockpit serve` printed\n"
            )
        if access.request_host(request) is None:
            say(f"refused {asked(request)}: not served as that host")
            return web.Response(status=403, text="403: not served under that host name\n")
        return await handler(request)

    return check


def clamp(value: str | None, default: int, low: int, high: int) -> int:
    try:
        return max(low, min(high, int(value or default)))
    except ValueError:
        return default


def font_size(request: web.Request) -> int:
    return clamp(request.query.get("fontsize"), 16, 8, 40)


async def pump(websocket: web.WebSocketResponse, service: CockpitAppService) -> None:
    """The page's messages to the app (textual-serve's protocol); anything malformed is dropped."""
    async for message in websocket:
        if message.type != WSMsgType.TEXT:
            continue
        try:
            envelope = json.loads(message.data)
        except ValueError:
            continue
        if not isinstance(envelope, list) or not envelope:
            continue
        kind, data = envelope[0], envelope[1] if len(envelope) > 1 else None
        if kind == "stdin" and isinstance(data, str):
            await service.send_bytes(data.encode("utf-8"))
        elif kind == "resize" and isinstance(data, dict):
            width, height = data.get("width"), data.get("height")
            if isinstance(width, int) and isinstance(height, int) and 0 < width <= 1000 and 0 < height <= 500:
                await service.set_terminal_size(width, height)
        elif kind == "ping" and isinstance(data, str):
            await websocket.send_json(["pong", data[:32]])
        elif kind == "blur":
            await service.blur()
        elif kind == "focus":
            await service.focus()


# ---- the supervisor serve starts when none holds the board ------------------------------------


@dataclass
class StartedSupervisor:
    process: asyncio.subprocess.Process
    stopping: bool = False
    watcher: asyncio.Future[None] | None = None

    @classmethod
    async def start(cls, repo: Path, board: Blackboard) -> StartedSupervisor | None:
        """``cockpit run`` over the board, detached from the browser connections (a session of its own;
        killed by the kernel if serve dies). None when another supervisor took the board first."""
        env = {k: v for k, v in os.environ.items() if k != TOKEN_ENV}
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "cockpit.cli.main",
            "--repo",
            str(repo),
            "run",
            stdin=asyncio.subprocess.DEVNULL,
            env=env,
            start_new_session=True,
            preexec_fn=die_with_parent(os.getpid()),
        )
        deadline = time.monotonic() + SUPERVISOR_START_S
        while time.monotonic() < deadline:
            if board.supervisor_pid() == process.pid:
                return cls(process)
            if process.returncode is not None:
                return None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait(), 0.05)
        await cls(process).stop()
        raise ServeError(
            f"the supervisor serve started did not take the board within {SUPERVISOR_START_S:.0f}s"
        )

    def watch(self) -> None:
        """Say so, loudly, if the supervisor ends before serve stops it (the viewers' commands then wait
        in the inbox for a supervisor: a terminal cockpit or a ``cockpit run`` takes them)."""

        async def watched() -> None:
            code = await self.process.wait()
            if not self.stopping:
                print(
                    f"cockpit serve: WARNING: the supervisor serve started (pid {self.process.pid}) ended "
                    f"with {code}; the board has none until a `cockpit` or `cockpit run` takes it",
                    file=sys.stderr,
                    flush=True,
                )

        self.watcher = asyncio.ensure_future(watched())

    async def stop(self) -> None:
        self.stopping = True
        process = self.process
        for signum, wait in ((signal.SIGTERM, SUPERVISOR_STOP_GRACE_S), (signal.SIGKILL, 10.0)):
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(signum)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait(), wait)
            if process.returncode is not None:
                return


# ---- start and stop ---------------------------------------------------------------------------


def exposure_warning(host: str, port: int) -> str | None:
    """What serve says, loudly, when it listens beyond loopback (None on loopback)."""
    if host not in WILDCARDS and is_loopback(host):
        return None
    return (
        f"cockpit serve: WARNING: listening on {host or '*'} port {port}, not loopback only: anyone who can "
        "reach this machine there and has the token drives a cockpit that runs coding agents here, over "
        "plain HTTP (the token crosses the network unencrypted)"
    )


def serve_token() -> str:
    given = os.environ.get(TOKEN_ENV)
    if given is None:
        return secrets.token_urlsafe(32)
    if not TOKEN_RE.fullmatch(given):
        raise ServeError(f"{TOKEN_ENV}: 16 to 256 characters of A-Z a-z 0-9 . _ ~ -")
    return given


def bind(host: str, port: int) -> socket.socket:
    try:
        family, kind, proto, _name, address = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(64)
    except OSError as exc:
        raise ServeError(f"--host {host} --port {port}: {exc.strerror or exc}") from exc
    sock.setblocking(False)
    return sock


def serve(repo: Path, host: str, port: int) -> int:
    """Run until SIGINT or SIGTERM; then every app process ends, and the supervisor serve started."""
    # `cockpit` dies quietly on a closed pipe (`cockpit log X | head`); a server must not: writing to
    # a cockpit process that has just ended is an error to handle, not the end of serve.
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    board = Blackboard(repo)
    board.init()
    token = serve_token()
    if not 0 <= port <= 65535:
        raise ServeError(f"--port {port}: 0 to 65535")
    sock = bind(host, port)
    return asyncio.run(_serve(board, host, sock, token))


async def _serve(board: Blackboard, host: str, sock: socket.socket, token: str) -> int:
    port = sock.getsockname()[1]
    access = Access.for_bind(token, host, port)
    server = Server(board.repo, access)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    supervisor: StartedSupervisor | None = None
    runner: web.AppRunner | None = None
    site: web.SockSite | None = None
    try:
        if board.supervisor_pid() is None:
            supervisor = await StartedSupervisor.start(board.repo, board)
        if supervisor is not None:
            say(
                f"no supervisor held the board: started one (`cockpit run`, pid {supervisor.process.pid}); "
                "it stops with serve"
            )
            supervisor.watch()
        else:
            say(
                f"the board's supervisor is pid {board.supervisor_pid()}: every browser cockpit is its viewer"
            )
        runner = web.AppRunner(server.application(), access_log=None, handle_signals=False)
        await runner.setup()
        site = web.SockSite(runner, sock, shutdown_timeout=APP_QUIT_GRACE_S + 5)
        await site.start()
        warning = exposure_warning(host, port)
        if warning is not None:
            print(warning, file=sys.stderr, flush=True)
        shown = "127.0.0.1" if host in WILDCARDS else host
        url = f"http://{host_port(shown, port)}/?token={quote(token, safe='')}"
        print(f"cockpit serve: {url}", flush=True)  # the one place the token is shown
        say(f"serving {board.repo}; stop with Ctrl+C")
        await stop.wait()
    finally:
        say("stopping: ending every browser cockpit")
        if site is not None:
            await site.stop()
        count = len(server.sessions)
        await server.stop_sessions()
        if runner is not None:
            await runner.cleanup()
        if supervisor is not None:
            say("stopping the supervisor serve started")
            await supervisor.stop()
        say(f"stopped ({count} browser cockpit{'s' * (count != 1)} ended)")
    return 0
