"""``tempo-sync status``: recent runs, the ledger, the replica, what is not synced yet and what the
propagation of edits and deletions (``[propagate]``) left to look at.

It only reads the DuckDB file named by the settings, read-only: it starts no sandbox and builds no
Dagster definitions, so it works the same in sandbox and live mode. With a pairs file it shows every
pair, each under its heading, or the pairs ``--pair`` names. ``tempo-sync trace`` opens the file the
same way, through :func:`open_warehouse`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb

from cli.pairs import FILE_PER_PAIR, PairError, add_pair_option, choose, has_pairs_file, heading, one
from cli.tables import duration, render_fields, render_table, text, truncate, utc
from resources.duckdb_file import DuckDBFile, WarehouseBusyError, set_variables
from resources.pairs import load_pairs
from resources.settings import Settings, SettingsError

DEFAULT_WAIT_SECONDS = 60.0
DEFAULT_RUNS = 10
STATES = ("created", "pending", "unconfirmed", "rejected")
LOADED = ("created", "adopted", "already_synced", "rejected", "pending", "unconfirmed")
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


def pair_settings(name: str | None, command: str, why: str = FILE_PER_PAIR) -> Settings:
    """The settings of the pair ``--pair`` names (or of the only pair), or a :class:`CommandError`."""
    try:
        return one(load_pairs(os.environ), name, command, why)
    except (SettingsError, PairError) as error:
        raise CommandError(str(error), 2) from error


@contextmanager
def open_warehouse(
    wait_seconds: float, *, write: bool = False, settings: Settings | None = None
) -> Iterator[tuple[Path, duckdb.DuckDBPyConnection]]:
    """The DuckDB file of ``settings`` (default: the only pair's) and a connection to it (read-only
    unless ``write``), or a :class:`CommandError`."""
    path = (settings or pair_settings(None, "status")).duckdb_path
    if not path.is_file():
        raise CommandError(f"no DuckDB file at {path} yet; run `tempo-sync run` first", 2)
    file = DuckDBFile(str(path), lock_wait_seconds=wait_seconds)
    with ExitStack() as stack:
        try:
            opened = file.write_connection() if write else file.read_connection()
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


def run_on_warehouse(
    wait_seconds: float,
    show: Show,
    *,
    write: bool = False,
    pair: str | None = None,
    command: str = "status",
    why: str = FILE_PER_PAIR,
) -> int:
    """Call ``show`` with the open file of the pair ``--pair`` names (``pair``; needed among several
    pairs, for the reason ``why``); report a :class:`CommandError` as ``tempo-sync: ...``."""
    try:
        settings = pair_settings(pair, command, why)
    except CommandError as error:
        print(f"tempo-sync: {error}", file=sys.stderr)
        return error.status
    return _on_file(settings, wait_seconds, show, write=write)


def _on_file(settings: Settings, wait_seconds: float, show: Show, *, write: bool = False) -> int:
    try:
        with open_warehouse(wait_seconds, write=write, settings=settings) as (path, connection):
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
    parser.add_argument("--json", action="store_true", help="print the status as one JSON document")
    add_wait_option(parser)
    add_pair_option(parser, many=True)
    parser.set_defaults(handler=status_command)


def status_command(args: argparse.Namespace) -> int:
    try:
        pairs = choose(load_pairs(os.environ), args.pair or [])
    except (SettingsError, PairError) as error:
        print(f"tempo-sync: {error}", file=sys.stderr)
        return 2
    if not has_pairs_file(os.environ) or (args.pair and len(pairs) == 1):
        # One pair asked for (or the only pair of the environment variables): today's output.
        def show(path: Path, connection: duckdb.DuckDBPyConnection) -> int:
            status = read_status(connection, path, max(args.runs, 0))
            print(json.dumps(status, indent=2, default=_json_value) if args.json else render_status(status))
            return 0

        return _on_file(pairs[0], args.wait, show)
    return _every_pair(pairs, args)


def _every_pair(pairs: list[Settings], args: argparse.Namespace) -> int:
    """Each pair's status under its heading, or (``--json``) a list of one document per pair, each
    naming its pair; a pair whose file cannot be read says why (an ``error`` in JSON) and the
    others are still shown. The exit status is the worst of them."""
    documents: list[dict[str, Any]] = []
    worst = 0
    for index, settings in enumerate(pairs):
        if not args.json:
            print(("\n" if index else "") + heading(settings), flush=True)
        try:
            with open_warehouse(args.wait, settings=settings) as (path, connection):
                status = read_status(connection, path, max(args.runs, 0))
        except CommandError as error:
            print(f"tempo-sync: pair {settings.name!r}: {error}", file=sys.stderr, flush=True)
            documents.append({"pair": settings.name, "error": str(error)})
            worst = max(worst, error.status)
            continue
        documents.append({"pair": settings.name, **status})
        if not args.json:
            print(render_status(status))
    if args.json:
        print(json.dumps(documents, indent=2, default=_json_value))
    return worst


def read_status(connection: duckdb.DuckDBPyConnection, path: Path, runs: int) -> dict[str, Any]:
    """Everything ``tempo-sync status`` shows, as data (dates and instants as Python values)."""
    site = connection.execute("select site from meta.sites where role = 'source'").fetchone()
    return {
        "duckdb": str(path),
        "source_site": site[0] if site else None,
        "runs": _runs(connection, runs),
        "ledger": _ledger(connection),
        "unconfirmed": _in_doubt(connection),
        "replica": _replica(connection),
        "progress": _progress(connection),
        "propagation": _propagation(connection),
    }


def render_status(status: dict[str, Any]) -> str:
    """Every section of ``tempo-sync status``, blank lines between them."""
    site = status["source_site"]
    title = f"tempo-sync: status of {status['duckdb']}" + (f" (source site {site})" if site else "")
    sections = (
        title,
        _render_runs(status["runs"]),
        _render_ledger(status["ledger"]),
        _render_in_doubt(status["unconfirmed"]),
        _render_replica(status["replica"]),
        _render_progress(status["progress"]),
        _render_propagation(status["propagation"]),
    )
    return "\n\n".join(sections)


def _json_value(value: object) -> str:
    """Dates as ``YYYY-MM-DD``, instants in ISO 8601 (UTC) for ``--json``."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


