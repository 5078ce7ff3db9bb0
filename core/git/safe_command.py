"""Builds and runs every git command the cockpit runs, so none of them runs code from a worktree.

A worker can write anything inside its worktree, including the directory a relative ``core.hooksPath``
points at. Every invocation built here therefore carries ``-c core.hooksPath=<an empty directory the
cockpit owns>`` (inside the repository's common git dir, which workers cannot write) and
``-c core.fsmonitor=false``, never prompts (``GIT_TERMINAL_PROMPT=0``), ignores git variables inherited
from the caller's environment, names its repository explicitly (``--git-dir``/``--work-tree``) instead
of trusting discovery, and commits as the cockpit. A git child dies with the cockpit
(``PR_SET_PDEATHSIG``), so a crash never leaves a git command running on behind recovery's back.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from cockpit.core.errors import RefusedError
from cockpit.core.processes import die_with_parent

COCKPIT_NAME = "Codex Cockpit"
COCKPIT_EMAIL = "cockpit@localhost"
NO_HOOKS_DIR = "cockpit-no-hooks"
DIFF_SAFE = ("--no-ext-diff", "--no-textconv")  # for every diff: no external or textconv drivers

# Variables that would point git somewhere else than the repository named on the command line.
_INHERITED_GIT_VARS = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_COMMON_DIR",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_NAMESPACE",
    "GIT_CEILING_DIRECTORIES",
    "GIT_EXTERNAL_DIFF",
    "GIT_CONFIG_PARAMETERS",
    "GIT_CONFIG_COUNT",
)


class GitOpError(RefusedError, RuntimeError):
    """A git operation the cockpit refused or could not complete; nothing was changed."""


class GitError(GitOpError):
    """A git command exited non-zero; ``stderr`` holds what it said."""

    def __init__(self, args: list[str], code: int, stdout: str, stderr: str) -> None:
        detail = stderr.strip() or stdout.strip() or f"exit {code}"
        super().__init__(f"git {' '.join(args[:3])}: {detail}")
        self.args_ = args
        self.code = code
        self.stdout = stdout
        self.stderr = stderr


def git_dir_of(checkout: Path) -> Path:
    """The git dir of a checkout: ``.git`` itself, or where a linked worktree's ``.git`` file points."""
    dot = checkout / ".git"
    if dot.is_dir():
        return dot.resolve()
    try:
        text = dot.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise GitError(["rev-parse"], 128, "", f"{checkout} is not a git checkout: {exc}") from exc
    if not text.startswith("gitdir:"):
        raise GitError(["rev-parse"], 128, "", f"{dot} is not a gitdir pointer")
    return (checkout / text.split(":", 1)[1].strip()).resolve()


def head_branch(checkout: Path) -> str | None:
    """The branch checked out at ``checkout`` (read from its ``HEAD``, no git process), None when ``HEAD``
    is detached; raises :class:`GitOpError` when ``checkout`` is not the top of a git checkout."""
    head = git_dir_of(checkout) / "HEAD"
    try:
        text = head.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise GitOpError(f"{checkout}: unreadable HEAD: {exc}") from exc
    ref = text.removeprefix("ref:").strip() if text.startswith("ref:") else None
    return ref.removeprefix("refs/heads/") if ref and ref.startswith("refs/heads/") else None


def common_dir_of(git_dir: Path) -> Path:
    """The repository's common dir (objects, refs, config) for a git dir, linked worktrees included."""
    pointer = git_dir / "commondir"
    if pointer.is_file():
        return (git_dir / pointer.read_text(encoding="utf-8").strip()).resolve()
    return git_dir


def no_hooks_dir(common_dir: Path) -> Path:
    """An empty directory inside the common git dir for ``core.hooksPath``; emptied again if needed."""
    path = common_dir / NO_HOOKS_DIR
    try:
        path.mkdir(mode=0o700, exist_ok=True)
        if any(path.iterdir()):
            shutil.rmtree(path)
            path.mkdir(mode=0o700)
    except OSError as exc:
        raise GitError(["config"], 128, "", f"cannot prepare {path}: {exc}") from exc
    if not path.is_dir() or path.is_symlink() or any(path.iterdir()):
        raise GitError(["config"], 128, "", f"{path} is not an empty directory")
    return path


def git_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a git child: no prompts, no inherited redirections, the cockpit's identity."""
    env = {k: v for k, v in os.environ.items() if k not in _INHERITED_GIT_VARS}
    env.update(
        {
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_AUTHOR_NAME": COCKPIT_NAME,
            "GIT_AUTHOR_EMAIL": COCKPIT_EMAIL,
            "GIT_COMMITTER_NAME": COCKPIT_NAME,
            "GIT_COMMITTER_EMAIL": COCKPIT_EMAIL,
            "LC_ALL": "C",
        }
    )
    if extra:
        env.update(extra)
    return env


@dataclass(frozen=True)
class Git:
    """One repository (and optionally one checkout of it) that commands run against."""

    git_dir: Path
    work_tree: Path | None = None

    @classmethod
    def checkout(cls, path: Path) -> Git:
        """A checkout (the main one or a linked worktree) with its own git dir."""
        return cls(git_dir_of(path), path.resolve())

    @property
    def common_dir(self) -> Path:
        return common_dir_of(self.git_dir)

    def argv(self, *args: str, hooks: bool = False) -> list[str]:
        """The full command line; ``hooks=True`` leaves the user's hook configuration in force."""
        argv = ["git", f"--git-dir={self.git_dir}"]
        if self.work_tree is not None:
            argv.append(f"--work-tree={self.work_tree}")
        if not hooks:
            argv += ["-c", f"core.hooksPath={no_hooks_dir(self.common_dir)}"]
        argv += ["-c", "core.fsmonitor=false", *args]
        return argv

    def run(
        self,
        *args: str,
        check: bool = True,
        hooks: bool = False,
        env: dict[str, str] | None = None,
        input: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run git here (cwd: the work tree, else the git dir); raises :class:`GitError` when ``check``."""
        cwd = self.work_tree if self.work_tree is not None else self.git_dir
        proc = subprocess.run(
            self.argv(*args, hooks=hooks),
            cwd=cwd,
            env=git_env(env),
            input=input,
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="surrogateescape",
            stdin=None if input is not None else subprocess.DEVNULL,
            preexec_fn=die_with_parent(os.getpid()),
        )
        if check and proc.returncode != 0:
            raise GitError(list(args), proc.returncode, proc.stdout, proc.stderr)
        return proc

    def out(self, *args: str) -> str:
        """Stdout of a command that must succeed, without its trailing newline."""
        return self.run(*args).stdout.rstrip("\n")

    def rev(self, ref: str) -> str | None:
        """The commit ``ref`` names, or None when it names nothing."""
        proc = self.run("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False)
        return proc.stdout.strip() or None if proc.returncode == 0 else None
