"""Run the real-binary tests against another Codex CLI version, beside the pinned one.

    .venv/bin/python scripts/compat.py 0.172.0 [-- PYTEST_ARGS...]     (or: make compat CODEX=0.172.0)

1. Installs ``@openai/codex@VERSION`` into ``.compat/codex-VERSION/`` (a throw-away npm project of its
   own; the cockpit's ``package.json``, ``package-lock.json`` and ``node_modules`` are never touched) and
   checks that its native binary reports VERSION.
2. Runs ``pytest -m codex`` (the tests that run the real binary) with ``COCKPIT_CODEX_BIN`` pointing at
   that binary: the tests find Codex through :func:`cockpit.core.codex.binary.find_codex`, which honours
   the variable first, and keep their own throw-away ``HOME`` / ``CODEX_HOME``. The full pytest output goes
   to ``.compat/codex-VERSION/pytest.log``, a JUnit report beside it.
3. Prints a one-screen summary: the version tested against the pinned one, passed / failed / skipped
   counts, each failing test with one line of reason, and the methods and notifications that
   ``codex app-server generate-json-schema`` lists in one version and not the other (when both binaries
   have that subcommand).

Exit status: 0 when every selected test passed (or was skipped), 1 when a test failed or errored, the
install or the binary check failed, pytest selected nothing or its header names another binary; 2 for
bad usage.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from cockpit.core.codex.binary import PINNED_VERSION, PROJECT_ROOT, native_binary_in
from cockpit.core.programs import reported_version as program_version

ROOT = PROJECT_ROOT

VERSION_RE = re.compile(r"^\d+\.\d+\.\d+(?:-[0-9A-Za-z.]+)?$")
PACKAGE = "@openai/codex"
OWN_FILES = ("package.json", "package-lock.json")  # the cockpit's pin: an install here must not touch them
# Top-level schema files whose ``oneOf`` variants each name one JSON-RPC method.
METHOD_FILES = {
    "ClientRequest": "client requests",
    "ServerRequest": "server requests",
    "ServerNotification": "server notifications",
    "ClientNotification": "client notifications",
}
REASON_CHARS = 110
MAX_FAILURES_SHOWN = 12


# ------------------------------------------------------------------------------------------ install


def compat_dir(version: str) -> Path:
    return ROOT / ".compat" / f"codex-{version}"


def install(version: str) -> Path:
    """The native binary of ``@openai/codex@version`` under ``.compat/``, installed if missing."""
    prefix = compat_dir(version)
    found = native_binary_in(prefix / "node_modules")
    if found is not None:
        return found
    prefix.mkdir(parents=True, exist_ok=True)
    # A package.json of its own makes ``prefix`` the npm project: npm never walks up to the cockpit's.
    manifest = {"name": f"codex-compat-{version}", "private": True, "dependencies": {PACKAGE: version}}
    (prefix / "package.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"installing {PACKAGE}@{version} into {prefix.relative_to(ROOT)} …", flush=True)
    own = {name: (ROOT / name).read_bytes() for name in OWN_FILES if (ROOT / name).is_file()}
    out = subprocess.run(
        ["npm", "install", "--no-audit", "--no-fund", "--prefix", str(prefix)],
        cwd=prefix,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    if out.returncode != 0:
        tail = (out.stderr or out.stdout).strip().splitlines()[-5:]
        raise SystemExit(f"compat: npm install {PACKAGE}@{version} failed:\n  " + "\n  ".join(tail))
    if any((ROOT / name).read_bytes() != data for name, data in own.items()):  # pragma: no cover
        raise SystemExit("compat: npm changed the cockpit's own package.json or lock file: restore them")
    found = native_binary_in(prefix / "node_modules")
    if found is None:
        raise SystemExit(f"compat: {PACKAGE}@{version} installed no native binary for this platform")
    return found


def reported_version(binary: Path) -> str:
    return program_version([str(binary)], timeout=30)


# -------------------------------------------------------------------------------------------- tests


@dataclass
class Failure:
    name: str
    reason: str


@dataclass
class Results:
    total: int = 0
    failed: list[Failure] = field(default_factory=list)
    skipped: int = 0
    seconds: float = 0.0
    exit_code: int = 0
    header: str | None = None  # the pytest header's ``codex: …`` line

    @property
    def passed(self) -> int:
        return self.total - len(self.failed) - self.skipped

    def ran(self, version: str) -> bool:
        """Whether the tests' header names a binary of ``version`` (the override took effect)."""
        return self.header is not None and f" version {version}," in self.header


