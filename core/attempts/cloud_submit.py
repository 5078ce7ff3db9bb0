"""The cloud submitter: a tiny detached process that runs ``codex cloud exec`` once for one attempt.

Started by the supervisor in a session of its own (like the attempt runner), it first writes
``submit-started`` (so a later supervisor knows whether ``exec`` may have created a task), then runs
``codex cloud exec`` with the prompt on stdin and **stdout going straight into the attempt's
``exec-stdout.txt``**: the task's URL reaches the disk the moment Codex prints it, whoever dies after
that — the supervisor, or this process. Codex is *not* tied to this process's life, for the same reason:
a submission under way finishes and prints. ``exit.json`` is written when Codex ends (or is killed at
the hard cap). Nothing here reads what Codex printed; the supervisor does.

Standard library and two leaves of the core only (file names, process groups).
Usage: ``python -m cockpit.core.attempts.cloud_submit SPEC.json``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from cockpit.core.attempts.exec_runner import write_json as _write_json
from cockpit.core.layout import CLOUD_EXEC_OUT_FILE, EXIT_FILE, STDERR_FILE, SUBMIT_STARTED_FILE
from cockpit.core.processes import kill_group

SUBMIT_CAP_S = 300.0  # ``exec`` makes a handful of requests; one that hangs this long is killed


def run(spec: dict[str, Any]) -> int:
    attempt_dir = Path(spec["attempt_dir"])
    cap_s = float(spec.get("cap_s", SUBMIT_CAP_S))
    _write_json(attempt_dir / SUBMIT_STARTED_FILE, {"pid": os.getpid(), "at": time.time()})
    started = time.time()
    info: dict[str, Any] = {"code": None, "signal": None, "started": started, "timed_out": False}
    env = dict(os.environ)  # the supervisor's, less and plus what the spec says
    for key in spec.get("env_remove", []):
        env.pop(key, None)
    env.update(spec.get("env", {}))
    try:
        with (
            open(spec["prompt_file"], "rb") as prompt,
            open(attempt_dir / CLOUD_EXEC_OUT_FILE, "ab", buffering=0) as out,
            open(attempt_dir / STDERR_FILE, "ab", buffering=0) as err,
        ):
            proc = subprocess.Popen(
                spec["argv"],
                cwd=spec["cwd"],
                env=env,
                stdin=prompt,
                stdout=out,
                stderr=err,
                start_new_session=True,
                close_fds=True,
            )
    except OSError as exc:
        info.update(ended=time.time(), note=f"could not start codex cloud exec: {exc}")
        _write_json(attempt_dir / EXIT_FILE, info)
        return 1
    try:
        code = proc.wait(timeout=cap_s)
    except subprocess.TimeoutExpired:
        kill_group(proc.pid, signal.SIGKILL)
        code = proc.wait()
        info["timed_out"] = True
        info["note"] = f"codex cloud exec ran past {cap_s:.0f}s and was killed"
    if code < 0:
        info["signal"] = -code
    else:
        info["code"] = code
    info["ended"] = time.time()
    _write_json(attempt_dir / EXIT_FILE, info)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m cockpit.core.attempts.cloud_submit SPEC.json", file=sys.stderr)
        return 2
    spec = json.loads(Path(args[0]).read_text(encoding="utf-8"))
    return run(spec)


if __name__ == "__main__":
    raise SystemExit(main())
