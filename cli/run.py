"""``tempo-sync run``: materialize the sync job for a range of work dates, in this process.

By default it prints notices and the steps' progress (a bar on a terminal, a few plain lines when
stderr is a file), then the per-day table and the outcome. ``--quiet`` prints only the table, the
outcome and what went wrong; ``--json`` prints the result as one JSON document on stdout.
``--dry-run`` reads, resolves and plans as a run does, and writes nothing to the destination: the
table shows per work date what the run would create, update, move and delete.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb

from cli.report import REPORTED_TABLES, DayReport, as_json, day_reports, render, unchecked_rights
from pipelines import sandbox_mode
from replication.scope import Scope
from resources.duckdb_file import WarehouseBusyError, existing_tables
from resources.policy import PolicyError, Schedule, SyncPolicy
from resources.settings import Mode, SettingsError, load_settings
from resources.warehouse import Warehouse

DEFAULT_DAYS = 3
# The command prints its own table and the failing step's error; Dagster's event log (with
# tracebacks) is in the UI when DAGSTER_HOME is set.
_CONSOLE = {"console": {"config": {"log_level": "CRITICAL"}}}
# The load's own switch (``assets.load.LoadConfig``); the other steps only read the sites.
_DRY_RUN = {"destination_worklogs": {"config": {"dry_run": True}}}


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="date_from", type=date.fromisoformat, metavar="DATE",
                        help=f"first work date (default: {DEFAULT_DAYS} days before today)")  # fmt: skip
    parser.add_argument("--to", dest="date_to", type=date.fromisoformat, metavar="DATE",
                        help="last work date, included (default: yesterday)")  # fmt: skip
    parser.add_argument("--dry-run", action="store_true",
                        help="read, resolve and plan, and write nothing to the destination: show what the run"
                        " would create, update, move and delete")  # fmt: skip
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--quiet", action="store_true",
                        help="print only the per-day table, the outcome and what went wrong")  # fmt: skip
    output.add_argument("--json", action="store_true",
                        help="print only the result, as one JSON document on stdout")  # fmt: skip
    parser.set_defaults(handler=run_command)


@dataclass
class _Outcome:
    """What the run did, for the table or the JSON document."""

    run_id: str
    succeeded: bool
    scope: Scope
    dry_run: bool
    propagation: bool  # [propagate] carries edits or deletions: the table shows what it did
    failures: list[dict[str, str]] = field(default_factory=list)  # each failed step and its error
    advice: list[dict[str, str]] = field(default_factory=list)  # failed checks that say what to do
    unchecked: list[str] = field(default_factory=list)  # rights the preflight could not check
    reports: list[DayReport] | None = None  # None when the file holds no results to read
    closed_runs: list[str] = field(default_factory=list)  # crashed runs closed before this one


def run_command(args: argparse.Namespace) -> int:
    from assets.partitions import work_days  # noqa: PLC0415 - Dagster loads only for this command
    from pipelines.crashed_runs import close_crashed_runs  # noqa: PLC0415
    from pipelines.definitions import build_definitions  # noqa: PLC0415

    chatty = not (args.quiet or args.json)
    try:
        settings = load_settings(os.environ)
    except SettingsError as error:
        print(f"tempo-sync: {error}", file=sys.stderr)
        return 2
    today = datetime.now(UTC).date()
    date_to = args.date_to or today - timedelta(days=1)
    date_from = args.date_from or date_to - timedelta(days=DEFAULT_DAYS - 1)
    days = work_days(settings.start_date, Schedule.from_file(settings.config_path))
    first = date.fromisoformat(days.get_first_partition_key() or "")
    last = date.fromisoformat(days.get_last_partition_key() or "")
    if not first <= date_from <= date_to <= last:
        print(
            f"tempo-sync: the range {date_from}..{date_to} is not within the work dates {first}..{last} (the"
            " first is TEMPO_SYNC_START_DATE; the last is today)",
            file=sys.stderr,
        )
        return 2
    try:
        definitions = build_definitions(os.environ)
    except PolicyError as error:
        print(f"tempo-sync: {error}", file=sys.stderr)
        return 2
    # The definitions validated the file; only its switches matter here, not the source site.
    propagation = SyncPolicy.from_file(settings.config_path, source_site="").propagates
    if settings.mode is Mode.SANDBOX and chatty:
        print(
            f"tempo-sync: running on the local sandbox ({sandbox_mode.local_sandbox().urls.base}, state in "
            f"{sandbox_mode.state_dir()}), not on real sites; set TEMPO_SYNC_MODE=live and the SOURCE_* and "
            "DEST_* variables to sync real sites."
        )
    if chatty and args.dry_run:
        print(
            f"tempo-sync: dry run of work dates {date_from} to {date_to}: reading the sites and planning into"
            f" {settings.duckdb_path}; nothing will be written to the destination"
        )
    elif chatty:
        print(f"tempo-sync: syncing work dates {date_from} to {date_to} into {settings.duckdb_path}")
    instance = dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else dg.DagsterInstance.ephemeral()
    warehouse = Warehouse(database=str(settings.duckdb_path))
    closed: list[str] = []
    # Housekeeping only: the run's first step meets the same trouble and names it.
    with contextlib.suppress(duckdb.Error, OSError, WarehouseBusyError):
        closed = close_crashed_runs(instance, warehouse)
    if not args.json:
        for run_id in closed:
            print(f"tempo-sync: run {run_id} had died without finishing (its process is gone); closed it")
    job = definitions.resolve_job_def("sync_worklogs")
    if date_from == date_to:
        options: dict[str, object] = {"partition_key": date_from.isoformat()}
    else:
        options = {"tags": {
            "dagster/asset_partition_range_start": date_from.isoformat(),
            "dagster/asset_partition_range_end": date_to.isoformat(),
        }}  # fmt: skip
    # The progress logger writes to stderr; quiet and JSON output leave it out.
    loggers = {**_CONSOLE, "progress": {}} if chatty else _CONSOLE
    run_config: dict[str, object] = {"loggers": loggers, **({"ops": _DRY_RUN} if args.dry_run else {})}
    result = job.execute_in_process(instance=instance, run_config=run_config, raise_on_error=False, **options)
    outcome = _Outcome(result.run_id, result.success, Scope(date_from, date_to), args.dry_run, propagation,
                       closed_runs=closed)  # fmt: skip
    outcome.failures = _failures(result)
    outcome.advice = _advice(result)
    _read_results(warehouse, outcome)
    if args.json:
        print(json.dumps(_document(outcome, settings.mode, warehouse.database), indent=2))
    else:
        _print(outcome)
    return 0 if outcome.succeeded else 1


def _failures(result: dg.ExecuteInProcessResult) -> list[dict[str, str]]:
    failures = []
    for event in result.all_events:
        if event.is_step_failure and event.step_key and event.event_specific_data is not None:
            error = event.event_specific_data.error  # type: ignore[union-attr]
            while error is not None and error.cause is not None:
                error = error.cause  # the product's own error, not Dagster's wrapper
            message = error.message.strip() if error else "unknown error"
            failures.append({"step": event.step_key, "message": message})
    return failures


def _advice(result: dg.ExecuteInProcessResult) -> list[dict[str, str]]:
    """The failed checks whose metadata says what to do: the mass-deletion guard's names the
    deletions it held back, which the failed step's error (the check's name) does not."""
    return [
        {"check": evaluation.check_name, "what_to_do": str(evaluation.metadata["what_to_do"].value)}
        for evaluation in result.get_asset_check_evaluations()
        if not evaluation.passed and "what_to_do" in evaluation.metadata
    ]


def _read_results(warehouse: Warehouse, outcome: _Outcome) -> None:
    """The per-day figures and the rights the preflight could not check. A run that failed before
    the file held its tables (an unusable path, say) has none: its step error says why."""
    if not Path(warehouse.database).is_file():
        return
    try:
        with warehouse.read_connection() as connection:
            if not existing_tables(connection) >= REPORTED_TABLES:
                return
            outcome.unchecked = unchecked_rights(connection, outcome.run_id)
            outcome.reports = day_reports(connection, outcome.run_id, outcome.scope)
    except (duckdb.Error, WarehouseBusyError) as error:
        print(f"tempo-sync: cannot read the results from {warehouse.database}: {error}", file=sys.stderr)


def _print(outcome: _Outcome) -> None:
    for right in outcome.unchecked:
        print(f"tempo-sync: warning: {right}", file=sys.stderr)
    if outcome.reports is not None:
        print(render(outcome.reports, propagation=outcome.propagation, dry_run=outcome.dry_run))
    for failure in outcome.failures:
        print(f"tempo-sync: step {failure['step']} failed: {failure['message']}", file=sys.stderr)
    for check in outcome.advice:
        print(f"tempo-sync: check {check['check']} failed: {check['what_to_do']}", file=sys.stderr)
    if outcome.dry_run:
        # Said whatever happened: a dry run's load never writes, so neither success nor failure did.
        print("tempo-sync: dry run: nothing was written to the destination")
    if outcome.succeeded:
        print(f"tempo-sync: run {outcome.run_id} succeeded")
    else:
        print(f"tempo-sync: run {outcome.run_id} failed", file=sys.stderr)


def _document(outcome: _Outcome, mode: Mode, database: str) -> dict[str, Any]:
    """The ``--json`` document; ``days`` and ``totals`` are the table's lines (``null`` totals when
    the run left no results to read), with every figure whatever the policy."""
    reports = outcome.reports
    days, totals = as_json(reports, dry_run=outcome.dry_run) if reports is not None else ([], None)
    return {
        "run_id": outcome.run_id,
        "status": "succeeded" if outcome.succeeded else "failed",
        "dry_run": outcome.dry_run,
        "date_from": outcome.scope.date_from.isoformat(),
        "date_to": outcome.scope.date_to.isoformat(),
        "mode": mode.value,
        "duckdb": database,
        "days": days,
        "totals": totals,
        "failed_steps": outcome.failures,
        "failed_checks": outcome.advice,
        "warnings": outcome.unchecked,
        "closed_crashed_runs": outcome.closed_runs,
    }
