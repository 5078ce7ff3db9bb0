"""The judge, through real git and the real ``codex sandbox``: a reviewer's failing test reproduces
(VALID), a passing one does not (NOISE), a reading of the spec waits for a human (PARTIAL); a command
that writes outside its checkout — the user's own files included — or reaches the network is refused
inside the sandbox, and the judge says it cannot tell; a command past its time is killed with its
children, and so is one under way when the judge is told to stop (the rest then never start); the user's
checkout is untouched and the judge's throw-away checkout is gone afterwards.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from cockpit.core.records.review import Challenge, Evidence
from cockpit.core.review.judge import STOPPED, JudgeRefused, judge_challenges, remove_leftovers
from cockpit.core.review.retreat import find_retreat
from cockpit.core.review.verdict import Verdict, parse_verdict
from tests.helpers.processes import Listener, wait_until

pytestmark = pytest.mark.codex

PY = sys.executable  # a Python with pytest, readable inside the sandbox
PYTEST = [PY, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly"]


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
        cwd=repo,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> tuple[Path, str, Path]:
    """A repository whose head has a bug (subtract adds) and a symbolic link to a directory outside it;
    returns the checkout, the head commit and that outside directory."""
    repo = tmp_path / "repo"
    (repo / "tests").mkdir(parents=True)
    (repo / "calc.py").write_text(
        "def add(a, b):\n    return a + b\n\n\ndef subtract(a, b):\n    return a + b\n"
    )
    (repo / "tests" / "test_calc.py").write_text(
        "from calc import add\n\n\ndef test_add():\n    assert add(2, 2) == 4\n"
    )
    (repo / "pytest.ini").write_text("[pytest]\npythonpath = .\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (repo / "evil").symlink_to(outside)
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "head with a bug")
    (repo / "NOTES.txt").write_text("the user's own untracked file\n")
    return repo, _git(repo, "rev-parse", "HEAD"), outside


def _snapshot(repo: Path) -> dict[str, object]:
    files = {
        str(p.relative_to(repo)): p.read_bytes()
        for p in sorted(repo.rglob("*"))
        if p.is_file() and not p.is_symlink() and ".git" not in p.relative_to(repo).parts
    }
    return {
        "files": files,
        "status": _git(repo, "status", "--porcelain", "--ignored"),
        "head": _git(repo, "rev-parse", "HEAD"),
        "branches": _git(repo, "branch", "--list"),
    }


def _reply(port: int, outside: Path, repo: Path) -> str:
    c1 = {
        "kind": "failing_test",
        "claim": "subtract adds instead of subtracting",
        "file": "calc.py",
        "line": 6,
        "command": [*PYTEST, "tests/test_review_c1.py"],
        "files": {
            "tests/test_review_c1.py": "from calc import subtract\n\n\ndef test_subtract():\n"
            "    assert subtract(3, 1) == 2\n"
        },
    }
    c2 = {
        "kind": "failing_test",
        "claim": "add is wrong",
        "file": "calc.py",
        "line": 1,
        "command": [*PYTEST, "tests/test_calc.py::test_add"],
    }
    c3 = {
        "kind": "spec_violation",
        "claim": "the README does not document subtract",
        "criterion": "README documents every function",
    }
    c4 = {
        "kind": "counterexample",
        "claim": "writes outside its checkout",
        "command": f"echo PWNED >> {repo / 'calc.py'}; echo PWNED > {outside / 'direct.txt'}",
    }
    c5 = {
        "kind": "regression",
        "claim": "needs the network",
        "command": [PY, "-c", f"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=3)"],
    }
    c6 = {
        "kind": "counterexample",
        "claim": "writes through a link",
        "command": ["true"],
        "files": {"evil/planted.py": "PWNED = 1\n"},
    }
    c7 = {
        "kind": "regression",
        "claim": "a tool that is not there",
        "command": ["no-such-program-xyz", "--x"],
    }
    c8 = {
        "kind": "counterexample",
        "claim": "subtract(2, 2) is not 0",
        "command": f"{PY} -c 'from calc import subtract; assert subtract(2, 2) == 0'",
    }
    c9 = {
        "kind": "counterexample",
        "claim": "calc.py exists",
        "command": ["test", "-f", "calc.py"],
        "expect": "succeeds",
    }
    c10 = {
        "kind": "regression",
        "claim": "the first command's file is gone",
        "command": ["test", "-e", "tests/test_review_c1.py"],
        "expect": "succeeds",
    }
    challenges = [c1, c2, c3, c4, c5, c6, c7, c8, c9, c10]
    return (
        "Review done.\n```json\n" + json.dumps({"verdict": "challenge", "challenges": challenges}) + "\n```\n"
    )


def test_the_judge_labels_from_what_runs_in_the_sandbox(
    repo: tuple[Path, str, Path], codex_bin: Path, tmp_path: Path
) -> None:
    checkout, head, outside = repo
    before = _snapshot(checkout)
    work_dir = tmp_path / "board" / "review"
    listener = Listener()
    try:
        verdict = parse_verdict(_reply(listener.port, outside, checkout))
        assert isinstance(verdict, Verdict), verdict
        retreat = find_retreat("diff --git a/tests/t_test.py b/tests/t_test.py\ndeleted file mode 100644\n")
        started = time.monotonic()
        judged = judge_challenges(
            [*verdict.challenges, *retreat],
            repo=checkout,
            head_commit=head,
            work_dir=work_dir,
            codex=codex_bin,
            timeout_s=60,
        )
        elapsed = time.monotonic() - started
    finally:
        listener.close()
    by_claim = {c.claim: c for c in judged}
    labels = {c.id: (c.label, c.labelled_by) for c in judged}
    reasons = {c.id: c.label_reason for c in judged}
    print(f"judged {len(judged)} challenges in {elapsed:.1f}s")
    for c in judged:
        print(c.id, c.label, c.label_reason)

    # A reviewer's failing test reproduces; an existing passing test does not; a spec reading waits.
    c1 = by_claim["subtract adds instead of subtracting"]
    assert labels[c1.id] == ("VALID", "judge") and reasons[c1.id] == "reproduced: the command failed (exit 1)"
    assert c1.judge is not None and c1.judge.exit_code == 1 and "1 failed" in c1.judge.stdout_tail
    assert "assert 4 == 2" in c1.judge.stdout_tail and c1.judge.duration_s > 0
    c2 = by_claim["add is wrong"]
    assert c2.label == "NOISE" and c2.judge is not None and "1 passed" in c2.judge.stdout_tail
    c3 = by_claim["the README does not document subtract"]
    assert c3.label == "PARTIAL" and c3.judge is None and "for a human to label" in (c3.label_reason or "")

    # Writes outside the checkout (the user's own file, a directory under /tmp) fail inside the sandbox.
    c4 = by_claim["writes outside its checkout"]
    assert c4.label == "PARTIAL" and "tried to write outside its checkout" in (c4.label_reason or "")
    assert c4.judge is not None and "Read-only file system" in c4.judge.stderr_tail
    assert not (outside / "direct.txt").exists()

    # The network is off: the loopback server never saw a connection.
    c5 = by_claim["needs the network"]
    assert c5.label == "PARTIAL" and "network" in (c5.label_reason or "")
    assert c5.judge is not None and "Operation not permitted" in c5.judge.stderr_tail
    assert not listener.connected

    # Files are never written through a symbolic link the commit holds.
    c6 = by_claim["writes through a link"]
    assert c6.label == "PARTIAL" and (c6.label_reason or "").startswith(
        "not run: could not write evil/planted.py"
    )
    assert list(outside.iterdir()) == []

    c7 = by_claim["a tool that is not there"]
    assert c7.label == "PARTIAL" and "'no-such-program-xyz' was not found inside the sandbox" in (
        c7.label_reason or ""
    )
    c8 = by_claim["subtract(2, 2) is not 0"]  # a shell line, run as bash -c inside the sandbox
    assert c8.label == "VALID" and c8.judge is not None and c8.judge.argv[:2] == ["bash", "-c"]
    assert "AssertionError" in c8.judge.stderr_tail
    c9 = by_claim["calc.py exists"]
    assert c9.label == "VALID" and "should have been refused" in (c9.label_reason or "")
    c10 = by_claim["the first command's file is gone"]  # each command starts from a clean checkout
    assert c10.label == "NOISE" and c10.judge is not None and c10.judge.exit_code == 1

    # The cockpit's own findings pass through as they were.
    (r,) = [c for c in judged if c.source == "cockpit"]
    assert r.label == "VALID" and r.judge is None

    # The user's checkout is untouched; the judge's checkout, directory and worktree entry are gone.
    assert _snapshot(checkout) == before
    assert list(work_dir.iterdir()) == []
    assert _git(checkout, "worktree", "list", "--porcelain").count("worktree ") == 1
    assert (checkout / "calc.py").read_text().count("PWNED") == 0


def _sleepers(tag: str) -> list[int]:
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                cmdline = Path(entry.path, "cmdline").read_bytes().replace(b"\0", b" ")
            except OSError:
                continue
            if tag.encode() in cmdline and b"sleep" in cmdline and b"pytest" not in cmdline:
                found.append(int(entry.name))
    return found


def _hangs(tag: str) -> Challenge:
    """A challenge whose command sleeps (``tag`` seconds, so its processes are told apart) in itself and
    in a child."""
    return Challenge(
        id="c1", kind="regression", claim="hangs", evidence=Evidence(shell=f"sleep {tag} & sleep {tag}; wait")
    )


def _all_killed(tag: str) -> None:
    wait_until(lambda: not _sleepers(tag), 5, f"the sleep {tag} processes to be killed")


def test_a_command_past_its_time_is_killed_with_its_children(
    repo: tuple[Path, str, Path], codex_bin: Path, tmp_path: Path
) -> None:
    checkout, head, _ = repo
    tag = "317.25"
    started = time.monotonic()
    (judged,) = judge_challenges(
        [_hangs(tag)],
        repo=checkout,
        head_commit=head,
        work_dir=tmp_path / "judge",
        codex=codex_bin,
        timeout_s=2,
    )
    assert time.monotonic() - started < 30
    assert judged.label == "PARTIAL" and "did not finish within 2s and was killed" in (
        judged.label_reason or ""
    )
    assert judged.judge is not None and judged.judge.timed_out and judged.judge.exit_code is None
    _all_killed(tag)
    assert list((tmp_path / "judge").iterdir()) == []


def test_a_stop_kills_the_command_under_way_and_starts_no_other(
    repo: tuple[Path, str, Path], codex_bin: Path, tmp_path: Path
) -> None:
    checkout, head, _ = repo
    tag = "318.25"
    after = Challenge(id="c2", kind="regression", claim="comes next", evidence=Evidence(command=["false"]))
    stop = threading.Event()

    def stop_once_it_runs() -> None:
        try:
            wait_until(lambda: bool(_sleepers(tag)), 60, "the command to run")
        finally:
            stop.set()

    threading.Thread(target=stop_once_it_runs, daemon=True).start()
    started = time.monotonic()
    first, second = judge_challenges(
        [_hangs(tag), after],
        repo=checkout,
        head_commit=head,
        work_dir=tmp_path / "judge",
        codex=codex_bin,
        timeout_s=600,  # far away: only the stop ends the command
        stop=stop,
    )
    assert stop.is_set() and time.monotonic() - started < 60
    assert (first.label, first.label_reason) == ("PARTIAL", STOPPED)
    assert first.judge is not None and not first.judge.timed_out and first.judge.exit_code is None
    assert (second.label, second.label_reason, second.judge) == ("PARTIAL", STOPPED, None)
    _all_killed(tag)
    assert list((tmp_path / "judge").iterdir()) == []
    assert _git(checkout, "worktree", "list", "--porcelain").count("worktree ") == 1


def test_without_a_working_sandbox_nothing_runs(repo: tuple[Path, str, Path], tmp_path: Path) -> None:
    checkout, head, _ = repo
    challenge = Challenge(
        id="c1", kind="failing_test", claim="x", evidence=Evidence(command=["touch", "ran"])
    )
    spec = Challenge(id="c2", kind="spec_violation", claim="y", evidence=Evidence(criterion="z"))
    judged = judge_challenges(
        [challenge, spec],
        repo=checkout,
        head_commit=head,
        work_dir=tmp_path / "judge",
        codex=tmp_path / "no-codex",
        sandbox=(False, "bwrap: setting up uid map: Permission denied"),
    )
    assert [c.label for c in judged] == ["PARTIAL", "PARTIAL"]
    assert "codex sandbox is unavailable on this machine (bwrap: setting up uid map" in (
        judged[0].label_reason or ""
    )
    assert not (tmp_path / "judge").exists()
    # And the sandbox check itself, when the binary cannot start.
    (missing,) = judge_challenges(
        [challenge], repo=checkout, head_commit=head, work_dir=tmp_path / "judge", codex=tmp_path / "no-codex"
    )
    assert missing.label == "PARTIAL" and "unavailable" in (missing.label_reason or "")


def test_a_sandbox_that_never_starts_the_command_shows_nothing(
    repo: tuple[Path, str, Path], tmp_path: Path
) -> None:
    """A Codex that exits 1 before starting anything (a configuration it refuses): not a failing test."""
    checkout, head, _ = repo
    fake = tmp_path / "codex"
    fake.write_text("#!/bin/sh\necho 'Error: invalid type: sequence, expected a boolean' >&2\nexit 1\n")
    fake.chmod(0o755)
    challenge = Challenge(id="c1", kind="failing_test", claim="x", evidence=Evidence(command=["false"]))
    (judged,) = judge_challenges(
        [challenge],
        repo=checkout,
        head_commit=head,
        work_dir=tmp_path / "judge",
        codex=fake,
        sandbox=(True, ""),
    )
    assert judged.label == "PARTIAL"
    assert judged.label_reason == (
        "not run: the sandbox did not start the command (Error: invalid type: sequence, expected a boolean)"
    )


def test_the_judge_refuses_to_work_inside_the_users_checkout_and_clears_leftovers(
    repo: tuple[Path, str, Path], codex_bin: Path, tmp_path: Path
) -> None:
    checkout, head, _ = repo
    challenge = Challenge(id="c1", kind="failing_test", claim="x", evidence=Evidence(command=["false"]))
    with pytest.raises(JudgeRefused, match="inside the checkout"):
        judge_challenges(
            [challenge], repo=checkout, head_commit=head, work_dir=checkout / "review", codex=codex_bin
        )
    assert not (checkout / "review").exists()
    # Inside the repository's git directory (where the board lives) is fine.
    (judged,) = judge_challenges(
        [challenge],
        repo=checkout,
        head_commit=head,
        work_dir=checkout / ".git" / "cockpit" / "review",
        codex=codex_bin,
    )
    assert judged.label == "VALID"
    # A judge killed mid-run leaves its directory and worktree entry: removed on the next start.
    left = tmp_path / "judge" / "judge-dead"
    _git(checkout, "worktree", "add", "--detach", "-q", str(left / "checkout-1"), head)
    (left / "checkout-1" / "sub").mkdir()
    (left / "checkout-1" / "sub").chmod(0)
    assert remove_leftovers(checkout, tmp_path / "judge") == [left]
    assert not left.exists()
    assert _git(checkout, "worktree", "list", "--porcelain").count("worktree ") == 1
