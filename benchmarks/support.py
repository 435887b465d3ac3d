"""What the benchmark scripts share: a sandbox in its own process, and the product run against it.

The sandbox runs as ``tempo-sync sandbox serve`` in a child process, so its work never competes
with the measured code for this process's interpreter lock; the product runs as
``tempo-sync run``, exactly as a user starts it.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from sandbox.admin_client import SandboxAdmin
from sandbox.server import SandboxUrls

CLOCK = "2025-03-20T12:00:00Z"  # late enough that the work dates below are complete
TEMPO_SYNC = str(Path(sys.executable).parent / "tempo-sync")
PYCACHE = Path(tempfile.gettempdir()) / "tempo-sync-bench-pycache"
# versus_reference.py prints this once tempo-sync's run is measured; suite.py waits for it.
PRODUCT_MEASURED = "tempo-sync run measured"


def with_bytecode(env: Mapping[str, str]) -> dict[str, str]:
    """`env` for a Python child process that reads and writes compiled bytecode.

    An installed product runs from compiled bytecode; this machine's environment forbids writing
    it (PYTHONDONTWRITEBYTECODE), which adds seconds of compiling to every child. Children compile
    into a cache of the benchmarks' own instead.
    """
    child = {name: value for name, value in env.items() if name != "PYTHONDONTWRITEBYTECODE"}
    child["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    return child


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"a server exited early with status {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing listens on port {port} after 60 s")


@dataclass
class Sandbox:
    """A running sandbox process: its URLs, the settings that point tempo-sync at it, its counters."""

    urls: SandboxUrls

    def environment(self) -> dict[str, str]:
        return self.urls.environment(destination_tempo=True)

    def requests(self) -> Counter[tuple[str, str, str, int]]:
        """Requests served so far: (site, service, endpoint, status) → count."""
        with SandboxAdmin(self.urls.admin) as admin:
            rows = admin.stats()["requests"]
        return Counter({(r["site"], r["service"], r["endpoint"], r["status"]): r["count"] for r in rows})


@contextmanager
def sandbox_process(options: Sequence[str]) -> Iterator[Sandbox]:
    """``tempo-sync sandbox serve`` on a free port with a fresh state and a frozen clock."""
    state_dir = Path(tempfile.mkdtemp(prefix="tempo-sync-bench-"))
    port = free_port()
    command = [TEMPO_SYNC, "sandbox", "serve", "--port", str(port), "--state-dir", str(state_dir),
               "--reset", "--clock", CLOCK, *options]  # fmt: skip
    process = subprocess.Popen(
        command, env=with_bytecode(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for(port, process)
        yield Sandbox(SandboxUrls.at(f"http://127.0.0.1:{port}"))
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
        shutil.rmtree(state_dir, ignore_errors=True)


@dataclass(frozen=True)
class ProductRun:
    seconds: float
    exit_status: int
    created: int
    steps: dict[str, Any]  # lineage.runs.counts: each step's counts, api_calls included


def run_product(sandbox: Sandbox, first: date, last: date, *, policy: str = "") -> ProductRun:
    """``tempo-sync run --from first --to last`` against the sandbox, with a fresh DuckDB file."""
    work = Path(tempfile.mkdtemp(prefix="tempo-sync-bench-run-"))
    try:
        config = work / "tempo-sync.toml"
        config.write_text(policy, encoding="utf-8")
        database = work / "tempo_sync.duckdb"
        env = {**os.environ, **sandbox.environment(), "TEMPO_SYNC_DUCKDB": str(database),
               "TEMPO_SYNC_CONFIG": str(config)}  # fmt: skip
        env = with_bytecode(env)
        env.pop("DAGSTER_HOME", None)
        # The cache is warmed outside the measured time.
        warm = [sys.executable, "-c", "import pipelines.definitions, cli.run"]
        subprocess.run(warm, env=env, cwd=work, capture_output=True, check=True)
        command = [TEMPO_SYNC, "run", "--from", first.isoformat(), "--to", last.isoformat()]
        started = time.perf_counter()
        finished = subprocess.run(command, env=env, cwd=work, capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - started
        if finished.returncode != 0:
            print(finished.stdout, finished.stderr, sep="\n", file=sys.stderr)
        with duckdb.connect(str(database), read_only=True) as connection:
            created = connection.execute(
                "select count(*) from sync.worklog_links where state = 'created'"
            ).fetchone()
            counts = connection.execute("select counts from lineage.runs").fetchone()
        steps = json.loads(counts[0]) if counts and isinstance(counts[0], str) else {}
        return ProductRun(seconds, finished.returncode, int(created[0]) if created else 0, steps)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def peak_rss_mb() -> float:
    """This process's peak resident set size so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def by_endpoint(requests: Counter[tuple[str, str, str, int]]) -> Counter[str]:
    """Requests by "site service endpoint", every status together."""
    totals: Counter[str] = Counter()
    for (site, service, endpoint, _), count in requests.items():
        totals[f"{site} {service} {endpoint}"] += count
    return totals


def print_calls(title: str, requests: Counter[tuple[str, str, str, int]]) -> None:
    print(title)
    for endpoint, count in sorted(by_endpoint(requests).items(), key=lambda item: (-item[1], item[0])):
        print(f"  {count:>6}  {endpoint}")
