"""The preflight's reasoning without a server: which permissions are asked where, how each answer
counts (held, not held, unknown), and which requirements stop a run."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from replication import preflight
from replication.preflight import (
    BROWSE_PROJECTS,
    LOG_WORK_FOR_OTHERS,
    MANAGE_TEAM_WORKLOGS,
    VIEW_ALL_WORKLOGS,
    VIEW_TEAM_WORKLOGS,
    WORK_ON_ISSUES,
    PreflightError,
    Requirement,
    SiteAccess,
)
from resources.http import ApiError

ME = "712020:me"
CORE = ["BROWSE_PROJECTS", "USER_PICKER", "WORK_ON_ISSUES"]
APP = ["io.tempo.jira__view-all-worklogs", "io.tempo.jira__log-work-for-others"]


def refusal(status: int | None) -> ApiError:
    return ApiError(service="Jira", endpoint="GET /x", status=status, message="no")


class FakeJira:
    """Answers mypermissions from ``granted``; ``refusals`` are raised first, one per call."""

    def __init__(self, granted: Sequence[str], *refusals: ApiError, myself: ApiError | None = None) -> None:
        self.granted, self.refusals, self.myself_refusal = set(granted), list(refusals), myself
        self.asked: list[list[str]] = []

    def myself(self) -> dict[str, str]:
        if self.myself_refusal:
            raise self.myself_refusal
        return {"accountId": ME}

    def my_permissions(self, keys: Sequence[str]) -> dict[str, bool]:
        self.asked.append(list(keys))
        if self.refusals:
            raise self.refusals.pop(0)
        return {key: key in self.granted for key in keys}


class FakeTempo:
    def __init__(self, permissions: Sequence[str] = (), refusal: ApiError | None = None) -> None:
        self.permissions, self.refusal = permissions, refusal

    def permission_roles(self) -> list[dict[str, object]]:
        if self.refusal:
            raise self.refusal
        role = {"permittedUsers": [{"accountId": ME}], "permissions": [{"key": k} for k in self.permissions]}
        return [role, {"permittedUsers": [{"accountId": "someone else"}], "permissions": [{"key": "x"}]}]


def access(held=(), unchecked=None, problems=()) -> SiteAccess:
    return SiteAccess("destination", ME, frozenset(held), unchecked or {}, tuple(problems))


LOG_FOR_OTHERS = Requirement("destination", "log", (LOG_WORK_FOR_OTHERS, MANAGE_TEAM_WORKLOGS), "refused")


@pytest.mark.parametrize(
    ("held", "unchecked", "state"),
    [
        ({MANAGE_TEAM_WORKLOGS}, {LOG_WORK_FOR_OTHERS: "400"}, "met"),  # one held option is enough
        ((), {}, "missing"),  # every option answered "no"
        ((), {MANAGE_TEAM_WORKLOGS: "403"}, "unknown"),  # Jira said no, Tempo could not tell
        ((), {LOG_WORK_FOR_OTHERS: "400", MANAGE_TEAM_WORKLOGS: "403"}, "unknown"),
    ],
)
def test_a_requirement_is_met_missing_or_unknown(held, unchecked, state):
    assert LOG_FOR_OTHERS.state(access(held, unchecked)) == state


def test_app_keys_are_asked_only_where_tempo_is():
    with_tempo, without_tempo = FakeJira(CORE + APP), FakeJira(CORE + APP)
    preflight.check_site("source", with_tempo, FakeTempo())
    preflight.check_site("destination", without_tempo, None)
    assert with_tempo.asked == [CORE + APP]
    assert without_tempo.asked == [CORE]


def test_a_400_for_the_app_keys_asks_again_without_them_and_leaves_them_unchecked():
    jira = FakeJira(CORE, refusal(400))
    checked = preflight.check_site("source", jira, FakeTempo(["permissions.worklog.view"]))
    assert jira.asked == [CORE + APP, CORE]
    assert checked.problems == ()
    assert checked.unchecked == {
        VIEW_ALL_WORKLOGS: "Jira does not know io.tempo.jira__view-all-worklogs on this site (400)",
        LOG_WORK_FOR_OTHERS: "Jira does not know io.tempo.jira__log-work-for-others on this site (400)",
    }
    assert {BROWSE_PROJECTS, WORK_ON_ISSUES, VIEW_TEAM_WORKLOGS} <= checked.held


@pytest.mark.parametrize(
    ("jira", "tempo"),
    [
        (FakeJira(CORE, myself=refusal(401)), FakeTempo()),
        (FakeJira(CORE, refusal(403)), FakeTempo()),  # not a 400: no second ask
        (FakeJira(CORE, refusal(None)), FakeTempo()),  # no answer at all
        (FakeJira(CORE, refusal(400), refusal(400)), FakeTempo()),  # still refused without the app keys
    ],
)
def test_any_other_jira_refusal_means_the_token_does_not_work(jira, tempo):
    checked = preflight.check_site("source", jira, tempo)
    assert [p.split(":")[0] for p in checked.problems] == ["the source Jira token does not work"]


@pytest.mark.parametrize(("status", "broken"), [(401, True), (500, True), (403, False), (404, False)])
def test_tempo_roles_refused_or_not_found_cannot_tell_a_401_is_a_broken_token(status, broken):
    checked = preflight.check_site("destination", FakeJira(CORE + APP), FakeTempo(refusal=refusal(status)))
    assert [p.split(":")[0] for p in checked.problems] == (
        ["the destination Tempo token does not work"] if broken else []
    )
    reason = None if broken else f"Tempo's permission roles answered {status}"
    assert checked.unchecked.get(MANAGE_TEAM_WORKLOGS) == checked.unchecked.get(VIEW_TEAM_WORKLOGS) == reason
    assert LOG_WORK_FOR_OTHERS in checked.held  # Jira still decides where it can


def test_a_destination_without_tempo_needs_neither_logging_for_others_nor_viewing_all():
    wanted = {
        p
        for r in preflight.requirements(destination_tempo=False)
        if r.site == "destination"
        for p in r.any_of
    }
    assert wanted == {BROWSE_PROJECTS, preflight.BROWSE_USERS, WORK_ON_ISSUES}


def test_unknown_rights_are_returned_and_missing_ones_raise():
    source = preflight.check_site("source", FakeJira(CORE, refusal(400)), FakeTempo(refusal=refusal(403)))
    destination = preflight.check_site("destination", FakeJira(CORE), None)
    unchecked = preflight.preflight([source, destination], destination_tempo=False)
    assert unchecked == [
        "could not check that the source token's user holds Jira 'View all worklogs'"
        " (io.tempo.jira__view-all-worklogs) or Tempo 'View team worklogs' (permissions.worklog.view),"
        " needed to read every user's worklogs: Jira does not know io.tempo.jira__view-all-worklogs on this"
        " site (400) and Tempo's permission roles answered 403; if it is missing, Tempo silently returns only"
        " the token user's own worklogs (fewer rows, no error) and the others are never synced"
    ]
    lacking = preflight.check_site("destination", FakeJira(["BROWSE_PROJECTS", "USER_PICKER"]), None)
    with pytest.raises(PreflightError, match="found 1 problem") as stopped:
        preflight.preflight([source, lacking], destination_tempo=False)
    assert stopped.value.problems == [
        "the destination token's user lacks Jira 'Work on issues' (WORK_ON_ISSUES), needed to create"
        " worklogs on issues"
    ]


@pytest.mark.parametrize(
    ("destination_tempo", "granted", "problems"),
    [
        # Jira worklogs are the token user's own: "own" is enough, "all" also does.
        (False, ["EDIT_OWN_WORKLOGS", "DELETE_ALL_WORKLOGS"], []),
        (False, ["EDIT_ALL_WORKLOGS"], [
            "the destination token's user lacks Jira 'Delete own worklogs' (DELETE_OWN_WORKLOGS) or Jira"
            " 'Delete all worklogs' (DELETE_ALL_WORKLOGS), needed to delete the copies of deleted worklogs",
        ]),
        # Tempo copies belong to their authors: Jira's "all" or Tempo's "Manage team worklogs".
        (True, ["EDIT_OWN_WORKLOGS", "DELETE_OWN_WORKLOGS"], [
            "the destination token's user lacks Jira 'Edit all worklogs' (EDIT_ALL_WORKLOGS) or Tempo 'Manage"
            " team worklogs' (permissions.worklog.manage), needed to carry edits to the copies",
            "the destination token's user lacks Jira 'Delete all worklogs' (DELETE_ALL_WORKLOGS) or Tempo"
            " 'Manage team worklogs' (permissions.worklog.manage), needed to delete the copies of deleted"
            " worklogs",
        ]),
    ],
)  # fmt: skip
def test_propagating_edits_and_deletions_asks_for_the_rights_to_edit_and_delete_copies(
    destination_tempo, granted, problems
):
    rights = {"destination_tempo": destination_tempo, "updates": True, "deletes": True}
    jira = FakeJira(CORE + APP + granted)
    also = preflight.jira_keys("destination", **rights)
    destination = preflight.check_site("destination", jira, FakeTempo(["permissions.worklog.view"]) if
                                       destination_tempo else None, also)  # fmt: skip
    assert {key for asked in jira.asked for key in asked} >= {p.key for p in also}
    source = preflight.check_site("source", FakeJira(CORE + APP), FakeTempo())
    if problems:
        with pytest.raises(PreflightError) as stopped:
            preflight.preflight([source, destination], **rights)
        assert stopped.value.problems == problems
    else:
        assert preflight.preflight([source, destination], **rights) == []
    # Without propagation, none of these rights is asked for or needed.
    assert (
        preflight.jira_keys("destination", destination_tempo=destination_tempo, updates=False, deletes=False)
        == ()
    )
