"""``tempo-sync status`` and ``tempo-sync trace`` read back what a real sync wrote, read-only.

Each start of ``tempo-sync`` imports Dagster (about 4 s of CPU), so the installed command runs as a
subprocess for the full status after a real sync and for a file locked by another process; the many
variants call ``main`` (the same entry point) in this process.
"""

from __future__ import annotations

import os
import re
import subprocess
from datetime import date
from pathlib import Path

import pytest

from cli.main import main
from resources.warehouse import Warehouse
from tests.support.cli import TEMPO_SYNC
from tests.support.locks import hold_write_lock
from tests.support.sync import SyncHarness

BUSY = "the DuckDB file is being written by a run; try again when it finishes, or pass --wait"


def _environment(**extra: str) -> dict[str, str]:
    """The process environment without any tempo-sync setting, plus ``extra``."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("TEMPO_SYNC_", "SOURCE_", "DEST_"))}
    return {**keep, **extra}


def _tempo_sync(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """The installed ``tempo-sync`` command, in a process of its own."""
    return subprocess.run(
        [str(TEMPO_SYNC), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def _in_process(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``tempo-sync ARGS`` in this process, on the settings the harness put in the environment."""
    status = main(list(args))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def _section(output: str, title: str) -> list[str]:
    """The lines of the block whose first line starts with ``title`` (blocks are split by blank lines)."""
    return next(block.splitlines() for block in output.split("\n\n") if block.startswith(title))


def _cells(line: str) -> list[str]:
    return re.split(r"\s{2,}", line.strip())


def _run_line(output: str, run_id: str) -> dict[str, str]:
    header, _, *rows = _section(output, "runs:")[1:]
    row = next(_cells(line) for line in rows if line.startswith(run_id[:8]))
    return dict(zip(_cells(header), row, strict=False))


def _ledger(output: str) -> dict[str, list[int]]:
    lines = _section(output, "ledger")[2:]
    return {
        cells[0]: [int(n) for n in cells[1:]] for cells in map(_cells, lines) if not cells[0].startswith("-")
    }


def _replica(output: str) -> dict[str, int]:
    return {cells[0]: int(cells[1]) for cells in map(_cells, _section(output, "replica")[1:])}


def _progress(output: str) -> dict[str, str]:
    return dict(_cells(line) for line in _section(output, "progress")[1:])


def _story(output: str) -> str:
    """The trace without its first line (which names the kind of id that matched)."""
    return output.split("\n", 1)[1]


def test_status_and_trace_tell_what_a_real_sync_did(harness: SyncHarness, capsys, tmp_path):
    first = harness.run(date(2025, 3, 5))
    created = harness.scalar("select count(*) from sync.worklog_links where state = 'created'")
    assert created > 20

    code, out, _ = _in_process(capsys, "status")
    assert code == 0
    run = _run_line(out, first.run_id)
    assert (run["status"], run["work dates"], run["created"]) == ("succeeded", "2025-03-05", str(created))
    assert _progress(out) == {
        "oldest unsynced work date": "none",
        "newest work date with a created worklog": "2025-03-05",
    }
    _check_traces(harness, capsys, first.run_id)

    with harness.sandbox.admin() as admin:
        # Every create on the destination's Tempo is applied and its answer lost: rows stay pending.
        admin.set_faults(share_lost_post=1.0, targets=["destination/tempo"])
    second = harness.run(date(2025, 3, 6), raise_on_error=False)
    assert not second.success
    _check_pending_trace(harness, capsys, second.run_id)
    status = _tempo_sync(["status"], _environment(**harness.environ), tmp_path)

    assert status.returncode == 0, status.stderr
    out = status.stdout
    assert _run_line(out, first.run_id)["created"] == str(created)
    failed = _run_line(out, second.run_id)
    assert failed["status"] == "failed"
    assert failed["error"].startswith("load: ")
    assert _ledger(out) == _expected_ledger(harness)
    assert _replica(out) == _expected_replica(harness)
    pending = harness.scalar("select count(*) from sync.worklog_links where state = 'pending'")
    assert pending > 0
    oldest = _progress(out)["oldest unsynced work date"]
    assert oldest.startswith("2025-03-06 (")
    assert f"{pending} pending" in oldest
    assert _progress(out)["newest work date with a created worklog"] == "2025-03-05"
    _assert_no_full_email(harness, out)

    code, out, _ = _in_process(capsys, "status", "--runs", "1")
    runs = _section(out, "runs:")
    assert runs[0].startswith("runs: the last 1 of 2,")
    assert [line[:8] for line in runs[3:]] == [second.run_id[:8]]

    code, out, err = _in_process(capsys, "trace", "7")
    assert (code, out) == (1, "")
    assert err.strip() == (
        f"tempo-sync: no worklog with id 7 in {harness.duckdb_path} (looked at source Tempo and Jira ids "
        "and destination Tempo and Jira ids)"
    )


