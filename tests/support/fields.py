"""A Tempo worklog's exchanged fields in canonical form, to compare a copy with its source the way
the destination stores values (``replication.canonical``), never by exact echo."""

from __future__ import annotations

from typing import Any

from replication import canonical

Fingerprint = tuple[Any, ...]
# The source's own reference for the source's purchase order; the destination has no such key.
SOURCE_ONLY_ATTRIBUTES = frozenset({"_ExternalRef_"})


def fingerprint(worklog: dict[str, Any], author: str, issue_key: str) -> Fingerprint:
    """Who, where, when, how long, billable, what and the work attributes of a Tempo worklog; the
    author and issue are given as the comparison needs them (the destination's account, the key)."""
    spent = worklog["timeSpentSeconds"]
    attributes = sorted(
        (a["key"], a["value"])
        for a in worklog["attributes"]["values"]
        if a["key"] not in SOURCE_ONLY_ATTRIBUTES
    )
    return (
        author,
        issue_key,
        worklog["startDate"],
        canonical.start_seconds(worklog.get("startTime")),
        spent,
        canonical.billable(worklog.get("billableSeconds"), spent),
        canonical.description(worklog.get("description")),
        tuple(attributes),
    )
