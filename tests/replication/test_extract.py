"""Staging and publishing source pages in a real DuckDB file: malformed records are quarantined with
a reason while the rest of the range is stored, and a rerun replaces the range's slice."""

from __future__ import annotations

import json
from datetime import date

import duckdb
import pytest

from replication import extract
from resources.duckdb_file import migrate
from resources.http import RawPage

DAY = date(2025, 3, 5)


def _worklog(tempo_id: int, **changes: object) -> dict[str, object]:
    record: dict[str, object] = {
        "self": f"https://api.tempo.io/4/worklogs/{tempo_id}",
        "tempoWorklogId": tempo_id,
        "issue": {"self": "https://x.atlassian.net/rest/api/2/issue/10001", "id": 10001},
        "timeSpentSeconds": 3600,
        "billableSeconds": 3600,
        "startDate": "2025-03-05",
        "startTime": "9:30:00",
        "description": "Zürich",
        "createdAt": "2025-03-05T18:00:00Z",
        "updatedAt": "2025-03-05T18:00:00Z",
        "author": {"self": "https://x.atlassian.net/rest/api/2/user?accountId=a", "accountId": "712020:a"},
        "attributes": {"self": "...", "values": [{"key": "_Activity_", "value": "Dev"}]},
    }
    record.update(changes)
    return {key: value for key, value in record.items() if value is not None}


@pytest.fixture
def connection(tmp_path):
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as connection:
        migrate(connection)
        yield connection


MALFORMED = [
    (_worklog(2, tempoWorklogId="two"), "tempoWorklogId is missing or not a positive integer"),
    (_worklog(3, startDate="2025-02-30"), "startDate is missing or not a valid YYYY-MM-DD date"),
    (_worklog(4, startDate="2025-03-09"), "startDate 2025-03-09 is outside the requested range"),
    (_worklog(5, issue={"id": "10001"}), "issue.id is missing or not a positive integer"),
    (_worklog(6, author={"self": "x"}), "author.accountId is missing"),
    (_worklog(7, timeSpentSeconds=0), "timeSpentSeconds is missing or not above 0"),
    (_worklog(8, timeSpentSeconds=-60), "timeSpentSeconds is missing or not above 0"),
    (_worklog(9, startTime="25:00:00"), "startTime is not a valid HH:mm:ss time"),
    (_worklog(10, billableSeconds="1h"), "billableSeconds is not a whole number of seconds"),
    (_worklog(11, description=["a"]), "description is not text"),
    (_worklog(12, description="x" * 40_000), "description is longer than 32,767 characters"),
    (_worklog(13, createdAt="yesterday"), "createdAt or updatedAt is not a valid timestamp"),
]


def test_malformed_records_are_quarantined_with_a_reason_and_the_rest_goes_on(connection):
    good = [_worklog(1), _worklog(14, startTime=None, description=None, billableSeconds=None)]
    extract.stage_page(connection, "run-1", 0, good + [record for record, _ in MALFORMED], DAY, DAY)
    counts = extract.publish(connection, "run-1", DAY, DAY)
    assert (counts.read, counts.stored, counts.quarantined) == (14, 2, 12)
    reasons = dict(
        connection.execute("select payload ->> '$.tempoWorklogId', reason from raw.quarantine").fetchall()
    )
    for record, reason in MALFORMED:
        assert reasons[str(record["tempoWorklogId"])].startswith(reason)
    stored = connection.execute(
        "select tempo_worklog_id, start_time, billable_seconds, description, attributes::varchar"
        " from raw.source_worklogs order by 1"
    ).fetchall()
    assert stored == [
        (
            1,
            "09:30:00",
            3600,
            "Zürich",
            json.dumps([{"key": "_Activity_", "value": "Dev"}], separators=(",", ":")),
        ),
        (14, None, None, None, json.dumps([{"key": "_Activity_", "value": "Dev"}], separators=(",", ":"))),
    ]
    assert connection.execute("select count(*) from raw.extract_pages").fetchone() == (0,)


def _raw(records: list[dict[str, object]], count: int | None = None) -> RawPage:
    body = {"self": "x", "metadata": {"count": len(records)}, "results": records}
    return RawPage(json.dumps(body, ensure_ascii=False).encode(), len(records) if count is None else count)


