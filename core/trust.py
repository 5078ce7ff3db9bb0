"""Which config files may name programs for the cockpit to run: the user's own, or a board's once trusted.

Settings that run code (``CODE_SETTINGS`` in :mod:`cockpit.core.config`: the Codex and Claude Code
binaries, running the user's git hooks on merge) are taken from the environment, from the user's own config
(``$XDG_CONFIG_HOME/cockpit/config.toml``), or from a board's ``config.toml`` that the user has trusted
with ``cockpit trust``. Trust is recorded outside every repository, in
``$XDG_CONFIG_HOME/cockpit/trusted.json``, as the file's absolute path and its SHA-256: a changed file is
untrusted again until the user looks at it and trusts it anew. No sandboxed worker can write either file
(they are outside every writable root the cockpit gives Codex, see :mod:`cockpit.core.codex.confinement`).
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cockpit.core.atomic import atomic_write_json
from cockpit.core.layout import CONFIG_FILE

TRUST_FILE = "trusted.json"
USER_CONFIG_FILE = CONFIG_FILE  # the user's own config has the board's file name


def user_config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME")
    root = Path(base) if base and os.path.isabs(base) else Path.home() / ".config"
    return root / "cockpit"


def user_config_path() -> Path:
    return user_config_dir() / USER_CONFIG_FILE


def trust_store_path() -> Path:
    return user_config_dir() / TRUST_FILE


def file_digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _records() -> dict[str, Any]:
    try:
        data = json.loads(trust_store_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def is_trusted(path: Path) -> bool:
    """Whether the file at ``path`` is trusted exactly as it is now."""
    record = _records().get(str(path.resolve()))
    digest = file_digest(path)
    return isinstance(record, dict) and digest is not None and record.get("sha256") == digest


def trust_file(path: Path) -> str:
    """Record the file's current content as trusted; returns its digest."""
    digest = file_digest(path)
    if digest is None:
        raise FileNotFoundError(f"no file at {path}")
    records = _records()
    records[str(path.resolve())] = {"sha256": digest, "trusted_at": datetime.now(UTC).isoformat()}
    store = trust_store_path()
    store.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    atomic_write_json(store, records)
    return digest


def revoke_trust(path: Path) -> bool:
    records = _records()
    if records.pop(str(path.resolve()), None) is None:
        return False
    atomic_write_json(trust_store_path(), records)
    return True
