"""``tempo-sync retry`` and ``tempo-sync purge-directory``: two small changes to the DuckDB file.

Like ``status``, they start no sandbox and build no Dagster definitions; they open the file for
writing, waiting up to ``--wait`` seconds for a run that holds it. With several pairs, ``--pair``
says whose file.
"""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

import duckdb

from cli.pairs import add_pair_option
from cli.status import add_wait_option, run_on_warehouse
from replication.ledger import EVENT_INSERT


def register_retry(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="date_from", type=date.fromisoformat, metavar="DATE",
                        help="first work date (default: all)")  # fmt: skip
    parser.add_argument("--to", dest="date_to", type=date.fromisoformat, metavar="DATE",
                        help="last work date, included (default: all)")  # fmt: skip
    add_wait_option(parser)
    add_pair_option(parser, many=False)
    parser.set_defaults(handler=retry_command)


def register_purge(parser: argparse.ArgumentParser) -> None:
    add_wait_option(parser)
    add_pair_option(parser, many=False)
    parser.set_defaults(handler=purge_command)


def retry_command(args: argparse.Namespace) -> int:
    """Let the next run send again the worklogs, edits and deletions the destination refused (after a
    fix there)."""

    def mark(path: Path, connection: duckdb.DuckDBPyConnection) -> int:
        params = {"date_from": args.date_from or date.min, "date_to": args.date_to or date.max}
        connection.execute("begin transaction")
        # A rejected row is resent only when its content differs from what was refused; forgetting
        # that content is how an operator says "the destination changed, try again".
        rows = connection.execute(
            """
            update sync.worklog_links l set content_hash = '', last_run_id = 'tempo-sync retry'
            from replica.worklogs r
            where l.state = 'rejected' and r.source_site = l.source_site
              and r.tempo_worklog_id = l.tempo_worklog_id and r.work_date between $date_from and $date_to
            returning l.source_site, l.tempo_worklog_id
            """,
            params,
        ).fetchall()
        # An edit or a deletion the destination refused waits, as it was refused, until the source
        # changes again; forgetting the refusal lets the next run plan it afresh.
        changes = connection.execute(
            """
            update sync.worklog_links l
            set change = null, change_hash = null, last_run_id = 'tempo-sync retry'
            from replica.worklogs r
            where l.state = 'created' and l.change = 'rejected' and r.source_site = l.source_site
              and r.tempo_worklog_id = l.tempo_worklog_id and r.work_date between $date_from and $date_to
            returning l.source_site, l.tempo_worklog_id
            """,
            params,
        ).fetchall()
        if rows or changes:  # DuckDB refuses executemany of no rows; nothing to retry is no error
            connection.executemany(
                f"{EVENT_INSERT} values (?, ?, current_timestamp, 'tempo-sync retry', 'retry_requested',"
                " null)",
                [list(row) for row in rows + changes],
            )
        connection.execute("commit")
        print(
            f"tempo-sync: {len(rows)} rejected worklog(s) and {len(changes)} refused edit(s) or deletion(s)"
            f" in {path} will be sent again by the next run of their work dates"
        )
        return 0

    return run_on_warehouse(args.wait, mark, write=True, pair=args.pair, command="retry")


def purge_command(args: argparse.Namespace) -> int:
    """Remove the cached user directory (emails, names, time zones); runs fetch what they need again."""

    def purge(path: Path, connection: duckdb.DuckDBPyConnection) -> int:
        connection.execute("begin transaction")
        users = connection.execute("delete from directory.users").fetchone()
        searches = connection.execute("delete from directory.user_searches").fetchone()
        connection.execute("commit")
        connection.execute("checkpoint")  # the deleted rows leave the file, not only the table
        print(
            f"tempo-sync: removed {users[0] if users else 0} cached user(s) and"
            f" {searches[0] if searches else 0} email search(es) from {path}; the next run looks up the"
            " users it needs again"
        )
        return 0

    return run_on_warehouse(args.wait, purge, write=True, pair=args.pair, command="purge-directory")
