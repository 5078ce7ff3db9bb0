"""Git operations for the worktree lane: worktree and branch per task, the cockpit's own commit of a
worker's result, diffs against the base commit, the pieces of a merge that never touches a checkout
until its last step, and removal.

Every command goes through :class:`cockpit.core.git.safe_command.Git` (hooks off, fsmonitor off, explicit git
dir and work tree). The user's branch is only ever written by the journaled merge
(:mod:`cockpit.core.merging`), and only after its checkout was found clean.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from cockpit.core.git.safe_command import COCKPIT_EMAIL, COCKPIT_NAME, DIFF_SAFE, Git, GitError, GitOpError
from cockpit.core.layout import WORKTREES_DIR

if TYPE_CHECKING:  # GitPython is imported when a repository is opened (a slow import nothing else needs)
    from git import Repo

COCKPIT_IDENTITY = f"{COCKPIT_NAME} <{COCKPIT_EMAIL}>"


@dataclass
class DiffSummary:
    files: int
    insertions: int
    deletions: int
    paths: list[str]


@dataclass
class CommitResult:
    """The cockpit's commit of a worktree: the new commit (None: nothing to commit) and the nested git
    repositories it left out (``sub/``: a worker's ``git init``, never committed)."""

    commit: str | None
    skipped_nested_repos: list[str] = field(default_factory=list)


@dataclass
class MergeResult:
    ok: bool
    commit: str | None = None
    conflicts: list[str] | None = None
    message: str = ""


@dataclass
class MergePlan:
    """A merge commit already written (no checkout touched) and where it has to land."""

    base_branch: str
    old: str  # the base branch's commit the merge was computed against
    new: str  # the merge commit
    checkout: Path | None  # the checkout that has the base branch checked out, if any


def open_repo(path: Path) -> Repo:
    from git import Repo

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


def main_git(repo: Repo | Path) -> Git:
    """The repository's own checkout (where the blackboard lives)."""
    path = repo if isinstance(repo, Path) else Path(repo.working_tree_dir or repo.git_dir)
    try:
        return Git.checkout(path)
    except GitError as exc:
        raise GitOpError(str(exc)) from exc


def _run(git: Git, *args: str) -> str:
    try:
        return git.out(*args)
    except GitError as exc:
        raise GitOpError(str(exc)) from exc


def create_worktree(repo: Repo, path: Path, branch: str, base_commit: str) -> None:
    if path.exists():
        if (path / ".git").exists():
            return  # resumed after a crash: the worktree is already there
        raise GitOpError(f"{path} exists and is not a worktree")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        main_git(repo).run("worktree", "add", "-b", branch, str(path), base_commit)
    except GitError as exc:
        raise GitOpError(f"git worktree add failed: {exc.stderr.strip()}") from exc


def add_detached_worktree(repo: Repo | Path, path: Path, commit: str) -> None:
    """A throw-away checkout of ``commit`` at ``path`` (which must not exist): detached, no branch, the
    user's checkout untouched. Removed with :func:`remove_worktree` (``branch=None``)."""
    if os.path.lexists(path):
        raise GitOpError(f"{path} already exists")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        main_git(repo).run("worktree", "add", "--detach", "--quiet", str(path), commit)
    except GitError as exc:
        raise GitOpError(f"git worktree add failed: {exc.stderr.strip()}") from exc


def worktree_git(worktree: Path) -> Git:
    try:
        return Git.checkout(worktree)
    except GitError as exc:
        raise GitOpError(str(exc)) from exc


def nested_repos(wt: Git) -> list[str]:
    """Untracked nested git repositories in a checkout (git lists them as ``dir/``), sorted."""
    out = _run(wt, "ls-files", "--others", "--exclude-standard", "-z")
    return sorted(p for p in out.split("\0") if p.endswith("/"))


def commit_all(worktree: Path, message: str) -> CommitResult:
    """Stage everything the worker left (new files too, nested repositories excluded) and commit it."""
    wt = worktree_git(worktree)
    nested = nested_repos(wt)
    excludes = [f":(exclude,literal){p.rstrip('/')}" for p in nested]
    _run(wt, "add", "-A", "--", ".", *excludes)
    staged = wt.run("diff", "--cached", "--quiet", *DIFF_SAFE, check=False)
    if staged.returncode == 0:
        return CommitResult(None, nested)
    _run(wt, "commit", "--no-verify", "--quiet", f"--author={COCKPIT_IDENTITY}", "-m", message)
    return CommitResult(_run(wt, "rev-parse", "HEAD"), nested)


def diff_against(worktree: Path, base_commit: str) -> tuple[str, DiffSummary]:
    """The full patch (binary-safe, new files included) of the worktree's HEAD against the base."""
    wt = worktree_git(worktree)
    patch = _run(wt, "diff", "--binary", "--no-color", *DIFF_SAFE, base_commit, "HEAD")
    numstat = _run(wt, "diff", "--numstat", *DIFF_SAFE, base_commit, "HEAD")
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


def worktree_for_branch(git: Git, branch: str) -> Path | None:
    """The checkout that has ``branch`` checked out, if any."""
    current: Path | None = None
    for line in _run(git, "worktree", "list", "--porcelain").splitlines():
        if line.startswith("worktree "):
            current = Path(line.split(" ", 1)[1])
        elif line == f"branch refs/heads/{branch}" and current is not None:
            return current
    return None


def plan_merge(repo: Repo | Path, branch: str, base_branch: str, message: str) -> MergePlan | MergeResult:
    """Write the merge commit of ``branch`` into ``base_branch`` without touching any checkout.

    A conflict comes back as a failed :class:`MergeResult` (nothing written but unreachable objects).
    Where the base branch is checked out, its tracked files must be clean and no untracked or ignored
    file may be in the way of an incoming path; otherwise :class:`GitOpError` and nothing is touched.
    """
    git = main_git(repo)
    old = git.rev(f"refs/heads/{base_branch}")
    if old is None:
        raise GitOpError(f"base branch {base_branch!r} no longer exists")
    theirs = git.rev(f"refs/heads/{branch}")
    if theirs is None:
        raise GitOpError(f"task branch {branch!r} no longer exists")
    target = worktree_for_branch(git, base_branch)
    if target is not None:
        check_checkout_clean(worktree_git(target), base_branch, target)
    proc = git.run("merge-tree", "--write-tree", "--name-only", "--no-messages", old, theirs, check=False)
    lines = proc.stdout.splitlines()
    if proc.returncode == 1:
        return MergeResult(False, conflicts=sorted(set(lines[1:])), message="conflict")
    if proc.returncode != 0 or not lines:
        raise GitOpError(f"git merge-tree failed: {proc.stderr.strip()}")
    tree = lines[0].strip()
    new = _run(git, "commit-tree", tree, "-p", old, "-p", theirs, "-m", message)
    if target is not None:
        check_nothing_in_the_way(worktree_git(target), old, new, target)
    return MergePlan(base_branch, old, new, target)


def check_checkout_clean(wt: Git, base_branch: str, where: Path) -> None:
    status = _run(wt, "status", "--porcelain=v1", "-z", "--untracked-files=no", "--ignore-submodules=none")
    changed = sorted({entry[3:] for entry in status.split("\0") if len(entry) > 3 and entry[2] == " "})
    if status.strip("\0"):
        raise GitOpError(
            f"refusing to merge: {base_branch} has uncommitted changes in {where} "
            f"({', '.join(changed[:5])}); commit or stash them first"
        )


def check_nothing_in_the_way(wt: Git, old: str, new: str, where: Path) -> None:
    """Refuse when a file the merge adds exists on disk untracked (or ignored), or sits below one."""
    added = _run(wt, "diff", "--name-only", "-z", "--no-renames", "--diff-filter=A", *DIFF_SAFE, old, new)
    blocking: set[str] = set()
    parents: set[str] = set()
    for path in filter(None, added.split("\0")):
        if os.path.lexists(where / path):
            blocking.add(path)
        parts = path.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            prefix = "/".join(parts[:i])
            full = where / prefix
            if os.path.lexists(full) and (full.is_symlink() or not full.is_dir()):
                parents.add(prefix)
    if parents:  # a file where the merge needs a directory: in the way unless the merge replaces it
        tracked = _run(wt, "ls-tree", "--name-only", "-z", old, "--", *sorted(parents)).split("\0")
        blocking |= parents - set(tracked)
    if blocking:
        raise GitOpError(
            f"refusing to merge: untracked files in {where} would be overwritten: "
            f"{', '.join(sorted(blocking)[:5])}"
        )


def checkout_merge(wt: Git, old: str, new: str) -> None:
    """Move a clean checkout's index and files from ``old`` to ``new`` (refuses local changes)."""
    wt.run("update-index", "-q", "--refresh", check=False)  # touched-but-unchanged files are not changes
    _run(wt, "read-tree", "-m", "-u", old, new)


def checkout_reset(wt: Git, commit: str) -> None:
    """Force a checkout's index and tracked files to ``commit`` (used by recovery after a crash)."""
    _run(wt, "read-tree", "--reset", "-u", commit)


def reset_to(worktree: Path, commit: str) -> None:
    """Put a task's own worktree back at ``commit``: its branch, index and files, untracked files gone
    (the cloud lane, before applying another attempt's diff). Never used on the user's checkout."""
    wt = worktree_git(worktree)
    _run(wt, "reset", "--quiet", "--hard", commit)
    _run(wt, "clean", "-fdxq")


_APPLY_FAILED = re.compile(
    r"^error: (?:patch failed: (.+?):\d+|(.+?): (?:does not exist in index|"
    r"already exists in (?:index|working directory)|does not match index|"
    r"patch does not apply))$",
    re.M,
)


def apply_patch(worktree: Path, patch: str) -> list[str]:
    """Apply a patch to a task's own worktree, 3-way where it does not apply as is, result staged (what
    ``codex cloud apply`` does, through the cockpit's safe git). Returns the files that conflicted or
    did not apply ([] when it applied cleanly); a conflicted file is left with its conflict markers.
    git refuses paths outside the worktree or inside ``.git``."""
    wt = worktree_git(worktree)
    done = wt.run("apply", "--3way", "--index", "--whitespace=nowarn", "-", input=patch, check=False)
    if done.returncode == 0:
        return []
    unmerged = _run(wt, "diff", "--name-only", "--diff-filter=U", *DIFF_SAFE)
    files = [p for p in unmerged.splitlines() if p]
    if not files:
        files = [a or b for a, b in _APPLY_FAILED.findall(done.stderr)]
    if not files:
        raise GitOpError(f"git apply failed: {done.stderr.strip()[:300] or f'exit {done.returncode}'}")
    return sorted(set(files))


def move_branch(git: Git, base_branch: str, new: str, old: str, message: str) -> None:
    """Compare-and-swap ``refs/heads/<base_branch>`` from ``old`` to ``new``."""
    _run(git, "update-ref", "-m", message, f"refs/heads/{base_branch}", new, old)


def remove_worktree(repo: Repo | Path, path: Path, branch: str | None, *, force_branch: bool = True) -> None:
    """Remove a task's worktree and branch; tolerant of either being gone already."""
    git = main_git(repo)
    if path.exists() and git.run("worktree", "remove", "--force", str(path), check=False).returncode != 0:
        shutil.rmtree(path, ignore_errors=True)
    git.run("worktree", "prune", check=False)
    if branch and git.rev(f"refs/heads/{branch}") is not None:
        _run(git, "branch", "-D" if force_branch else "-d", branch)


def clear_stale_index_locks(repo: Repo | Path, worktrees: list[Path]) -> list[Path]:
    """Remove ``index.lock`` in the admin dirs of the given task worktrees (only safe while the caller
    holds the supervisor lock, so no other cockpit process runs git there); returns what was removed.
    A worktree's ``.git`` pointer is written inside the worktree, where its worker could change it: a
    lock is removed only in an admin dir of this repository (``<git dir>/worktrees/<name>``)."""
    main = main_git(repo)
    admin = (main.common_dir / WORKTREES_DIR).resolve()
    removed: list[Path] = []
    for worktree in worktrees:
        try:
            git_dir = worktree_git(worktree).git_dir
        except GitOpError:
            continue
        if git_dir.parent != admin:
            continue
        lock = git_dir / "index.lock"
        try:
            lock.unlink()
        except FileNotFoundError:
            continue
        except OSError:
            continue
        removed.append(lock)
    main.run("worktree", "prune", check=False)
    return removed
