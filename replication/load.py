"""The load: ready replica rows become destination worklogs, exactly once (DESIGN section 3).

Per row: **claim** (the ledger row goes ``pending``, committed), **send**, **record** (``created``
with the destination ids, or ``rejected`` with the service's message, committed). A create's
answer is paired with what was sent by position; the fields only cross-check it, so a value the
service stores differently never turns a confirmed create into an unknown one.

A row left ``pending`` by a send whose outcome is unknown (a timeout, a dropped connection, a
5xx, a bulk answer that lacks it) or by a crash is **reconciled** before anything is sent again:
the destination's worklogs for its issue and dates are read. One that is the row's copy by the
canonical key (``replication.canonical``) and that no other ledger row holds is adopted. The row
is sent again only when the read proves its copy absent: no unexplained destination worklog
shares even its relaxed key. Otherwise it becomes ``unconfirmed``: never sent again by a run,
until a person settles it (``tempo-sync settle``). No DuckDB connection is held across a remote
call, and one issue's trouble never stops the others.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from replication.destinations import Destination, Row
from replication.frames import registered
from replication.ledger import EVENT_INSERT
from replication.liveness import ClaimHolders, RunIsActive
from replication.payloads import json_list
from replication.propagate import (
    CHANGE_OUTCOMES,
    PLANNED_OUTCOMES,
    Propagation,
    Settings,
    deletion_guard,
    sent_values,
)
from replication.scope import Scope
from resources.http import ApiError, OutcomeUnknownError
from resources.tempo import TempoClient
from resources.warehouse import Warehouse

logger = logging.getLogger(__name__)

SENDS_PER_RUN = 3  # sends of one row within one run before it is left pending for the next run
ISSUES_IN_FLIGHT = 3  # destination issues loaded at once


# The scope's rows: its work dates, plus the rows from other days this run's transform
# re-resolved (parked rows that became ready).
_WORK = """
select r.*, l.state as ledger_state, l.content_hash as ledger_hash, l.claim_run_id, l.claimed_at,
       p.status as claim_run_status, p.host as claim_host, p.pid as claim_pid,
       p.process_started as claim_process_started
from replica.worklogs r
left join sync.worklog_links l on l.source_site = r.source_site and l.tempo_worklog_id = r.tempo_worklog_id
left join lineage.runs p on p.run_id = l.claim_run_id
where r.status = 'ready' and r.source_site = $source_site
  and (r.work_date between $date_from and $date_to or r.last_run_id = $run_id)
order by r.destination_issue_id, r.start_date, r.start_time nulls first, r.tempo_worklog_id
"""


class DestinationUnavailableError(RuntimeError):
    """The destination cannot be read to reconcile; nothing more is sent in this run."""


class IssueUnreadableError(RuntimeError):
    """One destination issue's worklogs cannot be read (a definite refusal); the other issues go on."""


# What became of a row the load looked at.
OUTCOMES = (
    "created",
    "adopted",  # created by a send whose answer was lost, found on the destination
    "already_synced",
    "rejected",
    "pending",  # outcome unknown; the next run reconciles them
    "unconfirmed",  # a destination worklog may be their copy; a person settles them
    "busy",  # claimed by another run that is still working on them
    "not_attempted",  # left for the next run after the destination became unavailable
    *CHANGE_OUTCOMES,
    *PLANNED_OUTCOMES,
)


@dataclass
class LoadCounts:
    """Each row's outcome, by source Tempo id, with its work date; the counts derive from it."""

    stopped: str | None = None  # why the load stopped early
    blocked: str | None = None  # why the mass-deletion guard deleted nothing
    outcomes: dict[int, tuple[str, str]] = field(default_factory=dict)  # id -> (work date, outcome)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def note(self, row: Mapping[str, Any], outcome: str) -> None:
        with self._lock:  # issues are loaded by several threads
            self.outcomes[int(row["tempo_worklog_id"])] = (str(row["work_date"]), outcome)

    def totals(self) -> Counter[str]:
        return Counter(outcome for _, outcome in self.outcomes.values())

    def by_day(self) -> dict[str, Counter[str]]:
        days: dict[str, Counter[str]] = defaultdict(Counter)
        for day, outcome in self.outcomes.values():
            days[day][outcome] += 1
        return dict(days)

    def with_outcome(self, outcome: str) -> list[int]:
        """The source Tempo ids of the rows that ended with this outcome, in order."""
        return sorted(tempo_id for tempo_id, (_, noted) in self.outcomes.items() if noted == outcome)


