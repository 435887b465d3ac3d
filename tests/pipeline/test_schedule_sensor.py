"""The schedule's tick picks the work date that just ended; the sensor finds late worklogs and asks
for exactly their work dates, once."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import dagster as dg
import httpx

from pipelines.schedules import daily_sync
from pipelines.sensors import OVERLAP, LateCursor, late_worklogs
from sandbox.config import CREDENTIALS
from tests.support.locks import hold_write_lock
from tests.support.sync import SyncHarness

DAY = date(2025, 3, 5)


def test_the_daily_tick_runs_the_work_date_that_just_ended(harness):
    schedule = harness.definitions().resolve_schedule_def(daily_sync.name)
    assert schedule.cron_schedule == "30 1 * * *"
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    context = dg.build_schedule_context(scheduled_execution_time=datetime(2025, 3, 6, 1, 30, tzinfo=UTC))
    result = schedule.evaluate_tick(context)
    assert [request.partition_key for request in result.run_requests or []] == ["2025-03-05"]


def _evaluate(harness: SyncHarness, cursor: str | None) -> dg.SensorResult:
    resources = harness.definitions().resources
    with dg.build_sensor_context(
        cursor=cursor,
        instance=harness.instance,
        resources={"source_tempo": resources["source_tempo"], "warehouse": resources["warehouse"]},
    ) as context:
        result = late_worklogs(context)
    assert isinstance(result, dg.SensorResult)
    return result


def _unhandled_days(harness: SyncHarness, since: datetime) -> set[str]:
    """The oracle: work dates of worklogs updated in the window that no run created or parked."""
    handled = {row[0] for row in harness.query("select tempo_worklog_id from sync.worklog_links")}
    handled |= {
        row[0]
        for row in harness.query("select tempo_worklog_id from replica.worklogs where status = 'parked'")
    }
    token = CREDENTIALS["source"].tempo_token
    with httpx.Client(
        base_url=harness.sandbox.urls.source.tempo, headers={"Authorization": f"Bearer {token}"}
    ) as c:
        body = c.get(
            "/4/worklogs", params={"updatedFrom": f"{since - OVERLAP:%Y-%m-%dT%H:%M:%SZ}", "limit": 5000}
        ).json()
    return {w["startDate"] for w in body["results"] if w["tempoWorklogId"] not in handled}


def test_late_worklogs_trigger_exactly_their_work_dates_and_only_once(harness):
    with harness.sandbox.admin() as admin:
        late = next(s for s in admin.scenarios("source", DAY, DAY) if s["scenario"] == "late_worklog")
        created = datetime.fromisoformat(late["created_at"].replace("Z", "+00:00"))
        admin.freeze_clock(created - timedelta(hours=1))
    assert harness.run(DAY).success  # the day is synced before its late worklog exists
    assert (
        harness.scalar(
            "select count(*) from raw.source_worklogs where tempo_worklog_id = ?", [late["tempo_id"]]
        )
        == 0
    )
    with harness.sandbox.admin() as admin:
        admin.freeze_clock(created + timedelta(minutes=5))

    since = created - timedelta(minutes=30)
    first = _evaluate(harness, LateCursor(since).dump())
    requested = {request.partition_key for request in first.run_requests or []}
    assert DAY.isoformat() in requested
    assert requested == _unhandled_days(harness, since)
    assert all(request.tags["tempo-sync/trigger"] == "late-worklogs" for request in first.run_requests or [])
    assert str(late["tempo_id"]) in LateCursor.parse(first.cursor).requested

    # The next tick re-reads the overlap but asks for nothing twice.
    second = _evaluate(harness, first.cursor)
    assert not second.run_requests

    # Running the late day links the worklog; a tick from scratch then does not ask for it again.
    assert harness.run(DAY).success
    assert (
        harness.scalar("select state from sync.worklog_links where tempo_worklog_id = ?", [late["tempo_id"]])
        == "created"
    )
    fresh = _evaluate(harness, LateCursor(since).dump())
    assert DAY.isoformat() not in {request.partition_key for request in fresh.run_requests or []}


def test_a_tick_skips_without_moving_its_cursor_while_a_run_writes_the_ledger(harness):
    assert harness.run(DAY).success
    with harness.sandbox.admin() as admin:
        admin.freeze_clock(datetime(2025, 3, 20, 12, tzinfo=UTC))
    since = datetime(2025, 3, 19, tzinfo=UTC)
    holder = hold_write_lock(str(harness.duckdb_path), 30)
    try:
        resources = harness.definitions().resources
        with dg.build_sensor_context(
            cursor=LateCursor(since).dump(),
            resources={"source_tempo": resources["source_tempo"], "warehouse": resources["warehouse"]},
        ) as context:
            result = late_worklogs(context)
    finally:
        holder.kill()
        holder.wait()
    assert isinstance(result, dg.SkipReason)
    assert "being written by a run" in (result.skip_message or "")
    assert context.cursor == LateCursor(since).dump()
