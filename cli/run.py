"""``tempo-sync run``: materialize the sync job for a range of work dates, in this process."""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import duckdb

from cli.report import REPORTED_TABLES, day_reports, render, unchecked_rights
from pipelines import sandbox_mode
from replication.scope import Scope
from resources.policy import PolicyError
from resources.settings import Mode, SettingsError, load_settings
from resources.warehouse import Warehouse, WarehouseBusyError, existing_tables

DEFAULT_DAYS = 3
# The command prints its own table and the failing step's error; Dagster's event log (with
# tracebacks) is in the UI when DAGSTER_HOME is set.
_QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}, "progress": {}}}


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="date_from", type=date.fromisoformat, metavar="DATE",
                        help=f"first work date (default: {DEFAULT_DAYS} days before today)")  # fmt: skip
    parser.add_argument("--to", dest="date_to", type=date.fromisoformat, metavar="DATE",
                        help="last work date, included (default: yesterday)")  # fmt: skip
    parser.set_defaults(handler=run_command)


def run_command(args: argparse.Namespace) -> int:
    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    from assets.partitions import work_days  # noqa: PLC0415
    from pipelines.crashed_runs import close_crashed_runs  # noqa: PLC0415 - after the warning filter
    from pipelines.definitions import build_definitions  # noqa: PLC0415

    try:
        settings = load_settings(os.environ)
    except SettingsError as error:
        print(f"tempo-sync: {error}", file=sys.stderr)
        return 2
    today = datetime.now(UTC).date()
    date_to = args.date_to or today - timedelta(days=1)
    date_from = args.date_from or date_to - timedelta(days=DEFAULT_DAYS - 1)
    first = date.fromisoformat(work_days.get_first_partition_key() or "")
    last = date.fromisoformat(work_days.get_last_partition_key() or "")
    if not first <= date_from <= date_to <= last:
        print(
            f"tempo-sync: the range {date_from}..{date_to} is not within the work dates {first}..{last} (the"
            " first is TEMPO_SYNC_START_DATE; the last is yesterday, in UTC)",
            file=sys.stderr,
        )
        return 2
    try:
        definitions = build_definitions(os.environ)
    except PolicyError as error:
        print(f"tempo-sync: {error}", file=sys.stderr)
        return 2
    if settings.mode is Mode.SANDBOX:
        print(
            f"tempo-sync: running on the local sandbox ({sandbox_mode.local_sandbox().urls.base}, state in "
            f"{sandbox_mode.state_dir()}), not on real sites; set TEMPO_SYNC_MODE=live and the SOURCE_* and "
            "DEST_* variables to sync real sites."
        )
    print(f"tempo-sync: syncing work dates {date_from} to {date_to} into {settings.duckdb_path}")
    instance = dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else dg.DagsterInstance.ephemeral()
    warehouse = Warehouse(database=str(settings.duckdb_path))
    try:
        for run_id in close_crashed_runs(instance, warehouse):
            print(f"tempo-sync: run {run_id} had died without finishing (its process is gone); closed it")
    except (duckdb.Error, OSError, WarehouseBusyError):
        pass  # housekeeping only: the run's first step meets the same trouble and names it
    job = definitions.resolve_job_def("sync_worklogs")
    if date_from == date_to:
        options: dict[str, object] = {"partition_key": date_from.isoformat()}
    else:
        options = {"tags": {
            "dagster/asset_partition_range_start": date_from.isoformat(),
            "dagster/asset_partition_range_end": date_to.isoformat(),
        }}  # fmt: skip
    result = job.execute_in_process(instance=instance, run_config=_QUIET, raise_on_error=False, **options)
    print(file=sys.stderr)  # end the progress line
    _print_report(warehouse, result.run_id, Scope(date_from, date_to))
    if not result.success:
        for event in result.all_events:
            if event.is_step_failure and event.step_key and event.event_specific_data is not None:
                error = event.event_specific_data.error  # type: ignore[union-attr]
                while error is not None and error.cause is not None:
                    error = error.cause  # the product's own error, not Dagster's wrapper
                message = error.message.strip() if error else "unknown error"
                print(f"tempo-sync: step {event.step_key} failed: {message}", file=sys.stderr)
        print(f"tempo-sync: run {result.run_id} failed", file=sys.stderr)
        return 1
    print(f"tempo-sync: run {result.run_id} succeeded")
    return 0


def _print_report(warehouse: Warehouse, run_id: str, scope: Scope) -> None:
    """The per-day table, after the rights the preflight could not check. A run that failed before
    the file held its tables (an unusable path, say) has no table: its step error says why."""
    if not Path(warehouse.database).is_file():
        return
    try:
        with warehouse.read_connection() as connection:
            if not existing_tables(connection) >= REPORTED_TABLES:
                return
            unchecked = unchecked_rights(connection, run_id)
            table = render(day_reports(connection, run_id, scope))
    except (duckdb.Error, WarehouseBusyError) as error:
        print(f"tempo-sync: cannot read the results from {warehouse.database}: {error}", file=sys.stderr)
        return
    for right in unchecked:
        print(f"tempo-sync: warning: {right}", file=sys.stderr)
    print(table)