def _check_traces(harness: SyncHarness, capsys, run_id: str) -> None:
    """A created worklog by each of its four ids, a parked one, and emails masked unless asked."""
    tempo_id, source_jira_id, destination_tempo_id, destination_jira_id, description, email = harness.query(
        """
        select l.tempo_worklog_id, w.jira_worklog_id, l.destination_tempo_worklog_id,
            l.destination_jira_worklog_id, w.description, r.source_author_email
        from sync.worklog_links l
        join raw.source_worklogs w using (tempo_worklog_id)
        join replica.worklogs r using (tempo_worklog_id)
        where l.state = 'created' and r.source_author_email is not null
        order by l.tempo_worklog_id limit 1
        """
    )[0]
    stories = {}
    for worklog_id, kind in [
        (tempo_id, "source Tempo worklog id"),
        (source_jira_id, "source Jira worklog id"),
        (destination_tempo_id, "destination Tempo worklog id"),
        (destination_jira_id, "destination Jira worklog id"),
    ]:
        code, out, _ = _in_process(capsys, "trace", str(worklog_id))
        assert code == 0
        assert out.splitlines()[0] == f"worklog {tempo_id} (source Tempo id): {worklog_id} is its {kind}"
        stories[kind] = _story(out)
    story = stories["source Tempo worklog id"]
    assert all(other == story for other in stories.values())
    assert f"  description        {description[:80]}" in story
    assert "  state                         created" in story
    assert f"destination worklog {destination_tempo_id}" in story  # the created event
    runs = _section(story, "runs involved")[3:]
    assert [_cells(line)[:4] for line in runs] == [[run_id, "sync_worklogs", "2025-03-05", "succeeded"]]

    local, domain = email.split("@")
    assert f"({local[0]}***@{domain})" in story
    _assert_no_full_email(harness, story)
    _, shown, _ = _in_process(capsys, "trace", str(tempo_id), "--show-emails")
    assert f"({email})" in shown

    parked_id, reason, detail = harness.query(
        "select tempo_worklog_id, park_reason, park_detail from replica.worklogs"
        " where status = 'parked' and park_detail is not null order by 1 limit 1"
    )[0]
    code, out, _ = _in_process(capsys, "trace", str(parked_id))
    assert code == 0
    assert f"  park reason         {reason}" in out
    assert f"  park detail         {detail}" in out
    assert "ledger (sync.worklog_links): no row; the load has not claimed this worklog (it is parked)" in out


