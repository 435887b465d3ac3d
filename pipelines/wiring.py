"""Resources built from the settings: secrets through ``dg.EnvVar`` in live mode, never literals."""

from __future__ import annotations

from typing import Any

import dagster as dg

from resources.jira import JiraClient
from resources.policy import SyncPolicy
from resources.settings import Mode, Settings, SiteSettings
from resources.tempo import TempoClient
from resources.warehouse import Warehouse


def build_resources(settings: Settings, policy: SyncPolicy) -> dict[str, Any]:
    resources: dict[str, Any] = {"policy": policy, "warehouse": Warehouse(database=str(settings.duckdb_path))}
    for site, prefix, config in (
        ("source", "SOURCE", settings.source),
        ("destination", "DEST", settings.destination),
    ):
        resources[f"{site}_jira"] = JiraClient(
            base_url=config.jira_url,
            email=config.jira_email,
            token=_secret(settings, f"{prefix}_JIRA_TOKEN", config.jira_token),
            site=site,
            requests_per_second=policy.jira_requests_per_second,
            max_retries=policy.max_retries,
            backoff_seconds=policy.backoff_seconds,
        )
        resources[f"{site}_tempo"] = TempoClient(
            base_url=config.tempo_url,
            token=_tempo_token(settings, prefix, config),
            site=site,
            requests_per_second=policy.tempo_requests_per_second,
            max_retries=policy.max_retries,
            backoff_seconds=policy.backoff_seconds,
        )
    return resources


def _tempo_token(settings: Settings, prefix: str, config: SiteSettings) -> Any:
    # An empty destination token means the destination has no Tempo; there is no secret to hide.
    return _secret(settings, f"{prefix}_TEMPO_TOKEN", config.tempo_token) if config.tempo_token else ""


def _secret(settings: Settings, name: str, value: str) -> Any:
    """In live mode Dagster reads the secret from the environment at run time, so it never lands in
    run configuration or the UI; the sandbox's credentials are public and fixed."""
    return dg.EnvVar(name) if settings.mode is Mode.LIVE else value
