"""Worker text made safe to show: the one sanitiser every surface uses.

Whatever a worker wrote (its messages, command output, errors, titles it chose, file names) and
whatever a user typed into an envelope is data. Before it reaches a terminal, a JSON reader or a
file other tools show, it goes through :func:`clean`: terminal escape sequences and control
characters are removed (:func:`strip_control`) and obvious secrets masked (:func:`redact`).
:func:`clean_data` does the same to every string of a JSON-like value, and :data:`CleanText` marks a
model field whose text is cleaned when it is validated and again when it is written.

The raw Codex stream (``events.jsonl`` of each attempt) and ``last-message.md`` stay byte for byte
on disk; only what is shown of them is cleaned. Escaping for a UI's markup stays that UI's concern.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Annotated, Any, Final

from pydantic import AfterValidator, PlainSerializer

__all__ = ["REDACTED", "CleanText", "clean", "clean_data", "redact", "strip_control"]

_ESCAPES: Final = re.compile(
    r"""
      \x1b\[ [0-?]* [ -/]* [@-~]          # CSI ... final byte (colours, cursor moves, erase)
    | \x9b [0-?]* [ -/]* [@-~]            # the same, 8-bit introducer
    | \x1b\] [^\x07\x1b\x9c]* (?:\x07|\x1b\\|\x9c)?   # OSC ... BEL or ST (titles, hyperlinks, clipboard)
    | \x9d [^\x07\x1b\x9c]* (?:\x07|\x1b\\|\x9c)?
    | \x1b[PX^_] [^\x1b\x9c]* (?:\x1b\\|\x9c)?        # DCS / SOS / PM / APC strings
    | [\x90\x98\x9e\x9f] [^\x1b\x9c]* (?:\x1b\\|\x9c)?
    | \x1b [ -/]* [0-~]                   # any other escape sequence
    | \x1b                                # a lone ESC
    """,
    re.VERBOSE,
)
# C0 controls but \t and \n, DEL, C1 controls, and bidirectional overrides that reorder displayed text.
_CONTROLS: Final = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def strip_control(text: str) -> str:
    """Remove terminal escape sequences (CSI, OSC, DCS, ...) and control characters except ``\\n``/``\\t``.

    ``\\r\\n`` becomes ``\\n``; a lone ``\\r`` (which would let output overwrite the line) is removed.
    """
    if _CONTROLS.search(text) is None:
        return text
    text = text.replace("\r\n", "\n")
    return _CONTROLS.sub("", _ESCAPES.sub("", text))


REDACTED: Final = "[REDACTED]"
_SECRET_PATTERNS: Final[list[tuple[re.Pattern[str], str]]] = [
    # PEM private keys: the whole block; a block already masked, with any key lines that follow it (so
    # that masking twice changes nothing, and the text after it stays); or from the header to the end
    # when cut short.
    (
        re.compile(
            r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----(?:.*?-----END [A-Z0-9 ]*PRIVATE KEY-----"
            r"| \[REDACTED\](?:[ \t]*\r?\n[ \t]*[A-Za-z0-9+/=]{16,}[ \t]*)*|.*)",
            re.S,
        ),
        "-----BEGIN PRIVATE KEY----- " + REDACTED,
    ),
    # Bearer tokens (Authorization headers, curl -H ...).
    (re.compile(r"(?i)\b(bearer)(\s+)[A-Za-z0-9._~+/=-]{8,}"), r"\1\2" + REDACTED),
    # OpenAI / Anthropic style keys: sk-..., sk-proj-..., sk-ant-...
    (re.compile(r"\bsk-[A-Za-z0-9_-]{16,}"), "sk-" + REDACTED),
    # GitHub tokens.
    (re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})"), REDACTED),
    # AWS access key ids.
    (re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA)[0-9A-Z]{16}\b"), REDACTED),
    # Slack tokens.
    (re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"), REDACTED),
    # Google API keys.
    (re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"), REDACTED),
    # key=value / key: value / "key": "value" for secret-sounding keys.
    (
        re.compile(
            r"""(?ix)
            \b( (?:[a-z0-9]+[_-])* (?:password|passwd|secret|api[_-]?key|access[_-]?key|auth[_-]?token
                |access[_-]?token|refresh[_-]?token|client[_-]?secret|private[_-]?key|token) )
            (["']?\s*[:=]\s*)
            (["']?)
            (?!\[REDACTED\])[^\s"',;&]+
            """
        ),
        r"\1\2\3" + REDACTED,
    ),
    # Environment-style assignments of any *_KEY / *_TOKEN / *_SECRET / *_PASSWORD (upper case only, so
    # code such as ``primary_key=True`` stays readable).
    (
        re.compile(
            r"""(?x)
            \b( [A-Z][A-Z0-9_]*(?:_KEY|_TOKEN|_SECRET|PASSWORD|_PASS|_PWD|_CREDENTIALS?) )
            (["']?\s*=\s*)
            (["']?)
            (?!\[REDACTED\])[^\s"',;&]+
            """
        ),
        r"\1\2\3" + REDACTED,
    ),
    # Credentials inside URLs: scheme://user:password@host
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^/\s:@]+:)[^/\s@]+@"), r"\1" + REDACTED + "@"),
]


# What any match of each pattern above must contain, as a test on the lowered text (and the text), in
# the same order: a pattern whose test fails cannot match, so it is not run. Only used on ASCII text,
# where lowering is exact and case-insensitive matching knows no other equivalents (Unicode has some:
# ``ſ`` matches ``s``, ``K`` matches ``k``); other text runs every pattern.
_Gate = Callable[[str, str], bool]
_GATES: Final[tuple[_Gate, ...]] = (
    lambda low, text: "-----begin" in low,
    lambda low, text: "bearer" in low,
    lambda low, text: "sk-" in low,
    lambda low, text: (
        "_" in low
        and (
            "ghp_" in low
            or "gho_" in low
            or "ghu_" in low
            or "ghs_" in low
            or "ghr_" in low
            or "github_pat_" in low
        )
    ),
    lambda low, text: "akia" in low or "asia" in low or "agpa" in low or "aida" in low or "aroa" in low,
    lambda low, text: "xox" in low,
    lambda low, text: "aiza" in low,
    lambda low, text: (
        ("=" in text or ":" in text)
        and (
            "passw" in low
            or "secret" in low
            or "api" in low
            or "access" in low
            or "token" in low
            or "private" in low
        )
    ),
    lambda low, text: (
        "=" in text
        and (
            "_key" in low
            or "_token" in low
            or "_secret" in low
            or "password" in low
            or "_pass" in low
            or "_pwd" in low
            or "_credential" in low
        )
    ),
    lambda low, text: "://" in text and "@" in text,
)
# Every pattern but the bearer, AWS and Google ones needs one of these characters (see the gates).
_MARKS: Final = re.compile(r"[-_:=]")


def _may_hold_secret(text: str, low: str) -> bool:
    """False when no secret pattern can match ``text`` (ASCII; ``low`` is it lowered)."""
    return (
        _MARKS.search(text) is not None
        or "bearer" in low
        or "aiza" in low
        or "akia" in low
        or "asia" in low
        or "agpa" in low
        or "aida" in low
        or "aroa" in low
    )


def redact(text: str) -> str:
    """Mask obvious secrets: API keys (``sk-``, ``ghp_``, ``AKIA``, ...), bearer tokens, ``password=...``,
    ``*_KEY=`` / ``*_TOKEN=`` assignments and PEM private keys."""
    if not text.isascii():
        for pattern, replacement in _SECRET_PATTERNS:
            text = pattern.sub(replacement, text)
        return text
    low = text.lower()
    if not _may_hold_secret(text, low):
        return text
    for (pattern, replacement), gate in zip(_SECRET_PATTERNS, _GATES, strict=True):
        if gate(low, text):
            masked = pattern.sub(replacement, text)
            if masked != text:
                text, low = masked, masked.lower()
    return text


def clean(text: str) -> str:
    """What every shown piece of worker or user text goes through: :func:`strip_control`, then
    :func:`redact`."""
    return redact(strip_control(text))


@lru_cache(maxsize=1024)
def _clean_key(key: str) -> str:
    """:func:`clean` for dict keys, remembered: JSON-like data repeats a few keys many times."""
    return clean(key)


def clean_data(value: Any) -> Any:
    """A JSON-like value (dicts, lists, strings, numbers) with every string, keys included, cleaned."""
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, dict):
        return {_clean_key(k) if isinstance(k, str) else k: clean_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_data(v) for v in value]
    return value


# A model field holding worker-derived text: cleaned when the model is built and when it is dumped, so
# ``state.json`` and everything read from it never carry escape sequences or secrets, whoever assigned it.
CleanText = Annotated[str, AfterValidator(clean), PlainSerializer(clean, return_type=str)]


# ---- how numbers, durations and long text are shown: one spelling for every surface --------------


ELLIPSIS: Final = "…"


def cut(text: str, limit: int, mark: str = ELLIPSIS) -> str:
    """``text`` at most ``limit`` characters long: when longer, cut and ended with ``mark``."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - len(mark))].rstrip() + mark


def one_line(text: str) -> str:
    """``text`` on one line: every run of whitespace (line breaks and tabs included) a single space."""
    return " ".join(text.split())


def format_tokens(n: int) -> str:
    """A token count: ``950``, ``12.3K``, ``1.25M``."""
    if n < 1_000:
        return str(n)
    if n < 1_000_000:
        return f"{n / 1_000:.1f}K"
    return f"{n / 1_000_000:.2f}M"


def format_duration(seconds: float) -> str:
    """A duration to the second below an hour, its two largest units, a zero last unit left out:
    ``45s``, ``4m 05s``, ``10m``, ``2h 07m``, ``1h``, ``3d 4h``. Fractions of a second are dropped."""
    total = max(0, int(seconds))
    if total < 60:
        return f"{total}s"
    minutes, secs = divmod(total, 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s" if secs else f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes:02d}m" if minutes else f"{hours}h"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h" if hours else f"{days}d"


def format_usd(amount: float) -> str:
    """A cost in US dollars: cents from a dollar up (``$12.40``), four decimals below (``$0.0300``),
    so a small reviewer's cost does not read as ``$0.00``."""
    return f"${amount:,.2f}" if abs(amount) >= 1 else f"${amount:.4f}"
