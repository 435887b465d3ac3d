"""What a run did, per work date, read back from the warehouse for the command line.

The ledger says what each worklog is now (created by this run, by an earlier one, pending, ...);
the load step's own counts per work date (``lineage.runs.counts``, step ``load``, ``by_day``) say
what the run did to synced worklogs (updated, moved, deleted, conflicts) and, in a dry run, what
it would have done.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import duckdb

from cli.tables import NONE, render_table, text
from replication.propagate import PLANNED_OUTCOMES
from replication.scope import Scope

_PER_DAY = """
with days as (select unnest(generate_series($date_from::date, $date_to::date, interval 1 day))::date as day),
links as (
    select r.work_date, l.state, l.created_run_id = $run_id as by_this_run, r.status = 'parked' as parked
    from replica.worklogs r
    join sync.worklog_links l on l.source_site = r.source_site and l.tempo_worklog_id = r.tempo_worklog_id
)
select
    d.day,
    (select count(*) from raw.source_worklogs w where w.work_date = d.day),
    (select count(*) from raw.quarantine q where q.work_date = d.day),
    (select count(*) from links l where l.work_date = d.day and l.state = 'created' and l.by_this_run),
    -- A synced worklog parked as a conflict (its copy changed on the destination) counts as parked.
    (select count(*) from links l
     where l.work_date = d.day and l.state = 'created' and not l.by_this_run and not l.parked),
    (select count(*) from links l where l.work_date = d.day and l.state = 'rejected'),
    (select count(*) from links l where l.work_date = d.day and l.state = 'pending'),
    (select count(*) from links l where l.work_date = d.day and l.state = 'unconfirmed')
from days d order by d.day
"""

_PARKED = """
select work_date, park_reason, count(*) from replica.worklogs
where status = 'parked' and work_date between $date_from and $date_to group by all
"""
# Worklogs tempo-sync itself made on the source site (the other direction's copies): never sent.
_COPIES = """
select work_date, count(*) from replica.worklogs
where status = 'copy' and work_date between $date_from and $date_to group by all
"""


# What a dry run's load plans instead of writing, and the deletions the mass-deletion guard would
# hold back (the load's outcomes of the same names).
PLANNED = (*PLANNED_OUTCOMES, "deletes_blocked")


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
    copies: int = 0  # the other direction's copies on the source (docs/pairs.md), never sent
    # The load step's outcomes of the day, by name; None when the load counted nothing (it did not
    # run, or died before it counted), so that what it did, or would do, is unknown.
    load: dict[str, int] | None = None

    def counts(self) -> dict[str, int | None]:
        """Every figure of the day by its JSON name: the ledger's, then the load's (None: unknown)."""
        if self.load is None:
            done: dict[str, int | None] = dict.fromkeys(("updated", "deleted", "conflicts", *PLANNED))
        else:
            load = self.load
            done = {
                # A move is an update of the start date (a PUT in place, or a re-home to another issue).
                "updated": load.get("updated", 0) + load.get("moved", 0),
                "deleted": load.get("deleted", 0),
                "conflicts": load.get("conflicts", 0),
                **{name: load.get(name, 0) for name in PLANNED},
            }
        return {
            "extracted": self.extracted,
            "created": self.created,
            "already_synced": self.already_synced,
            "rejected": self.rejected,
            "quarantined": self.quarantined,
            "pending": self.pending,
            "unconfirmed": self.unconfirmed,
            "copies": self.copies,
            **done,
        }


# What a report reads; a file whose first run failed early may not hold them yet.
REPORTED_TABLES = frozenset(
    {"raw.source_worklogs", "raw.quarantine", "replica.worklogs", "sync.worklog_links", "lineage.runs"}
)


def day_reports(connection: duckdb.DuckDBPyConnection, run_id: str, scope: Scope) -> list[DayReport]:
    params = {**scope.params, "run_id": run_id}
    reports = {row[0]: DayReport(*row) for row in connection.execute(_PER_DAY, params).fetchall()}
    for day, reason, count in connection.execute(_PARKED, scope.params).fetchall():
        reports[day].parked[reason] = count
    for day, count in connection.execute(_COPIES, scope.params).fetchall():
        reports[day].copies = count
    load = _step_counts(connection, run_id, "$.load")
    if load:
        by_day = load.get("by_day", {})
        for report in reports.values():
            # The load also counts rows of other dates (a change an earlier run left in flight, say);
            # the table shows the run's dates only, as its ledger columns do.
            outcomes = by_day.get(report.day.isoformat(), {})
            report.load = {outcome: int(count) for outcome, count in outcomes.items()}
    return list(reports.values())


def _step_counts(connection: duckdb.DuckDBPyConnection, run_id: str, path: str) -> Any:
    """One value of the run's step counts (a JSON path into ``lineage.runs.counts``), or ``{}``."""
    row = connection.execute(
        "select counts -> ? from lineage.runs where run_id = ?", [path, run_id]
    ).fetchone()
    return json.loads(row[0]) if row and row[0] else {}


