"""Preflight: a token that does not work, or a user without a permission the sync needs, stops the
run before the first read, with a message naming each missing permission and the fix. A right that
neither Jira nor Tempo can answer for on that site does not stop it: it is named in the lineage
counts and logged as a warning."""

from __future__ import annotations

import json
import logging
from datetime import date

import dagster as dg
import pytest

from sandbox.admin_client import SandboxAdmin
from sandbox.config import Profile
from sandbox.permissions import JIRA_PERMISSIONS, is_app_permission

DAY = date(2025, 3, 5)
ALL_JIRA = sorted(set(JIRA_PERMISSIONS) - {"ADMINISTER"})
ALL_TEMPO = ["permissions.worklog.manage", "permissions.worklog.view"]
APP_KEYS = {key for key in JIRA_PERMISSIONS if is_app_permission(key)}
# Jira does not know Tempo's keys and Tempo will not show its roles: those rights cannot be checked.
UNKNOWABLE = Profile(jira_app_permissions="unknown", permission_roles="refused")


def _failure(result: dg.ExecuteInProcessResult) -> str:
    """The product's own message of the failed step, under Dagster's wrapping."""
    (event,) = [event for event in result.all_events if event.is_step_failure]
    error = event.step_failure_data.error
    while error.cause is not None:
        error = error.cause
    return error.message


def _preflight_counts(harness, result: dg.ExecuteInProcessResult) -> dict:
    (counts,) = harness.query(
        "select counts->'preflight' from lineage.runs where run_id = ?", [result.run_id]
    )[0]
    return json.loads(counts)


def _warnings(harness, result: dg.ExecuteInProcessResult) -> list[str]:
    entries = harness.instance.all_logs(result.run_id)
    return [e.user_message for e in entries if e.level == logging.WARNING and "preflight" in e.user_message]


def _without(admin: SandboxAdmin, site: str, *, jira: set[str] = frozenset(), tempo: set[str] = frozenset()):
    admin.set_permissions(
        site, jira=[k for k in ALL_JIRA if k not in jira], tempo=[k for k in ALL_TEMPO if k not in tempo]
    )


def _nothing_was_touched(harness) -> None:
    with harness.sandbox.admin() as admin:
        assert admin.count("source", "tempo", "GET /4/worklogs") == 0, "no worklog was read"
        assert admin.changed_worklogs("destination") == []
    assert harness.scalar("select count(*) from raw.source_worklogs") == 0


def test_the_default_sandbox_passes_and_the_preflight_is_recorded(harness):
    assert harness.run(DAY).success
    (counts,) = harness.query("select counts->'preflight'->'api_calls' from lineage.runs")[0]
    assert json.loads(counts) == {
        f"{site} {endpoint}": 1
        for site in ("source", "destination")
        for endpoint in ("GET /rest/api/3/myself", "GET /rest/api/3/mypermissions", "GET /4/permission-roles")
    }


@pytest.mark.parametrize(
    ("site", "jira", "tempo", "named"),
    [
        (
            "source",
            {"io.tempo.jira__view-all-worklogs"},
            {"permissions.worklog.view"},
            "the source token's user lacks Jira 'View all worklogs' (io.tempo.jira__view-all-worklogs) or"
            " Tempo 'View team worklogs' (permissions.worklog.view), needed to read every user's worklogs",
        ),
        (
            "destination",
            {"io.tempo.jira__log-work-for-others"},
            {"permissions.worklog.manage"},
            "the destination token's user lacks Jira 'Log work for others'"
            " (io.tempo.jira__log-work-for-others) or Tempo 'Manage team worklogs'"
            " (permissions.worklog.manage), needed to log work for the authors",
        ),
        (
            "destination",
            {"WORK_ON_ISSUES"},
            set(),
            "the destination token's user lacks Jira 'Work on issues' (WORK_ON_ISSUES), needed to create"
            " worklogs",
        ),
        (
            "source",
            {"USER_PICKER"},
            set(),
            "the source token's user lacks Jira 'Browse users and groups' (USER_PICKER), needed to read the"
            " authors' emails",
        ),
    ],
)
def test_a_missing_permission_stops_the_run_before_the_first_read_and_is_named(
    harness, site, jira, tempo, named
):
    with harness.sandbox.admin() as admin:
        _without(admin, site, jira=jira, tempo=tempo)
    result = harness.run(DAY, raise_on_error=False)
    assert not result.success
    message = _failure(result)
    assert "preflight check found 1 problem(s)" in message
    assert named in message
    assert "Grant the permissions" in message
    _nothing_was_touched(harness)
    (status, error) = harness.query("select status, error from lineage.runs")[0]
    assert status == "failed"
    assert error.startswith("preflight: PreflightError")


