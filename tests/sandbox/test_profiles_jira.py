"""Jira's profile switches over real HTTP, and the app permissions only a site with Tempo knows."""

from __future__ import annotations

import pytest

from sandbox.config import Profile
from tests.sandbox.test_jira_api import ADF, post_worklog, remaining

CORE_KEYS = "BROWSE_PROJECTS,USER_PICKER,WORK_ON_ISSUES"
APP_KEYS = (
    "io.tempo.jira__view-all-worklogs",
    "io.tempo.jira__log-work-for-others",
    "io.tempo.jira__set-billable-hours",
    "io.tempo.jira__view-issue-hours",
)


@pytest.mark.parametrize(
    ("reading", "site", "destination_tempo", "known"),
    [
        ("where_installed", "source", True, True),
        ("where_installed", "destination", True, True),
        ("where_installed", "destination", False, False),  # documented: Jira without the app
        ("unknown", "source", True, False),
        ("unknown", "destination", False, False),
    ],
)
def test_jira_knows_tempos_permission_keys_only_where_tempo_is(
    start_sandbox, connect, reading, site, destination_tempo, known
):
    server = start_sandbox(profile=Profile(jira_app_permissions=reading), destination_tempo=destination_tempo)
    jira = connect(server, site).jira
    asked = jira.get("/rest/api/3/mypermissions", params={"permissions": f"{CORE_KEYS},{','.join(APP_KEYS)}"})
    if known:
        assert asked.status_code == 200
        assert set(asked.json()["permissions"]) == {*CORE_KEYS.split(","), *APP_KEYS}
    else:
        assert asked.status_code == 400
        (message,) = asked.json()["errorMessages"]
        assert all(key in message for key in APP_KEYS)
        assert "WORK_ON_ISSUES" not in message
    core = jira.get("/rest/api/3/mypermissions", params={"permissions": CORE_KEYS})
    assert core.status_code == 200


@pytest.mark.parametrize("reading", ["error", "omitted"])
def test_jql_naming_issues_and_projects_that_do_not_exist(start_sandbox, connect, reading):
    jira = connect(start_sandbox(profile=Profile(jql_missing_keys=reading)), "destination").jira
    clauses = {"key in (ACME-1, CLI-1, ACME-9999)": ("CLI-1", "ACME-9999"), "project = NOPE": ("NOPE",),
               "id = 99999": ("99999",)}  # fmt: skip
    for jql, missing in clauses.items():
        response = jira.get("/rest/api/3/search/jql", params={"jql": jql, "fields": "key"})
        if reading == "error":
            assert response.status_code == 400
            messages = " ".join(response.json()["errorMessages"])
            assert all(f"'{value}'" in messages for value in missing)
        else:
            assert response.status_code == 200
            found = [issue["key"] for issue in response.json()["issues"]]
            assert found == (["ACME-1"] if "ACME-1" in jql else [])
    # A malformed value is a mistake in the query under either reading, not a missing issue.
    malformed = jira.get("/rest/api/3/search/jql", params={"jql": "key = not-a-key"})
    assert malformed.status_code == 400


@pytest.mark.parametrize(
    ("reading", "started"),
    [("as_sent", "2025-03-18T09:00:00.000+0900"), ("utc", "2025-03-18T00:00:00.000+0000")],
)
def test_jira_started_is_the_same_instant_at_either_offset(start_sandbox, connect, reading, started):
    server = start_sandbox(profile=Profile(jira_started=reading))
    jira = connect(server, "destination").jira
    body = {"started": "2025-03-18T09:00:00.000+0900", "timeSpentSeconds": 900, "comment": ADF}
    created = post_worklog(jira, "ACME-1", body).json()
    fetched = jira.get(f"/rest/api/3/issue/ACME-1/worklog/{created['id']}").json()
    listed = jira.get("/rest/api/3/issue/ACME-1/worklog").json()["worklogs"]
    assert created["started"] == fetched["started"] == started
    assert next(w for w in listed if w["id"] == created["id"])["started"] == started
    offsets = {w["started"][-5:] for w in listed}  # ACME-1 also has the destination's own worklogs
    if reading == "utc":
        assert offsets == {"+0000"}
    else:
        assert "+0900" in offsets


@pytest.mark.parametrize(("reading", "kept"), [("stored", True), ("dropped", False)])
def test_properties_sent_with_a_new_worklog(start_sandbox, connect, reading, kept):
    jira = connect(start_sandbox(profile=Profile(worklog_properties=reading)), "destination").jira
    link = [{"key": "tempo-sync", "value": {"source": 1}}]
    body = {"started": "2025-03-18T09:00:00.000+0000", "timeSpentSeconds": 900, "properties": link}
    created = post_worklog(jira, "ACME-1", body, expand="properties").json()
    assert created["properties"] == (link if kept else [])
    base = f"/rest/api/3/issue/ACME-1/worklog/{created['id']}/properties"
    assert [k["key"] for k in jira.get(base).json()["keys"]] == (["tempo-sync"] if kept else [])
    # The property endpoints work under either reading.
    assert jira.put(f"{base}/tempo-sync", json={"source": 2}).status_code == (200 if kept else 201)
    assert jira.get(f"{base}/tempo-sync").json()["value"] == {"source": 2}
    change = {"properties": [{"key": "more", "value": 1}]}
    path = f"/rest/api/3/issue/ACME-1/worklog/{created['id']}"
    updated = jira.put(path, json=change, params={"expand": "properties"})
    assert [p["key"] for p in updated.json()["properties"]] == ["tempo-sync", "more"][: 2 if kept else 1]


@pytest.mark.parametrize(("reading", "hours_left"), [("increased", 11), ("reduced", 9)])
def test_what_auto_does_to_the_estimate_on_a_delete(start_sandbox, connect, reading, hours_left):
    jira = connect(start_sandbox(profile=Profile(delete_auto_estimate=reading)), "destination").jira
    body = {"started": "2025-03-18T09:00:00.000+0000", "timeSpentSeconds": 3600}
    created = post_worklog(jira, "ACME-1", body, adjustEstimate="new", newEstimate="10h").json()
    assert jira.delete(f"/rest/api/3/issue/ACME-1/worklog/{created['id']}").status_code == 204
    assert remaining(jira, "ACME-1") == hours_left * 3600
    other = post_worklog(jira, "ACME-1", body, adjustEstimate="leave").json()
    manual = {"adjustEstimate": "manual", "increaseBy": "1h"}
    jira.delete(f"/rest/api/3/issue/ACME-1/worklog/{other['id']}", params=manual).raise_for_status()
    assert remaining(jira, "ACME-1") == (hours_left + 1) * 3600  # manual increases under either reading
