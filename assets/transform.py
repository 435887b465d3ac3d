"""Transform: the replica, one row per source worklog, ready for the destination or parked."""

import dagster as dg

from assets.pair import Pair
from assets.steps import recorded_step, scope_of, table_metadata
from replication.echo import inbound_copies
from replication.report_preview import parked_preview
from replication.transform import build_replica


def replica_lineage(pair: Pair) -> dg.TableColumnLineage:
    """Where each replica column comes from: the raw worklog, or a directory lookup."""
    source_worklogs, source_directory, destination_directory = (
        pair.key(name) for name in ("source_worklogs", "source_directory", "destination_directory")
    )

    def _from(asset: dg.AssetKey, *columns: str) -> list[dg.TableColumnDep]:
        return [dg.TableColumnDep(asset_key=asset, column_name=column) for column in columns]

    return dg.TableColumnLineage(
        deps_by_column={
            "tempo_worklog_id": _from(source_worklogs, "tempo_worklog_id"),
            "work_date": _from(source_worklogs, "work_date"),
            "start_date": _from(source_worklogs, "work_date"),
            "start_time": _from(source_worklogs, "start_time"),
            "time_spent_seconds": _from(source_worklogs, "time_spent_seconds"),
            "billable_seconds": _from(source_worklogs, "billable_seconds"),
            "description": _from(source_worklogs, "description"),
            "created_at": _from(source_worklogs, "created_at"),
            "updated_at": _from(source_worklogs, "updated_at"),
            "attributes": _from(source_worklogs, "attributes"),
            "source_jira_worklog_id": _from(source_worklogs, "jira_worklog_id"),
            "source_author_account_id": _from(source_worklogs, "author_account_id"),
            "source_issue_id": _from(source_worklogs, "issue_id"),
            "source_author_email": _from(source_directory, "email"),
            "source_author_name": _from(source_directory, "display_name"),
            "source_issue_key": _from(source_directory, "issue_key"),
            "remaining_estimate_seconds": _from(source_directory, "remaining_estimate_seconds"),
            "destination_author_account_id": _from(destination_directory, "account_id"),
            "destination_author_email": _from(destination_directory, "email"),
            "author_time_zone": _from(destination_directory, "time_zone")
            + _from(source_directory, "time_zone"),
            "destination_issue_id": _from(destination_directory, "issue_id"),
            "destination_issue_key": _from(destination_directory, "issue_key"),
        }
    )


def transform_assets(pair: Pair) -> list[dg.AssetsDefinition]:
    """The pair's replica table."""
    lineage = replica_lineage(pair)

    @dg.asset(
        key=pair.key("worklog_replica"),
        group_name=pair.group("transform"),
        deps=[pair.key(name) for name in ("source_worklogs", "source_directory", "destination_directory")],
        kinds={"duckdb"},
        **pair.sync_step,
    )
    def worklog_replica(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        """Each source worklog as it will exist on the destination: the destination author and issue,
        every exchanged field, the rule that resolved the author, and a status.

        `ready` rows go to the destination; `parked` rows carry the reason (email_hidden,
        app_account, deleted_user, no_destination_user, inactive_destination_user, ambiguous_email,
        issue_unmapped, copy_in_flight) and are retried on every later run. Rows already sent are
        left as sent. A worklog tempo-sync itself made on the source site (a copy from the other
        direction of a two-way pair) has the status `copy` and is never sent back.
        """
        resources = pair.resources(context)
        policy, warehouse = resources.policy, resources.warehouse
        scope = scope_of(context)
        with recorded_step(context, warehouse, "transform") as counts:
            # Read after the extract listed the source (the order replication/echo.py relies on), and
            # before this pair's file is opened: a pair never holds its file while it waits for another's.
            inbound = inbound_copies(policy.copies_from) if policy.copies_from else None
            with warehouse.get_connection() as connection:
                result = build_replica(
                    connection,
                    policy,
                    scope,
                    context.run.run_id,
                    destination_has_tempo=bool(resources.destination_tempo.token),
                    inbound=inbound,
                )
            counts.update(ready=result.ready, parked=result.parked, frozen=result.frozen,
                          removed=result.removed, copies=result.copies)  # fmt: skip
        with warehouse.get_connection() as connection:
            preview = parked_preview(connection, scope)
        parked = sum(result.parked.values())
        if parked:
            context.log.warning(f"{parked} worklog(s) parked: {result.parked}")
        return dg.MaterializeResult(
            metadata={
                **table_metadata(warehouse, "replica.worklogs", result.ready + parked),
                "ready": result.ready,
                "parked": parked,
                "parked_by_reason": dg.MetadataValue.json(result.parked),
                "already_sent_unchanged": result.frozen,
                "parked_preview": dg.MetadataValue.md(preview),
                "dagster/column_lineage": dg.MetadataValue.column_lineage(lineage),
                "removed_deleted_on_source": result.removed,
                "tempo_sync_copies": result.copies,
            }
        )

    return [worklog_replica]
