"""Finds the Codex CLI native binary and reports its version.

Order: ``COCKPIT_CODEX_BIN``, the project config's ``codex_bin``, the pinned npm package under a
``node_modules`` (the project's own, then the repo's), then ``PATH``. The native binary is preferred
to the Node launcher because killing the launcher on Node 20 orphans the real process.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

PINNED_VERSION = "0.169.0"
PROJECT_ROOT = Path(__file__).resolve().parent.parent

_TARGETS = {
    ("Linux", "x86_64"): ("linux-x64", "x86_64-unknown-linux-musl"),
    ("Linux", "aarch64"): ("linux-arm64", "aarch64-unknown-linux-musl"),
    ("Darwin", "x86_64"): ("darwin-x64", "x86_64-apple-darwin"),
    ("Darwin", "arm64"): ("darwin-arm64", "aarch64-apple-darwin"),
}


class CodexNotFound(RuntimeError):
    """No Codex binary could be located."""


@dataclass(frozen=True)
class CodexBinary:
    path: Path
    source: str  # env | config | node_modules | path

    def version(self, timeout: float = 20.0) -> str:
        """The version the binary reports, e.g. ``0.169.0``."""
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
    roots = [PROJECT_ROOT] + ([repo] if repo is not None else [])
    for root in roots:
        found = native_binary_in(root / "node_modules")
        if found:
            return CodexBinary(found.resolve(), "node_modules")
        looked.append(f"{root / 'node_modules'}")
    on_path = shutil.which("codex")
    if on_path:
        return CodexBinary(Path(on_path).resolve(), "path")
    looked.append("PATH")
    raise CodexNotFound(
        "Codex CLI not found (looked at: " + "; ".join(looked) + "). Run `npm ci` in the project "
        f"to install the pinned @openai/codex@{PINNED_VERSION}, or set COCKPIT_CODEX_BIN."
    )
