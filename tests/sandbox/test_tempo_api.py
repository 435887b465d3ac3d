"""Tempo v4 over real HTTP: paging, filters, writes, bulk, id mapping, auth and permissions."""

from __future__ import annotations

import threading
from datetime import date

import httpx
import pytest

from sandbox.config import CREDENTIALS, DataKnobs
from tests.support.sandbox import follow_pages

DAY = date(2025, 3, 5)  # complete at the test clock, late worklogs included
PER_DAY = 40


def day_params(**extra: object) -> dict[str, object]:
    return {"from": DAY.isoformat(), "to": DAY.isoformat(), **extra}


def a_destination_author(admin) -> str:
    return next(p for p in admin.people() if p["kind"] == "normal")["destination"]["account_id"]


def issue_id(jira: httpx.Client, key: str) -> int:
    return int(jira.get(f"/rest/api/3/issue/{key}", params={"fields": "key"}).json()["id"])


def new_worklog(author: str, issue: int, **fields: object) -> dict[str, object]:
    return {
        "authorAccountId": author,
        "issueId": issue,
        "startDate": "2025-03-18",
        "startTime": "09:30:00",
        "timeSpentSeconds": 3600,
        "description": "Synced from the source",
        **fields,
    }


# ----- reading


def test_paging_envelope_with_absolute_links(sandbox, source):
    first = source.tempo.get("/4/worklogs", params=day_params(limit=15)).json()
    assert first["metadata"] == {
        "count": 15,
        "offset": 0,
        "limit": 15,
        "next": first["metadata"]["next"],
    }
    assert first["self"].startswith(sandbox.urls.source.tempo + "/4/worklogs?")
    assert first["metadata"]["next"].startswith(sandbox.urls.source.tempo + "/4/worklogs?")
    second = source.tempo.get(first["metadata"]["next"]).json()
    assert second["metadata"]["offset"] == 15
    assert "offset=0" in second["metadata"]["previous"]
    everything = follow_pages(source.tempo, "/4/worklogs", **day_params(limit=15))
    ids = [w["tempoWorklogId"] for w in everything]
    assert len(ids) == len(set(ids)) == PER_DAY
    last = source.tempo.get("/4/worklogs", params=day_params(offset=30, limit=15)).json()
    assert last["metadata"]["count"] == 10
    assert "next" not in last["metadata"]


def test_default_order_is_start_then_id(source):
    results = source.tempo.get("/4/worklogs", params=day_params(limit=100)).json()["results"]
    keys = [(w["startDate"], w.get("startTime", ""), w["tempoWorklogId"]) for w in results]
    assert keys == sorted(keys)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"limit": 5001}, "'limit' must be between 1 and 5000"),
        ({"limit": 0}, "'limit' must be between 1 and 5000"),
        ({"offset": -1}, "'offset' must be 0 or more"),
        ({"limit": "many"}, "'limit' must be a number"),
        ({"from": "2025-3-5"}, "'from' must be valid on the format: 'yyyy-MM-dd'"),
        ({"to": "2025-02-30"}, "'to' must be valid on the format"),
        ({"from": "2025-03-06", "to": "2025-03-05"}, "'from' must be on or before 'to'"),
        ({"updatedFrom": "2025-03-05T10:00:00.000Z"}, "'updatedFrom' must be valid"),
        ({"projectId": "ACME"}, "'projectId' must be a number"),
        ({"orderBy": "AUTHOR"}, "'orderBy' must be one of ID, START_DATE_TIME, UPDATED"),
    ],
)
def test_bad_parameters_are_400_with_a_message(source, params, message):
    response = source.tempo.get("/4/worklogs", params=params)
    assert response.status_code == 400
    assert message in response.json()["errors"][0]["message"]


@pytest.mark.slow
def test_limit_up_to_5000(start_sandbox, connect):
    server = start_sandbox(data=DataKnobs(worklogs_per_day=6000))
    clients = connect(server, "source")
    page = clients.tempo.get("/4/worklogs", params=day_params(limit=5000)).json()
    assert page["metadata"]["count"] == 5000
    rest = clients.tempo.get(page["metadata"]["next"]).json()
    assert rest["metadata"]["count"] == 1000
    assert "next" not in rest["metadata"]


