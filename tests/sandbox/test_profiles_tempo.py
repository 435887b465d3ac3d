"""Tempo's profile switches over real HTTP: each value, and what a client sees of it."""

from __future__ import annotations

import re
from datetime import date

import pytest

from sandbox.config import Profile
from tests.sandbox.test_tempo_api import a_destination_author, new_worklog

DAY = date(2025, 3, 5)
ISSUE = 20060  # a destination issue
PADDED = "  Notes with spaces around them \t\n"
ABSENT = object()
DOCUMENTED_START_TIME = r"([0-1]?[0-9]|2[0-3])(:[0-5][0-9])(:[0-5][0-9])"  # Tempo's startTime pattern


def start(start_sandbox, connect, site: str = "destination", **switches: str):
    """A sandbox under the profile, its site's clients and one active destination author."""
    server = start_sandbox(profile=Profile(**switches))
    with server.admin() as admin:
        author = a_destination_author(admin)
    return server, connect(server, site), author


def without(body: dict[str, object], *keys: str) -> dict[str, object]:
    return {key: value for key, value in body.items() if key not in keys}


def source_scenario(server, connect, scenario: str) -> dict[str, object]:
    """The generated source worklog of one scenario on DAY, as Tempo lists it."""
    with server.admin() as admin:
        rows = admin.scenarios("source", DAY, DAY)
    (tempo_id,) = [w["tempo_id"] for w in rows if w["scenario"] == scenario]
    return connect(server, "source").tempo.get(f"/4/worklogs/{tempo_id}").json()


@pytest.mark.parametrize(("reading", "read_back"), [("midnight", "00:00:00"), ("omitted", ABSENT)])
def test_a_write_without_a_start_time(start_sandbox, connect, reading, read_back):
    server, destination, author = start(start_sandbox, connect, missing_start_time=reading)
    body = without(new_worklog(author, ISSUE), "startTime")
    created = destination.tempo.post("/4/worklogs", json=body).json()
    item = without(body, "issueId")
    (bulk,) = destination.tempo.post(f"/4/worklogs/issue/{ISSUE}/bulk", json=[item]).json()
    path = f"/4/worklogs/{created['tempoWorklogId']}"
    updated = destination.tempo.put(path, json=item).json()
    fetched = destination.tempo.get(path).json()
    for worklog in (created, bulk, updated, fetched):
        assert worklog.get("startTime", ABSENT) == read_back
    # The generated data is not a write: its worklog without a start time stays without one.
    assert "startTime" not in source_scenario(server, connect, "no_start_time")


@pytest.mark.parametrize(
    ("reading", "shown"),
    [("HH:mm:ss", ["08:05:00", "00:00:00", "18:30:00"]), ("H:mm:ss", ["8:05:00", "0:00:00", "18:30:00"])],
)
def test_start_time_format(start_sandbox, connect, reading, shown):
    server, destination, author = start(start_sandbox, connect, start_time_format=reading)
    created = [
        destination.tempo.post("/4/worklogs", json=new_worklog(author, ISSUE, startTime=sent)).json()
        for sent in ("08:05:00", "0:00:00", "18:30:00")
    ]
    assert [w["startTime"] for w in created] == shown
    listed = destination.tempo.get("/4/worklogs", params={"from": "2025-03-18", "to": "2025-03-18"}).json()
    ids = {w["tempoWorklogId"] for w in created}
    assert sorted(w["startTime"] for w in listed["results"] if w["tempoWorklogId"] in ids) == sorted(shown)
    hours = [w["startTime"].split(":")[0] for w in connect(server, "source").tempo.get(
        "/4/worklogs", params={"from": DAY.isoformat(), "to": DAY.isoformat()}
    ).json()["results"] if "startTime" in w]  # fmt: skip
    padded = reading == "HH:mm:ss"
    assert all((len(hour) == 2) if padded else (str(int(hour)) == hour) for hour in hours)
    assert all(re.fullmatch(DOCUMENTED_START_TIME, w["startTime"]) for w in created)


