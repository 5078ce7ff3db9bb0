"""Throwaway git repositories for the demo and the tests: a tiny Python project with one commit."""

from __future__ import annotations

from pathlib import Path

from git import Repo

CALC = "def add(a, b):\n    return a + b\n"
README = "# calc\n\nA tiny module the demo's workers improve.\n"


DEMO_BOARD_CONFIG = (
    "# The worktree lane's results are reviewed by another model family: the real Claude Code, which the\n"
    "# demo points at its scripted Messages API server. Only the reviewed demo task asks for it; the\n"
    "# other worktree tasks' envelopes say review = false.\n"
    "[review]\n"
    'lanes = ["worktree"]\n'
    "reviewer_timeout_s = 120\n"
    "evidence_timeout_s = 60\n"
)
"""The demo board's own ``config.toml`` (the cloud demo adds its ``[cloud]`` tables after it)."""


def write_demo_config(root: Path) -> Path:
    """Write :data:`DEMO_BOARD_CONFIG` as the ``config.toml`` of the board at ``root``."""
    path = root / "config.toml"
    path.write_text(DEMO_BOARD_CONFIG, encoding="utf-8")
    return path


def make_demo_repo(path: Path, branch: str = "main") -> Repo:
    """Create ``path`` as a git repo on ``branch`` with ``calc.py`` and ``README.md`` committed."""
    path.mkdir(parents=True, exist_ok=True)
    repo = Repo.init(path, initial_branch=branch)
    with repo.config_writer() as cw:
        cw.set_value("user", "name", "Demo User")
        cw.set_value("user", "email", "demo@example.invalid")
        cw.set_value("commit", "gpgsign", "false")
    (path / "calc.py").write_text(CALC)
    (path / "README.md").write_text(README)
    repo.index.add(["calc.py", "README.md"])
    repo.index.commit("initial commit")
    return repo
