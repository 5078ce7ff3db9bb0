"""The wheel carries the whole cockpit: built from the tracked files, installed in a fresh virtual
environment, its ``cockpit`` runs ``--help`` and the headless demo (real Codex, scripted model), and the
TUI's stylesheets, the demo's scenarios and the page of ``cockpit serve`` are inside it. A subpackage or
data file left out of ``pyproject.toml`` fails here, not on a user's machine.

The fresh environment gets the wheel alone (``--no-deps``, offline); the dependencies come from the
project's own environment through a ``.pth`` line (its ``.pth`` files, the editable install among them,
are not processed that way), so nothing but the wheel can provide ``cockpit``.
"""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run(argv: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=240, check=False, **kw)  # type: ignore[call-overload]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``bin/`` of a fresh venv holding only the wheel built from the tracked files."""
    tmp = tmp_path_factory.mktemp("packaging")
    listed = _run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT)
    assert listed.returncode == 0, listed.stderr
    src = tmp / "src"
    for name in filter(None, listed.stdout.split("\0")):
        if (ROOT / name).is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, src / name)
    built = _run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            str(src),
            "-w",
            str(tmp / "dist"),
        ]
    )
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = (tmp / "dist").glob("codex_cockpit-*.whl")
    venv = tmp / "venv"
    made = _run([sys.executable, "-m", "venv", str(venv)])
    assert made.returncode == 0, made.stderr
    pip = _run([str(venv / "bin" / "pip"), "install", "-q", "--no-deps", "--no-index", str(wheel)])
    assert pip.returncode == 0, pip.stderr[-3000:]
    purelib = _run(
        [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"]
    )
    deps = "\n".join(site.getsitepackages()) + "\n"
    (Path(purelib.stdout.strip()) / "project-deps.pth").write_text(deps)
    return venv / "bin"


def _env(tmp: Path) -> dict[str, str]:
    from cockpit.core.codex.binary import find_codex

    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env.update(HOME=str(tmp / "home"), COCKPIT_CODEX_BIN=str(find_codex().path))
    (tmp / "home").mkdir(exist_ok=True)
    return env


def test_the_wheel_provides_cockpit_and_its_files(installed: Path, tmp_path: Path) -> None:
    probe = (
        "import cockpit.core, cockpit.tui.app as app, cockpit.demo as demo, pathlib;"
        "import cockpit.demo.fake_cloud.__main__;"
        "print(cockpit.core.__file__);"
        "print(len(app.STYLESHEETS), all(p.is_file() for p in app.STYLESHEETS));"
        "print(len(list((pathlib.Path(demo.__file__).parent / 'scenarios').glob('*.toml'))));"
        "import cockpit.cli.serve as serve;"
        "print(all(p.is_file() for p in serve.STATIC.values()) and (serve.WEB / 'index.html').is_file())"
    )
    out = _run([str(installed / "python"), "-c", probe], cwd=tmp_path, env=_env(tmp_path))
    assert out.returncode == 0, out.stderr
    where, styles, scenarios, web = out.stdout.split("\n")[:4]
    assert Path(where).is_relative_to(installed.parent), f"cockpit imported from {where}, not the wheel"
    count, present = styles.split()
    assert int(count) >= 1 and present == "True"
    assert int(scenarios) >= 1
    assert web == "True"  # the page `cockpit serve` sends, and its script


def test_the_installed_cockpit_answers_help(installed: Path, tmp_path: Path) -> None:
    out = _run([str(installed / "cockpit"), "--help"], cwd=tmp_path, env=_env(tmp_path))
    assert out.returncode == 0, out.stderr
    for command in ("submit", "run", "status", "archive", "mcp", "demo", "serve"):
        assert command in out.stdout


@pytest.mark.codex
def test_the_installed_cockpit_runs_the_headless_demo(installed: Path, tmp_path: Path) -> None:
    out = _run([str(installed / "cockpit"), "demo", "--headless"], cwd=tmp_path, env=_env(tmp_path))
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert "merged into main" in out.stdout
    assert "succeeded" in out.stdout and "awaiting_decision" in out.stdout
    assert "fake Codex Cloud: 127.0.0.1:" in out.stdout  # the cloud lane's fake, from the installed package
    assert "picked attempt 2" in out.stdout
    # The installed package has no node_modules of its own: without a Claude Code CLI on PATH (or named
    # by COCKPIT_CLAUDE_BIN) the demo says so and leaves its reviewed task out, and still succeeds.
    assert "the reviewed task is left out: Claude Code not found" in out.stdout or (
        "was reviewed by Claude Code" in out.stdout
    )
