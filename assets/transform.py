"""Transform: the replica, one row per source worklog, ready for the destination or parked."""

import dagster as dg

from assets.extract import destination_directory, source_directory, source_worklogs
from assets.steps import SYNC_STEP, recorded_step, scope_of, table_metadata
from replication.transform import build_replica
from resources.policy import SyncPolicy
from resources.tempo import TempoClient
from resources.warehouse import Warehouse


@dg.asset(
    **SYNC_STEP,
    group_name="transform",
    deps=[source_worklogs, source_directory, destination_directory],
    kinds={"duckdb"},
)
def worklog_replica(
    context: dg.AssetExecutionContext,
    policy: SyncPolicy,
    destination_tempo: TempoClient,
    warehouse: Warehouse,
) -> dg.MaterializeResult:
    """Each source worklog as it will exist on the destination: the destination author and issue,
    every exchanged field, the rule that resolved the author, and a status.

    `ready` rows go to the destination; `parked` rows carry the reason (email_hidden,
    app_account, deleted_user, no_destination_user, inactive_destination_user, ambiguous_email,
    issue_unmapped) and are retried on every later run. Rows already sent are left as sent.
    """
    scope = scope_of(context)
    with recorded_step(context, warehouse, "transform") as counts:
        with warehouse.get_connection() as connection:
            result = build_replica(
                connection,
                policy,
                scope,
                context.run.run_id,
                destination_has_tempo=bool(destination_tempo.token),
            )
        counts.update(ready=result.ready, parked=result.parked, frozen=result.frozen, removed=result.removed)
    parked = sum(result.parked.values())
    if parked:
        context.log.warning(f"{parked} worklog(s) parked: {result.parked}")
    return dg.MaterializeResult(
        metadata={
            **table_metadata("replica.worklogs", result.ready + parked),
            "ready": result.ready,
            "parked": parked,
            "parked_by_reason": dg.MetadataValue.json(result.parked),
            "already_sent_unchanged": result.frozen,
            "removed_deleted_on_source": result.removed,
        }
    )
