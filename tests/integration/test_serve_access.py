"""``cockpit serve``'s door, with a plain HTTP client (no browser needed): nothing without the token
(401, and no cockpit process starts), a wrong token is no token, the first visit trades the token for an
HttpOnly SameSite=Strict cookie, only the page's own files are served, a WebSocket from another origin or
under another host name is refused, the token is printed once and never handed to a cockpit process;
and serve says so when the supervisor it started dies."""

from __future__ import annotations

import asyncio
import http.client
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from cockpit.core.board.blackboard import Blackboard
from tests.helpers.browser import TOKEN, Served, alive, serve
from tests.helpers.cloud import wait_until


@pytest.fixture
def served(repo: Path) -> Iterator[Served]:
    """serve over a board whose lock this test holds (as a supervisor would): serve starts no
    supervisor, so every child of serve is a browser cockpit."""
    lock = Blackboard(repo).lock()
    lock.acquire()
    try:
        with serve(repo) as running:
            assert running.supervisor_pid is None
            yield running
    finally:
        lock.release()


def get(served: Served, path: str, headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", served.port, timeout=30)
    connection.request("GET", path, headers=headers or {})
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


UPGRADE = {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
           "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}  # fmt: skip


def cookie(served: Served, token: str = TOKEN) -> dict[str, str]:
    return {"Cookie": f"cockpit_serve_{served.port}={token}"}


def test_without_the_token_nothing_is_served_and_nothing_starts(served: Served) -> None:
    origin = {"Origin": served.base}
    for path, headers in (
        ("/", {}),
        ("/ws", {**UPGRADE, **origin}),
        ("/static/js/textual.js", {}),
        ("/static/", {}),
        ("/no/such/route", {}),
        ("/?token=wrong-token-0123456789", {}),
        ("/ws?token=wrong-token-0123456789", {**UPGRADE, **origin}),
        ("/", cookie(served, "wrong-token-0123456789")),
        ("/ws", {**UPGRADE, **origin, **cookie(served, "wrong-token-0123456789")}),
        ("/", {"Cookie": f"cockpit_serve_1={TOKEN}"}),  # another port's cookie is not this one's
        ("/%1b%5d52;c;cHduZWQ=%07%1b[2J", {}),  # a path written to put escape sequences in serve's output
    ):
        assert get(served, path, headers).status == 401, path
    assert served.apps() == []
    assert "refused GET /ws from 127.0.0.1: no valid token" in served.output
    wait_until(lambda: served.output.count(": no valid token") >= 11, 10, "every refusal said")
    assert "\x1b" not in served.output and "\x07" not in served.output


def test_the_first_visit_trades_the_token_for_a_strict_cookie(served: Served) -> None:
    first = get(served, f"/?token={TOKEN}")
    assert first.status == 303 and first.getheader("Location") == "/"
    set_cookie = first.getheader("Set-Cookie") or ""
    assert set_cookie.startswith(f"cockpit_serve_{served.port}={TOKEN};")
    assert "HttpOnly" in set_cookie and "SameSite=Strict" in set_cookie and "Path=/" in set_cookie
    page = get(served, "/", cookie(served))
    assert page.status == 200
    assert "frame-ancestors 'none'" in (page.getheader("Content-Security-Policy") or "")
    assert page.getheader("Referrer-Policy") == "no-referrer"
    for path in ("/static/js/textual.js", "/static/css/xterm.css", "/static/cockpit.js"):
        assert get(served, path, cookie(served)).status == 200, path
    for path in ("/static/", "/static/js/", "/static/images/background.png", "/static/../serve.py",
                 "/download/anything", "/favicon.ico"):  # fmt: skip
        assert get(served, path, cookie(served)).status == 404, path
    assert get(served, "/", {**cookie(served), "Host": f"rebound.example:{served.port}"}).status == 403
    assert served.apps() == []


def test_a_websocket_from_elsewhere_is_refused(served: Served) -> None:
    other_host = f"rebound.example:{served.port}"
    for origin, host in (
        ("http://evil.example", None),
        (f"http://127.0.0.1:{served.port + 1}", None),  # this machine, another port
        (None, None),  # no Origin at all
        (served.base, other_host),  # the cockpit's origin, another Host
        (f"http://{other_host}", other_host),  # a rebound name, self-consistent
    ):
        headers = {**UPGRADE, **cookie(served)}
        if origin is not None:
            headers["Origin"] = origin
        if host is not None:
            headers["Host"] = host
        assert get(served, "/ws?width=100&height=30", headers).status == 403, (origin, host)
    assert served.apps() == []


def served_app_pid(served: Served) -> int | None:
    """The one browser cockpit, once it runs the served app (a child reads as serve until its exec)."""
    pids = served.apps()
    if len(pids) != 1:
        return None
    with open(f"/proc/{pids[0]}/cmdline", "rb") as fh:
        argv = fh.read().split(b"\0")
    return pids[0] if argv[1:3] == [b"-m", b"cockpit.cli.served_app"] else None


def test_a_websocket_of_the_page_runs_one_cockpit_without_the_token(served: Served) -> None:
    async def connect_and_leave() -> tuple[int, bytes]:
        async with (
            aiohttp.ClientSession(headers=cookie(served)) as session,
            session.ws_connect(f"{served.base}/ws?width=100&height=30", origin=served.base) as socket,
        ):
            pid = await asyncio.to_thread(wait_until, lambda: served_app_pid(served), 60, "the cockpit")
            with open(f"/proc/{pid}/environ", "rb") as fh:
                environ = fh.read()
            await socket.close()
        return pid, environ

    pid, environ = asyncio.run(connect_and_leave())
    assert b"COCKPIT_SERVE_TOKEN" not in environ and TOKEN.encode() not in environ
    wait_until(lambda: not alive(pid) or None, 30, "the cockpit of the closed socket gone")
    assert served.stop() == 0
    assert served.output.count(TOKEN) == 1  # printed once, in the URL; refusals never echo it


def test_serve_says_loudly_when_the_supervisor_it_started_dies(repo: Path) -> None:
    with serve(repo) as running:
        assert running.supervisor_pid is not None
        os.kill(running.supervisor_pid, signal.SIGKILL)
        running.wait_output(r"WARNING: the supervisor serve started \(pid \d+\) ended with -9")
        assert Blackboard(repo).supervisor_pid() is None
        assert running.stop() == 0
