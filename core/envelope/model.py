"""Task envelope: the contract of every dispatch.

An envelope is the playbook's task template (full or lightweight) plus the cockpit's dispatch fields
(lane, effort, sandbox, network, model). It loads from TOML, JSON, YAML or Markdown (front matter and/or
``## Section`` headings), accepts keys in snake_case or in the template's spelling ("Acceptance
Criteria"), and every validation problem becomes one :class:`EnvelopeError` line naming the field.

:func:`check_paths` confines input and output paths to the repository and keeps the secrets deny list
away from workers.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from cockpit.core.errors import InputError
from cockpit.core.text import one_line
from cockpit.core.vocabulary import (
    CLOUD_BEST_OF_MAX,
    CLOUD_LANE,
    DEFAULT_LANE,
    EFFORTS,
    WORKER_SANDBOX,
    Effort,
    Lane,
    Sandbox,
)

__all__ = [
    "DEFAULT_OUTPUT_PROTOCOL",
    "EFFORTS",
    "OUTPUT_PROTOCOL_RULE",
    "Budget",
    "Effort",
    "Envelope",
    "EnvelopeError",
    "InputRef",
    "Lane",
    "OutputSpec",
    "RiskLevel",
    "Sandbox",
    "envelope_from_mapping",
    "normalise_key",
    "parse_budget_text",
    "parse_duration",
    "requested_escalations",
]

RiskLevel = Literal["low", "medium", "high"]

OUTPUT_PROTOCOL_RULE = (
    "The FIRST line of your final message must be `COMPLETED: …`, `FAILED: …` or `BLOCKED: …`."
)
DEFAULT_OUTPUT_PROTOCOL = (
    OUTPUT_PROTOCOL_RULE + " After the status word give, on the same line: for COMPLETED a one-line summary; "
    "for FAILED the error; for BLOCKED the reason. Then, on later lines: FAILED adds Type "
    "(transient|auth|logic|state|catastrophic), Last step completed and Suggestion; BLOCKED adds Needs "
    "and Can continue with."
)

# Directories under the home directory that workers never see (playbook §14).
# The same directories recognised anywhere in a path (e.g. a repository carrying its own ``.aws/``).
# Basename patterns, matched case-insensitively. ``.env.*`` extends the playbook's list (``.env.local``).
# Output paths may not point into these repository directories.

_TITLE_MAX = 60
# Strings that become arguments of Codex's command line (``-m MODEL``) or paths named to it.
MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,127}")
# ``codex cloud exec --env``: an environment id (``env_…``) or its label (``owner/repo``, words).
CLOUD_ENV_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@+ -]{0,127}")
# ``codex cloud exec --branch``: a git branch name as a remote knows it.
CLOUD_BRANCH_NAME = re.compile(r"(?!.*\.\.)(?!.*//)[A-Za-z0-9][A-Za-z0-9._/+-]{0,199}(?<![./])")
_PATH_MAX = 4096
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")

KEY_ALIASES: dict[str, str] = {
    "stop_if": "stop_conditions",
    "stop_condition": "stop_conditions",
    "acceptance_criterion": "acceptance_criteria",
    "input": "inputs",
    "tools": "allowed_tools",
    "risk": "risk_level",
    "reasoning_effort": "effort",
    "model_reasoning_effort": "effort",
    "env": "cloud_env",
    "environment": "cloud_env",
    "best_of": "attempts",
}
_BUDGET_ALIASES: dict[str, str] = {
    "max_tool_calls": "tool_calls",
    "max_tokens": "tokens",
    "wall_time_seconds": "wall_time_s",
    "cost_usd": "usd",
    "max_usd": "usd",
}


# --------------------------------------------------------------------------------------------- errors


class EnvelopeError(InputError, ValueError):
    """An invalid envelope. ``str(err)`` is one line: ``invalid envelope: <field>: <message>``."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = one_line(str(message))
        super().__init__(f"invalid envelope: {self.field}: {self.message}")

    def __str__(self) -> str:
        return f"invalid envelope: {self.field}: {self.message}"

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.field, self.message))


def _field_error(field: str, message: str) -> PydanticCustomError:
    """A validation error that names a field below the model currently validating."""
    return PydanticCustomError("envelope_field", "{message}", {"field": field, "message": message})


