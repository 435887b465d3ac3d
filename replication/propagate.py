"""Edits and deletions of synced worklogs, carried to their copies: opt-in (``[propagate]``).

Only a copy the ledger created is ever touched, and each change goes through the ledger as a
creation does, one commit per step:

- **claimed**: ``change`` and ``change_state = 'claimed'`` under the run;
- **read**: the copy is read back. If it no longer holds what tempo-sync last wrote (its canonical
  hash differs from ``copy_hash``), someone changed it on the destination: a **conflict**. ``park``
  leaves both sides alone and parks the row ``destination_changed``; ``source_wins`` overwrites
  it and records what it overwrote. A copy deleted on the destination is never re-created;
- **sent**: ``change_state = 'sent'`` is committed before the request goes out;
- **recorded**: the new values, the copy's new hash and an event with the values before and after.

A change whose answer was lost, or whose run died between send and record, is settled by the next
read of the copy: a ``PUT`` by comparing the copy with what was sent, a ``DELETE`` by a 404.

An edit of the start date moves the copy in place (``PUT`` takes the date). Neither Tempo nor Jira
can move a worklog to another issue in place, so an issue change **re-homes** the copy: the new
copy is created on the new issue through the creation protocol, and only once it exists is the old
one, kept in ``retired_copy_id`` meanwhile, deleted. Nothing is lost if a run dies in between.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import duckdb

from replication.destinations import Destination, Row
from replication.liveness import ClaimHolders
from replication.payloads import json_list
from replication.scope import Scope
from resources.http import ApiError, OutcomeUnknownError
from resources.warehouse import Warehouse

logger = logging.getLogger(__name__)

# The values a copy was written from: enough to write it again, and to show what changed.
SENT_FIELDS = (
    "destination_author_account_id",
    "destination_issue_id",
    "start_date",
    "start_time",
    "time_spent_seconds",
    "billable_seconds",
    "description",
    "attributes",
    "source_author_name",
    "author_time_zone",
)

# What became of a synced worklog whose source changed (the load's outcomes add these).
CHANGE_OUTCOMES = (
    "updated",
    "moved",  # to another work date, or (re-homed) to another issue
    "deleted",
    "conflicts",  # the copy was changed or deleted on the destination; parked
    "change_rejected",  # the destination refused the edit; tried again when the source changes
    "deletes_blocked",  # more deletions than [propagate] max_deletes_per_run allows
)
# What a dry run reports instead of doing it.
PLANNED_OUTCOMES = ("would_create", "would_update", "would_move", "would_delete")

# Synced worklogs that a change may concern: the scope's dates and the rows this run transformed,
# plus, of any date, a change an earlier run left in flight.
_SYNCED = """
select r.*, l.target, l.destination_issue_id as copy_issue_id,
       case when l.target = 'tempo' then l.destination_tempo_worklog_id
            else l.destination_jira_worklog_id end as copy_id,
       l.sent_values, l.copy_hash, l.change, l.change_state, l.change_hash, l.conflict,
       d.tempo_worklog_id is not null as source_deleted,
       l.change_run_id as claim_run_id, l.change_claimed_at as claimed_at,
       p.status as claim_run_status, p.host as claim_host, p.pid as claim_pid,
       p.process_started as claim_process_started
from sync.worklog_links l
join replica.worklogs r on r.source_site = l.source_site and r.tempo_worklog_id = l.tempo_worklog_id
left join raw.source_deletions d on d.tempo_worklog_id = l.tempo_worklog_id
left join lineage.runs p on p.run_id = l.change_run_id
where l.state = 'created' and l.source_site = $source_site
  and (r.work_date between $date_from and $date_to or r.last_run_id = $run_id or l.change_state is not null)
order by r.work_date, r.tempo_worklog_id
"""

# Source deletions of the run's dates confirmed and not yet carried: what the mass-deletion guard
# weighs against the synced worklogs of the same dates.
_DELETIONS = """
select l.tempo_worklog_id
from sync.worklog_links l
join raw.source_deletions d on d.tempo_worklog_id = l.tempo_worklog_id
join replica.worklogs r on r.source_site = l.source_site and r.tempo_worklog_id = l.tempo_worklog_id
where l.state = 'created' and l.source_site = $source_site and r.work_date between $date_from and $date_to
order by 1
"""
_SYNCED_IN_SCOPE = """
select count(*) from sync.worklog_links l
join replica.worklogs r on r.source_site = l.source_site and r.tempo_worklog_id = l.tempo_worklog_id
where l.state = 'created' and l.source_site = $source_site and r.work_date between $date_from and $date_to
"""

_EVENT = """
insert into sync.events (source_site, tempo_worklog_id, occurred_at, run_id, event, detail, before_values,
                         after_values)
