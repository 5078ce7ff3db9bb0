"""Where the cockpit finds a program it runs (the Codex CLI, Claude Code), and the version it reports.

One search order for every such program (:func:`find_program`): the environment variable that names it
(``COCKPIT_CODEX_BIN``, ``COCKPIT_CLAUDE_BIN``), its ``*_bin`` setting from a trusted config (the caller
passes only a trusted value), the pinned npm package in the cockpit's own ``node_modules``, then
``PATH``. Nothing inside the repository's working tree is found implicitly (:func:`inside`): a local-lane
worker can write there. What differs from one program to the next — where its package keeps the
executable, how a file the user names is run — each family's finder supplies
(:mod:`cockpit.core.codex.binary`, :mod:`cockpit.core.claude.binary`).

Standard library only: a leaf below the program families.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, Protocol, TypeVar

__all__ = ["PROJECT_ROOT", "Found", "Program", "find_program", "inside", "parse_version", "reported_version"]

PROJECT_ROOT = Path(__file__).resolve().parents[1]  # core/programs.py → the project (its node_modules)
_VERSION = re.compile(r"\b(\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.-]+)?)\b")


class Found(Protocol):
    """A program found: at least the executable (or script) it runs."""

    @property
    def path(self) -> Path: ...


FoundT = TypeVar("FoundT", bound=Found)


@dataclass(frozen=True)
class Program(Generic[FoundT]):
    """One program as the search knows it: its names (in the not-found message, on ``PATH``, of its
    variable and setting), its pinned npm package, and its family's two ways of making a found one:
    ``installed(node_modules)``, what the pinned package put there (None: not there), and
    ``named(path, source)``, a file the user named (``source`` ``env`` or ``config``) or ``PATH`` gave
    (``path``), None when it cannot be run. A search that finds nothing raises ``not_found(message)``."""

    name: str  # in messages: "Codex CLI", "Claude Code"
    command: str  # its name on PATH
    env_var: str  # the variable that names it: COCKPIT_CODEX_BIN
    setting: str  # its config setting: codex_bin
    package: str  # the npm package the project pins: @openai/codex
    pinned: str  # the pinned version
    installed: Callable[[Path], FoundT | None]
    named: Callable[[Path, str], FoundT | None]
    not_found: Callable[[str], Exception]


def inside(path: Path, repo: Path | None) -> bool:
    """Whether ``path`` (resolved) lies in ``repo``'s working tree, where a local-lane worker writes."""
    if repo is None:
        return False
    try:
        path.resolve().relative_to(repo.resolve())
    except ValueError:
        return False
    return True


def find_program(
    program: Program[FoundT], config_bin: str | None, repo: Path | None, node_modules: Path
) -> FoundT:
    """The program, searched in the order of the module docstring (``config_bin`` from a trusted config,
    ``node_modules`` the cockpit's own, never a repository's); else ``program.not_found`` is raised with
    a message naming every place looked at and the fix."""
    looked: list[str] = []
    for source, given, label in (
        ("env", os.environ.get(program.env_var), program.env_var),
        ("config", config_bin, f"config {program.setting}"),
    ):
        if not given:
            continue
        found = program.named(Path(given).expanduser(), source)
        if found is not None:
            return found
        looked.append(f"{label}={given} (missing)")
    found = program.installed(node_modules)
    if found is not None and not inside(found.path, repo):
        return found
    looked.append(f"{node_modules}" + (" (inside the repository: refused)" if found is not None else ""))
    on_path = shutil.which(program.command)
    if on_path and not inside(Path(on_path), repo):
        found = program.named(Path(on_path), "path")
        if found is not None:
            return found
    looked.append("PATH")
    raise program.not_found(
        f"{program.name} not found (looked at: " + "; ".join(looked) + "). Run `npm ci` in the project "
        f"to install the pinned {program.package}@{program.pinned}, or set {program.env_var}."
    )


def parse_version(text: str) -> str:
    """The first ``x.y.z`` (with a pre-release or build suffix) in what ``--version`` printed, or
    ``unknown``: ``codex-cli 0.171.0`` and ``2.1.197 (Claude Code)`` alike."""
    found = _VERSION.search(text or "")
    return found.group(1) if found else "unknown"


def reported_version(argv: Sequence[str], timeout: float = 20.0) -> str:
    """The version a program reports: ``argv`` (the command line that starts it) run with ``--version``,
    stdin closed. Raises ``OSError`` or ``subprocess.TimeoutExpired`` as :func:`subprocess.run` does."""
    out = subprocess.run(
        [*argv, "--version"],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    return parse_version(out.stdout or out.stderr)
