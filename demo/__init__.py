"""The demo and its stand-in model: the scripted Responses-API server, throwaway ``CODEX_HOME`` and
repositories, and the scenarios the demo and the tests drive the real Codex CLI with."""
