"""The on-disk format and the ``--json`` keys, pinned on a board recorded from real runs.

``tests/fixtures/boards/demo/`` holds a board as the cockpit wrote it (see ``record.py`` there): three
demo tasks run through the real Codex CLI, a gate answered, a dead letter, an archived task. Today's
code must read every file of it, write back every key it holds (new keys may be added, none may go or
be renamed), and answer the ``--json`` commands with at least the keys they had. Moving code around
must leave all of this true; changing the format on purpose means recording the board again.
"""

from __future__ import annotations

import fnmatch
import json
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from cockpit.cli.main import main
from cockpit.core.board.blackboard import Blackboard
from cockpit.core.board.checkpoint import Checkpoint
from cockpit.core.board.decisions import DecisionCard, render_markdown
from cockpit.core.board.task_index.lines import IndexHeader, parse_record
from cockpit.core.board.task_summary import TaskSummary
from cockpit.core.codex.exec_events import UnknownEvent, parse_event_line
from cockpit.core.envelope.model import Envelope
from cockpit.core.policy.breaker import BreakerRecord
from cockpit.core.policy.dead_letters import DeadLetter
from cockpit.core.records.board_events import EventKind
from cockpit.core.records.exit_info import ExitInfo
from cockpit.core.records.task import TaskState
from cockpit.core.usage.ledger import LedgerRow
from cockpit.core.views.task_rows import status_row

RECORDED = Path(__file__).resolve().parents[2] / "fixtures" / "boards" / "demo"
BOARD = RECORDED / "board"
TASKS = json.loads((RECORDED / "recorded.json").read_text())["tasks"]
JSON_KEYS: dict[str, list[str]] = json.loads((RECORDED / "json-keys.json").read_text())

MODELS: dict[str, type[BaseModel]] = {
    "tasks/*/state.json": TaskState,
    "archive/*/state.json": TaskState,
    "tasks/*/envelope.json": Envelope,
    "archive/*/envelope.json": Envelope,
    "tasks/*/checkpoint.json": Checkpoint,
    "archive/*/checkpoint.json": Checkpoint,
    "*/attempts/*/exit.json": ExitInfo,
    "breakers/*.json": BreakerRecord,
    "dead-letters/*.json": DeadLetter,
    "decisions/*/*.json": DecisionCard,
}
# Files that are plain JSON objects read by key: the keys each must have (the runner reads spec.json,
# the supervisor reads pid.json of a runner it re-attaches to, possibly one started by an older version).
KEYED = {
    "*/attempts/*/spec.json": {"argv", "cwd", "attempt_dir", "deadline_s", "chunk_s", "grace_s", "env"},
    "*/attempts/*/pid.json": {"runner_pid", "codex_pid", "codex_pgid", "started", "deadline"},
}
JSONL = ("task-index.jsonl", "events.jsonl", "ledger.jsonl", "*/attempts/*/events.jsonl")
TEXT = (
    "*/attempts/*/prompt.md",
    "*/attempts/*/last-message.md",
    "*/attempts/*/runner.log",
    "*/attempts/*/stderr.log",
    "tasks/*/diff.patch",
    "decisions/*/*.md",
    "decisions/ids/*",
)
KNOWN = (*MODELS, *KEYED, *JSONL, *TEXT)


def _files() -> list[str]:
    return sorted(str(p.relative_to(BOARD)) for p in BOARD.rglob("*") if p.is_file())


def _matching(patterns: object) -> list[str]:
    return [f for f in _files() if any(fnmatch.fnmatch(f, p) for p in patterns)]  # type: ignore[attr-defined]


