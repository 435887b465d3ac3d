"""Several site pairs served by one deployment, as shipped: a pairs file of three pairs, the
PostgreSQL instance (``dagster_home/postgres``) on a real PostgreSQL server, and ``dagster-daemon
run``. Each pair's sensor launches its own runs; the run queue lets one run of a pair in flight at a
time, and no limit stands between pairs; every worklog is copied once, by its own pair.

The fast forms (the default suite): the pairs file's definitions name one job, sensor, schedule and
pool per pair, each run tagged with its pair; one pass of the run queue over queued runs of three
pairs starts the first of each. The daemon itself runs with ``--full``.
"""

from __future__ import annotations

import itertools
import uuid
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import httpx
import pytest
from dagster._core.remote_origin import RegisteredCodeLocationOrigin, RemoteJobOrigin, RemoteRepositoryOrigin
from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import QueuedRunCoordinatorDaemon

from pipelines.definitions import build_definitions
from sandbox.config import CREDENTIALS, DataKnobs
from sandbox.server import SandboxServer, SandboxUrls
from tests.conftest import SandboxFactory
from tests.support.daemon import copy_home, running_daemon
from tests.support.postgres import (  # noqa: F401 - the fixtures `postgres` and `postgres_database`
    PostgresServer,
    postgres_database_fixture,
    postgres_fixture,
)
from tests.support.sync import UNPACED

PAIRS = ("alpha", "bravo", "charlie")
PAIR_TAG = "tempo_sync/pair"
SENSOR_TAG = "dagster/sensor_name"
# Six runs (two work dates per pair), at most one per pair at a time, each a process that imports
# Dagster and builds three pairs' definitions on a 2-core machine: about a minute; the margin is for
# a loaded machine.
DAEMON_TIMEOUT = 420.0
STEP_EVENTS = ("STEP_START", "STEP_SUCCESS", "STEP_FAILURE")
FINISHED = {"SUCCESS", "FAILURE", "CANCELED"}


def _job(pair: str) -> str:
    return f"{pair}_sync_worklogs"


def _token_envs(pair: str) -> dict[str, str]:
    """The pairs file's ``*_token_env`` keys for a pair, each naming a variable of its own."""
    return {
        f"{prefix}_{service}_token_env": f"{pair.upper()}_{prefix.upper()}_{service.upper()}_TOKEN"
        for prefix in ("source", "dest")
        for service in ("jira", "tempo")
    }


def write_pairs_file(directory: Path, sites: Mapping[str, SandboxUrls]) -> tuple[Path, dict[str, str]]:
    """A pairs file with one pair per sandbox (its source to its destination, its own DuckDB file,
    the unpaced test policy), and the token variables it names, set to the sandbox's credentials."""
    (directory / "policy.toml").write_text(UNPACED, encoding="utf-8")
    tables, tokens = [], {}
    for pair, urls in sites.items():
        envs = _token_envs(pair)
        for key, variable in envs.items():
            site = "source" if key.startswith("source") else "destination"
            credentials = CREDENTIALS[site]
            tokens[variable] = credentials.jira_token if "_jira_" in key else credentials.tempo_token
        lines = [
            "[[pairs]]",
            f'name = "{pair}"',
            f'source_jira_url = "{urls.source.jira}"',
            f'source_jira_email = "{CREDENTIALS["source"].jira_email}"',
            f'source_tempo_url = "{urls.source.tempo}"',
            f'dest_jira_url = "{urls.destination.jira}"',
            f'dest_jira_email = "{CREDENTIALS["destination"].jira_email}"',
            f'dest_tempo_url = "{urls.destination.tempo}"',
            f'duckdb = "{pair}.duckdb"',  # relative to the pairs file
            'config = "policy.toml"',
            *(f'{key} = "{variable}"' for key, variable in envs.items()),
        ]
        tables.append("\n".join(lines))
    path = directory / "pairs.toml"
    path.write_text("\n\n".join(tables) + "\n", encoding="utf-8")
    return path, tokens


# ----- fast: the definitions and the run queue


