"""The warehouse schema, as an ordered list of migrations. Append new ones; never edit old ones.

docs/data-model.md describes every table and column.
"""

from __future__ import annotations

Migration = tuple[int, str, tuple[str, ...]]

_INITIAL = (
    "create schema if not exists raw",
    "create schema if not exists directory",
    "create schema if not exists replica",
    "create schema if not exists sync",
    "create schema if not exists lineage",
    """
    create table raw.source_worklogs (
        tempo_worklog_id bigint primary key,
        work_date date not null,
        issue_id bigint not null,
        author_account_id varchar not null,
        start_time varchar,
        time_spent_seconds bigint not null,
        billable_seconds bigint,
        description varchar,
        created_at timestamptz not null,
        updated_at timestamptz not null,
        attributes json not null,
        jira_worklog_id bigint,
        payload json not null,
        extract_run_id varchar not null,
        extracted_at timestamptz not null
    )
    """,
    """
    create table raw.extract_pages (
        run_id varchar not null,
        page integer not null,
        payload json not null
    )
    """,
    """
    create table raw.quarantine (
        record_hash varchar primary key,
        tempo_worklog_id bigint,
        work_date date,
        reason varchar not null,
        payload json not null,
        run_id varchar not null,
        quarantined_at timestamptz not null
    )
    """,
    """
    create table directory.users (
        site varchar not null,
        account_id varchar not null,
        found boolean not null,
        account_type varchar,
        active boolean,
        email varchar,
        display_name varchar,
        time_zone varchar,
        fetched_at timestamptz not null,
        run_id varchar not null,
        primary key (site, account_id)
    )
    """,
    """
    create table directory.user_searches (
        site varchar not null,
        email varchar not null,
        match_account_ids varchar[] not null,
        fetched_at timestamptz not null,
        run_id varchar not null,
        primary key (site, email)
    )
    """,
    """
    create table directory.issues (
        site varchar not null,
        issue_id bigint not null,
        issue_key varchar not null,
        project_key varchar not null,
        remaining_estimate_seconds bigint,
        source_key_field varchar,
        fetched_at timestamptz not null,
        run_id varchar not null,
        primary key (site, issue_id)
    )
    """,
    """
    create table directory.issue_misses (
        site varchar not null,
        lookup varchar not null,
        fetched_at timestamptz not null,
        run_id varchar not null,
        primary key (site, lookup)
    )
    """,
    """
    create table directory.work_attributes (
        site varchar not null,
        key varchar not null,
        name varchar,
        type varchar,
        fetched_at timestamptz not null,
        primary key (site, key)
    )
    """,
    """
    create table replica.worklogs (
        tempo_worklog_id bigint primary key,
        source_site varchar not null,
        work_date date not null,
        status varchar not null,
        park_reason varchar,
        park_detail varchar,
        author_rule varchar,
        source_author_account_id varchar not null,
        source_author_email varchar,
        source_author_name varchar,
        destination_author_account_id varchar,
        destination_author_email varchar,
        author_time_zone varchar,
        issue_rule varchar,
        source_issue_id bigint not null,
        source_issue_key varchar,
        destination_issue_id bigint,
        destination_issue_key varchar,
        description varchar,
        created_at timestamptz not null,
        updated_at timestamptz not null,
        start_date date not null,
        start_time varchar,
        time_spent_seconds bigint not null,
        billable_seconds bigint,
        remaining_estimate_seconds bigint,
        source_jira_worklog_id bigint,
        attributes json not null,
        dropped_attributes json not null,
        content_hash varchar not null,
        first_run_id varchar not null,
        last_run_id varchar not null,
        transformed_at timestamptz not null
    )
    """,
    """
    create table sync.worklog_links (
        source_site varchar not null,
        tempo_worklog_id bigint not null,
        state varchar not null,
        target varchar not null,
        destination_issue_id bigint not null,
        destination_tempo_worklog_id bigint,
        destination_jira_worklog_id bigint,
        content_hash varchar not null,
        attempts integer not null,
        last_error varchar,
        claimed_at timestamptz not null,
        finished_at timestamptz,
        claim_run_id varchar not null,
        created_run_id varchar,
        last_run_id varchar not null,
        primary key (source_site, tempo_worklog_id)
    )
    """,
    """
    create table sync.events (
        source_site varchar not null,
        tempo_worklog_id bigint not null,
        occurred_at timestamptz not null,
        run_id varchar not null,
        event varchar not null,
        detail varchar
    )
    """,
    """
    create table lineage.runs (
        run_id varchar primary key,
        job_name varchar not null,
        partition_start date,
        partition_end date,
        status varchar not null,
        started_at timestamptz not null,
        finished_at timestamptz,
        counts json not null,
        code_version varchar not null,
        error varchar
    )
    """,
)

