"""The sandbox as one ASGI app: ``/{site}/{jira|tempo}/...`` and ``/_sandbox/...``."""

from __future__ import annotations

from starlette.responses import JSONResponse

from sandbox import jira_api, tempo_api
from sandbox.admin import build_admin
from sandbox.config import SandboxConfig
from sandbox.gate import Receive, Scope, Send, ServiceGate
from sandbox.runtime import Sandbox

_ADMIN = "/_sandbox"


class SandboxApp:
    def __init__(self, config: SandboxConfig) -> None:
        self.sandbox = Sandbox.build(config)
        self.admin = build_admin(self.sandbox)
        limits = config.rate_limits
        self.gates: dict[tuple[str, str], ServiceGate] = {}
        for name, site in self.sandbox.sites.items():
            for service, routes in (("jira", jira_api.ROUTES), ("tempo", tempo_api.ROUTES)):
                self.gates[(name, service)] = ServiceGate(
                    site,
                    service,
                    routes,
                    limits=limits,
                    faults=self.sandbox.faults,
                    stats=self.sandbox.stats,
                    holds=self.sandbox.holds,
                    enabled=service == "jira" or site.repo.has_tempo,
                )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"]
        root = scope.get("root_path", "")
        if path == _ADMIN or path.startswith(f"{_ADMIN}/"):
            await self.admin({**scope, "root_path": root + _ADMIN}, receive, send)
            return
        parts = path.split("/", 3)
        gate = self.gates.get((parts[1], parts[2])) if len(parts) > 2 else None
        if gate is None:
            response = JSONResponse(
                {"error": "no such service; the sandbox serves /{source|destination}/{jira|tempo}/... "
                          "and /_sandbox"},
                status_code=404,
            )  # fmt: skip
            await response(scope, receive, send)
            return
        await gate({**scope, "root_path": f"{root}/{parts[1]}/{parts[2]}"}, receive, send)
