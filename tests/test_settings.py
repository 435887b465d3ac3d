"""Settings from the environment: sandbox by default, live mode names every problem at once."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from resources.settings import DEFAULT_TEMPO_URL, Mode, SettingsError, load_settings

LIVE = {
    "TEMPO_SYNC_MODE": "live",
    "SOURCE_JIRA_URL": "https://client.atlassian.net/",
    "SOURCE_JIRA_EMAIL": "sync@client.example",
    "SOURCE_JIRA_TOKEN": "source-jira-secret",
    "SOURCE_TEMPO_TOKEN": "source-tempo-secret",
    "DEST_JIRA_URL": "https://us.atlassian.net",
    "DEST_JIRA_EMAIL": "sync@us.example",
    "DEST_JIRA_TOKEN": "dest-jira-secret",
    "DEST_TEMPO_URL": "https://api.eu.tempo.io",
    "DEST_TEMPO_TOKEN": "dest-tempo-secret",
}


def test_the_default_is_the_sandbox_with_local_files():
    settings = load_settings({})
    assert settings.mode is Mode.SANDBOX
    assert settings.duckdb_path == Path("data/tempo_sync.duckdb")
    assert settings.start_date == date(2025, 1, 1)
    assert settings.config_path is None


def test_live_settings_are_typed_and_tokens_stay_out_of_the_repr():
    settings = load_settings(LIVE | {"TEMPO_SYNC_START_DATE": "2025-06-01"})
    assert settings.mode is Mode.LIVE
    assert settings.source.jira_url == "https://client.atlassian.net"
    assert settings.source.tempo_url == DEFAULT_TEMPO_URL
    assert settings.destination.tempo_url == "https://api.eu.tempo.io"
    assert settings.source.host == "client.atlassian.net"
    assert settings.destination.has_tempo
    assert settings.start_date == date(2025, 6, 1)
    assert "secret" not in repr(settings)


def test_an_empty_destination_tempo_token_means_jira_worklogs():
    settings = load_settings(LIVE | {"DEST_TEMPO_TOKEN": ""})
    assert not settings.destination.has_tempo


def test_live_mode_names_every_missing_or_malformed_setting_in_one_error(tmp_path):
    environ = {
        "TEMPO_SYNC_MODE": "live",
        "SOURCE_JIRA_URL": "client.atlassian.net",
        "SOURCE_JIRA_EMAIL": "not-an-email",
        "DEST_JIRA_URL": "http://us.atlassian.net",
        "DEST_TEMPO_URL": "https://user:pw@api.tempo.io",
        "TEMPO_SYNC_START_DATE": "2025-13-01",
        "TEMPO_SYNC_CONFIG": str(tmp_path / "missing.toml"),
        "TEMPO_SYNC_DUCKDB": str(tmp_path),
    }
    with pytest.raises(SettingsError) as raised:
        load_settings(environ)
    message = str(raised.value)
    for fragment in (
        "SOURCE_JIRA_URL is 'client.atlassian.net', not a URL",
        "SOURCE_JIRA_EMAIL is not an email address",
        "SOURCE_JIRA_TOKEN is missing",
        "SOURCE_TEMPO_TOKEN is missing",
        "DEST_JIRA_URL uses plain http to us.atlassian.net; use https",
        "DEST_JIRA_EMAIL is missing",
        "DEST_JIRA_TOKEN is missing",
        "DEST_TEMPO_URL must be a plain base URL without credentials",
        "TEMPO_SYNC_START_DATE is '2025-13-01'",
        "TEMPO_SYNC_CONFIG names",
        "TEMPO_SYNC_DUCKDB points at a directory",
    ):
        assert fragment in message
    assert len(raised.value.problems) == 11


def test_site_settings_in_sandbox_mode_are_refused_rather_than_ignored():
    with pytest.raises(SettingsError, match="SOURCE_JIRA_URL set while TEMPO_SYNC_MODE is sandbox"):
        load_settings({"SOURCE_JIRA_URL": "https://client.atlassian.net"})


def test_an_unknown_mode_is_named():
    with pytest.raises(SettingsError, match="TEMPO_SYNC_MODE is 'prod'"):
        load_settings({"TEMPO_SYNC_MODE": "prod"})


def test_plain_http_is_allowed_only_to_loopback():
    settings = load_settings(LIVE | {"SOURCE_JIRA_URL": "http://127.0.0.1:8765/source/jira"})
    assert settings.source.jira_url == "http://127.0.0.1:8765/source/jira"
