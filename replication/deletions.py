"""Which synced worklogs the source deleted, proven before any copy is touched.

A worklog missing from its date's listing is not proof: it may have moved to another date, or the
token may have lost the right to see it (Tempo then answers as if it did not exist). A deletion is
confirmed only when both hold: ``GET /4/worklogs/{id}`` answers 404, and the source Jira's feed of
deleted worklogs (``GET /rest/api/3/worklog/deleted``) lists its Jira worklog, which every Tempo
worklog has. Neither alone is enough: a lost permission also gives 404s, and the feed speaks of
Jira ids only. What is confirmed goes to ``raw.source_deletions``; the load deletes the copies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import duckdb

from resources.jira import JiraClient
from resources.tempo import TempoClient

# The feed is read from shortly before the last change the source itself stamped on the worklogs in
# question (their ``updatedAt``): a deletion comes after it, by the source's own clock, whatever
# this machine's clock says. The margin covers Tempo's and Jira's clocks differing a little.
FEED_MARGIN = timedelta(hours=1)

# Synced worklogs of the dates that the last listing no longer holds, and not yet known deleted.
_VANISHED = """
select l.tempo_worklog_id, r.source_jira_worklog_id, r.work_date, r.updated_at
from sync.worklog_links l
join replica.worklogs r on r.source_site = l.source_site and r.tempo_worklog_id = l.tempo_worklog_id
where l.state = 'created' and l.source_site = $source_site and r.work_date between $date_from and $date_to
  and l.tempo_worklog_id not in (select tempo_worklog_id from raw.source_worklogs)
  and l.tempo_worklog_id not in (select tempo_worklog_id from raw.source_deletions)
order by 1
"""


@dataclass(frozen=True)
class Vanished:
    tempo_worklog_id: int
    jira_worklog_id: int | None
    work_date: date
    updated_at: datetime  # the source's updatedAt of the version last read


@dataclass
class Findings:
    """What the source says of the vanished worklogs."""

    moved: dict[int, str] = field(default_factory=dict)  # tempo id -> its work date now
    deleted: list[tuple[Vanished, datetime]] = field(default_factory=list)  # with when Jira deleted it
    unproven: list[Vanished] = field(default_factory=list)  # 404, but no deletion on record (yet)


def vanished(
    connection: duckdb.DuckDBPyConnection, date_from: date, date_to: date, *, source_site: str
) -> list[Vanished]:
    params = {"source_site": source_site, "date_from": date_from, "date_to": date_to}
    return [Vanished(*row) for row in connection.execute(_VANISHED, params).fetchall()]


def confirm(rows: list[Vanished], tempo: TempoClient, jira: JiraClient) -> Findings:
    """Ask the source about each vanished worklog: still there (moved), or deleted on the record."""
    findings = Findings()
    missing: list[Vanished] = []
    for row in rows:
        worklog = tempo.worklog(row.tempo_worklog_id)
        if worklog is None:
            missing.append(row)
        else:
            findings.moved[row.tempo_worklog_id] = str(worklog.get("startDate"))
    traceable = [row for row in missing if row.jira_worklog_id is not None]
    since = min((row.updated_at for row in traceable), default=None)
    deleted_at = jira.deleted_worklogs(since - FEED_MARGIN) if since is not None else {}
    for row in missing:
        when = deleted_at.get(row.jira_worklog_id) if row.jira_worklog_id is not None else None
        if when is None:
            findings.unproven.append(row)
        else:
            findings.deleted.append((row, when))
    return findings


def record(connection: duckdb.DuckDBPyConnection, findings: Findings, run_id: str) -> None:
    """Keep the confirmed deletions, with their proof, in one transaction."""
    if not findings.deleted:
        return
    connection.execute("begin transaction")
    for row, when in findings.deleted:
        connection.execute(
            "insert into raw.source_deletions values (?, ?, ?, ?, ?, current_timestamp)"
            " on conflict (tempo_worklog_id) do nothing",
            [
                row.tempo_worklog_id,
                row.jira_worklog_id,
                when,
                f"GET /4/worklogs/{row.tempo_worklog_id} answered 404, and the source Jira lists worklog"
                f" {row.jira_worklog_id} as deleted at {when:%Y-%m-%dT%H:%M:%SZ}",
                run_id,
            ],
        )
    connection.execute("commit")
