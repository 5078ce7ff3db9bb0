"""A stand-in for the Codex binary that floods: ``flood.py --host`` points ``COCKPIT_CODEX_BIN`` at a
wrapper that runs this script, so the hosted supervisor starts real attempt runners and each runner's
"Codex" writes the flood's ``codex exec --json`` lines to its stdout (the attempt's ``events.jsonl``).

Standard library only (it starts as fast as a runner). Its arguments (Codex's argv) are ignored; the
plan comes from the JSON file named by ``FLOOD_PLAN``: ``dir`` (where the bench and the stand-ins meet),
``tags`` (task id -> tag, the task id is ``COCKPIT_TASK_ID``), ``per_batch``, ``batches`` and
``batch_s``. The stand-in writes ``ready-<tag>``, waits for ``go`` (holding the start time, a
``time.perf_counter`` value: ``CLOCK_MONOTONIC``, the same in every process), writes a batch every
``batch_s`` from then on with one ``write``, then writes the flush time of every batch to
``flushed-<tag>.json`` and keeps running until ``stop-<tag>`` or ``stop`` appears (so the bench decides
which attempts end while it watches, and which outlive the cockpit's quit). Then it finishes as Codex
does a successful turn: a file in its working directory (the task's worktree, for the review), its last
message (``-o``) and a ``turn.completed`` line; and exits 0.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

POLL_S = 0.002
STOP_POLL_S = 0.05
MAX_WAIT_S = 600.0


def event_line(tag: str, n: int) -> bytes:
    """One compact ``codex exec --json`` line carrying ``seq=<tag>-<n>`` where its rendered row shows it."""
    if n % 4 == 3:
        item = {
            "id": f"item_{n}",
            "type": "command_execution",
            "command": f"/bin/bash -lc 'grep -n seq={tag}-{n} core/attempts/tailer.py'",
            "aggregated_output": f"core/attempts/tailer.py:{n % 200 + 1}:    # seq={tag}-{n}\n",
            "exit_code": 0,
            "status": "completed",
        }
    else:
        item = {
            "id": f"item_{n}",
            "type": "agent_message",
            "text": f"seq={tag}-{n} Checking how the tailer keeps a partial last line until its newline "
            "arrives, then the reducer counts the command.",
        }
    return json.dumps({"type": "item.completed", "item": item}, separators=(",", ":")).encode() + b"\n"


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _wait_for(path: Path, every: float) -> str:
    deadline = time.monotonic() + MAX_WAIT_S
    while time.monotonic() < deadline:
        try:
            return path.read_text(encoding="utf-8")
        except FileNotFoundError:
            time.sleep(every)
    raise SystemExit(f"flood_codex: no {path.name} within {MAX_WAIT_S:g} s")


def main() -> int:
    plan = json.loads(Path(os.environ["FLOOD_PLAN"]).read_text(encoding="utf-8"))
    meet = Path(plan["dir"])
    tag = plan["tags"][os.environ["COCKPIT_TASK_ID"]]
    per_batch, batches, batch_s = int(plan["per_batch"]), int(plan["batches"]), float(plan["batch_s"])
    lines = [event_line(tag, n) for n in range(per_batch * batches)]
    _write_atomic(meet / f"ready-{tag}", str(os.getpid()))
    start = float(_wait_for(meet / "go", POLL_S))
    out = sys.stdout.fileno()
    flushed: list[float] = []
    for k in range(batches):
        delay = start + k * batch_s - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        os.write(out, b"".join(lines[k * per_batch : (k + 1) * per_batch]))
        flushed.append(time.perf_counter())
    _write_atomic(meet / f"flushed-{tag}.json", json.dumps(flushed))
    deadline = time.monotonic() + MAX_WAIT_S
    while not ((meet / "stop").exists() or (meet / f"stop-{tag}").exists()):
        if time.monotonic() > deadline:
            return 1
        time.sleep(STOP_POLL_S)
    Path(f"FLOOD-{tag}.md").write_text(f"# Flood {tag}\n\n{len(lines)} events written.\n", encoding="utf-8")
    if "-o" in sys.argv[:-1]:
        Path(sys.argv[sys.argv.index("-o") + 1]).write_text(
            f"COMPLETED: flood {tag} done\n", encoding="utf-8"
        )
    usage = {"input_tokens": 1000, "cached_input_tokens": 0, "output_tokens": 100}
    os.write(out, json.dumps({"type": "turn.completed", "usage": usage}).encode() + b"\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
