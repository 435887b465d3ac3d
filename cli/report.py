"""What a run did, per work date, read back from the warehouse for the command line."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import duckdb

from cli.tables import render_table
from replication.scope import Scope

_PER_DAY = """
with days as (select unnest(generate_series($date_from::date, $date_to::date, interval 1 day))::date as day),
links as (
    select r.work_date, l.state, l.created_run_id = $run_id as by_this_run
    from replica.worklogs r
    join sync.worklog_links l on l.source_site = r.source_site and l.tempo_worklog_id = r.tempo_worklog_id
)
select
    d.day,
    (select count(*) from raw.source_worklogs w where w.work_date = d.day),
    (select count(*) from raw.quarantine q where q.work_date = d.day),
    (select count(*) from links l where l.work_date = d.day and l.state = 'created' and l.by_this_run),
    (select count(*) from links l where l.work_date = d.day and l.state = 'created' and not l.by_this_run),
    (select count(*) from links l where l.work_date = d.day and l.state = 'rejected'),
    (select count(*) from links l where l.work_date = d.day and l.state = 'pending'),
    (select count(*) from links l where l.work_date = d.day and l.state = 'unconfirmed')
from days d order by d.day
"""

_PARKED = """
select work_date, park_reason, count(*) from replica.worklogs
where status = 'parked' and work_date between $date_from and $date_to group by all
"""


@dataclass
class DayReport:
    day: date
    extracted: int
    quarantined: int
    created: int
    already_synced: int
    rejected: int
    pending: int
    unconfirmed: int
    parked: dict[str, int] = field(default_factory=dict)


# What a report reads; a file whose first run failed early may not hold them yet.
REPORTED_TABLES = frozenset(
    {"raw.source_worklogs", "raw.quarantine", "replica.worklogs", "sync.worklog_links", "lineage.runs"}
)


def day_reports(connection: duckdb.DuckDBPyConnection, run_id: str, scope: Scope) -> list[DayReport]:
    params = {**scope.params, "run_id": run_id}
    reports = {row[0]: DayReport(*row) for row in connection.execute(_PER_DAY, params).fetchall()}
    for day, reason, count in connection.execute(_PARKED, scope.params).fetchall():
        reports[day].parked[reason] = count
    return list(reports.values())


def unchecked_rights(connection: duckdb.DuckDBPyConnection, run_id: str) -> list[str]:
    """The rights the run's preflight could not check (it went on without them)."""
    row = connection.execute(
        "select counts -> '$.preflight.unchecked' from lineage.runs where run_id = ?", [run_id]
    ).fetchone()
    return [str(item) for item in json.loads(row[0])] if row and row[0] else []


_COUNTED = ("extracted", "created", "already_synced", "rejected", "quarantined", "pending", "unconfirmed")


def _summed(reports: list[DayReport]) -> tuple[dict[str, int], dict[str, int]]:
    """The counts of ``reports`` added up, and their parked worklogs by reason."""
    reasons: dict[str, int] = {}
    for r in reports:
        for reason, count in r.parked.items():
            reasons[reason] = reasons.get(reason, 0) + count
    counts = {name: sum(getattr(r, name) for r in reports) for name in _COUNTED}
    return counts, dict(sorted(reasons.items()))


def as_json(reports: list[DayReport]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The table's figures for ``tempo-sync run --json``: one object per work date, and the total."""

    def figures(rows: list[DayReport]) -> dict[str, Any]:
        counts, reasons = _summed(rows)
        return {**counts, "parked": sum(reasons.values()), "parked_by_reason": reasons}

    return [{"work_date": r.day.isoformat(), **figures([r])} for r in reports], figures(reports)


def render(reports: list[DayReport]) -> str:
    """A plain-text table: one line per work date and a total; parked reasons trail each line."""
    header = ("work date", "extracted", "created", "already synced", "rejected", "quarantined", "pending",
              "unconfirmed", "parked", "parked by reason")  # fmt: skip

    def cells(label: str, rows: list[DayReport]) -> tuple[str, ...]:
        counts, reasons = _summed(rows)
        detail = ", ".join(f"{reason} {count}" for reason, count in reasons.items())
        return (label, *map(str, counts.values()), str(sum(reasons.values())), detail or "-")

    numbers = range(1, len(header) - 1)  # everything between the date and the reasons
    return render_table(header, [cells(str(r.day), [r]) for r in reports], right=numbers,
                        footer=cells("total", reports))  # fmt: skip
