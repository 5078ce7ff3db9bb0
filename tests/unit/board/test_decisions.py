"""Decision cards: opening, ids (also across processes), answering, expiry, withdrawal, corrupt files."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from cockpit.core.board.blackboard import Blackboard
from cockpit.core.board.decisions import (
    DecisionCard,
    DecisionError,
    DecisionOption,
    DecisionStore,
    default_deadline,
    escalation_rate,
    parse_card_id,
    render_markdown,
)

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def options() -> list[DecisionOption]:
    return [
        DecisionOption(
            key="A",
            label="Retry with feedback",
            action="retry_with_feedback",
            pros=["the error looks like a typo"],
            cons=["may fail a fourth time"],
            cost="~20k tokens",
            params={"feedback": "run the tests before finishing"},
        ),
        DecisionOption(key="B", label="Accept partial", action="accept_partial", cost="none"),
        DecisionOption(
            key="C", label="Dead-letter", action="dead_letter", cons=["work is lost"], cost="none"
        ),
    ]


def open_card(store: DecisionStore, task_id: str = "add-hello-3fa2", **kw: Any) -> DecisionCard:
    args: dict[str, Any] = {
        "task_id": task_id,
        "trigger": "repeated_failures",
        "title": "add-hello failed three times",
        "context": "Attempts 1-3 failed the acceptance tests.\nLast error: NameError in hello.py.",
        "options": options(),
        "recommended": "A",
        "recommended_why": "one more try with the error quoted is cheap",
        "risk": "medium",
        "default": "C",
    }
    args.update(kw)
    return store.open(**args)


def must_get(store: DecisionStore, ref: str | int) -> DecisionCard:
    card = store.get(ref)
    assert card is not None, ref
    return card


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(tmp_path: Path, clock: FakeClock) -> DecisionStore:
    return DecisionStore(tmp_path / ".cockpit", clock)


def test_open_writes_json_and_markdown(store: DecisionStore) -> None:
    card = open_card(store)
    assert card.id == "decision-001"
    assert card.created_at == T0 and card.deadline == T0 + timedelta(hours=24)
    json_path = store.pending_dir / "decision-001.json"
    md_path = store.pending_dir / "decision-001.md"
    assert DecisionCard.model_validate_json(json_path.read_text()) == card
    md = md_path.read_text()
    for opt in card.options:
        assert f"**{opt.key}. {opt.label}**" in md and opt.cost in md
    assert "pro: the error looks like a typo" in md and "con: work is lost" in md
    assert "**Recommended: A** — one more try with the error quoted is cheap" in md
    assert "Default if no response by 2025-03-02 09:00 UTC: C** (Dead-letter)" in md
    assert "`cockpit decide decision-001 A`" in md
    assert "risk **medium**" in md
    assert len(md.splitlines()) <= 30  # half a page
    assert [c.id for c in store.pending()] == ["decision-001"]
    assert store.pending_for("add-hello-3fa2") == [card] and store.pending_for("other") == []


def test_ids_are_sequential_and_survive_resolution(store: DecisionStore) -> None:
    ids = [open_card(store, task_id=f"task-{i}").id for i in range(3)]
    assert ids == ["decision-001", "decision-002", "decision-003"]
    store.answer("decision-003", "B")
    # The highest card is resolved, but its number is never handed out again.
    assert open_card(store, task_id="task-9").id == "decision-004"
    assert [c.id for c in store.pending()] == ["decision-001", "decision-002", "decision-004"]


def test_ids_are_unique_when_two_processes_open_cards_at_once(tmp_path: Path) -> None:
    root = tmp_path / ".cockpit"
    per_process = 25
    code = (
        "import json, sys\n"
        "from datetime import UTC, datetime\n"
        "from pathlib import Path\n"
        "from cockpit.core.board.decisions import DecisionOption, DecisionStore\n"
        f"store = DecisionStore(Path({str(root)!r}), lambda: datetime.now(UTC))\n"
        "opts = [DecisionOption(key='A', label='a', action='retry'),"
        " DecisionOption(key='B', label='b', action='cancel')]\n"
        "tag = sys.argv[1]\n"
        "sys.stdin.readline()\n"  # start together
        "ids = []\n"
        f"for i in range({per_process}):\n"
        "    c = store.open(f'{tag}-task-{i}', 'unknown_error', 't', '', opts, 'A', '', 'low', 'B')\n"
        "    ids.append(c.id)\n"
        "print(json.dumps(ids))\n"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, tag],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for tag in ("p", "q")
    ]
    outs = [p.communicate(input="go\n", timeout=60) for p in procs]
    for p, (_, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
    ids = [cid for out, _ in outs for cid in json.loads(out)]
    assert len(ids) == len(set(ids)) == 2 * per_process  # none reused
    expected = [f"decision-{n:03d}" for n in range(1, 2 * per_process + 1)]
    assert sorted(ids) == expected  # none lost, no gaps
    pending = DecisionStore(root, lambda: T0).pending()
    assert [c.id for c in pending] == expected
    assert sorted(c.task_id for c in pending) == sorted(
        f"{tag}-task-{i}" for tag in ("p", "q") for i in range(per_process)
    )


def test_reopening_the_same_gate_returns_the_pending_card(store: DecisionStore, clock: FakeClock) -> None:
    first = open_card(store)
    clock.advance(minutes=5)
    assert open_card(store, title="a restarted supervisor asks again") == first
    other = open_card(store, trigger="over_budget", title="over budget")
    assert other.id == "decision-002"
    assert len(store.pending()) == 2
    # Once answered, the same gate may be raised again.
    store.answer(first.id, "A")
    assert open_card(store).id == "decision-003"


def test_answer_moves_both_files_and_records_who_and_when(store: DecisionStore, clock: FakeClock) -> None:
    card = open_card(store)
    clock.advance(hours=2)
    done = store.answer(card.id, "b", note="good enough for now")
    assert done.resolved is not None
    assert done.resolved.option == "B" and done.resolved.action == "accept_partial"
    assert done.resolved.by == "human" and done.resolved.at == T0 + timedelta(hours=2)
    assert done.resolved.note == "good enough for now"
    assert not (store.pending_dir / "decision-001.json").exists()
    assert not (store.pending_dir / "decision-001.md").exists()
    on_disk = DecisionCard.model_validate_json((store.resolved_dir / "decision-001.json").read_text())
    assert on_disk == done
    md = (store.resolved_dir / "decision-001.md").read_text()
    assert "Resolved with B (accept_partial) by human at 2025-03-01 11:00 UTC" in md
    assert "cockpit decide" not in md
    assert store.pending() == [] and store.resolved() == [done]
    assert store.get(1) == done


def test_answering_twice_is_refused(store: DecisionStore, clock: FakeClock) -> None:
    card = open_card(store)
    store.answer(card.id, "A", by="orchestrator")
    with pytest.raises(DecisionError) as info:
        store.answer(card.id, "C")
    msg = str(info.value)
    assert "\n" not in msg
    assert msg == (
        "decision-001 was already resolved with A (retry_with_feedback) by orchestrator"
        " at 2025-03-01 09:00 UTC"
    )
    assert must_get(store, card.id).resolved == store.resolved()[0].resolved


def test_unknown_option_lists_the_valid_keys(store: DecisionStore) -> None:
    card = open_card(store)
    with pytest.raises(DecisionError, match=r"decision-001 has no option 'D'; choose one of A, B, C"):
        store.answer(card.id, "D")
    with pytest.raises(DecisionError, match="choose one of A, B, C"):
        store.answer(card.id, "")
    assert store.pending() == [card]


def test_unknown_and_malformed_ids(store: DecisionStore) -> None:
    open_card(store)
    with pytest.raises(DecisionError, match=r"^no decision decision-042$"):
        store.answer(42, "A")
    with pytest.raises(DecisionError, match="not a decision id"):
        store.answer("banana", "A")
    assert store.get("42") is None


@pytest.mark.parametrize("ref", [7, "7", "007", "decision-007", " Decision-007 ", "0007"])
def test_card_id_forms(ref: str | int) -> None:
    assert parse_card_id(ref) == "decision-007"


def test_all_id_forms_resolve_a_card(store: DecisionStore) -> None:
    for i in range(7):
        open_card(store, task_id=f"task-{i}")
    assert {must_get(store, ref).id for ref in (7, "007", "decision-007")} == {"decision-007"}
    assert store.answer("7", "A").id == "decision-007"
    assert must_get(store, "007").resolved is not None


def test_expire_due_applies_the_default_only_after_the_deadline(
    store: DecisionStore, clock: FakeClock
) -> None:
    slow = open_card(store)  # 24 h
    outage = open_card(store, task_id="deploy-1", trigger="catastrophic", title="sandbox gone", default="B")
    assert outage.deadline == T0 + timedelta(hours=1)
    clock.advance(minutes=59, seconds=59)
    assert store.expire_due() == []
    clock.advance(seconds=1)
    [expired] = store.expire_due()
    assert expired.id == outage.id and expired.resolved is not None
    assert expired.resolved.by == "default" and expired.resolved.option == "B"
    assert expired.resolved.action == "accept_partial"
    assert expired.resolved.note == "no answer by 2025-03-01 10:00 UTC"
    assert [c.id for c in store.pending()] == [slow.id]
    clock.advance(hours=22, minutes=59)
    assert store.expire_due() == []
    clock.advance(hours=5)
    [late] = store.expire_due()
    assert late.id == slow.id and late.resolved is not None and late.resolved.option == "C"
    assert store.pending() == [] and store.expire_due() == []
    with pytest.raises(DecisionError, match="already resolved by default with C"):
        store.answer(slow.id, "A")


def test_explicit_deadline_and_default_deadline(store: DecisionStore, clock: FakeClock) -> None:
    card = open_card(store, deadline=T0 + timedelta(minutes=10))
    assert card.deadline == T0 + timedelta(minutes=10)
    assert default_deadline("merge", T0) == T0 + timedelta(hours=24)
    assert default_deadline("catastrophic", T0) == T0 + timedelta(hours=1)
    with pytest.raises(ValueError, match="timezone-aware"):
        default_deadline("merge", datetime(2025, 1, 1))


def test_withdraw(store: DecisionStore) -> None:
    card = open_card(store)
    done = store.withdraw(card.id, "task was cancelled")
    assert done.resolved is not None
    assert done.resolved.by == "supervisor" and done.resolved.action == "withdrawn"
    assert done.resolved.option is None and done.resolved.note == "task was cancelled"
    assert store.pending() == [] and store.resolved() == [done]
    assert "Withdrawn by supervisor" in (store.resolved_dir / f"{card.id}.md").read_text()
    with pytest.raises(DecisionError, match=r"^decision-001 was already withdrawn by supervisor at "):
        store.answer(card.id, "A")


def test_corrupt_cards_are_quarantined_and_the_rest_still_listed(tmp_path: Path, clock: FakeClock) -> None:
    board = Blackboard(tmp_path)
    board.init()
    seen: list[tuple[Path, str]] = []

    def quarantine(path: Path, reason: str) -> None:
        seen.append((path, reason))
        board.quarantine(path, reason)

    store = DecisionStore(board.root, clock, on_corrupt=quarantine)
    for i in range(4):
        open_card(store, task_id=f"task-{i}")
    torn = store.pending_dir / "decision-002.json"
    torn.write_text('{"id": "decision-002", "task_')
    invalid = store.pending_dir / "decision-003.json"
    data = json.loads(invalid.read_text())
    data["recommended"] = "Z"
    invalid.write_text(json.dumps(data))

    assert [c.id for c in store.pending()] == ["decision-001", "decision-004"]
    reasons = {p.name: r for p, r in seen}
    assert reasons["decision-002.json"].startswith("not valid JSON")
    assert "recommended must be one of the option keys" in reasons["decision-003.json"]
    assert "decision-002.md" in reasons  # its rendering goes with it
    assert not torn.exists() and not invalid.exists()
    assert len(board.quarantined()) == 4
    # Listing again finds nothing new to quarantine, and new ids do not reuse the lost numbers.
    seen.clear()
    assert len(store.pending()) == 2 and seen == []
    assert open_card(store, task_id="task-9").id == "decision-005"
    with pytest.raises(DecisionError, match="no decision decision-002"):
        store.answer(2, "A")


def test_corrupt_card_without_a_callback_is_skipped(store: DecisionStore) -> None:
    open_card(store)
    (store.pending_dir / "decision-002.json").write_bytes(b"\xff\xfe")
    assert [c.id for c in store.pending()] == ["decision-001"]


def test_card_validation() -> None:
    base: dict[str, Any] = {
        "id": "decision-001",
        "task_id": "t-1",
        "trigger": "merge",
        "title": "merge t-1?",
        "options": [o.model_dump() for o in options()],
        "recommended": "A",
        "risk": "low",
        "default": "B",
        "deadline": T0 + timedelta(hours=1),
        "created_at": T0,
    }
    DecisionCard.model_validate(base)
    dup = [*base["options"][:2], {**base["options"][2], "key": "A"}]
    bad: list[tuple[dict[str, Any], str]] = [
        ({"options": dup}, "option keys must be unique"),
        ({"recommended": "D"}, "recommended must be one of"),
        ({"default": "x"}, "default must be one of"),
        ({"options": base["options"][:1]}, "at least 2"),
        ({"options": [{**base["options"][0], "key": "a"}, base["options"][1]]}, "pattern"),
        ({"options": [{**base["options"][0], "key": "AB"}, base["options"][1]]}, "pattern"),
        ({"deadline": datetime(2025, 3, 2)}, "timezone-aware"),
        ({"deadline": T0}, "deadline must be after"),
        ({"title": "two\nlines"}, "one non-empty line"),
        ({"risk": "extreme"}, "risk"),
        ({"id": "decision-7"}, "pattern"),
    ]
    for change, fragment in bad:
        with pytest.raises(ValidationError, match=fragment):
            DecisionCard.model_validate({**base, **change})
    with pytest.raises(ValidationError, match="verb"):
        DecisionOption(key="A", label="x", action="Do It")


def test_rendering_stays_short_with_four_options() -> None:
    opts = [
        *options(),
        DecisionOption(key="D", label="Raise budget", action="raise_budget", cost="~50k tokens"),
    ]
    card = DecisionCard(
        id="decision-1234",
        task_id="t",
        trigger="over_budget",
        title="t is at 160 % of its budget",
        options=opts,
        recommended="D",
        risk="high",
        default="C",
        deadline=T0 + timedelta(hours=24),
        created_at=T0,
    )
    md = render_markdown(card)
    assert md.startswith("# decision-1234 — t is at 160 % of its budget\n")
    assert "**Recommended: D**\n" in md
    assert "Answer with one letter (A, B, C, D): `cockpit decide decision-1234 D`" in md
    assert len(md.splitlines()) <= 30


@pytest.mark.parametrize(
    ("gated", "finished", "reading"),
    [
        (0, 100, "too autonomous"),
        (4, 100, "too autonomous"),
        (5, 100, "aggressive"),
        (9, 100, "aggressive"),
        (1, 10, "sweet spot"),
        (3, 20, "sweet spot"),
        (16, 100, "too cautious"),
        (1, 4, "too cautious"),
        (26, 100, "the human is doing the work"),
        (3, 3, "the human is doing the work"),
    ],
)
def test_escalation_rate_bands(gated: int, finished: int, reading: str) -> None:
    rate, text = escalation_rate(gated, finished)
    assert rate == pytest.approx(gated / finished)
    assert text == reading


def test_escalation_rate_without_finished_tasks() -> None:
    assert escalation_rate(0, 0) == (None, "no finished tasks yet")
    with pytest.raises(ValueError):
        escalation_rate(-1, 3)
