"""Every file and directory name in a board, spelled once.

A board lives in the repository's git directory (``.git/cockpit/``, see :mod:`cockpit.core.board.home`)::

    config.toml  supervisor.lock  inbox/ (claimed/, replies/)  quarantine/  worktrees/<id>/
    scratch/<id>/<n>/  decisions/ (pending/, resolved/, ids/)  dead-letters/ (archive/)  breakers/
    ledger.jsonl  events.jsonl  task-index.jsonl  rate-limits.json  claude-limits.json  merge-journal.json
    cloud/
    reviews/ (the reviewers' throw-away checkouts ``<id>-r<round>/`` and the judge's ``judge-*/``)
    tasks/<id>/  envelope.json  state.json  checkpoint.json  diff.patch  attempts/<n>/
    archive/<id>/ (a finished task's directory, moved whole; archive/.moving/ holds the move journal)

and an attempt's directory ``tasks/<id>/attempts/<n>/`` holds ``spec.json``, ``pid.json``,
``prompt.md``, ``events.jsonl`` (Codex's own stream), ``stderr.log``, ``runner.log``,
``last-message.md``, ``exit.json`` and, for app-server turns, ``sent.jsonl`` and ``turn.diff``; a
cloud attempt's holds ``submit-started``, ``exec-stdout.txt`` (where ``codex cloud exec`` prints the
task's URL) and ``cloud-attempt-<k>.diff`` per best-of-N attempt. Every ``codex cloud`` call runs in the
board's ``cloud/``, where it leaves its ``error.log``. The cross-family review of an attempt's result
lives beside it in ``review-<round>/``: ``inputs/`` (``envelope.json``, ``diff.patch``, ``acceptance.md``:
what the reviewer is pointed at, and ``run-in-sandbox``, the one command it may run besides read-only
ones, with its ``sandbox-scratch/`` and ``sandbox-codex-home/``), then ``prompt.md``, ``spec.json``,
``pid.json``, ``stream.jsonl`` (Claude Code's own ``stream-json``), ``stderr.log``, ``runner.log`` and
``exit.json`` of the reviewer's current try, and ``try-<k>/`` holding the same files of each earlier try
that failed.
These names are part of the on-disk format (``tests/unit/board/test_board_format.py`` pins them on a
recorded board): a reader of an older board finds them where they were. Imports nothing.
"""

from __future__ import annotations

from typing import Final

# ---- the board -----------------------------------------------------------------------------------
CONFIG_FILE: Final = "config.toml"
LOCK_FILE: Final = "supervisor.lock"
INBOX_DIR: Final = "inbox"
CLAIMED_DIR: Final = "claimed"  # inside inbox/: requests a supervisor took
REPLIES_DIR: Final = "replies"  # inside inbox/: answers to requests
QUARANTINE_DIR: Final = "quarantine"
WORKTREES_DIR: Final = "worktrees"
SCRATCH_DIR: Final = "scratch"
TASKS_DIR: Final = "tasks"
ARCHIVE_DIR: Final = "archive"  # archived tasks; also dead-letters/archive/ for old letters
MOVING_DIR: Final = ".moving"  # inside archive/: the journal of a move under way
DECISIONS_DIR: Final = "decisions"
PENDING_DIR: Final = "pending"
RESOLVED_DIR: Final = "resolved"
IDS_DIR: Final = "ids"
DEAD_LETTERS_DIR: Final = "dead-letters"
BREAKERS_DIR: Final = "breakers"
LEDGER_FILE: Final = "ledger.jsonl"
BOARD_EVENTS_FILE: Final = "events.jsonl"
TASK_INDEX_FILE: Final = "task-index.jsonl"
LIVE_RATE_LIMITS_FILE: Final = "rate-limits.json"
CLAUDE_LIMITS_FILE: Final = "claude-limits.json"  # Claude Code's credit windows, from the reviewers' streams
MERGE_JOURNAL_FILE: Final = "merge-journal.json"
CLOUD_DIR: Final = "cloud"  # the working directory of every ``codex cloud`` call (its error.log lands here)
REVIEWS_DIR: Final = "reviews"  # throw-away checkouts of the reviewers and the judge

# ---- a task ----------------------------------------------------------------------------------------
ENVELOPE_FILE: Final = "envelope.json"
STATE_FILE: Final = "state.json"
CHECKPOINT_FILE: Final = "checkpoint.json"
DIFF_FILE: Final = "diff.patch"
ATTEMPTS_DIR: Final = "attempts"

# ---- an attempt ------------------------------------------------------------------------------------
SPEC_FILE: Final = "spec.json"
PID_FILE: Final = "pid.json"
PROMPT_FILE: Final = "prompt.md"
ATTEMPT_EVENTS_FILE: Final = "events.jsonl"
STDERR_FILE: Final = "stderr.log"
RUNNER_LOG_FILE: Final = "runner.log"
LAST_MESSAGE_FILE: Final = "last-message.md"
EXIT_FILE: Final = "exit.json"
SENT_FILE: Final = "sent.jsonl"
TURN_DIFF_FILE: Final = "turn.diff"
SUBMIT_STARTED_FILE: Final = "submit-started"  # the cloud submitter is about to run ``codex cloud exec``
CLOUD_EXEC_OUT_FILE: Final = "exec-stdout.txt"  # ``codex cloud exec`` writes the task's URL here itself


def cloud_diff_file(k: int) -> str:
    """The diff of best-of-N attempt ``k`` of a cloud task, in the attempt's directory."""
    return f"cloud-attempt-{k}.diff"


# ---- a review round (inside the reviewed attempt's directory) --------------------------------------
REVIEW_STREAM_FILE: Final = "stream.jsonl"  # the reviewer's stdout (Claude Code's stream-json), as printed
REVIEW_INPUTS_DIR: Final = "inputs"  # what the reviewer reads: envelope, diff, acceptance criteria
ACCEPTANCE_FILE: Final = "acceptance.md"
REVIEW_SANDBOX_SCRATCH_DIR: Final = "sandbox-scratch"  # the writable scratch of the reviewer's sandboxed runs
REVIEW_SANDBOX_HOME_DIR: Final = "sandbox-codex-home"  # their (empty) CODEX_HOME


def review_dir(round_n: int) -> str:
    """A review round's directory, inside the directory of the attempt it reviews."""
    return f"review-{round_n}"


def review_try_dir(k: int) -> str:
    """Inside a round's directory: where the files of the reviewer's failed try ``k`` are kept."""
    return f"try-{k}"


def review_checkout(task_id: str, round_n: int) -> str:
    """The reviewer's throw-away checkout of a round, inside the board's ``reviews/``."""
    return f"{task_id}-r{round_n}"
