"""Preflight: before anything is read, prove that both sites' tokens work and hold what a sync needs.

Without it the failure comes late and quietly: Tempo hides the worklogs a token may not view
(fewer rows, no error), and a missing "log work for others" turns every create into a refusal.
Nothing here writes. Each requirement names the permission the way Jira and Tempo admins see it,
and where either a Jira or a Tempo permission grants the same right, either one will do.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

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


@dataclass(frozen=True)
class Requirement:
    """A right the sync needs on one site, granted by any one of ``any_of``."""

    site: str
    why: str
    any_of: tuple[Permission, ...]

    def problem(self, held: set[Permission]) -> str | None:
        if held.intersection(self.any_of):
            return None
        options = " or ".join(str(p) for p in self.any_of)
        return f"the {self.site} token's user lacks {options}, needed to {self.why}"


def requirements(*, destination_tempo: bool) -> list[Requirement]:
    """What each site's token users need (the README's permissions table)."""
    needs = [
        Requirement("source", "read the issues of worklogs", (BROWSE_PROJECTS,)),
        Requirement("source", "read the authors' emails", (BROWSE_USERS,)),
        Requirement("source", "read every user's worklogs", (VIEW_ALL_WORKLOGS, VIEW_TEAM_WORKLOGS)),
        Requirement("destination", "find the destination's issues", (BROWSE_PROJECTS,)),
        Requirement("destination", "find authors by email", (BROWSE_USERS,)),
        Requirement("destination", "create worklogs on issues", (WORK_ON_ISSUES,)),
        Requirement("destination", "log work for the authors", (LOG_WORK_FOR_OTHERS, MANAGE_TEAM_WORKLOGS)),
    ]
    if destination_tempo:
        # Reconciling after a lost answer reads every author's worklogs back.
        needs.append(
            Requirement(
                "destination", "read back worklogs to reconcile", (VIEW_ALL_WORKLOGS, VIEW_TEAM_WORKLOGS)
            )
        )
    return needs


_JIRA_PERMISSIONS = (BROWSE_PROJECTS, BROWSE_USERS, WORK_ON_ISSUES, VIEW_ALL_WORKLOGS, LOG_WORK_FOR_OTHERS)
_TEMPO_PERMISSIONS = {p.key: p for p in (VIEW_TEAM_WORKLOGS, MANAGE_TEAM_WORKLOGS)}


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
    """What one site's tokens turned out to hold."""

    site: str
    account_id: str | None
    held: frozenset[Permission]
    problems: tuple[str, ...]


def check_site(site: str, jira: JiraClient, tempo: TempoClient | None) -> SiteAccess:
    """Who the tokens are on one site and which of the needed permissions they hold."""
    problems: list[str] = []
    held: set[Permission] = set()
    account_id = None
    try:
        account_id = str(jira.myself()["accountId"])
        granted = jira.my_permissions([p.key for p in _JIRA_PERMISSIONS])
        held.update(p for p in _JIRA_PERMISSIONS if granted.get(p.key))
    except ApiError as error:
        problems.append(f"the {site} Jira token does not work: {error}")
    if tempo is not None:
        try:
            roles = tempo.permission_roles()
        except ApiError as error:
            problems.append(f"the {site} Tempo token does not work: {error}")
        else:
            held.update(_tempo_permissions(roles, account_id))
    return SiteAccess(site, account_id, frozenset(held), tuple(problems))


def check_sites(sites: Sequence[tuple[str, JiraClient, TempoClient | None]]) -> list[SiteAccess]:
    """`check_site` for each (site, Jira, Tempo or None), all sites at once.

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


def preflight(accesses: Sequence[SiteAccess], *, destination_tempo: bool) -> None:
    """Raise ``PreflightError`` naming every broken token and every missing permission."""
    by_site = {access.site: access for access in accesses}
    problems = [problem for access in accesses for problem in access.problems]
    broken = {access.site for access in accesses if access.problems}
    for requirement in requirements(destination_tempo=destination_tempo):
        if requirement.site in broken:
            continue  # its token already failed; its permissions are unknown
        problem = requirement.problem(set(by_site[requirement.site].held))
        if problem:
            problems.append(problem)
    if problems:
        raise PreflightError(problems)
