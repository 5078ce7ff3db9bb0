"""A lane's rows without a UI: what needs the user first and in which order, finished tasks folded into
one line with per-status counts (newest first when expanded), fresh failures folding after a day, the
filter's syntax and errors, lane-title counts, and snapshots applied by their changed ids only."""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import timedelta

import pytest

from cockpit.core.records.basics import TaskStatus
from cockpit.core.views.board import LANE_ORDER
from cockpit.core.views.lane_rows import FOLD, BoardLanes, FilterError, LaneFilter, LaneRows, fold_label
from tests.helpers.board_stub import T0, StubView, history, lane_recount, snapshot, summary

S = TaskStatus


def lane_of(*tasks) -> LaneRows:
    rows = LaneRows("worktree")
    for task in tasks:
        rows.put(task)
    rows.sync(T0)
    return rows


def test_needs_you_first_in_attention_order_then_one_fold_line() -> None:
    rows = lane_of(
        summary("done-1", S.SUCCEEDED, created=-50),
        summary("queued-1", S.QUEUED, created=-40),
        summary("running-1", S.RUNNING, created=-45),
        summary("review-2", S.REVIEW, created=-10),
        summary("review-1", S.REVIEW, created=-30),
        summary("asking-1", S.RUNNING, created=-5, awaiting_approval="run `make`"),
        summary("decide-1", S.AWAITING_DECISION, created=-20),
        summary("conflict-1", S.CONFLICT, created=-15),
        summary("blocked-1", S.BLOCKED, created=-35),
        summary("failed-old", S.FAILED, created=-50, updated=-30),
        summary("failed-new", S.FAILED, created=-50, updated=-3),
        summary("dead-1", S.DEAD_LETTER, created=-50, updated=-60 * 23),
        summary("failed-2d", S.FAILED, created=-4000, updated=-60 * 48),
        summary("merged-1", S.MERGED, created=-70),
        summary("cancelled-1", S.CANCELLED, created=-80),
    )
    assert rows.rows == [
        "decide-1",  # a question is open: oldest first
        "asking-1",
        "review-1",  # diffs waiting, in submission order
        "review-2",
        "blocked-1",
        "conflict-1",
        "running-1",
        "queued-1",
        "failed-new",  # failures of the last day, newest first
        "failed-old",
        "dead-1",
        FOLD,
    ]
    assert rows.fold_counts == ((S.SUCCEEDED, 1), (S.MERGED, 1), (S.FAILED, 1), (S.CANCELLED, 1))
    assert rows.fold_label() == "✓ 1 done · ✔ 1 merged · ✗ 1 failed · ⊘ 1 cancelled — enter to expand"


def test_expanded_history_is_newest_first() -> None:
    rows = lane_of(
        summary("old", S.SUCCEEDED, updated=-300),
        summary("new", S.MERGED, updated=-100),
        summary("mid", S.REJECTED, updated=-200),
        summary("wip", S.RUNNING),
    )
    assert rows.rows == ["wip", FOLD]
    rows.expanded = True
    assert rows.sync(T0).rows
    assert rows.rows == ["wip", FOLD, "new", "mid", "old"]
    assert rows.fold_label().endswith("— enter to fold")


def test_no_finished_task_no_fold_line() -> None:
    assert lane_of(summary("q", S.QUEUED)).rows == ["q"]
    assert lane_of().rows == []


def test_fold_counts_use_thousands_separators() -> None:
    counts = ((S.SUCCEEDED, 4812), (S.FAILED, 37))
    assert fold_label(counts, expanded=False) == "✓ 4,812 done · ✗ 37 failed — enter to expand"
    rows = lane_of(*history(5012, failed_every=100))
    assert rows.fold_label() == "✓ 4,962 done · ✗ 50 failed — enter to expand"
    assert rows.title() == "worktree · 5,012"


def test_a_fresh_failure_folds_once_it_is_a_day_old_without_any_change() -> None:
    rows = lane_of(summary("f", S.FAILED, updated=-60))
    assert rows.rows == ["f"]
    assert not rows.sync(T0 + timedelta(hours=22))  # still fresh: nothing to do
    assert rows.sync(T0 + timedelta(hours=23, minutes=1)).rows
    assert rows.rows == [FOLD] and rows.fold_counts == ((S.FAILED, 1),)


