"""What is sent for a replica row, and how a destination worklog is recognised as its copy."""

from __future__ import annotations

import re
from datetime import date

import pytest

from replication.payloads import (
    COPY_MARK,
    LINK_PROPERTY,
    jira_payload,
    jira_started,
    matches_jira,
    tempo_payload,
    worker_note,
)

ROW = {
    "tempo_worklog_id": 20152000007,
    "source_jira_worklog_id": 120152000007,
    "destination_author_account_id": "712020:ana",
    "destination_issue_id": 20044,
    "source_author_name": "Ana Lima",
    "author_time_zone": "Pacific/Auckland",
    "start_date": date(2025, 3, 5),
    "start_time": "23:45:00",
    "time_spent_seconds": 5400,
    "billable_seconds": 0,
    "description": "Zürich 東京\nsecond line",
    "remaining_estimate_seconds": 7200,
    "attributes": [{"key": "_Activity_", "value": "Dev"}],
}


def test_the_tempo_payload_carries_every_exchanged_field_and_the_estimate_only_when_asked():
    body = tempo_payload(ROW, with_estimate=True)
    assert body == {
        "authorAccountId": "712020:ana",
        "issueId": 20044,
        "startDate": "2025-03-05",
        "startTime": "23:45:00",
        "timeSpentSeconds": 5400,
        "billableSeconds": 0,
        "description": "Zürich 東京\nsecond line",
        "attributes": [{"key": "_Activity_", "value": "Dev"}],
        "remainingEstimateSeconds": 7200,
    }
    assert "remainingEstimateSeconds" not in tempo_payload(ROW, with_estimate=False)
    bare = tempo_payload(
        ROW | {"start_time": None, "description": None, "billable_seconds": None}, with_estimate=False
    )
    assert {"startTime", "description", "billableSeconds"}.isdisjoint(bare)


def test_jira_started_is_local_time_with_the_offset_of_that_moment():
    assert jira_started(date(2025, 3, 5), "23:45:00", "Pacific/Auckland") == "2025-03-05T23:45:00.000+1300"
    assert jira_started(date(2025, 7, 5), "08:00:00", "Pacific/Auckland") == "2025-07-05T08:00:00.000+1200"
    assert jira_started(date(2025, 3, 5), None, "America/Los_Angeles") == "2025-03-05T00:00:00.000-0800"
    assert jira_started(date(2025, 3, 5), "09:00:00", "Not/AZone") == "2025-03-05T09:00:00.000+0000"


def test_the_jira_payload_names_the_worker_and_links_the_source():
    body = jira_payload(ROW, source_site="client.atlassian.net")
    texts = [p["content"][0]["text"] if p["content"] else "" for p in body["comment"]["content"]]
    signature = "Work by Ana Lima, logged in Tempo on client.atlassian.net (Tempo worklog 20152000007)."
    assert texts == ["Zürich 東京", "second line", "", signature]
    assert body["properties"] == [
        {
            "key": LINK_PROPERTY,
            "value": {
                "sourceSite": "client.atlassian.net",
                "tempoWorklogId": 20152000007,
                "jiraWorklogId": 120152000007,
            },
        }
    ]
    assert matches_jira(ROW, {"properties": body["properties"]}, source_site="client.atlassian.net")
    assert not matches_jira(ROW, {"properties": body["properties"]}, source_site="other.atlassian.net")
    assert not matches_jira(ROW, {}, source_site="client.atlassian.net")


def test_a_jira_worklog_whose_properties_the_service_dropped_is_still_known_by_its_note():
    body = jira_payload(ROW, source_site="client.atlassian.net")
    kept_comment = {"comment": body["comment"], "properties": []}
    assert matches_jira(ROW, kept_comment, source_site="client.atlassian.net")
    assert not matches_jira(ROW, kept_comment, source_site="other.atlassian.net")
    assert not matches_jira(
        ROW | {"tempo_worklog_id": 20152000008}, kept_comment, source_site="client.atlassian.net"
    )
    # Paragraphs rebuilt by the service (one paragraph, several text nodes) still carry the note.
    texts = [node for paragraph in body["comment"]["content"] for node in paragraph["content"]]
    rebuilt = {"comment": {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": texts}]}}
    assert matches_jira(ROW, rebuilt, source_site="client.atlassian.net")


@pytest.mark.parametrize("joined", ["\n", "\n\n", " "], ids=["lines", "paragraphs", "spaces"])
def test_a_copys_worker_note_is_its_mark_however_tempo_joins_the_comment(joined: str) -> None:
    # How Tempo turns a Jira comment's paragraphs into a description is not documented.
    text = f"{ROW['description']}{joined}{worker_note(ROW, source_site='client.atlassian.net')}  "
    assert re.search(COPY_MARK, text)
    assert re.search(COPY_MARK, "Pairing\n\nWork by Bo Ek (logged for them by tempo-sync).")


def test_a_worklog_that_only_mentions_tempo_sync_is_not_a_copy() -> None:
    assert not re.search(COPY_MARK, "Work by Ana on the tempo-sync rollout")
    assert not re.search(COPY_MARK, "logged in Tempo on client.atlassian.net (Tempo worklog 7). Then more")