def load(
    warehouse: Warehouse,
    destination: Destination,
    scope: Scope,
    run_id: str,
    *,
    source_site: str,
    run_is_active: RunIsActive,
    propagation: Settings | None = None,
    dry_run: bool = False,
    on_progress: Callable[[int, int], None] = lambda done, total: None,
) -> LoadCounts:
    """Carry the source's edits and deletions of synced worklogs (with ``propagation``), then send
    the scope's ready rows that the destination does not hold yet, then delete the old copies of
    worklogs re-homed to another issue. A ``dry_run`` plans the same and writes nothing anywhere.
    ``on_progress`` hears how many of the rows to send are done after each destination issue."""
    counts = LoadCounts()
    held = ClaimHolders(run_id, run_is_active)
    changes = None
    if propagation is not None and (propagation.updates or propagation.deletes):
        changes = Propagation(warehouse, destination, run_id, propagation, counts.note, held)
        _propagate(changes, scope, counts, source_site=source_site, dry_run=dry_run)
    with warehouse.get_connection() as connection:
        cursor = connection.execute(_WORK, {**scope.params, "source_site": source_site, "run_id": run_id})
        columns = [column[0] for column in cursor.description or []]
        work = [dict(zip(columns, values, strict=True)) for values in cursor.fetchall()]
    by_issue = _to_send(_records(work), counts, held)
    if dry_run:
        for rows in by_issue.values():
            for row in rows:
                # A row left pending is reconciled (read) before it is sent, so it may not be created.
                counts.note(row, "pending" if row["ledger_state"] == "pending" else "would_create")
        return counts
    total, done = sum(len(rows) for rows in by_issue.values()), 0
    waiting = iter(by_issue.items())
    # Each issue's claim, send and record stay in order within one thread; several issues are in
    # flight so that one issue's DuckDB work and round trips overlap another's, and the client's
    # pacer (shared by the threads) keeps the sum just under the service's rate limit.
    with ThreadPoolExecutor(max_workers=ISSUES_IN_FLIGHT, thread_name_prefix="load") as pool:
        running: dict[Future[None], list[Row]] = {}

        def start_next() -> None:
            issue = next(waiting, None)
            if issue is not None:
                issue_id, rows = issue
                issue_load = _IssueLoad(warehouse, destination, issue_id, run_id, counts)
                running[pool.submit(issue_load.run, rows)] = rows

        for _ in range(ISSUES_IN_FLIGHT):
            start_next()
        while running:
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                rows = running.pop(future)
                if not _issue_ended(future, rows, counts):
                    continue
                done += len(rows)
                on_progress(done, total)
                if counts.stopped is None:
                    start_next()
    for _, rows in waiting:
        for row in rows:
            counts.note(row, "not_attempted")
    if changes is not None and counts.stopped is None:
        changes.retire(source_site)
    return counts


# What a dry run says a planned change would be.
_PLANNED = {"update": "would_update", "move": "would_move", "reissue": "would_move", "delete": "would_delete",
            "settle": "pending", "clear": "already_synced"}  # fmt: skip


def _propagate(
    changes: Propagation, scope: Scope, counts: LoadCounts, *, source_site: str, dry_run: bool
) -> None:
    """Plan every synced worklog's change, hold back the deletions if there are too many, and apply
    the rest (or, in a dry run, only note them)."""
    planned = [
        (row, kind) for row in changes.rows(scope, source_site=source_site) if (kind := changes.plan(row))
    ]
    deletions = [row for row, kind in planned if kind == "delete"]
    if deletions:
        with changes.warehouse.get_connection() as connection:
            guard = deletion_guard(connection, scope, source_site=source_site,
                                   allowed=changes.settings.deletes_allowed)  # fmt: skip
        if not guard.holds:
            counts.blocked = guard.message()
            for row in deletions:
                counts.note(row, "deletes_blocked")
            planned = [(row, kind) for row, kind in planned if kind != "delete"]
    for row, kind in planned:
        if dry_run:
            counts.note(row, _PLANNED[kind])
        else:
            changes.apply(row, kind)


