"""Jira Cloud v3 over real HTTP: users, permissions, issues, JQL search and worklogs."""

from __future__ import annotations

import base64
from datetime import UTC, date, datetime

import httpx
import pytest

DAY = date(2025, 3, 5)
STARTED = "2025-03-18T09:00:00.000+0000"
ADF = {
    "type": "doc",
    "version": 1,
    "content": [{"type": "paragraph", "content": [{"type": "text", "text": "hi"}]}],
}


def person(admin, kind: str) -> dict:
    return next(p for p in admin.people() if p["kind"] == kind)


# ----- who am I, what may I do


def test_myself_is_the_integration_user(source, sandbox):
    me = source.jira.get("/rest/api/3/myself").json()
    assert me["emailAddress"] == "tempo-sync@source.example.com"
    assert me["accountType"] == "atlassian"
    assert me["self"].startswith(sandbox.urls.source.jira)


def test_jira_auth_failures(sandbox):
    base = f"{sandbox.urls.source.jira}/rest/api/3/myself"
    wrong = base64.b64encode(b"tempo-sync@source.example.com:wrong").decode()
    for headers in ({}, {"Authorization": f"Basic {wrong}"}, {"Authorization": "Basic !!!"}):
        response = httpx.get(base, headers=headers)
        assert response.status_code == 401
        assert response.json()["errorMessages"]


def test_my_permissions(source, admin):
    keys = "WORK_ON_ISSUES,io.tempo.jira__log-work-for-others,io.tempo.jira__view-all-worklogs,ADMINISTER"
    granted = source.jira.get("/rest/api/3/mypermissions", params={"permissions": keys}).json()["permissions"]
    assert {k: v["havePermission"] for k, v in granted.items()} == {
        "WORK_ON_ISSUES": True,
        "io.tempo.jira__log-work-for-others": True,
        "io.tempo.jira__view-all-worklogs": True,
        "ADMINISTER": False,
    }
    admin.set_permissions("source", jira=["BROWSE_PROJECTS"], tempo=[])
    again = source.jira.get("/rest/api/3/mypermissions", params={"permissions": "WORK_ON_ISSUES"}).json()
    assert again["permissions"]["WORK_ON_ISSUES"]["havePermission"] is False
    scoped = source.jira.get(
        "/rest/api/3/mypermissions", params={"permissions": "WORK_ON_ISSUES", "projectKey": "ACME"}
    )
    assert scoped.status_code == 200


@pytest.mark.parametrize(
    ("params", "status", "message"),
    [
        ({}, 400, "'permissions' query parameter is required"),
        ({"permissions": "WORK_ON_ISSUES,MAKE_COFFEE"}, 400, "Invalid permission keys: MAKE_COFFEE"),
        ({"permissions": "WORK_ON_ISSUES", "projectKey": "NOPE"}, 404, "No project could be found"),
        ({"permissions": "WORK_ON_ISSUES", "issueKey": "ACME-999"}, 404, "Issue does not exist"),
    ],
)
def test_my_permissions_errors(source, params, status, message):
    response = source.jira.get("/rest/api/3/mypermissions", params=params)
    assert response.status_code == status
    assert message in response.json()["errorMessages"][0]


# ----- users


def test_user_privacy_and_deleted_users(source, admin):
    hidden = person(admin, "email_hidden_on_source")["source"]
    shown = source.jira.get("/rest/api/3/user", params={"accountId": hidden["account_id"]}).json()
    assert "emailAddress" not in shown
    assert shown["displayName"] == hidden["display_name"]
    deleted = person(admin, "deleted_on_source")["source"]
    gone = source.jira.get("/rest/api/3/user", params={"accountId": deleted["account_id"]})
    assert gone.status_code == 404
    assert source.jira.get("/rest/api/3/user").status_code == 400
    app = person(admin, "app_account")["source"]
    assert (
        source.jira.get("/rest/api/3/user", params={"accountId": app["account_id"]}).json()["accountType"]
        == "app"
    )


def test_bulk_users_keeps_order_omits_unknown_and_pages(source, admin):
    people = admin.people()
    ids = [people[20]["source"]["account_id"], "unknown-id", people[13]["source"]["account_id"]]
    deleted = person(admin, "deleted_on_source")["source"]["account_id"]
    page = source.jira.get("/rest/api/3/user/bulk", params={"accountId": [*ids, deleted]}).json()
    assert [u["accountId"] for u in page["values"]] == [ids[0], ids[2]]
    assert (page["total"], page["isLast"], page["startAt"], page["maxResults"]) == (2, True, 0, 10)
    many = [p["source"]["account_id"] for p in people[12:]]
    first = source.jira.get("/rest/api/3/user/bulk", params={"accountId": many, "maxResults": 5}).json()
    assert len(first["values"]) == 5
    assert first["isLast"] is False
    second = source.jira.get(first["nextPage"]).json()
    assert second["startAt"] == 5
    assert source.jira.get("/rest/api/3/user/bulk").status_code == 400


