"""Flood benchmark: three Codex streams at 1,000 events/s each for 10 s while the real cockpit shows one.

Measured as a person sees it: the installed ``cockpit --repo R --task <first task>`` runs in a
pseudo-terminal (120x40, ``xterm-256color``) and everything it draws is read back with arrival times
(``pty_app.py``). The bench process holds the blackboard's supervisor lock for the whole run, so the
app is a viewer: no supervisor touches the three fake RUNNING tasks and no Codex process starts.

- Writers: one thread per task appends realistic ``codex exec --json`` lines (``agent_message`` items,
  every fourth a ``command_execution``) to the attempt's ``events.jsonl``, 10 lines every 10 ms with
  ``write`` + ``flush``; each line carries ``seq=<tag>-<n>`` where its rendered row shows it, and the
  flush time of every batch is kept.
- Event-to-screen: reads arriving less than ``FRAME_GAP_S`` apart form one frame (Textual writes a
  frame at once; the pty hands it over in 4 KB reads). For each frame showing rendered rows of the
  first task: frame arrival − flush time of the newest ``seq`` on it, i.e. how far the newest row on
  screen lags the log. Frames from a ``pageup`` until the ``end`` after it are left out (scrolled up,
  the view shows old rows by design). Also printed, for every event of the key-free first
  ``KEYS_FROM_S`` seconds: the time until a frame showed it or a later one (rows scrolled past between
  two frames were on screen as part of the count, and are in the file).
- Key-to-repaint: from ``KEYS_FROM_S`` to the end of the flood a key in every ``KEY_EVERY_S`` slot, at
  a random point of its first half (a fixed period is a multiple of the app's 15 Hz log poll, so every
  key of a run would meet the app at the same point of its cycle, lucky or unlucky by run), cycling
  ``r`` (raw JSON rows appear), ``r`` (rendered rows are back), ``pageup`` (the "N new lines" badge
  appears), ``end`` (a row at least as new as the log was at the ``pageup`` appears): time from the
  write of the key to the first read showing that change. A key with no such change within
  ``KEY_TIMEOUT_S`` is counted apart (an ``end`` after a ``pageup`` that never left the tail is not
  counted at all).
- CPU and memory: ``/proc/<pid>/stat`` user + system time over the flood window as percent of one core
  (and over 2 idle seconds before it); peak RSS is ``VmHWM``. The bench process's own CPU is printed
  too, since it shares the machine.
- Nothing lost: every ``events.jsonl`` must hold exactly the events written, well formed and in order,
  and after the flood the view must reach the first task's last event (``end``) and first (``home``).

- Frame gaps: the time between consecutive frames during the flood (the log changes all the time, so
  a long gap is a loop that could not draw).

With ``--host`` the cockpit hosts the supervisor, as ``cockpit`` does on a repo of one's own, and the three
tasks are queued worktree-lane tasks that the hosted supervisor starts: three real attempt runners
(``cockpit.core.attempts.exec_runner``), each running ``flood_codex.py`` as its Codex
(``COCKPIT_CODEX_BIN``) with stdout into the attempt's ``events.jsonl``, so the supervisor follows (tails,
parses, reduces and persists) all three floods while the app draws. The stand-ins start writing together
when the bench says go and note every flush time. After the flood two of them end their turn (a file
written, a last message, ``turn.completed``) and the hosted supervisor finalises those attempts while the
app runs (worktree committed, diff taken: the tasks go to review); then ``q`` quits with the first worker
still running: printed are the time from ``q`` to the app's exit and whether that worker runs on (quitting
leaves workers running; the next supervisor re-attaches to them). The app runs as ``timed_cockpit.py``, the
same command with the supervisor's passes timed and the UI loop's stalls probed (how late a 5 ms sleep on it
wakes): both are printed for the start-up (worktrees created, runners started), the flood and the finish.

Prints the figures and a table with the targets; asserts nothing. The machine's load average is
printed before and after: other work on a 2-core machine shows up directly in these latencies.
Usage: ``.venv/bin/python tests/bench/flood.py [--host] [--seconds S] [--rate N] [--profile FILE]``.
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import itertools
import json
import os
import platform
import random
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import textual

# pty_app is a sibling module: the script's directory is first on sys.path
from flood_codex import event_line
from pty_app import Chunk, ProcStats, PtyApp, cockpit_argv

from cockpit.core.board.blackboard import Blackboard
from cockpit.core.envelope.model import Envelope
from cockpit.core.records.attempt import Attempt
from cockpit.core.records.basics import TaskStatus
from cockpit.core.records.task import TaskState

TASKS = (("flood-a", "a", "local"), ("flood-b", "b", "worktree"), ("flood-c", "c", "local"))
STAND_IN = Path(__file__).resolve().parent / "flood_codex.py"
TIMED_COCKPIT = Path(__file__).resolve().parent / "timed_cockpit.py"
BATCH_S = 0.010
KEY_EVERY_S = 0.200
KEY_SEED = 1
KEYS_FROM_S = 2.0
FRAME_GAP_S = 0.002
KEY_TIMEOUT_S = 1.0
LONG_GAP_S = 0.1
TARGET_EVENT_MS = 100.0
TARGET_KEY_MS = 50.0


# ------------------------------------------------------------------------------------------- the streams


def rendered_seq(tag: str) -> re.Pattern[str]:
    """``seq`` of a rendered row (an agent message ``» …`` or a command ``$ …``); raw JSON never matches."""
    return re.compile(rf"(?:» |\$ grep -n )seq={tag}-(\d+) ")


@dataclass
class Writer:
    """Appends ``lines`` to ``path`` in batches every ``BATCH_S`` from ``start``; notes each flush."""

    path: Path
    lines: list[bytes]
    per_batch: int
    flushed: list[float] = field(default_factory=list)

    def run(self, start: float) -> None:
        with open(self.path, "ab") as fh:
            for k in range(0, len(self.lines), self.per_batch):
                delay = start + (k // self.per_batch) * BATCH_S - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                fh.write(b"".join(self.lines[k : k + self.per_batch]))
                fh.flush()
                self.flushed.append(time.perf_counter())

    def written_by(self, t: float) -> int:
        """Lines flushed by time ``t``."""
        return min(bisect.bisect_right(self.flushed, t) * self.per_batch, len(self.lines))

    def flush_time(self, n: int) -> float:
        return self.flushed[n // self.per_batch]


# --------------------------------------------------------------------------------------------- the board


def make_board(tmp: Path) -> Blackboard:
    """Three RUNNING tasks whose attempt 1 has an empty ``events.jsonl`` (for the writer threads)."""
    repo = tmp / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    board = Blackboard(repo)
    board.init()
    for task_id, tag, lane in TASKS:
        state = TaskState(
            id=task_id,
            lane=lane,
            title=f"flood writer {tag}",
            status=TaskStatus.RUNNING,
            attempts=[Attempt(n=1, deadline_s=3600.0)],
        )
        board.write_state(state)
        events = board.attempt_dir(task_id, 1) / "events.jsonl"
        events.parent.mkdir(parents=True, exist_ok=True)
        events.touch()
    return board


@dataclass
class Hosted:
    """What ``--host`` sets up: the board with three queued worktree tasks, the app's extra environment
    (the stand-in Codex and its plan) and the directory where the bench and the stand-ins meet."""

    board: Blackboard
    env: dict[str, str]
    meet: Path

    def ready(self) -> list[str]:
        return sorted(p.name for p in self.meet.glob("ready-*"))

    def go(self, start: float) -> None:
        tmp = self.meet / ".go.tmp"
        tmp.write_text(repr(start))
        os.replace(tmp, self.meet / "go")

    def flushed(self, tag: str) -> list[float] | None:
        try:
            return [float(t) for t in json.loads((self.meet / f"flushed-{tag}.json").read_text())]
        except FileNotFoundError:
            return None

    def stop(self, tag: str | None = None) -> None:
        """End one stand-in's turn (``tag``), or every one's."""
        (self.meet / (f"stop-{tag}" if tag else "stop")).write_text("stop")


def make_hosted_board(tmp: Path, per_batch: int, batches: int) -> Hosted:
    """A repository with one commit and three QUEUED worktree-lane tasks (as the supervisor accepts a
    submission), and a Codex stand-in that floods (``flood_codex.py``)."""
    repo = tmp / "repo"
    repo.mkdir()
    git = ["git", "-C", str(repo), "-c", "user.name=Flood Bench", "-c", "user.email=flood@example.invalid"]
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    (repo / "README.md").write_text("flood\n")
    subprocess.run([*git, "add", "README.md"], check=True)
    subprocess.run([*git, "-c", "commit.gpgsign=false", "commit", "-qm", "base", "--no-verify"], check=True)
    base = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout
    board = Blackboard(repo)
    board.init()
    for task_id, tag, _ in TASKS:
        envelope = Envelope.model_validate({"goal": f"Flood {tag}", "lane": "worktree"})
        board.write_envelope(task_id, envelope)
        board.write_state(
            TaskState(
                id=task_id,
                lane="worktree",
                title=f"flood writer {tag}",
                base_commit=base.strip(),
                base_branch="main",
            )
        )
    meet = tmp / "meet"
    meet.mkdir()
    plan = {
        "dir": str(meet),
        "tags": {task_id: tag for task_id, tag, _ in TASKS},
        "per_batch": per_batch,
        "batches": batches,
        "batch_s": BATCH_S,
    }
    (tmp / "plan.json").write_text(json.dumps(plan))
    codex = tmp / "bin" / "codex"
    codex.parent.mkdir()
    codex.write_text(f'#!/bin/sh\nexec {sys.executable} {STAND_IN} "$@"\n')
    codex.chmod(0o755)
    return Hosted(board, {"COCKPIT_CODEX_BIN": str(codex), "FLOOD_PLAN": str(tmp / "plan.json")}, meet)


class LineCounter:
    """Lines in a file so far, read incrementally (what a stand-in has written by now)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.lines = 0

    def __call__(self) -> int:
        with open(self.path, "rb") as fh:
            fh.seek(self.offset)
            data = fh.read()
        self.offset += len(data)
        self.lines += data.count(b"\n")
        return self.lines


