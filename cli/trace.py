"""``tempo-sync trace ID``: the whole story of one worklog, from the source row to the runs.

The id may be a source Tempo or Jira worklog id, or a destination Tempo or Jira worklog id. Tempo
and Jira ids come from different counters, so one number can name several worklogs; each is shown.
The history shows every version written to the destination, and every change, deletion and
conflict with ``[propagate]`` on. The command only reads the DuckDB file, like ``tempo-sync status``.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from cli.pairs import WORKLOG_PER_SITE, add_pair_option
from cli.status import add_wait_option, partitions, run_on_warehouse
from cli.tables import NONE, render_fields, render_table, text, truncate, utc
from replication import canonical
from replication.payloads import jira_payload
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
    select 'old destination copy, being moved to another issue', tempo_worklog_id, 5
    from sync.worklog_links where retired_copy_id = getvariable('id')
    union all
    select 'possible destination copy', tempo_worklog_id, 6
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
    created_run_id, last_run_id, sent_values, conflict, change, change_state, change_run_id,
    change_claimed_at, retired_copy_id, retired_issue_id
from sync.worklog_links where tempo_worklog_id = getvariable('worklog') order by source_site
"""

_EVENTS = """
select source_site, occurred_at, event, run_id, detail, before_values, after_values
from sync.events where tempo_worklog_id = getvariable('worklog') order by occurred_at
"""

# The events that the history tells: each version written, each change, deletion and conflict.
_WRITTEN = ("created", "adopted")  # a copy came to hold the values then current
_CHANGED = ("updated", "moved", "rehoming", "change_rejected")  # before -> after, where both are known
_HISTORY = (*_WRITTEN, *_CHANGED, "deleted", "conflict", "conflict_cleared")
# How the history names the values a copy is written from (``sync.worklog_links.sent_values``).
_VALUE_LABELS = {
    "destination_author_account_id": "author",
    "destination_issue_id": "issue",
    "start_date": "start date",
    "start_time": "start time",
    "time_spent_seconds": "time spent",
    "billable_seconds": "billable",
    "description": "description",
    "attributes": "attributes",
    "source_author_name": "worker's name",
    "author_time_zone": "worker's time zone",
}
# How the history names the fields of the canonical Tempo key (``replication.canonical.TempoKey``).
_TEMPO_KEY_LABELS = {"issue_id": "issue", "start_date": "start date", "start_seconds": "start time",
                     "time_spent": "time spent"}  # fmt: skip