def _to_send(work: list[Row], counts: LoadCounts, held: ClaimHolders) -> dict[int, list[Row]]:
    """The rows to send, by destination issue; every other row is noted with its outcome."""
    by_issue: dict[int, list[Row]] = defaultdict(list)
    for row in work:
        state = row["ledger_state"]
        if state == "created":
            if int(row["tempo_worklog_id"]) not in counts.outcomes:  # a change of it was noted first
                counts.note(row, "already_synced")
        elif state == "unconfirmed":
            counts.note(row, "unconfirmed")  # never resent by a run; `tempo-sync settle` decides
        elif state == "rejected" and row["ledger_hash"] == row["content_hash"]:
            counts.note(row, "rejected")  # retried only after the row changes, or `tempo-sync retry`
        elif state == "pending" and held.elsewhere(row):
            counts.note(row, "busy")
        else:
            by_issue[int(row["destination_issue_id"])].append(row)
    return by_issue


def _issue_ended(future: Future[None], rows: list[Row], counts: LoadCounts) -> bool:
    """Note how one issue's load ended; False when the destination became unavailable. The issue's
    rows that no step settled are noted too."""
    try:
        future.result()
    except DestinationUnavailableError as error:
        counts.stopped = counts.stopped or str(error)
        _note_unsettled(rows, counts, "not_attempted")
        return False
    except IssueUnreadableError as error:
        logger.warning("%s", error)
        _note_unsettled(rows, counts, "not_attempted")
    except Exception:
        # One issue's trouble never stops the others: its claimed rows stay pending, and the next
        # run reconciles them before anything is sent again.
        logger.exception("loading destination issue %s failed", rows[0]["destination_issue_id"])
        _note_unsettled(rows, counts, "pending")
    return True


def _note_unsettled(rows: list[Row], counts: LoadCounts, outcome: str) -> None:
    for row in rows:
        if int(row["tempo_worklog_id"]) not in counts.outcomes:
            counts.note(row, outcome)


