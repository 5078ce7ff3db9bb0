"""Circuit breakers, one per provider, persisted as ``breakers/<provider>.json`` on the blackboard.

Pure logic around an injected clock and random source (playbook §4)::

    CLOSED    --3 tripping failures within 60 s, or 5 identical errors-->  OPEN (fail fast)
    OPEN      --cooldown (5 min) + 0-30 s jitter----------------------->  HALF-OPEN (one probe)
    HALF-OPEN --probe succeeds----------------------------------------->  CLOSED, cooldown back to 5 min
    HALF-OPEN --probe fails-------------------------------------------->  OPEN, cooldown doubled (cap 30 min)

HALF-OPEN is never stored ahead of time: an OPEN breaker whose cooldown has passed *reads* as HALF-OPEN.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Self

from pydantic import BaseModel, Field, ValidationError, model_validator

from cockpit.core.atomic import atomic_write_json, atomic_write_text

TRIP_FAILURES = 3
"""Tripping failures in a row (no success between them) that open a CLOSED breaker..."""
TRIP_WINDOW_S = 60.0
"""...when all of them fall within this many seconds."""
IDENTICAL_ERRORS = 5
"""Consecutive failures with the same signature that open the breaker whatever their kind."""
INITIAL_COOLDOWN_MIN = 5
MAX_COOLDOWN_MIN = 30
PROBE_JITTER_S = 30.0
"""Upper bound of the random wait between the end of a cooldown and the HALF-OPEN probe."""
PROBE_STALE_S = 35 * 60.0
"""A probe whose result has not arrived after this long is presumed lost and released. One run is capped
at 30 minutes (R4) and its timeout is reported as a failure, so only a result lost in a crash gets here."""
MAX_ERROR_CHARS = 500
TRANSITION_LOG_LIMIT = 100

OnCorrupt = Callable[[Path, str], object]
"""Called with a file that does not parse and the reason; expected to move it aside (quarantine)."""

_SAFE_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class BreakerRecord(BaseModel):
    """The persisted breaker. Times are unix seconds from the breaker's clock."""

    provider: str = Field(min_length=1)
    state: BreakerState = BreakerState.CLOSED
    consecutive_failures: int = Field(default=0, ge=0)
    """Tripping failures since the last success (non-tripping ones neither count nor reset)."""
    last_failure: float | None = None
    cooldown_until: float | None = None
    cooldown_minutes: int = Field(default=INITIAL_COOLDOWN_MIN, ge=INITIAL_COOLDOWN_MIN, le=MAX_COOLDOWN_MIN)
    """Length of the current (or, when CLOSED, the next) OPEN period."""
    recent_failures: list[float] = Field(default_factory=list)
    """Times of the latest tripping failures while CLOSED, for the 3-in-60-s rule."""
    last_signature: str | None = None
    identical_count: int = Field(default=0, ge=0)
    opened_at: float | None = None
    probe_not_before: float | None = None
    probe_in_flight: bool = False
    probe_started_at: float | None = None
    opened_count: int = Field(default=0, ge=0)
    last_error: str | None = None
    updated_at: float | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.state is not BreakerState.CLOSED:
            if self.cooldown_until is None:
                raise ValueError(f"a {self.state.value} breaker needs cooldown_until")
            if self.probe_not_before is None:
                self.probe_not_before = self.cooldown_until
        if self.probe_in_flight and self.probe_started_at is None:
            raise ValueError("probe_in_flight needs probe_started_at")
        return self


@dataclass(frozen=True)
class Admission:
    """The answer to "may I dispatch to this provider now?"."""

    allowed: bool
    probe: bool = False
    """The admitted request is the HALF-OPEN probe: its result decides the breaker's state."""
    reason: str = ""
    retry_at: float | None = None
    """When refused and the breaker is waiting for its probe time: when that probe may go."""


@dataclass(frozen=True)
class Transition:
    at: float
    from_state: BreakerState
    to_state: BreakerState
    reason: str


