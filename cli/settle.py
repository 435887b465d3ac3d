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

from cli.pairs import WORKLOG_PER_SITE, add_pair_option
from cli.status import add_wait_option, run_on_warehouse
from replication import ledger


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
    add_pair_option(parser, many=False)
    parser.set_defaults(handler=settle_command)


def settle_command(args: argparse.Namespace) -> int:
    def settle(path: Path, connection: duckdb.DuckDBPyConnection) -> int:
        try:
            if args.resend:
                ledger.allow_resend(connection, args.id)
                print(f"tempo-sync: the next run of its work date sends worklog {args.id} once more")
                return 0
            candidates = ledger.adopt(connection, args.id, args.adopt)
        except ledger.SettleError as error:
            print(f"tempo-sync: {error} ({path})", file=sys.stderr)
            return 1
        print(f"tempo-sync: destination worklog {args.adopt} is now recorded as the copy of {args.id}")
        if args.adopt not in candidates:
            seen = ", ".join(map(str, candidates)) or "none"
            print(f"tempo-sync: note: {args.adopt} was not among the worklogs the last read found ({seen})")
        return 0

    return run_on_warehouse(
        args.wait, settle, write=True, pair=args.pair, command="settle", why=WORKLOG_PER_SITE
    )
