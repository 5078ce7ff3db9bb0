"""The cockpit's words for lanes, effort tiers and sandboxes, spelled once.

Envelopes, config, the CLI's choices, the ledger's order, the board view's lanes and the runners all
take them from here, so a new lane or tier is one edit. Values that come from Codex (an event's item
type, a status) are open sets and are not listed here; these are the cockpit's own closed choices.

Imports only ``typing``: the leaf every layer may use.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, Literal, get_args

Lane = Literal["local", "worktree", "cloud", "mcp"]
LANE_NAMES: Final[tuple[str, ...]] = get_args(Lane)  # the order lanes are shown in
WORKTREE_LANES: Final = frozenset({"worktree", "mcp"})  # lanes whose attempts run in a task worktree
DEFAULT_LANE: Final = "worktree"

Effort = Literal["none", "minimal", "low", "medium", "high", "xhigh"]
EFFORTS: Final[tuple[str, ...]] = get_args(Effort)  # Codex's reasoning efforts, lowest first

Sandbox = Literal["read-only", "workspace-write", "danger-full-access"]
SANDBOXES: Final[tuple[str, ...]] = get_args(Sandbox)
WORKER_SANDBOX: Final = "workspace-write"  # what a worker runs in unless a human approved more

# What a lane that is not built yet says: its pane shows it, and its tasks wait with it.
UNBUILT: Final[Mapping[str, str]] = {
    "cloud": "the cloud lane is not built yet; tasks sent to it wait here",
}
