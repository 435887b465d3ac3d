"""The generated part of the sandbox: a pure function of the data knobs and the work date.

People and their accounts on both sites, projects, issues, work attributes and each work
date's worklogs. Nothing here reads the disk or the clock: ``sandbox.repository`` merges
this with what clients changed and hides what the sandbox clock has not reached yet.

Every source work date holds one worklog of each awkward case real sites have (see
``SOURCE_SCENARIOS``), the rest are ordinary, so any single day exercises all of them.
"""

from __future__ import annotations

import hashlib
import random
import unicodedata
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from enum import StrEnum
from typing import NamedTuple, TypeVar

from sandbox.config import CREDENTIALS, SITES, DataKnobs
from sandbox.timefmt import clock_text, day_text, epoch_text, offset_seconds, utc_offset

_T = TypeVar("_T")
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_DAY = 86_400
# Generated ids encode their work date, so a lookup by id regenerates one day, not all.
_IDS_PER_DAY = 1_000_000
_JIRA_ID_OFFSET = 100_000_000_000
_CACHED_WORKLOGS = 400_000
_DOMAIN = "example.com"
SOURCE_ISSUE_FIELD = "customfield_10100"  # destination field holding the source issue key
SOURCE_ISSUE_FIELD_NAME = "Source issue"


class PersonKind(StrEnum):
    """How one person's accounts look on the two sites."""

    NORMAL = "normal"
    DIFFERENT_ACCOUNT_IDS = "different_account_ids"
    EMAIL_CASE = "email_case"
    EMAIL_PREFIX = "email_prefix"
    EMAIL_HIDDEN_ON_SOURCE = "email_hidden_on_source"
    EMAIL_HIDDEN_ON_DESTINATION = "email_hidden_on_destination"
    MISSING_ON_DESTINATION = "missing_on_destination"
    INACTIVE_ON_DESTINATION = "inactive_on_destination"
    INACTIVE_ON_SOURCE = "inactive_on_source"
    DELETED_ON_SOURCE = "deleted_on_source"
    APP_ACCOUNT = "app_account"
    CUSTOMER_ON_DESTINATION = "customer_on_destination"
    AMBIGUOUS_ON_DESTINATION = "ambiguous_on_destination"


_WORKLOG_SCENARIOS = (
    "issue_missing_on_destination",
    "issue_project_renamed",
    "unicode_description",
    "long_description",
    "no_description",
    "padded_description",
    "no_start_time",
    "start_near_midnight",
    "start_after_midnight",
    "billable_differs",
    "work_attributes",
    "late_worklog",
    "edited_after_creation",
)
SOURCE_SCENARIOS: tuple[str, ...] = (
    tuple(f"author:{kind}" for kind in PersonKind if kind is not PersonKind.NORMAL) + _WORKLOG_SCENARIOS
)

# What a correct product does with each scenario under the default policy (DESIGN section 2:
# same-key issue mapping, authors resolved by accountId+email or exact email, never guessed).
EXPECTED_OUTCOME: Mapping[str, str] = {
    "normal": "synced",
    "author:different_account_ids": "synced",
    "author:email_case": "synced",
    "author:email_prefix": "synced",
    "author:email_hidden_on_source": "parked:email_hidden",
    "author:email_hidden_on_destination": "parked:email_hidden",
    "author:missing_on_destination": "parked:no_destination_user",
    "author:inactive_on_destination": "parked:inactive_destination_user",
    "author:inactive_on_source": "synced",
    "author:deleted_on_source": "parked:deleted_user",
    "author:app_account": "parked:app_account",
    "author:customer_on_destination": "parked:no_destination_user",
    "author:ambiguous_on_destination": "parked:ambiguous_email",
    "issue_missing_on_destination": "parked:issue_unmapped",
    "issue_project_renamed": "parked:issue_unmapped",
    **dict.fromkeys(_WORKLOG_SCENARIOS[2:], "synced"),
}

