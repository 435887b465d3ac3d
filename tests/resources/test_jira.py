"""JiraClient against the sandbox's Jira Cloud v3: users, issue lookups and worklogs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from resources.http import ApiError, OutcomeUnknownError
from resources.jira import JiraClient, epoch_ms, jql_string
from sandbox.config import CREDENTIALS, DataKnobs
from sandbox.server import SandboxServer

SEARCH = "POST /rest/api/3/search/jql"
SOURCE_FIELD = "customfield_10100"


@pytest.fixture
def connect_jira() -> Iterator[Callable[..., JiraClient]]:
    clients: list[JiraClient] = []

    def make(server: SandboxServer, site: str = "source", **overrides: object) -> JiraClient:
        credentials = CREDENTIALS[site]
        settings: dict = {
            "email": credentials.jira_email,
            "token": credentials.jira_token,
            "site": site,
            "requests_per_second": 0,
            "backoff_seconds": 0.01,
            **overrides,
        }
        client = JiraClient(base_url=getattr(server.urls, site).jira, **settings)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def source_jira(sandbox, connect_jira) -> JiraClient:
    return connect_jira(sandbox)


@pytest.fixture
def destination_jira(sandbox, connect_jira) -> JiraClient:
    return connect_jira(sandbox, "destination")


def adf(text: str) -> dict[str, object]:
    paragraph = {"type": "paragraph", "content": [{"type": "text", "text": text}]}
    return {"type": "doc", "version": 1, "content": [paragraph]}


def started(worklog: dict) -> datetime:
    return datetime.strptime(worklog["started"], "%Y-%m-%dT%H:%M:%S.%f%z")


# ----- the caller and users


def test_myself_and_my_permissions(source_jira):
    assert source_jira.myself()["displayName"] == "Tempo Sync"
    granted = source_jira.my_permissions(["BROWSE_PROJECTS", "WORK_ON_ISSUES", "ADMINISTER"])
    assert granted == {"BROWSE_PROJECTS": True, "WORK_ON_ISSUES": True, "ADMINISTER": False}
    assert source_jira.my_permissions([]) == {}
    assert source_jira.calls == {"GET /rest/api/3/myself": 1, "GET /rest/api/3/mypermissions": 1}


def test_users_in_order_without_unknown_or_deleted_ids(source_jira, admin):
    people = {p["kind"]: p["source"]["account_id"] for p in admin.people()}
    wanted = [people["normal"], "712020:no-such-account", people["deleted_on_source"], people["email_case"]]
    found = source_jira.users(wanted)
    assert [u["accountId"] for u in found] == [people["normal"], people["email_case"]]
    assert source_jira.calls == {"GET /rest/api/3/user/bulk": 1}


def test_users_are_asked_for_in_batches_of_200(source_jira, admin):
    known = [p["source"]["account_id"] for p in admin.people() if p["kind"] == "normal"]
    unknown = [f"712020:ghost-{n}" for n in range(250)]
    found = source_jira.users(unknown[:150] + known + unknown[150:])
    assert [u["accountId"] for u in found] == known
    assert source_jira.calls == {"GET /rest/api/3/user/bulk": 2}


def test_search_users_is_a_prefix_match(destination_jira, admin):
    person = next(p for p in admin.people() if p["kind"] == "normal")["destination"]
    found = destination_jira.search_users(person["email"][:6])
    assert person["account_id"] in {u["accountId"] for u in found}
    assert destination_jira.search_users("zz-nobody-at-all") == []


# ----- issues


def test_issues_by_keys_drop_missing_and_malformed_keys(destination_jira, admin):
    keys = ["ACME-1", "CLI-1", "CLIENT-1", "NOPE-9", "acme 2); project = OPS", "ACME-1"]
    found = destination_jira.issues_by_keys(keys, ["key", SOURCE_FIELD])
    assert {i["key"]: i["fields"][SOURCE_FIELD] for i in found} == {"ACME-1": "ACME-1", "CLIENT-1": "CLI-1"}
    # Jira names every missing key in one 400; the query without them then works.
    assert admin.count("destination", "jira", SEARCH, 400) == 1
    assert destination_jira.calls == {SEARCH: 2}


def test_issues_by_ids_drop_missing_ids(source_jira):
    found = source_jira.issues_by_ids([10001, "10002", 99_999_999, "x1"], ["key", "project"])
    assert sorted(i["id"] for i in found) == ["10001", "10002"]
    assert all(i["fields"]["project"]["key"] for i in found)


def test_issues_by_ids_are_asked_for_100_at_a_time(start_sandbox, connect_jira):
    server = start_sandbox(data=DataKnobs(issues=150))
    jira = connect_jira(server)
    found = jira.issues_by_ids(range(10001, 10151), ["key"])
    assert len({i["id"] for i in found}) == 150
    assert jira.calls == {SEARCH: 2}


def test_other_search_errors_are_not_swallowed(source_jira):
    with pytest.raises(ApiError) as raised:
        source_jira.issues_with_field_text(SOURCE_FIELD, ["CLI-1"], ["key"])  # the source has no such field
    assert raised.value.status == 400
    assert "does not exist" in raised.value.message
    assert source_jira.calls == {SEARCH: 1}


def test_issues_with_field_text_find_candidates(destination_jira):
    found = destination_jira.issues_with_field_text(
        SOURCE_FIELD, ["CLI-1", "ACME-2", "NOPE-1"], ["key", SOURCE_FIELD]
    )
    exact = {
        i["fields"][SOURCE_FIELD]: i["key"] for i in found if i["fields"][SOURCE_FIELD] in ("CLI-1", "ACME-2")
    }
    assert exact == {"CLI-1": "CLIENT-1", "ACME-2": "ACME-2"}
    with pytest.raises(ValueError, match="customfield_"):
        destination_jira.issues_with_field_text("Source issue", ["CLI-1"], ["key"])


def test_jql_strings_are_escaped():
    assert jql_string('say "hi" \\ bye') == '"say \\"hi\\" \\\\ bye"'


# ----- worklogs


def test_issue_worklogs_within_inclusive_bounds(source_jira):
    everything = source_jira.issue_worklogs("10002", started_after=None, started_before=None)
    assert len(everything) > 1
    first, last = started(everything[0]), started(everything[-1])
    assert first < last
    both_ends = source_jira.issue_worklogs(10002, started_after=first, started_before=last)
    assert [w["id"] for w in both_ends] == [w["id"] for w in everything]
    inner = source_jira.issue_worklogs(
        10002, started_after=first + timedelta(milliseconds=1), started_before=last
    )
    assert [w["id"] for w in inner] == [w["id"] for w in everything[1:]]
    assert all("properties" in w for w in everything)


def test_add_worklog_with_properties_and_a_new_estimate(destination_jira):
    body = {
        "started": "2025-03-18T09:00:00.000+0100",
        "timeSpentSeconds": 1800,
        "comment": adf("Copied from the source"),
        "properties": [{"key": "tempo-sync", "value": {"source": 20152000020}}],
    }
    created = destination_jira.add_worklog("ACME-1", body, estimate=7259)
    assert created["properties"] == [{"key": "tempo-sync", "value": {"source": 20152000020}}]
    assert created["timeSpentSeconds"] == 1800
    (issue,) = destination_jira.issues_by_keys(["ACME-1"], ["timeestimate"])
    assert issue["fields"]["timeestimate"] == 7200  # whole minutes, rounded down

    destination_jira.add_worklog(issue["id"], {**body, "properties": []}, estimate="leave")
    (again,) = destination_jira.issues_by_keys(["ACME-1"], ["timeestimate"])
    assert again["fields"]["timeestimate"] == 7200  # left alone
    destination_jira.add_worklog(issue["id"], {**body, "properties": []}, estimate="auto")
    (reduced,) = destination_jira.issues_by_keys(["ACME-1"], ["timeestimate"])
    assert reduced["fields"]["timeestimate"] == 7200 - 1800  # down by the time logged

    day = datetime(2025, 3, 18, tzinfo=UTC)
    logged = destination_jira.issue_worklogs(
        issue["id"], started_after=day - timedelta(hours=2), started_before=day + timedelta(days=1)
    )
    assert {w["id"] for w in logged} >= {created["id"]}
    assert next(w for w in logged if w["id"] == created["id"])["properties"] == created["properties"]


def test_add_worklog_errors_name_the_field(destination_jira):
    body = {"started": "2025-03-18T09:00:00Z", "timeSpentSeconds": 60}
    with pytest.raises(ApiError) as raised:
        destination_jira.add_worklog("ACME-1", body, estimate="auto")
    assert raised.value.status == 400
    assert raised.value.message.startswith("started: Invalid date format.")
    assert destination_jira.calls == {"POST /rest/api/3/issue/{issueId}/worklog": 1}


def test_a_lost_add_worklog_is_an_unknown_outcome_yet_applied(destination_jira, admin):
    admin.set_faults(share_lost_post=1.0, targets=["destination/jira"])
    body = {"started": "2025-03-18T09:00:00.000+0000", "timeSpentSeconds": 600}
    with pytest.raises(OutcomeUnknownError):
        destination_jira.add_worklog("ACME-1", body, estimate=0)
    admin.set_faults()
    assert destination_jira.retried == {}
    (stored,) = admin.changed_worklogs("destination")
    assert (stored["issue_key"], stored["time_spent"]) == ("ACME-1", 600)


def test_bounds_must_be_timezone_aware():
    assert epoch_ms(datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC)) == 1000
    with pytest.raises(ValueError, match="timezone-aware"):
        epoch_ms(datetime(2025, 3, 5))


def test_the_token_stays_out_of_reprs_and_errors(sandbox, connect_jira):
    token = CREDENTIALS["source"].jira_token
    wrong = connect_jira(sandbox, token=token + "-revoked")
    assert token not in repr(wrong)
    with pytest.raises(ApiError) as raised:
        wrong.myself()
    assert raised.value.status == 401
    assert raised.value.message.startswith("You are not authenticated.")
    assert token not in str(raised.value)
    assert token not in repr(raised.value)


def test_jira_429_is_retried_after_retry_after(sandbox, admin, source_jira):
    admin.set_faults(share_429=0.5, seed=1, targets=["source/jira"])  # the first draw is a 429
    assert source_jira.myself()["displayName"] == "Tempo Sync"
    assert source_jira.retried == {"429": 1}
    assert admin.count("source", "jira", "GET /rest/api/3/myself", 429) == 1
    assert source_jira.calls == {"GET /rest/api/3/myself": 2}
