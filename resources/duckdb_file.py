"""The DuckDB file: ordered migrations and short connections that wait for the file lock.

DuckDB lets one process at a time open a file for writing, and another process cannot even read
it meanwhile. So every connection here is short (one batch of work, never across an HTTP call),
and opening one retries with backoff for as long as another run may reasonably hold the file.

DuckDB names a database file's catalog after the file's stem, so a file called ``sync.duckdb``
would make every ``sync.<table>`` ambiguous between the catalog and the schema (likewise ``raw``,
``replica``, ...). The file is therefore attached under a fixed catalog name, whatever it is called.

This module imports no Dagster: the read-only commands (``tempo-sync status``, ``trace``) open the
file through it directly and start in a fraction of a second. The Dagster resource
:class:`resources.warehouse.Warehouse` is a thin wrapper over :class:`DuckDBFile`.
"""

from __future__ import annotations

import hashlib
import logging
import random
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from resources.migrations import MIGRATIONS

logger = logging.getLogger(__name__)

# The catalog the file is attached as; no schema of ours has this name.
CATALOG = "tempo_sync"
DEFAULT_LOCK_WAIT_SECONDS = 600.0
# DuckDB's own default, 80% of the machine's memory, let a million-worklog publish grow the process
# past 6 GB; a statement that needs more than this spills to a temporary file.
DEFAULT_MEMORY_LIMIT = "512MB"

_migrated: set[str] = set()  # database paths already migrated by this process
_migrate_lock = threading.Lock()
# A process's connections to a file share one named in-memory DuckDB instance that holds the file
# attached (DuckDB refuses to attach one file to two instances of a process). Opening while another
# thread closes the last one fails ("already attached"), so threads open and close in turn.
_attach_lock = threading.Lock()


class WarehouseBusyError(RuntimeError):
    """Another process kept the DuckDB file locked for longer than the wait allows."""


@dataclass(frozen=True)
class DuckDBFile:
    """The product's DuckDB file: raw, directory, replica, sync (the ledger) and lineage schemas.

    ``config`` holds the DuckDB settings of every connection.
    """

    database: str
    lock_wait_seconds: float = DEFAULT_LOCK_WAIT_SECONDS
    config: Mapping[str, Any] = field(default_factory=lambda: {"memory_limit": DEFAULT_MEMORY_LIMIT})

    @contextmanager
    def write_connection(self, wait_seconds: float | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
        """A write connection on a migrated database; close it before any remote call.
        ``wait_seconds`` bounds the wait for another writer (default: ``lock_wait_seconds``)."""
        self._migrate_once(wait_seconds)
        connection = self._open(read_only=False, wait_seconds=wait_seconds)
        try:
            yield connection
        finally:
            _close(connection)

    @contextmanager
    def read_connection(self, wait_seconds: float | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only connection, for reports and sensors; ``wait_seconds`` bounds the wait for a
        writer to finish (default: ``lock_wait_seconds``)."""
        connection = self._open(read_only=True, wait_seconds=wait_seconds)
        try:
            yield connection
        finally:
            _close(connection)

    def schema_version(self) -> int:
        with self.write_connection() as connection:
            row = connection.execute("select max(version) from meta.migrations").fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    def _migrate_once(self, wait_seconds: float | None = None) -> None:
        path = str(Path(self.database).resolve())
        if path in _migrated:
            return
        with _migrate_lock:
            if path in _migrated:
                return
            Path(self.database).parent.mkdir(parents=True, exist_ok=True)
            connection = self._open(read_only=False, wait_seconds=wait_seconds)
            try:
                migrate(connection)
            finally:
                _close(connection)
            _migrated.add(path)

    def _open(self, *, read_only: bool, wait_seconds: float | None = None) -> duckdb.DuckDBPyConnection:
        wait = self.lock_wait_seconds if wait_seconds is None else wait_seconds
        deadline = time.monotonic() + wait
        delay = 0.05
        while True:
            try:
                with _attach_lock:
                    return _attached(self.database, read_only=read_only, config=dict(self.config))
            except duckdb.IOException as error:
                if "lock" not in str(error).lower() or time.monotonic() > deadline:
                    if "lock" in str(error).lower():
                        raise WarehouseBusyError(
                            f"the DuckDB file {self.database} stayed locked by another process for "
                            f"{wait:.0f} s; wait for the other run to finish, or raise "
                            "lock_wait_seconds"
                        ) from error
                    raise
                logger.debug("DuckDB file %s is locked by another process; waiting", self.database)
                time.sleep(delay * (0.5 + random.random()))  # noqa: S311 - jitter, not security
                delay = min(delay * 2, 2.0)


def existing_tables(connection: duckdb.DuckDBPyConnection) -> set[str]:
    """The ``schema.table`` names the file holds (none before its first migration)."""
    rows = connection.execute(
        "select table_schema || '.' || table_name from information_schema.tables"
        " where table_catalog = current_database()"
    ).fetchall()
    return {name for (name,) in rows}


def set_variables(connection: duckdb.DuckDBPyConnection, **values: int | str | list[str]) -> None:
    """Set DuckDB variables, for queries to read with ``getvariable('name')``.

    DuckDB's Python client imports pandas (a third of a second) to convert any bound parameter, so
    the commands that must start at once pass their few values as variables instead. Integers are
    written as such and strings quoted, so no value can change the statement.
    """
    for name, value in values.items():
        if not name.isidentifier():
            raise ValueError(f"{name!r} is not a variable name")
        if isinstance(value, int):
            literal = str(int(value))
        elif isinstance(value, str):
            literal = _quoted(value)
        else:
            literal = "[" + ", ".join(map(_quoted, value)) + "]::varchar[]"
        connection.execute(f"set variable {name} = {literal}")


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _attached(database: str, *, read_only: bool, config: dict[str, Any]) -> duckdb.DuckDBPyConnection:
    """A connection whose default catalog is the file, attached as ``CATALOG``."""
    path = str(Path(database).resolve())
    mode = "read" if read_only else "write"
    # Named in-memory instances are shared by the connections of a process and freed with the last.
    instance = f":memory:tempo-sync-{mode}-{hashlib.sha256(path.encode()).hexdigest()[:16]}"
    connection = duckdb.connect(instance, config=config)
    try:
        literal = _quoted(path)
        options = " (read_only)" if read_only else ""
        connection.execute(f"attach if not exists {literal} as {CATALOG}{options}")
        connection.execute(f"use {CATALOG}")
    except BaseException:
        connection.close()
        raise
    return connection


def _close(connection: duckdb.DuckDBPyConnection) -> None:
    with _attach_lock:
        connection.close()


def migrate(connection: duckdb.DuckDBPyConnection) -> list[int]:
    """Apply the migrations this database has not seen yet, in order, each in one transaction."""
    connection.execute("create schema if not exists meta")
    connection.execute(
        "create table if not exists meta.migrations ("
        " version integer primary key, name varchar not null, applied_at timestamptz not null)"
    )
    done = {row[0] for row in connection.execute("select version from meta.migrations").fetchall()}
    applied = []
    for version, name, statements in MIGRATIONS:
        if version in done:
            continue
        connection.execute("begin transaction")
        try:
            for statement in statements:
                connection.execute(statement)
            connection.execute(
                "insert into meta.migrations values (?, ?, current_timestamp)", [version, name]
            )
            connection.execute("commit")
        except BaseException:
            connection.execute("rollback")
            raise
        applied.append(version)
    return applied