_RUNS = """
select run_id, job_name, partition_start, partition_end, status, started_at,
    epoch(finished_at) - epoch(started_at),
    (counts -> '$.load' ->> 'created')::bigint,
    (counts -> '$.load' ->> 'adopted')::bigint,
    (counts -> '$.load' ->> 'already_synced')::bigint,
    (counts -> '$.load' ->> 'rejected')::bigint,
    (counts -> '$.load' ->> 'pending')::bigint,
    (counts -> '$.load' ->> 'unconfirmed')::bigint,
    error,
    coalesce((counts -> '$.load' ->> 'dry_run')::boolean, false)
from lineage.runs
order by started_at desc
limit getvariable('latest')
"""

_RUN_FIELDS = ("run_id", "job", "date_from", "date_to", "status", "started_at", "seconds", *LOADED, "error",
               "dry_run")  # fmt: skip


def _runs(connection: duckdb.DuckDBPyConnection, limit: int) -> dict[str, Any]:
    """The latest runs, oldest first, with the counts of their load step."""
    total = int(_scalar(connection, "select count(*) from lineage.runs") or 0)
    set_variables(connection, latest=limit)
    rows = connection.execute(_RUNS).fetchall() if total else []
    return {"total": total, "latest": [dict(zip(_RUN_FIELDS, row, strict=True)) for row in reversed(rows)]}


