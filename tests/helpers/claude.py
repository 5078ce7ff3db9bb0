"""Helpers for tests that run the real Claude Code CLI headless against the scripted Messages API server:
the server's lifetime, a throw-away ``HOME``/``CLAUDE_CONFIG_DIR`` env, and one ``claude -p`` run with
its ``stream-json`` lines collected."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cockpit.core.claude.binary import ClaudeBinary
from cockpit.core.claude.stream import ClaudeStream, read_stream
from cockpit.demo.scripted_claude import HOST_PREFIXES, Scenario, ScriptedClaude, client_env
from tests.helpers.processes import env_without, json_objects, run_in_group

HEADLESS = ("-p", "--output-format", "stream-json", "--verbose", "--no-session-persistence")


@dataclass(frozen=True)
class ClaudeRun:
    """Outcome of one ``claude -p --output-format stream-json --verbose`` process."""

    exit_code: int
    stdout: str
    stderr: str
    stream: ClaudeStream
    timed_out: bool = False
    duration: float = 0.0

    @property
    def lines(self) -> list[dict[str, Any]]:
        """Every stdout line that is a JSON object, as printed."""
        return json_objects(self.stdout)

    @property
    def line_types(self) -> list[str]:
        """``type`` (``type/subtype`` for system lines) of each line, in order."""
        return [
            f"{x['type']}/{x.get('subtype')}" if x.get("type") == "system" else str(x.get("type"))
            for x in self.lines
        ]

    def describe(self) -> str:
        """Everything useful for an assertion message."""
        head = f"exit={self.exit_code} timed_out={self.timed_out} duration={self.duration:.1f}s"
        return f"{head}\nstdout:\n{self.stdout}\nstderr:\n{self.stderr}"


def claude_env(base_url: str, home: Path, *, subscription: bool = False, **extra: str) -> dict[str, str]:
    """This process's environment without the host's Anthropic/Claude settings, pointed at ``base_url``
    with a throw-away ``HOME`` (and ``CLAUDE_CONFIG_DIR`` under it), logged in with a dummy API key or,
    with ``subscription``, a dummy subscription token; ``extra`` is added last."""
    return env_without(HOST_PREFIXES, **{**client_env(base_url, home, subscription=subscription), **extra})


@contextlib.contextmanager
def scripted_claude_server(*scenarios: Scenario, default: Scenario | None = None) -> Iterator[ScriptedClaude]:
    """A started :class:`ScriptedClaude`, stopped on exit."""
    server = ScriptedClaude(scenarios, default=default).start()
    try:
        yield server
    finally:
        server.stop()


def run_claude(
    claude: ClaudeBinary,
    env: Mapping[str, str],
    cwd: Path,
    prompt: str,
    *extra_args: str,
    timeout: float = 60,
) -> ClaudeRun:
    """Run ``claude -p --output-format stream-json --verbose --no-session-persistence [extra_args] --
    PROMPT`` in ``cwd``, in its own process group, stdin closed (an open stdin makes the CLI wait 3 s
    for piped input). The ``--`` keeps a variadic option (``--allowedTools A B``) from eating the prompt.
    On timeout the whole group is killed and ``timed_out`` is set."""
    cwd.mkdir(parents=True, exist_ok=True)
    ran = run_in_group([*claude.argv, *HEADLESS, *extra_args, "--", prompt], env, timeout, cwd)
    text = ran.stdout.decode("utf-8", errors="replace")
    return ClaudeRun(
        exit_code=ran.exit_code,
        stdout=text,
        stderr=ran.stderr.decode("utf-8", errors="replace"),
        stream=read_stream(text.splitlines()),
        timed_out=ran.timed_out,
        duration=ran.duration,
    )
