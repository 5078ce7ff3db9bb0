"""Lane adapters: where an attempt runs (its working directory) and what happens to its result.

One small interface, one adapter per lane. ``local`` runs in the repo's working tree, one task at a
time; ``worktree`` runs in a git worktree and branch of its own and ends in a diff for review; ``mcp``
works like ``worktree`` but drives Codex through its app-server, so approval requests become decision
cards. The cloud lane is not built yet: its tasks stay queued and say so.
"""

from __future__ import annotations

from cockpit.core.lanes.base import Lane, LaneNotBuilt
from cockpit.core.lanes.local import LocalLane
from cockpit.core.lanes.mcp import McpLane
from cockpit.core.lanes.worktree import WorktreeLane
from cockpit.core.vocabulary import UNBUILT

LANES: dict[str, type[Lane]] = {"local": LocalLane, "worktree": WorktreeLane, "mcp": McpLane}

__all__ = ["LANES", "UNBUILT", "Lane", "LaneNotBuilt", "LocalLane", "McpLane", "WorktreeLane"]
