"""``python -m cockpit.demo.fake_cloud --state DIR [--delay S] [--port N] [--stop-on-stdin-eof]``.

Makes the state directory's certificates (first run only), listens on 127.0.0.1, writes the port to
``DIR/port`` (atomically, once listening) and logs requests to ``DIR/requests.jsonl``. SIGTERM or SIGINT:
the port file is removed and the process exits 0 at once, open tunnels or not. With
``--stop-on-stdin-eof`` the end of stdin stops it the same way, so a fake whose parent died (and with it
the parent's end of the pipe) does not outlive it.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path

from .certs import ensure_certs
from .env import PORT_FILE_NAME
from .requestlog import REQUEST_LOG_NAME, RequestLog
from .server import FakeCloudServer
from .store import Store

_STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}


def _write_port(path: Path, port: int) -> None:
    scratch = path.with_name(f".{path.name}.{os.getpid()}")
    scratch.write_text(f"{port}\n", encoding="utf-8")
    os.replace(scratch, path)


def _stop_at_stdin_eof() -> None:
    while sys.stdin.buffer.read(4096):
        pass
    os.kill(os.getpid(), signal.SIGTERM)  # to the process: the main thread's sigwait takes it


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cockpit.demo.fake_cloud", description=__doc__)
    parser.add_argument(
        "--state", required=True, type=Path, help="state directory (certs, port, request log)"
    )
    parser.add_argument("--delay", type=float, default=0.0, help="seconds a new task stays in_progress")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: any free one)")
    parser.add_argument("--stop-on-stdin-eof", action="store_true", help="stop when stdin reaches its end")
    args = parser.parse_args(argv)
    state: Path = args.state
    state.mkdir(parents=True, exist_ok=True)
    certs = ensure_certs(state)
    # Stop signals are taken synchronously by this thread alone (sigwait): the handler threads started
    # below inherit the mask, and no handler ever runs while a lock is held.
    signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
    server = FakeCloudServer(Store(delay=args.delay), RequestLog(state / REQUEST_LOG_NAME), certs, args.port)
    port_file = state / PORT_FILE_NAME
    try:
        server.start()
        if args.stop_on_stdin_eof:
            threading.Thread(target=_stop_at_stdin_eof, daemon=True).start()
        _write_port(port_file, server.port)
        print(f"fake cloud listening on 127.0.0.1:{server.port} (state {state})", file=sys.stderr, flush=True)
        signal.sigwait(_STOP_SIGNALS)
    finally:
        port_file.unlink(missing_ok=True)
        server.shutdown()
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