def pid_alive(pid: int | None) -> bool:
    """True while ``pid`` is a live, non-zombie process."""
    if not pid:
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return False


def check_file(path: Path, tag: str, expected: int) -> int:
    """Events missing or malformed in ``path`` (0 when it holds exactly seq 0..expected-1 in order,
    and then at most the ``turn.completed`` a stand-in ends its turn with)."""
    bad = 0
    n = -1
    pattern = re.compile(rf"seq={tag}-(\d+)")
    with open(path, "rb") as fh:
        for n, raw in enumerate(fh):
            if n == expected and raw.startswith(b'{"type": "turn.completed"'):
                n -= 1
                break
            try:
                event = json.loads(raw)
                item = event["item"]
                text = item.get("text") or item.get("command") or ""
                match = pattern.search(text)
                if event["type"] != "item.completed" or match is None or int(match.group(1)) != n:
                    bad += 1
            except (ValueError, KeyError, TypeError):
                bad += 1
    return bad + abs(expected - (n + 1))


# -------------------------------------------------------------------------------------------- analysis


def frames(chunks: list[Chunk]) -> list[tuple[float, str]]:
    """Reads grouped into frames: (arrival of the last read, text) for reads less than FRAME_GAP_S apart."""
    out: list[tuple[float, str]] = []
    parts: list[str] = []
    last = None
    for chunk in chunks:
        if last is not None and chunk.t - last > FRAME_GAP_S:
            out.append((last, "".join(parts)))
            parts = []
        parts.append(chunk.text or "")
        last = chunk.t
    if last is not None:
        out.append((last, "".join(parts)))
    return out


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


