"""TempoClient against the sandbox's Tempo v4: listings, searches, id mapping and creates."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta, timezone

import dagster as dg
import pytest

from resources.http import ApiError
from resources.tempo import TempoClient, tempo_instant
from sandbox.config import CREDENTIALS, DataKnobs
from sandbox.server import SandboxServer

DAY = date(2025, 3, 5)
LIST = "GET /4/worklogs"
JIRA_ID_OFFSET = 100_000_000_000  # the sandbox's generated Jira ids: Tempo id + this


@pytest.fixture
def connect_tempo() -> Iterator[Callable[..., TempoClient]]:
    clients: list[TempoClient] = []

    def make(server: SandboxServer, site: str = "source", **overrides: object) -> TempoClient:
        settings: dict = {
            "token": CREDENTIALS[site].tempo_token,
            "site": site,
            "requests_per_second": 0,
            "backoff_seconds": 0.01,
            **overrides,
        }
        client = TempoClient(base_url=getattr(server.urls, site).tempo, **settings)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def source_tempo(sandbox, connect_tempo) -> TempoClient:
    return connect_tempo(sandbox)


@pytest.fixture
def destination_tempo(sandbox, connect_tempo) -> TempoClient:
    return connect_tempo(sandbox, "destination")


@pytest.fixture
def worker(admin) -> str:
    """A destination account that may log work."""
    return next(p for p in admin.people() if p["kind"] == "normal")["destination"]["account_id"]


@pytest.fixture
def issue_id(destination) -> int:
    """A destination issue's id (Jira gives it as a string; Tempo wants a number)."""
    return int(destination.jira.get("/rest/api/3/issue/ACME-1").json()["id"])


def new_worklog(author: str, minutes: int, **fields: object) -> dict[str, object]:
    return {"authorAccountId": author, "startDate": "2025-03-18", "timeSpentSeconds": minutes * 60, **fields}


# ----- reading


def test_worklog_pages_follow_next_to_the_end(source_tempo, admin):
    pages = list(source_tempo.worklog_pages(DAY, DAY, page_size=15))
    assert [len(p) for p in pages] == [15, 15, 10]
    ids = [w["tempoWorklogId"] for p in pages for w in p]
    expected = {w["tempo_id"] for w in admin.scenarios("source", DAY, DAY) if w["visible"]}
    assert len(ids) == len(set(ids))
    assert set(ids) == expected
    assert source_tempo.calls == {LIST: 3}


def test_worklog_pages_of_5000(start_sandbox, connect_tempo):
    server = start_sandbox(data=DataKnobs(worklogs_per_day=6000))
    tempo = connect_tempo(server)
    sizes = [len(p) for p in tempo.worklog_pages(DAY, DAY)]
    assert sizes == [5000, 1000]
    assert tempo.calls == {LIST: 2}


def test_updated_from_narrows_both_listings(source_tempo, admin):
    late = next(w for w in admin.scenarios("source", DAY, DAY) if w["scenario"] == "late_worklog")
    since = datetime.fromisoformat(late["updated_at"].replace("Z", "+00:00"))
    in_range = [w for p in source_tempo.worklog_pages(DAY, DAY, updated_from=since) for w in p]
    assert late["tempo_id"] in {w["tempoWorklogId"] for w in in_range}
    assert all(w["updatedAt"] >= late["updated_at"] for w in in_range)
    assert {w["startDate"] for w in in_range} == {DAY.isoformat()}

    # Given in another time zone, the same instant reaches Tempo as UTC.
    local = since.astimezone(timezone(timedelta(hours=9)))
    anywhere = [w for p in source_tempo.updated_worklog_pages(local, page_size=1000) for w in p]
    assert {w["tempoWorklogId"] for w in in_range} <= {w["tempoWorklogId"] for w in anywhere}
    assert len({w["startDate"] for w in anywhere}) > 1  # later days' worklogs too
    assert all(w["updatedAt"] >= late["updated_at"] for w in anywhere)


