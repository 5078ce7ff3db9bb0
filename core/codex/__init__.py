"""Codex itself: finding the pinned binary, the ``codex exec`` command line, the events it prints, the sandbox
confinement it is run in, and its app-server."""
