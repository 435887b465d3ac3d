"""The destinations a replica row goes to: Tempo when the destination has it, Jira worklogs otherwise.

Each says how rows are created (in bulk by issue, or one by one), how the destination's worklogs are
read and recognised as a row's copy, and how one copy is read, hashed canonically, replaced and
deleted when the source worklog changes (``[propagate]``, docs/propagation.md).
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from replication import canonical
from replication.payloads import jira_payload, matches_jira, tempo_payload, tempo_update_payload
from resources.jira import EstimateChange, JiraClient
from resources.policy import SyncPolicy
from resources.tempo import TempoClient

BULK_LIMIT = 50  # Tempo's bulk endpoint takes 1 to 50 worklogs for one issue

Row = dict[str, Any]


class Destination(ABC):
    """Where rows go: Tempo (bulk by issue) when the destination has it, Jira worklogs otherwise.

    ``copy_estimate`` sets each destination issue's remaining estimate to its source issue's, which
    costs the issue's last worklog a create of its own (Tempo's bulk create cannot set it); without
    it the estimate goes down by the time logged, as when anyone logs work.
    """

    target: str
    copy_estimate: bool

    @abstractmethod
    def send(self, issue_id: int, rows: Sequence[Row], *, estimate: bool) -> list[dict[str, Any]]:
        """Create the rows' worklogs on the issue. With ``estimate`` the (single) row's remaining
        estimate is set on the issue; otherwise the issue's estimate goes down by the time logged."""

    @abstractmethod
    def existing(self, issue_id: int, days: Sequence[date]) -> list[dict[str, Any]]:
        """The destination's worklogs on the issue around these work dates."""

    @abstractmethod
    def matches(self, row: Row, worklog: Mapping[str, Any]) -> bool:
        """Whether a destination worklog is this row's copy (enough to adopt it)."""

    @abstractmethod
    def could_be(self, row: Row, worklog: Mapping[str, Any]) -> bool:
        """Whether a destination worklog might be this row's copy with fields the service changed;
        only a read in which no unexplained worklog could be proves the copy absent."""

    @abstractmethod
    def difference(self, row: Row, worklog: Mapping[str, Any]) -> str | None:
        """How an answered worklog differs from what the row sent, or None."""

    @abstractmethod
    def ids(self, worklog: Mapping[str, Any]) -> tuple[int | None, int | None]:
        """The (Tempo id, Jira id) of a destination worklog."""

    @property
    def batch_limit(self) -> int:
        return 1

    # ----- one copy, for edits and deletions

    @abstractmethod
    def read_copy(self, issue_id: int, copy_id: int) -> dict[str, Any] | None:
        """The copy as the destination shows it now; None when it is gone."""

    @abstractmethod
    def copy_hash(self, copy: Mapping[str, Any]) -> str | None:
        """The canonical hash of a copy as the destination shows it; None when it cannot be read."""

    @abstractmethod
    def values_hash(self, row: Row) -> str:
        """The canonical hash of a copy that holds the row's values."""

    @abstractmethod
    def update_copy(self, issue_id: int, copy_id: int, row: Row) -> dict[str, Any]:
        """Write the row's values over the copy on its issue; the copy as the destination answered."""

    @abstractmethod
    def delete_copy(self, issue_id: int, copy_id: int, row: Row) -> bool:
        """Delete the copy; False when it was already gone."""

    @abstractmethod
    def updated_at(self, copy: Mapping[str, Any]) -> str | None:
        """When the destination says the copy last changed."""


class TempoDestination(Destination):
    target = "tempo"

    def __init__(self, tempo: TempoClient, *, copy_estimate: bool) -> None:
        self.tempo = tempo
        self.copy_estimate = copy_estimate

    @property
    def batch_limit(self) -> int:
        return BULK_LIMIT

    def send(self, issue_id: int, rows: Sequence[Row], *, estimate: bool) -> list[dict[str, Any]]:
        if len(rows) == 1:
            return [self.tempo.create_worklog(tempo_payload(rows[0], with_estimate=estimate))]
        payloads = [tempo_payload(row, with_estimate=False) for row in rows]
        for payload in payloads:
            del payload["issueId"]  # the bulk endpoint takes the issue in its path
        return self.tempo.bulk_create_worklogs(issue_id, payloads)

    def existing(self, issue_id: int, days: Sequence[date]) -> list[dict[str, Any]]:
        return self.tempo.search_worklogs(issue_ids=[issue_id], date_from=min(days), date_to=max(days))

    def matches(self, row: Row, worklog: Mapping[str, Any]) -> bool:
        answered = _readable_key(worklog)
        return answered is not None and answered == canonical.tempo_key(row)

    def could_be(self, row: Row, worklog: Mapping[str, Any]) -> bool:
        answered = _readable_key(worklog)
        # A worklog the service answered in a shape we cannot read could be anything.
        return answered is None or canonical.relaxed_key(answered) == canonical.relaxed_key(
            canonical.tempo_key(row)
        )

    def difference(self, row: Row, worklog: Mapping[str, Any]) -> str | None:
        answered = _readable_key(worklog)
        if answered is None:
            return "its fields cannot be read"
        fields = canonical.differences(canonical.tempo_key(row), answered)
        return f"it differs in {', '.join(fields)}" if fields else None

    def ids(self, worklog: Mapping[str, Any]) -> tuple[int | None, int | None]:
        return int(worklog["tempoWorklogId"]), None

    def read_copy(self, issue_id: int, copy_id: int) -> dict[str, Any] | None:
        return self.tempo.worklog(copy_id)

    def copy_hash(self, copy: Mapping[str, Any]) -> str | None:
        try:
            return canonical.tempo_hash_of(copy)
        except (KeyError, TypeError, ValueError):
            return None

    def values_hash(self, row: Row) -> str:
        return canonical.tempo_hash(row)

    def update_copy(self, issue_id: int, copy_id: int, row: Row) -> dict[str, Any]:
        return self.tempo.update_worklog(copy_id, tempo_update_payload(row, with_estimate=self.copy_estimate))

    def delete_copy(self, issue_id: int, copy_id: int, row: Row) -> bool:
        return self.tempo.delete_worklog(copy_id)  # Tempo's delete leaves the remaining estimate alone

    def updated_at(self, copy: Mapping[str, Any]) -> str | None:
        value = copy.get("updatedAt")
        return None if value is None else str(value)


