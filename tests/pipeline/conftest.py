"""Fixtures for end-to-end sync runs: a sandbox, live-mode settings pointing at it, a temp DuckDB."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from tests.conftest import SandboxFactory
from tests.support.sync import SyncHarness

HarnessFactory = Callable[..., SyncHarness]


@pytest.fixture
def make_harness(
    start_sandbox: SandboxFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[HarnessFactory]:
    """Start a sandbox (with SandboxConfig overrides) and settings for it; ``policy`` is appended to
    the config file, which always switches the product's pacing off."""
    instances: list[dg.DagsterInstance] = []

    def make(policy: str = "", **sandbox_overrides: Any) -> SyncHarness:
        sandbox = start_sandbox(**sandbox_overrides)
        config = tmp_path / "tempo-sync.toml"
        environ = {
            **sandbox.environment(),
            "TEMPO_SYNC_MODE": "live",
            "TEMPO_SYNC_DUCKDB": str(tmp_path / "warehouse" / "tempo_sync.duckdb"),
            "TEMPO_SYNC_CONFIG": str(config),
        }
        for name, value in environ.items():
            monkeypatch.setenv(name, value)  # dg.EnvVar reads the tokens from the process environment
        instance = dg.DagsterInstance.ephemeral()
        instances.append(instance)
        harness = SyncHarness(sandbox, environ, Path(environ["TEMPO_SYNC_DUCKDB"]), instance)
        harness.set_policy(policy)
        return harness

    yield make
    for instance in instances:
        instance.dispose()


@pytest.fixture
def harness(make_harness: HarnessFactory) -> SyncHarness:
    return make_harness()
