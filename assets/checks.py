"""Data-quality checks: blocking ones gate the load, the others report what the load left behind."""

import warnings
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg

from assets.pair import Pair
from assets.steps import scope_of
from replication import checks
from replication.destinations import destination_of
from replication.propagate import as_written, deletion_guard

# A pending row older than this belongs to a failed run whose work date nobody ran again.
STALE_PENDING = timedelta(days=1)

# Checks per work-date partition are how the checks report per day, a Dagster 1.13 preview feature
# chosen on purpose; every load of the code location (`tempo-sync run`, `dagster dev`, ...) would
# otherwise warn about it. Only this one warning is silenced.
warnings.filterwarnings(
    "ignore", message="Specifying a partitions_def on an AssetCheckSpec", category=dg.PreviewWarning
)


def _result(outcome: checks.Outcome, **options: Any) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=outcome.passed, metadata=_metadata(outcome.figures), **options)


def _metadata(figures: dict[str, Any]) -> dict[str, dg.MetadataValue]:
    def value(figure: Any) -> dg.MetadataValue:
        if isinstance(figure, list | dict):
            return dg.MetadataValue.json(figure)
        if isinstance(figure, int | float) and not isinstance(figure, bool):
            return dg.MetadataValue.float(float(figure))
        return dg.MetadataValue.text(str(figure))

    return {name: value(figure) for name, figure in figures.items()}


def sync_checks(pair: Pair, *, propagation: bool) -> list[dg.AssetChecksDefinition]:
    """The pair's checks. Only a pair whose policy carries edits or deletions has those of edits and
    deletions: with `[propagate]` off there is nothing for them to watch, and a run has exactly the
    steps it had before."""
    replica, propagated_replica = _replica_checks(pair)
    loaded, propagated_load = _load_checks(pair)
    return [*replica, *loaded, *((*propagated_replica, *propagated_load) if propagation else ())]


def _per_day(pair: Pair) -> dict[str, Any]:
    return {
        "pool": pair.pool,
        "required_resource_keys": pair.resource_keys,
        "partitions_def": pair.partitions,
    }


