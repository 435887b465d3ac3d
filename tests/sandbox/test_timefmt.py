"""The services' time formats."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from sandbox.timefmt import (
    epoch_text,
    format_jira_duration,
    jira_timestamp,
    parse_jira_duration,
    parse_jira_started,
    parse_tempo_time,
    parse_updated_from,
    utc_offset,
    utc_text,
)


def test_jira_started_needs_millis_and_a_numeric_offset():
    assert parse_jira_started("2021-01-17T12:34:00.000+0530") == (date(2021, 1, 17), time(12, 34), "+0530")
    for bad in (
        "2021-01-17T12:34:00.000Z",
        "2021-01-17T12:34:00+0000",
        "2021-01-17T12:34:00.000+00:00",
        "2021-02-30T12:34:00.000+0000",
        "2021-01-17T25:00:00.000+0000",
        "",
    ):
        assert parse_jira_started(bad) is None, bad


def test_tempo_start_time_pattern():
    assert parse_tempo_time("9:05:00") == time(9, 5)
    assert parse_tempo_time("23:59:59") == time(23, 59, 59)
    for bad in ("24:00:00", "09:00", "72360", 72360, None, "9:5:0"):
        assert parse_tempo_time(bad) is None, bad


@pytest.mark.parametrize(
    ("text", "millis", "expected"),
    [
        ("2023-11-16", False, datetime(2023, 11, 16, tzinfo=UTC)),
        ("2023-11-06T16:48:59Z", False, datetime(2023, 11, 6, 16, 48, 59, tzinfo=UTC)),
        ("2023-11-06T16:48:59", False, datetime(2023, 11, 6, 16, 48, 59, tzinfo=UTC)),
        ("2022-05-17T01:06:01.000Z", False, None),
        ("2022-05-17T01:06:01.000Z", True, datetime(2022, 5, 17, 1, 6, 1, tzinfo=UTC)),
        ("yesterday", True, None),
    ],
)
def test_updated_from(text, millis, expected):
    assert parse_updated_from(text, allow_millis=millis) == expected


def test_durations_use_jira_defaults():
    assert parse_jira_duration("2d 4h 30m") == (2 * 8 + 4) * 3600 + 1800
    assert parse_jira_duration("1w") == 5 * 8 * 3600
    assert parse_jira_duration("90") == 90 * 60
    assert parse_jira_duration("soon") is None
    assert format_jira_duration(12000) == "3h 20m"
    assert format_jira_duration(30) == "0m"


def test_instants_in_each_services_format():
    instant = datetime(2025, 3, 10, 23, 45, tzinfo=UTC)
    assert jira_timestamp(instant, "+0100") == "2025-03-11T00:45:00.000+0100"
    assert epoch_text(int(instant.timestamp())) == "2025-03-10T23:45:00Z"
    assert utc_text(date(2025, 3, 11), 45 * 60, "+0100", millis=True) == "2025-03-10T23:45:00.000Z"


def test_offsets_follow_daylight_saving():
    assert utc_offset("Europe/Berlin", date(2025, 1, 10), 9) == "+0100"
    assert utc_offset("Europe/Berlin", date(2025, 7, 10), 9) == "+0200"
    assert utc_offset("Asia/Kolkata", date(2025, 7, 10), 9) == "+0530"
    assert utc_offset("America/Los_Angeles", date(2025, 7, 10), 9) == "-0700"
