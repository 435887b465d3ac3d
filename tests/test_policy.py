"""The policy file: defaults without one, every key validated with a message naming the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from resources.policy import PolicyError, Schedule, SyncPolicy


def _policy(tmp_path: Path, text: str) -> SyncPolicy:
    path = tmp_path / "tempo-sync.toml"
    path.write_text(text, encoding="utf-8")
    return SyncPolicy.from_file(path, source_site="client.atlassian.net")


def test_without_a_file_issues_map_by_key_and_nobody_is_substituted():
    policy = SyncPolicy.from_file(None, source_site="client.atlassian.net")
    assert policy.issue_strategy == "same_key"
    assert policy.destination_key("CLI-3") == "CLI-3"
    assert policy.fallback_account_id is None
    assert policy.override_for("712020:abc", "someone@example.com") is None


def test_the_table_wins_over_the_project_map(tmp_path):
    policy = _policy(
        tmp_path,
        '[issues]\nstrategy = "project_map"\n[issues.projects]\nCLI = "CLIENT"\n'
        '[issues.table]\n"CLI-7" = "INT-2"\n',
    )
    assert policy.destination_key("CLI-3") == "CLIENT-3"
    assert policy.destination_key("CLI-7") == "INT-2"
    assert policy.destination_key("ACME-1") == "ACME-1"


def test_the_field_strategy_leaves_keys_to_the_destination_field(tmp_path):
    policy = _policy(tmp_path, '[issues]\nstrategy = "field"\nfield = "customfield_10100"\n')
    assert policy.destination_key("CLI-3") is None
    assert policy.issue_field == "customfield_10100"


def test_overrides_match_an_account_id_or_an_email_in_any_case(tmp_path):
    policy = _policy(
        tmp_path,
        '[authors.overrides]\n"712020:abc" = "712020:def"\n"Ana@Client.Example" = "712020:ana"\n',
    )
    assert policy.override_for("712020:abc", None) == "712020:def"
    assert policy.override_for("712020:zzz", "ana@client.example") == "712020:ana"
    assert policy.override_for("712020:zzz", "bob@client.example") is None


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[issue]\n", "unknown section [issue]"),
        ('[issues]\nstrategie = "same_key"\n', "unknown key 'strategie' in [issues]"),
        ('[issues]\nstrategy = "fuzzy"\n', "strategy is 'fuzzy'; use one of same_key, project_map, field"),
        ('[issues]\nstrategy = "field"\n', "strategy 'field' needs field"),
        ('[issues]\nstrategy = "project_map"\n', "needs an [issues.projects] table"),
        ('[issues.table]\n"cli-1" = "CLIENT-1"\n', "both sides must be issue keys"),
        ('[authors]\nfallback_account_id = ""\n', "fallback_account_id must be a destination accountId"),
        ("[directory]\nuser_ttl_hours = -1\n", "user_ttl_hours must be a number of hours between 0 and 8760"),
        (
            '[http]\ntempo_requests_per_second = "fast"\n',
            "tempo_requests_per_second must be a number of requests",
        ),
        ("[http]\nmax_retries = 2.5\n", "max_retries must be a whole number between 0 and 20"),
        ('[load]\nremaining_estimate = "keep"\n', "remaining_estimate is 'keep'; use one of reduce, copy"),
        ("[issues\n", "cannot read the policy file"),
    ],
)
def test_mistakes_are_named_with_the_file(tmp_path, text, fragment):
    with pytest.raises(PolicyError) as raised:
        _policy(tmp_path, text)
    assert fragment in str(raised.value)
    assert "tempo-sync.toml" in str(raised.value)


def test_the_schedule_section_sets_hour_minute_and_time_zone(tmp_path):
    path = tmp_path / "tempo-sync.toml"
    path.write_text('[schedule]\nhour = 6\nminute = 5\ntimezone = "Europe/Berlin"\n', encoding="utf-8")
    assert Schedule.from_file(path) == Schedule(6, 5, "Europe/Berlin")
    assert Schedule.from_file(None) == Schedule(1, 30, "UTC")
    path.write_text('[schedule]\nhour = 24\ntimezone = "Mars/Olympus"\n', encoding="utf-8")
    assert Schedule.from_file(path) == Schedule()  # the definitions report the file's problems
    with pytest.raises(PolicyError) as raised:
        SyncPolicy.from_file(path, source_site="x")
    assert "[schedule] hour must be a whole number between 0 and 23" in str(raised.value)
    assert "timezone 'Mars/Olympus' is not an IANA time zone" in str(raised.value)
