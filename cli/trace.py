"""``tempo-sync trace ID``: the whole story of one worklog, from the source row to the runs.

The id may be a source Tempo or Jira worklog id, or a destination Tempo or Jira worklog id. Tempo
and Jira ids come from different counters, so one number can name several worklogs; each is shown.
The command only reads the DuckDB file, like ``tempo-sync status``.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from cli.status import add_wait_option, partitions, run_on_warehouse
from cli.tables import render_fields, render_table, text, truncate, utc
from replication.privacy import mask_email
from resources.duckdb_file import set_variables

DESCRIPTION_WIDTH = 80
SHORT_RUN = 8

Record = dict[str, Any]

# Every place an id can be found, with the kind of id it is there; `n` orders the kinds.
_MATCHES = """
select kind, tempo_worklog_id, min(n) as n from (
    select 'source Tempo worklog id' as kind, tempo_worklog_id, 1 as n
    from raw.source_worklogs where tempo_worklog_id = getvariable('id')
    union all
    select 'source Tempo worklog id', tempo_worklog_id, 1
    from replica.worklogs where tempo_worklog_id = getvariable('id')
    union all
    select 'source Tempo worklog id', tempo_worklog_id, 1
    from sync.worklog_links where tempo_worklog_id = getvariable('id')
    union all
    select 'source Tempo worklog id', tempo_worklog_id, 1
    from raw.quarantine where tempo_worklog_id = getvariable('id')
    union all
    select 'source Jira worklog id', tempo_worklog_id, 2
    from raw.source_worklogs where jira_worklog_id = getvariable('id')
    union all
    select 'source Jira worklog id', tempo_worklog_id, 2
    from replica.worklogs where source_jira_worklog_id = getvariable('id')
    union all
    select 'destination Tempo worklog id', tempo_worklog_id, 3
    from sync.worklog_links where destination_tempo_worklog_id = getvariable('id')
    union all
    select 'destination Jira worklog id', tempo_worklog_id, 4
    from sync.worklog_links where destination_jira_worklog_id = getvariable('id')
    union all
    select 'possible destination copy', tempo_worklog_id, 5
    from sync.worklog_links where list_contains(candidates, getvariable('id'))
)
group by all
order by n, tempo_worklog_id
"""

_SOURCE = """
select work_date, issue_id, author_account_id, start_time, time_spent_seconds, billable_seconds, description,
    created_at, updated_at, jira_worklog_id, extract_run_id, extracted_at
from raw.source_worklogs where tempo_worklog_id = getvariable('worklog')
"""

_QUARANTINE = """
select reason, work_date, run_id, quarantined_at
from raw.quarantine where tempo_worklog_id = getvariable('worklog') order by quarantined_at
"""

_REPLICA = """
select status, park_reason, park_detail, author_rule, source_author_account_id, source_author_email,
    destination_author_account_id, destination_author_email, issue_rule, source_issue_id, source_issue_key,
    destination_issue_id, destination_issue_key, dropped_attributes, first_run_id, last_run_id, transformed_at
from replica.worklogs where tempo_worklog_id = getvariable('worklog')
"""

_LEDGER = """
select source_site, state, target, destination_issue_id, destination_tempo_worklog_id,
    destination_jira_worklog_id, candidates, attempts, last_error, claimed_at, finished_at, claim_run_id,
    created_run_id, last_run_id
