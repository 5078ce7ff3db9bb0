"""The reviewer's run: the Claude Code command line, its environment, its prompt and the files it is
pointed at. Pure: nothing here starts a process (the supervisor's review phase does, through
:mod:`cockpit.core.attempts.review_runner`).

**Command.** ``claude -p --output-format stream-json --verbose --no-session-persistence`` (headless,
one JSON object a line, no transcript left in the user's Claude config), then:

* ``--tools Read,Grep,Glob,Bash``: reading and searching, and a shell;
* ``--setting-sources user`` and ``--strict-mcp-config``: only the user's own Claude Code settings. The
  checkout is the worker's work: a ``.claude/settings.json`` committed there could hold hooks (commands
  the CLI runs outside any sandbox as it starts) or permissions, a ``CLAUDE.md`` instructions to the
  reviewer, a ``.mcp.json`` servers to start. With these flags none of them is read
  (``docs/claude-code.md``, "The checkout's own settings");
* the CLI's default permission mode: in ``-p`` mode anything that needs a permission is refused, so the
  shell runs read-only commands (``ls``, ``cat``, ``git log``) and nothing that writes — a redirection, an
  edit, ``rm`` — goes through (``docs/claude-code.md``, "Permissions in -p mode");
* ``--allowedTools=Bash(<inputs>/run-in-sandbox:*)``: the one other command it may run is the round's
  ``run-in-sandbox`` script (:func:`write_sandbox_runner`), which runs its arguments under ``codex
  sandbox`` like the judge's evidence (workspace-write: the network off, only the checkout and a scratch
  directory writable, an environment without keys). The reviewer runs the tests that way; the code it
  runs is the worker's, and never runs unconfined. A plain ``pytest`` needs a permission, so is refused;
* ``--add-dir=<inputs>``: the round's ``inputs/`` directory (the envelope, the task's diff, its
  acceptance criteria), which lies outside the checkout, readable;
* ``--model`` and ``--effort`` from ``[review]`` when set (a Codex tier is mapped to Claude Code's
  levels: :func:`claude_effort`);
* ``--`` before the prompt, so a variadic option never takes the prompt as a value.

It runs in a throw-away detached checkout of the reviewed commit, so nothing it does can change the
task's branch; the supervisor checks the branch afterwards all the same.

**Environment.** The user's own, untouched — ``ANTHROPIC_*``, ``CLAUDE_CONFIG_DIR``, ``HOME``: a real
login works as it does by hand — plus only what ``docs/claude-code.md`` shows is needed:
``CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1`` (no traffic but the API calls) and a bounded
``CLAUDE_CODE_MAX_RETRIES`` (the cockpit retries a failed review itself; the CLI's default of 10 can
take minutes). :func:`reviewer_env` returns those additions; the caller's own additions (a test or the
demo pointing the CLI at the scripted server) come last. The supervisor's caller may also name variables
the reviewer does not inherit (the demo drops the host's ``ANTHROPIC_*``, ``CLAUDE_*`` and
``IS_SANDBOX``: ``Supervisor(reviewer_env=...)`` with ``None`` values).

**Prompt.** Paths, not contents (:func:`review_prompt`): the reviewer reads what it needs with its tools.
It ends with :data:`~cockpit.core.review.verdict.REVIEW_FORMAT`. Its first line names the round and the
try (``Review round 2, try 1, of task <id>``): a scripted server picks its script by that text.
"""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cockpit.core.atomic import atomic_write_text, make_private_dirs
from cockpit.core.claude.binary import ClaudeBinary
from cockpit.core.codex.sandbox import sandbox_argv, sandbox_env
from cockpit.core.envelope.model import Envelope
from cockpit.core.layout import ACCEPTANCE_FILE, DIFF_FILE, ENVELOPE_FILE, REVIEW_INPUTS_DIR
from cockpit.core.review.verdict import REVIEW_FORMAT

