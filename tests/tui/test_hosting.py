"""The cockpit hosting the supervisor: the supervisor's passes run on an event loop of its own in a thread
of its own, never on the UI's; its notices reach the UI as notifications; ``q`` ends the app at once
with a worker running, and the worker keeps running for the next supervisor to re-attach to; so does a
``kill -9`` of the whole cockpit process."""

from __future__ import annotations

import asyncio
import errno
import os
import pty
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from cockpit.core.board.blackboard import Blackboard
from cockpit.core.commands import submit
from cockpit.core.envelope.model import envelope_from_mapping
from cockpit.core.records.basics import TaskStatus
from cockpit.core.supervisor import loop as supervisor_module
from cockpit.core.supervisor.loop import Supervisor
from cockpit.demo.scripted_model import ScriptedModel
from cockpit.tui.app import CockpitApp
from tests.helpers.pilot import until
from tests.helpers.scripted_steps import say, scenario
from tests.helpers.supervisor import SupervisorThread, any_processes, codex_processes

pytestmark = pytest.mark.codex

COCKPIT = Path(sys.executable).parent / "cockpit"


def held_task(board: Blackboard, scripted_model: ScriptedModel, name: str) -> str:
    """A local-lane task whose model reply waits for the gate ``name``: its worker stays live."""
    scripted_model.add_scenario(scenario(name, say(f"COMPLETED: {name} done", gate=name)))
    return submit(
        board, envelope_from_mapping({"goal": f"Do the {name} job", "title": name, "lane": "local"})
    )


def record_pass_threads(monkeypatch: pytest.MonkeyPatch) -> set[int]:
    """The threads the supervisor's passes run on, noted by a wrapper around its guarded pass."""
    threads: set[int] = set()
    step = Supervisor.guarded_step

    def noted(self: Supervisor) -> None:
        threads.add(threading.get_ident())
        step(self)

    monkeypatch.setattr(Supervisor, "guarded_step", noted)
    return threads


def finish_with_a_new_supervisor(board: Blackboard, env: dict[str, str], task_id: str) -> None:
    """A headless supervisor re-attaches to the attempt left running and finalises it."""
    SupervisorThread(board, env, until_idle=True).start().join(timeout=120)
    state = board.read_state(task_id)
    assert state is not None and state.status == TaskStatus.SUCCEEDED, state
    assert len(state.attempts) == 1  # the same attempt, followed to its end: not started again
    reattached = [e for e in board.read_jsonl("events.jsonl") if e["kind"] == "reattached"]
    assert [e["task_id"] for e in reattached] == [task_id]
    assert any_processes(str(board.root)) == []


async def test_the_supervisor_runs_off_the_ui_thread_and_q_leaves_its_worker_running(
    repo: Path, scripted_model: ScriptedModel, cockpit_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    board = Blackboard(repo)
    task_id = held_task(board, scripted_model, "hosted-job")
    pass_threads = record_pass_threads(monkeypatch)
    app = CockpitApp(repo, env=cockpit_env)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: scripted_model.in_flight == 1, what="a live worker")
            workers = codex_processes(str(board.root))
            assert len(workers) == 1
            thread = app.supervisor_thread
            assert thread is not None and thread.is_alive()
            assert pass_threads and threading.get_ident() not in pass_threads  # the UI's thread: none
            assert pass_threads == {thread.ident}
            assert board.supervisor_pid() == os.getpid()
            await pilot.press("q")
        # Quitting waited for the supervisor's pass, not for the worker: the lock is free, the worker
        # runs on, and the stop is on record.
        assert not thread.is_alive()
        assert board.supervisor_pid() is None
        assert codex_processes(str(board.root)) == workers
        stopped = [e for e in board.read_jsonl("events.jsonl") if e["kind"] == "supervisor_stopped"]
        assert stopped and stopped[-1]["running"] == [task_id]
    finally:
        scripted_model.open_gate("hosted-job")
    finish_with_a_new_supervisor(board, cockpit_env, task_id)


