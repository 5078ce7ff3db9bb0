"""The judge: each challenge's evidence run in Codex's sandbox, in a throw-away checkout of the reviewed
commit, and labelled from what happened — never from what the reviewer (or anyone) says about it.

:func:`judge_challenges` takes a round's challenges and returns them labelled (``labelled_by="judge"``):

* a command that shows the claimed failure — it exits non-zero, or 0 when the evidence ``expect``\\ s
  ``succeeds`` — is **VALID**; one that does not is **NOISE**, its output kept;
* a command that cannot show anything either way is **PARTIAL**, with the reason: not found or not
  executable in the sandbox, the sandbox failed or refused what it did (a write outside the checkout,
  the network), a test runner that ran no test (pytest's exit 2 to 5), a missing module, a timeout;
* a challenge without a command (a reading of the spec, a quoted criterion) is **PARTIAL**, for a human
  to label; so is every challenge when ``codex sandbox`` does not work on this machine (doctor's check):
  evidence never runs outside the sandbox;
* a challenge that already has a label (the cockpit's own validation-retreat findings, a human's) is
  returned as it is.

Where and how a command runs: ``codex sandbox -c sandbox_mode="workspace-write"``
(:mod:`cockpit.core.codex.sandbox`) with the network off, ``/tmp`` and ``$TMPDIR`` excluded, its
working directory a detached worktree of the reviewed commit that the judge adds under the caller's
``work_dir`` and removes afterwards (``judge-<random>/checkout-<n>``, beside ``scratch/`` — the
command's ``TMPDIR`` and only other writable root — and an empty ``codex-home/``). Never the user's
checkout, never ``shell=True`` on the host: an evidence shell line runs as ``bash -c`` inside the
sandbox. The evidence's ``files`` are written into the checkout first, component by component without
following a symbolic link. Before each command the checkout is reset to the commit and cleaned (made
afresh when that fails), so one challenge's command cannot change another's result. Each command has
a wall-clock limit; past it the command's process group (and anything left in its session) is
killed. stdout and stderr are read as they come and only their tails are kept (cleaned). Inside the
sandbox a one-line ``sh`` launcher leaves a mark in the scratch directory and ``exec``-s the command:
without the mark the sandbox never started it (Codex refused its own configuration, say), and its
exit code, whatever it is, shows nothing (PARTIAL).

Blocking (it runs commands for up to ``timeout_s`` each): the supervisor calls it off its loop, with a
``stop`` event it sets when the task leaves review (cancelled) or the supervisor stops: the command under
way is killed like one past its limit, the rest are not started (PARTIAL), and the judge's directory is
removed before it returns. :func:`remove_leftovers` clears what a judge killed mid-run left under
``work_dir``.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shlex
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cockpit.core.codex.sandbox import sandbox_argv, sandbox_env, sandbox_works
from cockpit.core.errors import RefusedError
from cockpit.core.git.operations import add_detached_worktree, main_git, remove_worktree, reset_to
from cockpit.core.git.safe_command import GitOpError
from cockpit.core.processes import die_with_parent, kill_group
from cockpit.core.records.review import Challenge, Evidence, JudgeOutput, Label
from cockpit.core.review.verdict import safe_relative_path
from cockpit.core.text import clean, cut

__all__ = [
    "DEFAULT_TIMEOUT_S",
    "JUDGE_DIR_PREFIX",
    "STOPPED",
    "JudgeRefused",
    "judge_challenges",
    "launched",
    "remove_leftovers",
    "write_confined",
]

DEFAULT_TIMEOUT_S: Final = 300.0
JUDGE_DIR_PREFIX: Final = "judge-"
TAIL_CHARS: Final = 4_000  # of stdout and of stderr, kept in the record
_TAIL_BYTES: Final = 16 * 1024  # kept while reading (before decoding and cleaning)
_KILL_GRACE_S: Final = 2.0
_STOP_POLL_S: Final = 0.1  # how often a running command's wait looks at the stop event
STOPPED: Final = "not run to its end: the review was stopped (the task left review)"

SandboxCheck = Callable[[Path], tuple[bool, str]]


class JudgeRefused(RefusedError, ValueError):
    """The judge will not work where it was asked to (its directory inside the user's checkout)."""


# ------------------------------------------------------------------------------------- running one


@dataclass
class _Ran:
    started: bool = False  # the sandbox started the command (its launcher left the mark)
    exit_code: int | None = None
    timed_out: bool = False
    stopped: bool = False  # killed because the stop event was set
    duration_s: float = 0.0
    stdout: bytes = b""
    stderr: bytes = b""
    total_bytes: int = 0
    start_error: str | None = None


class _Tail:
    """The last bytes of a stream, read on a thread of its own."""

    def __init__(self, stream: int) -> None:
        self.data = bytearray()
        self.total = 0
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, fd: int) -> None:
        try:
            while chunk := os.read(fd, 65536):
                self.total += len(chunk)
                self.data += chunk
                if len(self.data) > 2 * _TAIL_BYTES:
                    del self.data[: len(self.data) - _TAIL_BYTES]
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                os.close(fd)

    def result(self, wait_s: float) -> bytes:
        self._thread.join(wait_s)
        return bytes(self.data[-_TAIL_BYTES:])


