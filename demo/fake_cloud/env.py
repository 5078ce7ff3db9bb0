"""The environment of a ``codex cloud`` child process that talks to the fake (and only that).

:func:`child_env` copies a base environment, removes what would bypass or confuse the proxy
(``HTTP_PROXY``, ``ALL_PROXY``, API keys, ``RUST_BACKTRACE``, an inherited access-token login) and sets
``HTTPS_PROXY``/``https_proxy`` to the fake's port, ``NO_PROXY`` empty, ``CODEX_CA_CERTIFICATE`` to the
state directory's test CA, ``CODEX_CLOUD_TASKS_BASE_URL`` and ``CODEX_HOME``. It refuses a
``CODEX_HOME`` not made by :func:`~cockpit.demo.fake_cloud.codex_home.write_cloud_codex_home`. The
result goes only into a child's ``env=``, never into ``os.environ``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from .certs import cert_paths
from .codex_home import is_cloud_codex_home

PORT_FILE_NAME = "port"
BASE_URL = "https://chatgpt.com/backend-api"
REMOVED_VARIABLES: tuple[str, ...] = (
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
    "OPENAI_API_KEY",
    "CODEX_API_KEY",
    "RUST_BACKTRACE",
    "CODEX_ACCESS_TOKEN",
    "CODEX_AUTHAPI_BASE_URL",
    "CODEX_STARTING_DIFF",
)


def read_port(state_dir: Path) -> int:
    """The port of the fake running on ``state_dir`` (``FileNotFoundError`` when it is not running)."""
    return int((Path(state_dir) / PORT_FILE_NAME).read_text(encoding="utf-8").strip())


def child_env(
    state_dir: Path,
    codex_home: Path,
    base_env: Mapping[str, str],
    *,
    access_token: str | None = None,
) -> dict[str, str]:
    """The environment for a ``codex cloud`` child of the fake on ``state_dir``.

    ``access_token`` (``at-...``) switches to a personal-access-token login: ``CODEX_ACCESS_TOKEN`` plus
    ``CODEX_AUTHAPI_BASE_URL`` pointing at the fake's plain-HTTP port.
    """
    if not is_cloud_codex_home(codex_home):
        raise ValueError(
            f"{codex_home} is not a throw-away fake cloud CODEX_HOME (write it with write_cloud_codex_home)"
        )
    port = read_port(state_dir)
    proxy = f"http://127.0.0.1:{port}"
    env = {name: value for name, value in base_env.items() if name not in REMOVED_VARIABLES}
    env.update(
        {
            "HTTPS_PROXY": proxy,
            "https_proxy": proxy,
            "NO_PROXY": "",
            "no_proxy": "",
            "CODEX_CA_CERTIFICATE": str(cert_paths(state_dir).ca_cert.resolve()),
            "CODEX_CLOUD_TASKS_BASE_URL": BASE_URL,
            "CODEX_HOME": str(Path(codex_home).resolve()),
        }
    )
    if access_token is not None:
        env["CODEX_ACCESS_TOKEN"] = access_token
        env["CODEX_AUTHAPI_BASE_URL"] = f"{proxy}/api/accounts"
    return env
