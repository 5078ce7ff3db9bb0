"""What the full-screen cockpit's first frame imports: none of the slow modules it does not draw with
(GitPython, PyYAML, Pygments, the Markdown parser, the MCP package, the supervisor's modules), nor the
models of a task's full state, its events and its envelope, nor the lane adapters (the lanes list
summaries; those models cost a viewer memory it never uses). Each of these is imported where it is
used: a repository opened, a YAML envelope read, a diff or a task view shown, the supervisor started
(after the first frame)."""

from __future__ import annotations

import subprocess
import sys

LATER = (
    "git",
    "yaml",
    "pygments",
    "markdown_it",
    "mcp",
    "cockpit.core.supervisor.loop",
    "cockpit.core.policy.gates",
    "cockpit.core.records.task",
    "cockpit.core.codex.exec_events",
    "cockpit.core.envelope.model",
    "cockpit.core.lanes",
)


def test_the_first_frame_path_leaves_slow_modules_for_later() -> None:
    program = (
        "import sys\n"
        "import cockpit.cli.main, cockpit.tui.app\n"
        f"print(' '.join(m for m in {LATER!r} if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == []
