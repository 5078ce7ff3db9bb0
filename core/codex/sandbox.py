"""Running one command under ``codex sandbox`` with the ``workspace-write`` policy, and checking that the
sandbox works on this machine.

:func:`sandbox_argv` is the command line: ``codex sandbox -c sandbox_mode="workspace-write"`` with the
network off, ``/tmp`` and ``$TMPDIR`` excluded and one scratch directory as the only writable root
beside the working directory (the worker confinement of :mod:`cockpit.core.codex.confinement`), then
``--`` and the command as given. :func:`sandbox_env` is its environment: a few variables from the
cockpit's own (``PATH``, ``HOME``, locale, time zone) and no others, so no key or token reaches the
command; ``CODEX_HOME`` points at an empty directory of the caller's, so no user config of Codex can
widen the sandbox. :func:`sandbox_works` is ``cockpit doctor``'s check: a command runs, and a write
outside the writable roots is refused.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from cockpit.core.codex.confinement import exec_overrides
from cockpit.core.layout import SCRATCH_DIR

__all__ = ["SANDBOX_MODE", "sandbox_argv", "sandbox_env", "sandbox_works"]

SANDBOX_MODE = 'sandbox_mode="workspace-write"'
_KEPT_VARS = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "TZ")


def sandbox_argv(codex: Path, command: Sequence[str], *, scratch: Path) -> list[str]:
    """``codex sandbox`` running ``command`` (an argv, never parsed by a shell here) with the network off
    and ``scratch`` as the one writable root beside the working directory."""
    if not command:
        raise ValueError("no command to run")
    if any("\x00" in part for part in command):
        raise ValueError("a command argument contains a NUL character")
    overrides = ("sandbox_workspace_write.network_access=false", *exec_overrides(scratch))
    return [
        str(codex),
        "sandbox",
        "-c",
        SANDBOX_MODE,
        *(arg for item in overrides for arg in ("-c", item)),
        "--",
        *command,
    ]


def sandbox_env(*, scratch: Path, codex_home: Path, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a sandboxed command: ``PATH``, ``HOME``, locale and time zone from ``base``
    (default: this process's), ``TMPDIR`` and caches in ``scratch``, no colour, and ``CODEX_HOME`` set to
    ``codex_home`` (an empty directory: the user's Codex config is not read)."""
    source = os.environ if base is None else base
    env = {key: source[key] for key in _KEPT_VARS if key in source}
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    env.update(
        {
            "TMPDIR": str(scratch),
            "XDG_CACHE_HOME": str(scratch / ".cache"),
            "CODEX_HOME": str(codex_home),
            "NO_COLOR": "1",
            "TERM": "dumb",
            "CI": "1",
        }
    )
    return env


def sandbox_works(codex: Path, timeout: float = 60.0) -> tuple[bool, str]:
    """Run ``true`` and a denied write under ``codex sandbox`` with workspace-write. Codex runs with its
    ``TMPDIR`` in the check's own temporary directory: it leaves a directory of its own in ``TMPDIR``
    (``codex-bwrap-synthetic-mount-targets-<uid>``), which goes with the check's."""
    with tempfile.TemporaryDirectory(prefix="cockpit-sandbox-") as tmp:
        env = {**os.environ, "TMPDIR": tmp}
        try:
            ok = subprocess.run(
                [str(codex), "sandbox", "-c", SANDBOX_MODE, "--", "true"],
                cwd=tmp,
                env=env,
                capture_output=True,
                text=True,
                timeout=timeout,
                stdin=subprocess.DEVNULL,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return False, f"could not run codex sandbox: {exc}"
        if ok.returncode != 0:
            tail = (ok.stderr or ok.stdout).strip().splitlines()[-1:] or ["no output"]
            return False, f"workspace-write sandbox failed (exit {ok.returncode}): {tail[0]}"
        # With the cockpit's confinement, neither the home directory nor a sibling under /tmp (where a
        # board may live) is writable; the scratch directory is.
        work, scratch = Path(tmp) / "work", Path(tmp) / SCRATCH_DIR
        work.mkdir()
        scratch.mkdir()
        outside = [Path.home() / f".cockpit-sandbox-probe-{Path(tmp).name}", Path(tmp) / "board-probe"]
        overrides = [arg for item in exec_overrides(scratch) for arg in ("-c", item)]
        script = "; ".join(f"echo x > {p}" for p in outside) + f"; echo x > {scratch / 'ok'}"
        try:
            subprocess.run(
                [str(codex), "sandbox", "-c", SANDBOX_MODE, *overrides, "--", "sh", "-c", script],
                cwd=work,
                env=env,
                capture_output=True,
                timeout=timeout,
                stdin=subprocess.DEVNULL,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return False, f"could not run codex sandbox: {exc}"
        leaked = [p for p in outside if p.exists()]
        for p in leaked:
            p.unlink()
        if leaked:
            return (
                False,
                f"workspace-write sandbox runs but does not confine writes ({leaked[0]} was written)",
            )
        if not (scratch / "ok").exists():
            return False, "workspace-write sandbox does not let a worker write its scratch directory"
    return True, "workspace-write sandbox runs commands and confines writes (no /tmp, no home)"
