"""The late-worklog sensor: new worklogs of any work date, on the destination within two minutes.

Each tick reads the source's worklogs updated since the cursor (minus an overlap, since Tempo
does not say whether ``updatedFrom`` is inclusive and indexes new worklogs asynchronously), keeps
those that no run has handled yet, and asks for one run over the work dates they belong to. While
a run of the job is queued or in flight the tick asks Tempo nothing: that run, or the next tick
after it, takes what arrived meanwhile, so runs never pile up and one run takes every date.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg

from assets.pair import Pair
from assets.steps import UNFINISHED_RUNS
from replication.echo import inbound_copies
from replication.payloads import COPY_MARK
from resources.duckdb_file import WarehouseBusyError, existing_tables
from resources.warehouse import Warehouse

# A tick that finds nothing new costs one request (one page of worklogs updated in the overlap),
# so this interval is the idle cost: 60 / 30 = 2 requests a minute. It is also most of the latency:
# a worklog waits up to one interval for a tick, then a run's start-up and its steps.
INTERVAL_SECONDS = 30
OVERLAP = timedelta(minutes=10)
FIRST_LOOKBACK = timedelta(days=2)  # a new instance runs the last two days; older ones are a backfill
LEDGER_WAIT_SECONDS = 5.0
_COPY_MARK = re.compile(COPY_MARK)
# Dates closer than this go into one run (a range reads the days between too, at one page of 5,000
# worklogs per request); dates further apart get a run each, which the run queue runs one at a time.
MAX_GAP = timedelta(days=7)

# What the warehouse knows of updated worklogs: handled when the ledger has them (and, when edits
# are propagated, a run has read this version), they are parked (every run retries those) or they
# are copies tempo-sync made (replication/echo.py); and
# the work date a run last saw each at, which a move leaves behind.
_KNOWN = """
with asked as (select unnest($ids) as tempo_worklog_id, unnest($updated) as updated_at)
select a.tempo_worklog_id,
       coalesce(r.status in ('parked', 'copy'), false)
       or (l.tempo_worklog_id is not null
           and (not $updates or l.state <> 'created' or r.updated_at >= a.updated_at)) as handled,
       r.work_date
