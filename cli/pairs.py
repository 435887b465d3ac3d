"""Which site pairs a command works on: ``--pair NAME``, checked against the pairs the settings name.

Without a pairs file there is one pair, ``default``, and every command behaves as it always has.
With one, ``run`` and ``status`` take every pair unless ``--pair`` names some, while the commands
that read or change one DuckDB file (``trace``, ``settle``, ``retry``, ``purge-directory``) need
``--pair`` as soon as the file declares more than one pair: guessing would show or change the
wrong pair's ledger. This module imports no Dagster, so ``status`` and ``trace`` stay fast.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence

from resources.settings import Settings

# Why a command that works on one DuckDB file needs --pair when there are several.
WORKLOG_PER_SITE = "a worklog id belongs to one source site, and each pair has its own DuckDB file"
FILE_PER_PAIR = "each pair has its own DuckDB file"


class PairError(ValueError):
    """``--pair`` names no pair, or a command that needs one pair was given none among many."""


def add_pair_option(parser: argparse.ArgumentParser, *, many: bool) -> None:
    """``--pair NAME``: once for a command on one DuckDB file, repeatable when ``many``."""
    if many:
        parser.add_argument("--pair", action="append", metavar="NAME",
                            help="only this site pair of the pairs file (repeat for more; default: every"
                            " pair)")  # fmt: skip
    else:
        parser.add_argument("--pair", metavar="NAME",
                            help="the site pair of the pairs file whose DuckDB file to use (needed when it"
                            " declares more than one)")  # fmt: skip


def has_pairs_file(environ: Mapping[str, str]) -> bool:
    """Whether the settings come from a pairs file (``TEMPO_SYNC_PAIRS``): then output names each pair."""
    return bool(environ.get("TEMPO_SYNC_PAIRS", "").strip())


def choose(pairs: Sequence[Settings], names: Sequence[str]) -> list[Settings]:
    """The named pairs in the pairs file's order, or every pair when ``names`` is empty."""
    if not pairs:  # a command that did nothing and said so would look like success
        raise PairError("the pairs file declares no pair; add [[pairs]] tables (see pairs.example.toml)")
    known = [pair.name for pair in pairs]
    unknown = [name for name in dict.fromkeys(names) if name not in known]
    if unknown:
        raise PairError(f"no pair is named {', '.join(map(repr, unknown))}; the pairs are {_listed(known)}")
    return [pair for pair in pairs if not names or pair.name in names]


def one(pairs: Sequence[Settings], name: str | None, command: str, why: str) -> Settings:
    """The pair ``--pair`` names; without it, the only pair, else a :class:`PairError` naming them."""
    if name is not None or len(pairs) <= 1:
        return choose(pairs, [name] if name is not None else [])[0]
    raise PairError(
        f"`tempo-sync {command}` needs --pair NAME when there are several pairs ({why}); the pairs are"
        f" {_listed([pair.name for pair in pairs])}"
    )


def heading(settings: Settings) -> str:
    """The line above a pair's output: its name and which way it copies."""
    return f"== pair {settings.name}: {settings.source.host} -> {settings.destination.host} =="


def _listed(names: Sequence[str]) -> str:
    return ", ".join(map(repr, names))
