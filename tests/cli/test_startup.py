"""``--help``, ``status`` and ``trace`` answer at once: they import neither Dagster nor pandas.

Each command runs as the installed ``tempo-sync`` under ``python -X importtime``, which names every
module the process imported; ``run --help`` shows that the list does catch Dagster.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from tests.support.cli import TEMPO_SYNC, clean_environment
from tests.support.sync import SyncHarness

HEAVY = ("dagster", "pandas")


def _imported(
    args: list[str], env: dict[str, str], cwd: Path
) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """The command's result and the top-level packages it imported."""
    finished = subprocess.run(
        [sys.executable, "-X", "importtime", str(TEMPO_SYNC), *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    names = re.findall(r"^import time:\s+\d+ \|\s+\d+ \|\s+(\S+)$", finished.stderr, re.MULTILINE)
    assert names, finished.stderr  # -X importtime reported
    return finished, {name.split(".")[0] for name in names}


@pytest.mark.slow
def test_help_status_and_trace_import_neither_dagster_nor_pandas(
    harness: SyncHarness, tmp_path: Path
) -> None:
    harness.run(date(2025, 3, 5))
    tempo_id, destination_id = harness.query(
        "select tempo_worklog_id, destination_tempo_worklog_id from sync.worklog_links"
        " where state = 'created' order by 1 limit 1"
    )[0]
    env = clean_environment(**harness.environ)

    shown, modules = _imported(["--help"], env, tmp_path)
    assert shown.returncode == 0
    assert "status" in shown.stdout
    assert "trace" in shown.stdout
    assert not modules & set(HEAVY), modules & set(HEAVY)

    status, modules = _imported(["status"], env, tmp_path)
    assert status.returncode == 0, status.stderr
    assert "runs: the last 1 of 1" in status.stdout
    assert not modules & set(HEAVY), modules & set(HEAVY)

    as_json, modules = _imported(["status", "--json"], env, tmp_path)
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout)["runs"]["total"] == 1
    assert not modules & set(HEAVY), modules & set(HEAVY)

    for worklog_id in (tempo_id, destination_id):
        trace, modules = _imported(["trace", str(worklog_id)], env, tmp_path)
        assert trace.returncode == 0, trace.stderr
        assert trace.stdout.startswith(f"worklog {tempo_id} (source Tempo id)")
        assert "runs involved" in trace.stdout
        assert not modules & set(HEAVY), modules & set(HEAVY)

    # The check sees a heavy import where there is one: `run` loads the code location.
    run_help, modules = _imported(["run", "--help"], env, tmp_path)
    assert run_help.returncode == 0
    assert "--json" in run_help.stdout
    assert "dagster" in modules