def test_either_the_jira_or_the_tempo_permission_grants_a_right(harness):
    with harness.sandbox.admin() as admin:
        _without(admin, "source", jira={"io.tempo.jira__view-all-worklogs"})
        _without(admin, "destination", tempo={"permissions.worklog.manage"})
    assert harness.run(DAY).success


def test_every_problem_on_both_sites_is_named_at_once(harness):
    with harness.sandbox.admin() as admin:
        _without(admin, "source", jira={"BROWSE_PROJECTS"})
        _without(admin, "destination", jira={"USER_PICKER", "WORK_ON_ISSUES"})
    result = harness.run(DAY, raise_on_error=False)
    message = _failure(result)
    assert "found 3 problem(s)" in message
    for key in ("the source token's user lacks Jira 'Browse projects'", "(USER_PICKER)", "(WORK_ON_ISSUES)"):
        assert key in message


@pytest.mark.parametrize(
    ("variable", "named", "profile"),
    [
        ("DEST_TEMPO_TOKEN", "the destination Tempo token does not work", Profile()),
        # Where neither service can tell a right, a refused token is still a broken token.
        ("DEST_JIRA_TOKEN", "the destination Jira token does not work", UNKNOWABLE),
        ("SOURCE_TEMPO_TOKEN", "the source Tempo token does not work", UNKNOWABLE),
    ],
)
def test_a_token_that_does_not_work_is_named_with_the_service(
    make_harness, monkeypatch, variable, named, profile
):
    harness = make_harness(profile=profile)
    monkeypatch.setenv(variable, "not-a-valid-token")
    result = harness.run(DAY, raise_on_error=False)
    message = _failure(result)
    assert named in message
    assert "401" in message
    assert "not-a-valid-token" not in message
    _nothing_was_touched(harness)


def test_a_destination_without_tempo_syncs_with_only_the_jira_permissions(make_harness):
    """Its Jira does not know Tempo's permission keys (asking for them is a 400), and worklogs are
    written as the token's own account: only Browse projects, Browse users and Work on issues count."""
    harness = make_harness(destination_tempo=False)
    with harness.sandbox.admin() as admin:
        _without(admin, "destination", jira=APP_KEYS, tempo=set(ALL_TEMPO))
    result = harness.run(DAY)
    assert result.success
    with harness.sandbox.admin() as admin:
        assert len(admin.changed_worklogs("destination")) > 20
        assert admin.count("destination", "jira", "GET /rest/api/3/mypermissions", status=400) == 0
    assert _preflight_counts(harness, result)["unchecked"] == []
    with harness.sandbox.admin() as admin:
        _without(admin, "destination", jira={"WORK_ON_ISSUES"})
    refused = harness.run(date(2025, 3, 6), raise_on_error=False)
    assert "lacks Jira 'Work on issues' (WORK_ON_ISSUES), needed to create worklogs" in _failure(refused)


