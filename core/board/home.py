"""Where a repository's blackboard lives: inside the repository's git directory, out of every worker's reach.

Codex's ``workspace-write`` sandbox makes the worker's directory writable but keeps its ``.git`` (and
``.codex``) read-only, and the cockpit excludes ``/tmp`` and ``$TMPDIR`` from every worker's writable
roots (see :mod:`cockpit.core.codex.confinement`). So the board — config, inbox, decisions, state, specs,
ledger, and the task worktrees themselves — lives at ``<git dir>/cockpit``:

- the main working tree: ``<repo>/.git/cockpit``;
- a linked worktree of the user's: its own git dir (``<common>/worktrees/<name>/cockpit``), so two
  checkouts never share a board;
- a directory that is not the top of a git working tree: the user's state directory
  (``$XDG_STATE_HOME/cockpit/boards/<name>-<digest>``), which no sandbox can write either.

A git directory is never cloned or checked out, so a repository cannot ship a board. The git dir is
found by reading ``.git`` (a directory, or a ``gitdir:`` file), never by running git in the repo.

Boards from earlier versions lived in ``<repo>/.cockpit`` — writable by a local-lane worker.
:func:`migrate_legacy_board` moves such a board once, when nothing runs on it, unless git tracks it (a
tracked ``.cockpit/`` came with the repository and is never adopted).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

from cockpit.core.errors import RefusedError
from cockpit.core.layout import EXIT_FILE, LOCK_FILE, TASKS_DIR, WORKTREES_DIR

BOARD_DIR_NAME = "cockpit"
LEGACY_BOARD_DIR = ".cockpit"


class BoardMoveRefused(RefusedError, RuntimeError):
    """The legacy board cannot be moved now (something still runs on it); nothing was changed."""


def git_dir_of(repo: Path) -> Path | None:
    """The git directory of the working tree whose top is ``repo``, or None when ``repo`` is not one."""
    dot_git = repo / ".git"
    if dot_git.is_dir():
        return dot_git
    if dot_git.is_file():
        try:
            text = dot_git.read_text(encoding="utf-8", errors="replace").strip()
        except OSError:
            return None
        if text.startswith("gitdir:"):
            target = Path(text.split(":", 1)[1].strip())
            target = target if target.is_absolute() else (repo / target)
            target = Path(os.path.normpath(target))
            if target.is_dir():
                return target
    return None


def common_git_dir(git_dir: Path) -> Path:
    """The common git directory (refs, objects, ``info/exclude``) behind a (possibly linked) git dir."""
    pointer = git_dir / "commondir"
    if pointer.is_file():
        try:
            rel = pointer.read_text(encoding="utf-8").strip()
        except OSError:
            return git_dir
        common = Path(rel) if Path(rel).is_absolute() else git_dir / rel
        return Path(os.path.normpath(common))
    return git_dir


def state_home() -> Path:
    base = os.environ.get("XDG_STATE_HOME")
    return Path(base) if base and os.path.isabs(base) else Path.home() / ".local" / "state"


def board_root_for(repo: Path) -> Path:
    """The blackboard directory of ``repo`` (already resolved)."""
    git_dir = git_dir_of(repo)
    if git_dir is not None:
        return git_dir / BOARD_DIR_NAME
    digest = hashlib.sha256(str(repo).encode()).hexdigest()[:12]
    name = "".join(c if c.isalnum() or c in "-_." else "-" for c in repo.name)[:40] or "root"
    return state_home() / "cockpit" / "boards" / f"{name}-{digest}"


# ---- the move from <repo>/.cockpit ------------------------------------------------------------------


def legacy_board(repo: Path) -> Path | None:
    """``<repo>/.cockpit`` when it holds a board from an earlier version (and is a real directory)."""
    old = repo / LEGACY_BOARD_DIR
    if old.is_symlink() or not (old / TASKS_DIR).is_dir():
        return None
    return old


def tracked_by_git(repo: Path, rel: str) -> bool:
    """Whether git's index lists anything under ``rel`` (read-only plumbing; no hooks, no fsmonitor)."""
    try:
        out = subprocess.run(
            ["git", "-c", "core.fsmonitor=false", "-C", str(repo), "ls-files", "-z", "--", rel],
            capture_output=True,
            timeout=30,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "GIT_TERMINAL_PROMPT": "0"},
        )
    except (OSError, subprocess.TimeoutExpired):
        return True  # cannot tell: do not adopt it
    return out.returncode != 0 or bool(out.stdout.strip(b"\0"))


