"""Data-quality rules over the warehouse, as plain functions the asset checks call.

Each returns whether the rule holds and the figures that explain a failure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import duckdb

from replication.ledger import ID_COLUMN
from replication.privacy import mask_email
from replication.scope import Scope

START_TIME = "^([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]$"
SAMPLE = 10


@dataclass
class Outcome:
    passed: bool
    figures: dict[str, Any] = field(default_factory=dict)


def replica_complete(connection: duckdb.DuckDBPyConnection, scope: Scope) -> Outcome:
    """Every extracted worklog of the dates has exactly one replica row, and no replica row lacks
    its source (one that was never sent)."""
    missing = _ids(connection, """
        select w.tempo_worklog_id from raw.source_worklogs w
        where w.work_date between $date_from and $date_to
          and w.tempo_worklog_id not in (select tempo_worklog_id from replica.worklogs)
        """, scope)  # fmt: skip
    orphaned = _ids(connection, """
        select r.tempo_worklog_id from replica.worklogs r
        where r.work_date between $date_from and $date_to
          and r.tempo_worklog_id not in (select tempo_worklog_id from raw.source_worklogs)
          and r.tempo_worklog_id not in (select tempo_worklog_id from sync.worklog_links)
        """, scope)  # fmt: skip
    duplicated = _ids(connection, """
        select tempo_worklog_id from replica.worklogs
        where work_date between $date_from and $date_to group by 1 having count(*) > 1""", scope)  # fmt: skip
    return Outcome(
        not (missing or orphaned or duplicated),
        {
            "extracted_without_replica": len(missing),
            "replica_without_source": len(orphaned),
            "duplicated_source_ids": len(duplicated),
            "sample_ids": (missing + orphaned + duplicated)[:SAMPLE],
        },
    )


_FIELD_RULES = {
    "time_spent_not_positive": "time_spent_seconds <= 0",
    "start_date_not_the_partition": (
        "start_date <> work_date or work_date not between $date_from and $date_to"
    ),
    "start_time_malformed": f"start_time is not null and not regexp_full_match(start_time, '{START_TIME}')",
    "billable_negative": "billable_seconds < 0",
    "ready_without_destination_author": "status = 'ready' and destination_author_account_id is null",
    "ready_without_destination_issue": "status = 'ready' and destination_issue_id is null",
    "parked_without_reason": "status = 'parked' and park_reason is null",
}


def replica_fields_valid(connection: duckdb.DuckDBPyConnection, scope: Scope) -> Outcome:
    """The fields the load sends are valid on every replica row of the dates."""
    figures: dict[str, Any] = {}
    samples: list[int] = []
    for name, violation in _FIELD_RULES.items():
        ids = _ids(connection, f"""
            select tempo_worklog_id from replica.worklogs
            where (work_date between $date_from and $date_to
                   or start_date between $date_from and $date_to)
              and ({violation})""", scope)  # fmt: skip
        figures[name] = len(ids)
        samples += ids
    figures["sample_ids"] = samples[:SAMPLE]
    return Outcome(not samples, figures)


def no_destination_worklog_claimed_twice(connection: duckdb.DuckDBPyConnection) -> Outcome:
    """No destination worklog is linked to two source worklogs in the ledger."""
    rows = connection.execute("""
        select target, coalesce(destination_tempo_worklog_id, destination_jira_worklog_id) as id, count(*)
        from sync.worklog_links where state = 'created'
        group by all having count(*) > 1 order by 3 desc limit 10""").fetchall()  # fmt: skip
    return Outcome(
        not rows, {"claimed_twice": len(rows), "sample": [f"{t} worklog {i}: {n} links" for t, i, n in rows]}
    )


def parked_share(connection: duckdb.DuckDBPyConnection, scope: Scope, threshold: float) -> Outcome:
    """The share of parked rows of the dates stays at or under the threshold."""
    # Copies tempo-sync made on the source are not the pair's to sync, so they count on neither side.
    total, parked = connection.execute(
        "select count(*), count(*) filter (where status = 'parked') from replica.worklogs"
        " where work_date between $date_from and $date_to and status <> 'copy'",
        scope.params,
    ).fetchone() or (0, 0)
    share = parked / total if total else 0.0
    by_reason = dict(connection.execute(
        "select park_reason, count(*) from replica.worklogs where status = 'parked'"
        " and work_date between $date_from and $date_to group by 1 order by 2 desc, 1",
        scope.params,
    ).fetchall())  # fmt: skip
    authors = connection.execute(
        "select coalesce(source_author_email, source_author_account_id), count(*) from replica.worklogs"
        " where status = 'parked' and work_date between $date_from and $date_to"
        " group by 1 order by 2 desc, 1 limit 5",
        scope.params,
    ).fetchall()
    issues = connection.execute(
        "select coalesce(source_issue_key, cast(source_issue_id as varchar)), count(*) from replica.worklogs"
        " where status = 'parked' and work_date between $date_from and $date_to"
        " group by 1 order by 2 desc, 1 limit 5",
        scope.params,
    ).fetchall()
    return Outcome(
        share <= threshold,
        {
            "parked": parked,
            "rows": total,
            "parked_share": round(share, 4),
            "threshold": threshold,
            "parked_by_reason": by_reason,
            "top_authors": {(mask_email(a) if "@" in a else a): n for a, n in authors},
            "top_issues": dict(issues),
        },
    )


@dataclass(frozen=True)
class LinkedSeconds:
    """What the ledger says the destination holds for one (destination issue, author)."""

    issue_id: int
    author: str
    worklog_ids: tuple[int, ...]
    seconds: int


def linked_seconds(connection: duckdb.DuckDBPyConnection, scope: Scope, target: str) -> list[LinkedSeconds]:
    """What the ledger says it wrote, per destination issue and author: the values last written
    (``sent_values``), which an edit on the source changes only once it is carried."""
    id_column = ID_COLUMN[target]
    rows = connection.execute(f"""
        with written as (
            select l.destination_issue_id, l.{id_column} as copy_id,
                   coalesce(l.sent_values ->> '$.destination_author_account_id',
                            r.destination_author_account_id) as author,
                   coalesce(cast(l.sent_values ->> '$.time_spent_seconds' as bigint), r.time_spent_seconds)
                       as seconds,
                   coalesce(cast(l.sent_values ->> '$.start_date' as date), r.work_date) as day
            from sync.worklog_links l join replica.worklogs r using (source_site, tempo_worklog_id)
            where l.state = 'created' and l.target = $target)
        select destination_issue_id, author, list(copy_id order by 1), sum(seconds)
        from written where day between $date_from and $date_to
        group by 1, 2 order by 1, 2""", {**scope.params, "target": target}).fetchall()  # fmt: skip
    return [LinkedSeconds(int(i), str(a), tuple(int(x) for x in ids), int(s)) for i, a, ids, s in rows]


def written_hashes(connection: duckdb.DuckDBPyConnection, scope: Scope, target: str) -> list[dict[str, Any]]:
    """The scope's copies with the canonical hash tempo-sync last saw them with (``copy_hash``;
    null for copies written before it was kept) and the values it wrote."""
    id_column = ID_COLUMN[target]
    cursor = connection.execute(f"""
        select r.*, l.{id_column} as copy_id, l.copy_hash, l.sent_values
        from sync.worklog_links l join replica.worklogs r using (source_site, tempo_worklog_id)
        where l.state = 'created' and l.target = $target and l.sent_values is not null
          and cast(l.sent_values ->> '$.start_date' as date) between $date_from and $date_to
        order by copy_id""", {**scope.params, "target": target})  # fmt: skip
    columns = [column[0] for column in cursor.description or []]
    return [dict(zip(columns, values, strict=True)) for values in cursor.fetchall()]


def reconcile(
    expected: Sequence[LinkedSeconds],
    found: dict[int, tuple[str | None, int]],
    changed: Sequence[int] = (),
) -> Outcome:
    """Compare the ledger with the destination's worklogs as read back: id → (author, seconds).
    An author of None is not compared (Jira records the integration user, not the worker).
    ``changed`` names the copies whose current values are not what tempo-sync last wrote."""
    missing: list[int] = []
    mismatched: list[str] = []
    for group in expected:
        present = [found[i] for i in group.worklog_ids if i in found]
        missing += [i for i in group.worklog_ids if i not in found]
        seconds = sum(s for _, s in present)
        wrong_author = any(author is not None and author != group.author for author, _ in present)
        if len(present) == len(group.worklog_ids) and (seconds != group.seconds or wrong_author):
            mismatched.append(
                f"issue {group.issue_id}: {seconds} s on the destination"
                f"{' under another author' if wrong_author else ''}, {group.seconds} s synced"
            )
    return Outcome(
        not missing and not mismatched and not changed,
        {
            "groups_checked": len(expected),
            "linked_worklogs": sum(len(g.worklog_ids) for g in expected),
            "missing_on_destination": len(missing),
            "sample_missing_ids": missing[:SAMPLE],
            "seconds_mismatches": mismatched[:SAMPLE],
            "changed_on_destination": len(changed),
            "sample_changed_ids": list(changed[:SAMPLE]),
        },
    )


def nothing_in_doubt(connection: duckdb.DuckDBPyConnection, stale_after: timedelta) -> Outcome:
    """No worklog anywhere in the ledger waits for a person (``unconfirmed``), and none has stayed
    ``pending`` for longer than ``stale_after`` (its date has not been run again since it failed)."""
    unconfirmed = [
        row[0]
        for row in connection.execute(
            "select tempo_worklog_id from sync.worklog_links where state = 'unconfirmed' order by 1"
        ).fetchall()
    ]
    stale = [
        row[0]
        for row in connection.execute(
            "select tempo_worklog_id from sync.worklog_links where (state = 'pending'"
            " and claimed_at < current_timestamp - $age) or (change_state is not null"
            " and change_claimed_at < current_timestamp - $age) order by 1",
            {"age": stale_after},
        ).fetchall()
    ]
    return Outcome(
        not (unconfirmed or stale),
        {
            "unconfirmed": len(unconfirmed),
            "sample_unconfirmed_ids": unconfirmed[:SAMPLE],
            "to_settle": "tempo-sync trace ID, then tempo-sync settle ID --adopt DESTINATION_ID or --resend",
            "pending_for_long": len(stale),
            "sample_pending_ids": stale[:SAMPLE],
            "pending_allowed_hours": stale_after / timedelta(hours=1),
        },
    )


def edits_carried(connection: duckdb.DuckDBPyConnection) -> Outcome:
    """No synced worklog waits with an edit or a deletion the destination did not take: a copy
    someone changed on the destination (parked ``destination_changed``), or a change it refused."""
    conflicts = [row[0] for row in connection.execute(
        "select tempo_worklog_id from sync.worklog_links where state = 'created' and conflict is not null"
        " order by 1").fetchall()]  # fmt: skip
    refused = [row[0] for row in connection.execute(
        "select tempo_worklog_id from sync.worklog_links where state = 'created' and change = 'rejected'"
        " order by 1").fetchall()]  # fmt: skip
    return Outcome(
        not (conflicts or refused),
        {
            "changed_on_destination": len(conflicts),
            "sample_conflict_ids": conflicts[:SAMPLE],
            "changes_refused": len(refused),
            "sample_refused_ids": refused[:SAMPLE],
            "to_look": "tempo-sync trace ID shows what tempo-sync wrote and the copy as found",
        },
    )


def fresh(connection: duckdb.DuckDBPyConnection, today: date, allowed_days: int) -> Outcome:
    """The newest work date a successful run synced is at most ``allowed_days`` before ``today``."""
    # A dry run wrote nothing to the destination, so it synced nothing.
    row = connection.execute(
        "select max(partition_end) from lineage.runs where status = 'succeeded'"
        " and not coalesce(cast(counts ->> '$.load.dry_run' as boolean), false)"
    ).fetchone()
    newest = row[0] if row else None
    age = (today - newest).days if newest else None
    figures = {
        "newest_synced_work_date": str(newest) if newest else "none",
        "age_days": age if age is not None else -1,
        "allowed_days": allowed_days,
    }
    return Outcome(age is not None and age <= allowed_days, figures)


def _ids(connection: duckdb.DuckDBPyConnection, sql: str, scope: Scope) -> list[int]:
    return [row[0] for row in connection.execute(sql, scope.params).fetchall()]
