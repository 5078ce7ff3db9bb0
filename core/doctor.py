"""``cockpit doctor``: checks the Codex binary and its version, whether the Codex sandbox works on this
machine, Claude Code and its version, git, the repository, and the project config — each with a
one-line verdict. A check is ok, a warning (``warning``: worth knowing, fails nothing) or a failure.

Claude Code only reviews: with ``[review] lanes`` non-empty (the default) a missing one is a warning
that names the lanes whose reviews will fail and the ways out; with review off its absence is only
said (an ok line)."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cockpit.core.board.blackboard import Blackboard
from cockpit.core.claude.binary import PINNED_VERSION as CLAUDE_PINNED_VERSION
from cockpit.core.claude.binary import PROJECT_ROOT, ClaudeNotFound, find_claude
from cockpit.core.codex.binary import PINNED_VERSION, CodexNotFound, find_codex
from cockpit.core.codex.sandbox import sandbox_works
from cockpit.core.config import ConfigError, ReviewConfig, UntrustedSetting, board_config

__all__ = ["Check", "run_checks", "sandbox_works"]


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    warning: bool = False  # not ok, yet nothing fails on it (doctor still exits 0)

    @property
    def fails(self) -> bool:
        return not self.ok and not self.warning


def claude_check(config_bin: str | None, repo: Path, review_lanes: Sequence[str] | None = None) -> Check:
    """Claude Code, found like Codex: where, and its version (another version is a warning). Missing,
    it is a warning while ``review_lanes`` (default: ``[review]``'s default lanes) is non-empty — their
    reviews would fail — and only said when review is off."""
    lanes = list(ReviewConfig().lanes if review_lanes is None else review_lanes)
    try:
        claude = find_claude(config_bin, repo)
        version = claude.version()
    except (ClaudeNotFound, OSError, subprocess.TimeoutExpired) as exc:
        if not lanes:
            return Check("claude", True, f"not needed: review is off ([review] lanes = []); {exc}")
        return Check(
            "claude",
            False,
            f"reviews of the {', '.join(lanes)} lane{'s' if len(lanes) > 1 else ''} will fail until Claude "
            f"Code is installed (`npm ci` in {PROJECT_ROOT}, COCKPIT_CLAUDE_BIN, or claude_bin in a trusted "
            f"config) or review is turned off ([review] lanes = []): {exc}",
            warning=True,
        )
    pinned = version == CLAUDE_PINNED_VERSION
    where = " ".join(claude.argv)
    return Check(
        "claude",
        pinned,
        f"{where} ({claude.source}) version {version}"
        + ("" if pinned else f"; the cockpit is pinned to {CLAUDE_PINNED_VERSION}"),
        warning=not pinned,
    )


def run_checks(repo: Path, *, check_sandbox: bool = True) -> list[Check]:
    checks: list[Check] = []
    board = Blackboard(repo)
    config_bin = claude_bin = None
    review_lanes: list[str] | None = None  # the default lanes when the config cannot be read
    try:
        config = board_config(board)
        for field, path in config.untrusted_settings.items():
            checks.append(Check("trust", False, str(UntrustedSetting(field, path))))
        config_bin = None if "codex_bin" in config.untrusted_settings else config.codex_bin
        claude_bin = None if "claude_bin" in config.untrusted_settings else config.claude_bin
        review_lanes = list(config.review.lanes)
        checks.append(
            Check(
                "config",
                True,
                f"{board.root / 'config.toml'}: max_workers={config.max_workers}, "
                f"run_timeout_s={config.run_timeout_s:.0f}",
            )
        )
    except ConfigError as exc:
        checks.append(Check("config", False, str(exc)))
    try:
        codex = find_codex(config_bin, repo)
        version = codex.version()
        pinned = version == PINNED_VERSION
        checks.append(
            Check(
                "codex",
                pinned,
                f"{codex.path} ({codex.source}) version {version}"
                + ("" if pinned else f"; the cockpit is pinned to {PINNED_VERSION}"),
            )
        )
        if check_sandbox:
            ok, detail = sandbox_works(codex.path)
            checks.append(Check("sandbox", ok, detail))
    except (CodexNotFound, OSError, subprocess.TimeoutExpired) as exc:
        checks.append(Check("codex", False, str(exc)))
    checks.append(claude_check(claude_bin, repo, review_lanes))
    try:
        git = subprocess.run(["git", "--version"], capture_output=True, text=True, timeout=10)
        checks.append(Check("git", git.returncode == 0, git.stdout.strip() or git.stderr.strip()))
    except OSError as exc:
        checks.append(Check("git", False, f"git not found: {exc}"))
    inside = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "--show-toplevel"], capture_output=True, text=True
    )
    if inside.returncode == 0:
        head = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "--abbrev-ref", "HEAD"], capture_output=True, text=True
        )
        checks.append(Check("repo", True, f"{inside.stdout.strip()} on {head.stdout.strip() or '?'}"))
    else:
        checks.append(Check("repo", False, f"{repo} is not inside a git repository"))
    pid = board.supervisor_pid() if board.exists else None
    checks.append(
        Check(
            "blackboard",
            True,
            (f"{board.root}" + (f"; supervisor pid {pid}" if pid else "; no supervisor"))
            if board.exists
            else f"{board.root} not initialised (cockpit init)",
        )
    )
    return checks
