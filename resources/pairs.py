"""The site pairs one deployment serves: a pairs file (``TEMPO_SYNC_PAIRS``), or the single pair of
today's environment variables. Every problem, of every pair, is named at once.

A pairs file holds ``[[pairs]]`` tables with the environment variables' settings in lower case.
Tokens are never written in it: each ``*_token_env`` key names the environment variable that holds
the token, which Dagster reads at run time. Relative paths (``duckdb``, ``config``) are relative to
the pairs file, so the file means the same wherever the process starts.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections import Counter
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

from resources.settings import (
    DEFAULT_PAIR,
    DEFAULT_START_DATE,
    DEFAULT_TEMPO_URL,
    Mode,
    Settings,
    SettingsError,
    SiteSettings,
    check_url,
    load_settings,
)

# Pair names become Dagster names (asset key prefixes, groups, jobs, pools), which allow only these.
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# A variable's name is shown in a message only in the usual form; a lowercase or long value written
# where the name belongs is more likely a pasted token.
_SHOWN_NAME = re.compile(r"^[A-Z_][A-Z0-9_-]{0,63}$")
_HINT = "ACME_TEMPO_TOKEN"
_SITES = {"source": "source", "dest": "destination"}
# `duckdb` has no default: a pair's ledger is its file, so a file derived from the name would make
# a renamed pair forget what it synced and send everything again.
_REQUIRED = {"name", "source_jira_url", "source_jira_email", "dest_jira_url", "dest_jira_email", "duckdb",
             "source_jira_token_env", "source_tempo_token_env", "dest_jira_token_env"}  # fmt: skip
_OPTIONAL = {"source_tempo_url", "dest_tempo_url", "dest_tempo_token_env", "start_date", "config"}
_EXAMPLE = "pairs.example.toml"
# The single pair's variables a pairs file replaces (tokens may keep their names: *_token_env names them).
_SINGLE_PAIR = {"TEMPO_SYNC_DUCKDB", "TEMPO_SYNC_CONFIG", "TEMPO_SYNC_START_DATE"}


def load_pairs(environ: Mapping[str, str]) -> list[Settings]:
    """Every pair this deployment serves, in the file's order; without ``TEMPO_SYNC_PAIRS``, the one
    pair of the environment variables (named ``default``)."""
    raw = environ.get("TEMPO_SYNC_PAIRS", "").strip()
    if not raw:
        return [load_settings(environ)]
    path = Path(raw)
    problems: list[str] = []
    mode = environ.get("TEMPO_SYNC_MODE", "").strip().lower()
    if mode and mode != Mode.LIVE:
        problems.append(
            f"TEMPO_SYNC_MODE is {mode!r} while TEMPO_SYNC_PAIRS names a pairs file, whose sites are always"
            " live; unset TEMPO_SYNC_MODE (or set it to 'live'), or unset TEMPO_SYNC_PAIRS to run the sandbox"
        )
    stray = sorted(
        name
        for name, value in environ.items()
        if value.strip()
        and (name in _SINGLE_PAIR or (name.startswith(("SOURCE_", "DEST_")) and not name.endswith("_TOKEN")))
    )
    if stray:
        problems.append(
            f"{', '.join(stray)} set while TEMPO_SYNC_PAIRS names a pairs file, which says this per pair and"
            " would silently win; unset them (or unset TEMPO_SYNC_PAIRS to sync the one pair they describe)"
        )
    document = _read(path, problems)
    tables = (document or {}).get("pairs")
    if document is not None and not (
        isinstance(tables, list) and tables and all(isinstance(table, dict) for table in tables)
    ):
        problems.append(f"{path} declares no pair; add one or more [[pairs]] tables (see {_EXAMPLE})")
        tables = []
    for key in sorted(set(document or {}) - {"pairs"}):
        problems.append(f"{path}: unknown top-level key {key!r}; only [[pairs]] tables belong here")
    pairs = [
        _pair(table, number, path.parent, environ, problems)
        for number, table in enumerate(tables or [], start=1)
    ]
    _check_together(pairs, problems)
    if problems:
        raise SettingsError(problems)
    return pairs


def _read(path: Path, problems: list[str]) -> dict[str, Any] | None:
    """The file's TOML; None (with the problem named) when it cannot be read."""
    if not path.is_file():
        problems.append(
            f"TEMPO_SYNC_PAIRS names {path}, which is not a file; fix the path (start from {_EXAMPLE}) or"
            " unset it to sync the one pair of the SOURCE_* and DEST_* variables"
        )
        return None
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        problems.append(f"{path} is not valid TOML ({error}); fix the syntax")
        return None


