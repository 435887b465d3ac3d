"""The ``tempo-sync`` command."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from pipelines import run_command
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
    sandbox_cli.register(
        commands.add_parser(
            "sandbox",
            help="the local Tempo + Jira Cloud emulator (no accounts needed)",
            description="A faithful local emulator of a source and a destination site.",
        )
    )
    args = parser.parse_args(argv)
    return args.handler(args)
