"""A harness that runs the real sync job against a test sandbox, with a DuckDB file in a temp dir."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import httpx
import pytest
from dagster._core.definitions.sensor_definition import SensorExecutionData

from pipelines.definitions import build_definitions
from sandbox.config import CREDENTIALS
from sandbox.server import SandboxServer

# Tests run against an unlimited sandbox, so the product's pacing and long backoffs only slow them.
UNPACED = "[http]\ntempo_requests_per_second = 0\njira_requests_per_second = 0\nbackoff_seconds = 0.01\n"


@dataclass
class SyncHarness:
    sandbox: SandboxServer
    environ: dict[str, str]
    duckdb_path: Path
    instance: dg.DagsterInstance

    def set_policy(self, policy: str) -> None:
        """Rewrite the policy file, as a user edits it between runs (pacing stays off)."""
        Path(self.environ["TEMPO_SYNC_CONFIG"]).write_text(UNPACED + policy, encoding="utf-8")

    def definitions(self) -> dg.Definitions:
        return build_definitions(self.environ)

    def run(self, date_from: date, date_to: date | None = None, **options: Any) -> dg.ExecuteInProcessResult:
        """One run of the sync job over the work dates, in this process."""
        job = self.definitions().resolve_job_def("sync_worklogs")
        date_to = date_to or date_from
        if date_from == date_to:
            return job.execute_in_process(
                instance=self.instance, partition_key=date_from.isoformat(), **options
            )
        tags = {
            "dagster/asset_partition_range_start": date_from.isoformat(),
            "dagster/asset_partition_range_end": date_to.isoformat(),
        }
        return job.execute_in_process(instance=self.instance, tags=tags, **options)

    def run_until_success(
        self, date_from: date, date_to: date | None = None, *, max_runs: int = 8
    ) -> list[dg.ExecuteInProcessResult]:
        """Run the job over the dates until a run succeeds, as the schedule retries a failed date
        (a run fails while rows stay in doubt; the next reconciles them): every run, in order."""
        runs: list[dg.ExecuteInProcessResult] = []
        while not runs or not runs[-1].success:
            if len(runs) == max_runs:
                pytest.fail(f"no run succeeded in {max_runs} runs")
            runs.append(self.run(date_from, date_to, raise_on_error=False))
        return runs

    def query(
        self, sql: str, params: Sequence[object] | dict[str, object] | None = None
    ) -> list[tuple[Any, ...]]:
        with duckdb.connect(str(self.duckdb_path), read_only=True) as connection:
            return connection.execute(sql, params or []).fetchall()

    def scalar(self, sql: str, params: Sequence[object] | dict[str, object] | None = None) -> Any:
        return self.query(sql, params)[0][0]

    def outcomes(self) -> dict[int, str]:
        """Each replica row's outcome, in the words of the sandbox's ``expected``: ``synced``,
        ``parked:<reason>``, else the ledger state (``None`` when never sent)."""
        rows = self.query(
            "select r.tempo_worklog_id, r.status, r.park_reason, l.state from replica.worklogs r"
            " left join sync.worklog_links l using (tempo_worklog_id)"
        )
        return {tempo_id: _outcome(status, reason, state) for tempo_id, status, reason, state in rows}

    def tempo(self, site: str) -> httpx.Client:
        """A plain client of a site's Tempo, to read what is there without the product in between."""
        return httpx.Client(
            base_url=getattr(self.sandbox.urls, site).tempo,
            headers={"Authorization": f"Bearer {CREDENTIALS[site].tempo_token}"},
            timeout=60,
        )

    def jira(self, site: str) -> httpx.Client:
        """A plain client of a site's Jira, as its integration user."""
        credentials = CREDENTIALS[site]
        return httpx.Client(
            base_url=getattr(self.sandbox.urls, site).jira,
            auth=(credentials.jira_email, credentials.jira_token),
            timeout=60,
        )


def _outcome(status: str, park_reason: str | None, ledger_state: str | None) -> str:
    if ledger_state == "created":
        return "synced"
    if status == "parked":
        return f"parked:{park_reason}"
    return str(ledger_state)


def created_by(result: dg.ExecuteInProcessResult) -> int:
    """How many worklogs a run created on the destination (over all its partitions)."""
    return sum(
        int(m.metadata["created"].value)
        for m in result.asset_materializations_for_node("destination_worklogs")
    )


def sensor_tick(harness: SyncHarness, cursor: str | None) -> tuple[SensorExecutionData, str | None]:
    """One evaluation of the late-worklogs sensor with the code location's resources, as the daemon
    evaluates it: what it asked for (or why it skipped), and the cursor it leaves (a skipped tick
    leaves it as it was)."""
    definitions = harness.definitions()
    sensor = definitions.resolve_sensor_def("late_worklogs")
    with dg.build_sensor_context(
        cursor=cursor, instance=harness.instance, resources=definitions.resources
    ) as context:
        tick = sensor.evaluate_tick(context)
    return tick, tick.cursor