def test_filters(source):
    everything = source.tempo.get("/4/worklogs", params=day_params(limit=100)).json()["results"]
    issue = everything[0]["issue"]["id"]
    by_issue = source.tempo.get("/4/worklogs", params=day_params(issueId=issue, limit=100)).json()
    assert {w["issue"]["id"] for w in by_issue["results"]} == {issue}
    assert by_issue["metadata"]["count"] == sum(w["issue"]["id"] == issue for w in everything)

    acme = int(source.jira.get("/rest/api/3/issue/ACME-1").json()["fields"]["project"]["id"])
    by_project = source.tempo.get("/4/worklogs", params=day_params(projectId=[acme], limit=100)).json()
    project_issue_ids = {w["issue"]["id"] for w in by_project["results"]}
    search = source.jira.get("/rest/api/3/search/jql", params={"jql": "project = ACME", "maxResults": 500})
    acme_ids = {int(i["id"]) for i in search.json()["issues"]}
    assert project_issue_ids <= acme_ids
    assert len(by_project["results"]) == sum(w["issue"]["id"] in acme_ids for w in everything)

    newest = max(w["updatedAt"] for w in everything)
    recent = source.tempo.get("/4/worklogs", params=day_params(updatedFrom=newest, limit=100)).json()
    assert [w["updatedAt"] for w in recent["results"]] == [newest] * recent["metadata"]["count"]

    by_updated = source.tempo.get("/4/worklogs", params=day_params(orderBy="UPDATED", limit=100)).json()
    stamps = [w["updatedAt"] for w in by_updated["results"]]
    assert stamps == sorted(stamps, reverse=True)  # "the specified field descending"


def test_updated_from_without_dates_finds_late_worklogs(source, admin):
    late = next(w for w in admin.scenarios("source", DAY, DAY) if w["scenario"] == "late_worklog")
    found = follow_pages(source.tempo, "/4/worklogs", updatedFrom=late["updated_at"], limit=1000)
    assert late["tempo_id"] in {w["tempoWorklogId"] for w in found}
    assert all(w["updatedAt"] >= late["updated_at"] for w in found)


def test_search(source, admin):
    scenarios = admin.scenarios("source", DAY, DAY)
    author = next(w["author_account_id"] for w in scenarios if w["scenario"] == "normal")
    body = {
        "from": DAY.isoformat(),
        "to": DAY.isoformat(),
        "authorIds": [author],
        "orderBy": [{"field": "ID", "order": "DESC"}],
    }
    page = source.tempo.post("/4/worklogs/search", params={"limit": 100}, json=body).json()
    ids = [w["tempoWorklogId"] for w in page["results"]]
    assert ids == sorted(ids, reverse=True)
    assert {w["author"]["accountId"] for w in page["results"]} == {author}
    assert len(ids) == sum(w["author_account_id"] == author for w in scenarios)
    bad = source.tempo.post("/4/worklogs/search", json={"issueIds": ["10001"]})
    assert bad.status_code == 400
    assert "'issueIds' must be a list of numbers" in bad.text
    # None of the body's fields is nullable: a null is refused, not read as "absent".
    null = source.tempo.post("/4/worklogs/search", json={"from": None})
    assert null.status_code == 400
    assert "'from' must not be null" in null.text


def test_get_one_and_missing(source):
    worklog = source.tempo.get("/4/worklogs", params=day_params(limit=1)).json()["results"][0]
    assert source.tempo.get(f"/4/worklogs/{worklog['tempoWorklogId']}").json() == worklog
    for missing in ("999999999", "abc"):
        response = source.tempo.get(f"/4/worklogs/{missing}")
        assert response.status_code == 404
        assert response.json()["errors"][0]["message"]


# ----- writing


