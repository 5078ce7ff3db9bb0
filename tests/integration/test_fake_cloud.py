"""The real ``codex cloud`` (exec, status, list, diff, apply) against the project's fake Codex Cloud backend.

Codex only talks to ChatGPT origins, so each test's ``codex cloud`` child gets ``HTTPS_PROXY`` pointing at
the fake and ``CODEX_CA_CERTIFICATE`` naming the fake's throw-away CA, in its own ``env=`` only, with a
throw-away ``HOME`` and ``CODEX_HOME`` holding dummy credentials (the ``fake_cloud`` fixture). Each call
runs in a temporary git repository. The transport tests at the end need no Codex.
"""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
import time
from datetime import timedelta
from pathlib import Path

import pytest

from cockpit.demo.fake_cloud import write_cloud_codex_home
from cockpit.demo.fake_cloud.store import attempt_file, new_file_diff
from tests.helpers.cloud import CloudRig, FakeCloud, make_git_repo
from tests.helpers.processes import wait_until

TASK_URL = "https://chatgpt.com/codex/tasks/"


def _task_id(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, done.stderr
    url = done.stdout.strip()
    assert url.startswith(TASK_URL) and "\n" not in url, done.stdout
    return url.removeprefix(TASK_URL)


def _porcelain(repo: Path) -> list[str]:
    out = subprocess.run(
        ["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True, check=True
    )
    return out.stdout.splitlines()


@pytest.mark.codex
def test_exec_prints_the_task_url_from_an_argument_or_stdin(fake_cloud: CloudRig) -> None:
    remote = ["git", "remote", "add", "origin", "https://github.com/fake/repo.git"]
    subprocess.run(remote, cwd=fake_cloud.repo, check=True)
    by_argument = _task_id(fake_cloud.codex("exec", "--env", "env_fake_main", "add a greeting file"))
    by_stdin = _task_id(
        fake_cloud.codex("exec", "--env", "FAKE/REPO", "-", input="from stdin\nmore detail\n")
    )
    assert by_argument.startswith("task_e_") and by_stdin != by_argument
    assert fake_cloud.fake.task(by_argument)["title"] == "add a greeting file"
    stdin_task = fake_cloud.fake.task(by_stdin)
    assert stdin_task["prompt"] == "from stdin\nmore detail\n" and stdin_task["title"] == "from stdin"
    assert stdin_task["environment_id"] == "env_fake_main" and stdin_task["branch"] == "main"
    (create, *_) = [r for r in fake_cloud.fake.task_requests() if r["method"] == "POST"]
    assert create["host"] == "chatgpt.com" and create["path"] == "/backend-api/wham/tasks"
    assert create["headers"]["authorization"] == "Bearer fake-cloud-access-token"
    assert create["headers"]["chatgpt-account-id"] == "acc_fake_cloud"
    assert create["headers"]["user-agent"].startswith("codex_cli_rs/")
    assert create["body"]["new_task"]["environment_id"] == "env_fake_main"
    paths = {r["path"] for r in fake_cloud.fake.task_requests()}
    assert "/backend-api/wham/environments/by-repo/github/fake/repo" in paths
    # A fact the cloud lane must plan for: every `codex cloud` call appends to ./error.log in its cwd.
    assert (fake_cloud.repo / "error.log").is_file()
    assert "new_task: created id=" + by_argument in (fake_cloud.repo / "error.log").read_text()
    assert "?? error.log" in _porcelain(fake_cloud.repo)


@pytest.mark.codex
def test_list_json_shows_a_task_pending_then_ready(fake_cloud: CloudRig) -> None:
    assert fake_cloud.codex("list").stdout.strip() == "No tasks found."
    task_id = _task_id(fake_cloud.codex("exec", "--env", "env_fake_main", "hold on [fake:pending]"))
    listed = fake_cloud.listed(task_id)
    assert listed is not None and listed["status"] == "pending"
    assert listed["title"] == "hold on [fake:pending]" and listed["environment_label"] == "fake/repo"
    assert listed["summary"] == {"files_changed": 0, "lines_added": 0, "lines_removed": 0}
    fake_cloud.fake.update(task_id, status="completed")
    ready = fake_cloud.wait_listed_status(task_id, "ready")
    assert ready["summary"] == {"files_changed": 1, "lines_added": 2, "lines_removed": 0}
    assert ready["attempt_total"] == 1 and ready["url"] == TASK_URL + task_id


@pytest.mark.codex
def test_status_exits_0_only_for_ready(fake_cloud: CloudRig) -> None:
    ready = fake_cloud.fake.seed("already done", status="completed")
    pending = fake_cloud.fake.seed("still waiting [fake:pending]")
    slow = _task_id(fake_cloud.codex("exec", "--env", "env_fake_main", "slow one [fake:delay=2]"))
    deadline = fake_cloud.fake.task(slow)["created_at"] + 2
    done = fake_cloud.codex("status", TASK_URL + ready)  # a full URL works as well as the id
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["[READY] already done", "fake/repo  •  0s ago", "+2/-0 • 1 file"]
    done = fake_cloud.codex("status", pending)
    assert done.returncode == 1 and done.stdout.splitlines()[0] == "[PENDING] still waiting [fake:pending]"
    assert done.stdout.splitlines()[2] == "no diff"
    done = fake_cloud.codex("status", slow)
    if time.time() < deadline:  # answered within the task's delay, so it must have been running
        assert done.returncode == 1 and done.stdout.startswith("[PENDING] slow one"), done.stdout
    wait_until(lambda: fake_cloud.codex("status", slow).returncode == 0, 20, "the delayed task to be READY")


@pytest.mark.codex
def test_a_failing_prompt_ends_in_error_with_the_message_in_the_details(fake_cloud: CloudRig) -> None:
    task_id = _task_id(fake_cloud.codex("exec", "--env", "env_fake_main", "break it [fake:fail]"))
    done = fake_cloud.codex("status", task_id)
    assert done.returncode == 1 and done.stdout.splitlines()[0] == "[ERROR] break it [fake:fail]"
    done = fake_cloud.codex("diff", task_id)
    assert done.returncode == 1 and "No diff available for task " + task_id in done.stderr
    # `codex cloud` prints no failure message; it is in the details, for the lane's own reader.
    details = fake_cloud.fake.control("GET", f"/backend-api/wham/tasks/{task_id}")
    turn = details["current_assistant_turn"]
    assert turn["turn_status"] == "failed" and turn["error"]["code"] == "fake_failure"
    assert turn["error"]["message"]
    seeded = fake_cloud.fake.seed("custom failure", error={"code": "quota", "message": "no more runs"})
    assert fake_cloud.codex("status", seeded).stdout.startswith("[ERROR] custom failure")
    assert fake_cloud.fake.control("GET", f"/wham/tasks/{seeded}")["current_assistant_turn"]["error"] == {
        "code": "quota",
        "message": "no more runs",
    }


@pytest.mark.codex
def test_diff_of_each_attempt_of_a_best_of_two_task(fake_cloud: CloudRig) -> None:
    task_id = _task_id(fake_cloud.codex("exec", "--env", "env_fake_main", "--attempts", "2", "two ways"))
    (create,) = [r for r in fake_cloud.fake.task_requests() if r["method"] == "POST"]
    assert create["body"]["metadata"] == {"best_of_n": 2}
    first = fake_cloud.codex("diff", task_id)
    assert first.returncode == 0 and f"+++ b/{attempt_file(task_id, 1)}\n" in first.stdout
    second = fake_cloud.codex("diff", "--attempt", "2", task_id)
    assert second.returncode == 0 and f"+++ b/{attempt_file(task_id, 2)}\n" in second.stdout
    assert attempt_file(task_id, 2).endswith("_attempt2.txt")
    third = fake_cloud.codex("diff", "--attempt", "3", task_id)
    assert third.returncode == 1 and "Attempt 3 not available; only 2 attempt(s) found" in third.stderr
    listed = fake_cloud.listed(task_id)
    assert listed is not None and listed["attempt_total"] == 2


@pytest.mark.codex
def test_apply_stages_the_new_file_in_the_cwd_repo(fake_cloud: CloudRig) -> None:
    task_id = _task_id(fake_cloud.codex("exec", "--env", "env_fake_main", "add a file"))
    done = fake_cloud.codex("apply", task_id)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"Applied task {task_id} locally")
    assert f"A  {attempt_file(task_id, 1)}" in _porcelain(fake_cloud.repo)


@pytest.mark.codex
def test_a_seeded_conflicting_diff_makes_apply_fail_with_aa(fake_cloud: CloudRig, tmp_path: Path) -> None:
    repo = make_git_repo(tmp_path / "conflict", {"greeting.txt": "hello\n"})
    task_id = fake_cloud.fake.seed(
        "greet in French",
        task_id="task_e_c0ffee00c0ffee00",
        diff=new_file_diff("greeting.txt", "bonjour\n"),
        status="completed",
    )
    assert task_id == "task_e_c0ffee00c0ffee00"
    done = fake_cloud.codex("apply", task_id, cwd=repo)
    assert done.returncode == 1
    assert "conflicts=1" in done.stdout + done.stderr
    assert "AA greeting.txt" in _porcelain(repo)


@pytest.mark.codex
def test_injected_http_errors_exit_1_with_the_status_in_stderr(fake_cloud: CloudRig) -> None:
    cases = [(401, "401 Unauthorized"), (429, "429 Too Many Requests"), (500, "500 Internal Server Error")]
    for status, text in cases:
        fake_cloud.fake.fault("/wham/tasks/list", status, {"detail": "injected"}, method="GET")
        done = fake_cloud.codex("list")
        assert done.returncode == 1, done.stdout
        assert f"failed: {text}; content-type=application/json; " in done.stderr, done.stderr
        assert (
            "GET https://chatgpt.com/backend-api/wham/tasks/list?limit=20&task_filter=current" in done.stderr
        )
    assert fake_cloud.codex("list").returncode == 0  # each fault was used up once


@pytest.mark.codex
def test_access_token_login_and_stale_token_refresh(fake_cloud: CloudRig, tmp_path: Path) -> None:
    pat_home = write_cloud_codex_home(tmp_path / "pat-home", with_auth=False)
    env = fake_cloud.fake.env(pat_home, fake_cloud.env, access_token="at-fake-token")
    assert fake_cloud.codex("list", env=env).returncode == 0
    stale_home = write_cloud_codex_home(tmp_path / "stale-home", refresh_age=timedelta(days=60))
    before = json.loads((stale_home / "auth.json").read_text())
    assert fake_cloud.codex("list", env=fake_cloud.fake.env(stale_home, fake_cloud.env)).returncode == 0
    seen = [
        (r["host"], r["method"], r["path"], r["headers"].get("authorization"))
        for r in fake_cloud.fake.requests()
    ]
    assert (
        "127.0.0.1",
        "GET",
        "/api/accounts/v1/user-auth-credential/whoami",
        "Bearer at-fake-token",
    ) in seen
    assert ("chatgpt.com", "GET", "/backend-api/wham/tasks/list", "Bearer at-fake-token") in seen
    assert any(host == "auth.openai.com" and path == "/oauth/token" for host, _, path, _ in seen)
    after = json.loads((stale_home / "auth.json").read_text())
    assert after["tokens"]["access_token"] != before["tokens"]["access_token"]


# -- transport (no Codex) ---------------------------------------------------------------------------------


def _connect(port: int, target: str) -> tuple[socket.socket, bytes]:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            break
        head += chunk
    return sock, head


def test_sigterm_exits_0_at_once_with_an_open_tunnel(tmp_path: Path) -> None:
    fake = FakeCloud(tmp_path / "state").start()
    sock, head = _connect(fake.port, "chatgpt.com:443")
    assert head.startswith(b"HTTP/1.1 200 Connection Established")
    context = ssl.create_default_context(cafile=str(fake.ca_cert))
    context.set_alpn_protocols(["h2", "http/1.1"])
    tls = context.wrap_socket(sock, server_hostname="chatgpt.com")
    assert tls.selected_alpn_protocol() == "http/1.1"
    tls.sendall(b"GET /backend-api/wham/environments HTTP/1.1\r\nHost: chatgpt.com\r\n\r\n")
    assert tls.recv(4096).startswith(b"HTTP/1.1 200 ")  # the tunnel stays open (keep-alive)
    started = time.monotonic()
    fake.stop()  # SIGTERM: asserts exit 0 and the port file gone
    assert time.monotonic() - started < 1.0
    tls.close()


def test_the_fake_stops_when_its_stdin_ends(tmp_path: Path) -> None:
    fake = FakeCloud(tmp_path / "state").start()
    process = fake.process
    assert process is not None and process.stdin is not None
    ca = fake.ca_cert.read_bytes()
    process.stdin.close()
    assert process.wait(timeout=5) == 0
    assert not fake.port_file.exists()
    fake.process = None
    with FakeCloud(fake.state_dir):  # certificates are made once per state directory
        assert fake.ca_cert.read_bytes() == ca


def test_connect_to_any_other_host_is_refused_with_502_and_logged(tmp_path: Path) -> None:
    with FakeCloud(tmp_path / "state") as fake:
        for target in ("example.com:443", "chatgpt.com:80"):
            sock, head = _connect(fake.port, target)
            sock.close()
            assert head.startswith(b"HTTP/1.1 502 "), head
        refused = [r for r in fake.requests() if r["method"] == "CONNECT"]
        assert [(r["path"], r["status"]) for r in refused] == [
            ("example.com:443", 502),
            ("chatgpt.com:80", 502),
        ]
        lines = (fake.state_dir / "requests.jsonl").read_text().splitlines()
        assert json.loads(lines[0])["path"] == "example.com:443"
