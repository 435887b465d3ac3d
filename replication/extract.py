"""Source worklogs into DuckDB: pages are staged as they arrive, then checked and published in SQL.

Records that break the documented shape go to ``raw.quarantine`` with a reason; the rest of the
range goes on. Publishing replaces the range's slice in one transaction, so a rerun is idempotent.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import duckdb
import pandas as pd

from replication.frames import registered
from resources.http import RawPage

MAX_DESCRIPTION = 32_767  # what Tempo and Jira accept; longer text cannot be created on the destination

# The fields read from each record, in one pass over its JSON: extracting them one by one would
# parse every document once per field.
_FIELDS = (
    "tempoWorklogId", "startDate", "issue.id", "author.accountId", "startTime", "timeSpentSeconds",
    "billableSeconds", "description", "createdAt", "updatedAt", "attributes.values",
)  # fmt: skip
_PATHS = "[" + ", ".join(f"'$.{name}'" for name in _FIELDS) + "]"

# One page's records, split from the page's JSON text ($body), each with its typed fields and, for a
# malformed record, the first problem. Checking as the page is staged parses every record once,
# and publishing then copies typed rows instead of holding the whole range's records in memory.
_STAGE = f"""
insert into raw.extract_pages by name
with records as (
    select unnest(json_extract($body, '$.results[*]')) as payload
),
extracted as (
    select payload, json_extract(payload, {_PATHS}) as v from records
),
parsed as (
    select
        payload,
        coalesce(json_type(v[1]) in ('UBIGINT', 'BIGINT'), false) as id_ok,
        try_cast(v[1] ->> '$' as bigint) as tempo_worklog_id,
        v[2] ->> '$' as start_date_text,
        try_cast(v[2] ->> '$' as date) as work_date,
        coalesce(json_type(v[3]) in ('UBIGINT', 'BIGINT'), false) as issue_ok,
        try_cast(v[3] ->> '$' as bigint) as issue_id,
        v[4] ->> '$' as author_account_id,
        coalesce(json_type(v[4]) = 'VARCHAR', false) as author_ok,
        v[5] ->> '$' as start_time,
        json_type(v[5]) as start_time_type,
        coalesce(json_type(v[6]) in ('UBIGINT', 'BIGINT'), false) as seconds_ok,
        try_cast(v[6] ->> '$' as bigint) as time_spent_seconds,
        json_type(v[7]) as billable_type,
        try_cast(v[7] ->> '$' as bigint) as billable_seconds,
        json_type(v[8]) as description_type,
        v[8] ->> '$' as description,
        try_cast(v[9] ->> '$' as timestamptz) as created_at,
        try_cast(v[10] ->> '$' as timestamptz) as updated_at,
        coalesce(v[11], '[]'::json) as attributes,
        json_type(v[11]) as attributes_type
    from extracted
)
select
    $run_id as run_id,
    $page as page,
    payload,
    case
        when not id_ok or tempo_worklog_id <= 0 then 'tempoWorklogId is missing or not a positive integer'
        when start_date_text is null or work_date is null
            or not regexp_full_match(start_date_text, '[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}')
            then 'startDate is missing or not a valid YYYY-MM-DD date'
        when work_date < $date_from or work_date > $date_to
            then 'startDate ' || start_date_text || ' is outside the requested range'
        when not issue_ok or issue_id <= 0 then 'issue.id is missing or not a positive integer'
        when not author_ok or author_account_id = '' then 'author.accountId is missing'
        when not seconds_ok or time_spent_seconds <= 0 then 'timeSpentSeconds is missing or not above 0'
        when start_time_type is not null and start_time_type <> 'NULL' and (start_time_type <> 'VARCHAR'
            or not regexp_full_match(start_time, '([01]?[0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]'))
            then 'startTime is not a valid HH:mm:ss time'
        when billable_type is not null and billable_type <> 'NULL'
            and (billable_type not in ('UBIGINT', 'BIGINT') or billable_seconds < 0)
            then 'billableSeconds is not a whole number of seconds'
        when description_type is not null and description_type not in ('VARCHAR', 'NULL')
            then 'description is not text'
        when length(description) > {MAX_DESCRIPTION}
            then 'description is longer than {MAX_DESCRIPTION:,} characters, the most the destination accepts'
        when created_at is null or updated_at is null then 'createdAt or updatedAt is not a valid timestamp'
        when attributes_type is not null and attributes_type <> 'ARRAY' then 'attributes.values is not a list'
        else null
    end as problem,
    tempo_worklog_id,
    work_date,
    issue_id,
    author_account_id,
    case when start_time_type = 'VARCHAR' then lpad(start_time, 8, '0') end as start_time,
    time_spent_seconds,
    billable_seconds,
    case when description_type = 'VARCHAR' then description end as description,
    created_at,
    updated_at,
    attributes
