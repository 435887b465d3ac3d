"""A person's decisions on the ledger (``sync.worklog_links``), and the ledger's own vocabulary.

The load writes the ledger as it claims, sends and records. A row it left ``unconfirmed`` (a
destination worklog may be its copy, and no read could tell) waits for a person: ``adopt`` records
the destination worklog that is the copy; ``allow_resend`` lets the next run send the row once
more, without the read that made it unconfirmed. Each decision is one transaction with its event.
"""

from __future__ import annotations

import duckdb

# The ledger column of a destination worklog id, by target.
ID_COLUMN = {"tempo": "destination_tempo_worklog_id", "jira": "destination_jira_worklog_id"}
SETTLED_BY = "tempo-sync settle"
# The values a copy is written from (``sent_values``), from the replica row ``r`` that holds them
# (migration 6 filled in the rows created before it with the same expression, frozen there).
SENT_VALUES_OF_REPLICA = """json_object(
    'destination_author_account_id', r.destination_author_account_id,
    'destination_issue_id', r.destination_issue_id, 'start_date', r.start_date::varchar,
    'start_time', r.start_time, 'time_spent_seconds', r.time_spent_seconds,
    'billable_seconds', r.billable_seconds, 'description', r.description,
    'attributes', r.attributes, 'source_author_name', r.source_author_name,
    'author_time_zone', r.author_time_zone)"""
# An event without before and after values (those are for updates and deletes).
EVENT_INSERT = "insert into sync.events (source_site, tempo_worklog_id, occurred_at, run_id, event, detail)"


class SettleError(ValueError):
    """The decision cannot be taken; the message says why."""


def adopt(connection: duckdb.DuckDBPyConnection, tempo_worklog_id: int, copy_id: int) -> list[int]:
    """Record ``copy_id`` as the copy of an unconfirmed row; returns the candidates the last read
    found (a person may know better than the read)."""
    target, candidates = _unconfirmed(connection, tempo_worklog_id)
    column = ID_COLUMN[target]  # SQL is composed only from this module's constants
    holder = connection.execute(
        f"select tempo_worklog_id from sync.worklog_links"
        f" where target = ? and {column} = ? and state = 'created'",
        [target, copy_id],
    ).fetchone()
    if holder is not None:
        raise SettleError(
            f"destination worklog {copy_id} is already the copy of source worklog {holder[0]}; a"
            " destination worklog is the copy of one source worklog at most"
        )
    connection.execute("begin transaction")
    connection.execute(
        f"update sync.worklog_links set state = 'created', {column} = ?, candidates = null,"
        " last_error = null, finished_at = current_timestamp, created_run_id = ?, last_run_id = ?"
        " where tempo_worklog_id = ?",
        [copy_id, SETTLED_BY, SETTLED_BY, tempo_worklog_id],
    )
    # What the copy was written from is what the row's replica row kept (it stays frozen while the
    # row is unconfirmed): the baseline for later edits and deletions of it.
    connection.execute(
        f"update sync.worklog_links l set sent_values = {SENT_VALUES_OF_REPLICA} from replica.worklogs r"
        " where r.source_site = l.source_site and r.tempo_worklog_id = l.tempo_worklog_id"
        " and l.tempo_worklog_id = ?",
        [tempo_worklog_id],
    )
    _event(
        connection, tempo_worklog_id, f"a person adopted destination {target.capitalize()} worklog {copy_id}"
    )
    connection.execute("commit")
    return candidates


def allow_resend(connection: duckdb.DuckDBPyConnection, tempo_worklog_id: int) -> None:
    """Let the next run of the row's work date send it once more (state ``resend``)."""
    _unconfirmed(connection, tempo_worklog_id)
    connection.execute("begin transaction")
    connection.execute(
        "update sync.worklog_links set state = 'resend', last_run_id = ? where tempo_worklog_id = ?",
        [SETTLED_BY, tempo_worklog_id],
    )
    _event(connection, tempo_worklog_id, "a person allowed one more send")
    connection.execute("commit")


def _unconfirmed(connection: duckdb.DuckDBPyConnection, tempo_worklog_id: int) -> tuple[str, list[int]]:
    """The target and candidates of an unconfirmed row; a ``SettleError`` for any other."""
    row = connection.execute(
        "select state, target, candidates from sync.worklog_links where tempo_worklog_id = ?",
        [tempo_worklog_id],
    ).fetchone()
    if row is None:
        raise SettleError(f"the ledger has no worklog with source Tempo id {tempo_worklog_id}")
    state, target, candidates = row
    if state != "unconfirmed":
        raise SettleError(
            f"worklog {tempo_worklog_id} is {state}, not unconfirmed; only an unconfirmed worklog is"
            " settled by hand"
        )
    return target, list(candidates or [])


def _event(connection: duckdb.DuckDBPyConnection, tempo_worklog_id: int, detail: str) -> None:
    connection.execute(
        f"{EVENT_INSERT} select source_site, tempo_worklog_id, current_timestamp, ?, 'settled', ?"
        " from sync.worklog_links where tempo_worklog_id = ?",
        [SETTLED_BY, detail, tempo_worklog_id],
    )
