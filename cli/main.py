"""The ``tempo-sync`` command.

Only the chosen command's module is imported (and its options registered): ``run`` loads Dagster
and the code location, which takes seconds, while ``--help``, ``status`` and ``trace`` must answer
at once. The other commands stay bare entries that only name themselves in the help.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import NamedTuple


class _Command(NamedTuple):
    name: str
    module: str  # imported only when the command is chosen
    register: str  # the module's function that adds the command's options and handler
    help: str
    description: str


_COMMANDS = (
    _Command(
        "run",
        "cli.run",
        "register",
        "sync a range of work dates now, in this process, and print what happened per day",
        "Materialize the sync job for the work dates (default: the last three days).",
    ),
    _Command(
        "status",
        "cli.status",
        "register",
        "recent runs, the ledger, parked worklogs and the oldest unsynced work date (read-only)",
        "Summarize the DuckDB file named by the settings, read-only.",
    ),
    _Command(
        "trace",
        "cli.trace",
        "register",
        "the whole story of one worklog, by its source or destination Tempo or Jira id (read-only)",
        "Show the source row, resolution, ledger row, events and runs of one worklog.",
    ),
    _Command(
        "retry",
        "cli.maintenance",
        "register_retry",
        "let the next run send again the worklogs the destination rejected (after a fix there)",
        "Mark rejected worklogs so that the next run of their work dates sends them again.",
    ),
    _Command(
        "settle",
        "cli.settle",
        "register",
        "decide about an unconfirmed worklog: adopt its destination copy, or send it once more",
        "Settle a worklog the load could not confirm, after looking at its candidates"
        " (`tempo-sync trace ID`).",
    ),
    _Command(
        "purge-directory",
        "cli.maintenance",
        "register_purge",
        "remove the cached user directory (emails, names, time zones) from the DuckDB file",
        "Delete directory.users and directory.user_searches; runs fetch them again.",
    ),
    _Command(
        "sandbox",
        "sandbox.cli",
        "register",
        "the local Tempo + Jira Cloud emulator (no accounts needed)",
        "A faithful local emulator of a source and a destination site.",
    ),
)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else list(argv)
    parser = argparse.ArgumentParser(
        prog="tempo-sync",
        description="Replicate newly created Tempo worklogs from one Jira Cloud site to another.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # The command is the first word that is not an option: the top level has no option but --help.
    chosen = next((word for word in arguments if not word.startswith("-")), None)
    for command in _COMMANDS:
        subparser = commands.add_parser(command.name, help=command.help, description=command.description)
        if command.name == chosen:
            getattr(importlib.import_module(command.module), command.register)(subparser)
    args = parser.parse_args(arguments)
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        print("tempo-sync: interrupted", file=sys.stderr)
        return 130