def test_a_pairs_file_of_three_pairs_gives_each_its_job_sensor_schedule_and_pool_tagged_with_its_name(
    tmp_path,
):
    # Nothing listens at these addresses: building the definitions sends no request.
    sites = {
        pair: SandboxUrls.at(f"http://127.0.0.1:{port}")
        for pair, port in zip(PAIRS, (9, 10, 11), strict=True)
    }
    path, tokens = write_pairs_file(tmp_path, sites)
    definitions = build_definitions({"TEMPO_SYNC_PAIRS": str(path), **tokens})

    for pair in PAIRS:
        job = definitions.resolve_job_def(_job(pair))
        assert job.tags.get(PAIR_TAG) == pair, f"runs of {job.name} would not count against {pair}'s limit"
        sensor = definitions.resolve_sensor_def(f"{pair}_late_worklogs")
        assert sensor.job_name == _job(pair)
        schedule = definitions.resolve_schedule_def(f"{pair}_sync_worklogs_schedule")
        assert schedule.job_name == _job(pair)
        # Every step of the pair's job writes (or may write) its DuckDB file: all in the pair's pool.
        pools = {node.definition.pool for node in job.graph.node_dict.values()}
        assert pools == {f"tempo_sync_duckdb_{pair}"}, pools
    jobs = {job.name for job in definitions.resolve_all_job_defs() if not job.name.startswith("__")}
    assert jobs == {_job(pair) for pair in PAIRS}
    repository = definitions.get_repository_def()
    assert {schedule.name for schedule in repository.schedule_defs} == {
        f"{pair}_sync_worklogs_schedule" for pair in PAIRS
    }
    late = {sensor.name for sensor in repository.sensor_defs if sensor.name.endswith("_late_worklogs")}
    assert late == {f"{pair}_late_worklogs" for pair in PAIRS}


def _queued(instance: dg.DagsterInstance, pair: str) -> dg.DagsterRun:
    origin = RemoteJobOrigin(
        RemoteRepositoryOrigin(RegisteredCodeLocationOrigin("tempo_sync"), "__repository__"), _job(pair)
    )
    run = dg.DagsterRun(
        job_name=_job(pair), run_id=str(uuid.uuid4()), status=dg.DagsterRunStatus.QUEUED,
        tags={PAIR_TAG: pair}, remote_job_origin=origin,
    )  # fmt: skip
    return instance.add_run(run)


def test_the_run_queue_starts_the_first_run_of_each_of_three_pairs(
    postgres, postgres_database, tmp_path, monkeypatch
):
    """The queue's own decision (Dagster's run coordinator daemon, one pass, without launching) on
    two queued runs of each of three pairs, stored in PostgreSQL: one run per pair, and no pair
    waits for another."""
    for name, value in postgres.dagster_environment(postgres_database).items():
        monkeypatch.setenv(name, value)  # the dagster.yaml reads them from the environment
    instance = dg.DagsterInstance.from_config(str(copy_home(tmp_path / "dagster_home")))
    try:
        queued = {pair: [_queued(instance, pair), _queued(instance, pair)] for pair in PAIRS}
        queue = QueuedRunCoordinatorDaemon(interval_seconds=5)
        config = instance.get_concurrency_config()
        chosen = [run.run_id for run in queue._get_runs_to_dequeue(instance, config, None)]
        assert chosen == [queued[pair][0].run_id for pair in PAIRS]

        # One pair's first run starts: that pair's second waits, the other pairs' first runs do not.
        started = dg.DagsterEvent(dg.DagsterEventType.RUN_START.value, job_name=_job(PAIRS[0]))
        instance.report_dagster_event(started, queued[PAIRS[0]][0].run_id)
        chosen = [run.run_id for run in queue._get_runs_to_dequeue(instance, config, None)]
        assert chosen == [queued[pair][0].run_id for pair in PAIRS[1:]]
    finally:
        instance.dispose()


# ----- the daemon, as deployed, with three pairs


@dataclass
class Site:
    """One pair's sandbox and the worklogs logged on its source."""

    pair: str
    sandbox: SandboxServer
    probes: list[str]

    def copies(self) -> Counter[str]:
        """Live copies on this pair's destination of any probe (of any pair), by description."""
        with self.sandbox.admin() as admin:
            return Counter(
                row["description"]
                for row in admin.changed_worklogs("destination")
                if not row["deleted"] and str(row.get("description") or "").startswith("pairs probe ")
            )


