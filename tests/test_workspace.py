"""The code location loads the way Dagster's own tools load it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _validate(tmp_path: Path, **environ: str) -> subprocess.CompletedProcess[str]:
    dagster = Path(sys.executable).parent / "dagster"
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("TEMPO_SYNC_", "SOURCE_", "DEST_"))}
    return subprocess.run(
        [str(dagster), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=ROOT,
        env={**clean, "DAGSTER_HOME": str(tmp_path), **environ},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


@pytest.mark.slow
def test_workspace_yaml_loads_the_code_location_on_the_sandbox(tmp_path):
    result = _validate(
        tmp_path,
        TEMPO_SYNC_SANDBOX_DIR=str(tmp_path / "sandbox"),
        TEMPO_SYNC_DUCKDB=str(tmp_path / "tempo_sync.duckdb"),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Validation successful for code location tempo_sync" in result.stdout + result.stderr


@pytest.mark.slow
def test_the_code_location_refuses_to_load_with_bad_live_settings(tmp_path):
    result = _validate(tmp_path, TEMPO_SYNC_MODE="live", SOURCE_JIRA_URL="https://client.atlassian.net")
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "tempo-sync cannot start; fix these settings" in output
    assert "SOURCE_JIRA_TOKEN is missing" in output


def test_the_console_script_lists_its_commands():
    tempo_sync = Path(sys.executable).parent / "tempo-sync"
    result = subprocess.run(
        [str(tempo_sync), "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0
    assert "sandbox" in result.stdout
    assert "run" in result.stdout
