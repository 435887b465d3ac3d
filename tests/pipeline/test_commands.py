"""The command lines a user runs: ``tempo-sync run`` on the embedded sandbox, and Dagster's own
``dagster asset materialize`` for one partition and for a range (one run, single-run backfill)."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import pytest

from tests.support.cli import TEMPO_SYNC, clean_environment
from tests.support.sync import SyncHarness

REPO = Path(__file__).resolve().parents[2]


def _run(
    command: list[str], cwd: Path, env: dict[str, str], timeout: int = 240
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def _total_line(output: str) -> list[str]:
    return next(line for line in output.splitlines() if line.startswith("total")).split()


@pytest.mark.slow
def test_tempo_sync_run_needs_nothing_but_the_sandbox_and_a_rerun_creates_nothing(tmp_path):
    first = _run([str(TEMPO_SYNC), "run"], tmp_path, clean_environment())
    assert first.returncode == 0, first.stderr
    assert "running on the local sandbox" in first.stdout
    header = next(line for line in first.stdout.splitlines() if line.startswith("work date")).split("  ")
    assert [cell.strip() for cell in header if cell.strip()][:4] == [
        "work date",
        "extracted",
        "created",
        "already synced",
    ]
    extracted, created, already = (int(cell) for cell in _total_line(first.stdout)[1:4])
    assert extracted > 60
    assert created > 40
    assert already == 0
    assert (tmp_path / "data" / "tempo_sync.duckdb").is_file()
    assert (tmp_path / "data" / "sandbox" / "sandbox.sqlite3").is_file()

    second = _run([str(TEMPO_SYNC), "run"], tmp_path, clean_environment())
    assert second.returncode == 0, second.stderr
    extracted_again, created_again, already_again = (int(cell) for cell in _total_line(second.stdout)[1:4])
    assert already_again == created  # nothing synced is created again
    # The sandbox follows the real clock here, so a late worklog may appear between the two runs;
    # only such newcomers may be created.
    assert created_again <= extracted_again - extracted


def test_tempo_sync_run_names_every_missing_setting_at_once(tmp_path):
    result = _run(
        [str(TEMPO_SYNC), "run"],
        tmp_path,
        clean_environment(TEMPO_SYNC_MODE="live", DEST_JIRA_URL="ftp://nowhere"),
    )
    assert result.returncode == 2
    for name in ("SOURCE_JIRA_URL", "SOURCE_JIRA_EMAIL", "SOURCE_JIRA_TOKEN", "SOURCE_TEMPO_TOKEN",
                 "DEST_JIRA_URL", "DEST_JIRA_EMAIL", "DEST_JIRA_TOKEN"):  # fmt: skip
        assert name in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "data").exists()  # nothing ran


def test_tempo_sync_run_refuses_a_range_outside_the_partitions(tmp_path):
    result = _run(
        [str(TEMPO_SYNC), "run", "--from", "2024-12-30", "--to", "2025-01-02"],
        tmp_path,
        clean_environment(),
    )
    assert result.returncode == 2
    assert "not within the work dates 2025-01-01" in result.stderr
    assert not (tmp_path / "data").exists()  # refused before the sandbox started


def _materialize(harness: SyncHarness, home: Path, *partition: str) -> subprocess.CompletedProcess[str]:
    # `dagster asset materialize` takes no -w; -m names the module workspace.yaml names.
    command = [sys.executable, "-m", "dagster", "asset", "materialize", "-m", "pipelines.definitions",
               "--select", "*", *partition]  # fmt: skip
    env = clean_environment(**harness.environ, DAGSTER_HOME=str(home))
    return subprocess.run(
        command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False
    )


@pytest.mark.slow
def test_dagster_asset_materialize_runs_one_partition_and_a_range_in_one_run(harness, tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    one = _materialize(harness, home, "--partition", "2025-03-05")
    assert one.returncode == 0, one.stderr[-3000:]
    many = _materialize(harness, home, "--partition-range", "2025-03-06...2025-03-08")
    assert many.returncode == 0, many.stderr[-3000:]
    with duckdb.connect(str(harness.duckdb_path), read_only=True) as connection:
        runs = connection.execute(
            "select partition_start, partition_end, status from lineage.runs order by started_at"
        ).fetchall()
        synced_days = connection.execute(
            "select r.work_date, count(*) from replica.worklogs r"
            " join sync.worklog_links l using (tempo_worklog_id)"
            " where l.state = 'created' group by 1 order by 1"
        ).fetchall()
    assert runs == [
        (date(2025, 3, 5), date(2025, 3, 5), "succeeded"),
        (date(2025, 3, 6), date(2025, 3, 8), "succeeded"),
    ]
    assert [day for day, _ in synced_days] == [date(2025, 3, d) for d in (5, 6, 7, 8)]
    assert all(count > 20 for _, count in synced_days)


def test_a_failed_run_exits_non_zero_and_the_next_run_adopts_what_it_could_not_confirm(harness, tmp_path):
    command = [str(TEMPO_SYNC), "run", "--from", "2025-03-05", "--to", "2025-03-05"]
    with harness.sandbox.admin() as admin:
        # Every POST to the destination's Tempo is applied, then its answer is lost.
        admin.set_faults(share_lost_post=1.0, targets=["destination/tempo"])
    result = _run(command, tmp_path, clean_environment(**harness.environ))
    assert result.returncode == 1
    assert "step destination_worklogs failed" in result.stderr
    assert "stay pending in the ledger" in result.stderr
    assert "the load stopped" in result.stderr
    assert "work date" in result.stdout  # the table still shows what happened
    assert harness.scalar("select status from lineage.runs") == "failed"
    # The first send's outcome is unknown and the search that would reconcile it gets no answer
    # either, so the load stops: that worklogs stay pending, the rest wait for the next run.
    states = dict(harness.query("select state, count(*) from sync.worklog_links group by 1"))
    assert set(states) == {"pending"}
    pending = states["pending"]
    assert harness.scalar("select count(*) from sync.events where event = 'unknown_outcome'") == pending

    with harness.sandbox.admin() as admin:
        admin.set_faults()
    again = _run(command, tmp_path, clean_environment(**harness.environ))
    assert again.returncode == 0, again.stderr
    created = harness.scalar("select count(*) from sync.worklog_links where state = 'created'")
    assert created > 20
    # The creates whose answers were lost were found and adopted, never sent twice.
    assert harness.scalar("select count(*) from sync.events where event = 'adopted'") == pending
    with harness.sandbox.admin() as admin:
        assert len(admin.changed_worklogs("destination")) == created


def test_a_bad_policy_file_stops_the_run_before_anything_starts(tmp_path):
    config = tmp_path / "tempo-sync.toml"
    config.write_text('[issues]\nstrategy = "fuzzy"\n', encoding="utf-8")
    result = _run([str(TEMPO_SYNC), "run"], tmp_path, clean_environment(TEMPO_SYNC_CONFIG=str(config)))
    assert result.returncode == 2
    assert "strategy is 'fuzzy'; use one of same_key, project_map, field" in result.stderr
    assert not (tmp_path / "data").exists()  # no sandbox, no DuckDB file
