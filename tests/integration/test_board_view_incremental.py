"""The board view follows the task index: an idle poll touches no task's files, a change is reported by
id with the rest of the snapshot reused, counts per lane and status are kept change by change (and always
equal a recount), the header's other parts are read again only when their files change, a writer killed
between its state file and its index line is reconciled by the next supervisor, and ``cockpit status``
reads the index with the same output as reading every state file."""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cockpit.cli import main as cli
from cockpit.cli.main import main
from cockpit.core import config as config_module
from cockpit.core.atomic import atomic_write_json
from cockpit.core.board.blackboard import Blackboard
from cockpit.core.board.decisions import DecisionStore
from cockpit.core.board.task_index.scan import scan_summaries
from cockpit.core.board.task_summary import TaskSummary
from cockpit.core.layout import TASK_INDEX_FILE
from cockpit.core.policy.breaker import BreakerStore
from cockpit.core.policy.gates import failure_gate, open_gate
from cockpit.core.records.basics import TaskStatus, utc_now
from cockpit.core.records.task import TaskState
from cockpit.core.supervisor.loop import Supervisor
from cockpit.core.text import clean_data
from cockpit.core.usage.watcher import RolloutWatcher
from cockpit.core.views import board as board_view_module
from cockpit.core.views.board import LANE_ORDER, BoardSnapshot, BoardView, TaskCounts
from cockpit.core.views.lane_rows import BoardLanes, LaneFilter
from cockpit.core.views.task_rows import status_row
from tests.bench.board_gen import make_repo, populate
from tests.helpers.board_stub import lane_recount

COCKPIT = Path(sys.executable).parent / "cockpit"
STATUSES = list(TaskStatus)


@pytest.fixture
def board(tmp_path: Path) -> Blackboard:
    return Blackboard(make_repo(tmp_path / "repo"))


def view_of(board: Blackboard, tmp_path: Path, **kwargs: object) -> BoardView:
    return BoardView(board, windows=RolloutWatcher([tmp_path / "no-codex-home"]), **kwargs)  # type: ignore[arg-type]


def task(task_id: str, lane: str = "local", status: TaskStatus = TaskStatus.QUEUED) -> TaskState:
    return TaskState(id=task_id, lane=lane, title=f"Task {task_id}", status=status)


def settle(*paths: Path) -> None:
    """Date files and directories back, as if their last change were long past (timestamps are coarse:
    a fresh change is read again until it has settled)."""
    past = time.time() - 60
    for path in paths:
        if path.exists():
            os.utime(path, (past, past))


def assert_consistent(snapshot: BoardSnapshot, board: Blackboard) -> None:
    """The snapshot agrees with the state files, and its maintained counts and lanes with a recount."""
    assert dict(snapshot.tasks) == scan_summaries(board)
    assert snapshot.counts == TaskCounts.count(snapshot.tasks.values())
    assert snapshot.running == sum(
        1 for t in snapshot.tasks.values() if t.status == TaskStatus.RUNNING and t.lane != "cloud"
    )
    assert snapshot.reviews == sum(1 for t in snapshot.tasks.values() if t.status == TaskStatus.REVIEW)
    for lane in {*LANE_ORDER, *(t.lane for t in snapshot.tasks.values())}:
        expected = sorted(
            (t for t in snapshot.tasks.values() if t.lane == lane), key=lambda t: (t.created_at, t.id)
        )
        assert snapshot.lane(lane) == expected