def _session_members(sid: int) -> list[int]:
    """Processes whose session is ``sid`` (Linux ``/proc``; empty elsewhere)."""
    found: list[int] = []
    with contextlib.suppress(OSError):
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                stat = Path(entry.path, "stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rfind(")") + 2 :].split()
            if len(fields) > 3 and fields[3] == str(sid):
                found.append(int(entry.name))
    return found


def _kill_all(proc: subprocess.Popen[bytes]) -> None:
    """The command's process group, then anything else left in its session."""
    kill_group(proc.pid, signal.SIGTERM)
    try:
        proc.wait(_KILL_GRACE_S)
    except subprocess.TimeoutExpired:
        pass
    kill_group(proc.pid, signal.SIGKILL)
    for pid in _session_members(proc.pid):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(10)


def launched(command: list[str], mark: Path) -> list[str]:
    """``command`` behind a launcher that runs inside the sandbox: it leaves ``mark`` (in the scratch
    directory), then becomes the command (``exec``: same process, same exit code). No mark afterwards
    means the sandbox never started the command — whatever the exit code says."""
    script = f': > {shlex.quote(str(mark))} && exec "$@"'
    return ["sh", "-c", script, "sh", *command]


def _wait(proc: subprocess.Popen[bytes], timeout_s: float, stop: threading.Event | None) -> int | None:
    """The command's exit code, or None once ``timeout_s`` has passed or ``stop`` is set."""
    if stop is None:
        try:
            return proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            return None
    deadline = time.monotonic() + timeout_s
    while not stop.is_set():
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        try:
            return proc.wait(min(left, _STOP_POLL_S))
        except subprocess.TimeoutExpired:
            continue
    return proc.poll()


def _run(
    argv: list[str],
    *,
    cwd: Path,
    env: dict[str, str],
    timeout_s: float,
    mark: Path | None = None,
    stop: threading.Event | None = None,
) -> _Ran:
    started = time.monotonic()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    try:
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out_w,
            stderr=err_w,
            start_new_session=True,
            preexec_fn=die_with_parent(os.getpid()),
        )
    except (OSError, ValueError) as exc:
        for fd in (out_r, out_w, err_r, err_w):
            os.close(fd)
        return _Ran(start_error=str(exc), duration_s=time.monotonic() - started)
    os.close(out_w)
    os.close(err_w)
    out, err = _Tail(out_r), _Tail(err_r)
    ran = _Ran()
    ran.exit_code = _wait(proc, timeout_s, stop)
    if ran.exit_code is None:
        ran.stopped = stop is not None and stop.is_set()
        ran.timed_out = not ran.stopped
        _kill_all(proc)
    else:
        # The command ended; a child it left behind in its group must not outlive the judge.
        kill_group(proc.pid, signal.SIGKILL)
    ran.duration_s = time.monotonic() - started
    ran.started = mark is None or mark.exists()
    ran.stdout, ran.stderr = out.result(5.0), err.result(5.0)
    ran.total_bytes = out.total + err.total
    return ran


# ------------------------------------------------------------------------------------------ labels

_PYTEST_EXITS: Final = {
    2: "pytest was interrupted (exit 2: e.g. an error while collecting the tests)",
    3: "pytest failed internally (exit 3)",
    4: "pytest could not run as asked (exit 4: a test, file or option not found)",
    5: "pytest collected no test (exit 5)",
}
_PATH_DENIED: Final = re.compile(r"Read-only file system")
# The network is off in the sandbox: a connection that failed there (refused, even on the loopback) says
# nothing about the claim.
_NETWORK_DENIED: Final = re.compile(
    r"Temporary failure in name resolution|Name or service not known|Could not resolve host|"
    r"Network is unreachable|getaddrinfo (?:ENOTFOUND|EAI_AGAIN)|nodename nor servname|"
    r"Operation not permitted|Connection refused|ECONNREFUSED|Couldn't connect to server|"
    r"Failed to connect to"
)
_CURL_NETWORK_EXITS: Final = frozenset({5, 6, 7, 28})  # proxy or host not resolved, no connection, timeout
_MISSING_MODULE: Final = re.compile(r"No module named ['\"]?([\w.]+)|ModuleNotFoundError|Cannot find module")


