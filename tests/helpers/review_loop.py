"""Helpers for the challenge loop's tests: a board whose config turns the cross-family review on, and the
test runner the tests' challenges use. The reviewer's scripted replies (a verdict block, a challenge
backed by a test the reviewer wrote, a Claude Code scenario of one round and try) are the demo's:
:mod:`cockpit.demo.review`."""

from __future__ import annotations

import json
import sys

from cockpit.core.board.blackboard import Blackboard

PYTEST = (sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly")
"""The runner of the tests' challenges (``failing_test(..., runner=PYTEST)``)."""


def review_on(board: Blackboard, *, lanes: tuple[str, ...] = ("worktree",), **settings: object) -> None:
    """Write the board's ``config.toml`` with ``[review]`` on for ``lanes`` (the tests' user config turns
    it off) and the given settings (``soft_cap = 2``, ...)."""
    lines = ["[review]", f"lanes = {json.dumps(list(lanes))}", "reviewer_timeout_s = 120"]
    lines += [f"{key} = {json.dumps(value)}" for key, value in settings.items()]
    (board.root / "config.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
