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

MIGRATIONS: tuple[Migration, ...] = (
    (1, "initial schema", _INITIAL),
    (2, "the sites a file belongs to", _SITES),
    (3, "the process that runs each run, so a killed run's claims can be freed", _RUN_PROCESSES),
    (4, "staged records are checked as their page is staged", _CHECKED_STAGING),
    (5, "the possible copies of an unconfirmed worklog", _CANDIDATES),
)