def _runs_pytest(argv: list[str]) -> bool:
    words = " ".join(argv[2:]) if argv[:2] == ["bash", "-c"] else " ".join(argv)
    return bool(re.search(r"(?:^|[\s/])(?:py\.test|pytest)(?:\s|$)|-m\s+pytest\b", words))


def _runs_curl(argv: list[str]) -> bool:
    words = " ".join(argv[2:]) if argv[:2] == ["bash", "-c"] else " ".join(argv[:1])
    return bool(re.search(r"(?:^|[\s/;&|(])curl(?:\s|$)", words))


def _label(evidence: Evidence, argv: list[str], ran: _Ran, timeout_s: float) -> tuple[Label, str]:
    code = ran.exit_code
    stderr = ran.stderr.decode("utf-8", "replace")
    both = ran.stdout.decode("utf-8", "replace") + "\n" + stderr
    if ran.start_error is not None:
        return "PARTIAL", f"not run: codex sandbox could not start ({ran.start_error})"
    if ran.stopped:
        return "PARTIAL", STOPPED
    if not ran.started and not ran.timed_out:
        line = next((ln.strip() for ln in stderr.splitlines() if ln.strip()), f"exit {code}")
        return "PARTIAL", f"not run: the sandbox did not start the command ({cut(line, 200)})"
    if ran.timed_out:
        return "PARTIAL", f"did not finish within {timeout_s:g}s and was killed: shows nothing either way"
    if code is None:
        return "PARTIAL", "the command's end was not seen"
    if code == 101 and "panicked at" in stderr:
        if "Failed to execvp" in stderr:
            return "PARTIAL", f"cannot run: {cut(argv[0], 80)!r} was not found inside the sandbox"
        line = next((ln for ln in stderr.splitlines() if "panicked" in ln or "Failed" in ln), "")
        return "PARTIAL", f"the sandbox failed: {cut(line.strip(), 200)}"
    if code in (126, 127):
        if argv and re.search(rf"{re.escape(argv[0])}: (?:not found|No such file)", stderr):
            return "PARTIAL", f"cannot run: {cut(argv[0], 80)!r} was not found inside the sandbox"
        return "PARTIAL", f"cannot run: a program was not found or not executable (exit {code})"
    if code < 0:
        return "PARTIAL", f"killed by signal {-code}"
    if _runs_pytest(argv) and code in _PYTEST_EXITS:
        return "PARTIAL", f"{_PYTEST_EXITS[code]}: shows no test failing"
    shown = code != 0 if evidence.expect == "fails" else code == 0
    if not shown:
        if evidence.expect == "fails":
            return "NOISE", "not reproduced: the command passed (exit 0)"
        return "NOISE", f"not reproduced: the command failed (exit {code}), as it should"
    if code != 0:
        missing = _MISSING_MODULE.search(both)
        if missing:
            what = f"module {missing.group(1)!r}" if missing.group(1) else "a module"
            return "PARTIAL", f"failed (exit {code}), but {what} is missing in the sandbox: cannot tell"
        if "can't open file" in stderr and code == 2:
            return "PARTIAL", "cannot run: the script named is not in the reviewed commit (exit 2)"
        if _PATH_DENIED.search(both):
            return "PARTIAL", (
                f"failed (exit {code}), but it tried to write outside its checkout (refused by the "
                "sandbox): cannot tell whether the claim holds"
            )
        if _NETWORK_DENIED.search(both) or (_runs_curl(argv) and code in _CURL_NETWORK_EXITS):
            return "PARTIAL", (
                f"failed (exit {code}), but it needed the network or an operation the sandbox refuses: "
                "cannot tell whether the claim holds"
            )
        return "VALID", f"reproduced: the command failed (exit {code})"
    return "VALID", "reproduced: the command succeeded (exit 0) where it should have been refused"