def _check_pending_trace(harness: SyncHarness, capsys, run_id: str) -> None:
    """A worklog whose create got no answer: its ledger timeline, in time order, and the failed run."""
    pending_id = harness.scalar(
        "select tempo_worklog_id from sync.worklog_links where state = 'pending' order by 1 limit 1"
    )
    code, out, _ = _in_process(capsys, "trace", str(pending_id))
    assert code == 0
    events = [_cells(line)[1] for line in _section(out, "events")[3:]]
    expected = harness.query(
        "select event from sync.events where tempo_worklog_id = ? order by occurred_at", [pending_id]
    )
    assert events == [event for (event,) in expected]
    assert events[:2] == ["claimed", "unknown_outcome"]
    assert "  state                         pending" in out
    runs = {cells[0]: cells for cells in map(_cells, _section(out, "runs involved")[3:])}
    assert runs[run_id][3] == "failed"


def _expected_ledger(harness: SyncHarness) -> dict[str, list[int]]:
    rows = harness.query("select state, target, count(*) from sync.worklog_links group by all")
    counts = {(state, target): n for state, target, n in rows}
    table = {
        state: [counts.get((state, t), 0) for t in ("tempo", "jira")]
        for state in ("created", "pending", "unconfirmed", "rejected")
    }
    table["total"] = [sum(column) for column in zip(*table.values(), strict=True)]
    return {label: [*row, sum(row)] for label, row in table.items()}


def _expected_replica(harness: SyncHarness) -> dict[str, int]:
    by_status = dict(harness.query("select status, count(*) from replica.worklogs group by 1"))
    parked = dict(
        harness.query("select park_reason, count(*) from replica.worklogs where status = 'parked' group by 1")
    )
    quarantined = harness.scalar("select count(*) from raw.quarantine")
    return {
        "ready": by_status["ready"],
        "parked": by_status["parked"],
        **parked,
        "quarantined source records": quarantined,
    }


def _assert_no_full_email(harness: SyncHarness, output: str) -> None:
    emails = harness.query(
        "select source_author_email from replica.worklogs where source_author_email is not null union"
        " select destination_author_email from replica.worklogs where destination_author_email is not null"
    )
    assert emails
    assert not [email for (email,) in emails if email in output]


def test_a_busy_file_is_waited_for_then_refused_with_status_3(tmp_path):
    busy = tmp_path / "busy.duckdb"
    Warehouse(database=str(busy)).schema_version()  # a migrated file
    holder = hold_write_lock(str(busy), 60)  # a write connection, as a run holds while it writes
    try:
        waited = _tempo_sync(["status", "--wait", "1"], _environment(TEMPO_SYNC_DUCKDB=str(busy)), tmp_path)
    finally:
        holder.kill()
        holder.wait()
    assert waited.returncode == 3, waited.stderr
    assert waited.stderr.startswith(f"tempo-sync: waited 1 s, but {BUSY}")
    assert "Traceback" not in waited.stderr


def test_without_a_file_the_commands_say_to_run_first_and_start_nothing(capsys, monkeypatch, tmp_path):
    missing = tmp_path / "nothing" / "tempo_sync.duckdb"
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith(("TEMPO_SYNC_", "SOURCE_", "DEST_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("TEMPO_SYNC_DUCKDB", str(missing))  # sandbox mode, the default
    for args in (["status"], ["trace", "1"]):
        code, out, err = _in_process(capsys, *args)
        assert (code, out) == (2, "")
        assert err.strip() == f"tempo-sync: no DuckDB file at {missing} yet; run `tempo-sync run` first"
    assert not (tmp_path / "data").exists()  # no sandbox was started
    assert not missing.parent.exists()


def test_bad_settings_stop_the_commands_with_status_2(capsys, monkeypatch):
    monkeypatch.setenv("TEMPO_SYNC_MODE", "live")
    for name in list(os.environ):
        if name.startswith(("SOURCE_", "DEST_")):
            monkeypatch.delenv(name)
    for args in (["status"], ["trace", "1"]):
        code, out, err = _in_process(capsys, *args)
        assert (code, out) == (2, "")
        assert err.startswith("tempo-sync: tempo-sync cannot start; fix these settings:")
        assert "SOURCE_JIRA_URL is missing" in err
