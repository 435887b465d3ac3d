"""What every asset step shares: its work-date scope, its lineage row, and its metadata."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

import dagster as dg

from assets.pair import CODE_VERSION
from replication import lineage
from replication.scope import Scope
from resources.jira import JiraClient
from resources.tempo import TempoClient
from resources.warehouse import Warehouse

# A run in one of these may still send requests or write the DuckDB file.
UNFINISHED_RUNS = (
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
)


def scope_of(context: dg.AssetExecutionContext) -> Scope:
    """The run's work dates: one partition, or a whole range under the single-run backfill policy."""
    keys = context.partition_key_range
    return Scope(date.fromisoformat(keys.start), date.fromisoformat(keys.end))


@contextmanager
def recorded_step(
    context: dg.AssetExecutionContext, warehouse: Warehouse, step: str, *, last: bool = False
) -> Iterator[dict[str, Any]]:
    """Record the step in ``lineage.runs``: started, then its counts, or the error that stopped it."""
    scope = scope_of(context)
    with warehouse.get_connection() as connection:
        lineage.step_started(connection, context.run.run_id, context.job_name or "", scope, CODE_VERSION)
    counts: dict[str, Any] = {}
    try:
        yield counts
    except Exception as error:
        with warehouse.get_connection() as connection:
            # What the step did before it failed still counts (created before a lost answer, say).
            lineage.step_finished(connection, context.run.run_id, step, counts, last=False)
            lineage.step_failed(connection, context.run.run_id, step, f"{type(error).__name__}: {error}")
        raise
    with warehouse.get_connection() as connection:
        lineage.step_finished(connection, context.run.run_id, step, counts, last=last)


@contextmanager
def metered(*clients: TempoClient | JiraClient) -> Iterator[Counter[str]]:
    """Count the HTTP requests the clients send inside the block, by site and endpoint."""
    before = [Counter(client.calls) for client in clients]
    calls: Counter[str] = Counter()
    try:
        yield calls
    finally:
        for client, seen in zip(clients, before, strict=True):
            for endpoint, count in (client.calls - seen).items():
                calls[f"{client.site} {endpoint}"] += count


def table_metadata(warehouse: Warehouse, table: str, partition_rows: int) -> dict[str, dg.MetadataValue]:
    """Dagster's standard table metadata: the table's name and columns (as DuckDB has them), its
    rows, and the rows the run's partitions hold."""
    schema, name = table.split(".")
    with warehouse.get_connection() as connection:
        columns = connection.execute(
            "select column_name, data_type from information_schema.columns where table_catalog ="
            " current_database() and table_schema = ? and table_name = ? order by ordinal_position",
            [schema, name],
        ).fetchall()
        row = connection.execute(f"select count(*) from {table}").fetchone()  # noqa: S608 - a constant name
    return {
        "dagster/table_name": dg.MetadataValue.text(table),
        "dagster/column_schema": dg.MetadataValue.table_schema(
            dg.TableSchema(columns=[dg.TableColumn(column, kind.lower()) for column, kind in columns])
        ),
        "dagster/row_count": dg.MetadataValue.int(int(row[0]) if row else 0),
        "dagster/partition_row_count": dg.MetadataValue.int(partition_rows),
    }
