"""``cockpit serve`` in a real headless Chromium: the page shows the cockpit, a decision card is
answered, a reviewed diff merged and another rejected by keys in the browser (the board's supervisor
applies them), the palette and a task's view open by keys, the browser is asked for a notification
when the card arrives, a closed tab ends its cockpit process, stopping serve ends every cockpit and
the supervisor it started; without the token (or with a wrong one) the browser gets 401 and no
cockpit starts, and a page of another origin (one the browser sends the cookie to) cannot open the
cockpit's WebSocket. A diff is sent back with feedback typed in the browser (the command waits in the
inbox while the board's lock is held, and is applied once it is let go), and a running task's view shows
the lines its Codex log gains while the page is open."""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from cockpit.core.board.blackboard import Blackboard
from cockpit.core.board.decisions import DecisionStore
from cockpit.core.records.attempt import Attempt
from cockpit.core.records.basics import TaskStatus
from cockpit.core.records.task import TaskState
from tests.helpers.browser import (
    alive,
    chromium,
    needs_chromium,
    notifications,
    open_cockpit,
    serve,
    wait_screen,
)
from tests.helpers.cloud import wait_until
from tests.helpers.review import make_review_task
from tests.helpers.showcase import (
    RECORDED_LOG,
    REVIEW,
    RUNNING,
    WAITING,
    add_review_task,
    gate_state,
    open_gate_card,
)
from tests.helpers.supervisor import SupervisorThread

pytestmark = [needs_chromium, pytest.mark.browser]


SECOND = "add-a-readme-line-5e2a"


def gate_and_reviews(repo: Path) -> Blackboard:
    """A task at a human gate with its decision card (open now), and two worktree tasks in review."""
    board = Blackboard(repo)
    board.write_state(gate_state())
    card = open_gate_card(board, datetime.now(UTC))
    board.write_state(gate_state().model_copy(update={"decision_id": card.id}))
    add_review_task(board)
    make_review_task(board, SECOND, {"README.md": "# demo\n\nOne more line.\n"}, title="Add a README line")
    return board


def test_a_decision_and_a_merge_from_the_browser(repo: Path, cockpit_env: dict[str, str]) -> None:
    board = gate_and_reviews(repo)
    supervisor = SupervisorThread(board, cockpit_env).start()
    assert supervisor.wait_for(lambda: board.supervisor_pid() is not None)
    try:
        with serve(repo) as served, chromium() as browser:
            assert served.supervisor_pid is None  # the test's supervisor holds the board
            assert "every browser cockpit is its viewer" in served.output
            page = open_cockpit(browser, served.url)
            assert page.url == f"{served.base}/"  # the token went into a cookie, out of the address bar
            # the lanes, then the card's modal (a viewer opens it too), and the browser is notified
            wait_screen(page, r"worktree · 3", r"\[viewer\]")
            wait_screen(page, r"decision-001", r"\[B\] Park as a dead letter")
            wait_until(
                lambda: any("decision-001" in str(n["body"]) for n in notifications(page)) or None,
                30,
                "a browser notification for the card",
            )
            (app,) = served.wait_apps(1)

            page.keyboard.press("b")  # park the gated task as a dead letter
            state = supervisor.wait_status(WAITING, TaskStatus.DEAD_LETTER.value)
            card = DecisionStore(board.root, lambda: datetime.now(UTC)).get("decision-001")
            assert card is not None and card.resolved is not None
            assert (card.resolved.option, card.resolved.by) == ("B", "human")
            assert "you chose B" in (state.message or "")

            wait_screen(page, r"v Review diff", absent=(r"\[B\] Park",))  # the modal closed
            page.keyboard.press("F2")  # the palette, by its browser key; typed into
            wait_screen(page, r"Search for commands", r"Cockpit: Review diff")
            page.keyboard.type("breakers")
            wait_screen(page, r"Cockpit: Breakers", absent=(r"Cockpit: Review diff",))
            page.keyboard.press("Escape")
            wait_screen(page, r"worktree · 3", absent=(r"Cockpit: ",))  # the palette closed
            page.keyboard.press("Tab")  # the worktree lane; its first task's view
            page.keyboard.press("Enter")
            wait_screen(page, r"attempt \d", r"Prev attempt")
            page.keyboard.press("Escape")
            wait_screen(page, r"worktree · 3", absent=(r"Prev attempt",))

            page.keyboard.press("v")  # the next diff waiting for review
            wait_screen(page, rf"review {REVIEW}", r"calc\.py")
            page.keyboard.press("a")  # approve and merge
            supervisor.wait_status(REVIEW, TaskStatus.MERGED.value)
            assert "def subtract" in (repo / "calc.py").read_text()
            wait_screen(page, r"reviews 1", absent=(rf"review {REVIEW}",))
            page.keyboard.press("v")  # the other one: rejected
            wait_screen(page, rf"review {SECOND}", r"README\.md")
            page.keyboard.press("x")
            supervisor.wait_status(SECOND, TaskStatus.REJECTED.value)
            assert "One more line" not in (repo / "README.md").read_text()
            wait_screen(page, r"decisions 0", r"reviews 0")  # the header, from the board

            page.context.close()  # the tab closes: its cockpit process ends
            wait_until(lambda: not alive(app) or None, 30, "the closed tab's cockpit gone")
            assert served.apps() == []
            assert served.stop() == 0
    finally:
        supervisor.stop()


