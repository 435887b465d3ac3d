"""The sync policy: how issues are mapped and authors matched, read from one validated TOML file.

Everything here is non-secret, so Dagster may show it in the UI. Without a file the defaults
apply: same-key issue mapping, unresolved authors parked, never a substitute author.
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import dagster as dg
from pydantic import Field

ISSUE_STRATEGIES = ("same_key", "project_map", "field")
ESTIMATE_POLICIES = ("reduce", "copy")
CONFLICT_POLICIES = ("park", "source_wins")
# The mass-deletion guard's default: a share of the run's synced worklogs, with a floor, so that a
# small day can still lose a few worklogs while a source answering empty lists deletes nothing.
DEFAULT_MAX_DELETES = "10%"
MIN_DELETES_ALLOWED = 20
_SHARE = re.compile(r"^([0-9]+(?:\.[0-9]+)?)%$")
_PROJECT_KEY = re.compile(r"^[A-Z][A-Z0-9_]*$")
_ISSUE_KEY = re.compile(r"^[A-Z][A-Z0-9_]*-[1-9][0-9]*$")
_CUSTOM_FIELD = re.compile(r"^customfield_[0-9]+$")
# The alerts' defaults: a share of a run's extracted worklogs, and minutes between two messages of
# one kind for one pair.
DEFAULT_PARKED_SHARE_ABOVE = 0.3
DEFAULT_ALERT_INTERVAL_MINUTES = 60.0
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_KNOWN = {
    "": {"issues", "authors", "directory", "load", "http", "checks", "schedule", "propagate", "alerts"},
    "issues": {"strategy", "field", "projects", "table"},
    "authors": {"overrides", "fallback_account_id"},
    "directory": {"user_ttl_hours", "issue_ttl_hours"},
    "load": {"remaining_estimate"},
    "http": {"tempo_requests_per_second", "jira_requests_per_second", "max_retries", "backoff_seconds"},
    "checks": {"parked_share_warn", "freshness_days"},
    "schedule": {"hour", "minute", "timezone"},
    "propagate": {"updates", "deletes", "conflicts", "max_deletes_per_run"},
    "alerts": {"webhook_url_env", "parked_share_above", "min_interval_minutes"},
}
# Keys that are refused with their own fix rather than "unknown key": never echoing their value.
_MISPLACED = {
    ("alerts", "webhook_url"): "[alerts] webhook_url must not be in the file: a webhook URL is a credential."
    " Put it in an environment variable and name that variable instead, e.g."
    ' webhook_url_env = "TEMPO_SYNC_ALERT_WEBHOOK"',
}


class PolicyError(ValueError):
    """The policy file is invalid; the message names every problem and the file."""


@dataclass(frozen=True)
class Schedule:
    """When the daily run starts, and the time zone whose days the partitions are."""

    hour: int = 1
    minute: int = 30
    timezone: str = "UTC"

    @classmethod
    def from_file(cls, path: Path | None) -> Schedule:
        """The `[schedule]` of the policy file. A broken file gives the defaults here: the
        definitions report it, with every other problem, when they load."""
        try:
            document = _read(path) if path is not None else {}
        except PolicyError:
            return cls()
        if _problems(document):
            return cls()
        section = document.get("schedule", {})
        return cls(section.get("hour", 1), section.get("minute", 30), section.get("timezone", "UTC"))


@dataclass(frozen=True)
class Alerts:
    """Where and when run alerts go (the `[alerts]` section); no section means no alerts."""

    # The NAME of the environment variable that holds the webhook URL, read when a message is sent.
    webhook_url_env: str
    parked_share_above: float = DEFAULT_PARKED_SHARE_ABOVE
    min_interval_minutes: float = DEFAULT_ALERT_INTERVAL_MINUTES


class SyncPolicy(dg.ConfigurableResource):
    """How source issues and authors are matched on the destination."""

    source_site: str = Field(description="The source site's identity in the ledger (its Jira host).")
    issue_strategy: Literal["same_key", "project_map", "field"] = Field(
        default="same_key",
        description="same_key: CLI-3 is CLI-3; project_map: project keys renamed by issue_projects; "
        "field: the destination issue whose text field issue_field holds the source key.",
    )
    issue_projects: dict[str, str] = Field(
        default_factory=dict, description="source → destination project key"
    )
    issue_table: dict[str, str] = Field(
        default_factory=dict, description="source → destination issue key; wins over the strategy"
    )
    issue_field: str | None = Field(default=None, description="e.g. customfield_10100")
    author_overrides: dict[str, str] = Field(
        default_factory=dict,
        description="source accountId or email (any case) → destination accountId; wins over matching",
    )
    fallback_account_id: str | None = Field(
        default=None,
        description="opt-in: log unresolvable authors' work as this destination account, naming the real "
        "author in the description. Unset (the default) parks them instead.",
    )
    user_ttl_hours: float = Field(default=24.0, description="how long a cached user lookup stays fresh")
    issue_ttl_hours: float = Field(default=1.0, description="how long a cached issue lookup stays fresh")
    remaining_estimate: Literal["reduce", "copy"] = Field(
        default="reduce",
        description="reduce: the destination issue's estimate goes down by the time logged, as when anyone"
        " logs work (one create per destination issue); copy: it is set to the source issue's (one more"
        " create per destination issue and run)",
    )
    tempo_requests_per_second: float = Field(
        default=4.8, description="pace per Tempo token; Tempo documents about 5 per second (0: unpaced)"
    )
    jira_requests_per_second: float = Field(default=10.0, description="pace per Jira site (0: unpaced)")
    parked_share_warn: float = Field(
        default=0.3, description="the parked-rows check warns when a day's parked share is above this"
    )
    freshness_days: int = Field(
        default=3, description="the freshness check fails when the newest synced work date is older than this"
    )
    max_retries: int = Field(default=6, description="retries of a request that hit a 429, a 5xx or no answer")
    backoff_seconds: float = Field(
        default=1.0,
        description="first wait between retries when the service gives no Retry-After; it doubles",
    )

    propagate_updates: bool = Field(
        default=False,
        description="opt-in: carry edits of synced worklogs (description, time, dates, billable, attributes,"
        " issue, author) to their copies. Off (the default): only creations are synced.",
    )
    propagate_deletes: bool = Field(
        default=False,
        description="opt-in: delete a copy when its source worklog is deleted (confirmed on the source)",
    )
    conflicts: Literal["park", "source_wins"] = Field(
        default="park",
        description="a copy someone changed on the destination since tempo-sync wrote it: park (leave both"
        " sides alone, mark the row destination_changed) or source_wins (overwrite; what was overwritten"
        " is recorded)",
    )
    max_deletes_per_run: str = Field(
        default=DEFAULT_MAX_DELETES,
        description="the most copies one run may delete: a whole number (25) or a share of the synced"
        f' worklogs of the run\'s dates ("10%", never below {MIN_DELETES_ALLOWED}); above it the run deletes'
        " nothing",
    )
    alerts_webhook_url_env: str | None = Field(
        default=None,
        description="opt-in: the name of the environment variable holding the alert webhook URL (never the"
        " URL itself); unset, no alert sensors exist",
    )
    alerts_parked_share_above: float = Field(
        default=DEFAULT_PARKED_SHARE_ABOVE,
        description="a successful run whose parked share of its dates' worklogs is above this alerts",
    )
    alerts_min_interval_minutes: float = Field(
        default=DEFAULT_ALERT_INTERVAL_MINUTES,
        description="at most one alert per pair and kind of event in this many minutes; the rest are counted",
    )
    copies_from: dict[str, str] = Field(
        default_factory=dict,
        description="the DuckDB files (by pair name) of the pairs of this deployment that copy worklogs into"
        " this pair's source site; their copies are never copied back (set from the pairs file)",
    )

    @property
    def alerts(self) -> Alerts | None:
        """The `[alerts]` section, or None when the file has none."""
        if self.alerts_webhook_url_env is None:
            return None
        return Alerts(self.alerts_webhook_url_env, self.alerts_parked_share_above,
                      self.alerts_min_interval_minutes)  # fmt: skip

    @property
    def propagates(self) -> bool:
        """Whether anything but creations is carried to the destination."""
        return self.propagate_updates or self.propagate_deletes

    def deletes_allowed(self, synced: int) -> int:
        """How many copies a run whose work dates hold ``synced`` synced worklogs may delete."""
        share = _SHARE.match(self.max_deletes_per_run)
        if share is None:
            return int(self.max_deletes_per_run)
        return max(MIN_DELETES_ALLOWED, math.ceil(float(share.group(1)) / 100 * synced))

    def override_for(self, account_id: str, email: str | None) -> str | None:
        if account_id in self.author_overrides:
            return self.author_overrides[account_id]
        if email:
            lowered = {key.lower(): value for key, value in self.author_overrides.items() if "@" in key}
            return lowered.get(email.lower())
        return None

    def destination_key(self, source_key: str) -> str | None:
        """The destination key a source key maps to by table or key strategy (None for ``field``)."""
        if source_key in self.issue_table:
            return self.issue_table[source_key]
        if self.issue_strategy == "field":
            return None
        if self.issue_strategy == "project_map":
            project, _, number = source_key.partition("-")
            return f"{self.issue_projects.get(project, project)}-{number}"
        return source_key

    @classmethod
    def from_file(
        cls, path: Path | None, *, source_site: str, copies_from: dict[str, str] | None = None
    ) -> SyncPolicy:
        """The policy in ``path`` (TOML), or the defaults when ``path`` is None."""
        if path is None:
            return cls(source_site=source_site, copies_from=copies_from or {})
        document = _read(path)
        problems = _problems(document)
        if problems:
            raise PolicyError(
                f"the policy file {path} is invalid:\n" + "\n".join(f"  - {p}" for p in problems)
            )
        issues, authors, directory, load, http, checks, propagate, alerts = (
            document.get(name, {})
            for name in ("issues", "authors", "directory", "load", "http", "checks", "propagate", "alerts")
        )
        return cls(
            source_site=source_site,
            copies_from=copies_from or {},
            issue_strategy=issues.get("strategy", "same_key"),
            issue_projects=issues.get("projects", {}),
            issue_table=issues.get("table", {}),
            issue_field=issues.get("field"),
            author_overrides=authors.get("overrides", {}),
            fallback_account_id=authors.get("fallback_account_id"),
            user_ttl_hours=float(directory.get("user_ttl_hours", 24.0)),
            issue_ttl_hours=float(directory.get("issue_ttl_hours", 1.0)),
            remaining_estimate=load.get("remaining_estimate", "reduce"),
            tempo_requests_per_second=float(http.get("tempo_requests_per_second", 4.8)),
            jira_requests_per_second=float(http.get("jira_requests_per_second", 10.0)),
            parked_share_warn=float(checks.get("parked_share_warn", 0.3)),
            freshness_days=int(checks.get("freshness_days", 3)),
            max_retries=int(http.get("max_retries", 6)),
            backoff_seconds=float(http.get("backoff_seconds", 1.0)),
            propagate_updates=propagate.get("updates", False),
            propagate_deletes=propagate.get("deletes", False),
            conflicts=propagate.get("conflicts", "park"),
            max_deletes_per_run=str(propagate.get("max_deletes_per_run", DEFAULT_MAX_DELETES)),
            alerts_webhook_url_env=alerts.get("webhook_url_env"),
            alerts_parked_share_above=float(alerts.get("parked_share_above", DEFAULT_PARKED_SHARE_ABOVE)),
            alerts_min_interval_minutes=float(
                alerts.get("min_interval_minutes", DEFAULT_ALERT_INTERVAL_MINUTES)
            ),
        )


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise PolicyError(f"cannot read the policy file {path}: {error}") from error


def _shape_problems(document: dict[str, Any]) -> list[str]:
    problems = [f"unknown section [{name}]" for name in document if name not in _KNOWN[""]]
    for section in _KNOWN[""] & document.keys():
        if not isinstance(document[section], dict):
            problems.append(f"[{section}] must be a table")
            continue
        problems += [
            _MISPLACED.get((section, key))
            or f"unknown key {key!r} in [{section}] (known: {', '.join(sorted(_KNOWN[section]))})"
            for key in document[section]
            if key not in _KNOWN[section]
        ]
    return problems


def _problems(document: dict[str, Any]) -> list[str]:
    problems = _shape_problems(document)
    if problems:
        return problems
    issues, authors = document.get("issues", {}), document.get("authors", {})
    strategy = issues.get("strategy", "same_key")
    if strategy not in ISSUE_STRATEGIES:
        problems.append(f"[issues] strategy is {strategy!r}; use one of {', '.join(ISSUE_STRATEGIES)}")
    field = issues.get("field")
    if strategy == "field" and not (isinstance(field, str) and _CUSTOM_FIELD.match(field)):
        problems.append(
            "[issues] strategy 'field' needs field = \"customfield_NNNNN\" (the destination field)"
        )
    if strategy != "field" and field is not None:
        problems.append("[issues] field is only used with strategy = 'field'")
    projects = issues.get("projects", {})
    if strategy != "project_map" and projects:
        problems.append("[issues.projects] is only used with strategy = 'project_map'")
    if strategy == "project_map" and not projects:
        problems.append(
            "[issues] strategy 'project_map' needs an [issues.projects] table, e.g. CLI = \"CLIENT\""
        )
    problems += _mapping(projects, "[issues.projects]", _PROJECT_KEY, "project keys like CLI")
    problems += _mapping(issues.get("table", {}), "[issues.table]", _ISSUE_KEY, "issue keys like CLI-7")
    overrides = authors.get("overrides", {})
    if not isinstance(overrides, dict) or not all(
        isinstance(key, str) and key and isinstance(value, str) and value for key, value in overrides.items()
    ):
        problems.append("[authors.overrides] maps a source accountId or email to a destination accountId")
    fallback = authors.get("fallback_account_id")
    if fallback is not None and not (isinstance(fallback, str) and fallback.strip()):
        problems.append("[authors] fallback_account_id must be a destination accountId")
    problems += _numbers(document, "directory", ("user_ttl_hours", "issue_ttl_hours"), 24 * 365, "hours")
    estimate = document.get("load", {}).get("remaining_estimate", "reduce")
    if estimate not in ESTIMATE_POLICIES:
        problems.append(
            f"[load] remaining_estimate is {estimate!r}; use one of {', '.join(ESTIMATE_POLICIES)}"
        )
    problems += _numbers(document, "http", ("tempo_requests_per_second", "jira_requests_per_second"), 1000,
                         "requests per second (0: unpaced)")  # fmt: skip
    problems += _numbers(document, "http", ("backoff_seconds",), 60, "seconds")
    share = document.get("checks", {}).get("parked_share_warn", 0.0)
    if isinstance(share, bool) or not (isinstance(share, int | float) and 0 <= share <= 1):
        problems.append("[checks] parked_share_warn must be a share between 0 and 1, e.g. 0.3")
    days = document.get("checks", {}).get("freshness_days", 1)
    if isinstance(days, bool) or not (isinstance(days, int) and 1 <= days <= 366):
        problems.append("[checks] freshness_days must be a whole number of days between 1 and 366")
    problems += _schedule_problems(document.get("schedule", {}))
    retries = document.get("http", {}).get("max_retries", 0)
    if isinstance(retries, bool) or not (isinstance(retries, int) and 0 <= retries <= 20):
        problems.append("[http] max_retries must be a whole number between 0 and 20")
    problems += _propagate_problems(document.get("propagate", {}))
    problems += _alerts_problems(document.get("alerts"))
    return problems


def _alerts_problems(section: dict[str, Any] | None) -> list[str]:
    # The value of webhook_url_env is never echoed: someone may have pasted the URL itself there.
    if section is None:
        return []  # no [alerts]: no alert sensors
    problems = []
    name = section.get("webhook_url_env")
    if name is None:
        problems.append(
            "[alerts] needs webhook_url_env, the name of the environment variable that holds the webhook"
            ' URL, e.g. webhook_url_env = "TEMPO_SYNC_ALERT_WEBHOOK" (or remove [alerts] for no alerts)'
        )
    elif not (isinstance(name, str) and _ENV_NAME.match(name)):
        problems.append(
            "[alerts] webhook_url_env must be the name of an environment variable (letters, digits and _,"
            ' e.g. "TEMPO_SYNC_ALERT_WEBHOOK"); the URL itself belongs in that variable, not in the file'
        )
    share = section.get("parked_share_above", DEFAULT_PARKED_SHARE_ABOVE)
    if isinstance(share, bool) or not (isinstance(share, int | float) and 0 <= share <= 1):
        problems.append("[alerts] parked_share_above must be a share between 0 and 1, e.g. 0.3")
    minutes = section.get("min_interval_minutes", DEFAULT_ALERT_INTERVAL_MINUTES)
    if isinstance(minutes, bool) or not (isinstance(minutes, int | float) and 0 <= minutes <= 10080):
        problems.append(
            "[alerts] min_interval_minutes must be a number of minutes between 0 (no limit) and 10080"
            " (a week), e.g. 60"
        )
    return problems


def _propagate_problems(section: dict[str, Any]) -> list[str]:
    problems = [
        f"[propagate] {key} must be true or false"
        for key in ("updates", "deletes")
        if not isinstance(section.get(key, False), bool)
    ]
    conflicts = section.get("conflicts", "park")
    if conflicts not in CONFLICT_POLICIES:
        problems.append(f"[propagate] conflicts is {conflicts!r}; use one of {', '.join(CONFLICT_POLICIES)}")
    limit = section.get("max_deletes_per_run", DEFAULT_MAX_DELETES)
    share = _SHARE.match(limit) if isinstance(limit, str) else None
    whole = isinstance(limit, int) and not isinstance(limit, bool) and limit >= 0
    if not (whole or (share is not None and float(share.group(1)) <= 100)):
        problems.append(
            f"[propagate] max_deletes_per_run is {limit!r}; use a whole number of worklogs (25) or a share"
            f' of the run\'s synced worklogs from "0%" to "100%" (the default "{DEFAULT_MAX_DELETES}", never'
            f" below {MIN_DELETES_ALLOWED})"
        )
    return problems


def _schedule_problems(section: dict[str, Any]) -> list[str]:
    problems = []
    for key, most in (("hour", 23), ("minute", 59)):
        value = section.get(key, 0)
        if isinstance(value, bool) or not (isinstance(value, int) and 0 <= value <= most):
            problems.append(f"[schedule] {key} must be a whole number between 0 and {most}")
    zone = section.get("timezone", "UTC")
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        problems.append(f"[schedule] timezone {zone!r} is not an IANA time zone such as Europe/Berlin")
    return problems


def _numbers(
    document: dict[str, Any], section: str, keys: tuple[str, ...], most: float, unit: str
) -> list[str]:
    values = document.get(section, {})
    return [
        f"[{section}] {key} must be a number of {unit} between 0 and {most:g}"
        for key in keys
        if key in values
        and (
            isinstance(values[key], bool)
            or not (isinstance(values[key], int | float) and 0 <= values[key] <= most)
        )
    ]


def _mapping(table: object, name: str, pattern: re.Pattern[str], what: str) -> list[str]:
    if not isinstance(table, dict):
        return [f"{name} must be a table"]
    return [
        f"{name} {key!r} = {value!r}: both sides must be {what}"
        for key, value in table.items()
        if not (isinstance(value, str) and pattern.match(key) and pattern.match(value))
    ]
