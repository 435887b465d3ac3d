"""Jira's worklog changes over real HTTP: updating and deleting worklogs, the updated and deleted
worklog feeds, and the worklog list by ids."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from sandbox.server import SandboxServer
from tests.conftest import TEST_CLOCK
from tests.sandbox.test_jira_api import ADF, post_worklog, remaining

DAY = date(2025, 3, 5)
NOW_MS = int(TEST_CLOCK.timestamp() * 1000)
MINUTE_MS = 60_000
BODY = {"started": "2025-03-18T09:00:00.000+0000", "timeSpentSeconds": 3600, "comment": ADF}


def ms(instant: str) -> int:
    return int(datetime.fromisoformat(instant.replace("Z", "+00:00")).timestamp() * 1000)


def spent(jira: httpx.Client, key: str) -> int:
    fields = jira.get(f"/rest/api/3/issue/{key}", params={"fields": "timetracking"}).json()["fields"]
    return fields["timetracking"].get("timeSpentSeconds", 0)


def feed(jira: httpx.Client, which: str, since: int, **params: object) -> list[dict]:
    """Every page of a change feed from `since`, each checked against the documented envelope."""
    pages = []
    url, query = f"/rest/api/3/worklog/{which}", {"since": since, **params}
    while True:
        response = jira.get(url, params=query)
        response.raise_for_status()
        page = response.json()
        pages.append(page)
        assert page["since"] == int(parse_qs(urlsplit(page["self"]).query)["since"][0])
        if page["lastPage"]:
            assert "nextPage" not in page
            return pages
        assert page["nextPage"].startswith("http://")
        assert parse_qs(urlsplit(page["nextPage"]).query)["since"] == [str(page["until"])]
        url, query = page["nextPage"], None


def changes(pages: list[dict]) -> dict[int, int]:
    values = [value for page in pages for value in page["values"]]
    assert len({v["worklogId"] for v in values}) == len(values)
    return {v["worklogId"]: v["updatedTime"] for v in values}


def a_scenario(admin, scenario: str) -> dict:
    return next(w for w in admin.scenarios("source", DAY, DAY) if w["scenario"] == scenario)


# ----- the updated-worklog feed


def test_the_updated_feed_pages_through_every_visible_worklog_oldest_first(source, admin):
    pages = feed(source.jira, "updated", 0)
    assert len(pages) >= 4  # 78 days of 40 worklogs, at most 1000 a page
    assert all(len(page["values"]) <= 1000 for page in pages)
    times = [v["updatedTime"] for page in pages for v in page["values"]]
    assert times == sorted(times)
    assert all(v["properties"] == [] for page in pages for v in page["values"])
    for page in pages:
        if page["values"]:
            assert page["until"] == page["values"][-1]["updatedTime"]
    expected = {}
    for row in admin.scenarios("source", date(2025, 1, 1), TEST_CLOCK.date()):
        # An edited worklog shows its first version, changed at its creation, until the edit.
        changed = row["updated_at"] if ms(row["updated_at"]) <= NOW_MS else row["created_at"]
        if row["visible"] and ms(changed) <= NOW_MS - MINUTE_MS:
            expected[row["jira_id"]] = ms(changed)
    assert changes(pages) == expected
    assert len(expected) > 3000


def test_a_change_shows_in_the_feed_once_a_minute_has_passed(source, admin):
    worklog = a_scenario(admin, "normal")
    since = NOW_MS - 10 * MINUTE_MS
    assert changes(feed(source.jira, "updated", since)) == {}
    admin.edit_worklog("source", worklog["tempo_id"], description="changed")
    admin.advance_clock(59)
    assert changes(feed(source.jira, "updated", since)) == {}  # "the minute preceding the request"
    admin.advance_clock(1)
    assert changes(feed(source.jira, "updated", since)) == {worklog["jira_id"]: NOW_MS}
    assert changes(feed(source.jira, "updated", NOW_MS)) == {}  # strictly after `since`
    assert changes(feed(source.jira, "updated", NOW_MS - 1)) == {worklog["jira_id"]: NOW_MS}


def test_created_and_updated_worklogs_show_with_their_properties_when_expanded(destination, admin):
    link = [{"key": "tempo-sync", "value": {"source": 1}}]
    created = post_worklog(destination.jira, "ACME-1", {**BODY, "properties": link}).json()
    admin.advance_clock(60)
    since = NOW_MS - 1
    (page,) = feed(destination.jira, "updated", since, expand="properties")
    assert page["values"] == [{"worklogId": int(created["id"]), "updatedTime": NOW_MS, "properties": link}]
    assert page["since"] == since
    assert page["until"] == NOW_MS
    path = f"/rest/api/3/issue/ACME-1/worklog/{created['id']}"
    destination.jira.put(path, json={"timeSpentSeconds": 60}).raise_for_status()
    admin.advance_clock(60)
    assert changes(feed(destination.jira, "updated", since)) == {int(created["id"]): NOW_MS + MINUTE_MS}
    destination.jira.delete(path).raise_for_status()
    admin.advance_clock(60)
    assert changes(feed(destination.jira, "updated", since)) == {}  # deleted ones are not listed


def test_an_empty_page_and_bad_since(destination):
    (page,) = feed(destination.jira, "deleted", NOW_MS)
    assert page["values"] == []
    assert page["since"] == page["until"] == NOW_MS
    assert page["self"].endswith(f"/rest/api/3/worklog/deleted?since={NOW_MS}")
    everything = destination.jira.get("/rest/api/3/worklog/deleted").json()  # `since` defaults to 0
    assert (everything["since"], everything["lastPage"]) == (0, True)
    for which in ("updated", "deleted"):
        refused = destination.jira.get(f"/rest/api/3/worklog/{which}", params={"since": "yesterday"})
        assert refused.status_code == 400
        assert "'since'" in refused.json()["errorMessages"][0]


def test_the_updated_feed_and_the_list_show_nothing_without_browse_projects(source, admin):
    admin.set_permissions("source", jira=["WORK_ON_ISSUES"], tempo=[])
    assert changes(feed(source.jira, "updated", 0)) == {}
    worklog = a_scenario(admin, "normal")
    assert source.jira.post("/rest/api/3/worklog/list", json={"ids": [worklog["jira_id"]]}).json() == []


# ----- the deleted-worklog feed


def test_deletions_through_tempo_jira_and_a_person_show_by_jira_id(source, admin):
    rows = admin.scenarios("source", DAY, DAY)
    by_tempo, by_jira, by_hand = [w for w in rows if w["scenario"] == "normal"][:3]
    assert source.tempo.delete(f"/4/worklogs/{by_tempo['tempo_id']}").status_code == 204
    admin.advance_clock(10)
    path = f"/rest/api/3/issue/{by_jira['issue_id']}/worklog/{by_jira['jira_id']}"
    assert source.jira.delete(path).status_code == 204
    admin.advance_clock(10)
    admin.delete_worklog("source", by_hand["tempo_id"])
    assert changes(feed(source.jira, "deleted", 0)) == {}  # all within the last minute
    admin.advance_clock(60)
    assert changes(feed(source.jira, "deleted", 0)) == {
        by_tempo["jira_id"]: NOW_MS,
        by_jira["jira_id"]: NOW_MS + 10_000,
        by_hand["jira_id"]: NOW_MS + 20_000,
    }
    assert changes(feed(source.jira, "deleted", NOW_MS)) == {
        by_jira["jira_id"]: NOW_MS + 10_000,
        by_hand["jira_id"]: NOW_MS + 20_000,
    }
    stored = {row["jira_id"]: row for row in admin.changed_worklogs("source")}
    assert stored[by_jira["jira_id"]]["deleted_at"] == "2025-03-20T12:00:10Z"
    assert stored[by_jira["jira_id"]]["deleted"] is True


def delete_directly(server: SandboxServer, times: list[datetime]) -> list[int]:
    """Delete generated source worklogs straight in the store, one at each time: a quick way to
    thousands of deletions. Returns their Jira ids in the order of the times."""
    world, store = server.app.sandbox.world, server.app.sandbox.store
    worklogs, day = [], date(2025, 1, 1)
    while len(worklogs) < len(times):
        worklogs += world.worklogs_on("source", day)
        day += timedelta(days=1)
    for worklog, at in zip(worklogs, times, strict=False):
        deleted_at = at.strftime("%Y-%m-%dT%H:%M:%SZ")
        store.save_worklog("source", worklog, generated_day=worklog.start_date, deleted_at=deleted_at)
    return [w.jira_id for w in worklogs[: len(times)]]


def test_the_deleted_feed_pages_by_1000_without_splitting_equal_times(sandbox, source):
    base = datetime(2025, 3, 1, tzinfo=UTC)
    # 1200 deletions a second apart, except that the 991st to the 1010th share one second.
    times = [base + timedelta(seconds=990 if 990 <= i < 1010 else i) for i in range(1200)]
    ids = delete_directly(sandbox, times)
    first, second = feed(source.jira, "deleted", 0)
    # The first page ends before the run of equal times, which the next page starts with: it asks
    # for what comes strictly after the last time shown, so a split run would lose its rest.
    assert [v["worklogId"] for v in first["values"]] == ids[:990]
    assert first["until"] == int((base + timedelta(seconds=989)).timestamp() * 1000)
    assert [v["worklogId"] for v in second["values"]] == ids[990:]
    assert second["since"] == first["until"]


def test_a_run_of_equal_times_longer_than_a_page_is_shown_whole(sandbox, source):
    at = datetime(2025, 3, 1, tzinfo=UTC)
    ids = delete_directly(sandbox, [at] * 1001 + [at + timedelta(seconds=1)] * 5)
    first, second = feed(source.jira, "deleted", 0)
    assert [v["worklogId"] for v in first["values"]] == sorted(ids[:1001])
    assert [v["worklogId"] for v in second["values"]] == sorted(ids[1001:])


# ----- the worklog list


def test_the_list_answers_the_worklogs_asked_for_in_order(source, admin):
    rows = [w for w in admin.scenarios("source", DAY, DAY) if w["visible"]]
    created = post_worklog(source.jira, "OPS-1", {**BODY, "properties": [{"key": "k", "value": 1}]}).json()
    gone = rows[2]
    admin.delete_worklog("source", gone["tempo_id"])
    first, second = rows[0]["jira_id"], rows[1]["jira_id"]
    ids = [second, int(created["id"]), gone["jira_id"], 999, first]
    listed = source.jira.post("/rest/api/3/worklog/list", json={"ids": ids})
    assert listed.status_code == 200
    assert [w["id"] for w in listed.json()] == [str(second), created["id"], str(first)]
    one = source.jira.get(f"/rest/api/3/issue/{rows[0]['issue_id']}/worklog/{rows[0]['jira_id']}").json()
    assert listed.json()[2] == one
    assert "properties" not in listed.json()[1]
    expanded = source.jira.post(
        "/rest/api/3/worklog/list", params={"expand": "properties"}, json={"ids": [int(created["id"])]}
    ).json()
    assert expanded[0]["properties"] == [{"key": "k", "value": 1}]


@pytest.mark.parametrize(
    "body",
    [
        {"ids": []}, {"ids": list(range(1, 1002))}, {"ids": [1, 1]}, {"ids": ["1"]}, {"ids": [True]},
        {"ids": [2**63]}, {}, {"ids": [1], "expand": "properties"}, [1],
    ],
    ids=[
        "empty", "1001 ids", "twice the same", "a string", "a boolean", "beyond int64", "no ids",
        "another field", "not an object",
    ],
)  # fmt: skip
def test_the_list_takes_1_to_1000_unique_numeric_ids(destination, body):
    response = destination.jira.post("/rest/api/3/worklog/list", json=body)
    assert response.status_code == 400
    assert response.json()["errorMessages"]


def test_the_list_takes_1000_ids(destination):
    assert destination.jira.post("/rest/api/3/worklog/list", json={"ids": list(range(1, 1001))}).json() == []


# ----- updating a worklog


def test_an_update_changes_the_fields_given_and_the_tempo_twin(source, admin):
    worklog = next(
        w for w in admin.scenarios("source", DAY, DAY)
        if w["scenario"] == "normal" and w["billable"] == w["time_spent"]
    )  # fmt: skip
    path = f"/rest/api/3/issue/{worklog['issue_id']}/worklog/{worklog['jira_id']}"
    issue = str(worklog["issue_id"])
    spent_before = spent(source.jira, issue)
    comment = {"type": "doc", "version": 1, "content": [
        {"type": "paragraph", "content": [{"type": "text", "text": "Reviewed again"}]},
    ]}  # fmt: skip
    body = {"started": "2025-03-06T08:30:00.000+0100", "timeSpent": "2h", "comment": comment}
    answer = source.jira.put(path, json=body, params={"notifyUsers": "false"})
    assert answer.status_code == 200
    updated = answer.json()
    assert (updated["started"], updated["timeSpentSeconds"], updated["comment"]) == (
        "2025-03-06T08:30:00.000+0100", 7200, comment,
    )  # fmt: skip
    assert updated["updated"] == "2025-03-20T12:00:00.000+0000"
    assert updated["created"] != updated["updated"]
    assert source.jira.get(path).json() == updated
    assert spent(source.jira, issue) == spent_before - worklog["time_spent"] + 7200
    tempo = source.tempo.get(f"/4/worklogs/{worklog['tempo_id']}").json()
    assert (tempo["startDate"], tempo["startTime"], tempo["description"]) == (
        "2025-03-06",
        "08:30:00",
        "Reviewed again",
    )
    assert (tempo["timeSpentSeconds"], tempo["billableSeconds"]) == (7200, 7200)  # billable followed
    assert tempo["updatedAt"] == "2025-03-20T12:00:00Z"
    recent = source.tempo.get("/4/worklogs", params={"updatedFrom": "2025-03-20T12:00:00Z"}).json()
    assert [w["tempoWorklogId"] for w in recent["results"]] == [worklog["tempo_id"]]
    # An empty body changes nothing but the time of the change.
    admin.advance_clock(5)
    again = source.jira.put(path, json={}).json()
    assert again == {**updated, "updated": "2025-03-20T12:00:05.000+0000"}


def test_an_update_merges_properties_and_expands_them(destination):
    body = {**BODY, "properties": [{"key": "a", "value": 1}, {"key": "b", "value": 2}]}
    created = post_worklog(destination.jira, "ACME-1", body).json()
    path = f"/rest/api/3/issue/ACME-1/worklog/{created['id']}"
    change = {"properties": [{"key": "b", "value": 3}, {"key": "c", "value": 4}]}
    updated = destination.jira.put(path, json=change, params={"expand": "properties"}).json()
    assert updated["properties"] == [
        {"key": "a", "value": 1},
        {"key": "b", "value": 3},
        {"key": "c", "value": 4},
    ]
    assert "properties" not in destination.jira.put(path, json={}).json()


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"started": "2025-03-18T09:00:00Z"}, "started", "Invalid date format"),
        ({"timeSpentSeconds": 0}, "timeLogged", "greater than 0"),
        ({"timeSpent": "soon"}, "timeLogged", "You must indicate the time spent"),
        ({"timeSpentSeconds": 60, "timeSpent": "1m"}, "timeLogged", "not both"),
        ({"comment": "text"}, "comment", "Atlassian Document"),
        ({"visibility": {"type": "everyone"}}, "visibility", "'group' or 'role'"),
        ({"properties": [{"value": 1}]}, "properties", "list of"),
    ],
)
def test_an_update_refuses_bad_bodies(destination, admin, body, field, message):
    created = post_worklog(destination.jira, "ACME-1", BODY).json()
    response = destination.jira.put(f"/rest/api/3/issue/ACME-1/worklog/{created['id']}", json=body)
    assert response.status_code == 400
    assert message in response.json()["errors"][field]
    (stored,) = admin.changed_worklogs("destination")
    assert stored["time_spent"] == 3600


def test_update_and_delete_answer_404_for_what_is_not_there(destination):
    created = post_worklog(destination.jira, "ACME-1", BODY).json()
    for path in (
        f"/rest/api/3/issue/ACME-2/worklog/{created['id']}",  # another issue's worklog
        "/rest/api/3/issue/ACME-1/worklog/999",
        "/rest/api/3/issue/ACME-1/worklog/abc",
        f"/rest/api/3/issue/NOPE-1/worklog/{created['id']}",
    ):
        assert destination.jira.put(path, json={"timeSpentSeconds": 60}).status_code == 404
        assert destination.jira.delete(path).status_code == 404
    path = f"/rest/api/3/issue/ACME-1/worklog/{created['id']}"
    assert destination.jira.delete(path).status_code == 204
    assert destination.jira.delete(path).status_code == 404
    assert destination.jira.put(path, json={}).status_code == 404
    assert destination.jira.get(path).status_code == 404
    assert destination.jira.put(path.replace("ACME-1", "acme-1"), content=b"{").status_code == 404


def test_malformed_json_and_flags_are_400(destination):
    created = post_worklog(destination.jira, "ACME-1", BODY).json()
    path = f"/rest/api/3/issue/ACME-1/worklog/{created['id']}"
    assert destination.jira.put(path, content=b"{").status_code == 400
    assert destination.jira.put(path, json=[1]).status_code == 400
    assert destination.jira.put(path, json={}, params={"notifyUsers": "maybe"}).status_code == 400
    assert destination.jira.delete(path, params={"overrideEditableFlag": "x"}).status_code == 400


def test_editing_and_deleting_need_jira_worklog_permissions(source, admin):
    mine = post_worklog(source.jira, "OPS-1", BODY).json()
    mine_path = f"/rest/api/3/issue/OPS-1/worklog/{mine['id']}"
    tempo_made = a_scenario(admin, "normal")  # Jira shows the Tempo app as its author
    tempo_path = f"/rest/api/3/issue/{tempo_made['issue_id']}/worklog/{tempo_made['jira_id']}"
    admin.set_permissions(
        "source", jira=["BROWSE_PROJECTS", "EDIT_OWN_WORKLOGS", "DELETE_OWN_WORKLOGS"], tempo=[]
    )
    refused = source.jira.put(tempo_path, json={"timeSpentSeconds": 60})
    assert refused.status_code == 400
    assert "permission to update" in refused.json()["errorMessages"][0]
    assert "permission to delete" in source.jira.delete(tempo_path).json()["errorMessages"][0]
    assert source.jira.put(mine_path, json={"timeSpentSeconds": 60}).status_code == 200
    assert source.jira.delete(mine_path).status_code == 204
    admin.set_permissions(
        "source", jira=["BROWSE_PROJECTS", "EDIT_ALL_WORKLOGS", "DELETE_ALL_WORKLOGS"], tempo=[]
    )
    assert source.jira.put(tempo_path, json={"timeSpentSeconds": 60}).status_code == 200
    assert source.jira.delete(tempo_path).status_code == 204
    assert source.tempo.get(f"/4/worklogs/{tempo_made['tempo_id']}").status_code == 404  # gone from Tempo too


# ----- time tracking


def test_estimates_after_updates(destination):
    created = post_worklog(destination.jira, "ACME-1", BODY, adjustEstimate="new", newEstimate="10h").json()
    path = f"/rest/api/3/issue/ACME-1/worklog/{created['id']}"
    before = spent(destination.jira, "ACME-1")
    destination.jira.put(path, json={"timeSpent": "3h"}).raise_for_status()  # auto: by the difference
    assert remaining(destination.jira, "ACME-1") == 8 * 3600
    destination.jira.put(path, json={"timeSpent": "1h"}).raise_for_status()
    assert remaining(destination.jira, "ACME-1") == 10 * 3600
    destination.jira.put(
        path, json={"timeSpent": "2h"}, params={"adjustEstimate": "leave"}
    ).raise_for_status()
    assert remaining(destination.jira, "ACME-1") == 10 * 3600
    new = {"adjustEstimate": "new", "newEstimate": "5h"}
    destination.jira.put(path, json={"timeSpent": "2h"}, params=new).raise_for_status()
    assert remaining(destination.jira, "ACME-1") == 5 * 3600
    destination.jira.put(path, json={"timeSpent": "7h"}).raise_for_status()
    assert remaining(destination.jira, "ACME-1") == 0  # never below 0
    assert spent(destination.jira, "ACME-1") == before + 6 * 3600
    for params, problem in (
        ({"adjustEstimate": "new"}, "newEstimate"),
        ({"adjustEstimate": "manual", "reduceBy": "1h"}, "not documented for an update"),
        ({"adjustEstimate": "sometimes"}, "must be one of"),
    ):
        refused = destination.jira.put(path, json={"timeSpent": "1h"}, params=params)
        assert refused.status_code == 400
        assert problem in refused.text
    assert spent(destination.jira, "ACME-1") == before + 6 * 3600


def test_estimates_after_deletes(destination):
    def logged() -> str:
        created = post_worklog(destination.jira, "ACME-1", BODY, adjustEstimate="leave").json()
        return f"/rest/api/3/issue/ACME-1/worklog/{created['id']}"

    post_worklog(destination.jira, "ACME-1", BODY, adjustEstimate="new", newEstimate="10h").raise_for_status()
    before = spent(destination.jira, "ACME-1")
    assert destination.jira.delete(logged()).status_code == 204  # auto gives the time back
    assert remaining(destination.jira, "ACME-1") == 11 * 3600
    destination.jira.delete(logged(), params={"adjustEstimate": "leave"}).raise_for_status()
    assert remaining(destination.jira, "ACME-1") == 11 * 3600
    destination.jira.delete(
        logged(), params={"adjustEstimate": "manual", "increaseBy": "2h"}
    ).raise_for_status()
    assert remaining(destination.jira, "ACME-1") == 13 * 3600
    destination.jira.delete(
        logged(), params={"adjustEstimate": "new", "newEstimate": "1d"}
    ).raise_for_status()
    assert remaining(destination.jira, "ACME-1") == 8 * 3600
    assert spent(destination.jira, "ACME-1") == before
    path = logged()
    for params, field in (
        ({"adjustEstimate": "manual"}, "increaseBy"),
        ({"adjustEstimate": "new"}, "newEstimate"),
    ):
        refused = destination.jira.delete(path, params=params)
        assert refused.status_code == 400
        assert field in refused.json()["errors"]
    assert destination.jira.get(path).status_code == 200  # a refused delete deletes nothing


def test_the_request_counters_name_the_endpoints(destination, admin):
    created = post_worklog(destination.jira, "ACME-1", BODY).json()
    path = f"/rest/api/3/issue/ACME-1/worklog/{created['id']}"
    admin.reset_stats()
    destination.jira.put(path, json={})
    destination.jira.post("/rest/api/3/worklog/list", json={"ids": [int(created["id"])]})
    destination.jira.delete(path)
    destination.jira.get("/rest/api/3/worklog/updated")
    destination.jira.get("/rest/api/3/worklog/deleted", params={"since": "x"})
    counted = {(row["endpoint"], row["status"]) for row in admin.stats()["requests"]}
    assert counted == {
        ("PUT /rest/api/3/issue/{issueIdOrKey}/worklog/{id}", 200),
        ("POST /rest/api/3/worklog/list", 200),
        ("DELETE /rest/api/3/issue/{issueIdOrKey}/worklog/{id}", 204),
        ("GET /rest/api/3/worklog/updated", 200),
        ("GET /rest/api/3/worklog/deleted", 400),
    }
    assert admin.count("destination", "jira", "GET /rest/api/3/worklog/deleted") == 1
