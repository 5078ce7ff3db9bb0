"""The rules ``cockpit serve`` lets people in by, without a server: which hosts and origins are this
cockpit's, the token's form, the fixed command a browser connection runs, and the loud word when it
listens beyond loopback."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from cockpit.cli.serve import (
    Access,
    ServeError,
    app_argv,
    exposure_warning,
    header_host_port,
    origin_host_port,
    serve_token,
)


def test_host_and_origin_headers_are_read_as_host_and_port() -> None:
    assert header_host_port("127.0.0.1:8765", 80) == "127.0.0.1:8765"
    assert header_host_port("LOCALHOST:8765", 80) == "localhost:8765"
    assert header_host_port("[::1]:8765", 80) == "[::1]:8765"
    assert header_host_port("example.org", 80) == "example.org:80"
    for bad in ("", "user@host:1", "host:port", "host/path", "host:99999"):
        assert header_host_port(bad, 80) is None, bad
    assert origin_host_port("http://127.0.0.1:8765") == "127.0.0.1:8765"
    assert origin_host_port("https://example.org") == "example.org:443"
    for bad in ("", "null", "file://", "ws://127.0.0.1:8765", "http://127.0.0.1:8765/x", "127.0.0.1:8765"):
        assert origin_host_port(bad) is None, bad


def test_loopback_is_served_as_its_names_and_another_host_only_as_itself() -> None:
    loop = Access.for_bind("t" * 20, "127.0.0.1", 8765)
    assert loop.hosts == {"127.0.0.1:8765", "localhost:8765", "[::1]:8765"}
    assert Access.for_bind("t" * 20, "10.1.2.3", 8765).hosts == {"10.1.2.3:8765"}
    assert Access.for_bind("t" * 20, "0.0.0.0", 8765).hosts is None  # any name, the Origin its own
    assert loop.cookie == "cockpit_serve_8765"


def test_the_token_is_random_or_a_well_formed_one_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("COCKPIT_SERVE_TOKEN", raising=False)
    first, second = serve_token(), serve_token()
    assert first != second and len(first) >= 40
    monkeypatch.setenv("COCKPIT_SERVE_TOKEN", "a-well-formed-token-1234")
    assert serve_token() == "a-well-formed-token-1234"
    for bad in ("short", "has space in it 123456", 'quote"inside-0123456789', ""):
        monkeypatch.setenv("COCKPIT_SERVE_TOKEN", bad)
        with pytest.raises(ServeError):
            serve_token()


def test_a_browser_connection_runs_a_fixed_command() -> None:
    assert app_argv(Path("/srv/repo")) == [sys.executable, "-m", "cockpit.cli.served_app", "/srv/repo"]


def test_listening_beyond_loopback_is_said_loudly() -> None:
    assert exposure_warning("127.0.0.1", 8765) is None
    assert exposure_warning("localhost", 8765) is None
    assert exposure_warning("::1", 8765) is None
    for host in ("0.0.0.0", "::", "192.0.2.7", "myhost.example"):
        warning = exposure_warning(host, 8765)
        assert warning is not None and "WARNING" in warning and "not loopback" in warning, host
