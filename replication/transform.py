"""The replica: one row per source worklog, resolved and ready, or parked with a reason.

Authors and issues are resolved once each (there are few), in Python, by the rules in
:mod:`replication.authors`; the per-worklog work is one set-based SQL statement. Rows already
claimed by the ledger are frozen: the replica keeps what was (or is being) sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb
import pandas as pd

from replication.authors import User, resolve_author
from replication.echo import InboundCopies
from replication.frames import registered
from replication.payloads import COPY_MARK
from replication.scope import IN_SCOPE, SCOPE_AUTHORS, Scope
from resources.policy import SyncPolicy

# Why a worklog is a copy tempo-sync made (replication/echo.py): another pair's ledger has it, by its
# Tempo or its Jira id, or it carries a copy's mark (only looked for where the text could hold one).
_COPY = """coalesce(ct.detail, cj.detail,
    case when contains(w.description, 'tempo-sync') or contains(w.description, 'logged in Tempo on')
         then case when regexp_matches(w.description, $copy_mark)
                   then 'it carries the mark of a copy tempo-sync made' end end)"""

_RESOLVED_ROWS = f"""
with destination_attributes as (
    select coalesce(list(key), []::varchar[]) as keys
    from directory.work_attributes where site = 'destination' and $destination_has_tempo
)
select
    w.tempo_worklog_id,
    $source_site as source_site,
    w.work_date,
    case when {_COPY} is not null then 'copy'
         when a.park_reason is not null or f.detail is not null or i.destination_issue_id is null
         then 'parked' else 'ready' end as status,
    case when {_COPY} is not null then 'tempo_sync_copy'
         else coalesce(a.park_reason, case when f.detail is not null then 'copy_in_flight' end,
                       case when i.destination_issue_id is null then 'issue_unmapped' end) end as park_reason,
    coalesce({_COPY}, a.detail, f.detail, i.detail) as park_detail,
    a.rule as author_rule,
    w.author_account_id as source_author_account_id,
    a.source_email as source_author_email,
    a.source_name as source_author_name,
    a.destination_account_id as destination_author_account_id,
    a.destination_email as destination_author_email,
    a.time_zone as author_time_zone,
    i.rule as issue_rule,
    w.issue_id as source_issue_id,
    i.source_key as source_issue_key,
    i.destination_issue_id,
    i.destination_key as destination_issue_key,
    case when a.rule = 'fallback'
        then concat_ws(chr(10) || chr(10), w.description,
                       'Work by ' || coalesce(a.source_name, a.source_email, w.author_account_id)
                       || ' (logged for them by tempo-sync).')
        else w.description end as description,
    w.created_at,
    w.updated_at,
    w.work_date as start_date,
    w.start_time,
    w.time_spent_seconds,
    w.billable_seconds,
    i.remaining_estimate_seconds,
    w.jira_worklog_id as source_jira_worklog_id,
    -- Only attributes whose key exists on the destination Tempo can be sent; Jira has none. Each
    -- row's list is filtered in place: a subquery per row would be joined back over every row.
    to_json(list_filter(cast(w.attributes as json[]), lambda v: list_contains(d.keys, v ->> '$.key')))
        as attributes,
    to_json(list_transform(
        list_filter(cast(w.attributes as json[]),
                    lambda v: len(d.keys) = 0 or not list_contains(d.keys, v ->> '$.key')),
        lambda v: v ->> '$.key')) as dropped_attributes
from raw.source_worklogs w
cross join destination_attributes d
left join authors a on a.source_account_id = w.author_account_id
left join issues i on i.source_issue_id = w.issue_id
left join (select tempo_id, min(detail) as detail from inbound_copies group by 1) ct
    on ct.tempo_id = w.tempo_worklog_id
left join (select jira_id, min(detail) as detail from inbound_copies group by 1) cj
    on cj.jira_id = w.jira_worklog_id
left join (select issue_id, min(detail) as detail from inbound_in_flight group by 1) f
    on f.issue_id = w.issue_id