def _lock_held(lock_path: Path) -> bool:
    try:
        fd = os.open(lock_path, os.O_RDWR)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def _live_runners(board: Path) -> list[str]:
    """Task ids whose runner (recorded in an attempt's ``pid.json``) is still alive."""
    live: list[str] = []
    for pid_file in board.glob("tasks/*/attempts/*/pid.json"):
        try:
            data = json.loads(pid_file.read_text())
            pids = [int(v) for k, v in data.items() if k.endswith("pid") and isinstance(v, int)]
        except (OSError, ValueError, AttributeError):
            continue
        if (pid_file.parent / EXIT_FILE).exists():
            continue
        for pid in pids:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                continue
            except PermissionError:
                pass
            live.append(pid_file.parts[-4])
            break
    return live


def migrate_legacy_board(repo: Path, root: Path) -> bool:
    """Move ``<repo>/.cockpit`` to ``root`` when ``root`` has no board yet. Returns True if moved.

    Refused (raising :class:`BoardMoveRefused`, nothing changed) while a supervisor holds the old board's
    lock or a runner of it is alive. A ``.cockpit/`` that git tracks is left alone and not adopted.
    Worktrees move with the board; git's records of them are repaired and ``state.json`` paths follow.
    """
    old = legacy_board(repo)
    if old is None or (root / TASKS_DIR).is_dir() or git_dir_of(repo) is None:
        return False
    if tracked_by_git(repo, LEGACY_BOARD_DIR):
        return False
    if _lock_held(old / LOCK_FILE):
        raise BoardMoveRefused(
            f"the board moves from {old} to {root}, but a supervisor still runs on it; "
            "stop it (q in the cockpit, or end `cockpit run`) and start again"
        )
    live = _live_runners(old)
    if live:
        raise BoardMoveRefused(
            f"the board moves from {old} to {root} once its workers have finished "
            f"(still running: {', '.join(live[:3])}); run an older cockpit until then, or cancel them"
        )
    root.parent.mkdir(parents=True, exist_ok=True)
    if root.exists():
        root.rmdir()  # an empty leftover only: a non-empty one raises and nothing moves
    try:
        os.rename(old, root)
    except OSError:
        staging = root.with_name(root.name + ".moving")
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(old, staging, symlinks=True)
        os.rename(staging, root)
        shutil.rmtree(old)
    _repoint(repo, old, root)
    return True


def _repoint(repo: Path, old: Path, new: Path) -> None:
    """After the move: git's worktree records and the tasks' ``worktree`` paths name the new place."""
    moved = sorted(p for p in (new / WORKTREES_DIR).glob("*") if (p / ".git").is_file())
    if moved:
        subprocess.run(
            [
                "git",
                "-c",
                "core.hooksPath=/dev/null",
                "-C",
                str(repo),
                "worktree",
                "repair",
                *map(str, moved),
            ],
            capture_output=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
    prefix = str(old) + os.sep
    for state_file in new.glob("tasks/*/state.json"):
        try:
            data = json.loads(state_file.read_text())
        except (OSError, ValueError):
            continue
        path = data.get("worktree") if isinstance(data, dict) else None
        if isinstance(path, str) and path.startswith(prefix):
            data["worktree"] = str(new) + os.sep + path[len(prefix) :]
            tmp = state_file.with_name(".state.json.moving")
            tmp.write_text(json.dumps(data, indent=2))
            os.replace(tmp, state_file)
