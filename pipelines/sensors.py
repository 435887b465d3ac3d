"""The late-worklog sensor: work logged days after its work date, and Tempo's own sync lag.

Each tick reads the source's worklogs updated since the cursor (minus an overlap, since Tempo
does not say whether ``updatedFrom`` is inclusive), keeps those that no run has handled yet, and
asks for a run of exactly the work-date partitions they belong to.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg

from assets.partitions import work_days
from pipelines.jobs import sync_worklogs
from resources.tempo import TempoClient
from resources.warehouse import Warehouse, WarehouseBusyError, existing_tables

OVERLAP = timedelta(minutes=10)
FIRST_LOOKBACK = timedelta(days=2)  # a new instance runs the last two days; older ones are a backfill
LEDGER_WAIT_SECONDS = 5.0

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
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Runs the work dates that gained worklogs no run has handled yet (late or lagging ones).",
)
def late_worklogs(
    context: dg.SensorEvaluationContext, source_tempo: TempoClient, warehouse: Warehouse
) -> dg.SensorResult | dg.SkipReason:
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
        run_requests=[
            dg.RunRequest(
                partition_key=day.isoformat(),
                run_key=f"late-worklogs:{day}:{max(i for i, d in new.items() if d == day)}",
                tags={"tempo-sync/trigger": "late-worklogs"},
            )
            for day in days
        ],
        cursor=LateCursor(max(newest, since), requested).dump(),
    )


def _known(warehouse: Warehouse, ids: list[int]) -> set[int]:
    if not ids or not Path(warehouse.database).exists():
        return set()
    with warehouse.read_connection(wait_seconds=LEDGER_WAIT_SECONDS) as connection:
        if "sync.worklog_links" not in existing_tables(connection):
            return set()
        return {row[0] for row in connection.execute(_KNOWN, {"ids": ids}).fetchall()}
