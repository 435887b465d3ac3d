"""Wall time and memory of one deployment serving 1, 10 and 30 site pairs, through the daemon.

Each pair is a sandbox server of its own (``tempo-sync sandbox serve`` in its own process, a fresh
state on real wall-clock time, 100 ms latency like the other benchmarks and the sandbox's default
rate limits: Tempo 5/s with a burst of 5, Jira 20/s with a burst of 40, per credential), so each
pair is bound by its own sites' limits, as real pairs are. Each pair's source gets the same work
before the clock starts: ``--worklogs`` new worklogs (40, the sandbox's default of one work date),
all on one work date, logged through Tempo's API; the sandbox generates no source worklogs (its
first day is after today), so everything a run copies is those.

The pairs run the way docs/deploy.md deploys them: a pairs file (``TEMPO_SYNC_PAIRS``) with each
pair's own DuckDB file and the default policy, ``dagster-daemon run`` with the instance shipped for
many pairs (``dagster_home/postgres``, on a throwaway PostgreSQL server; ``--instance local`` for
``dagster_home``'s SQLite files), and each pair's late-worklog sensor launching its run; the run
queue starts them under the shipped limits (8 runs at once, one per pair). The daemon, not
in-process threads, because the daemon is what a deployment runs and what the limits act on: each
run is a process that imports Dagster and builds every pair's definitions, and those costs (which
threads in one process would share and hide) are part of what many pairs cost. 30 sandboxes, the
daemon, its code server and 8 runs fit a 2-core machine's memory; the processor is what they
share, and the figures say so.

Per pair count the script prints the wall time from the daemon's start to the last copy on the last
destination, the span of the runs (the first run's start to the last run's end, from the instance's
run records), the mean run's own time, the peak RSS of the daemon's processes together (daemon,
code server and runs, sampled every half second from /proc) and the sum of each run process's own
peak (VmHWM), and each time's ratio to one pair's. The target is 10 pairs in at most 2x one pair's
runs' span. Every copy is counted on its destination: a duplicate or a missing one is reported.

    uv run python benchmarks/pairs.py [--pairs 1,10,30] [--worklogs 40] [--instance postgres|local]
    uv run python benchmarks/pairs.py --quick    # 1 and 3 pairs, 10 worklogs each: that it works
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import httpx
from support import TEMPO_SYNC, free_port, wait_for, with_bytecode

from sandbox.admin_client import SandboxAdmin
from sandbox.config import CREDENTIALS, DataKnobs
from sandbox.server import SandboxUrls

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # `tests.support` is not part of the installed package
from tests.support.daemon import (  # noqa: E402
    copy_home,
    create_storage,
    daemon_environment,
    start_daemon,
)
from tests.support.postgres import PostgresServer, start_postgres  # noqa: E402

TARGET_RATIO = 2.0  # 10 pairs in at most twice one pair's wall time
TARGET_PAIRS = 10
SETTLE_TIMEOUT = 1200.0
SAMPLE_SECONDS = 0.5
POLL_SECONDS = 1.0
PROBE = "pairs bench"
FINISHED = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}


@dataclass
class Site:
    """One pair's sandbox process and the worklogs logged on its source."""

    name: str
    urls: SandboxUrls
    process: subprocess.Popen[bytes]
    state_dir: Path
    probes: list[str] = field(default_factory=list)
    seen: bool = False  # every probe on the destination

    def copies(self) -> dict[str, int]:
        with SandboxAdmin(self.urls.admin) as admin:
            rows = admin.changed_worklogs("destination")
        found: dict[str, int] = {}
        for row in rows:
            description = str(row.get("description") or "")
            if not row["deleted"] and description.startswith(PROBE):
                found[description] = found.get(description, 0) + 1
        return found


