"""Preflight: before anything is read, prove that both sites' tokens work and hold what a sync needs.

Without it the failure comes late and quietly: Tempo hides the worklogs a token may not view
(fewer rows, no error), and a missing "log work for others" turns every create into a refusal.
Nothing here writes. Each requirement names the permission the way Jira and Tempo admins see it,
and where either a Jira or a Tempo permission grants the same right, either one will do.

A permission is held, not held, or unknown: Jira knows Tempo's app permissions only where Tempo
is installed (elsewhere asking for them is a 400), and whether a token that is not a Tempo
administrator may read Tempo's permission roles is not documented. A right that cannot be
checked does not stop the run; it is reported, with what happens if it is really missing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal

from resources.http import ApiError
from resources.jira import JiraClient
from resources.tempo import TempoClient


@dataclass(frozen=True)
class Permission:
    service: str  # "Jira" or "Tempo"
    key: str
    name: str

    def __str__(self) -> str:
        return f"{self.service} '{self.name}' ({self.key})"


BROWSE_PROJECTS = Permission("Jira", "BROWSE_PROJECTS", "Browse projects")
BROWSE_USERS = Permission("Jira", "USER_PICKER", "Browse users and groups")
WORK_ON_ISSUES = Permission("Jira", "WORK_ON_ISSUES", "Work on issues")
VIEW_ALL_WORKLOGS = Permission("Jira", "io.tempo.jira__view-all-worklogs", "View all worklogs")
LOG_WORK_FOR_OTHERS = Permission("Jira", "io.tempo.jira__log-work-for-others", "Log work for others")
VIEW_TEAM_WORKLOGS = Permission("Tempo", "permissions.worklog.view", "View team worklogs")
MANAGE_TEAM_WORKLOGS = Permission("Tempo", "permissions.worklog.manage", "Manage team worklogs")
EDIT_OWN_WORKLOGS = Permission("Jira", "EDIT_OWN_WORKLOGS", "Edit own worklogs")
EDIT_ALL_WORKLOGS = Permission("Jira", "EDIT_ALL_WORKLOGS", "Edit all worklogs")
DELETE_OWN_WORKLOGS = Permission("Jira", "DELETE_OWN_WORKLOGS", "Delete own worklogs")
DELETE_ALL_WORKLOGS = Permission("Jira", "DELETE_ALL_WORKLOGS", "Delete all worklogs")

_CORE_JIRA = (BROWSE_PROJECTS, BROWSE_USERS, WORK_ON_ISSUES)
# Tempo's project permissions in Jira, named after its app key: only a site with Tempo has them.
_TEMPO_APP_JIRA = (VIEW_ALL_WORKLOGS, LOG_WORK_FOR_OTHERS)
_TEMPO_PERMISSIONS = {p.key: p for p in (VIEW_TEAM_WORKLOGS, MANAGE_TEAM_WORKLOGS)}


@dataclass(frozen=True)
class Requirement:
    """A right the sync needs on one site, granted by any one of ``any_of``."""

    site: str
    why: str
    any_of: tuple[Permission, ...]
    # What goes wrong if the right is missing but could not be checked; only Tempo's rights can be
    # unknown (Jira always answers for its own keys).
    if_missing: str = ""

    def state(self, access: SiteAccess) -> Literal["met", "missing", "unknown"]:
        """``met`` if an option is held, ``missing`` if every option is known not held, else ``unknown``."""
        if access.held.intersection(self.any_of):
            return "met"
        if all(option not in access.unchecked for option in self.any_of):
            return "missing"
        return "unknown"

    def problem(self) -> str:
        return f"the {self.site} token's user lacks {self._options()}, needed to {self.why}"

    def unchecked(self, access: SiteAccess) -> str:
        """Which right could not be checked, why, and what happens if it is really missing."""
        reasons = dict.fromkeys(access.unchecked[o] for o in self.any_of if o in access.unchecked)
        consequence = f"; if it is missing, {self.if_missing}" if self.if_missing else ""
        return (
            f"could not check that the {self.site} token's user holds {self._options()}, needed to"
            f" {self.why}: {' and '.join(reasons)}{consequence}"
        )

    def _options(self) -> str:
        return " or ".join(str(p) for p in self.any_of)


_HIDDEN = "Tempo silently returns only the token user's own worklogs (fewer rows, no error)"


def requirements(
    *, destination_tempo: bool, updates: bool = False, deletes: bool = False
) -> list[Requirement]:
    """What each site's token users need (the README's permissions table), with the rights to edit
    and delete copies when ``[propagate]`` carries edits (``updates``) and deletions (``deletes``).

    A destination without Tempo gets plain Jira worklogs written as the token's own account, so
    it needs neither "log work for others" nor "view all worklogs", and its copies are its own.
    """
    needs = [
        Requirement("source", "read the issues of worklogs", (BROWSE_PROJECTS,)),
        Requirement("source", "read the authors' emails", (BROWSE_USERS,)),
        Requirement(
            "source",
            "read every user's worklogs",
            (VIEW_ALL_WORKLOGS, VIEW_TEAM_WORKLOGS),
            f"{_HIDDEN} and the others are never synced",
        ),
        Requirement("destination", "find the destination's issues", (BROWSE_PROJECTS,)),
        Requirement("destination", "find authors by email", (BROWSE_USERS,)),
        Requirement("destination", "create worklogs on issues", (WORK_ON_ISSUES,)),
    ]
    if destination_tempo:
        needs += [
            Requirement(
                "destination",
                "log work for the authors",
                (LOG_WORK_FOR_OTHERS, MANAGE_TEAM_WORKLOGS),
                "the destination refuses the creates and they are recorded as rejected",
            ),
            # Reconciling after a lost answer reads every author's worklogs back.
            Requirement(
                "destination",
                "read back worklogs to reconcile",
                (VIEW_ALL_WORKLOGS, VIEW_TEAM_WORKLOGS),
                f"{_HIDDEN}, so a create whose answer was lost may look absent and be sent again",
            ),
        ]
    # A copy on a destination with Tempo belongs to its author; without Tempo, to the token's user.
    if destination_tempo:
        edit, delete = (EDIT_ALL_WORKLOGS, MANAGE_TEAM_WORKLOGS), (DELETE_ALL_WORKLOGS, MANAGE_TEAM_WORKLOGS)
    else:
        edit, delete = (EDIT_OWN_WORKLOGS, EDIT_ALL_WORKLOGS), (DELETE_OWN_WORKLOGS, DELETE_ALL_WORKLOGS)
    if updates:
        refused = "the destination refuses the edits; they are recorded as change_rejected"
        needs.append(Requirement("destination", "carry edits to the copies", edit, refused))
    if deletes:
        refused = "the destination refuses the deletions; the copies stay"
        needs.append(Requirement("destination", "delete the copies of deleted worklogs", delete, refused))
    return needs


def jira_keys(site: str, *, destination_tempo: bool, updates: bool, deletes: bool) -> tuple[Permission, ...]:
    """The Jira permissions beyond the core ones that the requirements of ``site`` name."""
    named = requirements(destination_tempo=destination_tempo, updates=updates, deletes=deletes)
    return tuple(
        dict.fromkeys(
            p
            for requirement in named
            if requirement.site == site
            for p in requirement.any_of
            if p.service == "Jira" and p not in _CORE_JIRA and p not in _TEMPO_APP_JIRA
        )
    )


class PreflightError(RuntimeError):
    """A token does not work, or its user lacks a permission; the message names each one and the fix."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        listed = "\n".join(f"- {problem}" for problem in problems)
        super().__init__(
            f"the preflight check found {len(problems)} problem(s); nothing was read or written:\n{listed}\n"
            "Grant the permissions (Jira: project permission schemes and global permissions; Tempo: "
            "Settings > Permission roles) or use another token, then run again."
        )


