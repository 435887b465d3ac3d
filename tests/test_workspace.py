"""The code location loads the way Dagster's own tools load it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_workspace_yaml_loads_the_code_location(tmp_path):
    dagster = Path(sys.executable).parent / "dagster"
    result = subprocess.run(
        [str(dagster), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=ROOT,
        env={**os.environ, "DAGSTER_HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Validation successful for code location tempo_sync" in result.stdout + result.stderr


def test_the_console_script_lists_its_commands():
    tempo_sync = Path(sys.executable).parent / "tempo-sync"
    result = subprocess.run(
        [str(tempo_sync), "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0
    assert "sandbox" in result.stdout