from sync.worklog_links where tempo_worklog_id = getvariable('worklog') order by source_site
"""

_EVENTS = """
select occurred_at, event, run_id, detail
from sync.events where tempo_worklog_id = getvariable('worklog') order by occurred_at
"""

_RUNS = """
select run_id, job_name, partition_start, partition_end, status, started_at, finished_at
from lineage.runs where list_contains(getvariable('runs'), run_id)
"""


@dataclass
class Story:
    """What the file holds about one source worklog, and the runs each row names."""

    tempo_worklog_id: int
    kinds: list[str]
    sections: list[str] = field(default_factory=list)
    roles: dict[str, list[str]] = field(default_factory=dict)  # run id -> what it did, in order
    quarantined: bool = False

    def ran(self, run_id: str | None, role: str) -> None:
        if run_id and role not in self.roles.setdefault(run_id, []):
            self.roles[run_id].append(role)


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "id", type=int, metavar="ID", help="a source or destination worklog id, Tempo or Jira"
    )
    parser.add_argument(
        "--show-emails",
        action="store_true",
        help="print emails in full (default: masked, like a***@example.com)",
    )
    add_wait_option(parser)
    parser.set_defaults(handler=trace_command)


def trace_command(args: argparse.Namespace) -> int:
    def show(path: Path, connection: duckdb.DuckDBPyConnection) -> int:
        matches = find(connection, args.id)
        if not matches:
            print(
                f"tempo-sync: no worklog with id {args.id} in {path} (looked at source Tempo and Jira ids "
                "and destination Tempo and Jira ids)",
                file=sys.stderr,
            )
            return 1
        print(render_trace(connection, args.id, matches, show_emails=args.show_emails))
        return 0

    return run_on_warehouse(args.wait, show)


def find(connection: duckdb.DuckDBPyConnection, worklog_id: int) -> dict[int, list[str]]:
    """The source Tempo worklog ids that ``worklog_id`` names, each with the kinds of id it is."""
    found: dict[int, list[str]] = {}
    set_variables(connection, id=worklog_id)
    for kind, tempo_worklog_id, _ in connection.execute(_MATCHES).fetchall():
        found.setdefault(tempo_worklog_id, []).append(kind)
    return found


def render_trace(
    connection: duckdb.DuckDBPyConnection,
    worklog_id: int,
    matches: dict[int, list[str]],
    *,
    show_emails: bool,
) -> str:
    stories = [
        tell(connection, worklog_id, tempo_worklog_id, kinds, show_emails=show_emails)
        for tempo_worklog_id, kinds in matches.items()
    ]
    preface = (
        [f"tempo-sync: {worklog_id} names {len(stories)} worklogs; each is shown"] if len(stories) > 1 else []
    )
    return "\n\n\n".join([*preface, *stories])


def tell(
    connection: duckdb.DuckDBPyConnection,
    worklog_id: int,
    tempo_worklog_id: int,
    kinds: list[str],
    *,
    show_emails: bool,
) -> str:
    """One worklog's story: source, quarantine, resolution, ledger, events and runs."""
    story = Story(tempo_worklog_id, kinds)
    set_variables(connection, worklog=tempo_worklog_id)
    quarantined = _records(connection, _QUARANTINE)
    story.quarantined = bool(quarantined)
    sources = _records(connection, _SOURCE)
    story.sections.append(_source(story, sources[0] if sources else None))
    story.sections.extend(_quarantine(story, row) for row in quarantined)
    replicas = _records(connection, _REPLICA)
    replica = replicas[0] if replicas else None
    story.sections.append(_resolution(story, replica, show_emails=show_emails))
    story.sections.append(_ledger(story, _records(connection, _LEDGER), replica))
    story.sections.append(_events(story, _records(connection, _EVENTS)))
    story.sections.append(_runs(story, connection))
    title = f"worklog {tempo_worklog_id} (source Tempo id): {worklog_id} is its {' and its '.join(kinds)}"
    return "\n\n".join([title, *story.sections])


def _records(connection: duckdb.DuckDBPyConnection, sql: str) -> list[Record]:
    cursor = connection.execute(sql)
    names = [column[0] for column in cursor.description or ()]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _block(title: str, pairs: list[tuple[str, str]]) -> str:
    return title + "\n" + render_fields(pairs)


def _source(story: Story, row: Record | None) -> str:
    title = "source (raw.source_worklogs)"
    if row is None:
        if story.quarantined:
            return f"{title}: no row; the source returned it in a malformed shape (see the quarantine)"
        return f"{title}: no row; the source did not return this worklog the last time its date was read"
    story.ran(row["extract_run_id"], "extract")
    return _block(title, [
        ("work date", text(row["work_date"])),
        ("issue id", text(row["issue_id"])),
        ("author account id", text(row["author_account_id"])),
        ("start time", text(row["start_time"])),
        ("time spent", _seconds(row["time_spent_seconds"])),
        ("billable", _seconds(row["billable_seconds"])),
        ("description", truncate(row["description"], DESCRIPTION_WIDTH)),
        ("created at (UTC)", utc(row["created_at"])),
        ("updated at (UTC)", utc(row["updated_at"])),
        ("Tempo worklog id", str(story.tempo_worklog_id)),
        ("Jira worklog id", text(row["jira_worklog_id"])),
        ("extract run", f"{_short(row['extract_run_id'])} at {utc(row['extracted_at'])}"),
    ])  # fmt: skip


def _quarantine(story: Story, row: Record) -> str:
    story.ran(row["run_id"], "quarantine")
    return _block("quarantined (raw.quarantine): a record with this id broke the shape Tempo documents", [
        ("reason", text(row["reason"])),
        ("work date", text(row["work_date"])),
        ("run", f"{_short(row['run_id'])} at {utc(row['quarantined_at'])}"),
    ])  # fmt: skip