def test_user_search_is_a_prefix_match_over_active_users(destination, admin):
    prefix = person(admin, "email_prefix")["destination"]
    found = destination.jira.get("/rest/api/3/user/search", params={"query": prefix["email"]}).json()
    assert isinstance(found, list)
    emails = sorted(u["emailAddress"] for u in found)
    assert emails == [prefix["email"], prefix["email"] + ".au"]  # the exact one, and a longer one

    by_name = destination.jira.get(
        "/rest/api/3/user/search", params={"query": prefix["display_name"][:3]}
    ).json()
    assert prefix["account_id"] in {u["accountId"] for u in by_name}
    last_name = prefix["display_name"].split()[-1].lower()
    by_last = destination.jira.get("/rest/api/3/user/search", params={"query": last_name}).json()
    assert prefix["account_id"] in {u["accountId"] for u in by_last}

    inactive = person(admin, "inactive_on_destination")["destination"]
    assert destination.jira.get("/rest/api/3/user/search", params={"query": inactive["email"]}).json() == []
    hidden = person(admin, "email_hidden_on_destination")["destination"]
    assert destination.jira.get("/rest/api/3/user/search", params={"query": hidden["email"]}).json() == []

    exact = destination.jira.get("/rest/api/3/user/search", params={"accountId": prefix["account_id"]}).json()
    assert [u["accountId"] for u in exact] == [prefix["account_id"]]


def test_user_search_finds_customers_and_case_twins(destination, admin):
    customer = person(admin, "customer_on_destination")["source"]
    found = destination.jira.get("/rest/api/3/user/search", params={"query": customer["email"]}).json()
    assert [u["accountType"] for u in found] == ["customer"]
    ambiguous = person(admin, "ambiguous_on_destination")["source"]
    twins = destination.jira.get(
        "/rest/api/3/user/search", params={"query": ambiguous["email"].upper()}
    ).json()
    assert len(twins) == 2
    assert len({u["emailAddress"].lower() for u in twins}) == 1


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "One of 'accountId', 'query' or 'property' must be provided."),
        ({"query": "a", "accountId": "b"}, "cannot be provided together"),
        ({"property": "x.y"}, "does not support"),
        ({"query": "a", "maxResults": "-1"}, "'maxResults' must be a whole number"),
    ],
)
def test_user_search_errors(destination, params, message):
    response = destination.jira.get("/rest/api/3/user/search", params=params)
    assert response.status_code == 400
    assert message in response.json()["errorMessages"][0]


def test_without_browse_users_search_is_empty_and_lookup_refused(destination, admin):
    admin.set_permissions("destination", jira=["BROWSE_PROJECTS", "WORK_ON_ISSUES"], tempo=[])
    assert destination.jira.get("/rest/api/3/user/search", params={"query": "a"}).json() == []
    someone = person(admin, "normal")["destination"]["account_id"]
    assert destination.jira.get("/rest/api/3/user", params={"accountId": someone}).status_code == 403


# ----- issues and JQL


def test_issue_by_id_or_key_in_any_case(destination):
    by_key = destination.jira.get("/rest/api/3/issue/acme-1").json()
    assert by_key["key"] == "ACME-1"
    assert isinstance(by_key["id"], str)
    by_id = destination.jira.get(f"/rest/api/3/issue/{by_key['id']}").json()
    assert by_id == by_key
    assert by_key["fields"]["project"]["key"] == "ACME"
    assert by_key["fields"]["customfield_10100"] == "ACME-1"
    assert set(by_key["fields"]["timetracking"]) <= {
        "originalEstimate", "originalEstimateSeconds", "remainingEstimate",
        "remainingEstimateSeconds", "timeSpent", "timeSpentSeconds",
    }  # fmt: skip
    narrow = destination.jira.get("/rest/api/3/issue/ACME-1", params={"fields": "project,-summary"}).json()
    assert set(narrow["fields"]) == {"project"}
    missing = destination.jira.get("/rest/api/3/issue/NOPE-1")
    assert missing.status_code == 404
    assert missing.json()["errorMessages"] == [
        "Issue does not exist or you do not have permission to see it."
    ]


