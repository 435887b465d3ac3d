"""The schedule's tick picks the work date that just ended; the sensor finds new worklogs of any
work date and asks for their dates once, in one run, and waits while a run of the job is unfinished."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import dagster as dg
import httpx
from dagster._core.definitions.sensor_definition import SensorExecutionData

from pipelines.sensors import MAX_GAP, OVERLAP, LateCursor
from sandbox.config import CREDENTIALS
from tests.conftest import TEST_CLOCK
from tests.support.locks import hold_write_lock
from tests.support.sync import SyncHarness, sensor_tick

# The sandbox's frozen clock, at which no generated worklog was updated in the overlap before it: a
# tick from there sees only what a test logs (at the real time, today's generated worklogs would).
QUIET = TEST_CLOCK

DAY = date(2025, 3, 5)
RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"


def test_the_daily_tick_runs_the_work_date_that_just_ended(harness):
    definitions = harness.definitions()
    # The name the README and the UI show.
    schedule = definitions.resolve_schedule_def("sync_worklogs_schedule")
    assert schedule.cron_schedule == "30 1 * * *"
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    context = dg.build_schedule_context(
        scheduled_execution_time=datetime(2025, 3, 6, 1, 30, tzinfo=UTC),
        repository_def=definitions.get_repository_def(),
    )
    result = schedule.evaluate_tick(context)
    assert [request.partition_key for request in result.run_requests or []] == ["2025-03-05"]


def _evaluate(harness: SyncHarness, cursor: str | None) -> SensorExecutionData:
    result, _ = sensor_tick(harness, cursor)
    return result


def _ranges(result: SensorExecutionData) -> list[tuple[str, str]]:
    """The work-date range of each run the tick asked for."""
    return [(request.tags[RANGE_START], request.tags[RANGE_END]) for request in result.run_requests or []]


def _source_reads(harness: SyncHarness) -> int:
    with harness.sandbox.admin() as admin:
        return admin.count("source", "tempo", "GET /4/worklogs")


def _log_on_source(harness: SyncHarness, days: list[date]) -> list[int]:
    """One new worklog per date, by a person and on an issue that sync (a normal scenario's)."""
    with harness.sandbox.admin() as admin:
        model = next(s for s in admin.scenarios("source", DAY, DAY) if s["scenario"] == "normal")
    with harness.tempo("source") as tempo:
        return [
            tempo.post("/4/worklogs", json={
                "authorAccountId": model["author_account_id"], "issueId": model["issue_id"],
                "startDate": day.isoformat(), "startTime": "10:00:00", "timeSpentSeconds": 1800,
                "description": f"Logged late for {day}",
            }).raise_for_status().json()["tempoWorklogId"]
            for day in days
        ]  # fmt: skip


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
    unhandled = sorted(_unhandled_days(harness, since))
    assert DAY.isoformat() in unhandled
    # Every unhandled date is in a requested range, and every range starts and ends on one.
    ranges = _ranges(first)
    assert all(any(start <= day <= end for start, end in ranges) for day in unhandled)
    assert all(start in unhandled and end in unhandled for start, end in ranges)
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
    assert all(not start <= DAY.isoformat() <= end for start, end in _ranges(fresh))


def test_worklogs_on_several_dates_are_one_run_and_a_run_of_that_range_handles_them(harness):
    far = DAY - timedelta(days=4) - MAX_GAP - timedelta(days=1)
    days = [DAY - timedelta(days=4), DAY, DAY - timedelta(days=2), far]
    assert harness.run(far, DAY).success  # everything already there is handled
    since = QUIET
    with harness.sandbox.admin() as admin:
        admin.freeze_clock(since + timedelta(minutes=1))
    created = _log_on_source(harness, days)

    result = _evaluate(harness, LateCursor(since).dump())
    # The three near dates are one run; the date more than MAX_GAP before them is a run of its own.
    assert _ranges(result) == [(far.isoformat(), far.isoformat()), ("2025-03-01", "2025-03-05")]
    assert set(LateCursor.parse(result.cursor).requested) == {str(i) for i in created}

    # The range's run, as the daemon starts it from those tags, creates the three worklogs.
    assert harness.run(DAY - timedelta(days=4), DAY).success
    states = dict(harness.query(
        "select tempo_worklog_id, state from sync.worklog_links where tempo_worklog_id in ?", [created]
    ))  # fmt: skip
    assert states == dict.fromkeys(created[:3], "created")


def test_a_tick_waits_without_a_request_while_a_run_of_the_job_is_unfinished(harness):
    assert harness.run(DAY).success
    since = QUIET
    with harness.sandbox.admin() as admin:
        admin.freeze_clock(since + timedelta(minutes=1))
    created = _log_on_source(harness, [DAY])
    # A run as the daemon records it before its process starts.
    unfinished = harness.instance.create_run_for_job(
        harness.definitions().resolve_job_def("sync_worklogs"), status=dg.DagsterRunStatus.NOT_STARTED
    )
    reads = _source_reads(harness)
    waiting, cursor = sensor_tick(harness, LateCursor(since).dump())
    assert not waiting.run_requests
    assert unfinished.run_id in (waiting.skip_message or "")
    assert cursor == LateCursor(since).dump()
    assert _source_reads(harness) == reads  # Tempo was not asked

    # Once that run has ended, the next tick reads once and asks for the worklog's date.
    harness.instance.report_run_canceled(unfinished)
    result = _evaluate(harness, LateCursor(since).dump())
    assert _ranges(result) == [(DAY.isoformat(), DAY.isoformat())]
    assert set(LateCursor.parse(result.cursor).requested) == {str(created[0])}
    assert _source_reads(harness) == reads + 1


def test_a_tick_that_finds_nothing_new_costs_one_request_and_asks_for_no_run(harness):
    assert harness.run(DAY).success
    since = QUIET
    with harness.sandbox.admin() as admin:
        admin.freeze_clock(since + timedelta(minutes=1))
    first = _evaluate(harness, LateCursor(since).dump())
    reads = _source_reads(harness)
    second = _evaluate(harness, first.cursor)
    assert not second.run_requests
    assert _source_reads(harness) == reads + 1


def test_a_tick_skips_without_moving_its_cursor_while_a_run_writes_the_ledger(harness):
    assert harness.run(DAY).success
    with harness.sandbox.admin() as admin:
        admin.freeze_clock(datetime(2025, 3, 20, 12, tzinfo=UTC))
    since = datetime(2025, 3, 19, tzinfo=UTC)
    holder = hold_write_lock(str(harness.duckdb_path), 30)
    try:
        result, cursor = sensor_tick(harness, LateCursor(since).dump())
    finally:
        holder.kill()
        holder.wait()
    assert not result.run_requests
    assert "being written by a run" in (result.skip_message or "")
    assert cursor == LateCursor(since).dump()