def test_a_raw_page_is_staged_and_published_like_its_parsed_records(connection, tmp_path):
    records = [_worklog(1), _worklog(14, startTime=None, description='e\u0301 "q" 🙂'), MALFORMED[0][0]]
    columns = "tempo_worklog_id, start_time, description, attributes::varchar, payload::varchar"
    assert extract.stage_page(connection, "run-1", 0, _raw(records), DAY, DAY) == 3
    counts = extract.publish(connection, "run-1", DAY, DAY)
    with duckdb.connect(str(tmp_path / "parsed.duckdb")) as parsed:
        migrate(parsed)
        extract.stage_page(parsed, "run-1", 0, records, DAY, DAY)
        assert extract.publish(parsed, "run-1", DAY, DAY) == counts
        # The same values; only the JSON text's spacing differs (DuckDB writes it compact).
        for raw_row, parsed_row in zip(
            *(
                c.execute(f"select {columns} from raw.source_worklogs order by 1").fetchall()
                for c in (connection, parsed)
            ),
            strict=True,
        ):
            assert raw_row[:4] == parsed_row[:4]
            assert json.loads(raw_row[4]) == json.loads(parsed_row[4])
    assert (counts.stored, counts.quarantined) == (2, 1)


def test_a_raw_page_whose_count_disagrees_is_refused(connection):
    with pytest.raises(ValueError, match="says it holds 3 worklogs, but 2 were read"):
        extract.stage_page(connection, "run-1", 0, _raw([_worklog(1), _worklog(2)], count=3), DAY, DAY)
    with pytest.raises(ValueError, match="is not a JSON page of worklogs"):
        extract.stage_page(connection, "run-1", 0, RawPage(b'{"results": [', 1), DAY, DAY)


def test_a_rerun_replaces_the_slice_and_a_fixed_record_leaves_the_quarantine(connection):
    extract.stage_page(
        connection, "run-1", 0, [_worklog(1), _worklog(2), _worklog(3, timeSpentSeconds=0)], DAY, DAY
    )
    extract.publish(connection, "run-1", DAY, DAY)
    # Worklog 2 was deleted on the source, 3 was fixed, and page 1 repeats 1 with a later edit.
    extract.stage_page(connection, "run-2", 0, [_worklog(1), _worklog(3)], DAY, DAY)
    extract.stage_page(connection, "run-2", 1, [_worklog(1, timeSpentSeconds=4500)], DAY, DAY)
    counts = extract.publish(connection, "run-2", DAY, DAY)
    assert (counts.stored, counts.quarantined, counts.vanished) == (2, 0, 1)
    assert connection.execute(
        "select tempo_worklog_id, time_spent_seconds, extract_run_id from raw.source_worklogs order by 1"
    ).fetchall() == [(1, 4500, "run-2"), (3, 3600, "run-2")]
    assert connection.execute("select count(*) from raw.quarantine").fetchone() == (0,)


def test_jira_ids_are_recorded_once_known(connection):
    extract.stage_page(connection, "run-1", 0, [_worklog(1), _worklog(2)], DAY, DAY)
    extract.publish(connection, "run-1", DAY, DAY)
    assert extract.unmapped_jira_ids(connection, DAY, DAY) == [1, 2]
    extract.record_jira_ids(connection, {1: 100000000001})
    assert extract.unmapped_jira_ids(connection, DAY, DAY) == [2]


def test_a_file_belongs_to_one_source_site(connection):
    extract.claim_source_site(connection, "client.atlassian.net")
    extract.claim_source_site(connection, "client.atlassian.net")
    with pytest.raises(
        extract.SiteMismatchError, match=r"holds worklogs of the source site client\.atlassian\.net"
    ):
        extract.claim_source_site(connection, "other.atlassian.net")


def test_pages_of_a_run_that_failed_before_publishing_are_dropped(connection):
    connection.execute(
        "insert into lineage.runs (run_id, job_name, partition_start, partition_end, status, started_at,"
        " finished_at, counts, code_version, error) values ('failed-run', 'sync_worklogs', ?, ?, 'failed',"
        " current_timestamp, current_timestamp, '{}', '1', 'extract: boom')",
        [DAY, DAY],
    )
    extract.stage_page(connection, "failed-run", 0, [_worklog(1)], DAY, DAY)
    extract.stage_page(connection, "live-run", 0, [_worklog(2)], DAY, DAY)
    extract.drop_abandoned_pages(connection)
    assert connection.execute("select run_id from raw.extract_pages").fetchall() == [("live-run",)]