where {IN_SCOPE}
"""


# Ledger rows (``l``) whose replica row keeps what was, or may have been, sent: a creation in flight
# or in doubt, a deleted copy, and a synced worklog unless edits are propagated (then its replica
# row takes the source's edits, and the ledger keeps what was written), or while an edit of it is
# in flight. (A rejected row was refused, so it takes the source's changes and goes again.)
_FROZEN = """(l.state in ('pending', 'unconfirmed', 'resend', 'deleted')
    or (l.state = 'created' and (not $propagate_updates or l.change_state is not null)))"""
# Whether a source worklog (``w``) already has its replica row.
_IN_REPLICA = "w.tempo_worklog_id in (select tempo_worklog_id from replica.worklogs)"


def _with_resolved(rows: str = "true") -> str:
    """The scope's worklogs that match `rows` (a predicate on ``w``), resolved and named
    ``resolved`` for the statement that follows.

    Each statement resolves them again (the joins are against a few authors and issues): a table
    of a million resolved rows would be held in memory for the whole transaction. `rows` filters
    the worklogs before any column is computed.
    """
    return f"with resolved as ({_RESOLVED_ROWS} and ({rows}))"


def _unfrozen(rows: str) -> str:
    """The resolved rows the replica takes: every one the ledger has not claimed (a claimed row
    keeps what was, or is being, sent)."""
    return f"""
    {_with_resolved(rows)}
    select r.*, md5(concat_ws('|', r.destination_author_account_id, r.destination_issue_id, r.start_date,
                              r.start_time, r.time_spent_seconds, r.billable_seconds, r.description,
                              r.remaining_estimate_seconds, r.attributes::varchar)),
           $run_id, $run_id, current_timestamp
    from resolved r
    where not exists (
        select 1 from sync.worklog_links l
        where l.source_site = r.source_site and l.tempo_worklog_id = r.tempo_worklog_id
          and {_FROZEN})
    """


@dataclass(frozen=True)
class TransformCounts:
    ready: int
    parked: dict[str, int]
    frozen: int
    removed: int
    copies: int  # worklogs tempo-sync made on the source site, never sent (replication/echo.py)


def build_replica(
    connection: duckdb.DuckDBPyConnection,
    policy: SyncPolicy,
    scope: Scope,
    run_id: str,
    *,
    destination_has_tempo: bool,
    inbound: InboundCopies | None = None,
) -> TransformCounts:
    """Rebuild the scope's replica rows in one transaction. ``inbound`` holds the copies other pairs
    made on this pair's source site (read after the source was listed, see replication/echo.py)."""
    authors = _author_frame(connection, policy, scope)
    issues = _issue_frame(connection, policy, scope)
    inbound = inbound or InboundCopies()
    params = {
        **scope.params,
        "source_site": policy.source_site,
        "destination_has_tempo": destination_has_tempo,
        "propagate_updates": policy.propagate_updates,
        "copy_mark": COPY_MARK,
    }
    with (
        registered(connection, "authors", authors),
        registered(connection, "issues", issues),
        registered(connection, "inbound_copies", inbound.copies),
        registered(connection, "inbound_in_flight", inbound.in_flight),
    ):
        return _rebuild(connection, params, scope, run_id)