def _render_runs(runs: dict[str, Any]) -> str:
    if not runs["total"]:
        return "runs: none yet"
    header = ("run", "job", "work dates", "status", "started (UTC)", "took", "created", "adopted",
              "already synced", "rejected", "pending", "unconfirmed", "error")  # fmt: skip
    cells = [
        (
            run["run_id"][:8],
            # A dry run created nothing by design; without the mark it reads as a sync that found nothing.
            f"{run['job']} (dry run)" if run["dry_run"] else run["job"],
            partitions(run["date_from"], run["date_to"]),
            run["status"],
            utc(run["started_at"]),
            duration(run["seconds"]),
            *(text(run[name]) for name in LOADED),
            truncate(run["error"], ERROR_WIDTH) if run["status"] == "failed" else "",
        )
        for run in runs["latest"]
    ]
    title = f"runs: the last {len(cells)} of {runs['total']}, oldest first (counts from the load step)"
    return title + "\n" + render_table(header, cells, right=range(5, 12))


def partitions(start: date | None, end: date | None) -> str:
    """``2025-03-05`` for one work date, ``2025-03-05..2025-03-07`` for a range."""
    if start is None:
        return "-"
    return str(start) if start == end else f"{start}..{text(end)}"


def _ledger(connection: duckdb.DuckDBPyConnection) -> dict[str, dict[str, int]]:
    """Worklogs by state, then by target, each with a total; the usual states and targets always."""
    rows = connection.execute(
        "select state, target, count(*) from sync.worklog_links group by all"
    ).fetchall()
    counts = Counter({(state, target): n for state, target, n in rows})
    states = [*STATES, *sorted({state for state, _ in counts} - set(STATES))]
    targets = [*TARGETS, *sorted({target for _, target in counts} - set(TARGETS))]
    ledger = {state: {target: counts[state, target] for target in targets} for state in states}
    ledger["total"] = {target: sum(ledger[state][target] for state in states) for target in targets}
    for by_target in ledger.values():
        by_target["total"] = sum(by_target.values())
    return ledger


def _render_ledger(ledger: dict[str, dict[str, int]]) -> str:
    *states, total = ledger
    header = ("state", *ledger[total])

    def cells(label: str) -> tuple[str, ...]:
        return (label, *map(str, ledger[label].values()))

    title = "ledger (sync.worklog_links): worklogs by state and target"
    table = render_table(header, [cells(state) for state in states], right=range(1, len(header)),
                         footer=cells(total))  # fmt: skip
    return title + "\n" + table


_IN_DOUBT = """
select l.tempo_worklog_id, r.work_date, l.target, l.destination_issue_id, coalesce(l.candidates, []),
    l.finished_at
from sync.worklog_links l
left join replica.worklogs r on r.source_site = l.source_site and r.tempo_worklog_id = l.tempo_worklog_id
where l.state = 'unconfirmed'
order by r.work_date, l.tempo_worklog_id
"""

_IN_DOUBT_FIELDS = ("source_worklog", "work_date", "target", "destination_issue", "possible_copies", "since")


