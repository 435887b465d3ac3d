"""One site's data as its APIs see it: generated data, client changes and the clock.

A generated worklog is visible once the sandbox clock has passed its ``createdAt``; a row
in the store (a worklog a client made, edited or deleted) replaces the generated one with
the same id. On a site without Tempo, worklogs exist only in Jira: they have no Tempo id
and Jira shows the worker as their author.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date, datetime, timedelta

from sandbox.clock import SandboxClock
from sandbox.store import EstimateChange, Store, StoredWorklog
from sandbox.timefmt import iso_z
from sandbox.world import Account, Issue, Worklog, World, before_edit

# A generated worklog is updated at most this long after its work date (late logging,
# edits), so an `updatedFrom` query only needs to regenerate this many earlier days.
_UPDATE_HORIZON = timedelta(days=13)
_EARLIEST = date(1, 1, 1)
_LATEST = date(9999, 12, 31)


class Repository:
    def __init__(
        self, world: World, store: Store, clock: SandboxClock, *, site: str, has_tempo: bool
    ) -> None:
        self.world = world
        self.store = store
        self.clock = clock
        self.site = site
        self.has_tempo = has_tempo

    # ----- time

    def now(self) -> datetime:
        return self.clock.now()

    def visibility_cutoff(self) -> str:
        """Generated worklogs created at or before this instant are visible."""
        return iso_z(self.now())

    # ----- accounts

    def directory(self) -> dict[str, Account]:
        """Every account of the site by id, as of now: one read of the store.

        Take it once per request: a loop over ids or worklogs must not read the store each time.
        """
        merged = {a.account_id: a for a in self.world.accounts(self.site)}
        for account_id, account in self.store.user_changes(self.site).items():
            if account is None:
                merged.pop(account_id, None)
            else:
                merged[account_id] = account
        return merged

    def account(self, account_id: str) -> Account | None:
        return self.directory().get(account_id)

    def integration_user(self) -> Account:
        return self.world.integration_user(self.site)

    # ----- issues

    def issue(self, issue_id: int) -> Issue | None:
        return self.world.issue(self.site, issue_id)

    def issue_by_id_or_key(self, text: str) -> Issue | None:
        """Jira's lookup: a numeric id, or a key in any letter case."""
        if text.isdigit():
            return self.world.issue(self.site, int(text))
        return self.world.issue_by_key(self.site, text)

    def issues(self) -> tuple[Issue, ...]:
        return self.world.issues(self.site)

    def time_tracking(self, issue: Issue) -> tuple[int | None, int | None, int]:
        """(original estimate, remaining estimate, time spent) in seconds."""
        remaining_set, remaining, spent_delta = self.store.estimate(self.site, issue.id)
        current = remaining if remaining_set else issue.remaining_estimate
        return issue.original_estimate, current, issue.time_spent + spent_delta

    def remaining_after(self, issue: Issue, spent: int, explicit: int | None) -> int | None:
        """The remaining estimate after logging `spent` seconds: explicit, else reduced."""
        if explicit is not None:
            return explicit
        _, remaining, _ = self.time_tracking(issue)
        return None if remaining is None else max(remaining - spent, 0)

    # ----- worklogs

    def worklogs_between(self, first: date | None, last: date | None) -> list[Worklog]:
        """Visible worklogs whose work date lies in [first, last], in no particular order."""
        first, last = first or _EARLIEST, last or _LATEST
        stored = self.store.worklogs_between(self.site, first.isoformat(), last.isoformat())
        result = [
            s.worklog
            for s in stored
            if not s.deleted and first.isoformat() <= s.worklog.start_date <= last.isoformat()
        ]
        result.extend(self._generated(first, last, stored))
        return result

    def worklogs_updated_since(self, instant: datetime) -> list[Worklog]:
        """Visible worklogs created or changed at or after the instant (any work date)."""
        since = iso_z(instant)
        first = instant.date() - _UPDATE_HORIZON
        stored = self.store.worklogs_between(self.site, first.isoformat(), _LATEST.isoformat())
        result = [s.worklog for s in self.store.worklogs_updated_since(self.site, since) if not s.deleted]
        result.extend(w for w in self._generated(first, _LATEST, stored) if w.updated_at >= since)
        return result

    def worklog(self, tempo_id: int) -> Worklog | None:
        stored = self.store.worklog_by_tempo_id(self.site, tempo_id)
        if stored is not None:
            return None if stored.deleted else stored.worklog
        if not self.has_tempo:
            return None
        return self._visible(self.world.worklog(self.site, tempo_id))

    def worklog_by_jira_id(self, jira_id: int) -> Worklog | None:
        stored = self.store.worklog_by_jira_id(self.site, jira_id)
        if stored is not None:
            return None if stored.deleted else stored.worklog
        return self._visible(self.world.worklog_by_jira_id(self.site, jira_id))

    def worklogs_by_jira_ids(self, jira_ids: Sequence[int]) -> list[Worklog]:
        """The visible worklogs among the Jira ids, in the order asked; unknown and deleted ones left out.

        One read of the store for all of them: a request may ask for a thousand.
        """
        stored = {s.worklog.jira_id: s for s in self.store.worklogs_by_jira_ids(self.site, jira_ids)}
        found = []
        for jira_id in jira_ids:
            row = stored.get(jira_id)
            if row is None:
                worklog = self._visible(self.world.worklog_by_jira_id(self.site, jira_id))
            else:
                worklog = None if row.deleted else row.worklog
            if worklog is not None:
                found.append(worklog)
        return found

    def deletions_since(self, instant: datetime) -> list[tuple[int, str]]:
        """(Jira id, deletion instant) of the worklogs deleted at or after the instant, oldest first."""
        return self.store.deletions_since(self.site, iso_z(instant))

    def worklogs_of_issue(self, issue_id: int, first: date | None, last: date | None) -> list[Worklog]:
        """Visible worklogs on one issue; dates bound the generated days to look at."""
        return [w for w in self.worklogs_between(first, last) if w.issue_id == issue_id]

    def origin_day(self, worklog: Worklog) -> str | None:
        """The work date a generated worklog was generated for (None for created ones)."""
        stored = self.store.worklog_by_jira_id(self.site, worklog.jira_id)
        if stored is not None:
            return stored.generated_day
        return worklog.start_date

    def create(self, drafts: list[Worklog], estimate: EstimateChange | None) -> list[Worklog]:
        return self.store.create_worklogs(self.site, drafts, with_tempo_ids=self.has_tempo, estimate=estimate)

    def replace(self, old: Worklog, new: Worklog, remaining: int | None = None) -> None:
        """Store a changed worklog. Its issue's time spent changes by the difference (a move to
        another issue takes the time along); ``remaining`` sets the remaining estimate of the issue
        it ends up on."""
        if new.issue_id == old.issue_id:
            changes = [EstimateChange(new.issue_id, new.time_spent - old.time_spent, remaining)]
        else:
            changes = [
                EstimateChange(old.issue_id, -old.time_spent, None),
                EstimateChange(new.issue_id, new.time_spent, remaining),
            ]
        effective = [c for c in changes if c.spent_delta or c.remaining is not None]
        self.store.save_worklog(self.site, new, generated_day=self.origin_day(old), estimates=effective)

    def delete(self, worklog: Worklog, remaining: int | None = None) -> None:
        """Delete now (the instant Jira's deleted-worklog feed shows); the issue's time spent goes
        down, and ``remaining`` sets its remaining estimate."""
        change = EstimateChange(worklog.issue_id, -worklog.time_spent, remaining)
        self.store.save_worklog(
            self.site, worklog, generated_day=self.origin_day(worklog), deleted_at=iso_z(self.now()),
            estimates=[change],
        )  # fmt: skip

    def inject_records(self, day: date, bodies: list[object]) -> None:
        """List raw values, as they are, among this site's Tempo worklogs of ``day``: a test's way
        to serve records no real worklog has (missing fields, wrong types, impossible values)."""
        self.store.inject_records(self.site, day.isoformat(), bodies)

    def injected_records(self, first: date | None, last: date | None) -> list[object]:
        first, last = first or _EARLIEST, last or _LATEST
        return self.store.injected_records(self.site, first.isoformat(), last.isoformat())

    def changed_worklogs(self) -> list[StoredWorklog]:
        """Every stored row of this site, deleted ones included (for inspection)."""
        return self.store.all_worklogs(self.site)

    # ----- internals

    def _generated(self, first: date, last: date, stored: list[StoredWorklog]) -> Iterator[Worklog]:
        replaced = {s.worklog.jira_id for s in stored if s.generated_day is not None}
        cutoff = self.visibility_cutoff()
        # Nothing generated is created more than a day ahead of UTC (time zones reach +14h).
        end = min(last, self.now().date() + timedelta(days=1))
        day = max(first, self.world.knobs.first_day)
        while day <= end:
            for worklog in self.world.worklogs_on(self.site, day):
                if worklog.created_at <= cutoff and worklog.jira_id not in replaced:
                    yield self._as_site_sees(worklog, cutoff)
            day += timedelta(days=1)

    def _visible(self, worklog: Worklog | None) -> Worklog | None:
        cutoff = self.visibility_cutoff()
        if worklog is None or worklog.created_at > cutoff:
            return None
        return self._as_site_sees(worklog, cutoff)

    def _as_site_sees(self, worklog: Worklog, cutoff: str) -> Worklog:
        """The generated worklog as it stands at the cutoff, on a site with or without Tempo."""
        if worklog.updated_at > cutoff:  # created, but not yet edited
            worklog = before_edit(worklog)
        if self.has_tempo:
            return worklog
        return worklog._replace(tempo_id=None, jira_author_account_id=worklog.author_account_id)