class CircuitBreaker:
    """One provider's breaker. Check :meth:`allow` before every dispatch; report each result.

    Rules beyond the state diagram:

    * A failure with ``trips=False`` (401, 400, logic errors) neither counts toward nor resets the
      3-in-60-s run, but it does take part in the identical-signature run, so a fifth identical error opens
      the breaker whatever its kind. A success ends both runs.
    * Results that arrive while OPEN or HALF-OPEN with no probe in flight come from requests admitted before
      the breaker opened: a failure is noted (``last_failure``, ``last_error``), nothing else changes.
    * The probe's result: success closes; a tripping failure (or one that makes the identical run reach
      five) reopens with the cooldown doubled. A non-tripping failure says nothing about the provider's
      capacity: the probe slot is released and the next probe goes after a fresh jitter.
    * The jitter is drawn when the breaker opens, so an OPEN breaker already knows when its probe may go
      (``Admission.retry_at``).
    * While a probe is in flight nothing else is admitted; a probe older than :data:`PROBE_STALE_S` is
      presumed lost and released (no doubling); :meth:`release_probe` does the same for a cancelled one.
    """

    def __init__(self, record: BreakerRecord, clock: Callable[[], float], rng: random.Random) -> None:
        self._rec = record.model_copy(deep=True)
        self._clock = clock
        self._rng = rng
        self.transitions: list[Transition] = []

    # ---- reading ------------------------------------------------------------------------------
    @property
    def provider(self) -> str:
        return self._rec.provider

    @property
    def state(self) -> BreakerState:
        return self._state_at(self._clock())

    @property
    def cooldown_minutes(self) -> int:
        return self._rec.cooldown_minutes

    def snapshot(self) -> BreakerRecord:
        """A copy of the record with the state as it reads now (HALF-OPEN once the cooldown is over)."""
        rec = self._rec.model_copy(deep=True)
        rec.state = self._state_at(self._clock())
        return rec

    def _state_at(self, now: float) -> BreakerState:
        rec = self._rec
        if rec.state is BreakerState.CLOSED:
            return BreakerState.CLOSED
        assert rec.cooldown_until is not None
        return BreakerState.HALF_OPEN if now >= rec.cooldown_until else BreakerState.OPEN

    # ---- admission ----------------------------------------------------------------------------
    def allow(self) -> Admission:
        """May a request go now? Admitting the HALF-OPEN probe reserves it: save the breaker afterwards."""
        now = self._clock()
        rec = self._rec
        state = self._state_at(now)
        if state is BreakerState.CLOSED:
            return Admission(allowed=True, reason="closed")
        if state is BreakerState.OPEN:
            return Admission(
                allowed=False,
                reason=f"open: cooling down for {rec.cooldown_minutes} min",
                retry_at=rec.probe_not_before,
            )
        if rec.state is BreakerState.OPEN:
            rec.state = BreakerState.HALF_OPEN
            self._log(now, BreakerState.OPEN, BreakerState.HALF_OPEN, "cooldown over")
        if rec.probe_in_flight:
            assert rec.probe_started_at is not None
            if now - rec.probe_started_at < PROBE_STALE_S:
                return Admission(allowed=False, reason="half-open: a probe is in flight")
            self._release(now, "probe result never arrived")
        assert rec.probe_not_before is not None
        if now < rec.probe_not_before:
            return Admission(
                allowed=False, reason="half-open: probe waits out its jitter", retry_at=rec.probe_not_before
            )
        rec.probe_in_flight = True
        rec.probe_started_at = now
        rec.updated_at = now
        return Admission(allowed=True, probe=True, reason="half-open: probe")

    def release_probe(self) -> None:
        """Give back an in-flight probe that will report no result (cancelled); the next one waits a new
        jitter."""
        if self._rec.probe_in_flight:
            self._release(self._clock(), "probe released without a result")

    # ---- results ------------------------------------------------------------------------------
    def on_success(self) -> None:
        now = self._clock()
        rec = self._rec
        if rec.state is BreakerState.CLOSED:
            if rec.consecutive_failures or rec.recent_failures or rec.identical_count:
                rec.consecutive_failures = 0
                rec.recent_failures = []
                rec.last_signature = None
                rec.identical_count = 0
                rec.updated_at = now
            return
        if rec.probe_in_flight:
            self._close(now, "probe succeeded")

    def on_failure(self, signature: str, message: str = "", trips: bool = True) -> None:
        """Record a failed request. ``signature`` identifies "the same error" (e.g. kind + status code)."""
        now = self._clock()
        rec = self._rec
        state = self._state_at(now)
        rec.last_failure = now
        rec.last_error = (message or signature)[:MAX_ERROR_CHARS]
        rec.updated_at = now
        if state is not BreakerState.CLOSED and not rec.probe_in_flight:
            return  # a straggler admitted before the breaker opened
        if signature == rec.last_signature:
            rec.identical_count += 1
        else:
            rec.last_signature = signature
            rec.identical_count = 1
        identical = rec.identical_count >= IDENTICAL_ERRORS
        if trips:
            rec.consecutive_failures += 1
        if state is BreakerState.CLOSED:
            if trips:
                kept = [t for t in rec.recent_failures if now - t <= TRIP_WINDOW_S]
                rec.recent_failures = [*kept[-(TRIP_FAILURES - 1) :], now]
            if identical:
                self._open(now, state, f"{rec.identical_count} identical errors: {signature}")
            elif trips and len(rec.recent_failures) >= TRIP_FAILURES:
                self._open(now, state, f"{TRIP_FAILURES} failures within {TRIP_WINDOW_S:g} s")
            return
        if trips or identical:
            self._open(now, state, f"probe failed: {signature}")
        else:
            self._release(now, f"probe hit a non-tripping error: {signature}")

    # ---- transitions --------------------------------------------------------------------------
    def _open(self, now: float, from_state: BreakerState, reason: str) -> None:
        rec = self._rec
        if from_state is BreakerState.CLOSED:
            minutes = INITIAL_COOLDOWN_MIN
        else:
            minutes = min(rec.cooldown_minutes * 2, MAX_COOLDOWN_MIN)
        rec.state = BreakerState.OPEN
        rec.cooldown_minutes = minutes
        rec.opened_at = now
        rec.cooldown_until = now + minutes * 60.0
        rec.probe_not_before = rec.cooldown_until + self._jitter()
        rec.probe_in_flight = False
        rec.probe_started_at = None
        rec.recent_failures = []
        rec.opened_count += 1
        rec.updated_at = now
        self._log(now, from_state, BreakerState.OPEN, f"{reason}; cooldown {minutes} min")

    def _close(self, now: float, reason: str) -> None:
        rec = self._rec
        from_state = self._state_at(now)
        rec.state = BreakerState.CLOSED
        rec.consecutive_failures = 0
        rec.cooldown_until = None
        rec.cooldown_minutes = INITIAL_COOLDOWN_MIN
        rec.recent_failures = []
        rec.last_signature = None
        rec.identical_count = 0
        rec.opened_at = None
        rec.probe_not_before = None
        rec.probe_in_flight = False
        rec.probe_started_at = None
        rec.updated_at = now
        self._log(now, from_state, BreakerState.CLOSED, reason)

    def _release(self, now: float, reason: str) -> None:
        rec = self._rec
        rec.probe_in_flight = False
        rec.probe_started_at = None
        rec.probe_not_before = now + self._jitter()
        rec.updated_at = now
        state = self._state_at(now)
        self._log(now, state, state, reason)

    def _jitter(self) -> float:
        return self._rng.uniform(0.0, PROBE_JITTER_S)

    def _log(self, now: float, from_state: BreakerState, to_state: BreakerState, reason: str) -> None:
        self.transitions.append(Transition(now, from_state, to_state, reason))
        del self.transitions[:-TRANSITION_LOG_LIMIT]