values ($source_site, $tempo_worklog_id, current_timestamp, $run, $event, $detail, $before, $after)
"""
# One ledger or replica row, by its key; and the columns of a change, cleared once it is recorded.
_ROW = "where source_site = $source_site and tempo_worklog_id = $tempo_worklog_id"
_DELETE = "delete"  # the change_hash of a deletion, which writes no values
_GONE = "the copy was deleted on the destination; tempo-sync never re-creates a copy a person deleted"
_CHANGED = "the copy was changed on the destination since tempo-sync wrote it"
_NO_CHANGE = (
    "change = null, change_state = null, change_hash = null, change_run_id = null, change_claimed_at = null"
)


def sent_values(row: Mapping[str, Any]) -> dict[str, Any]:
    """The values a copy is written from, as JSON-ready values (kept in ``sent_values``)."""
    values = {name: row[name] for name in SENT_FIELDS}
    values["start_date"] = str(row["start_date"])
    values["attributes"] = json_list(row["attributes"])
    return values


def as_written(row: Mapping[str, Any]) -> Row:
    """The row with the values its copy was last written from in place of the source's."""
    written = _json_object(row["sent_values"])
    return {**row, **written, "start_date": date.fromisoformat(written["start_date"])}


@dataclass(frozen=True)
class DeletionGuard:
    """The mass-deletion guard: how many copies the source's deletions would remove, and how many
    a run over these dates may remove (``[propagate] max_deletes_per_run``)."""

    pending: list[int]  # source Tempo ids whose copies would be deleted
    allowed: int
    synced: int  # synced worklogs of the run's dates, the base of a share

    @property
    def holds(self) -> bool:
        return len(self.pending) <= self.allowed

    def message(self) -> str:
        shown = ", ".join(str(tempo_id) for tempo_id in self.pending[:20])
        more = f" and {len(self.pending) - 20} more" if len(self.pending) > 20 else ""
        return (
            f"{len(self.pending)} copies would be deleted, above the {self.allowed} that [propagate]"
            f" max_deletes_per_run allows for {self.synced} synced worklog(s); nothing was deleted."
            f" Source Tempo ids: {shown}{more}. If the source really lost them, raise max_deletes_per_run"
            " for one run; if not (a source answering empty lists, a token that lost a permission), fix"
            " the source first"
        )


def deletion_guard(
    connection: duckdb.DuckDBPyConnection, scope: Scope, *, source_site: str, allowed: Callable[[int], int]
) -> DeletionGuard:
    """The guard for a run over ``scope``; ``allowed`` turns the synced count into the limit."""
    params = {"source_site": source_site, **scope.params}
    pending = [int(row[0]) for row in connection.execute(_DELETIONS, params).fetchall()]
    row = connection.execute(_SYNCED_IN_SCOPE, params).fetchone()
    synced = int(row[0]) if row else 0
    return DeletionGuard(pending, int(allowed(synced)), synced)


@dataclass(frozen=True)
class Settings:
    """What ``[propagate]`` switches on, and the mass-deletion guard's limit for a synced count."""

    updates: bool
    deletes: bool
    source_wins: bool
    deletes_allowed: Callable[[int], int]


