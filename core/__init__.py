"""Codex Cockpit core: asyncio + pydantic, never the UI toolkit."""
