"""The late-worklog sensor: new worklogs of any work date, on the destination within two minutes.

Each tick reads the source's worklogs updated since the cursor (minus an overlap, since Tempo
does not say whether ``updatedFrom`` is inclusive and indexes new worklogs asynchronously), keeps
those that no run has handled yet, and asks for one run over the work dates they belong to. While
a run of the job is queued or in flight the tick asks Tempo nothing: that run, or the next tick
after it, takes what arrived meanwhile, so runs never pile up and one run takes every date.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg

from assets.partitions import work_days
from assets.steps import UNFINISHED_RUNS
from pipelines.jobs import sync_worklogs
from resources.duckdb_file import WarehouseBusyError, existing_tables
from resources.tempo import TempoClient
from resources.warehouse import Warehouse

# A tick that finds nothing new costs one request (one page of worklogs updated in the overlap),
# so this interval is the idle cost: 60 / 30 = 2 requests a minute. It is also most of the latency:
# a worklog waits up to one interval for a tick, then a run's start-up and its steps.
INTERVAL_SECONDS = 30
OVERLAP = timedelta(minutes=10)
FIRST_LOOKBACK = timedelta(days=2)  # a new instance runs the last two days; older ones are a backfill
LEDGER_WAIT_SECONDS = 5.0
# Dates closer than this go into one run (a range reads the days between too, at one page of 5,000
# worklogs per request); dates further apart get a run each, which the run queue runs one at a time.
MAX_GAP = timedelta(days=7)

# Known to the warehouse: linked in the ledger, or parked (every run retries those anyway).
_KNOWN = """
with asked as (select unnest($ids) as tempo_worklog_id)
select tempo_worklog_id from sync.worklog_links join asked using (tempo_worklog_id)
union
select tempo_worklog_id from replica.worklogs join asked using (tempo_worklog_id) where status = 'parked'
"""


@dataclass
class LateCursor:
    """Where the last tick read up to, and the worklogs it asked runs for (within the overlap)."""

    since: datetime | None = None
    requested: dict[str, str] = field(default_factory=dict)  # tempo id → its updatedAt

    @classmethod
    def parse(cls, raw: str | None) -> LateCursor:
        if not raw:
            return cls()
        data = json.loads(raw)
        return cls(datetime.fromisoformat(data["since"]), dict(data.get("requested", {})))

    def dump(self) -> str:
        return json.dumps(
            {"since": self.since.isoformat() if self.since else None, "requested": self.requested}
        )


@dg.sensor(
    job=sync_worklogs,
    minimum_interval_seconds=INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Runs the work dates that gained worklogs no run has handled yet, in one run.",
)
def late_worklogs(
    context: dg.SensorEvaluationContext, source_tempo: TempoClient, warehouse: Warehouse
) -> dg.SensorResult | dg.SkipReason:
    busy = context.instance.get_run_records(
        dg.RunsFilter(job_name=sync_worklogs.name, statuses=UNFINISHED_RUNS), limit=1
    )
    if busy:
        # The cursor stays: the tick after that run reads what arrived meanwhile, in one run.
        return dg.SkipReason(f"run {busy[0].dagster_run.run_id} of {sync_worklogs.name} is not finished")
    cursor = LateCursor.parse(context.cursor)
    since = cursor.since or datetime.now(UTC) - FIRST_LOOKBACK
    first = date.fromisoformat(work_days.get_first_partition_key() or "9999-12-31")
    last = date.fromisoformat(work_days.get_last_partition_key() or "0001-01-01")
    updated: dict[int, tuple[date, datetime]] = {}
    for page in source_tempo.updated_worklog_pages(since - OVERLAP):
        for worklog in page:
            updated[int(worklog["tempoWorklogId"])] = (
                date.fromisoformat(worklog["startDate"]),
                datetime.fromisoformat(worklog["updatedAt"].replace("Z", "+00:00")),
            )
    candidates = {
        tempo_id: day
        for tempo_id, (day, _) in updated.items()
        if first <= day <= last and str(tempo_id) not in cursor.requested
    }
    try:
        known = _known(warehouse, sorted(candidates))
    except WarehouseBusyError:
        # A run is writing the ledger; the cursor stays, so the next tick sees these again.
        return dg.SkipReason("the DuckDB file is being written by a run; trying again on the next tick")
    new = {tempo_id: day for tempo_id, day in candidates.items() if tempo_id not in known}
    newest = max((at for _, at in updated.values()), default=since)
    keep_after = newest - OVERLAP
    requested = {
        key: at for key, at in cursor.requested.items() if datetime.fromisoformat(at) >= keep_after
    } | {str(tempo_id): updated[tempo_id][1].isoformat() for tempo_id in new}
    days = sorted(set(new.values()))
    context.log.info(f"{len(updated)} worklog(s) updated since {since:%Y-%m-%dT%H:%M:%SZ}; "
                     f"{len(new)} not handled yet, on {len(days)} work date(s)")  # fmt: skip
    return dg.SensorResult(
        run_requests=[_run_request(first_day, last_day, new) for first_day, last_day in date_ranges(days)],
        cursor=LateCursor(max(newest, since), requested).dump(),
    )


def date_ranges(days: list[date]) -> list[tuple[date, date]]:
    """The sorted `days` as ranges, each one run: a gap wider than MAX_GAP starts a new range."""
    ranges: list[tuple[date, date]] = []
    for day in days:
        if ranges and day - ranges[-1][1] <= MAX_GAP:
            ranges[-1] = (ranges[-1][0], day)
        else:
            ranges.append((day, day))
    return ranges


def _run_request(first_day: date, last_day: date, new: dict[int, date]) -> dg.RunRequest:
    newest_id = max(i for i, day in new.items() if first_day <= day <= last_day)
    # A range is one run (the assets' single-run backfill policy), as `tempo-sync run` asks for it.
    return dg.RunRequest(
        run_key=f"late-worklogs:{first_day}..{last_day}:{newest_id}",
        tags={
            "tempo-sync/trigger": "late-worklogs",
            "dagster/asset_partition_range_start": first_day.isoformat(),
            "dagster/asset_partition_range_end": last_day.isoformat(),
        },
    )


def _known(warehouse: Warehouse, ids: list[int]) -> set[int]:
    if not ids or not Path(warehouse.database).exists():
        return set()
    with warehouse.read_connection(wait_seconds=LEDGER_WAIT_SECONDS) as connection:
        if "sync.worklog_links" not in existing_tables(connection):
            return set()
        return {row[0] for row in connection.execute(_KNOWN, {"ids": ids}).fetchall()}
