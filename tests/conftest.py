"""Shared fixtures: a sandbox on a free loopback port, per test, with contract-checked clients.

Tests marked ``full`` are the full-strength forms of guarantees the default suite covers in a fast
form (the soak, the crash points, the browser, the benchmark scripts, every sandbox reading). They
run with ``--full``; CI always runs them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from sandbox.admin_client import SandboxAdmin
from sandbox.config import RateLimits, SandboxConfig
from sandbox.server import SandboxServer
from tests.support.contract import ContractChecker
from tests.support.sandbox import SiteClients, site_clients

# Late enough that the first days of March 2025 are complete, even their late worklogs.
TEST_CLOCK = datetime(2025, 3, 20, 12, 0, tzinfo=UTC)

SandboxFactory = Callable[..., SandboxServer]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--full",
        action="store_true",
        help="also run the full-strength tests (marked `full`); CI runs them with `--full -m full`",
    )


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """What ``-n auto`` means: half as many workers again as cores. The end-to-end tests spend much
    of their time waiting (on the sandbox's answers, child processes, a crash test's grace period),
    so a worker more keeps the cores busy; on two cores the suite took 217 s with three workers,
    241 to 290 s with two, 263 s with four."""
    cores = len(os.sched_getaffinity(0))
    return cores + max(1, cores // 2)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--full"):
        return
    full = [item for item in items if item.get_closest_marker("full")]
    if full:
        config.hook.pytest_deselected(items=full)
        items[:] = [item for item in items if not item.get_closest_marker("full")]


@pytest.fixture(scope="session")
def checker() -> ContractChecker:
    return ContractChecker()


@pytest.fixture
def sandbox_config(tmp_path: Path) -> SandboxConfig:
    """Frozen clock, no rate limits, no faults: tests opt in to what they examine."""
    return SandboxConfig(
        state_dir=tmp_path / "sandbox",
        rate_limits=RateLimits.unlimited(),
        clock=TEST_CLOCK,
    )


@pytest.fixture
def start_sandbox(sandbox_config: SandboxConfig) -> Iterator[SandboxFactory]:
    """Start sandboxes with config overrides; stops them and checks none hit an internal error."""
    servers: list[SandboxServer] = []

    def start(port: int = 0, **overrides: Any) -> SandboxServer:
        server = SandboxServer(replace(sandbox_config, **overrides), port=port).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        errors = server.app.sandbox.stats.internal_errors
        server.stop()
        assert errors == 0, "the sandbox answered a request with an internal error (see the log)"


@pytest.fixture
def sandbox(start_sandbox: SandboxFactory) -> SandboxServer:
    return start_sandbox()


@pytest.fixture
def admin(sandbox: SandboxServer) -> Iterator[SandboxAdmin]:
    with sandbox.admin() as client:
        yield client


@pytest.fixture
def source(sandbox: SandboxServer, checker: ContractChecker) -> Iterator[SiteClients]:
    clients = site_clients(sandbox, "source", checker)
    yield clients
    clients.close()


@pytest.fixture
def destination(sandbox: SandboxServer, checker: ContractChecker) -> Iterator[SiteClients]:
    clients = site_clients(sandbox, "destination", checker)
    yield clients
    clients.close()


@pytest.fixture
def connect(checker: ContractChecker) -> Iterator[Callable[[SandboxServer, str], SiteClients]]:
    """Contract-checked clients for a site of any sandbox a test started itself."""
    opened: list[SiteClients] = []

    def make(server: SandboxServer, site: str) -> SiteClients:
        clients = site_clients(server, site, checker)
        opened.append(clients)
        return clients

    yield make
    for clients in opened:
        clients.close()
