"""Shared fixtures: the pinned Codex binary, a running scripted model server, and a Codex env for it; the
pinned Claude Code CLI, a running scripted Messages API server, and a Claude Code env for it."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from cockpit.core.claude.binary import PINNED_VERSION as CLAUDE_PINNED_VERSION
from cockpit.core.claude.binary import ClaudeBinary, ClaudeNotFound, find_claude
from cockpit.core.codex.binary import PINNED_VERSION, CodexBinary, CodexNotFound, find_codex
from cockpit.demo.codex_home import write_codex_home
from cockpit.demo.scripted_claude import ScriptedClaude, client_env
from cockpit.demo.scripted_model import ScriptedModel
from tests.helpers.claude import claude_env as make_claude_env
from tests.helpers.claude import scripted_claude_server
from tests.helpers.cloud import CloudRig, cloud_rig
from tests.helpers.processes import env_without

if TYPE_CHECKING:
    from tests.helpers.review_loop import ReviewRig

REVIEW_OFF = "# tests: no cross-family review unless a board's config turns it on\n[review]\nlanes = []\n"
"""The user config every test starts with. Review is on by default for the worktree, mcp and cloud lanes,
and its reviewer is the real Claude Code: a test that does not test review must not start one (nor reach
the network). A board's ``config.toml`` is read over the user's, so a review test turns it back on there
(``[review] lanes = ["worktree"]``); :func:`tests.helpers.review_loop.review_on` writes that."""


@pytest.fixture(autouse=True)
def _own_user_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets its own user config and state directories (trust records, user config, boards of
    plain directories), inherited by the processes it starts: the host's never leak in or get written.
    The user config turns the cross-family review off (:data:`REVIEW_OFF`)."""
    base = tmp_path_factory.mktemp("xdg")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(base / "config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(base / "state"))
    (base / "config" / "cockpit").mkdir(parents=True)
    user_config = base / "config" / "cockpit" / "config.toml"
    user_config.write_text(REVIEW_OFF, encoding="utf-8")
    # Written a minute ago, as a user's file would have been: readers that re-read a file changed within
    # the last second (it may change again unseen) treat it as settled.
    past = time.time() - 60
    os.utime(user_config, (past, past))


@pytest.fixture(autouse=True)
def _keep_sigpipe_ignored() -> Iterator[None]:
    """``cockpit``'s ``main()`` restores the default SIGPIPE action for its own process (so a closed pipe
    ends it quietly); a test calling it in-process must not leave that behind, or the scripted model's
    next write to a socket Codex closed would kill the whole test run."""
    before = signal.getsignal(signal.SIGPIPE)
    yield
    signal.signal(signal.SIGPIPE, before)


@pytest.fixture(scope="session")
def codex_bin() -> Path:
    """The native Codex binary the cockpit itself would run (:func:`find_codex`): the pinned one, or the
    one ``COCKPIT_CODEX_BIN`` names (``make compat``); a missing binary is a failure, never a skip."""
    try:
        return find_codex().path
    except CodexNotFound as exc:
        pytest.fail(
            f"{exc}\nRun `npm ci` in the project root to install the pinned Codex CLI.", pytrace=False
        )


@pytest.fixture(scope="session")
def codex_version(codex_bin: Path) -> str:
    """The version ``codex_bin`` reports (the pinned one unless ``COCKPIT_CODEX_BIN`` names another)."""
    return CodexBinary(codex_bin, "test").version()


@pytest.fixture(scope="session")
def claude_bin() -> ClaudeBinary:
    """The Claude Code CLI the cockpit itself would run (:func:`find_claude`): the pinned one, or the one
    ``COCKPIT_CLAUDE_BIN`` names; a missing CLI is a failure, never a skip."""
    try:
        return find_claude()
    except ClaudeNotFound as exc:
        pytest.fail(
            f"{exc}\nRun `npm ci` in the project root to install the pinned Claude Code.", pytrace=False
        )


@pytest.fixture
def scripted_claude() -> Iterator[ScriptedClaude]:
    """A started scripted Messages API server with no scenarios; stopped at teardown."""
    with scripted_claude_server() as server:
        yield server


@pytest.fixture
def claude_env(scripted_claude: ScriptedClaude, tmp_path: Path) -> dict[str, str]:
    """Process env for Claude Code: this environment without the host's Anthropic/Claude settings, a
    throw-away HOME and CLAUDE_CONFIG_DIR, pointed at ``scripted_claude``."""
    return make_claude_env(scripted_claude.base_url, tmp_path / "claude-home")


@pytest.fixture
def reviewer_env(scripted_claude: ScriptedClaude, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    """What a supervisor adds to the reviewer's environment (its own, inherited): the scripted server and
    a throw-away Claude home. ``IS_SANDBOX`` (set on some machines) would change the CLI's 529 handling:
    not here."""
    monkeypatch.delenv("IS_SANDBOX", raising=False)
    return client_env(scripted_claude.base_url, tmp_path / "claude-home")


def pytest_report_header(config: pytest.Config) -> list[str]:
    lines = []
    try:
        codex = find_codex()
        lines.append(
            f"codex: {codex.path} ({codex.source}), version {codex.version()}, pinned {PINNED_VERSION}"
        )
    except (CodexNotFound, OSError, subprocess.TimeoutExpired) as exc:
        lines.append(f"codex: not usable ({exc})")
    try:
        claude = find_claude()
        found = f"{claude.path} ({claude.source}), version {claude.version()}"
        lines.append(f"claude: {found}, pinned {CLAUDE_PINNED_VERSION}")
    except (ClaudeNotFound, OSError, subprocess.TimeoutExpired) as exc:
        lines.append(f"claude: not usable ({exc})")
    return lines


@pytest.fixture
def scripted_model() -> Iterator[ScriptedModel]:
    """A started scripted model server with no scenarios; stopped at teardown."""
    model = ScriptedModel().start()
    try:
        yield model
    finally:
        model.stop()


@pytest.fixture
def fake_cloud(tmp_path: Path, codex_bin: Path) -> Iterator[CloudRig]:
    """A running fake Codex Cloud backend with a throw-away HOME, CODEX_HOME (dummy ChatGPT login) and
    git repository; ``.codex(...)`` runs ``codex cloud`` there; stopped (SIGTERM, exit 0) at teardown."""
    with cloud_rig(tmp_path, codex_bin) as rig:
        yield rig


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Processes a test started (:func:`tests.helpers.processes.sleeper`); killed at teardown."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        proc.kill()
        proc.wait()


@pytest.fixture
def codex_home(tmp_path: Path) -> Path:
    return tmp_path / "codex-home"


@pytest.fixture
def codex_env(scripted_model: ScriptedModel, codex_home: Path) -> dict[str, str]:
    """Process env for Codex: this environment plus a fresh CODEX_HOME pointed at ``scripted_model``."""
    return env_without(
        ("RUST_LOG",), **write_codex_home(codex_home, scripted_model.base_url, stream_idle_timeout_ms=3000)
    )


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    path = tmp_path / "work"
    path.mkdir()
    return path


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A throwaway git repo on ``main`` with one commit (calc.py, README.md) and an initialised blackboard."""
    from cockpit.core.board.blackboard import Blackboard
    from cockpit.demo.repo import make_demo_repo

    path = tmp_path / "repo"
    make_demo_repo(path)
    Blackboard(path).init()
    return path


@pytest.fixture
def cockpit_env(scripted_model: ScriptedModel, codex_home: Path, tmp_path: Path) -> dict[str, str]:
    """Only the env additions the supervisor hands its workers (never the whole environment). Workers get
    a throwaway ``HOME``: Codex runs commands in login shells, which must not read the host's profile."""
    home = tmp_path / "worker-home"
    home.mkdir(exist_ok=True)
    env = write_codex_home(codex_home, scripted_model.base_url, stream_idle_timeout_ms=3000)
    return {**env, "HOME": str(home)}


@pytest.fixture
def review_rig(
    repo: Path,
    scripted_model: ScriptedModel,
    scripted_claude: ScriptedClaude,
    cockpit_env: dict[str, str],
    reviewer_env: dict[str, str],
) -> ReviewRig:
    """``repo``'s board with ``[review]`` on for the worktree lane, its workers pointed at
    ``scripted_model`` and its reviewers at ``scripted_claude``."""
    from cockpit.core.board.blackboard import Blackboard
    from tests.helpers.review_loop import ReviewRig, review_on

    board = Blackboard(repo)
    review_on(board)
    return ReviewRig(board, scripted_model, scripted_claude, cockpit_env, reviewer_env)
