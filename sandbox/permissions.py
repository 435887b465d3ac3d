"""What the sandbox's integration user may do on each site, and the permission catalogue.

Jira permissions are the keys ``GET /rest/api/3/mypermissions`` answers for; Tempo adds its
own project permissions to Jira under the app key ``io.tempo.jira``. Tempo's permission
roles (``GET /4/permission-roles``) carry Tempo's team permissions such as
``permissions.worklog.view``. By default the integration user has everything tempo-sync
needs; tests take permissions away through the inspection API to see what breaks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sandbox.store import Store

# key: (id, name, type, description)
JIRA_PERMISSIONS: dict[str, tuple[str, str, str, str]] = {
    "ADMINISTER": ("0", "Administer Jira", "GLOBAL", "Create and administer projects, ..."),
    "USER_PICKER": ("27", "Browse users and groups", "GLOBAL", "View and select users or groups."),
    "BROWSE_PROJECTS": ("10", "Browse Projects", "PROJECT", "Ability to browse projects."),
    "CREATE_ISSUES": ("11", "Create Issues", "PROJECT", "Ability to create issues."),
    "EDIT_ISSUES": ("12", "Edit Issues", "PROJECT", "Ability to edit issues."),
    "WORK_ON_ISSUES": ("20", "Work On Issues", "PROJECT", "Ability to log work done."),
    "EDIT_OWN_WORKLOGS": ("40", "Edit Own Worklogs", "PROJECT", "Edit one's own worklogs."),
    "EDIT_ALL_WORKLOGS": ("41", "Edit All Worklogs", "PROJECT", "Edit anyone's worklogs."),
    "DELETE_OWN_WORKLOGS": ("42", "Delete Own Worklogs", "PROJECT", "Delete own worklogs."),
    "DELETE_ALL_WORKLOGS": ("43", "Delete All Worklogs", "PROJECT", "Delete anyone's worklogs."),
    "io.tempo.jira__log-work-for-others": (
        "10200", "Log Work for Others", "PROJECT", "Tempo: log work on behalf of other users.",
    ),
    "io.tempo.jira__view-all-worklogs": (
        "10201", "View All Worklogs", "PROJECT", "Tempo: view every user's worklogs.",
    ),
    "io.tempo.jira__set-billable-hours": (
        "10202", "Set Billable Hours", "PROJECT", "Tempo: set billable hours on worklogs.",
    ),
    "io.tempo.jira__view-issue-hours": (
        "10203", "View Issue Hours", "PROJECT", "Tempo: view the hours logged on issues.",
    ),
}  # fmt: skip
TEMPO_PERMISSIONS = (
    "permissions.worklog.view",
    "permissions.worklog.manage",
    "permissions.worklog.approve",
    "permissions.plan.view",
)
# Jira names an app's project permissions after the app's key.
TEMPO_APP_PREFIX = "io.tempo.jira__"
LOG_WORK_FOR_OTHERS = "io.tempo.jira__log-work-for-others"
VIEW_ALL_WORKLOGS = "io.tempo.jira__view-all-worklogs"
_DEFAULT_JIRA = frozenset(JIRA_PERMISSIONS) - {"ADMINISTER"}
_DEFAULT_TEMPO = frozenset({"permissions.worklog.view", "permissions.worklog.manage"})


def is_app_permission(key: str) -> bool:
    """Whether the key belongs to Tempo (it exists only on a site where Tempo is installed)."""
    return key.startswith(TEMPO_APP_PREFIX)


@dataclass(frozen=True)
class Grants:
    jira: frozenset[str]
    tempo: frozenset[str]

    def can_view_all_worklogs(self) -> bool:
        return VIEW_ALL_WORKLOGS in self.jira or "permissions.worklog.view" in self.tempo

    def can_log_for_others(self) -> bool:
        return LOG_WORK_FOR_OTHERS in self.jira or "permissions.worklog.manage" in self.tempo

    def to_json(self) -> dict[str, list[str]]:
        return {"jira": sorted(self.jira), "tempo": sorted(self.tempo)}


DEFAULT_GRANTS = Grants(_DEFAULT_JIRA, _DEFAULT_TEMPO)


def grants(store: Store, site: str) -> Grants:
    raw = store.meta(f"permissions:{site}")
    if raw is None:
        return DEFAULT_GRANTS
    data = json.loads(raw)
    return Grants(frozenset(data["jira"]), frozenset(data["tempo"]))


def save_grants(store: Store, site: str, jira: list[str], tempo: list[str]) -> Grants:
    """Replace the integration user's permissions; unknown keys are refused by name."""
    unknown = sorted(set(jira) - set(JIRA_PERMISSIONS)) + sorted(set(tempo) - set(TEMPO_PERMISSIONS))
    if unknown:
        raise ValueError(
            f"unknown permission keys {unknown}; Jira knows {sorted(JIRA_PERMISSIONS)}, "
            f"Tempo knows {list(TEMPO_PERMISSIONS)}"
        )
    result = Grants(frozenset(jira), frozenset(tempo))
    store.set_meta(f"permissions:{site}", json.dumps(result.to_json()))
    return result
