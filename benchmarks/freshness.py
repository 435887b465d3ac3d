"""How soon a new source worklog appears on the destination with the Dagster daemon running, and
what the sync costs while nothing happens.

The sandbox runs on real wall-clock time (the sensor's ``updatedFrom`` and the partitions, which
reach today, follow the real date), with its latency and rate limits, and with no generated source
worklogs: the only source worklogs are the ones this script logs, so every run and every request
is theirs. ``dagster-daemon run`` runs the code location against it, in live mode, with the
instance tempo-sync ships (``dagster_home/dagster.yaml``, copied into a temporary DAGSTER_HOME), a
fresh DuckDB file and the default policy: the sensor, the run queue and the runs exactly as
deployed. The script logs worklogs on the source through Tempo's API at random moments over
``--minutes`` (most for today, a third for earlier work dates), watches the destination through
the sandbox's inspection surface every second, and reports each worklog's latency (created on the
source to seen on the destination). Once every copy is there and no run is left, it counts the
requests the sandbox serves for ``--idle-minutes`` while nothing is logged. The runs and their
overlap come from the Dagster instance's run records.

    uv run python benchmarks/freshness.py [--minutes 6] [--worklogs 18] [--idle-minutes 3] [--quick]

``--quick`` logs two worklogs (today and an earlier date) just before the daemon starts and idles
half a minute: it checks that everything works, its figures say little.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import httpx
from support import Sandbox, by_endpoint, print_calls, sandbox_process, with_bytecode

from sandbox.admin_client import SandboxAdmin
from sandbox.config import CREDENTIALS

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # `tests.support` is not part of the installed package
from tests.support.dagster_ui import end_session  # noqa: E402

DAGSTER_DAEMON = str(Path(sys.executable).parent / "dagster-daemon")
MAX_P95_SECONDS = 120.0
MAX_IDLE_PER_MINUTE = 2.0
POLL_SECONDS = 1.0
START_TIMEOUT = 180.0
ARRIVAL_TIMEOUT = 300.0
EARLIER_SHARE = 1 / 3  # worklogs logged for an earlier work date (late logging)
EARLIEST_DAYS_BACK = 6


@dataclass
class Probe:
    """One worklog this script logged on the source, and when its copy appeared."""

    description: str
    work_date: date
    logged_at: float  # time.monotonic()
    seen_at: float | None = None

    @property
    def latency(self) -> float:
        assert self.seen_at is not None
        return self.seen_at - self.logged_at


def nearest_rank(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def authors_and_issues(admin: SandboxAdmin, day: date) -> list[tuple[str, int]]:
    """(author, issue) pairs that sync: those of the generated normal worklogs of a day the source
    never shows (it starts after today), so they are known without being listed."""
    return [
        (row["author_account_id"], row["issue_id"])
        for row in admin.scenarios("source", day, day)
        if row["scenario"] == "normal"
    ]


def log_worklog(tempo: httpx.Client, pair: tuple[str, int], work_date: date) -> Probe:
    description = f"freshness probe {uuid.uuid4()}"
    body = {"authorAccountId": pair[0], "issueId": pair[1], "startDate": work_date.isoformat(),
            "startTime": "09:00:00", "timeSpentSeconds": 900, "description": description}  # fmt: skip
    tempo.post("/4/worklogs", json=body).raise_for_status()
    return Probe(description, work_date, time.monotonic())


def watch(admin: SandboxAdmin, probes: list[Probe]) -> Counter[str]:
    """Mark the probes whose copy the destination now holds; the copies of each probe so far."""
    copies = Counter(
        row["description"]
        for row in admin.changed_worklogs("destination")
        if not row["deleted"] and str(row.get("description") or "").startswith("freshness probe ")
    )
    now = time.monotonic()
    for probe in probes:
        if probe.seen_at is None and copies[probe.description]:
            probe.seen_at = now
    return copies


def source_reads(sandbox: Sandbox) -> int:
    return sum(
        count
        for (site, service, endpoint, _), count in sandbox.requests().items()
        if (site, service, endpoint) == ("source", "tempo", "GET /4/worklogs")
    )


def unfinished_runs(instance: dg.DagsterInstance) -> int:
    return sum(not record.dagster_run.is_finished for record in instance.get_run_records())


def most_in_flight(records: list[dg.RunRecord]) -> int:
    """The most runs that were started and not yet ended at one moment."""
    edges = []
    for record in records:
        if record.start_time is None:
            continue
        edges += [(record.start_time, 1), (record.end_time or time.time(), -1)]
    most = current = 0
    for _, step in sorted(edges, key=lambda edge: (edge[0], edge[1])):  # an end before a start
        current += step
        most = max(most, current)
    return most


def wait_until(
    what: str, done: Callable[[], bool], daemon: subprocess.Popen[bytes], log: Path, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if daemon.poll() is not None:
            raise SystemExit(f"the daemon exited with status {daemon.returncode}:\n{log.read_text()[-3000:]}")
        if time.monotonic() > deadline:
            raise SystemExit(f"{what}: not after {timeout:.0f} s\n{log.read_text()[-3000:]}")
        time.sleep(POLL_SECONDS)


def main() -> None:  # noqa: PLR0915 - one measurement, told in order
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=6.0, help="how long worklogs are logged")
    parser.add_argument("--worklogs", type=int, default=18, help="worklogs logged over --minutes")
    parser.add_argument("--idle-minutes", type=float, default=3.0, help="how long the idle cost is measured")
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="two worklogs at once, half a minute idle")
    args = parser.parse_args()
    if args.quick:  # two worklogs logged before the daemon starts (below)
        args.minutes, args.worklogs, args.idle_minutes = 0.0, 0, 0.5

    chance = random.Random(args.seed)
    today = datetime.now(UTC).date()
    never = today + timedelta(days=30)  # no generated source worklog is dated before this
    options = ["--first-day", never.isoformat(), "--latency-ms", str(args.latency_ms)]
    logged = ("2 worklogs logged before the daemon starts (--quick)" if args.quick else
              f"{args.worklogs} worklogs logged at random moments over {args.minutes:g} min "
              f"(about {EARLIER_SHARE:.0%} for earlier work dates)")  # fmt: skip
    print(f"freshness: {logged}, then {args.idle_minutes:g} min idle; "
          f"{args.latency_ms:g} ms latency, default rate limits, the shipped instance and the default "
          f"policy; {os.cpu_count()} cores")  # fmt: skip
    work = Path(tempfile.mkdtemp(prefix="tempo-sync-bench-freshness-"))
    home = work / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    log = work / "daemon.log"
    moments = sorted(chance.uniform(0, args.minutes * 60) for _ in range(args.worklogs))
    dates = [
        today - timedelta(days=chance.randint(1, EARLIEST_DAYS_BACK))
        if chance.random() < EARLIER_SHARE
        else today
        for _ in moments
    ]
    tempo_auth = {"Authorization": f"Bearer {CREDENTIALS['source'].tempo_token}"}
    with (
        sandbox_process(options) as sandbox,
        SandboxAdmin(sandbox.urls.admin) as admin,
        httpx.Client(base_url=sandbox.urls.source.tempo, headers=tempo_auth, timeout=30) as tempo,
    ):
        admin.follow_real_time()
        pairs = authors_and_issues(admin, never)
        probes: list[Probe] = []
        if args.quick:
            # Logged before the daemon starts, so that its first tick takes them without a wait.
            probes = [
                log_worklog(tempo, pairs[0], today),
                log_worklog(tempo, pairs[1], today - timedelta(days=2)),
            ]
        env = with_bytecode({**os.environ, **sandbox.environment(), "DAGSTER_HOME": str(home),
                             "TEMPO_SYNC_DUCKDB": str(work / "tempo_sync.duckdb"),
                             "TEMPO_SYNC_CONFIG": str(work / "tempo-sync.toml")})  # fmt: skip
        (work / "tempo-sync.toml").write_text("", encoding="utf-8")
        warm = [sys.executable, "-c", "import pipelines.definitions"]  # the cache, outside the measurement
        subprocess.run(warm, env=env, cwd=work, capture_output=True, check=True)
        # Opened before the daemon starts: the first opening creates the instance's SQLite storage,
        # and two processes creating it at once can meet half-stamped migrations.
        instance = dg.DagsterInstance.from_config(str(home))
        command = [DAGSTER_DAEMON, "run", "-m", "pipelines.definitions", "-a", "defs"]
        # Its own session, so that stopping it reaches the code server and the runs it started.
        with log.open("wb") as output:
            daemon = subprocess.Popen(command, cwd=work, env=env, stdin=subprocess.DEVNULL, stdout=output,
                                      stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
        try:
            started = time.monotonic()
            wait_until(
                "the sensor's first tick", lambda: source_reads(sandbox) > 0, daemon, log, START_TIMEOUT
            )
            print(f"the daemon ticked the sensor {time.monotonic() - started:.0f} s after it started")

            copies: Counter[str] = Counter()
            begin = time.monotonic()
            for moment, work_date in zip(moments, dates, strict=True):
                while time.monotonic() - begin < moment:
                    copies = watch(admin, probes)
                    time.sleep(min(POLL_SECONDS, max(0.0, moment - (time.monotonic() - begin))))
                probes.append(log_worklog(tempo, chance.choice(pairs), work_date))

            def settled() -> bool:
                nonlocal copies
                copies = watch(admin, probes)
                return all(p.seen_at is not None for p in probes) and unfinished_runs(instance) == 0

            wait_until("every copy on the destination", settled, daemon, log, ARRIVAL_TIMEOUT)

            before = sandbox.requests()
            time.sleep(args.idle_minutes * 60)
            idle = sandbox.requests() - before
            copies = watch(admin, probes)
            records = list(instance.get_run_records())
            served = sandbox.requests()
        finally:
            if not end_session(daemon):
                print(f"warning: processes of the daemon (session {daemon.pid}) survived SIGKILL")
            instance.dispose()

    latencies = [probe.latency for probe in probes]
    p50, p95 = nearest_rank(latencies, 0.5), nearest_rank(latencies, 0.95)
    earlier = [probe.latency for probe in probes if probe.work_date < today]
    idle_per_minute = sum(idle.values()) / args.idle_minutes
    in_flight = most_in_flight(records)
    duplicates = sum(count - 1 for count in copies.values() if count > 1)
    statuses = Counter(record.dagster_run.status.value for record in records)
    by_trigger = Counter(record.dagster_run.tags.get("tempo-sync/trigger", "other") for record in records)
    print()
    print(f"latency, source create to destination copy, of {len(latencies)} worklogs: "
          f"p50 {p50:.1f} s, p95 {p95:.1f} s, max {max(latencies):.1f} s")  # fmt: skip
    if earlier:
        print(f"  of them {len(earlier)} for earlier work dates: max {max(earlier):.1f} s")
    print(f"idle: {sum(idle.values())} requests in {args.idle_minutes:g} min = "
          f"{idle_per_minute:.2f} per minute for this pair")  # fmt: skip
    for endpoint, count in sorted(by_endpoint(idle).items()):
        print(f"  {count:>6}  {endpoint}")
    print(f"runs launched: {len(records)} ({', '.join(f'{n} {s}' for s, n in sorted(statuses.items()))}; "
          f"{', '.join(f'{n} {t}' for t, n in sorted(by_trigger.items()))})")  # fmt: skip
    print(f"most runs in flight at once: {in_flight}")
    print(f"duplicates on the destination: {duplicates}")
    print_calls("requests the sandbox served, by endpoint (the script's own creates included):", served)
    print()
    verdicts = (
        (p95 <= MAX_P95_SECONDS, f"p95 latency at most {MAX_P95_SECONDS:.0f} s"),
        (idle_per_minute <= MAX_IDLE_PER_MINUTE, f"at most {MAX_IDLE_PER_MINUTE:g} requests per idle minute"),
        (in_flight <= 1, "never more than one run in flight"),
        (duplicates == 0, "no duplicate on the destination"),
    )
    for met, text in verdicts:
        print(f"{'meets' if met else 'misses'}: {text}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
