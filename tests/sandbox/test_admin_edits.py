"""Changes made by a person through the inspection surface: edits and deletions of worklogs,
generated or created by a client, as the APIs then see them."""

from __future__ import annotations

from datetime import date

import pytest

from tests.conftest import TEST_CLOCK
from tests.sandbox.test_jira_api import ADF, post_worklog
from tests.sandbox.test_jira_changes import NOW_MS, changes, feed, spent
from tests.sandbox.test_tempo_api import a_destination_author, new_worklog

DAY = date(2025, 3, 5)
NEXT_DAY = date(2025, 3, 6)


def normal(admin, index: int = 0) -> dict:
    """A visible ordinary source worklog of DAY with a start time, a description and billable time."""
    rows = [w for w in admin.scenarios("source", DAY, DAY) if w["scenario"] == "normal" and w["visible"]]
    return rows[index]


def tempo_ids_on(tempo, day: date) -> set[int]:
    params = {"from": day.isoformat(), "to": day.isoformat(), "limit": 1000}
    return {w["tempoWorklogId"] for w in tempo.get("/4/worklogs", params=params).json()["results"]}


def test_an_edit_of_a_generated_worklog_moves_it_across_dates(source, admin):
    worklog = normal(admin)
    issue = str(worklog["issue_id"])
    spent_before = spent(source.jira, issue)
    record = admin.edit_worklog(
        "source", worklog["tempo_id"], description="changed later", time_spent=4500,
        start_date=NEXT_DAY.isoformat(), start_time="07:15:00",
    )  # fmt: skip
    assert (record["description"], record["time_spent"]) == ("changed later", 4500)
    assert (record["start_date"], record["start_time"]) == ("2025-03-06", "07:15:00")
    assert (record["generated_day"], record["deleted"], record["deleted_at"]) == ("2025-03-05", False, None)
    assert record["updated_at"] == "2025-03-20T12:00:00Z"
    assert record["created_at"] == worklog["created_at"]
    assert (record["tempo_id"], record["jira_id"]) == (worklog["tempo_id"], worklog["jira_id"])
    assert admin.changed_worklogs("source") == [record]

    tempo = source.tempo.get(f"/4/worklogs/{worklog['tempo_id']}").json()
    assert (tempo["description"], tempo["timeSpentSeconds"]) == ("changed later", 4500)
    assert (tempo["startDate"], tempo["startTime"], tempo["updatedAt"]) == (
        "2025-03-06", "07:15:00", "2025-03-20T12:00:00Z",
    )  # fmt: skip
    assert tempo["billableSeconds"] == worklog["billable"]  # only the fields given change
    assert worklog["tempo_id"] not in tempo_ids_on(source.tempo, DAY)
    assert worklog["tempo_id"] in tempo_ids_on(source.tempo, NEXT_DAY)
    recent = source.tempo.get("/4/worklogs", params={"updatedFrom": "2025-03-20T12:00:00Z"}).json()
    assert [w["tempoWorklogId"] for w in recent["results"]] == [worklog["tempo_id"]]

    jira = source.jira.get(f"/rest/api/3/issue/{issue}/worklog/{worklog['jira_id']}").json()
    assert jira["started"] == f"2025-03-06T07:15:00.000{record['utc_offset']}"
    assert jira["comment"]["content"][0]["content"][0]["text"] == "changed later"
    assert spent(source.jira, issue) == spent_before - worklog["time_spent"] + 4500
    admin.advance_clock(60)
    assert changes(feed(source.jira, "updated", NOW_MS - 1)) == {worklog["jira_id"]: NOW_MS}


def test_a_move_to_another_issue_keeps_the_worklog_and_its_ids(source, admin):
    worklog = normal(admin)
    old_issue = str(worklog["issue_id"])
    new_key = next(
        k for k in ("ACME-1", "ACME-2") if source.jira.get(f"/rest/api/3/issue/{k}").json()["id"] != old_issue
    )
    new_issue = source.jira.get(f"/rest/api/3/issue/{new_key}").json()["id"]
    before = spent(source.jira, old_issue), spent(source.jira, new_issue)
    record = admin.edit_worklog("source", worklog["tempo_id"], issue_key=new_key.lower())
    assert (record["issue_key"], record["issue_id"]) == (new_key, int(new_issue))
    assert source.tempo.get(f"/4/worklogs/{worklog['tempo_id']}").json()["issue"]["id"] == int(new_issue)
    assert source.jira.get(f"/rest/api/3/issue/{old_issue}/worklog/{worklog['jira_id']}").status_code == 404
    moved = source.jira.get(f"/rest/api/3/issue/{new_key}/worklog/{worklog['jira_id']}")
    assert moved.json()["issueId"] == new_issue
    time = worklog["time_spent"]
    assert (spent(source.jira, old_issue), spent(source.jira, new_issue)) == (
        before[0] - time,
        before[1] + time,
    )


