"""The cockpit one browser connection runs (started by ``cockpit serve``, never by a person): a viewer
of the board, whose commands go through the inbox to the supervisor that holds it.

    python -m cockpit.cli.served_app REPO

Its standard input and output carry textual-serve's protocol (the ``WebDriver`` that the server names
in ``TEXTUAL_DRIVER``), so it prints nothing of its own."""

from __future__ import annotations

import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    from cockpit.cli.main import _leave_after_ui
    from cockpit.tui.app import CockpitApp

    (repo,) = argv
    CockpitApp(Path(repo), host_supervisor=False).run()
    return _leave_after_ui(0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
