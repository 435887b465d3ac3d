"""Raw records injected through ``/_sandbox`` are listed as given, only where documented.

Plain clients: the records break the official schema on purpose, so the contract checker of
the other sandbox tests would refuse the very answers this file checks.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import httpx
import pytest

from sandbox.admin_client import SandboxAdmin
from sandbox.config import CREDENTIALS
from sandbox.server import SandboxServer
from tests.support.sandbox import follow_pages

DAY = date(2025, 3, 5)
RECORDS: list[object] = [{"tempoWorklogId": "not a number", "timeSpentSeconds": -1}, "just a string"]


@pytest.fixture
def tempo(sandbox: SandboxServer) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {CREDENTIALS['source'].tempo_token}"}
    with httpx.Client(base_url=sandbox.urls.source.tempo, headers=headers) as client:
        yield client


def test_injected_records_follow_the_days_worklogs_in_date_listings_only(
    admin: SandboxAdmin, tempo: httpx.Client
) -> None:
    day = {"from": DAY.isoformat(), "to": DAY.isoformat()}
    before = follow_pages(tempo, "/4/worklogs", **day, limit=15)
    assert admin.inject_worklogs("source", DAY, RECORDS) == 2

    listed = follow_pages(tempo, "/4/worklogs", **day, limit=15)
    assert listed == [*before, *RECORDS]  # paged like the rest, after the worklogs
    searched = tempo.post("/4/worklogs/search", params={"limit": 5000}, json=day).json()["results"]
    assert searched[-2:] == RECORDS
    # Not on other dates, nor in queries that filter on what a raw record may lack.
    other_day = {"from": "2025-03-06", "to": "2025-03-06"}
    assert not [r for r in follow_pages(tempo, "/4/worklogs", **other_day, limit=5000) if r in RECORDS]
    issue_id = before[0]["issue"]["id"]
    by_issue = follow_pages(tempo, "/4/worklogs", **day, issueId=issue_id, limit=5000)
    assert by_issue
    assert all(r["issue"]["id"] == issue_id for r in by_issue)
    updated = follow_pages(tempo, "/4/worklogs", **day, updatedFrom="2025-01-01", limit=5000)
    assert len(updated) == len(before)

    admin.reset()  # forgets them with every other client change
    assert follow_pages(tempo, "/4/worklogs", **day, limit=5000) == before


@pytest.mark.parametrize(
    ("body", "fix"),
    [
        ({"day": "2025-03-05", "records": []}, "at least one"),
        ({"day": "2025-02-30", "records": [1]}, "'day' must be a date"),
        ({"records": [1]}, '{"day": '),
        ([], "a JSON object"),
    ],
)
def test_a_bad_injection_is_refused_with_the_fix(sandbox: SandboxServer, body: object, fix: str) -> None:
    answer = httpx.post(f"{sandbox.urls.admin}/sites/source/injected-worklogs", json=body)
    assert answer.status_code == 400
    assert fix in answer.json()["error"]