from parsed
"""


# The run's staged records that go to raw.source_worklogs: well-formed, and each on its last page.
_PUBLISHED = """
select
    tempo_worklog_id, work_date, issue_id, author_account_id, start_time, time_spent_seconds,
    billable_seconds, description, created_at, updated_at, attributes, null, payload, $run_id,
    current_timestamp
from raw.extract_pages staged
where run_id = $run_id and problem is null and rowid not in (select staged_row from superseded)
"""
_KNOWN = "select 1 from raw.source_worklogs known where known.tempo_worklog_id = staged.tempo_worklog_id"


class SiteMismatchError(RuntimeError):
    """The DuckDB file was made for another source site; mixing two would corrupt the ledger."""


def claim_source_site(connection: duckdb.DuckDBPyConnection, site: str) -> None:
    """Tie the file to its source site on first use; refuse another site later."""
    row = connection.execute("select site from meta.sites where role = 'source'").fetchone()
    if row is None:
        connection.execute("insert into meta.sites values ('source', ?, current_timestamp)", [site])
    elif row[0] != site:
        raise SiteMismatchError(
            f"this DuckDB file holds worklogs of the source site {row[0]}, but the settings name {site}; "
            "point TEMPO_SYNC_DUCKDB at another file for another site"
        )


@dataclass(frozen=True)
class ExtractCounts:
    read: int
    stored: int
    quarantined: int
    vanished: int


def drop_abandoned_pages(connection: duckdb.DuckDBPyConnection) -> None:
    """Forget pages staged by runs that ended without publishing them (a failed extract)."""
    connection.execute(
        "delete from raw.extract_pages"
        " where run_id in (select run_id from lineage.runs where status <> 'running')"
    )


def stage_page(
    connection: duckdb.DuckDBPyConnection,
    run_id: str,
    page: int,
    records: RawPage | Iterable[Mapping[str, Any]],
    date_from: date,
    date_to: date,
) -> int:
    """Append one API page to the run's staging rows, each record checked against the shape Tempo
    documents and the run's work dates; returns how many records the page held.

    A `RawPage` goes in as the bytes that arrived: DuckDB splits its results, and Python never
    builds the records.
    """
    if isinstance(records, RawPage):
        return _stage_raw(connection, run_id, page, records, date_from, date_to)
    body = json.dumps({"results": list(records)}, ensure_ascii=False)
    return _insert_page(connection, run_id, page, body, date_from, date_to)


def stage_pages(
    connection: duckdb.DuckDBPyConnection,
    run_id: str,
    pages: Sequence[tuple[int, RawPage]],
    date_from: date,
    date_to: date,
) -> list[int]:
    """Stage several numbered pages in one transaction; returns how many records each held.

    A transaction this large is written by DuckDB straight to the file's blocks, where separate
    page inserts would each go through its write-ahead log and then be copied again.
    """
    connection.execute("begin transaction")
    try:
        counts = [stage_page(connection, run_id, number, page, date_from, date_to) for number, page in pages]
        connection.execute("commit")
    except BaseException:
        connection.execute("rollback")
        raise
    return counts


def _stage_raw(
    connection: duckdb.DuckDBPyConnection,
    run_id: str,
    page: int,
    raw: RawPage,
    date_from: date,
    date_to: date,
) -> int:
    try:
        staged = _insert_page(connection, run_id, page, raw.body.decode("utf-8"), date_from, date_to)
    except (duckdb.InvalidInputException, UnicodeDecodeError) as error:
        raise ValueError(f"page {page} is not a JSON page of worklogs: {error}") from error
    if staged != raw.count:
        raise ValueError(f"page {page} says it holds {raw.count} worklogs, but {staged} were read from it")
    return staged


def _insert_page(
    connection: duckdb.DuckDBPyConnection, run_id: str, page: int, body: str, date_from: date, date_to: date
) -> int:
    # The body is bound as text, not JSON: DuckDB then parses it once, inside json_extract.
    params = {"body": body, "run_id": run_id, "page": page, "date_from": date_from, "date_to": date_to}
    row = connection.execute(_STAGE, params).fetchone()
    return int(row[0]) if row else 0


def publish(
    connection: duckdb.DuckDBPyConnection, run_id: str, date_from: date, date_to: date
) -> ExtractCounts:
    """Replace the range's slice of ``raw.source_worklogs`` with what the run staged."""
    params = {"run_id": run_id}
    connection.execute("begin transaction")
    try:
        # A record read twice (it moved between pages) counts as on its later page. Only the ids
        # read twice are ranked, so neither the sort nor its memory grows with the range.
        connection.execute(
            """
            create or replace temp table superseded as
            select rowid as staged_row from raw.extract_pages
            where run_id = $run_id and problem is null and tempo_worklog_id in (
                select tempo_worklog_id from raw.extract_pages where run_id = $run_id and problem is null
                group by all having count(*) > 1)
            qualify row_number() over (partition by tempo_worklog_id order by page desc) > 1
            """,
            params,
        )
        connection.execute(
            """
            insert into raw.quarantine
            select distinct on (record_hash) * from (
                select md5(payload::varchar) as record_hash, tempo_worklog_id, work_date, problem, payload,
                       $run_id, current_timestamp
                from raw.extract_pages where run_id = $run_id and problem is not null)
            on conflict (record_hash) do update set
                reason = excluded.reason, run_id = excluded.run_id, quarantined_at = excluded.quarantined_at
            """,
            params,
        )
        vanished = connection.execute(
            """
            delete from raw.source_worklogs
            where work_date between $date_from and $date_to
              and tempo_worklog_id not in (
                  select tempo_worklog_id from raw.extract_pages where run_id = $run_id and problem is null)
            """,
            {**params, "date_from": date_from, "date_to": date_to},
        ).fetchone()
        # Known worklogs are updated in place (keeping their Jira worklog id), then new ones are
        # appended: a plain insert streams to disk, where an upsert of every row holds them in memory.
        # The upsert reads every staged record even when it updates none, as on a range's first read,
        # so a look at the ids alone decides whether it runs.
        known = connection.execute(
            f"select count(*) from raw.extract_pages staged where run_id = $run_id and exists ({_KNOWN})",
            params,
        ).fetchone()
        if known and known[0]:
            connection.execute(
                f"""
                insert into raw.source_worklogs {_PUBLISHED} and exists ({_KNOWN})
                on conflict (tempo_worklog_id) do update set
                    work_date = excluded.work_date, issue_id = excluded.issue_id,
                    author_account_id = excluded.author_account_id, start_time = excluded.start_time,
                    time_spent_seconds = excluded.time_spent_seconds,
                    billable_seconds = excluded.billable_seconds, description = excluded.description,
                    created_at = excluded.created_at, updated_at = excluded.updated_at,
                    attributes = excluded.attributes, payload = excluded.payload,
                    extract_run_id = excluded.extract_run_id, extracted_at = excluded.extracted_at
                """,
                params,
            )
        connection.execute(f"insert into raw.source_worklogs {_PUBLISHED} and not exists ({_KNOWN})", params)
        # A record that was malformed once and reads fine now leaves the quarantine.
        connection.execute(
            "delete from raw.quarantine where tempo_worklog_id in (select tempo_worklog_id"
            " from raw.extract_pages where run_id = $run_id and problem is null)",
            params,
        )
        read, stored, quarantined = connection.execute(
            "select count(*), count(distinct tempo_worklog_id) filter (where problem is null),"
            " count(*) filter (where problem is not null) from raw.extract_pages where run_id = $run_id",
            params,
        ).fetchone() or (0, 0, 0)
        connection.execute("delete from raw.extract_pages where run_id = $run_id", params)
        connection.execute("drop table superseded")
        connection.execute("commit")
    except BaseException:
        connection.execute("rollback")
        raise
    return ExtractCounts(read, stored, quarantined, int(vanished[0]) if vanished else 0)


def unmapped_jira_ids(connection: duckdb.DuckDBPyConnection, date_from: date, date_to: date) -> list[int]:
    """Source worklogs of the range whose Jira worklog id is not known yet."""
    rows = connection.execute(
        "select tempo_worklog_id from raw.source_worklogs"
        " where work_date between ? and ? and jira_worklog_id is null order by 1",
        [date_from, date_to],
    ).fetchall()
    return [row[0] for row in rows]


def record_jira_ids(connection: duckdb.DuckDBPyConnection, mapping: Mapping[int, int]) -> None:
    if not mapping:
        return
    frame = pd.DataFrame({"tempo_id": list(mapping), "jira_id": list(mapping.values())})
    with registered(connection, "id_map", frame):
        connection.execute(
            "update raw.source_worklogs set jira_worklog_id = id_map.jira_id"
            " from id_map where raw.source_worklogs.tempo_worklog_id = id_map.tempo_id"
        )