def test_a_stop_from_another_thread_wakes_the_supervisor_at_once(
    repo: Path, cockpit_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The UI's thread stops a supervisor whose loop sleeps between passes: the loop wakes for it, not
    at the end of its 5 s pause."""
    board = Blackboard(repo)
    (board.root / "config.toml").write_text("poll_interval_s = 5.0\n")
    first_pass = threading.Event()
    step = Supervisor.guarded_step

    def noted(self: Supervisor) -> None:
        step(self)
        first_pass.set()  # the loop goes on to sleep until the next pass

    monkeypatch.setattr(Supervisor, "guarded_step", noted)
    supervisor = Supervisor(board, env=cockpit_env)
    thread = threading.Thread(target=asyncio.run, args=(supervisor.run(),))
    thread.start()
    try:
        assert first_pass.wait(timeout=30)
        supervisor.stop()
        thread.join(timeout=4.0)
        assert not thread.is_alive()
    finally:
        supervisor.stop()
        thread.join()


async def test_a_notice_from_the_hosted_supervisor_reaches_the_ui(
    repo: Path, cockpit_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk (one refused write) is said by the supervisor from its own thread; the person sees
    it as a notification, then the one that says writes work again."""
    monkeypatch.setattr(supervisor_module, "DISK_FULL_RETRY_S", 0.2)
    noticed_on: list[int] = []
    accept_inbox = Supervisor.accept_inbox
    failures = [OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "inbox")]

    def accept_once_full(self: Supervisor) -> None:
        if failures:
            raise failures.pop()
        accept_inbox(self)

    supervisor_notice = CockpitApp._supervisor_notice

    def noted(self: CockpitApp, line: str) -> None:  # the callback the app hands its supervisor
        noticed_on.append(threading.get_ident())
        supervisor_notice(self, line)

    monkeypatch.setattr(Supervisor, "accept_inbox", accept_once_full)
    monkeypatch.setattr(CockpitApp, "_supervisor_notice", noted)
    app = CockpitApp(repo, env=cockpit_env)

    def said(text: str) -> bool:
        return any(text in str(n.message) and n.title == "supervisor" for n in app._notifications)

    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: said("no space left on device"), what="the disk-full notice")
        await until(pilot, lambda: said("the disk takes writes again"), what="the notice of space again")
        assert noticed_on and threading.get_ident() not in noticed_on
        await pilot.press("q")


async def test_a_killed_cockpit_leaves_its_worker_to_the_next_supervisor(
    repo: Path, scripted_model: ScriptedModel, cockpit_env: dict[str, str]
) -> None:
    """``kill -9`` of the full-screen cockpit (in a terminal of its own) while it hosts a live worker:
    the worker keeps running, the blackboard is free, and a new supervisor re-attaches to it."""
    board = Blackboard(repo)
    task_id = held_task(board, scripted_model, "killed-host-job")
    master, slave = pty.openpty()
    env = {**os.environ, **cockpit_env, "TERM": "xterm-256color"}
    app = subprocess.Popen(
        [str(COCKPIT), "--repo", str(repo)],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        start_new_session=True,
    )
    os.close(slave)
    drain = threading.Thread(target=_drain, args=(master,), daemon=True)  # the app never blocks on output
    drain.start()
    try:
        assert scripted_model.wait_for_in_flight(1, timeout=60)
        workers = codex_processes(str(board.root))
        assert len(workers) == 1 and board.supervisor_pid() == app.pid
        app.send_signal(signal.SIGKILL)
        app.wait(timeout=30)
        assert codex_processes(str(board.root)) == workers
        assert board.supervisor_pid() is None
    finally:
        if app.poll() is None:
            app.kill()
            app.wait(timeout=30)
        os.close(master)
        scripted_model.open_gate("killed-host-job")
    finish_with_a_new_supervisor(board, cockpit_env, task_id)


def _drain(fd: int) -> None:
    while True:
        try:
            if not os.read(fd, 1 << 16):
                return
        except OSError:  # the terminal's other side is gone
            return
