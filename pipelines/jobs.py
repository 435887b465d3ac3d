"""A pair's sync job: its assets, for one work date or a range of them in a single run (the
partitions come from the assets)."""

from __future__ import annotations

import dagster as dg

from assets.pair import Pair


def sync_job(pair: Pair, assets: list[dg.AssetsDefinition]) -> dg.UnresolvedAssetJobDefinition:
    """Every asset of the pair (and so its checks). Each run carries the pair's tag, by which the run
    queue lets one run per pair in flight."""
    return dg.define_asset_job(
        pair.job_name,
        selection=dg.AssetSelection.assets(*assets),
        tags=pair.tags,
        description="Extract, resolve, transform and load the source's new Tempo worklogs of the work dates"
        " for this site pair.",
    )
