"""The demo's fake Codex Cloud (``cockpit.demo.cloud``): started inside the demo's own directory, the
demo board's ``[cloud]`` config written and trusted so only ``codex cloud`` is pointed at it, and on exit
the process stopped, its port file gone and the trust withdrawn; a fake that cannot start leaves the demo
going without the cloud lane."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from cockpit.core.board.blackboard import Blackboard
from cockpit.core.config import board_config
from cockpit.core.trust import is_trusted
from cockpit.demo import cloud as demo_cloud_module
from cockpit.demo.cloud import DEMO_CLOUD_ENV, demo_cloud
from cockpit.demo.fake_cloud.codex_home import is_cloud_codex_home
from tests.helpers.cloud import REDIRECT_KEYS, fake_cloud_processes


def test_the_demo_cloud_configures_the_board_and_leaves_nothing_behind(repo: Path, tmp_path: Path) -> None:
    board = Blackboard(repo)
    workdir = tmp_path / "demo"
    workdir.mkdir()
    environ = dict(os.environ)
    told: list[str] = []
    with demo_cloud(workdir, board, told.append) as cloud:
        assert cloud is not None and told == []
        assert fake_cloud_processes(str(workdir)) == [cloud.pid]
        assert cloud.state_dir.is_relative_to(workdir) and (cloud.state_dir / "port").exists()
        config = board_config(board)
        assert cloud.config is not None and is_trusted(cloud.config)
        assert config.cloud.env == DEMO_CLOUD_ENV
        extra = config.trusted("cloud.extra_env")
        assert isinstance(extra, dict) and set(extra) == set(REDIRECT_KEYS)
        assert extra["HTTPS_PROXY"] == f"http://{cloud.address}"
        codex_home = Path(extra["CODEX_HOME"])
        assert codex_home.is_relative_to(workdir.resolve()) and is_cloud_codex_home(codex_home)
        assert Path(extra["CODEX_CA_CERTIFICATE"]).is_relative_to(cloud.state_dir.resolve())
        assert dict(os.environ) == environ  # the redirect lives in the config, never in this process
        path, process = cloud.config, cloud.process
    assert process.returncode == 0
    assert fake_cloud_processes(str(workdir)) == []
    assert not (cloud.state_dir / "port").exists()
    assert not is_trusted(path)


def test_a_fake_that_cannot_start_leaves_the_demo_without_the_cloud_lane(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    failing = [sys.executable, "-c", "import sys; sys.exit('openssl: not found')"]
    monkeypatch.setattr(demo_cloud_module, "fake_cloud_argv", lambda state: failing)
    board = Blackboard(repo)
    told: list[str] = []
    with demo_cloud(tmp_path, board, told.append) as cloud:
        assert cloud is None
    assert len(told) == 1 and "exited 1" in told[0] and "openssl: not found" in told[0]
    assert not (board.root / "config.toml").exists()  # nothing configured, nothing trusted
