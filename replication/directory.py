"""The user and issue directories of both sites, cached in DuckDB with an expiry.

Lookups are batched (``/user/bulk``, ``/search/jql`` with ``id in``/``key in``) and only what is
missing or stale is fetched, so an author costs one call per expiry period, not one per worklog.
Lookups behind parked rows skip the cache: a fix on either site shows on the next run.
Each function reads what it needs, closes the connection, calls the API, then writes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd

from replication.frames import registered
from replication.scope import IN_SCOPE, PARKED_AUTHORS, PARKED_ISSUES, SCOPE_AUTHORS, Scope
from resources.jira import JiraClient
from resources.policy import SyncPolicy
from resources.tempo import TempoClient
from resources.warehouse import Warehouse

SOURCE, DESTINATION = "source", "destination"
ISSUE_FIELDS = ("key", "project", "timeestimate")


@dataclass
class DirectoryCounts:
    """What a refresh needed, found in the cache, and fetched."""

    needed: dict[str, int] = field(default_factory=dict)
    cached: dict[str, int] = field(default_factory=dict)
    fetched: dict[str, int] = field(default_factory=dict)
    missing: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str, *, needed: int, cached: int, fetched: int, missing: int) -> None:
        self.needed[kind] = self.needed.get(kind, 0) + needed
        self.cached[kind] = self.cached.get(kind, 0) + cached
        self.fetched[kind] = self.fetched.get(kind, 0) + fetched
        self.missing[kind] = self.missing.get(kind, 0) + missing


def refresh_source(
    warehouse: Warehouse, jira: JiraClient, policy: SyncPolicy, scope: Scope, run_id: str
) -> DirectoryCounts:
    """Source authors and issues of the scope's worklogs."""
    counts = DirectoryCounts()
    user_ttl, issue_ttl = _cutoff(policy.user_ttl_hours), _cutoff(policy.issue_ttl_hours)
    with warehouse.get_connection() as connection:
        authors = _column(
            connection,
            SCOPE_AUTHORS,
            scope.params,
        )
        stale_authors = _stale_users(connection, SOURCE, authors, user_ttl)
        issues = _column(
            connection,
            f"select distinct w.issue_id from raw.source_worklogs w where {IN_SCOPE}",
            scope.params,
        )
        stale_issues = _stale(
            connection,
            issues,
            "select issue_id from directory.issues where site = 'source' and fetched_at >= $cutoff"
            " union all select cast(lookup as bigint) from directory.issue_misses"
            " where site = 'source' and fetched_at >= $cutoff",
            issue_ttl,
            always=PARKED_ISSUES,
        )
    users = jira.users(stale_authors) if stale_authors else []
    found_issues = jira.issues_by_ids(stale_issues, ISSUE_FIELDS) if stale_issues else []
    with warehouse.get_connection() as connection:
        _store_users(connection, SOURCE, users, run_id, looked_up=stale_authors)
        _store_issues(connection, SOURCE, found_issues, run_id, policy=None)
        _store_misses(
            connection,
            SOURCE,
            [str(i) for i in stale_issues],
            {issue["id"] for issue in found_issues},
            run_id,
        )
    counts.add("users", needed=len(authors), cached=len(authors) - len(stale_authors), fetched=len(users),
               missing=len(stale_authors) - len(users))  # fmt: skip
    counts.add("issues", needed=len(issues), cached=len(issues) - len(stale_issues),
               fetched=len(found_issues), missing=len(stale_issues) - len(found_issues))  # fmt: skip
    return counts