class Propagation:
    """The scope's synced worklogs whose source changed, carried to their copies."""

    def __init__(
        self,
        warehouse: Warehouse,
        destination: Destination,
        run_id: str,
        settings: Settings,
        note: Callable[[Mapping[str, Any], str], None],
        held: ClaimHolders,
    ) -> None:
        self.warehouse = warehouse
        self.destination = destination
        self.run_id = run_id
        self.settings = settings
        self.note = note  # (row, outcome) -> None: the load's counts
        self.held = held

    def rows(self, scope: Scope, *, source_site: str) -> list[Row]:
        params = {**scope.params, "source_site": source_site, "run_id": self.run_id}
        with self.warehouse.get_connection() as connection:
            cursor = connection.execute(_SYNCED, params)
            columns = [column[0] for column in cursor.description or []]
            rows = [dict(zip(columns, values, strict=True)) for values in cursor.fetchall()]
        for row in rows:
            row["attributes"] = json_list(row["attributes"])
        return rows

    def plan(self, row: Row) -> str | None:
        """What the row needs: ``settle`` (a change left in flight), ``delete``, ``update``, ``move``
        (another work date), ``reissue`` (another issue), or None."""
        if row["change_state"] is not None:
            return "settle"
        if row["sent_values"] is None:
            return None  # what the copy holds is not known, so nothing can tell a conflict from it
        if row["source_deleted"]:
            refused = (
                row["change"] == "rejected" and row["change_hash"] == _DELETE
            )  # until `tempo-sync retry`
            return "delete" if self.settings.deletes and not refused else None
        edit = self._edit(row) if self._editable(row) else None
        # A conflict whose edit the source took back: nothing is left to carry, so nothing is in conflict.
        return "clear" if edit is None and row["conflict"] is not None else edit

    def apply(self, row: Row, kind: str) -> None:
        if kind == "clear":
            self.clear_conflict(row)
        elif kind == "settle":
            if self.held.elsewhere(row):
                self.note(row, "busy")
            else:
                self.settle(row)
        elif self.claim(row, kind):
            self.change(row, kind)
        else:
            self.note(row, "busy")

    def change(self, row: Row, kind: str) -> None:
        """A claimed change: read the copy, look for a conflict, then write."""
        try:
            copy = self.destination.read_copy(int(row["copy_issue_id"]), int(row["copy_id"]))
        except ApiError as error:
            self.release(row, f"the copy could not be read: {error}")
            self.note(row, "pending")
            return
        if copy is None:
            self.copy_gone(row, kind)
            return
        found = self.destination.copy_hash(copy)
        if kind in ("update", "move") and found == row["change_hash"]:
            # Someone already made the copy what the source now says: there is nothing to write.
            self.record_updated(row, kind, copy, None, detail="found on the destination as the source has it")
            return
        overwritten = None
        if found != self._baseline(row):
            if not self.settings.source_wins:
                self.record_conflict(row, copy, _CHANGED)
                return
            overwritten = copy
        if kind == "reissue":
            self.rehome(row, overwritten)
        else:
            self.send(row, kind, overwritten)

    def copy_gone(self, row: Row, kind: str) -> None:
        if kind == "delete":
            self.record_deleted(row, "the copy was already gone from the destination")
        else:
            self.record_conflict(row, None, _GONE)

    # ----- the protocol

    def claim(self, row: Row, kind: str) -> bool:
        """Take the row's change under this run, unless another run changed the ledger meanwhile."""
        change_hash = _DELETE if kind == "delete" else self.destination.values_hash(row)
        with self.warehouse.get_connection() as connection:
            connection.execute("begin transaction")
            taken = connection.execute(
                f"""
                update sync.worklog_links set change = $change, change_state = 'claimed', change_hash = $hash,
                    change_run_id = $run, change_claimed_at = current_timestamp, last_run_id = $run
                {_ROW} and state = 'created' and change_state is null
                returning 1
                """,
                {**_key(row), "change": kind, "hash": change_hash, "run": self.run_id},
            ).fetchall()
            connection.execute("commit")
        row.update(change=kind, change_state="claimed", change_hash=change_hash)
        return bool(taken)

    def send(self, row: Row, kind: str, overwritten: Mapping[str, Any] | None) -> None:
        """Write the change; an answer that never came is settled by reading the copy back."""
        self._set_state(row, "sent")
        issue_id, copy_id = int(row["copy_issue_id"]), int(row["copy_id"])
        try:
            if kind == "delete":
                gone_now = self.destination.delete_copy(issue_id, copy_id, row)
                detail = "deleted the copy" if gone_now else "the copy was already gone (a 404 settles it)"
                self.record_deleted(row, detail, overwritten)
                return
            answer = self.destination.update_copy(issue_id, copy_id, row)
        except OutcomeUnknownError as error:
            logger.warning("the outcome of the %s of source worklog %s is unknown (%s); the copy is read"
                           " back", kind, row["tempo_worklog_id"], error)  # fmt: skip
            self.settle(row, resend=False)
            return
        except ApiError as error:
            if error.status is None or error.status == 429 or error.status >= 500:
                self.settle(row, resend=False)  # the session's retries went unanswered
            elif error.status == 404:
                self.copy_gone(row, kind)
            else:
                self.record_rejected(row, f"{error.status}: {error.message}")
            return
        self.record_updated(row, kind, answer, overwritten)

    def settle(self, row: Row, *, resend: bool = True) -> None:
        """A change left in flight: one only claimed sent nothing and is planned afresh; for one sent
        with no known outcome, the copy, read back, says whether it was applied. One that was not is
        sent again (``resend``, after the same look for a conflict as before its first send) or left
        to the next run."""
        if row["change_state"] == "claimed":
            self.release(row, "an earlier run claimed this change and sent nothing")
            kind = self.plan(row)
            if kind is not None:
                self.apply(row, kind)
            return
        kind = str(row["change"])
        try:
            copy = self.destination.read_copy(int(row["copy_issue_id"]), int(row["copy_id"]))
        except ApiError as error:
            logger.warning("cannot read the copy of source worklog %s to settle its %s (%s); the next run"
                           " reads it again", row["tempo_worklog_id"], kind, error)  # fmt: skip
            self.note(row, "pending")
            return
        if copy is None:
            if kind == "delete":
                self.record_deleted(row, "the copy is gone (a read settled a delete whose answer was lost)")
            else:
                self.record_conflict(row, None, _GONE)
            return
        found = self.destination.copy_hash(copy)
        if kind != "delete" and found == row["change_hash"]:
            self.record_updated(row, kind, copy, None, detail="applied (a read settled an unknown outcome)")
            return
        changed = found != self._baseline(row)
        if changed and not self.settings.source_wins:
            self.record_conflict(row, copy, "the copy changed on the destination while tempo-sync wrote it")
        elif resend:
            self.send(row, kind, copy if changed else None)
        else:
            self.note(row, "pending")  # not applied; the next run reads the copy again

    def rehome(self, row: Row, overwritten: Mapping[str, Any] | None) -> None:
        """Start moving the copy to another issue: the row becomes a creation on the new issue, and
        the old copy waits in ``retired_copy_id`` until the new one exists."""
        column = "destination_tempo_worklog_id" if row["target"] == "tempo" else "destination_jira_worklog_id"
        with self.warehouse.get_connection() as connection:
            connection.execute("begin transaction")
            connection.execute(
                f"""
                update sync.worklog_links set state = 'resend', retired_copy_id = {column},
                    retired_issue_id = destination_issue_id, destination_tempo_worklog_id = null,
                    destination_jira_worklog_id = null, {_NO_CHANGE}, conflict = null, last_run_id = $run
                {_ROW}
                """,
                {**_key(row), "run": self.run_id},
            )
            self._event(connection, row, "rehoming", _rehome_detail(row, overwritten),
                        before=row["sent_values"], after=sent_values(row))  # fmt: skip
            connection.execute("commit")

    def retire(self, source_site: str) -> None:
        """Delete the old copies of worklogs whose new copy, on their new issue, now exists."""
        with self.warehouse.get_connection() as connection:
            cursor = connection.execute(
                "select l.*, r.work_date from sync.worklog_links l join replica.worklogs r"
                " on r.source_site = l.source_site and r.tempo_worklog_id = l.tempo_worklog_id"
                " where l.source_site = ? and l.state = 'created' and l.retired_copy_id is not null",
                [source_site],
            )
            columns = [column[0] for column in cursor.description or []]
            rows = [dict(zip(columns, values, strict=True)) for values in cursor.fetchall()]
        for row in rows:
            try:
                self.destination.delete_copy(int(row["retired_issue_id"]), int(row["retired_copy_id"]), {})
            except ApiError as error:
                logger.warning(
                    "the old copy %s of source worklog %s is not deleted yet (%s); the next run tries again",
                    row["retired_copy_id"], row["tempo_worklog_id"], error,
                )  # fmt: skip
                continue
            with self.warehouse.get_connection() as connection:
                connection.execute("begin transaction")
                connection.execute(
                    "update sync.worklog_links set retired_copy_id = null, retired_issue_id = null,"
                    f" last_run_id = $run {_ROW}",
                    {**_key(row), "run": self.run_id},
                )
                detail = (
                    f"moved to issue {row['destination_issue_id']}: the old copy {row['retired_copy_id']}"
                    f" on issue {row['retired_issue_id']} is deleted"
                )
                self._event(connection, row, "moved", detail, before=None, after=row["sent_values"])
                connection.execute("commit")
            self.note(row, "moved")

    def clear_conflict(self, row: Row) -> None:
        """The source went back to what tempo-sync wrote: no edit waits, so the row leaves the
        conflict; the copy keeps what the destination made of it."""
        with self.warehouse.get_connection() as connection:
            connection.execute("begin transaction")
            connection.execute(
                f"update sync.worklog_links set conflict = null, last_run_id = $run {_ROW}",
                {**_key(row), "run": self.run_id},
            )
            connection.execute(
                "update replica.worklogs set status = 'ready', park_reason = null, park_detail = null"
                f" {_ROW} and park_reason = 'destination_changed'",
                _key(row),
            )
            self._event(connection, row, "conflict_cleared", "the source is back to what tempo-sync wrote;"
                        " nothing waits to be carried", before=None, after=None)  # fmt: skip
            connection.execute("commit")
        self.note(row, "already_synced")

    # ----- records

    def record_updated(
        self,
        row: Row,
        kind: str,
        copy: Mapping[str, Any],
        overwritten: Mapping[str, Any] | None,
        *,
        detail: str = "applied",
    ) -> None:
        values = sent_values(row)
        copy_hash = self.destination.copy_hash(copy) or self.destination.values_hash(row)
        changed = _changed_fields(_json_object(row["sent_values"]), values)
        text = f"{detail}: {', '.join(changed) or 'no field'} changed"
        if overwritten is not None:
            text += f"; overwrote a copy changed on the destination: {_shown(overwritten)}"
        event = "moved" if kind == "move" else "updated"
        with self.warehouse.get_connection() as connection:
            connection.execute("begin transaction")
            connection.execute(
                f"""
                update sync.worklog_links l set sent_values = $values, copy_hash = $copy_hash,
                    copy_updated_at = $updated_at, content_hash = r.content_hash, {_NO_CHANGE},
                    conflict = null, last_error = null, last_run_id = $run
                from replica.worklogs r
                where r.source_site = l.source_site and r.tempo_worklog_id = l.tempo_worklog_id
                  and l.source_site = $source_site and l.tempo_worklog_id = $tempo_worklog_id
                """,
                {**_key(row), "values": json.dumps(values), "copy_hash": copy_hash,
                 "updated_at": self.destination.updated_at(copy), "run": self.run_id},
            )  # fmt: skip
            connection.execute(
                "update replica.worklogs set status = 'ready', park_reason = null, park_detail = null"
                f" {_ROW} and park_reason = 'destination_changed'",
                _key(row),
            )
            self._event(connection, row, event, text, before=row["sent_values"], after=values)
            connection.execute("commit")
        self.note(row, event)

    def record_deleted(self, row: Row, detail: str, overwritten: Mapping[str, Any] | None = None) -> None:
        if overwritten is not None:
            detail += f"; it had been changed on the destination: {_shown(overwritten)}"
        with self.warehouse.get_connection() as connection:
            connection.execute("begin transaction")
            connection.execute(
                f"update sync.worklog_links set state = 'deleted', {_NO_CHANGE}, conflict = null,"
                f" finished_at = current_timestamp, last_run_id = $run {_ROW}",
                {**_key(row), "run": self.run_id},
            )
            connection.execute(
                "update replica.worklogs set status = 'deleted', park_reason = null, park_detail = null,"
                f" last_run_id = $run {_ROW}",
                {**_key(row), "run": self.run_id},
            )
            self._event(connection, row, "deleted", detail, before=row["sent_values"], after=None)
            connection.execute("commit")
        self.note(row, "deleted")

    def record_conflict(self, row: Row, copy: Mapping[str, Any] | None, detail: str) -> None:
        """Park the row ``destination_changed``: both sides stay as they are."""
        with self.warehouse.get_connection() as connection:
            connection.execute("begin transaction")
            connection.execute(
                f"update sync.worklog_links set conflict = $detail, {_NO_CHANGE}, last_run_id = $run {_ROW}",
                {**_key(row), "detail": detail, "run": self.run_id},
            )
            connection.execute(
                "update replica.worklogs set status = 'parked', park_reason = 'destination_changed',"
                f" park_detail = $detail {_ROW}",
                {**_key(row), "detail": detail},
            )
            if row["conflict"] != detail:  # every run looks again; one event per conflict found
                found = None if copy is None else _shown(copy)
                self._event(connection, row, "conflict", detail, before=row["sent_values"], after=found)
            connection.execute("commit")
        self.note(row, "conflicts")

    def record_rejected(self, row: Row, message: str) -> None:
        """The destination refused the change: it is tried again once the source changes again."""
        with self.warehouse.get_connection() as connection:
            connection.execute("begin transaction")
            connection.execute(
                "update sync.worklog_links set change = 'rejected', change_state = null,"
                " change_run_id = null, change_claimed_at = null, last_error = $message,"
                f" last_run_id = $run {_ROW}",
                {**_key(row), "message": message, "run": self.run_id},
            )
            self._event(connection, row, "change_rejected", message, before=row["sent_values"],
                        after=sent_values(row))  # fmt: skip
            connection.execute("commit")
        self.note(row, "change_rejected")

    def release(self, row: Row, reason: str) -> None:
        """Give up a claim under which nothing was sent."""
        with self.warehouse.get_connection() as connection:
            connection.execute(
                f"update sync.worklog_links set {_NO_CHANGE}, last_error = $reason {_ROW}",
                {**_key(row), "reason": reason},
            )
        row.update(change=None, change_state=None, change_hash=None)

    # ----- helpers

    def _editable(self, row: Row) -> bool:
        """Whether edits are carried and the row may take one: a row whose re-resolution parked it
        (its new author or issue has no match) leaves its copy alone."""
        ready = row["status"] == "ready" or row["park_reason"] == "destination_changed"
        return self.settings.updates and ready

    def _edit(self, row: Row) -> str | None:
        wanted = self.destination.values_hash(row)
        if row["change"] == "rejected" and row["change_hash"] == wanted:
            return None  # refused as it is; tried again once the source changes, or after `tempo-sync retry`
        # The issue first: a Jira copy's hash does not hold its issue, which its path names.
        if int(row["destination_issue_id"]) != int(row["copy_issue_id"]):
            return "reissue"
        if wanted == self.destination.values_hash(as_written(row)):
            return None
        written = _json_object(row["sent_values"])
        return "move" if str(row["start_date"]) != written["start_date"] else "update"

    def _baseline(self, row: Row) -> str:
        """The hash of the copy as tempo-sync last left it (for copies written before edits were
        propagated, the hash of what was sent)."""
        return str(row["copy_hash"] or self.destination.values_hash(as_written(row)))

    def _set_state(self, row: Row, state: str) -> None:
        with self.warehouse.get_connection() as connection:
            connection.execute(
                f"update sync.worklog_links set change_state = $state {_ROW}",
                {**_key(row), "state": state},
            )
        row["change_state"] = state

    def _event(
        self,
        connection: duckdb.DuckDBPyConnection,
        row: Mapping[str, Any],
        event: str,
        detail: str,
        *,
        before: Any,
        after: Any,
    ) -> None:
        connection.execute(
            _EVENT,
            {**_key(row), "run": self.run_id, "event": event, "detail": detail,
             "before": _json_text(before), "after": _json_text(after)},
        )  # fmt: skip


def _key(row: Mapping[str, Any]) -> dict[str, Any]:
    return {"source_site": row["source_site"], "tempo_worklog_id": int(row["tempo_worklog_id"])}


def _changed_fields(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    return [name for name in SENT_FIELDS if before.get(name) != after.get(name)]


def _rehome_detail(row: Row, overwritten: Mapping[str, Any] | None) -> str:
    text = (
        f"the source worklog moved to another issue: a new copy is created on destination issue"
        f" {row['destination_issue_id']}, then the copy {row['copy_id']} on issue {row['copy_issue_id']}"
        " is deleted"
    )
    if overwritten is not None:
        text += f"; the old copy had been changed on the destination: {_shown(overwritten)}"
    return text


def _shown(worklog: Mapping[str, Any]) -> str:
    return json.dumps(dict(worklog), default=str, ensure_ascii=False)


def _json_text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value, default=str)


def _json_object(value: Any) -> dict[str, Any]:
    return dict(json.loads(value)) if isinstance(value, str) else dict(value)
