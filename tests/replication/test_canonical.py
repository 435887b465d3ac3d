"""The canonical comparison: which answered values are the same as what was sent, rule by rule."""

from __future__ import annotations

from datetime import date

import pytest

from replication import canonical

ROW = {
    "destination_author_account_id": "712020:ana",
    "destination_issue_id": 20044,
    "start_date": date(2025, 3, 5),
    "start_time": None,
    "time_spent_seconds": 5400,
    "billable_seconds": None,
    "description": None,
}
ANSWER = {
    "author": {"accountId": "712020:ana"},
    "issue": {"id": 20044},
    "startDate": "2025-03-05",
    "timeSpentSeconds": 5400,
}


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (None, 0),
        ("", 0),
        ("00:00:00", 0),
        ("0:00:00", 0),
        ("08:05:09", 8 * 3600 + 5 * 60 + 9),
        ("8:05:09", 8 * 3600 + 5 * 60 + 9),
        ("23:59:59", 86_399),
        ("08:05", 8 * 3600 + 5 * 60),
    ],
)
def test_start_times_missing_null_or_empty_are_midnight_and_the_hour_may_be_unpadded(value, seconds):
    assert canonical.start_seconds(value) == seconds


@pytest.mark.parametrize("value", ["24:00:00", "8h", "08:05:09.5", 29400])
def test_a_start_time_that_is_no_time_is_an_error_not_midnight(value):
    with pytest.raises(ValueError, match="not a start time"):
        canonical.start_seconds(value)


@pytest.mark.parametrize(
    ("value", "same_as"),
    [
        (None, ""),
        ("", ""),
        ("   ", ""),
        (" \t\n", ""),
        ("  Standup  ", "Standup"),
        ("Standup\n", "Standup"),
        ("Line one\r\nLine two", "Line one\nLine two"),
        ("Line one\n\nLine two", "Line one\n\nLine two"),  # inside, whitespace is content
        ("Réunion café ☕", "Réunion café ☕"),
    ],
)
def test_descriptions_missing_null_empty_or_trimmed_are_the_same(value, same_as):
    assert canonical.description(value) == same_as


@pytest.mark.parametrize(
    ("value", "spent", "billable"),
    [(None, 5400, 5400), (0, 5400, 0), (2700, 5400, 2700), (5400, 5400, 5400)],
)
def test_a_missing_billable_is_the_time_spent(value, spent, billable):
    assert canonical.billable(value, spent) == billable


@pytest.mark.parametrize(
    "answer",
    [
        ANSWER | {"startTime": "00:00:00"},  # Tempo's read-back of a worklog created without one
        ANSWER | {"startTime": "0:00:00"},
        ANSWER,
        ANSWER | {"description": None},
        ANSWER | {"description": ""},
        ANSWER | {"description": "  "},
        ANSWER | {"billableSeconds": 5400},
        ANSWER | {"startDateTimeUtc": "2025-03-04T11:00:00.000Z", "attributes": {"values": []}},
    ],
)
def test_every_reading_of_an_echo_gives_the_row_s_key(answer):
    assert canonical.tempo_key_of(answer) == canonical.tempo_key(ROW)


@pytest.mark.parametrize(
    ("answer", "fields"),
    [
        (ANSWER | {"startTime": "00:00:01"}, ["start_seconds"]),
        (ANSWER | {"timeSpentSeconds": 5460}, ["time_spent", "billable"]),
        (ANSWER | {"billableSeconds": 0}, ["billable"]),
        (ANSWER | {"description": "Standup"}, ["description"]),
        (ANSWER | {"author": {"accountId": "712020:bob"}}, ["author"]),
        (ANSWER | {"issue": {"id": 20045}}, ["issue_id"]),
        (ANSWER | {"startDate": "2025-03-06"}, ["start_date"]),
    ],
)
def test_a_real_difference_is_named_by_field(answer, fields):
    assert canonical.differences(canonical.tempo_key(ROW), canonical.tempo_key_of(answer)) == fields


def test_the_relaxed_key_ignores_what_a_service_might_rewrite_and_keeps_author_issue_date_and_seconds():
    sent = canonical.tempo_key(
        ROW | {"start_time": "09:00:00", "description": "Standup", "billable_seconds": 0}
    )
    rewritten = canonical.tempo_key_of(ANSWER | {"startTime": "10:00:00", "description": "standup."})
    assert sent != rewritten
    assert canonical.relaxed_key(sent) == canonical.relaxed_key(rewritten)
    other_day = canonical.tempo_key_of(ANSWER | {"startDate": "2025-03-06"})
    assert canonical.relaxed_key(sent) != canonical.relaxed_key(other_day)


# ----- the hashes that tell an edited copy from the one tempo-sync wrote

WRITTEN = {
    **ROW,
    "attributes": [{"key": "_Activity_", "value": "design"}, {"key": "_Overtime_", "value": "true"}],
}


@pytest.mark.parametrize(
    "copy",
    [
        pytest.param({**ANSWER, "startTime": "00:00:00", "billableSeconds": 5400, "description": "",
                      "attributes": {"values": [{"key": "_Overtime_", "value": "true"},
                                                {"key": "_Activity_", "value": "design"}]}},
                     id="defaults-filled-in-attributes-reordered"),
        pytest.param({**ANSWER, "startTime": "0:00:00", "description": "  \r\n",
                      "attributes": {"values": [{"key": "_Activity_", "value": "design"},
                                                {"key": "_Overtime_", "value": "true"}]}},
                     id="unpadded-hour-and-blank-description"),
    ],
)  # fmt: skip
def test_a_copy_as_the_service_stores_it_hashes_like_what_was_written(copy):
    assert canonical.tempo_hash_of(copy) == canonical.tempo_hash(WRITTEN)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("timeSpentSeconds", 5460),
        ("description", "changed by hand"),
        ("startTime", "08:00:00"),
        ("billableSeconds", 0),
        ("startDate", "2025-03-06"),
        ("attributes", {"values": [{"key": "_Activity_", "value": "meeting"}]}),
    ],
)
def test_a_copy_edited_on_the_destination_hashes_otherwise(field, value):
    copy = {**ANSWER, "attributes": {"values": WRITTEN["attributes"]}, field: value}
    assert canonical.tempo_hash_of(copy) != canonical.tempo_hash(WRITTEN)


def test_a_jira_worklog_hashes_by_its_instant_not_by_the_offset_it_is_shown_at():
    comment = {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [
        {"type": "text", "text": "Standup"}]}]}  # fmt: skip
    local = {"started": "2025-03-05T09:00:00.000+0530", "timeSpentSeconds": 900, "comment": comment}
    utc = {**local, "started": "2025-03-05T03:30:00.000+0000"}
    assert canonical.jira_hash(local) == canonical.jira_hash(utc)
    assert canonical.jira_hash({**local, "timeSpentSeconds": 960}) != canonical.jira_hash(local)
    edited = {**local, "comment": {**comment, "content": [{"type": "paragraph", "content": [
        {"type": "text", "text": "Standup (longer)"}]}]}}  # fmt: skip
    assert canonical.jira_hash(edited) != canonical.jira_hash(local)
