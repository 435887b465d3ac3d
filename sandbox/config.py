"""What a sandbox server is told at start: data knobs, rate limits, faults, profile, credentials."""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Literal

SITES = ("source", "destination")
SERVICES = ("jira", "tempo")
# One person per awkward identity case (see sandbox.world.PersonKind), plus two ordinary ones.
MIN_USERS = 14
MAX_USERS = 800  # distinct names the generator can give
MAX_ISSUES = 50_000


@dataclass(frozen=True)
class SiteCredentials:
    """The sandbox's own, public, fake credentials for one site."""

    jira_email: str
    jira_token: str
    tempo_token: str
    # A valid Tempo token whose scope only allows reads: writes answer 403.
    tempo_read_only_token: str


CREDENTIALS: dict[str, SiteCredentials] = {
    site: SiteCredentials(
        jira_email=f"tempo-sync@{site}.example.com",
        jira_token=f"sandbox-{site}-jira-token",
        tempo_token=f"sandbox-{site}-tempo-token",
        tempo_read_only_token=f"sandbox-{site}-tempo-read-only-token",
    )
    for site in SITES
}


@dataclass(frozen=True)
class DataKnobs:
    """The generated data: a pure function of these values and the work date."""

    seed: int = 7
    users: int = 30
    issues: int = 60
    worklogs_per_day: int = 40
    destination_worklogs_per_day: int = 5
    first_day: date = date(2025, 1, 1)

    def validate(self) -> None:
        problems = []
        if not MIN_USERS <= self.users <= MAX_USERS:
            problems.append(
                f"users must be between {MIN_USERS} (one per awkward case, plus two) and {MAX_USERS}"
            )
        if not 20 <= self.issues <= MAX_ISSUES:
            problems.append(f"issues must be between 20 (every project needs a few) and {MAX_ISSUES}")
        for name in ("worklogs_per_day", "destination_worklogs_per_day"):
            value = getattr(self, name)
            if not 0 <= value < 1_000_000:
                problems.append(f"{name} must be between 0 and 999999, not {value}")
        if problems:
            raise ValueError("invalid sandbox data knobs: " + "; ".join(problems))


@dataclass(frozen=True)
class RateLimits:
    """Token buckets per credential. A rate of 0 switches the limit off."""

    tempo_per_second: float = 5.0  # Tempo documents about 5 requests per second per token
    tempo_burst: int = 5
    jira_per_second: float = 20.0
    jira_burst: int = 40

    @classmethod
    def unlimited(cls) -> RateLimits:
        return cls(tempo_per_second=0, jira_per_second=0)


