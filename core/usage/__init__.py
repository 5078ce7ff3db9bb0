"""What the work costs: Codex's credit windows (from rollouts and live reports) and the ledger of tokens per
attempt."""
