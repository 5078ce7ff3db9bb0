"""The installed ``cockpit demo`` driven in tmux as a person would: keys go in with ``send-keys``, the
screen comes back with ``capture-pane``. The gate's decision modal and the mcp lane's Codex approval are
answered; the reviewed task's card shows it challenged by Claude Code and back with Codex, then
converged; the five diffs are reviewed and merged (each folds into its lane's history line; the fifth
came back from the cloud lane's fake Codex Cloud), the lane filter and the fold list the merges, and
after quitting the kept demo repository's main branch holds the merges and no fake cloud is left
running."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from git import Repo

from tests.helpers.cloud import fake_cloud_processes

COCKPIT = Path(sys.executable).parent / "cockpit"


class Tmux:
    """One tmux server on a private socket, one 120×40 window running a command."""

    def __init__(self, socket: str) -> None:
        self.socket = socket

    def run(self, *args: str) -> str:
        # the server inherits this env; a size left in COLUMNS/LINES would override the window's
        env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
        out = subprocess.run(
            ["tmux", "-L", self.socket, *args],
            check=True,
            capture_output=True,
            text=True,
            timeout=30,
            env=env,
        )
        return out.stdout

    def start(self, command: str, cwd: Path) -> None:
        conf = cwd / "tmux.conf"  # a fixed size and a pane that stays after the command ends
        conf.write_text("set -g default-size 120x40\nset -g remain-on-exit on\n")
        self.run(
            "-f",
            str(conf),
            "new-session",
            "-d",
            "-s",
            "e2e",
            "-x",
            "120",
            "-y",
            "40",
            "-c",
            str(cwd),
            command,
        )

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-J", "-t", "e2e")

    def keys(self, *keys: str) -> None:
        self.run("send-keys", "-t", "e2e", *keys)

    def wait_for(self, *patterns: str, timeout: float = 120.0) -> str:
        """Capture the pane until every regex shows on one screen (frames may be captured half drawn);
        the last screen is in the failure."""
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if all(re.search(p, screen) for p in patterns):
                return screen
            time.sleep(0.2)  # polling a terminal we do not own: there is nothing to await
        raise AssertionError(f"{patterns!r} did not show within {timeout:.0f}s; the screen was:\n{screen}")

    def wait_for_any(self, *patterns: str, timeout: float = 120.0) -> str:
        """Capture the pane until one of the regexes shows; returns that pattern."""
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            for pattern in patterns:
                if re.search(pattern, screen):
                    return pattern
            time.sleep(0.2)  # polling a terminal we do not own: there is nothing to await
        raise AssertionError(f"none of {patterns!r} showed within {timeout:.0f}s; the screen was:\n{screen}")

    def kill(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=30)


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    if shutil.which("tmux") is None:
        pytest.fail("tmux is not installed (the project's .ci/run installs it)", pytrace=False)
    session = Tmux(f"cockpit-e2e-{os.getpid()}")
    try:
        yield session
    finally:
        session.kill()


@pytest.mark.codex
@pytest.mark.claude
def test_installed_demo_answers_decisions_and_merges_reviewed_diffs(tmux: Tmux, tmp_path: Path) -> None:
    assert COCKPIT.exists(), f"the cockpit command is not installed at {COCKPIT}"
    tmux.start(f"TMPDIR={tmp_path} {COCKPIT} demo --keep", tmp_path)

    # The gate and the mcp lane's Codex approval open in whichever order they arrive; `a` answers each.
    gate = r"\[A\] Retry now\s+★ recommended"
    approval = r"\[A\] Allow the command once"
    seen: list[str] = []
    for _ in range(2):
        shown = tmux.wait_for_any(*(p for p in (gate, approval) if p not in seen))
        if shown == gate:
            tmux.wait_for(gate, r"\[B\] Park as a dead letter\s+\(default\)", r"default B in \d+h")
        else:
            tmux.wait_for(approval, r"import calc", r"\[C\] Decline.*★ recommended")
        seen.append(shown)
        tmux.keys("a")  # retry the blocked task with its feedback / let Codex run the command

    # The reviewed task: round 1's VALID challenge sent it back to Codex, round 2 converged.
    tmux.wait_for(r"▶ running\s+Add a mean function", r"att 2/3\s+review 1/3 challenged")
    tmux.wait_for(r"review 2/3 converged")
    tmux.wait_for(r"reviews 5")  # the cloud task's too, once Codex Cloud (the fake) has it ready
    tmux.keys("v")  # the earliest submitted diff first: the subtract function
    tmux.wait_for(r"review add-a-subtract-function", r"calc\.py", r"\+def subtract\(a, b\):")
    tmux.keys("a")
    tmux.wait_for(r"▸ ✔ 1 merged — enter to expand")  # merged tasks fold into the lane's last line

    tmux.keys("v")
    tmux.wait_for(r"review summarise-the-upstream-changelog", r"CHANGES\.md")
    tmux.keys("a")
    tmux.wait_for(r"▸ ✔ 2 merged — enter to expand")

    tmux.keys("v")
    tmux.wait_for(r"review check-calc-py-imports", r"CHECKS\.md")
    tmux.keys("a")
    tmux.wait_for(r"reviews 2")

    tmux.keys(
        "v"
    )  # the reviewed task: Codex's fix, and not the reviewer's test (it ran in the judge's checkout)
    tmux.wait_for(r"review add-a-mean-function", r"stats\.py", r"\+    return sum\(values\) / len\(values\)")
    assert "test_review_mean" not in tmux.screen()
    tmux.keys("a")
    tmux.wait_for(r"reviews 1", r"▸ ✔ 3 merged — enter to expand")

    tmux.keys("v")  # best of 2 from the cloud: the first attempt is on the branch
    tmux.wait_for(r"review add-a-greeting-file", r"cloud_task_\w+\.txt")
    tmux.keys("a")
    tmux.wait_for(r"reviews 0", r"▸ ✔ 1 merged — enter to expand", r"▸ ✔ 3 merged — enter to expand")

    # The filter narrows the lanes (counts in their titles); Enter on the fold line lists the merges.
    tmux.keys("/")
    tmux.wait_for(r"filter: words")  # the filter line opens (its placeholder says the syntax)
    tmux.keys("-l", "state:merged lane:worktree")
    tmux.keys("Enter")
    tmux.wait_for(r"worktree · 3 of 3", r"mcp · 0 of 1", r"local · 0 of 1", r"cloud · 0 of 1")
    tmux.keys("Enter")
    tmux.wait_for(
        r"▾ ✔ 3 merged — enter to fold",
        r"✔ merged\s+Add a subtract function",
        r"✔ merged\s+Summarise the upstream changelog",
        r"✔ merged\s+Add a mean function",
    )
    tmux.keys("Escape")  # clears the filter
    tmux.wait_for(r"mcp · 1(?! of)", r"▸ ✔ 1 merged — enter to expand")

    tmux.keys("q")
    # the demo cleans up (workers stopped, model server closed), then says where the repo was kept
    tmux.wait_for(r"the demo repository is kept at|Pane is dead \(status 0")
    (repo,) = tmp_path.glob("cockpit-demo-*/repo")  # --keep left the throwaway repo in our TMPDIR
    main = Repo(repo).commit("main")
    assert "def subtract" in (main.tree / "calc.py").data_stream.read().decode()
    assert "/ len(values)" in (main.tree / "stats.py").data_stream.read().decode()
    assert "tests" not in {tree.path for tree in main.tree.trees}  # the reviewer's test stayed in the judge's
    assert {"CHANGES.md", "CHECKS.md"} <= {blob.path for blob in main.tree.blobs}
    assert [b.path for b in main.tree.blobs if b.path.startswith("cloud_task_")] != []
    assert Repo(repo).active_branch.name == "main"
    assert fake_cloud_processes(str(tmp_path)) == []  # the fake cloud stopped with the demo
