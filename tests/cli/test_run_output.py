"""What ``tempo-sync run`` and ``status`` print: no library warnings, progress that suits where
stderr goes, ``--quiet`` and ``--json``.

Real runs against a test sandbox: in a process of their own where the environment or the terminal
matters, through ``main`` in this process otherwise.
"""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from cli.main import main
from tests.support.cli import TEMPO_SYNC, clean_environment
from tests.support.sync import SyncHarness

DAY = date(2025, 3, 5)
RUN_DAY = ["run", "--from", DAY.isoformat(), "--to", DAY.isoformat()]


def _day_counts(harness: SyncHarness, run_id: str) -> dict[str, Any]:
    """What the DuckDB file says of DAY, computed here apart from the command's report."""
    links = dict(
        harness.query(
            "select l.state || if(l.state = 'created' and l.created_run_id <> ?, '_before', ''), count(*)"
            " from sync.worklog_links l join replica.worklogs r using (tempo_worklog_id)"
            " where r.work_date = ? group by 1",
            [run_id, DAY],
        )
    )
    parked = dict(
        harness.query(
            "select park_reason, count(*) from replica.worklogs where status = 'parked' and work_date = ?"
            " group by 1 order by 1",
            [DAY],
        )
    )
    return {
        "extracted": harness.scalar("select count(*) from raw.source_worklogs where work_date = ?", [DAY]),
        "created": links.get("created", 0),
        "already_synced": links.get("created_before", 0),
        "rejected": links.get("rejected", 0),
        "quarantined": harness.scalar("select count(*) from raw.quarantine where work_date = ?", [DAY]),
        "pending": links.get("pending", 0),
        "unconfirmed": links.get("unconfirmed", 0),
        "copies": 0,  # no other pair writes to this source
        # Edits and deletions are not propagated here ([propagate] is off): none, but always there.
        "updated": 0,
        "deleted": 0,
        "conflicts": 0,
        "parked": sum(parked.values()),
        "parked_by_reason": parked,
    }