@pytest.mark.parametrize(
    ("reading", "padded", "blank"),
    [("kept", PADDED, " \t\n"), ("trimmed", "Notes with spaces around them", ABSENT)],
)
def test_description_whitespace_on_every_write(start_sandbox, connect, reading, padded, blank):
    server, destination, author = start(start_sandbox, connect, description_whitespace=reading)
    body = new_worklog(author, ISSUE, description=PADDED)
    created = destination.tempo.post("/4/worklogs", json=body).json()
    item = without(body, "issueId")
    (bulk,) = destination.tempo.post(f"/4/worklogs/issue/{ISSUE}/bulk", json=[item]).json()
    path = f"/4/worklogs/{created['tempoWorklogId']}"
    updated = destination.tempo.put(path, json={**item, "description": " \t\n"}).json()
    assert created["description"] == bulk["description"] == padded
    assert updated.get("description", ABSENT) == destination.tempo.get(path).json().get("description", ABSENT)
    assert updated.get("description", ABSENT) == blank
    # The source's generated padded description is data, not a write: served as generated.
    assert source_scenario(server, connect, "padded_description")["description"] == PADDED


@pytest.mark.parametrize(("reading", "rendered"), [("omitted", ABSENT), ("null", None), ("empty", "")])
def test_absent_description(start_sandbox, connect, reading, rendered):
    server, destination, author = start(start_sandbox, connect, absent_description=reading)
    created = destination.tempo.post("/4/worklogs", json=without(new_worklog(author, ISSUE), "description"))
    fetched = destination.tempo.get(f"/4/worklogs/{created.json()['tempoWorklogId']}").json()
    generated = source_scenario(server, connect, "no_description")
    for worklog in (created.json(), fetched, generated):
        assert worklog.get("description", ABSENT) == rendered
    given = destination.tempo.post("/4/worklogs", json=new_worklog(author, ISSUE, description="")).json()
    assert given["description"] == ""  # an empty description that was sent is not an absent one


@pytest.mark.parametrize(("reading", "defaulted"), [("defaulted", True), ("omitted", False)])
def test_billable_when_a_create_leaves_it_out(start_sandbox, connect, reading, defaulted):
    _, destination, author = start(start_sandbox, connect, billable=reading)
    created = destination.tempo.post("/4/worklogs", json=new_worklog(author, ISSUE)).json()
    assert created.get("billableSeconds") == (3600 if defaulted else None)
    assert ("billableSeconds" in created) == defaulted
    given = destination.tempo.post("/4/worklogs", json=new_worklog(author, ISSUE, billableSeconds=0)).json()
    assert given["billableSeconds"] == 0


@pytest.mark.parametrize(
    ("reading", "status", "created"),
    [("refused", 400, 0), ("applied_then_400", 400, 2), ("applied_then_200", 200, 2)],
)
def test_a_bulk_request_with_bad_items(start_sandbox, connect, reading, status, created):
    server, destination, author = start(start_sandbox, connect, bulk_with_bad_items=reading)
    with server.admin() as admin:
        inactive = next(a for a in admin.accounts("destination") if not a["active"])["account_id"]
    item = {"authorAccountId": author, "startDate": "2025-03-18", "timeSpentSeconds": 60}
    items = [item, {**item, "authorAccountId": inactive}, {**item, "timeSpentSeconds": 120}]
    response = destination.tempo.post(f"/4/worklogs/issue/{ISSUE}/bulk", json=items)
    assert response.status_code == status
    if status == 400:
        (error,) = response.json()["errors"]
        assert error["message"].startswith("worklogs[1]:")
        assert "is inactive" in error["message"]
    else:
        assert [w["timeSpentSeconds"] for w in response.json()] == [60, 120]  # in request order
    with server.admin() as admin:
        stored = admin.changed_worklogs("destination")
    assert sorted(w["time_spent"] for w in stored) == [60, 120][:created]