def test_a_change_in_place_is_reported_without_a_rebuild() -> None:
    rows = lane_of(summary("a", S.RUNNING, created=-9), summary("b", S.RUNNING, created=-5), *history(50))
    built = rows.rebuilds
    rows.put(summary("a", S.RUNNING, created=-9, usage={"input_tokens": 900}))  # progress: same place
    change = rows.sync(T0)
    assert change.tasks == {"a"} and not change.rows and rows.rebuilds == built
    rows.put(summary("worktree-h00007", S.SUCCEEDED, updated=-5000))  # a folded task touched
    assert rows.sync(T0).tasks == {"worktree-h00007"} and rows.rebuilds == built
    rows.put(summary("a", S.REVIEW, created=-9))  # a new status: a new place
    assert rows.sync(T0).rows and rows.rebuilds == built + 1
    assert rows.rows[:2] == ["a", "b"]
    rows.discard("b")
    assert rows.sync(T0).rows and rows.rows == ["a", FOLD]
    assert not rows.sync(T0)  # nothing changed since


@pytest.mark.parametrize(
    ("text", "words", "states", "lanes"),
    [
        ("", (), set(), set()),
        ("Fix Parser", ("fix", "parser"), set(), set()),
        ("state:review", (), {S.REVIEW}, set()),
        ("status:review,failed", (), {S.REVIEW, S.FAILED}, set()),
        ("state:rev state:aw", (), {S.REVIEW, S.AWAITING_DECISION}, set()),  # unique prefixes
        ("state:done state:dead", (), {S.SUCCEEDED, S.DEAD_LETTER}, set()),
        ("lane:work lane:mcp", (), set(), {"worktree", "mcp"}),
        ("STATE:Queued docs", ("docs",), {S.QUEUED}, set()),
        ("fix: typo", ("fix:", "typo"), set(), set()),  # other key:value words are words
    ],
)
def test_filter_syntax(text: str, words: tuple[str, ...], states: set[S], lanes: set[str]) -> None:
    flt = LaneFilter.parse(text)
    assert (flt.words, flt.states, flt.lanes) == (words, states, lanes)
    assert flt.active == bool(words or states or lanes)


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("state:", "state: needs a value, e.g. state:review"),
        ("lane:", "lane: needs a value, e.g. lane:local"),
        ("state:nope", "unknown state 'nope': one of queued, running,"),
        ("state:re", "state 're' is ambiguous: review, rejected"),
        ("lane:moon", "unknown lane 'moon': one of local, worktree, cloud, mcp"),
    ],
)
def test_filter_errors_name_the_term(text: str, error: str) -> None:
    with pytest.raises(FilterError) as raised:
        LaneFilter.parse(text)
    assert str(raised.value).startswith(error)


def test_the_filter_applies_before_grouping_and_counts_go_to_the_title() -> None:
    rows = lane_of(
        summary("parser-fix", S.REVIEW, title="Fix the parser"),
        summary("docs-1", S.REVIEW, title="Write docs"),
        summary("parser-old", S.SUCCEEDED, title="Parser tests", updated=-500),
        summary("other", S.SUCCEEDED, title="Other"),
    )
    rows.filter = LaneFilter.parse("parser")
    rows.sync(T0)
    assert rows.rows == ["parser-fix", FOLD] and rows.fold_counts == ((S.SUCCEEDED, 1),)
    assert rows.title() == "worktree · 2 of 4"
    rows.filter = LaneFilter.parse("docs-1")  # ids match too
    rows.sync(T0)
    assert rows.rows == ["docs-1"]
    rows.filter = LaneFilter.parse("lane:local")
    rows.sync(T0)
    assert rows.rows == [] and rows.title() == "worktree · 0 of 4"


