"""Project settings: the user's ``~/.config/cockpit/config.toml`` under the board's ``config.toml``.

Worker cap, run caps, lanes, budgets, keys — and the few settings that make the cockpit run a program
(:data:`CODE_SETTINGS`), which a board's file may set only once the user trusted it (``cockpit trust``,
see :mod:`cockpit.core.trust`); the user's own file is always trusted.
"""

from __future__ import annotations

import re
import tomllib
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StrictInt,
    ValidationError,
    field_validator,
    model_validator,
)

from cockpit.core.errors import InputError
from cockpit.core.layout import CONFIG_FILE
from cockpit.core.policy.budgets import BudgetConfig
from cockpit.core.policy.effort import EffortPolicyConfig
from cockpit.core.trust import is_trusted, user_config_path
from cockpit.core.vocabulary import DEFAULT_LANE, WORKTREE_LANES, Effort, Lane

if TYPE_CHECKING:
    from cockpit.core.board.blackboard import Blackboard

MAX_WORKERS_CAP = 3  # the playbook's hard requirement R6
_TRIGGER_RE = re.compile(r"^[a-z][a-z0-9_]*$")
CODE_SETTINGS: tuple[str, ...] = ("codex_bin", "claude_bin", "merge_runs_hooks", "cloud.extra_env")
"""Settings that make the cockpit run a program, or send the user's login somewhere else
(``cloud.extra_env`` can route ``codex cloud`` through a proxy): taken from a board's config only when
it is trusted. A dotted name is a key of a table."""


