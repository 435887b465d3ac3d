"""Issue 5, end to end: bad source records are set aside with a reason and the day goes on.

The sandbox lists raw records among the source's Tempo worklogs of a day (its injection route),
so the real job reads them over HTTP like any other page. Which record gets which reason, case
by case, is proven on DuckDB alone in tests/replication/test_extract.py; here one record of each
kind travels through the whole job, next to a normal day, and the rest of the day must sync.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest

from cli.main import main
from tests.support.sandbox import follow_pages
from tests.support.sync import SyncHarness

DAY = date(2025, 3, 5)
# An id no generated worklog has: theirs are the days since 1970 times a million, plus n.
FIRST_INJECTED_ID = 9_000_000_001


def _source_listing(harness: SyncHarness) -> list[dict[str, Any]]:
    with harness.tempo("source") as tempo:
        return follow_pages(tempo, "/4/worklogs", **{"from": DAY, "to": DAY, "limit": 5000})


def _like(template: dict[str, Any], offset: int, **changes: Any) -> dict[str, Any]:
    """A copy of a real source worklog under a new id; a change to None leaves the field out."""
    record = {**template, "tempoWorklogId": FIRST_INJECTED_ID + offset, **changes}
    return {key: value for key, value in record.items() if value is not None}


def _malformed(template: dict[str, Any]) -> list[tuple[object, str]]:
    """One record of each kind a real site could send by mistake, with the reason it earns."""
    return [
        (_like(template, 0, author=None), "author.accountId is missing"),
        (_like(template, 1, timeSpentSeconds=None), "timeSpentSeconds is missing"),
        (_like(template, 2, timeSpentSeconds=0), "timeSpentSeconds is missing or not above 0"),
        (_like(template, 3, timeSpentSeconds=-900), "timeSpentSeconds is missing or not above 0"),
        (_like(template, 4, startDate="2025-02-30"), "startDate is missing or not a valid"),
        (_like(template, 5, startTime="24:61:00"), "startTime is not a valid HH:mm:ss time"),
        (_like(template, 6, issue={"id": str(template["issue"]["id"])}), "issue.id is missing"),
        (_like(template, 7, timeSpentSeconds="3600"), "timeSpentSeconds is missing"),
        (_like(template, 8, description="x" * 40_000), "description is longer than 32,767 characters"),
        (_like(template, 9, tempoWorklogId=None), "tempoWorklogId is missing"),
        # Not even an object: a page whose results hold a bare string.
        ("tempoWorklogId=9000000011", "tempoWorklogId is missing"),
    ]


def test_malformed_records_are_quarantined_with_a_reason_while_the_rest_of_the_day_syncs(
    harness: SyncHarness,
) -> None:
    with harness.sandbox.admin() as admin:
        scenarios = {s["tempo_id"]: s for s in admin.scenarios("source", DAY, DAY) if s["visible"]}
        template = next(
            w for w in _source_listing(harness) if scenarios[w["tempoWorklogId"]]["scenario"] == "normal"
        )
        malformed = _malformed(template)
        assert admin.inject_worklogs("source", DAY, [record for record, _ in malformed]) == len(malformed)
    assert len(_source_listing(harness)) == len(scenarios) + len(malformed)

    result = harness.run(DAY)
    assert result.success  # a malformed record does not fail the run
    (extracted,) = result.asset_materializations_for_node("source_worklogs")
    assert extracted.metadata["quarantined"].value == len(malformed)

    quarantined = [
        (json.loads(payload), reason)
        for payload, reason in harness.query("select payload, reason from raw.quarantine")
    ]
    assert len(quarantined) == len(malformed)
    for record, reason in malformed:
        (recorded,) = [found for payload, found in quarantined if payload == record]
        assert recorded.startswith(reason), (record, recorded)
    # The rest of the day: every real worklog synced or parked exactly as documented.
    assert harness.outcomes() == {tempo_id: s["expected"] for tempo_id, s in scenarios.items()}
    with harness.sandbox.admin() as admin:
        created = admin.changed_worklogs("destination")
    assert len(created) == sum(1 for s in scenarios.values() if s["expected"] == "synced") > 20
    assert harness.scalar("select count(*) from raw.source_worklogs") == len(scenarios)

    # Still bad on the next run: quarantined again, nothing sent, nothing created twice.
    assert harness.run(DAY).success
    assert harness.scalar("select count(*) from raw.quarantine") == len(malformed)
    with harness.sandbox.admin() as admin:
        assert len(admin.changed_worklogs("destination")) == len(created)


def test_attribute_keys_the_destination_lacks_are_dropped_by_name_and_the_worklog_syncs(
    harness: SyncHarness, capsys: pytest.CaptureFixture[str]
) -> None:
    # DESIGN: an attribute value whose key the destination's Tempo does not define cannot be sent,
    # so it is dropped and its key recorded, rather than parking the whole worklog.
    with harness.sandbox.admin() as admin:
        scenarios = {s["tempo_id"]: s for s in admin.scenarios("source", DAY, DAY) if s["visible"]}
        listing = _source_listing(harness)
        template = next(w for w in listing if scenarios[w["tempoWorklogId"]]["scenario"] == "work_attributes")
        values = template["attributes"]["values"]
        extra = [{"key": "_Mood_", "value": "calm"}, {"key": "_Invoice_", "value": "INV-7"}]
        record = _like(template, 0, attributes={**template["attributes"], "values": values + extra})
        admin.inject_worklogs("source", DAY, [record])

    assert harness.run(DAY).success
    rows = dict(
        harness.query(
            "select tempo_worklog_id, dropped_attributes::varchar from replica.worklogs"
            " where dropped_attributes::varchar <> '[]'"
        )
    )
    assert {tempo_id: json.loads(keys) for tempo_id, keys in rows.items()} == {
        template["tempoWorklogId"]: ["_ExternalRef_"],
        record["tempoWorklogId"]: ["_ExternalRef_", "_Mood_", "_Invoice_"],
    }
    copy_of = dict(
        harness.query(
            "select tempo_worklog_id, destination_tempo_worklog_id from sync.worklog_links"
            " where state = 'created' and tempo_worklog_id in (?, ?)",
            [template["tempoWorklogId"], record["tempoWorklogId"]],
        )
    )
    with harness.tempo("destination") as tempo:
        copy = tempo.get(f"/4/worklogs/{copy_of[record['tempoWorklogId']]}").json()
        twin = tempo.get(f"/4/worklogs/{copy_of[template['tempoWorklogId']]}").json()
    # Nothing else is lost: the attributes the destination knows, and every other field, with the
    # same author and issue as the copy of the worklog it was made from.
    kept = [value for value in values if value["key"] != "_ExternalRef_"]
    assert copy["attributes"]["values"] == twin["attributes"]["values"] == kept
    assert (copy["author"], copy["issue"]) == (twin["author"], twin["issue"])
    # The trace names what was dropped, and says so when nothing was.
    assert main(["trace", str(record["tempoWorklogId"])]) == 0
    assert "  dropped attributes  _ExternalRef_, _Mood_, _Invoice_\n" in capsys.readouterr().out
    plain = harness.scalar(
        "select min(tempo_worklog_id) from replica.worklogs where dropped_attributes::varchar = '[]'"
    )
    assert main(["trace", str(plain)]) == 0
    assert "  dropped attributes  -\n" in capsys.readouterr().out
    for field in ("startDate", "startTime", "timeSpentSeconds", "billableSeconds", "description"):
        assert copy.get(field) == record.get(field), field
