"""The DuckDB warehouse as a Dagster resource: a thin wrapper over :mod:`resources.duckdb_file`.

The connections, the wait for the file lock and the migrations live in that Dagster-free module,
so that the read-only commands can open the file without importing Dagster.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import duckdb
from dagster_duckdb import DuckDBResource
from pydantic import Field

from resources.duckdb_file import DEFAULT_LOCK_WAIT_SECONDS, DEFAULT_MEMORY_LIMIT, DuckDBFile


class Warehouse(DuckDBResource):
    """The product's DuckDB file: raw, directory, replica, sync (the ledger) and lineage schemas."""

    lock_wait_seconds: float = Field(
        default=DEFAULT_LOCK_WAIT_SECONDS,
        description="how long to wait for another process to release the DuckDB file",
    )
    memory_limit: str = Field(
        default=DEFAULT_MEMORY_LIMIT,
        description="how much memory DuckDB may use in this process (a DuckDB size such as '2GB'); a "
        "statement that needs more spills to a temporary file. DuckDB's own default, 80% of the "
        "machine's memory, let a million-worklog publish grow the process past 6 GB",
    )

    def file(self) -> DuckDBFile:
        config = {"memory_limit": self.memory_limit, **self.connection_config}
        return DuckDBFile(self.database, self.lock_wait_seconds, config)

    @contextmanager
    def get_connection(self, wait_seconds: float | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
        """A write connection on a migrated database; close it before any remote call.
        ``wait_seconds`` bounds the wait for another writer (default: ``lock_wait_seconds``)."""
        with self.file().write_connection(wait_seconds) as connection:
            yield connection

    @contextmanager
    def read_connection(self, wait_seconds: float | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only connection, for reports and sensors; ``wait_seconds`` bounds the wait for a
        writer to finish (default: ``lock_wait_seconds``)."""
        with self.file().read_connection(wait_seconds) as connection:
            yield connection

    def schema_version(self) -> int:
        return self.file().schema_version()
