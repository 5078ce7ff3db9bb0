"""``cockpit serve`` as a person meets it: the real server in a process of its own, its children read
from /proc, and pages in a real headless Chromium — Debian's ``chromium``, driven by Playwright at that
executable (Playwright's own browser builds are never downloaded or used).

The page draws the terminal on a canvas (xterm.js, WebGL or 2D), so the screen is read from the
terminal's own buffer: an init script notes each xterm.js core terminal as it is built (by the first
property its constructor assigns), and :func:`screen` asks it for the visible rows as text."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.helpers.cloud import wait_until

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

COCKPIT = Path(sys.executable).parent / "cockpit"
TOKEN = "test-token-0123456789abcdef"
CHROMIUM_CANDIDATES = ("chromium", "/usr/lib/chromium/chromium", "chromium-browser")


def chromium_path() -> str | None:
    """Debian's Chromium (``apt-get install chromium``), if installed."""
    for name in CHROMIUM_CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def _why_no_browser() -> str | None:
    if chromium_path() is None:
        return "no Chromium here: `apt-get install chromium` (CI installs it)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is missing: pip install -e '.[test]'"
    return None


needs_chromium = pytest.mark.skipif(_why_no_browser() is not None, reason=str(_why_no_browser()))

# Runs in the page before its own scripts: keeps each xterm.js core terminal (its constructor's first
# own assignment is `_accessibilityManager`), and records the notifications the page asks for.
INIT_SCRIPT = """
(() => {
  window.__terminals = [];
  Object.defineProperty(Object.prototype, "_accessibilityManager", {
    configurable: true,
    set(value) {
      window.__terminals.push(this);
      Object.defineProperty(this, "_accessibilityManager", {
        value, writable: true, configurable: true, enumerable: true,
      });
    },
  });
  window.__notifications = [];
  class RecordedNotification {
    constructor(title, options) { window.__notifications.push({ title, body: (options || {}).body }); }
    close() {}
  }
  RecordedNotification.permission = "granted";
  RecordedNotification.requestPermission = () => Promise.resolve("granted");
  window.Notification = RecordedNotification;
})();
"""

SCREEN_JS = """() => {
  const terminal = window.__terminals[0];
  if (!terminal) return "";
  const buffer = terminal.buffer;
  const rows = [];
  for (let y = 0; y < terminal.rows; y++) {
    const line = buffer.lines.get(buffer.ydisp + y);
    rows.push(line ? line.translateToString(true) : "");
  }
  return rows.join("\\n");
}"""


def live_children(pid: int) -> list[int]:
    """Live (non-zombie) processes whose parent is ``pid``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                fields = fh.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != b"Z":
            found.append(int(entry))
    return found


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        return False


@dataclass
class Served:
    """A running ``cockpit serve``: its output as it comes, its URL, its children."""

    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    url: str = ""
    supervisor_pid: int | None = None

    @property
    def base(self) -> str:
        return self.url.split("/?", 1)[0]

    @property
    def port(self) -> int:
        return int(self.base.rsplit(":", 1)[1])

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def apps(self) -> list[int]:
        """The browser cockpits running now: serve's children but the supervisor it started."""
        return [pid for pid in live_children(self.process.pid) if pid != self.supervisor_pid]

    def wait_apps(self, count: int, timeout: float = 60.0) -> list[int]:
        wait_until(lambda: len(self.apps()) == count or None, timeout, f"{count} browser cockpit(s)")
        return self.apps()

    def wait_output(self, pattern: str, timeout: float = 60.0) -> re.Match[str]:
        return wait_until(lambda: re.search(pattern, self.output), timeout, f"serve saying {pattern!r}")

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 60.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signum)
        return self.process.wait(timeout)


@contextmanager
def serve(
    repo: Path, *args: str, token: str | None = TOKEN, env: dict[str, str] | None = None
) -> Iterator[Served]:
    """``cockpit serve --port 0`` over ``repo`` (the token from ``COCKPIT_SERVE_TOKEN`` unless None);
    yields once the URL is printed; stopped (SIGTERM) and awaited at the end."""
    environ = {**os.environ, **(env or {})}
    environ.pop("COCKPIT_SERVE_TOKEN", None)
    if token is not None:
        environ["COCKPIT_SERVE_TOKEN"] = token
    process = subprocess.Popen(
        [str(COCKPIT), "--repo", str(repo), "serve", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        env=environ,
    )
    served = Served(process)
    reader = threading.Thread(target=served.read, daemon=True)
    reader.start()
    try:
        served.url = served.wait_output(r"cockpit serve: (http://\S+/\?token=\S+)").group(1)
        started = re.search(r"started one \(`cockpit run`, pid (\d+)\)", served.output)
        served.supervisor_pid = int(started.group(1)) if started else None
        yield served
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        reader.join(10)


@contextmanager
def chromium() -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    path = chromium_path()
    assert path is not None
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def open_cockpit(browser: Browser, url: str, *, width: int = 1280, height: int = 800) -> Page:
    """A new tab (a context of its own: its own cookies) on ``url``, its terminal focused for keys."""
    context = browser.new_context(viewport={"width": width, "height": height})
    context.add_init_script(INIT_SCRIPT)
    page = context.new_page()
    page.goto(url)
    page.wait_for_function("() => window.__terminals.length > 0")
    page.focus(".xterm-helper-textarea")
    return page


def screen(page: Page) -> str:
    """The terminal's visible rows, as text."""
    return str(page.evaluate(SCREEN_JS))


def wait_screen(page: Page, *patterns: str, absent: tuple[str, ...] = (), timeout: float = 60.0) -> str:
    """Read the screen until every regex of ``patterns`` shows on one screen, and none of ``absent``;
    the last screen is in the failure. (A key sent right after Escape would join it into one
    sequence: await what Escape does before pressing on.)"""
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = screen(page)
        if all(re.search(p, text) for p in patterns) and not any(re.search(p, text) for p in absent):
            return text
        page.wait_for_timeout(100)  # the page's own loop runs meanwhile
    raise AssertionError(
        f"{patterns} (and not {absent}) not on screen within {timeout:.0f}s; the screen:\n{text}"
    )


def notifications(page: Page) -> list[dict[str, Any]]:
    return list(page.evaluate("() => window.__notifications"))
