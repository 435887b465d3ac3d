"""The code location's one ``Definitions``, loaded through ``workspace.yaml``."""

from __future__ import annotations

import os
from collections.abc import Mapping

import dagster as dg

from assets.checks import CORE_CHECKS, PROPAGATION_CHECKS
from assets.extract import destination_directory, source_directory, source_worklogs
from assets.load import destination_worklogs
from assets.transform import worklog_replica
from pipelines import sandbox_mode
from pipelines.crashed_runs import crashed_runs
from pipelines.jobs import sync_worklogs
from pipelines.progress import progress_bar
from pipelines.schedules import daily_sync
from pipelines.sensors import late_worklogs
from pipelines.wiring import build_resources
from resources.policy import SyncPolicy
from resources.settings import Mode, load_settings

SYNC_ASSETS = [
    source_worklogs,
    source_directory,
    destination_directory,
    worklog_replica,
    destination_worklogs,
]


def build_definitions(environ: Mapping[str, str]) -> dg.Definitions:
    """Everything Dagster shows, wired to the sites the settings name (or to the sandbox)."""
    settings = load_settings(environ)
    SyncPolicy.from_file(
        settings.config_path, source_site=""
    )  # a bad file stops us before the sandbox starts
    if settings.mode is Mode.SANDBOX:
        settings = sandbox_mode.on_sandbox(settings)
    policy = SyncPolicy.from_file(settings.config_path, source_site=settings.source.host)
    return dg.Definitions(
        assets=SYNC_ASSETS,
        asset_checks=[*CORE_CHECKS, *(PROPAGATION_CHECKS if policy.propagates else [])],
        jobs=[sync_worklogs],
        schedules=[daily_sync],
        sensors=[late_worklogs, crashed_runs],
        resources=build_resources(settings, policy),
        # The steps form a chain and all write one DuckDB file, so separate step processes would buy
        # no parallelism and cost a Python start-up per step; a run is one process.
        executor=dg.in_process_executor,
        loggers={"console": dg.colored_console_logger, "progress": progress_bar},
    )


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions(os.environ)
