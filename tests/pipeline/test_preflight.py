"""Preflight: a token that does not work, or a user without a permission the sync needs, stops the
run before the first read, with a message naming each missing permission and the fix."""

from __future__ import annotations

import json
from datetime import date

import dagster as dg
import pytest

from sandbox.admin_client import SandboxAdmin
from sandbox.permissions import JIRA_PERMISSIONS

DAY = date(2025, 3, 5)
ALL_JIRA = sorted(set(JIRA_PERMISSIONS) - {"ADMINISTER"})
ALL_TEMPO = ["permissions.worklog.manage", "permissions.worklog.view"]


def _failure(result: dg.ExecuteInProcessResult) -> str:
    """The product's own message of the failed step, under Dagster's wrapping."""
    (event,) = [event for event in result.all_events if event.is_step_failure]
    error = event.step_failure_data.error
    while error.cause is not None:
        error = error.cause
    return error.message


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


def test_a_token_that_does_not_work_is_named_with_the_service(make_harness, monkeypatch):
    harness = make_harness()
    monkeypatch.setenv("DEST_TEMPO_TOKEN", "not-a-valid-token")
    result = harness.run(DAY, raise_on_error=False)
    message = _failure(result)
    assert "the destination Tempo token does not work" in message
    assert "401" in message
    assert "not-a-valid-token" not in message
    _nothing_was_touched(harness)


def test_a_destination_without_tempo_needs_only_the_jira_permissions(make_harness):
    harness = make_harness(destination_tempo=False)
    with harness.sandbox.admin() as admin:
        # Tempo's own permissions do not exist there; Jira's "log work for others" is what counts.
        _without(admin, "destination", tempo=set(ALL_TEMPO))
    assert harness.run(DAY).success
    with harness.sandbox.admin() as admin:
        _without(admin, "destination", jira={"io.tempo.jira__log-work-for-others"}, tempo=set(ALL_TEMPO))
    result = harness.run(date(2025, 3, 6), raise_on_error=False)
    assert "needed to log work for the authors" in _failure(result)