def test_create_then_read_it_back_everywhere(sandbox, destination, admin):
    author = a_destination_author(admin)
    issue = issue_id(destination.jira, "ACME-1")
    body = new_worklog(
        author,
        issue,
        billableSeconds=1800,
        remainingEstimateSeconds=7200,
        attributes=[{"key": "_Activity_", "value": "design"}],
    )
    created = destination.tempo.post("/4/worklogs", json=body)
    assert created.status_code == 200
    worklog = created.json()
    assert worklog["issue"]["id"] == issue
    assert worklog["author"]["accountId"] == author
    assert (worklog["startDate"], worklog["startTime"]) == ("2025-03-18", "09:30:00")
    assert (worklog["timeSpentSeconds"], worklog["billableSeconds"]) == (3600, 1800)
    assert worklog["attributes"]["values"] == [{"key": "_Activity_", "value": "design"}]
    assert worklog["createdAt"] == worklog["updatedAt"] == "2025-03-20T12:00:00Z"

    fetched = destination.tempo.get(f"/4/worklogs/{worklog['tempoWorklogId']}").json()
    assert fetched == worklog
    listed = destination.tempo.get("/4/worklogs", params={"from": "2025-03-18", "to": "2025-03-18"})
    assert worklog["tempoWorklogId"] in {w["tempoWorklogId"] for w in listed.json()["results"]}

    # Tempo sets the issue's remaining estimate, and its worklog shows in Jira under the Tempo app.
    tracking = destination.jira.get("/rest/api/3/issue/ACME-1", params={"fields": "timetracking"}).json()
    assert tracking["fields"]["timetracking"]["remainingEstimateSeconds"] == 7200
    mapped = destination.tempo.post(
        "/4/worklogs/tempo-to-jira", json={"tempoWorklogIds": [worklog["tempoWorklogId"]]}
    ).json()["results"]
    assert len(mapped) == 1
    jira_id = mapped[0]["jiraWorklogId"]
    assert jira_id != worklog["tempoWorklogId"]
    jira_worklog = destination.jira.get(f"/rest/api/3/issue/{issue}/worklog/{jira_id}").json()
    assert jira_worklog["author"]["displayName"] == "Tempo Timesheets"
    assert jira_worklog["author"]["accountType"] == "app"
    assert jira_worklog["timeSpentSeconds"] == 3600
    assert jira_worklog["comment"]["content"][0]["content"][0]["text"] == "Synced from the source"
    back = destination.tempo.post("/4/worklogs/jira-to-tempo", json={"jiraWorklogIds": [jira_id, 1]})
    assert back.json()["results"] == [{"jiraWorklogId": jira_id, "tempoWorklogId": worklog["tempoWorklogId"]}]

    stored = admin.changed_worklogs("destination")
    assert [(w["tempo_id"], w["issue_key"], w["deleted"]) for w in stored] == [
        (worklog["tempoWorklogId"], "ACME-1", False)
    ]


def test_create_without_remaining_estimate_reduces_it(destination, admin):
    before = destination.jira.get("/rest/api/3/issue/ACME-1", params={"fields": "timetracking"}).json()
    remaining = before["fields"]["timetracking"].get("remainingEstimateSeconds")
    body = new_worklog(a_destination_author(admin), issue_id(destination.jira, "ACME-1"))
    destination.tempo.post("/4/worklogs", json=body).raise_for_status()
    after = destination.jira.get("/rest/api/3/issue/ACME-1", params={"fields": "timetracking"}).json()
    tracking = after["fields"]["timetracking"]
    assert tracking.get("remainingEstimateSeconds") == (
        None if remaining is None else max(remaining - 3600, 0)
    )
    assert tracking["timeSpentSeconds"] == before["fields"]["timetracking"].get("timeSpentSeconds", 0) + 3600


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"issueId": "20060"}, "'issueId' must be a number of 1 or more, not '20060'"),
        ({"issueId": None}, "Issue id cannot be null."),
        ({"issueId": 123}, "Issue with id 123 does not exist"),
        ({"timeSpentSeconds": 0}, "'timeSpentSeconds' must be a whole number greater than 0"),
        ({"timeSpentSeconds": 1.5}, "'timeSpentSeconds' must be a whole number greater than 0"),
        ({"startDate": "18.03.2025"}, "'startDate' must be valid on the format: 'yyyy-MM-dd'"),
        ({"startTime": "9:30"}, "'startTime' must be valid on the format: 'HH:mm:ss'"),
        ({"authorAccountId": "nobody"}, "User with accountId 'nobody' does not exist"),
        ({"authorAccountId": ""}, "'authorAccountId' must be a non-empty string"),
        (
            {"attributes": [{"key": "_ExternalRef_", "value": "PO-1"}]},
            "Work attribute with key '_ExternalRef_'",
        ),
        ({"attributes": [{"key": "_Activity_", "value": "golf"}]}, "Value 'golf' is not valid"),
        ({"description": "x" * 32_768}, "'description' must be at most 32767 characters long"),
        ({"billableSeconds": -1}, "'billableSeconds' must be a whole number of 0 or more"),
    ],
)
def test_create_refuses_bad_worklogs(destination, admin, change, message):
    body = {**new_worklog(a_destination_author(admin), 20060), **change}
    body = {key: value for key, value in body.items() if value is not None}
    response = destination.tempo.post("/4/worklogs", json=body)
    assert response.status_code == 400
    assert message in response.json()["errors"][0]["message"]
    assert admin.changed_worklogs("destination") == []


def test_create_refuses_inactive_app_and_customer_authors(destination, admin):
    accounts = admin.accounts("destination")
    inactive = next(a for a in accounts if not a["active"])
    app = next(a for a in accounts if a["account_type"] == "app")
    customer = next(a for a in accounts if a["account_type"] == "customer")
    for account, message in ((inactive, "is inactive"), (app, "app account"), (customer, "customer account")):
        response = destination.tempo.post("/4/worklogs", json=new_worklog(account["account_id"], 20060))
        assert response.status_code == 400
        assert message in response.text


