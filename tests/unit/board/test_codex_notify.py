"""`cockpit hook codex-notify`: Codex's notify payloads parsed, the blackboard found, one event line and a
record per hand-run thread written (secrets masked), never a non-zero exit or a byte on stdout; the
board view lists the newest sessions and the mcp lane pane shows them as data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cockpit.cli.hooks import codex_notify
from cockpit.core.board.blackboard import Blackboard
from cockpit.core.board.external_sessions import (
    ExternalSessionReader,
    NotifyPayload,
    PayloadError,
    ago,
    find_board,
    parse_payload,
    place_of,
)
from cockpit.core.usage.watcher import RolloutWatcher
from cockpit.core.views.board import BoardView

COCKPIT = Path(sys.executable).parent / "cockpit"
THREAD = "01a20b37-2993-78e2-a213-a2c6cc7434ff"
TURN = "01a20b37-29bd-7fd1-8ae5-66e6ab970b6e"


def payload(cwd: Path | str, **changes: Any) -> dict[str, Any]:
    """The shape Codex 0.169.0 passes (captured from `codex exec`), with ``changes`` applied."""
    data: dict[str, Any] = {
        "type": "agent-turn-complete",
        "thread-id": THREAD,
        "turn-id": TURN,
        "cwd": str(cwd),
        "client": "codex_exec",
        "input-messages": ["say hi"],
        "last-assistant-message": "All done.\nsecond line",
    }
    data.update(changes)
    return data


def events(board: Blackboard, kind: str = "codex_notify") -> list[dict[str, Any]]:
    return [row for row in board.read_jsonl("events.jsonl") if row.get("kind") == kind]


def notify(repo: Path, data: dict[str, Any] | str, env: dict[str, str] | None = None) -> int:
    text = data if isinstance(data, str) else json.dumps(data)
    return codex_notify(repo, text, env={} if env is None else env)


# ---- parsing -----------------------------------------------------------------------------------


def test_parses_the_real_shape_and_keeps_extra_fields() -> None:
    parsed = parse_payload(json.dumps(payload("/w", **{"sandbox": {"mode": "x"}})))
    assert parsed.kind == "agent-turn-complete"
    assert (parsed.thread_id, parsed.turn_id, parsed.cwd) == (THREAD, TURN, "/w")
    assert parsed.input_messages == ["say hi"] and parsed.client == "codex_exec"
    assert parsed.last_assistant_message == "All done.\nsecond line"
    assert parsed.model_extra == {"sandbox": {"mode": "x"}}


def test_older_payloads_without_thread_or_cwd_and_a_null_message_parse() -> None:
    parsed = parse_payload(
        '{"type":"agent-turn-complete","turn-id":"1","input-messages":[],"last-assistant-message":null}'
    )
    assert parsed.thread_id is None and parsed.cwd is None and parsed.last_assistant_message is None


def test_unknown_type_is_kind_unknown() -> None:
    parsed = parse_payload('{"type":"approval-requested","thread-id":"t1","what":"rm -rf"}')
    assert parsed.kind == "unknown" and parsed.type == "approval-requested"
    assert NotifyPayload.model_validate({}).kind == "unknown"


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", '"just a string"', '{"turn-id": 7}'])
def test_malformed_payloads_raise(text: str) -> None:
    with pytest.raises(PayloadError):
        parse_payload(text)


# ---- where to record ---------------------------------------------------------------------------


def test_the_hook_repo_wins_when_it_has_a_blackboard(repo: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    Blackboard(other).init()
    assert find_board(repo, str(other)).repo == repo.resolve()


def test_else_the_nearest_blackboard_above_the_payload_cwd(repo: Path, tmp_path: Path) -> None:
    nowhere = tmp_path / "nowhere"
    nowhere.mkdir()
    sub = repo / "pkg" / "deep"
    sub.mkdir(parents=True)
    assert find_board(nowhere, str(sub)).repo == repo.resolve()
    assert find_board(sub, None).repo == repo.resolve()  # the hook's own cwd below a repo
    assert find_board(nowhere, str(nowhere)) is None
    assert find_board(nowhere, "relative/dir") is None


def test_no_blackboard_anywhere_writes_nothing_and_exits_0(tmp_path: Path, capsys) -> None:
    nowhere = tmp_path / "nowhere"
    nowhere.mkdir()
    assert notify(nowhere, payload(nowhere)) == 0
    assert not Blackboard(nowhere).root.exists()
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""


# ---- records -----------------------------------------------------------------------------------


def test_a_turn_is_one_event_line_and_the_threads_record(repo: Path, capsys) -> None:
    board = Blackboard(repo)
    assert notify(repo, payload(repo / "pkg")) == 0
    [row] = events(board)
    assert row["notify_kind"] == "agent-turn-complete" and row["type"] == "agent-turn-complete"
    assert (row["thread_id"], row["turn_id"], row["cwd"]) == (THREAD, TURN, str(repo / "pkg"))
    assert row["last_message"] == "All done.\nsecond line" and row["ts"]
    assert "task_id" not in row and "raw" not in row
    record = json.loads((board.root / "external" / f"{THREAD}.json").read_text())
    assert record["turn_id"] == TURN and record["turns"] == 1 and record["first_input"] == "say hi"
    assert notify(repo, payload(repo, **{"turn-id": "turn-2", "last-assistant-message": "again"})) == 0
    record = json.loads((board.root / "external" / f"{THREAD}.json").read_text())
    assert (record["turn_id"], record["turns"], record["last_message"]) == ("turn-2", 2, "again")
    assert len(events(board)) == 2
    assert capsys.readouterr().out == ""


def test_secrets_and_control_sequences_never_reach_the_files(repo: Path) -> None:
    board = Blackboard(repo)
    key = "sk-proj-" + "a1b2c3d4" * 4
    message = f"\x1b]0;pwned\x07\x1b[31mdone\x1b[0m with OPENAI_API_KEY={key} and {key}\n" + "x" * 5000
    assert notify(repo, payload(repo, **{"last-assistant-message": message})) == 0
    written = (board.root / "events.jsonl").read_text() + (
        board.root / "external" / f"{THREAD}.json"
    ).read_text()
    assert key not in written and "a1b2c3d4a1b2c3d4" not in written
    assert "\x1b" not in written and "\\u001b" not in written and "pwned" not in written
    [row] = events(board)
    assert row["last_message"].startswith("done with OPENAI_API_KEY=[REDACTED]")
    assert len(row["last_message"]) == 2000 and row["last_message"].endswith("…")


def test_unknown_type_is_logged_as_is_without_a_session_record(repo: Path) -> None:
    board = Blackboard(repo)
    raw = {"type": "approval-requested", "thread-id": "t1", "command": "echo token=abcdef123456"}
    assert notify(repo, raw) == 0
    [row] = events(board)
    assert row["notify_kind"] == "unknown" and row["type"] == "approval-requested"
    assert '"command"' in row["raw"] and "abcdef123456" not in row["raw"]
    assert not (board.root / "external").exists()


def test_malformed_json_is_one_stderr_line_and_a_note(repo: Path, capsys) -> None:
    board = Blackboard(repo)
    assert notify(repo, "{oops") == 0
    out = capsys.readouterr()
    assert out.out == "" and out.err.count("\n") == 1
    assert out.err.startswith("cockpit hook codex-notify: payload is not JSON")
    assert events(board) == [] and not (board.root / "external").exists()
    [note] = events(board, "codex_notify_rejected")
    assert note["bytes"] == 5


def test_turns_of_cockpit_workers_are_not_external_sessions(repo: Path) -> None:
    board = Blackboard(repo)
    assert notify(repo, payload(repo), env={"COCKPIT_TASK_ID": "add-hello-3fa2"}) == 0
    worktree = board.worktree_path("fix-bug-00aa") / "src"
    assert notify(repo, payload(worktree, **{"thread-id": "t-2"})) == 0
    assert [r.get("task_id") for r in events(board)] == ["add-hello-3fa2", "fix-bug-00aa"]
    assert not (board.root / "external").exists()


def test_an_unexpected_failure_is_one_stderr_line_and_exit_0(repo: Path, capsys) -> None:
    board = Blackboard(repo)
    (board.root / "events.jsonl").mkdir()  # appending to the event log fails
    assert notify(repo, payload(repo)) == 0
    out = capsys.readouterr()
    assert out.out == "" and out.err.count("\n") == 1 and "IsADirectoryError" in out.err


def test_odd_thread_ids_never_escape_the_external_directory(repo: Path) -> None:
    board = Blackboard(repo)
    assert notify(repo, payload(repo, **{"thread-id": "../../evil"})) == 0
    [path] = (board.root / "external").iterdir()
    assert path.name.startswith("anon-") and path.suffix == ".json"


# ---- the installed command ---------------------------------------------------------------------


def test_installed_command_records_and_stays_quiet(repo: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "COCKPIT_TASK_ID"}
    text = json.dumps(payload(repo / "pkg"))
    out = subprocess.run(
        [str(COCKPIT), "--repo", str(repo), "hook", "codex-notify", text],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert (out.returncode, out.stdout, out.stderr) == (0, "", "")
    board = Blackboard(repo)
    assert [r["thread_id"] for r in events(board)] == [THREAD]
    assert (board.root / "external" / f"{THREAD}.json").exists()
    bad = subprocess.run(
        [str(COCKPIT), "hook", "codex-notify", "nope"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=repo,
    )
    assert bad.returncode == 0 and bad.stdout == "" and bad.stderr.count("\n") == 1


# ---- reading -----------------------------------------------------------------------------------


def test_reader_lists_the_five_newest_and_rereads_only_on_change(repo: Path) -> None:
    board = Blackboard(repo)
    for i in range(7):
        assert notify(repo, payload(repo / f"d{i}", **{"thread-id": f"thread-{i}"})) == 0
        path = board.root / "external" / f"thread-{i}.json"
        os.utime(path, ns=(10**18 + i * 10**9, 10**18 + i * 10**9))
    reader = ExternalSessionReader(board)
    directory = board.root / "external"
    os.utime(directory, ns=(10**18, 10**18))  # an old, settled directory
    recent = reader.recent()
    assert [s.place for s in recent] == ["d6", "d5", "d4", "d3", "d2"]
    assert recent[0].headline == "All done." and recent[0].turns == 1
    (directory / "thread-6.json").write_text("garbage")  # no new entry: the directory is unchanged
    os.utime(directory, ns=(10**18, 10**18))
    assert reader.recent() is recent
    assert notify(repo, payload(repo / "new", **{"thread-id": "thread-new"})) == 0
    assert [s.place for s in reader.recent()] == ["new", "d5", "d4", "d3", "d2"]  # garbage skipped


def test_place_is_the_cwd_in_the_repo_or_the_thread_short_id(tmp_path: Path) -> None:
    assert place_of(str(tmp_path / "a" / "b"), THREAD, tmp_path) == "a/b"
    assert place_of(str(tmp_path), THREAD, tmp_path) == "thread cc7434ff"
    assert place_of("/elsewhere", THREAD, tmp_path) == "thread cc7434ff"
    assert [ago(5), ago(120), ago(7200), ago(200000)] == ["5s ago", "2m ago", "2h ago", "2d ago"]


def test_board_snapshot_carries_external_sessions_to_the_mcp_lane(repo: Path, tmp_path: Path) -> None:
    board = Blackboard(repo)
    assert notify(repo, payload(repo / "pkg")) == 0
    view = BoardView(board, windows=RolloutWatcher([tmp_path / "no-home"]))
    snapshot = view.snapshot()
    assert [s.thread_id for s in snapshot.external] == [THREAD]
    assert snapshot.external_for("mcp") == snapshot.external
    assert snapshot.external_for("local") == ()


# ---- the mcp lane pane ---------------------------------------------------------------------------


async def test_mcp_pane_lists_hand_run_sessions_as_data(repo: Path) -> None:
    from cockpit.tui.app import CockpitApp
    from cockpit.tui.screens.main_screen import MainScreen
    from cockpit.tui.widgets.lane_pane import LanePane
    from tests.helpers.pilot import shown

    board = Blackboard(repo)
    message = "[bold]Fixed[/bold] the \x1b[31mparser\x1b[0m\nand more"
    assert notify(repo, payload(repo / "pkg", **{"last-assistant-message": message})) == 0
    record = board.root / "external" / f"{THREAD}.json"
    data = json.loads(record.read_text())
    data["updated_at"] = (datetime.now(UTC) - timedelta(minutes=3, seconds=5)).isoformat()
    record.write_text(json.dumps(data))
    app = CockpitApp(repo, host_supervisor=False)
    async with app.run_test(size=(160, 40)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        main = next(s for s in app.screen_stack if isinstance(s, MainScreen))
        lines = shown(main.query_one("#lane-mcp", LanePane))
        listed = [line for line in lines if line.startswith("hand-run Codex: ")]
        assert listed == ["hand-run Codex: pkg — [bold]Fixed[/bold] the parser · 3m ago"], lines
        assert not any("and more" in line for line in lines)
        assert not any("hand-run" in line for line in shown(main.query_one("#lane-local", LanePane)))
