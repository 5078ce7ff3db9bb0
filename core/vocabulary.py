"""The cockpit's words for lanes, effort tiers and sandboxes, spelled once.

Envelopes, config, the CLI's choices, the ledger's order, the board view's lanes and the runners all
take them from here, so a new lane or tier is one edit. Values that come from Codex (an event's item
type, a status) are open sets and are not listed here; these are the cockpit's own closed choices.

Imports only ``typing``: the leaf every layer may use.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

Lane = Literal["local", "worktree", "cloud", "mcp"]
LANE_NAMES: Final[tuple[str, ...]] = get_args(Lane)  # the order lanes are shown in
# lanes whose results land in a task worktree and branch (reviewed, merged or rejected there)
WORKTREE_LANES: Final = frozenset({"worktree", "mcp", "cloud"})
CLOUD_LANE: Final = "cloud"  # Codex Cloud runs the attempt: no local worker slot, one remote task
CLOUD_BEST_OF_MAX: Final = 4  # ``codex cloud exec --attempts`` takes 1..4
DEFAULT_LANE: Final = "worktree"

Effort = Literal["none", "minimal", "low", "medium", "high", "xhigh"]
EFFORTS: Final[tuple[str, ...]] = get_args(Effort)  # Codex's reasoning efforts, lowest first

Sandbox = Literal["read-only", "workspace-write", "danger-full-access"]
SANDBOXES: Final[tuple[str, ...]] = get_args(Sandbox)
WORKER_SANDBOX: Final = "workspace-write"  # what a worker runs in unless a human approved more