def _replica_checks(pair: Pair) -> tuple[list[dg.AssetChecksDefinition], list[dg.AssetChecksDefinition]]:
    """The checks of the replica: the core ones, and the mass-deletion guard."""
    replica, per_day = pair.key("worklog_replica"), _per_day(pair)

    @dg.asset_check(asset=replica, blocking=True, additional_deps=[pair.key("source_worklogs")], **per_day)
    def replica_is_complete(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        """Every extracted worklog of the dates has exactly one replica row (source ids unique), and no
        unsent replica row outlives its source worklog. Blocks the load."""
        warehouse = pair.resources(context).warehouse
        with warehouse.get_connection() as connection:
            return _result(checks.replica_complete(connection, scope_of(context)))

    @dg.asset_check(asset=replica, blocking=True, **per_day)
    def replica_fields_are_valid(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        """What the load would send is valid: seconds above 0, the start date equal to the work-date
        partition, HH:mm:ss start times, and destination author and issue present on ready rows."""
        warehouse = pair.resources(context).warehouse
        with warehouse.get_connection() as connection:
            return _result(checks.replica_fields_valid(connection, scope_of(context)))

    @dg.asset_check(asset=replica, blocking=True, **per_day)
    def no_destination_worklog_claimed_twice(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        """The ledger links each destination worklog to one source worklog at most. Blocks the load."""
        warehouse = pair.resources(context).warehouse
        with warehouse.get_connection() as connection:
            return _result(checks.no_destination_worklog_claimed_twice(connection))

    @dg.asset_check(asset=replica, blocking=True, **per_day)
    def deletions_within_limit(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        """The mass-deletion guard: the copies the source's confirmed deletions would remove are at most
        `[propagate] max_deletes_per_run` (by default 10% of the dates' synced worklogs, at least 20).
        Above it the load deletes nothing, and this check names what it would delete. Blocks the load."""
        resources = pair.resources(context)
        policy, warehouse = resources.policy, resources.warehouse
        if not policy.propagate_deletes:
            return dg.AssetCheckResult(passed=True, metadata={"deletes": "off ([propagate] deletes = false)"})
        with warehouse.get_connection() as connection:
            guard = deletion_guard(connection, scope_of(context), source_site=policy.source_site,
                                   allowed=policy.deletes_allowed)  # fmt: skip
        figures: dict[str, Any] = {
            "would_delete": len(guard.pending),
            "allowed": guard.allowed,
            "synced_worklogs": guard.synced,
            "sample_source_ids": guard.pending[: checks.SAMPLE],
        }
        if not guard.holds:
            figures["what_to_do"] = guard.message()
        return _result(checks.Outcome(guard.holds, figures))

    @dg.asset_check(asset=replica, **per_day)
    def parked_share_is_low(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        """Few enough worklogs of the dates are parked (at most `[checks] parked_share_warn`); the
        metadata counts them by reason and names the top authors (emails masked) and issues."""
        resources = pair.resources(context)
        policy, warehouse = resources.policy, resources.warehouse
        with warehouse.get_connection() as connection:
            outcome = checks.parked_share(connection, scope_of(context), policy.parked_share_warn)
        return _result(outcome, severity=dg.AssetCheckSeverity.WARN)

    return [replica_is_complete, replica_fields_are_valid, no_destination_worklog_claimed_twice,
            parked_share_is_low], [deletions_within_limit]  # fmt: skip


def _load_checks(pair: Pair) -> tuple[list[dg.AssetChecksDefinition], list[dg.AssetChecksDefinition]]:
    """The checks of the destination: the core ones, and whether edits reached their copies."""
    loaded, per_day = pair.key("destination_worklogs"), _per_day(pair)
    whole = {"pool": pair.pool, "required_resource_keys": pair.resource_keys}

    @dg.asset_check(asset=loaded, **per_day)
    def destination_matches_ledger(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        """Read back from the destination: for each destination issue and author of the dates, the
        seconds of the worklogs the ledger links equal the seconds synced, and none of them is missing;
        with `[propagate]` on, each copy also still holds the values tempo-sync last wrote (compared
        canonically)."""
        resources = pair.resources(context)
        destination_tempo, destination_jira, policy, warehouse = (
            resources.destination_tempo,
            resources.destination_jira,
            resources.policy,
            resources.warehouse,
        )
        scope = scope_of(context)
        destination = destination_of(destination_tempo, destination_jira, policy)
        target = destination.target
        with warehouse.get_connection() as connection:
            expected = checks.linked_seconds(connection, scope, target)
            written = checks.written_hashes(connection, scope, target)
        issue_ids = sorted({group.issue_id for group in expected})
        copies: dict[int, dict[str, Any]] = {}
        if target == "tempo" and issue_ids:
            for worklog in destination_tempo.search_worklogs(
                issue_ids=issue_ids, date_from=scope.date_from, date_to=scope.date_to
            ):
                copies[int(worklog["tempoWorklogId"])] = worklog
        for issue_id in issue_ids if target == "jira" else []:
            after = datetime.combine(scope.date_from - timedelta(days=1), datetime.min.time(), tzinfo=UTC)
            before = datetime.combine(scope.date_to + timedelta(days=2), datetime.min.time(), tzinfo=UTC)
            for worklog in destination_jira.issue_worklogs(
                issue_id, started_after=after, started_before=before
            ):
                copies[int(worklog["id"])] = worklog
        found = {
            copy_id: (
                worklog["author"]["accountId"] if target == "tempo" else None,
                worklog["timeSpentSeconds"],
            )
            for copy_id, worklog in copies.items()
        }
        # With edits or deletions propagated, each copy must also still hold what tempo-sync last wrote:
        # a copy changed on the destination is a conflict for the next edit. Off, only the seconds count,
        # as they always have.
        changed = [
            int(row["copy_id"])
            for row in written
            if policy.propagates
            and int(row["copy_id"]) in copies
            and destination.copy_hash(copies[int(row["copy_id"])])
            != (row["copy_hash"] or destination.values_hash(as_written(row)))
        ]
        return _result(checks.reconcile(expected, found, changed))

    @dg.asset_check(asset=loaded, **whole)
    def no_worklog_in_doubt(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        """No worklog of any date waits for a person's decision (`unconfirmed`: the destination may hold
        its copy in another form, so no run sends it again; settle it with `tempo-sync settle`), and none
        has stayed `pending`, nor an edit or deletion of it in flight, for over a day (a failed run's
        date that nobody ran again)."""
        warehouse = pair.resources(context).warehouse
        with warehouse.get_connection() as connection:
            return _result(checks.nothing_in_doubt(connection, STALE_PENDING))

    @dg.asset_check(asset=loaded, **whole)
    def edits_reach_their_copies(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        """With `[propagate]` on: no synced worklog waits with an edit or a deletion its copy did not
        take, because someone changed the copy on the destination (a conflict, parked
        `destination_changed`) or the destination refused the change. Warns; `tempo-sync trace ID`
        shows both versions."""
        warehouse = pair.resources(context).warehouse
        with warehouse.get_connection() as connection:
            return _result(checks.edits_carried(connection), severity=dg.AssetCheckSeverity.WARN)

    @dg.asset_check(asset=loaded, **whole)
    def sync_is_fresh(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        """The newest work date synced by a successful run is at most `[checks] freshness_days` old."""
        resources = pair.resources(context)
        policy, warehouse = resources.policy, resources.warehouse
        with warehouse.get_connection() as connection:
            return _result(checks.fresh(connection, datetime.now(UTC).date(), policy.freshness_days))

    return [destination_matches_ledger, no_worklog_in_doubt, sync_is_fresh], [edits_reach_their_copies]
