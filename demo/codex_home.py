"""Throwaway ``CODEX_HOME`` directories that point Codex CLI at a loopback model provider.

The config is the minimal one for a scripted provider: provider ``mock`` on the Responses wire API,
API key from ``MOCK_API_KEY``, plugin sync and analytics off so nothing leaves the machine.
"""

from __future__ import annotations

import json
from pathlib import Path

DEFAULT_MODEL = "gpt-5.5"  # bundled catalog slug: real tool set (freeform apply_patch), no metadata warning
API_KEY_ENV = "MOCK_API_KEY"


def _toml_string(value: str) -> str:
    # A JSON string literal is a valid TOML basic string.
    return json.dumps(value)


def codex_config_toml(
    base_url: str,
    *,
    model: str = DEFAULT_MODEL,
    request_max_retries: int = 0,
    stream_max_retries: int = 0,
    stream_idle_timeout_ms: int = 60000,
) -> str:
    """The text of ``config.toml`` for a loopback provider at ``base_url`` (``http://HOST:PORT/v1``)."""
    return (
        f"model = {_toml_string(model)}\n"
        'model_provider = "mock"\n'
        'approval_policy = "never"\n'
        "\n"
        "[model_providers.mock]\n"
        'name = "mock"\n'
        f"base_url = {_toml_string(base_url)}\n"
        'wire_api = "responses"\n'
        f"env_key = {_toml_string(API_KEY_ENV)}\n"
        f"request_max_retries = {int(request_max_retries)}\n"
        f"stream_max_retries = {int(stream_max_retries)}\n"
        f"stream_idle_timeout_ms = {int(stream_idle_timeout_ms)}\n"
        "\n"
        "[features]\n"
        "plugins = false\n"
        "remote_plugin = false\n"
        "\n"
        "[analytics]\n"
        "enabled = false\n"
    )


def write_codex_home(
    directory: Path,
    base_url: str,
    *,
    model: str = DEFAULT_MODEL,
    request_max_retries: int = 0,
    stream_max_retries: int = 0,
    stream_idle_timeout_ms: int = 60000,
) -> dict[str, str]:
    """Create ``directory`` with a ``config.toml`` for the provider; return the env additions to run Codex."""
    directory.mkdir(parents=True, exist_ok=True)
    text = codex_config_toml(
        base_url,
        model=model,
        request_max_retries=request_max_retries,
        stream_max_retries=stream_max_retries,
        stream_idle_timeout_ms=stream_idle_timeout_ms,
    )
    (directory / "config.toml").write_text(text, encoding="utf-8")
    return {"CODEX_HOME": str(directory), API_KEY_ENV: "scripted"}


def demo_worker_env(workdir: Path, base_url: str) -> dict[str, str]:
    """The demo's workers: Codex home for the scripted provider, and a throwaway ``HOME``, so the login
    shells Codex runs commands in never read (or stall on) the user's shell profile."""
    home = workdir / "home"
    home.mkdir(parents=True, exist_ok=True)
    return {**write_codex_home(workdir / "codex-home", base_url), "HOME": str(home)}