def test_an_idle_poll_touches_no_task_file_and_reuses_the_snapshot(
    board: Blackboard, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    populate(board, 90)
    root = board.root
    settle(root / "decisions" / "pending", root / "decisions" / "resolved", root / "breakers")
    view = view_of(board, tmp_path)
    first = view.snapshot()
    assert len(first.tasks) == 90 and first.changed == frozenset(first.tasks)
    assert first.decisions and first.breakers  # the generated board has both
    assert_consistent(first, board)

    touched: list[str] = []
    tasks_dir = str(root / "tasks")
    real_stat, real_scandir = os.stat, os.scandir

    def spy_stat(path: object, *args: object, **kwargs: object) -> os.stat_result:
        if str(path).startswith(tasks_dir):
            touched.append(str(path))
        return real_stat(path, *args, **kwargs)  # type: ignore[arg-type]

    def spy_scandir(path: object = ".") -> object:
        if str(path).startswith(tasks_dir):
            touched.append(str(path))
        return real_scandir(path)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "stat", spy_stat)
    monkeypatch.setattr(os, "scandir", spy_scandir)
    monkeypatch.setattr(Blackboard, "read_state", lambda *_: pytest.fail("a state file was read"))
    monkeypatch.setattr(Blackboard, "task_ids", lambda *_: pytest.fail("tasks/ was listed"))
    monkeypatch.setattr(DecisionStore, "pending", lambda *_: pytest.fail("decision cards were read"))
    monkeypatch.setattr(BreakerStore, "all", lambda *_: pytest.fail("breakers were read"))
    monkeypatch.setattr(config_module, "load_config", lambda *_, **__: pytest.fail("the config was read"))
    for _ in range(5):
        again = view.snapshot()
        assert again.tasks is first.tasks and again.lanes is first.lanes and again.counts is first.counts
        assert again.changed == frozenset() and again.version == first.version
        assert again.decisions == first.decisions and again.breakers == first.breakers
    assert touched == []


def test_a_change_is_reported_by_id_and_untouched_lanes_are_reused(board: Blackboard, tmp_path: Path) -> None:
    for n, lane in enumerate(("local", "worktree", "worktree", "mcp")):
        board.write_state(task(f"task-{n:04d}", lane=lane))
    view = view_of(board, tmp_path)
    first = view.snapshot()
    running = board.read_state("task-0001")
    assert running is not None
    running.status = TaskStatus.RUNNING
    board.write_state(running)
    board.write_state(task("task-0004", lane="worktree", status=TaskStatus.REVIEW))
    second = view.snapshot()
    assert second.changed == {"task-0001", "task-0004"}
    assert second.version == first.version + 1
    assert second.lanes["local"] is first.lanes["local"] and second.lanes["mcp"] is first.lanes["mcp"]
    assert [t.id for t in second.lane("worktree")] == ["task-0001", "task-0002", "task-0004"]
    assert second.counts.get("worktree", TaskStatus.RUNNING) == 1 and second.running == 1
    assert second.reviews == 1 and second.counts.lane("worktree") == 3
    assert first.tasks["task-0001"].status == TaskStatus.QUEUED  # a snapshot handed out never changes
    assert_consistent(second, board)


@pytest.mark.parametrize("bulk", [board_view_module.BULK_CHANGES, 2])
def test_maintained_counts_equal_a_recount_after_any_sequence_of_changes(
    board: Blackboard, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bulk: int
) -> None:
    """The view's counts, and the lanes' titles and fold lines that count with them, equal a recount
    (``bulk``: how many changes in one poll make the view sort its lanes again instead of patching)."""
    monkeypatch.setattr(board_view_module, "BULK_CHANGES", bulk)
    rng = random.Random(20261205)
    view = view_of(board, tmp_path)
    lanes = BoardLanes(LANE_ORDER)
    live: list[str] = []
    seen = view.snapshot()
    for step in range(60):
        before = dict(seen.tasks)
        for _ in range(rng.randint(1, 6)):
            roll = rng.random()
            if roll < 0.35 or not live:
                task_id = f"task-{step:03d}-{rng.getrandbits(12):03x}"
                board.write_state(task(task_id, lane=rng.choice(LANE_ORDER), status=rng.choice(STATUSES)))
                live.append(task_id)
            elif roll < 0.85:
                task_id = rng.choice(live)
                state = board.read_state(task_id)
                assert state is not None
                state.status = rng.choice(STATUSES)
                if rng.random() < 0.2:
                    state.lane = rng.choice(LANE_ORDER)
                board.write_state(state)
            elif roll < 0.93:
                task_id = live.pop(rng.randrange(len(live)))
                shutil.move(board.task_dir(task_id), tmp_path / f"archived-{task_id}")
                board.forget_task(task_id)
            elif roll < 0.97:
                board.task_index.compact(scan=lambda: scan_summaries(board))
            else:
                (board.root / TASK_INDEX_FILE).unlink(missing_ok=True)
        seen = view.snapshot()
        assert_consistent(seen, board)
        moved = {i for i in before.keys() | seen.tasks.keys() if before.get(i) != seen.tasks.get(i)}
        assert moved <= seen.changed
        if rng.random() < 0.2:
            lanes.filter = LaneFilter.parse(rng.choice(("", "state:failed,done", "lane:mcp", "task-0")))
        lanes.apply(seen)
        now = datetime.fromtimestamp(seen.taken_at, UTC)
        for lane in LANE_ORDER:
            rows = lanes.lane(lane)
            rows.sync(now)
            title, folded = lane_recount(seen.tasks.values(), lane, rows.filter, now)
            assert (rows.title(), dict(rows.fold_counts)) == (title, folded)


