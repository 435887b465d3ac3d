"""A throwaway PostgreSQL server for tests: ``initdb`` into a temporary directory, ``pg_ctl start``
on a free loopback port (its unix socket in that directory too), password authentication over TCP,
and a fresh database per test on demand.

The server binaries come from ``PATH`` or Debian's ``/usr/lib/postgresql/<version>/bin`` (the
``postgresql`` package; ``.ci/run`` installs it). PostgreSQL refuses to run as root, and tests run
as root on this machine and in CI containers: then every server binary runs as the ``postgres``
user (which Debian's package creates; else ``nobody``) through ``runuser``, and the temporary
directory belongs to that user. The test process itself connects over TCP, as any client.

The server is tuned for tests, not durability (no fsync, no full-page writes): a crash of the
machine loses it, and it is thrown away anyway.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg2
import pytest

INSTALL_HINT = (
    "PostgreSQL's server binaries (initdb, pg_ctl, postgres) are not installed; install Debian's "
    "`postgresql` package (`sudo apt-get install postgresql`, as .ci/run does)"
)
SERVER_USER = "tempo_sync"
START_TIMEOUT = 60.0
# For tests only: durability buys nothing for a server that is deleted afterwards.
SERVER_OPTIONS = (
    "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
    "-c max_connections=200 -c shared_buffers=32MB"
)


class PostgresUnavailableError(RuntimeError):
    """The binaries are missing or the server did not start; the message says what to do."""


def find_binaries() -> Path:
    """The directory holding ``initdb``, ``pg_ctl`` and ``postgres``: from ``PATH`` first, else
    the newest of Debian's ``/usr/lib/postgresql/*/bin``."""
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        directory = Path(os.path.realpath(on_path)).parent
        if (directory / "pg_ctl").is_file() and (directory / "postgres").is_file():
            return directory
    candidates = sorted(
        (Path(path) for path in glob.glob("/usr/lib/postgresql/*/bin")),
        key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0,
        reverse=True,
    )
    for directory in candidates:
        if all((directory / name).is_file() for name in ("initdb", "pg_ctl", "postgres")):
            return directory
    raise PostgresUnavailableError(INSTALL_HINT)


