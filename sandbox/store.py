"""The sandbox's persistent state: what clients created, changed or deleted.

SQLite in WAL mode, because several server processes may serve one state directory at
once (Dagster runs each step in its own process). Every write is one ``BEGIN IMMEDIATE``
transaction, so ids are never handed out twice and a bulk lock is held by one process.
Generated data is not stored: only the rows that differ from it.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import NamedTuple

from sandbox.world import Account, Worklog

STATE_FILE = "sandbox.sqlite3"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sequences (
    site TEXT NOT NULL, name TEXT NOT NULL, value INTEGER NOT NULL, PRIMARY KEY (site, name)
);
CREATE TABLE IF NOT EXISTS worklogs (
    site TEXT NOT NULL,
    jira_id INTEGER NOT NULL,
    tempo_id INTEGER,
    issue_id INTEGER NOT NULL,
    author_account_id TEXT NOT NULL,
    jira_author_account_id TEXT NOT NULL,
    start_date TEXT NOT NULL,
    start_time TEXT,
    utc_offset TEXT NOT NULL,
    start_utc TEXT NOT NULL,
    time_spent INTEGER NOT NULL,
    billable INTEGER,
    description TEXT,
    attributes TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    comment TEXT,
    properties TEXT NOT NULL,
    scenario TEXT NOT NULL,
    generated_day TEXT,
    deleted INTEGER NOT NULL DEFAULT 0,
    deleted_at TEXT,
    PRIMARY KEY (site, jira_id)
);
CREATE INDEX IF NOT EXISTS worklogs_by_date ON worklogs (site, start_date);
CREATE INDEX IF NOT EXISTS worklogs_by_tempo_id ON worklogs (site, tempo_id);
CREATE INDEX IF NOT EXISTS worklogs_by_issue ON worklogs (site, issue_id);
CREATE INDEX IF NOT EXISTS worklogs_by_generated_day ON worklogs (site, generated_day);
CREATE INDEX IF NOT EXISTS worklogs_by_updated ON worklogs (site, updated_at);
CREATE TABLE IF NOT EXISTS issue_estimates (
    site TEXT NOT NULL,
    issue_id INTEGER NOT NULL,
    remaining_set INTEGER NOT NULL DEFAULT 0,
    remaining INTEGER,
    spent_delta INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (site, issue_id)
);
CREATE TABLE IF NOT EXISTS users (
    site TEXT NOT NULL, account_id TEXT NOT NULL, body TEXT, PRIMARY KEY (site, account_id)
);
CREATE TABLE IF NOT EXISTS injected_records (
    site TEXT NOT NULL, listed_on TEXT NOT NULL, body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS injected_records_by_day ON injected_records (site, listed_on);
CREATE TABLE IF NOT EXISTS bulk_locks (
    site TEXT NOT NULL, issue_id INTEGER NOT NULL, expires_at REAL NOT NULL,
    PRIMARY KEY (site, issue_id)
);
"""
# Columns later versions added; a state file made before gets them when it opens.
_ADDED_COLUMNS = (("worklogs", "deleted_at", "TEXT"),)
# Indexes on added columns, made once the columns exist.
_LATER_INDEXES = "CREATE INDEX IF NOT EXISTS worklogs_by_deleted_at ON worklogs (site, deleted_at);"
_WORKLOG_COLUMNS = Worklog._fields
_FIRST_IDS = {"tempo": 1_000, "jira": 500_000}
_RESET_TABLES = ("sequences", "worklogs", "issue_estimates", "users", "injected_records", "bulk_locks")


class StoredWorklog(NamedTuple):
    worklog: Worklog
    generated_day: str | None  # set when the row replaces a generated worklog
    deleted: bool
    deleted_at: str | None  # when it was deleted (None for rows deleted before this was kept)


class EstimateChange(NamedTuple):
    """What one write does to an issue's time tracking."""

    issue_id: int
    spent_delta: int
    remaining: int | None  # the new remaining estimate, when the write sets one


class StateMismatchError(RuntimeError):
    """The state directory was made for other data knobs."""


