"""Throw-away ``CODEX_HOME`` directories with dummy ChatGPT credentials for ``codex cloud`` children.

Writes ``auth.json`` (a JWT-shaped ``id_token`` that is never verified, dummy access and refresh tokens,
an account id, ``last_refresh``) and ``config.toml`` with ``cli_auth_credentials_store = "file"`` so Codex
reads that file and nothing else. A marker file names the directory as the fake cloud's own:
:func:`cockpit.demo.fake_cloud.env.child_env` refuses any ``CODEX_HOME`` without it, so the proxy and
test CA never meet real credentials.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from .api import FAKE_ACCOUNT_ID, dummy_id_token

DUMMY_ACCESS_TOKEN = "fake-cloud-access-token"
DUMMY_REFRESH_TOKEN = "fake-cloud-refresh-token"
HOME_MARKER = "fake-cloud-codex-home"
CONFIG_TOML = 'cli_auth_credentials_store = "file"\n\n[analytics]\nenabled = false\n'


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def write_cloud_codex_home(
    directory: Path,
    *,
    access_token: str = DUMMY_ACCESS_TOKEN,
    account_id: str | None = FAKE_ACCOUNT_ID,
    refresh_age: timedelta | None = timedelta(0),
    with_auth: bool = True,
) -> Path:
    """Create ``directory`` as a throw-away ``CODEX_HOME`` and return it.

    ``refresh_age`` is how old ``last_refresh`` is (an old one makes Codex refresh through
    ``POST /oauth/token`` first; ``None`` leaves the field out, and then Codex sends no
    ``Authorization`` header). ``with_auth=False`` writes no ``auth.json`` (for access-token logins).
    """
    if directory.exists() and any(directory.iterdir()) and not (directory / HOME_MARKER).is_file():
        raise FileExistsError(f"{directory} is not empty and not a fake cloud CODEX_HOME")
    directory.mkdir(parents=True, exist_ok=True)
    (directory / HOME_MARKER).write_text(
        "dummy credentials for the fake Codex Cloud backend\n", encoding="utf-8"
    )
    (directory / "config.toml").write_text(CONFIG_TOML, encoding="utf-8")
    auth_file = directory / "auth.json"
    if not with_auth:
        auth_file.unlink(missing_ok=True)
        return directory
    tokens: dict[str, str] = {
        "id_token": dummy_id_token(account_id or FAKE_ACCOUNT_ID),
        "access_token": access_token,
        "refresh_token": DUMMY_REFRESH_TOKEN,
    }
    if account_id is not None:
        tokens["account_id"] = account_id
    auth: dict[str, object] = {"auth_mode": "chatgpt", "tokens": tokens}
    if refresh_age is not None:
        auth["last_refresh"] = _rfc3339(datetime.now(UTC) - refresh_age)
    auth_file.write_text(json.dumps(auth, indent=2) + "\n", encoding="utf-8")
    auth_file.chmod(0o600)
    return directory


def is_cloud_codex_home(directory: Path) -> bool:
    return (Path(directory) / HOME_MARKER).is_file()
