"""Issue 5: tokens never land anywhere, and people's emails stay out of Dagster's metadata.

Live mode against a sandbox, as a deployed machine runs it: ``tempo-sync run`` and ``dagster asset
materialize`` in their own processes on a Dagster instance in a temporary ``DAGSTER_HOME``, one of
the runs failing on a refused token, plus an in-process run whose logging pytest captures at DEBUG
(httpx and httpcore included). Then every byte they left is searched: each file under the
instance (run and event storage, compute logs), the DuckDB file (its bytes, and every text value
through SQL, since DuckDB may compress strings on disk), the commands' output and the log records.
"""

from __future__ import annotations

import base64
import json
import logging
import subprocess
import sys
from collections.abc import Iterable
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from sandbox.config import CREDENTIALS, SITES
from tests.pipeline.conftest import HarnessFactory
from tests.support.cli import REPO, TEMPO_SYNC, clean_environment
from tests.support.dagster_ui import instance_settings

# A token the destination's Jira refuses; as recognisable as the sandbox's own.
WRONG_TOKEN = "sandbox-destination-jira-token-WRONG-7f3a9c"


def _basic(email: str, token: str) -> str:
    """The ``Authorization: Basic`` credential a client sends for this email and token."""
    return base64.b64encode(f"{email}:{token}".encode()).decode()


def _secrets() -> dict[str, str]:
    """Every token the runs used, and each Basic credential made from one, by name."""
    secrets: dict[str, str] = {}
    for site in SITES:
        credentials = CREDENTIALS[site]
        secrets[f"{site} Jira token"] = credentials.jira_token
        secrets[f"{site} Tempo token"] = credentials.tempo_token
        secrets[f"{site} Jira Basic credential"] = _basic(credentials.jira_email, credentials.jira_token)
    secrets["wrong destination Jira token"] = WRONG_TOKEN
    secrets["wrong Basic credential"] = _basic(CREDENTIALS["destination"].jira_email, WRONG_TOKEN)
    return secrets


def _command(arguments: list[str], environ: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        arguments, cwd=cwd, env=environ, capture_output=True, text=True, timeout=300, check=False
    )


def _leaks(secrets: dict[str, str], places: Iterable[tuple[str, bytes]]) -> list[str]:
    """ "<secret> in <place>" for each secret found in a place's bytes."""
    return [
        f"{name} in {place}"
        for place, content in places
        for name, secret in secrets.items()
        if secret.encode() in content
    ]


def _files(*roots: Path) -> Iterable[tuple[str, bytes]]:
    for root in roots:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                yield str(path), path.read_bytes()


def _duckdb_text(path: Path) -> Iterable[tuple[str, bytes]]:
    """Every text or JSON value of every table, one place per column."""
    with duckdb.connect(str(path), read_only=True) as connection:
        columns = connection.execute(
            "select table_schema, table_name, column_name from information_schema.columns"
            " where data_type in ('VARCHAR', 'JSON') or data_type like '%[]' or data_type like 'STRUCT%'"
        ).fetchall()
        for schema, table, column in columns:
            values = connection.execute(
                f'select string_agg("{column}"::varchar, chr(10)) from "{schema}"."{table}"'
            ).fetchone()
            yield f"{schema}.{table}.{column}", ((values[0] if values else None) or "").encode()


def _event_log(home: Path) -> dict[str, str]:
    """Each run's whole event log (materializations, check evaluations, messages) as JSON text."""
    with dg.DagsterInstance.from_config(str(home)) as instance:
        return {
            run.run_id: "\n".join(dg.serialize_value(entry) for entry in instance.all_logs(run.run_id))
            for run in instance.get_runs()
        }


@pytest.mark.slow
def test_no_token_lands_in_any_file_output_or_log_and_metadata_holds_no_email(
    make_harness: HarnessFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    harness = make_harness()
    home, workdir = tmp_path / "dagster_home", tmp_path / "cwd"
    home.mkdir()
    workdir.mkdir()
    (home / "dagster.yaml").write_text(json.dumps(instance_settings(hold_automation=False)), encoding="utf-8")
    environ = clean_environment(**harness.environ, DAGSTER_HOME=str(home))

    synced = _command(
        [str(TEMPO_SYNC), "run", "--from", "2025-03-05", "--to", "2025-03-05"], environ, workdir
    )
    assert synced.returncode == 0, synced.stderr
    # `dagster asset materialize` takes no -w; -m names the module workspace.yaml names.
    materialized = _command(
        [sys.executable, "-m", "dagster", "asset", "materialize", "-m", "pipelines.definitions",
         "--select", "*", "--partition", "2025-03-06"],
        environ,
        REPO,
    )  # fmt: skip
    assert materialized.returncode == 0, materialized.stderr[-3000:]
    refused = _command(
        [str(TEMPO_SYNC), "run", "--from", "2025-03-07", "--to", "2025-03-07"],
        {**environ, "DEST_JIRA_TOKEN": WRONG_TOKEN},
        workdir,
    )
    assert refused.returncode == 1
    # Whichever step meets the refusal first, the error names the service and the status.
    assert "tempo-sync: step " in refused.stderr
    assert "destination Jira" in refused.stderr
    assert "401" in refused.stderr
    with caplog.at_level(logging.DEBUG):
        assert harness.run(date(2025, 3, 8)).success
    assert harness.scalar("select count(*) from lineage.runs where status = 'succeeded'") == 3
    assert harness.scalar("select count(*) from sync.worklog_links where state = 'created'") > 60
    assert any(record.name.startswith(("httpx", "httpcore")) for record in caplog.records)

    outputs = [
        (f"{name} {stream}", text.encode())
        for name, result in (
            ("tempo-sync run", synced),
            ("dagster asset materialize", materialized),
            ("tempo-sync run with a wrong token", refused),
        )
        for stream, text in (("stdout", result.stdout), ("stderr", result.stderr))
    ]
    logs = [
        ("pytest's captured log", caplog.text.encode()),
        ("log record arguments", repr([record.__dict__ for record in caplog.records]).encode()),
    ]
    event_logs = _event_log(home)
    assert len(event_logs) == 3
    places = [
        *_files(home, workdir, harness.duckdb_path.parent),
        *_duckdb_text(harness.duckdb_path),
        *outputs,
        *logs,
        *((f"event log of run {run_id}", text.encode()) for run_id, text in event_logs.items()),
    ]
    assert len(places) > 20
    assert _leaks(_secrets(), places) == []

    # Emails are masked wherever Dagster shows them (metadata, check results, log messages).
    with harness.sandbox.admin() as admin:
        emails = {
            f"the email of {site} account {account['account_id']}": account["email"].lower()
            for site in SITES
            for account in admin.accounts(site)
            if account["email"]
        }
    assert len(emails) > 40
    assert "***@" in "".join(event_logs.values())  # masked emails are there to be seen
    assert (
        _leaks(emails, ((f"event log of run {i}", text.lower().encode()) for i, text in event_logs.items()))
        == []
    )