@dataclass
class _IssueLoad:
    """One destination issue's rows, loaded in order: reconcile, claim, send, record.

    Several issues are loaded at once, each by its own ``_IssueLoad`` in its own thread; they
    share only the warehouse, the destination's client and the counts.
    """

    warehouse: Warehouse
    destination: Destination
    issue_id: int
    run_id: str
    counts: LoadCounts

    def run(self, rows: list[Row]) -> None:
        unknown = [row for row in rows if row["ledger_state"] == "pending"]
        todo = [row for row in rows if row["ledger_state"] != "pending"]
        for _ in range(SENDS_PER_RUN):
            if unknown:
                todo += self.reconcile(unknown)
                unknown = []
            if not todo:
                return
            unknown = self.send_all(self.claim(todo))
            todo = []
        for row in unknown:
            self.counts.note(row, "pending")

    def reconcile(self, rows: list[Row]) -> list[Row]:
        """Settle rows whose send had no known outcome; return those whose copy is proven absent.

        A destination worklog that a ``created`` ledger row holds is explained. Of the others, one
        that is a row's copy by the strict key is adopted. A row is proven absent when no unexplained
        worklog is left that could be its copy; any other row becomes ``unconfirmed``.
        """
        destination = self.destination
        existing = self.read(rows)
        # The ledger is read after the destination, so that a copy another run recorded meanwhile
        # counts as explained.
        held = self.held_ids()
        unexplained = [worklog for worklog in existing if _identity(destination, worklog) not in held]
        adopted: list[tuple[Row, dict[str, Any]]] = []
        for row in rows:
            match = next((w for w in unexplained if _identity(destination, w) is not None
                          and destination.matches(row, w)), None)  # fmt: skip
            if match is not None:
                unexplained.remove(match)
                adopted.append((row, match))
        if adopted:
            self.record_created(adopted, event="adopted")
            for row, _ in adopted:
                self.counts.note(row, "adopted")
        settled = {id(row) for row, _ in adopted}
        absent: list[Row] = []
        doubtful: list[tuple[Row, list[int | None]]] = []
        for row in rows:
            if id(row) in settled:
                continue
            candidates = [_identity(destination, w) for w in unexplained if destination.could_be(row, w)]
            if candidates:
                doubtful.append((row, candidates))
            else:
                absent.append(row)
        if doubtful:
            self.record_unconfirmed(doubtful)
            for row, _ in doubtful:
                self.counts.note(row, "unconfirmed")
        return absent

    def read(self, rows: list[Row]) -> list[dict[str, Any]]:
        """The destination's worklogs on the issue around the rows' dates. If they cannot be read,
        the rows stay pending: a refusal for this issue leaves the other issues to load, anything
        else (the service down after every retry) stops the load."""
        try:
            return self.destination.existing(self.issue_id, [row["start_date"] for row in rows])
        except ApiError as error:
            for row in rows:
                self.counts.note(row, "pending")
            if error.status is not None and 400 <= error.status < 500 and error.status != 429:
                raise IssueUnreadableError(
                    f"cannot read the destination's worklogs of issue {self.issue_id} to reconcile ({error});"
                    " its worklogs stay pending"
                ) from error
            raise DestinationUnavailableError(
                f"cannot read the destination's worklogs of issue {self.issue_id} to reconcile ({error}); "
                "the load stopped, and unconfirmed worklogs stay pending"
            ) from error

    def held_ids(self) -> set[int]:
        """The destination worklogs on the issue that ``created`` ledger rows hold, and the old copies
        of worklogs re-homed to another issue, which wait there to be deleted."""
        with self.warehouse.get_connection() as connection:
            rows = connection.execute(
                "select coalesce(destination_tempo_worklog_id, destination_jira_worklog_id)"
                " from sync.worklog_links where destination_issue_id = $issue and state = 'created'"
                " union all select retired_copy_id from sync.worklog_links where retired_issue_id = $issue",
                {"issue": self.issue_id},
            ).fetchall()
        return {value for (value,) in rows if value is not None}

    def claim(self, rows: list[Row]) -> list[Row]:
        """Mark rows pending under this run, in one transaction; skip any another run got first."""
        frame = pd.DataFrame(
            {
                "source_site": [row["source_site"] for row in rows],
                "tempo_worklog_id": [row["tempo_worklog_id"] for row in rows],
                "destination_issue_id": [row["destination_issue_id"] for row in rows],
                "content_hash": [row["content_hash"] for row in rows],
                "was_pending": [row["ledger_state"] == "pending" for row in rows],
            }
        )
        params = {"run": self.run_id, "target": self.destination.target}
        with self.warehouse.get_connection() as connection, registered(connection, "claims", frame):
            connection.execute("begin transaction")
            # Another run may have created or claimed a row since this one read the ledger.
            connection.execute(
                """
                create or replace temp table claim_set as
                select c.*, case when l.state = 'created' then 'already_synced'
                                 when l.state = 'unconfirmed' then 'unconfirmed'
                                 when l.state = 'pending' and l.claim_run_id <> $run and not c.was_pending
                                 then 'busy'
                            end as outcome
                from claims c left join sync.worklog_links l using (source_site, tempo_worklog_id)
                """,
                {"run": self.run_id},
            )
            connection.execute(_CLAIM, params)
            connection.execute(
                f"{EVENT_INSERT} select source_site, tempo_worklog_id, current_timestamp, $run,"
                " 'claimed', null from claim_set where outcome is null",
                {"run": self.run_id},
            )
            skipped = dict(
                connection.execute(
                    "select tempo_worklog_id, outcome from claim_set where outcome is not null"
                ).fetchall()
            )
            connection.execute("drop table claim_set")
            connection.execute("commit")
        for row in rows:
            if row["tempo_worklog_id"] in skipped:
                self.counts.note(row, skipped[row["tempo_worklog_id"]])
        return [row for row in rows if row["tempo_worklog_id"] not in skipped]

    def send_all(self, rows: list[Row]) -> list[Row]:
        """Send claimed rows in as few calls as the destination allows; when estimates are copied,
        the last row goes alone and sets the issue's remaining estimate. Returns the rows whose
        outcome is unknown."""
        unknown: list[Row] = []
        if not rows:
            return unknown
        limit = self.destination.batch_limit
        last = rows[-1]
        copy = self.destination.copy_estimate and last["remaining_estimate_seconds"] is not None
        grouped = rows[:-1] if copy else rows
        calls = [grouped[start : start + limit] for start in range(0, len(grouped), limit)]
        if copy:
            calls.append([last])
        for index, batch in enumerate(calls):
            unknown += self.send(batch, estimate=copy and index == len(calls) - 1)
        return unknown

    def send(self, batch: list[Row], *, estimate: bool) -> list[Row]:
        """Send one call's rows and record what became of them; returns the rows whose outcome is
        unknown (they are reconciled before they are ever sent again)."""
        try:
            answer = self.destination.send(self.issue_id, batch, estimate=estimate)
        except OutcomeUnknownError as error:
            logger.warning(
                "the outcome of %d worklog(s) on issue %s is unknown (%s)", len(batch), self.issue_id, error
            )
            self.note_error(batch, str(error), event="unknown_outcome")
            return [dict(row, ledger_state="pending") for row in batch]
        except ApiError as error:
            definite = error.status is not None and 400 <= error.status < 500 and error.status != 429
            if len(batch) > 1 and definite:
                # One bad item fails the whole bulk request. The documents do not say that nothing
                # of it was applied, so the destination is read before any of its worklogs goes
                # again, and then each goes alone, so that only the bad one is refused.
                self.note_error(batch, f"bulk refused: {error}", event="bulk_refused")
                return self.settle_one_by_one(batch)
            if definite:
                self.record_outcome(batch, event="rejected", detail=f"{error.status}: {error.message}",
                                    state="rejected")  # fmt: skip
                for row in batch:
                    self.counts.note(row, "rejected")
                return []
            self.note_error(batch, str(error), event="not_applied")
            for row in batch:
                # Not applied (a 429 that outlasted the retries); the next run tries again.
                self.counts.note(row, "pending")
            return []
        return self.record_answer(batch, answer)

    def record_answer(self, batch: list[Row], answer: list[dict[str, Any]]) -> list[Row]:
        """Record the worklogs a create answered; the rows it lacks are settled by a read (after a
        bulk call) or left unknown (after a single create)."""
        pairs, unanswered = pair_answer(self.destination, self.issue_id, batch, answer)
        if pairs:
            self.record_created(pairs, event="created")
            for row, _ in pairs:
                self.counts.note(row, "created")
        if not unanswered:
            return []
        self.note_error(unanswered, "the destination answered the create without this worklog",
                        event="unknown_outcome")  # fmt: skip
        if len(batch) > 1:
            return self.settle_one_by_one(unanswered)
        return [dict(row, ledger_state="pending") for row in unanswered]

    def settle_one_by_one(self, rows: list[Row]) -> list[Row]:
        """Rows a bulk call did not settle: reconcile them, then send each proven-absent one alone."""
        unknown: list[Row] = []
        for row in self.reconcile(rows):
            unknown += self.send([row], estimate=False)
        return unknown

    def record_created(self, pairs: Sequence[tuple[Row, Mapping[str, Any]]], *, event: str) -> None:
        ids = [self.destination.ids(worklog) for _, worklog in pairs]
        frame = pd.DataFrame(
            {
                "source_site": [row["source_site"] for row, _ in pairs],
                "tempo_worklog_id": [row["tempo_worklog_id"] for row, _ in pairs],
                "tempo_id": pd.array([tempo_id for tempo_id, _ in ids], dtype="Int64"),
                "jira_id": pd.array([jira_id for _, jira_id in ids], dtype="Int64"),
                # What was written, and the copy as the destination answered it: the baseline that
                # tells a later edit on the destination (a conflict) from the copy tempo-sync wrote.
                "sent_values": [json.dumps(sent_values(row)) for row, _ in pairs],
                "copy_hash": [self.destination.copy_hash(worklog) or self.destination.values_hash(row)
                              for row, worklog in pairs],
                "copy_updated_at": [self.destination.updated_at(worklog) for _, worklog in pairs],
            }
        )  # fmt: skip
        with self.warehouse.get_connection() as connection, registered(connection, "created", frame):
            connection.execute("begin transaction")
            connection.execute(
                """
                update sync.worklog_links l set state = 'created', destination_tempo_worklog_id = c.tempo_id,
                    destination_jira_worklog_id = c.jira_id, last_error = null, candidates = null,
                    sent_values = c.sent_values, copy_hash = c.copy_hash, copy_updated_at = c.copy_updated_at,
                    finished_at = current_timestamp, created_run_id = $run, last_run_id = $run
                from created c where l.source_site = c.source_site and l.tempo_worklog_id = c.tempo_worklog_id
                """,
                {"run": self.run_id},
            )
            connection.execute(
                "insert into sync.events (source_site, tempo_worklog_id, occurred_at, run_id, event, detail,"
                " after_values) select source_site, tempo_worklog_id, current_timestamp, $run, $event,"
                " 'destination worklog ' || coalesce(tempo_id, jira_id), sent_values from created",
                {"run": self.run_id, "event": event},
            )
            connection.execute("commit")

    def record_unconfirmed(self, doubtful: Sequence[tuple[Row, list[int | None]]]) -> None:
        """Mark rows ``unconfirmed`` with the destination worklogs that may be their copies."""
        kind = "Tempo" if self.destination.target == "tempo" else "Jira"
        details = []
        for row, candidates in doubtful:
            named = ", ".join("an unreadable one" if c is None else str(c) for c in candidates)
            details.append(
                f"not sent again: the destination holds {len(candidates)} {kind} worklog(s) that no ledger"
                f" row accounts for and that may be this worklog's copy ({named}); look at them, then run"
                f" `tempo-sync settle {row['tempo_worklog_id']} --adopt ID` or"
                f" `tempo-sync settle {row['tempo_worklog_id']} --resend`"
            )
        frame = pd.DataFrame(
            {
                "source_site": [row["source_site"] for row, _ in doubtful],
                "tempo_worklog_id": [row["tempo_worklog_id"] for row, _ in doubtful],
                "candidates": [[c for c in candidates if c is not None] for _, candidates in doubtful],
                "detail": details,
            }
        )
        with self.warehouse.get_connection() as connection, registered(connection, "doubtful", frame):
            connection.execute("begin transaction")
            connection.execute(
                """
                update sync.worklog_links l set state = 'unconfirmed', last_error = d.detail,
                    candidates = cast(d.candidates as bigint[]), finished_at = current_timestamp,
                    last_run_id = $run
                from doubtful d
                where l.source_site = d.source_site and l.tempo_worklog_id = d.tempo_worklog_id
                """,
                {"run": self.run_id},
            )
            connection.execute(
                f"{EVENT_INSERT} select source_site, tempo_worklog_id, current_timestamp, $run,"
                " 'unconfirmed', detail from doubtful",
                {"run": self.run_id},
            )
            connection.execute("commit")

    def note_error(self, rows: Sequence[Row], message: str, *, event: str) -> None:
        """Note why the rows' send did not settle them; they stay pending."""
        self.record_outcome(rows, event=event, detail=message, state=None)

    def record_outcome(self, rows: Sequence[Row], *, event: str, detail: str, state: str | None) -> None:
        """In one transaction: the rows' ledger error (and ``state``, if it changes) and their event."""
        frame = pd.DataFrame(
            {
                "source_site": [row["source_site"] for row in rows],
                "tempo_worklog_id": [row["tempo_worklog_id"] for row in rows],
            }
        )
        params = {"run": self.run_id, "detail": detail, "state": state}
        with self.warehouse.get_connection() as connection, registered(connection, "outcome", frame):
            connection.execute("begin transaction")
            connection.execute(
                """
                update sync.worklog_links l set last_error = $detail, last_run_id = $run,
                    state = coalesce($state, l.state),
                    finished_at = case when $state is null then l.finished_at else current_timestamp end
                from outcome o where l.source_site = o.source_site and l.tempo_worklog_id = o.tempo_worklog_id
                """,
                params,
            )
            connection.execute(
                f"{EVENT_INSERT} select source_site, tempo_worklog_id, current_timestamp, $run,"
                " $event, $detail from outcome",
                {"run": self.run_id, "event": event, "detail": detail},
            )
            connection.execute("commit")


