"""Which source worklogs a run handles: its work-date range, plus every parked row from other
days, so that a parked worklog syncs on the first run after it becomes resolvable."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

# A predicate over raw.source_worklogs aliased ``w``, bound with ``Scope.params``.
IN_SCOPE = """(
    w.work_date between $date_from and $date_to
    or w.tempo_worklog_id in (select tempo_worklog_id from replica.worklogs where status = 'parked')
)"""

SCOPE_AUTHORS = f"select distinct w.author_account_id from raw.source_worklogs w where {IN_SCOPE}"

# Authors and issues of parked rows: their lookups skip the cache on every run.
PARKED_AUTHORS = "select source_author_account_id from replica.worklogs where status = 'parked'"
PARKED_ISSUES = (
    "select source_issue_id from replica.worklogs where status = 'parked' and park_reason = 'issue_unmapped'"
)


@dataclass(frozen=True)
class Scope:
    date_from: date
    date_to: date

    @property
    def params(self) -> dict[str, object]:
        return {"date_from": self.date_from, "date_to": self.date_to}