def refresh_destination(
    warehouse: Warehouse,
    jira: JiraClient,
    tempo: TempoClient | None,
    policy: SyncPolicy,
    scope: Scope,
    run_id: str,
) -> DirectoryCounts:
    """Destination accounts for the scope's authors, and the issues their issues map to."""
    counts = DirectoryCounts()
    user_ttl, issue_ttl = _cutoff(policy.user_ttl_hours), _cutoff(policy.issue_ttl_hours)
    with warehouse.get_connection() as connection:
        authors = _column(
            connection,
            SCOPE_AUTHORS,
            scope.params,
        )
        wanted = sorted(
            {*authors, *policy.author_overrides.values(), *filter(None, [policy.fallback_account_id])}
        )
        stale_accounts = _stale_users(connection, DESTINATION, wanted, user_ttl)
    users = jira.users(stale_accounts) if stale_accounts else []
    with warehouse.get_connection() as connection:
        _store_users(connection, DESTINATION, users, run_id, looked_up=stale_accounts)
        emails = _emails_to_search(connection, authors, user_ttl)
    counts.add("accounts", needed=len(wanted), cached=len(wanted) - len(stale_accounts), fetched=len(users),
               missing=len(stale_accounts) - len(users))  # fmt: skip
    searches = {email: jira.search_users(email) for email in emails}
    with warehouse.get_connection() as connection:
        for email, results in searches.items():
            _store_search(connection, email, results, run_id)
    counts.add("email searches", needed=len(emails), cached=0, fetched=len(searches), missing=0)

    with warehouse.get_connection() as connection:
        keys = _mapped_keys(connection, scope, policy)
        stale_keys = _stale(
            connection,
            sorted(set(keys.values())),
            "select issue_key from directory.issues where site = 'destination' and fetched_at >= $cutoff"
            " union all select lookup from directory.issue_misses"
            " where site = 'destination' and fetched_at >= $cutoff",
            issue_ttl,
            always=f"select d.issue_key from directory.issues d join ({PARKED_ISSUES}) p"
            " on d.site = 'source' and d.issue_id = p.source_issue_id",
            map_always=keys,
        )
        by_field = _field_lookups(connection, scope, policy, issue_ttl)
    fields = (*ISSUE_FIELDS, policy.issue_field) if policy.issue_field else ISSUE_FIELDS
    found = jira.issues_by_keys(stale_keys, fields) if stale_keys else []
    field_found = (
        jira.issues_with_field_text(policy.issue_field, by_field, fields)
        if by_field and policy.issue_field
        else []
    )
    attributes = _stale_attributes(warehouse, tempo, policy)
    with warehouse.get_connection() as connection:
        _store_issues(connection, DESTINATION, [*found, *field_found], run_id, policy=policy)
        _store_misses(connection, DESTINATION, stale_keys, {issue["key"] for issue in found}, run_id)
        if attributes is not None:
            connection.execute("delete from directory.work_attributes where site = 'destination'")
            for attribute in attributes:
                connection.execute(
                    "insert into directory.work_attributes"
                    " values ('destination', ?, ?, ?, current_timestamp)",
                    [attribute["key"], attribute.get("name"), attribute.get("type")],
                )
    mapped = len(set(keys.values()))
    counts.add("issues", needed=mapped + len(by_field), cached=mapped - len(stale_keys),
               fetched=len(found) + len(field_found), missing=len(stale_keys) - len(found))  # fmt: skip
    return counts


def _stale_attributes(
    warehouse: Warehouse, tempo: TempoClient | None, policy: SyncPolicy
) -> list[dict[str, Any]] | None:
    if tempo is None:
        return None
    with warehouse.get_connection() as connection:
        fresh = connection.execute(
            "select count(*) from directory.work_attributes where site = 'destination' and fetched_at >= ?",
            [_cutoff(policy.user_ttl_hours)],
        ).fetchone()
    if fresh and fresh[0]:
        return None
    return tempo.work_attributes()


def _cutoff(hours: float) -> datetime:
    return datetime.now(UTC) - timedelta(hours=hours)


def _column(connection: Any, sql: str, params: Mapping[str, object] | None = None) -> list[Any]:
    return [row[0] for row in connection.execute(sql, params or {}).fetchall()]


def _stale(
    connection: Any,
    needed: Sequence[Any],
    fresh_sql: str,
    cutoff: datetime,
    *,
    always: str,
    map_always: Mapping[str, str] | None = None,
) -> list[Any]:
    fresh = set(_column(connection, fresh_sql, {"cutoff": cutoff}))
    forced = set(_column(connection, always))
    if map_always is not None:
        forced = {map_always[key] for key in forced if key in map_always}
    return sorted(item for item in needed if item not in fresh or item in forced)


def _stale_users(connection: Any, site: str, account_ids: Sequence[str], cutoff: datetime) -> list[str]:
    return _stale(
        connection,
        account_ids,
        f"select account_id from directory.users where site = '{site}' and fetched_at >= $cutoff",
        cutoff,
        always=PARKED_AUTHORS,
    )


def _store_users(
    connection: Any, site: str, users: Iterable[Mapping[str, Any]], run_id: str, *, looked_up: Sequence[str]
) -> None:
    rows = {
        user["accountId"]: (
            True,
            user.get("accountType"),
            bool(user.get("active")),
            user.get("emailAddress") or None,
            user.get("displayName"),
            user.get("timeZone"),
        )
        for user in users
    }
    for account_id in looked_up:
        rows.setdefault(account_id, (False, None, None, None, None, None))
    if not rows:
        return
    columns = ["site", "account_id", "found", "account_type", "active", "email", "display_name", "time_zone"]
    frame = pd.DataFrame(
        [(site, account_id, *values) for account_id, values in rows.items()], columns=columns
    )
    with registered(connection, "user_rows", frame):
        connection.execute(
            "insert or replace into directory.users"
            " select site, account_id, found, account_type, active, email, display_name, time_zone,"
            " current_timestamp, ? from user_rows",
            [run_id],
        )


