"""``tempo-sync status``: recent runs, the ledger, the replica and what is not synced yet.

It only reads the DuckDB file named by the settings, read-only: it starts no sandbox and builds no
Dagster definitions, so it works the same in sandbox and live mode. ``tempo-sync trace`` opens the
file the same way, through :func:`open_warehouse`.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from cli.tables import duration, render_fields, render_table, text, truncate, utc
from resources.settings import SettingsError, load_settings
from resources.warehouse import Warehouse, WarehouseBusyError

DEFAULT_WAIT_SECONDS = 60.0
DEFAULT_RUNS = 10
STATES = ("created", "pending", "unconfirmed", "rejected")
TARGETS = ("tempo", "jira")
ERROR_WIDTH = 60

Show = Callable[[Path, duckdb.DuckDBPyConnection], int]


class CommandError(Exception):
    """Stops a read-only command: the message goes to stderr, ``status`` is the exit status."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def add_wait_option(parser: argparse.ArgumentParser) -> None:
    """``--wait SECONDS``: how long to wait for a run that holds the DuckDB file."""
    parser.add_argument(
        "--wait",
        type=_seconds,
        default=DEFAULT_WAIT_SECONDS,
        metavar="SECONDS",
        help="how long to wait while a run writes the DuckDB file (default: %(default)g)",
    )


def _seconds(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value >= 0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"{raw!r} is not a number of seconds (0 or more)")
    return value


@contextmanager
def open_warehouse(
    wait_seconds: float, *, write: bool = False
) -> Iterator[tuple[Path, duckdb.DuckDBPyConnection]]:
    """The settings' DuckDB file and a connection to it (read-only unless ``write``), or a
    :class:`CommandError`."""
    try:
        path = load_settings(os.environ).duckdb_path
    except SettingsError as error:
        raise CommandError(str(error), 2) from error
    if not path.is_file():
        raise CommandError(f"no DuckDB file at {path} yet; run `tempo-sync run` first", 2)
    warehouse = Warehouse(database=str(path), lock_wait_seconds=wait_seconds)
    with ExitStack() as stack:
        try:
            opened = warehouse.get_connection() if write else warehouse.read_connection()
            connection = stack.enter_context(opened)
        except WarehouseBusyError as error:
            raise CommandError(
                f"waited {wait_seconds:g} s, but the DuckDB file is being written by a run; try again when "
                f"it finishes, or pass --wait SECONDS to wait longer ({path})",
                3,
            ) from error
        except duckdb.Error as error:
            raise CommandError(f"cannot open {path} as a DuckDB file: {error}", 2) from error
        try:
            yield path, connection
        except (duckdb.CatalogException, duckdb.BinderException) as error:
            # A file that another program made, or one from before a migration this code reads.
            raise CommandError(
                f"{path} does not hold the tempo-sync tables this command reads ({error}); a file from an"
                " older tempo-sync is brought up to date by its next `tempo-sync run`",
                2,
            ) from error


def run_on_warehouse(wait_seconds: float, show: Show, *, write: bool = False) -> int:
    """Call ``show`` with the open file; report a :class:`CommandError` as ``tempo-sync: ...``."""
    try:
        with open_warehouse(wait_seconds, write=write) as (path, connection):
            return show(path, connection)
    except CommandError as error:
        print(f"tempo-sync: {error}", file=sys.stderr)
        return error.status


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--runs",
        type=int,
        default=DEFAULT_RUNS,
        metavar="N",
        help="how many of the latest runs to list (default: %(default)s)",
    )
    add_wait_option(parser)
    parser.set_defaults(handler=status_command)


def status_command(args: argparse.Namespace) -> int:
    def show(path: Path, connection: duckdb.DuckDBPyConnection) -> int:
        print(render_status(connection, path, max(args.runs, 0)))
        return 0

    return run_on_warehouse(args.wait, show)


def render_status(connection: duckdb.DuckDBPyConnection, path: Path, runs: int) -> str:
    """Every section of ``tempo-sync status``, blank lines between them."""
    site = connection.execute("select site from meta.sites where role = 'source'").fetchone()
    title = f"tempo-sync: status of {path}" + (f" (source site {site[0]})" if site else "")
    sections = (
        title,
        _runs(connection, runs),
        _ledger(connection),
        _in_doubt(connection),
        _replica(connection),
        _progress(connection),
    )
    return "\n\n".join(sections)


_RUNS = """
select run_id, job_name, partition_start, partition_end, status, started_at,
    epoch(finished_at) - epoch(started_at),
    (counts -> '$.load' ->> 'created')::bigint,
    (counts -> '$.load' ->> 'adopted')::bigint,
    (counts -> '$.load' ->> 'already_synced')::bigint,
    (counts -> '$.load' ->> 'rejected')::bigint,
    (counts -> '$.load' ->> 'pending')::bigint,
    (counts -> '$.load' ->> 'unconfirmed')::bigint,
    error
from lineage.runs
order by started_at desc
limit $limit
"""


def _runs(connection: duckdb.DuckDBPyConnection, limit: int) -> str:
    total = int(_scalar(connection, "select count(*) from lineage.runs") or 0)
    if not total:
        return "runs: none yet"
    rows = connection.execute(_RUNS, {"limit": limit}).fetchall()
    header = (
        "run",
        "job",
        "work dates",
        "status",
        "started (UTC)",
        "took",
        "created",
        "adopted",
        "already synced",
        "rejected",
        "pending",
        "unconfirmed",
        "error",
    )
    cells = [
        (
            run_id[:8],
            job,
            partitions(start, end),
            status,
            utc(started),
            duration(seconds),
            *map(text, loaded),
            truncate(error, ERROR_WIDTH) if status == "failed" else "",
        )
        for run_id, job, start, end, status, started, seconds, *loaded, error in reversed(rows)
    ]
    title = f"runs: the last {len(rows)} of {total}, oldest first (counts from the load step)"
    return title + "\n" + render_table(header, cells, right=range(5, 12))


