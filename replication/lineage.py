"""``lineage.runs``: one row per Dagster run with its partitions, status and counts per step."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import duckdb

from replication.scope import Scope


def step_started(
    connection: duckdb.DuckDBPyConnection, run_id: str, job_name: str, scope: Scope, code_version: str
) -> None:
    connection.execute(
        """
        insert into lineage.runs
        values ($run, $job, $from, $to, 'running', current_timestamp, null, '{}', $code, null)
        on conflict (run_id) do update set status = 'running', finished_at = null, error = null
        """,
        {"run": run_id, "job": job_name, "from": scope.date_from, "to": scope.date_to, "code": code_version},
    )


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
