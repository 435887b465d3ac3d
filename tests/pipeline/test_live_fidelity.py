"""Failures met against a server that answers as the documents allow, not as our sandbox used to.

Each test failed on the code before the fix: a worklog created without a start time read back as
00:00:00 stopped the load and was sent again on every run; a DuckDB file named after one of the
schemas (``sync.duckdb``) broke every run, and ``tempo-sync run`` then printed a traceback.
(The Jira-fallback destination's preflight is in ``test_preflight.py``.)
"""

from __future__ import annotations

import subprocess
from datetime import date
from pathlib import Path

import duckdb
import pytest

from cli.main import main
from sandbox.config import Faults, Profile
from tests.pipeline.conftest import HarnessFactory
from tests.support.cli import TEMPO_SYNC, clean_environment
from tests.support.sync import SyncHarness, created_by

DAY = date(2025, 3, 5)
NEXT_DAY = date(2025, 3, 6)


def test_a_worklog_created_without_a_start_time_is_synced_once_though_tempo_reads_it_back_at_midnight(
    make_harness: HarnessFactory,
) -> None:
    # Half the destination's create answers are lost, so copies must be recognised on a read-back
    # that says 00:00:00 where nothing was sent.
    faults = Faults(share_lost_post=0.5, targets=("destination/tempo",), seed=12)
    harness = make_harness(faults=faults)
    harness.run_until_success(DAY)
    rerun = harness.run(DAY)
    assert rerun.success
    with harness.sandbox.admin() as admin:
        lost = admin.stats()["faults"].get("lost_response", 0)
        created = admin.changed_worklogs("destination")
        (no_start,) = [s for s in admin.scenarios("source", DAY, DAY) if s["scenario"] == "no_start_time"]
    assert lost > 0
    links = dict(harness.query("select tempo_worklog_id, state from sync.worklog_links"))
    assert set(links.values()) == {"created"}
    assert len(created) == len(links)  # one destination worklog per synced source worklog
    (copy_id,) = harness.query(
        "select destination_tempo_worklog_id from sync.worklog_links where tempo_worklog_id = ?",
        [no_start["tempo_id"]],
    )[0]
    with harness.tempo("destination") as tempo:
        copy = tempo.get(f"/4/worklogs/{copy_id}").json()
    assert copy["startTime"] == "00:00:00"
    assert created_by(rerun) == 0


# Names that collide with the warehouse's schemas, a space and non-ASCII letters.
DUCKDB_NAMES = [
    "sync.duckdb",
    "raw.duckdb",
    "replica.duckdb",
    "with space/tempo sync.duckdb",
    "Zeit/時間 dür.duckdb",
]


@pytest.mark.parametrize("name", DUCKDB_NAMES)
def test_tempo_sync_run_syncs_into_a_duckdb_file_of_any_name(
    harness: SyncHarness,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    name: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TEMPO_SYNC_DUCKDB", name)
    status = main(["run", "--from", DAY.isoformat(), "--to", DAY.isoformat()])
    output = capsys.readouterr()
    assert status == 0, output.err
    total = next(line for line in output.out.splitlines() if line.startswith("total")).split()
    extracted, created = int(total[1]), int(total[2])
    assert extracted > 30
    assert created > 20
    assert (tmp_path / name).is_file()
    with harness.sandbox.admin() as admin:
        assert len(admin.changed_worklogs("destination")) == created


def test_a_run_that_fails_before_the_first_table_exists_names_the_step_without_a_traceback(
    harness: SyncHarness, tmp_path: Path
) -> None:
    not_duckdb = tmp_path / "tempo_sync.duckdb"
    not_duckdb.write_text("a spreadsheet export, not a DuckDB file\n", encoding="utf-8")
    environ = clean_environment(**{**harness.environ, "TEMPO_SYNC_DUCKDB": str(not_duckdb)})
    result = subprocess.run(
        [str(TEMPO_SYNC), "run", "--from", DAY.isoformat(), "--to", DAY.isoformat()],
        cwd=tmp_path, env=environ, capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert "tempo-sync: step source_worklogs failed:" in result.stderr
    assert "not a valid DuckDB database file" in result.stderr
    assert not_duckdb.read_text(encoding="utf-8").startswith("a spreadsheet export")  # left as it was


def test_a_duckdb_path_that_cannot_be_created_fails_the_first_step_with_exit_1(
    harness: SyncHarness, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    parent = tmp_path / "exports"
    parent.write_text("a file where the DuckDB file's directory belongs\n", encoding="utf-8")
    monkeypatch.setenv("TEMPO_SYNC_DUCKDB", str(parent / "tempo_sync.duckdb"))
    status = main(["run", "--from", DAY.isoformat(), "--to", DAY.isoformat()])
    output = capsys.readouterr()
    assert status == 1
    assert "tempo-sync: step source_worklogs failed:" in output.err
    assert str(parent) in output.err
    assert "extracted" not in output.out  # no table: nothing was read


def test_tempo_sync_run_names_the_rights_it_could_not_check_and_syncs(
    make_harness: HarnessFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    # Neither Jira (Tempo's keys unknown to it) nor Tempo (roles refused to this token) can tell.
    make_harness(profile=Profile(jira_app_permissions="unknown", permission_roles="refused"))
    status = main(["run", "--from", DAY.isoformat(), "--to", DAY.isoformat()])
    output = capsys.readouterr()
    assert status == 0, output.err
    warnings = [line for line in output.err.splitlines() if line.startswith("tempo-sync: warning: ")]
    assert any("could not check that the source token's user holds" in line for line in warnings)
    assert any("log work for the authors" in line and "answered 403" in line for line in warnings)
    assert "total" in output.out


def test_an_issue_whose_worklogs_cannot_be_read_leaves_the_other_issues_to_load(
    make_harness: HarnessFactory,
) -> None:
    harness = make_harness(destination_tempo=False)
    assert harness.run(DAY).success
    # A worklog whose create had no known outcome, on a destination issue deleted since: reading
    # that issue's worklogs to reconcile answers 404. Its id sorts it first among the issues.
    (tempo_id,) = harness.query("select min(tempo_worklog_id) from sync.worklog_links")[0]
    with duckdb.connect(str(harness.duckdb_path)) as connection:
        connection.execute(
            "update sync.worklog_links set state = 'pending', destination_issue_id = 1"
            " where tempo_worklog_id = ?",
            [tempo_id],
        )
        connection.execute(
            "update replica.worklogs set destination_issue_id = 1 where tempo_worklog_id = ?", [tempo_id]
        )
    result = harness.run(DAY, NEXT_DAY, raise_on_error=False)
    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    message = failure.event_specific_data.error.message  # type: ignore[union-attr]
    assert "1 worklog(s) could not be confirmed on the destination" in message
    assert str(tempo_id) in message
    # Every worklog of the next day was loaded all the same.
    with harness.sandbox.admin() as admin:
        expected = sum(
            1
            for s in admin.scenarios("source", NEXT_DAY, NEXT_DAY)
            if s["visible"] and s["expected"] == "synced"
        )
    states = dict(
        harness.query(
            "select l.state, count(*) from sync.worklog_links l"
            " join replica.worklogs r using (tempo_worklog_id) where r.work_date = ? group by 1",
            [NEXT_DAY],
        )
    )
    assert states == {"created": expected}
    assert (
        harness.scalar("select state from sync.worklog_links where tempo_worklog_id = ?", [tempo_id])
        == "pending"
    )
