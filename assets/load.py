"""Load: ready replica rows become worklogs on the destination, exactly once, through the ledger."""

from collections import Counter

import dagster as dg
from pydantic import Field

from assets.pair import Pair, SyncResources
from assets.progress import progress_message
from assets.steps import UNFINISHED_RUNS, metered, recorded_step, scope_of, table_metadata
from replication.destinations import destination_of
from replication.load import OUTCOMES, LoadCounts, link_jira_ids, load
from replication.propagate import CHANGE_OUTCOMES, PLANNED_OUTCOMES, Settings
from resources.jira import JiraClient
from resources.tempo import TempoClient

# A failed load names at most this many of the rows it left in doubt.
NAMED_IN_DOUBT = 20


class LoadConfig(dg.Config):
    """How the load runs."""

    dry_run: bool = Field(
        default=False,
        description="Read, resolve and plan, and write nothing to the destination: the run's table shows per"
        " work date what would be created, updated, moved and deleted (and what is parked).",
    )


def load_assets(pair: Pair) -> list[dg.AssetsDefinition]:
    """The pair's worklogs on its destination site."""

    @dg.asset(key=pair.key("destination_worklogs"), group_name=pair.group("load"),
              deps=[pair.key("worklog_replica")], kinds={"tempo", "jira", "duckdb"},
              **pair.sync_step)  # fmt: skip
    def destination_worklogs(context: dg.AssetExecutionContext, config: LoadConfig) -> dg.MaterializeResult:
        """The source worklogs as they now exist on the destination site, one for one.

        Tempo worklogs (created in bulk per destination issue) when the destination has Tempo;
        otherwise Jira worklogs that name the real worker in their comment and link the source
        worklog in a property. `sync.worklog_links` is the ledger: a worklog is claimed, sent and
        recorded, and anything whose outcome is unknown is reconciled before it is ever sent again;
        a worklog the destination may already hold in another form is `unconfirmed` until a person
        settles it (`tempo-sync settle`). With `[propagate]` on, the source's edits and confirmed
        deletions of synced worklogs reach their copies, through the same ledger, and a copy someone
        changed on the destination is never overwritten unless `conflicts = "source_wins"`.
        """
        return _load(context, config, pair.resources(context))

    return [destination_worklogs]


def _load(
    context: dg.AssetExecutionContext, config: LoadConfig, resources: SyncResources
) -> dg.MaterializeResult:
    destination_tempo, destination_jira = resources.destination_tempo, resources.destination_jira
    policy, warehouse = resources.policy, resources.warehouse
    scope = scope_of(context)
    destination = destination_of(destination_tempo, destination_jira, policy)
    client: TempoClient | JiraClient = (
        destination_tempo if destination.target == "tempo" else destination_jira
    )

    def run_is_active(run_id: str) -> bool | None:
        run = context.instance.get_run_by_id(run_id)
        return None if run is None else run.status in UNFINISHED_RUNS

    with recorded_step(context, warehouse, "load", last=True) as counts, metered(client) as calls:
        result = load(
            warehouse,
            destination,
            scope,
            context.run.run_id,
            source_site=policy.source_site,
            run_is_active=run_is_active,
            propagation=Settings(
                updates=policy.propagate_updates,
                deletes=policy.propagate_deletes,
                source_wins=policy.conflicts == "source_wins",
                deletes_allowed=policy.deletes_allowed,
            ),
            dry_run=config.dry_run,
            on_progress=lambda done, total: context.log.info(progress_message("load", done, total)),
        )
        totals = result.totals()
        counts.update({outcome: totals[outcome] for outcome in OUTCOMES},
                      by_day={day: dict(c) for day, c in result.by_day().items()},
                      api_calls=calls, dry_run=config.dry_run)  # fmt: skip
        if result.blocked:
            raise dg.Failure(result.blocked, metadata={"deletes_blocked": totals["deletes_blocked"]})
        # A dry run reconciles nothing, so what an earlier run left in doubt is only reported.
        if not config.dry_run and (totals["pending"] or totals["unconfirmed"] or result.stopped):
            left = {name: totals[name] for name in ("created", "pending", "unconfirmed", "not_attempted")}
            raise dg.Failure(_unfinished(result, totals), metadata=left)
        if destination_tempo.token and not config.dry_run:
            link_jira_ids(destination_tempo, warehouse)
    if totals["conflicts"]:
        context.log.warning(
            f"{totals['conflicts']} copies were changed on the destination since tempo-sync wrote them; they"
            " are parked destination_changed and left alone (`tempo-sync trace ID` shows both versions)"
        )
    if totals["rejected"]:
        context.log.warning(
            f"{totals['rejected']} worklog(s) rejected by the destination; see sync.worklog_links"
        )
    synced = sum(totals[name] for name in ("created", "adopted", "already_synced", "updated", "moved"))
    return dg.MaterializeResult(
        metadata={
            **table_metadata(warehouse, "sync.worklog_links", synced),
            "created": totals["created"],
            "adopted_after_unknown_outcome": totals["adopted"],
            "already_synced": totals["already_synced"],
            "rejected": totals["rejected"],
            "claimed_by_another_run": totals["busy"],
            "dry_run": config.dry_run,
            **{name: totals[name] for name in (*CHANGE_OUTCOMES, *PLANNED_OUTCOMES) if totals[name]},
            "api_calls": dg.MetadataValue.json(dict(calls)),
        }
    )


def _unfinished(result: LoadCounts, totals: Counter[str]) -> str:
    """Why the load did not finish, naming the source worklogs left in doubt (the rest was loaded)."""
    parts = []
    if totals["unconfirmed"]:
        parts.append(
            f"{totals['unconfirmed']} worklog(s) are unconfirmed: the destination holds worklogs that may be"
            " their copies in another form, so they were not sent again; look at each with `tempo-sync"
            " trace ID`, then run `tempo-sync settle ID --adopt DESTINATION_ID` or `--resend`"
            f" ({_named(result.with_outcome('unconfirmed'))})"
        )
    if totals["pending"]:
        parts.append(
            f"{totals['pending']} worklog(s) could not be confirmed on the destination; they stay pending in"
            " the ledger and are reconciled (never resent blindly) on the next run"
            f" ({_named(result.with_outcome('pending'))})"
        )
    if result.stopped:
        parts.append(f"{result.stopped}; {totals['not_attempted']} more worklog(s) wait for the next run")
    return ". ".join(parts)


def _named(tempo_ids: list[int]) -> str:
    shown = ", ".join(str(tempo_id) for tempo_id in tempo_ids[:NAMED_IN_DOUBT])
    more = len(tempo_ids) - NAMED_IN_DOUBT
    return f"source Tempo ids {shown}" + (f" and {more} more" if more > 0 else "")