@pytest.mark.slow
def test_a_run_without_dagster_home_prints_no_library_warning_and_plain_progress_lines(
    harness: SyncHarness, tmp_path: Path
) -> None:
    home = tmp_path / "home"  # a fresh user: Dagster has never run here
    home.mkdir()
    result = subprocess.run(
        [str(TEMPO_SYNC), *RUN_DAY],
        cwd=tmp_path, env=clean_environment(**harness.environ, HOME=str(home)),
        capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    output = result.stdout + result.stderr
    assert "Warning" not in output
    assert "Telemetry" not in output
    assert "Welcome to Dagster" not in output
    assert "\r" not in result.stderr  # stderr is a pipe here: no redrawn bar
    created = harness.scalar("select count(*) from sync.worklog_links where state = 'created'")
    extracted = harness.scalar("select count(*) from raw.source_worklogs")
    lines = result.stderr.splitlines()
    assert lines[0] == f"extract      {extracted}"
    assert lines[-1] == f"load         {created}/{created}"
    assert len(lines) <= 4  # each step's first and last count at most
    assert result.stdout.splitlines()[0].startswith("tempo-sync: syncing work dates 2025-03-05 to 2025-03-05")


@pytest.mark.slow
def test_on_a_terminal_the_bar_is_redrawn_and_each_step_ends_its_line(
    harness: SyncHarness, tmp_path: Path
) -> None:
    controller, terminal = pty.openpty()
    try:
        process = subprocess.Popen(
            [str(TEMPO_SYNC), *RUN_DAY],
            cwd=tmp_path, env=clean_environment(**harness.environ),
            stdout=subprocess.PIPE, stderr=terminal, text=True,
        )  # fmt: skip
        os.close(terminal)
        drawn = b""
        while chunk := _read(controller):
            drawn += chunk
        stdout, _ = process.communicate(timeout=240)
    finally:
        os.close(controller)
    assert process.returncode == 0, drawn.decode()
    created = harness.scalar("select count(*) from sync.worklog_links where state = 'created'")
    text = drawn.decode().replace("\r\n", "\n")  # the terminal turns each newline into CR LF
    assert f"\rload         [{'#' * 30}] {created}/{created}\n" in text
    assert text.startswith("\rextract      ")
    assert text.endswith("\n")  # the last step ended its line before the table
    assert "work date" in stdout


def _read(controller: int) -> bytes:
    try:
        return os.read(controller, 4096)
    except OSError:  # the last writer closed the terminal
        return b""


def test_quiet_prints_only_the_table_and_the_outcome(harness: SyncHarness, capsys) -> None:
    assert main([*RUN_DAY, "--quiet"]) == 0
    out, err = capsys.readouterr()
    run_id = harness.scalar("select run_id from lineage.runs")
    lines = out.splitlines()
    # With [propagate] off the table is what it always was: no updated, deleted or conflicts.
    assert re.split(r"\s{2,}", lines[0]) == [
        "work date", "extracted", "created", "already synced", "rejected", "quarantined", "pending",
        "unconfirmed", "parked", "parked by reason",
    ]  # fmt: skip
    assert lines[2].startswith("2025-03-05 ")
    assert lines[-1] == f"tempo-sync: run {run_id} succeeded"
    assert len(lines) == 6  # header, rule, the day, rule, total, outcome
    assert err == ""  # no progress, no notice


def test_json_prints_one_document_with_the_figures_of_the_table(harness: SyncHarness, capsys) -> None:
    assert main([*RUN_DAY, "--json"]) == 0
    first = capsys.readouterr()
    assert first.err == ""
    document = json.loads(first.out)  # one document, nothing else
    run_id = harness.scalar("select run_id from lineage.runs")
    assert document["run_id"] == run_id
    assert document["status"] == "succeeded"
    assert document["dry_run"] is False
    assert (document["date_from"], document["date_to"]) == ("2025-03-05", "2025-03-05")
    assert document["mode"] == "live"
    assert document["failed_steps"] == []
    assert document["warnings"] == []
    expected = _day_counts(harness, run_id)
    assert expected["created"] > 20
    assert document["days"] == [{"work_date": "2025-03-05", **expected}]
    assert document["totals"] == expected

    assert main([*RUN_DAY, "--json"]) == 0  # again: everything is already synced
    again = json.loads(capsys.readouterr().out)
    assert again["totals"]["created"] == 0
    assert again["totals"]["already_synced"] == expected["created"]


def test_json_of_a_failed_run_names_the_failed_step_and_exits_1(harness: SyncHarness, capsys) -> None:
    with harness.sandbox.admin() as admin:
        # Every create on the destination's Tempo is applied and its answer lost: rows stay pending.
        admin.set_faults(share_lost_post=1.0, targets=["destination/tempo"])
    assert main([*RUN_DAY, "--json"]) == 1
    out, _ = capsys.readouterr()
    document = json.loads(out)
    assert document["status"] == "failed"
    assert [failure["step"] for failure in document["failed_steps"]] == ["destination_worklogs"]
    assert "stay pending in the ledger" in document["failed_steps"][0]["message"]
    pending = harness.scalar("select count(*) from sync.worklog_links where state = 'pending'")
    assert pending > 0
    assert document["totals"]["pending"] == pending


def test_status_json_holds_what_the_text_shows(harness: SyncHarness, capsys) -> None:
    run = harness.run(DAY)
    assert main(["status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["duckdb"] == str(harness.duckdb_path)
    assert status["source_site"] == harness.scalar("select site from meta.sites where role = 'source'")
    assert status["runs"]["total"] == 1
    (latest,) = status["runs"]["latest"]
    created = harness.scalar("select count(*) from sync.worklog_links where state = 'created'")
    assert latest["run_id"] == run.run_id
    assert (latest["status"], latest["date_from"], latest["date_to"]) == (
        "succeeded",
        "2025-03-05",
        "2025-03-05",
    )
    assert latest["created"] == created
    assert latest["started_at"].endswith("+00:00")
    assert status["ledger"]["created"] == {"tempo": created, "jira": 0, "total": created}
    assert status["ledger"]["total"]["total"] == created
    assert status["unconfirmed"] == []
    parked = dict(
        harness.query(
            "select park_reason, count(*) from replica.worklogs group by 1 having park_reason is not null"
        )
    )
    assert status["replica"]["parked_by_reason"] == parked
    assert status["replica"]["ready"] == harness.scalar(
        "select count(*) from replica.worklogs where status = 'ready'"
    )
    assert status["progress"]["oldest_unsynced_work_date"] is None
    assert status["progress"]["newest_created_work_date"] == "2025-03-05"

    assert main(["status"]) == 0  # the text shows the same figures
    text = capsys.readouterr().out
    assert f"created         {created}     0  {created:>5}" in text
    assert "newest work date with a created worklog  2025-03-05" in text
