"""A markdown preview of parked rows for the Dagster UI: enough to act on, no raw emails."""

from __future__ import annotations

import duckdb

from replication.privacy import mask_email
from replication.scope import Scope

PREVIEW_ROWS = 20


def parked_preview(connection: duckdb.DuckDBPyConnection, scope: Scope) -> str:
    rows = connection.execute(
        """
        select work_date, tempo_worklog_id, park_reason, source_author_email, source_author_account_id,
               coalesce(source_issue_key, cast(source_issue_id as varchar)), coalesce(park_detail, '')
        from replica.worklogs
        where status = 'parked' and work_date between $date_from and $date_to
        order by park_reason, work_date, tempo_worklog_id
        limit $limit
        """,
        {**scope.params, "limit": PREVIEW_ROWS},
    ).fetchall()
    if not rows:
        return "No parked worklogs on these dates."
    lines = [
        "| work date | source worklog | reason | author | issue | detail |",
        "|---|---|---|---|---|---|",
    ]
    for day, tempo_id, reason, email, account_id, issue, detail in rows:
        author = mask_email(email) if email else account_id
        lines.append(f"| {day} | {tempo_id} | {reason} | {author} | {issue} | {detail.replace('|', '/')} |")
    return "\n".join(lines)
