"""A create's answer paired with what was sent: by position, the fields only a cross-check."""

from __future__ import annotations

import logging
from datetime import date

import pytest

from replication.destinations import TempoDestination
from replication.load import pair_answer
from resources.tempo import TempoClient


def _row(tempo_id: int, seconds: int, description: str | None) -> dict[str, object]:
    return {
        "tempo_worklog_id": tempo_id,
        "destination_author_account_id": "712020:ana",
        "destination_issue_id": 20044,
        "start_date": date(2025, 3, 5),
        "start_time": None,
        "time_spent_seconds": seconds,
        "billable_seconds": None,
        "description": description,
    }


def _answer(tempo_id: int, seconds: int, description: str | None) -> dict[str, object]:
    worklog: dict[str, object] = {
        "tempoWorklogId": tempo_id,
        "author": {"accountId": "712020:ana"},
        "issue": {"id": 20044},
        "startDate": "2025-03-05",
        "startTime": "00:00:00",
        "timeSpentSeconds": seconds,
        "billableSeconds": seconds,
    }
    if description is not None:
        worklog["description"] = description
    return worklog


@pytest.fixture
def destination() -> TempoDestination:
    return TempoDestination(TempoClient(base_url="http://127.0.0.1:9", token="unused"), copy_estimate=False)


ROWS = [_row(1, 3600, " Standup "), _row(2, 1800, None), _row(3, 900, "Review")]


def test_an_answer_of_as_many_worklogs_is_paired_by_position_and_a_difference_is_only_logged(
    destination, caplog
):
    # The service trimmed one description and rewrote another: still the copies, in request order.
    answer = [_answer(101, 3600, "Standup"), _answer(102, 1800, ""), _answer(103, 900, "Code review")]
    with caplog.at_level(logging.WARNING, logger="replication.load"):
        pairs, unanswered = pair_answer(destination, 20044, ROWS, answer)
    assert [(row["tempo_worklog_id"], copy["tempoWorklogId"]) for row, copy in pairs] == [
        (1, 101),
        (2, 102),
        (3, 103),
    ]
    assert unanswered == []
    (warning,) = caplog.records
    assert "source worklog 3" in warning.getMessage()
    assert "differs in description" in warning.getMessage()


def test_a_shorter_answer_is_paired_by_the_canonical_key_and_the_rest_is_unknown(destination, caplog):
    answer = [_answer(103, 900, "Review"), _answer(101, 3600, "Standup")]
    with caplog.at_level(logging.WARNING, logger="replication.load"):
        pairs, unanswered = pair_answer(destination, 20044, ROWS, answer)
    assert sorted((row["tempo_worklog_id"], copy["tempoWorklogId"]) for row, copy in pairs) == [
        (1, 101),
        (3, 103),
    ]
    assert [row["tempo_worklog_id"] for row in unanswered] == [2]
    assert "answered a create of 3 worklog(s) on issue 20044 with 2" in caplog.text
