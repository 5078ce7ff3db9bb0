"""Claude Code: finding the pinned CLI and reading the ``stream-json`` lines it prints in headless mode
(``claude -p --output-format stream-json --verbose``). ``docs/claude-code.md`` records what the pinned
version does."""