__all__ = [
    "HEADLESS",
    "ISOLATED",
    "MAX_RETRIES",
    "REVIEW_TOOLS",
    "SANDBOX_RUNNER",
    "ReviewInputs",
    "claude_effort",
    "review_prompt",
    "reviewer_argv",
    "reviewer_env",
    "write_inputs",
    "write_sandbox_runner",
]

HEADLESS: Final = ("-p", "--output-format", "stream-json", "--verbose", "--no-session-persistence")
REVIEW_TOOLS: Final = ("Read", "Grep", "Glob", "Bash")
ISOLATED: Final = ("--setting-sources", "user", "--strict-mcp-config")
"""Only the user's settings: nothing the checkout holds (hooks, permissions, CLAUDE.md, MCP servers)."""
SANDBOX_RUNNER: Final = "run-in-sandbox"
"""The round's script that runs a command under ``codex sandbox`` (in ``inputs/``)."""
MAX_RETRIES: Final = 2
"""The CLI's own API retries per request (``CLAUDE_CODE_MAX_RETRIES``) unless the user set fewer."""

# Codex's tiers → Claude Code's ``--effort`` levels (low, medium, high, xhigh, max).
_EFFORT: Final[Mapping[str, str]] = {
    "none": "low",
    "minimal": "low",
    "low": "low",
    "medium": "medium",
    "high": "high",
    "xhigh": "xhigh",
}


def claude_effort(effort: str | None) -> str | None:
    """Claude Code's ``--effort`` level for a Codex tier (None: the CLI's default)."""
    return _EFFORT.get(effort) if effort else None


@dataclass(frozen=True)
class ReviewInputs:
    """The files the reviewer is pointed at, all inside one directory (``inputs``)."""

    directory: Path
    envelope: Path
    diff: Path
    acceptance: Path


def write_inputs(directory: Path, envelope: Envelope | None, diff_text: str) -> ReviewInputs:
    """Write the reviewer's inputs into ``directory/inputs/``: the task's envelope (``envelope.json``),
    the diff under review (``diff.patch``, frozen for the round) and its acceptance criteria
    (``acceptance.md``, one per line, or a line saying there are none)."""
    inputs = directory / REVIEW_INPUTS_DIR
    make_private_dirs(inputs)
    envelope_json = (
        json.dumps(envelope.model_dump(mode="json", exclude_none=True), indent=2) if envelope else "{}"
    )
    atomic_write_text(inputs / ENVELOPE_FILE, envelope_json + "\n")
    atomic_write_text(inputs / DIFF_FILE, diff_text)
    criteria = envelope.acceptance_criteria if envelope else []
    lines = ["# Acceptance criteria", ""]
    lines += [f"- {c}" for c in criteria] if criteria else ["(none given: judge the change by its goal)"]
    if envelope is not None and envelope.output is not None:
        lines += ["", f"Declared output: {envelope.output.path}"]
    atomic_write_text(inputs / ACCEPTANCE_FILE, "\n".join(lines) + "\n")
    return ReviewInputs(inputs, inputs / ENVELOPE_FILE, inputs / DIFF_FILE, inputs / ACCEPTANCE_FILE)


def write_sandbox_runner(inputs: Path, codex: Path, *, scratch: Path, codex_home: Path) -> Path:
    """Write ``inputs/run-in-sandbox``: a shell script that runs its arguments under ``codex sandbox``
    (:func:`~cockpit.core.codex.sandbox.sandbox_argv`: workspace-write, the network off, ``scratch`` the
    only writable root beside the working directory) with :func:`~cockpit.core.codex.sandbox.sandbox_env`
    as its whole environment. ``scratch`` and ``codex_home`` (empty) are created."""
    for place in (scratch, codex_home):
        place.mkdir(mode=0o700, parents=True, exist_ok=True)
    argv = sandbox_argv(codex, ["--"], scratch=scratch)[:-2]  # everything before ``--``
    env = sandbox_env(scratch=scratch, codex_home=codex_home)
    script = (
        "#!/bin/sh\n"
        "# Runs a command inside Codex's sandbox: no network, only the checkout writable.\n"
        "exec env -i "
        + " ".join(shlex.quote(f"{key}={value}") for key, value in sorted(env.items()))
        + " "
        + " ".join(shlex.quote(arg) for arg in argv)
        + ' -- "$@"\n'
    )
    path = inputs / SANDBOX_RUNNER
    atomic_write_text(path, script)
    path.chmod(0o700)
    return path


