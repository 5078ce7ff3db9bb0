"""Lane adapters: where an attempt runs (its working directory) and what happens to its result.

One small interface, one adapter per lane. ``local`` runs in the repo's working tree, one task at a
time; ``worktree`` runs in a git worktree and branch of its own and ends in a diff for review; ``mcp``
works like ``worktree`` but drives Codex through its app-server, so approval requests become decision
cards; ``cloud`` submits the task to Codex Cloud, follows it there and applies the chosen attempt's
diff in a worktree of its own, from where it is reviewed like a worktree task.
"""

from __future__ import annotations

from cockpit.core.lanes.base import Lane
from cockpit.core.lanes.cloud import CloudLane
from cockpit.core.lanes.local import LocalLane
from cockpit.core.lanes.mcp import McpLane
from cockpit.core.lanes.worktree import WorktreeLane

LANES: dict[str, type[Lane]] = {
    "local": LocalLane,
    "worktree": WorktreeLane,
    "cloud": CloudLane,
    "mcp": McpLane,
}

__all__ = ["LANES", "CloudLane", "Lane", "LocalLane", "McpLane", "WorktreeLane"]
