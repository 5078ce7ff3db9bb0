"""The attempt runner: a tiny detached process that owns one Codex process.

Started by the supervisor in a session of its own, it runs Codex with stdout going straight into the
attempt's ``events.jsonl`` (byte for byte) and stderr into ``stderr.log``, enforces the hard wall-clock
cap by killing Codex's whole process group, and writes ``exit.json`` when Codex ends. Because the runner
holds no pipe to the supervisor, a supervisor crash does not disturb the worker; because Codex gets
``PR_SET_PDEATHSIG``, killing the runner never leaves an orphaned Codex behind.

Standard library and two leaves of the core only (the board's file names, process groups): it starts
fast and depends on nothing the supervisor might be upgrading.
Usage: ``python -m cockpit.core.attempts.exec_runner SPEC.json`` where the spec names argv, cwd, env and
paths. Another runner of one program (:mod:`cockpit.core.attempts.review_runner`) calls :func:`run` with
``stdout_file`` (where stdout goes, in the attempt's directory) and ``program`` (its name in a note).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cockpit.core.layout import ATTEMPT_EVENTS_FILE, EXIT_FILE, PID_FILE, STDERR_FILE
from cockpit.core.processes import kill_group

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
SWEEP_ROUNDS = 100


def write_json(path: Path, obj: dict[str, Any]) -> None:
    """Write ``obj`` as JSON durably (fsync) and atomically (rename); a runner's one way to write."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(obj, fh, indent=2)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _prctl(option: int, value: int) -> bool:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(option, value, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _children(pid: int) -> list[int]:
    """Direct children of ``pid`` (from /proc), zombies included so they can be reaped."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                ppid = int(fh.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == pid:
            out.append(int(entry))
    return out


def _sweep_descendants() -> int:
    """Kill and reap everything left below the runner.

    Codex starts some helpers in sessions of their own (a login-shell snapshot, for one), out of reach
    of a process-group kill. As a child subreaper the runner inherits them when their parent dies, so
    repeated sweeps of its own children reach every descendant. Returns how many were killed.
    """
    me = os.getpid()
    killed = 0
    for _ in range(SWEEP_ROUNDS):
        kids = _children(me)
        if not kids:
            break
        for pid in kids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(os.getpgid(pid), signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
                killed += 1
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline:
            try:
                pid, _status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                time.sleep(0.01)
    return killed


def _die_with_parent() -> None:
    """In the child before exec: get SIGKILL when the runner dies, and lead a process group of its own."""
    os.setsid()
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


class _Stop:
    requested: int | None = None


def run(spec: dict[str, Any]) -> int:
    attempt_dir = Path(spec["attempt_dir"])
    exit_path = attempt_dir / EXIT_FILE
    deadline_s = float(spec["deadline_s"])
    grace_s = float(spec.get("grace_s", 5.0))
    env = dict(os.environ)
    env.update(spec.get("env", {}))
    for key in spec.get("env_remove", []):
        env.pop(key, None)

    stop = _Stop()
    subreaper = _prctl(PR_SET_CHILD_SUBREAPER, 1)

    def on_signal(signum: int, _frame: object) -> None:
        stop.requested = signum

    # SIGINT: cancel (interrupt the turn); SIGTERM/SIGHUP: stop; SIGUSR1: the watchdog's kill.
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1):
        signal.signal(sig, on_signal)
    chunk_s = float(spec["chunk_s"]) if spec.get("chunk_s") else None

    started = time.time()
    with (
        open(attempt_dir / str(spec.get("stdout_file", ATTEMPT_EVENTS_FILE)), "ab", buffering=0) as out,
        open(attempt_dir / STDERR_FILE, "ab", buffering=0) as err,
    ):
        try:
            proc = subprocess.Popen(
                spec["argv"],
                cwd=spec["cwd"],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                preexec_fn=_die_with_parent,
                close_fds=True,
            )
        except OSError as exc:
            write_json(
                exit_path,
                {
                    "code": None,
                    "signal": None,
                    "started": started,
                    "ended": time.time(),
                    "note": f"could not start {spec.get('program', 'codex')}: {exc}",
                    "lost": False,
                    "timed_out": False,
                    "cancelled": False,
                },
            )
            return 1
    write_json(
        attempt_dir / PID_FILE,
        {
            "runner_pid": os.getpid(),
            "codex_pid": proc.pid,
            "codex_pgid": proc.pid,
            "started": started,
            "deadline": started + deadline_s,
        },
    )

    timed_out = cancelled = chunked = watchdog = False
    kill_sent_at: float | None = None
    while True:
        now = time.time()
        if kill_sent_at is None:
            if stop.requested is not None:
                watchdog = stop.requested == signal.SIGUSR1
                cancelled = not watchdog
                # SIGINT lets Codex record turn_aborted in its rollout; the group kill follows after grace.
                kill_group(proc.pid, signal.SIGINT if stop.requested == signal.SIGINT else signal.SIGTERM)
                kill_sent_at = now
            elif now - started >= deadline_s:
                timed_out = True
                kill_group(proc.pid, signal.SIGTERM)
                kill_sent_at = now
            elif chunk_s is not None and now - started >= chunk_s:
                chunked = True  # a graceful stop at the chunk limit; the supervisor continues the thread
                kill_group(proc.pid, signal.SIGINT)
                kill_sent_at = now
        elif now - kill_sent_at >= grace_s:
            kill_group(proc.pid, signal.SIGKILL)
        next_limit = min(deadline_s, chunk_s or deadline_s) - (now - started)
        try:
            code = proc.wait(timeout=0.05 if kill_sent_at else min(0.5, max(0.01, next_limit)))
            break
        except subprocess.TimeoutExpired:
            continue
    # Whatever the leader did, nothing it started may outlive the attempt.
    kill_group(proc.pid, signal.SIGKILL)
    swept = _sweep_descendants() if subreaper else 0
    ended = time.time()
    result = {
        "code": code if code >= 0 else None,
        "signal": -code if code < 0 else None,
        "timed_out": timed_out,
        "cancelled": cancelled,
        "lost": False,
        "started": started,
        "ended": ended,
        "swept_processes": swept,
        "chunked": chunked,
        "watchdog": watchdog,
        "note": _note(timed_out, cancelled, chunked, watchdog, deadline_s, chunk_s),
    }
    write_json(exit_path, result)
    return 0


def _note(
    timed_out: bool, cancelled: bool, chunked: bool, watchdog: bool, deadline_s: float, chunk_s: float | None
) -> str | None:
    if timed_out:
        return f"hard wall-clock cap of {deadline_s:.0f}s reached; process group killed"
    if chunked:
        return f"chunk limit of {chunk_s:.0f}s reached; stopped gracefully to continue in a fresh run"
    if watchdog:
        return "stopped by the watchdog: no new event for too long"
    if cancelled:
        return "cancelled"
    return None


def spec_main(module: str, run_spec: Callable[[dict[str, Any]], int], argv: list[str] | None) -> int:
    """``python -m MODULE SPEC.json``: read the attempt's spec and run it (usage error: exit 2)."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print(f"usage: python -m {module} SPEC.json", file=sys.stderr)
        return 2
    return run_spec(json.loads(Path(args[0]).read_text(encoding="utf-8")))


def main(argv: list[str] | None = None) -> int:
    return spec_main("cockpit.core.attempts.exec_runner", run, argv)


if __name__ == "__main__":
    sys.exit(main())
