"""The mcp lane: Codex runs through ``codex app-server`` so its approval requests reach the cockpit.

Work happens in a git worktree exactly like the worktree lane (the result waits in review as a diff);
only the runner differs: :mod:`cockpit.core.attempts.app_server_runner` drives the turn and turns each
approval request into a decision card.
"""

from __future__ import annotations

from cockpit.core.lanes.worktree import WorktreeLane


class McpLane(WorktreeLane):
    name = "mcp"
    runner_module = "cockpit.core.attempts.app_server_runner"
