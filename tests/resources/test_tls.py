"""TLS: a certificate the client cannot verify stops it with an error that says so, and nothing
in the settings or the environment switches verification off.

A real HTTPS server on loopback with a self-signed certificate made by the ``openssl`` CLI. The
redirect, foreign-host and error-body cases of the transport are in test_http.py.
"""

from __future__ import annotations

import http.server
import inspect
import json
import ssl
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import certifi
import pytest

from resources.http import ApiError, ApiSession, BearerAuth
from resources.policy import PolicyError, SyncPolicy

PAGE = {"self": "x", "metadata": {"count": 0, "offset": 0, "limit": 50}, "results": []}
# Switches that turn verification off in other clients (requests, curl, urllib on some
# distributions); each must leave this one verifying.
LOOSENING = {"CURL_CA_BUNDLE": "", "REQUESTS_CA_BUNDLE": "", "PYTHONHTTPSVERIFY": "0", "SSL_CERT_DIR": ""}


@dataclass(frozen=True)
class SelfSigned:
    url: str
    certificate: Path


class _Answer(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # http.server calls it by this name
        body = json.dumps(PAGE).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # the base class names it format
        """Quiet: a refused handshake is the expected outcome here."""


@pytest.fixture
def self_signed(tmp_path: Path) -> Iterator[SelfSigned]:
    key, certificate = tmp_path / "key.pem", tmp_path / "certificate.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(certificate)],
        check=True, capture_output=True,
    )  # fmt: skip
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate, key)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Answer)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield SelfSigned(f"https://127.0.0.1:{server.server_address[1]}/tempo", certificate)
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def _session(url: str) -> ApiSession:
    return ApiSession(
        service="source Tempo",
        base_url=url,
        auth=BearerAuth("sandbox-source-tempo-token"),
        requests_per_second=0,
        max_retries=6,
        backoff_seconds=0.01,
    )


def _refused(url: str) -> ApiError:
    session = _session(url)
    try:
        with pytest.raises(ApiError) as raised:
            session.request("GET", "/4/worklogs", endpoint="GET /4/worklogs")
        assert not session.retried, "no retry can fix a certificate"
    finally:
        session.close()
    return raised.value


def test_an_unverifiable_certificate_fails_with_an_error_naming_certificate_verification(
    self_signed: SelfSigned,
) -> None:
    error = _refused(self_signed.url)
    assert error.status is None
    assert "certificate verify failed" in error.message
    assert "verification cannot be switched off: trust its authority through SSL_CERT_FILE" in error.message
    assert str(error).startswith(
        "source Tempo GET /4/worklogs failed: ConnectError: [SSL: CERTIFICATE_VERIFY_FAILED]"
    )


def test_no_environment_variable_switches_verification_off(
    self_signed: SelfSigned, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in LOOSENING.items():
        monkeypatch.setenv(name, value)
    assert "certificate verify failed" in _refused(self_signed.url).message
    # SSL_CERT_FILE names the authorities to trust: another authority's bundle trusts it no more.
    monkeypatch.setenv("SSL_CERT_FILE", certifi.where())
    assert "certificate verify failed" in _refused(self_signed.url).message
    # Naming this very certificate trusts it, as one trusts a company's own authority.
    monkeypatch.setenv("SSL_CERT_FILE", str(self_signed.certificate))
    session = _session(self_signed.url)
    try:
        assert session.request_json("GET", "/4/worklogs", endpoint="GET /4/worklogs") == PAGE
    finally:
        session.close()


def test_no_setting_switches_verification_off(tmp_path: Path) -> None:
    # The HTTP layer takes no verification switch, and the policy file refuses one.
    assert not {"verify", "ssl", "cert", "trust_env"} & set(inspect.signature(ApiSession).parameters)
    policy = tmp_path / "tempo-sync.toml"
    policy.write_text("[http]\nverify = false\n", encoding="utf-8")
    with pytest.raises(PolicyError, match="verify"):
        SyncPolicy.from_file(policy, source_site="client.atlassian.net")
