"""`tempo-sync run` in its own process, on a Dagster instance shared as on a deployed machine."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

from sandbox.admin_client import SandboxAdmin
from tests.support.sync import SyncHarness

REPO = Path(__file__).resolve().parents[2]
TEMPO_SYNC = Path(sys.executable).parent / "tempo-sync"  # the installed console script


def clean_environment(**extra: str) -> dict[str, str]:
    """This process's environment without tempo-sync settings or ``DAGSTER_HOME``, as on a fresh
    machine, plus ``extra``."""
    keep = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TEMPO_SYNC_", "SOURCE_", "DEST_")) and key != "DAGSTER_HOME"
    }
    return {**keep, **extra}


def shared_instance_environment(harness: SyncHarness, home: Path) -> dict[str, str]:
    """The harness's settings plus a ``DAGSTER_HOME`` with the shipped dagster.yaml, its storage
    already created (first use creates it, which concurrent first users would race on)."""
    home.mkdir()
    shutil.copy(REPO / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    environ = clean_environment(**harness.environ, DAGSTER_HOME=str(home))
    subprocess.run(
        [sys.executable, "-c", "import dagster; dagster.DagsterInstance.get().dispose()"],
        env=environ,
        check=True,
    )
    return environ


def start_run(environ: dict[str, str], cwd: Path, first: date, last: date) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(TEMPO_SYNC), "run", "--from", first.isoformat(), "--to", last.isoformat()],
        cwd=cwd,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_run(condition: Callable[[], bool], what: str, run: subprocess.Popen[str]) -> None:
    """Wait until ``condition`` holds while ``run`` lives; fail naming ``what`` if it never does."""
    deadline = time.monotonic() + 120
    while not condition():
        if run.poll() is not None:
            raise AssertionError(f"the run ended (exit {run.returncode}) before {what}: {run.stderr.read()}")
        if time.monotonic() > deadline:
            run.kill()
            raise AssertionError(f"timed out waiting for {what}: {run.communicate()[1][-3000:]}")
        time.sleep(0.02)


def kill_run(run: subprocess.Popen[str]) -> None:
    run.kill()  # SIGKILL: no cleanup, no goodbye to the instance
    run.communicate(timeout=30)


def is_holding(admin: SandboxAdmin) -> bool:
    """Whether the sandbox holds a request at one of its holds right now."""
    return any(hold["waiting"] for hold in admin.holds())