def _server_account() -> str | None:
    """The user the server runs as when this process is root (PostgreSQL refuses root); None when
    this process may run it itself."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    raise PostgresUnavailableError(
        "the tests run as root, PostgreSQL refuses to, and there is no `postgres` (nor `nobody`) "
        "user to run it as; install Debian's `postgresql` package, which creates that user"
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PostgresServer:
    """A running server: where it listens, as whom to connect, where its files are."""

    host: str
    port: int
    user: str
    password: str
    directory: Path
    binaries: Path
    account: str | None  # the user the binaries run as, when this process is root

    @property
    def socket_dir(self) -> Path:
        return self.directory / "socket"

    @property
    def data_dir(self) -> Path:
        return self.directory / "data"

    @property
    def log_path(self) -> Path:
        return self.directory / "server.log"

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def connect(self, database: str = "postgres") -> psycopg2.extensions.connection:
        """A connection over TCP, as the tests' superuser, in autocommit mode."""
        connection = psycopg2.connect(
            host=self.host, port=self.port, user=self.user, password=self.password, dbname=database,
            connect_timeout=10,
        )  # fmt: skip
        connection.autocommit = True
        return connection

    def create_database(self, prefix: str = "tempo_sync") -> str:
        """A new empty database; its name."""
        name = f"{prefix}_{secrets.token_hex(4)}"
        with contextlib.closing(self.connect()) as connection, connection.cursor() as cursor:
            cursor.execute(f'create database "{name}"')
        return name

    def query(self, database: str, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        with contextlib.closing(self.connect(database)) as connection, connection.cursor() as cursor:
            cursor.execute(sql, params)
            return list(cursor.fetchall())

    def dagster_environment(self, database: str) -> dict[str, str]:
        """The ``DAGSTER_PG_*`` variables ``dagster_home/postgres/dagster.yaml`` reads, for a database."""
        return {
            "DAGSTER_PG_HOST": self.host,
            "DAGSTER_PG_PORT": str(self.port),
            "DAGSTER_PG_USER": self.user,
            "DAGSTER_PG_PASSWORD": self.password,
            "DAGSTER_PG_DB": database,
        }

    def stop(self) -> None:
        """Stop the server (immediately: its data is thrown away) and delete its files."""
        if (self.data_dir / "postmaster.pid").exists():
            with contextlib.suppress(subprocess.SubprocessError, OSError):
                _run(self, ["pg_ctl", "stop", "-D", str(self.data_dir), "-m", "immediate", "-w", "-t", "30"])
        shutil.rmtree(self.directory, ignore_errors=True)


def _run(server: PostgresServer, command: list[str], timeout: float = START_TIMEOUT) -> str:
    """A server binary, as the server's account; its output, or an error that shows it."""
    argv = [str(server.binaries / command[0]), *command[1:]]
    if server.account is not None:
        argv = ["runuser", "-u", server.account, "--", *argv]
    result = subprocess.run(
        argv, cwd=server.directory, capture_output=True, text=True, timeout=timeout, check=False
    )
    if result.returncode != 0:
        raise PostgresUnavailableError(
            f"{' '.join(command[:2])} failed ({result.returncode}):\n{result.stdout}{result.stderr}"
            f"\n--- server log ---\n{server.log_tail()}"
        )
    return result.stdout


def start_postgres(attempts: int = 3) -> PostgresServer:
    """Initialise and start a server on a free loopback port; stop it with ``stop()``.

    Raises ``PostgresUnavailableError`` when the binaries are missing or the server cannot start.
    """
    binaries = find_binaries()
    account = _server_account()
    # Not under pytest's tmp_path: that is private to the test's user (0700), and the server may run
    # as another. A short path also keeps the unix socket's path under its 107-byte limit.
    directory = Path(tempfile.mkdtemp(prefix="tempo-sync-pg-"))
    server = PostgresServer("127.0.0.1", 0, SERVER_USER, secrets.token_hex(12), directory, binaries, account)
    try:
        server.socket_dir.mkdir()
        password_file = directory / "password"
        password_file.write_text(server.password + "\n", encoding="utf-8")
        if account is not None:
            entry = pwd.getpwnam(account)
            for path in (directory, server.socket_dir, password_file):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        _run(server, [
            "initdb", "-D", str(server.data_dir), "-U", SERVER_USER, "--pwfile", str(password_file),
            "--auth-local=trust", "--auth-host=scram-sha-256", "--no-locale", "--encoding=UTF8",
            "--no-sync", "--no-instructions",
        ])  # fmt: skip
        password_file.unlink()
        for attempt in range(attempts):
            server.port = _free_port()
            listen = f"-p {server.port} -c listen_addresses=127.0.0.1 -k {server.socket_dir}"
            options = f"{listen} {SERVER_OPTIONS}"
            try:
                _run(server, [
                    "pg_ctl", "start", "-D", str(server.data_dir), "-l", str(server.log_path), "-w",
                    "-t", str(int(START_TIMEOUT)), "-o", options,
                ])  # fmt: skip
                break
            except PostgresUnavailableError:
                # Another process may have taken the port between the probe and the start.
                if attempt == attempts - 1:
                    raise
                time.sleep(0.2)
        server.connect().close()
    except BaseException:
        server.stop()
        raise
    return server


@contextlib.contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """``start_postgres`` as a context manager: always stopped and deleted on exit."""
    server = start_postgres()
    try:
        yield server
    finally:
        server.stop()


# Fixtures, for a test module to import explicitly, with F401 silenced for that import line:
#     from tests.support.postgres import postgres_database_fixture, postgres_fixture
# The functions' names differ from the fixtures' (`postgres`, `postgres_database`), so that a test's
# argument does not shadow the import.


@pytest.fixture(scope="session", name="postgres")
def postgres_fixture() -> Iterator[PostgresServer]:
    """One server per test session, that is per xdist worker: a worker starts its own the first
    time one of its tests asks (under a second), and stops it when the worker ends."""
    try:
        server = start_postgres()
    except PostgresUnavailableError as error:
        pytest.fail(str(error), pytrace=False)
    yield server
    server.stop()


@pytest.fixture(name="postgres_database")
def postgres_database_fixture(postgres: PostgresServer) -> str:
    """A new empty database on the worker's server, for one test."""
    return postgres.create_database()
