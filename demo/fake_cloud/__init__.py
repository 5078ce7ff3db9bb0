"""The project's fake Codex Cloud backend, for running the real ``codex cloud`` offline.

``codex cloud`` only talks to ChatGPT origins, so the fake is an HTTPS CONNECT proxy on loopback that
terminates TLS for ``chatgpt.com`` (and ``chat.openai.com``, ``chatgpt-staging.com``,
``auth.openai.com``) with a throw-away CA and answers the task API itself. Run it with
``python -m cockpit.demo.fake_cloud --state DIR``; give a child process :func:`child_env`.

Modules: :mod:`.certs` (CA and leaf), :mod:`.models` (environments, control-API bodies),
:mod:`.store` (tasks, lifecycle, prompt markers, faults), :mod:`.api` (routes and JSON shapes),
:mod:`.requestlog` (the JSON-lines request log), :mod:`.server` (the proxy listener),
:mod:`.codex_home` (dummy credentials), :mod:`.env` (a child's environment), ``__main__`` (the process).

Safety rule (mandatory): the proxy and CA variables (``HTTPS_PROXY``, ``https_proxy``, ``NO_PROXY``,
``CODEX_CA_CERTIFICATE``, ``CODEX_CLOUD_TASKS_BASE_URL``) are only ever put in the ``env=`` of the
``codex cloud`` child processes a test or demo starts, never in ``os.environ``, the cockpit's own
process, a shell profile or CI-wide settings; and only together with a throw-away ``CODEX_HOME``
holding the dummy credentials of :func:`write_cloud_codex_home` (:func:`child_env` refuses any other).
With them set, whatever login the ``CODEX_HOME`` holds is sent to the fake. The test CA is made per
state directory and never installed in a trust store.
"""

from __future__ import annotations

from .certs import INTERCEPTED_HOSTS
from .codex_home import write_cloud_codex_home
from .env import BASE_URL, PORT_FILE_NAME, child_env, read_port
from .requestlog import REQUEST_LOG_NAME

__all__ = [
    "BASE_URL",
    "INTERCEPTED_HOSTS",
    "PORT_FILE_NAME",
    "REQUEST_LOG_NAME",
    "child_env",
    "read_port",
    "write_cloud_codex_home",
]
