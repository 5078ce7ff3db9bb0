"""What a worker may write: its directory and a scratch directory of its own — never what the cockpit trusts.

Codex's ``workspace-write`` sandbox (bubblewrap on Linux) mounts everything read-only except its
writable roots: the working directory (with its ``.git`` and ``.codex`` read-only inside), ``/tmp``,
``$TMPDIR`` and any ``sandbox_workspace_write.writable_roots``. ``/tmp`` and ``$TMPDIR`` are excluded for
every cockpit worker: a board, a user's config or a whole repository may live under them (tests and
throwaway clones do). Instead each attempt gets a private scratch directory on the board, passed as its
only extra writable root and as ``TMPDIR``, and removed when the attempt ends.

:func:`confinement_problem` checks, before a worker starts, that none of the places the supervisor
trusts — the board, the user's cockpit config and trust records, the cockpit's own installation and the
Codex binary — lies inside a root the worker can write.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from cockpit.core.trust import user_config_dir

READ_ONLY_INSIDE_ROOTS = (".git", ".codex")
"""Subpaths Codex keeps read-only inside each writable root (verified against the real binary)."""


def exec_overrides(scratch: Path) -> tuple[str, ...]:
    """``-c`` overrides for ``codex exec``: no ``/tmp``, no inherited ``$TMPDIR``, the scratch dir."""
    return (
        "sandbox_workspace_write.exclude_slash_tmp=true",
        "sandbox_workspace_write.exclude_tmpdir_env_var=true",
        f"sandbox_workspace_write.writable_roots=[{json.dumps(str(scratch))}]",
    )


def thread_config(scratch: Path, *, network: bool = False) -> dict[str, object]:
    """The same overrides as a config object for the app-server's ``thread/start``."""
    table: dict[str, object] = {
        "exclude_slash_tmp": True,
        "exclude_tmpdir_env_var": True,
        "writable_roots": [str(scratch)],
    }
    if network:
        table["network_access"] = True
    return {"sandbox_workspace_write": table}


def trusted_places(board_root: Path, codex: Path | None = None) -> list[Path]:
    """Everything the supervisor acts on or runs, which no worker may be able to write."""
    places = [
        board_root,
        user_config_dir(),
        Path(sys.prefix),
        Path(__file__).resolve().parents[2],  # the cockpit's own code (core/codex/confinement.py)
    ]
    if codex is not None:
        places.append(codex)
    return places


def _within(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
    except ValueError:
        return False
    return True


def confinement_problem(writable_roots: list[Path], trusted: list[Path]) -> str | None:
    """One line saying which trusted place a worker with these writable roots could change, or None."""
    roots = [Path(os.path.realpath(r)) for r in writable_roots]
    for place in trusted:
        real = Path(os.path.realpath(place))
        for root in roots:
            if not _within(real, root):
                continue
            if any(_within(real, root / name) for name in READ_ONLY_INSIDE_ROOTS):
                continue  # Codex mounts these read-only inside the root
            return (
                f"refusing to start a worker that could write {real}: it lies inside {root}, "
                "which the worker may change (move it out of the working tree, or use the worktree lane)"
            )
    return None