def _resolution(story: Story, row: Record | None, *, show_emails: bool) -> str:
    title = "resolution (replica.worklogs)"
    if row is None:
        if story.quarantined:
            return f"{title}: no row; a quarantined record never reaches the replica"
        return f"{title}: no row; not built yet, or the worklog vanished from the source before it was sent"
    story.ran(row["first_run_id"], "transform")
    story.ran(row["last_run_id"], "transform")
    source_author = _person(
        row["source_author_account_id"], row["source_author_email"], show_emails=show_emails
    )
    destination_author = _person(
        row["destination_author_account_id"], row["destination_author_email"], show_emails=show_emails
    )
    return _block(title, [
        ("status", text(row["status"])),
        ("park reason", text(row["park_reason"])),
        ("park detail", text(row["park_detail"])),
        ("author rule", text(row["author_rule"])),
        ("source author", source_author),
        ("destination author", destination_author),
        ("issue rule", text(row["issue_rule"])),
        ("source issue", _issue(row["source_issue_id"], row["source_issue_key"])),
        ("destination issue", _issue(row["destination_issue_id"], row["destination_issue_key"])),
        ("dropped attributes", ", ".join(json.loads(row["dropped_attributes"])) or "-"),
        ("first built by run", _short(row["first_run_id"])),
        ("last built by run", f"{_short(row['last_run_id'])} at {utc(row['transformed_at'])}"),
    ])  # fmt: skip


def _ledger(story: Story, rows: list[Record], replica: Record | None) -> str:
    title = "ledger (sync.worklog_links)"
    if not rows:
        if story.quarantined and replica is None:
            why = "it is quarantined"
        elif replica is not None and replica["status"] == "parked":
            why = "it is parked"
        else:
            why = "it has not been sent yet"
        return f"{title}: no row; the load has not claimed this worklog ({why})"
    return title + "\n" + "\n\n".join(_ledger_row(story, row) for row in rows)


def _ledger_row(story: Story, row: Record) -> str:
    story.ran(row["claim_run_id"], "claimed")
    story.ran(row["created_run_id"], "created")
    if row["last_run_id"] not in (row["claim_run_id"], row["created_run_id"]):
        story.ran(row["last_run_id"], "changed the ledger row")
    settle = (
        [("to settle", f"tempo-sync settle {story.tempo_worklog_id} --adopt DESTINATION_ID  (or --resend)")]
        if row["state"] == "unconfirmed"
        else []
    )
    return render_fields([
        ("source site", text(row["source_site"])),
        ("state", text(row["state"])),
        *settle,
        ("target", text(row["target"])),
        ("destination issue id", text(row["destination_issue_id"])),
        ("destination Tempo worklog id", text(row["destination_tempo_worklog_id"])),
        ("destination Jira worklog id", text(row["destination_jira_worklog_id"])),
        ("possible copies", ", ".join(map(str, row["candidates"] or [])) or "-"),
        ("attempts", text(row["attempts"])),
        ("last error", text(row["last_error"])),
        ("claimed at (UTC)", utc(row["claimed_at"])),
        ("finished at (UTC)", utc(row["finished_at"])),
        ("claim run", _short(row["claim_run_id"])),
        ("created run", _short(row["created_run_id"])),
        ("last run", _short(row["last_run_id"])),
    ])  # fmt: skip


def _events(story: Story, rows: list[Record]) -> str:
    title = "events (sync.events)"
    if not rows:
        return f"{title}: none"
    cells = []
    for row in rows:
        story.ran(row["run_id"], row["event"])
        at = utc(row["occurred_at"], millis=True)
        cells.append((at, row["event"], _short(row["run_id"]), text(row["detail"])))
    return title + ", oldest first\n" + render_table(("at (UTC)", "event", "run", "detail"), cells)


def _runs(story: Story, connection: duckdb.DuckDBPyConnection) -> str:
    title = "runs involved (lineage.runs)"
    if not story.roles:
        return f"{title}: none"
    set_variables(connection, runs=list(story.roles))
    known = {row["run_id"]: row for row in _records(connection, _RUNS)}
    cells = []
    for run_id, roles in story.roles.items():
        run = known.get(run_id)
        if run is None:
            cells.append((run_id, "-", "-", "not in lineage.runs", "-", "-", ", ".join(roles)))
            continue
        dates = partitions(run["partition_start"], run["partition_end"])
        started, finished = utc(run["started_at"]), utc(run["finished_at"])
        cells.append((run_id, run["job_name"], dates, run["status"], started, finished, ", ".join(roles)))
    cells.sort(key=lambda cell: (cell[4], cell[0]))
    header = ("run", "job", "work dates", "status", "started (UTC)", "finished (UTC)", "role")
    return title + ", by start\n" + render_table(header, cells)


def _person(account_id: str | None, email: str | None, *, show_emails: bool) -> str:
    if account_id is None:
        return "-"
    if email is None:
        return f"{account_id} (email hidden or unknown)"
    return f"{account_id} ({email if show_emails else mask_email(email)})"


def _issue(issue_id: int | None, key: str | None) -> str:
    if issue_id is None:
        return "-"
    return f"{issue_id} {key}" if key else f"{issue_id} (key unknown)"


def _seconds(value: int | None) -> str:
    if value is None:
        return "-"
    hours, rest = divmod(value, 3600)
    return f"{value} s ({hours}h{rest // 60:02d}m)"


def _short(run_id: str | None) -> str:
    return run_id[:SHORT_RUN] if run_id else "-"
