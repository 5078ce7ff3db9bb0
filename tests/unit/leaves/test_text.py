"""The one sanitiser (:mod:`cockpit.core.text`): control sequences stripped, secrets masked, for every
surface; worker-derived fields of ``state.json`` cleaned through :data:`CleanText`."""

from __future__ import annotations

import json

import pytest

from cockpit.core.board.blackboard import Blackboard
from cockpit.core.envelope.prompt import parse_outcome
from cockpit.core.records.attempt import Attempt, AttemptProgress, Failure
from cockpit.core.records.task import TaskState
from cockpit.core.text import clean, clean_data, redact, strip_control

HOSTILE = (
    "\x1b]0;pwned\x07COMPLETED: \x1b[31mdone\x1b[0m \x1b]52;c;Y29weQ==\x07"
    "key sk-proj-AbCdEf0123456789xyzXYZ AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
)


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("plain text\twith tab\nand newline", "plain text\twith tab\nand newline"),
        ("\x1b[31mred\x1b[0m and \x1b[1;4mbold\x1b[m", "red and bold"),
        ("\x1b[2J\x1b[H\x1b[?25lcursor games", "cursor games"),
        ("\x1b]0;evil title\x07after", "after"),
        ("\x1b]8;;https://evil.example\x1b\\click\x1b]8;;\x1b\\", "click"),
        ("\x1b]52;c;Y29weQ==\x07clipboard", "clipboard"),
        ("\x1bPq#0;2;0;0;0\x1b\\sixel", "sixel"),
        ("\x1b7saved\x1b8 \x1bc", "saved "),
        ("\x9b31m8-bit csi", "8-bit csi"),
        ("bell\x07 null\x00 bs\x08 del\x7f", "bell null bs del"),
        ("progress 10%\rprogress 100%", "progress 10%progress 100%"),
        ("windows\r\nline", "windows\nline"),
        ("abc\u202edcba", "abcdcba"),
        ("dangling \x1b", "dangling "),
        ("naïve café 🚀", "naïve café 🚀"),
    ],
)
def test_strip_control(raw: str, clean: str) -> None:
    assert strip_control(raw) == clean


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("export OPENAI_API_KEY=sk-proj-AbCdEf0123456789xyzXYZ", "export OPENAI_API_KEY=[REDACTED]"),
        ("key sk-abcdefghijklmnopqrstuvwx end", "key sk-[REDACTED] end"),
        ("curl -H 'Authorization: Bearer eyJhbGciOi.J9.abc'", "curl -H 'Authorization: Bearer [REDACTED]'"),
        ("aws AKIAIOSFODNN7EXAMPLE ok", "aws [REDACTED] ok"),
        ("token ghp_0123456789abcdefghijABCDEFGHIJ0123", "token [REDACTED]"),
        ("github_pat_11ABCDEFG0123456789_abcdefghijklmnop", "[REDACTED]"),
        ("mysql --password=hunter2 -u root", "mysql --password=[REDACTED] -u root"),
        ('{"password": "hunter2", "user": "bob"}', '{"password": "[REDACTED]", "user": "bob"}'),
        ("DB_PASSWORD: s3cr3t", "DB_PASSWORD: [REDACTED]"),
        ("client_secret='abc123'", "client_secret='[REDACTED]'"),
        ("git clone https://bob:s3cret@github.com/x/y", "git clone https://bob:[REDACTED]@github.com/x/y"),
        (
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----\nafter",
            "-----BEGIN PRIVATE KEY----- [REDACTED]\nafter",
        ),
        ("-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEI", "-----BEGIN PRIVATE KEY----- [REDACTED]"),
        (  # key lines after a mask are key material still
            "-----BEGIN PRIVATE KEY----- [REDACTED]\nMIIEowIBAAKCAQEAx4Tq0aH\nZm9vYmFyYmF6cXV4cXV1eA==\n"
            "after",
            "-----BEGIN PRIVATE KEY----- [REDACTED]\nafter",
        ),
    ],
)
def test_redact(raw: str, expected: str) -> None:
    assert redact(raw) == expected
    assert redact(expected) == expected  # masking twice changes nothing: the text after a key stays