@dataclass(frozen=True)
class SiteAccess:
    """What one site's tokens turned out to hold, and which permissions could not be checked.

    A permission neither held nor unchecked is not held: asked and refused, or one the site does
    not have (no Tempo permissions where there is no Tempo).
    """

    site: str
    account_id: str | None
    held: frozenset[Permission]
    unchecked: Mapping[Permission, str]  # why each could not be checked
    problems: tuple[str, ...]


def check_site(
    site: str, jira: JiraClient, tempo: TempoClient | None, also: tuple[Permission, ...] = ()
) -> SiteAccess:
    """Who the tokens are on one site and which of the needed permissions they hold.

    Tempo's Jira permissions are asked only of a site with Tempo (``tempo`` given): Jira answers
    400 for a key it does not know. If it still does, the core keys are asked again alone.
    """
    problems: list[str] = []
    held: set[Permission] = set()
    unchecked: dict[Permission, str] = {}
    account_id = None
    try:
        account_id = str(jira.myself()["accountId"])
        core = _CORE_JIRA + also
        asked = core + (_TEMPO_APP_JIRA if tempo is not None else ())
        try:
            granted = jira.my_permissions([p.key for p in asked])
        except ApiError as error:
            if error.status != 400 or asked == core:
                raise
            asked = core
            granted = jira.my_permissions([p.key for p in asked])
            unchecked.update((p, f"Jira does not know {p.key} on this site (400)") for p in _TEMPO_APP_JIRA)
        held.update(p for p in asked if granted.get(p.key))
    except ApiError as error:
        problems.append(f"the {site} Jira token does not work: {error}")
    if tempo is not None:
        try:
            roles = tempo.permission_roles()
        except ApiError as error:
            if error.status not in (403, 404):
                problems.append(f"the {site} Tempo token does not work: {error}")
            else:  # not documented for a token that is no Tempo administrator: cannot tell
                reason = f"Tempo's permission roles answered {error.status}"
                unchecked.update((p, reason) for p in _TEMPO_PERMISSIONS.values())
        else:
            held.update(_tempo_permissions(roles, account_id))
    return SiteAccess(site, account_id, frozenset(held), unchecked, tuple(problems))


