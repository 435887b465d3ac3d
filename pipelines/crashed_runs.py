"""Runs whose process died without a word (kill -9, a lost machine): closed, their pool slots freed.

Dagster's default run launcher cannot see a run worker die, so such a run stays STARTED and keeps
its ``tempo_sync_duckdb`` pool slot, and every later run would queue behind it forever. The
process each run recorded in ``lineage.runs`` settles it: when that process is gone, the run is
marked ``crashed`` in DuckDB, reported failed to the instance, and its slots are freed.
``tempo-sync run`` does this before it starts; the ``crashed_runs`` sensor does it for the daemon.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from assets.pair import Pair
from replication import lineage
from resources.duckdb_file import WarehouseBusyError
from resources.warehouse import Warehouse

SENSOR_WAIT_SECONDS = 5.0


def close_crashed_runs(
    instance: dg.DagsterInstance, warehouse: Warehouse, *, wait_seconds: float | None = None
) -> list[str]:
    """Close the runs whose process is gone; returns their ids."""
    if not Path(warehouse.database).exists():
        return []
    with warehouse.get_connection(wait_seconds) as connection:
        crashed = lineage.mark_crashed_runs(connection)
    for run_id in crashed:
        run = instance.get_run_by_id(run_id)
        if run is None:
            continue  # a run of another (ephemeral) instance
        if not run.is_finished:
            instance.report_run_failed(
                run, message="tempo-sync: the run's process ended without finishing the run (killed?)"
            )
        if instance.event_log_storage.supports_global_concurrency_limits:
            instance.event_log_storage.free_concurrency_slots_for_run(run_id)
    return crashed


def crashed_runs(pair: Pair) -> dg.SensorDefinition:
    """The pair's sensor that closes its crashed runs."""

    @dg.sensor(
        name=pair.named("crashed_runs"),
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.RUNNING,
        required_resource_keys={pair.named("warehouse")},
    )
    def _crashed_runs(context: dg.SensorEvaluationContext) -> dg.SkipReason:
        """Closes runs whose process died without finishing them, so later runs stop waiting on them."""
        return _close(context, getattr(context.resources, pair.named("warehouse")))

    return _crashed_runs


def _close(context: dg.SensorEvaluationContext, warehouse: Warehouse) -> dg.SkipReason:
    try:
        closed = close_crashed_runs(context.instance, warehouse, wait_seconds=SENSOR_WAIT_SECONDS)
    except WarehouseBusyError:
        return dg.SkipReason("the DuckDB file is being written by a run; trying again on the next tick")
    if closed:
        return dg.SkipReason(f"closed {len(closed)} crashed run(s): {', '.join(closed)}")
    return dg.SkipReason("no crashed runs")