from asked a
left join sync.worklog_links l on l.tempo_worklog_id = a.tempo_worklog_id
left join replica.worklogs r on r.tempo_worklog_id = a.tempo_worklog_id
"""
# The work dates of synced worklogs whose source Jira worklogs were deleted.
_DELETED = """
select distinct r.work_date from replica.worklogs r
join sync.worklog_links l on l.source_site = r.source_site and l.tempo_worklog_id = r.tempo_worklog_id
where l.state = 'created' and r.source_jira_worklog_id in (select unnest($ids))
"""


@dataclass
class LateCursor:
    """Where the last tick read up to, and the worklogs it asked runs for (within the overlap)."""

    since: datetime | None = None
    requested: dict[str, str] = field(default_factory=dict)  # tempo id → its updatedAt
    # With deletions propagated: where the source Jira's deleted-worklog feed was read up to, and the
    # deleted Jira worklogs already asked for.
    deleted_since: datetime | None = None
    deleted: dict[str, str] = field(default_factory=dict)  # jira id → when it was deleted

    @classmethod
    def parse(cls, raw: str | None) -> LateCursor:
        if not raw:
            return cls()
        data = json.loads(raw)
        deleted_since = data.get("deleted_since")
        return cls(
            datetime.fromisoformat(data["since"]),
            dict(data.get("requested", {})),
            datetime.fromisoformat(deleted_since) if deleted_since else None,
            dict(data.get("deleted", {})),
        )

    def dump(self) -> str:
        return json.dumps(
            {
                "since": self.since.isoformat() if self.since else None,
                "requested": self.requested,
                "deleted_since": self.deleted_since.isoformat() if self.deleted_since else None,
                "deleted": self.deleted,
            }
        )


def late_worklogs(pair: Pair, job: dg.UnresolvedAssetJobDefinition) -> dg.SensorDefinition:
    """The pair's late-worklog sensor, which asks for runs of its job."""

    @dg.sensor(
        name=pair.named("late_worklogs"),
        job=job,
        minimum_interval_seconds=INTERVAL_SECONDS,
        default_status=dg.DefaultSensorStatus.RUNNING,
        required_resource_keys=pair.resource_keys,
        description="Runs the work dates that gained worklogs no run has handled yet, in one run.",
    )
    def _late_worklogs(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
        busy = context.instance.get_run_records(
            dg.RunsFilter(job_name=job.name, statuses=UNFINISHED_RUNS), limit=1
        )
        if busy:
            # The cursor stays: the tick after that run reads what arrived meanwhile, in one run.
            return dg.SkipReason(f"run {busy[0].dagster_run.run_id} of {job.name} is not finished")
        return _tick(context, pair)

    return _late_worklogs


def _tick(context: dg.SensorEvaluationContext, pair: Pair) -> dg.SensorResult | dg.SkipReason:
    resources = pair.resources(context)
    source_tempo, source_jira = resources.source_tempo, resources.source_jira
    policy, warehouse = resources.policy, resources.warehouse
    work_days = pair.partitions
    cursor = LateCursor.parse(context.cursor)
    since = cursor.since or datetime.now(UTC) - FIRST_LOOKBACK
    first = date.fromisoformat(work_days.get_first_partition_key() or "9999-12-31")
    last = date.fromisoformat(work_days.get_last_partition_key() or "0001-01-01")
    updated: dict[int, tuple[date, datetime]] = {}
    copies: set[int] = set()  # worklogs tempo-sync made on this site: no run is needed for them
    for page in source_tempo.updated_worklog_pages(since - OVERLAP):
        for worklog in page:
            updated[int(worklog["tempoWorklogId"])] = (
                date.fromisoformat(worklog["startDate"]),
                datetime.fromisoformat(worklog["updatedAt"].replace("Z", "+00:00")),
            )
            if _COPY_MARK.search(worklog.get("description") or ""):
                copies.add(int(worklog["tempoWorklogId"]))
    candidates = {
        tempo_id: day
        for tempo_id, (day, at) in updated.items()
        if first <= day <= last and cursor.requested.get(str(tempo_id)) != at.isoformat()
    }
    deleted_since = cursor.deleted_since or since
    deleted = source_jira.deleted_worklogs(deleted_since - OVERLAP) if policy.propagate_deletes else {}
    deletions = {jira_id: at for jira_id, at in deleted.items() if str(jira_id) not in cursor.deleted}
    try:
        if policy.copies_from:
            inbound = inbound_copies(policy.copies_from, wait_seconds=LEDGER_WAIT_SECONDS)
            copies.update(int(tempo_id) for tempo_id in inbound.copies["tempo_id"].dropna())
        candidates = {tempo_id: day for tempo_id, day in candidates.items() if tempo_id not in copies}
        new, left_behind = _unhandled(warehouse, candidates, updated, updates=policy.propagate_updates)
        deleted_days = _deleted_days(warehouse, sorted(deletions))
    except WarehouseBusyError:
        # A run is writing a ledger; the cursor stays, so the next tick sees these again.
        return dg.SkipReason("the DuckDB file is being written by a run; trying again on the next tick")
    newest = max((at for _, at in updated.values()), default=since)
    keep_after = newest - OVERLAP
    requested = {
        key: at for key, at in cursor.requested.items() if datetime.fromisoformat(at) >= keep_after
    } | {str(tempo_id): updated[tempo_id][1].isoformat() for tempo_id in new}
    newest_deletion = max(deleted.values(), default=deleted_since)
    asked_deletions = {
        key: at
        for key, at in cursor.deleted.items()
        if datetime.fromisoformat(at) >= newest_deletion - OVERLAP
    } | {str(jira_id): at.isoformat() for jira_id, at in deletions.items()}
    days = sorted({*new.values(), *left_behind, *(day for day in deleted_days if first <= day <= last)})
    context.log.info(f"{len(updated)} worklog(s) updated since {since:%Y-%m-%dT%H:%M:%SZ}; {len(new)} not"
                     f" handled yet, {len(deletions)} deleted; on {len(days)} work date(s)")  # fmt: skip
    deleted_mark = max(deletions, default=0)
    return dg.SensorResult(
        run_requests=[
            _run_request(first_day, last_day, new, deleted_mark) for first_day, last_day in date_ranges(days)
        ],
        cursor=LateCursor(
            max(newest, since), requested, max(newest_deletion, deleted_since), asked_deletions
        ).dump(),
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


def _run_request(first_day: date, last_day: date, new: dict[int, date], deleted_mark: int) -> dg.RunRequest:
    newest_id = max((i for i, day in new.items() if first_day <= day <= last_day), default=0)
    # The key names what the run is for, so Dagster never launches the same request twice.
    run_key = f"late-worklogs:{first_day}..{last_day}:{newest_id}"
    if deleted_mark:
        run_key += f":deleted-{deleted_mark}"
    # A range is one run (the assets' single-run backfill policy), as `tempo-sync run` asks for it.
    return dg.RunRequest(
        run_key=run_key,
        tags={
            "tempo-sync/trigger": "late-worklogs",
            "dagster/asset_partition_range_start": first_day.isoformat(),
            "dagster/asset_partition_range_end": last_day.isoformat(),
        },
    )


def _unhandled(
    warehouse: Warehouse,
    candidates: dict[int, date],
    updated: dict[int, tuple[date, datetime]],
    *,
    updates: bool,
) -> tuple[dict[int, date], set[date]]:
    """The candidates no run has handled yet, and the work dates that moved ones left behind."""
    if not candidates or not Path(warehouse.database).exists():
        return dict(candidates), set()
    ids = sorted(candidates)
    with warehouse.read_connection(wait_seconds=LEDGER_WAIT_SECONDS) as connection:
        if "sync.worklog_links" not in existing_tables(connection):
            return dict(candidates), set()
        rows = connection.execute(
            _KNOWN, {"ids": ids, "updated": [updated[i][1] for i in ids], "updates": updates}
        ).fetchall()
    new = {tempo_id: candidates[tempo_id] for tempo_id, handled, _ in rows if not handled}
    left_behind = {
        day for tempo_id, handled, day in rows if not handled and day and day != candidates[tempo_id]
    }
    return new, left_behind


def _deleted_days(warehouse: Warehouse, jira_ids: list[int]) -> set[date]:
    """The work dates of synced worklogs whose source Jira worklogs are among ``jira_ids``."""
    if not jira_ids or not Path(warehouse.database).exists():
        return set()
    with warehouse.read_connection(wait_seconds=LEDGER_WAIT_SECONDS) as connection:
        if "sync.worklog_links" not in existing_tables(connection):
            return set()
        return {row[0] for row in connection.execute(_DELETED, {"ids": jira_ids}).fetchall()}