def test_jql_search_get_and_post_with_page_tokens(destination):
    first = destination.jira.get(
        "/rest/api/3/search/jql", params={"jql": "project = ACME ORDER BY key", "maxResults": 5}
    ).json()
    assert first["issues"][0] == {"id": first["issues"][0]["id"]}  # only the id unless asked
    assert first["isLast"] is False
    keys = []
    token = None
    while True:
        body = {"jql": "project = ACME ORDER BY key", "maxResults": 5, "fields": ["key", "project"]}
        if token:
            body["nextPageToken"] = token
        page = destination.jira.post("/rest/api/3/search/jql", json=body).json()
        keys += [issue["key"] for issue in page["issues"]]
        assert all(issue["fields"]["project"]["key"] == "ACME" for issue in page["issues"])
        token = page.get("nextPageToken")
        if page["isLast"]:
            assert token is None
            break
    assert keys[:3] == ["ACME-1", "ACME-2", "ACME-3"]
    assert len(keys) == len(set(keys))


def test_jql_errors_name_the_problem(destination):
    bad_key = destination.jira.get("/rest/api/3/search/jql", params={"jql": "key in (ACME-1, NOPE-9)"})
    assert bad_key.status_code == 400
    assert bad_key.json()["errorMessages"] == ["An issue with key 'NOPE-9' does not exist for field 'key'."]
    unbounded = destination.jira.post("/rest/api/3/search/jql", json={"jql": "order by key"})
    assert "Unbounded JQL" in unbounded.json()["errorMessages"][0]
    token = destination.jira.get(
        "/rest/api/3/search/jql", params={"jql": "project = ACME", "maxResults": 1}
    ).json()
    other_query = destination.jira.get(
        "/rest/api/3/search/jql", params={"jql": "project = OPS", "nextPageToken": token["nextPageToken"]}
    )
    assert other_query.status_code == 400
    garbage = destination.jira.get(
        "/rest/api/3/search/jql", params={"jql": "project = OPS", "nextPageToken": "x"}
    )
    assert garbage.status_code == 400
    assert destination.jira.post("/rest/api/3/search/jql", json={"jql": 5}).status_code == 400


# ----- worklogs


def post_worklog(jira: httpx.Client, key: str, body: dict, **params: object) -> httpx.Response:
    return jira.post(f"/rest/api/3/issue/{key}/worklog", params=params, json=body)


def remaining(jira: httpx.Client, key: str) -> int | None:
    fields = jira.get(f"/rest/api/3/issue/{key}", params={"fields": "timetracking"}).json()["fields"]
    return fields["timetracking"].get("remainingEstimateSeconds")


def test_started_format_is_strict(destination):
    body = {"timeSpentSeconds": 600, "comment": ADF}
    for started in (
        "2025-03-18T09:00:00.000Z",
        "2025-03-18T09:00:00+0100",
        "2025-03-18 09:00",
        "2025-03-32T09:00:00.000+0000",
    ):
        response = post_worklog(destination.jira, "ACME-1", {**body, "started": started})
        assert response.status_code == 400, started
        assert "Invalid date format" in response.json()["errors"]["started"]
    ok = post_worklog(destination.jira, "ACME-1", {**body, "started": "2025-03-18T23:50:00.000+1300"})
    assert ok.status_code == 201
    worklog = ok.json()
    assert worklog["started"] == "2025-03-18T23:50:00.000+1300"
    assert isinstance(worklog["id"], str)
    assert isinstance(worklog["issueId"], str)


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"timeSpentSeconds": 60}, "started", "Date started is required."),
        ({"started": STARTED}, "timeLogged", "You must indicate the time spent"),
        ({"started": STARTED, "timeSpentSeconds": 0}, "timeLogged", "greater than 0"),
        ({"started": STARTED, "timeSpentSeconds": 60, "timeSpent": "1m"}, "timeLogged", "not both"),
        ({"started": STARTED, "timeSpentSeconds": 60, "comment": "text"}, "comment", "Atlassian Document"),
        ({"started": STARTED, "timeSpentSeconds": 60, "properties": {"a": 1}}, "properties", "list of"),
    ],
)  # fmt: skip
def test_add_worklog_refuses_bad_bodies(destination, body, field, message):
    response = post_worklog(destination.jira, "ACME-1", body)
    assert response.status_code == 400
    assert message in response.json()["errors"][field]


def test_adjust_estimate(destination):
    body = {"started": "2025-03-18T09:00:00.000+0100", "timeSpent": "1h", "comment": ADF}
    assert (
        post_worklog(destination.jira, "ACME-1", body, adjustEstimate="new", newEstimate="2d 4h").status_code
        == 201
    )
    assert remaining(destination.jira, "ACME-1") == 20 * 3600
    post_worklog(destination.jira, "ACME-1", body, adjustEstimate="manual", reduceBy="30m").raise_for_status()
    assert remaining(destination.jira, "ACME-1") == 20 * 3600 - 1800
    post_worklog(destination.jira, "ACME-1", body, adjustEstimate="leave").raise_for_status()
    assert remaining(destination.jira, "ACME-1") == 20 * 3600 - 1800
    post_worklog(destination.jira, "ACME-1", body).raise_for_status()  # auto
    assert remaining(destination.jira, "ACME-1") == 20 * 3600 - 1800 - 3600
    missing = post_worklog(destination.jira, "ACME-1", body, adjustEstimate="new")
    assert missing.status_code == 400
    assert "newEstimate" in missing.json()["errors"]
    assert post_worklog(destination.jira, "ACME-1", body, adjustEstimate="sometimes").status_code == 400
    assert post_worklog(destination.jira, "ACME-1", body, notifyUsers="maybe").status_code == 400


