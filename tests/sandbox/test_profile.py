"""The sandbox profile: validated like the faults, shown where the sandbox describes itself, and
free to change between starts of one state."""

from __future__ import annotations

import re
import signal
from dataclasses import replace

import httpx
import pytest

from sandbox.config import Profile, SandboxConfig
from sandbox.server import SandboxServer
from tests.sandbox.test_cli import run
from tests.sandbox.test_state import start_cli


def test_every_switch_has_its_documented_default_first():
    assert Profile() == Profile(**{name: values[0] for name, values in Profile.choices().items()})
    assert Profile().changes() == {}
    assert Profile(billable="omitted").changes() == {"billable": "omitted"}


def test_json_round_trip():
    profile = Profile(absent_description="null", jira_started="utc")
    assert Profile.from_json(profile.to_json()) == profile
    assert Profile.from_json({}) == Profile()


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"colour": "red"}, "unknown profile switches ['colour']; known: ['absent_description'"),
        ({"billable": "sometimes"}, "billable must be one of defaulted, omitted, not 'sometimes'"),
        (
            {"bulk_with_bad_items": "partial", "tempo_error_shape": 1},
            "bulk_with_bad_items must be one of refused, applied_then_400, applied_then_200, not 'partial'; "
            "tempo_error_shape must be one of list, object, not 1",
        ),
    ],
)
def test_unknown_switches_and_values_are_errors_naming_the_allowed_ones(payload, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        Profile.from_json(payload)


def test_a_sandbox_will_not_start_with_an_invalid_profile(sandbox_config):
    noon = replace(sandbox_config, profile=Profile(missing_start_time="noon"))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="invalid sandbox profile: missing_start_time must be one of"):
        SandboxServer(noon)


def test_the_summary_shows_the_profile_and_a_state_serves_any_profile(sandbox_config: SandboxConfig):
    with SandboxServer(sandbox_config) as first, first.admin() as admin:
        assert admin.summary()["profile"] == Profile().to_json()
    changed = Profile(billable="omitted", jql_missing_keys="omitted")
    with SandboxServer(replace(sandbox_config, profile=changed)) as second, second.admin() as admin:
        assert admin.summary()["profile"] == changed.to_json()


def test_serve_takes_profile_switches_and_shows_them(tmp_path):
    process, base, banner = start_cli(
        tmp_path / "state", "--profile", "billable=omitted", "--profile", "jira_started=utc"
    )
    try:
        shown = httpx.get(f"{base}/_sandbox/").json()["profile"]
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=15)
    assert "profile: billable=omitted, jira_started=utc" in banner
    assert shown == Profile(billable="omitted", jira_started="utc").to_json()


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("colour=red", "unknown profile switches ['colour']; known: ['absent_description'"),
        ("billable=sometimes", "billable must be one of defaulted, omitted, not 'sometimes'"),
        ("billable", "--profile takes NAME=VALUE, not 'billable'; the switches are missing_start_time"),
    ],
)
def test_serve_refuses_an_unknown_switch_or_value(tmp_path, option, message):
    refused = run("sandbox", "serve", "--port", "0", "--state-dir", str(tmp_path), "--profile", option)
    assert refused.returncode == 2
    assert message in refused.stderr
