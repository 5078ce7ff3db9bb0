"""What every phase of the supervisor shares: its tunables, the :class:`Running` record of a followed
attempt, and small helpers for processes and files. The phases (inbox, housekeeping, dispatch, launch,
follow, finalise, recovery) are mixins of :class:`~cockpit.core.supervisor.loop.Supervisor`: they work on
its one state (the tables of actionable and running tasks, the stores) on its one loop, each in a module
of its own."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from cockpit.core.atomic import private_opener
from cockpit.core.attempts.reducer import AttemptReducer
from cockpit.core.attempts.tailer import EventTailer
from cockpit.core.layout import CONFIG_FILE, PID_FILE, RUNNER_LOG_FILE, SPEC_FILE
from cockpit.core.processes import kill_group, runs
from cockpit.core.records.attempt import Attempt
from cockpit.core.records.task import TaskState


def codex_home_of(env: dict[str, str]) -> Path:
    """The ``CODEX_HOME`` the workers use: the supervisor's env additions, the environment, ``~/.codex``."""
    value = env.get("CODEX_HOME") or os.environ.get("CODEX_HOME")
    return Path(value).expanduser() if value else Path.home() / ".codex"


def provider_of(codex_home: Path, configured: str | None) -> str:
    """The model provider the breaker is keyed on: the project config, Codex's config, or ``openai``."""
    if configured:
        return configured
    try:
        data = tomllib.loads((codex_home / CONFIG_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return "openai"
    return str(data.get("model_provider") or "openai")


@dataclass
class Running:
    """A live attempt as the supervisor follows it."""

    state: TaskState
    attempt: Attempt
    directory: Path
    tailer: EventTailer
    reducer: AttemptReducer = field(default_factory=AttemptReducer)
    popen: subprocess.Popen[bytes] | None = None
    last_persist: float = 0.0
    last_activity: float = 0.0
    watchdog_notified: bool = False
    watchdog_fired: bool = False
    todo_done: int = -1
    runner_gone_at: float | None = None
    finalised: set[str] = field(default_factory=set)  # finalise's steps done (a full disk may cut it)
    diff_written: int = 0  # the reducer's turn-diff version last written to ``turn.diff``

    @property
    def task_id(self) -> str:
        return self.state.id


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:  # called from a thread that runs no event loop
        return None


def _to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


# The attempt runners, as a live runner's command line names them. The last two are the names runners
# started by a cockpit before the core had subpackages still carry: such a runner is adopted, not lost.
RUNNER_MODULES = (
    b"cockpit.core.attempts.exec_runner",
    b"cockpit.core.attempts.app_server_runner",
    b"cockpit.core.attempts.cloud_submit",
    b"cockpit.core.attempts.review_runner",
    b"cockpit.core.runner",  # old module name
    b"cockpit.core.mcp_runner",  # old module name
)


def spawn_runner(module: str, directory: Path) -> subprocess.Popen[bytes]:
    """Start a detached runner (``python -P -m MODULE <directory>/spec.json``) in a session of its own,
    its output into the attempt's ``runner.log``. ``-P``: a runner runs outside the sandbox, so the
    worker's directory (where it could plant modules) never goes on its ``sys.path``; it starts in the
    attempt's own directory."""
    with open(directory / RUNNER_LOG_FILE, "ab", opener=private_opener) as runner_log:
        return subprocess.Popen(
            [sys.executable, "-P", "-m", module, str(directory / SPEC_FILE)],
            cwd=str(directory),
            stdin=subprocess.DEVNULL,
            stdout=runner_log,
            stderr=runner_log,
            start_new_session=True,
            close_fds=True,
        )


def _pid_alive(pid: int | None) -> bool:
    """True while ``pid`` is a live (non-zombie) attempt runner; a recycled pid does not count."""
    return runs(pid, *RUNNER_MODULES)


def _kill_attempt(directory: Path, runner_pid: int | None) -> None:
    """Kill a runner's and its Codex's process groups (used only when the runner failed its job)."""

    groups = set()
    if runner_pid:
        groups.add(runner_pid)
    try:
        info = json.loads((directory / PID_FILE).read_text())
        groups.add(int(info["codex_pgid"]))
    except (OSError, ValueError, KeyError, TypeError):
        pass
    for pgid in groups:
        kill_group(pgid, signal.SIGKILL)
