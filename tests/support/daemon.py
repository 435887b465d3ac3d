"""Start ``dagster-daemon run`` on a code location, for a ``DAGSTER_HOME`` and an environment, and
stop it with everything it started.

The daemon runs the sensors, the schedules and the run queue exactly as deployed: it starts a code
server for the workspace, and every run it launches is a process of its own. The caller gives the
whole environment the code location needs (a sandbox's settings, ``TEMPO_SYNC_PAIRS`` for several
pairs, ``DAGSTER_PG_*`` for the PostgreSQL instance, ...): it is laid over this process's
environment without tempo-sync's settings or ``DAGSTER_HOME``, as on a fresh machine, so nothing of
the test process leaks in. Nothing here assumes one pair.

The daemon, its code server and the runs start in one new session (and process group), and stopping
signals the whole session (``tests.support.dagster_ui.end_session``): the daemon ignores SIGTERM
when it is started in the background without job control, and its runs outlive it otherwise.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.cli import REPO, clean_environment
from tests.support.dagster_ui import end_session

DAGSTER_DAEMON = Path(sys.executable).parent / "dagster-daemon"
# The repository's workspace: the code location `tempo_sync`, loaded from the repository (its
# `working_directory: .` is relative to the file, so the daemon may start anywhere).
REPO_WORKSPACE = REPO / "workspace.yaml"
SHIPPED_HOMES = {"local": REPO / "dagster_home", "postgres": REPO / "dagster_home" / "postgres"}
# The machine forbids writing bytecode (PYTHONDONTWRITEBYTECODE), so each of the daemon's processes
# (the daemon, the code server, every run) would compile tempo-sync's modules again; they share a
# cache of their own instead, as the benchmarks do.
PYCACHE = Path(tempfile.gettempdir()) / "tempo-sync-test-pycache"
STOP_TIMEOUT = 20.0
POLL_SECONDS = 0.5


class DaemonError(RuntimeError):
    """The daemon exited, or something did not happen in time; the message ends with its log."""


def copy_home(home: Path, shipped: str = "postgres") -> Path:
    """A new ``DAGSTER_HOME`` at ``home`` with the ``dagster.yaml`` of a shipped instance directory
    (``postgres``: ``dagster_home/postgres``; ``local``: ``dagster_home``)."""
    home.mkdir(parents=True)
    shutil.copy(SHIPPED_HOMES[shipped] / "dagster.yaml", home / "dagster.yaml")
    return home


def daemon_environment(home: Path, environ: Mapping[str, str]) -> dict[str, str]:
    """The daemon's environment: this process's without tempo-sync's settings, plus ``environ``
    and ``DAGSTER_HOME``, writing bytecode to the shared cache."""
    env = clean_environment(**dict(environ), DAGSTER_HOME=str(home))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    return env


def create_storage(env: Mapping[str, str], timeout: float = 120.0) -> None:
    """Open the instance once, in a process of its own, so that its storage exists (tables created,
    migrations stamped) before the daemon and its code server open it at the same moment."""
    command = [sys.executable, "-c", "import dagster; dagster.DagsterInstance.get().dispose()"]
    result = subprocess.run(
        command, env=dict(env), capture_output=True, text=True, timeout=timeout, check=False
    )
    if result.returncode != 0:
        raise DaemonError(
            f"opening the instance in {env.get('DAGSTER_HOME')} failed:\n{result.stderr[-4000:]}"
        )


@dataclass
class Daemon:
    """A running ``dagster-daemon run``: its process (a session leader), home and log."""

    process: subprocess.Popen[bytes]
    home: Path
    log_path: Path
    environ: dict[str, str]

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def fail(self, message: str) -> DaemonError:
        return DaemonError(f"{message}\n--- dagster-daemon log (tail) ---\n{self.log_tail()}")

    def wait_until(
        self, what: str, condition: Callable[[], bool], timeout: float, poll: float = POLL_SECONDS
    ) -> None:
        """Wait until ``condition()`` holds; fail, with the log, if the daemon exits or time runs out."""
        deadline = time.monotonic() + timeout
        while not condition():
            if self.process.poll() is not None:
                raise self.fail(f"the daemon exited with status {self.process.returncode} before {what}")
            if time.monotonic() > deadline:
                raise self.fail(f"{what}: not after {timeout:.0f} s")
            time.sleep(poll)

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Stop the daemon, its code server and its runs; raise if a process survives SIGKILL."""
        if not end_session(self.process, timeout):
            raise self.fail(f"processes of the daemon (session {self.process.pid}) survived SIGKILL")


def start_daemon(
    home: Path,
    environ: Mapping[str, str],
    *,
    workspace: Path = REPO_WORKSPACE,
    cwd: Path | None = None,
    log_path: Path | None = None,
    prepare_storage: bool = True,
) -> Daemon:
    """Start ``dagster-daemon run -w workspace`` with ``DAGSTER_HOME=home`` and ``environ``.

    ``home`` must hold a ``dagster.yaml`` (see ``copy_home``). The daemon starts in ``cwd`` (by
    default ``home``), never in the repository: Dagster loads a ``.env`` file from the directory it
    starts in, over the environment given here. With ``prepare_storage`` the instance's storage is
    created first (``create_storage``). Its output goes to ``log_path`` (by default
    ``home/daemon.log``).
    """
    env = daemon_environment(home, environ)
    if prepare_storage:
        create_storage(env)
    cwd = cwd or home
    log_path = log_path or home / "daemon.log"
    command = [str(DAGSTER_DAEMON), "run", "-w", str(workspace)]
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    return Daemon(process=process, home=home, log_path=log_path, environ=env)


@contextlib.contextmanager
def running_daemon(home: Path, environ: Mapping[str, str], **options: Any) -> Iterator[Daemon]:
    """``start_daemon`` as a context manager: always stopped on exit."""
    daemon = start_daemon(home, environ, **options)
    try:
        yield daemon
    finally:
        daemon.stop()
