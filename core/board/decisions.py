"""Decision cards: the human gates on the blackboard.

A gate (repeated failures, cost over budget, an unknown error, a request for network or full access, a
merge, protected paths) stops one task and writes a card to ``decisions/pending/<id>.json`` with its
rendered ``<id>.md`` beside it: context, options A–C with pros, cons and cost, the recommended option,
the risk, and the default applied if nobody answers by the deadline. Answering (one letter), expiry and
withdrawal move both files to ``decisions/resolved/`` with the resolution recorded in the JSON.

Ids are ``decision-NNN``, sequential per blackboard. Each number is reserved by creating
``decisions/ids/<id>`` with ``O_EXCL``, so two processes opening cards at once never share one; a card
is resolved by hard-linking its JSON into ``resolved/`` (which fails if it is already there), so two
answers to the same card cannot both win.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from cockpit.core.atomic import atomic_write_json, atomic_write_text, fsync_dir
from cockpit.core.board.blackboard import BlackboardError, Stamp, stamp_of
from cockpit.core.errors import InputError
from cockpit.core.layout import DECISIONS_DIR, IDS_DIR, PENDING_DIR, RESOLVED_DIR
from cockpit.core.records.board_events import EventKind

Risk = Literal["low", "medium", "high"]
Resolver = Literal["human", "default", "orchestrator", "supervisor"]

KNOWN_TRIGGERS = frozenset(
    {
        "repeated_failures",
        "over_budget",
        "unknown_error",
        "network_access",
        "full_access",
        "merge",
        "protected_paths",
        "acceptance_failed",
        "catastrophic",
        "outage",
        "cloud_task_failed",
    }
)
KNOWN_ACTIONS = frozenset(
    {
        "retry",
        "retry_with_feedback",
        "approve",
        "deny",
        "accept_partial",
        "dead_letter",
        "cancel",
        "merge",
        "reject",
        "raise_budget",
    }
)
WITHDRAWN = "withdrawn"
# Triggers that mean something is down rather than merely doubtful: the playbook gives them one hour.
OUTAGE_TRIGGERS = frozenset({"catastrophic", "outage"})
DEFAULT_DEADLINE = timedelta(hours=24)
OUTAGE_DEADLINE = timedelta(hours=1)

# The one shape of a decision id (it names the card's files); always used with ``fullmatch``.
DECISION_ID_RE = re.compile(r"decision-([0-9]{3,})", re.ASCII)
# What a person or an orchestrator may type for one: ``7``, ``007`` or ``decision-007``.
DECISION_REF_RE = re.compile(r"(?:decision-)?([0-9]{1,9})", re.ASCII)
_CARD_FILE_RE = re.compile(DECISION_ID_RE.pattern + r"\.json", re.ASCII)
_WORD_RE = re.compile(r"^[a-z][a-z0-9_]*$")


class DecisionError(InputError, BlackboardError):
    """A decision operation that was refused; ``str()`` is one line saying why. Nothing was changed."""


def format_card_id(n: int) -> str:
    return f"decision-{n:03d}"


def parse_card_id(ref: str | int) -> str:
    """``7``, ``"007"`` and ``"decision-007"`` all name ``decision-007``."""
    m = DECISION_REF_RE.fullmatch(str(ref).strip().lower())
    if m is None or int(m.group(1)) < 1:
        raise DecisionError(f"not a decision id: {str(ref)!r} (expected e.g. 7, 007 or decision-007)")
    return format_card_id(int(m.group(1)))


def default_deadline(trigger: str, now: datetime) -> datetime:
    """When the default applies if nobody answers: 24 h from ``now``, 1 h for an outage trigger."""
    return _as_utc(now) + (OUTAGE_DEADLINE if trigger in OUTAGE_TRIGGERS else DEFAULT_DEADLINE)


def _as_utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("must be timezone-aware")
    return value.astimezone(UTC)


def _stamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


class DecisionOption(BaseModel):
    key: str = Field(pattern=r"^[A-Z]$")
    label: str = Field(min_length=1)
    action: str
    pros: list[str] = Field(default_factory=list)
    cons: list[str] = Field(default_factory=list)
    cost: str = "none"
    params: dict[str, Any] = Field(default_factory=dict)

    @field_validator("action")
    @classmethod
    def _action_is_a_verb(cls, value: str) -> str:
        if not _WORD_RE.match(value):
            raise ValueError(f"action must be a lower_snake_case verb, got {value!r}")
        return value


class Resolution(BaseModel):
    option: str | None  # None when the card was withdrawn
    action: str
    by: Resolver
    note: str = ""
    at: datetime

    @field_validator("at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return _as_utc(value)

    def describe(self) -> str:
        if self.action == WITHDRAWN:
            how = f"withdrawn by {self.by}"
        elif self.by == "default":
            how = f"resolved by default with {self.option} ({self.action})"
        else:
            how = f"resolved with {self.option} ({self.action}) by {self.by}"
        return f"{how} at {_stamp(self.at)}"


class DecisionCard(BaseModel):
    id: str = Field(pattern=f"^{DECISION_ID_RE.pattern}$")
    task_id: str = Field(min_length=1)
    trigger: str
    title: str = Field(min_length=1)
    context: str = ""
    options: list[DecisionOption] = Field(min_length=2, max_length=4)
    recommended: str
    recommended_why: str = ""
    risk: Risk
    default: str
    deadline: datetime
    created_at: datetime
    resolved: Resolution | None = None

    @field_validator("trigger")
    @classmethod
    def _trigger_is_a_word(cls, value: str) -> str:
        if not _WORD_RE.match(value):
            raise ValueError(f"trigger must be lower_snake_case, got {value!r}")
        return value

    @field_validator("title")
    @classmethod
    def _one_line(cls, value: str) -> str:
        value = value.strip()
        if not value or "\n" in value:
            raise ValueError("title must be one non-empty line")
        return value

    @field_validator("deadline", "created_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return _as_utc(value)

    @model_validator(mode="after")
    def _keys_are_consistent(self) -> DecisionCard:
        keys = [o.key for o in self.options]
        if len(set(keys)) != len(keys):
            raise ValueError(f"option keys must be unique, got {', '.join(keys)}")
        for name in ("recommended", "default"):
            if getattr(self, name) not in keys:
                raise ValueError(f"{name} must be one of the option keys ({', '.join(keys)})")
        if self.deadline <= self.created_at:
            raise ValueError("deadline must be after created_at")
        return self

    @property
    def number(self) -> int:
        return int(self.id.split("-", 1)[1])

    @property
    def keys(self) -> list[str]:
        return [o.key for o in self.options]

    @property
    def is_pending(self) -> bool:
        return self.resolved is None

    def option(self, key: str) -> DecisionOption | None:
        key = key.strip().upper()
        return next((o for o in self.options if o.key == key), None)


def render_markdown(card: DecisionCard) -> str:
    """The human-readable card: about half a page, answerable with one letter."""
    lines = [
        f"# {card.id} — {card.title}",
        "",
        f"Task `{card.task_id}` · trigger `{card.trigger}` · risk **{card.risk}** · "
        f"opened {_stamp(card.created_at)}",
        "",
    ]
    if card.context.strip():
        lines += [card.context.strip(), ""]
    for opt in card.options:
        lines.append(f"**{opt.key}. {opt.label}** — `{opt.action}`, cost: {opt.cost}")
        lines += [f"- pro: {p}" for p in opt.pros]
        lines += [f"- con: {c}" for c in opt.cons]
        lines.append("")
    why = f" — {card.recommended_why.strip()}" if card.recommended_why.strip() else ""
    default = card.option(card.default)
    assert default is not None  # guaranteed by validation
    lines += [
        f"**Recommended: {card.recommended}**{why}",
        "",
        f"**Default if no response by {_stamp(card.deadline)}: {card.default}** ({default.label})",
        "",
    ]
    if card.resolved is None:
        lines.append(
            f"Answer with one letter ({', '.join(card.keys)}): `cockpit decide {card.id} {card.recommended}`"
        )
    else:
        note = f" — {card.resolved.note}" if card.resolved.note else ""
        how = card.resolved.describe()
        lines.append(f"**{how[0].upper()}{how[1:]}**{note}")
    return "\n".join(lines) + "\n"


def escalation_rate(gated_tasks: int, finished_tasks: int) -> tuple[float | None, str]:
    """Gated share of finished tasks and the playbook's reading of it.

    Bands (exact arithmetic, the sweet spot closed at both ends): below 5 % too autonomous; from 5 %
    aggressive; 10 % to 15 % the sweet spot; above 15 % too cautious; above 25 % the human is doing
    the work.
    """
    if gated_tasks < 0 or finished_tasks < 0:
        raise ValueError("task counts cannot be negative")
    if finished_tasks == 0:
        return None, "no finished tasks yet"
    pct100 = gated_tasks * 100  # compared with band * finished_tasks, so no float rounding at the edges
    if pct100 < 5 * finished_tasks:
        reading = "too autonomous"
    elif pct100 < 10 * finished_tasks:
        reading = "aggressive"
    elif pct100 <= 15 * finished_tasks:
        reading = "sweet spot"
    elif pct100 <= 25 * finished_tasks:
        reading = "too cautious"
    else:
        reading = "the human is doing the work"
    return gated_tasks / finished_tasks, reading


class DecisionStore:
    """Decision cards under ``<root>/decisions``; ``root`` is the blackboard directory (``.cockpit``).

    ``clock`` supplies aware UTC datetimes. ``on_corrupt(path, reason)`` receives every card file that
    fails to parse or validate (the blackboard's quarantine); such files are skipped. ``on_event``, if
    given, receives one row per card opened or resolved (the blackboard's event log).
    """

    def __init__(
        self,
        root: Path,
        clock: Callable[[], datetime],
        on_corrupt: Callable[[Path, str], object] | None = None,
        *,
        on_event: Callable[[dict[str, Any]], object] | None = None,
    ) -> None:
        self.root = root
        self.clock = clock
        self.on_corrupt = on_corrupt
        self.on_event = on_event
        self.pending_dir = root / DECISIONS_DIR / PENDING_DIR
        self.resolved_dir = root / DECISIONS_DIR / RESOLVED_DIR
        self.ids_dir = root / DECISIONS_DIR / IDS_DIR
        # Pending cards' deadlines by file name, with the file's (inode, mtime, size) they were read
        # under: a card is only ever written as a new file, so an unchanged stamp means the same card.
        self._deadlines: dict[str, tuple[Stamp, datetime]] = {}

    # ---- opening ------------------------------------------------------------------------------
    def open(
        self,
        task_id: str,
        trigger: str,
        title: str,
        context: str,
        options: Iterable[DecisionOption],
        recommended: str,
        recommended_why: str,
        risk: Risk,
        default: str,
        deadline: datetime | None = None,
    ) -> DecisionCard:
        """Write a new pending card, or return the pending one this task already has for ``trigger``."""
        for existing in self.pending_for(task_id):
            if existing.trigger == trigger:
                return existing
        now = _as_utc(self.clock())
        # Validate before reserving an id, so a bad card does not burn a number.
        draft = DecisionCard(
            id=format_card_id(0),
            task_id=task_id,
            trigger=trigger,
            title=title,
            context=context,
            options=list(options),
            recommended=recommended,
            recommended_why=recommended_why,
            risk=risk,
            default=default,
            deadline=deadline if deadline is not None else default_deadline(trigger, now),
            created_at=now,
        )
        card = draft.model_copy(update={"id": self._reserve_id()})
        atomic_write_json(self.pending_dir / f"{card.id}.json", card.model_dump(mode="json"))
        atomic_write_text(self.pending_dir / f"{card.id}.md", render_markdown(card))
        self._event(
            {"kind": EventKind.DECISION_OPENED, "decision": card.id, "task_id": task_id, "trigger": trigger}
        )
        return card

    def _reserve_id(self) -> str:
        self.ids_dir.mkdir(parents=True, exist_ok=True)
        self.pending_dir.mkdir(parents=True, exist_ok=True)
        self.resolved_dir.mkdir(parents=True, exist_ok=True)
        n = self._highest_number() + 1
        while True:
            card_id = format_card_id(n)
            try:
                fd = os.open(self.ids_dir / card_id, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                n += 1
                continue
            os.close(fd)
            # A card may carry this number without a reservation (say, ids/ was cleared): skip it too.
            if any((d / f"{card_id}.json").exists() for d in (self.pending_dir, self.resolved_dir)):
                n += 1
                continue
            return card_id

    def _highest_number(self) -> int:
        highest = 0
        for directory in (self.ids_dir, self.pending_dir, self.resolved_dir):
            if not directory.is_dir():
                continue
            for entry in directory.iterdir():
                m = DECISION_ID_RE.fullmatch(entry.name.removesuffix(".json").removesuffix(".md"))
                if m:
                    highest = max(highest, int(m.group(1)))
        return highest

    # ---- reading ------------------------------------------------------------------------------
    def pending(self) -> list[DecisionCard]:
        """Pending cards ordered by id; corrupt files go to ``on_corrupt`` and are skipped."""
        cards = []
        for card in self._load_dir(self.pending_dir):
            if (self.resolved_dir / f"{card.id}.json").exists():
                # Left behind by a resolution interrupted before its cleanup: resolved/ is the truth.
                self._remove_pending(card.id)
                continue
            cards.append(card)
        return cards

    def pending_for(self, task_id: str) -> list[DecisionCard]:
        return [c for c in self.pending() if c.task_id == task_id]

    def resolved(self) -> list[DecisionCard]:
        return self._load_dir(self.resolved_dir)

    def get(self, card_id: str | int) -> DecisionCard | None:
        """A pending or resolved card by ``7``, ``007`` or ``decision-007``; None if there is none."""
        cid = parse_card_id(card_id)
        done = self._load(self.resolved_dir / f"{cid}.json")
        return done if done is not None else self._load(self.pending_dir / f"{cid}.json")

    # ---- resolving ----------------------------------------------------------------------------
    def answer(
        self, card_id: str | int, option_key: str, by: Resolver = "human", note: str = ""
    ) -> DecisionCard:
        """Resolve a pending card with one of its options (the key is case-insensitive)."""
        card = self._require_pending(card_id)
        option = card.option(option_key)
        if option is None:
            raise DecisionError(
                f"{card.id} has no option {option_key.strip()!r}; choose one of {', '.join(card.keys)}"
            )
        return self._resolve(card, option.key, option.action, by, note)

    def expire_due(self) -> list[DecisionCard]:
        """Apply the default to every pending card whose deadline has passed; returns those cards. A
        card is read when it is new or changed, or past its deadline: a pass over cards that did not
        change is one listing and one ``stat`` per card."""
        now = _as_utc(self.clock())
        expired = []
        for card in self._past_deadline(now):
            option = card.option(card.default)
            assert option is not None  # guaranteed by validation
            note = f"no answer by {_stamp(card.deadline)}"
            try:
                expired.append(self._resolve(card, option.key, option.action, "default", note))
            except DecisionError:
                continue  # answered in the meantime
        return expired

    def _past_deadline(self, now: datetime) -> list[DecisionCard]:
        try:
            entries = [e for e in os.scandir(self.pending_dir) if _CARD_FILE_RE.fullmatch(e.name)]
        except FileNotFoundError:
            entries = []
        seen: dict[str, tuple[Stamp, datetime]] = {}
        due: list[DecisionCard] = []
        for entry in sorted(entries, key=lambda e: int(e.name[len("decision-") : -len(".json")])):
            try:
                st = entry.stat()
            except FileNotFoundError:
                continue
            stamp = stamp_of(st)
            kept = self._deadlines.get(entry.name)
            if kept is not None and kept[0] == stamp:
                seen[entry.name] = kept
                if kept[1] > now:
                    continue
            card = self._load(Path(entry.path))
            if card is None:
                continue
            if (self.resolved_dir / f"{card.id}.json").exists():
                self._remove_pending(card.id)  # left by a resolution cut short: resolved/ is the truth
                continue
            seen[entry.name] = (stamp, card.deadline)
            if card.deadline <= now:
                due.append(card)
        self._deadlines = seen
        return due

    def withdraw(self, card_id: str | int, note: str) -> DecisionCard:
        """Resolve a card that no longer matters (its task was cancelled, say) without choosing."""
        card = self._require_pending(card_id)
        return self._resolve(card, None, WITHDRAWN, "supervisor", note)

    def _require_pending(self, card_id: str | int) -> DecisionCard:
        cid = parse_card_id(card_id)
        done = self._load(self.resolved_dir / f"{cid}.json")
        if done is not None:
            raise DecisionError(_already(done))
        card = self._load(self.pending_dir / f"{cid}.json")
        if card is None:
            raise DecisionError(f"no decision {cid}")
        return card

    def _resolve(
        self, card: DecisionCard, option: str | None, action: str, by: Resolver, note: str
    ) -> DecisionCard:
        resolution = Resolution(option=option, action=action, by=by, note=note, at=self.clock())
        done = card.model_copy(update={"resolved": resolution})
        target = self.resolved_dir / f"{card.id}.json"
        if not _publish_exclusive(target, done.model_dump(mode="json")):
            winner = self._load(target)
            raise DecisionError(_already(winner) if winner else f"{card.id} was already resolved")
        atomic_write_text(self.resolved_dir / f"{card.id}.md", render_markdown(done))
        self._remove_pending(card.id)
        self._event(
            {
                "kind": EventKind.DECISION_RESOLVED,
                "decision": card.id,
                "task_id": card.task_id,
                "option": option,
                "action": action,
                "by": by,
            }
        )
        return done

    def _remove_pending(self, card_id: str) -> None:
        for suffix in (".json", ".md"):
            (self.pending_dir / f"{card_id}{suffix}").unlink(missing_ok=True)

    # ---- helpers ------------------------------------------------------------------------------
    def _load_dir(self, directory: Path) -> list[DecisionCard]:
        if not directory.is_dir():
            return []
        paths = [p for p in directory.iterdir() if _CARD_FILE_RE.fullmatch(p.name)]
        cards = [c for p in paths if (c := self._load(p)) is not None]
        cards.sort(key=lambda c: c.number)
        return cards

    def _load(self, path: Path) -> DecisionCard | None:
        """Parse one card file; None if it is missing (or moved meanwhile) or corrupt."""
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            card = DecisionCard.model_validate(json.loads(raw))
        except (ValueError, UnicodeDecodeError) as exc:  # ValidationError is a ValueError
            return self._corrupt(path, _reason(exc))
        if card.id != path.stem:
            return self._corrupt(path, f"card id {card.id} does not match its file name")
        return card

    def _corrupt(self, path: Path, reason: str) -> None:
        if self.on_corrupt is None:
            return None
        markdown = path.with_suffix(".md")
        with contextlib.suppress(FileNotFoundError):  # moved by another reader meanwhile
            self.on_corrupt(path, reason)
            if markdown.exists():
                self.on_corrupt(markdown, f"rendering of a corrupt card ({path.name})")
        return None

    def _event(self, row: dict[str, Any]) -> None:
        if self.on_event is not None:
            self.on_event(row)


def _already(card: DecisionCard) -> str:
    assert card.resolved is not None
    return f"{card.id} was already {card.resolved.describe()}"


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "card"
        return f"card does not validate: {where}: {err['msg']}"
    return f"not valid JSON: {exc}"


def _publish_exclusive(path: Path, obj: Any) -> bool:
    """Write ``obj`` as JSON to ``path`` unless ``path`` exists; False (nothing written) if it does.

    The data is written and synced under a temporary name, then hard-linked into place: the link is
    both atomic (readers never see a torn file) and exclusive (it fails if the name is taken).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(obj, indent=2, ensure_ascii=False) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(text.encode("utf-8"))
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
    finally:
        os.unlink(tmp)
    fsync_dir(path.parent)
    return True