def summary(values_s: list[float]) -> str:
    if not values_s:
        return "no samples"
    ms = [v * 1e3 for v in values_s]
    return (
        f"p50 {percentile(ms, 50):6.1f}  p95 {percentile(ms, 95):6.1f}  max {max(ms):6.1f} ms  (n={len(ms)})"
    )


@dataclass
class KeySample:
    key: str
    sent: float
    shown: float | None  # arrival of the first read showing the change; None: not within KEY_TIMEOUT_S
    counted: bool = True  # an "end" after a "pageup" that never left the tail measures nothing


def shows_raw(text: str) -> bool:
    return '{"type":' in text


def shows_badge(text: str) -> bool:
    return "new line" in text  # " ↓ N new lines · End "


def drive_keys(
    app: PtyApp, written_now: Callable[[], int], start: float, seconds: float, rendered: re.Pattern[str]
) -> list[KeySample]:
    """From ``KEYS_FROM_S`` into the flood to its end, a key every ``KEY_EVERY_S`` (cycling ``r``, ``r``,
    ``pageup``, ``end``); each waits for its visible effect, at most ``KEY_TIMEOUT_S``. ``written_now``
    says how many lines the first task's log holds at the moment."""

    def shows_rendered(text: str) -> bool:
        return rendered.search(text) is not None

    def shows_rows_from(at_least: int, text: str) -> bool:
        return any(int(m) >= at_least for m in rendered.findall(text))

    samples: list[KeySample] = []
    raw = False
    left_tail = False
    threshold = 0
    step = 0
    jitter = random.Random(KEY_SEED)
    while (due := start + KEYS_FROM_S + step * KEY_EVERY_S + jitter.uniform(0, KEY_EVERY_S / 2)) <= (
        start + seconds
    ):
        while (delay := due - time.perf_counter()) > 0:
            time.sleep(min(delay, 0.02))
            app.decode()  # keep up with the output, so no key waits on a backlog of text
        kind = ("r", "r", "pageup", "end")[step % 4]
        step += 1
        if kind == "r":
            raw = not raw
            check = shows_raw if raw else shows_rendered
        elif kind == "pageup":
            threshold = written_now()
            check = shows_badge
        else:
            check = partial(shows_rows_from, threshold)
        sent = app.send(kind)
        try:
            shown: float | None = app.wait_for(since=sent, check=check, timeout=KEY_TIMEOUT_S).t
        except TimeoutError:
            shown = None
        samples.append(KeySample(kind, sent, shown, counted=kind != "end" or left_tail))
        if kind == "pageup":
            left_tail = shown is not None
    return samples