def test_bad_arguments_are_refused_before_sending(source_tempo):
    with pytest.raises(ValueError, match="timezone-aware"):
        source_tempo.updated_worklog_pages(datetime(2025, 3, 5, 12))
    with pytest.raises(ValueError, match="page_size"):
        source_tempo.worklog_pages(DAY, DAY, page_size=5001)
    with pytest.raises(ValueError, match="1 to 50"):
        source_tempo.bulk_create_worklogs(1, [])
    with pytest.raises(ValueError, match="1 to 50"):
        source_tempo.bulk_create_worklogs(1, [{}] * 51)
    assert source_tempo.search_worklogs(issue_ids=[], date_from=DAY, date_to=DAY) == []
    assert source_tempo.jira_worklog_ids([]) == {}
    assert not source_tempo.calls


def test_tempo_errors_carry_the_services_message(source_tempo):
    with pytest.raises(ApiError) as raised:
        list(source_tempo.worklog_pages(DAY, DAY - timedelta(days=1)))
    assert raised.value.status == 400
    assert raised.value.message == "'from' must be on or before 'to'"
    assert str(raised.value).startswith("source Tempo GET /4/worklogs answered 400")


def test_jira_worklog_ids_map_in_chunks_and_skip_unknown_ids(source_tempo):
    known = [w["tempoWorklogId"] for p in source_tempo.worklog_pages(DAY, DAY) for w in p]
    unknown = list(range(1, 5002))  # ids that do not exist, enough to need a second chunk
    mapping = source_tempo.jira_worklog_ids(known + unknown + known[:3])
    assert mapping == {tempo_id: tempo_id + JIRA_ID_OFFSET for tempo_id in known}
    assert source_tempo.calls["POST /4/worklogs/tempo-to-jira"] == 2


def test_work_attributes_and_permission_roles(source_tempo, destination_tempo):
    assert {a["key"] for a in source_tempo.work_attributes()} == {"_Activity_", "_Overtime_", "_ExternalRef_"}
    assert {(a["key"], a["type"]) for a in destination_tempo.work_attributes()} == {
        ("_Activity_", "STATIC_LIST"),
        ("_Overtime_", "CHECKBOX"),
    }
    (role,) = source_tempo.permission_roles()
    granted = {p["key"] for p in role["permissions"]}
    assert {"permissions.worklog.view", "permissions.worklog.manage"} <= granted


# ----- writing