_TYPE_NAMES: dict[str, str] = {
    "string_type": "must be a string",
    "list_type": "must be a list",
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "dict_type": "must be a mapping",
    "model_type": "must be a mapping",
    "model_attributes_type": "must be a mapping",
}


def _from_validation_error(exc: ValidationError) -> EnvelopeError:
    err = exc.errors(include_url=False)[0]
    loc = [str(part) for part in err.get("loc", ())]
    kind = err.get("type", "")
    ctx = err.get("ctx") or {}
    if kind == "envelope_field":
        if ctx.get("field"):
            loc.append(str(ctx["field"]))
        message = str(ctx.get("message", err.get("msg", "")))
    elif kind == "missing":
        message = "field required"
    elif kind == "extra_forbidden":
        message = "unknown field"
    elif kind == "literal_error":
        message = f"must be one of {ctx.get('expected', '')} (got {err.get('input')!r})"
    elif kind in _TYPE_NAMES:
        message = f"{_TYPE_NAMES[kind]} (got {type(err.get('input')).__name__})"
    else:
        message = str(err.get("msg", "invalid value"))
        for noise in ("Value error, ", "Assertion failed, "):
            message = message.removeprefix(noise)
    field = ".".join(loc) or "(envelope)"
    return EnvelopeError(field, message)


# ------------------------------------------------------------------------------------ normalisation


def normalise_key(key: object) -> str:
    """``"Acceptance Criteria"`` / ``"acceptance-criteria"`` / ``"Stop if"`` -> snake_case (aliases kept)."""
    text = str(key).strip().lower()
    text = re.sub(r"[\s\-]+", "_", text)
    return re.sub(r"_+", "_", text).strip("_")


def normalise_mapping(data: Mapping[Any, Any], aliases: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for raw_key, value in data.items():
        key = normalise_key(raw_key)
        key = aliases.get(key, key)
        if key in out:
            raise _field_error(key, f"given twice (as {origin[key]!r} and {str(raw_key)!r})")
        out[key] = value
        origin[key] = str(raw_key)
    return out


def _as_str_list(value: Any) -> Any:
    """A single string becomes a one-item list; items are stripped and blank items dropped."""
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list | tuple):
        return [item.strip() if isinstance(item, str) else item for item in value if not _blank(item)]
    return value


def _blank(item: Any) -> bool:
    return isinstance(item, str) and not item.strip()


def _lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


def _optional_text(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


# ------------------------------------------------------------------------------------------ budget

_DURATION_UNITS: dict[str, int] = {
    "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1,
    "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600,
}  # fmt: skip
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]+)")


def parse_duration(text: str | int | float) -> int:
    """``"30m"`` / ``"90s"`` / ``"1h"`` / ``"1h 30m"`` / ``"20 min"`` / a bare number of seconds -> seconds.

    Raises ``ValueError`` for anything else, including zero or negative durations.
    """
    if isinstance(text, bool):
        raise ValueError("must be a duration such as '30m', '90s' or '1h'")
    if isinstance(text, int | float):
        seconds = float(text)
    else:
        s = text.strip().lower()
        if re.fullmatch(r"\d+(?:\.\d+)?", s):
            seconds = float(s)
        else:
            compact = s.replace(" ", "")
            parts = _DURATION_PART.findall(s)
            if not parts or "".join(n + u for n, u in parts) != compact:
                raise ValueError(f"must be a duration such as '30m', '90s' or '1h' (got {text!r})")
            seconds = 0.0
            for number, unit in parts:
                if unit not in _DURATION_UNITS:
                    raise ValueError(f"unknown time unit {unit!r} in {text!r}")
                seconds += float(number) * _DURATION_UNITS[unit]
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError("must be a positive duration")
    return math.ceil(seconds)


