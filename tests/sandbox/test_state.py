"""Sandbox state: deterministic source pages, a destination that persists, reset, many processes."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
from contextlib import closing
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from sandbox.config import CREDENTIALS, DataKnobs
from sandbox.server import SandboxServer, bind
from sandbox.store import STATE_FILE, StateMismatchError, Store
from tests.conftest import TEST_CLOCK
from tests.support.cli import TEMPO_SYNC

PAGE = {"from": "2025-03-05", "to": "2025-03-05", "limit": 25, "offset": 5}
TEMPO = {"Authorization": f"Bearer {CREDENTIALS['source'].tempo_token}"}
JIRA = (CREDENTIALS["source"].jira_email, CREDENTIALS["source"].jira_token)


def source_page_bytes(server: SandboxServer) -> list[bytes]:
    tempo, jira = server.urls.source.tempo, server.urls.source.jira
    return [
        httpx.get(f"{tempo}/4/worklogs", params=PAGE, headers=TEMPO).content,
        httpx.post(
            f"{tempo}/4/worklogs/search", json={"from": "2025-03-01", "to": "2025-03-02"}, headers=TEMPO
        ).content,
        httpx.get(f"{jira}/rest/api/3/user/search", params={"query": "a"}, auth=JIRA).content,
        httpx.get(f"{jira}/rest/api/3/issue/ACME-1/worklog", auth=JIRA).content,
    ]


def free_port() -> int:
    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    sock.close()
    return port


def test_same_seed_gives_byte_identical_source_pages(sandbox_config, tmp_path):
    port = free_port()
    pages = []
    for run, seed in enumerate((7, 7, 8)):
        config = replace(sandbox_config, state_dir=tmp_path / f"run{run}", data=DataKnobs(seed=seed))
        with SandboxServer(config, port=port) as server:
            pages.append(source_page_bytes(server))
    assert pages[0] == pages[1]
    assert all(len(page) > 200 for page in pages[0])
    assert all(a != b for a, b in zip(pages[0], pages[2], strict=True))


def test_destination_state_survives_a_restart_and_reset_forgets_it(sandbox_config):
    body = {"started": "2025-03-18T09:00:00.000+0000", "timeSpentSeconds": 60}
    auth = (CREDENTIALS["destination"].jira_email, CREDENTIALS["destination"].jira_token)
    with SandboxServer(sandbox_config) as first:
        created = httpx.post(
            f"{first.urls.destination.jira}/rest/api/3/issue/ACME-1/worklog", json=body, auth=auth
        )
        assert created.status_code == 201
    with SandboxServer(sandbox_config) as second:
        url = f"{second.urls.destination.jira}/rest/api/3/issue/ACME-1/worklog/{created.json()['id']}"
        assert httpx.get(url, auth=auth).status_code == 200
        with second.admin() as admin:
            admin.reset()
            assert admin.changed_worklogs("destination") == []
        assert httpx.get(url, auth=auth).status_code == 404


def test_state_made_with_other_knobs_is_refused_by_name(sandbox_config):
    with SandboxServer(sandbox_config):
        pass
    with pytest.raises(StateMismatchError, match="other data knobs"):
        SandboxServer(replace(sandbox_config, data=DataKnobs(seed=99)))


@pytest.mark.slow
def test_two_processes_serve_one_state(sandbox_config):
    """Dagster steps run in separate processes; ids must never be handed out twice."""
    with SandboxServer(sandbox_config) as here:
        process, base, _ = start_cli(sandbox_config.state_dir)
        try:
            there = f"{base}/destination/tempo"
            author = next(p for p in here.admin().people() if p["kind"] == "normal")["destination"][
                "account_id"
            ]
            headers = {"Authorization": f"Bearer {CREDENTIALS['destination'].tempo_token}"}
            created = []
            for n in range(20):
                target = here.urls.destination.tempo if n % 2 else there
                body = {
                    "authorAccountId": author,
                    "issueId": 20060,
                    "startDate": "2025-03-18",
                    "timeSpentSeconds": 60 + n,
                }
                response = httpx.post(f"{target}/4/worklogs", json=body, headers=headers)
                assert response.status_code == 200, response.text
                created.append(response.json()["tempoWorklogId"])
            assert len(set(created)) == 20
            for target in (here.urls.destination.tempo, there):
                listed = httpx.get(
                    f"{target}/4/worklogs",
                    params={"from": "2025-03-18", "to": "2025-03-18", "limit": 100},
                    headers=headers,
                ).json()
                assert set(created) <= {w["tempoWorklogId"] for w in listed["results"]}
        finally:
            process.send_signal(signal.SIGINT)
            assert process.wait(timeout=15) == 0


def start_cli(state_dir: Path, *options: str) -> tuple[subprocess.Popen[str], str, str]:
    """Start `tempo-sync sandbox serve` on a free port; its process, base URL and banner."""
    command = [
        str(TEMPO_SYNC), "sandbox", "serve", "--port", "0",
        "--state-dir", str(state_dir), "--clock", TEST_CLOCK.isoformat(), "--tempo-rate", "0", *options,
    ]  # fmt: skip
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    banner = []
    for line in process.stdout:
        banner.append(line)
        if line.startswith("Ctrl+C stops it."):
            base = next(x for x in banner if x.startswith("SOURCE_JIRA_URL=")).strip().split("=", 1)[1]
            return process, base.removesuffix("/source/jira"), "".join(banner)
    process.kill()
    pytest.fail(f"the sandbox CLI did not start: {process.stdout.read()}")


def test_a_server_without_a_clock_keeps_the_states_clock(sandbox_config):
    """Other processes may serve the same state: starting one must not move their clock."""
    with SandboxServer(sandbox_config) as first:
        first.admin().advance_clock(3600)
    with SandboxServer(replace(sandbox_config, clock=None)) as second, second.admin() as admin:
        assert admin.clock()["frozen_at"] == (TEST_CLOCK + timedelta(hours=1)).isoformat()


def test_a_state_is_made_for_one_site_layout(sandbox_config):
    with SandboxServer(sandbox_config):
        pass
    with pytest.raises(StateMismatchError, match="destination_tempo"):
        SandboxServer(replace(sandbox_config, destination_tempo=False))


def test_data_versions_only_grow_even_across_a_reset(tmp_path):
    """Query caches key on the version; after a reset no old key may match a new state."""
    store = Store(tmp_path, "knobs")
    store.save_user("destination", "someone", None)
    before = store.version("destination")
    store.reset(["source", "destination"])
    assert store.version("destination") > before
    assert store.version("source") > 0


def test_a_state_made_before_deletion_times_were_kept_still_opens(sandbox_config):
    """An earlier state file has no `deleted_at` column: it is added; its old deletions keep no
    time, so Jira's deleted feed cannot list them, while new ones are listed."""
    with SandboxServer(sandbox_config) as first, first.admin() as admin:
        old, new = [
            w for w in admin.scenarios("source", TEST_CLOCK.date(), TEST_CLOCK.date()) if w["visible"]
        ][:2]
        admin.delete_worklog("source", old["tempo_id"])
    old_file = closing(sqlite3.connect(sandbox_config.state_dir / STATE_FILE))
    with old_file as conn, conn:  # as an earlier version left it
        conn.execute("DROP INDEX worklogs_by_deleted_at")
        conn.execute("ALTER TABLE worklogs DROP COLUMN deleted_at")
    with SandboxServer(sandbox_config) as second, second.admin() as admin:
        (row,) = admin.changed_worklogs("source")
        assert (row["jira_id"], row["deleted"], row["deleted_at"]) == (old["jira_id"], True, None)
        admin.delete_worklog("source", new["tempo_id"])
        admin.advance_clock(60)
        deleted = httpx.get(f"{second.urls.source.jira}/rest/api/3/worklog/deleted", auth=JIRA).json()
    assert [v["worklogId"] for v in deleted["values"]] == [new["jira_id"]]