def test_create_then_find_it_by_search(destination_tempo, worker, issue_id):
    created = [
        destination_tempo.create_worklog(new_worklog(worker, 15 * n, issueId=issue_id, description=f"n{n}"))
        for n in (1, 2, 3)
    ]
    assert all(w["issue"]["id"] == issue_id for w in created)
    found = destination_tempo.search_worklogs(
        issue_ids=[issue_id, issue_id], date_from=date(2025, 3, 18), date_to=date(2025, 3, 18), page_size=2
    )
    assert {w["tempoWorklogId"] for w in created} <= {w["tempoWorklogId"] for w in found}
    assert {w["issue"]["id"] for w in found} == {issue_id}
    pages = -(-len(found) // 2)
    assert destination_tempo.calls == {"POST /4/worklogs": 3, "POST /4/worklogs/search": pages}


def test_bulk_create(destination_tempo, worker, issue_id, admin):
    items = [new_worklog(worker, 10 * n, description=f"bulk {n}") for n in (1, 2, 3)]
    created = destination_tempo.bulk_create_worklogs(issue_id, items)
    assert [w["description"] for w in created] == ["bulk 1", "bulk 2", "bulk 3"]
    assert len(admin.changed_worklogs("destination")) == 3
    assert admin.count("destination", "tempo", "POST /4/worklogs/issue/{issueId}/bulk", 200) == 1


def test_concurrent_bulk_creates_on_one_issue_wait_for_each_other(start_sandbox, connect_tempo, connect):
    server = start_sandbox(bulk_item_seconds=0.02)  # 20 items hold the issue for 0.4 s
    tempo = connect_tempo(server, "destination", backoff_seconds=0.05)
    with server.admin() as admin:
        author = next(p for p in admin.people() if p["kind"] == "normal")["destination"]["account_id"]
        issue = int(connect(server, "destination").jira.get("/rest/api/3/issue/ACME-1").json()["id"])
        items = [new_worklog(author, 5) for _ in range(20)]
        results: list[list[dict]] = []
        first = threading.Thread(target=lambda: results.append(tempo.bulk_create_worklogs(issue, items)))
        first.start()
        while not admin.in_flight("destination", "tempo", "POST /4/worklogs/issue/{issueId}/bulk"):
            time.sleep(0.005)
        results.append(tempo.bulk_create_worklogs(issue, items))
        first.join()
        assert [len(r) for r in results] == [20, 20]
        conflicts = admin.count("destination", "tempo", "POST /4/worklogs/issue/{issueId}/bulk", 409)
        assert conflicts >= 1
        assert tempo.retried == {"409": conflicts}
        assert len(admin.changed_worklogs("destination")) == 40


def test_a_read_only_token_cannot_write(sandbox, connect_tempo, worker, issue_id):
    reader = connect_tempo(sandbox, "destination", token=CREDENTIALS["destination"].tempo_read_only_token)
    assert reader.work_attributes()  # reads work
    with pytest.raises(ApiError) as raised:
        reader.create_worklog(new_worklog(worker, 5, issueId=issue_id))
    assert (raised.value.status, raised.value.message) == (403, "403 Forbidden")


def test_a_destination_without_tempo_answers_401(start_sandbox, connect_tempo):
    server = start_sandbox(destination_tempo=False)
    tempo = connect_tempo(server, "destination")
    with pytest.raises(ApiError) as raised:
        tempo.work_attributes()
    assert (raised.value.status, raised.value.message) == (401, "401 Unauthorized")
    assert raised.value.service == "destination Tempo"


# ----- as a Dagster resource


def test_the_token_stays_out_of_the_resources_repr(source_tempo):
    token = CREDENTIALS["source"].tempo_token
    assert token not in repr(source_tempo)
    assert token not in str(source_tempo)


def test_works_as_a_dagster_resource_with_an_env_var_token(sandbox, admin, monkeypatch):
    monkeypatch.setenv("TEST_SOURCE_TEMPO_TOKEN", CREDENTIALS["source"].tempo_token)

    @dg.asset
    def day_worklogs(tempo: TempoClient) -> int:
        return sum(len(p) for p in tempo.worklog_pages(DAY, DAY, page_size=20))

    resource = TempoClient(base_url=sandbox.urls.source.tempo, token=dg.EnvVar("TEST_SOURCE_TEMPO_TOKEN"))
    result = dg.materialize([day_worklogs], resources={"tempo": resource})
    assert result.success
    assert result.output_for_node("day_worklogs") == 40
    assert admin.count("source", "tempo", LIST, 200) == 2


def test_close_then_reuse_opens_a_new_session(source_tempo):
    assert source_tempo.work_attributes()
    source_tempo.close()
    assert source_tempo.work_attributes()
    assert source_tempo.calls == {"GET /4/work-attributes": 1}  # counted by the new session


def test_updated_from_is_sent_in_utc_whole_seconds(source_tempo, admin):
    moment = datetime(2025, 3, 5, 21, 0, 30, 999_000, tzinfo=timezone(timedelta(hours=9)))
    assert tempo_instant(moment) == "2025-03-05T12:00:30Z"
    list(source_tempo.updated_worklog_pages(moment))
    (row,) = [r for r in admin.stats()["requests"] if r["endpoint"] == LIST]
    assert row["status"] == 200  # the sandbox refuses fractions on the GET