def _rebuild(
    connection: duckdb.DuckDBPyConnection, params: dict[str, Any], scope: Scope, run_id: str
) -> TransformCounts:
    connection.execute("begin transaction")
    try:
        # Counted before the replica changes (the scope takes in the replica's parked rows); a row
        # the ledger has created or claimed keeps its replica row as it is (frozen).
        by_status = connection.execute(
            f"{_with_resolved()} select r.status, r.park_reason, count(*), count(l.tempo_worklog_id)"
            " from resolved r left join sync.worklog_links l on l.source_site = r.source_site"
            f" and l.tempo_worklog_id = r.tempo_worklog_id and {_FROZEN}"
            " group by all order by all",
            params,
        ).fetchall()
        # Rows already in the replica are updated in place (keeping their first run), then new rows
        # are appended: a plain insert streams to disk, where an upsert of every row holds them in
        # memory.
        connection.execute(
            f"""
            insert into replica.worklogs {_unfrozen(_IN_REPLICA)}
            on conflict (tempo_worklog_id) do update set
                status = excluded.status, park_reason = excluded.park_reason,
                park_detail = excluded.park_detail, author_rule = excluded.author_rule,
                source_author_account_id = excluded.source_author_account_id,
                source_author_email = excluded.source_author_email,
                source_author_name = excluded.source_author_name,
                destination_author_account_id = excluded.destination_author_account_id,
                destination_author_email = excluded.destination_author_email,
                author_time_zone = excluded.author_time_zone, issue_rule = excluded.issue_rule,
                source_issue_id = excluded.source_issue_id, source_issue_key = excluded.source_issue_key,
                destination_issue_id = excluded.destination_issue_id,
                destination_issue_key = excluded.destination_issue_key, description = excluded.description,
                created_at = excluded.created_at, updated_at = excluded.updated_at,
                work_date = excluded.work_date, start_date = excluded.start_date,
                start_time = excluded.start_time, time_spent_seconds = excluded.time_spent_seconds,
                billable_seconds = excluded.billable_seconds,
                remaining_estimate_seconds = excluded.remaining_estimate_seconds,
                source_jira_worklog_id = excluded.source_jira_worklog_id,
                attributes = excluded.attributes, dropped_attributes = excluded.dropped_attributes,
                content_hash = excluded.content_hash, last_run_id = excluded.last_run_id,
                transformed_at = excluded.transformed_at
            """,
            {**params, "run_id": run_id},
        )
        connection.execute(
            f"insert into replica.worklogs {_unfrozen(f'not {_IN_REPLICA}')}",
            {**params, "run_id": run_id},
        )
        # A copy changed on the destination stays parked until a run finds it as tempo-sync left it.
        connection.execute(
            """
            update replica.worklogs r set status = 'parked', park_reason = 'destination_changed',
                park_detail = l.conflict
            from sync.worklog_links l
            where l.source_site = r.source_site and l.tempo_worklog_id = r.tempo_worklog_id
              and l.state = 'created' and l.conflict is not null and r.status = 'ready'
            """
        )
        # A worklog deleted on the source before anything was sent leaves the replica too.
        removed = _scalar(
            connection,
            """
            delete from replica.worklogs r
            where r.work_date between $date_from and $date_to
              and r.tempo_worklog_id not in (select tempo_worklog_id from raw.source_worklogs)
              and not exists (select 1 from sync.worklog_links l where l.tempo_worklog_id = r.tempo_worklog_id
                              and l.source_site = r.source_site)
            """,
            scope.params,
        )
        connection.execute("commit")
    except BaseException:
        connection.execute("rollback")
        raise
    ready = sum(count for status, _, count, _ in by_status if status == "ready")
    parked = {reason: count for status, reason, count, _ in by_status if status == "parked"}
    copies = sum(count for status, _, count, _ in by_status if status == "copy")
    frozen = sum(claimed for *_, claimed in by_status)
    return TransformCounts(ready, parked, frozen, removed, copies)


def _scalar(connection: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any] | None = None) -> int:
    row = connection.execute(sql, params or {}).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def _users(connection: duckdb.DuckDBPyConnection, site: str) -> dict[str, User | None]:
    rows = connection.execute(
        "select account_id, found, account_type, active, email, display_name, time_zone"
        " from directory.users where site = ?",
        [site],
    ).fetchall()
    return {
        account_id: User(account_id, account_type or "unknown", bool(active), email, name, zone)
        if found
        else None
        for account_id, found, account_type, active, email, name, zone in rows
    }