@pytest.mark.parametrize(
    "harmless",
    [
        "input_tokens: 1334, max_output_tokens=200",
        "the token count is high; a basic understanding",
        "ask-questions and desk-lamp",
        "password reset flow documented in README",
        "turn completed: in 1334 (cached 1000) out 76",
    ],
)
def test_redact_leaves_ordinary_text_alone(harmless: str) -> None:
    assert redact(harmless) == harmless


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("sk-ant-api03-AbCdEf0123456789xyzXYZ-_abc", "sk-[REDACTED]"),
        (
            "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "AWS_SECRET_ACCESS_KEY=[REDACTED]",
        ),
        ("export STRIPE_KEY=rk_live_abcdef", "export STRIPE_KEY=[REDACTED]"),
        ("SLACK_BOT_TOKEN='xyz123abc'", "SLACK_BOT_TOKEN='[REDACTED]'"),
        ("PGPASSWORD=hunter2 psql", "PGPASSWORD=[REDACTED] psql"),
        ("DB_PASS=hunter2", "DB_PASS=[REDACTED]"),
        ("gho_0123456789abcdefghijABCDEFGHIJ0123 left", "[REDACTED] left"),
    ],
)
def test_redact_more_secrets(raw: str, expected: str) -> None:
    assert redact(raw) == expected


@pytest.mark.parametrize(
    "harmless", ["id = models.AutoField(primary_key=True)", "sort(key=len)", "MAX_TOKENS = 4096"]
)
def test_generic_assignments_leave_code_alone(harmless: str) -> None:
    assert redact(harmless) == harmless


def test_clean_strips_then_redacts() -> None:
    out = clean(HOSTILE)
    assert out == "COMPLETED: done key sk-[REDACTED] AWS_SECRET_ACCESS_KEY=[REDACTED]"
    assert clean(out) == out  # idempotent


def test_clean_data_cleans_every_string_keys_included() -> None:
    data = {"a\x1b[1m": [HOSTILE, 3, None, {"x": "\x1b]0;t\x07ok"}], "n": 1.5, "t": True}
    out = clean_data(data)
    assert out == {"a": [clean(HOSTILE), 3, None, {"x": "ok"}], "n": 1.5, "t": True}


def _assert_clean(text: str) -> None:
    for bad in ("\x1b", "\x07", "pwned", "sk-proj-AbCdEf", "wJalrXUtnFEMI", "Y29weQ=="):
        assert bad not in text, (bad, text)


def test_worker_fields_of_state_json_are_cleaned_whoever_assigns_them(tmp_path) -> None:
    board = Blackboard(tmp_path)
    board.init()
    attempt = Attempt(
        n=1,
        deadline_s=60,
        outcome=parse_outcome(HOSTILE + "\nmore"),
        progress=AttemptProgress(last_agent_message=HOSTILE, errors=[HOSTILE], turn_failed=HOSTILE),
    )
    assert attempt.outcome is not None and attempt.outcome.status == "COMPLETED"
    assert "sk-proj" not in attempt.outcome.detail  # cleaned when built
    state = TaskState(id="hostile-0001", lane="local", title=HOSTILE, attempts=[attempt])
    state.message = HOSTILE  # assigned raw: cleaned when written
    attempt.error = HOSTILE
    state.failures.append(
        Failure(
            error_type="logic",
            code="worker_failed",
            message=HOSTILE,
            retryable=False,
            trips_breaker=False,
            suggestion=HOSTILE,
            signature="x",
        )
    )
    board.write_state(state)
    raw = (board.task_dir(state.id) / "state.json").read_text(encoding="utf-8")
    _assert_clean(raw)
    _assert_clean(json.dumps(json.loads(raw)))  # no escaped \u001b either
    again = board.read_state(state.id)
    assert again is not None and again.title.startswith("COMPLETED: done")
