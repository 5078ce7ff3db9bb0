"""Codex's app-server: the JSON-RPC client the mcp lane drives a turn through."""
