"""Finds the Codex CLI native binary and reports its version.

The search order is every program's (:func:`cockpit.core.programs.find_program`): ``COCKPIT_CODEX_BIN``,
``codex_bin`` from a trusted config, the pinned npm package in the cockpit's own ``node_modules``, then
``PATH``; nothing inside the repository's working tree is found implicitly. In ``node_modules`` the
platform package's native binary is taken: it is preferred to the Node launcher because killing the
launcher on Node 20 orphans the real process.
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from pathlib import Path

from cockpit.core.errors import CodexError
from cockpit.core.programs import PROJECT_ROOT, Program, find_program, reported_version

PINNED_VERSION = "0.171.0"

_TARGETS = {
    ("Linux", "x86_64"): ("linux-x64", "x86_64-unknown-linux-musl"),
    ("Linux", "aarch64"): ("linux-arm64", "aarch64-unknown-linux-musl"),
    ("Darwin", "x86_64"): ("darwin-x64", "x86_64-apple-darwin"),
    ("Darwin", "arm64"): ("darwin-arm64", "aarch64-apple-darwin"),
}


class CodexNotFound(CodexError, RuntimeError):
    """No Codex binary could be located."""


@dataclass(frozen=True)
class CodexBinary:
    path: Path
    source: str  # env | config | node_modules | path

    def version(self, timeout: float = 20.0) -> str:
        """The version the binary reports, e.g. ``0.171.0``."""
        return reported_version([str(self.path)], timeout)


def native_binary_in(node_modules: Path) -> Path | None:
    """The native binary inside a ``node_modules`` that holds ``@openai/codex``, if present."""
    key = (platform.system(), platform.machine())
    if key not in _TARGETS:
        return None
    pkg, triple = _TARGETS[key]
    candidate = node_modules / "@openai" / f"codex-{pkg}" / "vendor" / triple / "bin" / "codex"
    return candidate if candidate.is_file() and os.access(candidate, os.X_OK) else None


def find_codex(config_bin: str | None = None, repo: Path | None = None) -> CodexBinary:
    """Locate the Codex binary or raise :class:`CodexNotFound` naming every place looked at."""
    return find_program(CODEX, config_bin, repo, PROJECT_ROOT / "node_modules")


def _installed(node_modules: Path) -> CodexBinary | None:
    found = native_binary_in(node_modules)
    return CodexBinary(found.resolve(), "node_modules") if found is not None else None


def _named(path: Path, source: str) -> CodexBinary | None:
    return CodexBinary(path.resolve(), source) if path.is_file() else None


CODEX = Program(
    name="Codex CLI",
    command="codex",
    env_var="COCKPIT_CODEX_BIN",
    setting="codex_bin",
    package="@openai/codex",
    pinned=PINNED_VERSION,
    installed=_installed,
    named=_named,
    not_found=CodexNotFound,
)
