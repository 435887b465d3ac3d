"""``tempo-sync sandbox``: started, used and stopped the way a person does it."""

from __future__ import annotations

import argparse
import signal
import subprocess
from dataclasses import replace

import httpx
import pytest

from sandbox.cli import config_from, register
from sandbox.config import CREDENTIALS, Faults, Profile
from sandbox.server import bind
from tests.sandbox.test_state import TEMPO_SYNC, start_cli


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(TEMPO_SYNC), *args], capture_output=True, text=True, timeout=60, check=False)


def test_serve_prints_urls_and_credentials_serves_and_stops_cleanly(tmp_path):
    process, base, _ = start_cli(tmp_path / "state")
    try:
        credentials = CREDENTIALS["source"]
        headers = {"Authorization": f"Bearer {credentials.tempo_token}"}
        page = httpx.get(
            f"{base}/source/tempo/4/worklogs",
            params={"from": "2025-03-05", "to": "2025-03-05"},
            headers=headers,
        )
        assert page.status_code == 200
        assert page.json()["metadata"]["count"] == 40
        me = httpx.get(
            f"{base}/source/jira/rest/api/3/myself", auth=(credentials.jira_email, credentials.jira_token)
        )
        assert me.json()["emailAddress"] == credentials.jira_email
    finally:
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=15)[0]
    assert process.returncode == 0
    assert "tempo-sync sandbox stopped" in output
    assert (tmp_path / "state" / "sandbox.sqlite3").exists()


def test_banner_lists_everything_a_user_needs(tmp_path):
    process, base, output = start_cli(tmp_path / "state")
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=15)
    assert process.returncode == 0
    for site in ("source", "destination"):
        credentials = CREDENTIALS[site]
        for text in (
            f"{base}/{site}/jira",
            f"{base}/{site}/tempo",
            credentials.jira_email,
            credentials.jira_token,
            credentials.tempo_token,
        ):
            assert text in output
    assert f"DEST_TEMPO_URL={base}/destination/tempo" in output
    assert f"{base}/_sandbox" in output
    assert "profile:" not in output  # only a profile other than the default is shown


@pytest.mark.slow
def test_bad_options_and_a_busy_port_say_what_to_do(tmp_path):
    busy = bind("127.0.0.1", 0)
    try:
        port = str(busy.getsockname()[1])
        taken = run("sandbox", "serve", "--port", port, "--state-dir", str(tmp_path))
        assert taken.returncode == 2
        assert "pick another --port" in taken.stderr
    finally:
        busy.close()
    share = run("sandbox", "serve", "--share-5xx", "1.5", "--state-dir", str(tmp_path))
    assert share.returncode == 2
    assert "share_5xx must be between 0 and 1" in share.stderr
    users = run("sandbox", "serve", "--users", "2", "--state-dir", str(tmp_path))
    assert "users must be between 14" in users.stderr
    clock = run("sandbox", "serve", "--clock", "2025-03-10T12:00:00", "--state-dir", str(tmp_path))
    assert clock.returncode == 2
    assert "needs a time zone" in clock.stderr
    assert run("sandbox").returncode == 2
    assert "serve" in run("sandbox", "--help").stdout


@pytest.mark.slow
def test_reset_removes_the_state(tmp_path):
    state = tmp_path / "state"
    process, _, _ = start_cli(state)
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=15)
    assert (state / "sandbox.sqlite3").exists()
    first = run("sandbox", "reset", "--state-dir", str(state))
    assert first.returncode == 0
    assert "removed the sandbox state" in first.stdout
    assert not (state / "sandbox.sqlite3").exists()
    assert "no sandbox state" in run("sandbox", "reset", "--state-dir", str(state)).stdout


def test_serve_passes_the_change_faults_and_the_new_readings_on():
    parser = argparse.ArgumentParser()
    register(parser)
    options = ["serve", "--share-lost-change", "0.25", "--profile", "put_omitted_fields=kept",
               "--profile", "delete_auto_estimate=reduced"]  # fmt: skip
    config = config_from(parser.parse_args(options))
    assert (config.faults.share_lost_change, config.faults.share_lost_post) == (0.25, 0.0)
    assert config.profile == Profile(put_omitted_fields="kept", delete_auto_estimate="reduced")
    with pytest.raises(ValueError, match="share_lost_change must be between 0 and 1"):
        replace(config, faults=Faults(share_lost_change=2)).validate()
