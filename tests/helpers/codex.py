"""Helpers for tests that run the real Codex CLI: one ``codex exec --json`` run, and rollout reading."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.helpers.processes import json_objects, run_in_group


@dataclass(frozen=True)
class CompletedRun:
    """Outcome of one ``codex exec --json`` process."""

    exit_code: int
    events: list[dict[str, Any]]
    stdout_text: str
    stderr: str
    last_message: str  # content of the -o file ("" when Codex left it empty)
    timed_out: bool = False
    duration: float = 0.0

    @property
    def thread_id(self) -> str | None:
        for event in self.events:
            if event.get("type") == "thread.started":
                return str(event["thread_id"])
        return None

    @property
    def event_types(self) -> list[str]:
        return [str(e.get("type")) for e in self.events]

    def items(self, item_type: str | None = None) -> list[dict[str, Any]]:
        """Completed items, optionally of one type, in stream order."""
        out = [e["item"] for e in self.events if e.get("type") == "item.completed"]
        return [i for i in out if item_type is None or i.get("type") == item_type]

    def last(self, event_type: str) -> dict[str, Any] | None:
        matches = [e for e in self.events if e.get("type") == event_type]
        return matches[-1] if matches else None

    def describe(self) -> str:
        """Everything useful for an assertion message."""
        head = f"exit={self.exit_code} timed_out={self.timed_out}"
        return f"{head}\nstdout:\n{self.stdout_text}\nstderr:\n{self.stderr}"


def codex_exec_argv(
    codex_bin: Path, workdir: Path, last_message_file: Path, prompt: str, *extra_args: str, sandbox: str
) -> list[str]:
    return [
        str(codex_bin),
        "exec",
        "--json",
        "--skip-git-repo-check",
        "-s",
        sandbox,
        "-C",
        str(workdir),
        "-o",
        str(last_message_file),
        *extra_args,
        prompt,
    ]


def run_codex_exec(
    codex_bin: Path,
    env: Mapping[str, str],
    workdir: Path,
    prompt: str,
    *extra_args: str,
    timeout: float = 60,
    sandbox: str = "workspace-write",
) -> CompletedRun:
    """Run ``codex exec --json … [extra_args] PROMPT`` in its own process group.

    ``extra_args`` go right before the prompt: ``-c key=value`` overrides, or ``resume <THREAD_ID>``.
    On timeout the whole process group is killed and ``timed_out`` is set.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="codex-last-") as out_dir:
        last_file = Path(out_dir) / "last-message.txt"
        argv = codex_exec_argv(codex_bin, workdir, last_file, prompt, *extra_args, sandbox=sandbox)
        ran = run_in_group(argv, env, timeout)
        last_message = last_file.read_text(encoding="utf-8") if last_file.exists() else ""
    stdout_text = ran.stdout.decode("utf-8", errors="replace")
    return CompletedRun(
        exit_code=ran.exit_code,
        events=json_objects(stdout_text),
        stdout_text=stdout_text,
        stderr=ran.stderr.decode("utf-8", errors="replace"),
        last_message=last_message,
        timed_out=ran.timed_out,
        duration=ran.duration,
    )


def rollout_file(codex_home: Path, thread_id: str) -> Path:
    """The rollout JSONL of a thread under ``$CODEX_HOME/sessions``."""
    matches = sorted((codex_home / "sessions").rglob(f"rollout-*-{thread_id}.jsonl"))
    if not matches:
        raise FileNotFoundError(f"no rollout for thread {thread_id} under {codex_home / 'sessions'}")
    return matches[-1]


def rollout_records(codex_home: Path, thread_id: str) -> list[dict[str, Any]]:
    path = rollout_file(codex_home, thread_id)
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def token_counts(codex_home: Path, thread_id: str) -> list[dict[str, Any]]:
    """Payloads of the rollout's ``token_count`` events, oldest first."""
    return [
        rec["payload"]
        for rec in rollout_records(codex_home, thread_id)
        if rec.get("type") == "event_msg" and rec.get("payload", {}).get("type") == "token_count"
    ]