@contextmanager
def sandboxes(count: int, latency_ms: float, never: date) -> Iterator[list[Site]]:
    """``count`` sandbox processes, started together, each on a fresh state in real time."""
    sites: list[Site] = []
    ports: set[int] = set()
    try:
        for number in range(count):
            # A port the system just handed out may come again before the sandbox holding it
            # listens: then two pairs would share one sandbox, which the pairs file refuses.
            while (port := free_port()) in ports:
                pass
            ports.add(port)
            state_dir = Path(tempfile.mkdtemp(prefix="tempo-sync-bench-pairs-sandbox-"))
            command = [TEMPO_SYNC, "sandbox", "serve", "--port", str(port), "--state-dir",
                       str(state_dir), "--reset", "--first-day", never.isoformat(),
                       "--latency-ms", str(latency_ms)]  # fmt: skip
            process = subprocess.Popen(
                command, env=with_bytecode(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            sites.append(Site(f"pair_{number + 1:02d}", SandboxUrls.at(f"http://127.0.0.1:{port}"), process,
                              state_dir))  # fmt: skip
        for site in sites:
            wait_for(int(site.urls.base.rsplit(":", 1)[1]), site.process)
        if any(site.process.poll() is not None for site in sites):  # it lost its port to another process
            raise SystemExit("a sandbox exited after it started; run the script again")
        yield sites
    finally:
        for site in sites:
            site.process.send_signal(signal.SIGINT)
        for site in sites:
            try:
                site.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                site.process.kill()
            shutil.rmtree(site.state_dir, ignore_errors=True)


def log_worklogs(site: Site, count: int, work_date: date, never: date) -> None:
    """``count`` new worklogs on the site's source, on one work date, by authors on issues that
    sync (those of the generated normal worklogs of a day the source never shows)."""
    with SandboxAdmin(site.urls.admin) as admin:
        admin.follow_real_time()
        authors = [
            (row["author_account_id"], row["issue_id"])
            for row in admin.scenarios("source", never, never)
            if row["scenario"] == "normal"
        ]
    headers = {"Authorization": f"Bearer {CREDENTIALS['source'].tempo_token}"}
    with httpx.Client(base_url=site.urls.source.tempo, headers=headers, timeout=60) as tempo:
        for number in range(count):
            author, issue = authors[number % len(authors)]
            description = f"{PROBE} {site.name} {uuid.uuid4()}"
            body = {"authorAccountId": author, "issueId": issue, "startDate": work_date.isoformat(),
                    "startTime": f"{8 + number // 60:02d}:{number % 60:02d}:00", "timeSpentSeconds": 900,
                    "description": description}  # fmt: skip
            # The sandbox's own rate limit paces these; a 429 is waited out as its answer says.
            while (answer := tempo.post("/4/worklogs", json=body)).status_code == 429:
                time.sleep(float(answer.headers.get("Retry-After", "1")))
            answer.raise_for_status()
            site.probes.append(description)


def write_pairs_file(directory: Path, sites: list[Site]) -> dict[str, str]:
    """The pairs file (each pair its own DuckDB file, the default policy); the token variables."""
    tables, tokens = [], {}
    for site in sites:
        lines = ["[[pairs]]", f'name = "{site.name}"', f'duckdb = "{site.name}.duckdb"']
        for prefix, key in (("source", "source"), ("dest", "destination")):
            urls, credentials = getattr(site.urls, key), CREDENTIALS[key]
            lines += [f'{prefix}_jira_url = "{urls.jira}"', f'{prefix}_tempo_url = "{urls.tempo}"',
                      f'{prefix}_jira_email = "{credentials.jira_email}"']  # fmt: skip
            for service, token in (("jira", credentials.jira_token), ("tempo", credentials.tempo_token)):
                variable = f"{site.name.upper()}_{prefix.upper()}_{service.upper()}_TOKEN"
                lines.append(f'{prefix}_{service}_token_env = "{variable}"')
                tokens[variable] = token
        tables.append("\n".join(lines))
    (directory / "pairs.toml").write_text("\n\n".join(tables) + "\n", encoding="utf-8")
    return tokens


class Sampler(threading.Thread):
    """Every half second, the RSS of every process in the daemon's session (the daemon, its code
    server and the runs): the peak of their sum, and each process's own peak (VmHWM)."""

    def __init__(self, session: int) -> None:
        super().__init__(daemon=True)
        self.session = session
        self.peak_total_kb = 0
        self.peaks_kb: dict[int, int] = {}  # pid → its last VmHWM seen
        self.run_pids: set[int] = set()
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(SAMPLE_SECONDS):
            total = 0
            for pid in self._session_pids():
                status = _status(pid)
                if not status:
                    continue
                total += status.get("VmRSS", 0)
                self.peaks_kb[pid] = max(self.peaks_kb.get(pid, 0), status.get("VmHWM", 0))
                # The code server starts each run as a `spawn` child of its own (Dagster's gRPC
                # server), whose command line is multiprocessing's, not `dagster api execute_run`.
                if pid not in self.run_pids and "spawn_main" in _cmdline(pid):
                    self.run_pids.add(pid)
            self.peak_total_kb = max(self.peak_total_kb, total)

    def _session_pids(self) -> list[int]:
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[3]) == self.session:  # state, ppid, pgrp, session
                pids.append(int(entry.name))
        return pids


def _status(pid: int) -> dict[str, int]:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    found = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(value.split()[0])
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


@dataclass(frozen=True)
class Measurement:
    pairs: int
    wall_seconds: float  # the daemon's start to the last copy, every run ended
    runs_span_seconds: float  # the first run's start to the last run's end
    mean_run_seconds: float
    runs: int
    failed_runs: int
    most_in_flight: int
    peak_total_mb: float
    run_peaks_mb: float
    largest_run_mb: float
    copies: int
    expected: int
    duplicates: int


def most_in_flight(spans: list[tuple[float, float]]) -> int:
    edges = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    most = current = 0
    for _, step in edges:  # at one instant an end sorts before a start
        current += step
        most = max(most, current)
    return most


def measure(count: int, args: argparse.Namespace, postgres: PostgresServer | None) -> Measurement:
    today = datetime.now(UTC).date()
    never = today + timedelta(days=30)  # no generated source worklog is dated before this
    work_date = today - timedelta(days=1)
    work = Path(tempfile.mkdtemp(prefix="tempo-sync-bench-pairs-"))
    try:
        with ExitStack() as stack:
            sites = stack.enter_context(sandboxes(count, args.latency_ms, never))
            # Each source is its own rate limit: the pairs' worklogs are logged side by side.
            loggers = [threading.Thread(target=log_worklogs, args=(site, args.worklogs, work_date, never))
                       for site in sites]  # fmt: skip
            for thread in loggers:
                thread.start()
            for thread in loggers:
                thread.join()
            if any(len(site.probes) != args.worklogs for site in sites):
                raise SystemExit("logging the worklogs on a source failed")
            tokens = write_pairs_file(work, sites)
            environ = {"TEMPO_SYNC_PAIRS": str(work / "pairs.toml"), **tokens}
            if postgres is not None:
                database = postgres.create_database("tempo_sync_bench")
                environ |= postgres.dagster_environment(database)
                os.environ.update(postgres.dagster_environment(database))  # for this process's instance
            home = copy_home(work / "dagster_home", args.instance)
            env = daemon_environment(home, environ)
            # Outside the measured time: the bytecode cache and the instance's storage.
            warm = [sys.executable, "-c", "import pipelines.definitions"]
            subprocess.run(warm, env=env, cwd=work, capture_output=True, check=True)
            create_storage(env)
            instance = dg.DagsterInstance.from_config(str(home))
            stack.callback(instance.dispose)

            started = time.monotonic()
            daemon = start_daemon(home, environ, prepare_storage=False)
            stack.callback(daemon.stop)
            sampler = Sampler(daemon.process.pid)
            sampler.start()
            stack.callback(sampler.done.set)

            def settled() -> bool:
                for site in sites:
                    if not site.seen:
                        site.seen = set(site.probes) <= set(site.copies())
                records = instance.get_run_records()
                return (
                    all(site.seen for site in sites)
                    and bool(records)
                    and all(record.dagster_run.status in FINISHED for record in records)
                )

            daemon.wait_until(f"{count} pairs' copies on their destinations", settled, SETTLE_TIMEOUT,
                              poll=POLL_SECONDS)  # fmt: skip
            wall = time.monotonic() - started
            sampler.done.set()
            sampler.join()
            records = list(instance.get_run_records())
            copies = [site.copies() for site in sites]
    finally:
        shutil.rmtree(work, ignore_errors=True)

    spans = [(r.start_time, r.end_time) for r in records if r.start_time is not None and r.end_time]
    kb = 1024
    run_peaks = [sampler.peaks_kb.get(pid, 0) for pid in sampler.run_pids]
    expected = count * args.worklogs
    counted = [n for found in copies for n in found.values()]
    return Measurement(
        pairs=count,
        wall_seconds=wall,
        runs_span_seconds=max(end for _, end in spans) - min(start for start, _ in spans),
        mean_run_seconds=sum(end - start for start, end in spans) / len(spans),
        runs=len(records),
        failed_runs=sum(r.dagster_run.status != dg.DagsterRunStatus.SUCCESS for r in records),
        most_in_flight=most_in_flight(spans),
        peak_total_mb=sampler.peak_total_kb / kb,
        run_peaks_mb=sum(run_peaks) / kb,
        largest_run_mb=max(run_peaks, default=0) / kb,
        copies=len(counted),
        expected=expected,
        duplicates=sum(n - 1 for n in counted if n > 1),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", default="1,10,30",
                        help="pair counts, comma-separated; the first is the base")  # fmt: skip
    parser.add_argument("--worklogs", type=int, default=DataKnobs().worklogs_per_day,
                        help="new worklogs per pair, on one work date")  # fmt: skip
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--instance", choices=("postgres", "local"), default="postgres")
    parser.add_argument("--quick", action="store_true", help="1 and 3 pairs, 10 worklogs each")
    args = parser.parse_args()
    if args.quick:
        args.pairs, args.worklogs = "1,3", 10
    counts = [int(part) for part in args.pairs.split(",")]
    instance = {"postgres": "dagster_home/postgres (PostgreSQL)", "local": "dagster_home (SQLite)"}
    print(f"pairs: {', '.join(map(str, counts))} pairs, each its own sandbox process ({args.latency_ms:g} ms "
          f"latency, default rate limits) with {args.worklogs} new worklogs on one work date; "
          f"dagster-daemon run with the shipped instance {instance[args.instance]}, the default policy; "
          f"{os.cpu_count()} cores")  # fmt: skip
    with ExitStack() as stack:
        postgres = None
        if args.instance == "postgres":
            postgres = start_postgres()
            stack.callback(postgres.stop)
        results = []
        for count in counts:
            result = measure(count, args, postgres)
            results.append(result)
            print(f"  measured {count} pairs: {result.wall_seconds:.1f} s", flush=True)

    base = results[0]
    print()
    print("pairs  wall s  ratio  runs span s  ratio  mean run s  runs  most at once  peak RSS MB  "
          "run peaks MB  largest run MB  copies  duplicates")  # fmt: skip
    for r in results:
        print(f"{r.pairs:>5}  {r.wall_seconds:>6.1f}  {r.wall_seconds / base.wall_seconds:>5.2f}  "
              f"{r.runs_span_seconds:>11.1f}  {r.runs_span_seconds / base.runs_span_seconds:>5.2f}  "
              f"{r.mean_run_seconds:>10.1f}  {r.runs:>4}  {r.most_in_flight:>12}  "
              f"{r.peak_total_mb:>11.0f}  {r.run_peaks_mb:>12.0f}  {r.largest_run_mb:>14.0f}  "
              f"{r.copies:>6}  {r.duplicates:>10}")  # fmt: skip
    print()
    for r in results:
        if r.failed_runs or r.copies != r.expected or r.duplicates:
            print(f"warning: {r.pairs} pairs: {r.failed_runs} runs failed, {r.copies} copies of "
                  f"{r.expected}, {r.duplicates} duplicates")  # fmt: skip
    ten = next((r for r in results if r.pairs == TARGET_PAIRS), None)
    if ten is not None and base.pairs == 1:
        ratio = ten.runs_span_seconds / base.runs_span_seconds
        met = ratio <= TARGET_RATIO
        print(f"{'meets' if met else 'misses'}: {TARGET_PAIRS} pairs in at most {TARGET_RATIO:g}x the wall "
              f"time of 1 pair (runs' span: {ratio:.2f}x)")  # fmt: skip
    exact = all(not r.failed_runs and r.copies == r.expected and not r.duplicates for r in results)
    print(f"{'meets' if exact else 'misses'}: every worklog copied exactly once, every run succeeded")


if __name__ == "__main__":
    main()
