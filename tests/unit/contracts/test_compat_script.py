"""``make compat`` (``scripts/compat.py``) without installing anything: the pin is consistent, usage errors
exit 2, JUnit reports become counts and one-line reasons, and schema method lists are compared."""

from __future__ import annotations

import importlib.util
import json
import stat
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from cockpit.core.codex.binary import PINNED_VERSION, PROJECT_ROOT

SCRIPT = PROJECT_ROOT / "scripts" / "compat.py"


@pytest.fixture(scope="module")
def compat() -> ModuleType:
    spec = importlib.util.spec_from_file_location("cockpit_compat_script", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_the_pin_is_the_same_in_package_json_the_lock_file_and_the_code() -> None:
    manifest = json.loads((PROJECT_ROOT / "package.json").read_text())
    lock = json.loads((PROJECT_ROOT / "package-lock.json").read_text())
    assert manifest["dependencies"]["@openai/codex"] == PINNED_VERSION
    assert lock["packages"][""]["dependencies"]["@openai/codex"] == PINNED_VERSION
    assert lock["packages"]["node_modules/@openai/codex"]["version"] == PINNED_VERSION


def test_make_compat_without_a_version_prints_usage_and_exits_2() -> None:
    out = subprocess.run(
        ["make", "-s", "--no-print-directory", "compat"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    assert out.returncode == 2
    assert "usage: make compat CODEX=x.y.z" in out.stderr


def test_a_bad_version_is_a_usage_error(compat: ModuleType) -> None:
    for argv in ([], ["latest"], ["0.171"], ["../0.171.0"]):
        with pytest.raises(SystemExit) as stopped:
            compat.main(argv)
        assert stopped.value.code == 2


JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" tests="5">
<testcase classname="tests.unit.test_a" name="test_ok" file="tests/unit/test_a.py" time="0.1"/>
<testcase classname="tests.unit.test_a" name="test_bad[x]" file="tests/unit/test_a.py" time="0.1">
  <failure message="AssertionError: assert 'codex_cockpit/0.169.0 (Debian)' startswith 'x'&#10;+ where">long
  traceback</failure></testcase>
<testcase classname="tests.unit.test_a.TestGroup" name="test_setup" file="tests/unit/test_a.py" time="0">
  <error message="failed on setup with &quot;OSError: boom&quot;">trace</error></testcase>
<testcase classname="tests.unit.test_a" name="test_skip" file="tests/unit/test_a.py" time="0">
  <skipped message="no tmux"/></testcase>
<testcase classname="tests.unit.test_a" name="test_long" file="tests/unit/test_a.py" time="0">
  <failure message="">{long}</failure></testcase>
</testsuite></testsuites>
"""


def test_junit_report_becomes_counts_and_one_line_reasons(compat: ModuleType, tmp_path: Path) -> None:
    path = tmp_path / "junit.xml"
    path.write_text(JUNIT.replace("{long}", "E" * 300))
    results = compat.read_junit(path)
    assert (results.total, results.passed, len(results.failed), results.skipped) == (5, 1, 3, 1)
    names = [failure.name for failure in results.failed]
    assert names == [
        "tests/unit/test_a.py::test_bad[x]",
        "tests/unit/test_a.py::TestGroup::test_setup",
        "tests/unit/test_a.py::test_long",
    ]
    reasons = [failure.reason for failure in results.failed]
    assert reasons[0] == "AssertionError: assert 'codex_cockpit/0.169.0 (Debian)' startswith 'x'"
    assert reasons[1] == 'error: failed on setup with "OSError: boom"'
    assert len(reasons[2]) == compat.REASON_CHARS and reasons[2].endswith("…")


def fake_codex(path: Path, version: str, methods: dict[str, list[str]] | None) -> Path:
    """A stand-in binary: ``--version``, and ``app-server generate-json-schema --out DIR`` writing one
    schema file per method list (or failing, as a Codex without the subcommand would)."""
    schemas = {
        stem: {"oneOf": [{"properties": {"method": {"enum": [name]}}} for name in names]}
        for stem, names in (methods or {}).items()
    }
    path.write_text(
        f"""#!{sys.executable}
import json, pathlib, sys
args = sys.argv[1:]
if args == ["--version"]:
    print("codex-cli {version}")
    sys.exit(0)
if {methods is None!r} or args[:2] != ["app-server", "generate-json-schema"]:
    sys.exit(2)
out = pathlib.Path(args[args.index("--out") + 1])
out.mkdir(parents=True)
for stem, schema in {schemas!r}.items():
    (out / (stem + ".json")).write_text(json.dumps(schema))
"""
    )
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_schema_methods_added_and_removed_are_listed(compat: ModuleType, tmp_path: Path) -> None:
    old = fake_codex(
        tmp_path / "old",
        "0.169.0",
        {"ClientRequest": ["thread/start", "turn/start"], "ServerNotification": ["turn/completed", "gone/x"]},
    )
    new = fake_codex(
        tmp_path / "new",
        "0.171.0",
        {
            "ClientRequest": ["thread/start", "turn/start", "modelProvider/default/set"],
            "ServerNotification": ["turn/completed", "thread/search/partial"],
        },
    )
    assert compat.reported_version(old) == "0.169.0"
    lines = compat.schema_lines(old, "0.169.0", new, "0.171.0")
    assert lines == [
        "app-server schema, 0.169.0 (tested) vs 0.171.0 (pinned):",
        "  client requests:",
        "    only in 0.171.0: modelProvider/default/set",
        "  server requests: same (0)",
        "  server notifications:",
        "    only in 0.171.0: thread/search/partial",
        "    only in 0.169.0: gone/x",
        "  client notifications: same (0)",
        "  schema files added/removed/changed: 0/0/2",
    ]


def test_a_codex_without_the_schema_subcommand_is_named(compat: ModuleType, tmp_path: Path) -> None:
    old = fake_codex(tmp_path / "old", "0.100.0", None)
    new = fake_codex(tmp_path / "new", "0.171.0", {"ClientRequest": ["thread/start"]})
    lines = compat.schema_lines(old, "0.100.0", new, "0.171.0")
    assert lines[1] == "  `codex app-server generate-json-schema` is not available in 0.100.0"
    assert compat.schema_lines(new, "0.171.0", new, "0.171.0")[1] == "  same version: nothing to compare"
    assert "not installed" in compat.schema_lines(new, "0.171.0", None, "0.171.0")[1]


def test_summary_names_the_binary_the_tests_ran_and_their_failures(
    compat: ModuleType, tmp_path: Path
) -> None:
    log = tmp_path / "pytest.log"
    header = "codex: /x/codex (env), version 0.169.0, pinned 0.171.0"
    log.write_text(f"=== test session starts ===\nplatform linux\n{header}\nrootdir: /r\n")
    assert compat.used_binary(log) == header
    failure = compat.Failure("tests/a.py::test_x", "AssertionError: nope")
    results = compat.Results(total=3, failed=[failure], skipped=1, seconds=12.4, exit_code=1, header=header)
    binary = tmp_path / "codex"
    lines = compat.summary("0.169.0", binary, None, PINNED_VERSION, results)
    assert lines[0] == f"Codex compat: 0.169.0 tested, {PINNED_VERSION} pinned"
    assert "tests (pytest -m codex): 1 passed, 1 failed, 1 skipped in 12s, exit 1" in lines
    assert lines[lines.index("  FAILED tests/a.py::test_x") + 1] == "         AssertionError: nope"
    assert not any("WRONG BINARY" in line for line in lines)
    elsewhere = compat.Results(
        total=1, header="codex: /y/codex (node_modules), version 0.171.0, pinned 0.171.0"
    )
    assert not elsewhere.ran("0.169.0")
    assert any(
        "WRONG BINARY" in line for line in compat.summary("0.169.0", binary, None, PINNED_VERSION, elsewhere)
    )
