"""The data-quality rules, each passing on good data and failing on crafted bad data."""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import pytest

from replication import checks
from replication.scope import Scope
from resources.duckdb_file import migrate

DAY = date(2025, 3, 5)
SCOPE = Scope(DAY, DAY)


@pytest.fixture
def connection(tmp_path):
    with duckdb.connect(str(tmp_path / "w.duckdb")) as connection:
        migrate(connection)
        yield connection


def _raw(connection, tempo_id: int, day: date = DAY) -> None:
    connection.execute(
        "insert into raw.source_worklogs values (?, ?, 10001, 'a', '09:00:00', 3600, 3600, 'x',"
        " '2025-03-05T10:00:00Z', '2025-03-05T10:00:00Z', '[]', null, '{}', 'run-1', current_timestamp)",
        [tempo_id, day],
    )


def _replica(connection, tempo_id: int, **changes: object) -> None:
    row: dict[str, object] = {
        "tempo_worklog_id": tempo_id, "source_site": "site", "work_date": DAY, "status": "ready",
        "park_reason": None, "park_detail": None, "author_rule": "same_account",
        "source_author_account_id": "a", "source_author_email": "ana.lima@client.example",
        "source_author_name": "Ana", "destination_author_account_id": "a",
        "destination_author_email": "ana.lima@client.example", "author_time_zone": "UTC",
        "issue_rule": "same_key", "source_issue_id": 10001, "source_issue_key": "ACME-1",
        "destination_issue_id": 20001, "destination_issue_key": "ACME-1", "description": "x",
        "created_at": "2025-03-05T10:00:00Z", "updated_at": "2025-03-05T10:00:00Z", "start_date": DAY,
        "start_time": "09:00:00", "time_spent_seconds": 3600, "billable_seconds": 3600,
        "remaining_estimate_seconds": None, "source_jira_worklog_id": None, "attributes": "[]",
        "dropped_attributes": "[]", "content_hash": "h", "first_run_id": "run-1", "last_run_id": "run-1",
        "transformed_at": "2025-03-05T11:00:00Z",
    }  # fmt: skip
    row.update(changes)
    placeholders = ", ".join("?" for _ in row)
    connection.execute(f"insert into replica.worklogs values ({placeholders})", list(row.values()))


def _link(connection, tempo_id: int, destination_id: int) -> None:
    connection.execute(
        "insert into sync.worklog_links (source_site, tempo_worklog_id, state, target, destination_issue_id,"
        " destination_tempo_worklog_id, content_hash, attempts, claimed_at, finished_at, claim_run_id,"
        " created_run_id, last_run_id) values ('site', ?, 'created', 'tempo', 20001, ?, 'h', 1,"
        " current_timestamp, current_timestamp, 'run-1', 'run-1', 'run-1')",
        [tempo_id, destination_id],
    )


def test_completeness_passes_when_every_extracted_worklog_has_its_row(connection):
    _raw(connection, 1)
    _replica(connection, 1)
    assert checks.replica_complete(connection, SCOPE).passed


def test_completeness_fails_on_a_missing_or_an_orphaned_row(connection):
    _raw(connection, 1)
    _replica(connection, 2)
    outcome = checks.replica_complete(connection, SCOPE)
    assert not outcome.passed
    assert outcome.figures["extracted_without_replica"] == 1
    assert outcome.figures["replica_without_source"] == 1
    assert sorted(outcome.figures["sample_ids"]) == [1, 2]


@pytest.mark.parametrize(
    ("changes", "rule"),
    [
        ({"time_spent_seconds": 0}, "time_spent_not_positive"),
        ({"start_date": date(2025, 3, 4)}, "start_date_not_the_partition"),
        ({"start_time": "9:00"}, "start_time_malformed"),
        ({"billable_seconds": -1}, "billable_negative"),
        ({"destination_author_account_id": None}, "ready_without_destination_author"),
        ({"destination_issue_id": None}, "ready_without_destination_issue"),
        ({"status": "parked"}, "parked_without_reason"),
    ],
)
def test_each_field_rule_fails_on_its_bad_value(connection, changes, rule):
    _replica(connection, 1)
    assert checks.replica_fields_valid(connection, SCOPE).passed
    _replica(connection, 2, **changes)
    outcome = checks.replica_fields_valid(connection, SCOPE)
    assert not outcome.passed
    assert outcome.figures[rule] == 1
    assert outcome.figures["sample_ids"] == [2]


