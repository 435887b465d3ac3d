"""What is sent to the destination for one replica row, and how a destination worklog is recognised."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# The worklog property that links a destination Jira worklog to its source worklog.
LINK_PROPERTY = "tempo-sync.source"


def tempo_payload(row: Mapping[str, Any], *, with_estimate: bool) -> dict[str, Any]:
    """A Tempo ``WorklogInput`` (``BulkWorklogInput`` when ``with_estimate`` is False)."""
    body: dict[str, Any] = {
        "authorAccountId": row["destination_author_account_id"],
        "issueId": int(row["destination_issue_id"]),
        "startDate": _day(row["start_date"]).isoformat(),
        "timeSpentSeconds": int(row["time_spent_seconds"]),
    }
    if row["start_time"]:
        body["startTime"] = row["start_time"]
    if row["billable_seconds"] is not None:
        body["billableSeconds"] = int(row["billable_seconds"])
    if row["description"] is not None:
        body["description"] = row["description"]
    body["attributes"] = list(row["attributes"])
    if with_estimate and row["remaining_estimate_seconds"] is not None:
        body["remainingEstimateSeconds"] = int(row["remaining_estimate_seconds"])
    return body


def jira_payload(row: Mapping[str, Any], *, source_site: str) -> dict[str, Any]:
    """A Jira worklog body: local start with its offset, the description and the real worker in an
    ADF comment, and a property that links the source worklog (the author is always the caller)."""
    worker = row["source_author_name"] or row["destination_author_account_id"]
    lines = [*(row["description"] or "").split("\n"), ""] if row["description"] else []
    lines.append(
        f"Work by {worker}, logged in Tempo on {source_site} (Tempo worklog {row['tempo_worklog_id']})."
    )
    return {
        "started": jira_started(_day(row["start_date"]), row["start_time"], row["author_time_zone"]),
        "timeSpentSeconds": int(row["time_spent_seconds"]),
        "comment": {"type": "doc", "version": 1, "content": [_paragraph(line) for line in lines]},
        "properties": [{"key": LINK_PROPERTY, "value": link_value(row, source_site=source_site)}],
    }


def link_value(row: Mapping[str, Any], *, source_site: str) -> dict[str, Any]:
    return {
        "sourceSite": source_site,
        "tempoWorklogId": int(row["tempo_worklog_id"]),
        "jiraWorklogId": None
        if row["source_jira_worklog_id"] is None
        else int(row["source_jira_worklog_id"]),
    }


def jira_started(day: date, start_time: str | None, time_zone: str | None) -> str:
    """Jira's ``yyyy-MM-dd'T'HH:mm:ss.SSS+HHMM`` for a local wall-clock start in ``time_zone``."""
    clock = time.fromisoformat(start_time) if start_time else time(0, 0)
    try:
        zone = ZoneInfo(time_zone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    local = datetime.combine(day, clock, tzinfo=zone)
    return local.strftime("%Y-%m-%dT%H:%M:%S.000%z")


def matches_tempo(row: Mapping[str, Any], worklog: Mapping[str, Any]) -> bool:
    """Whether a destination Tempo worklog is this row's copy, by its natural key."""
    return (
        worklog.get("author", {}).get("accountId") == row["destination_author_account_id"]
        and worklog.get("issue", {}).get("id") == int(row["destination_issue_id"])
        and worklog.get("startDate") == _day(row["start_date"]).isoformat()
        and _seconds_of(worklog.get("startTime")) == _seconds_of(row["start_time"])
        and worklog.get("timeSpentSeconds") == int(row["time_spent_seconds"])
        and (worklog.get("description") or "") == (row["description"] or "")
    )


def matches_jira(row: Mapping[str, Any], worklog: Mapping[str, Any], *, source_site: str) -> bool:
    """Whether a destination Jira worklog is this row's copy, by its link property."""
    wanted = link_value(row, source_site=source_site)
    return any(
        prop.get("key") == LINK_PROPERTY
        and isinstance(prop.get("value"), dict)
        and prop["value"].get("sourceSite") == wanted["sourceSite"]
        and prop["value"].get("tempoWorklogId") == wanted["tempoWorklogId"]
        for prop in worklog.get("properties", [])
    )


def _paragraph(text: str) -> dict[str, Any]:
    return {"type": "paragraph", "content": [{"type": "text", "text": text}] if text else []}


def _seconds_of(start_time: str | None) -> int | None:
    if not start_time:
        return None
    clock = time.fromisoformat(start_time if len(start_time) == 8 else start_time.zfill(8))
    return clock.hour * 3600 + clock.minute * 60 + clock.second


def _day(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)