def test_a_new_author_brings_their_time_zone(source, admin):
    worklog = normal(admin)
    people = admin.people()
    other = next(
        p["source"] for p in people
        if p["kind"] == "normal" and p["source"]["account_id"] != worklog["author_account_id"]
        and p["source"]["time_zone"] == "Asia/Tokyo"
    )  # fmt: skip
    record = admin.edit_worklog("source", worklog["tempo_id"], author_account_id=other["account_id"])
    assert record["author_account_id"] == other["account_id"]
    assert record["utc_offset"] == "+0900"
    assert record["jira_author_account_id"] == worklog["jira_author_account_id"]  # still Tempo's app
    tempo = source.tempo.get(f"/4/worklogs/{worklog['tempo_id']}").json()
    assert tempo["author"]["accountId"] == other["account_id"]
    assert tempo["startDateTimeUtc"] == record["start_utc"]


def test_attributes_and_clearing_optional_fields(source, admin):
    worklog = normal(admin)
    admin.edit_worklog(
        "source", worklog["tempo_id"], attributes={"_Activity_": "design", "_Overtime_": "true"},
        start_time=None, billable=None, description=None,
    )  # fmt: skip
    tempo = source.tempo.get(f"/4/worklogs/{worklog['tempo_id']}").json()
    assert tempo["attributes"]["values"] == [
        {"key": "_Activity_", "value": "design"},
        {"key": "_Overtime_", "value": "true"},
    ]
    assert not {"startTime", "billableSeconds", "description"} & set(tempo)
    jira = source.jira.get(f"/rest/api/3/issue/{worklog['issue_id']}/worklog/{worklog['jira_id']}").json()
    assert "comment" not in jira
    assert jira["started"].startswith(f"{worklog['start_date']}T00:00:00.000")
    admin.edit_worklog("source", worklog["tempo_id"], billable=0, attributes={})
    tempo = source.tempo.get(f"/4/worklogs/{worklog['tempo_id']}").json()
    assert (tempo["billableSeconds"], tempo["attributes"]["values"]) == (0, [])


def test_a_deletion_of_a_generated_worklog(source, admin):
    worklog = normal(admin)
    issue = str(worklog["issue_id"])
    before = spent(source.jira, issue)
    admin.delete_worklog("source", worklog["tempo_id"])
    assert source.tempo.get(f"/4/worklogs/{worklog['tempo_id']}").status_code == 404
    assert source.jira.get(f"/rest/api/3/issue/{issue}/worklog/{worklog['jira_id']}").status_code == 404
    assert worklog["tempo_id"] not in tempo_ids_on(source.tempo, DAY)
    assert spent(source.jira, issue) == before - worklog["time_spent"]
    (record,) = admin.changed_worklogs("source")
    assert (record["deleted"], record["deleted_at"]) == (True, "2025-03-20T12:00:00Z")
    admin.advance_clock(60)
    assert changes(feed(source.jira, "deleted", 0)) == {worklog["jira_id"]: NOW_MS}
    with pytest.raises(RuntimeError, match="404"):
        admin.delete_worklog("source", worklog["tempo_id"])
    with pytest.raises(RuntimeError, match="404"):
        admin.edit_worklog("source", worklog["tempo_id"], description="too late")


def test_a_third_party_edits_and_deletes_copies_on_the_destination(destination, admin):
    created = destination.tempo.post(
        "/4/worklogs", json=new_worklog(a_destination_author(admin), 20060)
    ).json()
    record = admin.edit_worklog(
        "destination", created["tempoWorklogId"], description="by hand", time_spent=900
    )
    assert (record["description"], record["time_spent"], record["generated_day"]) == ("by hand", 900, None)
    by_jira = admin.edit_worklog("destination", record["jira_id"], by="jira", start_date="2025-03-17")
    assert (by_jira["tempo_id"], by_jira["start_date"]) == (created["tempoWorklogId"], "2025-03-17")
    fetched = destination.tempo.get(f"/4/worklogs/{created['tempoWorklogId']}").json()
    assert (fetched["description"], fetched["startDate"]) == ("by hand", "2025-03-17")
    admin.delete_worklog("destination", record["jira_id"], by="jira")
    assert destination.tempo.get(f"/4/worklogs/{created['tempoWorklogId']}").status_code == 404