def _in_doubt(connection: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """The unconfirmed worklogs: what a person must decide."""
    return [dict(zip(_IN_DOUBT_FIELDS, row, strict=True)) for row in connection.execute(_IN_DOUBT).fetchall()]


def _render_in_doubt(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "unconfirmed worklogs: none"
    header = ("source worklog", "work date", "target", "destination issue", "possible copies", "since (UTC)")
    cells = [
        (
            str(row["source_worklog"]),
            text(row["work_date"]),
            row["target"],
            text(row["destination_issue"]),
            ", ".join(map(str, row["possible_copies"])) or "-",
            utc(row["since"]),
        )
        for row in rows
    ]
    title = (
        f"unconfirmed worklogs: {len(rows)}, never sent again by a run; look at each with"
        " `tempo-sync trace ID`, then `tempo-sync settle ID --adopt DESTINATION_ID` or `--resend`"
    )
    return title + "\n" + render_table(header, cells)


def _replica(connection: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Replica rows by status (parked ones by reason too), and the quarantined source records."""
    rows = connection.execute(
        "select status, park_reason, count(*) from replica.worklogs group by all order by all"
    ).fetchall()
    by_status: dict[str, int] = {}
    for status, _, count in rows:
        by_status[status] = by_status.get(status, 0) + count
    return {
        "ready": by_status.pop("ready", 0),
        "parked": by_status.pop("parked", 0),
        "parked_by_reason": {reason: count for status, reason, count in rows if status == "parked"},
        "other_statuses": dict(sorted(by_status.items())),
        "quarantined": int(_scalar(connection, "select count(*) from raw.quarantine") or 0),
    }


def _render_replica(replica: dict[str, Any]) -> str:
    lines = [("ready", str(replica["ready"])), ("parked", str(replica["parked"]))]
    lines += [(f"  {reason}", str(count)) for reason, count in replica["parked_by_reason"].items()]
    lines += [(status, str(count)) for status, count in replica["other_statuses"].items()]
    lines.append(("quarantined source records", str(replica["quarantined"])))
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

_UNSYNCED_FIELDS = ("oldest_unsynced_work_date", "unsynced_work_dates", "not_sent", "pending", "unconfirmed",
                    "rejected")  # fmt: skip


def _progress(connection: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """The oldest work date with ready worklogs not created yet (and why), the newest synced."""
    row = connection.execute(_UNSYNCED).fetchone() or (None, 0, 0, 0, 0, 0)
    newest = _scalar(connection, _NEWEST_CREATED)
    return {**dict(zip(_UNSYNCED_FIELDS, row, strict=True)), "newest_created_work_date": newest}


def _render_progress(progress: dict[str, Any]) -> str:
    oldest, days = progress["oldest_unsynced_work_date"], progress["unsynced_work_dates"]
    if oldest is None:
        unsynced = "none"
    else:
        unsynced = (
            f"{oldest} (ready worklogs not created yet, on {days} work date{'s' if days != 1 else ''}: "
            f"{progress['not_sent']} not sent, {progress['pending']} pending, {progress['unconfirmed']}"
            f" unconfirmed, {progress['rejected']} rejected)"
        )
    newest = progress["newest_created_work_date"]
    return "progress\n" + render_fields(
        [
            ("oldest unsynced work date", unsynced),
            ("newest work date with a created worklog", text(newest) if newest else "none"),
        ]
    )


# Conflicts are read from the ledger, as the check edits_reach_their_copies reads them: the replica
# row is parked `destination_changed` too, but a run's transform makes it ready again until its load
# looks at the copy once more.
_PROPAGATION = """
select
    (select count(*) from sync.worklog_links where state = 'created' and conflict is not null),
    (select count(*) from sync.worklog_links where state = 'created' and change = 'rejected'),
    (select count(*) from sync.worklog_links where change_state is not null),
    (select count(*) from sync.worklog_links where state = 'deleted'),
    (select count(*) from raw.source_deletions d
     join sync.worklog_links l on l.tempo_worklog_id = d.tempo_worklog_id where l.state = 'created')
"""

_PROPAGATION_FIELDS = ("conflicts", "changes_refused", "changes_in_flight", "deleted_copies",
                       "source_deletions_not_carried")  # fmt: skip


def _propagation(connection: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """What the propagation of edits and deletions left: copies changed on the destination (parked),
    edits the destination refused (tried again once the source changes again), changes a run
    claimed or sent and did not record yet, copies deleted, and confirmed source deletions whose
    copy is still there (held back by the mass-deletion guard, left by a run that stopped, or
    `[propagate] deletes` switched off since)."""
    row = connection.execute(_PROPAGATION).fetchone() or (0,) * len(_PROPAGATION_FIELDS)
    return dict(zip(_PROPAGATION_FIELDS, map(int, row), strict=True))


def _render_propagation(propagation: dict[str, int]) -> str:
    labels = (
        "conflicts (parked destination_changed)",
        "changes the destination refused",
        "changes in flight",
        "deleted copies",
        "source deletions confirmed, not carried yet",
    )
    counts = [str(propagation[name]) for name in _PROPAGATION_FIELDS]
    width = max(map(len, counts))
    return "edits and deletions ([propagate])\n" + render_fields(
        [(label, count.rjust(width)) for label, count in zip(labels, counts, strict=True)]
    )


def _scalar(connection: duckdb.DuckDBPyConnection, sql: str) -> Any:
    row = connection.execute(sql).fetchone()
    return row[0] if row else None