def _pair(
    table: dict[str, Any], number: int, base: Path, environ: Mapping[str, str], problems: list[str]
) -> Settings:
    name = table.get("name")
    label = f"pair {name!r}" if isinstance(name, str) and name else f"pair #{number}"

    def problem(text: str) -> None:
        problems.append(f"{label}: {text}")

    for key in sorted(set(table) - _REQUIRED - _OPTIONAL):
        hint = " (tokens go in environment variables; name them with *_token_env)" if "token" in key else ""
        problem(f"unknown key {key!r}{hint}")
    for key in sorted(_REQUIRED - set(table)):
        problem(f"{key} is missing")
    if isinstance(table.get("start_date"), date):  # written unquoted, as a TOML date
        table = {**table, "start_date": table["start_date"].isoformat()}
    for key, value in table.items():
        if not isinstance(value, str):
            problem(f"{key} must be a string, not {type(value).__name__}")
    values = {key: value.strip() for key, value in table.items() if isinstance(value, str)}
    pair_name = values.get("name", "")
    if pair_name and not _NAME.match(pair_name):
        problem(
            f"name {pair_name!r} is not a slug; use lowercase letters, digits and underscores, starting with"
            " a letter (at most 40), e.g. 'acme_to_us'"
        )
    sites = {site: _site(values, prefix, environ, problem) for prefix, site in _SITES.items()}
    duckdb_path = _path(values.get("duckdb", ""), base)
    if values.get("duckdb") and duckdb_path.is_dir():
        problem(f"duckdb names the directory {duckdb_path}; give a file, e.g. data/{pair_name}.duckdb")
    return Settings(
        mode=Mode.LIVE,
        source=sites["source"],
        destination=sites["destination"],
        duckdb_path=duckdb_path,
        start_date=_start_date(values.get("start_date", ""), problem),
        config_path=_config(values.get("config", ""), base, problem),
        name=pair_name or f"pair_{number}",
        token_envs={
            f"{site}_{service}": values.get(f"{prefix}_{service}_token_env", "")
            for prefix, site in _SITES.items()
            for service in ("jira", "tempo")
        },
    )


def _site(values: Mapping[str, str], prefix: str, environ: Mapping[str, str], problem: Any) -> SiteSettings:
    site = _SITES[prefix]
    urls: list[str] = []
    for key, default, example in (
        (f"{prefix}_jira_url", "", "https://your-site.atlassian.net"),
        (f"{prefix}_tempo_url", DEFAULT_TEMPO_URL, DEFAULT_TEMPO_URL),
    ):
        if not (values.get(key) or default):
            urls.append("")  # named once, as a missing key
            continue
        found: list[str] = []
        urls.append(check_url(key, values.get(key) or default, found, example=example))
        for text in found:
            problem(text)
    email = values.get(f"{prefix}_jira_email", "")
    if email and "@" not in email:
        problem(f"{prefix}_jira_email is not an email address; give the email of the token's account")
    tokens = {}
    for service in ("jira", "tempo"):
        key = f"{prefix}_{service}_token_env"
        variable = values.get(key, "")
        optional = site == "destination" and service == "tempo"  # none: the Jira worklog fallback
        # Shown only in a name's usual form: a value written where the name belongs may be the token.
        shown = repr(variable) if _SHOWN_NAME.match(variable) else "(not shown: it may be a token)"
        if variable and not _ENV_NAME.match(variable):
            problem(f"{key} is {shown}, not an environment variable's name; name the variable, e.g. {_HINT}")
        elif variable and not environ.get(variable, "").strip() and not optional:
            problem(
                f"{key} names {variable}, which is not set; export the token as {variable}"
                if _SHOWN_NAME.match(variable)
                else f"{key} names a variable that is not set {shown}; name the variable, e.g. {_HINT}"
            )
        tokens[service] = environ.get(variable, "").strip() if variable else ""
    return SiteSettings(urls[0], email, tokens["jira"], urls[1], tokens["tempo"])


def _path(raw: str, base: Path) -> Path:
    path = Path(os.path.expanduser(raw))
    return path if path.is_absolute() else base / path


def _start_date(raw: str, problem: Any) -> date:
    if not raw:
        return DEFAULT_START_DATE
    try:
        return date.fromisoformat(raw)
    except ValueError:
        problem(f"start_date is {raw!r}; give a date like 2025-01-01")
        return DEFAULT_START_DATE


def _config(raw: str, base: Path, problem: Any) -> Path | None:
    if not raw:
        return None
    path = _path(raw, base)
    if not path.is_file():
        problem(f"config names {path}, which is not a file; fix the path, or leave config out")
    return path


def _check_together(pairs: list[Settings], problems: list[str]) -> None:
    """What no two pairs may share: a name, a DuckDB file (a file holds one pair's ledger), or a
    direction (two pairs copying the same site to the same site would copy every worklog twice)."""
    names = Counter(pair.name for pair in pairs)
    for name, count in sorted(names.items()):
        if count > 1 and name != DEFAULT_PAIR:
            problems.append(f"{count} pairs are named {name!r}; give each pair its own name")
    if names[DEFAULT_PAIR]:
        problems.append(
            f"a pair is named {DEFAULT_PAIR!r}, the name of the pair without a pairs file; rename it"
        )
    # A pair without its file (or with a directory) is named on its own.
    files = Counter(pair.duckdb_path.resolve() for pair in pairs if not pair.duckdb_path.is_dir())
    for path, count in sorted(files.items()):
        if count > 1:
            sharing = ", ".join(repr(p.name) for p in pairs if p.duckdb_path.resolve() == path)
            problems.append(f"pairs {sharing} share the DuckDB file {path}; give each pair its own file")
    directions = Counter(_direction(pair) for pair in pairs if pair.source.jira_url)
    for (source, destination), count in sorted(directions.items()):
        if count > 1:
            sharing = ", ".join(repr(p.name) for p in pairs if _direction(p) == (source, destination))
            problems.append(
                f"pairs {sharing} all copy {source} to {destination}, so every worklog would be copied"
                f" {count} times; keep one of them"
            )
    for pair in pairs:
        source, destination = _direction(pair)
        if source and source == destination:
            problems.append(f"pair {pair.name!r} copies {source} to itself; fix dest_jira_url")


def _direction(pair: Settings) -> tuple[str, str]:
    return pair.source.address, pair.destination.address
