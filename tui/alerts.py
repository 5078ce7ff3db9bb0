"""Getting a human's attention when the cockpit waits: the terminal bell, a desktop notification by
OSC 777 and OSC 9 escape sequences (terminals that know them show a notification, others ignore
them), and ``notify-send`` where it is installed. Served to a browser (``cockpit serve``) the app's
standard output is the channel to the server, so nothing is written there: a ``cockpit_notify``
message goes to the page instead, which asks the browser for a notification."""

from __future__ import annotations

import shutil
import subprocess
import sys
from typing import TYPE_CHECKING, TextIO

from cockpit.core import clean

if TYPE_CHECKING:
    from textual.app import App

BROWSER_NOTIFY = "cockpit_notify"  # the message type the server passes on to the page


def _clean(text: str) -> str:
    """Cleaned like all shown text, then fit inside an escape sequence: one line, no ``;``."""
    return " ".join(clean(text).split()).replace(";", ",")[:200]


def osc_notification(title: str, body: str) -> str:
    title, body = _clean(title), _clean(body)
    return f"\x1b]777;notify;{title};{body}\x07\x1b]9;{title}: {body}\x07"


def desktop_notify(title: str, body: str, stream: TextIO | None = None) -> None:
    out = stream or sys.__stdout__
    if out is not None:
        try:
            out.write(osc_notification(title, body))
            out.flush()
        except (OSError, ValueError):
            pass
    sender = shutil.which("notify-send")
    if sender:
        try:
            subprocess.Popen(
                [sender, _clean(title), _clean(body)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        except OSError:
            pass


def browser_notify(app: App[object], title: str, body: str) -> None:
    """Ask the page that draws this app (served by ``cockpit serve``) to show a notification."""
    driver = app._driver
    write_meta = getattr(driver, "write_meta", None)
    if write_meta is None:
        return
    try:
        write_meta({"type": BROWSER_NOTIFY, "title": _clean(title), "body": _clean(body)})
    except (OSError, ValueError):
        pass
