"""``tempo-sync settle``: a person's decision about a worklog the load could not confirm.

A row is ``unconfirmed`` when a read of the destination could neither find its copy nor prove it
absent: a worklog there may be the copy in another form. No run sends it again by itself. After
looking at the candidates (``tempo-sync trace ID`` lists them), a person either adopts the
destination worklog that is the copy, or allows one more send. Like ``retry``, the command
changes only the DuckDB file; it calls no service.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import duckdb

from pipelines.status_command import add_wait_option, run_on_warehouse

SETTLED_BY = "tempo-sync settle"


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "id", type=int, metavar="ID", help="the source Tempo worklog id of the unconfirmed worklog"
    )
    decision = parser.add_mutually_exclusive_group(required=True)
    decision.add_argument(
        "--adopt",
        type=int,
        metavar="DESTINATION_ID",
        help="record this destination worklog (a Tempo id, or a Jira id where the destination has no Tempo)"
        " as the copy",
    )
    decision.add_argument(
        "--resend",
        action="store_true",
        help="the destination holds no copy: the next run of its work date sends it once more",
    )
    add_wait_option(parser)
    parser.set_defaults(handler=settle_command)


def settle_command(args: argparse.Namespace) -> int:
    def settle(path: Path, connection: duckdb.DuckDBPyConnection) -> int:
        row = connection.execute(
            "select state, target, candidates from sync.worklog_links where tempo_worklog_id = ?", [args.id]
        ).fetchone()
        if row is None:
            print(
                f"tempo-sync: the ledger in {path} has no worklog with source Tempo id {args.id}",
                file=sys.stderr,
            )
            return 1
        state, target, candidates = row
        if state != "unconfirmed":
            print(
                f"tempo-sync: worklog {args.id} is {state}, not unconfirmed; only an unconfirmed worklog is"
                " settled by hand",
                file=sys.stderr,
            )
            return 1
        if args.resend:
            return _allow_resend(connection, args.id)
        return _adopt(connection, args.id, target, args.adopt, candidates or [])

    return run_on_warehouse(args.wait, settle, write=True)


# The ledger column of a destination worklog id, by target.
_ID_COLUMN = {"tempo": "destination_tempo_worklog_id", "jira": "destination_jira_worklog_id"}


def _adopt(
    connection: duckdb.DuckDBPyConnection,
    tempo_worklog_id: int,
    target: str,
    copy_id: int,
    candidates: list[int],
) -> int:
    column = _ID_COLUMN[target]
    holder = connection.execute(
        f"select tempo_worklog_id from sync.worklog_links"  # noqa: S608 - a column name of _ID_COLUMN
        f" where target = ? and {column} = ? and state = 'created'",
        [target, copy_id],
    ).fetchone()
    if holder is not None:
        print(
            f"tempo-sync: destination worklog {copy_id} is already the copy of source worklog {holder[0]};"
            " a destination worklog is the copy of one source worklog at most",
            file=sys.stderr,
        )
        return 1
    connection.execute("begin transaction")
    connection.execute(
        f"update sync.worklog_links set state = 'created', {column} = ?, candidates = null,"  # noqa: S608 - as above
        " last_error = null, finished_at = current_timestamp, created_run_id = ?, last_run_id = ?"
        " where tempo_worklog_id = ?",
        [copy_id, SETTLED_BY, SETTLED_BY, tempo_worklog_id],
    )
    _event(
        connection, tempo_worklog_id, f"a person adopted destination {target.capitalize()} worklog {copy_id}"
    )
    connection.execute("commit")
    print(f"tempo-sync: destination worklog {copy_id} is now recorded as the copy of {tempo_worklog_id}")
    if copy_id not in candidates:
        seen = ", ".join(map(str, candidates)) or "none"
        print(f"tempo-sync: note: {copy_id} was not among the worklogs the last read found ({seen})")
    return 0


def _allow_resend(connection: duckdb.DuckDBPyConnection, tempo_worklog_id: int) -> int:
    connection.execute("begin transaction")
    # `resend` is claimed and sent by the next run without the read that made it unconfirmed.
    connection.execute(
        "update sync.worklog_links set state = 'resend', last_run_id = ? where tempo_worklog_id = ?",
        [SETTLED_BY, tempo_worklog_id],
    )
    _event(connection, tempo_worklog_id, "a person allowed one more send")
    connection.execute("commit")
    print(f"tempo-sync: the next run of its work date sends worklog {tempo_worklog_id} once more")
    return 0


def _event(connection: duckdb.DuckDBPyConnection, tempo_worklog_id: int, detail: str) -> None:
    connection.execute(
        "insert into sync.events select source_site, tempo_worklog_id, current_timestamp, ?, 'settled', ?"
        " from sync.worklog_links where tempo_worklog_id = ?",
        [SETTLED_BY, detail, tempo_worklog_id],
    )