_NUM = r"(\d[\d_,]*(?:\.\d+)?)\s*(k|m)?"
_BUDGET_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("tool_calls", re.compile(rf"(?:tool[ _-]?calls?|calls)\s*[:=]\s*{_NUM}")),
    ("tool_calls", re.compile(rf"{_NUM}\s*(?:tool[ _-]?calls?|calls)")),
    ("tokens", re.compile(rf"tokens?\s*[:=]\s*{_NUM}")),
    ("tokens", re.compile(rf"{_NUM}\s*tokens?")),
    ("usd", re.compile(r"(?:usd|cost|dollars?)\s*[:=]\s*\$?\s*(\d+(?:\.\d+)?)")),
    ("usd", re.compile(r"\$\s*(\d+(?:\.\d+)?)(?:\s*usd)?")),
    ("usd", re.compile(r"(\d+(?:\.\d+)?)\s*(?:usd|dollars?)")),
    ("wall_time", re.compile(r"(?:wall[ _-]?time(?:_s)?|time|deadline|duration)\s*[:=]\s*(.+)")),
    ("wall_time", re.compile(r"(\d+(?:\.\d+)?\s*[a-z]+(?:\s*\d+(?:\.\d+)?\s*[a-z]+)*)")),
)
_BUDGET_FILLER = re.compile(r"^(?:max(?:imum)?|at most|up to|about|around|approx(?:imately)?|~|≈)\s*")


def _scaled(number: str, suffix: str | None) -> float:
    value = float(number.replace("_", "").replace(",", ""))
    if suffix == "k":
        value *= 1_000
    elif suffix == "m":
        value *= 1_000_000
    return value


def parse_budget_text(text: str) -> dict[str, Any]:
    """Read a budget written as prose: ``"max 10 tool calls, 50000 tokens, 20 min, ~$0.50"``.

    Pieces are separated by commas, semicolons, new lines or "and"; each may also be ``key: value``
    (``"Tool calls: 10"``). Returns a mapping for :class:`Budget`; raises ``ValueError`` naming a piece
    that cannot be read.
    """
    out: dict[str, Any] = {}
    # Thousands separators ("50,000") must survive the split on commas.
    protected = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text.lower())
    for raw_piece in re.split(r"[;\n]|,\s*|\band\b", protected):
        piece = raw_piece.strip().lstrip("-*+•").strip().rstrip(".")
        piece = _BUDGET_FILLER.sub("", piece).strip().lstrip("_").strip()
        if not piece:
            continue
        for key, pattern in _BUDGET_PATTERNS:
            match = pattern.fullmatch(piece)
            if match is None:
                continue
            if key == "wall_time":
                out["wall_time_s"] = parse_duration(match.group(1))
            elif key == "usd":
                out["usd"] = float(match.group(1))
            else:
                out[key] = _scaled(match.group(1), match.group(2))
            break
        else:
            raise ValueError(
                f"cannot read {piece!r} (write e.g. 'max 10 tool calls, 50000 tokens, 20 min, ~$0.50')"
            )
    if not out:
        raise ValueError("is empty")
    return out