_JIRA_STARTED = "%Y-%m-%dT%H:%M:%S.%f%z"

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
    add_pair_option(parser, many=False)
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

    return run_on_warehouse(args.wait, show, pair=args.pair, command="trace", why=WORKLOG_PER_SITE)


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
    ledger = _records(connection, _LEDGER)
    events = _records(connection, _EVENTS)
    story.sections.append(_ledger(story, ledger, replica))
    story.sections.append(_history(story, events, ledger))
    story.sections.append(_events(story, events))
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
    story.ran(row["change_run_id"], "changing the copy")
    settle = (
        [("to settle", f"tempo-sync settle {story.tempo_worklog_id} --adopt DESTINATION_ID  (or --resend)")]
        if row["state"] == "unconfirmed"
        else []
    )
    return render_fields([
        ("source site", text(row["source_site"])),
        ("state", text(row["state"])),
        *settle,
        *_propagation_fields(row),
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


def _propagation_fields(row: Record) -> list[tuple[str, str]]:
    """What ``[propagate]`` left on the ledger row, when it left anything: a conflict, a change in
    flight or refused, an old copy waiting to be deleted."""
    fields = []
    if row["conflict"] is not None:
        fields.append(("conflict", f"{row['conflict']} (parked destination_changed; both sides left alone)"))
    if row["change_state"] is not None:
        fields.append(("change in flight", (
            f"{row['change']}, {row['change_state']} by run {_short(row['change_run_id'])} at"
            f" {utc(row['change_claimed_at'])}; a run that finds it settles it by reading the copy"
        )))  # fmt: skip
    elif row["change"] == "rejected":
        fields.append(("change", "refused by the destination (see the last error and the history)"))
    if row["retired_copy_id"] is not None:
        fields.append(("old copy", (
            f"{row['retired_copy_id']} on issue {text(row['retired_issue_id'])}, deleted once the copy on the"
            " new issue exists"
        )))  # fmt: skip
    return fields


def _history(story: Story, events: list[Record], ledger: list[Record]) -> str:
    """Each version written to the destination, and each change, deletion and conflict (and its
    end, when the source went back to what was written), with its run."""
    title = "history: what was written to the destination, oldest first"
    by_site = {row["source_site"]: row for row in ledger}
    entries = [
        _entry(story, events, index, by_site.get(event["source_site"]))
        for index, event in enumerate(events)
        if event["event"] in _HISTORY
    ]
    if not entries:
        return f"{title}: nothing yet"
    return title + "\n" + "\n".join(f"  {entry}" for entry in entries)


def _entry(story: Story, events: list[Record], index: int, ledger_row: Record | None) -> str:
    """One event of the history: its time, run and detail, then the values it concerns."""
    event = events[index]
    head = f"{utc(event['occurred_at'], millis=True)}  {event['event']}  run {_short(event['run_id'])}:"
    head += f" {text(event['detail'])}"
    before, after = event["before_values"], event["after_values"]
    if event["event"] in _WRITTEN:
        # A creation records no values: what it wrote stayed until the next event that records the
        # values before it, or is still what the ledger says was last written.
        later = (e["before_values"] for e in events[index + 1 :] if e["source_site"] == event["source_site"])
        values = next((v for v in later if v is not None), ledger_row and ledger_row["sent_values"])
        return head + "\n" + render_fields(_values(values), indent=4)
    if event["event"] in _CHANGED and before and after:
        return head + "\n" + render_fields(_changes(_object(before), _object(after)), indent=4)
    if event["event"] == "conflict" and before and after and ledger_row is not None:
        found = _conflict(story, ledger_row, _object(before), _object(after))
        return head + "\n    what tempo-sync wrote → the copy as found\n" + render_fields(found, indent=6)
    return head  # a deletion, the end of a move between issues, a copy found deleted: the detail says it


def _values(values: object) -> list[tuple[str, str]]:
    if values is None:
        return [("values", "not recorded")]
    return [(_VALUE_LABELS.get(name, name), _value(name, value)) for name, value in _object(values).items()]


def _changes(before: Record, after: Record) -> list[tuple[str, str]]:
    """The fields that differ, each ``before → after``."""
    names = [name for name in {**before, **after} if before.get(name) != after.get(name)]
    if not names:
        return [("values", "unchanged")]
    return [
        (_VALUE_LABELS.get(name, name), f"{_value(name, before.get(name))} → {_value(name, after.get(name))}")
        for name in names
    ]


def _conflict(story: Story, ledger_row: Record, wrote: Record, found: Record) -> list[tuple[str, str]]:
    """What tempo-sync wrote → the copy as found, in the fields the conflict check compares (the
    canonical comparison of ``replication.canonical``: a value the service merely stores
    differently is no difference)."""
    try:
        if ledger_row["target"] == "tempo":
            differences = _tempo_differences(wrote, found)
        else:
            differences = _jira_differences(story, ledger_row["source_site"], wrote, found)
    except (KeyError, TypeError, ValueError):
        return [("copy", truncate(json.dumps(found, ensure_ascii=False), DESCRIPTION_WIDTH * 2))]
    return [(label, f"{wrote_text} → {found_text}") for label, wrote_text, found_text in differences]


def _tempo_differences(wrote: Record, found: Record) -> list[tuple[str, str, str]]:
    sent, seen = canonical.tempo_key(wrote), canonical.tempo_key_of(found)
    differences = []
    for name in canonical.differences(sent, seen):
        before, after = (_key_value(name, getattr(key, name)) for key in (sent, seen))
        differences.append((_TEMPO_KEY_LABELS.get(name, name), before, after))
    sent_attributes, seen_attributes = (
        canonical.attributes(wrote["attributes"]),
        canonical.attributes(found.get("attributes")),
    )
    if sent_attributes != seen_attributes:
        differences.append(("attributes", _pairs(sent_attributes), _pairs(seen_attributes)))
    return differences


def _jira_differences(
    story: Story, source_site: str, wrote: Record, found: Record
) -> list[tuple[str, str, str]]:
    # The body tempo-sync wrote, rebuilt from its values; its link property is not compared.
    body = jira_payload(
        {**wrote, "tempo_worklog_id": story.tempo_worklog_id, "source_jira_worklog_id": None},
        source_site=source_site,
    )
    differences = []
    sent_start, seen_start = (datetime.strptime(str(w["started"]), _JIRA_STARTED) for w in (body, found))
    if sent_start != seen_start:
        differences.append(("started", str(body["started"]), str(found["started"])))
    if int(body["timeSpentSeconds"]) != int(found["timeSpentSeconds"]):
        differences.append(
            ("time spent", _seconds(body["timeSpentSeconds"]), _seconds(found["timeSpentSeconds"]))
        )
    sent_comment = canonical.description(canonical.adf_text(body["comment"]))
    seen_comment = canonical.description(canonical.adf_text(found.get("comment")))
    if sent_comment != seen_comment:
        differences.append(("comment", _description(sent_comment), _description(seen_comment)))
    return differences


def _key_value(name: str, value: Any) -> str:
    """A field of the canonical Tempo key as the history shows it."""
    if name == "start_seconds":
        hours, rest = divmod(int(value), 3600)
        return f"{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"
    if name in ("time_spent", "billable"):
        return _seconds(int(value))
    return _description(value) if name == "description" else str(value)


def _value(name: str, value: object) -> str:
    """One of the written values as the history shows it."""
    if value is None:
        return NONE
    if name in ("time_spent_seconds", "billable_seconds"):
        return _seconds(int(value))  # type: ignore[call-overload]
    if name == "description":
        return _description(value)
    if name == "attributes":
        return _pairs(canonical.attributes(value))
    return str(value)


def _description(value: object) -> str:
    """A description quoted as JSON, so that its ends, line breaks and emptiness show; cut at the
    trace's width."""
    quoted = json.dumps(str(value), ensure_ascii=False)
    return quoted if len(quoted) <= DESCRIPTION_WIDTH else quoted[: DESCRIPTION_WIDTH - 4] + '..."'


def _pairs(attributes: tuple[tuple[str, str], ...]) -> str:
    return ", ".join(f"{key}={value}" for key, value in attributes) or NONE


def _object(value: object) -> Record:
    """A JSON object column, as DuckDB hands it over (text)."""
    return dict(json.loads(value)) if isinstance(value, str) else dict(value)  # type: ignore[call-overload]


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
