"""The reviewer runner: a tiny detached process that owns one Claude Code process, the cross-family
reviewer of a task's result.

The same process discipline as :mod:`cockpit.core.attempts.exec_runner` (it is that runner's
:func:`~cockpit.core.attempts.exec_runner.run`): started by the supervisor in a session of its own, it
runs ``claude -p --output-format stream-json …`` with stdin closed, stdout going straight into the
round's ``stream.jsonl`` (byte for byte) and stderr into ``stderr.log``, enforces the review's hard
wall-clock cap by killing the reviewer's whole process group (and anything it left below the runner),
and writes ``pid.json`` when Claude Code starts and ``exit.json`` when it ends. A supervisor that dies
meanwhile finds the round's files where it left them and follows the runner again.

Usage: ``python -m cockpit.core.attempts.review_runner SPEC.json``; the spec is written by the supervisor's
review phase (argv, cwd: the throw-away checkout, the round's directory as ``attempt_dir``, env
additions and the names of variables not to inherit, the cap).
"""

from __future__ import annotations

import sys
from typing import Any

from cockpit.core.attempts.exec_runner import run as run_one
from cockpit.core.attempts.exec_runner import spec_main
from cockpit.core.layout import REVIEW_STREAM_FILE

MODULE = "cockpit.core.attempts.review_runner"


def run(spec: dict[str, Any]) -> int:
    return run_one({"stdout_file": REVIEW_STREAM_FILE, "program": "claude", "chunk_s": None, **spec})


def main(argv: list[str] | None = None) -> int:
    return spec_main(MODULE, run, argv)


if __name__ == "__main__":
    sys.exit(main())
