"""A pair's resources, built from its settings: secrets through ``dg.EnvVar`` in live mode, never
literals. Each is keyed by the pair (``acme_source_tempo``), so pairs never share a client."""

from __future__ import annotations

from typing import Any

import dagster as dg

from assets.pair import Pair
from resources.jira import JiraClient
from resources.policy import SyncPolicy
from resources.settings import Mode, Settings
from resources.tempo import TempoClient
from resources.warehouse import Warehouse


def build_resources(pair: Pair, settings: Settings, policy: SyncPolicy) -> dict[str, Any]:
    resources: dict[str, Any] = {
        pair.named("policy"): policy,
        pair.named("warehouse"): Warehouse(database=str(settings.duckdb_path)),
    }
    for site, config in (("source", settings.source), ("destination", settings.destination)):
        resources[pair.named(f"{site}_jira")] = JiraClient(
            base_url=config.jira_url,
            email=config.jira_email,
            token=_secret(settings, f"{site}_jira", config.jira_token),
            site=site,
            requests_per_second=policy.jira_requests_per_second,
            max_retries=policy.max_retries,
            backoff_seconds=policy.backoff_seconds,
        )
        resources[pair.named(f"{site}_tempo")] = TempoClient(
            base_url=config.tempo_url,
            # An empty destination token means the destination has no Tempo; there is no secret to hide.
            token=_secret(settings, f"{site}_tempo", config.tempo_token) if config.tempo_token else "",
            site=site,
            requests_per_second=policy.tempo_requests_per_second,
            max_retries=policy.max_retries,
            backoff_seconds=policy.backoff_seconds,
        )
    return resources


def _secret(settings: Settings, role: str, value: str) -> Any:
    """In live mode Dagster reads the secret from the environment variable the pair names, at run
    time, so it never lands in run configuration or the UI; the sandbox's credentials are public."""
    return dg.EnvVar(settings.token_envs[role]) if settings.mode is Mode.LIVE else value