def test_a_writer_killed_before_its_index_line_is_reconciled_by_the_next_supervisor(
    board: Blackboard, tmp_path: Path
) -> None:
    for n in range(3):
        board.write_state(task(f"task-{n:04d}"))
    view = view_of(board, tmp_path)
    generation = view.index.generation
    assert view.snapshot().tasks["task-0001"].status == TaskStatus.QUEUED
    killed = subprocess.run(
        [str(COCKPIT), "--repo", str(board.repo), "cancel", "task-0001"],
        env={**os.environ, "COCKPIT_CRASH_AT": "task-state-written"},
        capture_output=True,
        timeout=60,
    )
    assert killed.returncode == -9
    assert board.read_state("task-0001").status == TaskStatus.CANCELLED  # type: ignore[union-attr]
    # Another state file the index never heard of, and a task whose directory vanished.
    ghost = task("ghost-0009", lane="mcp", status=TaskStatus.RUNNING)
    ghost.status = TaskStatus.REVIEW
    atomic_write_json(board.task_dir(ghost.id) / "state.json", ghost.model_dump(mode="json"))
    shutil.rmtree(board.task_dir("task-0002"))
    lagging = view.snapshot()
    assert lagging.tasks["task-0001"].status == TaskStatus.QUEUED  # the window the crash left open
    with board.lock():
        Supervisor(board, env={}).recover()
    healed = view.snapshot()
    assert view.index.generation != generation and view.index.rescans == 0
    assert healed.changed == {"task-0001", "task-0002", "ghost-0009"}
    assert healed.tasks["task-0001"].status == TaskStatus.CANCELLED and "task-0002" not in healed.tasks
    assert_consistent(healed, board)