@dataclass(frozen=True)
class Faults:
    """Injected trouble; every share is a probability per request in [0, 1]."""

    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    share_429: float = 0.0
    share_5xx: float = 0.0
    share_lost_post: float = 0.0  # the POST is applied, then the connection drops
    share_lost_change: float = 0.0  # the PUT or DELETE is applied, then the connection drops
    share_slow: float = 0.0  # the answer comes after slow_seconds
    slow_seconds: float = 30.0
    retry_after_seconds: int = 1
    omit_retry_after: bool = False  # Tempo does not document Retry-After on its 429s
    targets: tuple[str, ...] = ()  # e.g. ("destination/tempo",); empty means every service
    seed: int | None = None

    def validate(self) -> None:
        problems = []
        for name in ("share_429", "share_5xx", "share_lost_post", "share_lost_change", "share_slow"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                problems.append(f"{name} must be between 0 and 1, not {value}")
        for name in ("latency_ms", "jitter_ms", "slow_seconds"):
            if getattr(self, name) < 0:
                problems.append(f"{name} must not be negative")
        if self.retry_after_seconds < 0:
            problems.append("retry_after_seconds must not be negative")
        for target in self.targets:
            site, _, service = target.partition("/")
            if site not in SITES or service not in SERVICES:
                problems.append(f"unknown fault target {target!r} (use e.g. 'destination/tempo')")
        if problems:
            raise ValueError("invalid sandbox faults: " + "; ".join(problems))

    def applies_to(self, site: str, service: str) -> bool:
        return not self.targets or f"{site}/{service}" in self.targets

    def to_json(self) -> dict[str, object]:
        return {**dataclasses.asdict(self), "targets": list(self.targets)}

    @classmethod
    def from_json(cls, payload: dict[str, object]) -> Faults:
        """Build from a JSON object; unknown names are an error, not silently ignored."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(payload) - known)
        if unknown:
            raise ValueError(f"unknown fault settings {unknown}; known: {sorted(known)}")
        values = dict(payload)
        if "targets" in values:
            targets = values["targets"]
            if not isinstance(targets, list):
                raise ValueError("targets must be a list like ['destination/tempo']")
            values["targets"] = tuple(str(t) for t in targets)
        faults = cls(**values)  # type: ignore[arg-type]
        faults.validate()
        return faults


@dataclass(frozen=True)
class Profile:
    """How the sandbox answers where the official documents leave the behaviour open.

    One field per switch; each default is how the real services answer, or the reading closest
    to the documents' own words (docs/sandbox.md, "Profiles", says which and why). A product that
    syncs correctly under every combination does not depend on a reading the documents never gave.
    """

    # Tempo: what a write without startTime stores (the generated data is not affected).
    missing_start_time: Literal["midnight", "omitted"] = "midnight"
    start_time_format: Literal["HH:mm:ss", "H:mm:ss"] = "HH:mm:ss"
    description_whitespace: Literal["kept", "trimmed"] = "kept"
    absent_description: Literal["omitted", "null", "empty"] = "omitted"
    billable: Literal["defaulted", "omitted"] = "defaulted"
    bulk_with_bad_items: Literal["refused", "applied_then_400", "applied_then_200"] = "refused"
    permission_roles: Literal["listed", "refused", "not_found"] = "listed"
    tempo_error_shape: Literal["list", "object"] = "list"
    # Tempo: what a PUT does with the optional fields its body leaves out.
    put_omitted_fields: Literal["reset", "kept"] = "reset"
    # Jira
    jira_app_permissions: Literal["where_installed", "unknown"] = "where_installed"
    jql_missing_keys: Literal["error", "omitted"] = "error"
    jira_started: Literal["as_sent", "utc"] = "as_sent"
    worklog_properties: Literal["stored", "dropped"] = "stored"
    # Jira: what `adjustEstimate=auto` does to the remaining estimate when a worklog is deleted.
    delete_auto_estimate: Literal["increased", "reduced"] = "increased"

    @classmethod
    def choices(cls) -> dict[str, tuple[str, ...]]:
        """Each switch's allowed values, the default first."""
        hints = typing.get_type_hints(cls)
        return {f.name: typing.get_args(hints[f.name]) for f in dataclasses.fields(cls)}

    def validate(self) -> None:
        problems = [
            f"{name} must be one of {', '.join(allowed)}, not {getattr(self, name)!r}"
            for name, allowed in self.choices().items()
            if getattr(self, name) not in allowed
        ]
        if problems:
            raise ValueError("invalid sandbox profile: " + "; ".join(problems))

    def changes(self) -> dict[str, str]:
        """The switches that differ from the default, by name."""
        default = Profile()
        return {name: value for name, value in self.to_json().items() if getattr(default, name) != value}

    def to_json(self) -> dict[str, str]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, payload: dict[str, object]) -> Profile:
        """Build from a JSON object; unknown switches and values are errors naming the allowed ones."""
        choices = cls.choices()
        unknown = sorted(set(payload) - set(choices))
        if unknown:
            raise ValueError(f"unknown profile switches {unknown}; known: {sorted(choices)}")
        profile = cls(**payload)  # type: ignore[arg-type]
        profile.validate()
        return profile


@dataclass(frozen=True)
class SandboxConfig:
    """Everything one sandbox server needs to start."""

    state_dir: Path = Path("data/sandbox")
    data: DataKnobs = field(default_factory=DataKnobs)
    rate_limits: RateLimits = field(default_factory=RateLimits)
    faults: Faults = field(default_factory=Faults)
    # Not part of the state's fingerprint: a state can be served under any profile.
    profile: Profile = field(default_factory=Profile)
    destination_tempo: bool = True
    # An instant freezes the sandbox clock there; None keeps the state's clock as it is
    # (real time for a new state), since other processes may be serving the same state.
    clock: datetime | None = None
    # How long a bulk create holds its issue; another bulk on that issue meanwhile gets 409.
    bulk_item_seconds: float = 0.002

    def validate(self) -> None:
        self.data.validate()
        self.faults.validate()
        self.profile.validate()
        if self.clock is not None and self.clock.tzinfo is None:
            raise ValueError("the sandbox clock must be timezone-aware (e.g. 2025-03-10T12:00Z)")
        if self.bulk_item_seconds < 0:
            raise ValueError("bulk_item_seconds must not be negative")