class Store:
    """One SQLite file; a connection per thread, every write in one transaction."""

    def __init__(self, state_dir: Path, fingerprint: str) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        self.path = state_dir / STATE_FILE
        self._local = threading.local()
        self._conn().executescript(_SCHEMA)
        self._check_fingerprint(fingerprint)
        self._add_missing_columns()

    # ----- connections

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=30.0)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def _add_missing_columns(self) -> None:
        """Bring a state file made by an earlier version up to date (in one transaction, so two
        processes opening it at once do not both add a column)."""
        with self._write() as conn:
            for table, column, kind in _ADDED_COLUMNS:
                present = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
                if column not in present:
                    conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
            conn.execute(_LATER_INDEXES)

    def _check_fingerprint(self, fingerprint: str) -> None:
        with self._write() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = 'fingerprint'").fetchone()
            if row is None:
                conn.execute("INSERT INTO meta VALUES ('fingerprint', ?)", (fingerprint,))
                return
        if row[0] != fingerprint:
            raise StateMismatchError(
                f"the sandbox state in {self.path.parent} was made with other data knobs "
                f"({row[0]}); start with the same knobs, another --state-dir, or run "
                f"`tempo-sync sandbox reset --state-dir {self.path.parent}` first"
            )

    # ----- meta: clock, permissions, data versions

    def meta(self, key: str) -> str | None:
        row = self._conn().execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def set_meta(self, key: str, value: str | None) -> None:
        with self._write() as conn:
            if value is None:
                conn.execute("DELETE FROM meta WHERE key = ?", (key,))
            else:
                conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def version(self, site: str) -> int:
        """Grows with every change on the site; caches of query results key on it."""
        value = self.meta(f"version:{site}")
        return 0 if value is None else int(value)

    @staticmethod
    def _bump(conn: sqlite3.Connection, site: str) -> None:
        conn.execute(
            "INSERT INTO meta VALUES (?, '1') "
            "ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + 1",
            (f"version:{site}",),
        )

    # ----- worklogs

    def worklogs_between(self, site: str, first_day: str, last_day: str) -> list[StoredWorklog]:
        """Rows dated in the range, and rows replacing generated worklogs of those dates."""
        return self._select(
            "WHERE site = ? AND (start_date BETWEEN ? AND ? OR generated_day BETWEEN ? AND ?)",
            (site, first_day, last_day, first_day, last_day),
        )

    def worklogs_updated_since(self, site: str, instant: str) -> list[StoredWorklog]:
        return self._select("WHERE site = ? AND updated_at >= ?", (site, instant))

    def worklogs_of_issue(self, site: str, issue_id: int) -> list[StoredWorklog]:
        return self._select("WHERE site = ? AND issue_id = ?", (site, issue_id))

    def all_worklogs(self, site: str) -> list[StoredWorklog]:
        return self._select("WHERE site = ?", (site,))

    def worklog_by_tempo_id(self, site: str, tempo_id: int) -> StoredWorklog | None:
        rows = self._select("WHERE site = ? AND tempo_id = ?", (site, tempo_id))
        return rows[0] if rows else None

    def worklog_by_jira_id(self, site: str, jira_id: int) -> StoredWorklog | None:
        rows = self._select("WHERE site = ? AND jira_id = ?", (site, jira_id))
        return rows[0] if rows else None

    def worklogs_by_jira_ids(self, site: str, jira_ids: Sequence[int]) -> list[StoredWorklog]:
        """The stored rows among the ids (at most a few thousand: one statement's parameters)."""
        marks = ", ".join("?" * len(jira_ids))
        return self._select(f"WHERE site = ? AND jira_id IN ({marks})", (site, *jira_ids))

    def deletions_since(self, site: str, instant: str) -> list[tuple[int, str]]:
        """(Jira id, deletion instant) of worklogs deleted at or after the instant, oldest first."""
        rows = self._conn().execute(
            "SELECT jira_id, deleted_at FROM worklogs WHERE site = ? AND deleted = 1 AND deleted_at >= ?"
            " ORDER BY deleted_at, jira_id",
            (site, instant),
        )
        return [(int(jira_id), str(deleted_at)) for jira_id, deleted_at in rows]

    def _select(self, where: str, params: Sequence[object]) -> list[StoredWorklog]:
        columns = ", ".join(_WORKLOG_COLUMNS)
        sql = f"SELECT {columns}, generated_day, deleted, deleted_at FROM worklogs {where} ORDER BY jira_id"  # noqa: S608 - fixed column names
        return [_from_row(row) for row in self._conn().execute(sql, params)]

    def create_worklogs(
        self,
        site: str,
        drafts: Sequence[Worklog],
        *,
        with_tempo_ids: bool,
        estimate: EstimateChange | None,
    ) -> list[Worklog]:
        """Insert new worklogs with fresh ids, and change the issue's estimate, atomically."""
        with self._write() as conn:
            jira_ids = self._take_ids(conn, site, "jira", len(drafts))
            tempo_ids = (
                self._take_ids(conn, site, "tempo", len(drafts)) if with_tempo_ids else [None] * len(drafts)
            )
            created = [
                draft._replace(jira_id=jira_id, tempo_id=tempo_id)
                for draft, jira_id, tempo_id in zip(drafts, jira_ids, tempo_ids, strict=True)
            ]
            for worklog in created:
                self._upsert(conn, site, worklog, generated_day=None, deleted_at=None)
            if estimate is not None:
                self._change_estimate(conn, site, estimate)
            self._bump(conn, site)
        return created

    def save_worklog(
        self,
        site: str,
        worklog: Worklog,
        *,
        generated_day: str | None,
        deleted_at: str | None = None,
        estimates: Sequence[EstimateChange] = (),
    ) -> None:
        """Replace one existing worklog, generated or created, or mark it deleted at ``deleted_at``;
        with the changes to its issues' time tracking, atomically."""
        with self._write() as conn:
            self._upsert(conn, site, worklog, generated_day=generated_day, deleted_at=deleted_at)
            for estimate in estimates:
                self._change_estimate(conn, site, estimate)
            self._bump(conn, site)

    @staticmethod
    def _take_ids(conn: sqlite3.Connection, site: str, name: str, count: int) -> list[int]:
        row = conn.execute(
            "INSERT INTO sequences VALUES (?, ?, ?) "
            "ON CONFLICT (site, name) DO UPDATE SET value = value + ? RETURNING value",
            (site, name, _FIRST_IDS[name] + count, count),
        ).fetchone()
        last = row[0]
        return list(range(last - count, last))

    @staticmethod
    def _upsert(
        conn: sqlite3.Connection,
        site: str,
        worklog: Worklog,
        *,
        generated_day: str | None,
        deleted_at: str | None,
    ) -> None:
        values = worklog._replace(
            attributes=json.dumps(worklog.attributes, ensure_ascii=False),
            properties=json.dumps(worklog.properties, ensure_ascii=False),
        )
        placeholders = ", ".join("?" * (len(_WORKLOG_COLUMNS) + 4))
        conn.execute(
            f"INSERT OR REPLACE INTO worklogs (site, {', '.join(_WORKLOG_COLUMNS)}, "  # noqa: S608 - fixed column names
            f"generated_day, deleted, deleted_at) VALUES ({placeholders})",
            (site, *values, generated_day, int(deleted_at is not None), deleted_at),
        )

    # ----- issue time tracking

    def estimate(self, site: str, issue_id: int) -> tuple[bool, int | None, int]:
        """(remaining was set, remaining seconds, seconds logged since generation)."""
        row = (
            self._conn()
            .execute(
                "SELECT remaining_set, remaining, spent_delta FROM issue_estimates "
                "WHERE site = ? AND issue_id = ?",
                (site, issue_id),
            )
            .fetchone()
        )
        return (False, None, 0) if row is None else (bool(row[0]), row[1], row[2])

    @staticmethod
    def _change_estimate(conn: sqlite3.Connection, site: str, change: EstimateChange) -> None:
        conn.execute(
            "INSERT INTO issue_estimates VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (site, issue_id) DO UPDATE SET "
            "spent_delta = spent_delta + excluded.spent_delta, "
            "remaining_set = MAX(remaining_set, excluded.remaining_set), "
            "remaining = CASE WHEN excluded.remaining_set = 1 THEN excluded.remaining "
            "ELSE remaining END",
            (
                site,
                change.issue_id,
                int(change.remaining is not None),
                change.remaining,
                change.spent_delta,
            ),
        )

    # ----- users

    def user_changes(self, site: str) -> dict[str, Account | None]:
        """Accounts added or replaced through the inspection API (None: removed)."""
        rows = self._conn().execute("SELECT account_id, body FROM users WHERE site = ?", (site,)).fetchall()
        return {
            account_id: None if body is None else Account(**json.loads(body)) for account_id, body in rows
        }

    def save_user(self, site: str, account_id: str, account: Account | None) -> None:
        body = None if account is None else json.dumps(asdict(account), ensure_ascii=False)
        with self._write() as conn:
            conn.execute("INSERT OR REPLACE INTO users VALUES (?, ?, ?)", (site, account_id, body))
            self._bump(conn, site)

    # ----- injected records

    def inject_records(self, site: str, listed_on: str, bodies: Sequence[object]) -> None:
        """Keep raw JSON values to list among the worklogs of one date, in the order given."""
        rows = [(site, listed_on, json.dumps(body, ensure_ascii=False)) for body in bodies]
        with self._write() as conn:
            conn.executemany("INSERT INTO injected_records VALUES (?, ?, ?)", rows)
            self._bump(conn, site)

    def injected_records(self, site: str, first_day: str, last_day: str) -> list[object]:
        """The raw values injected for dates in the range, by date, then in injection order."""
        rows = self._conn().execute(
            "SELECT body FROM injected_records WHERE site = ? AND listed_on BETWEEN ? AND ?"
            " ORDER BY listed_on, rowid",
            (site, first_day, last_day),
        )
        return [json.loads(body) for (body,) in rows]

    # ----- bulk locks

    def try_lock_issue(self, site: str, issue_id: int, seconds: float) -> bool:
        """Take the issue's bulk lock unless another live bulk action holds it."""
        now = time.time()
        with self._write() as conn:
            row = conn.execute(
                "SELECT expires_at FROM bulk_locks WHERE site = ? AND issue_id = ?",
                (site, issue_id),
            ).fetchone()
            if row is not None and row[0] > now:
                return False
            conn.execute(
                "INSERT OR REPLACE INTO bulk_locks VALUES (?, ?, ?)",
                (site, issue_id, now + seconds),
            )
        return True

    def unlock_issue(self, site: str, issue_id: int) -> None:
        with self._write() as conn:
            conn.execute("DELETE FROM bulk_locks WHERE site = ? AND issue_id = ?", (site, issue_id))

    # ----- reset

    def reset(self, sites: Sequence[str]) -> None:
        """Forget every change; generated data, clock and knobs stay."""
        with self._write() as conn:
            for table in _RESET_TABLES:
                conn.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names
            conn.execute("DELETE FROM meta WHERE key LIKE 'permissions:%'")
            # Versions only grow: no query cached in another process may match a later state.
            for site in sites:
                self._bump(conn, site)


def _from_row(row: Sequence[object]) -> StoredWorklog:
    count = len(_WORKLOG_COLUMNS)
    worklog = Worklog(*row[:count])
    worklog = worklog._replace(
        attributes=tuple(tuple(pair) for pair in json.loads(str(worklog.attributes))),
        properties=tuple(tuple(pair) for pair in json.loads(str(worklog.properties))),
    )
    generated_day, deleted, deleted_at = row[count], row[count + 1], row[count + 2]
    return StoredWorklog(
        worklog,
        None if generated_day is None else str(generated_day),
        bool(deleted),
        None if deleted_at is None else str(deleted_at),
    )