def test_a_destination_worklog_linked_twice_is_caught(connection):
    _link(connection, 1, 9001)
    _link(connection, 2, 9002)
    assert checks.no_destination_worklog_claimed_twice(connection).passed
    _link(connection, 3, 9001)
    outcome = checks.no_destination_worklog_claimed_twice(connection)
    assert not outcome.passed
    assert outcome.figures["sample"] == ["tempo worklog 9001: 2 links"]


def test_the_parked_share_warns_above_the_threshold_with_masked_authors(connection):
    _replica(connection, 1)
    _replica(connection, 2, status="parked", park_reason="email_hidden")
    assert checks.parked_share(connection, SCOPE, 0.5).passed
    outcome = checks.parked_share(connection, SCOPE, 0.4)
    assert not outcome.passed
    assert outcome.figures["parked_share"] == 0.5
    assert outcome.figures["parked_by_reason"] == {"email_hidden": 1}
    assert outcome.figures["top_authors"] == {"a***@client.example": 1}
    assert "ana.lima" not in str(outcome.figures)


def test_reconciliation_finds_missing_and_changed_destination_worklogs(connection):
    _replica(connection, 1)
    _replica(connection, 2, time_spent_seconds=1800)
    _link(connection, 1, 9001)
    _link(connection, 2, 9002)
    expected = checks.linked_seconds(connection, SCOPE, "tempo")
    assert expected == [checks.LinkedSeconds(20001, "a", (9001, 9002), 5400)]
    assert checks.reconcile(expected, {9001: ("a", 3600), 9002: ("a", 1800)}).passed
    missing = checks.reconcile(expected, {9001: ("a", 3600)})
    assert not missing.passed
    assert missing.figures["sample_missing_ids"] == [9002]
    edited = checks.reconcile(expected, {9001: ("a", 3600), 9002: ("a", 900)})
    assert edited.figures["seconds_mismatches"] == ["issue 20001: 4500 s on the destination, 5400 s synced"]
    moved = checks.reconcile(expected, {9001: ("b", 3600), 9002: ("a", 1800)})
    assert not moved.passed


def test_freshness_counts_days_since_the_newest_synced_work_date(connection):
    assert not checks.fresh(connection, date(2025, 3, 10), 3).passed  # nothing synced yet
    connection.execute(
        "insert into lineage.runs (run_id, job_name, partition_start, partition_end, status, started_at,"
        " finished_at, counts, code_version)"
        " values ('r', 'sync_worklogs', ?, ?, 'succeeded', current_timestamp, current_timestamp, '{}', '1')",
        [date(2025, 3, 1), date(2025, 3, 7)],
    )
    assert checks.fresh(connection, date(2025, 3, 10), 3).passed
    late = checks.fresh(connection, date(2025, 3, 11), 3)
    assert not late.passed
    assert late.figures == {"newest_synced_work_date": "2025-03-07", "age_days": 4, "allowed_days": 3}


def test_nothing_is_in_doubt_until_a_row_is_unconfirmed_or_pending_for_long(connection):
    _link(connection, 1, 501)
    _link(connection, 2, 502)
    assert checks.nothing_in_doubt(connection, timedelta(days=1)).passed
    connection.execute("update sync.worklog_links set state = 'pending' where tempo_worklog_id = 1")
    assert checks.nothing_in_doubt(connection, timedelta(days=1)).passed  # a run may still settle it
    connection.execute(
        "update sync.worklog_links set claimed_at = current_timestamp - interval 2 day"
        " where tempo_worklog_id = 1"
    )
    connection.execute("update sync.worklog_links set state = 'unconfirmed' where tempo_worklog_id = 2")
    outcome = checks.nothing_in_doubt(connection, timedelta(days=1))
    assert not outcome.passed
    assert outcome.figures["sample_unconfirmed_ids"] == [2]
    assert outcome.figures["sample_pending_ids"] == [1]