def _log_probes(sandbox: SandboxServer, pair: str, dates: Sequence[date], never: date) -> list[str]:
    """Log a worklog per work date on the sandbox's source, by authors on issues that sync (those
    of the generated normal worklogs of a day the source never shows); their descriptions."""
    with sandbox.admin() as admin:
        admin.follow_real_time()
        authors = [
            (row["author_account_id"], row["issue_id"])
            for row in admin.scenarios("source", never, never)
            if row["scenario"] == "normal"
        ]
    probes = [f"pairs probe {pair} {uuid.uuid4()}" for _ in dates]
    headers = {"Authorization": f"Bearer {CREDENTIALS['source'].tempo_token}"}
    with httpx.Client(base_url=sandbox.urls.source.tempo, headers=headers) as tempo:
        for (author, issue), work_date, description in zip(authors, dates, probes, strict=False):
            tempo.post("/4/worklogs", json={
                "authorAccountId": author, "issueId": issue, "startDate": work_date.isoformat(),
                "startTime": "09:00:00", "timeSpentSeconds": 900, "description": description,
            }).raise_for_status()  # fmt: skip
    return probes


Span = tuple[float, float, str]  # start, end (epoch seconds), what


def _overlapping(spans: list[Span]) -> list[tuple[str, str]]:
    """The pairs of spans that were in flight at the same moment (touching ends do not count)."""
    ordered = sorted(spans)
    return [(a[2], b[2]) for a, b in itertools.combinations(ordered, 2) if b[0] < a[1] and a[0] < b[1]]


def _overlap_seconds(spans: list[Span], other: list[Span]) -> float:
    return sum(max(0.0, min(a[1], b[1]) - max(a[0], b[0])) for a in spans for b in other)


