"""A worktree task waiting for review, made the way the worktree lane makes one: a real worktree and
branch ``cockpit/<id>`` from the base commit, the worker's files written there, a cockpit commit, and
``diff.patch`` plus the diff stat on the blackboard; and the cross-family review's rounds and challenges
such a task may carry (:func:`challenge`, :func:`ran`, :func:`add_review`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cockpit.core.atomic import atomic_write_text
from cockpit.core.board.blackboard import Blackboard
from cockpit.core.git.operations import commit_all, create_worktree, diff_against, open_repo, task_branch
from cockpit.core.records.attempt import DiffStat
from cockpit.core.records.basics import TaskStatus
from cockpit.core.records.review import Challenge, Evidence, JudgeOutput, ReviewRound, ReviewState
from cockpit.core.records.task import TaskState

REVIEWED_AT = datetime(2026, 11, 24, 11, 40, tzinfo=UTC)


def make_review_task(
    board: Blackboard,
    task_id: str,
    write: dict[str, str] | Callable[[Path], None],
    *,
    title: str,
    **state_fields: Any,
) -> str:
    """Create the task in ``review``; ``write`` maps paths to contents or writes into the worktree.
    Returns the patch text."""
    git = open_repo(board.repo)
    base = git.head.commit.hexsha
    worktree = board.worktree_path(task_id)
    create_worktree(git, worktree, task_branch(task_id), base)
    if callable(write):
        write(worktree)
    else:
        for path, text in write.items():
            (worktree / path).parent.mkdir(parents=True, exist_ok=True)
            (worktree / path).write_text(text)
    commit_all(worktree, f"cockpit: {title}")
    patch, summary = diff_against(worktree, base)
    atomic_write_text(board.task_dir(task_id) / "diff.patch", patch)
    board.write_state(
        TaskState(
            id=task_id,
            lane="worktree",
            title=title,
            status=TaskStatus.REVIEW,
            base_commit=base,
            base_branch="main",
            branch=task_branch(task_id),
            worktree=str(worktree),
            diff=DiffStat(
                files=summary.files,
                insertions=summary.insertions,
                deletions=summary.deletions,
                paths=summary.paths,
            ),
            **state_fields,
        )
    )
    return patch


def challenge(
    cid: str,
    label: str | None = None,
    *,
    claim: str = "subtract(1, 3) returns -2",
    kind: str = "failing_test",
    file: str | None = "calc.py",
    line: int | None = 5,
    by: str | None = None,
    reason: str | None = None,
    judge: JudgeOutput | None = None,
    evidence: Evidence | None = None,
    source: str = "reviewer",
) -> Challenge:
    """A challenge as the judge leaves one: labelled by the judge unless ``by`` says otherwise, with a
    command as its evidence and the judge's output when ``judge`` is given."""
    return Challenge.model_validate(
        {
            "id": cid,
            "kind": kind,
            "claim": claim,
            "file": file,
            "line": line,
            "evidence": evidence or Evidence(command=["pytest", "-q", f"tests/test_{cid}.py"]),
            "source": source,
            "label": label,
            "labelled_by": (by or "judge") if label else None,
            "label_reason": (reason or f"labelled {label}") if label else None,
            "judge": judge,
        }
    )


def ran(
    exit_code: int | None = 1,
    stdout: str = "1 failed",
    stderr: str = "",
    argv: list[str] | None = None,
    **fields: Any,
) -> JudgeOutput:
    """What the judge saw running a challenge's command (``pytest -q`` unless ``argv`` says)."""
    return JudgeOutput(
        argv=argv or ["pytest", "-q"], exit_code=exit_code, stdout_tail=stdout, stderr_tail=stderr, **fields
    )


def add_review(
    board: Blackboard, task_id: str, *rounds: list[Challenge], status: str = "challenged"
) -> ReviewState:
    """Give ``task_id`` a review of ``rounds`` (each a list of challenges, round 1 first), every round
    ended and decided; returns the review as written."""
    state = board.read_state(task_id)
    assert state is not None
    review = ReviewState.model_validate(
        {
            "status": status,
            "rounds": [
                ReviewRound(
                    n=n,
                    attempt=n,
                    head_commit="0" * 40,
                    started_at=REVIEWED_AT,
                    ended_at=REVIEWED_AT,
                    verdict="challenge" if challenges else "approve",
                    challenges=challenges,
                    decision=f"round {n}: decided",
                )
                for n, challenges in enumerate(rounds, start=1)
            ],
        }
    )
    state.review = review
    board.write_state(state)
    return review


def judged_review(board: Blackboard, task_id: str, *labels: str) -> None:
    """A task in review whose one round's challenges the judge labelled ``labels`` (no diff, no branch:
    for what reads the labels only)."""
    challenges = [
        Challenge(id=f"c{n}", kind="failing_test", claim=f"claim {n}", label=label, labelled_by="judge")  # type: ignore[arg-type]
        for n, label in enumerate(labels, start=1)
    ]
    rnd = ReviewRound(n=1, attempt=1, head_commit="a" * 40, verdict="challenge", challenges=challenges)
    board.write_state(
        TaskState(
            id=task_id,
            lane="worktree",
            title=task_id,
            status=TaskStatus.REVIEW,
            review=ReviewState(status="challenged", rounds=[rnd]),
        )
    )