def breaker_file_name(provider: str) -> str:
    """``<provider>.json``; a name unsafe for a file becomes a slug plus a short hash (no collisions)."""
    if not provider:
        raise ValueError("provider name is empty")
    if _SAFE_NAME_RE.match(provider):
        return f"{provider}.json"
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", provider).strip(".-_")[:40] or "provider"
    digest = hashlib.sha256(provider.encode("utf-8")).hexdigest()[:8]
    return f"{slug}-{digest}.json"


def set_aside(path: Path, reason: str) -> Path:
    """Default for ``on_corrupt``: rename the file to ``<name>.corrupt-<ns>`` beside a reason note."""
    target = path.with_name(f"{path.name}.corrupt-{time.time_ns()}")
    os.replace(path, target)
    atomic_write_text(target.with_name(target.name + ".reason.txt"), f"original: {path}\nreason: {reason}\n")
    return target


class BreakerStore:
    """The ``breakers/`` directory. ``get`` reads the file each time; save after every change."""

    def __init__(
        self,
        directory: Path,
        clock: Callable[[], float],
        rng: random.Random,
        on_corrupt: OnCorrupt | None = None,
    ) -> None:
        self.directory = directory
        self._clock = clock
        self._rng = rng
        self._on_corrupt: OnCorrupt = on_corrupt or set_aside

    def path_for(self, provider: str) -> Path:
        return self.directory / breaker_file_name(provider)

    def get(self, provider: str) -> CircuitBreaker:
        """The provider's breaker; a fresh CLOSED one if it has no file or its file is corrupt."""
        path = self.path_for(provider)
        record = self._load(path)
        if record is not None and record.provider != provider:
            self._on_corrupt(path, f"file holds provider {record.provider!r}, expected {provider!r}")
            record = None
        return self._wrap(record or BreakerRecord(provider=provider))

    def save(self, breaker: CircuitBreaker) -> Path:
        path = self.path_for(breaker.provider)
        atomic_write_json(path, breaker.snapshot().model_dump(mode="json"))
        return path

    def all(self) -> list[BreakerRecord]:
        """Every stored breaker as it reads now (corrupt files are handed to ``on_corrupt``)."""
        if not self.directory.is_dir():
            return []
        out = []
        for path in sorted(self.directory.glob("*.json")):
            record = self._load(path)
            if record is None:
                continue
            if breaker_file_name(record.provider) != path.name:
                self._on_corrupt(path, f"file holds provider {record.provider!r}, not its file name")
                continue
            out.append(self._wrap(record).snapshot())
        return out

    def states(self) -> dict[str, BreakerState]:
        """Provider → state, the shape the dead-letter sweep wants."""
        return {record.provider: record.state for record in self.all()}

    def _wrap(self, record: BreakerRecord) -> CircuitBreaker:
        return CircuitBreaker(record, self._clock, self._rng)

    def _load(self, path: Path) -> BreakerRecord | None:
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            return BreakerRecord.model_validate(json.loads(raw))
        except (ValueError, UnicodeDecodeError) as exc:
            self._on_corrupt(path, f"breaker file does not load: {_describe(exc)}")
            return None


def _describe(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "record"
        return f"{where}: {err['msg']}"
    return str(exc)
