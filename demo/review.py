"""The demo's cross-family review: one worktree task that the real Claude Code reviews against the
scripted Messages API server (:mod:`cockpit.demo.scripted_claude`), challenges once and then approves.

The task (:data:`REVIEW_DEMO_TASK`) asks for ``mean()`` in a new ``stats.py``. Its two scripts work
together (:func:`codex_scenario`, :func:`reviewer_scenarios`):

1. Codex (the scripted Responses model) writes ``mean()`` with floor division and checks it on a list
   whose mean happens to be whole, so its result passes the three signals;
2. review round 1: Claude Code reads ``stats.py`` (a real ``Bash`` call), then challenges the change
   with a ``failing_test``: a unittest it wrote (in the verdict's ``files``) and the command that runs
   it. The cockpit's judge runs that command in ``codex sandbox`` at the reviewed commit: it fails
   (``2 != 2.5``), so the challenge is VALID and the task goes back to Codex, the challenge as feedback;
3. Codex, resuming its thread, divides with ``/``;
4. review round 2: Claude Code reads the fix and approves: converged, on to the human's diff review.

The test runs with the standard library's ``unittest``, not pytest: pytest is not among the cockpit's
dependencies, and a missing module makes the judge's label PARTIAL, not VALID.

Claude Code runs as the tests run it: a throw-away ``HOME`` and ``CLAUDE_CONFIG_DIR`` under the demo's
directory, ``ANTHROPIC_BASE_URL`` at the scripted server, a dummy key, and none of the host's Anthropic
or Claude Code settings (nor ``IS_SANDBOX``): :func:`demo_reviewer_env`. The user's own ``~/.claude`` is
never read or written. Without a Claude Code CLI the demo leaves the task out (:func:`demo_reviewer`).

The builders of the reviewer's scripted replies (:func:`verdict`, :func:`failing_test`, :func:`text`,
:func:`reviewer`) are the ones the challenge loop's tests use too.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cockpit.core import ClaudeBinary, ClaudeNotFound, find_claude
from cockpit.demo import scripted_model
from cockpit.demo.scripted_claude import Scenario, ScriptedClaude, client_env, host_settings

UNITTEST = (sys.executable, "-m", "unittest")
"""The demo reviewer's test runner: this Python's ``unittest`` (a file path names the test module)."""

REVIEW_PACE_MS = 3000
"""How long the full-screen demo holds three of the reviewed task's scripted replies (each round's
verdict, and the first turn of Codex's fix), so a person sees its card reviewing, then back with Codex
and challenged, then reviewing again, for some seconds each (the headless demo holds none)."""

REVIEW_DEMO_TASK: dict[str, Any] = {
    "goal": "Add a mean function to a new stats.py",
    "title": "Add a mean function",
    "lane": "worktree",
    "effort": "low",
    "inputs": ["calc.py: how the project writes its functions"],
    "acceptance_criteria": ["mean([1, 2, 3, 4]) == 2.5"],
}
"""The one demo task the cross-family review is on for (the demo's other tasks say ``review = false``)."""

TASK_PREFIX = "add-a-mean-function"  # the task's id starts with it (its title, slugged)
TEST_PATH = "tests/test_review_mean.py"
TEST_BODY = (
    "import unittest\n"
    "\n"
    "from stats import mean\n"
    "\n"
    "\n"
    "class MeanTest(unittest.TestCase):\n"
    "    def test_mean_of_four_numbers(self):\n"
    "        self.assertEqual(mean([1, 2, 3, 4]), 2.5)\n"
    "\n"
    "\n"
    'if __name__ == "__main__":\n'
    "    unittest.main()\n"
)
CLAIM = "mean() floors the result (// instead of /): mean([1, 2, 3, 4]) returns 2, not 2.5"

_FIRST = '''*** Begin Patch
*** Add File: stats.py
+def mean(values):
+    """The arithmetic mean of a non-empty list of numbers."""
+    return sum(values) // len(values)
*** End Patch'''
_FIX = '''*** Begin Patch
*** Update File: stats.py
@@
 def mean(values):
     """The arithmetic mean of a non-empty list of numbers."""
-    return sum(values) // len(values)
+    return sum(values) / len(values)
*** End Patch'''


# --------------------------------------------------------------------------- the reviewer's replies


def verdict(word: str = "approve", *challenges: dict[str, Any], summary: str = "Reviewed.") -> str:
    """The reviewer's closing verdict block."""
    body = {"verdict": word, "summary": summary, "challenges": list(challenges)}
    return "Here is my review.\n\n```json\n" + json.dumps(body, indent=2) + "\n```\n"


def failing_test(
    path: str,
    body: str,
    claim: str,
    *,
    runner: Sequence[str] = UNITTEST,
    file: str | None = None,
    line: int | None = None,
) -> dict[str, Any]:
    """A challenge backed by a test the reviewer wrote (``files``) and the command that runs it:
    ``runner`` followed by the test's path."""
    return {
        "kind": "failing_test",
        "claim": claim,
        "file": file,
        "line": line,
        "command": [*runner, path],
        "expect": "fails",
        "files": {path: body},
    }


def text(reply: str, *, delay_ms: int = 0, **usage: int) -> dict[str, Any]:
    """One model turn of the reviewer: a text block (``usage`` as the API reports it)."""
    response: dict[str, Any] = {"blocks": [{"kind": "text", "text": reply}]}
    if usage:
        response["usage"] = usage
    if delay_ms:
        response["delay_ms"] = delay_ms
    return response


def shell(say: str, command: str, *, delay_ms: int = 0, **usage: int) -> dict[str, Any]:
    """One model turn of the reviewer that runs a read-only command with Claude Code's ``Bash`` tool."""
    response = text(say, delay_ms=delay_ms, **usage)
    response["blocks"].append({"kind": "bash", "command": command, "description": f"Run {command}"})
    return response


def reviewer(
    task: str, *responses: dict[str, Any], round_n: int | None = None, try_n: int | None = None
) -> Scenario:
    """The scenario of the reviewer's sessions for ``task`` (its title: a task's id starts with it), of
    one round and try when given (the prompt's first line names them), else of every session."""
    if round_n is None:
        match = f"of task {task}"
    else:
        match = f"Review round {round_n}, try {try_n or 1}, of task {task}"
    name = f"{task}-{round_n}-{try_n}"
    return Scenario.model_validate({"name": name, "match": match, "responses": list(responses)})


# ------------------------------------------------------------------------------ the task's scripts


def codex_scenario(pace_ms: int = 0) -> scripted_model.Scenario:
    """Codex's thread for :data:`REVIEW_DEMO_TASK`: attempt 1 floors the mean, attempt 2 (the review's
    feedback, the thread resumed) divides; its first turn is held ``pace_ms``."""

    def turn(*items: dict[str, Any], inp: int, out: int, delay_ms: int = 0) -> dict[str, Any]:
        usage = {"input_tokens": inp, "cached_tokens": 0, "output_tokens": out, "reasoning_tokens": 0}
        return {"items": list(items), "usage": usage, "delay_ms": delay_ms}

    check_first = "python3 -c 'from stats import mean; print(mean([2, 4, 6]))'"
    check_fix = "python3 -c 'from stats import mean; assert mean([1, 2, 3, 4]) == 2.5; print(\"ok\")'"
    responses = [
        turn(
            {"kind": "reasoning", "text": "A new module with mean(), in the style of calc.py."},
            {"kind": "apply_patch", "patch": _FIRST},
            inp=1700,
            out=90,
        ),
        turn({"kind": "shell", "cmd": check_first}, inp=2000, out=40),
        turn(
            {"kind": "message", "text": "COMPLETED: added mean() in stats.py; mean([2, 4, 6]) is 4"},
            inp=2200,
            out=30,
        ),
        turn(
            {"kind": "reasoning", "text": "The reviewer's test is right: // floors. Divide with / instead."},
            {"kind": "apply_patch", "patch": _FIX},
            inp=2900,
            out=80,
            delay_ms=pace_ms,
        ),
        turn({"kind": "shell", "cmd": check_fix}, inp=3200, out=50),
        turn(
            {"kind": "message", "text": "COMPLETED: mean() divides with / now; mean([1, 2, 3, 4]) == 2.5"},
            inp=3400,
            out=30,
        ),
    ]
    return scripted_model.Scenario.model_validate(
        {"name": "demo-review-mean", "match": REVIEW_DEMO_TASK["goal"], "responses": responses}
    )


def reviewer_scenarios(pace_ms: int = 0) -> list[Scenario]:
    """Claude Code's two rounds for :data:`REVIEW_DEMO_TASK`: read ``stats.py`` and challenge it with a
    failing test, then read the fix and approve; each verdict is held ``pace_ms``."""
    challenge = failing_test(TEST_PATH, TEST_BODY, CLAIM, file="stats.py", line=3)
    first = verdict(
        "challenge", challenge, summary="mean() uses floor division, so a mean that is not whole is wrong."
    )
    second = verdict("approve", summary="mean() divides with / now; the floor-division challenge is fixed.")
    return [
        reviewer(
            TASK_PREFIX,
            shell("I'll read the new module first.", "cat stats.py", input_tokens=4200, output_tokens=60),
            text(first, delay_ms=pace_ms, input_tokens=4600, output_tokens=420),
            round_n=1,
        ),
        reviewer(
            TASK_PREFIX,
            shell("Checking the fix.", "cat stats.py", input_tokens=4300, output_tokens=50),
            text(second, delay_ms=pace_ms, input_tokens=4700, output_tokens=160),
            round_n=2,
        ),
    ]


# ------------------------------------------------------------------------------------ the reviewer


def demo_reviewer_env(
    workdir: Path, base_url: str, environ: Mapping[str, str] | None = None
) -> dict[str, str | None]:
    """The reviewer's environment changes for ``Supervisor(reviewer_env=...)``: Claude Code pointed at
    ``base_url`` with a throw-away home under ``workdir`` (:func:`~cockpit.demo.scripted_claude.
    client_env`) and its ``TMPDIR`` there too (it keeps a directory a session there, which would
    outlive the demo), and every host setting of ``environ`` (default this process's) that would change
    what it does or where it connects removed (``None``)."""
    home = workdir / "claude-home"
    added = {**client_env(base_url, home), "TMPDIR": str(home / "tmp")}
    (home / "tmp").mkdir(exist_ok=True)
    removed = host_settings(os.environ if environ is None else environ)
    return {**{name: None for name in removed if name not in added}, **added}


@dataclass(frozen=True)
class DemoReviewer:
    """The demo's reviewer: the Claude Code CLI found, the scripted server it talks to, and the
    environment changes that point it there."""

    claude: ClaudeBinary
    server: ScriptedClaude
    env: dict[str, str | None]


@contextlib.contextmanager
def demo_reviewer(
    workdir: Path, unavailable: Callable[[str], None], *, pace_ms: int = 0
) -> Iterator[DemoReviewer | None]:
    """The scripted Messages API server started with the reviewed task's rounds, stopped on exit. When
    no Claude Code CLI is found, ``unavailable`` is told why and None is yielded: the demo goes on
    without its reviewed task."""
    try:
        claude = find_claude()
    except ClaudeNotFound as exc:
        unavailable(str(exc))
        yield None
        return
    with ScriptedClaude(reviewer_scenarios(pace_ms)) as server:
        yield DemoReviewer(claude, server, demo_reviewer_env(workdir, server.base_url))