def review_prompt(
    *, task_id: str, title: str, round_n: int, try_n: int, inputs: ReviewInputs, earlier: Sequence[str] = ()
) -> str:
    """The reviewer's prompt: what to review, where it is (paths), what counts as a challenge, and the
    verdict format. ``earlier``: one line per challenge still open from the previous round (its claim
    and ``file:line``), for the reviewer to check again."""
    parts = [
        f"Review round {round_n}, try {try_n}, of task {task_id}.",
        "",
        "You are reviewing a change another model wrote. The working directory is a throw-away checkout of "
        "the commit under review (the change is applied and committed). You cannot edit files here; you "
        "can read, search and run read-only shell commands. To run anything else (the project's tests, "
        f"a script), prefix it with {inputs.directory / SANDBOX_RUNNER}: it runs in a sandbox with no "
        f"network where only the checkout is writable, e.g. `{inputs.directory / SANDBOX_RUNNER} python3 "
        "-m pytest -q`.",
        "",
        "Read these files first:",
        f"- the task's envelope (goal, constraints): {inputs.envelope}",
        f"- the change under review, as a unified diff against its base: {inputs.diff}",
        f"- the acceptance criteria: {inputs.acceptance}",
        "",
        f"The task: {title}",
        "",
        "Find what is wrong with the change: bugs, unhandled inputs, broken behaviour, acceptance criteria "
        "not met, regressions, tests that were weakened. List the concrete ways this change will fail. "
        "Every challenge must come with testable evidence the cockpit can run itself: a failing test (write "
        'it in the verdict\'s "files" and give the command that runs it), a reproducible counterexample, '
        "a quoted acceptance criterion the change violates, or a measurable regression. The cockpit runs "
        "each command in a sandbox at this commit and discards any challenge whose evidence does not "
        "reproduce. Style preferences and claims without evidence are not challenges.",
    ]
    if earlier:
        parts += ["", "Challenges still open from the previous round (check whether each is fixed):"]
        parts += [f"- {line}" for line in earlier]
    parts += ["", REVIEW_FORMAT]
    return "\n".join(parts)


def reviewer_argv(
    claude: ClaudeBinary,
    prompt: str,
    *,
    inputs: Path,
    model: str | None = None,
    effort: str | None = None,
) -> list[str]:
    """The reviewer's full command line (see the module docstring); ``inputs`` is the round's inputs
    directory, where :func:`write_sandbox_runner` wrote the one command it may run besides read-only
    ones."""
    argv = [*claude.argv, *HEADLESS, "--tools", ",".join(REVIEW_TOOLS), *ISOLATED]
    argv.append(f"--allowedTools=Bash({inputs / SANDBOX_RUNNER}:*)")
    argv.append(f"--add-dir={inputs}")
    if model:
        argv += ["--model", model]
    level = claude_effort(effort)
    if level:
        argv += ["--effort", level]
    argv += ["--", prompt]
    return argv


def reviewer_env(
    environ: Mapping[str, str] | None = None, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The additions to the user's environment (``environ``, default this process's) the reviewer runs
    with: non-essential traffic off and the CLI's retries bounded (a lower number the user set is kept),
    then ``extra`` as given."""
    base = os.environ if environ is None else environ
    added = {"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1"}
    theirs = (extra or {}).get("CLAUDE_CODE_MAX_RETRIES", base.get("CLAUDE_CODE_MAX_RETRIES", ""))
    if not (theirs.strip().isdigit() and int(theirs) <= MAX_RETRIES):
        added["CLAUDE_CODE_MAX_RETRIES"] = str(MAX_RETRIES)
    return {**added, **(extra or {})}
