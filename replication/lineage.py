"""``lineage.runs``: one row per Dagster run with its partitions, status and counts per step."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import duckdb

from replication.liveness import ProcessIdentity
from replication.scope import Scope


def step_started(
    connection: duckdb.DuckDBPyConnection, run_id: str, job_name: str, scope: Scope, code_version: str
) -> None:
    """Mark the run running in this process (a step may run in a process of its own)."""
    process = ProcessIdentity.current()
    connection.execute(
        """
        insert into lineage.runs (run_id, job_name, partition_start, partition_end, status, started_at,
                                  counts, code_version, host, pid, process_started)
        values ($run, $job, $from, $to, 'running', current_timestamp, '{}', $code, $host, $pid, $started)
        on conflict (run_id) do update set status = 'running', finished_at = null, error = null,
            host = excluded.host, pid = excluded.pid, process_started = excluded.process_started
        """,
        {"run": run_id, "job": job_name, "from": scope.date_from, "to": scope.date_to, "code": code_version,
         "host": process.host, "pid": process.pid, "started": process.started},
    )  # fmt: skip


def mark_crashed_runs(connection: duckdb.DuckDBPyConnection) -> list[str]:
    """Close the rows of runs whose process on this host ended without finishing them (kill -9,
    a lost machine), so that status and the ledger stop waiting for them."""
    running = connection.execute(
        "select run_id, host, pid, process_started from lineage.runs where status = 'running'"
        " and pid is not null"
    ).fetchall()
    crashed = [
        run_id
        for run_id, host, pid, started in running
        if (process := ProcessIdentity(host, pid, started)).is_local() and not process.is_alive()
    ]
    if crashed:
        connection.execute(
            "update lineage.runs set status = 'crashed', finished_at = current_timestamp,"
            " error = 'its process ended without finishing the run (killed?)'"
            " where list_contains($runs, run_id)",
            {"runs": crashed},
        )
    return crashed


def step_finished(
    connection: duckdb.DuckDBPyConnection, run_id: str, step: str, counts: Mapping[str, Any], *, last: bool
) -> None:
    """Merge the step's counts into the run; the last step of the job marks the run succeeded."""
    connection.execute(
        """
        update lineage.runs set counts = json_merge_patch(counts, $patch),
            status = case when $last then 'succeeded' else status end,
            finished_at = case when $last then current_timestamp else finished_at end
        where run_id = $run
        """,
        {"patch": json.dumps({step: counts}, default=str), "last": last, "run": run_id},
    )


def step_failed(connection: duckdb.DuckDBPyConnection, run_id: str, step: str, error: str) -> None:
    connection.execute(
        "update lineage.runs set status = 'failed', finished_at = current_timestamp, error = ?"
        " where run_id = ?",
        [f"{step}: {error}", run_id],
    )