def test_a_destination_without_tempo_is_addressed_by_jira_id(start_sandbox, connect):
    server = start_sandbox(destination_tempo=False)
    jira = connect(server, "destination").jira
    body = {"started": "2025-03-18T09:00:00.000+0000", "timeSpentSeconds": 1200, "comment": ADF}
    created = post_worklog(jira, "ACME-1", body).json()
    path = f"/rest/api/3/issue/ACME-1/worklog/{created['id']}"
    with server.admin() as admin:
        with pytest.raises(RuntimeError, match=r"404.*by=jira"):
            admin.edit_worklog("destination", created["id"], description="x")
        with pytest.raises(RuntimeError, match=r"400.*no Tempo"):
            admin.edit_worklog("destination", created["id"], by="jira", attributes={"_Activity_": "design"})
        record = admin.edit_worklog(
            "destination", created["id"], by="jira", description="by hand", time_spent=600
        )
        assert (record["tempo_id"], record["comment"]) == (None, None)
        shown = jira.get(path).json()
        assert shown["comment"]["content"][0]["content"][0]["text"] == "by hand"
        assert shown["timeSpentSeconds"] == 600
        # The destination's own worklogs, generated, can be edited and deleted too.
        native = jira.get("/rest/api/3/issue/INT-1/worklog").json()["worklogs"][0]
        admin.edit_worklog("destination", native["id"], by="jira", time_spent=60)
        admin.delete_worklog("destination", native["id"], by="jira")
        admin.delete_worklog("destination", created["id"], by="jira")
        assert jira.get(path).status_code == 404
        admin.advance_clock(60)
    deleted = changes(feed(jira, "deleted", 0))
    assert deleted == {int(created["id"]): NOW_MS, int(native["id"]): NOW_MS}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({}, "give some of the fields"),
        ({"colour": "red"}, "unknown: ['colour']"),
        ({"start_date": "5.3.2025"}, "start_date is a date"),
        ({"start_time": "25:00:00"}, "start_time is HH:mm:ss"),
        ({"time_spent": 0}, "time_spent is a whole number of seconds above 0"),
        ({"time_spent": "1h"}, "time_spent is a whole number"),
        ({"billable": -1}, "billable is a whole number"),
        ({"description": 5}, "description is a string"),
        ({"issue_key": "NOPE-1"}, "issue_key names no issue of source"),
        ({"author_account_id": "nobody"}, "author_account_id names no account"),
        ({"attributes": {"_Activity_": "golf"}}, "Value 'golf' is not valid"),
        ({"attributes": [["_Activity_", "design"]]}, "attributes is an object"),
        ({"time_spent": 0, "billable": -1}, "time_spent is a whole number of seconds above 0; billable"),
    ],
)
def test_bad_edits_are_400_and_change_nothing(sandbox, admin, fields, message):
    worklog = normal(admin)
    with pytest.raises(RuntimeError, match=f"400.*{message}".replace("(", r"\(").replace("[", r"\[")):
        admin.edit_worklog("source", worklog["tempo_id"], **fields)
    assert admin.changed_worklogs("source") == []


def test_what_cannot_be_addressed(sandbox, admin):
    late = next(
        w for w in admin.scenarios("source", date(2025, 3, 19), date(2025, 3, 19))
        if w["scenario"] == "late_worklog"
    )  # fmt: skip
    assert not late["visible"]
    for site, worklog_id, by, status in (
        ("source", late["tempo_id"], "tempo", "404"),  # not logged yet at the sandbox clock
        ("source", 999, "tempo", "404"),
        ("source", 999, "jira", "404"),
        ("source", "abc", "tempo", "400"),
        ("source", normal(admin)["tempo_id"], "issue", "400"),
        ("moon", 1, "tempo", "404"),
    ):
        with pytest.raises(RuntimeError, match=status):
            admin.edit_worklog(site, worklog_id, by=by, description="x")
        with pytest.raises(RuntimeError, match=status):
            admin.delete_worklog(site, worklog_id, by=by)


def test_a_persons_edit_outlasts_the_generated_edit_still_to_come(source, admin):
    """An `edited_after_creation` worklog edited by a person before its generated edit is due keeps
    the person's version once the clock passes that edit."""
    now = TEST_CLOCK.strftime("%Y-%m-%dT%H:%M:%SZ")
    pending = next(
        w for w in admin.scenarios("source", date(2025, 3, 10), TEST_CLOCK.date())
        if w["scenario"] == "edited_after_creation" and w["created_at"] <= now < w["updated_at"]
    )  # fmt: skip
    admin.edit_worklog("source", pending["tempo_id"], description="mine")
    admin.freeze_clock(TEST_CLOCK.replace(day=25))
    shown = source.tempo.get(f"/4/worklogs/{pending['tempo_id']}").json()
    assert (shown["description"], shown["updatedAt"]) == ("mine", now)
    assert changes(feed(source.jira, "updated", NOW_MS - 1))[pending["jira_id"]] == NOW_MS
