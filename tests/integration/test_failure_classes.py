"""Every failure class produced by the real Codex binary, read back through the tailer and reducer.

Each run's stdout is written to a file and followed with :class:`EventTailer`, folded by
:class:`AttemptReducer`, paired with an :class:`ExitInfo` built from the process's exit and the
rollout's ``codex_error_info``, then classified and handed to the retry policy.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cockpit.core.attempts.reducer import AttemptReducer
from cockpit.core.attempts.tailer import EventTailer
from cockpit.core.envelope.prompt import parse_outcome
from cockpit.core.policy.failures import classify, rollout_error_info
from cockpit.core.policy.retry import decide
from cockpit.core.records.attempt import AttemptProgress, ErrorType, Failure, FailureCode
from cockpit.core.records.exit_info import ExitInfo
from cockpit.demo.codex_home import write_codex_home
from cockpit.demo.scripted_model import Scenario, ScriptedModel
from tests.helpers.codex import CompletedRun, codex_exec_argv, run_codex_exec

pytestmark = pytest.mark.codex

C = FailureCode
T = ErrorType


def scenario(*responses: dict[str, Any]) -> Scenario:
    return Scenario.model_validate({"name": "failure", "match": "", "responses": list(responses)})


def say(text: str) -> dict[str, Any]:
    return {"items": [{"kind": "message", "text": text}]}


def http_error(status: int, body: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {"kind": "http_error", "status": status, "body": body, **extra}


def reduce_stdout(run: CompletedRun, directory: Path) -> AttemptProgress:
    events = directory / "events.jsonl"
    events.write_text(run.stdout_text, encoding="utf-8")
    tailer = EventTailer(events)
    reducer = AttemptReducer()
    reducer.apply_many(tailer.read_new())
    reducer.apply_many(tailer.flush())
    progress = reducer.snapshot()
    progress.parse_errors = tailer.parse_errors
    return progress


def exit_info(run: CompletedRun, *, cap_s: float | None = None) -> ExitInfo:
    code = run.exit_code
    return ExitInfo(
        code=code if code >= 0 else None,
        signal=-code if code < 0 else None,
        timed_out=run.timed_out,
        note=f"hard wall-clock cap of {cap_s:.0f}s reached; process group killed" if run.timed_out else None,
    )


def classify_run(
    run: CompletedRun, directory: Path, codex_home: Path, *, cap_s: float | None = None
) -> tuple[Failure | None, AttemptProgress, str | None]:
    progress = reduce_stdout(run, directory)
    assert progress.parse_errors == 0
    info, resets_at = (None, None)
    if progress.thread_id:
        info, resets_at = rollout_error_info(codex_home, progress.thread_id)
    outcome = parse_outcome(run.last_message) if run.last_message.strip() else None
    failure = classify(
        progress,
        exit_info(run, cap_s=cap_s),
        outcome,
        codex_error_info=info,
        stderr_tail=run.stderr[-4000:],
        resets_at=resets_at,
    )
    return failure, progress, info


def next_step(failure: Failure) -> str:
    return decide(failure, [], rng=random.Random(0), now=time.time()).action


CASES = [
    pytest.param(
        [http_error(500)], None, T.TRANSIENT, C.HTTP_5XX, 500, "internal_server_error", "retry", id="500"
    ),
    pytest.param(
        [http_error(503)], None, T.TRANSIENT, C.HTTP_5XX, 503, "http_connection_failed:503", "retry", id="503"
    ),
    pytest.param(
        [http_error(429, {"error": {"type": "rate_limit_exceeded", "message": "Slow down"}})],
        None,
        T.TRANSIENT,
        C.HTTP_429,
        429,
        "response_too_many_failed_attempts:429",
        "retry",
        id="429-rate-limit",
    ),
    pytest.param(
        [http_error(429, {"error": {"type": "usage_limit_reached", "message": "limit"}})],
        None,
        T.TRANSIENT,
        C.USAGE_LIMIT,
        429,
        "usage_limit_exceeded",
        "dead_letter",  # no rate-limit headers: no reset time known
        id="429-usage-limit-no-headers",
    ),
    pytest.param(
        [
            http_error(
                401, {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}}
            )
        ],
        None,
        T.AUTH,
        C.AUTH_401,
        401,
        "http_connection_failed:401",
        "fail",
        id="401",
    ),
    pytest.param(
        [http_error(403, {"error": {"message": "Project lacks access", "type": "permission_error"}})],
        None,
        T.AUTH,
        C.AUTH_403,
        403,
        "http_connection_failed:403",
        "fail",
        id="403",
    ),
    pytest.param(
        [http_error(400, {"error": {"message": "bad request thing", "type": "invalid_request_error"}})],
        None,
        T.LOGIC,
        C.BAD_REQUEST_400,
        400,
        "other",
        "fail",
        id="400",
    ),
    pytest.param(
        [say("unused")], "MOCK_API_KEY", T.AUTH, C.MISSING_API_KEY, None, "other", "fail", id="no-key"
    ),
    pytest.param([{"kind": "drop"}], None, T.TRANSIENT, C.STREAM_DROPPED, None, "other", "retry", id="drop"),
    pytest.param(
        [{"kind": "failed", "code": "server_error", "message": "scripted meltdown"}],
        None,
        T.TRANSIENT,
        C.STREAM_DROPPED,
        None,
        "other",
        "retry",
        id="response-failed",
    ),
    pytest.param(
        [{"kind": "stall", "stall_s": 30}],
        None,
        T.TRANSIENT,
        C.STREAM_STALLED,
        None,
        "other",
        "retry",
        id="stall",
    ),
    pytest.param(
        [
            {
                "kind": "failed",
                "code": "context_length_exceeded",
                "message": "Your input exceeds the context window",
            }
        ],
        None,
        T.STATE,
        C.CONTEXT_LENGTH,
        None,
        "context_window_exceeded",
        "fail",
        id="context-length",
    ),
    pytest.param(
        [say("FAILED: tests do not pass\n3 failures in test_calc.py")],
        None,
        T.LOGIC,
        C.WORKER_FAILED,
        None,
        None,
        "retry",
        id="worker-failed",
    ),
    pytest.param(
        [say("**BLOCKED:** need the staging database password")],
        None,
        T.LOGIC,
        C.WORKER_BLOCKED,
        None,
        None,
        "retry",
        id="worker-blocked",
    ),
]


@pytest.mark.parametrize(("responses", "unset", "error_type", "code", "status", "info", "action"), CASES)
def test_failure_class(
    codex_bin: Path,
    scripted_model: ScriptedModel,
    codex_env: dict[str, str],
    codex_home: Path,
    tmp_path: Path,
    responses: list[dict[str, Any]],
    unset: str | None,
    error_type: ErrorType,
    code: FailureCode,
    status: int | None,
    info: str | None,
    action: str,
) -> None:
    scripted_model.add_scenario(scenario(*responses))
    env = dict(codex_env)
    if unset:
        env.pop(unset)
    run = run_codex_exec(codex_bin, env, tmp_path / "work", "do the thing", timeout=30)
    assert not run.timed_out, run.describe()
    failure, progress, seen_info = classify_run(run, tmp_path, codex_home)
    assert failure is not None, run.describe()
    assert (failure.error_type, failure.code, failure.http_status) == (error_type, code, status), failure
    assert seen_info == info
    assert next_step(failure) == action
    if progress.turn_failed:
        assert failure.message == progress.turn_failed  # the real message, verbatim
        assert run.exit_code == 1
    if code is C.WORKER_FAILED:
        decision = decide(failure, [], rng=random.Random(0), now=time.time())
        assert decision.feedback is not None and "FAILED: tests do not pass" in decision.feedback
    if code is C.MISSING_API_KEY:
        assert failure.suggestion.startswith("set MOCK_API_KEY")


def test_usage_limit_with_headers_waits_for_the_rollout_reset(
    codex_bin: Path,
    scripted_model: ScriptedModel,
    codex_env: dict[str, str],
    codex_home: Path,
    tmp_path: Path,
) -> None:
    reset = int(time.time()) + 1800
    headers = {
        "x-codex-primary-used-percent": "100",
        "x-codex-primary-window-minutes": "300",
        "x-codex-primary-reset-at": str(reset),
        "x-codex-secondary-used-percent": "40",
        "x-codex-secondary-window-minutes": "10080",
        "x-codex-secondary-reset-at": str(reset + 86400),
    }
    body = {"error": {"type": "usage_limit_reached", "message": "The usage limit has been reached"}}
    scripted_model.add_scenario(scenario(http_error(429, body, headers=headers)))
    run = run_codex_exec(codex_bin, codex_env, tmp_path / "work", "do the thing", timeout=30)
    failure, progress, info = classify_run(run, tmp_path, codex_home)
    assert failure is not None, run.describe()
    assert progress.turn_failed is not None and progress.turn_failed.startswith("You’ve hit your usage limit")
    assert info == "usage_limit_exceeded"
    assert (failure.error_type, failure.code, failure.resets_at) == (T.TRANSIENT, C.USAGE_LIMIT, float(reset))
    assert failure.trips_breaker
    now = time.time()
    decision = decide(failure, [], rng=random.Random(0), now=now)
    assert decision.action == "retry"
    assert reset - now <= decision.delay_s <= reset - now + 0.5


def test_recovered_stream_is_not_a_failure(
    codex_bin: Path,
    scripted_model: ScriptedModel,
    codex_env: dict[str, str],
    codex_home: Path,
    tmp_path: Path,
) -> None:
    scripted_model.add_scenario(scenario({"kind": "drop"}, say("COMPLETED: after a reconnect")))
    run = run_codex_exec(
        codex_bin, codex_env, tmp_path / "work", "go", "-c", "model_providers.mock.stream_max_retries=2"
    )
    failure, progress, info = classify_run(run, tmp_path, codex_home)
    assert failure is None, run.describe()
    assert any(e.startswith("Reconnecting... 1/2") for e in progress.errors)  # a warning only
    assert info is None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_until(
    codex_bin: Path,
    env: dict[str, str],
    workdir: Path,
    ready: Callable[[list[str]], bool],
    sig: int,
    *,
    group: bool,
) -> CompletedRun:
    """Start Codex, wait until ``ready(stdout lines)``, then send ``sig`` to its group or the binary.

    Killing the group stands for the cockpit's hard cap (the run is reported ``timed_out``); a signal
    to the binary alone stands for someone outside the cockpit.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    last = workdir.parent / "last.txt"
    argv = codex_exec_argv(codex_bin, workdir, last, "wait for me", sandbox="workspace-write")
    with (workdir.parent / "stderr.txt").open("w+b") as err:
        proc = subprocess.Popen(
            argv,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=err,
            start_new_session=True,
        )
        lines: list[str] = []
        assert proc.stdout is not None
        reader = threading.Thread(target=lambda: lines.extend(line.decode() for line in proc.stdout or ()))
        reader.start()
        try:
            deadline = time.monotonic() + 30
            while not ready(list(lines)) and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            assert ready(list(lines)), "".join(lines)
            if group:
                os.killpg(proc.pid, sig)
            else:
                os.kill(proc.pid, sig)
            proc.wait(timeout=20)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            reader.join(timeout=20)
        err.seek(0)
        stderr = err.read().decode(errors="replace")
    return CompletedRun(
        exit_code=proc.returncode,
        events=[],
        stdout_text="".join(lines),
        stderr=stderr,
        last_message=last.read_text() if last.exists() else "",
        timed_out=group,
    )


