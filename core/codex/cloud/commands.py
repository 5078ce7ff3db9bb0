"""The ``codex cloud`` command lines, the environment their process gets and the directory it runs in.

Every value that reaches an argv is checked first and refused with :class:`CloudInputError`, naming
the field: a NUL byte, a control character or a leading ``-`` (which the CLI would read as an option)
never gets through. The query of ``exec`` is never an argument: it goes to stdin (``-``), since it
can be long and can start with ``-``.

Every ``codex cloud`` call appends to ``./error.log`` in its working directory (startup, auth mode,
account id, environment lookups, patch dumps). So a call runs in a directory the cockpit owns, under
its board (:func:`prepare_cloud_cwd`), never in the repository or a worktree, where the file would
show up as untracked.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from cockpit.core.errors import InputError

__all__ = [
    "CLOUD_ERROR_LOG",
    "MAX_ATTEMPTS",
    "MAX_LIST_LIMIT",
    "TASK_ID_PATTERN",
    "CloudCommand",
    "CloudInputError",
    "CloudSubcommand",
    "check_branch",
    "check_cursor",
    "check_env_ref",
    "check_task_id",
    "cloud_child_env",
    "cloud_diff",
    "cloud_exec",
    "cloud_list",
    "cloud_status",
    "prepare_cloud_cwd",
]

CloudSubcommand = Literal["exec", "list", "status", "diff"]

TASK_ID_PATTERN: Final = re.compile(r"task_[A-Za-z0-9_]{1,200}")
"""A cloud task id as the backend spells it (``task_e_3d32…``); matched whole."""
MAX_ATTEMPTS: Final = 4  # ``exec --attempts`` (best of N) and ``diff --attempt`` take 1..4
MAX_LIST_LIMIT: Final = 20  # ``list --limit`` takes 1..20
MAX_VALUE_CHARS: Final = 200
CLOUD_ERROR_LOG: Final = "error.log"
"""The file every ``codex cloud`` call appends to, in its working directory (Codex's name, not ours)."""

# What Codex's error text is made longer or harder to read by: removed from every child's environment.
_DROPPED_ALWAYS: Final = ("RUST_BACKTRACE", "RUST_LIB_BACKTRACE")
# Variables that send codex cloud's requests (and its credentials) somewhere other than ChatGPT.
_REDIRECTS: Final = (
    "HTTPS_PROXY",
    "https_proxy",
    "CODEX_CA_CERTIFICATE",
    "SSL_CERT_FILE",
    "CODEX_CLOUD_TASKS_BASE_URL",
    "CODEX_AUTHAPI_BASE_URL",
)
# Dropped from the base environment when ``extra_env`` redirects: other proxies could bypass the one
# given, and a real credential must never reach a test backend.
_DROPPED_WHEN_REDIRECTED: Final = (
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
    "OPENAI_API_KEY",
    "CODEX_ACCESS_TOKEN",
    "CODEX_API_KEY",
)

_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_BRANCH_FORBIDDEN: Final = re.compile(r"[\s~^:?*\[\\]|\.\.|@\{|//")


class CloudInputError(InputError, ValueError):
    """A value for a ``codex cloud`` command line that cannot be used. ``str(err)`` is one line:
    ``invalid cloud argument: <field>: <message>``."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"invalid cloud argument: {field}: {message}")


@dataclass(frozen=True)
class CloudCommand:
    """One ``codex cloud`` call: its subcommand, its argv and what to write to its stdin.

    ``stdin`` is ``None`` for every subcommand but ``exec``: the caller gives the child no stdin
    (``/dev/null``), so nothing waits on a terminal.
    """

    command: CloudSubcommand
    argv: tuple[str, ...]
    stdin: str | None = None


# ------------------------------------------------------------------------------------------- values


def _check_text(field: str, value: object) -> str:
    """A single-line argv value: a string, not blank, not too long, no control character, no leading
    ``-``. Returned as given (surrounding whitespace kept out: Codex trims it anyway)."""
    if not isinstance(value, str):
        raise CloudInputError(field, f"must be a string (got {type(value).__name__})")
    if "\x00" in value:
        raise CloudInputError(field, "must not contain a NUL character")
    if _CONTROL.search(value):
        raise CloudInputError(field, "must not contain control characters")
    text = value.strip()
    if not text:
        raise CloudInputError(field, "must not be empty")
    if text.startswith("-"):
        raise CloudInputError(field, "must not start with '-'")
    if len(text) > MAX_VALUE_CHARS:
        raise CloudInputError(field, f"is longer than {MAX_VALUE_CHARS} characters")
    return text


def _check_count(field: str, value: object, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise CloudInputError(field, f"must be a whole number (got {type(value).__name__})")
    if not 1 <= value <= high:
        raise CloudInputError(field, f"must be between 1 and {high} (got {value})")
    return value


def check_env_ref(value: object, field: str = "env") -> str:
    """A cloud environment id (``env_…``) or label (``owner/repo``; Codex matches labels ignoring case)."""
    return _check_text(field, value)


def check_branch(value: object, field: str = "branch") -> str:
    """A git branch name as the cloud task's base: :func:`check_env_ref`'s rules plus git's own (no
    whitespace, ``..``, ``~^:?*[\\``, ``@{`` or ``//``; not ending in ``/``, ``.`` or ``.lock``)."""
    text = _check_text(field, value)
    if _BRANCH_FORBIDDEN.search(text) or text.startswith("/") or text.endswith(("/", ".", ".lock")):
        raise CloudInputError(field, f"is not a valid git branch name: {text!r}")
    return text


def check_task_id(value: object, field: str = "task_id") -> str:
    """A cloud task id: ``task_`` then letters, digits and underscores (a URL is not accepted here;
    :func:`cockpit.core.codex.cloud.wire.task_id_from_url` reads one)."""
    text = _check_text(field, value)
    if TASK_ID_PATTERN.fullmatch(text) is None:
        raise CloudInputError(field, f"must look like task_<letters, digits, _> (got {text[:60]!r})")
    return text


def check_cursor(value: object, field: str = "cursor") -> str:
    """A ``list`` page cursor as the previous page returned it."""
    return _check_text(field, value)


def _check_query(query: object) -> str:
    if not isinstance(query, str):
        raise CloudInputError("query", f"must be a string (got {type(query).__name__})")
    if "\x00" in query:
        raise CloudInputError("query", "must not contain a NUL character")
    if not query.strip():
        raise CloudInputError("query", "must not be empty")  # Codex refuses an empty stdin query
    return query


# ------------------------------------------------------------------------------------------ commands


def cloud_exec(
    codex: Path | str,
    query: str,
    *,
    env: str,
    attempts: int | None = None,
    branch: str | None = None,
) -> CloudCommand:
    """``codex cloud exec --env ENV [--attempts N] [--branch B] -`` with ``query`` on stdin.

    Without ``branch`` Codex picks the current branch of its working directory, else the default
    branch, else ``main``; the cockpit's private directory has none, so pass the branch explicitly.
    """
    argv = [str(codex), "cloud", "exec", "--env", check_env_ref(env)]
    if attempts is not None:
        argv += ["--attempts", str(_check_count("attempts", attempts, MAX_ATTEMPTS))]
    if branch is not None:
        argv += ["--branch", check_branch(branch)]
    argv.append("-")
    return CloudCommand("exec", tuple(argv), stdin=_check_query(query))


def cloud_list(
    codex: Path | str,
    *,
    env: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> CloudCommand:
    """``codex cloud list --json [--env ENV] [--limit N] [--cursor C]`` (at most 20 tasks a page)."""
    argv = [str(codex), "cloud", "list", "--json"]
    if env is not None:
        argv += ["--env", check_env_ref(env)]
    if limit is not None:
        argv += ["--limit", str(_check_count("limit", limit, MAX_LIST_LIMIT))]
    if cursor is not None:
        argv += ["--cursor", check_cursor(cursor)]
    return CloudCommand("list", tuple(argv))


def cloud_status(codex: Path | str, task_id: str) -> CloudCommand:
    """``codex cloud status TASK``: three lines; exit 0 only for READY (read the tag, not the exit)."""
    return CloudCommand("status", (str(codex), "cloud", "status", check_task_id(task_id)))


def cloud_diff(codex: Path | str, task_id: str, *, attempt: int | None = None) -> CloudCommand:
    """``codex cloud diff [--attempt N] TASK``: the raw unified diff of attempt N (1-based)."""
    argv = [str(codex), "cloud", "diff"]
    if attempt is not None:
        argv += ["--attempt", str(_check_count("attempt", attempt, MAX_ATTEMPTS))]
    argv.append(check_task_id(task_id))
    return CloudCommand("diff", tuple(argv))


# ------------------------------------------------------------------------------- environment, cwd


def cloud_child_env(
    base_env: Mapping[str, str], extra_env: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment of a ``codex cloud`` child: ``base_env`` as it is, without ``RUST_BACKTRACE``
    (it appends a ``Stack backtrace:`` block to every error), then ``extra_env`` on top.

    ``extra_env`` comes from the cockpit's config, for tests and the demo only. When it redirects codex
    cloud (a proxy, a CA bundle, another base URL) it must also name a ``CODEX_HOME``, a throw-away one
    holding dummy credentials, so a real login is never sent to a test backend; the base environment's
    other proxies and credential variables are then dropped too. Neither mapping is changed.
    """
    extra = dict(extra_env or {})
    for key, value in extra.items():
        if not isinstance(key, str) or not key or "=" in key or "\x00" in key:
            raise CloudInputError("extra_env", f"{key!r} is not an environment variable name")
        if not isinstance(value, str) or "\x00" in value:
            raise CloudInputError(f"extra_env.{key}", "must be a string without NUL characters")
    redirected = [key for key in _REDIRECTS if key in extra]
    if redirected and not extra.get("CODEX_HOME"):
        raise CloudInputError(
            "extra_env",
            f"{', '.join(redirected)} needs a throw-away CODEX_HOME beside it (a real login would follow)",
        )
    env = {key: value for key, value in base_env.items() if key not in _DROPPED_ALWAYS}
    if redirected:
        for key in _DROPPED_WHEN_REDIRECTED:
            env.pop(key, None)
    env.update(extra)
    return env


def prepare_cloud_cwd(path: Path, *, board_root: Path) -> Path:
    """Create (mode 0700) and return ``path``, the directory ``codex cloud`` calls run in.

    Every call appends to ``./error.log`` there (:data:`CLOUD_ERROR_LOG`), so it is a directory of
    its own under the board (``board_root``), outside every git working tree: refused when it is not
    below ``board_root``, lies in a task's worktree (a directory holding ``.git`` between it and the
    board), or is not a directory. An existing directory is made 0700 again.
    """
    board = Path(board_root).expanduser().resolve()
    target = Path(path).expanduser().resolve()
    if target == board or board not in target.parents:
        raise CloudInputError("cwd", f"{target} is not a directory below the board {board}")
    for place in (target, *target.parents):
        if place == board:
            break
        if (place / ".git").exists():
            raise CloudInputError("cwd", f"{target} is inside the git working tree {place}")
    if target.exists() and not target.is_dir():
        raise CloudInputError("cwd", f"{target} is not a directory")
    target.mkdir(mode=0o700, parents=True, exist_ok=True)
    target.chmod(0o700)
    return target