@pytest.mark.parametrize("reading", ["refused", "not_found"])
def test_unreadable_permission_roles_leave_the_decision_to_jira(make_harness, reading):
    status = {"refused": 403, "not_found": 404}[reading]
    harness = make_harness(profile=Profile(permission_roles=reading))
    first = harness.run(DAY)
    assert first.success
    assert _preflight_counts(harness, first)["unchecked"] == []  # Jira's app permissions decide
    with harness.sandbox.admin() as admin:
        _without(admin, "destination", jira={"io.tempo.jira__log-work-for-others"})
    second = harness.run(date(2025, 3, 6))
    assert second.success  # Tempo may still grant it: not a reason to stop
    (sentence,) = _preflight_counts(harness, second)["unchecked"]
    assert sentence == (
        "could not check that the destination token's user holds Jira 'Log work for others'"
        " (io.tempo.jira__log-work-for-others) or Tempo 'Manage team worklogs' (permissions.worklog.manage),"
        f" needed to log work for the authors: Tempo's permission roles answered {status}; if it is missing,"
        " the destination refuses the creates and they are recorded as rejected"
    )
    assert _warnings(harness, second) == [f"preflight: {sentence}"]
    with harness.sandbox.admin() as admin:
        assert len(admin.changed_worklogs("destination")) > 40  # the sandbox's Tempo role grants it


def test_tempo_roles_decide_where_jira_does_not_know_tempos_keys(make_harness):
    harness = make_harness(profile=Profile(jira_app_permissions="unknown"))
    with harness.sandbox.admin() as admin:  # only Tempo's roles grant the rights now
        _without(admin, "source", jira=APP_KEYS)
        _without(admin, "destination", jira=APP_KEYS)
    result = harness.run(DAY)
    assert result.success
    counts = _preflight_counts(harness, result)
    assert counts["unchecked"] == []
    mypermissions = {f"{site} GET /rest/api/3/mypermissions" for site in ("source", "destination")}
    assert {key: n for key, n in counts["api_calls"].items() if key in mypermissions} == dict.fromkeys(
        mypermissions, 2
    )  # asked again without Tempo's keys after the 400, on each site
    assert sum(counts["api_calls"].values()) == 8
    with harness.sandbox.admin() as admin:
        _without(admin, "source", jira=APP_KEYS, tempo={"permissions.worklog.view"})
    hidden = harness.run(date(2025, 3, 6))
    assert hidden.success  # Tempo's "no" alone cannot tell: Jira's own grant is unknown
    (sentence,) = _preflight_counts(harness, hidden)["unchecked"]
    assert sentence.startswith("could not check that the source token's user holds Jira 'View all worklogs'")
    assert (
        "Jira does not know io.tempo.jira__view-all-worklogs on this site (400); if it is missing,"
        in sentence
    )


def test_when_neither_service_can_tell_the_run_goes_on_and_names_each_right(make_harness):
    harness = make_harness(profile=UNKNOWABLE)
    result = harness.run(DAY)
    assert result.success
    unchecked = _preflight_counts(harness, result)["unchecked"]
    assert [sentence.split(":")[0] for sentence in unchecked] == [
        "could not check that the source token's user holds Jira 'View all worklogs'"
        " (io.tempo.jira__view-all-worklogs) or Tempo 'View team worklogs' (permissions.worklog.view),"
        " needed to read every user's worklogs",
        "could not check that the destination token's user holds Jira 'Log work for others'"
        " (io.tempo.jira__log-work-for-others) or Tempo 'Manage team worklogs' (permissions.worklog.manage),"
        " needed to log work for the authors",
        "could not check that the destination token's user holds Jira 'View all worklogs'"
        " (io.tempo.jira__view-all-worklogs) or Tempo 'View team worklogs' (permissions.worklog.view),"
        " needed to read back worklogs to reconcile",
    ]
    both = "Jira does not know {} on this site (400) and Tempo's permission roles answered 403"
    assert both.format("io.tempo.jira__view-all-worklogs") in unchecked[0]
    assert both.format("io.tempo.jira__log-work-for-others") in unchecked[1]
    assert "Tempo silently returns only the token user's own worklogs" in unchecked[0]
    assert len(_warnings(harness, result)) == 3


def test_a_right_that_can_be_checked_still_stops_the_run(make_harness):
    harness = make_harness(profile=UNKNOWABLE)
    with harness.sandbox.admin() as admin:
        _without(admin, "destination", jira={"WORK_ON_ISSUES"})
    result = harness.run(DAY, raise_on_error=False)
    message = _failure(result)
    assert "preflight check found 1 problem(s)" in message
    assert "lacks Jira 'Work on issues' (WORK_ON_ISSUES), needed to create worklogs on issues" in message
    assert "could not check" not in message
    _nothing_was_touched(harness)
