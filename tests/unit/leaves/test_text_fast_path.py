"""The sanitiser's fast path: a secret pattern is skipped only when its gate proves it cannot match, so
:func:`redact` masks exactly what running every pattern on every text masks."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from cockpit.core.text import _SECRET_PATTERNS, clean_data, redact

# Pieces of secrets, near misses, separators and case/Unicode traps, put together at random.
PIECES = [
    "sk-",
    "sk-proj-",
    "task-",
    "Bearer ",
    "bearer\t",
    "BEARER ",
    "ghp_",
    "gho_",
    "github_pat_",
    "AKIA",
    "ASIA",
    "AGPA",
    "AIDA",
    "AROA",
    "akia",
    "AIza",
    "xoxb-",
    "-----BEGIN RSA PRIVATE KEY-----",
    "-----END RSA PRIVATE KEY-----",
    "password",
    "PASSWORD",
    "token",
    "Token",
    "secret",
    "apikey",
    "auth-token",
    "refresh_token",
    "x-",
    "_",
    "passwd",
    "paſſword",  # ſ matches s case-insensitively
    "to\u212aen",  # the Kelvin sign matches k case-insensitively
    "\u0130",  # dotted capital I: lowered, it becomes two characters
    "api_key",
    "API-KEY",
    "access_token",
    "client_secret",
    "private-key",
    "DB_PASSWORD",
    "AWS_SECRET_ACCESS_KEY",
    "MY_TOKEN",
    "MY_KEY",
    "_PWD",
    "_CREDENTIALS",
    "https://",
    "ftp://",
    "bob:",
    "@host",
    "=",
    ": ",
    "'",
    '"',
    " ",
    "\n",
    "0123456789",
    "abcdefghijklmnop",
    "ABCDEFGHIJKLMNOP",
    "_-._~+/",
    "[REDACTED]",
    "é",
]


def redact_slowly(text: str) -> str:
    """Every pattern on every text: what :func:`redact` must always equal."""
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.sampled_from(PIECES) | st.text(max_size=6), max_size=14).map("".join))
@example("key sk-abcdefghijklmnopqrstuvwx end")
@example("curl -H 'Authorization: Bearer eyJhbGciOi.J9.abc'")
@example("aws AKIAIOSFODNN7EXAMPLE ok")
@example("AIzaSyA-0123456789abcdefghijklmnopqrstu")
@example("key AIzaSyA0123456789abcdefghijklmnopqrstuv")
@example("xoxb-0123456789-abcdef")
@example("export DB_PASSWORD=hunter2")
@example("https://bob:s3cret@github.com/x/y")
@example("token: abcdef")
@example("export MY_KEY=abc")
@example("role AROA0123456789ABCDEF")
@example("Port the config loader #12")
@example("task-00012-ab3f")
def test_redact_masks_exactly_what_every_pattern_masks(text: str) -> None:
    assert redact(text) == redact_slowly(text)


def test_clean_data_cleans_keys_as_before() -> None:
    data = {"\x1b[31mtoken=abcdef1234\x1b[0m": ["sk-abcdefghijklmnopqrstuvwx"], "plain": 1}
    assert clean_data(data) == {"token=[REDACTED]": ["sk-[REDACTED]"], "plain": 1}
    assert clean_data(data) == clean_data(data)  # the remembered key gives the same answer
