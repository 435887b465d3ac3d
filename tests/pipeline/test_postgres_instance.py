"""The PostgreSQL instance tempo-sync ships (``dagster_home/postgres/dagster.yaml``), on a real
PostgreSQL server: runs, their events and the sensors' and schedules' state are kept there, the run
queue starts one run per pair at a time, and the daemon syncs through it exactly as deployed."""

from __future__ import annotations

import itertools
import uuid
from collections import Counter, defaultdict
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import httpx
import pytest
import yaml
from dagster._core.remote_origin import RegisteredCodeLocationOrigin, RemoteJobOrigin, RemoteRepositoryOrigin
from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import QueuedRunCoordinatorDaemon
from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage

from sandbox.config import CREDENTIALS, DataKnobs
from tests.conftest import SandboxFactory
from tests.pipeline.conftest import HarnessFactory
from tests.support.daemon import REPO, copy_home, running_daemon
from tests.support.postgres import (  # noqa: F401 - the fixtures `postgres` and `postgres_database`
    PostgresServer,
    postgres_database_fixture,
    postgres_fixture,
)
from tests.support.sync import UNPACED

DAY = date(2025, 3, 5)
PAIR_TAG = "tempo_sync/pair"
DEFAULT_PAIR = "default"
JOB = "sync_worklogs"  # the default pair's job
PER_PAIR_LIMIT = {"key": PAIR_TAG, "value": {"applyLimitPerUniqueValue": True}, "limit": 1}
# The daemon test: a sensor tick, two queued runs one after the other, each a process of its own.
DAEMON_TIMEOUT = 240.0


def _postgres_instance(
    home: Path, postgres: PostgresServer, database: str, monkeypatch: pytest.MonkeyPatch
) -> dg.DagsterInstance:
    """The shipped instance in ``home``, its ``DAGSTER_PG_*`` pointing at the test database."""
    for name, value in postgres.dagster_environment(database).items():
        monkeypatch.setenv(name, value)  # the dagster.yaml reads them from the environment
    return dg.DagsterInstance.from_config(str(copy_home(home)))


def test_both_shipped_instances_limit_runs_and_pools_alike():
    local = yaml.safe_load((REPO / "dagster_home" / "dagster.yaml").read_text(encoding="utf-8"))
    shipped = yaml.safe_load(
        (REPO / "dagster_home" / "postgres" / "dagster.yaml").read_text(encoding="utf-8")
    )
    assert local["concurrency"] == shipped["concurrency"]
    assert local["concurrency"]["runs"]["tag_concurrency_limits"] == [PER_PAIR_LIMIT]
    assert local["concurrency"]["pools"]["default_limit"] == 1
    assert local["telemetry"] == shipped["telemetry"] == {"enabled": False}
    assert "storage" not in local  # the local instance keeps its SQLite files in DAGSTER_HOME