def _author_frame(connection: duckdb.DuckDBPyConnection, policy: SyncPolicy, scope: Scope) -> pd.DataFrame:
    account_ids = [row[0] for row in connection.execute(SCOPE_AUTHORS, scope.params).fetchall()]
    source, destination = _users(connection, "source"), _users(connection, "destination")
    searches = dict(
        connection.execute(
            "select email, match_account_ids from directory.user_searches where site = 'destination'"
        ).fetchall()
    )
    fallback = destination.get(policy.fallback_account_id) if policy.fallback_account_id else None
    rows = []
    for account_id in account_ids:
        source_user = source.get(account_id)
        email = source_user.email if source_user else None
        matches = (
            [destination[i] for i in searches.get(email.lower(), []) if destination.get(i)] if email else []
        )
        override_id = policy.override_for(account_id, email)
        override: User | str | None = None
        if override_id is not None:
            override = destination.get(override_id) or override_id
        resolution = resolve_author(
            account_id,
            source_user,
            destination.get(account_id),
            [user for user in matches if user is not None],
            override=override,
            fallback=fallback,
        )
        target = resolution.destination
        rows.append(
            {
                "source_account_id": account_id,
                "source_email": email,
                "source_name": source_user.display_name if source_user else None,
                "destination_account_id": target.account_id if target else None,
                "destination_email": target.email if target else None,
                "time_zone": (target.time_zone if target else None)
                or (source_user.time_zone if source_user else None),
                "rule": str(resolution.rule) if resolution.rule else None,
                "park_reason": str(resolution.park_reason) if resolution.park_reason else None,
                "detail": resolution.detail,
            }
        )
    columns = ["source_account_id", "source_email", "source_name", "destination_account_id",
               "destination_email", "time_zone", "rule", "park_reason", "detail"]  # fmt: skip
    return pd.DataFrame(rows, columns=columns).astype(object)


def _issue_frame(connection: duckdb.DuckDBPyConnection, policy: SyncPolicy, scope: Scope) -> pd.DataFrame:
    rows = connection.execute(
        f"""
        select distinct w.issue_id, s.issue_key, s.remaining_estimate_seconds
        from raw.source_worklogs w
        left join directory.issues s on s.site = 'source' and s.issue_id = w.issue_id
        where {IN_SCOPE}
        """,
        scope.params,
    ).fetchall()
    by_key = dict(
        connection.execute(
            "select issue_key, issue_id from directory.issues where site = 'destination'"
        ).fetchall()
    )
    by_field = dict(
        connection.execute(
            "select source_key_field, issue_id from directory.issues"
            " where site = 'destination' and source_key_field is not null"
        ).fetchall()
    )
    key_of = {issue_id: key for key, issue_id in by_key.items()}
    frame_rows = []
    for issue_id, source_key, remaining in rows:
        destination_id, rule, detail = None, None, None
        if source_key is None:
            detail = f"issue {issue_id} is not visible on the source site"
        elif source_key in policy.issue_table:
            rule, destination_id = "table", by_key.get(policy.issue_table[source_key])
        elif policy.issue_strategy == "field":
            rule, destination_id = "field", by_field.get(source_key)
        else:
            rule, destination_id = policy.issue_strategy, by_key.get(policy.destination_key(source_key) or "")
        if source_key is not None and destination_id is None:
            detail = f"{source_key} has no destination issue ({rule})"
        frame_rows.append(
            {
                "source_issue_id": issue_id,
                "source_key": source_key,
                "destination_issue_id": destination_id,
                "destination_key": key_of.get(destination_id) if destination_id is not None else None,
                "rule": rule if destination_id is not None else None,
                "remaining_estimate_seconds": remaining,
                "detail": detail,
            }
        )
    columns = ["source_issue_id", "source_key", "destination_issue_id", "destination_key", "rule",
               "remaining_estimate_seconds", "detail"]  # fmt: skip
    frame = pd.DataFrame(frame_rows, columns=columns)
    return frame.astype({"source_issue_id": "int64", "destination_issue_id": "Int64",
                         "remaining_estimate_seconds": "Int64"})  # fmt: skip