@pytest.mark.slow
@pytest.mark.full
@pytest.mark.timeout(DAEMON_TIMEOUT + 120)
def test_the_daemon_syncs_three_pairs_through_the_postgres_instance_one_run_per_pair_at_a_time(
    start_sandbox: SandboxFactory, postgres: PostgresServer, postgres_database, tmp_path, record_property
):
    today = datetime.now(UTC).date()
    never = today + timedelta(days=30)
    # Two work dates more than the sensor's 7-day gap apart: one tick asks for two runs of each pair,
    # which the queue must start one after the other, while other pairs' runs go on.
    dates = [today, today - timedelta(days=9)]
    sites: dict[str, Site] = {}
    for pair in PAIRS:
        # Real time (the sensor reads what was updated lately, the partitions reach today) and no
        # generated source worklogs: the only ones are those logged here, so every run is theirs.
        sandbox = start_sandbox(
            clock=None, data=replace(DataKnobs(), first_day=never), state_dir=tmp_path / f"sandbox_{pair}"
        )
        sites[pair] = Site(pair, sandbox, _log_probes(sandbox, pair, dates, never))

    files = tmp_path / "pairs"
    files.mkdir()
    pairs_file, tokens = write_pairs_file(files, {pair: site.sandbox.urls for pair, site in sites.items()})
    environ = {
        "TEMPO_SYNC_PAIRS": str(pairs_file),
        **tokens,
        **postgres.dagster_environment(postgres_database),
    }

    def runs() -> list[tuple[str, str, str, float | None, float | None]]:
        return postgres.query(  # type: ignore[return-value]
            postgres_database, "select run_id, pipeline_name, status, start_time, end_time from runs"
        )

    def settled() -> bool:
        found = runs()
        return (
            all(set(site.copies()) >= set(site.probes) for site in sites.values())
            and bool(found)
            and all(status in FINISHED for _, _, status, _, _ in found)
        )

    with running_daemon(copy_home(tmp_path / "dagster_home"), environ) as daemon:
        daemon.wait_until(
            "every pair's copies on its destination and every run ended", settled, DAEMON_TIMEOUT
        )

    # Straight from PostgreSQL's tables: the runs, their tags, their steps' events.
    records = {run_id: (job, status, start, end) for run_id, job, status, start, end in runs()}
    assert {status for _, status, _, _ in records.values()} == {"SUCCESS"}, daemon.log_tail()
    tags: defaultdict[str, dict[str, str]] = defaultdict(dict)
    for run_id, key, value in postgres.query(
        postgres_database,
        "select run_id, key, value from run_tags where key in (%s, %s)",
        (PAIR_TAG, SENSOR_TAG),
    ):
        tags[str(run_id)][str(key)] = str(value)
    by_pair: defaultdict[str, list[str]] = defaultdict(list)
    for run_id, (job, _, _, _) in records.items():
        pair = tags[run_id].get(PAIR_TAG)
        assert pair in PAIRS, f"run {run_id} of {job} carries no pair tag in run_tags: {tags[run_id]}"
        assert job == _job(pair), f"run {run_id} tagged {pair} ran {job}"
        by_pair[pair].append(run_id)
    for pair in PAIRS:
        # The two dates' runs, asked for by the pair's own sensor (another only if its daily
        # schedule's tick fell in).
        sensed = [run for run in by_pair[pair] if tags[run].get(SENSOR_TAG) == f"{pair}_late_worklogs"]
        assert len(sensed) == 2, (pair, by_pair[pair], daemon.log_tail())

    run_spans = {
        pair: [(float(records[r][2]), float(records[r][3]), r) for r in by_pair[pair]] for pair in PAIRS
    }
    for pair, spans in run_spans.items():
        assert _overlapping(spans) == [], f"two runs of {pair} were in flight at once"

    # Steps: every step of a pair's job is in its DuckDB pool, so no two of a pair's steps may have
    # run at once, across its runs.
    step_times: defaultdict[tuple[str, str], dict[str, datetime]] = defaultdict(dict)
    for run_id, step_key, kind, timestamp in postgres.query(
        postgres_database,
        "select run_id, step_key, dagster_event_type, timestamp from event_logs"
        " where dagster_event_type in %s and step_key is not null",
        (STEP_EVENTS,),
    ):
        step_times[(str(run_id), str(step_key))]["start" if kind == "STEP_START" else "end"] = timestamp
    step_spans: defaultdict[str, list[Span]] = defaultdict(list)
    for (run_id, step_key), times in step_times.items():
        assert set(times) == {"start", "end"}, (run_id, step_key, times)
        span = (times["start"].timestamp(), times["end"].timestamp(), f"{run_id}:{step_key}")
        step_spans[tags[run_id][PAIR_TAG]].append(span)
    for pair in PAIRS:
        assert len(step_spans[pair]) >= 2 * 3, f"{pair}'s runs recorded too few steps: {step_spans[pair]}"
        assert _overlapping(step_spans[pair]) == [], f"two DuckDB-writing steps of {pair} ran at once"

    # The pools, kept in PostgreSQL: one per pair, one step at a time.
    limits = dict(
        postgres.query(postgres_database, 'select concurrency_key, "limit" from concurrency_limits')
    )
    assert all(limits.get(f"tempo_sync_duckdb_{pair}") == 1 for pair in PAIRS), limits

    # Each pair's ledger knows exactly its own runs, all succeeded.
    for pair in PAIRS:
        with duckdb.connect(str(files / f"{pair}.duckdb"), read_only=True) as connection:
            ledger = dict(connection.execute("select run_id, status from lineage.runs").fetchall())
        assert ledger == dict.fromkeys(by_pair[pair], "succeeded"), pair

    # Pairs do not wait for each other. Whether their runs did overlap depends on the machine's
    # speed, so it is reported, not required.
    cross = [
        (a, b, _overlap_seconds(run_spans[a], run_spans[b])) for a, b in itertools.combinations(PAIRS, 2)
    ]
    overlapped = sum(seconds for _, _, seconds in cross)
    report = ", ".join(f"{a}/{b} {seconds:.1f} s" for a, b, seconds in cross)
    record_property("cross_pair_overlap_seconds", f"{overlapped:.1f}")
    print(f"runs of different pairs in flight together: {report} (total {overlapped:.1f} s)")

    # Every probe copied exactly once, by its own pair, to its own destination.
    for pair, site in sites.items():
        assert site.copies() == Counter(site.probes), pair