def test_decisions_breakers_and_the_config_are_read_again_when_their_files_change(
    board: Blackboard, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [time.time()]
    view = view_of(board, tmp_path, clock=lambda: now[0])
    root = board.root
    waiting = task("gated-0001", status=TaskStatus.AWAITING_DECISION)
    waiting.attempts = []
    board.write_state(waiting)
    settle(root / "decisions" / "pending", root / "decisions" / "resolved", root / "breakers")
    first = view.snapshot()
    assert first.decisions == () and first.breakers == {} and first.max_workers == 3

    store = DecisionStore(root, utc_now)
    card = open_gate(store, waiting, failure_gate(waiting, "repeated_failures", "3 failed attempts", None))
    breakers = BreakerStore(root / "breakers", lambda: now[0], random.Random(1))
    breaker = breakers.get("mock-provider")
    for _ in range(3):
        breaker.on_failure("http_5xx", "HTTP 503")
    breakers.save(breaker)
    (root / "config.toml").write_text("max_workers = 2\n")
    second = view.snapshot()
    assert [c.id for c in second.decisions] == [card.id]
    assert second.breakers == {"mock-provider": "open"} and second.max_workers == 2

    settle(root / "decisions" / "pending", root / "breakers", root / "config.toml")
    view.snapshot()
    loads: list[str] = []
    monkeypatch.setattr(BreakerStore, "all", lambda store: loads.append("breakers") or [])
    assert view.snapshot().breakers == {"mock-provider": "open"} and loads == []
    record = breaker.snapshot()
    assert record.cooldown_until is not None
    now[0] = record.cooldown_until + 1  # the cooldown is over: it reads HALF-OPEN, no file changed
    monkeypatch.undo()
    assert view.snapshot().breakers == {"mock-provider": "half_open"}

    store.answer(card.id, "B", by="human")
    assert view.snapshot().decisions == ()
    monkeypatch.setattr(config_module, "load_config", lambda *_: pytest.fail("the config was read again"))
    assert view.snapshot().max_workers == 2


def test_settle_time_covers_a_change_within_one_timestamp_tick(board: Blackboard, tmp_path: Path) -> None:
    """Two cards written within one file-system tick leave the directory's stamp as it was after the
    first; the view reads the directory again until its last change is older than ``SETTLE_S``."""
    view = view_of(board, tmp_path)
    waiting = task("gated-0001", status=TaskStatus.AWAITING_DECISION)
    board.write_state(waiting)
    store = DecisionStore(board.root, utc_now)
    open_gate(store, waiting, failure_gate(waiting, "repeated_failures", "3 failed attempts", None))
    pending = board.root / "decisions" / "pending"
    stamp = pending.stat().st_mtime_ns
    assert len(view.snapshot().decisions) == 1
    other = task("gated-0002", status=TaskStatus.AWAITING_DECISION)
    board.write_state(other)
    open_gate(store, other, failure_gate(other, "repeated_failures", "3 failed attempts", None))
    os.utime(pending, ns=(stamp, stamp))  # as if both had landed in the same tick
    assert time.time() - stamp / 1e9 < board_view_module.SETTLE_S
    assert len(view.snapshot().decisions) == 2


def cockpit_out(*args: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(list(args)) == 0
    return out.getvalue()


def rows_before(board: Blackboard) -> list[dict[str, object]]:
    """The rows ``status`` showed before the index: every state file read and validated."""
    rows: list[dict[str, object]] = [status_row(TaskSummary.of(s)) for s in board.states()]
    for item in board.inbox():
        env = item.data["envelope"]
        rows.append(
            {
                "id": item.data["task_id"],
                "lane": env.get("lane"),
                "state": "submitted",
                "title": env.get("title") or str(env.get("goal", ""))[:80],
                "attempts": 0,
                "thread_id": None,
                "signals": {"exit_code": None, "turn_completed": False, "last_message": False},
                "usage": {
                    "input_tokens": 0,
                    "cached_input_tokens": 0,
                    "output_tokens": 0,
                    "reasoning_output_tokens": 0,
                },
                "message": "waiting in the inbox for a supervisor (the cockpit or `cockpit run`) "
                "to accept it",
            }
        )
    return rows


def test_status_reads_the_index_and_prints_what_reading_every_state_file_printed(
    board: Blackboard, monkeypatch: pytest.MonkeyPatch
) -> None:
    populate(board, 40)
    state = board.read_state(board.task_ids()[3])
    assert state is not None
    state.status, state.message = TaskStatus.FAILED, "\x1b[31mred\x1b[0m token=abcdef123456"
    state.title = "A title \x1b[1mwith\x1b[0m  spaces\tand a key sk-abcdefghijklmnopqrstuvwx"
    board.write_state(state)
    envelope = {"goal": "Wait in the inbox", "lane": "local"}
    board.drop("submit", {"task_id": "waiting-0001", "envelope": envelope})
    rows = rows_before(board)
    as_json = json.dumps(clean_data(rows), indent=2, ensure_ascii=False) + "\n"
    table = cli.status_table([cli.row_cells(r) for r in rows]) + "\n"
    monkeypatch.setattr(Blackboard, "read_state", lambda *_: pytest.fail("a state file was read"))
    assert cockpit_out("--repo", str(board.repo), "status", "--json") == as_json
    assert cockpit_out("--repo", str(board.repo), "status").startswith(table)
    assert len(json.loads(as_json)) == 41 and "token=[REDACTED]" in as_json and "sk-[REDACTED]" in table