def _when(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _same(recorded: Any, written: Any) -> bool:
    """``written`` keeps everything ``recorded`` holds: every key with the same value (timestamps equal
    as instants, however they are spelled); keys ``written`` adds are allowed."""
    if isinstance(recorded, dict):
        return isinstance(written, dict) and all(
            k in written and _same(v, written[k]) for k, v in recorded.items()
        )
    if isinstance(recorded, list):
        return (
            isinstance(written, list) and len(recorded) == len(written) and all(map(_same, recorded, written))
        )
    if isinstance(recorded, str) and isinstance(written, str) and recorded != written:
        a, b = _when(recorded), _when(written)
        return a is not None and b is not None and a == b
    return recorded == written


def _missing(recorded: Any, written: Any, path: str = "") -> list[str]:
    """Where ``written`` does not keep ``recorded`` (for the failure message)."""
    if isinstance(recorded, dict) and isinstance(written, dict):
        out = []
        for key, value in recorded.items():
            where = f"{path}.{key}" if path else key
            out += [where] if key not in written else _missing(value, written[key], where)
        return out
    return [] if _same(recorded, written) else [path or "<root>"]


def test_the_recorded_board_holds_only_known_files() -> None:
    unknown = [f for f in _files() if not any(fnmatch.fnmatch(f, p) for p in KNOWN)]
    assert not unknown, f"files of no pinned kind: {unknown} (pin their format here)"
    for pattern in KNOWN:  # every pattern pins something real, so none of them can rot unnoticed
        assert any(fnmatch.fnmatch(f, pattern) for f in _files()), f"{pattern} matches no recorded file"


@pytest.mark.parametrize("pattern", sorted(MODELS))
def test_models_read_and_write_back_every_recorded_key(pattern: str) -> None:
    model = MODELS[pattern]
    for name in _matching([pattern]):
        recorded = json.loads((BOARD / name).read_text())
        written = model.model_validate(recorded).model_dump(mode="json")
        assert _same(recorded, written), f"{name}: {_missing(recorded, written)} not written back"


@pytest.mark.parametrize("pattern", sorted(KEYED))
def test_keyed_files_keep_their_keys(pattern: str) -> None:
    for name in _matching([pattern]):
        assert set(json.loads((BOARD / name).read_text())) == KEYED[pattern], name


def _lines(name: str) -> list[bytes]:
    return [line for line in (BOARD / name).read_bytes().split(b"\n") if line]


def test_task_index_lines_are_a_header_then_summaries_or_removals() -> None:
    head, *body = _lines("task-index.jsonl")
    assert IndexHeader.model_validate_json(head).complete in (True, False)
    assert body, "the recorded journal has task lines"
    for line in body:
        record = parse_record(line)
        recorded = json.loads(line)
        written = json.loads(record.model_dump_json())
        assert _same(recorded, written), _missing(recorded, written)


def test_the_task_index_summaries_match_the_state_files() -> None:
    """The last line per live task is that task's summary as today's code computes it from its state."""
    last: dict[str, Any] = {}
    for line in _lines("task-index.jsonl")[1:]:
        record = parse_record(line)
        last[record.id] = record
    for name in _matching(["tasks/*/state.json"]):
        state = TaskState.model_validate_json((BOARD / name).read_bytes())
        assert isinstance(last[state.id], TaskSummary)
        assert status_row(last[state.id]) == status_row(TaskSummary.of(state))


def test_ledger_rows_read_and_write_back() -> None:
    for line in _lines("ledger.jsonl"):
        recorded = json.loads(line)
        written = LedgerRow.model_validate(recorded).model_dump(mode="json")
        assert _same(recorded, written), _missing(recorded, written)


def test_board_events_are_stamped_rows_of_a_known_kind() -> None:
    """Every kind an older board holds is still one the cockpit names (kinds are added, never renamed)."""
    kinds = {str(kind) for kind in EventKind}
    for line in _lines("events.jsonl"):
        row = json.loads(line)
        assert _when(row["ts"]) is not None and row["kind"] in kinds, row


def test_codex_event_streams_parse_with_no_unknown_event() -> None:
    """The recorded streams are what the pinned Codex wrote: every line is a known event type."""
    for name in _matching(["*/attempts/*/events.jsonl"]):
        for line in _lines(name):
            event = parse_event_line(line)
            assert not isinstance(event, UnknownEvent), f"{name}: {line[:120]!r}"


def test_decision_markdown_is_the_rendering_of_its_card() -> None:
    for name in _matching(["decisions/*/*.json"]):
        card = DecisionCard.model_validate_json((BOARD / name).read_bytes())
        assert (BOARD / name).with_suffix(".md").read_text() == render_markdown(card), name


# ---- the commands, on a copy of the recorded board ---------------------------------------------


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    shutil.copytree(BOARD, repo / ".git" / "cockpit")
    return repo


def _json_of(repo: Path, capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    capsys.readouterr()
    assert main(["--repo", str(repo), *argv]) == 0
    return json.loads(capsys.readouterr().out)


def _key_paths(value: Any, prefix: str = "") -> set[str]:
    out: set[str] = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            out |= {path, *_key_paths(inner, path)}
    elif isinstance(value, list):
        for inner in value:
            out |= _key_paths(inner, f"{prefix}[]")
    return out


@pytest.mark.parametrize(
    ("name", "argv"),
    [
        ("status", ["status", "--all", "--json"]),
        ("show", ["show", TASKS["merged"], "--json"]),
        ("show-archived", ["show", TASKS["archived"], "--json"]),
        ("dlq", ["dlq", "--json"]),
    ],
)
def test_json_commands_keep_their_keys(
    repo: Path, capsys: pytest.CaptureFixture[str], name: str, argv: list[str]
) -> None:
    missing = set(JSON_KEYS[name]) - _key_paths(_json_of(repo, capsys, *argv))
    assert not missing, f"`cockpit {' '.join(argv)}` lost keys: {sorted(missing)}"


def test_usage_json_keeps_its_keys(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The ledger's rows moved to today (today's and this week's totals are what ``usage`` shows); the
    credit windows come from the Codex home of the run, not from the board, so they are not compared."""
    ledger = repo / ".git" / "cockpit" / "ledger.jsonl"
    now = datetime.now(UTC).isoformat()
    rows = [{**json.loads(line), "ts": now} for line in ledger.read_text().splitlines() if line]
    ledger.write_text("".join(json.dumps(r) + "\n" for r in rows))
    wanted = {k for k in JSON_KEYS["usage"] if not k.startswith("windows.")}
    missing = wanted - _key_paths(_json_of(repo, capsys, "usage", "--json"))
    assert not missing, f"`cockpit usage --json` lost keys: {sorted(missing)}"


def test_decisions_json_keeps_its_keys(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The recorded card was answered; put it back as pending (unanswered) to list it."""
    decisions = repo / ".git" / "cockpit" / "decisions"
    for path in (decisions / "resolved").glob("*.json"):
        card = DecisionCard.model_validate_json(path.read_bytes()).model_copy(update={"resolved": None})
        (decisions / "pending" / path.name).parent.mkdir(exist_ok=True)
        (decisions / "pending" / path.name).write_text(card.model_dump_json())
        path.unlink()
    listed = _json_of(repo, capsys, "decisions", "--json")
    assert listed, "the card is listed as pending"
    missing = set(JSON_KEYS["decisions"]) - _key_paths(listed)
    assert not missing, f"`cockpit decisions --json` lost keys: {sorted(missing)}"


def test_the_board_reads_without_quarantining_anything(repo: Path) -> None:
    board = Blackboard(repo)
    live = {s.id for s in board.summaries()}
    assert live == {TASKS["merged"], TASKS["waiting"]}
    assert board.archived_task_ids() == [TASKS["archived"]]
    for task_id in (TASKS["merged"], TASKS["waiting"], TASKS["archived"]):
        assert board.read_state(task_id, archived=True) is not None
        assert board.read_envelope(task_id, archived=True) is not None
    assert board.quarantined() == []
