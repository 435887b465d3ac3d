"""The DuckDB warehouse: ordered, idempotent migrations, and waiting for another process's lock."""

from __future__ import annotations

import time

import duckdb
import pytest

from resources.duckdb_file import WarehouseBusyError, existing_tables, migrate
from resources.migrations import MIGRATIONS
from resources.warehouse import Warehouse
from tests.support.locks import hold_write_lock


def test_migrations_are_ordered_and_apply_once(tmp_path):
    versions = [version for version, _, _ in MIGRATIONS]
    assert versions == sorted(versions) == list(range(1, len(versions) + 1))
    with duckdb.connect(str(tmp_path / "w.duckdb")) as connection:
        assert migrate(connection) == versions
        assert migrate(connection) == []
        tables = {row[0] for row in connection.execute(
            "select table_schema || '.' || table_name from information_schema.tables"
        ).fetchall()}  # fmt: skip
    assert {"raw.source_worklogs", "replica.worklogs", "sync.worklog_links", "lineage.runs"} <= tables


def test_a_writer_waits_for_another_process_to_release_the_file(tmp_path):
    path = str(tmp_path / "w.duckdb")
    Warehouse(database=path).schema_version()  # migrate first, while nobody holds the file
    holder = hold_write_lock(path, 1.5)
    started = time.monotonic()
    with Warehouse(database=path, lock_wait_seconds=60).get_connection() as connection:
        assert connection.execute("select count(*) from hold").fetchone() == (0,)
    holder.wait(timeout=30)
    assert holder.returncode == 0
    # The file could only be opened once the holder let go, 1.5 s after it took the lock.
    assert time.monotonic() - started >= 1.0


def test_a_writer_gives_up_with_the_fix_when_the_lock_outlasts_the_wait(tmp_path):
    path = str(tmp_path / "w.duckdb")
    Warehouse(database=path).schema_version()
    holder = hold_write_lock(path, 5)
    try:
        busy = Warehouse(database=path, lock_wait_seconds=0.5)
        with pytest.raises(
            WarehouseBusyError, match=r"stayed locked by another process.*wait for the other run"
        ):
            busy.get_connection().__enter__()
    finally:
        holder.kill()
        holder.wait()


def test_connections_carry_the_memory_limit_unless_the_connection_config_names_one(tmp_path):
    path = str(tmp_path / "w.duckdb")
    limit = "select current_setting('memory_limit')"
    with Warehouse(database=path).get_connection() as connection:
        assert connection.execute(limit).fetchone() == ("488.2 MiB",)  # the default, 512 MB
    with Warehouse(database=path, memory_limit="256MB").read_connection() as connection:
        assert connection.execute(limit).fetchone() == ("244.1 MiB",)
    with Warehouse(database=path, connection_config={"memory_limit": "128MB"}).get_connection() as connection:
        assert connection.execute(limit).fetchone() == ("122.0 MiB",)


# DuckDB names a file's catalog after its stem: these would collide with the schemas, and the
# others put a space, non-ASCII letters or a quote in the path.
AWKWARD_PATHS = [
    *(f"{schema}.duckdb" for schema in ("sync", "raw", "replica", "lineage", "directory", "meta")),
    "with space/tempo sync.duckdb",
    "dür/Zeiterfassung 時間.duckdb",
    "it's/o'clock.duckdb",
]


@pytest.mark.parametrize("name", AWKWARD_PATHS)
def test_any_file_name_works_for_migrations_writes_and_reads(tmp_path, name):
    path = tmp_path / name
    warehouse = Warehouse(database=str(path))
    assert warehouse.schema_version() == len(MIGRATIONS)
    with warehouse.get_connection() as connection:
        connection.execute("insert into meta.sites values ('source', 'https://a.example', current_timestamp)")
        assert "sync.worklog_links" in existing_tables(connection)
    with warehouse.read_connection() as connection:
        assert connection.execute("select site from meta.sites").fetchall() == [("https://a.example",)]
        assert connection.execute("select count(*) from sync.worklog_links").fetchone() == (0,)
    assert path.is_file()


def test_a_file_before_its_first_migration_has_none_of_the_tables(tmp_path):
    path = tmp_path / "empty.duckdb"
    duckdb.connect(str(path)).close()
    with Warehouse(database=str(path)).read_connection() as connection:
        assert existing_tables(connection) == set()
