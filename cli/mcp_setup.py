"""``cockpit mcp --print-config``: how to put this cockpit under Claude Code, ready to paste.

It prints the ``claude mcp add-json`` line (project scope: it writes the repository's ``.mcp.json``),
the same entry as an ``.mcp.json`` block, and the flags of a headless run, all with absolute paths to
this cockpit's executable and to the repository, so the server starts whatever directory Claude Code
runs in and whichever ``cockpit`` is first on its ``PATH``.

The entry says ``"alwaysLoad": true``: Claude Code 2.1.197 connects MCP servers in the background in
``-p`` mode, and a first request made before the cockpit answered finds no cockpit tools ("still
connecting"); with ``alwaysLoad`` it waits for the server, and never defers its tools behind a tool
search. ``claude mcp add`` has no flag for it, hence ``add-json``.
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Any

SERVER = "cockpit"
TOOL_NAMES = (
    "submit_task",
    "task_status",
    "wait_for_task",
    "list_decisions",
    "answer_decision",
    "get_diff_summary",
    "get_task_diff",
    "get_last_message",
    "get_review",
    "label_challenge",
)
INSTRUCTIONS_FILE = "docs/orchestrator/CLAUDE.md"  # in the cockpit's source tree


def cockpit_command() -> list[str]:
    """The absolute command line that starts this cockpit: its ``cockpit`` script when this process is
    one (or one sits beside this Python), else this Python running the CLI module."""
    here = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if here is not None and here.name == "cockpit" and here.is_file():
        return [str(here.resolve())]
    beside = Path(sys.executable).parent / "cockpit"
    if beside.is_file():
        return [str(beside.absolute())]
    return [str(Path(sys.executable).absolute()), "-m", "cockpit.cli.main"]


def server_entry(repo: Path) -> dict[str, Any]:
    """The ``mcpServers`` entry that starts ``cockpit mcp`` on ``repo``."""
    command = cockpit_command()
    return {
        "type": "stdio",
        "command": command[0],
        "args": [*command[1:], "--repo", str(repo.resolve()), "mcp"],
        "alwaysLoad": True,
    }


def allowed_tools() -> str:
    """The ``--allowedTools`` value naming every cockpit tool (``mcp__cockpit__<tool>``)."""
    return ",".join(f"mcp__{SERVER}__{name}" for name in TOOL_NAMES)


def instructions_path() -> str:
    """Where the orchestrator's instruction file is: its absolute path in a source checkout."""
    source = Path(__file__).resolve().parents[1] / INSTRUCTIONS_FILE
    return str(source) if source.is_file() else INSTRUCTIONS_FILE


def config_text(repo: Path) -> str:
    """What ``--print-config`` prints."""
    entry = server_entry(repo)
    block = json.dumps({"mcpServers": {SERVER: entry}}, indent=2)
    add = shlex.join(["claude", "mcp", "add-json", "--scope", "project", SERVER, json.dumps(entry)])
    plain = shlex.join(
        ["claude", "mcp", "add", "--scope", "project", SERVER, "--", entry["command"], *entry["args"]]
    )
    return "\n".join(
        [
            f"# Claude Code on top of the cockpit of {repo.resolve()}",
            "#",
            "# 1. Add the server (run in the repository; project scope writes its .mcp.json):",
            add,
            "#    (the same without alwaysLoad, which headless runs need to wait for the server:",
            f"#    {plain})",
            "#",
            "# 2. Or put this block in .mcp.json at the repository's root:",
            block,
            "#",
            "# 3. Headless (`claude -p`), only this server, its tools allowed:",
            shlex.join(
                [
                    "claude",
                    "-p",
                    "--mcp-config",
                    ".mcp.json",
                    "--strict-mcp-config",
                    f"--allowedTools={allowed_tools()}",
                    "--",
                    "PROMPT",
                ]
            ),
            "#",
            "# How Claude Code should write envelopes and drive the loop (copy it into the repository's",
            f"# CLAUDE.md, or import it there with @<path>): {instructions_path()}",
            "# A supervisor must run for tasks to start: the cockpit (`cockpit`) or `cockpit run`.",
        ]
    )


def print_config(repo: Path) -> int:
    print(config_text(repo))
    return 0


__all__ = ["TOOL_NAMES", "allowed_tools", "cockpit_command", "config_text", "print_config", "server_entry"]
