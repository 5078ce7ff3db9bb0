"""Finds the Claude Code CLI and reports its version.

Order, as for Codex: ``COCKPIT_CLAUDE_BIN``, ``claude_bin`` from a trusted config (the caller passes only
a trusted value), the pinned npm package in the cockpit's own ``node_modules``, then ``PATH``. Nothing
inside the repository's working tree is found implicitly: a local-lane worker can write there.

Inside ``node_modules`` the platform package's native executable
(``@anthropic-ai/claude-code-<platform>/claude``) comes first: it is there whether or not the wrapper
package's postinstall ran. Next the wrapper's ``bin/claude.exe`` (what ``.bin/claude`` links to), but
only once the postinstall has replaced the shell stub it ships with a native executable. Last a
``cli.js`` in the wrapper package, which older releases shipped instead of native executables, run
with ``node``.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from cockpit.core.errors import ClaudeError

PINNED_VERSION = "2.1.197"
PROJECT_ROOT = Path(__file__).resolve().parents[2]  # core/claude/binary.py → the project
PACKAGE = "@anthropic-ai/claude-code"

# (system, machine) → the platform packages' suffixes to try, glibc first (npm installs the one whose
# ``libc`` matches, so at most one of a pair is present).
_PLATFORMS: dict[tuple[str, str], tuple[str, ...]] = {
    ("Linux", "x86_64"): ("linux-x64", "linux-x64-musl"),
    ("Linux", "aarch64"): ("linux-arm64", "linux-arm64-musl"),
    ("Darwin", "x86_64"): ("darwin-x64",),
    ("Darwin", "arm64"): ("darwin-arm64",),
}
# First bytes of a native executable: ELF, and Mach-O (thin, both byte orders, and universal).
_NATIVE_MAGIC = (
    b"\x7fELF",
    b"\xcf\xfa\xed\xfe",
    b"\xfe\xed\xfa\xcf",
    b"\xce\xfa\xed\xfe",
    b"\xfe\xed\xfa\xce",
    b"\xca\xfe\xba\xbe",
)
_VERSION = re.compile(r"\b(\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.-]+)?)\b")


class ClaudeNotFound(ClaudeError, RuntimeError):
    """No Claude Code CLI could be located."""


@dataclass(frozen=True)
class ClaudeBinary:
    """A Claude Code CLI: ``path``, run through ``launcher`` (``("/usr/bin/node",)`` for a ``cli.js``)."""

    path: Path
    source: str  # env | config | node_modules | path
    launcher: tuple[str, ...] = ()

    @property
    def argv(self) -> list[str]:
        """The command line that starts the CLI, before its own arguments."""
        return [*self.launcher, str(self.path)]

    def version(self, timeout: float = 20.0) -> str:
        """The version the CLI reports (``2.1.197 (Claude Code)`` → ``2.1.197``), or ``unknown``."""
        out = subprocess.run(
            [*self.argv, "--version"],
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        return parse_version(out.stdout or out.stderr)


def parse_version(text: str) -> str:
    """The first ``x.y.z`` in what ``claude --version`` printed, or ``unknown``."""
    found = _VERSION.search(text or "")
    return found.group(1) if found else "unknown"


def is_native_executable(path: Path) -> bool:
    """Whether ``path`` is an executable file that starts like an ELF or Mach-O binary (not a script)."""
    if not (path.is_file() and os.access(path, os.X_OK)):
        return False
    try:
        with path.open("rb") as fh:
            head = fh.read(4)
    except OSError:
        return False
    return head in _NATIVE_MAGIC


def binary_in(node_modules: Path) -> ClaudeBinary | None:
    """The Claude Code CLI installed in ``node_modules`` (source ``node_modules``), if any."""
    scope = node_modules / "@anthropic-ai"
    for suffix in _PLATFORMS.get((platform.system(), platform.machine()), ()):
        native = scope / f"claude-code-{suffix}" / "claude"
        if is_native_executable(native):
            return ClaudeBinary(native, "node_modules")
    wrapper = node_modules / PACKAGE
    linked = wrapper / "bin" / "claude.exe"
    if is_native_executable(linked):
        return ClaudeBinary(linked, "node_modules")
    cli_js = wrapper / "cli.js"
    node = shutil.which("node")
    if cli_js.is_file() and node:
        return ClaudeBinary(cli_js, "node_modules", (node,))
    return None


def find_claude(config_bin: str | None = None, repo: Path | None = None) -> ClaudeBinary:
    """Locate Claude Code or raise :class:`ClaudeNotFound` naming every place looked at."""
    looked: list[str] = []
    env_bin = os.environ.get("COCKPIT_CLAUDE_BIN")
    if env_bin:
        found = _named(Path(env_bin).expanduser(), "env")
        if found:
            return found
        looked.append(f"COCKPIT_CLAUDE_BIN={env_bin} (missing)")
    if config_bin:
        found = _named(Path(config_bin).expanduser(), "config")
        if found:
            return found
        looked.append(f"config claude_bin={config_bin} (missing)")
    # Only the cockpit's own node_modules: a repository's (or anything inside the working tree a
    # local-lane worker can write) is never a source of programs the supervisor runs.
    installed = binary_in(PROJECT_ROOT / "node_modules")
    if installed and not _inside(installed.path, repo):
        return ClaudeBinary(installed.path.resolve(), installed.source, installed.launcher)
    refused = " (inside the repository: refused)" if installed else ""
    looked.append(f"{PROJECT_ROOT / 'node_modules'}{refused}")
    on_path = shutil.which("claude")
    if on_path and not _inside(Path(on_path), repo):
        return ClaudeBinary(Path(on_path).resolve(), "path")
    looked.append("PATH")
    raise ClaudeNotFound(
        "Claude Code not found (looked at: " + "; ".join(looked) + "). Run `npm ci` in the project "
        f"to install the pinned {PACKAGE}@{PINNED_VERSION}, or set COCKPIT_CLAUDE_BIN."
    )


def _named(path: Path, source: str) -> ClaudeBinary | None:
    """A CLI the user named: an executable as is, a ``.js``/``.cjs``/``.mjs`` entry point through node."""
    if not path.is_file():
        return None
    if path.suffix in (".js", ".cjs", ".mjs"):
        node = shutil.which("node")
        return ClaudeBinary(path.resolve(), source, (node,)) if node else None
    return ClaudeBinary(path.resolve(), source)


def _inside(path: Path, repo: Path | None) -> bool:
    """Whether ``path`` (resolved) lies in ``repo``'s working tree, where a local-lane worker writes."""
    if repo is None:
        return False
    try:
        path.resolve().relative_to(repo.resolve())
    except ValueError:
        return False
    return True