def _output(argv: list[str], ran: _Ran) -> JudgeOutput:
    def tail(data: bytes) -> str:
        text = clean(data.decode("utf-8", "replace"))
        return text if len(text) <= TAIL_CHARS else "…" + text[-(TAIL_CHARS - 1) :]

    return JudgeOutput(
        argv=argv,
        exit_code=ran.exit_code,
        timed_out=ran.timed_out,
        duration_s=round(ran.duration_s, 3),
        stdout_tail=tail(ran.stdout),
        stderr_tail=tail(ran.stderr),
        output_bytes=ran.total_bytes,
    )


# ------------------------------------------------------------------------------ the judge's checkout


def _force_remove(path: Path) -> None:
    """Remove ``path`` even where a command left directories without write or search permission;
    symbolic links are removed, never followed."""
    if not os.path.lexists(path):
        return
    if path.is_symlink() or not path.is_dir():
        with contextlib.suppress(OSError):
            path.unlink()
        return
    for root, dirs, _files in os.walk(path):
        for name in dirs:
            full = os.path.join(root, name)
            if not os.path.islink(full):
                with contextlib.suppress(OSError):
                    os.chmod(full, 0o700)
    with contextlib.suppress(OSError):
        os.chmod(path, 0o700)
    shutil.rmtree(path, ignore_errors=True)


def write_confined(root: Path, relative: str, content: str) -> None:
    """Write ``content`` to ``root/relative``, creating directories, never through a symbolic link (a
    worker may have committed one pointing anywhere). Raises ``OSError`` or ``ValueError``."""
    path = safe_relative_path(relative)
    if path is None:
        raise ValueError(f"{relative!r} is not a path inside the repository")
    *parents, name = path.split("/")
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
    fd = os.open(root, flags)
    try:
        for part in parents:
            with contextlib.suppress(FileExistsError):
                os.mkdir(part, 0o755, dir_fd=fd)
            next_fd = os.open(part, flags, dir_fd=fd)
            os.close(fd)
            fd = next_fd
        out = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644, dir_fd=fd)
        with os.fdopen(out, "w", encoding="utf-8", errors="surrogateescape") as handle:
            handle.write(content)
    finally:
        os.close(fd)


@dataclass
class _Place:
    repo: Path
    base: Path
    head_commit: str
    checkout: Path | None = None
    made: int = 0

    @property
    def scratch(self) -> Path:
        return self.base / "scratch"

    @property
    def codex_home(self) -> Path:
        return self.base / "codex-home"

    def fresh(self) -> Path:
        """The checkout at the commit, clean: made the first time, then reset (made anew if that fails)."""
        if self.checkout is not None:
            try:
                reset_to(self.checkout, self.head_commit)
                self._clear(self.scratch)
                return self.checkout
            except GitOpError:
                self._drop_checkout()
        self.made += 1
        self.checkout = self.base / f"checkout-{self.made}"
        add_detached_worktree(self.repo, self.checkout, self.head_commit)
        self._clear(self.scratch)
        return self.checkout

    @staticmethod
    def _clear(path: Path) -> None:
        _force_remove(path)
        path.mkdir(mode=0o700)

    def _drop_checkout(self) -> None:
        if self.checkout is None:
            return
        with contextlib.suppress(GitOpError, OSError):
            remove_worktree(self.repo, self.checkout, None)
        _force_remove(self.checkout)
        with contextlib.suppress(GitOpError, OSError):
            main_git(self.repo).run("worktree", "prune", check=False)
        self.checkout = None

    def remove(self) -> None:
        self._drop_checkout()
        _force_remove(self.base)


def _check_place(repo: Path, work_dir: Path) -> None:
    """Refuse a ``work_dir`` inside the user's working tree (its git directory is fine: the board is
    there)."""
    git = main_git(repo)
    top = Path(os.path.realpath(git.work_tree or repo))
    common = Path(os.path.realpath(git.common_dir))
    where = Path(os.path.realpath(work_dir))
    if where.is_relative_to(top) and not where.is_relative_to(common):
        raise JudgeRefused(
            f"refusing to judge in {work_dir}: it is inside the checkout {top} (give a directory on the "
            "board or outside the repository)"
        )


def remove_leftovers(repo: Path, work_dir: Path) -> list[Path]:
    """Remove every judge directory under ``work_dir`` (left by a judge that was killed) and prune the
    repository's worktree list; returns what was removed. Only while no judge runs there."""
    removed: list[Path] = []
    if not work_dir.is_dir():
        return removed
    for entry in sorted(work_dir.iterdir()):
        if entry.name.startswith(JUDGE_DIR_PREFIX) and entry.is_dir() and not entry.is_symlink():
            _force_remove(entry)
            removed.append(entry)
    with contextlib.suppress(GitOpError, OSError):
        main_git(repo).run("worktree", "prune", check=False)
    return removed