def _emails_to_search(connection: Any, authors: Sequence[str], cutoff: datetime) -> list[str]:
    """Source emails whose same-accountId twin on the destination does not carry the same email and
    that have no fresh search (parked authors' searches are always repeated)."""
    if not authors:
        return []
    with registered(connection, "scope_authors", pd.DataFrame({"account_id": list(authors)})):
        return _column(
            connection,
            f"""
        select distinct lower(s.email)
        from scope_authors a
        join directory.users s on s.site = 'source' and s.account_id = a.account_id
        left join directory.users d on d.site = 'destination' and d.account_id = a.account_id and d.found
        left join directory.user_searches q on q.site = 'destination' and q.email = lower(s.email)
        where s.found and s.email is not null and s.account_type = 'atlassian'
          and (d.email is null and d.account_id is null or lower(d.email) <> lower(s.email))
          and (q.fetched_at is null or q.fetched_at < $cutoff or a.account_id in ({PARKED_AUTHORS}))
        order by 1
        """,
            {"cutoff": cutoff},
        )


def _store_search(connection: Any, email: str, results: Sequence[Mapping[str, Any]], run_id: str) -> None:
    matches = [user for user in results if (user.get("emailAddress") or "").lower() == email]
    _store_users(connection, DESTINATION, matches, run_id, looked_up=[])
    connection.execute(
        "insert or replace into directory.user_searches values ('destination', ?, ?, current_timestamp, ?)",
        [email, [user["accountId"] for user in matches], run_id],
    )


def _store_issues(
    connection: Any, site: str, issues: Sequence[Mapping[str, Any]], run_id: str, *, policy: SyncPolicy | None
) -> None:
    if not issues:
        return
    field_name = policy.issue_field if policy is not None else None
    frame = pd.DataFrame(
        [
            (
                site,
                int(issue["id"]),
                issue["key"],
                issue["fields"]["project"]["key"],
                issue["fields"].get("timeestimate"),
                issue["fields"].get(field_name) if field_name else None,
                run_id,
            )
            for issue in issues
        ],
        columns=["site", "issue_id", "issue_key", "project_key", "remaining", "source_key_field", "run_id"],
    )
    with registered(connection, "frame", frame):
        _upsert_issues(connection, site)


def _upsert_issues(connection: Any, site: str) -> None:
    connection.execute(
        """
        insert or replace into directory.issues
        select site, issue_id, issue_key, project_key, remaining::bigint, source_key_field,
               current_timestamp, run_id from frame
        """
    )
    connection.execute(
        "delete from directory.issue_misses where site = ? and lookup in (select issue_key from frame"
        " union all select cast(issue_id as varchar) from frame)",
        [site],
    )


def _store_misses(connection: Any, site: str, looked_up: Sequence[str], found: set[str], run_id: str) -> None:
    for lookup in looked_up:
        if lookup not in found:
            connection.execute(
                "insert or replace into directory.issue_misses values (?, ?, current_timestamp, ?)",
                [site, lookup, run_id],
            )


def _mapped_keys(connection: Any, scope: Scope, policy: SyncPolicy) -> dict[str, str]:
    """Source key → the destination key the table or key strategy maps it to."""
    source_keys = _column(
        connection,
        f"""
        select distinct i.issue_key from raw.source_worklogs w
        join directory.issues i on i.site = 'source' and i.issue_id = w.issue_id
        where {IN_SCOPE}
        """,
        scope.params,
    )
    mapped = {key: policy.destination_key(key) for key in source_keys}
    return {key: value for key, value in mapped.items() if value is not None}


def _field_lookups(connection: Any, scope: Scope, policy: SyncPolicy, cutoff: datetime) -> list[str]:
    """Source keys to look up through the destination's source-key field (strategy ``field``)."""
    if policy.issue_strategy != "field":
        return []
    keys = _column(
        connection,
        f"""
        select distinct i.issue_key from raw.source_worklogs w
        join directory.issues i on i.site = 'source' and i.issue_id = w.issue_id
        where {IN_SCOPE}
          and i.issue_key not in (
              select source_key_field from directory.issues
              where site = 'destination' and source_key_field is not null and fetched_at >= $cutoff)
        """,
        {**scope.params, "cutoff": cutoff},
    )
    return [key for key in keys if key not in policy.issue_table]
