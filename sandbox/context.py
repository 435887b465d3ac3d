"""What a handler knows about the request: which site, who called, and the site's links."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from starlette.requests import Request

from sandbox.config import SandboxConfig
from sandbox.permissions import Grants, grants
from sandbox.repository import Repository
from sandbox.world import Account, Worklog

SITE_KEY = "sandbox.site"
CALLER_KEY = "sandbox.caller"


@dataclass(frozen=True)
class Caller:
    """The authenticated integration user; a read-only Tempo token cannot write."""

    account: Account
    can_write: bool


@dataclass
class Site:
    """One emulated Jira Cloud site and its (optional) Tempo."""

    name: str
    repo: Repository
    config: SandboxConfig
    # Sorted query results by query; a new page of the same query must not redo the work.
    query_cache: OrderedDict[tuple[object, ...], list[Worklog]] = field(default_factory=OrderedDict)

    def grants(self) -> Grants:
        return grants(self.repo.store, self.name)


@dataclass(frozen=True)
class Links:
    """Absolute base URLs of a site's two services, as the client reached them."""

    jira: str
    tempo: str

    @classmethod
    def of(cls, request: Request) -> Links:
        origin = f"{request.url.scheme}://{request.url.netloc}"
        service_root = request.scope.get("root_path", "")
        site_root = origin + service_root.rsplit("/", 1)[0]
        return cls(jira=f"{site_root}/jira", tempo=f"{site_root}/tempo")


def site_of(request: Request) -> Site:
    return request.scope[SITE_KEY]


def caller_of(request: Request) -> Caller:
    return request.scope[CALLER_KEY]