def _identity(destination: Destination, worklog: Mapping[str, Any]) -> int | None:
    """A destination worklog's id (Tempo's, else Jira's); None when the answer holds none."""
    try:
        tempo_id, jira_id = destination.ids(worklog)
    except (KeyError, TypeError, ValueError):
        return None
    return tempo_id if tempo_id is not None else jira_id


_CLAIM = """
insert into sync.worklog_links (source_site, tempo_worklog_id, state, target, destination_issue_id,
    destination_tempo_worklog_id, destination_jira_worklog_id, content_hash, attempts, last_error,
    claimed_at, finished_at, claim_run_id, created_run_id, last_run_id)
select source_site, tempo_worklog_id, 'pending', $target, destination_issue_id, null, null, content_hash,
       1, null, current_timestamp, null, $run, null, $run
from claim_set where outcome is null
on conflict (source_site, tempo_worklog_id) do update set
    state = 'pending', target = excluded.target, destination_issue_id = excluded.destination_issue_id,
    content_hash = excluded.content_hash, attempts = sync.worklog_links.attempts + 1,
    claimed_at = excluded.claimed_at, claim_run_id = excluded.claim_run_id, last_run_id = excluded.last_run_id
"""


def pair_answer(
    destination: Destination, issue_id: int, rows: list[Row], answer: list[dict[str, Any]]
) -> tuple[list[tuple[Row, dict[str, Any]]], list[Row]]:
    """The answer's worklogs paired with the rows sent, and the rows the answer lacks.

    Tempo answers a create in request order, so an answer of as many worklogs as were sent is
    paired by position, whatever the service did to their fields; the fields only cross-check it.
    An answer of another length is paired by the strict key, and what stays unpaired is unknown.
    """
    if len(answer) == len(rows):
        for row, worklog in zip(rows, answer, strict=True):
            difference = destination.difference(row, worklog)
            if difference:
                logger.warning(
                    "the destination's copy of source worklog %s on issue %s is recorded by its position "
                    "in the answer, but %s",
                    row["tempo_worklog_id"], issue_id, difference,
                )  # fmt: skip
        return list(zip(rows, answer, strict=True)), []
    logger.warning(
        "the destination answered a create of %d worklog(s) on issue %s with %d; the rest are checked"
        " on the destination before anything is sent again",
        len(rows), issue_id, len(answer),
    )  # fmt: skip
    remaining = list(answer)
    pairs: list[tuple[Row, dict[str, Any]]] = []
    unanswered: list[Row] = []
    for row in rows:
        match = next((worklog for worklog in remaining if destination.matches(row, worklog)), None)
        if match is None:
            unanswered.append(row)
        else:
            remaining.remove(match)
            pairs.append((row, match))
    return pairs, unanswered


def _records(rows: list[Row]) -> list[Row]:
    for row in rows:
        row["attributes"] = json_list(row["attributes"])
    return rows


def link_jira_ids(tempo: TempoClient, warehouse: Warehouse) -> None:
    """Fill in the Jira worklog ids of the Tempo worklogs created on the destination."""
    with warehouse.get_connection() as connection:
        ids = [
            row[0]
            for row in connection.execute(
                "select destination_tempo_worklog_id from sync.worklog_links where state = 'created'"
                " and destination_jira_worklog_id is null and destination_tempo_worklog_id is not null"
            ).fetchall()
        ]
    if not ids:
        return
    mapping = tempo.jira_worklog_ids(ids)
    with warehouse.get_connection() as connection:
        connection.executemany(
            "update sync.worklog_links set destination_jira_worklog_id = ?"
            " where destination_tempo_worklog_id = ?",
            [[jira_id, tempo_id] for tempo_id, jira_id in mapping.items()],
        )
