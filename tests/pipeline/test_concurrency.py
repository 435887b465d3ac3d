"""Runs at once, as the schedule, the sensor, a backfill and a person at a terminal would start them,
on one DuckDB file and one Dagster instance (the shipped dagster.yaml): they wait for each other,
none fails on the DuckDB lock, and nothing is created twice. The fast form starts two overlapping
runs; the full form all four."""

from __future__ import annotations

from datetime import date

import pytest

from tests.support.cli import shared_instance_environment, start_run

RANGES = [
    (date(2025, 3, 4), date(2025, 3, 7)),
    (date(2025, 3, 3), date(2025, 3, 5)),
    (date(2025, 3, 5), date(2025, 3, 5)),
    (date(2025, 3, 7), date(2025, 3, 7)),
]


@pytest.mark.slow
@pytest.mark.parametrize("runs_at_once", [2, pytest.param(4, marks=pytest.mark.full)])
def test_overlapping_runs_at_once_finish_without_a_lock_error_or_a_duplicate(harness, tmp_path, runs_at_once):
    environ = shared_instance_environment(harness, tmp_path / "dagster_home")
    ranges = RANGES[:runs_at_once]
    runs = [start_run(environ, tmp_path, first, last) for first, last in ranges]
    outputs = [run.communicate(timeout=280) for run in runs]
    for run, (_, stderr) in zip(runs, outputs, strict=True):
        assert run.returncode == 0, stderr[-2000:]
        assert "lock" not in stderr.lower()
    assert harness.query("select status, count(*) from lineage.runs group by 1") == [
        ("succeeded", runs_at_once)
    ]
    created = harness.scalar("select count(*) from sync.worklog_links where state = 'created'")
    assert harness.scalar("select count(*) from sync.worklog_links where state <> 'created'") == 0
    with harness.sandbox.admin() as admin:
        destination = admin.changed_worklogs("destination")
    assert len(destination) == created
    assert created == harness.scalar(
        "select count(distinct destination_tempo_worklog_id) from sync.worklog_links"
    )
    synced_days = {row[0].isoformat() for row in harness.query(
        "select distinct r.work_date from replica.worklogs r"
        " join sync.worklog_links l using (tempo_worklog_id)"
    )}  # fmt: skip
    assert synced_days == {"2025-03-03", "2025-03-04", "2025-03-05", "2025-03-06", "2025-03-07"}
