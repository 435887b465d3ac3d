"""What is sent to the destination for one replica row, and how a destination worklog is recognised."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from replication.canonical import adf_text

# The worklog property that links a destination Jira worklog to its source worklog.
LINK_PROPERTY = "tempo-sync.source"
# A worklog whose text ends like this is a copy tempo-sync made, which no pair copies again: the
# worker note of a copy on a Jira destination (worker_note below), or the note of a worklog logged
# for an unmatched author (replication/transform.py). Tempo shows either as the description; the
# mark is not anchored to a line's start, since how Tempo joins a comment's paragraphs is not
# documented.
COPY_MARK = (
    r"(Work by .+, logged in Tempo on \S+ \(Tempo worklog [0-9]+\)"
    r"|\(logged for them by tempo-sync\))\.\s*$"
)


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
    lines = [*(row["description"] or "").split("\n"), ""] if row["description"] else []
    lines.append(worker_note(row, source_site=source_site))
    return {
        "started": jira_started(_day(row["start_date"]), row["start_time"], row["author_time_zone"]),
        "timeSpentSeconds": int(row["time_spent_seconds"]),
        "comment": {"type": "doc", "version": 1, "content": [_paragraph(line) for line in lines]},
        "properties": [{"key": LINK_PROPERTY, "value": link_value(row, source_site=source_site)}],
    }


def worker_note(row: Mapping[str, Any], *, source_site: str) -> str:
    """The comment's last line: who did the work, and which source worklog this is a copy of."""
    worker = row["source_author_name"] or row["destination_author_account_id"]
    return f"Work by {worker}, {_source_mark(row, source_site=source_site)}"


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


def matches_jira(row: Mapping[str, Any], worklog: Mapping[str, Any], *, source_site: str) -> bool:
    """Whether a destination Jira worklog is this row's copy: its link property says so, or, where
    the service kept no property, the source mark in its comment does."""
    wanted = link_value(row, source_site=source_site)
    linked = any(
        prop.get("key") == LINK_PROPERTY
        and isinstance(prop.get("value"), dict)
        and prop["value"].get("sourceSite") == wanted["sourceSite"]
        and prop["value"].get("tempoWorklogId") == wanted["tempoWorklogId"]
        for prop in worklog.get("properties") or []
    )
    return linked or _source_mark(row, source_site=source_site) in adf_text(worklog.get("comment"))


def _source_mark(row: Mapping[str, Any], *, source_site: str) -> str:
    return f"logged in Tempo on {source_site} (Tempo worklog {row['tempo_worklog_id']})."


def _paragraph(text: str) -> dict[str, Any]:
    return {"type": "paragraph", "content": [{"type": "text", "text": text}] if text else []}


def _day(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


def tempo_update_payload(row: Mapping[str, Any], *, with_estimate: bool) -> dict[str, Any]:
    """A Tempo ``WorklogUpdate``: every field, always. A PUT replaces the whole worklog on one reading
    of the document and keeps what it omits on another, so a value the source cleared is sent in its
    canonical empty form (midnight, no text, billable equal to the time spent), never left out."""
    spent = int(row["time_spent_seconds"])
    body: dict[str, Any] = {
        "authorAccountId": row["destination_author_account_id"],
        "startDate": _day(row["start_date"]).isoformat(),
        "startTime": row["start_time"] or "00:00:00",
        "timeSpentSeconds": spent,
        "billableSeconds": spent if row["billable_seconds"] is None else int(row["billable_seconds"]),
        "description": row["description"] or "",
        "attributes": list(row["attributes"]),
    }
    if with_estimate and row.get("remaining_estimate_seconds") is not None:
        body["remainingEstimateSeconds"] = int(row["remaining_estimate_seconds"])
    return body


def json_list(value: object) -> list[Any]:
    """A JSON list column (work attributes) as DuckDB hands it over: text, a list, or null."""
    if value is None:
        return []
    return list(json.loads(value)) if isinstance(value, str) else list(value)  # type: ignore[call-overload]
