"""Desktop notifications by OSC 777 and OSC 9: the text inside the sequences is cleaned first."""

from __future__ import annotations

import io

from cockpit.tui.alerts import desktop_notify, osc_notification


def test_osc_sequences_carry_clean_text() -> None:
    seq = osc_notification("Cockpit waits", "decision-001: evil\x1b]0;title\x07; rm -rf")
    assert seq.startswith("\x1b]777;notify;Cockpit waits;") and "\x1b]9;Cockpit waits: " in seq
    inner = seq.replace("\x1b]777;notify;", "").replace("\x1b]9;", "")
    assert inner.count("\x07") == 2 and "\x1b" not in inner  # only our own terminators remain
    assert "rm -rf" in inner and ";" not in inner.split(";", 2)[-1].split("\x07")[0]


def test_desktop_notify_writes_both_sequences() -> None:
    out = io.StringIO()
    desktop_notify("T", "B", stream=out)
    assert out.getvalue() == "\x1b]777;notify;T;B\x07\x1b]9;T: B\x07"