class JiraDestination(Destination):
    target = "jira"

    def __init__(self, jira: JiraClient, source_site: str, *, copy_estimate: bool) -> None:
        self.jira = jira
        self.source_site = source_site
        self.copy_estimate = copy_estimate
        self._caller: str | None = None
        self._caller_lock = threading.Lock()

    def send(self, issue_id: int, rows: Sequence[Row], *, estimate: bool) -> list[dict[str, Any]]:
        (row,) = rows
        change: EstimateChange = int(row["remaining_estimate_seconds"]) if estimate else "auto"
        body = jira_payload(row, source_site=self.source_site)
        return [self.jira.add_worklog(issue_id, body, estimate=change)]

    def existing(self, issue_id: int, days: Sequence[date]) -> list[dict[str, Any]]:
        self._caller_account()  # read with the worklogs, so that its failure is the read's
        # ``started`` is local to the worker, so the UTC window is widened by a day on each side.
        after = datetime.combine(min(days) - timedelta(days=1), datetime.min.time(), tzinfo=UTC)
        before = datetime.combine(max(days) + timedelta(days=2), datetime.min.time(), tzinfo=UTC)
        return self.jira.issue_worklogs(issue_id, started_after=after, started_before=before)

    def matches(self, row: Row, worklog: Mapping[str, Any]) -> bool:
        return matches_jira(row, worklog, source_site=self.source_site)

    def could_be(self, row: Row, worklog: Mapping[str, Any]) -> bool:
        # Every copy is written as the token's account, and Jira may show ``started`` at another
        # offset or round the time spent: any unexplained worklog of that account on the issue in
        # the window could be the copy.
        author = worklog.get("author")
        return not isinstance(author, dict) or author.get("accountId") == self._caller_account()

    def difference(self, row: Row, worklog: Mapping[str, Any]) -> str | None:
        return None if self.matches(row, worklog) else "it carries neither the link property nor the note"

    def ids(self, worklog: Mapping[str, Any]) -> tuple[int | None, int | None]:
        return None, int(worklog["id"])

    def read_copy(self, issue_id: int, copy_id: int) -> dict[str, Any] | None:
        return self.jira.worklog(issue_id, copy_id)

    def copy_hash(self, copy: Mapping[str, Any]) -> str | None:
        try:
            return canonical.jira_hash(copy)
        except (KeyError, TypeError, ValueError):
            return None

    def values_hash(self, row: Row) -> str:
        return canonical.jira_hash(jira_payload(row, source_site=self.source_site))

    def update_copy(self, issue_id: int, copy_id: int, row: Row) -> dict[str, Any]:
        body = jira_payload(row, source_site=self.source_site)
        del body["properties"]  # the copy keeps its link property
        return self.jira.update_worklog(issue_id, copy_id, body, estimate=self._estimate(row))

    def delete_copy(self, issue_id: int, copy_id: int, row: Row) -> bool:
        return self.jira.delete_worklog(issue_id, copy_id, estimate=self._estimate(row))

    def updated_at(self, copy: Mapping[str, Any]) -> str | None:
        value = copy.get("updated")
        return None if value is None else str(value)

    def _estimate(self, row: Row) -> EstimateChange:
        """An edit or a delete keeps the estimate as creations keep it: Jira's own adjustment, or
        the source issue's remaining estimate when estimates are copied."""
        remaining = row.get("remaining_estimate_seconds")
        return int(remaining) if self.copy_estimate and remaining is not None else "auto"

    def _caller_account(self) -> str:
        with self._caller_lock:  # several issues reconcile at once; one `myself` serves them all
            if self._caller is None:
                self._caller = str(self.jira.myself()["accountId"])
            return self._caller


def _readable_key(worklog: Mapping[str, Any]) -> canonical.TempoKey | None:
    try:
        return canonical.tempo_key_of(worklog)
    except (KeyError, TypeError, ValueError):
        return None


def destination_of(tempo: TempoClient, jira: JiraClient, policy: SyncPolicy) -> Destination:
    """Tempo when the destination has it (a Tempo token is set), Jira worklogs otherwise."""
    copy_estimate = policy.remaining_estimate == "copy"
    if tempo.token:
        return TempoDestination(tempo, copy_estimate=copy_estimate)
    return JiraDestination(jira, policy.source_site, copy_estimate=copy_estimate)
