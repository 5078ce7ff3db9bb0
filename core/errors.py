"""The cockpit's one exception tree: every error the core raises on purpose is a :class:`CockpitError`,
on one of three branches that say what the person (or script) on the other side should do, and which
exit code a front end gives it::

    CockpitError                       anything the cockpit refuses or cannot do, said in one line
    ├── InputError         exit 2     the input is wrong: fix it and ask again (the message names the field)
    │     EnvelopeError, ConfigError (UntrustedSetting), UnknownTask (InvalidId), DecisionError,
    │     FilterError, PayloadError, CloudInputError, UsageError (the CLI's own)
    ├── RefusedError       exit 1     the input is fine, the board's state or the machine says no
    │     BlackboardError (LockHeld), CommandError, GitOpError (GitError), BoardMoveRefused,
    │     UnsafeCommand
    ├── CodexError         exit 1     Codex could not be found, started or understood
    │     CodexNotFound, AppServerError, AppServerClosed, EventParseError, CloudOutputError
    └── ClaudeError        exit 1     Claude Code could not be found, started or understood
          ClaudeNotFound

Front ends (the CLI, the TUI, the MCP server) catch a branch, never a tuple of leaves: a new error
class takes its branch's exit code and rendering by where it sits. Classes keep the built-in base they
had (``ValueError`` for bad values, ``ConnectionError`` for a closed pipe) beside their branch, so code
that catches those still does. ``UnknownTask`` is input (a task id the user gave that names nothing)
and a blackboard error at once; a front end that meets it sees :class:`InputError` first.

This module imports nothing: every layer may raise these.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAIL = 1
EXIT_USAGE = 2


class CockpitError(Exception):
    """An error the cockpit raises on purpose, with a message meant for a person."""

    exit_code = EXIT_FAIL


class InputError(CockpitError):
    """Invalid input: the message names what is wrong (exit 2)."""

    exit_code = EXIT_USAGE


class RefusedError(CockpitError):
    """Valid input that cannot go ahead now: a task in the wrong state, a held lock, a git refusal."""


class CodexError(CockpitError):
    """Codex itself: not found, would not start, or said something the cockpit cannot use."""


class ClaudeError(CockpitError):
    """Claude Code itself: not found, would not start, or said something the cockpit cannot use."""


def exit_code_of(exc: BaseException) -> int:
    """The exit code a front end gives ``exc`` (input first: an error on both branches is input)."""
    if isinstance(exc, InputError):
        return EXIT_USAGE
    return EXIT_FAIL