def test_worklog_properties(destination):
    link = {"source": "source.example.com", "tempoWorklogId": 20154000007}
    body = {
        "started": "2025-03-18T09:00:00.000+0000",
        "timeSpentSeconds": 900,
        "comment": ADF,
        "properties": [{"key": "tempo-sync", "value": link}],
    }
    created = post_worklog(destination.jira, "ACME-1", body, expand="properties", notifyUsers="false").json()
    assert created["properties"] == [{"key": "tempo-sync", "value": link}]
    base = f"/rest/api/3/issue/ACME-1/worklog/{created['id']}"
    assert destination.jira.get(base).json().get("properties") is None
    assert (
        destination.jira.get(base, params={"expand": "properties"}).json()["properties"]
        == created["properties"]
    )
    keys = destination.jira.get(f"{base}/properties").json()["keys"]
    assert [k["key"] for k in keys] == ["tempo-sync"]
    assert destination.jira.get(f"{base}/properties/tempo-sync").json() == {
        "key": "tempo-sync",
        "value": link,
    }
    assert destination.jira.put(f"{base}/properties/run", json={"id": "r1"}).status_code == 201
    assert destination.jira.put(f"{base}/properties/run", json={"id": "r2"}).status_code == 200
    assert destination.jira.get(f"{base}/properties/run").json()["value"] == {"id": "r2"}
    assert destination.jira.get(f"{base}/properties/nope").status_code == 404
    assert destination.jira.get("/rest/api/3/issue/ACME-2/worklog/" + created["id"]).status_code == 404


def test_tempo_made_worklogs_appear_in_jira_under_the_tempo_app(source, admin):
    worklog = next(w for w in admin.scenarios("source", DAY, DAY) if w["scenario"] == "normal")
    listing = source.jira.get(f"/rest/api/3/issue/{worklog['issue_id']}/worklog").json()
    mine = next(w for w in listing["worklogs"] if w["id"] == str(worklog["jira_id"]))
    assert mine["author"]["displayName"] == "Tempo Timesheets"
    assert mine["timeSpentSeconds"] == worklog["time_spent"]
    assert mine["started"].startswith(f"{worklog['start_date']}T{worklog['start_time']}.000")
    assert listing["total"] == len(listing["worklogs"])
    started = datetime.fromisoformat(worklog["start_utc"].replace("Z", "+00:00"))
    millis = int(started.astimezone(UTC).timestamp() * 1000)
    window = source.jira.get(
        f"/rest/api/3/issue/{worklog['issue_id']}/worklog",
        params={"startedAfter": millis, "startedBefore": millis},
    ).json()
    assert str(worklog["jira_id"]) in {w["id"] for w in window["worklogs"]}
    assert all(w["id"] in {x["id"] for x in listing["worklogs"]} for w in window["worklogs"])


def test_jira_worklogs_made_on_a_tempo_site_get_a_tempo_id(source):
    body = {"started": "2025-03-18T09:00:00.000+0000", "timeSpentSeconds": 1200, "comment": ADF}
    created = post_worklog(source.jira, "OPS-1", body).json()
    assert created["author"]["emailAddress"] == "tempo-sync@source.example.com"  # always the caller
    mapped = source.tempo.post(
        "/4/worklogs/jira-to-tempo", json={"jiraWorklogIds": [int(created["id"])]}
    ).json()
    tempo_id = mapped["results"][0]["tempoWorklogId"]
    tempo = source.tempo.get(f"/4/worklogs/{tempo_id}").json()
    assert (tempo["timeSpentSeconds"], tempo["description"]) == (1200, "hi")


def test_jira_worklogs_on_a_site_without_tempo(start_sandbox, connect):
    server = start_sandbox(destination_tempo=False)
    destination = connect(server, "destination")
    body = {"started": "2025-03-18T09:00:00.000+0000", "timeSpentSeconds": 1200, "comment": ADF}
    created = post_worklog(destination.jira, "ACME-1", body, notifyUsers="false")
    assert created.status_code == 201
    with server.admin() as admin:
        (stored,) = admin.changed_worklogs("destination")
    assert stored["tempo_id"] is None
    assert stored["jira_id"] == int(created.json()["id"])
    native = destination.jira.get("/rest/api/3/issue/INT-1/worklog").json()["worklogs"]
    assert all(w["author"]["displayName"] != "Tempo Timesheets" for w in native)
