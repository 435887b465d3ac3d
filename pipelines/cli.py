"""The ``tempo-sync`` command."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from pipelines import run_command, status_command, trace_command
from sandbox import cli as sandbox_cli


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="tempo-sync",
        description="Replicate newly created Tempo worklogs from one Jira Cloud site to another.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run_command.register(
        commands.add_parser(
            "run",
            help="sync a range of work dates now, in this process, and print what happened per day",
            description="Materialize the sync job for the work dates (default: the last three days).",
        )
    )
    status_command.register(
        commands.add_parser(
            "status",
            help="recent runs, the ledger, parked worklogs and the oldest unsynced work date (read-only)",
            description="Summarize the DuckDB file named by the settings, read-only.",
        )
    )
    trace_command.register(
        commands.add_parser(
            "trace",
            help="the whole story of one worklog, by its source or destination Tempo or Jira id (read-only)",
            description="Show the source row, resolution, ledger row, events and runs of one worklog.",
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
    return args.handler(args)