class Untouchable(Mapping[str, object]):
    """A board whose tasks must not be looked at."""

    def __getitem__(self, key: str) -> object:
        raise AssertionError("a task was looked up")

    def __iter__(self) -> Iterator[str]:
        raise AssertionError("the board was walked")

    def __len__(self) -> int:
        raise AssertionError("the board was counted")


def test_snapshots_apply_by_changed_ids_and_nothing_when_nothing_changed() -> None:
    board = {t.id: t for t in history(1000)}
    board["run-1"] = summary("run-1", S.RUNNING, lane="local")
    lanes = BoardLanes()
    assert lanes.apply(snapshot(board, version=1, changed=board))
    assert lanes.lane("worktree").total == 1000 and lanes.lane("local").total == 1
    # the next poll, nothing changed: not one task is looked at
    assert not lanes.apply(replace(snapshot({}, version=1), tasks=Untouchable()))
    # one change: only that task
    board = dict(board)
    board["run-1"] = summary("run-1", S.REVIEW, lane="local")
    assert lanes.apply(snapshot(board, version=2, changed={"run-1"}))
    assert lanes.lane("local").sync(T0).rows and lanes.lane("local").rows == ["run-1"]
    # a task leaves one lane for another, another is removed
    board["run-1"] = summary("run-1", S.REVIEW, lane="mcp")
    del board["worktree-h00000"]
    assert lanes.apply(snapshot(board, version=3, changed={"run-1", "worktree-h00000"}))
    assert lanes.lane("local").total == 0 and lanes.lane("mcp").total == 1
    assert lanes.lane("worktree").total == 999


def test_a_skipped_snapshot_is_caught_up_by_comparing_the_board() -> None:
    board = {t.id: t for t in history(20)}
    lanes = BoardLanes()
    lanes.apply(snapshot(board, version=1, changed=board))
    worktree = lanes.lane("worktree")
    worktree.sync(T0)
    built = worktree.rebuilds
    board = dict(board)
    board["new-1"] = summary("new-1", S.QUEUED)  # in version 2, whose snapshot was dropped
    board["worktree-h00003"] = summary("worktree-h00003", S.REVIEW)  # in version 3
    assert lanes.apply(snapshot(board, version=3, changed={"worktree-h00003"}))
    assert worktree.sync(T0).rows and worktree.rebuilds == built + 1
    assert worktree.rows == ["worktree-h00003", "new-1", FOLD]


def test_the_board_filter_reaches_every_lane() -> None:
    lanes = BoardLanes()
    board = {"a": summary("a", S.REVIEW, lane="local"), "b": summary("b", S.REVIEW, lane="mcp")}
    lanes.apply(snapshot(board, changed=board))
    lanes.filter = LaneFilter.parse("state:review lane:mcp")
    assert lanes.lane("local").sync(T0).rows and lanes.lane("local").rows == []
    assert lanes.lane("mcp").sync(T0).rows and lanes.lane("mcp").rows == ["b"]
    assert lanes.lane("mcp").title() == "mcp · 1 of 1"


FILTERS = ("", "", "state:failed", "state:done,merged,dead", "lane:local,worktree", "task 1", "state:review")


