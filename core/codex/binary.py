"""Finds the Codex CLI native binary and reports its version.

Order: ``COCKPIT_CODEX_BIN``, ``codex_bin`` from a trusted config (the caller passes only a trusted
value), the pinned npm package in the cockpit's own ``node_modules``, then ``PATH``. Nothing inside the
repository's working tree is found implicitly: a local-lane worker can write there. The native binary
is preferred to the Node launcher because killing the launcher on Node 20 orphans the real process.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from cockpit.core.errors import CodexError

PINNED_VERSION = "0.171.0"
PROJECT_ROOT = Path(__file__).resolve().parents[2]  # core/codex/binary.py → the project

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
        out = subprocess.run(
            [str(self.path), "--version"],
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        text = (out.stdout or out.stderr).strip()
        return text.split()[-1] if text else "unknown"


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
    looked: list[str] = []
    env_bin = os.environ.get("COCKPIT_CODEX_BIN")
    if env_bin:
        path = Path(env_bin).expanduser()
        if path.is_file():
            return CodexBinary(path.resolve(), "env")
        looked.append(f"COCKPIT_CODEX_BIN={env_bin} (missing)")
    if config_bin:
        path = Path(config_bin).expanduser()
        if path.is_file():
            return CodexBinary(path.resolve(), "config")
        looked.append(f"config codex_bin={config_bin} (missing)")
    # Only the cockpit's own node_modules: a repository's (or anything inside the working tree a
    # local-lane worker can write) is never a source of programs the supervisor runs.
    found = native_binary_in(PROJECT_ROOT / "node_modules")
    if found and not _inside(found, repo):
        return CodexBinary(found.resolve(), "node_modules")
    looked.append(f"{PROJECT_ROOT / 'node_modules'}" + (" (inside the repository: refused)" if found else ""))
    on_path = shutil.which("codex")
    if on_path and not _inside(Path(on_path), repo):
        return CodexBinary(Path(on_path).resolve(), "path")
    looked.append("PATH")
    raise CodexNotFound(
        "Codex CLI not found (looked at: " + "; ".join(looked) + "). Run `npm ci` in the project "
        f"to install the pinned @openai/codex@{PINNED_VERSION}, or set COCKPIT_CODEX_BIN."
    )


def _inside(path: Path, repo: Path | None) -> bool:
    """Whether ``path`` (resolved) lies in ``repo``'s working tree, where a local-lane worker writes."""
    if repo is None:
        return False
    try:
        path.resolve().relative_to(repo.resolve())
    except ValueError:
        return False
    return True