# --------------------------------------------------------------------------------------- the judge


def _not_executable_reason(evidence: Evidence) -> str:
    if evidence.problem:
        return f"not run: {evidence.problem}"
    if evidence.criterion:
        return "no command to run: a reading of the spec, for a human to label"
    return "no evidence to run or quote"


def judge_challenges(
    challenges: Sequence[Challenge],
    *,
    repo: Path,
    head_commit: str,
    work_dir: Path,
    codex: Path,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    sandbox: tuple[bool, str] | None = None,
    deadline: float | None = None,
    sandbox_check: SandboxCheck = sandbox_works,
    stop: threading.Event | None = None,
) -> list[Challenge]:
    """``challenges`` labelled by the judge, in their order (see the module docstring).

    ``repo`` is the user's repository (its main checkout); ``head_commit`` the reviewed commit;
    ``work_dir`` where the judge makes its throw-away directory (created if missing; the board's, or
    any directory outside the user's working tree); ``codex`` the Codex binary; ``timeout_s`` each
    command's wall-clock limit. ``sandbox`` is a known answer of doctor's sandbox check (``(ok, detail)``);
    None checks now (once, only when there is something to run). ``deadline`` (``time.monotonic()``)
    leaves the commands not started by then PARTIAL. ``stop``, once set, kills the command under way and
    leaves the rest PARTIAL (:data:`STOPPED`). Raises :class:`JudgeRefused` for a ``work_dir`` inside the
    user's checkout, before anything is created.
    """
    out = list(challenges)
    todo: list[int] = []
    for i, challenge in enumerate(out):
        if challenge.label is not None:
            continue
        if challenge.evidence.executable:
            todo.append(i)
        else:
            out[i] = challenge.labelled("PARTIAL", "judge", _not_executable_reason(challenge.evidence))
    if not todo:
        return out
    _check_place(repo, work_dir)
    ok, detail = sandbox if sandbox is not None else sandbox_check(codex)
    if not ok:
        reason = (
            f"not run: codex sandbox is unavailable on this machine ({cut(detail, 200)}); "
            "evidence never runs outside it"
        )
        for i in todo:
            out[i] = out[i].labelled("PARTIAL", "judge", reason)
        return out
    work_dir.mkdir(parents=True, exist_ok=True)
    base = work_dir / f"{JUDGE_DIR_PREFIX}{secrets.token_hex(4)}"
    base.mkdir(mode=0o700)
    place = _Place(repo=repo, base=base, head_commit=head_commit)
    try:
        place.codex_home.mkdir(mode=0o700)
        for i in todo:
            out[i] = _judge_one(out[i], place, codex, timeout_s, deadline, stop)
    finally:
        place.remove()
    return out


def _judge_one(
    challenge: Challenge,
    place: _Place,
    codex: Path,
    timeout_s: float,
    deadline: float | None,
    stop: threading.Event | None,
) -> Challenge:
    evidence = challenge.evidence
    argv = evidence.argv or []
    if stop is not None and stop.is_set():
        return challenge.labelled("PARTIAL", "judge", STOPPED)
    if deadline is not None and time.monotonic() >= deadline:
        return challenge.labelled("PARTIAL", "judge", "not run: the judge's time for this round ran out")
    try:
        checkout = place.fresh()
    except (GitOpError, OSError) as exc:
        return challenge.labelled("PARTIAL", "judge", f"not run: no checkout of the reviewed commit ({exc})")
    for name, content in evidence.files.items():
        try:
            write_confined(checkout, name, content)
        except (OSError, ValueError) as exc:
            return challenge.labelled("PARTIAL", "judge", f"not run: could not write {name} ({exc})")
    limit = timeout_s if deadline is None else max(1.0, min(timeout_s, deadline - time.monotonic()))
    mark = place.scratch / ".judge-started"
    try:
        full = sandbox_argv(codex, launched(argv, mark), scratch=place.scratch)
    except ValueError as exc:
        return challenge.labelled("PARTIAL", "judge", f"not run: {exc}")
    env = sandbox_env(scratch=place.scratch, codex_home=place.codex_home)
    ran = _run(full, cwd=checkout, env=env, timeout_s=limit, mark=mark, stop=stop)
    label, reason = _label(evidence, argv, ran, limit)
    return challenge.labelled(label, "judge", reason, _output(argv, ran))
