"""The fake Codex Cloud backend as a test sees it: a running ``python -m cockpit.demo.fake_cloud`` process
(:class:`FakeCloud`), and a rig of fake + throw-away ``HOME``, ``CODEX_HOME`` and git repository for
running the real ``codex cloud`` against it (:func:`cloud_rig`; the ``fake_cloud`` fixture in
``tests/conftest.py`` yields one).

The proxy and CA variables only ever reach a child's ``env=`` (:meth:`FakeCloud.env`), never
``os.environ``: see the safety rule in :mod:`cockpit.demo.fake_cloud`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from cockpit.demo.fake_cloud import PORT_FILE_NAME, child_env, write_cloud_codex_home
from cockpit.demo.fake_cloud.certs import cert_paths
from tests.helpers.processes import env_without, live_processes, wait_until

START_TIMEOUT = 20.0  # the first start of a state dir also makes its certificates
STOP_TIMEOUT = 5.0
CODEX_TIMEOUT = 30.0
T = TypeVar("T")


class ControlError(Exception):
    """A control-API call answered with an HTTP error."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body


class FakeCloud:
    """One fake cloud process on ``state_dir`` (started by :meth:`start` or ``with``)."""

    def __init__(self, state_dir: Path, *, delay: float = 0.0) -> None:
        self.state_dir = Path(state_dir)
        self.delay = delay
        self.process: subprocess.Popen[bytes] | None = None
        self._port: int | None = None
        # Plain HTTP to loopback: never through a proxy the host environment names.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    # -- process -------------------------------------------------------------------------------------

    @property
    def port_file(self) -> Path:
        return self.state_dir / PORT_FILE_NAME

    @property
    def log_file(self) -> Path:
        return self.state_dir / "fake-cloud.log"

    def start(self) -> FakeCloud:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.port_file.unlink(missing_ok=True)
        argv = [sys.executable, "-m", "cockpit.demo.fake_cloud", "--state", str(self.state_dir)]
        argv += ["--delay", str(self.delay), "--stop-on-stdin-eof"]  # a fake never outlives the test run
        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=log, stderr=log)
        process = self.process

        def port() -> int | None:
            if process.poll() is not None:
                raise AssertionError(f"the fake cloud exited {process.returncode}:\n{self.log_text()}")
            try:
                text = self.port_file.read_text(encoding="utf-8")
            except FileNotFoundError:
                return None
            return int(text) if text.strip() else None

        self._port = wait_until(port, START_TIMEOUT, "the fake cloud's port file")
        return self

    def log_text(self) -> str:
        try:
            return self.log_file.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self, timeout: float = STOP_TIMEOUT) -> int:
        """SIGTERM; the fake must exit 0 and remove its port file."""
        process = self.process
        if process is None:
            return 0
        self.process = None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        if process.stdin is not None:
            process.stdin.close()
        try:
            code = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise AssertionError(f"the fake cloud ignored SIGTERM for {timeout}s") from None
        assert code == 0, f"the fake cloud exited {code}:\n{self.log_text()}"
        assert not self.port_file.exists(), "the fake cloud left its port file behind"
        return code

    def __enter__(self) -> FakeCloud:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the fake cloud is not started")
        return self._port

    @property
    def url(self) -> str:
        """The plain-HTTP origin (control API, and the task API without TLS)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def ca_cert(self) -> Path:
        return cert_paths(self.state_dir).ca_cert

    # -- control API ---------------------------------------------------------------------------------

    def control(self, method: str, path: str, body: Any = None) -> Any:
        """One plain-HTTP call; ``path`` is relative to ``/__fake/`` unless it starts with ``/``.
        Returns the decoded JSON answer; an HTTP error raises :class:`ControlError`."""
        target = path if path.startswith("/") else f"/__fake/{path}"
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + target, data=data, method=method.upper())
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with self._opener.open(request, timeout=10) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            raise ControlError(exc.code, exc.read().decode("utf-8", "replace")) from None
        return json.loads(raw) if raw else None

    def requests(self) -> list[dict[str, Any]]:
        """The request log (every request since start or the last reset)."""
        return list(self.control("GET", "requests"))

    def task_requests(self) -> list[dict[str, Any]]:
        """Only the requests that came through a TLS tunnel (what Codex sent)."""
        return [r for r in self.requests() if r["via"] == "tunnel"]

    def state(self) -> dict[str, Any]:
        return dict(self.control("GET", "state"))

    def task(self, task_id: str) -> dict[str, Any]:
        for task in self.state()["tasks"]:
            if task["id"] == task_id:
                return dict(task)
        raise KeyError(task_id)

    def seed(self, prompt: str = "seeded task", **fields: Any) -> str:
        """Seed a task (fields of the control API: diff, attempts, status, error, messages,
        environment_id, task_id, title, branch, delay); returns its id."""
        return str(self.control("POST", "tasks", {"prompt": prompt, **fields})["id"])

    def update(self, task_id: str, **fields: Any) -> dict[str, Any]:
        """Change a task: status, diff, error, messages, title."""
        return dict(self.control("POST", f"tasks/{task_id}", fields))

    def fault(
        self,
        path_contains: str,
        status: int,
        body: Any = None,
        *,
        count: int = 1,
        method: str | None = None,
        content_type: str = "application/json",
    ) -> None:
        fault = {"path_contains": path_contains, "status": status, "body": body, "count": count}
        self.control("POST", "faults", {**fault, "method": method, "content_type": content_type})

    def set_environments(self, environments: list[dict[str, Any]]) -> None:
        self.control("POST", "environments", environments)

    def reset(self) -> None:
        self.control("POST", "reset", {})

    def env(
        self, codex_home: Path, base_env: Mapping[str, str] | None = None, *, access_token: str | None = None
    ) -> dict[str, str]:
        """The environment for a ``codex cloud`` child (``base_env`` defaults to this process's)."""
        base = os.environ if base_env is None else base_env
        return child_env(self.state_dir, codex_home, base, access_token=access_token)


def make_git_repo(path: Path, files: Mapping[str, str] | None = None) -> Path:
    """A git repository on ``main`` with one commit of ``files`` (default: a README)."""
    path.mkdir(parents=True, exist_ok=True)
    for name, text in (files or {"README.md": "fake repo\n"}).items():
        (path / name).write_text(text, encoding="utf-8")
    ident = ["-c", "user.name=Fake Cloud", "-c", "user.email=fake-cloud@example.invalid"]
    for argv in (["init", "-q", "-b", "main"], ["add", "-A"], [*ident, "commit", "-q", "-m", "initial"]):
        subprocess.run(["git", *argv], cwd=path, check=True, capture_output=True, timeout=30)
    return path


@dataclass
class CloudRig:
    """A running fake with a throw-away ``HOME`` and ``CODEX_HOME`` (dummy ChatGPT login) and a git
    repository to run ``codex cloud`` in; ``env`` is the child environment."""

    fake: FakeCloud
    codex_bin: Path
    home: Path
    codex_home: Path
    repo: Path
    env: dict[str, str]

    def codex(
        self,
        *args: str,
        cwd: Path | None = None,
        input: str | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float = CODEX_TIMEOUT,
    ) -> subprocess.CompletedProcess[str]:
        """``codex cloud ARGS`` in ``cwd`` (default: the rig's repository)."""
        return subprocess.run(
            [str(self.codex_bin), "cloud", *args],
            cwd=cwd or self.repo,
            env=dict(env if env is not None else self.env),
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def list_json(self, *args: str) -> dict[str, Any]:
        done = self.codex("list", "--json", *args)
        assert done.returncode == 0, done.stderr
        return dict(json.loads(done.stdout))

    def listed(self, task_id: str) -> dict[str, Any] | None:
        for task in self.list_json()["tasks"]:
            if task["id"] == task_id:
                return dict(task)
        return None

    def wait_listed_status(self, task_id: str, status: str, timeout: float = 20.0) -> dict[str, Any]:
        """Poll ``codex cloud list --json`` until the task shows ``status``."""

        def probe() -> dict[str, Any] | None:
            task = self.listed(task_id)
            return task if task is not None and task["status"] == status else None

        return wait_until(probe, timeout, f"{task_id} to be listed {status}", interval=0.1)


def fake_cloud_processes(marker: str) -> list[int]:
    """Pids of live (non-zombie) fake cloud processes whose command line mentions ``marker`` (a tmp path
    their state directory lies under)."""
    return live_processes(cmdline=("cockpit.demo.fake_cloud", marker))


def base_env(home: Path) -> dict[str, str]:
    """This environment with a throw-away ``HOME`` (and nothing of the host's Codex login)."""
    return env_without(("CODEX_HOME", "RUST_LOG"), HOME=str(home))


@contextmanager
def cloud_rig(tmp_path: Path, codex_bin: Path, *, delay: float = 0.0) -> Iterator[CloudRig]:
    home = tmp_path / "home"
    home.mkdir(parents=True, exist_ok=True)
    codex_home = write_cloud_codex_home(tmp_path / "codex-home")
    repo = make_git_repo(tmp_path / "repo")
    with FakeCloud(tmp_path / "fake-cloud", delay=delay) as fake:
        yield CloudRig(fake, codex_bin, home, codex_home, repo, fake.env(codex_home, base_env(home)))


REDIRECT_KEYS = (
    "HTTPS_PROXY",
    "https_proxy",
    "NO_PROXY",
    "no_proxy",
    "CODEX_CA_CERTIFICATE",
    "CODEX_CLOUD_TASKS_BASE_URL",
    "CODEX_HOME",
)


def cloud_board_config(board_root: Path, rig: CloudRig, *, env: str = "fake/repo", **cloud: object) -> Path:
    """Write the board's ``[cloud]`` section pointing ``codex cloud`` at the rig's fake (its proxy, CA
    and throw-away ``CODEX_HOME`` in ``extra_env``, which only the cloud lane's processes get) and
    trust the file, as a user would after checking it; returns the config's path."""
    from cockpit.core.trust import trust_file

    extra = {key: rig.env[key] for key in REDIRECT_KEYS if key in rig.env}
    lines = ["[cloud]", f"env = {json.dumps(env)}"]
    lines += [f"{key} = {json.dumps(value)}" for key, value in cloud.items()]
    lines.append("[cloud.extra_env]")
    lines += [f"{key} = {json.dumps(value)}" for key, value in extra.items()]
    path = board_root / "config.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    trust_file(path)
    return path
