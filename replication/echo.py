"""Copies are never copied: what tempo-sync created on a site is not a source worklog of that site.

Two pairs may sync two sites both ways (A→B and B→A). On B, a copy the pair A→B created is a Tempo
worklog like any other, so B→A would copy it back to A, and A→B would copy that back to B, without
end. Each pair recognises such copies on its source site in two ways, and both are local reads (no
request to any site):

1. **The other pairs' ledgers.** The pairs of this deployment whose destination is this pair's
   source site (from the pairs file) record each copy in their ledger. A creation commits its claim
   (``pending``, with the destination issue) before its request is sent, and this pair reads those
   ledgers only after it has listed its source's worklogs. So a copy it listed was claimed there
   before: by its ids once recorded, otherwise as a creation in flight on its issue. While one is in
   flight, the source's unknown worklogs on that issue are parked ``copy_in_flight`` and sent by no
   run; the next run, after the other pair has settled it, knows the copy by its ids.
2. **The mark a copy carries.** A copy on a Jira destination ends its comment with tempo-sync's
   worker note ("Work by X, logged in Tempo on SITE (Tempo worklog N)."), and a copy logged for an
   unmatched author ends its description with "(logged for them by tempo-sync)."; Tempo shows
   either as the worklog's description. Such a worklog is a copy whichever deployment made it, even
   once the pair that made it has been removed with its ledger.

A copy's replica row gets the status ``copy`` (reason ``tempo_sync_copy``): never sent, not parked
(it needs nobody's attention), and not retried outside its dates.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from resources.duckdb_file import DuckDBFile, existing_tables

# How long a run waits for another pair's run to let go of its DuckDB file before it fails (and
# sends nothing); that pair's writes are short, so this is long enough for all but a stuck run.
LEDGER_WAIT_SECONDS = 300.0

# Every ledger row whose copy exists or may exist; a refused creation left none.
_COPIES = """
select source_site, tempo_worklog_id, destination_issue_id,
       coalesce(target, 'tempo') as target, destination_tempo_worklog_id, destination_jira_worklog_id,
       retired_copy_id,
       state in ('pending', 'unconfirmed', 'resend') or change_state is not null as in_flight
from sync.worklog_links
where state <> 'rejected'
"""


_COPY_COLUMNS = {"tempo_id": "Int64", "jira_id": "Int64", "detail": "string"}
_IN_FLIGHT_COLUMNS = {"issue_id": "Int64", "detail": "string"}


def _frame(rows: list[dict[str, object]], columns: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(columns)).astype(columns)


@dataclass(frozen=True)
class InboundCopies:
    """The copies other pairs made on this pair's source site (by Tempo id or Jira id, with why),
    and the issues of that site where a creation of one may be in flight."""

    copies: pd.DataFrame = field(default_factory=lambda: _frame([], _COPY_COLUMNS))
    in_flight: pd.DataFrame = field(default_factory=lambda: _frame([], _IN_FLIGHT_COLUMNS))


def inbound_copies(ledgers: Mapping[str, str], *, wait_seconds: float = LEDGER_WAIT_SECONDS) -> InboundCopies:
    """Read the ledgers (DuckDB files by pair name) of the pairs that copy into this pair's source."""
    copies: list[dict[str, object]] = []
    in_flight: list[dict[str, object]] = []
    for pair, database in sorted(ledgers.items()):
        if not Path(database).is_file():
            continue  # that pair has never run: it made no copy
        with DuckDBFile(database).read_connection(wait_seconds) as connection:
            if "sync.worklog_links" not in existing_tables(connection):
                continue
            rows = connection.execute(_COPIES).fetchall()
        for source_site, source_id, issue_id, target, tempo_id, jira_id, retired_id, flying in rows:
            detail = f"a copy the pair {pair} made of Tempo worklog {source_id} on {source_site}"
            # A Jira-only destination's copy is a Jira worklog; its id is the copy's, retired or not.
            copy_ids = [tempo_id, retired_id] if target == "tempo" else [None]
            jira_ids = [jira_id] if target == "tempo" else [jira_id, retired_id]
            copies.extend({"tempo_id": t, "jira_id": None, "detail": detail} for t in copy_ids if t)
            copies.extend({"tempo_id": None, "jira_id": j, "detail": detail} for j in jira_ids if j)
            if flying and issue_id is not None:
                in_flight.append({"issue_id": issue_id, "detail": f"{detail}, not yet confirmed"})
    return InboundCopies(_frame(copies, _COPY_COLUMNS), _frame(in_flight, _IN_FLIGHT_COLUMNS))