def unchecked_rights(connection: duckdb.DuckDBPyConnection, run_id: str) -> list[str]:
    """The rights the run's preflight could not check (it went on without them)."""
    return [str(item) for item in _step_counts(connection, run_id, "$.preflight.unchecked") or []]


# The table's count columns (header, JSON name). A run's: what the ledger holds, and with
# `[propagate]` on, what the run carried to synced worklogs. A dry run's: what it would do.
_LEDGER_COLUMNS = (("extracted", "extracted"), ("created", "created"), ("already synced", "already_synced"),
                   ("rejected", "rejected"), ("quarantined", "quarantined"), ("pending", "pending"),
                   ("unconfirmed", "unconfirmed"))  # fmt: skip
_PROPAGATION_COLUMNS = (("updated", "updated"), ("deleted", "deleted"), ("conflicts", "conflicts"))
# Only a pair whose source site another pair writes to meets copies (docs/pairs.md).
_COPY_COLUMNS = (("copies", "copies"),)
# (The mass-deletion guard's check stops a run before the load, naming what it held back; the
# load's own deletes_blocked is its second line of defence, in the JSON only.)
_PLAN_COLUMNS = (("extracted", "extracted"), ("already synced", "already_synced"),
                 ("would create", "would_create"), ("would update", "would_update"),
                 ("would move", "would_move"), ("would delete", "would_delete"))  # fmt: skip
# What ``--json`` carries of every run; a dry run adds PLANNED.
_JSON_NAMES = tuple(name for _, name in _LEDGER_COLUMNS + _COPY_COLUMNS + _PROPAGATION_COLUMNS)


def _summed(reports: list[DayReport], names: tuple[str, ...]) -> tuple[dict[str, int | None], dict[str, int]]:
    """The figures ``names`` of ``reports`` added up (unknown if unknown on a day), and their parked
    worklogs by reason."""
    reasons: dict[str, int] = {}
    for r in reports:
        for reason, count in r.parked.items():
            reasons[reason] = reasons.get(reason, 0) + count
    days = [r.counts() for r in reports]
    sums = {name: _sum([day[name] for day in days]) for name in names}
    return sums, dict(sorted(reasons.items()))


def _sum(values: list[int | None]) -> int | None:
    known = [value for value in values if value is not None]
    return sum(known) if len(known) == len(values) else None


def as_json(reports: list[DayReport], *, dry_run: bool) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The figures for ``tempo-sync run --json``: one object per work date, and the total. Every
    run's carry the ledger's and the propagation's figures (zero with ``[propagate]`` off, null
    when the load counted nothing); a dry run's add what it would have done."""
    names = _JSON_NAMES + (PLANNED if dry_run else ())

    def figures(rows: list[DayReport]) -> dict[str, Any]:
        counts, reasons = _summed(rows, names)
        return {**counts, "parked": sum(reasons.values()), "parked_by_reason": reasons}

    return [{"work_date": r.day.isoformat(), **figures([r])} for r in reports], figures(reports)


def render(reports: list[DayReport], *, propagation: bool, dry_run: bool) -> str:
    """A plain-text table: one line per work date and a total; parked reasons trail each line.

    A run's table has the updated, deleted and conflicts columns only when ``propagation`` is on,
    and the copies column only when the run met copies, so that without either the table is what
    it always was; a dry run's shows the plan."""
    propagated = _PROPAGATION_COLUMNS if propagation else ()
    copies = _COPY_COLUMNS if any(report.copies for report in reports) else ()
    columns = _PLAN_COLUMNS + copies if dry_run else _LEDGER_COLUMNS + copies + propagated
    names = tuple(name for _, name in columns)
    header = ("work date", *(title for title, _ in columns), "parked", "parked by reason")

    def cells(label: str, rows: list[DayReport]) -> tuple[str, ...]:
        counts, reasons = _summed(rows, names)
        detail = ", ".join(f"{reason} {count}" for reason, count in reasons.items())
        return (label, *map(text, counts.values()), str(sum(reasons.values())), detail or NONE)

    numbers = range(1, len(header) - 1)  # everything between the date and the reasons
    return render_table(header, [cells(str(r.day), [r]) for r in reports], right=numbers,
                        footer=cells("total", reports))  # fmt: skip