def test_update_replaces_the_whole_worklog_and_delete_removes_it(source):
    original = source.tempo.get("/4/worklogs", params=day_params(limit=100)).json()["results"]
    target = next(w for w in original if "description" in w and "startTime" in w)
    update = {
        "authorAccountId": target["author"]["accountId"],
        "startDate": target["startDate"],
        "timeSpentSeconds": target["timeSpentSeconds"] + 60,
    }
    changed = source.tempo.put(f"/4/worklogs/{target['tempoWorklogId']}", json=update).json()
    assert changed["timeSpentSeconds"] == target["timeSpentSeconds"] + 60
    assert "description" not in changed  # PUT replaces: what is left out is gone
    assert changed["startTime"] == "00:00:00"  # Tempo's Jira worklog always has a time
    assert changed["createdAt"] == target["createdAt"]
    assert changed["updatedAt"] == "2025-03-20T12:00:00Z"

    assert source.tempo.delete(f"/4/worklogs/{target['tempoWorklogId']}").status_code == 204
    assert source.tempo.get(f"/4/worklogs/{target['tempoWorklogId']}").status_code == 404
    after = follow_pages(source.tempo, "/4/worklogs", **day_params(limit=100))
    assert target["tempoWorklogId"] not in {w["tempoWorklogId"] for w in after}
    assert len(after) == PER_DAY - 1


def test_an_update_keeps_the_issue_and_a_deleted_worklog_is_gone(destination, admin):
    author = a_destination_author(admin)
    created = destination.tempo.post("/4/worklogs", json=new_worklog(author, 20060)).json()
    path = f"/4/worklogs/{created['tempoWorklogId']}"
    # WorklogUpdate has no issueId: one in the body is ignored, as an unknown field.
    update = {"authorAccountId": author, "startDate": "2025-03-18", "timeSpentSeconds": 60, "issueId": 20061}
    assert destination.tempo.put(path, json=update).json()["issue"]["id"] == 20060
    assert destination.tempo.delete(path).status_code == 204
    again = destination.tempo.delete(path)
    assert again.status_code == 404
    assert again.json()["errors"][0]["message"].endswith("does not exist")
    assert destination.tempo.put(path, json=update).status_code == 404
    (stored,) = admin.changed_worklogs("destination")
    assert (stored["deleted"], stored["deleted_at"]) == (True, "2025-03-20T12:00:00Z")


# ----- bulk


def test_bulk_creates_up_to_50_on_one_issue(destination, admin):
    author = a_destination_author(admin)
    items = [
        {"authorAccountId": author, "startDate": "2025-03-18", "timeSpentSeconds": 60 * (n + 1)}
        for n in range(50)
    ]
    response = destination.tempo.post("/4/worklogs/issue/20060/bulk", json=items)
    assert response.status_code == 200
    created = response.json()
    assert [w["timeSpentSeconds"] for w in created] == [60 * (n + 1) for n in range(50)]
    assert {w["issue"]["id"] for w in created} == {20060}
    assert len({w["tempoWorklogId"] for w in created}) == 50


@pytest.mark.parametrize("count", [0, 51])
def test_bulk_takes_1_to_50(destination, admin, count):
    item = {"authorAccountId": a_destination_author(admin), "startDate": "2025-03-18", "timeSpentSeconds": 60}
    response = destination.tempo.post("/4/worklogs/issue/20060/bulk", json=[item] * count)
    assert response.status_code == 400
    assert "1 to 50" in response.json()["errors"][0]["message"]


