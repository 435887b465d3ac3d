"""``tempo-sync run``: materialize the sync job for a range of work dates, in this process.

By default it prints notices and the steps' progress (a bar on a terminal, a few plain lines when
stderr is a file), then the per-day table and the outcome. ``--quiet`` prints only the table, the
outcome and what went wrong; ``--json`` prints the result as one JSON document on stdout.
``--dry-run`` reads, resolves and plans as a run does, and writes nothing to the destination: the
table shows per work date what the run would create, update, move and delete.

With a pairs file (``TEMPO_SYNC_PAIRS``) it runs every pair's job, or those ``--pair`` names, one
after another in the file's order; each pair's output comes under a heading with its name, and
``--json`` prints a list of one document per pair. Without one, the output is the single pair's.
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
from typing import TYPE_CHECKING, Any

import dagster as dg
import duckdb

from cli.pairs import PairError, add_pair_option, choose, has_pairs_file, heading
from cli.report import REPORTED_TABLES, DayReport, as_json, day_reports, render, unchecked_rights
from pipelines import sandbox_mode
from replication.scope import Scope
from resources.duckdb_file import WarehouseBusyError, existing_tables
from resources.pairs import load_pairs
from resources.policy import PolicyError, SyncPolicy
from resources.settings import Mode, Settings, SettingsError
from resources.warehouse import Warehouse

if TYPE_CHECKING:
    from assets.pair import Pair

DEFAULT_DAYS = 3
# The command prints its own table and the failing step's error; Dagster's event log (with
# tracebacks) is in the UI when DAGSTER_HOME is set.
_CONSOLE = {"console": {"config": {"log_level": "CRITICAL"}}}


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
                        help="print only the result, as one JSON document on stdout (with a pairs file, a"
                        " list of one document per pair)")  # fmt: skip
    add_pair_option(parser, many=True)
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
    from pipelines.definitions import build_definitions  # noqa: PLC0415 - Dagster loads only for this command

    try:
        pairs = choose(load_pairs(os.environ), args.pair or [])
    except (SettingsError, PairError) as error:
        print(f"tempo-sync: {error}", file=sys.stderr)
        return 2
    headed = has_pairs_file(os.environ)
    today = datetime.now(UTC).date()
    date_to = args.date_to or today - timedelta(days=1)
    date_from = args.date_from or date_to - timedelta(days=DEFAULT_DAYS - 1)
    scope = Scope(date_from, date_to)
    jobs = _jobs(pairs, scope, headed=headed)
    if jobs is None:
        return 2
    try:
        definitions = build_definitions(os.environ)
    except PolicyError as error:
        print(f"tempo-sync: {error}", file=sys.stderr)
        return 2
    instance = dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else dg.DagsterInstance.ephemeral()
    outcomes: list[tuple[Settings, _Outcome]] = []
    # One pair after another: each pair's run writes its own DuckDB file, and a failed pair does
    # not keep the others from running.
    for index, (settings, pair) in enumerate(jobs):
        if headed and not args.json:
            print(("\n" if index else "") + heading(settings), flush=True)
        outcome = _run_pair(definitions, instance, settings, pair, scope, args, headed=headed)
        outcomes.append((settings, outcome))
        if not args.json:
            _print(outcome, _label(settings, headed=headed))
    if args.json:
        _print_json(outcomes, headed=headed)
    failed = [settings.name for settings, outcome in outcomes if not outcome.succeeded]
    if headed and len(outcomes) > 1 and not args.json:
        if failed:
            print(
                f"tempo-sync: {len(failed)} of {len(outcomes)} pairs failed: {', '.join(failed)}",
                file=sys.stderr,
            )
        else:
            print(f"tempo-sync: all {len(outcomes)} pairs succeeded")
    return 1 if failed else 0


def _jobs(pairs: list[Settings], scope: Scope, *, headed: bool) -> list[tuple[Settings, Pair]] | None:
    """Each pair with its Dagster names, or ``None`` when the range is outside a pair's work dates
    (each such pair named). Every pair is checked before any runs: a wrong date stops them all."""
    from assets.pair import Pair  # noqa: PLC0415 - Dagster loads only for this command

    jobs: list[tuple[Settings, Pair]] = []
    refused = False
    for settings in pairs:
        pair = Pair.of(settings)
        first = date.fromisoformat(pair.partitions.get_first_partition_key() or "")
        last = date.fromisoformat(pair.partitions.get_last_partition_key() or "")
        if not first <= scope.date_from <= scope.date_to <= last:
            print(_out_of_range(settings, scope, first, last, headed=headed), file=sys.stderr)
            refused = True
        jobs.append((settings, pair))
    return None if refused else jobs


def _print_json(outcomes: list[tuple[Settings, _Outcome]], *, headed: bool) -> None:
    """Today's one document without a pairs file; with one, a list of one document per pair, each
    naming its pair."""
    documents = [
        _document(outcome, settings.mode, str(settings.duckdb_path)) for settings, outcome in outcomes
    ]
    if not headed:
        print(json.dumps(documents[0], indent=2))
        return
    named = [
        {"pair": settings.name, **document}
        for (settings, _), document in zip(outcomes, documents, strict=True)
    ]
    print(json.dumps(named, indent=2))


def _out_of_range(settings: Settings, scope: Scope, first: date, last: date, *, headed: bool) -> str:
    date_from, date_to = scope.date_from, scope.date_to
    if not headed:
        return (
            f"tempo-sync: the range {date_from}..{date_to} is not within the work dates {first}..{last} (the"
            " first is TEMPO_SYNC_START_DATE; the last is today)"
        )
    return (
        f"tempo-sync: pair {settings.name!r}: the range {date_from}..{date_to} is not within its work dates"
        f" {first}..{last} (the first is its start_date in the pairs file; the last is today)"
    )


def _label(settings: Settings, *, headed: bool) -> str:
    """What starts a pair's lines on stderr, which interleave with stdout's headings."""
    return f"pair {settings.name!r}: " if headed else ""


def _run_pair(
    definitions: dg.Definitions,
    instance: dg.DagsterInstance,
    settings: Settings,
    pair: Pair,
    scope: Scope,
    args: argparse.Namespace,
    *,
    headed: bool,
) -> _Outcome:
    """One pair's job over the work dates, in this process, and what it did."""
    from pipelines.crashed_runs import close_crashed_runs  # noqa: PLC0415

    chatty = not (args.quiet or args.json)
    date_from, date_to = scope.date_from, scope.date_to
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
    warehouse = Warehouse(database=str(settings.duckdb_path))
    closed: list[str] = []
    # Housekeeping only: the run's first step meets the same trouble and names it.
    with contextlib.suppress(duckdb.Error, OSError, WarehouseBusyError):
        closed = close_crashed_runs(instance, warehouse)
    if not args.json:
        label = _label(settings, headed=headed)
        for run_id in closed:
            print(
                f"tempo-sync: {label}run {run_id} had died without finishing (its process is gone); closed it"
            )
    job = definitions.resolve_job_def(pair.job_name)
    if date_from == date_to:
        options: dict[str, object] = {"partition_key": date_from.isoformat()}
    else:
        options = {"tags": {
            "dagster/asset_partition_range_start": date_from.isoformat(),
            "dagster/asset_partition_range_end": date_to.isoformat(),
        }}  # fmt: skip
    # The progress logger writes to stderr; quiet and JSON output leave it out.
    loggers = {**_CONSOLE, "progress": {}} if chatty else _CONSOLE
    # The load's own switch (``assets.load.LoadConfig``), on the pair's load step.
    dry_run = {pair.key("destination_worklogs").to_python_identifier(): {"config": {"dry_run": True}}}
    run_config: dict[str, object] = {"loggers": loggers, **({"ops": dry_run} if args.dry_run else {})}
    result = job.execute_in_process(instance=instance, run_config=run_config, raise_on_error=False, **options)
    outcome = _Outcome(result.run_id, result.success, scope, args.dry_run, propagation, closed_runs=closed)
    outcome.failures = _failures(result)
    outcome.advice = _advice(result)
    _read_results(warehouse, outcome)
    return outcome


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


def _print(outcome: _Outcome, label: str = "") -> None:
    """The table and the outcome; ``label`` names the pair on the lines that go to stderr."""
    for right in outcome.unchecked:
        print(f"tempo-sync: {label}warning: {right}", file=sys.stderr)
    if outcome.reports is not None:
        print(render(outcome.reports, propagation=outcome.propagation, dry_run=outcome.dry_run))
    for failure in outcome.failures:
        print(f"tempo-sync: {label}step {failure['step']} failed: {failure['message']}", file=sys.stderr)
    for check in outcome.advice:
        print(f"tempo-sync: {label}check {check['check']} failed: {check['what_to_do']}", file=sys.stderr)
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