@pytest.mark.parametrize("reading", ["refused", "applied_then_400", "applied_then_200"])
def test_bulk_variants_agree_without_bad_items_and_on_structural_problems(start_sandbox, connect, reading):
    server, destination, author = start(start_sandbox, connect, bulk_with_bad_items=reading)
    item = {"authorAccountId": author, "startDate": "2025-03-18", "timeSpentSeconds": 60}
    for path, body in (
        (f"/4/worklogs/issue/{ISSUE}/bulk", [item] * 51),
        (f"/4/worklogs/issue/{ISSUE}/bulk", item),
        ("/4/worklogs/issue/123/bulk", [item]),
    ):
        assert destination.tempo.post(path, json=body).status_code == 400
    with server.admin() as admin:
        assert admin.changed_worklogs("destination") == []
    good = destination.tempo.post(f"/4/worklogs/issue/{ISSUE}/bulk", json=[item, item])
    assert good.status_code == 200
    assert len(good.json()) == 2


@pytest.mark.parametrize(
    ("reading", "status", "content_type"),
    [
        ("listed", 200, "application/json"),
        ("refused", 403, "text/html"),
        ("not_found", 404, "application/json"),
    ],
)
def test_permission_roles(start_sandbox, connect, reading, status, content_type):
    _, destination, _ = start(start_sandbox, connect, permission_roles=reading)
    response = destination.tempo.get("/4/permission-roles")
    assert response.status_code == status
    assert response.headers["content-type"].startswith(content_type)
    if reading == "listed":
        assert response.json()["results"][0]["permittedUsers"]
    if reading == "not_found":
        assert response.json()["errors"]


@pytest.mark.parametrize("reading", ["list", "object"])
def test_tempo_error_shape(start_sandbox, connect, reading):
    _, destination, _ = start(start_sandbox, connect, tempo_error_shape=reading)
    refused = destination.tempo.post("/4/worklogs", json={}).json()["errors"]
    unknown_path = destination.tempo.get("/4/nothing-here").json()["errors"]
    if reading == "list":
        assert len(refused) > 1
        assert all(set(error) == {"message"} for error in refused)
        assert unknown_path == [{"message": "No such endpoint."}]
    else:
        assert set(refused) == {"message"}
        assert refused["message"].count("; ") >= 1  # several problems, one message
        assert "'startDate' is required" in refused["message"]
        assert unknown_path == {"message": "No such endpoint."}


@pytest.mark.parametrize(("reading", "kept"), [("reset", False), ("kept", True)])
def test_a_put_that_leaves_optional_fields_out(start_sandbox, connect, reading, kept):
    _, destination, author = start(start_sandbox, connect, put_omitted_fields=reading)
    activity = [{"key": "_Activity_", "value": "design"}]
    body = new_worklog(author, ISSUE, billableSeconds=1800, attributes=activity)
    path = f"/4/worklogs/{destination.tempo.post('/4/worklogs', json=body).json()['tempoWorklogId']}"
    required = {"authorAccountId": author, "startDate": "2025-03-19", "timeSpentSeconds": 5400}
    updated = destination.tempo.put(path, json=required).json()
    assert destination.tempo.get(path).json() == updated
    assert (updated["startDate"], updated["timeSpentSeconds"]) == ("2025-03-19", 5400)
    if kept:
        assert (updated["startTime"], updated["billableSeconds"]) == ("09:30:00", 1800)
        assert (updated["description"], updated["attributes"]["values"]) == (body["description"], activity)
    else:  # a full replacement, as the document has it
        assert (updated["startTime"], updated["billableSeconds"]) == ("00:00:00", 5400)
        assert ("description" in updated, updated["attributes"]["values"]) == (False, [])
    # What the body gives is written under either reading.
    given = destination.tempo.put(path, json={**required, "description": "", "billableSeconds": 60}).json()
    assert (given["description"], given["billableSeconds"]) == ("", 60)
