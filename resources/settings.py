"""Environment variables (DESIGN section 6) read into typed settings, every problem named at once."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from pathlib import Path
from urllib.parse import urlsplit

DEFAULT_TEMPO_URL = "https://api.tempo.io"
DEFAULT_DUCKDB = Path("data/tempo_sync.duckdb")
DEFAULT_START_DATE = date(2025, 1, 1)
SITE_PREFIXES = {"source": "SOURCE", "destination": "DEST"}
# The pair that today's single-pair variables describe; its Dagster names carry no prefix.
DEFAULT_PAIR = "default"
# Each token's role, and the environment variable that holds it without a pairs file.
DEFAULT_TOKEN_ENVS = {
    f"{site}_{service}": f"{prefix}_{service.upper()}_TOKEN"
    for site, prefix in SITE_PREFIXES.items()
    for service in ("jira", "tempo")
}


class Mode(StrEnum):
    SANDBOX = "sandbox"  # the product starts its own local emulator of both sites
    LIVE = "live"


class SettingsError(ValueError):
    """One or more settings are missing or malformed; the message lists each with its fix."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"tempo-sync cannot start; fix these settings:\n{lines}")


@dataclass(frozen=True)
class SiteSettings:
    """How to reach one Jira Cloud site and its Tempo. Tokens never show in a repr."""

    jira_url: str
    jira_email: str
    jira_token: str = field(repr=False)
    tempo_url: str
    tempo_token: str = field(repr=False)

    @property
    def has_tempo(self) -> bool:
        return bool(self.tempo_token)

    @property
    def address(self) -> str:
        """The site among the pairs of one deployment: its Jira base URL, port included, since two
        local sandboxes on one host are two sites."""
        return self.jira_url.rstrip("/").lower()

    @property
    def host(self) -> str:
        """The site's identity in the ledger: its Jira host, e.g. ``client.atlassian.net``. The port
        is left out so that a sandbox on a new free port is still the same site."""
        parts = urlsplit(self.jira_url)
        return (parts.hostname or "") + parts.path.rstrip("/")


@dataclass(frozen=True)
class Settings:
    """One site pair: where it reads, where it writes, its DuckDB file and its policy file.

    ``token_envs`` names, per role (``source_jira``, ``source_tempo``, ``destination_jira``,
    ``destination_tempo``), the environment variable Dagster reads the token from at run time.
    """

    mode: Mode
    source: SiteSettings
    destination: SiteSettings
    duckdb_path: Path
    start_date: date
    config_path: Path | None
    name: str = DEFAULT_PAIR
    token_envs: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_TOKEN_ENVS))


def load_settings(environ: Mapping[str, str]) -> Settings:
    """Settings from ``environ``. In sandbox mode the site settings are left empty: the caller
    fills them from the sandbox it starts (see :mod:`pipelines.sandbox_mode`)."""
    problems: list[str] = []
    raw_mode = environ.get("TEMPO_SYNC_MODE", "").strip().lower() or Mode.SANDBOX
    try:
        mode = Mode(raw_mode)
    except ValueError:
        problems.append(f"TEMPO_SYNC_MODE is {raw_mode!r}; use 'sandbox' (the default) or 'live'")
        mode = Mode.LIVE
    start_date = _start_date(environ, problems)
    duckdb_path = Path(environ.get("TEMPO_SYNC_DUCKDB", "").strip() or DEFAULT_DUCKDB)
    if duckdb_path.exists() and duckdb_path.is_dir():
        problems.append(f"TEMPO_SYNC_DUCKDB points at a directory ({duckdb_path}); give a file path")
    config_path = _config_path(environ, problems)
    if mode is Mode.SANDBOX:
        stray = sorted(name for name in environ if name.startswith(("SOURCE_", "DEST_")) and environ[name])
        if stray:
            problems.append(
                f"{', '.join(stray)} set while TEMPO_SYNC_MODE is sandbox; set TEMPO_SYNC_MODE=live to use "
                "them, or unset them to run on the sandbox"
            )
        empty = SiteSettings("", "", "", "", "")
        source = destination = empty
    else:
        source = _site(environ, "source", problems)
        destination = _site(environ, "destination", problems)
    if problems:
        raise SettingsError(problems)
    return Settings(mode, source, destination, duckdb_path, start_date, config_path)


def _start_date(environ: Mapping[str, str], problems: list[str]) -> date:
    raw = environ.get("TEMPO_SYNC_START_DATE", "").strip()
    if not raw:
        return DEFAULT_START_DATE
    try:
        return date.fromisoformat(raw)
    except ValueError:
        problems.append(f"TEMPO_SYNC_START_DATE is {raw!r}; give a date like 2025-01-01")
        return DEFAULT_START_DATE


def _config_path(environ: Mapping[str, str], problems: list[str]) -> Path | None:
    raw = environ.get("TEMPO_SYNC_CONFIG", "").strip()
    if not raw:
        return None
    path = Path(raw)
    if not path.is_file():
        problems.append(f"TEMPO_SYNC_CONFIG names {path}, which is not a file; fix the path or unset it")
    return path


def _site(environ: Mapping[str, str], site: str, problems: list[str]) -> SiteSettings:
    prefix = SITE_PREFIXES[site]

    def value(name: str, default: str = "") -> str:
        return environ.get(f"{prefix}_{name}", "").strip() or default

    jira_url = check_url(
        f"{prefix}_JIRA_URL", value("JIRA_URL"), problems, example="https://your-site.atlassian.net"
    )
    email = value("JIRA_EMAIL")
    if "@" not in email:
        problems.append(
            f"{prefix}_JIRA_EMAIL is {'missing' if not email else 'not an email address'}; give the email of "
            "the Atlassian account that owns the Jira API token"
        )
    jira_token = value("JIRA_TOKEN")
    if not jira_token:
        problems.append(
            f"{prefix}_JIRA_TOKEN is missing; create one at id.atlassian.com > Security > API tokens"
        )
    tempo_url = check_url(f"{prefix}_TEMPO_URL", value("TEMPO_URL", DEFAULT_TEMPO_URL), problems,
                     example=DEFAULT_TEMPO_URL)  # fmt: skip
    tempo_token = value("TEMPO_TOKEN")
    if site == "source" and not tempo_token:
        problems.append(
            "SOURCE_TEMPO_TOKEN is missing; create one in Tempo > Settings > API integration on the source "
            "site"
        )
    return SiteSettings(jira_url, email, jira_token, tempo_url, tempo_token)


def check_url(name: str, raw: str, problems: list[str], *, example: str) -> str:
    """The base URL without a trailing slash; what is wrong with it goes to ``problems``."""
    if not raw:
        problems.append(f"{name} is missing; give the base URL, e.g. {example}")
        return ""
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        problems.append(f"{name} is {raw!r}, not a URL; give the base URL, e.g. {example}")
        return ""
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        problems.append(f"{name} uses plain http to {parts.hostname}; use https (http is only for loopback)")
    if parts.query or parts.fragment or parts.username or parts.password:
        problems.append(f"{name} must be a plain base URL without credentials, query or fragment")
    return raw.rstrip("/")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
