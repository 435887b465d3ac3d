"""When a destination worklog is a replica row's copy: every value compared the way the destination
stores it, never by an exact echo of what was sent.

The documents leave open how a service reads back what it was given, and the real services do
not echo: a Tempo worklog is backed by a Jira worklog whose ``started`` always carries a time, so
one created without ``startTime`` reads back as ``"00:00:00"``. These rules are the one place that
says which values are the same:

- a missing, null or empty start time is midnight, and ``H:mm:ss`` equals ``HH:mm:ss``;
- a missing, null or empty description is one value, and whitespace at its ends does not count
  (a service may trim it), nor does a Windows line end;
- a missing ``billableSeconds`` is the time spent (Tempo's default).

``tempo_key`` is the strict key that adopts a destination Tempo worklog as a row's copy.
``relaxed_key`` is the looser key that can only prove a copy absent: if no unexplained destination
worklog shares it, the row's copy is not there, whatever the service did to the other fields.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import date, datetime, time
from typing import Any, NamedTuple

_MIDNIGHT = 0


class TempoKey(NamedTuple):
    """What identifies a Tempo worklog as a copy, each field in its canonical form."""

    author: str
    issue_id: int
    start_date: str
    start_seconds: int
    time_spent: int
    billable: int
    description: str


class RelaxedKey(NamedTuple):
    """Fields no plausible service rewrites: the destination author, issue, date and duration."""

    author: str
    issue_id: int
    start_date: str
    time_spent: int


def start_seconds(value: object) -> int:
    """Seconds after midnight of a Tempo start time; missing, null or empty is midnight."""
    if value is None or value == "":
        return _MIDNIGHT
    if isinstance(value, str):
        parts = value.split(":")
        if len(parts) in (2, 3) and all(part.isdigit() for part in parts):
            try:
                clock = time(*(int(part) for part in parts))
            except ValueError:
                pass  # 24:00:00, 08:61:00, ...
            else:
                return clock.hour * 3600 + clock.minute * 60 + clock.second
    raise ValueError(f"not a start time: {value!r}")


def description(value: object) -> str:
    """A description as any service keeps it: missing, null and empty are one, ends trimmed."""
    if value is None:
        return ""
    return str(value).replace("\r\n", "\n").strip()


def billable(value: object, time_spent: int) -> int:
    """Billable seconds; a missing value is the time spent, as Tempo defaults it."""
    return time_spent if value is None else int(value)  # type: ignore[call-overload]


def tempo_key(row: Mapping[str, Any]) -> TempoKey:
    """The key of what a replica row sends to a Tempo destination."""
    spent = int(row["time_spent_seconds"])
    return TempoKey(
        author=str(row["destination_author_account_id"]),
        issue_id=int(row["destination_issue_id"]),
        start_date=_day(row["start_date"]),
        start_seconds=start_seconds(row["start_time"]),
        time_spent=spent,
        billable=billable(row["billable_seconds"], spent),
        description=description(row["description"]),
    )


def tempo_key_of(worklog: Mapping[str, Any]) -> TempoKey:
    """The key of a Tempo worklog as the destination answered it."""
    spent = int(worklog["timeSpentSeconds"])
    return TempoKey(
        author=str(worklog["author"]["accountId"]),
        issue_id=int(worklog["issue"]["id"]),
        start_date=_day(worklog["startDate"]),
        start_seconds=start_seconds(worklog.get("startTime")),
        time_spent=spent,
        billable=billable(worklog.get("billableSeconds"), spent),
        description=description(worklog.get("description")),
    )


def relaxed_key(key: TempoKey) -> RelaxedKey:
    return RelaxedKey(key.author, key.issue_id, key.start_date, key.time_spent)


def differences(sent: TempoKey, answered: TempoKey) -> list[str]:
    """The names of the fields in which two keys differ."""
    return [name for name, a, b in zip(TempoKey._fields, sent, answered, strict=True) if a != b]


def _day(value: object) -> str:
    if isinstance(value, date):
        return value.isoformat()
    return date.fromisoformat(str(value)).isoformat()


def attributes(values: object) -> tuple[tuple[str, str], ...]:
    """Work attribute values as a sorted tuple of (key, value), from a list of ``{key, value}`` or
    Tempo's ``{"values": [...]}``; their order never matters."""
    if isinstance(values, Mapping):
        values = values.get("values")
    if not isinstance(values, list):
        return ()
    pairs = ((str(item.get("key")), str(item.get("value"))) for item in values if isinstance(item, Mapping))
    return tuple(sorted(pairs))


def tempo_hash(row: Mapping[str, Any]) -> str:
    """What a Tempo copy of these values holds, hashed canonically: a copy whose hash differs was
    changed since (or does not carry these values)."""
    return _digest((*tempo_key(row), attributes(row["attributes"])))


def tempo_hash_of(worklog: Mapping[str, Any]) -> str:
    """The canonical hash of a Tempo worklog as the destination answered it."""
    return _digest((*tempo_key_of(worklog), attributes(worklog.get("attributes"))))


def jira_hash(worklog: Mapping[str, Any]) -> str:
    """The canonical hash of a Jira worklog, or of the body that writes one: the instant it started
    (whatever offset it is shown at), the seconds spent, and the text of its comment."""
    started = datetime.strptime(str(worklog["started"]), "%Y-%m-%dT%H:%M:%S.%f%z")
    text = description(adf_text(worklog.get("comment")))
    return _digest((started.timestamp(), int(worklog["timeSpentSeconds"]), text))


def adf_text(node: object) -> str:
    """Every text of an ADF document, joined by newlines (empty for anything else)."""
    if isinstance(node, Mapping):
        if isinstance(node.get("text"), str):
            return str(node["text"])
        return "\n".join(adf_text(child) for child in node.get("content") or [])
    return ""


def _digest(values: tuple[object, ...]) -> str:
    return hashlib.md5(json.dumps(values, ensure_ascii=False).encode(), usedforsecurity=False).hexdigest()