def partitions(start: date | None, end: date | None) -> str:
    """``2025-03-05`` for one work date, ``2025-03-05..2025-03-07`` for a range."""
    if start is None:
        return "-"
    return str(start) if start == end else f"{start}..{text(end)}"


def _ledger(connection: duckdb.DuckDBPyConnection) -> str:
    rows = connection.execute(
        "select state, target, count(*) from sync.worklog_links group by all"
    ).fetchall()
    counts = Counter({(state, target): n for state, target, n in rows})
    states = [*STATES, *sorted({state for state, _ in counts} - set(STATES))]
    targets = [*TARGETS, *sorted({target for _, target in counts} - set(TARGETS))]
    table = [[counts[state, target] for target in targets] for state in states]
    totals = [sum(column) for column in zip(*table, strict=True)]

    def cells(label: str, numbers: list[int]) -> tuple[str, ...]:
        return (label, *map(str, numbers), str(sum(numbers)))

    header = ("state", *targets, "total")
    body = [cells(state, numbers) for state, numbers in zip(states, table, strict=True)]
    title = "ledger (sync.worklog_links): worklogs by state and target"
    return (
        title + "\n" + render_table(header, body, right=range(1, len(header)), footer=cells("total", totals))
    )


_IN_DOUBT = """
select l.tempo_worklog_id, r.work_date, l.target, l.destination_issue_id, l.candidates, l.finished_at
from sync.worklog_links l
left join replica.worklogs r on r.source_site = l.source_site and r.tempo_worklog_id = l.tempo_worklog_id
where l.state = 'unconfirmed'
order by r.work_date, l.tempo_worklog_id
"""


def _in_doubt(connection: duckdb.DuckDBPyConnection) -> str:
    """The unconfirmed worklogs: what a person must decide, and how."""
    rows = connection.execute(_IN_DOUBT).fetchall()
    if not rows:
        return "unconfirmed worklogs: none"
    header = ("source worklog", "work date", "target", "destination issue", "possible copies", "since (UTC)")
    cells = [
        (
            str(tempo_id),
            text(day),
            target,
            text(issue),
            ", ".join(map(str, candidates or [])) or "-",
            utc(since),
        )
        for tempo_id, day, target, issue, candidates, since in rows
    ]
    title = (
        f"unconfirmed worklogs: {len(rows)}, never sent again by a run; look at each with"
        " `tempo-sync trace ID`, then `tempo-sync settle ID --adopt DESTINATION_ID` or `--resend`"
    )
    return title + "\n" + render_table(header, cells)


def _replica(connection: duckdb.DuckDBPyConnection) -> str:
    rows = connection.execute(
        "select status, park_reason, count(*) from replica.worklogs group by all order by all"
    ).fetchall()
    by_status: dict[str, int] = {}
    for status, _, count in rows:
        by_status[status] = by_status.get(status, 0) + count
    lines = [("ready", str(by_status.pop("ready", 0))), ("parked", str(by_status.pop("parked", 0)))]
    lines += [(f"  {reason}", str(count)) for status, reason, count in rows if status == "parked"]
    lines += [(status, str(count)) for status, count in sorted(by_status.items())]
    quarantined = _scalar(connection, "select count(*) from raw.quarantine")
    lines.append(("quarantined source records", str(quarantined)))
    width = max(len(value) for _, value in lines)
    return "replica (replica.worklogs) and quarantine (raw.quarantine)\n" + render_fields(
        [(label, value.rjust(width)) for label, value in lines]
    )


_UNSYNCED = """
select min(r.work_date), count(distinct r.work_date),
    count(*) filter (where l.state is null),
    count(*) filter (where l.state in ('pending', 'resend')),
    count(*) filter (where l.state = 'unconfirmed'),
    count(*) filter (where l.state = 'rejected')
from replica.worklogs r
left join sync.worklog_links l on l.source_site = r.source_site and l.tempo_worklog_id = r.tempo_worklog_id
where r.status = 'ready' and (l.state is null or l.state <> 'created')
"""

_NEWEST_CREATED = """
select max(r.work_date)
from replica.worklogs r
join sync.worklog_links l on l.source_site = r.source_site and l.tempo_worklog_id = r.tempo_worklog_id
where l.state = 'created'
"""


def _progress(connection: duckdb.DuckDBPyConnection) -> str:
    row = connection.execute(_UNSYNCED).fetchone()
    oldest, days, unsent, pending, unconfirmed, rejected = row or (None, 0, 0, 0, 0, 0)
    newest = _scalar(connection, _NEWEST_CREATED)
    if oldest is None:
        unsynced = "none"
    else:
        unsynced = (
            f"{oldest} (ready worklogs not created yet, on {days} work date{'s' if days != 1 else ''}: "
            f"{unsent} not sent, {pending} pending, {unconfirmed} unconfirmed, {rejected} rejected)"
        )
    return "progress\n" + render_fields(
        [
            ("oldest unsynced work date", unsynced),
            ("newest work date with a created worklog", text(newest) if newest else "none"),
        ]
    )


def _scalar(connection: duckdb.DuckDBPyConnection, sql: str) -> Any:
    row = connection.execute(sql).fetchone()
    return row[0] if row else None
