"""The ``tempo-sync`` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from cli import maintenance, run, settle, status, trace
from sandbox import cli as sandbox_cli


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="tempo-sync",
        description="Replicate newly created Tempo worklogs from one Jira Cloud site to another.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run.register(
        commands.add_parser(
            "run",
            help="sync a range of work dates now, in this process, and print what happened per day",
            description="Materialize the sync job for the work dates (default: the last three days).",
        )
    )
    status.register(
        commands.add_parser(
            "status",
            help="recent runs, the ledger, parked worklogs and the oldest unsynced work date (read-only)",
            description="Summarize the DuckDB file named by the settings, read-only.",
        )
    )
    trace.register(
        commands.add_parser(
            "trace",
            help="the whole story of one worklog, by its source or destination Tempo or Jira id (read-only)",
            description="Show the source row, resolution, ledger row, events and runs of one worklog.",
        )
    )
    maintenance.register_retry(
        commands.add_parser(
            "retry",
            help="let the next run send again the worklogs the destination rejected (after a fix there)",
            description="Mark rejected worklogs so that the next run of their work dates sends them again.",
        )
    )
    settle.register(
        commands.add_parser(
            "settle",
            help="decide about an unconfirmed worklog: adopt its destination copy, or send it once more",
            description="Settle a worklog the load could not confirm, after looking at its candidates"
            " (`tempo-sync trace ID`).",
        )
    )
    maintenance.register_purge(
        commands.add_parser(
            "purge-directory",
            help="remove the cached user directory (emails, names, time zones) from the DuckDB file",
            description="Delete directory.users and directory.user_searches; runs fetch them again.",
        )
    )
    sandbox_cli.register(
        commands.add_parser(
            "sandbox",
            help="the local Tempo + Jira Cloud emulator (no accounts needed)",
            description="A faithful local emulator of a source and a destination site.",
        )
    )
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        print("tempo-sync: interrupted", file=sys.stderr)
        return 130