def _positive_int(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise PydanticCustomError("positive_int", "must be a positive integer")
    if isinstance(value, str):
        text = value.strip().replace("_", "").replace(",", "")
        match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([km]?)", text.lower())
        if match is None:
            raise PydanticCustomError("positive_int", "must be a positive integer")
        value = _scaled(match.group(1), match.group(2) or None)
    if isinstance(value, float):
        if not value.is_integer():
            raise PydanticCustomError("positive_int", "must be a positive integer")
        value = int(value)
    if not isinstance(value, int) or value <= 0:
        raise PydanticCustomError("positive_int", "must be a positive integer")
    return value


class Budget(BaseModel):
    """Spending limits for one task; ``None`` means "not limited by the envelope"."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    tokens: int | None = Field(default=None, description="Most tokens the task may spend (input + output).")
    tool_calls: int | None = Field(default=None, description="Most tool calls (commands, edits) it may make.")
    wall_time_s: int | None = Field(default=None, description="Most wall-clock seconds (1200 = 20 min).")
    usd: float | None = Field(default=None, description="Most US dollars it may cost.")

    @model_validator(mode="before")
    @classmethod
    def _accept_forms(cls, data: Any) -> Any:
        if data is None:
            return {}
        if isinstance(data, str):
            try:
                return parse_budget_text(data)
            except ValueError as exc:
                raise PydanticCustomError("budget_text", str(exc)) from None
        if isinstance(data, Budget):
            return data
        if not isinstance(data, Mapping):
            raise PydanticCustomError(
                "budget_type", "must be a mapping or text such as 'max 10 tool calls, 50000 tokens, 20 min'"
            )
        data = normalise_mapping(data, _BUDGET_ALIASES)
        if "wall_time" in data:
            if data.get("wall_time_s") is not None:
                raise _field_error("wall_time", "given twice (as 'wall_time' and 'wall_time_s')")
            raw = data.pop("wall_time")
            if raw is not None:
                try:
                    data["wall_time_s"] = parse_duration(raw)
                except ValueError as exc:
                    raise _field_error("wall_time", str(exc)) from None
        return data

    @field_validator("tokens", "tool_calls", "wall_time_s", mode="before")
    @classmethod
    def _positive(cls, value: Any) -> int | None:
        return _positive_int(value)

    @field_validator("usd", mode="before")
    @classmethod
    def _positive_usd(cls, value: Any) -> float | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = value.strip().lstrip("~$").strip()
            try:
                value = float(value)
            except ValueError:
                raise PydanticCustomError("positive_number", "must be a positive number") from None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise PydanticCustomError("positive_number", "must be a positive number")
        if not math.isfinite(value) or value <= 0:
            raise PydanticCustomError("positive_number", "must be a positive number")
        return float(value)

    @property
    def is_empty(self) -> bool:
        return all(v is None for v in (self.tokens, self.tool_calls, self.wall_time_s, self.usd))


# -------------------------------------------------------------------------------- inputs and output

_INPUT_SPLIT = re.compile(r"^(?P<path>.+?)(?:\s*[—–]\s*|:\s+|\s+-\s+)(?P<summary>.*)$", re.DOTALL)
_BACKTICKED = re.compile(r"^`(?P<path>[^`]+)`\s*(?:(?:[—–:]|-(?=\s))\s*)?(?P<summary>.*)$", re.DOTALL)


def _split_input(text: str) -> dict[str, str]:
    """``"path"`` / ``"path — summary"`` / ``"path: summary"`` / ``"`path` - summary"`` -> mapping."""
    text = text.strip()
    match = _BACKTICKED.match(text) or _INPUT_SPLIT.match(text)
    if match is None:
        return {"path": text.strip("`"), "summary": ""}
    return {"path": match.group("path").strip().strip("`"), "summary": match.group("summary").strip()}


class InputRef(BaseModel):
    """A file the worker may read: its path and a one-line summary (never the contents)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    path: str = Field(description="A path relative to the repository root (never the file's contents).")
    summary: str = Field(default="", description="What the worker will find there, in one line.")

    @model_validator(mode="before")
    @classmethod
    def _accept_forms(cls, data: Any) -> Any:
        if isinstance(data, str | PurePath):
            return _split_input(str(data))
        if isinstance(data, Mapping):
            return normalise_mapping(data, {})
        if isinstance(data, InputRef):
            return data
        raise PydanticCustomError("input_type", "must be a path string or a mapping with path and summary")

    @field_validator("path", mode="before")
    @classmethod
    def _path(cls, value: Any) -> Any:
        if isinstance(value, PurePath):
            value = str(value)
        if isinstance(value, str):
            value = value.strip().strip("`").strip()
            if not value:
                raise PydanticCustomError("empty", "must not be empty")
            if "\x00" in value:
                raise PydanticCustomError("nul", "must not contain a NUL character")
            if _CONTROL_CHARS.search(value):
                raise PydanticCustomError("control", "must not contain control characters")
            if value.startswith("-"):
                raise PydanticCustomError("dash", "must not start with '-' (write ./{path})", {"path": value})
            if len(value) > _PATH_MAX:
                raise PydanticCustomError("long", f"is longer than {_PATH_MAX} characters")
        return value

    @field_validator("summary", mode="before")
    @classmethod
    def _summary(cls, value: Any) -> Any:
        return "" if value is None else (" ".join(value.split()) if isinstance(value, str) else value)


_FORMAT_BY_SUFFIX: dict[str, str] = {
    ".md": "markdown", ".markdown": "markdown", ".json": "json", ".jsonl": "jsonl", ".yaml": "yaml",
    ".yml": "yaml", ".toml": "toml", ".txt": "text", ".csv": "csv", ".patch": "diff", ".diff": "diff",
    ".html": "html",
}  # fmt: skip


class OutputSpec(BaseModel):
    """Where the worker writes its result, and in which format.

    When no format is given it follows the path's suffix (``.json`` -> ``json``), else ``markdown``.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    path: str = Field(description="Where the worker writes its result, relative to the repository root.")
    format: str = Field(
        default="markdown", description="markdown, json, text, ... (default: from the path's suffix)."
    )

    @model_validator(mode="before")
    @classmethod
    def _accept_forms(cls, data: Any) -> Any:
        if isinstance(data, str | PurePath):
            data = {"path": str(data)}
        if isinstance(data, Mapping):
            data = normalise_mapping(data, {})
            fmt = data.get("format")
            if (fmt is None or _blank(fmt)) and isinstance(data.get("path"), str):
                data.pop("format", None)
                suffix = PurePath(data["path"].strip().strip("`")).suffix.lower()
                if suffix in _FORMAT_BY_SUFFIX:
                    data["format"] = _FORMAT_BY_SUFFIX[suffix]
            return data
        if isinstance(data, OutputSpec):
            return data
        raise PydanticCustomError("output_type", "must be a path string or a mapping with path and format")

    @field_validator("path", mode="before")
    @classmethod
    def _path(cls, value: Any) -> Any:
        return InputRef._path(value)

    @field_validator("format", mode="before")
    @classmethod
    def _format(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip().strip("`").strip().lower()
            if not value:
                raise PydanticCustomError("empty", "must not be empty")
        return value


# ---------------------------------------------------------------------------------------- envelope


def _derive_title(goal: str) -> str:
    first = " ".join(goal.strip().splitlines()[0].split()) if goal.strip() else ""
    if len(first) <= _TITLE_MAX:
        return first
    cut = first[: _TITLE_MAX - 1]
    if " " in cut[_TITLE_MAX // 2 :]:
        cut = cut[: cut.rfind(" ")]
    return cut.rstrip(" ,;:.-") + "…"


class Envelope(BaseModel):
    """The contract of one dispatch: the playbook's task envelope plus the cockpit's dispatch fields."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    goal: str = Field(description="What the task achieves, in one sentence.")
    acceptance_criteria: list[str] = Field(
        default_factory=list, description="Objective checks the result must pass, each one line."
    )
    inputs: list[InputRef] = Field(
        default_factory=list, description="Files the worker should read: paths and one-line summaries."
    )
    allowed_tools: list[str] = Field(default_factory=list, description="Tools the worker may use.")
    forbidden: list[str] = Field(default_factory=list, description="What the worker must not do or touch.")
    risk_level: RiskLevel = Field(default="low", description="How much harm a wrong result could do.")
    budget: Budget = Field(
        default_factory=Budget, description="Spending limits; omitted ones are not limited."
    )
    checkpoint: str | None = Field(default=None, description="Where to save progress on a long task.")
    stop_conditions: list[str] = Field(
        default_factory=list, description="When the worker stops and reports BLOCKED or FAILED."
    )
    output: OutputSpec | None = Field(default=None, description="The result file, when the task writes one.")
    output_protocol: str = Field(
        default=DEFAULT_OUTPUT_PROTOCOL,
        description="How the worker's final message starts (default: COMPLETED:, FAILED: or BLOCKED:).",
    )
    # Cockpit fields.
    lane: Lane = Field(
        default=DEFAULT_LANE,
        description=(
            "Where it runs: local (the working tree), worktree (its own branch, reviewed before merge), "
            "mcp (as worktree, Codex asks before risky commands), cloud (Codex Cloud)."
        ),
    )
    effort: Effort | None = Field(
        default=None, description="Codex's reasoning effort (default: the policy's)."
    )
    sandbox: Sandbox = Field(
        default=WORKER_SANDBOX, description="danger-full-access opens a decision card for the human."
    )
    # mcp lane only: when Codex must ask before running commands ("untrusted": all but known-safe ones).
    approval_policy: Literal["on-request", "untrusted"] | None = Field(
        default=None,
        description="mcp lane: when Codex asks (untrusted: before any command but known-safe ones).",
    )
    network: bool = Field(default=False, description="true opens a decision card for the human.")
    model: str | None = Field(default=None, description="The Codex model (default: Codex's).")
    title: str | None = Field(default=None, description="A short title (default: from the goal).")
    kind: str | None = Field(default=None, description="A word for the kind of work (code, docs, ...).")
    priority: Literal["high", "medium", "low"] = Field(
        default="medium", description="Which queued task runs first."
    )
    # cloud lane only: the Codex Cloud environment (id or label; default ``[cloud] env`` in config),
    # best-of-N attempts, and the remote branch the task starts from (default: the CLI's choice).
    cloud_env: str | None = Field(default=None, description="cloud lane: the Codex Cloud environment.")
    attempts: int = Field(default=1, ge=1, le=CLOUD_BEST_OF_MAX, description="cloud lane: best-of-N.")
    branch: str | None = Field(default=None, description="cloud lane: the branch the task starts from.")
    # Cross-family review of a result that passed its three signals (the lanes ``[review]`` enables):
    # ``review = false`` skips it for this task; ``allow_test_changes = true`` lets the change weaken,
    # skip or delete tests without that counting as validation retreat.
    review: bool = Field(default=True, description="false skips the cross-family review for this task.")
    allow_test_changes: bool = Field(
        default=False, description="true: weakening or deleting tests is not validation retreat."
    )

    @model_validator(mode="before")
    @classmethod
    def _accept_forms(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        data = normalise_mapping(data, KEY_ALIASES)
        for key in ("budget", "output_protocol"):
            if key in data and data[key] is None:
                data.pop(key)
        return data

    @model_validator(mode="after")
    def _no_nul(self) -> Envelope:
        """A NUL byte can reach no worker (it cannot be part of a prompt or an argument): refused in any
        string, with the field named."""
        for name, value in self:
            for where, text in _strings(name, value):
                if "\x00" in text:
                    raise _field_error(where, "must not contain a NUL character")
        return self

    @model_validator(mode="after")
    def _default_title(self) -> Envelope:
        # Written past validation so a derived title does not count as given (``exclude_unset`` drops it
        # and a changed goal derives a new one).
        if self.title is None:
            self.__dict__["title"] = _derive_title(self.goal)
        return self

    @field_validator("goal", "output_protocol", mode="before")
    @classmethod
    def _not_blank(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip()
            if not value:
                raise PydanticCustomError("empty", "must not be empty")
        return value

    @field_validator("acceptance_criteria", "allowed_tools", "forbidden", "stop_conditions", mode="before")
    @classmethod
    def _str_lists(cls, value: Any) -> Any:
        return _as_str_list(value)

    @field_validator("inputs", mode="before")
    @classmethod
    def _inputs(cls, value: Any) -> Any:
        if value is None:
            return []
        if isinstance(value, str | PurePath) or (isinstance(value, Mapping) and value):
            return [value]
        return value

    @field_validator("risk_level", "lane", "effort", "sandbox", "approval_policy", mode="before")
    @classmethod
    def _literals(cls, value: Any) -> Any:
        return _lower(value)

    @field_validator("kind", mode="before")
    @classmethod
    def _kind(cls, value: Any) -> Any:
        return _optional_text(_lower(value))

    @field_validator("cloud_env", "branch", mode="before")
    @classmethod
    def _cloud_texts(cls, value: Any) -> Any:
        return _optional_text(value)

    @field_validator("cloud_env")
    @classmethod
    def _cloud_env_name(cls, value: str | None) -> str | None:
        # Passed to ``codex cloud exec --env``: never something that reads as an option.
        if value is not None and not CLOUD_ENV_NAME.fullmatch(value):
            raise PydanticCustomError(
                "cloud_env",
                "must be a Codex Cloud environment id or label: letters, digits, spaces and . _ : / @ + -, "
                "at most 128 characters, not starting with '-' (got {value})",
                {"value": repr(value[:80])},
            )
        return value

    @field_validator("branch")
    @classmethod
    def _branch_name(cls, value: str | None) -> str | None:
        if value is not None and not CLOUD_BRANCH_NAME.fullmatch(value):
            raise PydanticCustomError(
                "branch",
                "must be a git branch name (letters, digits and . _ / + -, not starting with '-', no '..')"
                " (got {value})",
                {"value": repr(value[:80])},
            )
        return value

    @model_validator(mode="after")
    def _cloud_fields_need_the_cloud_lane(self) -> Envelope:
        if self.lane != CLOUD_LANE:
            for name, unset in (("cloud_env", None), ("attempts", 1), ("branch", None)):
                if getattr(self, name) != unset:
                    raise _field_error(name, f"only for the cloud lane (the lane is {self.lane})")
        return self

    @field_validator("review", "allow_test_changes", mode="before")
    @classmethod
    def _flags(cls, value: Any) -> Any:
        # true/false (and the yes/no, on/off and 1/0 words a Markdown or YAML envelope may carry); a
        # string that is none of them, a number other than 0/1 or a list is refused, naming the field.
        if isinstance(value, str):
            word = value.strip().lower()
            if word in ("true", "yes", "on", "1"):
                return True
            if word in ("false", "no", "off", "0"):
                return False
            raise PydanticCustomError(
                "flag", "must be true or false (got {value})", {"value": repr(value[:40])}
            )
        if isinstance(value, int) and not isinstance(value, bool) and value not in (0, 1):
            raise PydanticCustomError("flag", "must be true or false (got {value})", {"value": repr(value)})
        return value

    @field_validator("checkpoint", "model", "title", mode="before")
    @classmethod
    def _texts(cls, value: Any) -> Any:
        return _optional_text(value)

    @field_validator("model")
    @classmethod
    def _model_name(cls, value: str | None) -> str | None:
        # Passed to Codex as ``-m MODEL``: a conservative name, never something that reads as an option.
        if value is not None and not MODEL_NAME.fullmatch(value):
            raise PydanticCustomError(
                "model_name",
                "must be a model name: letters, digits and . _ : / @ + -, at most 128 characters, "
                "not starting with '-' (got {value})",
                {"value": repr(value[:80])},
            )
        return value

    @property
    def is_lightweight(self) -> bool:
        """True when the envelope uses only the lightweight template (Goal, Inputs, Output, Stop if).

        Judged by value, not by which keys were given, so it survives a dump and reload: every full-only
        field is empty or at its default. Cockpit fields (lane, effort, sandbox, …) do not count.
        """
        return (
            not self.acceptance_criteria
            and not self.allowed_tools
            and not self.forbidden
            and self.risk_level == "low"
            and self.budget.is_empty
            and self.checkpoint is None
            and self.output_protocol == DEFAULT_OUTPUT_PROTOCOL
        )

    def to_json_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping that :func:`envelope_from_mapping` reads back to an equal envelope."""
        return self.model_dump(mode="json")


def _strings(where: str, value: Any) -> list[tuple[str, str]]:
    """Every string inside a field's value, with its dotted place (``inputs.0.path``)."""
    if isinstance(value, str):
        return [(where, value)]
    if isinstance(value, BaseModel):
        return [pair for name, item in value for pair in _strings(f"{where}.{name}", item)]
    if isinstance(value, list | tuple):
        return [pair for i, item in enumerate(value) for pair in _strings(f"{where}.{i}", item)]
    return []


def envelope_from_mapping(data: Mapping[str, Any]) -> Envelope:
    """Validate a mapping (any key spelling) into an :class:`Envelope`, or raise :class:`EnvelopeError`."""
    if not isinstance(data, Mapping):
        raise EnvelopeError("(envelope)", f"must be a mapping (got {type(data).__name__})")
    try:
        return Envelope.model_validate(dict(data))
    except ValidationError as exc:
        raise _from_validation_error(exc) from None


# ---------------------------------------------------------------------------------- dispatch helpers


def requested_escalations(env: Envelope) -> list[str]:
    """Human-readable privileges beyond the default the envelope asks for (the caller gates them)."""
    wanted: list[str] = []
    if env.network:
        wanted.append("network access")
    if env.sandbox == "danger-full-access":
        wanted.append("danger-full-access sandbox")
    return wanted