def test_cap_against_a_refused_port_is_connection_refused(codex_bin: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = dict(os.environ)
    env.pop("RUST_LOG", None)
    env.update(write_codex_home(home, f"http://127.0.0.1:{free_port()}/v1"))
    # Codex keeps reconnecting forever; the cap ends the run once it has said so.
    run = run_until(
        codex_bin,
        env,
        tmp_path / "work",
        lambda out: any("Reconnecting" in ln for ln in out),
        signal.SIGKILL,
        group=True,
    )
    assert run.exit_code == -signal.SIGKILL
    failure, progress, _ = classify_run(run, tmp_path, home, cap_s=4)
    assert failure is not None, run.describe()
    assert progress.turn_failed is None
    assert (failure.error_type, failure.code) == (T.TRANSIENT, C.CONNECTION_REFUSED)
    assert failure.message.startswith("Reconnecting... waiting for network (Connection failed")
    assert failure.trips_breaker
    decision = decide(failure, [], rng=random.Random(0), now=time.time())
    assert (decision.action, decision.delay_s) == ("retry", 10.0)
    assert decide(failure, [failure], rng=random.Random(0), now=time.time()).action == "dead_letter"


def test_cap_during_a_silent_stream_is_timeout(
    codex_bin: Path, scripted_model: ScriptedModel, tmp_path: Path
) -> None:
    scripted_model.add_scenario(scenario({"kind": "stall", "stall_s": 60}))
    home = tmp_path / "home"
    env = dict(os.environ)
    env.pop("RUST_LOG", None)
    env.update(write_codex_home(home, scripted_model.base_url, stream_idle_timeout_ms=60000))

    def in_flight(_out: list[str]) -> bool:
        return scripted_model.in_flight >= 1

    run = run_until(codex_bin, env, tmp_path / "work", in_flight, signal.SIGTERM, group=True)
    assert run.exit_code == -signal.SIGTERM
    assert len(scripted_model.requests) == 1
    failure, _, _ = classify_run(run, tmp_path, home, cap_s=3)
    assert failure is not None
    assert (failure.error_type, failure.code, failure.message) == (
        T.TRANSIENT,
        C.TIMEOUT,
        "hard wall-clock cap of 3s reached; process group killed",
    )
    decision = decide(failure, [], rng=random.Random(0), now=time.time())
    assert (decision.action, decision.delay_s) == ("retry", 30.0)


@pytest.mark.parametrize(
    ("sig", "code", "exit_code"),
    [(signal.SIGINT, C.INTERRUPTED, 1), (signal.SIGKILL, C.KILLED, -signal.SIGKILL)],
    ids=["sigint", "sigkill"],
)
def test_signals_from_outside_the_cockpit(
    codex_bin: Path,
    scripted_model: ScriptedModel,
    codex_env: dict[str, str],
    codex_home: Path,
    tmp_path: Path,
    sig: int,
    code: FailureCode,
    exit_code: int,
) -> None:
    scripted_model.add_scenario(scenario({"kind": "stall", "stall_s": 60}))

    def in_flight(_out: list[str]) -> bool:
        return scripted_model.in_flight >= 1

    run = run_until(codex_bin, codex_env, tmp_path / "work", in_flight, sig, group=False)
    assert run.exit_code == exit_code, run.stdout_text + run.stderr
    failure, progress, info = classify_run(run, tmp_path, codex_home)
    assert progress.turns_started == 1 and progress.turn_failed is None and not progress.turn_completed
    assert failure is not None and failure.code is code and failure.error_type is T.STATE
    assert info is None
    expected = "fail" if code is C.INTERRUPTED else "retry"
    assert next_step(failure) == expected