@pytest.mark.slow
def test_the_postgres_instance_records_a_real_run_in_postgres(
    make_harness: HarnessFactory, postgres, postgres_database, tmp_path, monkeypatch
):
    instance = _postgres_instance(tmp_path / "dagster_home", postgres, postgres_database, monkeypatch)
    try:
        assert isinstance(instance.run_storage, PostgresRunStorage)
        assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
        assert isinstance(instance.schedule_storage, PostgresScheduleStorage)
        assert isinstance(instance.run_coordinator, dg.QueuedRunCoordinator)
        concurrency = instance.get_concurrency_config()
        assert concurrency.run_queue_config is not None
        assert concurrency.run_queue_config.max_concurrent_runs == 8
        assert concurrency.run_queue_config.tag_concurrency_limits == [PER_PAIR_LIMIT]
        assert concurrency.pool_config.default_pool_limit == 1
        assert not instance.telemetry_enabled

        harness = replace(make_harness(), instance=instance)
        result = harness.run(DAY)
        assert result.success

        runs = postgres.query(
            postgres_database, "select pipeline_name, status from runs where run_id = %s", (result.run_id,)
        )
        assert runs == [("sync_worklogs", "SUCCESS")]
        events = postgres.query(
            postgres_database,
            "select count(*) from event_logs where run_id = %s and dagster_event_type = 'STEP_SUCCESS'",
            (result.run_id,),
        )
        assert events[0][0] > 0
        tags = dict(
            postgres.query(
                postgres_database, "select key, value from run_tags where run_id = %s", (result.run_id,)
            )
        )
        assert tags.get(PAIR_TAG) == DEFAULT_PAIR, (
            f"the run carries no `{PAIR_TAG}: {DEFAULT_PAIR}` tag, so the per-pair run limit cannot hold it"
        )
        # The DuckDB-writing steps took their slots in the pool, whose limit PostgreSQL keeps.
        pools = dict(
            postgres.query(postgres_database, 'select concurrency_key, "limit" from concurrency_limits')
        )
        assert pools.get("tempo_sync_duckdb") == 1
        tables = {
            row[0]
            for row in postgres.query(
                postgres_database,
                "select table_name from information_schema.tables where table_schema = 'public'",
            )
        }
        assert {"runs", "event_logs", "instigators", "job_ticks"} <= tables  # schedule storage's too
    finally:
        instance.dispose()


# Where the daemon would load a queued run's job from; the queue's decision does not load it.
ORIGIN = RemoteJobOrigin(
    RemoteRepositoryOrigin(RegisteredCodeLocationOrigin("tempo_sync"), "__repository__"), JOB
)


def _queued(instance: dg.DagsterInstance, pair: str) -> dg.DagsterRun:
    run = dg.DagsterRun(
        job_name=JOB, run_id=str(uuid.uuid4()), status=dg.DagsterRunStatus.QUEUED, tags={PAIR_TAG: pair},
        remote_job_origin=ORIGIN,
    )  # fmt: skip
    return instance.add_run(run)


def test_the_run_queue_starts_one_run_per_pair_at_a_time(postgres, postgres_database, tmp_path, monkeypatch):
    """The queue's own decision (Dagster's run coordinator daemon, one pass, without launching) on
    runs stored in PostgreSQL: the fast form of the daemon test below."""
    instance = _postgres_instance(tmp_path / "dagster_home", postgres, postgres_database, monkeypatch)
    try:
        first, second = _queued(instance, DEFAULT_PAIR), _queued(instance, DEFAULT_PAIR)
        other = _queued(instance, "other_pair")
        queue = QueuedRunCoordinatorDaemon(interval_seconds=5)
        config = instance.get_concurrency_config()

        chosen = [run.run_id for run in queue._get_runs_to_dequeue(instance, config, None)]
        assert chosen == [first.run_id, other.run_id]  # the second of `default` waits

        # The first run starts (as its process reports it), the others stay queued.
        started = dg.DagsterEvent(dg.DagsterEventType.RUN_START.value, job_name=JOB)
        instance.report_dagster_event(started, first.run_id)
        assert instance.get_run_by_id(first.run_id).status == dg.DagsterRunStatus.STARTED
        chosen = [run.run_id for run in queue._get_runs_to_dequeue(instance, config, None)]
        assert chosen == [other.run_id]  # `default` has a run in flight; another pair does not
        assert instance.get_run_by_id(second.run_id).status == dg.DagsterRunStatus.QUEUED
    finally:
        instance.dispose()


# ----- the daemon, as deployed


def _normal_authors_and_issues(admin, day: date) -> list[tuple[str, int]]:
    """(author, issue) pairs that sync: those of the generated normal worklogs of a day the source
    never shows (it starts after today), so they are known without being listed."""
    return [
        (row["author_account_id"], row["issue_id"])
        for row in admin.scenarios("source", day, day)
        if row["scenario"] == "normal"
    ]


