"""The sync job: every asset, for one work date or a range of them in a single run (the
partitions come from the assets)."""

from __future__ import annotations

import dagster as dg

sync_worklogs = dg.define_asset_job(
    "sync_worklogs",
    selection=dg.AssetSelection.all(),
    description="Extract, resolve, transform and load the source's new Tempo worklogs for the work dates.",
)
