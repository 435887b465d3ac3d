"""The crashed_runs sensor: a run whose process died is marked crashed in DuckDB, reported failed
to the instance, and its pool slot is freed; a run whose process lives is left alone."""

from __future__ import annotations

import subprocess
import sys
import uuid
from datetime import date

import dagster as dg
import duckdb

from assets.pair import DUCKDB_POOL
from replication.liveness import ProcessIdentity

DAY = date(2025, 3, 5)


def _started_run(instance: dg.DagsterInstance, process: ProcessIdentity, harness) -> str:
    """A run as a killed `tempo-sync run` leaves it: STARTED in the instance, holding a pool slot,
    and `running` in lineage.runs with its process."""
    run_id = str(uuid.uuid4())
    instance.add_run(
        dg.DagsterRun(job_name="sync_worklogs", run_id=run_id, status=dg.DagsterRunStatus.STARTED)
    )
    instance.event_log_storage.claim_concurrency_slot(DUCKDB_POOL, run_id, "destination_worklogs")
    with duckdb.connect(str(harness.duckdb_path)) as connection:
        connection.execute(
            "insert into lineage.runs (run_id, job_name, status, started_at, counts, code_version, host, pid,"
            " process_started) values (?, 'sync_worklogs', 'running', current_timestamp, '{}', '1', ?, ?, ?)",
            [run_id, process.host, process.pid, process.started],
        )
    return run_id


def test_the_sensor_closes_a_run_whose_process_died_and_frees_its_slot(harness, tmp_path):
    assert harness.run(DAY).success  # a warehouse with its schema
    (tmp_path / "dagster_home").mkdir()
    with dg.DagsterInstance.local_temp(str(tmp_path / "dagster_home")) as instance:
        instance.event_log_storage.set_concurrency_slots(DUCKDB_POOL, 1)
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        dead = _started_run(instance, ProcessIdentity.of(child.pid), harness)
        child.kill()
        child.wait()
        alive = _started_run(instance, ProcessIdentity.current(), harness)

        definitions = harness.definitions()
        crashed_runs = definitions.resolve_sensor_def("crashed_runs")
        with dg.build_sensor_context(instance=instance, resources=definitions.resources) as context:
            result = crashed_runs.evaluate_tick(context)

        assert result.skip_message == f"closed 1 crashed run(s): {dead}"
        statuses = dict(
            harness.query("select run_id, status from lineage.runs where run_id in (?, ?)", [dead, alive])
        )
        assert statuses == {dead: "crashed", alive: "running"}
        assert instance.get_run_by_id(dead).status == dg.DagsterRunStatus.FAILURE
        assert instance.get_run_by_id(alive).status == dg.DagsterRunStatus.STARTED
        assert instance.event_log_storage.get_concurrency_run_ids() == {alive}

        with dg.build_sensor_context(instance=instance, resources=definitions.resources) as context:
            again = crashed_runs.evaluate_tick(context)
        assert again.skip_message == "no crashed runs"
