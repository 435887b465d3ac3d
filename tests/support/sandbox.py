"""Clients for the sandbox's two sites, as the product will use them, with contract checks."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from sandbox.config import CREDENTIALS
from sandbox.server import SandboxServer
from tests.support.contract import ContractChecker


@dataclass
class SiteClients:
    name: str
    jira: httpx.Client
    tempo: httpx.Client

    def close(self) -> None:
        self.jira.close()
        self.tempo.close()


def site_clients(
    server: SandboxServer, site: str, checker: ContractChecker, *, timeout: float = 10.0
) -> SiteClients:
    credentials = CREDENTIALS[site]
    urls = getattr(server.urls, site)
    hooks = {"response": [checker.under(server.config.profile).check]}
    jira = httpx.Client(
        base_url=urls.jira,
        auth=(credentials.jira_email, credentials.jira_token),
        timeout=timeout,
        event_hooks=hooks,
    )
    tempo = httpx.Client(
        base_url=urls.tempo,
        headers={"Authorization": f"Bearer {credentials.tempo_token}"},
        timeout=timeout,
        event_hooks=hooks,
    )
    return SiteClients(site, jira, tempo)


def follow_pages(client: httpx.Client, first_url: str, **params: object) -> list[dict]:
    """Every result of a Tempo listing, following `metadata.next` to the end."""
    results: list[dict] = []
    response = client.get(first_url, params=params)
    while True:
        response.raise_for_status()
        body = response.json()
        results.extend(body["results"])
        next_url = body["metadata"].get("next")
        if next_url is None:
            return results
        response = client.get(next_url)