def test_serve_supervises_when_nobody_does_and_stops_everything(repo: Path) -> None:
    board = Blackboard(repo)
    with serve(repo) as served, chromium() as browser:
        assert served.supervisor_pid is not None
        assert board.supervisor_pid() == served.supervisor_pid
        first = open_cockpit(browser, served.url)
        second = open_cockpit(browser, served.url)
        for page in (first, second):
            wait_screen(page, r"local · 0", r"\[viewer\]")
        one, two = sorted(served.wait_apps(2))
        first.context.close()
        served.wait_output(r"browser left \(127\.0\.0\.1\): cockpit pid \d+ ended \(1 open\)")
        (left,) = served.apps()
        assert alive(left)
        assert served.stop(signal.SIGINT) == 0  # Ctrl+C
        out = served.output
    for pid in (one, two, served.supervisor_pid):
        assert not alive(pid), f"pid {pid} outlived serve"
    assert board.supervisor_pid() is None
    assert "stopping the supervisor serve started" in out
    assert "stopped (1 browser cockpit ended)" in out
    assert out.count("test-token-") == 1  # the token shown once, in the URL


class AnotherSite(BaseHTTPRequestHandler):
    """A page on another port of this machine that tries the cockpit's WebSocket (the browser sends the
    cockpit's cookie along: ports do not separate cookies)."""

    target = ""

    def do_GET(self) -> None:
        script = (
            f"const ws = new WebSocket({json.dumps(self.target)});"
            "ws.onopen = () => { document.title = 'opened'; };"
            "ws.onclose = () => { if (document.title !== 'opened') document.title = 'refused'; };"
        )
        body = f"<!DOCTYPE html><title>trying</title><script>{script}</script>".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def another_site() -> Iterator[tuple[ThreadingHTTPServer, type[AnotherSite]]]:
    handler = type("Handler", (AnotherSite,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server, handler
    finally:
        server.shutdown()
        server.server_close()


def test_no_token_no_cockpit_and_another_origin_cannot_open_the_socket(repo: Path, another_site) -> None:
    site, handler = another_site
    lock = Blackboard(repo).lock()
    lock.acquire()  # a supervisor holds the board: serve starts none, so its children are cockpits
    try:
        with serve(repo) as served, chromium() as browser:
            stranger = browser.new_context().new_page()  # no token, then a wrong one: nothing starts
            for url in (f"{served.base}/", f"{served.base}/?token=not-the-token-0123456789"):
                response = stranger.goto(url)
                assert response is not None and response.status == 401, url
            assert "needs the token" in stranger.inner_text("body")
            assert served.apps() == []
            stranger.context.close()
            page = open_cockpit(browser, served.url)  # the browser now holds the cookie
            wait_screen(page, r"local · 0")
            served.wait_apps(1)
            handler.target = f"ws://127.0.0.1:{served.port}/ws"
            attack = page.context.new_page()
            attack.goto(f"http://127.0.0.1:{site.server_address[1]}/")
            attack.wait_for_function("() => document.title !== 'trying'")
            assert attack.title() == "refused"
            served.wait_output(r"refused a WebSocket from 127\.0\.0\.1: its origin is not this cockpit's")
            assert len(served.apps()) == 1  # only the real tab's cockpit
    finally:
        lock.release()


def test_a_diff_sent_back_with_feedback_from_the_browser(repo: Path) -> None:
    board = Blackboard(repo)
    add_review_task(board)
    lock = board.lock()
    lock.acquire()  # the board's supervisor, as far as the cockpit knows: its command waits in the inbox
    try:
        with serve(repo) as served, chromium() as browser:
            assert served.supervisor_pid is None
            page = open_cockpit(browser, served.url)
            wait_screen(page, r"worktree · 1", r"reviews 1")
            page.keyboard.press("v")
            wait_screen(page, rf"review {REVIEW}", r"calc\.py")
            page.keyboard.press("f")  # send back: the one-line feedback box
            wait_screen(page, r"Feedback for the worker \(Enter sends the task back\)")
            page.keyboard.type("also cover subtract(0, 0)")
            wait_screen(page, r"also cover subtract\(0, 0\)")
            page.keyboard.press("Enter")
            (request,) = wait_until(
                lambda: [i for i in board.inbox() if i.kind == "revise"] or None,
                30,
                "the revise in the inbox",
            )
            assert request.data["task_id"] == REVIEW
            assert request.data["feedback"] == "also cover subtract(0, 0)"
            state = board.read_state(REVIEW)
            assert state is not None and state.status == TaskStatus.REVIEW  # not applied while it waits

            lock.release()  # the holder lets go without taking it: the cockpit withdraws it, runs it itself
            wait_until(lambda: board.inbox() == [] or None, 30, "the request withdrawn")
            wait_until(
                lambda: getattr(board.read_state(REVIEW), "status", None) == TaskStatus.QUEUED or None,
                30,
                "the task sent back",
            )
            state = board.read_state(REVIEW)
            assert state is not None and state.pending_feedback == "also cover subtract(0, 0)"
            assert state.message == "sent back with feedback"
            wait_screen(page, r"reviews 0", absent=(rf"review {REVIEW}",))
            # the cockpit let the lock go once it had written the state, and no supervisor took the board:
            # the task waits in the queue, no attempt started
            wait_until(lambda: board.supervisor_pid() is None or None, 30, "the board's lock free")
            state = board.read_state(REVIEW)
            assert state is not None and state.status == TaskStatus.QUEUED and len(state.attempts) == 1
    finally:
        lock.release()  # a no-op once let go


def test_a_running_tasks_log_grows_on_the_page(repo: Path) -> None:
    board = Blackboard(repo)
    board.write_state(
        TaskState(
            id=RUNNING,
            lane="local",
            title="Create words.txt and count its lines",
            status=TaskStatus.RUNNING,
            attempts=[Attempt(n=1, started_at=datetime.now(UTC), deadline_s=1800)],
        )
    )
    lines = RECORDED_LOG.read_text().splitlines(keepends=True)
    events = board.attempt_dir(RUNNING, 1) / "events.jsonl"
    events.parent.mkdir(parents=True, exist_ok=True)
    events.write_text("".join(lines[:4]))  # thread and turn started, a reasoning note, a first message
    lock = board.lock()
    lock.acquire()  # a supervisor holds the board (serve starts none; the running task stays as it is)
    try:
        with serve(repo) as served, chromium() as browser:
            page = open_cockpit(browser, served.url)
            wait_screen(page, r"local · 1", r"Create words\.txt")
            page.keyboard.press("Enter")  # the running task's view, its live log
            wait_screen(
                page, r"Let me create and inspect words\.txt first", absent=(r"Verifying the result",)
            )
            with events.open("a") as log:  # the worker writes on
                log.write("".join(lines[4:14]))
            wait_screen(page, r"Patched\. Verifying the result\.", absent=(r"Both files look right",))
            with events.open("a") as log:
                log.write("".join(lines[14:]))
            wait_screen(page, r"Both files look right", r"COMPLETED: words\.txt tidied")
            state = board.read_state(RUNNING)
            assert state is not None and state.status == TaskStatus.RUNNING
    finally:
        lock.release()