_SITES = (
    """
    create table meta.sites (
        role varchar primary key,
        site varchar not null,
        recorded_at timestamptz not null
    )
    """,
)

_RUN_PROCESSES = (
    "alter table lineage.runs add column host varchar",
    "alter table lineage.runs add column pid integer",
    "alter table lineage.runs add column process_started varchar",
)

# Each staged record carries its typed fields and its first problem, read once as its page is staged.
_CHECKED_STAGING = tuple(
    f"alter table raw.extract_pages add column {column}"
    for column in (
        "problem varchar", "tempo_worklog_id bigint", "work_date date", "issue_id bigint",
        "author_account_id varchar", "start_time varchar", "time_spent_seconds bigint",
        "billable_seconds bigint", "description varchar", "created_at timestamptz",
        "updated_at timestamptz", "attributes json",
    )
)  # fmt: skip

# A row the load could not confirm keeps the destination worklogs that may be its copy.
_CANDIDATES = ("alter table sync.worklog_links add column candidates bigint[]",)

# Propagation of edits and deletions (docs/propagation.md). The ledger keeps what tempo-sync last
# wrote (the values, and the copy as the destination then showed it, hashed canonically) and the
# change in flight; the raw schema keeps the source deletions confirmed by a deletion record.
_PROPAGATION = (
    "alter table sync.worklog_links add column sent_values json",
    "alter table sync.worklog_links add column copy_hash varchar",
    "alter table sync.worklog_links add column copy_updated_at varchar",
    "alter table sync.worklog_links add column change varchar",
    "alter table sync.worklog_links add column change_state varchar",
    "alter table sync.worklog_links add column change_hash varchar",
    "alter table sync.worklog_links add column change_run_id varchar",
    "alter table sync.worklog_links add column change_claimed_at timestamptz",
    "alter table sync.worklog_links add column conflict varchar",
    "alter table sync.worklog_links add column retired_copy_id bigint",
    "alter table sync.worklog_links add column retired_issue_id bigint",
    "alter table sync.events add column before_values json",
    "alter table sync.events add column after_values json",
    # What a created row sent is what its frozen replica row holds.
    """
    update sync.worklog_links l set sent_values = json_object(
        'destination_author_account_id', r.destination_author_account_id,
        'destination_issue_id', r.destination_issue_id, 'start_date', r.start_date::varchar,
        'start_time', r.start_time, 'time_spent_seconds', r.time_spent_seconds,
        'billable_seconds', r.billable_seconds, 'description', r.description,
        'attributes', r.attributes, 'source_author_name', r.source_author_name,
        'author_time_zone', r.author_time_zone)
    from replica.worklogs r
    where r.tempo_worklog_id = l.tempo_worklog_id and r.source_site = l.source_site
    """,
    """
    create table raw.source_deletions (
        tempo_worklog_id bigint primary key,
        jira_worklog_id bigint,
        deleted_at timestamptz,
        proof varchar not null,
        confirmed_run_id varchar not null,
        confirmed_at timestamptz not null
    )
    """,
)

MIGRATIONS: tuple[Migration, ...] = (
    (1, "initial schema", _INITIAL),
    (2, "the sites a file belongs to", _SITES),
    (3, "the process that runs each run, so a killed run's claims can be freed", _RUN_PROCESSES),
    (4, "staged records are checked as their page is staged", _CHECKED_STAGING),
    (5, "the possible copies of an unconfirmed worklog", _CANDIDATES),
    (6, "edits and deletions: what was written, the change in flight, deletions", _PROPAGATION),
)
