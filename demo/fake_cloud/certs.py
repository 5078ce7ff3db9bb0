"""The fake cloud's throw-away certificate authority and its server certificate.

Owns ``<state>/certs/``: an EC P-256 CA (``ca.pem`` + ``ca.key``, ten years, ``CA:TRUE``, keyCertSign and
cRLSign) and a leaf signed by it (``leaf.pem`` + ``leaf.key``, ``CA:FALSE``, serverAuth, a DNS entry for
each host the proxy intercepts). They are made once per state directory with the ``openssl`` CLI and
reused afterwards; the CA's path is what a ``codex cloud`` child gets as ``CODEX_CA_CERTIFICATE``. It is
never installed anywhere else. Also builds the TLS server context (ALPN ``http/1.1`` only).
"""

from __future__ import annotations

import secrets
import shutil
import ssl
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

OPENSSL = "/usr/bin/openssl"
VALID_DAYS = 3650
INTERCEPTED_HOSTS: tuple[str, ...] = (
    "chatgpt.com",
    "chat.openai.com",
    "chatgpt-staging.com",
    "auth.openai.com",
)

_CA_NAME = "/O=Codex Cockpit fake cloud/CN=Codex Cockpit fake cloud test CA"
_LEAF_NAME = "/O=Codex Cockpit fake cloud/CN=chatgpt.com"


@dataclass(frozen=True)
class CertPaths:
    """Where the certificates of one state directory live."""

    directory: Path

    @property
    def ca_cert(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.directory / "ca.key"

    @property
    def leaf_cert(self) -> Path:
        return self.directory / "leaf.pem"

    @property
    def leaf_key(self) -> Path:
        return self.directory / "leaf.key"

    def complete(self) -> bool:
        return all(p.is_file() for p in (self.ca_cert, self.ca_key, self.leaf_cert, self.leaf_key))


def cert_paths(state_dir: Path) -> CertPaths:
    return CertPaths(Path(state_dir) / "certs")


def _openssl_config() -> str:
    san = ",".join(f"DNS:{host}" for host in INTERCEPTED_HOSTS)
    return (
        "[req]\n"
        "distinguished_name = dn\n"
        "prompt = no\n"
        "[dn]\n"
        "CN = unused\n"
        "[v3_ca]\n"
        "basicConstraints = critical,CA:TRUE\n"
        "keyUsage = critical,keyCertSign,cRLSign\n"
        "subjectKeyIdentifier = hash\n"
        "[v3_leaf]\n"
        "basicConstraints = critical,CA:FALSE\n"
        "keyUsage = critical,digitalSignature\n"
        "extendedKeyUsage = serverAuth\n"
        f"subjectAltName = {san}\n"
        "subjectKeyIdentifier = hash\n"
        "authorityKeyIdentifier = keyid\n"
    )


def _run(*args: str) -> None:
    done = subprocess.run([OPENSSL, *args], capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"openssl {args[0]} failed ({done.returncode}): {done.stderr.strip()}")


def _serial() -> str:
    return "0x" + secrets.token_hex(15)  # positive, under 20 bytes


def _make(work: Path) -> None:
    config = work / "openssl.cnf"
    config.write_text(_openssl_config(), encoding="utf-8")
    paths = CertPaths(work)
    for key in (paths.ca_key, paths.leaf_key):
        _run("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", str(key))
    _run(
        "req", "-x509", "-new", "-config", str(config), "-extensions", "v3_ca",
        "-key", str(paths.ca_key), "-sha256", "-days", str(VALID_DAYS), "-set_serial", _serial(),
        "-subj", _CA_NAME, "-out", str(paths.ca_cert),
    )  # fmt: skip
    csr = work / "leaf.csr"
    _run(
        "req", "-new", "-config", str(config), "-key", str(paths.leaf_key),
        "-subj", _LEAF_NAME, "-out", str(csr),
    )  # fmt: skip
    _run(
        "x509", "-req", "-in", str(csr), "-CA", str(paths.ca_cert), "-CAkey", str(paths.ca_key),
        "-set_serial", _serial(), "-sha256", "-days", str(VALID_DAYS),
        "-extfile", str(config), "-extensions", "v3_leaf", "-out", str(paths.leaf_cert),
    )  # fmt: skip


def ensure_certs(state_dir: Path) -> CertPaths:
    """The state directory's CA and leaf, made on first use (in a scratch directory, then moved in whole)."""
    paths = cert_paths(state_dir)
    if paths.complete():
        return paths
    paths.directory.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".certs-", dir=paths.directory.parent))
    try:
        _make(work)
        for leftover in ("openssl.cnf", "leaf.csr"):
            (work / leftover).unlink(missing_ok=True)
        for key in (CertPaths(work).ca_key, CertPaths(work).leaf_key):
            key.chmod(0o600)
        if paths.directory.exists():
            shutil.rmtree(paths.directory)  # an incomplete earlier attempt
        work.rename(paths.directory)
    finally:
        if work.exists():
            shutil.rmtree(work)
    return paths


def server_context(paths: CertPaths) -> ssl.SSLContext:
    """TLS for the intercepted hosts: the leaf certificate, TLS 1.2 or newer, ALPN ``http/1.1`` only."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(certfile=str(paths.leaf_cert), keyfile=str(paths.leaf_key))
    context.set_alpn_protocols(["http/1.1"])
    return context