def test_bulk_is_all_or_nothing(destination, admin):
    good = {"authorAccountId": a_destination_author(admin), "startDate": "2025-03-18", "timeSpentSeconds": 60}
    response = destination.tempo.post(
        "/4/worklogs/issue/20060/bulk", json=[good, {**good, "timeSpentSeconds": 0}]
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["message"].startswith("worklogs[1]:")
    assert admin.changed_worklogs("destination") == []
    assert destination.tempo.post("/4/worklogs/issue/abc/bulk", json=[good]).status_code == 400
    assert destination.tempo.post("/4/worklogs/issue/123/bulk", json=[good]).status_code == 400


@pytest.mark.slow
def test_a_second_bulk_on_the_same_issue_gets_409(start_sandbox, connect):
    server = start_sandbox(bulk_item_seconds=0.04)  # a 50-item bulk holds the issue for 2 s
    clients = connect(server, "destination")
    with server.admin() as admin:
        author = a_destination_author(admin)
    items = [{"authorAccountId": author, "startDate": "2025-03-18", "timeSpentSeconds": 60}] * 50
    first: list[httpx.Response] = []
    worker = threading.Thread(
        target=lambda: first.append(clients.tempo.post("/4/worklogs/issue/20060/bulk", json=items))
    )
    worker.start()
    with server.admin() as admin:
        while not admin.in_flight("destination", "tempo", "POST /4/worklogs/issue/{issueId}/bulk"):
            assert worker.is_alive()
    conflict = clients.tempo.post("/4/worklogs/issue/20060/bulk", json=items[:1])
    worker.join()
    assert conflict.status_code == 409
    assert conflict.json()["errors"][0]["message"] == (
        "There is already a bulk action in progress for the given issue id"
    )
    assert first[0].status_code == 200
    other_issue = clients.tempo.post("/4/worklogs/issue/20059/bulk", json=items[:1])
    assert other_issue.status_code == 200


# ----- auth, scopes and permissions


def test_tempo_auth_failures_are_html(sandbox):
    urls, credentials = sandbox.urls, CREDENTIALS
    cases = [
        (urls.source.tempo, {}),
        (urls.source.tempo, {"Authorization": "Bearer wrong"}),
        (urls.source.tempo, {"Authorization": f"Basic {credentials['source'].tempo_token}"}),
        (urls.destination.tempo, {"Authorization": f"Bearer {credentials['source'].tempo_token}"}),
    ]
    for base, headers in cases:
        response = httpx.get(f"{base}/4/worklogs", headers=headers)
        assert response.status_code == 401
        assert response.headers["content-type"].startswith("text/html")


def test_read_only_token_reads_but_cannot_write(sandbox, admin):
    read_only = {"Authorization": f"Bearer {CREDENTIALS['destination'].tempo_read_only_token}"}
    base = sandbox.urls.destination.tempo
    assert httpx.get(f"{base}/4/worklogs", headers=read_only).status_code == 200
    body = new_worklog(a_destination_author(admin), 20060)
    refused = httpx.post(f"{base}/4/worklogs", headers=read_only, json=body)
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("text/html")
    searched = httpx.post(f"{base}/4/worklogs/search", headers=read_only, json={})
    assert searched.status_code == 200


def test_destination_without_tempo(start_sandbox, connect):
    server = start_sandbox(destination_tempo=False)
    clients = connect(server, "destination")
    assert clients.tempo.get("/4/worklogs").status_code == 401
    assert server.environment()["DEST_TEMPO_TOKEN"] == ""
    assert clients.jira.get("/rest/api/3/myself").status_code == 200


def test_without_view_all_only_own_worklogs_show(source, admin):
    admin.set_permissions("source", jira=["BROWSE_PROJECTS", "WORK_ON_ISSUES"], tempo=[])
    page = source.tempo.get("/4/worklogs", params=day_params(limit=100)).json()
    assert page["results"] == []  # Tempo hides what you may not see; it does not refuse
    roles = source.tempo.get("/4/permission-roles").json()["results"]
    assert roles[0]["permissions"] == []


def test_logging_for_others_needs_a_permission(destination, admin):
    admin.set_permissions(
        "destination", jira=["BROWSE_PROJECTS", "WORK_ON_ISSUES"], tempo=["permissions.worklog.view"]
    )
    response = destination.tempo.post("/4/worklogs", json=new_worklog(a_destination_author(admin), 20060))
    assert response.status_code == 400
    assert "io.tempo.jira__log-work-for-others" in response.text


def test_work_attributes_and_permission_roles(source, destination):
    source_keys = {a["key"] for a in source.tempo.get("/4/work-attributes").json()["results"]}
    destination_attributes = destination.tempo.get("/4/work-attributes").json()["results"]
    assert source_keys == {"_Activity_", "_Overtime_", "_ExternalRef_"}
    assert {a["key"] for a in destination_attributes} == {"_Activity_", "_Overtime_"}
    activity = next(a for a in destination_attributes if a["key"] == "_Activity_")
    assert activity["type"] == "STATIC_LIST"
    assert "design" in activity["values"]
    roles = destination.tempo.get("/4/permission-roles").json()["results"]
    assert {p["key"] for p in roles[0]["permissions"]} == {
        "permissions.worklog.view",
        "permissions.worklog.manage",
    }
    myself = destination.jira.get("/rest/api/3/myself").json()["accountId"]
    assert roles[0]["permittedUsers"][0]["accountId"] == myself
