"""Git, run safely: every git command the cockpit runs (none of them runs code from a worktree) and the
worktree, commit, diff and merge operations built on them."""
