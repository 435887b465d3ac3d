"""Three runs at once, as the schedule, the sensor and a backfill would start them, on one DuckDB
file and one Dagster instance (the shipped dagster.yaml): they wait for each other, none fails on
the DuckDB lock, and nothing is created twice."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TEMPO_SYNC = Path(sys.executable).parent / "tempo-sync"


@pytest.mark.slow
def test_three_overlapping_runs_at_once_finish_without_a_lock_error_or_a_duplicate(harness, tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("TEMPO_SYNC_", "SOURCE_", "DEST_"))}
    env = {**keep, **harness.environ, "DAGSTER_HOME": str(home)}
    # The instance exists before the runs, as on a deployed machine (first use creates its storage).
    subprocess.run(
        [sys.executable, "-c", "import dagster; dagster.DagsterInstance.get().dispose()"], env=env, check=True
    )
    ranges = [("2025-03-05", "2025-03-05"), ("2025-03-04", "2025-03-07"), ("2025-03-07", "2025-03-07")]
    runs = [
        subprocess.Popen(
            [str(TEMPO_SYNC), "run", "--from", first, "--to", last],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for first, last in ranges
    ]
    outputs = [run.communicate(timeout=280) for run in runs]
    for run, (_, stderr) in zip(runs, outputs, strict=True):
        assert run.returncode == 0, stderr[-2000:]
        assert "lock" not in stderr.lower()
    assert harness.query("select status, count(*) from lineage.runs group by 1") == [("succeeded", 3)]
    created = harness.scalar("select count(*) from sync.worklog_links where state = 'created'")
    assert harness.scalar("select count(*) from sync.worklog_links where state <> 'created'") == 0
    with harness.sandbox.admin() as admin:
        assert len(admin.changed_worklogs("destination")) == created
    synced_days = {row[0].isoformat() for row in harness.query(
        "select distinct r.work_date from replica.worklogs r"
        " join sync.worklog_links l using (tempo_worklog_id)"
    )}  # fmt: skip
    assert synced_days == {"2025-03-04", "2025-03-05", "2025-03-06", "2025-03-07"}
