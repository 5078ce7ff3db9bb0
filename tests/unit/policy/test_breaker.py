"""The per-provider circuit breaker: its state machine (examples and a model-checked property test) and its
files under ``breakers/``."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from cockpit.core.board.blackboard import Blackboard
from cockpit.core.policy.breaker import (
    IDENTICAL_ERRORS,
    INITIAL_COOLDOWN_MIN,
    MAX_COOLDOWN_MIN,
    PROBE_JITTER_S,
    PROBE_STALE_S,
    TRIP_FAILURES,
    TRIP_WINDOW_S,
    BreakerRecord,
    BreakerState,
    BreakerStore,
    CircuitBreaker,
    breaker_file_name,
)

START = 1_700_000_000.0


class FakeClock:
    def __init__(self, t: float = START) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


class FixedJitter(random.Random):
    """A random source whose ``uniform`` always lands at the same fraction of its range."""

    def __init__(self, fraction: float) -> None:
        super().__init__(0)
        self.fraction = fraction

    def uniform(self, a: float, b: float) -> float:
        return a + (b - a) * self.fraction


def make(clock: FakeClock, jitter: float = 0.5, provider: str = "openai") -> CircuitBreaker:
    return CircuitBreaker(BreakerRecord(provider=provider), clock, FixedJitter(jitter))


def trip(breaker: CircuitBreaker, clock: FakeClock) -> None:
    for _ in range(TRIP_FAILURES):
        breaker.on_failure("http-429", "rate limited", trips=True)
        clock.advance(1)


def to_half_open_probe(breaker: CircuitBreaker, clock: FakeClock) -> None:
    """Advance to the probe time of an OPEN breaker and take the probe."""
    rec = breaker.snapshot()
    assert rec.probe_not_before is not None
    clock.t = rec.probe_not_before
    admission = breaker.allow()
    assert admission.allowed and admission.probe


# ---- constants -------------------------------------------------------------------------------------


def test_numbers_are_the_playbooks() -> None:
    assert (TRIP_FAILURES, TRIP_WINDOW_S, IDENTICAL_ERRORS) == (3, 60.0, 5)
    assert (INITIAL_COOLDOWN_MIN, MAX_COOLDOWN_MIN, PROBE_JITTER_S) == (5, 30, 30.0)
    assert PROBE_STALE_S > 30 * 60  # longer than one run may last


# ---- CLOSED ----------------------------------------------------------------------------------------


def test_a_fresh_breaker_is_closed_and_admits() -> None:
    clock = FakeClock()
    breaker = make(clock)
    admission = breaker.allow()
    assert breaker.state is BreakerState.CLOSED
    assert admission.allowed and not admission.probe and admission.retry_at is None


def test_three_tripping_failures_within_60s_open_it() -> None:
    clock = FakeClock()
    breaker = make(clock, jitter=0.5)
    breaker.on_failure("http-429", "429", trips=True)
    clock.advance(30)
    breaker.on_failure("http-503", "503", trips=True)
    assert breaker.state is BreakerState.CLOSED
    clock.advance(30)  # exactly 60 s after the first: still "within 60 s"
    breaker.on_failure("timeout", "timed out", trips=True)
    assert breaker.state is BreakerState.OPEN
    rec = breaker.snapshot()
    assert rec.cooldown_minutes == 5
    assert rec.cooldown_until == clock.t + 300
    assert rec.probe_not_before == clock.t + 300 + 15
    assert rec.consecutive_failures == 3 and rec.opened_count == 1
    admission = breaker.allow()
    assert not admission.allowed and admission.retry_at == rec.probe_not_before
    assert [t.to_state for t in breaker.transitions] == [BreakerState.OPEN]


def test_failures_spread_over_more_than_60s_do_not_open_it() -> None:
    clock = FakeClock()
    breaker = make(clock)
    for gap in (0, 31, 31):  # first and third are 62 s apart
        clock.advance(gap)
        breaker.on_failure("http-429", "429", trips=True)
    assert breaker.state is BreakerState.CLOSED
    assert breaker.snapshot().consecutive_failures == 3
    clock.advance(20)  # the last three now span 51 s
    breaker.on_failure("http-429", "429", trips=True)
    assert breaker.state is BreakerState.OPEN


def test_a_success_resets_the_runs() -> None:
    clock = FakeClock()
    breaker = make(clock)
    breaker.on_failure("http-429", "429")
    breaker.on_failure("http-429", "429")
    breaker.on_success()
    breaker.on_failure("http-429", "429")
    breaker.on_failure("http-429", "429")
    assert breaker.state is BreakerState.CLOSED
    rec = breaker.snapshot()
    assert rec.consecutive_failures == 2 and rec.identical_count == 2


def test_non_tripping_failures_neither_count_nor_reset() -> None:
    clock = FakeClock()
    breaker = make(clock)
    breaker.on_failure("http-429", "429", trips=True)
    breaker.on_failure("http-429", "429", trips=True)
    breaker.on_failure("http-401", "unauthorised", trips=False)
    assert breaker.state is BreakerState.CLOSED
    assert breaker.snapshot().consecutive_failures == 2
    breaker.on_failure("http-503", "503", trips=True)
    assert breaker.state is BreakerState.OPEN


def test_non_tripping_failures_alone_do_not_open_it() -> None:
    clock = FakeClock()
    breaker = make(clock)
    for sig in ("http-401", "http-400", "logic", "http-401", "http-400", "logic", "http-401"):
        breaker.on_failure(sig, sig, trips=False)
    assert breaker.state is BreakerState.CLOSED


def test_five_identical_errors_open_it_whatever_their_kind() -> None:
    clock = FakeClock()
    breaker = make(clock)
    for _ in range(IDENTICAL_ERRORS - 1):
        breaker.on_failure("http-401", "unauthorised", trips=False)
        clock.advance(120)
    assert breaker.state is BreakerState.CLOSED
    breaker.on_failure("http-401", "unauthorised", trips=False)
    assert breaker.state is BreakerState.OPEN
    assert "identical" in breaker.transitions[-1].reason


def test_a_different_signature_breaks_the_identical_run() -> None:
    clock = FakeClock()
    breaker = make(clock)
    for sig in ["logic"] * 4 + ["http-400"] + ["logic"] * 4:
        breaker.on_failure(sig, sig, trips=False)
    assert breaker.state is BreakerState.CLOSED


# ---- OPEN and HALF-OPEN ------------------------------------------------------------------------------


def test_open_turns_half_open_after_the_cooldown_and_admits_one_probe_after_its_jitter() -> None:
    clock = FakeClock()
    breaker = make(clock, jitter=0.5)
    trip(breaker, clock)
    rec = breaker.snapshot()
    assert rec.cooldown_until is not None and rec.probe_not_before is not None
    clock.t = rec.cooldown_until - 0.001
    assert breaker.state is BreakerState.OPEN
    assert not breaker.allow().allowed
    clock.t = rec.cooldown_until
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.snapshot().state is BreakerState.HALF_OPEN
    waiting = breaker.allow()
    assert not waiting.allowed and waiting.retry_at == rec.probe_not_before == rec.cooldown_until + 15
    clock.t = rec.probe_not_before
    probe = breaker.allow()
    assert probe.allowed and probe.probe
    clock.advance(600)
    blocked = breaker.allow()
    assert not blocked.allowed and "in flight" in blocked.reason
    assert breaker.snapshot().probe_in_flight


def test_probe_success_closes_and_resets_the_cooldown() -> None:
    clock = FakeClock()
    breaker = make(clock)
    trip(breaker, clock)
    to_half_open_probe(breaker, clock)
    breaker.on_failure("timeout", "timed out")  # probe fails: 10 min
    to_half_open_probe(breaker, clock)
    breaker.on_success()
    assert breaker.state is BreakerState.CLOSED
    rec = breaker.snapshot()
    assert rec.cooldown_minutes == 5 and rec.consecutive_failures == 0
    assert rec.cooldown_until is None and not rec.probe_in_flight
    assert breaker.allow().allowed
    assert [t.to_state for t in breaker.transitions] == [
        BreakerState.OPEN,
        BreakerState.HALF_OPEN,
        BreakerState.OPEN,
        BreakerState.HALF_OPEN,
        BreakerState.CLOSED,
    ]


def test_probe_failure_doubles_the_cooldown_up_to_30_minutes() -> None:
    clock = FakeClock()
    breaker = make(clock, jitter=0.0)
    trip(breaker, clock)
    seen = [breaker.cooldown_minutes]
    for _ in range(4):
        to_half_open_probe(breaker, clock)
        breaker.on_failure("http-503", "503")
        assert breaker.state is BreakerState.OPEN
        rec = breaker.snapshot()
        assert rec.cooldown_until == clock.t + rec.cooldown_minutes * 60
        seen.append(rec.cooldown_minutes)
    assert seen == [5, 10, 20, 30, 30]
    to_half_open_probe(breaker, clock)
    breaker.on_success()
    trip(breaker, clock)
    assert breaker.cooldown_minutes == 5


def test_a_non_tripping_probe_failure_releases_the_probe() -> None:
    clock = FakeClock()
    breaker = make(clock, jitter=1.0)
    trip(breaker, clock)
    to_half_open_probe(breaker, clock)
    breaker.on_failure("http-400", "bad request", trips=False)
    assert breaker.state is BreakerState.HALF_OPEN
    rec = breaker.snapshot()
    assert not rec.probe_in_flight and rec.cooldown_minutes == 5
    assert rec.probe_not_before == clock.t + PROBE_JITTER_S
    assert not breaker.allow().allowed
    clock.t = rec.probe_not_before
    assert breaker.allow().probe


def test_a_non_tripping_probe_failure_that_is_the_fifth_identical_reopens() -> None:
    clock = FakeClock()
    breaker = make(clock)
    for _ in range(IDENTICAL_ERRORS):
        breaker.on_failure("http-401", "unauthorised", trips=False)
    assert breaker.state is BreakerState.OPEN
    to_half_open_probe(breaker, clock)
    breaker.on_failure("http-401", "unauthorised", trips=False)  # sixth identical
    assert breaker.state is BreakerState.OPEN and breaker.cooldown_minutes == 10


def test_a_lost_probe_is_released_after_the_stale_limit() -> None:
    clock = FakeClock()
    breaker = make(clock, jitter=0.0)
    trip(breaker, clock)
    to_half_open_probe(breaker, clock)
    clock.advance(PROBE_STALE_S - 1)
    assert not breaker.allow().allowed
    clock.advance(1)
    again = breaker.allow()
    assert again.allowed and again.probe
    assert breaker.cooldown_minutes == 5  # a lost result is not a failure


def test_release_probe_frees_the_slot_after_a_new_jitter() -> None:
    clock = FakeClock()
    breaker = make(clock, jitter=0.2)
    trip(breaker, clock)
    to_half_open_probe(breaker, clock)
    breaker.release_probe()
    rec = breaker.snapshot()
    assert not rec.probe_in_flight and rec.probe_not_before == clock.t + 6
    clock.advance(6)
    assert breaker.allow().probe


def test_results_of_requests_admitted_before_it_opened_change_nothing() -> None:
    clock = FakeClock()
    breaker = make(clock)
    trip(breaker, clock)
    before = breaker.snapshot()
    clock.advance(10)
    breaker.on_success()
    for _ in range(IDENTICAL_ERRORS + 1):
        breaker.on_failure("http-429", "late 429", trips=True)
    after = breaker.snapshot()
    assert after.state is BreakerState.OPEN
    assert (after.cooldown_until, after.cooldown_minutes, after.opened_count) == (
        before.cooldown_until,
        before.cooldown_minutes,
        before.opened_count,
    )
    assert after.last_failure == clock.t and after.last_error == "late 429"
    clock.t = after.cooldown_until or 0.0
    breaker.on_success()  # half-open, but no probe was admitted
    assert breaker.state is BreakerState.HALF_OPEN


def test_the_jitter_comes_from_the_injected_random_source() -> None:
    picks = set()
    for seed in range(5):
        a = CircuitBreaker(BreakerRecord(provider="p"), FakeClock(), random.Random(seed))
        b = CircuitBreaker(BreakerRecord(provider="p"), FakeClock(), random.Random(seed))
        for breaker in (a, b):
            for _ in range(3):
                breaker.on_failure("x", "x")
        ra, rb = a.snapshot(), b.snapshot()
        assert ra.probe_not_before == rb.probe_not_before
        assert ra.cooldown_until is not None and ra.probe_not_before is not None
        jitter = ra.probe_not_before - ra.cooldown_until
        assert 0 <= jitter <= PROBE_JITTER_S
        picks.add(jitter)
    assert len(picks) > 1


# ---- properties --------------------------------------------------------------------------------------

gaps = st.lists(st.floats(min_value=0, max_value=30), min_size=TRIP_FAILURES - 1, max_size=TRIP_FAILURES - 1)


@given(
    gaps=gaps,
    noise=st.lists(st.sampled_from(["http-401", "http-400", "logic"]), max_size=3),
    seed=st.integers(0, 1000),
)
def test_property_three_tripping_failures_within_60s_always_open(
    gaps: list[float], noise: list[str], seed: int
) -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(BreakerRecord(provider="p"), clock, random.Random(seed))
    for sig in noise:
        breaker.on_failure(sig, sig, trips=False)
    breaker.on_failure("http-429", "429", trips=True)
    for gap in gaps:
        clock.advance(gap)
        breaker.on_failure("http-503", "503", trips=True)
    assert breaker.state is BreakerState.OPEN
    assert not breaker.allow().allowed


def _no_run_of_five(sigs: list[str]) -> bool:
    run = 0
    for i, sig in enumerate(sigs):
        run = run + 1 if i and sigs[i - 1] == sig else 1
        if run >= IDENTICAL_ERRORS:
            return False
    return True


@given(
    sigs=st.lists(st.sampled_from(["http-401", "http-400"]), max_size=30).filter(_no_run_of_five),
    gaps=st.lists(st.floats(min_value=0, max_value=100), min_size=30, max_size=30),
)
def test_property_non_tripping_failures_open_only_on_a_fifth_identical(
    sigs: list[str], gaps: list[float]
) -> None:
    clock = FakeClock()
    breaker = make(clock)
    for sig, gap in zip(sigs, gaps, strict=False):
        clock.advance(gap)
        breaker.on_failure(sig, sig, trips=False)
        assert breaker.state is BreakerState.CLOSED
    last = sigs[-1] if sigs else "http-401"
    for _ in range(IDENTICAL_ERRORS):
        breaker.on_failure(last, last, trips=False)
    assert breaker.state is BreakerState.OPEN


class BreakerModel(RuleBasedStateMachine):
    """Random operations against a breaker and an independent reference model of the playbook rules."""

    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock()
        self.breaker = CircuitBreaker(BreakerRecord(provider="p"), self.clock, random.Random(0))
        self.tripped = False
        self.cooldown = INITIAL_COOLDOWN_MIN
        self.cooldown_until = 0.0
        self.probe_at = 0.0
        self.probe_started: float | None = None
        self.trip_times: list[float] = []
        self.last_sig: str | None = None
        self.run = 0
        self.consecutive = 0
        self.outstanding_probes = 0

    @initialize(seed=st.integers(0, 2**32 - 1))
    def seed_rng(self, seed: int) -> None:
        self.breaker = CircuitBreaker(BreakerRecord(provider="p"), self.clock, random.Random(seed))

    # -- the reference model --
    def expected_state(self) -> BreakerState:
        if not self.tripped:
            return BreakerState.CLOSED
        return BreakerState.HALF_OPEN if self.clock.t >= self.cooldown_until else BreakerState.OPEN

    def open_with(self, minutes: int) -> None:
        now = self.clock.t
        self.tripped = True
        self.cooldown = minutes
        self.cooldown_until = now + minutes * 60
        self.probe_started = None
        self.outstanding_probes = 0
        self.trip_times = []
        rec = self.breaker.snapshot()
        assert rec.state is BreakerState.OPEN
        assert rec.cooldown_minutes == minutes
        assert rec.cooldown_until == self.cooldown_until
        assert rec.probe_not_before is not None
        assert 0 <= rec.probe_not_before - rec.cooldown_until <= PROBE_JITTER_S
        self.probe_at = rec.probe_not_before

    def reschedule_probe(self) -> None:
        self.probe_started = None
        self.outstanding_probes = 0
        rec = self.breaker.snapshot()
        assert rec.probe_not_before is not None
        assert self.clock.t <= rec.probe_not_before <= self.clock.t + PROBE_JITTER_S
        self.probe_at = rec.probe_not_before

    def close(self) -> None:
        self.tripped = False
        self.cooldown = INITIAL_COOLDOWN_MIN
        self.probe_started = None
        self.outstanding_probes = 0
        self.trip_times = []
        self.last_sig, self.run, self.consecutive = None, 0, 0

    # -- operations --
    @rule(
        dt=st.one_of(
            st.floats(min_value=0, max_value=40),
            st.sampled_from([0.0, 30.0, 59.0, 60.0, 61.0, 300.0, 600.0, 1200.0, 1800.0]),
            st.sampled_from([PROBE_STALE_S - 1, PROBE_STALE_S, PROBE_STALE_S + 1]),
            st.floats(min_value=0, max_value=2500),
        )
    )
    def advance(self, dt: float) -> None:
        self.clock.advance(dt)

    @rule(
        anchor=st.sampled_from(["cooldown_until", "probe_at"]),
        offset=st.sampled_from([-1.0, -0.001, 0.0, 0.001, 1.0, 40.0]),
    )
    def advance_to(self, anchor: str, offset: float) -> None:
        """Jump to just before, at or after the end of the cooldown or the probe time (never backwards)."""
        if self.tripped:
            self.clock.t = max(self.clock.t, getattr(self, anchor) + offset)

    @rule()
    def allow(self) -> None:
        now = self.clock.t
        state = self.expected_state()
        admission = self.breaker.allow()
        if state is BreakerState.CLOSED:
            assert admission.allowed and not admission.probe
            return
        if state is BreakerState.OPEN:
            assert not admission.allowed
            assert admission.retry_at == self.probe_at
            return
        if self.probe_started is not None:
            if now - self.probe_started < PROBE_STALE_S:
                assert not admission.allowed
                return
            event("stale probe released")
            self.reschedule_probe()  # a lost probe is released with a fresh jitter
        if now >= self.probe_at:
            assert admission.allowed and admission.probe
            event(f"probe admitted at cooldown {self.cooldown} min")
            self.probe_started = now
            self.outstanding_probes += 1
        else:
            assert not admission.allowed and admission.retry_at == self.probe_at

    @rule(outcome=st.sampled_from(["fails", "succeeds", "is lost"]))
    def probe_cycle(self, outcome: str) -> None:
        """Wait for the probe time, ask for admission, then report: a shortcut to deep cooldowns."""
        if not self.tripped:
            return
        self.clock.t = max(self.clock.t, self.probe_at)
        self.allow()
        if outcome == "fails":
            self.fail("http-503", trips=True)
        elif outcome == "succeeds":
            self.success()
        else:
            self.clock.advance(PROBE_STALE_S)
            self.allow()

    @rule()
    def success(self) -> None:
        state = self.expected_state()
        self.breaker.on_success()
        if state is BreakerState.CLOSED:
            self.trip_times, self.last_sig, self.run, self.consecutive = [], None, 0, 0
        elif self.probe_started is not None:
            event("probe succeeded")
            self.close()
            assert self.breaker.cooldown_minutes == INITIAL_COOLDOWN_MIN

    @rule(sig=st.sampled_from(["http-429", "http-401", "logic"]), trips=st.booleans())
    def failure(self, sig: str, trips: bool) -> None:
        self.fail(sig, trips)

    @rule(sig=st.sampled_from(["http-429", "http-401"]), trips=st.booleans(), n=st.integers(2, 5))
    def burst(self, sig: str, trips: bool, n: int) -> None:
        """Several identical failures at one instant (a probe, when admitted, is the first of them)."""
        for _ in range(n):
            self.fail(sig, trips)

    def fail(self, sig: str, trips: bool) -> None:
        now = self.clock.t
        state = self.expected_state()
        self.breaker.on_failure(sig, f"error {sig}", trips=trips)
        if state is not BreakerState.CLOSED and self.probe_started is None:
            return
        self.run = self.run + 1 if sig == self.last_sig else 1
        self.last_sig = sig
        self.consecutive += trips
        if state is BreakerState.CLOSED:
            if trips:
                self.trip_times.append(now)
            three_in_window = (
                trips
                and len(self.trip_times) >= TRIP_FAILURES
                and self.trip_times[-1] - self.trip_times[-TRIP_FAILURES] <= TRIP_WINDOW_S
            )
            if self.run >= IDENTICAL_ERRORS or three_in_window:
                event("opened by five identical" if self.run >= IDENTICAL_ERRORS else "opened by 3 in 60 s")
                self.open_with(INITIAL_COOLDOWN_MIN)
        elif trips or self.run >= IDENTICAL_ERRORS:
            event(f"probe failed at cooldown {self.cooldown} min")
            self.open_with(min(self.cooldown * 2, MAX_COOLDOWN_MIN))
        else:
            event("probe hit a non-tripping error")
            self.reschedule_probe()

    @rule()
    def release(self) -> None:
        had_probe = self.probe_started is not None
        self.breaker.release_probe()
        if had_probe:
            self.reschedule_probe()

    @rule()
    def reload(self) -> None:
        """A supervisor restart: the breaker is rebuilt from its persisted JSON."""
        text = self.breaker.snapshot().model_dump_json()
        self.breaker = CircuitBreaker(BreakerRecord.model_validate_json(text), self.clock, random.Random(1))

    # -- invariants --
    @invariant()
    def agrees_with_the_model(self) -> None:
        rec = self.breaker.snapshot()
        assert self.breaker.state is self.expected_state() is rec.state
        assert rec.cooldown_minutes in {5, 10, 20, 30}
        assert rec.cooldown_minutes == self.cooldown
        assert rec.probe_in_flight == (self.probe_started is not None)
        assert self.outstanding_probes <= 1
        assert (rec.last_signature, rec.identical_count) == (self.last_sig, self.run)
        assert rec.consecutive_failures == self.consecutive
        if rec.state is BreakerState.CLOSED:
            assert rec.cooldown_until is None and not rec.probe_in_flight
            assert len(rec.recent_failures) < TRIP_FAILURES
            assert rec.identical_count < IDENTICAL_ERRORS
        else:
            assert rec.cooldown_until == self.cooldown_until
            assert rec.probe_not_before == self.probe_at


TestBreakerModel = BreakerModel.TestCase
TestBreakerModel.settings = settings(max_examples=150, stateful_step_count=70, deadline=None)


# ---- persistence -------------------------------------------------------------------------------------


def test_store_round_trips_through_real_files(tmp_path: Path) -> None:
    clock = FakeClock()
    store = BreakerStore(tmp_path / "breakers", clock, FixedJitter(0.5))
    breaker = store.get("openai")
    assert breaker.state is BreakerState.CLOSED and breaker.snapshot().opened_count == 0
    trip(breaker, clock)
    path = store.save(breaker)
    assert path == tmp_path / "breakers" / "openai.json"
    data = json.loads(path.read_text())
    for key in (
        "provider",
        "state",
        "consecutive_failures",
        "last_failure",
        "cooldown_until",
        "cooldown_minutes",
    ):
        assert key in data
    assert data["state"] == "open" and data["provider"] == "openai"

    again = store.get("openai")
    assert again.snapshot() == breaker.snapshot()
    clock.t = (again.snapshot().probe_not_before or 0.0) + 1
    assert again.allow().probe
    store.save(again)
    assert json.loads(path.read_text())["state"] == "half_open"
    reloaded = store.get("openai")
    assert reloaded.snapshot().probe_in_flight
    assert not reloaded.allow().allowed  # the probe in flight survives a restart
    reloaded.on_success()
    store.save(reloaded)
    assert store.get("openai").state is BreakerState.CLOSED
    assert [r.provider for r in store.all()] == ["openai"]


def test_store_reports_states_as_they_read_now(tmp_path: Path) -> None:
    clock = FakeClock()
    store = BreakerStore(tmp_path, clock, FixedJitter(0.0))
    a, b = store.get("a"), store.get("b")
    trip(a, clock)
    store.save(a)
    store.save(b)
    assert store.states() == {"a": BreakerState.OPEN, "b": BreakerState.CLOSED}
    clock.advance(INITIAL_COOLDOWN_MIN * 60)
    assert store.states() == {"a": BreakerState.HALF_OPEN, "b": BreakerState.CLOSED}


def test_provider_names_are_made_safe_for_file_names(tmp_path: Path) -> None:
    assert breaker_file_name("openai") == "openai.json"
    odd = breaker_file_name("../etc/passwd")
    assert "/" not in odd and not odd.startswith(".") and odd.endswith(".json")
    assert breaker_file_name("a/b") != breaker_file_name("a:b")
    with pytest.raises(ValueError):
        breaker_file_name("")
    clock = FakeClock()
    store = BreakerStore(tmp_path / "breakers", clock, FixedJitter(0.0))
    breaker = store.get("team/gpt 5")
    trip(breaker, clock)
    path = store.save(breaker)
    assert path.parent == tmp_path / "breakers"
    assert store.get("team/gpt 5").state is BreakerState.OPEN
    assert store.all()[0].provider == "team/gpt 5"


@pytest.mark.parametrize(
    "content",
    [
        b"{not json",
        b"\xff\xfe\x00",
        b'{"provider": "openai", "state": "sideways"}',
        b'{"provider": "openai", "cooldown_minutes": 99}',
        b'{"provider": "openai", "state": "open"}',
        b'{"provider": "someone-else"}',
        b"[]",
    ],
)
def test_a_corrupt_file_yields_a_fresh_closed_breaker_and_is_reported(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "openai.json").write_bytes(content)
    reported: list[tuple[Path, str]] = []
    store = BreakerStore(
        tmp_path, FakeClock(), random.Random(0), on_corrupt=lambda p, r: reported.append((p, r))
    )
    breaker = store.get("openai")
    assert breaker.state is BreakerState.CLOSED and breaker.provider == "openai"
    assert [p for p, _ in reported] == [tmp_path / "openai.json"]
    assert reported[0][1]


def test_corrupt_files_go_to_the_blackboard_quarantine(tmp_path: Path) -> None:
    board = Blackboard(tmp_path)
    board.init()
    directory = board.root / "breakers"
    (directory / "openai.json").write_text("{oops")
    (directory / "anthropic.json").write_text(json.dumps({"provider": "anthropic"}))
    store = BreakerStore(directory, FakeClock(), random.Random(0), on_corrupt=board.quarantine)
    (directory / "mistral.json").write_text(json.dumps({"provider": "anthropic"}))
    assert [r.provider for r in store.all()] == ["anthropic"]
    assert not (directory / "openai.json").exists()
    assert sorted(p.name.split("-", 1)[1] for p in board.quarantined()) == [
        "breakers__mistral.json",
        "breakers__openai.json",
    ]


def test_without_a_callback_a_corrupt_file_is_set_aside_not_deleted(tmp_path: Path) -> None:
    (tmp_path / "openai.json").write_text("{oops")
    store = BreakerStore(tmp_path, FakeClock(), random.Random(0))
    assert store.get("openai").state is BreakerState.CLOSED
    kept = [p for p in tmp_path.iterdir() if p.name.startswith("openai.json.corrupt-")]
    assert len(kept) == 2  # the file and its reason note
    assert any(p.read_text() == "{oops" for p in kept)
    assert store.all() == []
