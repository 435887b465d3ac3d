"""One site pair's Dagster names and resources, which the factories of assets/ and pipelines/ build from.

Every pair has its own assets, checks, job, schedule, sensors, pool and resources, so that pairs
never share a key: a pair's assets are under its name (``acme/source_worklogs``), its group is its
name, and its resources are keyed ``acme_source_tempo`` and so on. The pair of today's single-pair
environment variables is ``default``, whose names carry no prefix, as they always have.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import dagster as dg

from assets.partitions import work_days
from resources.jira import JiraClient
from resources.policy import Schedule, SyncPolicy
from resources.settings import DEFAULT_PAIR, Settings
from resources.tempo import TempoClient
from resources.warehouse import Warehouse

# Bumped when a change alters what an asset writes, so the UI shows what is stale.
CODE_VERSION = "1"
# Every step that writes a pair's DuckDB file is in the pair's pool; the instance runs a pool's steps
# one at a time (dagster_home/dagster.yaml), because DuckDB lets one process write a file at a time.
DUCKDB_POOL = "tempo_sync_duckdb"
# Every run of a pair's job carries its name here; the run queue allows one run per pair at a time.
PAIR_TAG = "tempo_sync/pair"
ROLES = ("source_tempo", "source_jira", "destination_tempo", "destination_jira", "policy", "warehouse")

# The single-run backfill policy is a deliberate choice (one read, one DuckDB writer per range) that
# Dagster marks as beta; every load of the code location would otherwise warn about it. Only this
# one warning is silenced (assets/checks.py silences its own preview warning).
warnings.filterwarnings("ignore", message="Parameter `backfill_policy`", category=dg.BetaWarning)


def named_for(pair: str, base: str) -> str:
    """A job's, sensor's or resource's name for the pair: prefixed, but for the default pair's."""
    return base if pair == DEFAULT_PAIR else f"{pair}_{base}"


@dataclass(frozen=True)
class SyncResources:
    """A pair's resources, as one step sees them."""

    source_tempo: TempoClient
    source_jira: JiraClient
    destination_tempo: TempoClient
    destination_jira: JiraClient
    policy: SyncPolicy
    warehouse: Warehouse


@dataclass(frozen=True)
class Pair:
    """The names of one pair's Dagster objects, its work-date partitions and its daily schedule."""

    name: str
    partitions: dg.DailyPartitionsDefinition
    schedule: Schedule

    @classmethod
    def of(cls, settings: Settings) -> Pair:
        """The pair the settings describe: its daily partitions from its start date, in the time zone
        and at the hour of its policy file's ``[schedule]``."""
        schedule = Schedule.from_file(settings.config_path)
        return cls(settings.name, work_days(settings.start_date, schedule), schedule)

    @property
    def prefixed(self) -> bool:
        return self.name != DEFAULT_PAIR

    def named(self, base: str) -> str:
        """A job's, sensor's or resource's name for this pair."""
        return named_for(self.name, base)

    def key(self, asset: str) -> dg.AssetKey:
        return dg.AssetKey([self.name, asset] if self.prefixed else [asset])

    def group(self, stage: str) -> str:
        """One group per pair; the default pair keeps its groups by stage."""
        return self.name if self.prefixed else stage

    @property
    def pool(self) -> str:
        return f"{DUCKDB_POOL}_{self.name}" if self.prefixed else DUCKDB_POOL

    @property
    def job_name(self) -> str:
        return self.named("sync_worklogs")

    @property
    def tags(self) -> dict[str, str]:
        return {PAIR_TAG: self.name}

    @property
    def resource_keys(self) -> set[str]:
        return {self.named(role) for role in ROLES}

    def resources(self, context: Any) -> SyncResources:
        """The pair's resources from a step's, check's or sensor's context."""
        found = context.resources
        return SyncResources(*(getattr(found, self.named(role)) for role in ROLES))

    @property
    def sync_step(self) -> dict[str, Any]:
        """What every step of the sync shares: the pair's daily partitions, one run per backfill
        range (one ``from..to`` read, one DuckDB writer), a code version, the pair's pool and its
        resources."""
        return {
            "partitions_def": self.partitions,
            "backfill_policy": dg.BackfillPolicy.single_run(),
            "code_version": CODE_VERSION,
            "pool": self.pool,
            "required_resource_keys": self.resource_keys,
        }