_FIRST_NAMES = (
    "Anna", "Ben", "Chloé", "Dmitri", "Elif", "Farah", "Gustav", "Hana", "Ignacio", "Jürgen",
    "Kim", "Leila", "Mateo", "Olga", "Priya", "Quentin", "Rosa", "Søren", "Tomás", "Uma",
    "Vera", "Wei", "Ximena", "Yusuf", "Zoë", "Łukasz", "Åsa", "Mia", "Noah", "Aiko", "Chidi",
)  # fmt: skip
_LAST_NAMES = (
    "Berg", "Carter", "Dubois", "Eriksson", "Fernández", "García", "Hoffmann", "Ivanova",
    "Jensen", "Kowalski", "López", "Müller", "Nakamura", "O'Brien", "Patel", "Quinn", "Rossi",
    "Schmidt", "Tanaka", "Ünal", "van der Berg", "Wójcik", "Nguyễn", "Zhang", "Åkesson", "Dvořák",
)  # fmt: skip
_ZONES = (
    "Europe/Berlin", "Europe/London", "America/New_York", "America/Los_Angeles",
    "Asia/Kolkata", "Asia/Tokyo", "Australia/Sydney", "Pacific/Auckland", "UTC",
    "America/Sao_Paulo",
)  # fmt: skip
_PROJECTS = (
    ("ACME", "Acme Platform"),
    ("OPS", "Operations"),
    ("WEB", "Website"),
    ("DATA", "Data Platform"),
    ("CLI", "Client Work"),
)
_RENAMED_PROJECTS = {"CLI": "CLIENT"}  # the destination's key for a source project
_DESTINATION_ONLY_PROJECT = ("INT", "Internal")
_SUMMARIES = (
    "Checkout fails for guest users", "Migrate billing to the new API", "Nightly export is slow",
    "Onboarding checklist for new hires", "Rotate service credentials", "Dashboard for support",
    "Café menu page shows wrong prices", "Upgrade the database cluster", "Audit log retention",
    "Translate the help centre (日本語)", "Flaky integration test in CI", "Quarterly planning",
)  # fmt: skip
_DESCRIPTIONS = (
    "Code review for {key}", "Standup", "Fixed a flaky test", "Customer call about {key}",
    "Sprint planning", "Refactored the billing module", "Investigated a production incident",
    "Pair programming on {key}", "Wrote documentation", "Deployment to staging",
)  # fmt: skip
_UNICODE_DESCRIPTIONS = (
    "Réunion café ☕ avec l'équipe — planning Q3",
    "日本語のレビューと修正 (テスト追加)",
    "Überprüfung der Änderungen 🚀 Straße",
    "Ремонт сборки и тесты",
    "مراجعة الكود قبل الإصدار",
    'Line one\nLine two\ttabbed "quoted" \\ backslash',
)
_LONG_DESCRIPTION_LENGTH = 10_000
# Whitespace at both ends and inside: a service may trim it on write (Profile.description_whitespace).
_PADDED_DESCRIPTION = "  Notes with spaces around them \t\n"
# What the author changed in an `edited_after_creation` worklog.
_EDIT_SECONDS = 900
_EDIT_NOTE = " (corrected)"
_ACTIVITIES = ("design", "development", "meeting", "support")
_ASCII_FOLD = str.maketrans({"ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "ß": "ss", "æ": "ae"})


@dataclass(frozen=True, slots=True)
class Account:
    """A Jira Cloud account on one site."""

    account_id: str
    account_type: str  # atlassian | app | customer
    display_name: str
    email: str | None  # the address on file; shown only when email_visible
    email_visible: bool
    active: bool
    time_zone: str
    locale: str = "en_US"


@dataclass(frozen=True, slots=True)
class Person:
    """One human (or app) and their accounts; `source` authors the source worklogs."""

    kind: PersonKind
    source: Account
    destination: Account | None


@dataclass(frozen=True, slots=True)
class Project:
    id: int
    key: str
    name: str


@dataclass(frozen=True, slots=True)
class Issue:
    id: int
    key: str
    project: Project
    summary: str
    original_estimate: int | None
    remaining_estimate: int | None
    time_spent: int
    source_key: str | None  # the destination's SOURCE_ISSUE_FIELD value
    kind: str  # common | missing_on_destination | project_renamed | destination_only


@dataclass(frozen=True, slots=True)
class WorkAttribute:
    key: str
    name: str
    type: str
    required: bool = False
    values: tuple[str, ...] = ()
    names: tuple[tuple[str, str], ...] = ()


class Worklog(NamedTuple):
    """One worklog as both services know it (Tempo's fields and Jira's).

    A named tuple, not a dataclass: millions are generated and a frozen dataclass's
    ``__init__`` costs several times more.
    """

    tempo_id: int | None  # None: made through Jira on a site without Tempo
    jira_id: int
    issue_id: int
    author_account_id: str  # the worker (Tempo's author)
    jira_author_account_id: str  # who Jira shows: the Tempo app for worklogs Tempo made
    start_date: str
    start_time: str | None
    utc_offset: str  # the worker's offset at the start, for Jira's `started`
    start_utc: str
    time_spent: int
    billable: int | None
    description: str | None
    attributes: tuple[tuple[str, str], ...]
    created_at: str
    updated_at: str
    comment: str | None = None  # Jira ADF as JSON text, for worklogs made through Jira
    properties: tuple[tuple[str, str], ...] = ()  # Jira worklog properties: key, JSON text
    scenario: str = "created"


def before_edit(worklog: Worklog) -> Worklog:
    """An edited generated worklog as it was between its creation and its edit."""
    return worklog._replace(
        time_spent=worklog.time_spent - _EDIT_SECONDS,
        billable=worklog.time_spent - _EDIT_SECONDS,
        description=(worklog.description or "").removesuffix(_EDIT_NOTE),
        updated_at=worklog.created_at,
    )


def generated_day(tempo_id: int) -> date | None:
    """The work date a generated Tempo id belongs to (None for ids clients created)."""
    day_number = (tempo_id - 1) // _IDS_PER_DAY
    if day_number < 365:
        return None
    return date.fromordinal(_EPOCH_ORDINAL + day_number)


class World:
    """Everything generated from one set of data knobs."""

    def __init__(self, knobs: DataKnobs) -> None:
        knobs.validate()
        if knobs.first_day.year < 2000:
            raise ValueError("first_day must be in the year 2000 or later")
        self.knobs = knobs
        self._cache: OrderedDict[tuple[str, date], tuple[Worklog, ...]] = OrderedDict()
        self._cached_count = 0
        rng = random.Random(f"{knobs.seed}/people")
        self.people = self._make_people(rng)
        self._staff = self._make_staff(rng)
        self._directories = {site: self._make_directory(site) for site in SITES}
        self.projects = self._make_projects()
        self._issues = self._make_issues(random.Random(f"{knobs.seed}/issues"))
        self._issues_by_id = {
            site: {issue.id: issue for issue in issues} for site, issues in self._issues.items()
        }
        self._issues_by_key = {
            site: {issue.key: issue for issue in issues} for site, issues in self._issues.items()
        }
        self._attributes = self._make_attributes()
        self._normal_people = [p for p in self.people if p.kind is PersonKind.NORMAL]
        self._person_of_kind = {p.kind: p for p in self.people}
        source_issues = self._issues["source"]
        self._issues_of_kind = {
            kind: [i for i in source_issues if i.kind == kind]
            for kind in ("common", "missing_on_destination", "project_renamed")
        }

    # ----- directory

    def service_account(self, site: str) -> Account:
        """The Tempo app's account: Jira's author of every worklog Tempo made."""
        return self._directories[site][self._id(f"{site}/tempo-app")]

    def integration_user(self, site: str) -> Account:
        """The account whose credentials the sandbox hands out (Jira's `myself`)."""
        return self._directories[site][self._id(f"{site}/integration")]

    def accounts(self, site: str) -> Iterable[Account]:
        return self._directories[site].values()

    def account(self, site: str, account_id: str) -> Account | None:
        return self._directories[site].get(account_id)

    # ----- issues

    def issues(self, site: str) -> tuple[Issue, ...]:
        return self._issues[site]

    def issue(self, site: str, issue_id: int) -> Issue | None:
        return self._issues_by_id[site].get(issue_id)

    def issue_by_key(self, site: str, key: str) -> Issue | None:
        return self._issues_by_key[site].get(key.upper())

    def work_attributes(self, site: str) -> tuple[WorkAttribute, ...]:
        return self._attributes[site]

    # ----- worklogs

    def worklogs_on(self, site: str, day: date) -> tuple[Worklog, ...]:
        """All worklogs generated for one work date, created or not yet (see created_at)."""
        key = (site, day)
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached
        worklogs = self._generate(site, day)
        self._cache[key] = worklogs
        self._cached_count += len(worklogs)
        while self._cached_count > _CACHED_WORKLOGS and len(self._cache) > 1:
            _, evicted = self._cache.popitem(last=False)
            self._cached_count -= len(evicted)
        return worklogs

    def worklog(self, site: str, tempo_id: int) -> Worklog | None:
        """A generated worklog by its Tempo id."""
        day = generated_day(tempo_id)
        if day is None:
            return None
        index = (tempo_id - 1) % _IDS_PER_DAY
        worklogs = self.worklogs_on(site, day)
        return worklogs[index] if index < len(worklogs) else None

    def worklog_by_jira_id(self, site: str, jira_id: int) -> Worklog | None:
        if jira_id <= _JIRA_ID_OFFSET:
            return None
        return self.worklog(site, jira_id - _JIRA_ID_OFFSET)

    # ----- construction

    def _id(self, label: str, *, legacy: bool = False) -> str:
        digest = hashlib.sha256(f"{self.knobs.seed}/{label}".encode()).hexdigest()
        if legacy:  # accounts older than 2019 carry 24-character ids
            return digest[:24]
        return f"712020:{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"

    def _names(self, rng: random.Random, count: int) -> list[tuple[str, str]]:
        pairs = [(first, last) for first in _FIRST_NAMES for last in _LAST_NAMES]
        return rng.sample(pairs, count)

    def _make_people(self, rng: random.Random) -> tuple[Person, ...]:
        special = [kind for kind in PersonKind if kind is not PersonKind.NORMAL]
        kinds = special + [PersonKind.NORMAL] * (self.knobs.users - len(special))
        people = []
        used_locals: set[str] = set()
        names = self._names(rng, len(kinds))
        for index, ((first, last), kind) in enumerate(zip(names, kinds, strict=True)):
            local = _email_local(first, last)
            while local in used_locals:
                local += str(index)
            used_locals.add(local)
            people.append(self._make_person(index, kind, f"{first} {last}", local, rng))
        return tuple(people)

    def _make_person(self, index: int, kind: PersonKind, name: str, local: str, rng: random.Random) -> Person:
        zone = _pick(rng, _ZONES)
        email = f"{local}@{_DOMAIN}"
        source_id = self._id(f"person/{index}", legacy=index % 4 == 3)
        if kind is PersonKind.APP_ACCOUNT:
            app = Account(source_id, "app", "Automation for Jira", None, False, True, "UTC")
            return Person(kind, app, None)
        source_email = email
        if kind is PersonKind.EMAIL_CASE:
            source_email = f"{local.title()}@{_DOMAIN.title()}"
        source = Account(
            account_id=source_id,
            account_type="atlassian",
            display_name=name,
            email=source_email,
            email_visible=kind is not PersonKind.EMAIL_HIDDEN_ON_SOURCE,
            active=kind is not PersonKind.INACTIVE_ON_SOURCE,
            time_zone=zone,
        )
        if kind in (
            PersonKind.MISSING_ON_DESTINATION,
            PersonKind.CUSTOMER_ON_DESTINATION,
            PersonKind.AMBIGUOUS_ON_DESTINATION,
        ):
            return Person(kind, source, None)
        new_id = kind in (
            PersonKind.DIFFERENT_ACCOUNT_IDS,
            PersonKind.EMAIL_CASE,
            PersonKind.EMAIL_PREFIX,
        )
        destination = Account(
            account_id=self._id(f"person/{index}/destination") if new_id else source_id,
            account_type="atlassian",
            display_name=name,
            email=email,
            email_visible=kind is not PersonKind.EMAIL_HIDDEN_ON_DESTINATION,
            active=kind is not PersonKind.INACTIVE_ON_DESTINATION,
            time_zone=zone,
        )
        return Person(kind, source, destination)

    def _make_staff(self, rng: random.Random) -> tuple[Account, ...]:
        """People who work only on the destination site and log time there themselves."""
        staff = []
        for index, (first, last) in enumerate(self._names(rng, 3)):
            email = f"{_email_local(first, last)}.staff@{_DOMAIN}"
            staff.append(
                Account(self._id(f"staff/{index}"), "atlassian", f"{first} {last}", email,
                        True, True, _pick(rng, _ZONES))
            )  # fmt: skip
        return tuple(staff)

    def _make_directory(self, site: str) -> dict[str, Account]:
        credentials = CREDENTIALS[site]
        accounts = [
            Account(self._id(f"{site}/integration"), "atlassian", "Tempo Sync",
                    credentials.jira_email, True, True, "UTC"),
            Account(self._id(f"{site}/tempo-app"), "app", "Tempo Timesheets", None,
                    False, True, "UTC"),
        ]  # fmt: skip
        for index, person in enumerate(self.people):
            if site == "source":
                if person.kind is not PersonKind.DELETED_ON_SOURCE:
                    accounts.append(person.source)
                continue
            if person.destination is not None:
                accounts.append(person.destination)
            accounts.extend(self._destination_extras(index, person))
        if site == "destination":
            accounts.extend(self._staff)
        return {account.account_id: account for account in accounts}

    def _destination_extras(self, index: int, person: Person) -> list[Account]:
        """Destination accounts that a careless email match would pick."""
        source = person.source
        email = (source.email or "").lower()
        twin = Account(
            self._id(f"person/{index}/twin"), "atlassian", source.display_name, email,
            True, True, source.time_zone,
        )  # fmt: skip
        if person.kind is PersonKind.EMAIL_PREFIX:  # the search for this email also finds ...com.au
            return [replace(twin, email=f"{email}.au")]
        if person.kind is PersonKind.CUSTOMER_ON_DESTINATION:  # a service desk customer, not staff
            return [replace(twin, account_type="customer")]
        if person.kind is PersonKind.AMBIGUOUS_ON_DESTINATION:  # two accounts, one address
            local, _, domain = email.partition("@")
            other_id = self._id(f"person/{index}/twin2")
            return [twin, replace(twin, account_id=other_id, email=f"{local.title()}@{domain}")]
        return []

    def _make_projects(self) -> dict[str, tuple[Project, ...]]:
        source = tuple(Project(10000 + n, key, name) for n, (key, name) in enumerate(_PROJECTS))
        destination = tuple(
            Project(10100 + n, _RENAMED_PROJECTS.get(key, key), name)
            for n, (key, name) in enumerate((*_PROJECTS, _DESTINATION_ONLY_PROJECT))
        )
        return {"source": source, "destination": destination}

    def _make_issues(self, rng: random.Random) -> dict[str, tuple[Issue, ...]]:
        count = self.knobs.issues
        source_projects = self.projects["source"]
        destination_projects = {p.name: p for p in self.projects["destination"]}
        source: list[Issue] = []
        destination: list[Issue] = []
        for index in range(count):
            project = source_projects[index % len(source_projects)]
            number = index // len(source_projects) + 1
            original = _pick(rng, (None, 4, 8, 16, 40, 80))
            spent = _between(rng, 0, 7) * 3600
            remaining = None if original is None else max(original * 3600 - spent, 0)
            summary = _pick(rng, _SUMMARIES)
            if index % 7 == 6:
                kind = "missing_on_destination"
            elif project.key in _RENAMED_PROJECTS:
                kind = "project_renamed"
            else:
                kind = "common"
            key = f"{project.key}-{number}"
            source.append(Issue(10001 + index, key, project, summary,
                                None if original is None else original * 3600,
                                remaining, spent, None, kind))  # fmt: skip
            if kind != "missing_on_destination":
                twin_project = destination_projects[project.name]
                destination.append(Issue(
                    20000 + count - index, f"{twin_project.key}-{number}", twin_project, summary,
                    None if original is None else original * 3600, remaining, spent, key, kind,
                ))  # fmt: skip
        internal = destination_projects[_DESTINATION_ONLY_PROJECT[1]]
        for number in range(1, 6):
            destination.append(Issue(
                90000 + number, f"{internal.key}-{number}", internal, _pick(rng, _SUMMARIES),
                None, None, 0, None, "destination_only",
            ))  # fmt: skip
        return {"source": tuple(source), "destination": tuple(destination)}

    def _make_attributes(self) -> dict[str, tuple[WorkAttribute, ...]]:
        activity = WorkAttribute(
            "_Activity_", "Activity", "STATIC_LIST", values=_ACTIVITIES,
            names=tuple((value, value.title()) for value in _ACTIVITIES),
        )  # fmt: skip
        overtime = WorkAttribute("_Overtime_", "Overtime", "CHECKBOX")
        external = WorkAttribute("_ExternalRef_", "External reference", "INPUT_FIELD")
        return {"source": (activity, overtime, external), "destination": (activity, overtime)}

    # ----- worklog generation

    def _generate(self, site: str, day: date) -> tuple[Worklog, ...]:
        if day < self.knobs.first_day:
            return ()
        rng = random.Random(f"{self.knobs.seed}/{site}/worklogs/{day.isoformat()}")
        if site == "source":
            count = self.knobs.worklogs_per_day
            special = list(SOURCE_SCENARIOS)
            rng.shuffle(special)
            scenarios = special[:count] + ["normal"] * max(count - len(special), 0)
            rng.shuffle(scenarios)
        else:
            scenarios = ["destination_native"] * self.knobs.destination_worklogs_per_day
        first_id = (day.toordinal() - _EPOCH_ORDINAL) * _IDS_PER_DAY + 1
        service_account = self.service_account(site).account_id
        return tuple(
            self._worklog(site, rng, day, first_id + index, scenario, service_account)
            for index, scenario in enumerate(scenarios)
        )

    def _worklog(
        self,
        site: str,
        rng: random.Random,
        day: date,
        tempo_id: int,
        scenario: str,
        service_account: str,
    ) -> Worklog:
        # Plain integer seconds and cached text: generation dominates large benchmark runs.
        author, issue = self._author_and_issue(site, rng, scenario)
        start = _start_seconds(rng, scenario)
        spent = _time_spent(rng, scenario)
        offset = utc_offset(author.time_zone, day, (start or 0) // 3600)
        local_start = (day.toordinal() - _EPOCH_ORDINAL) * _DAY + (start or 0)
        utc_start = local_start - offset_seconds(offset)
        logged_at = utc_start + (17 * 3600 if start is None else 0)
        created = logged_at + spent + 60 * _between(rng, 1, 240)
        if scenario == "late_worklog":
            created += _DAY * _between(rng, 2, 9)
        updated = created
        description = _description(rng, scenario, issue.key)
        if scenario == "edited_after_creation":  # the generated worklog is the edited version
            updated += 3600 * _between(rng, 1, 72)
            spent += _EDIT_SECONDS
            description = f"{description}{_EDIT_NOTE}"
        return Worklog(
            tempo_id=tempo_id,
            jira_id=tempo_id + _JIRA_ID_OFFSET,
            issue_id=issue.id,
            author_account_id=author.account_id,
            jira_author_account_id=service_account,
            start_date=day_text(day.toordinal() - _EPOCH_ORDINAL),
            start_time=None if start is None else clock_text(start),
            utc_offset=offset,
            start_utc=epoch_text(utc_start, millis=True),
            time_spent=spent,
            billable=_pick(rng, (0, spent // 2)) if scenario == "billable_differs" else spent,
            description=description,
            attributes=_attributes(rng, scenario),
            created_at=epoch_text(created),
            updated_at=epoch_text(updated),
            scenario=scenario,
        )

    def _author_and_issue(self, site: str, rng: random.Random, scenario: str) -> tuple[Account, Issue]:
        if site == "destination":
            return _pick(rng, self._staff), _pick(rng, self._issues["destination"])
        if scenario.startswith("author:"):
            author = self._person_of_kind[PersonKind(scenario.removeprefix("author:"))].source
        else:
            author = _pick(rng, self._normal_people).source
        issue_kind = {
            "issue_missing_on_destination": "missing_on_destination",
            "issue_project_renamed": "project_renamed",
        }.get(scenario, "common")
        return author, _pick(rng, self._issues_of_kind[issue_kind])


def _email_local(first: str, last: str) -> str:
    folded = unicodedata.normalize("NFKD", f"{first}.{last}".translate(_ASCII_FOLD))
    ascii_only = folded.encode("ascii", "ignore").decode().lower()
    return "".join(ch for ch in ascii_only if ch.isalnum() or ch == ".")


def _pick(rng: random.Random, options: Sequence[_T]) -> _T:
    # random.choice and randint are several times slower than one random() call.
    return options[int(rng.random() * len(options))]


def _between(rng: random.Random, low: int, high: int) -> int:
    return low + int(rng.random() * (high - low + 1))


def _start_seconds(rng: random.Random, scenario: str) -> int | None:
    if scenario == "no_start_time":
        return None
    if scenario == "start_near_midnight":
        return 23 * 3600 + 60 * _pick(rng, (30, 40, 45, 50, 55, 59))
    if scenario == "start_after_midnight":
        return 60 * _between(rng, 0, 20)
    second = _between(rng, 1, 59) if rng.random() < 0.125 else 0
    return 3600 * _between(rng, 7, 18) + 60 * _pick(rng, (0, 15, 30, 45)) + second


def _time_spent(rng: random.Random, scenario: str) -> int:
    if scenario == "start_near_midnight":  # long enough to run past midnight
        return 900 * _between(rng, 2, 8)
    if rng.random() < 0.1:
        return _between(rng, 60, 10_800)
    return 900 * _between(rng, 1, 32)


def _description(rng: random.Random, scenario: str, key: str) -> str | None:
    if scenario == "no_description":
        return None
    if scenario == "padded_description":
        return _PADDED_DESCRIPTION
    if scenario == "unicode_description":
        return _pick(rng, _UNICODE_DESCRIPTIONS)
    if scenario == "long_description":
        sentence = f"Detailed notes on {key}: analysis, changes and follow-ups — ✓. "
        repeated = sentence * (_LONG_DESCRIPTION_LENGTH // len(sentence) + 1)
        return repeated[:_LONG_DESCRIPTION_LENGTH]
    return _pick(rng, _DESCRIPTIONS).format(key=key)


def _attributes(rng: random.Random, scenario: str) -> tuple[tuple[str, str], ...]:
    if scenario == "work_attributes":
        return (
            ("_Activity_", _pick(rng, _ACTIVITIES)),
            ("_ExternalRef_", f"PO-{_between(rng, 1000, 9999)}"),
            ("_Overtime_", "true"),
        )
    if rng.random() < 0.3:
        return (("_Activity_", _pick(rng, _ACTIVITIES)),)
    return ()