def run_tests(binary: Path, version: str, pytest_args: list[str]) -> Results:
    out_dir = compat_dir(version)
    log_path, junit = out_dir / "pytest.log", out_dir / "junit.xml"
    junit.unlink(missing_ok=True)
    env = dict(os.environ, COCKPIT_CODEX_BIN=str(binary))
    env.pop("RUST_LOG", None)
    argv = [sys.executable, "-m", "pytest", "-m", "codex", "-p", "no:cacheprovider"]
    argv += [f"--junitxml={junit}", "-o", "junit_family=xunit1", *pytest_args]
    print(f"running pytest -m codex with Codex {version} (log: {log_path.relative_to(ROOT)}) …", flush=True)
    started = time.monotonic()
    with open(log_path, "wb") as log:
        code = subprocess.run(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT).returncode
    results = read_junit(junit) if junit.is_file() else Results()
    results.seconds = time.monotonic() - started
    results.exit_code = code
    results.header = used_binary(log_path)
    return results


def used_binary(log_path: Path) -> str | None:
    """The ``codex: …`` line of the pytest header (``tests/conftest.py``): the binary the tests found."""
    with open(log_path, errors="replace") as log:
        for _, line in zip(range(40), log, strict=False):
            if line.startswith("codex: "):
                return line.strip()
    return None


def read_junit(path: Path) -> Results:
    results = Results()
    for case in ET.parse(path).getroot().iter("testcase"):
        results.total += 1
        name = _test_name(case)
        bad = case.find("failure")
        if bad is None:
            bad = case.find("error")
        if bad is not None:
            results.failed.append(Failure(name, _reason(bad)))
        elif case.find("skipped") is not None:
            results.skipped += 1
    return results


def _test_name(case: ET.Element) -> str:
    file, classname, name = case.get("file"), case.get("classname", ""), case.get("name", "")
    if file:
        module = file.removesuffix(".py").replace("/", ".")
        inner = classname.removeprefix(module).strip(".")
        return "::".join(part for part in (file, inner, name) if part)
    return f"{classname}::{name}"


def _reason(element: ET.Element) -> str:
    kind = "error: " if element.tag == "error" else ""
    text = (element.get("message") or element.text or element.tag).strip()
    first = next((line.strip() for line in text.splitlines() if line.strip()), element.tag)
    first = kind + first
    return first if len(first) <= REASON_CHARS else first[: REASON_CHARS - 1] + "…"


# ------------------------------------------------------------------------------------------- schema


