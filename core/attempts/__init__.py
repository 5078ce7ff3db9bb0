"""One attempt of a task: the detached runners (``codex exec`` and app-server) and reading what they leave
behind (the event tailer and the reducer that folds events into progress)."""
