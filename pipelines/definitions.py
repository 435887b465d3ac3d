"""The code location's one ``Definitions``, loaded through ``workspace.yaml``: one set of assets,
checks, job, schedule and sensors per site pair (``TEMPO_SYNC_PAIRS``), or for the one pair of the
environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping

import dagster as dg

from assets.checks import sync_checks
from assets.extract import extract_assets
from assets.load import load_assets
from assets.pair import Pair
from assets.transform import transform_assets
from pipelines import sandbox_mode
from pipelines.alerts import alert_sensors
from pipelines.crashed_runs import crashed_runs
from pipelines.jobs import sync_job
from pipelines.progress import progress_bar
from pipelines.schedules import daily_sync
from pipelines.sensors import late_worklogs
from pipelines.wiring import build_resources
from resources.pairs import load_pairs
from resources.policy import PolicyError, SyncPolicy
from resources.settings import Mode, Settings


def build_definitions(environ: Mapping[str, str]) -> dg.Definitions:
    """Everything Dagster shows, for every pair the settings name (or for the sandbox)."""
    pairs = load_pairs(environ)
    _check_policies(pairs)  # a bad file stops us before the sandbox starts
    return dg.Definitions.merge(
        *(pair_definitions(settings, copies_from=copies_into(settings, pairs)) for settings in pairs),
        dg.Definitions(
            # The steps form a chain and all write one DuckDB file, so separate step processes would
            # buy no parallelism and cost a Python start-up per step; a run is one process.
            executor=dg.in_process_executor,
            loggers={"console": dg.colored_console_logger, "progress": progress_bar},
        ),
    )


def _check_policies(pairs: list[Settings]) -> None:
    """Every pair's policy file read; the problems of all of them named at once."""
    problems = []
    for settings in pairs:
        try:
            SyncPolicy.from_file(settings.config_path, source_site="")
        except PolicyError as error:
            problems.append(f"pair {settings.name!r}: {error}" if len(pairs) > 1 else str(error))
    if problems:
        raise PolicyError("\n".join(problems))


def copies_into(pair: Settings, pairs: list[Settings]) -> dict[str, str]:
    """The DuckDB files, by pair name, of the other pairs that copy worklogs into this pair's source
    site: the copies their ledgers hold are never copied back (replication/echo.py)."""
    return {
        other.name: str(other.duckdb_path)
        for other in pairs
        if other is not pair and other.destination.address == pair.source.address
    }


def pair_definitions(settings: Settings, *, copies_from: dict[str, str] | None = None) -> dg.Definitions:
    """One pair's assets, checks, job, schedule, sensors and resources, all under its name."""
    if settings.mode is Mode.SANDBOX:
        settings = sandbox_mode.on_sandbox(settings)
    policy = SyncPolicy.from_file(
        settings.config_path, source_site=settings.source.host, copies_from=copies_from
    )
    pair = Pair.of(settings)
    assets = [*extract_assets(pair), *transform_assets(pair), *load_assets(pair)]
    job = sync_job(pair, assets)
    return dg.Definitions(
        assets=assets,
        asset_checks=sync_checks(pair, propagation=policy.propagates),
        jobs=[job],
        schedules=[daily_sync(pair, job)],
        sensors=[late_worklogs(pair, job), crashed_runs(pair), *alert_sensors(pair.name, job, policy)],
        resources=build_resources(pair, settings, policy),
    )


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions(os.environ)
