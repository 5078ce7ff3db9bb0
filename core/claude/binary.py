"""Finds the Claude Code CLI and reports its version.

The search order is every program's, as for Codex (:func:`cockpit.core.programs.find_program`):
``COCKPIT_CLAUDE_BIN``, ``claude_bin`` from a trusted config, the pinned npm package in the cockpit's
own ``node_modules``, then ``PATH``; nothing inside the repository's working tree is found implicitly.

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
import shutil
from dataclasses import dataclass
from pathlib import Path

from cockpit.core.errors import ClaudeError
from cockpit.core.programs import PROJECT_ROOT, Program, find_program, reported_version

PINNED_VERSION = "2.1.197"
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
        return reported_version(self.argv, timeout)


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
    return find_program(CLAUDE, config_bin, repo, PROJECT_ROOT / "node_modules")


def _installed(node_modules: Path) -> ClaudeBinary | None:
    found = binary_in(node_modules)
    return ClaudeBinary(found.path.resolve(), found.source, found.launcher) if found is not None else None


def _named(path: Path, source: str) -> ClaudeBinary | None:
    """A CLI the user named: an executable as is, a ``.js``/``.cjs``/``.mjs`` entry point through node."""
    if not path.is_file():
        return None
    if path.suffix in (".js", ".cjs", ".mjs"):
        node = shutil.which("node")
        return ClaudeBinary(path.resolve(), source, (node,)) if node else None
    return ClaudeBinary(path.resolve(), source)


CLAUDE = Program(
    name="Claude Code",
    command="claude",
    env_var="COCKPIT_CLAUDE_BIN",
    setting="claude_bin",
    package=PACKAGE,
    pinned=PINNED_VERSION,
    installed=_installed,
    named=_named,
    not_found=ClaudeNotFound,
)
