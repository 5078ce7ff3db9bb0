"""The demo's Codex Cloud: the project's fake backend (:mod:`cockpit.demo.fake_cloud`) started for one
demo, the demo board's ``[cloud]`` config pointing the real ``codex cloud`` at it, and the demo's cloud
task.

:func:`demo_cloud` starts ``python -m cockpit.demo.fake_cloud`` with its state directory inside the
demo's own temporary directory, writes a throw-away cloud ``CODEX_HOME`` (dummy credentials, from
:func:`~cockpit.demo.fake_cloud.write_cloud_codex_home`) beside it, and writes the board's
``config.toml``: ``[cloud] env = "fake/repo"`` and a ``[cloud.extra_env]`` table with the fake's proxy,
its test CA and that ``CODEX_HOME``. The cockpit adds ``extra_env`` to the environment of its
``codex cloud`` processes only, and takes it from a board's config only once the file is trusted, so the
demo trusts the file it wrote (and withdraws the trust when it ends: the fake is gone by then). Nothing
of this reaches ``os.environ`` (the fake's safety rule).

The fake is stopped when the demo ends (SIGTERM, then SIGKILL if it lingers); it also stops by itself
when the demo's process dies, because it reads the demo's end of a pipe (``--stop-on-stdin-eof``).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from cockpit.core import CONFIG_FILE, Blackboard, revoke_trust, trust_file
from cockpit.demo.fake_cloud import PORT_FILE_NAME, child_env, write_cloud_codex_home

DEMO_CLOUD_ENV = "fake/repo"  # the fake's one environment (its label)
DEMO_POLL_MIN_S = 1.0  # the demo's task is ready in seconds: poll it often
START_TIMEOUT_S = 30.0  # the first start of a state directory also makes its certificates
STOP_TIMEOUT_S = 5.0
LOG_FILE = "fake-cloud.log"

# Best of two, ready after a few seconds ([fake:delay=3] is read by the fake from the prompt), so the
# cloud pane shows it pending, then waiting for review.
CLOUD_DEMO_TASK = {
    "goal": "Add a greeting file to the repository [fake:delay=3]",
    "title": "Add a greeting file",
    "lane": "cloud",
    "attempts": 2,
}


class DemoCloudError(RuntimeError):
    """The fake cloud could not be started (the demo then goes on without the cloud lane)."""


@dataclass
class DemoCloud:
    """A running fake cloud for one demo: its process, state directory and the ``codex cloud``
    environment additions that point at it."""

    process: subprocess.Popen[bytes]
    state_dir: Path
    codex_home: Path
    port: int
    config: Path | None = None  # the board config written and trusted for it

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def extra_env(self) -> dict[str, str]:
        """The fake's proxy, test CA and the throw-away ``CODEX_HOME``: only these, nothing of this
        process's own environment."""
        return child_env(self.state_dir, self.codex_home, {})

    def configure(self, board: Blackboard) -> Path:
        """Add the board's ``[cloud]`` config for the fake to its config file, then trust the file;
        returns it."""
        lines = [
            "# The demo's cloud lane: the project's fake Codex Cloud backend on loopback.",
            "[cloud]",
            f"env = {json.dumps(DEMO_CLOUD_ENV)}",
            f"poll_min_s = {DEMO_POLL_MIN_S}",
            "",
            "[cloud.extra_env]",
            *(f"{key} = {json.dumps(value)}" for key, value in sorted(self.extra_env().items())),
        ]
        path = board.root / CONFIG_FILE
        before = path.read_text(encoding="utf-8") if path.exists() else ""
        path.write_text(before + "\n".join(lines) + "\n", encoding="utf-8")
        trust_file(path)
        self.config = path
        return path

    def stop(self) -> int | None:
        """Stop the fake and wait for it; withdraw the trust given to the demo's config."""
        if self.config is not None:
            with contextlib.suppress(OSError):
                revoke_trust(self.config)
            self.config = None
        return _stop(self.process)


def fake_cloud_argv(state: Path) -> list[str]:
    """The fake's command line: this Python, state in ``state``, stopping when the demo's pipe closes."""
    return [sys.executable, "-m", "cockpit.demo.fake_cloud", "--state", str(state), "--stop-on-stdin-eof"]


def start_demo_cloud(workdir: Path) -> DemoCloud:
    """Start the fake on ``workdir/fake-cloud`` with a throw-away cloud ``CODEX_HOME`` beside it."""
    state = workdir / "fake-cloud"
    state.mkdir(parents=True, exist_ok=True)
    codex_home = write_cloud_codex_home(workdir / "cloud-codex-home")
    port_file = state / PORT_FILE_NAME
    port_file.unlink(missing_ok=True)
    argv = fake_cloud_argv(state)
    try:
        with open(state / LOG_FILE, "ab") as log:
            process = subprocess.Popen(
                argv, stdin=subprocess.PIPE, stdout=log, stderr=log, cwd=workdir, start_new_session=True
            )
    except OSError as exc:
        raise DemoCloudError(f"could not start the fake cloud: {exc}") from exc
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if process.poll() is not None:
            raise DemoCloudError(
                f"the fake cloud exited {process.returncode}: {_tail(state / LOG_FILE) or 'no output'}"
            )
        with contextlib.suppress(OSError, ValueError):
            port = int(port_file.read_text(encoding="utf-8").strip())
            return DemoCloud(process, state, codex_home, port)
        if time.monotonic() > deadline:
            _stop(process)
            raise DemoCloudError(f"the fake cloud did not listen within {START_TIMEOUT_S:.0f}s")
        time.sleep(0.05)


@contextlib.contextmanager
def demo_cloud(
    workdir: Path, board: Blackboard, unavailable: Callable[[str], None]
) -> Iterator[DemoCloud | None]:
    """The fake started and the board configured for it; stopped (and the trust withdrawn) on exit.
    When the fake cannot start (no ``openssl`` for its test CA, say), ``unavailable`` is told why and
    None is yielded: the demo goes on without the cloud lane."""
    try:
        cloud = start_demo_cloud(workdir)
    except DemoCloudError as exc:
        unavailable(str(exc))
        yield None
        return
    try:
        cloud.configure(board)
        yield cloud
    finally:
        cloud.stop()


def _stop(process: subprocess.Popen[bytes]) -> int | None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
    if process.stdin is not None:
        with contextlib.suppress(OSError):
            process.stdin.close()
    try:
        return process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # its own session: nothing else is in that group
        return process.wait()


def _tail(path: Path, limit: int = 300) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return ""
    return " ".join(text[-limit:].split())
