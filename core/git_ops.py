"""Git operations for the worktree lane (GitPython): worktree and branch per task, the cockpit's own
commit of a worker's result, diffs against the base commit, merge into the base branch, and removal.

The user's branch is only ever written by :func:`merge_task_branch`, and only when its working tree
is clean; a conflict is aborted so nothing is left half-merged.
"""

from __future__ import annotations

import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

from git import Actor, GitCommandError, Repo

COCKPIT_ACTOR = Actor("Codex Cockpit", "cockpit@localhost")


class GitOpError(RuntimeError):
    """A git operation the cockpit refused or could not complete; nothing was changed."""


@dataclass
class DiffSummary:
    files: int
    insertions: int
    deletions: int
    paths: list[str]


@dataclass
class MergeResult:
    ok: bool
    commit: str | None = None
    conflicts: list[str] | None = None
    message: str = ""


def open_repo(path: Path) -> Repo:
    try:
        return Repo(path, search_parent_directories=False)
    except Exception as exc:  # GitPython raises several unrelated types here
        raise GitOpError(f"{path} is not a git repository: {exc}") from exc


def current_branch(repo: Repo) -> str | None:
    try:
        return repo.active_branch.name
    except TypeError:  # detached HEAD
        return None


def head_commit(repo: Repo) -> str:
    try:
        return repo.head.commit.hexsha
    except ValueError as exc:
        raise GitOpError("the repository has no commits yet; commit something first") from exc


def task_branch(task_id: str) -> str:
    return f"cockpit/{task_id}"


def create_worktree(repo: Repo, path: Path, branch: str, base_commit: str) -> None:
    if path.exists():
        if (path / ".git").exists():
            return  # resumed after a crash: the worktree is already there
        raise GitOpError(f"{path} exists and is not a worktree")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        repo.git.worktree("add", "-b", branch, str(path), base_commit)
    except GitCommandError as exc:
        raise GitOpError(f"git worktree add failed: {exc.stderr.strip()}") from exc


def commit_all(worktree: Path, message: str) -> str | None:
    """Stage everything the worker left (new files too) and commit it; None when there is nothing."""
    wt = Repo(worktree)
    wt.git.add("-A")
    if not wt.git.diff("--cached", "--name-only").strip():
        return None
    wt.git.commit(
        "-m",
        message,
        "--no-verify",
        author=f"{COCKPIT_ACTOR.name} <{COCKPIT_ACTOR.email}>",
        env={"GIT_COMMITTER_NAME": COCKPIT_ACTOR.name, "GIT_COMMITTER_EMAIL": COCKPIT_ACTOR.email},
    )
    return wt.head.commit.hexsha


def diff_against(worktree: Path, base_commit: str) -> tuple[str, DiffSummary]:
    """The full patch (binary-safe, new files included) of the worktree's HEAD against the base."""
    wt = Repo(worktree)
    patch = wt.git.diff("--binary", "--no-color", "--no-ext-diff", base_commit, "HEAD")
    numstat = wt.git.diff("--numstat", base_commit, "HEAD")
    ins = dels = 0
    paths: list[str] = []
    for line in numstat.splitlines():
        parts = line.split("\t", 2)
        if len(parts) != 3:
            continue
        a, d, p = parts
        ins += int(a) if a.isdigit() else 0
        dels += int(d) if d.isdigit() else 0
        paths.append(p)
    return (patch + "\n" if patch else ""), DiffSummary(len(paths), ins, dels, paths)


def _worktree_for_branch(repo: Repo, branch: str) -> Path | None:
    current: Path | None = None
    for line in repo.git.worktree("list", "--porcelain").splitlines():
        if line.startswith("worktree "):
            current = Path(line.split(" ", 1)[1])
        elif line == f"branch refs/heads/{branch}" and current is not None:
            return current
    return None


def merge_task_branch(repo: Repo, branch: str, base_branch: str, message: str, scratch: Path) -> MergeResult:
    """Merge ``branch`` into ``base_branch`` with a merge commit.

    Where the base branch is checked out, its working tree must be clean (tracked files unchanged, no
    untracked file in the way), else the merge is refused and nothing is touched. Where it is not
    checked out, the merge happens in a scratch worktree and the branch ref moves only on success.
    A conflict is aborted cleanly.
    """
    if base_branch not in [h.name for h in repo.heads]:
        raise GitOpError(f"base branch {base_branch!r} no longer exists")
    target = _worktree_for_branch(repo, base_branch)
    if target is not None:
        wt = Repo(target)
        if wt.is_dirty(index=True, working_tree=True, untracked_files=False):
            changed = [d.a_path for d in wt.index.diff(None)] + [d.a_path for d in wt.index.diff("HEAD")]
            raise GitOpError(
                f"refusing to merge: {base_branch} has uncommitted changes in {target} "
                f"({', '.join(sorted(set(changed))[:5])}); commit or stash them first"
            )
        incoming = set(repo.git.diff("--name-only", f"{base_branch}...{branch}").splitlines())
        blocking = sorted(incoming & set(wt.untracked_files))
        if blocking:
            raise GitOpError(
                f"refusing to merge: untracked files in {target} would be overwritten: "
                f"{', '.join(blocking[:5])}"
            )
        return _merge_in(wt, branch, message)
    # Base branch not checked out: merge in a scratch worktree, then move the ref (compare-and-swap).
    old = repo.heads[base_branch].commit.hexsha
    path = scratch / f"merge-{secrets.token_hex(4)}"
    repo.git.worktree("add", "--detach", str(path), old)
    try:
        result = _merge_in(Repo(path), branch, message)
        if result.ok and result.commit:
            repo.git.update_ref(f"refs/heads/{base_branch}", result.commit, old)
        return result
    finally:
        repo.git.worktree("remove", "--force", str(path))


def _merge_in(wt: Repo, branch: str, message: str) -> MergeResult:
    env = {
        "GIT_COMMITTER_NAME": COCKPIT_ACTOR.name,
        "GIT_COMMITTER_EMAIL": COCKPIT_ACTOR.email,
        "GIT_AUTHOR_NAME": COCKPIT_ACTOR.name,
        "GIT_AUTHOR_EMAIL": COCKPIT_ACTOR.email,
    }
    try:
        wt.git.merge("--no-ff", "--no-edit", "-m", message, branch, env=env)
    except GitCommandError as exc:
        conflicts = sorted(set(wt.git.diff("--name-only", "--diff-filter=U").splitlines()))
        try:
            wt.git.merge("--abort")
        except GitCommandError:
            wt.git.reset("--merge")
        return MergeResult(False, conflicts=conflicts, message=(exc.stderr or exc.stdout or "").strip())
    return MergeResult(True, commit=wt.head.commit.hexsha, message="merged")


def remove_worktree(repo: Repo, path: Path, branch: str | None, *, force_branch: bool = True) -> None:
    """Remove a task's worktree and branch; tolerant of either being gone already."""
    if path.exists():
        try:
            repo.git.worktree("remove", "--force", str(path))
        except GitCommandError:
            shutil.rmtree(path, ignore_errors=True)
    repo.git.worktree("prune")
    if branch and branch in [h.name for h in repo.heads]:
        repo.git.branch("-D" if force_branch else "-d", branch)
