"""Running the sandbox: in a background thread (tests, the product) or in the foreground (CLI)."""

from __future__ import annotations

import logging
import socket
import threading
import time
from dataclasses import dataclass
from types import TracebackType
from typing import Self

import uvicorn

from sandbox.admin_client import SandboxAdmin
from sandbox.app import SandboxApp
from sandbox.config import CREDENTIALS, SITES, SandboxConfig

_STARTUP_SECONDS = 15.0
_LOST_RESPONSE_LOG = "ASGI callable returned without completing response."


@dataclass(frozen=True)
class SiteUrls:
    jira: str
    tempo: str


@dataclass(frozen=True)
class SandboxUrls:
    base: str
    source: SiteUrls
    destination: SiteUrls
    admin: str

    @classmethod
    def at(cls, base: str) -> SandboxUrls:
        sites = {name: SiteUrls(f"{base}/{name}/jira", f"{base}/{name}/tempo") for name in SITES}
        return cls(base, sites["source"], sites["destination"], f"{base}/_sandbox")

    def environment(self, *, destination_tempo: bool) -> dict[str, str]:
        """The product's settings (DESIGN section 6) pointing at this sandbox. They are live-mode
        settings: the product then talks to this server as it would to real sites."""
        env = {"TEMPO_SYNC_MODE": "live"}
        for site, prefix in (("source", "SOURCE"), ("destination", "DEST")):
            urls, credentials = getattr(self, site), CREDENTIALS[site]
            env[f"{prefix}_JIRA_URL"] = urls.jira
            env[f"{prefix}_JIRA_EMAIL"] = credentials.jira_email
            env[f"{prefix}_JIRA_TOKEN"] = credentials.jira_token
            env[f"{prefix}_TEMPO_URL"] = urls.tempo
            has_tempo = site == "source" or destination_tempo
            env[f"{prefix}_TEMPO_TOKEN"] = credentials.tempo_token if has_tempo else ""
        return env


class _DropLostResponseNoise(logging.Filter):
    """Dropping a response on purpose is a fault we inject, not an error worth logging."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != _LOST_RESPONSE_LOG


logging.getLogger("uvicorn.error").addFilter(_DropLostResponseNoise())


def bind(host: str, port: int) -> socket.socket:
    """A listening socket; port 0 picks a free one."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as problem:
        sock.close()
        raise OSError(f"cannot listen on {host}:{port} ({problem.strerror}); pick another --port") from None
    sock.listen(2048)
    return sock


def uvicorn_server(config: SandboxConfig, *, access_log: bool = False) -> uvicorn.Server:
    settings = uvicorn.Config(
        SandboxApp(config),
        log_level="warning",
        access_log=access_log,
        lifespan="off",
        server_header=False,
        timeout_graceful_shutdown=2,
    )
    return uvicorn.Server(settings)


class SandboxServer:
    """A sandbox listening on loopback in a background thread; use as a context manager."""

    def __init__(self, config: SandboxConfig, host: str = "127.0.0.1", port: int = 0) -> None:
        self.config = config
        self._server = uvicorn_server(config)
        self._socket = bind(host, port)
        bound_host, bound_port = self._socket.getsockname()[:2]
        shown_host = f"[{bound_host}]" if ":" in bound_host else bound_host
        self.urls = SandboxUrls.at(f"http://{shown_host}:{bound_port}")
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True,
            name=f"sandbox:{bound_port}",
        )  # fmt: skip

    @property
    def app(self) -> SandboxApp:
        return self._server.config.app

    def start(self) -> Self:
        self._thread.start()
        deadline = time.monotonic() + _STARTUP_SECONDS
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the sandbox server did not start; see the log above")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()
        self.app.sandbox.store.close()

    def admin(self) -> SandboxAdmin:
        return SandboxAdmin(self.urls.admin)

    def environment(self) -> dict[str, str]:
        return self.urls.environment(destination_tempo=self.config.destination_tempo)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