class ConfigError(InputError, ValueError):
    """An invalid config file; ``str()`` is one line naming the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"invalid config: {field}: {message}")
        self.field = field
        self.message = message


class UntrustedSetting(ConfigError):
    """A setting that runs code, read from a board config file the user has not trusted (exit 2)."""

    def __init__(self, field: str, path: Path) -> None:
        ValueError.__init__(
            self,
            f"refusing {field} from {path}: it makes the cockpit run a program and the file is not "
            "trusted; check it, then run `cockpit trust`",
        )
        self.field = field
        self.message = str(self)
        self.path = path


class ArchiveConfig(BaseModel):
    """``[archive]``: finished tasks older than ``after_days`` (by their last change) are moved off the
    live board by the supervisor, at start-up and hourly (see :mod:`cockpit.core.archive`); 0: never."""

    model_config = ConfigDict(extra="forbid")

    after_days: StrictInt = Field(default=0, ge=0)


class CloudConfig(BaseModel):
    """``[cloud]``: the cloud lane. ``env`` is the Codex Cloud environment of a cloud task that names
    none; a task still pending after ``pending_deadline_min`` is surfaced with a decision (Codex Cloud
    has been seen to leave a task pending for ever); polls come every ``poll_min_s`` at first, slowing to
    ``poll_max_s`` for long tasks; at most ``max_running`` cloud tasks are followed at once (they take
    no local worker slot). ``extra_env`` is added to the environment of ``codex cloud`` only — for a
    test or demo backend; it can send the user's ChatGPT login elsewhere, so a board's file may set it
    only once trusted."""

    model_config = ConfigDict(extra="forbid")

    env: str | None = None
    pending_deadline_min: float = Field(default=60.0, gt=0)
    poll_min_s: float = Field(default=2.0, ge=0.2, le=60.0)
    poll_max_s: float = Field(default=60.0, ge=1.0, le=600.0)
    max_running: int = Field(default=10, ge=1, le=100)
    extra_env: dict[str, str] = Field(default_factory=dict)


_REVIEWER_MODEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,127}")


class ReviewConfig(BaseModel):
    """``[review]``: the cross-family review of a result that passed its three signals
    (:mod:`cockpit.core.review`). ``lanes`` are the lanes whose results are reviewed (only lanes whose
    result lands on a task branch; an envelope's ``review = false`` skips one task); ``model`` and
    ``effort`` are the reviewer's (None: its own defaults); after ``soft_cap`` rounds without
    convergence the user is told, after ``hard_cap`` a human decides; each piece of evidence the judge
    runs gets ``evidence_timeout_s`` of wall-clock time, each run of the reviewer ``reviewer_timeout_s``;
    ``orchestrator_may_label`` lets an orchestrator
    (``cockpit mcp``) label a challenge the judge could not decide (never overturn one it ran)."""

    model_config = ConfigDict(extra="forbid")

    lanes: list[Lane] = Field(default_factory=lambda: ["worktree", "mcp", "cloud"])
    model: str | None = None
    effort: Effort | None = None
    soft_cap: int = Field(default=3, ge=1, le=50)
    hard_cap: int = Field(default=10, ge=1, le=50)
    evidence_timeout_s: float = Field(default=300.0, gt=0, le=1800.0)
    reviewer_timeout_s: float = Field(default=900.0, gt=0, le=3600.0)
    orchestrator_may_label: bool = False

    @field_validator("lanes")
    @classmethod
    def _reviewable_lanes(cls, value: list[str]) -> list[str]:
        for lane in value:
            if lane not in WORKTREE_LANES:
                raise ValueError(
                    f"the {lane} lane has no task branch to review (review one of: "
                    f"{', '.join(sorted(WORKTREE_LANES))})"
                )
        return list(dict.fromkeys(value))

    @field_validator("model")
    @classmethod
    def _model_name(cls, value: str | None) -> str | None:
        if value is not None and not _REVIEWER_MODEL.fullmatch(value):
            raise ValueError(
                "a model name is letters, digits and . _ : / @ + -, at most 128 characters, not starting "
                "with '-'"
            )
        return value

    @model_validator(mode="after")
    def _caps_in_order(self) -> ReviewConfig:
        if self.hard_cap < self.soft_cap:
            raise ValueError("hard_cap must not be below soft_cap")
        return self

    def wants_review(self, lane: str, envelope_review: bool = True) -> bool:
        """Whether a result of ``lane`` is reviewed (``envelope_review``: the envelope's ``review``)."""
        return envelope_review and lane in self.lanes


class ProjectConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_workers: int = Field(default=3, ge=1, le=MAX_WORKERS_CAP)
    run_timeout_s: float = Field(default=1800.0, gt=0, le=1800.0)
    kill_grace_s: float = Field(default=5.0, ge=0.1, le=60.0)
    default_lane: Lane = DEFAULT_LANE
    codex_bin: str | None = None
    claude_bin: str | None = None
    """The Claude Code CLI to run instead of the pinned one (see :mod:`cockpit.core.claude.binary`)."""
    base_branch: str | None = None
    poll_interval_s: float = Field(default=0.1, gt=0, le=5.0)
    chunk_limit_s: float = Field(default=1500.0, gt=0, le=1800.0)
    max_chunks: int = Field(default=8, ge=1, le=50)
    watchdog_notify_s: float = Field(default=600.0, gt=0)
    watchdog_kill_s: float = Field(default=1200.0, gt=0)
    protected_paths: list[str] = Field(default_factory=list)
    gate_merges: bool = False
    merge_runs_hooks: bool = False
    """Run the checkout's own ``pre-merge-commit`` and ``post-merge`` hooks around ``cockpit merge``
    (``git hook run``, git >= 2.36). Off by default: every other git command the cockpit runs has hooks
    disabled, because a worker can write hook files inside its worktree. Turning this on runs code."""
    orchestrator_may_answer: list[str] = Field(
        default_factory=lambda: ["repeated_failures", "acceptance_failed", "unknown_error"]
    )
    """Decision triggers an orchestrator may answer by itself over ``cockpit mcp``. Every other card —
    a merge, network or full access, protected paths, the weekly budget, an outage — waits for the
    human (an over-budget card too: the budget is the human's). The defaults only choose between
    retrying, parking and accepting a result: none widens the sandbox, lands a change or spends past
    a budget the human set."""
    provider: str | None = None
    timezone: str | None = None  # for "today" and "this week" in usage reports; default: the machine's
    week_starts_on: int = Field(default=0, ge=0, le=6)  # 0 = Monday
    budget: BudgetConfig = Field(default_factory=BudgetConfig)
    effort: EffortPolicyConfig = Field(default_factory=EffortPolicyConfig)
    archive: ArchiveConfig = Field(default_factory=ArchiveConfig)
    cloud: CloudConfig = Field(default_factory=CloudConfig)
    review: ReviewConfig = Field(default_factory=ReviewConfig)
    keys: dict[str, str] = Field(default_factory=dict)  # binding id -> keys, e.g. "app.new_task" = "ctrl+n"

    _untrusted: dict[str, Path] = PrivateAttr(default_factory=dict)

    def trusted(self, field: str) -> object:
        """The value of a setting that runs code; raises :class:`UntrustedSetting` when it came from a
        board config the user has not trusted (the value is then never used)."""
        if field in self._untrusted:
            raise UntrustedSetting(field, self._untrusted[field])
        value: object = self
        for part in field.split("."):
            value = getattr(value, part)
        return value

    @property
    def untrusted_settings(self) -> dict[str, Path]:
        return dict(self._untrusted)

    @field_validator("orchestrator_may_answer")
    @classmethod
    def _trigger_words(cls, value: list[str]) -> list[str]:
        for trigger in value:
            if not _TRIGGER_RE.match(trigger):
                raise ValueError(f"a decision trigger is a lower_snake_case word, got {trigger!r}")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    def tz(self) -> tzinfo:
        if self.timezone:
            return ZoneInfo(self.timezone)
        local = datetime.now().astimezone().tzinfo
        return local if local is not None else UTC

    @model_validator(mode="after")
    def _ordered(self) -> ProjectConfig:
        if self.watchdog_kill_s <= self.watchdog_notify_s:
            raise ValueError("watchdog_kill_s must be longer than watchdog_notify_s")
        return self


def _read_toml(path: Path) -> dict[str, object]:
    if not path.exists():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError("(file)", f"{path}: {exc}") from exc


def _merge(base: dict[str, object], top: dict[str, object]) -> dict[str, object]:
    out = dict(base)
    for key, value in top.items():
        below = out.get(key)
        out[key] = _merge(below, value) if isinstance(below, dict) and isinstance(value, dict) else value
    return out


def _has(data: dict[str, object], dotted: str) -> bool:
    head, _, rest = dotted.partition(".")
    if head not in data:
        return False
    below = data[head]
    return not rest or (isinstance(below, dict) and _has(below, rest))


def _without(data: dict[str, object], dotted: list[str]) -> dict[str, object]:
    """``data`` less the (dotted) keys named."""
    out = dict(data)
    for name in dotted:
        head, _, rest = name.partition(".")
        if not rest:
            out.pop(head, None)
        elif isinstance(out.get(head), dict):
            out[head] = _without(out[head], [rest])  # type: ignore[arg-type]
    return out


def board_config(board: Blackboard) -> ProjectConfig:
    """The config of ``board`` (its ``config.toml`` over the user's): :func:`load_config`."""
    return load_config(board.root / CONFIG_FILE)


def load_config(path: Path, *, user_path: Path | None = None) -> ProjectConfig:
    """The board's config at ``path`` over the user's (``user_path``; default: the user's config dir).

    A missing file gives the defaults, a bad one raises :class:`ConfigError` naming the field. Settings
    that run code are kept out of the result, and refused when asked for, unless ``path`` is trusted.
    """
    user = _read_toml(user_path or user_config_path())
    board = _read_toml(path)
    untrusted = [k for k in CODE_SETTINGS if _has(board, k)]
    if untrusted and is_trusted(path):
        untrusted = []
    data = _merge(user, _without(board, untrusted))
    try:
        config = ProjectConfig.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "(root)"
        msg = "unknown field" if err["type"] == "extra_forbidden" else err["msg"]
        raise ConfigError(field, msg) from exc
    config._untrusted = {k: path for k in untrusted}
    return config