def _overlaps(records: list[dg.RunRecord]) -> list[tuple[str, str]]:
    """Pairs of runs of one site pair that were in flight at the same moment."""
    by_pair: defaultdict[str, list[dg.RunRecord]] = defaultdict(list)
    for record in records:
        by_pair[record.dagster_run.tags.get(PAIR_TAG, "")].append(record)
    found = []
    for runs in by_pair.values():
        spans = sorted((r.start_time or 0.0, r.end_time or float("inf"), r.dagster_run.run_id) for r in runs)
        found += [(a[2], b[2]) for a, b in itertools.pairwise(spans) if b[0] < a[1]]
    return found


@pytest.mark.slow
@pytest.mark.full
def test_the_daemon_syncs_through_the_postgres_instance_one_run_of_the_pair_at_a_time(
    start_sandbox: SandboxFactory, postgres, postgres_database, tmp_path, monkeypatch
):
    today = datetime.now(UTC).date()
    never = today + timedelta(days=30)
    # Real time (the sensor reads what was updated lately, the partitions reach today) and no
    # generated source worklogs: the only ones are those logged here, so every run is theirs.
    sandbox = start_sandbox(clock=None, data=replace(DataKnobs(), first_day=never))
    with sandbox.admin() as admin:
        admin.follow_real_time()
        pairs = _normal_authors_and_issues(admin, never)
    # Two work dates more than the sensor's 7-day gap apart: one tick asks for two runs of the pair,
    # which the queue must start one after the other.
    dates = [today, today - timedelta(days=9)]
    probes = [f"postgres instance probe {uuid.uuid4()}" for _ in dates]
    token = CREDENTIALS["source"].tempo_token
    with httpx.Client(
        base_url=sandbox.urls.source.tempo, headers={"Authorization": f"Bearer {token}"}
    ) as tempo:
        for (author, issue), work_date, description in zip(pairs, dates, probes, strict=False):
            tempo.post("/4/worklogs", json={
                "authorAccountId": author, "issueId": issue, "startDate": work_date.isoformat(),
                "startTime": "09:00:00", "timeSpentSeconds": 900, "description": description,
            }).raise_for_status()  # fmt: skip

    config = tmp_path / "tempo-sync.toml"
    config.write_text(UNPACED, encoding="utf-8")
    environ = {
        **sandbox.environment(),
        "TEMPO_SYNC_DUCKDB": str(tmp_path / "warehouse" / "tempo_sync.duckdb"),
        "TEMPO_SYNC_CONFIG": str(config),
        **postgres.dagster_environment(postgres_database),
    }
    home = tmp_path / "dagster_home"
    with running_daemon(copy_home(home), environ) as daemon:
        for name, value in postgres.dagster_environment(postgres_database).items():
            monkeypatch.setenv(name, value)
        instance = dg.DagsterInstance.from_config(str(home))
        try:

            def copied() -> Counter[str]:
                with sandbox.admin() as admin:
                    return Counter(
                        row["description"]
                        for row in admin.changed_worklogs("destination")
                        if not row["deleted"] and row.get("description") in probes
                    )

            def settled() -> bool:
                records = instance.get_run_records()
                return (
                    set(copied()) == set(probes)
                    and bool(records)
                    and all(record.dagster_run.is_finished for record in records)
                )

            daemon.wait_until("both copies on the destination and every run ended", settled, DAEMON_TIMEOUT)
            records = list(instance.get_run_records())
        finally:
            instance.dispose()

    statuses = {record.dagster_run.run_id: record.dagster_run.status for record in records}
    assert set(statuses.values()) == {dg.DagsterRunStatus.SUCCESS}, daemon.log_tail()
    # The two dates' runs, asked for by the sensor (another only if the daily schedule's tick fell in).
    by_sensor = [r for r in records if r.dagster_run.tags.get("dagster/sensor_name") == "late_worklogs"]
    assert len(by_sensor) == 2
    assert all(record.dagster_run.tags.get(PAIR_TAG) == DEFAULT_PAIR for record in records)
    in_postgres = dict(postgres.query(postgres_database, "select run_id, status from runs"))
    assert in_postgres == dict.fromkeys(statuses, "SUCCESS")
    assert _overlaps(records) == []
    assert copied() == Counter(probes)  # each exactly once