def test_the_counts_a_lane_shows_equal_a_recount_after_any_sequence_of_changes() -> None:
    """Titles and fold lines count with the board's maintained counts (less the fresh failures listed
    above the fold), or count what passes a filter: either way they equal a recount, whatever changed,
    whatever snapshot was skipped, and as fresh failures age into the fold."""
    rng = random.Random(20261206)
    view = StubView()
    lanes = BoardLanes()
    statuses = list(S)
    now = T0
    for step in range(300):
        for _ in range(rng.randint(1, 5)):
            task_id = f"task-{rng.randrange(60):02d}"
            if rng.random() < 0.15:
                view.remove(task_id)
                continue
            old = view.tasks.get(task_id)
            status = rng.choice(statuses)
            view.put(
                summary(
                    task_id,
                    status,
                    lane=rng.choice(LANE_ORDER) if old is None or rng.random() < 0.2 else old.lane,
                    created=-rng.randrange(5000)
                    if old is None
                    else (old.created_at - T0).total_seconds() / 60,
                    updated=(now - T0).total_seconds() / 60 - rng.choice((1, 60, 60 * 23, 60 * 30)),
                    awaiting_approval="run `make`" if rng.random() < 0.3 else None,
                )
            )
        if rng.random() < 0.1:
            lanes.filter = LaneFilter.parse(rng.choice(FILTERS))
        taken = view.snapshot()
        if rng.random() < 0.8:  # the rest are dropped: the next one is caught up by comparing
            lanes.apply(taken)
        else:
            continue
        now += timedelta(minutes=rng.choice((0, 1, 90)))
        for lane in LANE_ORDER:
            rows = lanes.lane(lane)
            if rng.random() < 0.05:
                rows.expanded = not rows.expanded
            rows.sync(now)
            title, folded = lane_recount(view.tasks.values(), lane, rows.filter, now)
            assert rows.title() == title, step
            assert dict(rows.fold_counts) == folded, step
            assert (FOLD in rows.rows) == bool(folded)
            assert rows.total == sum(1 for t in view.tasks.values() if t.lane == lane)
            assert rows.count(S.FAILED) == sum(
                1 for t in view.tasks.values() if (t.lane, t.status) == (lane, S.FAILED)
            )
            if rows.expanded and folded:
                assert len(rows.rows) - rows.rows.index(FOLD) - 1 == sum(folded.values())


def test_typing_a_filter_lists_what_a_fresh_lane_lists_whatever_changed_between_keys() -> None:
    """A filter that narrows the last one looks only at its matches and the tasks changed since; titles
    change, tasks come, go and change status between keystrokes: the rows, titles and fold counts are
    those of a lane built from scratch with the same filter, and no more tasks are looked at."""
    rng = random.Random(20261205)
    words = ("task", "fix", "parser", "#12", "ab")
    tasks = {}
    lane = LaneRows("worktree")
    now = T0
    for step in range(400):
        for _ in range(rng.randint(0, 3)):
            task_id = f"t-{rng.randrange(80):02d}"
            if rng.random() < 0.1 and task_id in tasks:
                del tasks[task_id]
                lane.discard(task_id)
                continue
            title = " ".join(rng.choice(words) + str(rng.randrange(30)) for _ in range(rng.randint(1, 3)))
            task = summary(task_id, rng.choice(list(S)), created=-rng.randrange(3000), title=title)
            tasks[task_id] = task
            lane.put(task)
        text = lane.filter.text
        move = rng.random()
        if move < 0.5:
            text += rng.choice("abfiprstx#12 ")  # typing on, the case narrowing serves
        elif move < 0.6:
            text = text[:-1]
        elif move < 0.65:
            text = rng.choice(("", "state:failed ta", "state:review,done p"))
        if rng.random() < 0.05:
            lane.expanded = not lane.expanded
        lane.filter = LaneFilter.parse(text)
        lane.sync(now)
        fresh = LaneRows("worktree", _filter=lane.filter, _expanded=lane.expanded)
        for task in tasks.values():
            fresh.put(task)
        fresh.sync(now)
        assert lane.rows == fresh.rows, (step, text)
        assert lane.title() == fresh.title(), (step, text)
        assert lane.fold_counts == fresh.fold_counts, (step, text)


def test_a_narrowing_filter_looks_only_at_the_last_matches() -> None:
    lane = lane_of(*history(2_000), summary("fix-1", S.REVIEW, title="fix the parser"))
    looked: list[str] = []

    class Watching(dict):
        def __getitem__(self, key):  # type: ignore[override]
            looked.append(key)
            return super().__getitem__(key)

    lane.filter = LaneFilter.parse("fix")
    lane.sync(T0)
    assert lane.matched == 1
    lane._search = Watching(lane._search)
    lane.filter = LaneFilter.parse("fix the")
    lane.sync(T0)
    assert lane.rows == ["fix-1"] and looked == ["fix-1", "fix-1"]  # one lookup per word
    lane.filter = LaneFilter.parse("fax")  # not a narrowing: every task is looked at again
    lane.sync(T0)
    assert lane.rows == [] and len(looked) == 2 + 2_001