def schema_methods(binary: Path, out: Path) -> dict[str, set[str]] | None:
    """Method names per :data:`METHOD_FILES` from ``app-server generate-json-schema``; None without it."""
    with tempfile.TemporaryDirectory(prefix="codex-compat-home-") as home:
        env = dict(os.environ, HOME=home, CODEX_HOME=home)
        env.pop("RUST_LOG", None)
        try:
            done = subprocess.run(
                [str(binary), "app-server", "generate-json-schema", "--out", str(out)],
                capture_output=True,
                env=env,
                timeout=120,
                stdin=subprocess.DEVNULL,
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
    if done.returncode != 0:
        return None
    methods: dict[str, set[str]] = {}
    for stem in METHOD_FILES:
        path = out / f"{stem}.json"
        if not path.is_file():
            continue
        names: set[str] = set()
        for variant in json.loads(path.read_text()).get("oneOf", []):
            method = variant.get("properties", {}).get("method", {})
            names.update(method.get("enum", []))
            if "const" in method:
                names.add(method["const"])
        methods[stem] = names
    return methods


def schema_lines(tested: Path, tested_version: str, pinned: Path | None, pinned_version: str) -> list[str]:
    head = f"app-server schema, {tested_version} (tested) vs {pinned_version} (pinned):"
    if pinned is None:
        return [head, "  the pinned binary is not installed (run `make setup`): not compared"]
    if tested_version == pinned_version:
        return [head, "  same version: nothing to compare"]
    with tempfile.TemporaryDirectory(prefix="codex-compat-schema-") as tmp:
        mine = schema_methods(tested, Path(tmp) / "tested")
        theirs = schema_methods(pinned, Path(tmp) / "pinned")
        changed = _changed_files(Path(tmp) / "tested", Path(tmp) / "pinned") if mine and theirs else None
    if mine is None or theirs is None:
        missing = " and ".join(v for v, m in ((tested_version, mine), (pinned_version, theirs)) if m is None)
        return [head, f"  `codex app-server generate-json-schema` is not available in {missing}"]
    lines = [head]
    for stem, label in METHOD_FILES.items():
        only_tested = sorted(mine.get(stem, set()) - theirs.get(stem, set()))
        only_pinned = sorted(theirs.get(stem, set()) - mine.get(stem, set()))
        if not only_tested and not only_pinned:
            lines.append(f"  {label}: same ({len(mine.get(stem, set()))})")
            continue
        lines.append(f"  {label}:")
        if only_pinned:
            lines.append(f"    only in {pinned_version}: " + ", ".join(only_pinned))
        if only_tested:
            lines.append(f"    only in {tested_version}: " + ", ".join(only_tested))
    if changed is not None:
        lines.append(f"  schema files added/removed/changed: {changed[0]}/{changed[1]}/{changed[2]}")
    return lines


def _changed_files(a: Path, b: Path) -> tuple[int, int, int]:
    """(files only in ``b``, only in ``a``, in both but different) of two schema trees."""
    files_a = {p.relative_to(a) for p in a.rglob("*.json")}
    files_b = {p.relative_to(b) for p in b.rglob("*.json")}
    differ = sum(1 for rel in files_a & files_b if (a / rel).read_bytes() != (b / rel).read_bytes())
    return len(files_b - files_a), len(files_a - files_b), differ


# ------------------------------------------------------------------------------------------ summary


def summary(
    version: str, binary: Path, pinned: Path | None, pinned_version: str, results: Results
) -> list[str]:
    pinned_note = (
        "" if pinned_version == PINNED_VERSION else f" (installed: {pinned_version}; run `make setup`)"
    )
    lines = [
        f"Codex compat: {version} tested, {PINNED_VERSION} pinned{pinned_note}",
        f"  binary: {_short(binary)}",
    ]
    if not results.ran(version):
        lines.append(f"  WRONG BINARY: the tests report {results.header or 'no codex header'}")
    counts = f"{results.passed} passed, {len(results.failed)} failed, {results.skipped} skipped"
    lines.append(f"tests (pytest -m codex): {counts} in {results.seconds:.0f}s, exit {results.exit_code}")
    if results.total == 0:
        lines.append(f"  no test result: see {_short(compat_dir(version) / 'pytest.log')}")
    for failure in results.failed[:MAX_FAILURES_SHOWN]:
        lines.append(f"  FAILED {failure.name}")
        lines.append(f"         {failure.reason}")
    if len(results.failed) > MAX_FAILURES_SHOWN:
        lines.append(f"  … and {len(results.failed) - MAX_FAILURES_SHOWN} more in the log")
    lines += schema_lines(binary, version, pinned, pinned_version)
    return lines


def _short(path: Path) -> str:
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="compat",
        description="Run the real-binary tests (pytest -m codex) against another Codex CLI version.",
        usage="make compat CODEX=x.y.z  |  scripts/compat.py x.y.z [-- PYTEST_ARGS...]",
    )
    parser.add_argument("version", help="the @openai/codex version to test, e.g. 0.172.0")
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    args = parser.parse_args(argv)
    if not VERSION_RE.match(args.version):
        parser.error(f"not a version: {args.version!r} (expected x.y.z)")
    binary = install(args.version)
    version = reported_version(binary)
    if version != args.version:
        print(f"compat: {_short(binary)} reports {version}, not {args.version}", file=sys.stderr)
        return 1
    pinned = native_binary_in(ROOT / "node_modules")
    pinned_version = reported_version(pinned) if pinned is not None else PINNED_VERSION
    results = run_tests(binary, version, args.pytest_args)
    print("\n".join(summary(version, binary, pinned, pinned_version, results)))
    if results.exit_code != 0 or results.failed or results.total == 0 or not results.ran(version):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
