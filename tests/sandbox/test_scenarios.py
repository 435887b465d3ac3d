"""The awkward cases, as a product meets them through the APIs.

A minimal resolver that follows DESIGN section 2 (same accountId with the same email, else
an exact case-insensitive email match among the destination's search results; same-key
issue mapping) must reach, for every source worklog of a day, the outcome the sandbox
documents for its scenario. If the data or an endpoint drifted, this is where it shows.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from tests.support.sandbox import SiteClients, follow_pages

DAY = date(2025, 3, 5)


def resolve_author(source: SiteClients, destination: SiteClients, account_id: str) -> str:
    found = source.jira.get("/rest/api/3/user", params={"accountId": account_id})
    if found.status_code == 404:
        return "parked:deleted_user"
    user = found.json()
    if user["accountType"] == "app":
        return "parked:app_account"
    email = user.get("emailAddress")
    if not email:
        return "parked:email_hidden"
    same_id = destination.jira.get("/rest/api/3/user/bulk", params={"accountId": account_id}).json()["values"]
    if same_id:
        twin = same_id[0]
        if "emailAddress" not in twin:
            return "parked:email_hidden"
        if twin["emailAddress"].lower() == email.lower():
            return "synced" if twin["active"] else "parked:inactive_destination_user"
    candidates = destination.jira.get("/rest/api/3/user/search", params={"query": email}).json()
    exact = [
        u
        for u in candidates
        if u.get("emailAddress", "").lower() == email.lower() and u["accountType"] == "atlassian"
    ]
    if len(exact) > 1:
        return "parked:ambiguous_email"
    return "synced" if exact else "parked:no_destination_user"


def resolve_issue(source: SiteClients, destination: SiteClients, issue_id: int) -> str:
    key = source.jira.get(f"/rest/api/3/issue/{issue_id}", params={"fields": "key"}).json()["key"]
    found = destination.jira.get("/rest/api/3/search/jql", params={"jql": f"key = {key}"})
    return "synced" if found.status_code == 200 and found.json()["issues"] else "parked:issue_unmapped"


def test_every_scenario_meets_its_documented_outcome(source, destination, admin):
    expected = {w["tempo_id"]: (w["scenario"], w["expected"]) for w in admin.scenarios("source", DAY, DAY)}
    worklogs = follow_pages(source.tempo, "/4/worklogs", **{"from": DAY.isoformat(), "to": DAY.isoformat()})
    assert {w["tempoWorklogId"] for w in worklogs} == set(expected)
    authors: dict[str, str] = {}
    outcomes = {}
    for worklog in worklogs:
        account_id = worklog["author"]["accountId"]
        if account_id not in authors:
            authors[account_id] = resolve_author(source, destination, account_id)
        author = authors[account_id]
        issue = resolve_issue(source, destination, worklog["issue"]["id"])
        outcomes[worklog["tempoWorklogId"]] = author if author != "synced" else issue
    mismatches = {
        scenario: (want, outcomes[tempo_id])
        for tempo_id, (scenario, want) in expected.items()
        if outcomes[tempo_id] != want
    }
    assert mismatches == {}


def test_a_parked_author_can_be_added_on_the_destination(source, destination, admin):
    missing = next(p for p in admin.people() if p["kind"] == "missing_on_destination")["source"]
    assert resolve_author(source, destination, missing["account_id"]) == "parked:no_destination_user"
    admin.put_user(
        "destination",
        "712020:new-destination-account",
        display_name=missing["display_name"],
        email=missing["email"],
        time_zone=missing["time_zone"],
    )
    assert resolve_author(source, destination, missing["account_id"]) == "synced"
    body = {
        "authorAccountId": "712020:new-destination-account",
        "issueId": 20060,
        "startDate": "2025-03-05",
        "timeSpentSeconds": 60,
    }
    assert destination.tempo.post("/4/worklogs", json=body).status_code == 200
    admin.delete_user("destination", "712020:new-destination-account")
    assert resolve_author(source, destination, missing["account_id"]) == "parked:no_destination_user"


def test_late_worklogs_appear_once_the_clock_passes_their_creation(source, admin):
    day = date(2025, 3, 14)
    late = next(w for w in admin.scenarios("source", day, day) if w["scenario"] == "late_worklog")
    created = datetime.fromisoformat(late["created_at"].replace("Z", "+00:00"))
    assert created.date() >= day + timedelta(days=2)

    def listed() -> set[int]:
        found = follow_pages(source.tempo, "/4/worklogs", **{"from": day.isoformat(), "to": day.isoformat()})
        return {w["tempoWorklogId"] for w in found}

    admin.freeze_clock(created - timedelta(minutes=1))
    assert late["tempo_id"] not in listed()
    assert source.tempo.get(f"/4/worklogs/{late['tempo_id']}").status_code == 404
    before = len(listed())
    admin.advance_clock(120)
    assert late["tempo_id"] in listed()
    assert len(listed()) >= before + 1
    assert admin.clock()["now"] == (created + timedelta(minutes=1)).astimezone(UTC).isoformat()
    since = (created - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    updated = follow_pages(source.tempo, "/4/worklogs", updatedFrom=since)
    assert late["tempo_id"] in {w["tempoWorklogId"] for w in updated}


def test_future_work_dates_are_empty_and_today_fills_up(source, admin):
    admin.freeze_clock(datetime(2025, 3, 10, 6, 0, tzinfo=UTC))
    tomorrow = source.tempo.get("/4/worklogs", params={"from": "2025-03-12", "to": "2025-03-12"}).json()
    assert tomorrow["results"] == []
    morning = source.tempo.get("/4/worklogs", params={"from": "2025-03-10", "to": "2025-03-10"}).json()
    admin.freeze_clock(datetime(2025, 3, 11, 6, 0, tzinfo=UTC))
    next_day = source.tempo.get("/4/worklogs", params={"from": "2025-03-10", "to": "2025-03-10"}).json()
    assert morning["metadata"]["count"] < next_day["metadata"]["count"]


def test_adding_a_user_checks_its_fields(admin):
    for bad in (
        {},
        {"display_name": "X", "active": "yes"},
        {"display_name": "X", "account_type": "robot"},
        {"display_name": "X", "nickname": "x"},
    ):
        with pytest.raises(RuntimeError, match="400"):
            admin.put_user("destination", "712020:someone", **bad)
    assert all(a["account_id"] != "712020:someone" for a in admin.accounts("destination"))


def test_an_edit_shows_once_the_clock_passes_it(source, admin):
    edited = next(w for w in admin.scenarios("source", DAY, DAY) if w["scenario"] == "edited_after_creation")
    created = datetime.fromisoformat(edited["created_at"].replace("Z", "+00:00"))
    changed = datetime.fromisoformat(edited["updated_at"].replace("Z", "+00:00"))
    admin.freeze_clock(created + timedelta(seconds=1))
    before = source.tempo.get(f"/4/worklogs/{edited['tempo_id']}").json()
    assert before["updatedAt"] == before["createdAt"] == edited["created_at"]
    assert before["timeSpentSeconds"] == edited["time_spent"] - 900
    assert not before.get("description", "").endswith("(corrected)")
    admin.freeze_clock(changed)
    after = source.tempo.get(f"/4/worklogs/{edited['tempo_id']}").json()
    assert after["updatedAt"] == edited["updated_at"]
    assert after["timeSpentSeconds"] == edited["time_spent"]
    assert after["description"].endswith("(corrected)")
    since = (created + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert edited["tempo_id"] in {
        w["tempoWorklogId"] for w in follow_pages(source.tempo, "/4/worklogs", updatedFrom=since)
    }