def late_batches(writer: Writer, start: float) -> int:
    return sum(1 for k, t in enumerate(writer.flushed) if t - (start + k * BATCH_S) > 0.005)


class Sampler(threading.Thread):
    """Reads the app's CPU time at given moments (so the flood's window is exact whatever else runs)."""

    def __init__(self, app: PtyApp, at: list[float]) -> None:
        super().__init__(daemon=True)
        self.app, self.at = app, at
        self.taken: list[tuple[float, ProcStats]] = []

    def run(self) -> None:
        for t in self.at:
            delay = t - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            self.taken.append((time.perf_counter(), self.app.stats()))

    def cpu_percent(self) -> float:
        (t0, a), (t1, b) = self.taken[0], self.taken[-1]
        return (b.cpu_s - a.cpu_s) / (t1 - t0) * 100


# ------------------------------------------------------------------------------------------------ run


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.perf_counter() + timeout
    while not condition():
        if time.perf_counter() > deadline:
            raise TimeoutError(f"no {what} within {timeout:g} s")
        time.sleep(0.01)


def run(seconds: float, rate: int, profile: Path | None = None, host: bool = False) -> None:
    per_batch = max(1, round(rate * BATCH_S))
    batches = round(seconds / BATCH_S)
    per_task = per_batch * batches
    first_id, first_tag, _ = TASKS[0]
    rendered = rendered_seq(first_tag)

    print(f"python    {platform.python_version()}, textual {textual.__version__}, {os.cpu_count()} CPUs")
    print(f"load      {' '.join(f'{x:.2f}' for x in os.getloadavg())} (1/5/15 min) before the run")
    mode = "hosts the supervisor of 3 live workers" if host else "is a viewer (the bench holds the lock)"
    print(
        f"flood     {len(TASKS)} writers x {per_batch * round(1 / BATCH_S):,} events/s x {seconds:g} s "
        f"({per_task:,} events each); the app shows {first_id} in a 120x40 pty and {mode}"
    )

    hosted: Hosted | None = None
    steps: list[tuple[float, float, bool]] = []  # the hosted supervisor's passes: start, duration, on main
    stalls: list[tuple[float, float]] = []  # the UI loop's: start, delay
    phases: dict[str, tuple[float, float]] = {}  # name: (from, to)
    finished: dict[str, str] = {}  # task: status after its attempt was finalised while the app ran
    quit_s: float | None = None
    kept_running: int | None = None
    with tempfile.TemporaryDirectory(prefix="cockpit-flood-") as tmp_name:
        tmp = Path(tmp_name)
        codex_home = tmp / "codex-home"  # empty: no rollouts of this machine's Codex to scan
        codex_home.mkdir()
        env = {"CODEX_HOME": str(codex_home)}
        if host:
            hosted = make_hosted_board(tmp, per_batch, batches)
            board = hosted.board
            env.update(hosted.env)
        else:
            board = make_board(tmp)
        writers = []
        for task_id, tag, _ in TASKS:
            lines = [event_line(tag, n) for n in range(per_task)]
            writers.append(Writer(board.attempt_dir(task_id, 1) / "events.jsonl", lines, per_batch))

        checks_from = float("inf")
        with contextlib.ExitStack() as held:
            if hosted is None:
                held.enter_context(board.lock())  # the app finds the board held: a viewer, no Codex
            argv = cockpit_argv("--repo", str(board.repo), "--task", first_id)
            if hosted is not None:  # the same command, its supervisor's passes timed
                argv = [sys.executable, str(TIMED_COCKPIT), *argv[1:]]
                env["COCKPIT_STEP_TIMES"] = str(tmp / "steps.json")
            if profile is not None:  # the app's main thread (event loop, layout, rendering) under cProfile
                argv = [sys.executable, "-m", "cProfile", "-o", str(profile.resolve()), *argv]
            app = PtyApp(argv, cwd=board.repo, env=env)
            try:
                first = app.wait_for(first_id, "attempt 1", timeout=60)
                print(f"start     first frame of the task view after {(first.t - app.spawned_at):.2f} s")
                if hosted is not None:
                    wait_until(lambda: len(hosted.ready()) == len(TASKS), 60, "three started workers")
                    print(f"workers   {len(TASKS)} runners started by the hosted supervisor")
                    time.sleep(3.0)  # the start-up's own work (worktrees, first snapshots) settles
                else:
                    time.sleep(6.0)  # the "viewer mode" toast (5 s) covers the log's bottom right corner
                now = time.perf_counter()
                idle = Sampler(app, [now, now + 2.0])
                idle.run()

                start = time.perf_counter() + 0.05
                flood = Sampler(app, [start, start + seconds])
                threads: list[threading.Thread] = [flood]
                written_now: Callable[[], int]
                if hosted is None:
                    threads += [threading.Thread(target=w.run, args=(start,), daemon=True) for w in writers]
                    written_now = partial(lambda w: w.written_by(time.perf_counter()), writers[0])
                else:
                    hosted.go(start)
                    written_now = LineCounter(writers[0].path)
                self0 = resource.getrusage(resource.RUSAGE_SELF)
                for thread in threads:
                    thread.start()

                samples = drive_keys(app, written_now, start, seconds, rendered)

                for thread in threads:
                    thread.join()
                if hosted is not None:
                    for (_, tag, _), w in zip(TASKS, writers, strict=True):
                        wait_until(lambda t=tag: hosted.flushed(t) is not None, 30, f"end of flood {tag}")
                        w.flushed = hosted.flushed(tag) or []
                self1 = resource.getrusage(resource.RUSAGE_SELF)
                flood_end = max(w.flushed[-1] for w in writers)

                # Back to the rendered tail: the last event must show; then the top: the first one must.
                raw = sum(1 for s in samples if s.key == "r") % 2 == 1
                back = app.send(*(["r"] if raw else []), "end")
                checks_from = back  # frames after this answer the checks below, not the flood
                reached = []
                for key, seq in (("end", per_task - 1), ("home", 0)):
                    sent = back if key == "end" else app.send(key)
                    try:
                        app.wait_for(
                            since=sent, check=lambda t, n=seq: f"seq={first_tag}-{n} " in t, timeout=10
                        )
                        reached.append(seq)
                    except TimeoutError:
                        pass
                final = app.stats()
                if hosted is not None:
                    # Two workers finish while the app runs: their attempts are finalised (the worktree
                    # committed, the diff taken) by the hosted supervisor.
                    finish_from = time.perf_counter()
                    for _, tag, _ in TASKS[1:]:
                        hosted.stop(tag)

                    def settled(task_id: str) -> bool:
                        state = board.read_state(task_id)
                        return state is not None and state.status != TaskStatus.RUNNING

                    with contextlib.suppress(TimeoutError):
                        wait_until(lambda: all(settled(t) for t, _, _ in TASKS[1:]), 60, "two settled")
                    phases["finish"] = (finish_from, time.perf_counter())
                    for task_id, _, _ in TASKS[1:]:
                        state = board.read_state(task_id)
                        finished[task_id] = state.status.value if state else "unreadable"
                    # Quit while hosting the third: prompt, and that worker keeps running.
                    running = board.read_state(first_id)
                    runners = [running.last_attempt.runner_pid] if running and running.last_attempt else []
                    sent = app.send("q")
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        app.proc.wait(30)
                        quit_s = time.perf_counter() - sent
                    kept_running = sum(pid_alive(pid) for pid in runners)
            finally:
                status = app.close()
                if hosted is not None:
                    hosted.stop()
                    exits = [board.attempt_dir(task_id, 1) / "exit.json" for task_id, _, _ in TASKS]
                    with contextlib.suppress(TimeoutError):
                        wait_until(lambda: all(p.exists() for p in exits), 30, "runners' exit")
                    with contextlib.suppress(FileNotFoundError):
                        notes = json.loads((tmp / "steps.json").read_text())
                        steps = [(t, d, bool(m)) for t, d, m in notes["passes"]]
                        stalls = [(t, d) for t, d in notes["stalls"]]

        lost = {tag: check_file(w.path, tag, per_task) for (_, tag, _), w in zip(TASKS, writers, strict=True)}

    writer = writers[0]
    flood_s = flood_end - start
    frame_list = [f for f in frames(app.decode()) if start <= f[0] <= min(flood_end + 0.5, checks_from)]

    # ---- event-to-screen (frames while the view may be off the tail are left out)
    off_tail: list[tuple[float, float]] = []
    for i, sample in enumerate(samples):
        if sample.key == "pageup":
            end = next((s for s in samples[i + 1 :] if s.key == "end"), None)
            until = float("inf") if end is None else end.shown or end.sent + KEY_TIMEOUT_S
            off_tail.append((sample.sent, until))
    lags: list[float] = []
    for t, text in frame_list:
        seqs = [int(m) for m in rendered.findall(text)]
        if seqs and not any(a <= t < b for a, b in off_tail):
            lags.append(t - writer.flush_time(max(seqs)))
    # every event of the key-free stretch: until a frame showed it or a later one
    quiet = writer.written_by(start + KEYS_FROM_S)
    every: list[float] = []
    for t, text in frame_list:
        seqs = [int(m) for m in rendered.findall(text)]
        newest = min(max(seqs, default=-1), quiet - 1)
        while len(every) <= newest:
            every.append(t - writer.flush_time(len(every)))
        if len(every) >= quiet:
            break

    # ---- key-to-repaint
    by_key: dict[str, list[float]] = {}
    missed: dict[str, int] = {}
    for sample in samples:
        if not sample.counted:
            continue
        if sample.shown is None:
            missed[sample.key] = missed.get(sample.key, 0) + 1
        else:
            by_key.setdefault(sample.key, []).append(sample.shown - sample.sent)
    all_keys = [v for values in by_key.values() for v in values]

    # ---- frame gaps during the flood
    flood_frames = [t for t, _ in frame_list if t <= flood_end]
    gaps = [b - a for a, b in itertools.pairwise(flood_frames)]
    long_gaps = sum(1 for g in gaps if g > LONG_GAP_S)

    # ---- report
    self_pct = (self1.ru_utime + self1.ru_stime - self0.ru_utime - self0.ru_stime) / flood_s * 100
    flood_pct = flood.cpu_percent()
    out_bytes = sum(len(c.data) for c in app.chunks if start <= c.t <= flood_end)
    frame_rate = len(frame_list) / flood_s
    total_lost = sum(lost.values()) + (len(reached) < 2)
    events_p95 = percentile(lags, 95) * 1e3 if lags else float("nan")
    keys_p95 = percentile(all_keys, 95) * 1e3 if all_keys else float("nan")

    late = sum(late_batches(w, start) for w in writers)
    print(
        f"writers   {sum(len(w.lines) for w in writers):,} events flushed in {flood_s:.2f} s "
        f"({late} of {sum(len(w.flushed) for w in writers)} batches > 5 ms late)"
    )
    print(
        f"output    {out_bytes / flood_s / 1e3:.0f} kB/s, {frame_rate:.1f} frames/s during the flood "
        f"({flood_pct * 10 / max(frame_rate, 0.1):.0f} ms of app CPU per frame)"
    )
    print(f"load      {' '.join(f'{x:.2f}' for x in os.getloadavg())} (1/5/15 min) after the run")
    print()
    print(f"event → screen, newest row of each frame   {summary(lags)}")
    print(f"event → screen, every event of 0–{KEYS_FROM_S:g} s      {summary(every)}")
    labels = {"r": "r (raw ⇄ rendered)", "pageup": "pageup (badge shows)", "end": "end (tail again)"}
    for key, label in labels.items():
        note = f", {missed[key]} with no change within {KEY_TIMEOUT_S:g} s" if key in missed else ""
        print(f"key → repaint, {label:<28}{summary(by_key.get(key, []))}{note}")
    print(f"key → repaint, all keys                     {summary(all_keys)}")
    print(f"frame gaps during the flood                 {summary(gaps)}", end="")
    print(f", {long_gaps} over {LONG_GAP_S * 1e3:.0f} ms")
    print(f"app CPU   idle {idle.cpu_percent():5.1f} %, flood {flood_pct:5.1f} % of one core", end="")
    print(f" (bench process: {self_pct:.1f} %)")
    print(
        f"app RSS   peak {final.peak_rss_kb / 1024:.1f} MB (VmHWM), at the end {final.rss_kb / 1024:.1f} MB"
    )
    print(
        f"complete  files: {', '.join(f'{tag} {n} bad' for tag, n in lost.items())}; "
        f"view reached the last and first event of {first_id}: {'yes' if len(reached) == 2 else 'no'}; "
        f"app exit status {status}"
    )
    passes: list[float] = []
    stalls_by_phase: dict[str, list[float]] = {}
    if hosted is not None:
        quit_text = f"{quit_s * 1e3:.0f} ms" if quit_s is not None else "not within 30 s"
        print(f"finish    {', '.join(f'{t} {s}' for t, s in finished.items())} (finalised while the app ran)")
        print(
            f"quit      q → app exited: {quit_text}; the worker still running at the quit runs on: "
            f"{kept_running} of 1"
        )
        phases = {"start-up": (app.spawned_at, start), "flood": (start, flood_end), **phases}
        threads_seen = {"the UI thread" if on_main else "a thread of its own" for _, _, on_main in steps}
        print(f"hosting   supervisor passes ran on {' and '.join(sorted(threads_seen)) or 'no thread'}")
        for name, (a, b) in phases.items():
            in_phase = [d for t, d, _ in steps if a <= t <= b]
            stalls_by_phase[name] = [d for t, d in stalls if a <= t <= b]
            longest = max(in_phase, default=0.0) * 1e3
            print(
                f"  {name:<9} passes {summary(in_phase)}, longest {longest:.1f} ms; "
                f"UI loop stalls {summary(stalls_by_phase[name])}"
            )
        passes = [d for t, d, _ in steps if start <= t <= flood_end]
    print()
    every_p95 = percentile(every, 95) * 1e3 if every else float("nan")
    keys_note = f"   ({sum(missed.values())} keys with no visible change)" if missed else ""
    print(f"{'figure':<36}{'measured':>12}   target")
    print(f"{'p95 event → screen (newest row)':<36}{events_p95:>9.1f} ms   ≤ {TARGET_EVENT_MS:.0f} ms")
    print(f"{'p95 event → screen (every event)':<36}{every_p95:>9.1f} ms   ≤ {TARGET_EVENT_MS:.0f} ms")
    print(f"{'p95 key → repaint':<36}{keys_p95:>9.1f} ms   ≤ {TARGET_KEY_MS:.0f} ms{keys_note}")
    gaps_p95 = percentile(gaps, 95) * 1e3 if gaps else float("nan")
    gaps_max = max(gaps) * 1e3 if gaps else float("nan")
    print(f"{'p95 / max frame gap':<36}{gaps_p95:>9.1f} ms   / {gaps_max:.1f} ms")
    if hosted is not None:
        passes_p95 = percentile(passes, 95) * 1e3 if passes else float("nan")
        where = "UI thread" if any(on_main for _, _, on_main in steps) else "own thread"
        print(f"{'p95 supervisor pass (flood)':<36}{passes_p95:>9.1f} ms   (on the {where})")
        for name, values in stalls_by_phase.items():
            worst = max(values, default=float("nan")) * 1e3
            p99 = percentile(values, 99) * 1e3 if values else float("nan")
            print(f"{f'p99 / max UI loop stall ({name})':<36}{p99:>9.1f} ms   / {worst:.1f} ms")
    print(f"{'app CPU during the flood':<36}{flood_pct:>10.1f} %   (of one core)")
    print(f"{'app peak RSS':<36}{final.peak_rss_kb / 1024:>9.1f} MB")
    print(f"{'lost events':<36}{total_lost:>12}   0")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="flood duration (default 10)")
    parser.add_argument("--rate", type=int, default=1000, help="events/s per writer (default 1000)")
    parser.add_argument("--profile", type=Path, help="run the app under cProfile, writing stats here")
    parser.add_argument(
        "--host", action="store_true", help="the app hosts the supervisor of three live workers (see above)"
    )
    args = parser.parse_args()
    run(args.seconds, args.rate, args.profile, args.host)


if __name__ == "__main__":
    main()