def check_sites(
    sites: Sequence[tuple[str, JiraClient, TempoClient | None, tuple[Permission, ...]]],
) -> list[SiteAccess]:
    """`check_site` for each (site, Jira, Tempo or None, more Jira permissions), all sites at once.

    Each site's reads go to its own services under their own pacing, so running the sites side
    by side costs one site's round trips instead of the sum.
    """
    with ThreadPoolExecutor(max_workers=max(len(sites), 1)) as pool:
        return list(pool.map(lambda site: check_site(*site), sites))


def _tempo_permissions(roles: list[dict[str, Any]], account_id: str | None) -> set[Permission]:
    """The Tempo permissions of the roles that name the user among their permitted users."""
    found: set[Permission] = set()
    for role in roles:
        members = {user.get("accountId") for user in role.get("permittedUsers") or []}
        if account_id in members:
            found.update(
                _TEMPO_PERMISSIONS[p["key"]]
                for p in role.get("permissions") or []
                if p.get("key") in _TEMPO_PERMISSIONS
            )
    return found


def preflight(
    accesses: Sequence[SiteAccess], *, destination_tempo: bool, updates: bool = False, deletes: bool = False
) -> list[str]:
    """Raise ``PreflightError`` naming every broken token and every missing permission; else the
    rights that could not be checked, one sentence each (they do not stop the run)."""
    by_site = {access.site: access for access in accesses}
    problems = [problem for access in accesses for problem in access.problems]
    unchecked: list[str] = []
    for requirement in requirements(destination_tempo=destination_tempo, updates=updates, deletes=deletes):
        access = by_site[requirement.site]
        if access.problems:
            continue  # its token already failed; its permissions are unknown
        state = requirement.state(access)
        if state == "missing":
            problems.append(requirement.problem())
        elif state == "unknown":
            unchecked.append(requirement.unchecked(access))
    if problems:
        raise PreflightError(problems)
    return unchecked
