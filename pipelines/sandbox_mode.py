"""``TEMPO_SYNC_MODE=sandbox``: the product starts the local emulator itself and points at it.

Each process that loads the definitions (the CLI, the webserver, a run's step process) starts
its own sandbox server on a free loopback port. They all serve one state directory, which is
safe: the sandbox keeps its state in SQLite in WAL mode and every process shares its clock.
"""

from __future__ import annotations

import os
import threading
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from resources.settings import Settings, SiteSettings

if TYPE_CHECKING:
    from sandbox.server import SandboxServer

DEFAULT_STATE_DIR = Path("data/sandbox")

_lock = threading.Lock()
_server: SandboxServer | None = None


def state_dir() -> Path:
    return Path(os.environ.get("TEMPO_SYNC_SANDBOX_DIR", "").strip() or DEFAULT_STATE_DIR)


def local_sandbox() -> SandboxServer:
    """This process's sandbox server, started on first use and stopped with the process."""
    global _server  # noqa: PLW0603 - one server per process, by design
    # The web server's modules load only here: a live run never pays for them.
    from sandbox.config import SandboxConfig  # noqa: PLC0415
    from sandbox.server import SandboxServer  # noqa: PLC0415

    with _lock:
        if _server is None:
            _server = SandboxServer(SandboxConfig(state_dir=state_dir())).start()
        return _server


def on_sandbox(settings: Settings) -> Settings:
    """The settings with both sites pointing at this process's sandbox."""
    env = local_sandbox().environment()

    def site(prefix: str) -> SiteSettings:
        return SiteSettings(
            jira_url=env[f"{prefix}_JIRA_URL"],
            jira_email=env[f"{prefix}_JIRA_EMAIL"],
            jira_token=env[f"{prefix}_JIRA_TOKEN"],
            tempo_url=env[f"{prefix}_TEMPO_URL"],
            tempo_token=env[f"{prefix}_TEMPO_TOKEN"],
        )

    return replace(settings, source=site("SOURCE"), destination=site("DEST"))
