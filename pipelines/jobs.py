"""The sync job: every asset, for one work date or a range of them in a single run."""

from __future__ import annotations

import dagster as dg

from pipelines.partitions import work_days

sync_worklogs = dg.define_asset_job(
    "sync_worklogs",
    selection=dg.AssetSelection.all(),
    partitions_def=work_days,
    description="Extract, resolve, transform and load the source's new Tempo worklogs for the work dates.",
)
