"""The headless CLI contract: exit codes, one-line errors naming the field, JSON shapes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cockpit.core.board.blackboard import Blackboard
from cockpit.core.codex.binary import PINNED_VERSION
from cockpit.core.records.basics import TaskStatus
from cockpit.core.records.task import TaskState
from tests.helpers.review import add_review, challenge, ran

COCKPIT = Path(sys.executable).parent / "cockpit"


def cockpit(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(COCKPIT), "--repo", str(repo), *args], capture_output=True, text=True, timeout=60
    )


def test_submit_prints_an_id_and_status_json_lists_it(repo: Path) -> None:
    out = cockpit(repo, "submit", "--goal", "Write hello.txt", "--lane", "local", "--effort", "low")
    assert out.returncode == 0, out.stderr
    task_id = out.stdout.strip()
    assert task_id.startswith("write-hello-txt-")
    rows = json.loads(cockpit(repo, "status", "--json").stdout)
    assert [r["id"] for r in rows] == [task_id]
    row = rows[0]
    assert row["state"] == "submitted" and row["lane"] == "local"
    assert set(row["signals"]) == {"exit_code", "turn_completed", "last_message"}
    assert set(row["usage"]) >= {"input_tokens", "cached_input_tokens", "output_tokens"}


@pytest.mark.parametrize(
    ("content", "suffix", "field"),
    [
        ('goal = ""\n', ".toml", "goal"),
        ('goal = "x"\nlane = "moon"\n', ".toml", "lane"),
        ('goal = "x"\n[budget]\ntokens = -5\n', ".toml", "budget.tokens"),
        ('goal = "x"\nbudgt = 3\n', ".toml", "budgt"),
        ('{"goal": "x", "effort": "extreme"}', ".json", "effort"),
        ('goal = "x"\ninputs = ["../outside.txt"]\n', ".toml", "inputs.0.path"),
        ('goal = "x"\ninputs = ["config/secrets.yaml"]\n', ".toml", "inputs.0.path"),
        ('goal = "x\n', ".toml", "(file)"),
    ],
)
def test_invalid_envelopes_exit_2_naming_the_field(
    repo: Path, tmp_path: Path, content: str, suffix: str, field: str
) -> None:
    path = tmp_path / f"envelope{suffix}"
    path.write_text(content)
    out = cockpit(repo, "submit", str(path))
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and f" {field}:" in lines[0], lines
    assert list((Blackboard(repo).root / "inbox").glob("*.json")) == []  # nothing half-submitted


def test_unknown_task_is_bad_input(repo: Path) -> None:
    out = cockpit(repo, "show", "no-such-task")
    assert out.returncode == 2 and "no task" in out.stderr


@pytest.mark.codex
def test_doctor_reports_the_pinned_codex_and_a_working_sandbox(repo: Path, codex_version: str) -> None:
    out = cockpit(repo, "doctor", "--json")
    checks = {c["name"]: c for c in json.loads(out.stdout)}
    assert checks["sandbox"]["ok"], checks["sandbox"]["detail"]
    assert checks["git"]["ok"] and checks["repo"]["ok"]
    assert f"version {codex_version}" in checks["codex"]["detail"]
    assert checks["claude"]["ok"], checks["claude"]["detail"]  # the pinned Claude Code, from npm ci
    if codex_version == PINNED_VERSION:
        assert checks["codex"]["ok"] and out.returncode == 0
    else:  # another Codex (``make compat``): named, and the check fails
        assert not checks["codex"]["ok"] and f"pinned to {PINNED_VERSION}" in checks["codex"]["detail"]


def test_bad_config_exits_2_naming_the_field(repo: Path) -> None:
    (Blackboard(repo).root / "config.toml").write_text("max_workers = 7\n")
    out = cockpit(repo, "submit", "--goal", "x")
    assert out.returncode == 2 and "max_workers" in out.stderr


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (("cancel", ""), "invalid task id '': empty"),
        (("merge", "onl"), "invalid task id 'onl': a prefix needs at least 4 characters"),
        (("reject", "o"), "invalid task id 'o': a prefix needs at least 4 characters"),
        (("retry", "../../only-task-0001"), "invalid task id '../../only-task-0001': no path separators"),
        (("revise", "ONLY", "--feedback", "x"), "invalid task id 'ONLY': lowercase letters"),
        (("show", ""), "invalid task id '': empty"),
        (("log", "only/"), "invalid task id 'only/': no path separators"),
        (("--task", "", "status"), None),  # --task only matters to the full-screen cockpit
        (("--task", ""), "invalid task id '': empty"),
        (("--task", "../x"), "invalid task id '../x': no path separators"),
    ],
)
def test_malformed_task_refs_exit_2_with_one_line_and_touch_nothing(
    repo: Path, args: tuple[str, ...], problem: str | None
) -> None:
    from cockpit.core.board.blackboard import Blackboard
    from cockpit.core.records.basics import TaskStatus
    from cockpit.core.records.task import TaskState

    board = Blackboard(repo)
    board.write_state(TaskState(id="only-task-0001", lane="local", title="only", status=TaskStatus.QUEUED))
    out = cockpit(repo, *args)
    if problem is None:
        assert out.returncode == 0, out.stderr
        return
    assert out.returncode == 2, (out.stdout, out.stderr)
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"cockpit: {problem}"), lines
    state = board.read_state("only-task-0001")
    assert state is not None and state.status == TaskStatus.QUEUED
    assert not list((board.root / "inbox").glob("*.json"))


@pytest.mark.parametrize("ref", ["", "../decision-001", "decision-1/..", "٣", "x"])
def test_malformed_decision_refs_exit_2(repo: Path, ref: str) -> None:
    out = cockpit(repo, "decide", ref, "A")
    assert out.returncode == 2 and out.stderr.startswith("cockpit: not a decision id"), out.stderr


def test_label_exits_2_naming_a_bad_label_and_1_when_refused(repo: Path) -> None:
    board = Blackboard(repo)
    task = "labelled-task-0001"
    board.write_state(TaskState(id=task, lane="worktree", title="labelled", status=TaskStatus.REVIEW))
    add_review(board, task, [challenge("c1", "NOISE", judge=ran(0))])
    bad = cockpit(repo, "label", task, "c1", "maybe")
    assert bad.returncode == 2 and bad.stderr.strip().splitlines() == [
        "cockpit: invalid LABEL 'maybe': VALID, PARTIAL or NOISE"
    ]
    assert cockpit(repo, "label", task, "c1", "VALID", "--round", "0").returncode == 2
    refused = cockpit(repo, "label", task, "c7", "VALID")
    assert refused.returncode == 1 and "no challenge 'c7' (it has: c1)" in refused.stderr
    done = cockpit(repo, "label", task, "c1", "valid", "--reason", "fails on 3.12", "--round", "1")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "c1 of round 1 labelled VALID by the human (was NOISE by the judge)"
    state = board.read_state(task)
    assert state is not None and state.review is not None
    c1 = state.review.rounds[0].challenges[0]
    assert (c1.label, c1.labelled_by, c1.label_reason) == ("VALID", "human", "fails on 3.12")
    shown = cockpit(repo, "show", task).stdout
    assert "[VALID] failing_test calc.py:5: subtract(1, 3) returns -2" in shown
    assert "human: fails on 3.12" in shown
